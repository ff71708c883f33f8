//! In-memory cache of provider findings with a time to live and single-flight loading.
//!
//! Keys are (provider, address). `moka`'s `try_get_with` runs one lookup per key while
//! concurrent callers for the same key wait for its result, which is how two incidents that
//! arrive together share one upstream call. Only findings are cached: an error is returned to
//! every waiting caller and the next run tries again.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{Finding, LookupError, Provider, RunContext};

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    /// How long a finding is reused. Default 6 hours: reputation moves slowly, and a free
    /// VirusTotal key allows 500 lookups a day.
    pub ttl: Duration,
    /// Maximum number of (provider, address) entries. Default 100,000.
    pub max_entries: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(6 * 60 * 60),
            max_entries: 100_000,
        }
    }
}

/// Shared cache of findings; cheap to clone.
#[derive(Clone)]
pub struct LookupCache {
    entries: Cache<(&'static str, IpAddr), Finding>,
}

impl LookupCache {
    pub fn new(options: CacheOptions) -> Self {
        Self {
            entries: Cache::builder()
                .time_to_live(options.ttl)
                .max_capacity(options.max_entries)
                .build(),
        }
    }

    /// Returns the cached finding, or runs the provider once for all concurrent callers.
    pub async fn get_or_lookup(
        &self,
        provider: &dyn Provider,
        ip: IpAddr,
        run: &RunContext,
    ) -> Result<Finding, LookupError> {
        self.entries
            .try_get_with((provider.name(), ip), provider.lookup(ip, run))
            .await
            .map_err(|error: Arc<LookupError>| LookupError::clone(&error))
    }

    /// Number of cached entries, after pending maintenance.
    pub async fn len(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }

    /// Returns true when the cache contains no entry.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}
