//! Retry settings and the injectable sleep used between attempts.
//!
//! The schedule comes from `backon` (exponential with jitter); callers add the decision of
//! whether an error is worth another attempt, honour `Retry-After`, and cap the total wait so a
//! run stays inside the Functions HTTP timeout (230 seconds for an HTTP trigger).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use backon::ExponentialBuilder;

/// A source of delays, injected so tests can record waits instead of sleeping.
pub trait Sleep: Send + Sync {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Shared handle to a [`Sleep`].
pub type SharedSleep = Arc<dyn Sleep>;

/// How often and how long to retry one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryOptions {
    /// Attempts in all, the first included. Default 4.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per retry, with jitter. Default 1 second.
    pub base_delay: Duration,
    /// Maximum single delay when the server sends no `Retry-After`. Default 30 seconds.
    pub max_delay: Duration,
    /// Maximum sum of all delays for one request, `Retry-After` included. A retry that would
    /// exceed it is not made. Default 90 seconds.
    pub max_total_wait: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(90),
        }
    }
}

impl RetryOptions {
    /// Builds the `backon` schedule for these options.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }
}

/// Tracks the wait budget of one request across its retries.
#[derive(Debug)]
pub struct WaitBudget {
    remaining: Duration,
}

impl WaitBudget {
    pub fn new(options: &RetryOptions) -> Self {
        Self {
            remaining: options.max_total_wait,
        }
    }

    /// Chooses the next delay: the server's `Retry-After` when given, else the schedule's.
    /// Returns `None` when the schedule is exhausted or the delay would overrun the budget.
    pub fn next_delay(
        &mut self,
        scheduled: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let scheduled = scheduled?;
        let delay = retry_after.unwrap_or(scheduled);
        self.remaining = self.remaining.checked_sub(delay)?;
        Some(delay)
    }
}

/// Parses a `Retry-After` header given in seconds. The HTTP-date form is not used by the APIs
/// this crate calls, and yields `None`.
pub fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> RetryOptions {
        RetryOptions {
            max_total_wait: Duration::from_secs(10),
            ..RetryOptions::default()
        }
    }

    #[test]
    fn budget_prefers_retry_after() {
        let mut budget = WaitBudget::new(&options());
        let delay = budget.next_delay(Some(Duration::from_secs(1)), Some(Duration::from_secs(7)));
        assert_eq!(delay, Some(Duration::from_secs(7)));
    }

    #[test]
    fn budget_stops_past_total_wait() {
        let mut budget = WaitBudget::new(&options());
        assert!(
            budget
                .next_delay(Some(Duration::from_secs(6)), None)
                .is_some()
        );
        assert_eq!(budget.next_delay(Some(Duration::from_secs(6)), None), None);
    }

    #[test]
    fn budget_stops_when_schedule_exhausted() {
        let mut budget = WaitBudget::new(&options());
        assert_eq!(budget.next_delay(None, Some(Duration::from_secs(1))), None);
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        let seconds = reqwest::header::HeaderValue::from_static("12");
        let date = reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(
            parse_retry_after(Some(&seconds)),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_retry_after(Some(&date)), None);
        assert_eq!(parse_retry_after(None), None);
    }
}
