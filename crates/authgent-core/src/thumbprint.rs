//! RFC 7638 JWK thumbprints (SHA-256), the `jkt` of DPoP (RFC 9449 §6.1).

use serde_json::{Map, Value};

/// Why a thumbprint could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbprintError {
    /// `kty` is absent or not `EC`, `RSA`, `OKP` or `oct`.
    #[error("JWK kty must be EC, RSA, OKP or oct")]
    UnsupportedKeyType,
    /// A member the thumbprint needs is absent or not a string.
    #[error("JWK member `{0}` is required and must be a string")]
    MissingMember(&'static str),
}

/// Computes the RFC 7638 SHA-256 thumbprint of a JWK, base64url-encoded.
///
/// Only the required members take part, in lexicographic order (RFC 7638 §3.2); optional ones
/// such as `kid`, `alg` or the private `d` do not change the result (§3.2.1).
///
/// ```
/// use authgent_core::jwk_thumbprint;
/// let jwk = serde_json::json!({
///     "kty": "OKP", "crv": "Ed25519",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// });
/// // RFC 8037 Appendix A.3
/// assert_eq!(
///     jwk_thumbprint(jwk.as_object().unwrap()).unwrap(),
///     "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
/// );
/// ```
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, ThumbprintError> {
    Ok(crate::b64::sha256(canonical_json(jwk)?))
}

/// The canonical JSON the thumbprint hashes (RFC 7638 §3.1–3.3).
pub(crate) fn canonical_json(jwk: &Map<String, Value>) -> Result<String, ThumbprintError> {
    let members: &[&'static str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        Some("OKP") => &["crv", "kty", "x"],
        Some("oct") => &["k", "kty"],
        _ => return Err(ThumbprintError::UnsupportedKeyType),
    };
    let mut out = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk
            .get(*name)
            .and_then(Value::as_str)
            .ok_or(ThumbprintError::MissingMember(name))?;
        if i > 0 {
            out.push(',');
        }
        // Member names are plain ASCII; values are JSON-escaped exactly as serde_json writes.
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(&Value::String(value.to_owned()).to_string());
    }
    out.push('}');
    Ok(out)
}
