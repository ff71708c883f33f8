//! A stand-in for the Azure Functions host: starts the real binary with
//! FUNCTIONS_CUSTOMHANDLER_PORT, waits for the port, and sends invocations in the documented
//! Data/Metadata shape. wiremock servers stand in for the identity endpoint, Resource Manager,
//! the Logs Ingestion API and VirusTotal.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::fixture;

pub const IDENTITY_HEADER: &str = "test-identity-header";
pub const VT_KEY: &str = "vt-key-that-must-not-be-logged";
pub const ACCESS_TOKEN: &str = "access-token-that-must-not-be-logged";
pub const WORKSPACE: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example";
pub const INCIDENT: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example/providers/Microsoft.SecurityInsights/Incidents/a1b2c3d4-0000-4000-8000-00000000abcd";
pub const DCR_ID: &str = "dcr-00000000000000000000000000000000";
pub const LOGS_PATH: &str =
    "/dataCollectionRules/dcr-00000000000000000000000000000000/streams/Custom-IPReputation_CL";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The four upstream mocks.
pub struct Upstreams {
    pub identity: MockServer,
    pub arm: MockServer,
    pub logs: MockServer,
    pub virustotal: MockServer,
}

impl Upstreams {
    pub async fn start() -> Self {
        Self {
            identity: MockServer::start().await,
            arm: MockServer::start().await,
            logs: MockServer::start().await,
            virustotal: MockServer::start().await,
        }
    }

    /// Environment for the handler pointing at these mocks.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("SENTINEL_ALLOWED_WORKSPACES", WORKSPACE.to_string()),
            (
                "IDENTITY_ENDPOINT",
                format!("{}/msi/token", self.identity.uri()),
            ),
            ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
            ("ARM_ENDPOINT", self.arm.uri()),
            ("LOGS_INGESTION_ENDPOINT", self.logs.uri()),
            ("LOGS_INGESTION_DCR_ID", DCR_ID.to_string()),
            ("VIRUSTOTAL_API_KEY", VT_KEY.to_string()),
            (
                "VIRUSTOTAL_BASE_URL",
                format!("{}/api/v3", self.virustotal.uri()),
            ),
            ("VIRUSTOTAL_REQUESTS_PER_MINUTE", "60000".to_string()),
            ("VIRUSTOTAL_MAX_ATTEMPTS", "2".to_string()),
            ("VIRUSTOTAL_RETRY_BASE_MS", "1".to_string()),
            ("RUST_LOG", "sentinel_ip_enrich=debug".to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// Identity endpoint: one token per resource, each expected `calls` times.
    pub async fn mount_identity(&self, calls: u64) {
        for resource in ["https://management.azure.com", "https://monitor.azure.com"] {
            let expires_on = (chrono::Utc::now().timestamp() + 3600).to_string();
            Mock::given(method("GET"))
                .and(path("/msi/token"))
                .and(query_param("resource", resource))
                .and(query_param("api-version", "2019-08-01"))
                .and(header("x-identity-header", IDENTITY_HEADER))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": ACCESS_TOKEN,
                    "expires_on": expires_on,
                    "resource": resource,
                    "token_type": "Bearer",
                })))
                .expect(calls)
                .named(format!("token for {resource}"))
                .mount(&self.identity)
                .await;
        }
    }

    /// Mounts VirusTotal responses for the sample incident's three global addresses.
    pub async fn mount_virustotal_sample(&self) {
        let answers = [
            ("45.33.32.156", 200, "vt-ip-malicious.json"),
            ("1.1.1.1", 200, "vt-ip-clean.json"),
            ("2606:4700:4700::1111", 404, "vt-error-not-found.json"),
        ];
        for (ip, status, body) in answers {
            Mock::given(method("GET"))
                .and(path(format!("/api/v3/ip_addresses/{ip}")))
                .and(header("x-apikey", VT_KEY))
                .respond_with(
                    ResponseTemplate::new(status).set_body_raw(fixture(body), "application/json"),
                )
                .mount(&self.virustotal)
                .await;
        }
    }

    /// Logs Ingestion accepting every batch.
    pub async fn mount_logs_accepting(&self, calls: u64) {
        Mock::given(method("POST"))
            .and(path(LOGS_PATH))
            .and(query_param("api-version", "2023-01-01"))
            .and(header(
                "authorization",
                format!("Bearer {ACCESS_TOKEN}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(204))
            .expect(calls)
            .named("logs ingestion")
            .mount(&self.logs)
            .await;
    }

    /// Resource Manager: the incident without labels, comment and incident PUTs accepted.
    pub async fn mount_arm_accepting(&self) {
        Mock::given(method("GET"))
            .and(path(INCIDENT))
            .and(query_param("api-version", "2025-09-01"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(incident_resource("\"e1\"", &[])),
            )
            .named("incident GET")
            .mount(&self.arm)
            .await;
        Mock::given(method("PUT"))
            .and(path_regex(
                r"/Incidents/a1b2c3d4-0000-4000-8000-00000000abcd/comments/[0-9a-f-]{36}$",
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
            .named("comment PUT")
            .mount(&self.arm)
            .await;
        Mock::given(method("PUT"))
            .and(path(INCIDENT))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .named("incident PUT")
            .mount(&self.arm)
            .await;
    }
}

/// An incident resource as Resource Manager returns it.
pub fn incident_resource(etag: &str, labels: &[&str]) -> Value {
    let labels: Vec<Value> = labels
        .iter()
        .map(|name| json!({"labelName": name, "labelType": "User"}))
        .collect();
    json!({
        "id": INCIDENT,
        "etag": etag,
        "properties": {"title": "t", "severity": "Medium", "status": "New", "description": "kept", "labels": labels}
    })
}

/// The handler process.
pub struct Host {
    child: Child,
    port: u16,
    log_path: PathBuf,
    client: reqwest::Client,
}

impl Host {
    /// Starts the binary with exactly `env` (and FUNCTIONS_CUSTOMHANDLER_PORT) and waits until
    /// it accepts connections.
    pub fn start(env: &[(String, String)]) -> Self {
        let port = free_port();
        let log_path =
            std::env::temp_dir().join(format!("sie-host-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel-ip-enrich"))
            .arg("serve")
            .env_clear()
            .envs(
                env.iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        let mut host = Self {
            child,
            port,
            log_path,
            client: reqwest::Client::new(),
        };
        host.wait_for_port();
        host
    }

    fn wait_for_port(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the handler exited with {status} before listening:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the handler did not listen within {START_TIMEOUT:?}:\n{}",
            self.logs()
        );
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends one invocation and returns the host-level status and the JSON reply.
    pub async fn invoke(&self, function: &str, invocation: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("http://127.0.0.1:{}/{function}", self.port))
            .header(
                "X-Azure-Functions-InvocationId",
                "11111111-aaaa-4bbb-8ccc-222222222222",
            )
            .json(&invocation)
            .send()
            .await
            .expect("the handler answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("the reply is JSON");
        (status, body)
    }

    /// Sends an HTTP trigger invocation for EnrichIncident with `body` as the request body,
    /// and returns the HTTP output's status and parsed body, and the host-level reply.
    pub async fn enrich_incident(&self, body: &str) -> (u16, Value, Value) {
        let invocation = json!({
            "Data": {"req": {
                "Url": format!("http://localhost:7071/api/EnrichIncident"),
                "Method": "POST",
                "Query": {},
                "Headers": {"Content-Type": ["application/json"]},
                "Params": {},
                "Identities": [],
                "Body": body,
            }},
            "Metadata": {"Query": {}, "Headers": {}, "sys": {"MethodName": "EnrichIncident"}}
        });
        let (status, reply) = self.invoke("EnrichIncident", invocation).await;
        assert_eq!(
            status, 200,
            "the HTTP function's invocation itself succeeds: {reply}"
        );
        let output = &reply["Outputs"]["res"];
        let body: Value = serde_json::from_str(output["body"].as_str().unwrap()).unwrap();
        (output["statusCode"].as_u64().unwrap() as u16, body, reply)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Builds an Event Grid event (Event Grid schema) carrying `data`.
pub fn event_grid_event(data: Value) -> Value {
    json!({
        "id": "7a1e2b3c-0000-4000-8000-000000000001",
        "topic": "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.EventGrid/topics/incidents",
        "subject": "incidents/a1b2c3d4",
        "eventType": "Sentinel.IncidentCreated",
        "eventTime": "2026-01-01T00:00:00Z",
        "dataVersion": "1.0",
        "data": data,
    })
}
