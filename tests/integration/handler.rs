//! The custom handler as the Functions host drives it, with every Azure API mocked on loopback.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Match, Mock, Request, ResponseTemplate};

use crate::common::fixture;
use crate::host::{
    ACCESS_TOKEN, Host, INCIDENT, LOGS_PATH, Upstreams, VT_KEY, event_grid_event, incident_resource,
};

fn sample_body() -> String {
    fixture("incident-trigger.json")
}

/// Paths of the requests a mock server received with `method`.
async fn received_paths(server: &wiremock::MockServer, verb: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.method.as_str() == verb)
        .map(|request| request.url.path().to_string())
        .collect()
}

fn assert_no_secret(logs: &str) {
    assert!(!logs.contains(VT_KEY), "the VirusTotal key was logged");
    assert!(!logs.contains(ACCESS_TOKEN), "an access token was logged");
}

#[tokio::test]
async fn incident_enriched_and_written() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(1).await;
    upstreams.mount_arm_accepting().await;
    let host = Host::start(&upstreams.env());

    let (status, body, reply) = host.enrich_incident(&sample_body()).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["addresses"], 7);
    assert_eq!(body["written"]["rows_written"], 6);
    assert_eq!(
        body["written"]["labels_added"],
        json!(["IP reputation: malicious"])
    );
    assert!(
        reply["Logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line.as_str().unwrap().contains("7 addresses"))
    );

    let comment_puts = received_paths(&upstreams.arm, "PUT").await;
    assert_eq!(
        comment_puts
            .iter()
            .filter(|path| path.contains("/comments/"))
            .count(),
        1
    );
    let incident_put = upstreams
        .arm
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|request| request.method.as_str() == "PUT" && request.url.path() == INCIDENT)
        .expect("the incident was written back");
    assert_eq!(incident_put.headers.get("if-match").unwrap(), "\"e1\"");
    let written: Value = serde_json::from_slice(&incident_put.body).unwrap();
    assert_eq!(
        written["properties"]["description"], "kept",
        "other properties are kept"
    );
    assert_eq!(
        written["properties"]["labels"][0]["labelName"],
        "IP reputation: malicious"
    );

    let rows: Value =
        serde_json::from_slice(&upstreams.logs.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 6);
    assert_eq!(rows[0]["IPAddress"], "45.33.32.156");

    let vt_paths = received_paths(&upstreams.virustotal, "GET").await;
    assert_eq!(
        vt_paths.len(),
        3,
        "only the three global addresses: {vt_paths:?}"
    );
    assert_no_secret(&host.logs());
}

#[tokio::test]
async fn retried_invocation_writes_no_second_comment() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(2).await;
    // The first read shows no labels; later reads show the label the first run added.
    Mock::given(method("GET"))
        .and(path(INCIDENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_resource("\"e1\"", &[])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("GET"))
        .and(path(INCIDENT))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(incident_resource("\"e2\"", &["IP reputation: malicious"])),
        )
        .with_priority(2)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("/comments/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(2)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("PUT"))
        .and(path(INCIDENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&upstreams.arm)
        .await;
    let host = Host::start(&upstreams.env());

    let (first, _, _) = host.enrich_incident(&sample_body()).await;
    let (second, body, _) = host.enrich_incident(&sample_body()).await;

    assert_eq!(first, 200);
    assert_eq!(second, 200);
    assert_eq!(body["written"]["labels_added"], json!([]));
    let comment_paths: Vec<String> = received_paths(&upstreams.arm, "PUT")
        .await
        .into_iter()
        .filter(|path| path.contains("/comments/"))
        .collect();
    assert_eq!(comment_paths.len(), 2);
    assert_eq!(
        comment_paths[0], comment_paths[1],
        "the retry overwrote the same comment"
    );
    assert_eq!(
        received_paths(&upstreams.virustotal, "GET").await.len(),
        3,
        "the second run used the cache"
    );
}

#[tokio::test]
async fn workspace_outside_allow_list_reaches_nothing() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(0).await;
    let mut env = upstreams.env();
    for (name, value) in env.iter_mut() {
        if name == "SENTINEL_ALLOWED_WORKSPACES" {
            *value = "/subscriptions/99999999-2222-3333-4444-555555555555/resourceGroups/other/providers/Microsoft.OperationalInsights/workspaces/other".into();
        }
    }
    let host = Host::start(&env);

    let (status, body, _) = host.enrich_incident(&sample_body()).await;

    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("SENTINEL_ALLOWED_WORKSPACES")
    );
    assert!(upstreams.arm.received_requests().await.unwrap().is_empty());
    assert!(upstreams.logs.received_requests().await.unwrap().is_empty());
    assert!(
        upstreams
            .virustotal
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        upstreams
            .identity
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_body_answered_400() {
    let upstreams = Upstreams::start().await;
    let host = Host::start(&upstreams.env());

    let (status, body, _) = host.enrich_incident("this is not json").await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("not JSON"),
        "{body}"
    );

    let (status, body, _) = host.enrich_incident("{\"hello\": 1}").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a Microsoft Sentinel"),
        "{body}"
    );

    let (status, _) = host
        .invoke("EnrichIncident", json!({"Data": {}, "Metadata": {}}))
        .await;
    assert_eq!(status, 200, "the HTTP function reports through its output");
    assert!(
        upstreams
            .virustotal
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn double_encoded_body_accepted() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(1).await;
    upstreams.mount_arm_accepting().await;
    let host = Host::start(&upstreams.env());

    let twice = serde_json::to_string(&sample_body()).unwrap();
    let (status, body, _) = host.enrich_incident(&twice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["addresses"], 7);
}

#[tokio::test]
async fn etag_conflict_retried() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(1).await;
    Mock::given(method("GET"))
        .and(path(INCIDENT))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(incident_resource("\"e1\"", &["existing"])),
        )
        .expect(2)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("/comments/"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .expect(1)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("PUT"))
        .and(path(INCIDENT))
        .and(header("if-match", "\"e1\""))
        .respond_with(ResponseTemplate::new(412))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&upstreams.arm)
        .await;
    Mock::given(method("PUT"))
        .and(path(INCIDENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .with_priority(2)
        .expect(1)
        .mount(&upstreams.arm)
        .await;
    let host = Host::start(&upstreams.env());

    let (status, body, _) = host.enrich_incident(&sample_body()).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["written"]["labels_added"],
        json!(["IP reputation: malicious"])
    );
    let last_put = upstreams
        .arm
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .rfind(|request| request.method.as_str() == "PUT" && request.url.path() == INCIDENT)
        .unwrap();
    let labels: Value = serde_json::from_slice(&last_put.body).unwrap();
    assert_eq!(labels["properties"]["labels"][0]["labelName"], "existing");
}

/// Matches a Logs Ingestion body that contains more than `rows` rows.
struct MoreRowsThan(usize);

impl Match for MoreRowsThan {
    fn matches(&self, request: &Request) -> bool {
        serde_json::from_slice::<Vec<Value>>(&request.body).is_ok_and(|rows| rows.len() > self.0)
    }
}

#[tokio::test]
async fn too_large_batch_split() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_arm_accepting().await;
    Mock::given(method("POST"))
        .and(path(LOGS_PATH))
        .and(MoreRowsThan(3))
        .respond_with(ResponseTemplate::new(413))
        .with_priority(1)
        .expect(1)
        .mount(&upstreams.logs)
        .await;
    upstreams.mount_logs_accepting(2).await;
    let host = Host::start(&upstreams.env());

    let (status, body, _) = host.enrich_incident(&sample_body()).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"]["rows_written"], 6);
}

#[tokio::test]
async fn forbidden_names_missing_role() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    Mock::given(method("POST"))
        .and(path(LOGS_PATH))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&upstreams.logs)
        .await;
    Mock::given(path_regex(".*"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"code": "AuthorizationFailed"}})),
        )
        .mount(&upstreams.arm)
        .await;
    let host = Host::start(&upstreams.env());

    let (status, body, reply) = host.enrich_incident(&sample_body()).await;

    assert_eq!(status, 502);
    let errors = body["written"]["errors"].to_string();
    assert!(errors.contains("Monitoring Metrics Publisher"), "{errors}");
    assert!(errors.contains("Microsoft Sentinel Responder"), "{errors}");
    let logs = reply["Logs"].to_string();
    assert!(logs.contains("Microsoft Sentinel Responder"), "{logs}");
    assert_no_secret(&host.logs());
}

#[tokio::test]
async fn token_requested_once_per_scope() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(3).await;
    upstreams.mount_arm_accepting().await;
    let host = Host::start(&upstreams.env());

    for _ in 0..3 {
        let (status, body, _) = host.enrich_incident(&sample_body()).await;
        assert_eq!(status, 200, "{body}");
    }
    let resources: Vec<String> = upstreams
        .identity
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|request| {
            request
                .url
                .query_pairs()
                .find(|(name, _)| name == "resource")
                .map(|(_, value)| value.into_owned())
        })
        .collect();
    assert_eq!(resources.len(), 2, "{resources:?}");
}

#[tokio::test]
async fn event_enriched_from_string_event() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(1).await;
    upstreams.mount_arm_accepting().await;
    let host = Host::start(&upstreams.env());

    let trigger: Value = serde_json::from_str(&sample_body()).unwrap();
    let event = event_grid_event(trigger).to_string();
    let (status, reply) = host
        .invoke(
            "EnrichEvent",
            json!({"Data": {"event": event}, "Metadata": {}}),
        )
        .await;

    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["ReturnValue"]["summary"]["addresses"], 7);
    assert!(!reply["Logs"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn event_redelivered_after_transient_failure() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_logs_accepting(2).await;
    upstreams.mount_arm_accepting().await;
    // The first two attempts for 45.33.32.156 fail with 503, which exhausts VIRUSTOTAL_MAX_ATTEMPTS=2.
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/45.33.32.156"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&upstreams.virustotal)
        .await;
    upstreams.mount_virustotal_sample().await;
    let host = Host::start(&upstreams.env());

    let trigger: Value = serde_json::from_str(&sample_body()).unwrap();
    let invocation = json!({"Data": {"event": event_grid_event(trigger)}, "Metadata": {}});
    let (first, reply) = host.invoke("EnrichEvent", invocation.clone()).await;
    assert_eq!(
        first, 500,
        "a transient failure asks Event Grid to deliver again: {reply}"
    );
    assert!(
        reply["Logs"]
            .to_string()
            .contains("lookup failed for 45.33.32.156")
    );

    let (second, reply) = host.invoke("EnrichEvent", invocation).await;
    assert_eq!(second, 200, "{reply}");
    let comment_paths: Vec<String> = received_paths(&upstreams.arm, "PUT")
        .await
        .into_iter()
        .filter(|path| path.contains("/comments/"))
        .collect();
    assert_eq!(comment_paths.len(), 2);
    assert_eq!(
        comment_paths[0], comment_paths[1],
        "the redelivery replaced the first comment"
    );
}

#[tokio::test]
async fn event_without_trigger_answered_400() {
    let upstreams = Upstreams::start().await;
    let host = Host::start(&upstreams.env());
    let (status, reply) = host
        .invoke(
            "EnrichEvent",
            json!({"Data": {"event": event_grid_event(json!({"foo": 1}))}, "Metadata": {}}),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["ReturnValue"]["error"]
            .as_str()
            .unwrap()
            .contains("foo")
    );
}

#[test]
fn serve_without_allow_list_refuses_to_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-ip-enrich"))
        .arg("serve")
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SENTINEL_ALLOWED_WORKSPACES"));
}

#[tokio::test]
async fn enrich_apply_uses_the_same_sinks() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_virustotal_sample().await;
    upstreams.mount_logs_accepting(1).await;
    upstreams.mount_arm_accepting().await;
    let mut env = upstreams.env();
    env.push(("AZURE_CREDENTIAL".into(), "managed-identity".into()));
    let example = format!("{}/examples/incident.json", env!("CARGO_MANIFEST_DIR"));

    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-ip-enrich"))
            .args(["enrich", &example, "--apply", "--json"])
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["written"]["rows_written"], 6);
    assert_eq!(
        document["written"]["labels_added"],
        json!(["IP reputation: malicious"])
    );
    assert!(document["written"]["comment_id"].is_string());
    assert_no_secret(&stderr);
}

#[tokio::test]
async fn incident_transient_failure_answered_503() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(1).await;
    upstreams.mount_logs_accepting(1).await;
    upstreams.mount_arm_accepting().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/45.33.32.156"))
        .respond_with(ResponseTemplate::new(429))
        .expect(2)
        .with_priority(1)
        .mount(&upstreams.virustotal)
        .await;
    upstreams.mount_virustotal_sample().await;
    let host = Host::start(&upstreams.env());

    let (status, body, _) = host.enrich_incident(&sample_body()).await;

    assert_eq!(
        status, 503,
        "the playbook retries a transient failure: {body}"
    );
    assert_eq!(
        body["written"]["rows_written"], 6,
        "what is known is written first"
    );
    assert_eq!(
        body["written"]["labels_added"],
        json!(["IP reputation: harmless", "IP reputation: incomplete"])
    );
}

#[tokio::test]
async fn incident_without_entities_writes_no_comment() {
    let upstreams = Upstreams::start().await;
    upstreams.mount_identity(0).await;
    let host = Host::start(&upstreams.env());

    let (status, body, _) = host
        .enrich_incident(&fixture("incident-trigger-no-entities.json"))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["addresses"], 0);
    assert!(upstreams.arm.received_requests().await.unwrap().is_empty());
    assert!(upstreams.logs.received_requests().await.unwrap().is_empty());
}

#[test]
fn serve_rejects_workspace_name_in_allow_list() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-ip-enrich"))
        .arg("serve")
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "1")
        .env("SENTINEL_ALLOWED_WORKSPACES", "law-soc-example")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid SENTINEL_ALLOWED_WORKSPACES entry \"law-soc-example\""),
        "{stderr}"
    );
}
