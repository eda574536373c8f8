//! [`McpAuthProvider`]: token verification for MCP servers, like the Python SDK's adapter.

use std::sync::Arc;

use authgent_core::metadata::{
    ProtectedResourceMetadata, ProtectedResourceMetadataBuilder, well_known_url,
};
use authgent_core::request::RequestParts;
use authgent_core::{AgentIdentity, AuthgentError, ConfigError};
use authgent_jwks::Verifier;

/// Verifies the tokens an MCP server receives against an authgent server (keys discovered and
/// cached by [`authgent_jwks::Verifier`]), and names the URLs an MCP client discovers it by.
///
/// ```no_run
/// use authgent_client::McpAuthProvider;
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let auth = McpAuthProvider::new("http://127.0.0.1:8000", "https://mcp.example/mcp")?;
/// let identity = auth.verify(token).await?; // only tokens issued for https://mcp.example/mcp
/// println!("{} via {:?}", identity.subject(), identity.delegation_chain().current_actor());
/// assert!(auth.metadata_url().ends_with("/.well-known/oauth-authorization-server"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct McpAuthProvider {
    verifier: Verifier,
}

impl McpAuthProvider {
    /// A provider for tokens from the server at `server_url` (= their `iss`), for the MCP
    /// server whose endpoint URL is `resource` (e.g. `https://mcp.example/mcp`): tokens must be
    /// issued for that resource (`aud`, MCP authorization), and DPoP proofs must name a URL on
    /// its origin. To accept other audiences, configure a [`Verifier`] and use
    /// [`from_verifier`](Self::from_verifier).
    pub fn new(
        server_url: impl Into<String>,
        resource: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let resource = resource.into();
        let origin = url::Url::parse(&resource)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .map(|u| u.origin().ascii_serialization())
            .ok_or(ConfigError::Invalid {
                setting: "resource",
                reason: "the MCP endpoint's absolute http(s) URL",
            })?;
        Ok(Self::from_verifier(
            Verifier::builder()
                .issuer(server_url)
                .audience(resource)
                .external_url(origin)
                .build()?,
        ))
    }

    /// A provider over a verifier you configured (DPoP mode, chain policy, caches).
    pub fn from_verifier(verifier: Verifier) -> Self {
        McpAuthProvider { verifier }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Verifies a bearer token. A DPoP-bound token is refused here: it is only valid with its
    /// proof, see [`Self::verify_dpop`].
    pub async fn verify(&self, token: &str) -> Result<Arc<AgentIdentity>, AuthgentError> {
        self.verifier.verify_token(token).await
    }

    /// Verifies a DPoP-bound token with the proof that came with it, for a request of `method`
    /// to `url` (the URL the request reached, absolute or just its path and query).
    ///
    /// The proof's `htu` is compared with the **configured** external URL (the resource's
    /// origin, for [`new`](Self::new)) plus `url`'s path, as the verifier does for a whole
    /// request — never with the scheme and host of `url`, which come from the client. A proof
    /// made for another server is refused even when the caller passes that server's URL.
    pub async fn verify_dpop(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
    ) -> Result<Arc<AgentIdentity>, AuthgentError> {
        let parts = http::Request::builder()
            .method(method)
            .uri(url)
            .body(())
            .map_err(|_| AuthgentError::Dpop(authgent_core::DpopError::UriMismatch))?
            .into_parts()
            .0;
        let uri = self.verifier.request_uri(&parts);
        let header = format!("DPoP {token}");
        let authorization: [&[u8]; 1] = [header.as_bytes()];
        let dpop: [&[u8]; 1] = [proof.as_bytes()];
        let request = RequestParts::new(method, &uri, &authorization, &dpop);
        self.verifier
            .verify_request(&request)
            .await?
            .ok_or(AuthgentError::MissingCredentials)
    }

    /// Verifies a whole HTTP request (Bearer or DPoP); `Ok(None)` without credentials.
    pub async fn verify_request(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        self.verifier.verify(parts).await
    }

    /// The server's RFC 8414 metadata URL.
    pub fn metadata_url(&self) -> String {
        well_known_url(self.verifier.issuer(), "oauth-authorization-server")
            .unwrap_or_else(|_| self.verifier.issuer().to_owned())
    }

    /// The RFC 9728 metadata an MCP server at `resource` serves at
    /// `/.well-known/oauth-protected-resource`, naming this provider's issuer as its
    /// authorization server; add scopes and DPoP algorithms, then `build()`.
    ///
    /// ```
    /// let auth = authgent_client::McpAuthProvider::new("http://127.0.0.1:8000", "https://mcp.example")?;
    /// let doc = auth
    ///     .resource_metadata("https://mcp.example")
    ///     .scopes_supported(["tools:execute"])
    ///     .build()?;
    /// assert_eq!(doc.authorization_servers, ["http://127.0.0.1:8000"]);
    /// assert_eq!(doc.well_known_url()?, "https://mcp.example/.well-known/oauth-protected-resource");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resource_metadata(
        &self,
        resource: impl Into<String>,
    ) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadata::builder(resource).authorization_server(self.verifier.issuer())
    }

    /// The server's JWKS URL, as its metadata names it (`jwks_uri`, RFC 8414): discovered and
    /// fetched now when the keys have not been yet.
    pub async fn jwks_url(&self) -> Result<String, authgent_jwks::JwksError> {
        if let Some(info) = self.verifier.key_info() {
            return Ok(info.jwks_uri);
        }
        self.verifier.refresh().await?;
        self.verifier
            .key_info()
            .map(|info| info.jwks_uri)
            .ok_or_else(|| authgent_jwks::JwksError::InvalidDocument {
                url: self.verifier.issuer().to_owned(),
                reason: "no key set after discovery".into(),
            })
    }
}
