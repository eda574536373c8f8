//! `authgent jkt` and `authgent dpop …`: key thumbprints, DPoP keys and proofs.

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_core::{Algorithm, jwk_thumbprint};
use serde_json::{Value, json};

use crate::{CliError, Outcome, exit};

/// The RFC 7638 thumbprint (what a token's `cnf.jkt` holds) of a JWK, or of each key of a
/// JWKS (`{"keys": […]}`), given as JSON text.
///
/// ```
/// let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
/// let outcome = authgent_cli::keys::jkt(jwk)?;
/// assert_eq!(outcome.json["jkt"], "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
/// # Ok::<(), authgent_cli::CliError>(())
/// ```
pub fn jkt(jwk_json: &str) -> Result<Outcome, CliError> {
    let value: Value =
        serde_json::from_str(jwk_json).map_err(|e| CliError::Input(format!("not JSON: {e}")))?;
    let thumbprint = |jwk: &Value| -> Result<String, CliError> {
        let map = jwk
            .as_object()
            .ok_or_else(|| CliError::Input("a JWK is a JSON object".into()))?;
        jwk_thumbprint(map).map_err(|e| CliError::Input(format!("not a usable JWK: {e}")))
    };
    if let Some(keys) = value.get("keys").and_then(Value::as_array) {
        let mut text = String::new();
        let mut all = Vec::new();
        for key in keys {
            let kid = key.get("kid").and_then(Value::as_str).unwrap_or("-");
            let t = thumbprint(key)?;
            text.push_str(&format!("{t}  kid={kid}\n"));
            all.push(json!({"kid": kid, "jkt": t}));
        }
        return Ok(Outcome::new(text, json!({"keys": all}), exit::OK));
    }
    let t = thumbprint(&value)?;
    Ok(Outcome::new(format!("{t}\n"), json!({"jkt": t}), exit::OK))
}

/// A new DPoP key (`ES256` or `EdDSA`): its private JWK (keep it secret) and its thumbprint.
///
/// ```
/// let (key, outcome) = authgent_cli::keys::keygen("ES256")?;
/// assert_eq!(outcome.json["jkt"], key.jkt());
/// assert!(!format!("{outcome:?}").contains(key.private_jwk()["d"].as_str().unwrap()));
/// # Ok::<(), authgent_cli::CliError>(())
/// ```
pub fn keygen(alg: &str) -> Result<(DpopKey, Outcome), CliError> {
    let alg: Algorithm = alg
        .parse()
        .map_err(|_| CliError::Input(format!("{alg:?}: use ES256 or EdDSA")))?;
    let key = DpopKey::generate(alg).map_err(|e| CliError::Input(e.to_string()))?;
    let private = Value::Object(key.private_jwk().clone());
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&private).unwrap_or_default()
    );
    let json = json!({"jwk": private, "jkt": key.jkt(), "alg": alg.as_str()});
    Ok((key, Outcome::new(text, json, exit::OK)))
}

/// A DPoP proof (RFC 9449 §4.2) by the private JWK `key_json` for one request: `ath` when
/// the access token is given, the server's `nonce` when it asked for one.
pub fn proof(
    key_json: &str,
    method: &str,
    url: &str,
    token: Option<&str>,
    nonce: Option<&str>,
) -> Result<Outcome, CliError> {
    let key = DpopKey::from_jwk_json(key_json)
        .map_err(|e| CliError::Input(format!("not a private DPoP key (JWK): {e}")))?;
    if url::Url::parse(url).is_err() {
        return Err(CliError::Input(format!(
            "{url:?} is not an absolute URL (the proof's htu)"
        )));
    }
    let token = token.map(crate::inspect::strip_scheme);
    let proof = key
        .proof(method, url, token, nonce, SystemTime::now())
        .map_err(|e| CliError::Input(e.to_string()))?;
    let json = json!({"proof": proof, "jkt": key.jkt(), "htm": method, "htu": url});
    Ok(Outcome::new(format!("{proof}\n"), json, exit::OK))
}
