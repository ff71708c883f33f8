//! Lookup stage: queries threat-intelligence providers about globally reachable addresses.
//!
//! [`Provider`] is the interface each source implements ([`virustotal::VirusTotal`],
//! [`feed::Feed`]). [`Lookups`] fans the distinct addresses of a run out to every provider
//! through a shared [`cache::LookupCache`], so one address costs one upstream call per TTL however
//! many entities or concurrent incidents carry it. Only addresses that the parse stage marked for
//! lookup reach this module; it never receives a private or otherwise non-global address.

pub mod cache;
pub mod feed;
pub mod retry;
pub mod virustotal;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

pub use cache::LookupCache;

/// Maximum number of addresses of one run whose lookups are in progress at once. Providers
/// apply their own, lower limits on upstream requests.
const ADDRESSES_IN_PROGRESS: usize = 64;

/// A source of reputation for one address.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Short lower-case name used in output, rows, logs and cache keys.
    fn name(&self) -> &'static str;

    /// Looks up one globally reachable address.
    async fn lookup(&self, ip: IpAddr, run: &RunContext) -> Result<Finding, LookupError>;
}

/// Result of a provider lookup of one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Finding {
    Found(Box<Report>),
    /// The provider has no record of the address. This is a result, not an error.
    NotFound,
}

/// Engine counts from one analysis, as VirusTotal's `last_analysis_stats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EngineStats {
    pub malicious: u32,
    pub suspicious: u32,
    pub harmless: u32,
    pub undetected: u32,
    pub timeout: u32,
}

/// A match of the address in a local feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedMatch {
    /// File name of the feed that listed the address.
    pub feed: String,
    /// The longest listed prefix that contains the address, such as "45.33.32.0/24".
    pub prefix: String,
    /// The comment or label that the feed gives the entry, if any.
    pub description: Option<String>,
}

/// A provider's record of an address, in the fields the verdict and the sinks use.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Community score: the sum of users' votes, not an engine result.
    pub reputation: Option<i64>,
    pub stats: Option<EngineStats>,
    pub country: Option<String>,
    pub asn: Option<i64>,
    pub as_owner: Option<String>,
    pub network: Option<String>,
    pub last_analysis_time: Option<DateTime<Utc>>,
    pub feed_match: Option<FeedMatch>,
    /// Provider-specific extras kept small for the row's `Details` column, such as the engines
    /// that flagged the address.
    pub extra: Value,
}

/// Error of the lookup stage. Every variant names the provider and, where one applies, the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum LookupError {
    /// Occurs when the provider rejects the credential (HTTP 401 or 403).
    #[error("{provider} rejected the API key with HTTP {status}; check {setting}")]
    Unauthorized {
        provider: &'static str,
        status: u16,
        setting: &'static str,
    },
    /// Occurs for every later lookup of a run after the provider rejected the credential.
    #[error(
        "{provider} was not called because it rejected the API key earlier in this run; check {setting}"
    )]
    StoppedAfterUnauthorized {
        provider: &'static str,
        setting: &'static str,
    },
    /// Occurs when HTTP 429 persists past the retry budget.
    #[error("{provider} quota exceeded for {ip} (HTTP 429) after {attempts} attempts")]
    QuotaExceeded {
        provider: &'static str,
        ip: IpAddr,
        attempts: u32,
    },
    /// Occurs when the provider keeps returning a server error or an unexpected status.
    #[error("{provider} returned HTTP {status} for {ip} after {attempts} attempts")]
    Upstream {
        provider: &'static str,
        ip: IpAddr,
        status: u16,
        attempts: u32,
    },
    /// Occurs when no response arrives within the request timeout.
    #[error("{provider} timed out for {ip} after {attempts} attempts")]
    Timeout {
        provider: &'static str,
        ip: IpAddr,
        attempts: u32,
    },
    /// Occurs when the provider returns 200 with a body that is not the documented shape.
    #[error("{provider} returned an invalid body for {ip} after {attempts} attempts: {reason}")]
    InvalidBody {
        provider: &'static str,
        ip: IpAddr,
        attempts: u32,
        reason: String,
    },
    /// Occurs when the run's deadline passes before the provider returns.
    #[error(
        "{provider} lookup of {ip} did not finish within the run deadline of {limit_seconds} s"
    )]
    DeadlineExceeded {
        provider: &'static str,
        ip: IpAddr,
        limit_seconds: u64,
    },
    /// Occurs when the connection fails before any HTTP response.
    #[error("{provider} could not be reached for {ip} after {attempts} attempts: {reason}")]
    Connection {
        provider: &'static str,
        ip: IpAddr,
        attempts: u32,
        reason: String,
    },
}

impl LookupError {
    /// Returns true when a later delivery of the same incident may succeed. Quota, server
    /// errors, timeouts and connection failures may pass, but a rejected key or a malformed
    /// body will not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LookupError::QuotaExceeded { .. }
                | LookupError::Upstream { status: 500.., .. }
                | LookupError::Timeout { .. }
                | LookupError::DeadlineExceeded { .. }
                | LookupError::Connection { .. }
        )
    }

    /// Short machine-readable name of the error kind, for logs and rows.
    pub fn kind(&self) -> &'static str {
        match self {
            LookupError::Unauthorized { .. } => "unauthorized",
            LookupError::StoppedAfterUnauthorized { .. } => "stopped_after_unauthorized",
            LookupError::QuotaExceeded { .. } => "quota_exceeded",
            LookupError::Upstream { .. } => "upstream_status",
            LookupError::Timeout { .. } => "timeout",
            LookupError::DeadlineExceeded { .. } => "deadline_exceeded",
            LookupError::InvalidBody { .. } => "invalid_body",
            LookupError::Connection { .. } => "connection",
        }
    }
}

/// State shared by every lookup of one run (one incident).
#[derive(Debug, Default)]
pub struct RunContext {
    /// Incident ARM id, for log lines.
    pub incident: Option<String>,
    /// Time limit of the run's lookups; a lookup still running then fails as transient.
    pub deadline: Option<Duration>,
    started: Option<tokio::time::Instant>,
    stopped: Mutex<HashSet<&'static str>>,
}

impl RunContext {
    pub fn new(incident: Option<String>) -> Self {
        Self {
            incident,
            deadline: None,
            started: None,
            stopped: Mutex::default(),
        }
    }

    /// Sets a time limit on the run's lookups, counted from now.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self.started = Some(tokio::time::Instant::now());
        self
    }

    /// Stops every later call to `provider` in this run.
    pub fn stop(&self, provider: &'static str) {
        self.stopped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(provider);
    }

    /// Returns true when `provider` was stopped earlier in this run.
    pub fn is_stopped(&self, provider: &'static str) -> bool {
        self.stopped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(provider)
    }

    /// Incident id for log fields, or "none".
    pub fn incident_for_logs(&self) -> &str {
        self.incident.as_deref().unwrap_or("none")
    }
}

/// One provider's result for one address.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderResult {
    pub provider: &'static str,
    pub outcome: Result<Finding, LookupError>,
}

/// The configured providers behind one cache.
pub struct Lookups {
    providers: Vec<Arc<dyn Provider>>,
    cache: LookupCache,
}

impl Lookups {
    pub fn new(providers: Vec<Arc<dyn Provider>>, cache: LookupCache) -> Self {
        Self { providers, cache }
    }

    /// Names of the configured providers, in lookup order.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers
            .iter()
            .map(|provider| provider.name())
            .collect()
    }

    /// Looks up each distinct address with every provider. Duplicates in `ips` are looked up once.
    pub async fn lookup_all(
        &self,
        ips: &[IpAddr],
        run: &RunContext,
    ) -> HashMap<IpAddr, Vec<ProviderResult>> {
        let mut distinct = Vec::with_capacity(ips.len());
        let mut seen = HashSet::with_capacity(ips.len());
        for ip in ips {
            if seen.insert(*ip) {
                distinct.push(*ip);
            }
        }

        futures::stream::iter(distinct)
            .map(|ip| async move { (ip, self.lookup_one(ip, run).await) })
            .buffer_unordered(ADDRESSES_IN_PROGRESS)
            .collect()
            .await
    }

    async fn lookup_one(&self, ip: IpAddr, run: &RunContext) -> Vec<ProviderResult> {
        let lookups = self.providers.iter().map(|provider| async move {
            let lookup = self.cache.get_or_lookup(provider.as_ref(), ip, run);
            let outcome = match (run.deadline, run.started) {
                (Some(limit), Some(started)) => {
                    match tokio::time::timeout_at(started + limit, lookup).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            let error = LookupError::DeadlineExceeded {
                                provider: provider.name(),
                                ip,
                                limit_seconds: limit.as_secs(),
                            };
                            tracing::error!(
                                stage = "lookup",
                                provider = provider.name(),
                                incident = run.incident_for_logs(),
                                ip = %ip,
                                error_type = error.kind(),
                                "lookup abandoned at the run deadline"
                            );
                            Err(error)
                        }
                    }
                }
                _ => lookup.await,
            };
            ProviderResult {
                provider: provider.name(),
                outcome,
            }
        });
        futures::future::join_all(lookups).await
    }
}
