//! `authgent inspect`: what a token says, decoded and nothing more.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::{DelegationChain, TokenClaims};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::{CliError, Outcome, exit};

/// The deepest `act` nesting decoded (a real issuer nests far less).
const MAX_ACT_DEPTH: usize = 32;

/// A JSON object: a JWT's header or its claims.
pub type Object = Map<String, Value>;

/// A JWS compact token's (or `Bearer <token>`'s) header and claims, decoded without any
/// check: for reading one's own tokens, never for deciding anything.
///
/// ```
/// let (header, claims) = authgent_cli::inspect::decode("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")?;
/// assert_eq!((header["alg"].as_str(), claims["sub"].as_str()), (Some("ES256"), Some("a")));
/// # Ok::<(), authgent_cli::CliError>(())
/// ```
pub fn decode(token: &str) -> Result<(Object, Object), CliError> {
    let token = strip_scheme(token.trim());
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(CliError::Input(
                "this is an encrypted JWT (JWE, 5 parts): only its recipient can read it".into(),
            ));
        }
        n => {
            return Err(CliError::Input(format!(
                "not a JWT: expected 3 dot-separated parts, found {n}"
            )));
        }
    }
    let part = |i: usize, what: &str| -> Result<Object, CliError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[i])
            .map_err(|_| CliError::Input(format!("not a JWT: the {what} is not base64url")))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(CliError::Input(format!(
                "not a JWT: the {what} is not a JSON object"
            ))),
        }
    };
    Ok((part(0, "header")?, part(1, "payload")?))
}

/// A token's claims, decoded without any check and read as core reads them (`aud`, `cnf`,
/// the `act` chain).
pub(crate) fn claims(token: &str) -> Result<TokenClaims, CliError> {
    let (_, claims) = decode(token)?;
    TokenClaims::from_json(claims, MAX_ACT_DEPTH)
        .map_err(|e| CliError::Input(format!("the claims are not a valid access token: {e}")))
}

/// `Bearer eyJ…` or `DPoP eyJ…` pasted from a request: the token after the scheme.
pub(crate) fn strip_scheme(token: &str) -> &str {
    for scheme in ["Bearer ", "bearer ", "DPoP ", "dpop "] {
        if let Some(rest) = token.strip_prefix(scheme) {
            return rest.trim();
        }
    }
    token
}

/// Decodes `token` (also `Bearer <token>`): header, claims, the delegation chain as a tree,
/// the expiry relative to `now`. Says plainly that nothing was verified.
pub fn inspect(token: &str, now: SystemTime) -> Result<Outcome, CliError> {
    let (header, claims) = decode(token)?;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "NOT VERIFIED: decoded only. The signature, issuer, audience and expiry were not \
         checked; `authgent verify` checks them."
    );
    let _ = writeln!(text, "\nheader\n{}", pretty(&header));
    let _ = writeln!(text, "\nclaims\n{}", pretty(&claims));
    let mut out = json!({"verified": false, "header": header, "claims": claims});
    match TokenClaims::from_json(claims.clone(), MAX_ACT_DEPTH) {
        Ok(parsed) => {
            let chain = DelegationChain::from_claims(&parsed);
            let _ = writeln!(text, "\ndelegation chain\n{}", chain.tree());
            out["chain"] = chain_json(&chain);
            let _ = writeln!(text, "\n{}", binding(&parsed));
            if let Some(exp) = parsed.expires_at() {
                let (words, seconds) = expiry(exp, now);
                let _ = writeln!(text, "{words}");
                out["expires_in_seconds"] = json!(seconds);
                out["expired"] = json!(seconds <= 0);
            } else {
                let _ = writeln!(text, "no exp claim: a resource server refuses this token");
            }
        }
        Err(e) => {
            let _ = writeln!(text, "\nthe claims are not a valid access token: {e}");
            out["claims_error"] = json!(e.to_string());
        }
    }
    Ok(Outcome::new(text, out, exit::OK))
}

/// The chain as JSON: the root, the actors newest (current) first, the current actor.
pub(crate) fn chain_json(chain: &DelegationChain) -> Value {
    json!({
        "root_subject": chain.root_subject(),
        "human_root": chain.human_root(),
        "depth": chain.depth(),
        "actors": chain.actors().iter().map(|a| a.subject()).collect::<Vec<_>>(),
        "current_actor": chain.current_actor().map(|a| a.subject()),
        "tree": chain.tree().to_string(),
    })
}

fn binding(claims: &TokenClaims) -> String {
    match claims.confirmation_jkt() {
        Some(jkt) => format!(
            "DPoP-bound to key {jkt}: send it with `Authorization: DPoP` and a proof by that key"
        ),
        None => "bearer token: anyone holding it can use it (no cnf.jkt)".into(),
    }
}

/// "expires in 14 min (Wed, 02 Dec 2026 18:40:00 GMT)" or "EXPIRED 3 h 2 min ago (…)", and
/// the seconds left (negative once expired).
pub(crate) fn expiry(exp: i64, now: SystemTime) -> (String, i64) {
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let left = exp.saturating_sub(now_s);
    let at = u64::try_from(exp)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map_or_else(|| "out of range".to_owned(), httpdate::fmt_http_date);
    let span = human(left.unsigned_abs());
    let words = if left > 0 {
        format!("expires in {span} ({at})")
    } else {
        format!("EXPIRED {span} ago ({at})")
    };
    (words, left)
}

/// 0 s, 42 s, 14 min 2 s, 3 h 2 min, 2 d 4 h.
fn human(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

pub(crate) fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(42), "42 s");
        assert_eq!(human(840), "14 min");
        assert_eq!(human(842), "14 min 2 s");
        assert_eq!(human(3 * 3600 + 120 + 5), "3 h 2 min");
        assert_eq!(human(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }

    #[test]
    fn expiry_is_relative_to_now_either_side() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (words, left) = expiry(1_000_060, now);
        assert!(words.starts_with("expires in 1 min ("), "{words}");
        assert_eq!(left, 60);
        let (words, left) = expiry(999_000, now);
        assert!(words.starts_with("EXPIRED 16 min 40 s ago"), "{words}");
        assert_eq!(left, -1000);
    }

    #[test]
    fn what_is_not_a_jwt_is_said_plainly() {
        for (bad, says) in [
            ("abc", "found 1"),
            ("a.b.c.d.e", "encrypted"),
            ("!!.e30.x", "header is not base64url"),
            ("e30.WzFd.x", "payload is not a JSON object"),
        ] {
            let e = decode(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(decode("Bearer e30.e30.x").is_ok());
    }
}
