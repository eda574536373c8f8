//! `authgent metadata`: a resource's RFC 9728 document and the RFC 8414 metadata behind it,
//! found the way a client finds them.

use std::fmt::Write as _;

use authgent_core::metadata::{
    AuthorizationServerMetadata, MetadataError, ProtectedResourceMetadata, well_known_url,
};
use serde_json::{Value, json};

use crate::{CliError, Fetcher, Outcome, exit};

/// What discovery found for one resource.
#[derive(Debug)]
pub(crate) struct Discovered {
    /// Where the document was looked for (the path-inserted well-known URL).
    pub(crate) url: String,
    pub(crate) status: u16,
    /// The document as served, if it was JSON.
    pub(crate) raw: Option<Value>,
    /// The document checked against the resource, or why it failed.
    pub(crate) checked: Result<ProtectedResourceMetadata, String>,
}

/// Fetches `resource`'s document from its path-inserted well-known URL (RFC 9728 §3.1).
pub(crate) async fn discover(fetcher: &Fetcher, resource: &str) -> Result<Discovered, CliError> {
    let url = well_known_url(resource, "oauth-protected-resource")
        .map_err(|e| CliError::Input(format!("{resource:?}: {e}")))?;
    let answer = fetcher.get(&url).await?;
    let raw = serde_json::from_slice(&answer.body).ok();
    let checked = if answer.status != 200 {
        Err(format!("{url} answered {}", answer.status))
    } else {
        ProtectedResourceMetadata::parse(&answer.body, resource).map_err(|e| match e {
            MetadataError::ResourceMismatch => format!(
                "its `resource` is {}, not {resource:?} (RFC 9728 §3.3: clients must refuse it)",
                raw.as_ref()
                    .map_or(Value::Null, |r: &Value| r["resource"].clone())
            ),
            other => other.to_string(),
        })
    };
    Ok(Discovered {
        url,
        status: answer.status,
        raw,
        checked,
    })
}

/// One authorization server's RFC 8414 metadata, its `issuer` checked.
pub(crate) async fn authorization_server(
    fetcher: &Fetcher,
    issuer: &str,
) -> Result<Result<AuthorizationServerMetadata, String>, CliError> {
    let mut last = String::new();
    for suffix in ["oauth-authorization-server", "openid-configuration"] {
        let url = well_known_url(issuer, suffix)
            .map_err(|e| CliError::Input(format!("authorization server {issuer:?}: {e}")))?;
        let answer = fetcher.get(&url).await?;
        if answer.status != 200 {
            last = format!("{url} answered {}", answer.status);
            continue;
        }
        return Ok(
            AuthorizationServerMetadata::parse(&answer.body, issuer).map_err(|e| match e {
                MetadataError::IssuerMismatch => {
                    format!("{url}: its `issuer` is not {issuer:?} (RFC 8414 §3.3)")
                }
                other => format!("{url}: {other}"),
            }),
        );
    }
    Ok(Err(last))
}

/// `authgent metadata <resource-url>`.
pub async fn metadata(fetcher: &Fetcher, resource: &str) -> Result<Outcome, CliError> {
    let found = discover(fetcher, resource).await?;
    let mut text = String::new();
    let document = match found.checked {
        Ok(doc) => doc,
        Err(why) => {
            let _ = writeln!(text, "[FAIL] {why}");
            let json = json!({"resource": resource, "url": found.url, "status": found.status,
                "document": found.raw, "error": why});
            return Ok(Outcome::new(text, json, exit::REFUSED));
        }
    };
    let _ = writeln!(text, "[ok] {} (RFC 9728)", found.url);
    let _ = writeln!(
        text,
        "{}",
        serde_json::to_string_pretty(&document).unwrap_or_default()
    );
    let mut servers = Vec::new();
    let mut code = exit::OK;
    for issuer in &document.authorization_servers {
        match authorization_server(fetcher, issuer).await? {
            Ok(meta) => {
                let _ = writeln!(text, "\n[ok] authorization server {issuer} (RFC 8414)");
                let _ = writeln!(
                    text,
                    "{}",
                    serde_json::to_string_pretty(&meta).unwrap_or_default()
                );
                servers.push(json!({"issuer": issuer, "metadata": meta}));
            }
            Err(why) => {
                let _ = writeln!(text, "\n[FAIL] authorization server {issuer}: {why}");
                servers.push(json!({"issuer": issuer, "error": why}));
                code = exit::REFUSED;
            }
        }
    }
    if document.authorization_servers.is_empty() {
        let _ = writeln!(
            text,
            "\n[FAIL] no authorization_servers: a client cannot find where to get a token"
        );
        code = exit::REFUSED;
    }
    let json = json!({"resource": resource, "url": found.url, "document": document,
        "authorization_servers": servers});
    Ok(Outcome::new(text, json, code))
}
