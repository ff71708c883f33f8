//! The HTTP client settings every outbound caller shares.

use std::time::Duration;

/// User agent sent to every upstream, so their logs can name this tool and its version.
const USER_AGENT: &str = concat!("sentinel-ip-enrich/", env!("CARGO_PKG_VERSION"));

/// Builds a `reqwest` client whose requests time out after `timeout`, connection included.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
}
