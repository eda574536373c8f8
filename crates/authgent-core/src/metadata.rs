//! RFC 9728 protected resource metadata and RFC 8414 authorization server metadata.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::error::ConfigError;

/// Why a metadata document or URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not a JSON object of the expected shape.
    #[error("metadata document is malformed: {0}")]
    Malformed(String),
    /// `issuer` is not the issuer the document was fetched for (RFC 8414 §3.3).
    #[error("metadata issuer does not match the issuer it was fetched for")]
    IssuerMismatch,
    /// `resource` is not the resource the document was fetched for (RFC 9728 §3.3).
    #[error("metadata resource does not match the resource it was fetched for")]
    ResourceMismatch,
    /// Not an absolute http(s) URL without a fragment.
    #[error("not an absolute http(s) URL without fragment")]
    InvalidUrl,
}

/// The well-known URL for an identifier: `/.well-known/<suffix>` inserted between host and
/// path, a trailing `/` removed (RFC 9728 §3.1, RFC 8414 §3.1).
///
/// ```
/// use authgent_core::metadata::well_known_url;
/// assert_eq!(
///     well_known_url("https://api.example/tools/", "oauth-protected-resource").unwrap(),
///     "https://api.example/.well-known/oauth-protected-resource/tools"
/// );
/// assert_eq!(
///     well_known_url("http://127.0.0.1:8000", "oauth-authorization-server").unwrap(),
///     "http://127.0.0.1:8000/.well-known/oauth-authorization-server"
/// );
/// ```
pub fn well_known_url(identifier: &str, suffix: &str) -> Result<String, MetadataError> {
    if identifier.contains('#') {
        return Err(MetadataError::InvalidUrl);
    }
    let parts = crate::uri::split(identifier).ok_or(MetadataError::InvalidUrl)?;
    if !parts.scheme.eq_ignore_ascii_case("https") && !parts.scheme.eq_ignore_ascii_case("http") {
        return Err(MetadataError::InvalidUrl);
    }
    let path = parts.path.strip_suffix('/').unwrap_or(parts.path);
    let mut url = format!(
        "{}://{}/.well-known/{suffix}{path}",
        parts.scheme, parts.authority
    );
    if let Some(q) = parts.query {
        url.push('?');
        url.push_str(q);
    }
    Ok(url)
}

/// An OAuth protected resource's metadata (RFC 9728 §2). Unknown members are kept in
/// `extra` when parsing and written back when serialising.
///
/// ```
/// use authgent_core::{Algorithm, metadata::ProtectedResourceMetadata};
/// let doc = ProtectedResourceMetadata::builder("https://tools.example")
///     .authorization_server("https://as.example")
///     .scopes_supported(["search:execute", "db:delete"])
///     .dpop_signing_algs([Algorithm::Es256])
///     .build()?;
/// let json = serde_json::to_value(&doc).unwrap();
/// assert_eq!(json["bearer_methods_supported"][0], "header");
/// assert_eq!(doc.well_known_url().unwrap(), "https://tools.example/.well-known/oauth-protected-resource");
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (required).
    pub resource: String,
    /// Issuers whose tokens the resource accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The resource's JWKS URL, if it signs anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Scopes used in authorization requests to this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How tokens may be sent: `header`, `body`, `query`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// DPoP proof algorithms accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether every token must be DPoP-bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Developer documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// Starts a document for `resource`, with `bearer_methods_supported = ["header"]`.
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder(ProtectedResourceMetadata {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            jwks_uri: None,
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".into()],
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: None,
            resource_name: None,
            resource_documentation: None,
            extra: Map::new(),
        })
    }

    /// The URL this document is served at.
    pub fn well_known_url(&self) -> Result<String, MetadataError> {
        well_known_url(&self.resource, "oauth-protected-resource")
    }

    /// The path part of [`well_known_url`](Self::well_known_url), where a server routes the
    /// document (`/.well-known/oauth-protected-resource` plus the resource's path).
    ///
    /// ```
    /// # use authgent_core::metadata::ProtectedResourceMetadata;
    /// let doc = ProtectedResourceMetadata::builder("https://api.example/v1/").build()?;
    /// assert_eq!(doc.well_known_path(), "/.well-known/oauth-protected-resource/v1");
    /// # Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn well_known_path(&self) -> String {
        let path = crate::uri::split(&self.resource).map_or("", |p| p.path);
        format!(
            "/.well-known/oauth-protected-resource{}",
            path.strip_suffix('/').unwrap_or(path)
        )
    }

    /// Parses a fetched document and checks that it describes `expected_resource` exactly
    /// (RFC 9728 §3.3).
    pub fn parse(bytes: &[u8], expected_resource: &str) -> Result<Self, MetadataError> {
        let doc: Self =
            serde_json::from_slice(bytes).map_err(|e| MetadataError::Malformed(e.to_string()))?;
        if doc.resource != expected_resource {
            return Err(MetadataError::ResourceMismatch);
        }
        Ok(doc)
    }
}

/// Builds [`ProtectedResourceMetadata`].
#[derive(Debug)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder(ProtectedResourceMetadata);

impl ProtectedResourceMetadataBuilder {
    /// Adds an authorization server (issuer URL).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.0.authorization_servers.push(issuer.into());
        self
    }

    /// Sets the scopes supported.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the DPoP algorithms accepted.
    pub fn dpop_signing_algs(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.0.dpop_signing_alg_values_supported =
            algs.into_iter().map(|a| a.as_str().to_owned()).collect();
        self
    }

    /// Declares that only DPoP-bound tokens are accepted.
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.0.dpop_bound_access_tokens_required = Some(required);
        self
    }

    /// Sets the human-readable name.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.0.resource_name = Some(name.into());
        self
    }

    /// Sets the documentation URL.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.0.resource_documentation = Some(url.into());
        self
    }

    /// Adds any other member.
    pub fn member(mut self, name: impl Into<String>, value: Value) -> Self {
        self.0.extra.insert(name.into(), value);
        self
    }

    /// Checks the resource identifier and builds the document.
    pub fn build(self) -> Result<ProtectedResourceMetadata, ConfigError> {
        well_known_url(&self.0.resource, "oauth-protected-resource").map_err(|_| {
            ConfigError::Invalid {
                setting: "resource",
                reason: "an absolute http(s) URL without fragment",
            }
        })?;
        Ok(self.0)
    }
}

/// An authorization server's metadata (RFC 8414 §2), as discovered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// JWKS URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Authorization endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Dynamic client registration endpoint.
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// Revocation endpoint (RFC 7009).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Introspection endpoint (RFC 7662).
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Device authorization endpoint (RFC 8628).
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// Grant types supported.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// DPoP proof algorithms supported (RFC 9449 §5.1).
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Scopes supported.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorizationServerMetadata {
    /// Parses a fetched document and checks its `issuer` is exactly `expected_issuer`
    /// (RFC 8414 §3.3): a mismatch is an error, never a silent switch of issuer.
    ///
    /// ```
    /// use authgent_core::metadata::{AuthorizationServerMetadata, MetadataError};
    /// let doc = br#"{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}"#;
    /// assert!(AuthorizationServerMetadata::parse(doc, "https://as.example").is_ok());
    /// assert_eq!(
    ///     AuthorizationServerMetadata::parse(doc, "https://evil.example").unwrap_err(),
    ///     MetadataError::IssuerMismatch
    /// );
    /// ```
    pub fn parse(bytes: &[u8], expected_issuer: &str) -> Result<Self, MetadataError> {
        let doc: Self =
            serde_json::from_slice(bytes).map_err(|e| MetadataError::Malformed(e.to_string()))?;
        if doc.issuer != expected_issuer {
            return Err(MetadataError::IssuerMismatch);
        }
        Ok(doc)
    }
}
