//! Access tokens for Azure APIs: one per scope, reused until five minutes before expiry.
//!
//! The credential comes from `azure_identity`: `ManagedIdentityCredential` under the Functions
//! host (`IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, `AZURE_CLIENT_ID` for a user-assigned
//! identity) and `DeveloperToolsCredential` (Azure CLI, Azure Developer CLI) for a person. Not
//! every credential caches, the Azure CLI one runs the CLI on every call, so this cache sits in
//! front of all of them. Tokens never reach a log line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use tokio::sync::Mutex;

use super::SinkError;

/// Scope of Azure Resource Manager, for Sentinel.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// Scope of Azure Monitor, for the Logs Ingestion API.
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com/.default";
/// A token this close to expiry is replaced before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A credential with a per-scope token cache; cheap to clone.
#[derive(Clone, Debug)]
pub struct TokenSource {
    credential: Arc<dyn TokenCredential>,
    tokens: Arc<Mutex<HashMap<String, AccessToken>>>,
}

impl TokenSource {
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            tokens: Arc::default(),
        }
    }

    /// Returns a bearer token for `scope`, from the cache while it has five minutes left.
    ///
    /// The lock is held while a token is fetched, so concurrent invocations wait for one
    /// request instead of each asking the identity endpoint.
    pub async fn bearer(&self, scope: &str) -> Result<String, SinkError> {
        let mut tokens = self.tokens.lock().await;
        let now = azure_core::time::OffsetDateTime::now_utc();
        if let Some(token) = tokens.get(scope)
            && token.expires_on - REFRESH_MARGIN > now
        {
            return Ok(token.token.secret().to_string());
        }

        let token = self
            .credential
            .get_token(&[scope], None)
            .await
            .map_err(|error| SinkError::Token {
                scope: scope.to_string(),
                reason: error.to_string(),
            })?;
        tracing::info!(stage = "sinks", scope, expires_on = %token.expires_on, "access token acquired");
        let secret = token.token.secret().to_string();
        tokens.insert(scope.to_string(), token);
        Ok(secret)
    }
}
