//! `authgent verify`: the token checked as a resource server would, against the real issuer.

use std::fmt::Write as _;
use std::time::SystemTime;

use authgent_core::AuthgentError;
use authgent_jwks::Verifier;
use serde_json::json;

use crate::inspect::{chain_json, expiry, strip_scheme};
use crate::{CliError, Fetcher, Outcome, exit};

/// Verifies `token` for `audience` with the keys `issuer` publishes (RFC 8414 discovery, its
/// JWKS): the identity and its chain, or the exact refusal with its status and code.
///
/// A DPoP-bound token is refused here (a bare token carries no proof), as a resource server
/// refuses it without one.
pub async fn verify(
    fetcher: &Fetcher,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Result<Outcome, CliError> {
    let mut builder = Verifier::builder().issuer(issuer).audience(audience);
    // A bare token carries no proof, so the htu base is never compared; with it, a DPoP-bound
    // token is refused for what it is (no proof), not as "DPoP not accepted".
    builder = match url::Url::parse(audience) {
        Ok(url) => builder.external_url(url.origin().ascii_serialization()),
        Err(_) => builder.dpop_mode(authgent_core::request::DpopMode::Disabled),
    };
    let verifier = builder
        .build()
        .map_err(|e| CliError::Input(e.to_string()))?;
    fetcher.say(&format!(
        "discovering {issuer}'s keys: its RFC 8414 metadata, then its jwks_uri"
    ));
    match verifier.verify_token(strip_scheme(token.trim())).await {
        Ok(identity) => {
            let chain = identity.delegation_chain();
            let mut text = String::new();
            let _ = writeln!(text, "[ok] valid token for {audience} from {issuer}");
            let _ = writeln!(text, "subject:   {}", identity.subject());
            if let Some(client) = identity.client_id() {
                let _ = writeln!(text, "client_id: {client}");
            }
            let _ = writeln!(text, "scopes:    {}", identity.scopes().join(" "));
            if let Some(jkt) = identity.dpop_jkt() {
                let _ = writeln!(text, "DPoP key:  {jkt}");
            }
            let exp = identity.claims().expires_at();
            if let Some(exp) = exp {
                let _ = writeln!(text, "{}", expiry(exp, SystemTime::now()).0);
            }
            let _ = writeln!(text, "\ndelegation chain\n{}", chain.tree());
            let json = json!({
                "valid": true,
                "issuer": issuer,
                "subject": identity.subject(),
                "client_id": identity.client_id(),
                "scopes": identity.scopes(),
                "dpop_jkt": identity.dpop_jkt(),
                "expires_at": exp,
                "chain": chain_json(chain),
            });
            Ok(Outcome::new(text, json, exit::OK))
        }
        Err(AuthgentError::KeysUnavailable { .. }) => Err(CliError::Network(format!(
            "the keys of {issuer} could not be fetched (its /.well-known/oauth-authorization-server \
             and jwks_uri); run with -v, and check the URL is the issuer's"
        ))),
        Err(e) => {
            let text = format!("[FAIL] refused: {} {}: {e}\n", e.status(), e.code());
            let json = json!({
                "valid": false,
                "status": e.status(),
                "error": e.code(),
                "reason": e.to_string(),
            });
            Ok(Outcome::new(text, json, exit::REFUSED))
        }
    }
}
