//! Settings shared by every command, read from flags or environment variables, and the
//! validated pipeline built from them.
//!
//! Every endpoint is a setting so tests can point it at loopback. The VirusTotal key is read
//! from the environment only, never from a flag, so it does not show in process listings.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::lookup::cache::{CacheOptions, LookupCache};
use crate::lookup::feed::{EXAMPLE_FEED, EXAMPLE_FEED_NAME, Feed, FeedError};
use crate::lookup::retry::{RetryOptions, SharedSleep, TokioSleep};
use crate::lookup::virustotal::{DEFAULT_BASE_URL, VirusTotal, VirusTotalOptions};
use crate::lookup::{Lookups, Provider};
use crate::pipeline::{Enricher, ReportOptions};
use crate::secret::Secret;
use crate::sinks::azure::log_analytics::DEFAULT_STREAM;
use crate::sinks::azure::sentinel::DEFAULT_ARM_ENDPOINT;
use crate::sinks::azure::{
    AzureSinks, LogsIngestion, LogsIngestionOptions, Sentinel, SentinelOptions, TokenSource,
};
use crate::verdict::{VerdictMode, VerdictPolicy};
use azure_core::credentials::TokenCredential;
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};

/// Environment variable that contains the VirusTotal API key.
pub const VIRUSTOTAL_API_KEY: &str = "VIRUSTOTAL_API_KEY";

/// Lookup, cache and verdict settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// VirusTotal API root; the key comes from VIRUSTOTAL_API_KEY, which enables the provider.
    #[arg(long, env = "VIRUSTOTAL_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub virustotal_base_url: Url,

    /// Client-side VirusTotal rate limit, in requests per minute (the free tier allows 4).
    #[arg(long, env = "VIRUSTOTAL_REQUESTS_PER_MINUTE", default_value_t = NonZeroU32::new(4).unwrap())]
    pub virustotal_requests_per_minute: NonZeroU32,

    /// Maximum VirusTotal requests awaiting a response at once.
    #[arg(long, env = "VIRUSTOTAL_MAX_IN_FLIGHT", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub virustotal_max_in_flight: u16,

    /// Timeout of one VirusTotal request, in seconds.
    #[arg(long, env = "VIRUSTOTAL_TIMEOUT_SECONDS", default_value_t = 15.0)]
    pub virustotal_timeout_seconds: f64,

    /// Attempts per VirusTotal request, the first included.
    #[arg(long, env = "VIRUSTOTAL_MAX_ATTEMPTS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub virustotal_max_attempts: u32,

    /// Delay before the first retry, in milliseconds; it doubles per retry, with jitter.
    #[arg(long, env = "VIRUSTOTAL_RETRY_BASE_MS", default_value_t = 1000)]
    pub virustotal_retry_base_ms: u64,

    /// Maximum total wait across the retries of one request, in seconds, Retry-After included.
    #[arg(long, env = "VIRUSTOTAL_MAX_RETRY_WAIT_SECONDS", default_value_t = 90)]
    pub virustotal_max_retry_wait_seconds: u64,

    /// Local feed file of addresses and CIDR ranges; repeat the flag, or give a comma-separated list.
    #[arg(
        long = "feed",
        env = "FEED_PATHS",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub feeds: Vec<PathBuf>,

    /// Time limit of one run's lookups, in seconds; lookups still running then fail as transient.
    /// Unset means no limit for `enrich` and 100 seconds for `serve`.
    #[arg(long, env = "LOOKUP_DEADLINE_SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub lookup_deadline_seconds: Option<u64>,

    /// How long a lookup result is reused, in seconds.
    #[arg(long, env = "CACHE_TTL_SECONDS", default_value_t = 21_600)]
    pub cache_ttl_seconds: u64,

    /// Maximum number of cached lookup results.
    #[arg(long, env = "CACHE_MAX_ENTRIES", default_value_t = 100_000)]
    pub cache_max_entries: u64,

    /// Verdict rules: "engines" (engine counts and reputation separately) or "template"
    /// (reputation below 0 is malicious, as the Logic App template decides).
    #[arg(long, env = "VERDICT_MODE", value_enum, default_value_t = VerdictMode::Engines)]
    pub verdict_mode: VerdictMode,

    /// Engines reporting malicious needed for a malicious verdict.
    #[arg(long, env = "VERDICT_MALICIOUS_ENGINES", default_value_t = 3)]
    pub verdict_malicious_engines: u32,

    /// Engines reporting malicious or suspicious needed for a suspicious verdict.
    #[arg(long, env = "VERDICT_SUSPICIOUS_ENGINES", default_value_t = 1)]
    pub verdict_suspicious_engines: u32,

    /// Community reputation at or below which an address is suspicious.
    #[arg(long, env = "VERDICT_SUSPICIOUS_REPUTATION", default_value_t = -10, allow_negative_numbers = true)]
    pub verdict_suspicious_reputation: i64,
}

/// Error of configuration: a setting that cannot be used, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Occurs when a setting's value is outside its valid range.
    #[error("invalid {setting} {value:?}: {reason}")]
    Invalid {
        setting: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Occurs when a feed file cannot be loaded.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// Occurs when a required setting is missing.
    #[error("missing {setting}: {reason}")]
    Missing {
        setting: &'static str,
        reason: &'static str,
    },
    /// Occurs when the Azure credential cannot be created.
    #[error("cannot create the Azure credential: {0}")]
    Credential(String),
    /// Occurs when the HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Providers that a configuration enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    /// The configured providers.
    Configured,
    /// Nothing was configured, so the built-in example feed runs alone.
    ExampleFeed,
}

impl Settings {
    /// Reads the VirusTotal key from the environment; an empty value counts as unset.
    pub fn virustotal_key_from_env() -> Option<Secret> {
        std::env::var(VIRUSTOTAL_API_KEY)
            .ok()
            .filter(|key| !key.trim().is_empty())
            .map(|key| Secret::new(key.trim()))
    }

    /// Builds the pipeline with the tokio timer for retries.
    pub fn build(
        &self,
        api_key: Option<Secret>,
    ) -> Result<(Enricher, ProviderChoice), ConfigError> {
        self.build_with_sleep(api_key, Arc::new(TokioSleep))
    }

    /// Builds the pipeline; `sleep` waits between retries, so tests can record instead.
    pub fn build_with_sleep(
        &self,
        api_key: Option<Secret>,
        sleep: SharedSleep,
    ) -> Result<(Enricher, ProviderChoice), ConfigError> {
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();

        if let Some(api_key) = api_key {
            let options = self.virustotal_options(api_key)?;
            let provider = VirusTotal::with_sleep(options, sleep)
                .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
            providers.push(Arc::new(provider));
        }

        let mut choice = ProviderChoice::Configured;
        if !self.feeds.is_empty() {
            let mut feed = Feed::new();
            for path in &self.feeds {
                feed.load_file(path)?;
            }
            providers.push(Arc::new(feed));
        } else if providers.is_empty() {
            let mut feed = Feed::new();
            feed.load_text(EXAMPLE_FEED_NAME, EXAMPLE_FEED)
                .expect("the built-in example feed is plain text");
            providers.push(Arc::new(feed));
            choice = ProviderChoice::ExampleFeed;
        }

        let cache = LookupCache::new(CacheOptions {
            ttl: Duration::from_secs(self.cache_ttl_seconds),
            max_entries: self.cache_max_entries,
        });
        let policy = VerdictPolicy {
            mode: self.verdict_mode,
            malicious_engines: self.verdict_malicious_engines,
            suspicious_engines: self.verdict_suspicious_engines,
            suspicious_reputation: self.verdict_suspicious_reputation,
        };
        let mut enricher = Enricher::new(
            Lookups::new(providers, cache),
            policy,
            ReportOptions::default(),
        );
        enricher.set_run_deadline(self.lookup_deadline_seconds.map(Duration::from_secs));
        Ok((enricher, choice))
    }

    fn virustotal_options(&self, api_key: Secret) -> Result<VirusTotalOptions, ConfigError> {
        let timeout = self.virustotal_timeout_seconds;
        if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
            return Err(ConfigError::Invalid {
                setting: "VIRUSTOTAL_TIMEOUT_SECONDS",
                value: timeout.to_string(),
                reason: "must be more than 0 and at most 600 seconds",
            });
        }
        let scheme = self.virustotal_base_url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(ConfigError::Invalid {
                setting: "VIRUSTOTAL_BASE_URL",
                value: self.virustotal_base_url.to_string(),
                reason: "must be an http or https URL",
            });
        }
        Ok(VirusTotalOptions {
            base_url: self.virustotal_base_url.clone(),
            api_key,
            requests_per_minute: self.virustotal_requests_per_minute,
            max_in_flight: usize::from(self.virustotal_max_in_flight),
            timeout: Duration::from_secs_f64(timeout),
            retry: RetryOptions {
                max_attempts: self.virustotal_max_attempts,
                base_delay: Duration::from_millis(self.virustotal_retry_base_ms),
                max_delay: Duration::from_secs(30),
                max_total_wait: Duration::from_secs(self.virustotal_max_retry_wait_seconds),
            },
        })
    }
}

/// Kind of `azure_identity` credential that signs Azure requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialKind {
    /// The function app's managed identity (IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID).
    ManagedIdentity,
    /// The signed-in Azure CLI or Azure Developer CLI user.
    DeveloperTools,
}

/// Settings of the Azure sinks and the workspace allow-list.
#[derive(Debug, Clone, clap::Args)]
pub struct AzureSettings {
    /// Workspace ARM ids whose incidents may be written to, comma-separated.
    #[arg(
        long,
        env = "SENTINEL_ALLOWED_WORKSPACES",
        value_delimiter = ',',
        value_name = "ARM_ID"
    )]
    pub allowed_workspaces: Vec<String>,

    /// Azure Resource Manager endpoint for Sentinel comments and labels.
    #[arg(long, env = "ARM_ENDPOINT", default_value = DEFAULT_ARM_ENDPOINT)]
    pub arm_endpoint: Url,

    /// Logs ingestion endpoint of the data collection rule; rows are not written when unset.
    #[arg(long, env = "LOGS_INGESTION_ENDPOINT")]
    pub logs_ingestion_endpoint: Option<Url>,

    /// Immutable id of the data collection rule ("dcr-…").
    #[arg(long, env = "LOGS_INGESTION_DCR_ID")]
    pub logs_ingestion_dcr_id: Option<String>,

    /// Stream of the data collection rule that the rows go to.
    #[arg(long, env = "LOGS_INGESTION_STREAM", default_value = DEFAULT_STREAM)]
    pub logs_ingestion_stream: String,

    /// Credential for Azure requests; the default is managed-identity for serve and
    /// developer-tools for enrich --apply.
    #[arg(long, env = "AZURE_CREDENTIAL", value_enum)]
    pub azure_credential: Option<CredentialKind>,

    /// Client id of a user-assigned managed identity; unset selects the system-assigned one.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,
}

impl AzureSettings {
    /// Returns true when both Logs Ingestion settings are present, so rows can be written.
    pub fn logs_ingestion_configured(&self) -> bool {
        self.logs_ingestion_endpoint.is_some()
            && self
                .logs_ingestion_dcr_id
                .as_deref()
                .is_some_and(|id| !id.trim().is_empty())
    }

    /// Builds the sinks with the credential chosen by AZURE_CREDENTIAL, else `default_credential`.
    pub fn build_sinks(
        &self,
        default_credential: CredentialKind,
    ) -> Result<AzureSinks, ConfigError> {
        let kind = self.azure_credential.unwrap_or(default_credential);
        let credential: Arc<dyn TokenCredential> = match kind {
            CredentialKind::ManagedIdentity => {
                // Without these variables the credential would fall back to the virtual machine
                // metadata endpoint, which a function app does not use; fail fast instead.
                for setting in ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"] {
                    if std::env::var_os(setting).is_none() {
                        return Err(ConfigError::Missing {
                            setting,
                            reason: "the Functions host sets it for a managed identity; outside Azure set AZURE_CREDENTIAL=developer-tools",
                        });
                    }
                }
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: self
                        .azure_client_id
                        .as_deref()
                        .filter(|id| !id.trim().is_empty())
                        .map(|id| UserAssignedId::ClientId(id.trim().to_string())),
                    ..ManagedIdentityCredentialOptions::default()
                };
                ManagedIdentityCredential::new(Some(options))
                    .map_err(|error| ConfigError::Credential(error.to_string()))?
            }
            CredentialKind::DeveloperTools => DeveloperToolsCredential::new(None)
                .map_err(|error| ConfigError::Credential(error.to_string()))?,
        };
        self.build_sinks_with(TokenSource::new(credential))
    }

    /// Builds the sinks around a given token source, so tests can inject a credential.
    pub fn build_sinks_with(&self, tokens: TokenSource) -> Result<AzureSinks, ConfigError> {
        let logs = match (&self.logs_ingestion_endpoint, &self.logs_ingestion_dcr_id) {
            (Some(endpoint), Some(dcr_id)) if !dcr_id.trim().is_empty() => {
                let mut options = LogsIngestionOptions::new(endpoint.clone(), dcr_id.trim());
                options.stream = self.logs_ingestion_stream.clone();
                Some(
                    LogsIngestion::new(tokens.clone(), options)
                        .map_err(|error| ConfigError::HttpClient(error.to_string()))?,
                )
            }
            (None, None) => None,
            _ => {
                return Err(ConfigError::Missing {
                    setting: "LOGS_INGESTION_ENDPOINT and LOGS_INGESTION_DCR_ID",
                    reason: "set both to write rows, or neither",
                });
            }
        };
        let sentinel = Sentinel::new(
            tokens,
            SentinelOptions {
                arm_endpoint: self.arm_endpoint.clone(),
                ..SentinelOptions::default()
            },
        )
        .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        Ok(AzureSinks { logs, sentinel })
    }
}
