//! Microsoft Sentinel incident comments and labels through Azure Resource Manager.
//!
//! Comment: `PUT {incident}/comments/{commentId}`; the caller chooses the id, so a repeated PUT
//! replaces the comment. Labels: incidents cannot be patched, so the incident is read, its
//! labels merged, and the whole incident written back with `If-Match` on its etag; 409 and 412
//! mean someone else changed it first, and the read is repeated. The identity needs the
//! Microsoft Sentinel Responder role on the workspace.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::http::send_with_retries;
use super::token::{ARM_SCOPE, TokenSource};
use super::{SinkError, status_error};
use crate::lookup::retry::{RetryOptions, SharedSleep, TokioSleep};
use crate::trigger::IncidentRef;

/// Sink name in errors and logs.
const SINK: &str = "Microsoft Sentinel";
/// Microsoft.SecurityInsights API version, the newest stable one.
pub const API_VERSION: &str = "2025-09-01";
/// Public cloud Resource Manager endpoint.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
const ROLE: &str = "Microsoft Sentinel Responder";
const ROLE_SCOPE: &str = "the Sentinel workspace";

/// Settings of the Sentinel sink.
#[derive(Debug, Clone)]
pub struct SentinelOptions {
    /// Resource Manager endpoint. Default [`DEFAULT_ARM_ENDPOINT`].
    pub arm_endpoint: Url,
    /// Token scope for Resource Manager. Default "https://management.azure.com/.default".
    pub scope: String,
    /// Read-merge-write rounds for labels before giving up on conflicts. Default 5.
    pub label_attempts: u32,
    /// Retries of one request on throttling and server errors.
    pub retry: RetryOptions,
    /// Timeout of one request. Default 30 seconds.
    pub timeout: std::time::Duration,
}

impl Default for SentinelOptions {
    fn default() -> Self {
        Self {
            arm_endpoint: Url::parse(DEFAULT_ARM_ENDPOINT).expect("default ARM endpoint is valid"),
            scope: ARM_SCOPE.to_string(),
            label_attempts: 5,
            retry: RetryOptions {
                max_attempts: 4,
                max_total_wait: std::time::Duration::from_secs(60),
                ..RetryOptions::default()
            },
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Client for incident comments and labels.
pub struct Sentinel {
    client: reqwest::Client,
    tokens: TokenSource,
    options: SentinelOptions,
    sleep: SharedSleep,
}

impl Sentinel {
    pub fn new(tokens: TokenSource, options: SentinelOptions) -> Result<Self, reqwest::Error> {
        Self::with_sleep(tokens, options, Arc::new(TokioSleep))
    }

    /// Builds the client with an injected sleep for retry delays.
    pub fn with_sleep(
        tokens: TokenSource,
        options: SentinelOptions,
        sleep: SharedSleep,
    ) -> Result<Self, reqwest::Error> {
        let client = crate::http::client(options.timeout)?;
        Ok(Self {
            client,
            tokens,
            options,
            sleep,
        })
    }

    fn incident_url(&self, incident: &IncidentRef, suffix: &str) -> String {
        let endpoint = self.options.arm_endpoint.as_str().trim_end_matches('/');
        format!(
            "{endpoint}{}{suffix}?api-version={API_VERSION}",
            incident.id
        )
    }

    /// Creates or replaces the comment `comment_id` on the incident.
    pub async fn put_comment(
        &self,
        incident: &IncidentRef,
        comment_id: &str,
        html: &str,
    ) -> Result<(), SinkError> {
        check_incident_id(incident)?;
        let url = self.incident_url(incident, &format!("/comments/{comment_id}"));
        let token = self.tokens.bearer(&self.options.scope).await?;
        let body = json!({ "properties": { "message": html } });
        let response = send_with_retries(
            || self.client.put(&url).bearer_auth(&token).json(&body),
            &self.options.retry,
            &self.sleep,
            SINK,
            &url,
        )
        .await?;

        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            return Err(status_error(SINK, status, &url, &text, ROLE, ROLE_SCOPE));
        }
        tracing::info!(stage = "sinks", sink = SINK, incident = %incident.id, comment_id, status, "incident comment written");
        Ok(())
    }

    /// Sets this tool's labels on the incident: adds the missing ones from `labels` and removes
    /// earlier ones that start with `owned_prefix` but are not in `labels`. Other labels are
    /// kept. Returns the change; nothing is written when there is none.
    pub async fn reconcile_labels(
        &self,
        incident: &IncidentRef,
        labels: &[String],
        owned_prefix: &str,
    ) -> Result<LabelChange, SinkError> {
        check_incident_id(incident)?;
        let url = self.incident_url(incident, "");
        let mut last_status = 0;

        for attempt in 1..=self.options.label_attempts.max(1) {
            let token = self.tokens.bearer(&self.options.scope).await?;
            let response = send_with_retries(
                || self.client.get(&url).bearer_auth(&token),
                &self.options.retry,
                &self.sleep,
                SINK,
                &url,
            )
            .await?;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if status != 200 {
                return Err(status_error(SINK, status, &url, &text, ROLE, ROLE_SCOPE));
            }
            let current: Value =
                serde_json::from_str(&text).map_err(|error| SinkError::Status {
                    sink: SINK,
                    status,
                    target: url.clone(),
                    body: format!("the incident is not valid JSON: {error}"),
                })?;

            let (updated, change) = merge_labels(&current, labels, owned_prefix);
            if change.is_empty() {
                return Ok(change);
            }
            let etag = current
                .get("etag")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string();

            let response = send_with_retries(
                || {
                    self.client
                        .put(&url)
                        .bearer_auth(&token)
                        .header(reqwest::header::IF_MATCH, &etag)
                        .json(&updated)
                },
                &self.options.retry,
                &self.sleep,
                SINK,
                &url,
            )
            .await?;
            let status = response.status().as_u16();
            match status {
                200 | 201 => {
                    tracing::info!(stage = "sinks", sink = SINK, incident = %incident.id, attempt, added = ?change.added, removed = ?change.removed, "incident labels updated");
                    return Ok(change);
                }
                409 | 412 => {
                    tracing::warn!(stage = "sinks", sink = SINK, incident = %incident.id, attempt, status, "incident changed since it was read; reading it again");
                    last_status = status;
                }
                _ => {
                    let text = response.text().await.unwrap_or_default();
                    return Err(status_error(SINK, status, &url, &text, ROLE, ROLE_SCOPE));
                }
            }
        }

        Err(SinkError::Conflict {
            incident: incident.id.clone(),
            status: last_status,
            attempts: self.options.label_attempts,
        })
    }
}

/// Derives a comment id from the incident and the addresses it covers, so every delivery of
/// the same incident writes the same comment, however its lookups went. Shaped as a GUID.
pub fn comment_id(incident_id: &str, addresses: impl IntoIterator<Item = String>) -> String {
    let mut addresses: Vec<String> = addresses.into_iter().collect();
    addresses.sort();
    addresses.dedup();

    let mut hasher = Sha256::new();
    hasher.update(b"sentinel-ip-enrich comment\n");
    hasher.update(incident_id.to_ascii_lowercase().as_bytes());
    for address in &addresses {
        hasher.update(b"\n");
        hasher.update(address.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Labels added to and removed from an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LabelChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl LabelChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Returns the incident with its labels reconciled, and the change. Labels starting with
/// `owned_prefix` that are not in `labels` are dropped. Names compare without case.
fn merge_labels(incident: &Value, labels: &[String], owned_prefix: &str) -> (Value, LabelChange) {
    let mut properties = incident
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let existing: Vec<Value> = properties
        .get("labels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let name_of = |item: &Value| {
        item.get("labelName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let wanted = |name: &str| labels.iter().any(|label| label.eq_ignore_ascii_case(name));
    let owned = |name: &str| {
        name.get(..owned_prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(owned_prefix))
    };

    let mut change = LabelChange::default();
    let mut kept: Vec<Value> = Vec::with_capacity(existing.len() + labels.len());
    for item in existing {
        let name = name_of(&item);
        if owned(&name) && !wanted(&name) {
            change.removed.push(name);
        } else {
            kept.push(item);
        }
    }
    for label in labels {
        let present = kept
            .iter()
            .any(|item| name_of(item).eq_ignore_ascii_case(label));
        if !present {
            kept.push(json!({ "labelName": label, "labelType": "User" }));
            change.added.push(label.clone());
        }
    }

    properties["labels"] = Value::Array(kept);
    let mut updated = json!({ "properties": properties });
    if let Some(etag) = incident.get("etag") {
        updated["etag"] = etag.clone();
    }
    (updated, change)
}

/// Rejects incident ids that are not a Sentinel incident ARM id, so a payload cannot steer the
/// request to another resource or add a query.
fn check_incident_id(incident: &IncidentRef) -> Result<(), SinkError> {
    if incident.is_well_formed() {
        return Ok(());
    }
    Err(SinkError::Status {
        sink: SINK,
        status: 0,
        target: incident.id.clone(),
        body: "not a Microsoft Sentinel incident ARM id; nothing was sent".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_id_ignores_order_and_case_of_incident() {
        let a = comment_id(
            "/X/Incidents/1",
            ["1.1.1.1".to_string(), "8.8.8.8".to_string()],
        );
        let b = comment_id(
            "/x/incidents/1",
            ["8.8.8.8".to_string(), "1.1.1.1".to_string()],
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        let c = comment_id("/x/incidents/1", ["8.8.8.8".to_string()]);
        assert_ne!(a, c);
    }

    #[test]
    fn merge_keeps_existing_labels() {
        let incident = json!({"etag": "\"e1\"", "properties": {"title": "t", "severity": "High", "status": "New",
            "labels": [{"labelName": "keep", "labelType": "User"}, {"labelName": "IP reputation: malicious", "labelType": "User"}]}});
        let wanted = [
            "ip reputation: MALICIOUS".to_string(),
            "IP reputation: incomplete".to_string(),
        ];
        let (updated, change) = merge_labels(&incident, &wanted, "IP reputation: ");
        assert_eq!(change.added, vec!["IP reputation: incomplete"]);
        assert!(change.removed.is_empty());
        let labels = updated["properties"]["labels"].as_array().unwrap();
        assert_eq!(labels.len(), 3);
        assert_eq!(labels[0]["labelName"], "keep");
        assert_eq!(updated["properties"]["title"], "t");
        assert_eq!(updated["etag"], "\"e1\"");
    }

    #[test]
    fn merge_drops_stale_owned_labels() {
        let incident = json!({"properties": {"labels": [
            {"labelName": "Enriched IP addresses"},
            {"labelName": "IP reputation: suspicious"},
            {"labelName": "IP reputation: incomplete"}
        ]}});
        let (updated, change) = merge_labels(
            &incident,
            &["IP reputation: malicious".to_string()],
            "IP reputation: ",
        );
        assert_eq!(change.added, vec!["IP reputation: malicious"]);
        assert_eq!(
            change.removed,
            vec!["IP reputation: suspicious", "IP reputation: incomplete"]
        );
        let names: Vec<&str> = updated["properties"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|label| label["labelName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["Enriched IP addresses", "IP reputation: malicious"]
        );
    }

    #[test]
    fn merge_without_change_is_empty() {
        let incident =
            json!({"properties": {"labels": [{"labelName": "IP reputation: harmless"}]}});
        let (_, change) = merge_labels(
            &incident,
            &["IP reputation: harmless".to_string()],
            "IP reputation: ",
        );
        assert!(change.is_empty());
    }
}
