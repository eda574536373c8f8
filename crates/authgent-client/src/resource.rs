//! RFC 9728 discovery on the agent side: from a resource's URL (or the `resource_metadata` of
//! its 401) to its protected resource metadata, checked, and to whether it accepts tokens
//! from this client's authorization server.

use std::sync::Arc;

use authgent_core::metadata::{ProtectedResourceMetadata, well_known_url};
use http::{HeaderMap, StatusCode};

use crate::error::challenge_param;
use crate::transport::{credential_url, origin};
use crate::{AgentAuthClient, ClientError};

/// The `resource_metadata` URL (RFC 9728 §5.1) of a `401` (or `403`) response's
/// `WWW-Authenticate` challenges, if any.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("www-authenticate",
///     r#"Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp""#.parse().unwrap());
/// assert_eq!(
///     authgent_client::resource_metadata_url(http::StatusCode::UNAUTHORIZED, &headers).as_deref(),
///     Some("https://mcp.example/.well-known/oauth-protected-resource/mcp")
/// );
/// ```
pub fn resource_metadata_url(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        .then(|| challenge_param(headers, "resource_metadata"))
        .flatten()
}

impl AgentAuthClient {
    /// Discovers `resource`'s RFC 9728 metadata and checks that the resource accepts tokens
    /// from this client's server:
    ///
    /// - fetched from `metadata_url` (the `resource_metadata` of its 401, see
    ///   [`resource_metadata_url`]) or, without one, from the path-inserted well-known URL
    ///   (`https://mcp.example/.well-known/oauth-protected-resource/mcp` for
    ///   `https://mcp.example/mcp`); a `metadata_url` on another origin than the resource is
    ///   refused before anything is fetched (a challenge must not send the agent elsewhere);
    /// - the same transport rules as every request: `https` off loopback, no redirects, a
    ///   bounded body;
    /// - its `resource` must be exactly `resource` (RFC 9728 §3.3: a document for another
    ///   resource is an impersonation attempt);
    /// - its `authorization_servers` must name this client's server URL, else the agent's
    ///   credentials are for the wrong server and nothing is requested with them.
    ///
    /// ```no_run
    /// # async fn run(auth: authgent_client::AgentAuthClient, response: reqwest::Response) -> Result<(), authgent_client::ClientError> {
    /// let hint = authgent_client::resource_metadata_url(response.status(), response.headers());
    /// let doc = auth.discover_resource("https://mcp.example/mcp", hint.as_deref()).await?;
    /// println!("scopes: {:?}", doc.scopes_supported);
    /// # Ok(()) }
    /// ```
    pub async fn discover_resource(
        &self,
        resource: &str,
        metadata_url: Option<&str>,
    ) -> Result<Arc<ProtectedResourceMetadata>, ClientError> {
        let insecure = self.allow_insecure();
        let resource_url = credential_url(resource, "the resource", insecure)?;
        let url = match metadata_url {
            Some(given) => {
                let parsed = credential_url(given, "the resource_metadata URL", insecure)?;
                if origin(&parsed) != origin(&resource_url) {
                    return Err(ClientError::InvalidResponse {
                        endpoint: resource.to_owned(),
                        detail: format!(
                            "its resource_metadata URL is on another origin ({}): refusing to follow it",
                            origin(&parsed)
                        ),
                    });
                }
                given.to_owned()
            }
            None => well_known_url(resource, "oauth-protected-resource")
                .map_err(|e| ClientError::Config(format!("the resource {resource:?}: {e}")))?,
        };
        let answer = self
            .send(self.http().get(&url))
            .await?
            .ok_or_error(&[200])?;
        let metadata = ProtectedResourceMetadata::parse(answer.body(), resource).map_err(|e| {
            ClientError::InvalidResponse {
                endpoint: url.clone(),
                detail: e.to_string(),
            }
        })?;
        if !metadata
            .authorization_servers
            .iter()
            .any(|s| s.trim_end_matches('/') == self.server_url())
        {
            return Err(ClientError::InvalidResponse {
                endpoint: url,
                detail: format!(
                    "the resource accepts tokens from {:?}, not from this client's server {:?}: \
                     use credentials of one of those",
                    metadata.authorization_servers,
                    self.server_url()
                ),
            });
        }
        Ok(Arc::new(metadata))
    }
}
