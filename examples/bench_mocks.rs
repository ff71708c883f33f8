//! Upstream mocks for the benchmarks: one actix-web server on 127.0.0.1 that replaces the
//! managed identity endpoint, Azure Resource Manager, the Logs Ingestion API and VirusTotal.
//!
//! It responds at once (VirusTotal after `--vt-delay-ms`) and keeps only counters, unlike
//! wiremock, which records every request and slows down under load. Routes:
//!
//! - `GET /msi/token`: a token that expires in one hour;
//! - `GET /subscriptions/…`: an incident with an etag and no labels;
//! - `PUT /subscriptions/…/comments/…` and `PUT /subscriptions/…`: 200 `{}`;
//! - `POST /dataCollectionRules/…`: 204;
//! - `GET /api/v3/ip_addresses/{ip}`: 200 with tests/fixtures/vt-ip-clean.json;
//! - `GET /__counts`: requests per kind, VirusTotal requests per address, and the milliseconds
//!   from the first to the last VirusTotal request, as JSON;
//! - `POST /__reset`: sets every counter to zero.
//!
//! Any other request gets 404 and is counted as `unexpected`.
//!
//! Usage: `bench_mocks [--port 0] [--vt-delay-ms 0]`. The first line on stdout is the port.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clap::Parser;
use serde_json::json;

/// VirusTotal response body for every address: an address with no detections.
const VT_CLEAN: &str = include_str!("../tests/fixtures/vt-ip-clean.json");
/// Path prefix of VirusTotal IP address reports.
const VT_PREFIX: &str = "/api/v3/ip_addresses/";
/// Maximum request body size read, in bytes. Logs Ingestion batches stay under 1 MB.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Delay before each VirusTotal response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    vt_delay_ms: u64,
}

/// Upstream that a request is meant for.
#[derive(Clone, Copy)]
enum Kind {
    Token,
    IncidentGet,
    IncidentPut,
    CommentPut,
    LogsPost,
    VirusTotal,
    Unexpected,
}

const KINDS: [(Kind, &str); 7] = [
    (Kind::Token, "token"),
    (Kind::IncidentGet, "incident_get"),
    (Kind::IncidentPut, "incident_put"),
    (Kind::CommentPut, "comment_put"),
    (Kind::LogsPost, "logs_post"),
    (Kind::VirusTotal, "virustotal"),
    (Kind::Unexpected, "unexpected"),
];

/// Request counters, shared by every worker.
struct Counts {
    by_kind: [AtomicU64; KINDS.len()],
    /// VirusTotal requests per address, as written in the request path.
    by_address: Mutex<BTreeMap<String, u64>>,
    /// Arrival of the first and the latest VirusTotal request, which shows how the client's
    /// rate limit spaced them.
    vt_first_and_last: Mutex<Option<(Instant, Instant)>>,
}

impl Counts {
    fn add(&self, kind: Kind) {
        self.by_kind[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn add_address(&self, address: &str) {
        let mut by_address = self.by_address.lock().unwrap();
        *by_address.entry(address.to_string()).or_default() += 1;

        let now = Instant::now();
        let mut first_and_last = self.vt_first_and_last.lock().unwrap();
        let first = first_and_last.map_or(now, |(first, _)| first);
        *first_and_last = Some((first, now));
    }

    fn to_json(&self) -> serde_json::Value {
        let mut counts = serde_json::Map::new();
        for (kind, name) in KINDS {
            let value = self.by_kind[kind as usize].load(Ordering::Relaxed);
            counts.insert(name.to_string(), value.into());
        }
        let by_address = self.by_address.lock().unwrap().clone();
        counts.insert("virustotal_by_address".to_string(), json!(by_address));
        let span_ms = self
            .vt_first_and_last
            .lock()
            .unwrap()
            .map_or(0, |(first, last)| (last - first).as_millis() as u64);
        counts.insert("virustotal_first_to_last_ms".to_string(), span_ms.into());
        serde_json::Value::Object(counts)
    }

    fn reset(&self) {
        for counter in &self.by_kind {
            counter.store(0, Ordering::Relaxed);
        }
        self.by_address.lock().unwrap().clear();
        *self.vt_first_and_last.lock().unwrap() = None;
    }
}

struct State {
    counts: Counts,
    vt_delay: Duration,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let state = web::Data::new(State {
        counts: Counts {
            by_kind: Default::default(),
            by_address: Mutex::default(),
            vt_first_and_last: Mutex::default(),
        },
        vt_delay: Duration::from_millis(args.vt_delay_ms),
    });

    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .route("/__counts", web::get().to(counts))
            .route("/__reset", web::post().to(reset))
            .default_service(web::to(upstream))
    })
    .bind(("127.0.0.1", args.port))?;

    // The caller reads the port from the first line, so it must be flushed before serving.
    let port = server.addrs()[0].port();
    println!("{port}");
    std::io::stdout().flush()?;

    server.run().await
}

async fn counts(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(state.counts.to_json())
}

async fn reset(state: web::Data<State>) -> HttpResponse {
    state.counts.reset();
    HttpResponse::NoContent().finish()
}

/// Responds on every upstream route. It reads the body in full, as a real server does.
async fn upstream(
    request: HttpRequest,
    _body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let path = request.path();
    let method = request.method();

    if method == Method::GET && path == "/msi/token" {
        state.counts.add(Kind::Token);
        let expires_on = (chrono::Utc::now().timestamp() + 3600).to_string();
        return HttpResponse::Ok().json(json!({
            "access_token": "t",
            "expires_on": expires_on,
            "resource": "r",
            "token_type": "Bearer",
        }));
    }

    if method == Method::GET
        && let Some(address) = path.strip_prefix(VT_PREFIX)
    {
        state.counts.add(Kind::VirusTotal);
        state.counts.add_address(address);
        if !state.vt_delay.is_zero() {
            tokio::time::sleep(state.vt_delay).await;
        }
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(VT_CLEAN);
    }

    if method == Method::POST && path.starts_with("/dataCollectionRules/") {
        state.counts.add(Kind::LogsPost);
        return HttpResponse::NoContent().finish();
    }

    if path.starts_with("/subscriptions/") {
        if method == Method::GET {
            state.counts.add(Kind::IncidentGet);
            return HttpResponse::Ok().json(json!({
                "etag": "\"e\"",
                "properties": {"title": "t", "severity": "Low", "status": "New", "labels": []},
            }));
        }
        if method == Method::PUT {
            let kind = if path.contains("/comments/") {
                Kind::CommentPut
            } else {
                Kind::IncidentPut
            };
            state.counts.add(kind);
            return HttpResponse::Ok().json(json!({}));
        }
    }

    state.counts.add(Kind::Unexpected);
    HttpResponse::NotFound().body(format!("no mock for {method} {path}"))
}
