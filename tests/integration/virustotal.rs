//! VirusTotal through a wiremock server on loopback: method, path, header and call counts.

use std::time::Duration;

use sentinel_ip_enrich::pipeline::Status;
use sentinel_ip_enrich::verdict::{Basis, Verdict};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    API_KEY, fixed_now, fixture, incident_with, trigger_fixture, vt_enricher, vt_options,
};

const MALICIOUS_PATH: &str = "/api/v3/ip_addresses/45.33.32.156";

fn json_response(status: u16, fixture_name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(fixture_name), "application/json")
}

/// Fails the test if any request reaches a path that no other mock expects.
async fn forbid_other_paths(server: &MockServer) {
    Mock::given(path_regex(".*"))
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .expect(0)
        .named("unexpected VirusTotal path")
        .mount(server)
        .await;
}

#[tokio::test]
async fn sample_incident_sends_only_global_addresses() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .and(header("x-apikey", API_KEY))
        .respond_with(json_response(200, "vt-ip-malicious.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/1.1.1.1"))
        .and(header("x-apikey", API_KEY))
        .respond_with(json_response(200, "vt-ip-clean.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/2606:4700:4700::1111"))
        .and(header("x-apikey", API_KEY))
        .respond_with(json_response(404, "vt-error-not-found.json"))
        .expect(1)
        .mount(&server)
        .await;
    forbid_other_paths(&server).await;

    let (enricher, _) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&trigger_fixture("incident-trigger.json"), fixed_now())
        .await;

    let statuses: Vec<(&str, Status)> = enrichment
        .ips
        .iter()
        .map(|record| (record.input.as_str(), record.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("45.33.32.156", Status::Enriched),
            ("1.1.1.1", Status::Enriched),
            ("1.1.1.1", Status::Enriched),
            ("2606:4700:4700:0:0:0:0:1111", Status::NotFound),
            ("10.20.30.40", Status::Skipped),
            ("100.64.10.1", Status::Skipped),
            ("203.0.113.45", Status::Skipped),
        ]
    );
    let malicious = &enrichment.ips[0];
    assert_eq!(malicious.verdict, Verdict::Malicious);
    assert_eq!(malicious.verdict_basis, Basis::Engines);
    assert_eq!(enrichment.ips[1].verdict, Verdict::Harmless);
    assert_eq!(enrichment.rows.len(), 6, "one row per distinct address");
    assert_eq!(enrichment.labels, vec!["IP reputation: malicious"]);
    assert!(!enrichment.any_failed());
}

#[tokio::test]
async fn duplicate_address_looked_up_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/1.1.1.1"))
        .respond_with(json_response(200, "vt-ip-clean.json"))
        .expect(1)
        .mount(&server)
        .await;
    forbid_other_paths(&server).await;

    let (enricher, _) = vt_enricher(vt_options(&server.uri()));
    let trigger = incident_with(&[
        "1.1.1.1",
        " 1.1.1.1",
        "1.1.1.1:53",
        "::ffff:1.1.1.1",
        "1.1.1.1,1.1.1.1",
    ]);
    let enrichment = enricher.enrich(&trigger, fixed_now()).await;
    assert_eq!(enrichment.ips.len(), 6);
    assert!(
        enrichment
            .ips
            .iter()
            .all(|record| record.status == Status::Enriched)
    );
    assert_eq!(enrichment.rows.len(), 1);

    // A second run in the same process is served from the cache.
    let again = enricher.enrich(&trigger, fixed_now()).await;
    assert_eq!(again.ips[0].status, Status::Enriched);
}

#[tokio::test]
async fn concurrent_incidents_share_one_lookup() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/1.1.1.1"))
        .respond_with(json_response(200, "vt-ip-clean.json").set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;

    let (enricher, _) = vt_enricher(vt_options(&server.uri()));
    let first = incident_with(&["1.1.1.1"]);
    let second = incident_with(&["1.1.1.1", "10.0.0.1"]);
    let (a, b) = tokio::join!(
        enricher.enrich(&first, fixed_now()),
        enricher.enrich(&second, fixed_now())
    );
    assert_eq!(a.ips[0].status, Status::Enriched);
    assert_eq!(b.ips[0].status, Status::Enriched);
}

#[tokio::test]
async fn not_found_is_a_result() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/2606:4700:4700::1111"))
        .respond_with(json_response(404, "vt-error-not-found.json"))
        .expect(1)
        .mount(&server)
        .await;

    let (enricher, sleep) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["2606:4700:4700::1111"]), fixed_now())
        .await;
    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::NotFound);
    assert_eq!(record.verdict, Verdict::Unknown);
    assert!(sleep.recorded().is_empty(), "404 is not retried");
    assert!(!enrichment.any_failed());
}

#[tokio::test]
async fn quota_then_success_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(429, "vt-error-quota.json").insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(200, "vt-ip-malicious.json"))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;

    let (enricher, sleep) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    assert_eq!(enrichment.ips[0].status, Status::Enriched);
    assert_eq!(enrichment.ips[0].verdict, Verdict::Malicious);
    assert_eq!(sleep.recorded(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn quota_every_time_fails_after_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(429, "vt-error-quota.json"))
        .expect(4)
        .mount(&server)
        .await;

    let (enricher, sleep) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.providers[0].error_type, Some("quota_exceeded"));
    assert!(record.reason.contains("45.33.32.156"), "{}", record.reason);
    assert_eq!(sleep.recorded().len(), 3);
    assert!(enrichment.any_failed_transiently());
    assert_eq!(enrichment.labels, vec!["IP reputation: incomplete"]);
}

#[tokio::test]
async fn retry_after_beyond_budget_gives_up() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(
            json_response(429, "vt-error-quota.json").insert_header("Retry-After", "3600"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let (enricher, sleep) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    assert_eq!(enrichment.ips[0].status, Status::Failed);
    assert!(
        sleep.recorded().is_empty(),
        "an hour exceeds the 90 second budget"
    );
}

#[tokio::test]
async fn unauthorized_stops_every_call_of_the_run() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/ip_addresses/"))
        .respond_with(json_response(401, "vt-error-wrong-credentials.json"))
        .expect(1)
        .mount(&server)
        .await;

    let mut options = vt_options(&server.uri());
    options.max_in_flight = 1;
    let (enricher, sleep) = vt_enricher(options);
    let enrichment = enricher
        .enrich(
            &incident_with(&["45.33.32.156", "1.1.1.1", "8.8.8.8"]),
            fixed_now(),
        )
        .await;

    assert!(
        enrichment
            .ips
            .iter()
            .all(|record| record.status == Status::Failed)
    );
    let reasons: Vec<&str> = enrichment
        .ips
        .iter()
        .map(|record| record.reason.as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|reason| reason.contains("VIRUSTOTAL_API_KEY")),
        "{reasons:?}"
    );
    assert!(sleep.recorded().is_empty());
    assert!(
        !enrichment.any_failed_transiently(),
        "a rejected key does not heal on redelivery"
    );
}

#[tokio::test]
async fn server_error_retried_then_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .expect(4)
        .mount(&server)
        .await;

    let (enricher, sleep) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.providers[0].error_type, Some("upstream_status"));
    assert!(record.reason.contains("HTTP 500"), "{}", record.reason);
    assert_eq!(sleep.recorded().len(), 3);
}

#[tokio::test]
async fn invalid_body_retried_then_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .expect(4)
        .mount(&server)
        .await;

    let (enricher, _) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.providers[0].error_type, Some("invalid_body"));
}

#[tokio::test]
async fn timeout_retried_then_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(200, "vt-ip-malicious.json").set_delay(Duration::from_secs(2)))
        .expect(2)
        .mount(&server)
        .await;

    let mut options = vt_options(&server.uri());
    options.timeout = Duration::from_millis(100);
    options.retry.max_attempts = 2;
    let (enricher, _) = vt_enricher(options);
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.providers[0].error_type, Some("timeout"));
    assert!(enrichment.any_failed_transiently());
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(ResponseTemplate::new(400))
        .expect(1)
        .mount(&server)
        .await;

    let (enricher, _) = vt_enricher(vt_options(&server.uri()));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156"]), fixed_now())
        .await;
    assert_eq!(enrichment.ips[0].status, Status::Failed);
    assert!(!enrichment.any_failed_transiently());
}

#[tokio::test]
async fn failure_is_not_cached() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(200, "vt-ip-malicious.json"))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;

    let mut options = vt_options(&server.uri());
    options.retry.max_attempts = 1;
    let (enricher, _) = vt_enricher(options);
    let trigger = incident_with(&["45.33.32.156"]);
    assert_eq!(
        enricher.enrich(&trigger, fixed_now()).await.ips[0].status,
        Status::Failed
    );
    assert_eq!(
        enricher.enrich(&trigger, fixed_now()).await.ips[0].status,
        Status::Enriched
    );
}

#[tokio::test]
async fn run_deadline_fails_slow_lookups_transiently() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MALICIOUS_PATH))
        .respond_with(json_response(200, "vt-ip-malicious.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;

    let mut options = vt_options(&server.uri());
    options.timeout = Duration::from_secs(10);
    let (mut enricher, _) = vt_enricher(options);
    enricher.set_run_deadline(Some(Duration::from_millis(200)));
    let enrichment = enricher
        .enrich(&incident_with(&["45.33.32.156", "10.0.0.1"]), fixed_now())
        .await;

    let record = &enrichment.ips[0];
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.providers[0].error_type, Some("deadline_exceeded"));
    assert!(enrichment.any_failed_transiently());
    assert_eq!(enrichment.ips[1].status, Status::Skipped);
}
