//! Azure Functions custom handler: serves `POST /EnrichIncident` (HTTP trigger) and
//! `POST /EnrichEvent` (Event Grid trigger) on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
//!
//! Both run the same [`Enricher`] as the command line, then the Azure sinks. Replies:
//! 400 for a body that is not a trigger payload, 403 for an incident outside
//! SENTINEL_ALLOWED_WORKSPACES (checked before any lookup or write), 502 when an Azure write
//! failed, 200 otherwise. When a lookup failed for a transient reason (quota, server error,
//! timeout), EnrichIncident returns 503 so the playbook retries, and EnrichEvent's host-level
//! reply is 500 so Event Grid delivers the event again. Every write is safe to repeat.

pub mod invocation;

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::pipeline::{Enricher, Enrichment};
use crate::sinks::azure::{AzureSinks, WriteReport};
use crate::trigger;
use invocation::{
    HTTP_OUTPUT, InvocationRequest, InvocationResponse, event_trigger_body, http_trigger_body,
};

/// Failed lookups listed one by one in an invocation's `Logs`.
const FAILED_LOOKUP_LOG_LINES: usize = 20;
/// Header in which the host sends the invocation id.
const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";
/// Largest invocation body accepted, in bytes: 64 MiB. Event Grid events are at most 1 MB; an
/// incident trigger body with 100,000 IP entities is 43 MB, and 50 MB when double-encoded.
const MAX_INVOCATION_BYTES: usize = 64 * 1024 * 1024;

/// Workspace ARM ids whose incidents may be written to, compared without case.
#[derive(Debug, Clone, Default)]
pub struct AllowedWorkspaces(HashSet<String>);

impl AllowedWorkspaces {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(ids: I) -> Self {
        Self(
            ids.into_iter()
                .map(|id| {
                    id.as_ref()
                        .trim()
                        .trim_end_matches('/')
                        .to_ascii_lowercase()
                })
                .filter(|id| !id.is_empty())
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, workspace_id: &str) -> bool {
        self.0
            .contains(&workspace_id.trim_end_matches('/').to_ascii_lowercase())
    }
}

/// Checks that `id` is a Log Analytics workspace ARM id, "/subscriptions/S/resourceGroups/G/
/// providers/Microsoft.OperationalInsights/workspaces/W".
pub fn is_workspace_id(id: &str) -> bool {
    let segments: Vec<&str> = id.trim().trim_end_matches('/').split('/').collect();
    let fixed = [
        (1, "subscriptions"),
        (3, "resourcegroups"),
        (5, "providers"),
        (6, "microsoft.operationalinsights"),
        (7, "workspaces"),
    ];
    segments.len() == 9
        && segments[0].is_empty()
        && fixed
            .iter()
            .all(|(index, name)| segments[*index].eq_ignore_ascii_case(name))
        && [2, 4, 8].iter().all(|index| !segments[*index].is_empty())
}

/// Everything a request handler needs; shared by all workers.
pub struct HandlerState {
    pub enricher: Arc<Enricher>,
    pub sinks: Option<Arc<AzureSinks>>,
    pub allowed: AllowedWorkspaces,
}

/// Function an invocation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    EnrichIncident,
    EnrichEvent,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::EnrichIncident => "EnrichIncident",
            Function::EnrichEvent => "EnrichEvent",
        }
    }
}

/// The outcome of one invocation before it is shaped for the host.
struct Outcome {
    status: StatusCode,
    body: Value,
    logs: Vec<String>,
    /// Whether a redelivery may succeed where this one failed.
    transient_failure: bool,
}

/// Registers the two function routes; tests build the app with this too.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::PayloadConfig::new(MAX_INVOCATION_BYTES))
        .route("/EnrichIncident", web::post().to(enrich_incident))
        .route("/EnrichEvent", web::post().to(enrich_event));
}

/// Serves the handler on 127.0.0.1:`port` until the process is stopped.
pub async fn serve(port: u16, state: HandlerState) -> std::io::Result<()> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(configure))
        .bind(("127.0.0.1", port))?;
    tracing::info!(port, "custom handler listening on 127.0.0.1");
    server.run().await
}

async fn enrich_incident(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<HandlerState>,
) -> HttpResponse {
    let outcome = invoke(Function::EnrichIncident, &request, &body, &state).await;

    // A transient lookup failure returns 503, so the playbook's retry policy posts the incident
    // again; the retry finds the finished lookups in the cache and replaces the comment.
    let status = if outcome.status.is_success() && outcome.transient_failure {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        outcome.status
    };

    // The HTTP output carries the status; the invocation itself succeeded, so the host gets 200
    // and passes the output on to the caller.
    let mut response = InvocationResponse {
        logs: outcome.logs,
        ..InvocationResponse::default()
    };
    response.outputs.insert(
        HTTP_OUTPUT.to_string(),
        json!({
            "statusCode": status.as_u16(),
            "body": outcome.body.to_string(),
            "headers": { "Content-Type": "application/json" },
        }),
    );
    HttpResponse::Ok().json(response)
}

async fn enrich_event(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<HandlerState>,
) -> HttpResponse {
    let outcome = invoke(Function::EnrichEvent, &request, &body, &state).await;

    // A non-2xx reply fails the invocation, which makes Event Grid deliver the event again.
    let status = if outcome.status.is_success() && outcome.transient_failure {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        outcome.status
    };
    let response = InvocationResponse {
        logs: outcome.logs,
        return_value: outcome.body,
        ..InvocationResponse::default()
    };
    HttpResponse::build(status).json(response)
}

async fn invoke(
    function: Function,
    request: &HttpRequest,
    body: &[u8],
    state: &HandlerState,
) -> Outcome {
    let invocation_id = request
        .headers()
        .get(INVOCATION_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none")
        .to_string();
    let span = tracing::info_span!("invocation", function = function.name(), invocation_id = %invocation_id, incident = tracing::field::Empty);
    run_invocation(function, body, state).instrument(span).await
}

async fn run_invocation(function: Function, body: &[u8], state: &HandlerState) -> Outcome {
    let trigger_body = serde_json::from_slice::<InvocationRequest>(body)
        .map_err(|error| invocation::InvocationError::InvalidInvocation {
            reason: error.to_string(),
        })
        .and_then(|request| match function {
            Function::EnrichIncident => http_trigger_body(&request),
            Function::EnrichEvent => event_trigger_body(&request),
        });
    let trigger_body = match trigger_body {
        Ok(body) => body,
        Err(error) => return rejected(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let trigger = match trigger::parse(&trigger_body) {
        Ok(trigger) => trigger,
        Err(error) => return rejected(StatusCode::BAD_REQUEST, error.to_string()),
    };

    if let Some(incident) = &trigger.incident {
        tracing::Span::current().record("incident", incident.id.as_str());
        if !incident.is_well_formed() {
            return rejected(
                StatusCode::BAD_REQUEST,
                format!(
                    "incident id {:?} is not a Microsoft Sentinel incident ARM id",
                    incident.id
                ),
            );
        }
        let workspace = incident.workspace_id().unwrap_or_default();
        if !state.allowed.contains(workspace) {
            return rejected(
                StatusCode::FORBIDDEN,
                format!(
                    "workspace {workspace} is not in SENTINEL_ALLOWED_WORKSPACES; add its ARM id to enrich its incidents"
                ),
            );
        }
    }

    let enrichment = state.enricher.enrich(&trigger, chrono::Utc::now()).await;
    let written = match &state.sinks {
        Some(sinks) => sinks.write(&enrichment).await,
        None => WriteReport::default(),
    };
    completed(&enrichment, &written)
}

fn rejected(status: StatusCode, reason: String) -> Outcome {
    tracing::warn!(stage = "trigger", status = status.as_u16(), reason = %reason, "invocation rejected");
    Outcome {
        status,
        body: json!({ "error": reason }),
        logs: vec![format!("rejected with HTTP {}: {reason}", status.as_u16())],
        transient_failure: false,
    }
}

fn completed(enrichment: &Enrichment, written: &WriteReport) -> Outcome {
    let incident = enrichment
        .incident
        .as_ref()
        .map(|incident| incident.id.as_str())
        .unwrap_or("none");
    let mut logs = vec![format!(
        "incident {incident}: {} ({})",
        crate::sinks::comment::plural(enrichment.summary.addresses, "address", "addresses"),
        enrichment.summary.status_counts()
    )];
    logs.extend(
        written
            .errors
            .iter()
            .map(|error| format!("write failed: {error}")),
    );
    // The host stores every line, so failed lookups beyond the first few are counted instead.
    let failed: Vec<&crate::pipeline::AddressRecord> = enrichment
        .ips
        .iter()
        .filter(|record| record.status == crate::pipeline::Status::Failed)
        .collect();
    logs.extend(
        failed
            .iter()
            .take(FAILED_LOOKUP_LOG_LINES)
            .map(|record| format!("lookup failed for {}: {}", record.input, record.reason)),
    );
    if failed.len() > FAILED_LOOKUP_LOG_LINES {
        logs.push(format!(
            "{} more lookups failed; the reply body lists each address",
            failed.len() - FAILED_LOOKUP_LOG_LINES
        ));
    }

    let ips: Vec<Value> = enrichment
        .ips
        .iter()
        .map(|record| {
            json!({
                "input": record.input,
                "ip": record.ip,
                "status": record.status,
                "verdict": record.verdict,
                "reason": record.reason,
            })
        })
        .collect();
    let body = json!({
        "incident": enrichment.incident,
        "summary": enrichment.summary,
        "ips": ips,
        "labels": enrichment.labels,
        "written": written,
    });

    let status = if written.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    let transient_failure = enrichment.any_failed_transiently()
        || written.errors.iter().any(|error| error.is_transient());
    tracing::info!(
        stage = "sinks",
        incident,
        status = status.as_u16(),
        rows = written.rows_written,
        "invocation completed"
    );
    Outcome {
        status,
        body,
        logs,
        transient_failure,
    }
}
