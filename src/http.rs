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

/// Describes a transport error with its causes, such as "error sending request: client error
/// (Connect): tcp connect error: Connection refused", without the URL.
pub fn describe_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
