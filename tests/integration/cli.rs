//! The `enrich` command as a user runs it: output, JSON fields and exit codes.

use std::process::{Command, Output};

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BINARY: &str = env!("CARGO_BIN_EXE_sentinel-ip-enrich");

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with no provider settings from the caller's environment.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    command.args(args);
    for name in [
        "VIRUSTOTAL_API_KEY",
        "VIRUSTOTAL_BASE_URL",
        "FEED_PATHS",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn example_incident_with_defaults() {
    let output = run(&["enrich", &example("incident.json")], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("45.33.32.156"));
    assert!(stdout.contains("malicious"));
    assert!(stdout.contains("Labels: IP reputation: malicious"));
}

#[test]
fn json_output_has_documented_fields() {
    let output = run(&["enrich", &example("incident.json"), "--json"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(document["incident"]["number"], 4211);
    assert!(
        document["incident"]["id"]
            .as_str()
            .unwrap()
            .contains("/Incidents/")
    );
    let first = &document["ips"][0];
    for field in ["input", "ip", "status", "verdict", "reason", "providers"] {
        assert!(first.get(field).is_some(), "ips[0] lacks {field}");
    }
    assert_eq!(first["status"], "enriched");
    assert_eq!(first["verdict"], "malicious");
    assert!(document["comment"].as_str().unwrap().starts_with("<p>"));
    assert_eq!(document["labels"][0], "IP reputation: malicious");
    assert_eq!(document["rows"].as_array().unwrap().len(), 6);
}

#[test]
fn alert_without_incident_prints_null() {
    let output = run(
        &["enrich", &fixture_path("alert-trigger.json"), "--json"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(document["incident"].is_null());
}

#[test]
fn stdin_input_accepted() {
    use std::io::Write;
    let mut child = Command::new(BINARY)
        .args(["enrich", "-", "--json"])
        .env_remove("VIRUSTOTAL_API_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"Entity":{"properties":{"Address":"10.0.0.1"}},"IncidentArmID":null}"#)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["ips"][0]["status"], "skipped");
}

#[test]
fn missing_file_exits_1() {
    let output = run(&["enrich", "/nonexistent/incident.json"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/incident.json"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
}

#[test]
fn malformed_body_exits_1() {
    let dir = std::env::temp_dir().join(format!("sie-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(&file, "{\"hello\": 1}").unwrap();
    let output = run(&["enrich", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a Microsoft Sentinel incident, alert or entity trigger"),
        "{stderr}"
    );
}

#[test]
fn invalid_setting_exits_1() {
    let output = run(
        &["enrich", &example("incident.json")],
        &[("VIRUSTOTAL_REQUESTS_PER_MINUTE", "0")],
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn missing_feed_exits_1() {
    let output = run(
        &[
            "enrich",
            &example("incident.json"),
            "--feed",
            "/nonexistent/feed.txt",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read feed /nonexistent/feed.txt")
    );
}

#[tokio::test]
async fn failed_lookup_exits_2_without_leaking_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/ip_addresses/"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let base = format!("{}/api/v3", server.uri());
    let key = "secret-key-must-not-appear";
    let output = tokio::task::spawn_blocking(move || {
        run(
            &["enrich", &example("incident.json")],
            &[
                ("VIRUSTOTAL_API_KEY", key),
                ("VIRUSTOTAL_BASE_URL", &base),
                ("VIRUSTOTAL_MAX_ATTEMPTS", "1"),
                ("VIRUSTOTAL_REQUESTS_PER_MINUTE", "6000"),
                ("RUST_LOG", "sentinel_ip_enrich=debug"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("failed"), "{stdout}");
    assert!(
        !stdout.contains(key) && !stderr.contains(key),
        "the key leaked"
    );
    assert!(
        stderr.contains("incident="),
        "log lines name the incident: {stderr}"
    );
}

#[tokio::test]
async fn rejected_key_exits_1() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/ip_addresses/"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let base = format!("{}/api/v3", server.uri());
    let output = tokio::task::spawn_blocking(move || {
        run(
            &["enrich", &example("incident.json")],
            &[
                ("VIRUSTOTAL_API_KEY", "wrong"),
                ("VIRUSTOTAL_BASE_URL", &base),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("check VIRUSTOTAL_API_KEY"), "{stderr}");
}
