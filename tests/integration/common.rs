//! Helpers shared by the test modules: fixtures, a recording sleep and pipeline builders.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sentinel_ip_enrich::lookup::cache::{CacheOptions, LookupCache};
use sentinel_ip_enrich::lookup::feed::Feed;
use sentinel_ip_enrich::lookup::retry::{RetryOptions, Sleep};
use sentinel_ip_enrich::lookup::virustotal::{VirusTotal, VirusTotalOptions};
use sentinel_ip_enrich::lookup::{Lookups, Provider};
use sentinel_ip_enrich::pipeline::{Enricher, ReportOptions};
use sentinel_ip_enrich::secret::Secret;
use sentinel_ip_enrich::trigger::{self, Trigger};
use sentinel_ip_enrich::verdict::VerdictPolicy;

pub const API_KEY: &str = "test-key-0123456789";

/// Reads a fixture from tests/fixtures.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// Parses a fixture as a trigger body.
pub fn trigger_fixture(name: &str) -> Trigger {
    trigger::parse_bytes(fixture(name).as_bytes()).expect("fixture is a valid trigger")
}

/// Builds an incident trigger with one IP entity per address.
pub fn incident_with(addresses: &[&str]) -> Trigger {
    let entities: Vec<serde_json::Value> = addresses
        .iter()
        .map(|address| serde_json::json!({"kind": "Ip", "properties": {"address": address}}))
        .collect();
    let body = serde_json::json!({
        "objectSchemaType": "Incident",
        "object": {
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/Incidents/test-incident",
            "properties": {"incidentNumber": 7, "title": "test", "relatedEntities": entities}
        }
    });
    trigger::parse(&body).expect("built body is a valid trigger")
}

/// A sleep that records each requested delay and returns at once.
#[derive(Default)]
pub struct RecordingSleep {
    pub delays: Mutex<Vec<Duration>>,
}

impl RecordingSleep {
    pub fn recorded(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

impl Sleep for RecordingSleep {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.delays.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

/// VirusTotal options aimed at a mock server, with a high rate limit and short timeouts.
pub fn vt_options(base_url: &str) -> VirusTotalOptions {
    let mut options = VirusTotalOptions::new(Secret::new(API_KEY));
    options.base_url = format!("{base_url}/api/v3").parse().unwrap();
    options.requests_per_minute = std::num::NonZeroU32::new(60_000).unwrap();
    options.timeout = Duration::from_millis(500);
    options.retry = RetryOptions {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(30),
        max_total_wait: Duration::from_secs(90),
    };
    options
}

/// Builds an enricher with VirusTotal only, and returns the sleep that records its retries.
pub fn vt_enricher(options: VirusTotalOptions) -> (Enricher, Arc<RecordingSleep>) {
    let sleep = Arc::new(RecordingSleep::default());
    let provider = VirusTotal::with_sleep(options, sleep.clone()).unwrap();
    (enricher_with(vec![Arc::new(provider)]), sleep)
}

/// Builds an enricher whose only provider is a feed parsed from `text`.
pub fn feed_enricher(text: &str) -> Enricher {
    let mut feed = Feed::new();
    feed.load_text("test-feed.txt", text).unwrap();
    enricher_with(vec![Arc::new(feed)])
}

pub fn enricher_with(providers: Vec<Arc<dyn Provider>>) -> Enricher {
    let lookups = Lookups::new(providers, LookupCache::new(CacheOptions::default()));
    Enricher::new(lookups, VerdictPolicy::default(), ReportOptions::default())
}

/// Returns 2026-01-01T00:00:00Z, the time stamped on rows in tests.
pub fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}
