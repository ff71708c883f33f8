//! Azure sinks: rows to Log Analytics through the Logs Ingestion API, and the comment and
//! labels to the Sentinel incident through Azure Resource Manager.
//!
//! Every write is safe to repeat. The comment id is derived from the incident and its
//! addresses, so a redelivered incident replaces its comment instead of adding one. This
//! tool's labels ("IP reputation: …") are replaced by the latest run's, and other labels are
//! kept. Rows are appended, so a redelivery adds a second set of rows, and the saved queries
//! take the latest row per address.

mod http;
pub mod log_analytics;
pub mod sentinel;
pub mod token;

use serde::Serialize;

use crate::pipeline::Enrichment;
use crate::sinks::labels;

pub use log_analytics::{LogsIngestion, LogsIngestionOptions};
pub use sentinel::{Sentinel, SentinelOptions};
pub use token::TokenSource;

/// Error of the sinks stage. Variants name the sink and the value that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum SinkError {
    /// Occurs when no access token can be obtained for a scope.
    #[error("cannot get an access token for {scope}: {reason}")]
    Token { scope: String, reason: String },
    /// Occurs when Azure returns 401 or 403, because the identity lacks a role.
    #[error(
        "{sink} returned HTTP {status} for {target}: the identity needs the {role} role on {scope}"
    )]
    Forbidden {
        sink: &'static str,
        status: u16,
        target: String,
        role: &'static str,
        scope: &'static str,
    },
    /// Occurs when Azure returns an unexpected status after the retries.
    #[error("{sink} returned HTTP {status} for {target}: {body}")]
    Status {
        sink: &'static str,
        status: u16,
        target: String,
        body: String,
    },
    /// Occurs when the request fails before any HTTP status.
    #[error("{sink} request to {target} failed: {reason}")]
    Connection {
        sink: &'static str,
        target: String,
        reason: String,
    },
    /// Occurs when one row alone exceeds the request size limit.
    #[error(
        "a row for {ip} is {bytes} bytes, over the {limit} byte request limit of the Logs Ingestion API"
    )]
    RowTooLarge {
        ip: String,
        bytes: usize,
        limit: usize,
    },
    /// Occurs when the incident changed under every attempt to add labels.
    #[error(
        "incident {incident} kept changing (HTTP {status}) during {attempts} attempts to add labels"
    )]
    Conflict {
        incident: String,
        status: u16,
        attempts: u32,
    },
}

impl SinkError {
    /// Returns true when a later delivery may succeed. Throttling, server errors, conflicts and
    /// connection failures may pass, but a missing role fails until someone grants it.
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            SinkError::Connection { .. } | SinkError::Conflict { .. } | SinkError::Token { .. } => {
                true
            }
            SinkError::Forbidden { .. } | SinkError::RowTooLarge { .. } => false,
        }
    }
}

/// Summary of the writes of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteReport {
    pub rows_written: usize,
    pub comment_id: Option<String>,
    pub labels_added: Vec<String>,
    /// Labels of earlier runs that this run's outcome replaced, such as "IP reputation: incomplete".
    pub labels_removed: Vec<String>,
    /// Every failed write, in order; empty when all succeeded.
    pub errors: Vec<SinkError>,
}

/// The configured Azure sinks.
pub struct AzureSinks {
    pub logs: Option<LogsIngestion>,
    pub sentinel: Sentinel,
}

impl AzureSinks {
    /// Writes rows, then the comment, then the labels. A failed write is recorded and the
    /// others still run, so one missing role does not lose the rest.
    pub async fn write(&self, enrichment: &Enrichment) -> WriteReport {
        let mut report = WriteReport::default();
        let incident_for_logs = enrichment
            .incident
            .as_ref()
            .map(|incident| incident.id.as_str())
            .unwrap_or("none");

        if let Some(logs) = &self.logs {
            match logs.upload(&enrichment.rows).await {
                Ok(rows) => report.rows_written = rows,
                Err(error) => report.errors.push(error),
            }
        }

        // An incident without IP entities gets no comment and keeps its labels.
        if let Some(incident) = enrichment
            .incident
            .as_ref()
            .filter(|_| !enrichment.ips.is_empty())
        {
            let addresses = enrichment
                .rows
                .iter()
                .map(|row| row.ip_address.clone().unwrap_or_else(|| row.input.clone()));
            let comment_id = sentinel::comment_id(&incident.id, addresses);
            match self
                .sentinel
                .put_comment(incident, &comment_id, &enrichment.comment)
                .await
            {
                Ok(()) => report.comment_id = Some(comment_id),
                Err(error) => report.errors.push(error),
            }
            match self
                .sentinel
                .reconcile_labels(incident, &enrichment.labels, labels::PREFIX)
                .await
            {
                Ok(change) => {
                    report.labels_added = change.added;
                    report.labels_removed = change.removed;
                }
                Err(error) => report.errors.push(error),
            }
        }

        for error in &report.errors {
            tracing::error!(stage = "sinks", incident = incident_for_logs, error = %error, "write to Azure failed");
        }
        report
    }
}

/// Maps an HTTP status that is not success to the sink error for it.
fn status_error(
    sink: &'static str,
    status: u16,
    target: &str,
    body: &str,
    role: &'static str,
    scope: &'static str,
) -> SinkError {
    if status == 401 || status == 403 {
        return SinkError::Forbidden {
            sink,
            status,
            target: target.to_string(),
            role,
            scope,
        };
    }
    SinkError::Status {
        sink,
        status,
        target: target.to_string(),
        body: body.chars().take(300).collect(),
    }
}
