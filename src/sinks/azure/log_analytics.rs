//! Rows to a Log Analytics table through the Logs Ingestion API.
//!
//! `POST {endpoint}/dataCollectionRules/{immutableId}/streams/{stream}?api-version=2023-01-01`
//! with a JSON array body; success is 204. One call takes at most 1 MB, so rows are packed into
//! batches below that, and a batch rejected with 413 is split in two and sent again. 429 and 503 are
//! retried after `Retry-After`. The identity needs the Monitoring Metrics Publisher role on
//! the data collection rule; new grants can take 30 minutes to apply.

use std::sync::Arc;

use url::Url;

use super::http::send_with_retries;
use super::token::{MONITOR_SCOPE, TokenSource};
use super::{SinkError, status_error};
use crate::lookup::retry::{RetryOptions, SharedSleep, TokioSleep};
use crate::sinks::row::Row;

const SINK: &str = "Logs Ingestion API";
/// Logs Ingestion API version.
pub const API_VERSION: &str = "2023-01-01";
/// Default stream of the data collection rule.
pub const DEFAULT_STREAM: &str = "Custom-IPReputation_CL";
/// Request body limit of the API, in bytes (1 MB), less room for headers.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1_000_000 - 16 * 1024;
const ROLE: &str = "Monitoring Metrics Publisher";

/// A row serialised to JSON, with the address that names it in errors.
type EncodedRow = (String, Vec<u8>);
const ROLE_SCOPE: &str = "the data collection rule";

/// Settings of the Logs Ingestion sink.
#[derive(Debug, Clone)]
pub struct LogsIngestionOptions {
    /// Logs ingestion endpoint of the data collection rule (kind Direct) or of a data
    /// collection endpoint.
    pub endpoint: Url,
    /// Immutable id of the data collection rule, "dcr-…".
    pub dcr_id: String,
    /// Stream name. Default [`DEFAULT_STREAM`].
    pub stream: String,
    /// Token scope. Default "https://monitor.azure.com/.default".
    pub scope: String,
    /// Largest request body, in bytes. Default [`DEFAULT_MAX_BATCH_BYTES`].
    pub max_batch_bytes: usize,
    pub retry: RetryOptions,
    /// Timeout of one request. Default 30 seconds.
    pub timeout: std::time::Duration,
}

impl LogsIngestionOptions {
    /// Options with the documented defaults for a rule's endpoint and immutable id.
    pub fn new(endpoint: Url, dcr_id: impl Into<String>) -> Self {
        Self {
            endpoint,
            dcr_id: dcr_id.into(),
            stream: DEFAULT_STREAM.to_string(),
            scope: MONITOR_SCOPE.to_string(),
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            retry: RetryOptions {
                max_attempts: 4,
                max_total_wait: std::time::Duration::from_secs(60),
                ..RetryOptions::default()
            },
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Client that uploads rows to one stream.
pub struct LogsIngestion {
    client: reqwest::Client,
    tokens: TokenSource,
    options: LogsIngestionOptions,
    sleep: SharedSleep,
}

impl LogsIngestion {
    pub fn new(tokens: TokenSource, options: LogsIngestionOptions) -> Result<Self, reqwest::Error> {
        Self::with_sleep(tokens, options, Arc::new(TokioSleep))
    }

    /// Builds the client with an injected sleep for retry delays.
    pub fn with_sleep(
        tokens: TokenSource,
        options: LogsIngestionOptions,
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

    fn url(&self) -> String {
        let endpoint = self.options.endpoint.as_str().trim_end_matches('/');
        format!(
            "{endpoint}/dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
            self.options.dcr_id, self.options.stream
        )
    }

    /// Uploads every row; returns how many were accepted.
    pub async fn upload(&self, rows: &[Row]) -> Result<usize, SinkError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let encoded: Vec<EncodedRow> = rows
            .iter()
            .map(|row| {
                let label = row.ip_address.clone().unwrap_or_else(|| row.input.clone());
                (
                    label,
                    serde_json::to_vec(row).expect("rows serialise to JSON"),
                )
            })
            .collect();

        let mut written = 0;
        for batch in pack(&encoded, self.options.max_batch_bytes)? {
            written += self.send_batch(batch).await?;
        }
        tracing::info!(stage = "sinks", sink = SINK, stream = %self.options.stream, rows = written, "rows written");
        Ok(written)
    }

    /// Sends one batch; on 413 it splits the batch in two and sends both halves.
    async fn send_batch(&self, batch: &[EncodedRow]) -> Result<usize, SinkError> {
        let mut pending: Vec<&[EncodedRow]> = vec![batch];
        let mut written = 0;
        let url = self.url();

        while let Some(batch) = pending.pop() {
            let body = join_array(batch);
            let token = self.tokens.bearer(&self.options.scope).await?;
            let response = send_with_retries(
                || {
                    self.client
                        .post(&url)
                        .bearer_auth(&token)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                },
                &self.options.retry,
                &self.sleep,
                SINK,
                &url,
            )
            .await?;

            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                written += batch.len();
                continue;
            }
            if status == 413 {
                if batch.len() == 1 {
                    return Err(SinkError::RowTooLarge {
                        ip: batch[0].0.clone(),
                        bytes: batch[0].1.len(),
                        limit: body.len(),
                    });
                }
                tracing::warn!(
                    stage = "sinks",
                    sink = SINK,
                    rows = batch.len(),
                    bytes = body.len(),
                    "request too large (HTTP 413); splitting the batch"
                );
                let (first, second) = batch.split_at(batch.len() / 2);
                pending.push(second);
                pending.push(first);
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            return Err(status_error(SINK, status, &url, &text, ROLE, ROLE_SCOPE));
        }
        Ok(written)
    }
}

/// Packs encoded rows into batches whose JSON array stays within `max_bytes`.
fn pack(rows: &[EncodedRow], max_bytes: usize) -> Result<Vec<&[EncodedRow]>, SinkError> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut size = 2; // the brackets
    for (index, (label, bytes)) in rows.iter().enumerate() {
        let added = bytes.len() + usize::from(index > start);
        if bytes.len() + 2 > max_bytes {
            return Err(SinkError::RowTooLarge {
                ip: label.clone(),
                bytes: bytes.len(),
                limit: max_bytes,
            });
        }
        if size + added > max_bytes {
            batches.push(&rows[start..index]);
            start = index;
            size = 2 + bytes.len();
        } else {
            size += added;
        }
    }
    batches.push(&rows[start..]);
    Ok(batches)
}

fn join_array(batch: &[EncodedRow]) -> Vec<u8> {
    let mut body = Vec::with_capacity(
        batch
            .iter()
            .map(|(_, bytes)| bytes.len() + 1)
            .sum::<usize>()
            + 2,
    );
    body.push(b'[');
    for (index, (_, bytes)) in batch.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(bytes);
    }
    body.push(b']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sizes: &[usize]) -> Vec<EncodedRow> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| (i.to_string(), vec![b'x'; *size]))
            .collect()
    }

    #[test]
    fn pack_respects_limit() {
        let encoded = rows(&[40, 40, 40, 40]);
        let batches = pack(&encoded, 100).unwrap();
        assert_eq!(
            batches.iter().map(|batch| batch.len()).collect::<Vec<_>>(),
            vec![2, 2]
        );
        for batch in batches {
            assert!(join_array(batch).len() <= 100);
        }
    }

    #[test]
    fn pack_rejects_oversized_row() {
        let encoded = rows(&[10, 200]);
        assert!(matches!(
            pack(&encoded, 100),
            Err(SinkError::RowTooLarge { .. })
        ));
    }
}
