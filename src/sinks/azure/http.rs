//! Sending one Azure request with retries on throttling and server errors.

use std::time::Duration;

use backon::BackoffBuilder;

use super::SinkError;
use crate::lookup::retry::{RetryOptions, SharedSleep, WaitBudget, parse_retry_after};

/// Sends the request built by `build` until it gets a status that is not retriable (anything
/// but 408, 429, 500, 502, 503, 504), honouring `Retry-After`, within `retry`'s attempt and wait
/// limits. Returns the last response, whatever its status, or the connection error.
pub(super) async fn send_with_retries(
    build: impl Fn() -> reqwest::RequestBuilder,
    retry: &RetryOptions,
    sleep: &SharedSleep,
    sink: &'static str,
    target: &str,
) -> Result<reqwest::Response, SinkError> {
    let mut schedule = retry.backoff().build();
    let mut budget = WaitBudget::new(retry);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (outcome, retry_after) = match build().send().await {
            Ok(response) if !is_retriable(response.status().as_u16()) => return Ok(response),
            Ok(response) => {
                let retry_after =
                    parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
                (Ok(response), retry_after)
            }
            Err(error) => (
                Err(SinkError::Connection {
                    sink,
                    target: target.to_string(),
                    reason: crate::http::describe_error(error),
                }),
                None,
            ),
        };

        let Some(delay) = budget.next_delay(schedule.next(), retry_after) else {
            return outcome;
        };
        let status = outcome
            .as_ref()
            .map(|response| response.status().as_u16())
            .unwrap_or(0);
        tracing::warn!(
            stage = "sinks",
            sink,
            target,
            attempt,
            status,
            delay_ms = delay.as_millis() as u64,
            "retrying Azure request"
        );
        sleep.sleep(delay.min(Duration::from_secs(600))).await;
    }
}

fn is_retriable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}
