//! VirusTotal API v3 provider: `GET {base}/ip_addresses/{ip}` with the `x-apikey` header.
//!
//! Outcomes: 200 is a report, 404 is "not found" (a result), 401 and 403 stop every VirusTotal
//! call of the run, 429 is retried after `Retry-After` or the backoff schedule, and 5xx,
//! timeouts, connection failures and unparseable bodies are retried up to the attempt limit.
//! A client-side rate limit (`governor`) and a semaphore bound requests per minute and in flight.
//! Sources: VirusTotal API v3 reference, "IP addresses" and "Errors"; the free tier allows
//! 4 requests a minute and 500 a day.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::BackoffBuilder;
use chrono::DateTime;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use url::Url;

use super::retry::{RetryOptions, SharedSleep, TokioSleep, WaitBudget, parse_retry_after};
use super::{EngineStats, Finding, LookupError, Provider, Report, RunContext};
use crate::secret::Secret;

/// Provider name in output, rows and logs.
pub const NAME: &str = "virustotal";
/// Public endpoint of the v3 API.
pub const DEFAULT_BASE_URL: &str = "https://www.virustotal.com/api/v3";
/// Setting that contains the key, named in errors.
const KEY_SETTING: &str = "VIRUSTOTAL_API_KEY";
const KEY_HEADER: &str = "x-apikey";
/// Engines named in a row's details, at most; the full list can run to 90 entries.
const FLAGGING_ENGINES_KEPT: usize = 20;

/// Settings of the VirusTotal provider.
#[derive(Clone)]
pub struct VirusTotalOptions {
    /// API root without a trailing slash. Default [`DEFAULT_BASE_URL`].
    pub base_url: Url,
    pub api_key: Secret,
    /// Client-side limit, requests per minute. Default 4, the free tier.
    pub requests_per_minute: NonZeroU32,
    /// Maximum requests awaiting a response at once. Default 4.
    pub max_in_flight: usize,
    /// Timeout of one request, connection included. Default 15 seconds.
    pub timeout: Duration,
    pub retry: RetryOptions,
}

impl VirusTotalOptions {
    /// Options with the documented defaults and the given key.
    pub fn new(api_key: Secret) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("default VirusTotal URL is valid"),
            api_key,
            requests_per_minute: NonZeroU32::new(4).expect("4 is not zero"),
            max_in_flight: 4,
            timeout: Duration::from_secs(15),
            retry: RetryOptions::default(),
        }
    }
}

/// The VirusTotal provider. One instance serves every run of the process, so its rate limit
/// covers concurrent incidents too.
pub struct VirusTotal {
    client: reqwest::Client,
    options: VirusTotalOptions,
    limiter: DefaultDirectRateLimiter,
    in_flight: Semaphore,
    sleep: SharedSleep,
}

impl VirusTotal {
    pub fn new(options: VirusTotalOptions) -> Result<Self, reqwest::Error> {
        Self::with_sleep(options, Arc::new(TokioSleep))
    }

    /// Builds the provider with an injected sleep, so tests can observe retry delays.
    pub fn with_sleep(
        options: VirusTotalOptions,
        sleep: SharedSleep,
    ) -> Result<Self, reqwest::Error> {
        let client = crate::http::client(options.timeout)?;
        Ok(Self {
            client,
            limiter: RateLimiter::direct(Quota::per_minute(options.requests_per_minute)),
            in_flight: Semaphore::new(options.max_in_flight.max(1)),
            options,
            sleep,
        })
    }

    fn url_for(&self, ip: IpAddr) -> Url {
        let mut url = self.options.base_url.clone();
        url.path_segments_mut()
            .map(|mut segments| {
                segments
                    .pop_if_empty()
                    .push("ip_addresses")
                    .push(&ip.to_string());
            })
            .expect("an http(s) base URL can have path segments");
        url
    }

    /// Sends one request and maps its response to a finding or an attempt error.
    async fn attempt(&self, ip: IpAddr, run: &RunContext) -> Result<Finding, AttemptError> {
        self.limiter.until_ready().await;
        let _permit = self
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        // Another lookup of this run may have been rejected while this one waited.
        if run.is_stopped(NAME) {
            return Err(AttemptError::Stopped);
        }

        let response = self
            .client
            .get(self.url_for(ip))
            .header(KEY_HEADER, self.options.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(AttemptError::from_transport)?;

        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
        match status {
            200 => {
                let body = response
                    .bytes()
                    .await
                    .map_err(AttemptError::from_transport)?;
                parse_report(&body).map(|report| Finding::Found(Box::new(report)))
            }
            404 => Ok(Finding::NotFound),
            401 | 403 => Err(AttemptError::Unauthorized { status }),
            429 => Err(AttemptError::Quota { retry_after }),
            _ => Err(AttemptError::Status {
                status,
                retry_after,
            }),
        }
    }
}

#[async_trait]
impl Provider for VirusTotal {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn lookup(&self, ip: IpAddr, run: &RunContext) -> Result<Finding, LookupError> {
        let incident = run.incident_for_logs();
        let (result, attempts) = self.lookup_with_retries(ip, run).await;
        result.map_err(|error| {
            if let AttemptError::Unauthorized { .. } = error {
                run.stop(NAME);
            }
            let error = error.into_lookup_error(ip, attempts);
            tracing::error!(
                stage = "lookup",
                provider = NAME,
                incident,
                ip = %ip,
                attempt = attempts,
                error_type = error.kind(),
                error = %error,
                "VirusTotal lookup failed"
            );
            error
        })
    }
}

impl VirusTotal {
    /// Repeats [`VirusTotal::attempt`] on the `backon` schedule until it succeeds, fails for
    /// good, or runs out of attempts or wait budget. Returns the outcome and the attempt count.
    async fn lookup_with_retries(
        &self,
        ip: IpAddr,
        run: &RunContext,
    ) -> (Result<Finding, AttemptError>, u32) {
        if run.is_stopped(NAME) {
            return (Err(AttemptError::Stopped), 0);
        }
        let incident = run.incident_for_logs();
        let mut schedule = self.options.retry.backoff().build();
        let mut budget = WaitBudget::new(&self.options.retry);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.attempt(ip, run).await {
                Ok(finding) => return (Ok(finding), attempts),
                Err(error) if !error.is_retriable() => return (Err(error), attempts),
                Err(error) => error,
            };
            let Some(delay) = budget.next_delay(schedule.next(), error.retry_after()) else {
                return (Err(error), attempts);
            };
            tracing::warn!(
                stage = "lookup",
                provider = NAME,
                incident,
                ip = %ip,
                attempt = attempts,
                status = error.status(),
                error_type = error.kind(),
                delay_ms = delay.as_millis() as u64,
                "retrying VirusTotal lookup"
            );
            self.sleep.sleep(delay).await;
        }
    }
}

/// The outcome of one failed attempt, before retry decisions.
#[derive(Debug)]
enum AttemptError {
    Unauthorized {
        status: u16,
    },
    /// The provider was stopped for this run after a rejected key; no request was sent.
    Stopped,
    Quota {
        retry_after: Option<Duration>,
    },
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Timeout,
    Connection(String),
    InvalidBody(String),
}

impl AttemptError {
    fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            AttemptError::Timeout
        } else {
            // The key travels in a header, never in the message, so the message is safe to log.
            AttemptError::Connection(crate::http::describe_error(error))
        }
    }

    fn is_retriable(&self) -> bool {
        match self {
            AttemptError::Unauthorized { .. } | AttemptError::Stopped => false,
            AttemptError::Quota { .. } => true,
            // 400 InvalidArgumentError and other 4xx will not change on a retry.
            AttemptError::Status { status, .. } => *status >= 500,
            AttemptError::Timeout | AttemptError::Connection(_) | AttemptError::InvalidBody(_) => {
                true
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Quota { retry_after } | AttemptError::Status { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    fn status(&self) -> u16 {
        match self {
            AttemptError::Unauthorized { status } | AttemptError::Status { status, .. } => *status,
            AttemptError::Quota { .. } => 429,
            AttemptError::InvalidBody(_) => 200,
            AttemptError::Timeout | AttemptError::Connection(_) | AttemptError::Stopped => 0,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AttemptError::Unauthorized { .. } => "unauthorized",
            AttemptError::Stopped => "stopped_after_unauthorized",
            AttemptError::Quota { .. } => "quota_exceeded",
            AttemptError::Status { .. } => "upstream_status",
            AttemptError::Timeout => "timeout",
            AttemptError::Connection(_) => "connection",
            AttemptError::InvalidBody(_) => "invalid_body",
        }
    }

    fn into_lookup_error(self, ip: IpAddr, attempts: u32) -> LookupError {
        match self {
            AttemptError::Unauthorized { status } => LookupError::Unauthorized {
                provider: NAME,
                status,
                setting: KEY_SETTING,
            },
            AttemptError::Stopped => LookupError::StoppedAfterUnauthorized {
                provider: NAME,
                setting: KEY_SETTING,
            },
            AttemptError::Quota { .. } => LookupError::QuotaExceeded {
                provider: NAME,
                ip,
                attempts,
            },
            AttemptError::Status { status, .. } => LookupError::Upstream {
                provider: NAME,
                ip,
                status,
                attempts,
            },
            AttemptError::Timeout => LookupError::Timeout {
                provider: NAME,
                ip,
                attempts,
            },
            AttemptError::Connection(reason) => LookupError::Connection {
                provider: NAME,
                ip,
                attempts,
                reason,
            },
            AttemptError::InvalidBody(reason) => LookupError::InvalidBody {
                provider: NAME,
                ip,
                attempts,
                reason,
            },
        }
    }
}

/// The parts of the IP address object that this crate reads.
#[derive(Debug, Deserialize)]
struct IpObject {
    data: IpData,
}

#[derive(Debug, Deserialize)]
struct IpData {
    attributes: IpAttributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IpAttributes {
    reputation: Option<i64>,
    last_analysis_stats: Option<EngineStats>,
    last_analysis_results: Option<serde_json::Map<String, Value>>,
    /// Seconds since the Unix epoch.
    last_analysis_date: Option<i64>,
    country: Option<String>,
    asn: Option<i64>,
    as_owner: Option<String>,
    network: Option<String>,
    tags: Option<Vec<String>>,
    total_votes: Option<Value>,
}

/// Parses a 200 body into a report; any other shape is an invalid body.
fn parse_report(body: &[u8]) -> Result<Report, AttemptError> {
    let object: IpObject = serde_json::from_slice(body)
        .map_err(|error| AttemptError::InvalidBody(error.to_string()))?;
    let attributes = object.data.attributes;

    // Engines that returned a malicious or suspicious category, so the row names them.
    let flagging: Vec<Value> = attributes
        .last_analysis_results
        .iter()
        .flatten()
        .filter_map(|(engine, result)| {
            let category = result.get("category").and_then(Value::as_str)?;
            matches!(category, "malicious" | "suspicious").then(|| {
                json!({
                    "engine": engine,
                    "category": category,
                    "result": result.get("result").cloned().unwrap_or(Value::Null),
                })
            })
        })
        .take(FLAGGING_ENGINES_KEPT)
        .collect();

    Ok(Report {
        reputation: attributes.reputation,
        stats: attributes.last_analysis_stats,
        country: attributes.country,
        asn: attributes.asn,
        as_owner: attributes.as_owner,
        network: attributes.network,
        last_analysis_time: attributes
            .last_analysis_date
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0)),
        feed_match: None,
        extra: json!({
            "flagging_engines": flagging,
            "tags": attributes.tags.unwrap_or_default(),
            "total_votes": attributes.total_votes.unwrap_or(Value::Null),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_reads_documented_fields() {
        let body = br#"{"data":{"id":"1.1.1.1","type":"ip_address","attributes":{
            "reputation":-3,"asn":13335,"as_owner":"Example","country":"AU","network":"1.1.1.0/24",
            "last_analysis_date":1771484400,
            "last_analysis_stats":{"malicious":2,"suspicious":0,"harmless":7,"undetected":5,"timeout":0},
            "last_analysis_results":{"A":{"category":"malicious","result":"malware"},"B":{"category":"harmless","result":"clean"}}}}}"#;
        let report = parse_report(body).unwrap();
        assert_eq!(report.reputation, Some(-3));
        assert_eq!(report.stats.unwrap().malicious, 2);
        assert_eq!(report.asn, Some(13335));
        assert_eq!(report.last_analysis_time.unwrap().timestamp(), 1771484400);
        assert_eq!(
            report.extra["flagging_engines"].as_array().unwrap().len(),
            1
        );
    }

    #[test]
    fn report_rejects_error_shape() {
        let body = br#"{"error":{"code":"NotFoundError","message":"x"}}"#;
        assert!(matches!(
            parse_report(body),
            Err(AttemptError::InvalidBody(_))
        ));
    }
}
