//! DPoP nonce secrets from configuration, shared by every replica of a service.

use authgent_core::ConfigError;
use authgent_core::dpop::NonceIssuer;

/// The variable holding the current nonce secret (base64 of ≥ 32 random bytes).
pub const NONCE_SECRET_VAR: &str = "AUTHGENT_DPOP_NONCE_SECRET";
/// The variable holding the previous nonce secret, accepted during a rotation.
pub const NONCE_SECRET_PREVIOUS_VAR: &str = "AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS";

/// The shared DPoP nonce issuer configured in the environment, or `None` when no secret is
/// set. Every replica given the same secret accepts the nonces of every other (a nonce from
/// replica A is good at replica B), which nonces from [`NonceIssuer::generate`] are not.
///
/// | variable | value |
/// |---|---|
/// | `AUTHGENT_DPOP_NONCE_SECRET` | base64 of at least 32 random bytes (`openssl rand -base64 32`) |
/// | `AUTHGENT_DPOP_NONCE_SECRET_FILE` | instead: a file holding it (a mounted secret) |
/// | `AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS` | optional: the secret before a rotation, still accepted |
/// | `AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS_FILE` | instead: a file holding it |
///
/// **Rotation** without refusing a nonce already handed out: (1) on every replica, set the
/// new secret as current and the old one as previous; (2) after one nonce lifetime (two
/// nonce periods, 2 minutes by default) has passed since the last replica restarted, remove
/// the previous secret. Setting both a variable and its `_FILE`, or a previous secret
/// without a current one, is a configuration error; so is a secret shorter than 32 bytes.
///
/// ```
/// use authgent_jwks::nonce_secrets_from;
/// let env = |name: &str| match name {
///     "AUTHGENT_DPOP_NONCE_SECRET" => Some("ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=".to_owned()),
///     _ => None,
/// };
/// assert!(nonce_secrets_from(env)?.is_some());
/// assert!(nonce_secrets_from(|_| None)?.is_none());
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
pub fn nonce_secrets_from_env() -> Result<Option<NonceIssuer>, ConfigError> {
    nonce_secrets_from(|name| std::env::var(name).ok())
}

/// [`nonce_secrets_from_env`] with the variables read through `lookup` (for tests, or
/// configuration that is not the process environment). Empty values count as unset.
pub fn nonce_secrets_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<NonceIssuer>, ConfigError> {
    let lookup = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let current = secret(&lookup, NONCE_SECRET_VAR, "AUTHGENT_DPOP_NONCE_SECRET_FILE")?;
    let previous = secret(
        &lookup,
        NONCE_SECRET_PREVIOUS_VAR,
        "AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS_FILE",
    )?;
    match (current, previous) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError::Required {
            setting: NONCE_SECRET_VAR,
            fix: "a previous nonce secret is only accepted beside a current one: set AUTHGENT_DPOP_NONCE_SECRET too",
        }),
        (Some(current), previous) => {
            NonceIssuer::from_base64_secrets(&current, previous.as_deref()).map(Some)
        }
    }
}

fn secret(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    file_var: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (lookup(var), lookup(file_var)) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            setting: var,
            reason: "set either the variable or its _FILE variant, not both",
        }),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            std::fs::read_to_string(path.trim())
                .map(Some)
                .map_err(|_| ConfigError::Invalid {
                    setting: file_var,
                    reason: "the file cannot be read",
                })
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::{Duration, UNIX_EPOCH};

    const OLD: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    const NEW: &str = "ESIzRFVmd4iZqrvM3e7_ABEiM0RVZneImaq7zN3u_wA";

    fn load(vars: &[(&str, &str)]) -> Result<Option<NonceIssuer>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        nonce_secrets_from(|k| map.get(k).cloned())
    }

    #[test]
    fn replicas_with_one_secret_accept_each_others_nonces_and_rotation_keeps_old_ones() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let a = load(&[(NONCE_SECRET_VAR, OLD)]).unwrap().unwrap();
        let b = load(&[(NONCE_SECRET_VAR, OLD)]).unwrap().unwrap();
        let nonce = a.issue(now);
        assert!(
            b.is_valid(&nonce, now),
            "replica B accepts replica A's nonce"
        );
        let other = load(&[(NONCE_SECRET_VAR, NEW)]).unwrap().unwrap();
        assert!(!other.is_valid(&nonce, now), "another secret does not");
        let rotating = load(&[(NONCE_SECRET_VAR, NEW), (NONCE_SECRET_PREVIOUS_VAR, OLD)])
            .unwrap()
            .unwrap();
        assert!(
            rotating.is_valid(&nonce, now),
            "the previous secret is accepted"
        );
        assert!(
            !a.is_valid(&rotating.issue(now), now),
            "a replica not yet rotated does not"
        );
    }

    #[test]
    fn secrets_are_read_from_files() {
        let dir = std::env::temp_dir().join(format!("authgent-nonce-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, format!("{OLD}\n")).unwrap();
        let path = file.display().to_string();
        let from_file = load(&[("AUTHGENT_DPOP_NONCE_SECRET_FILE", &path)])
            .unwrap()
            .unwrap();
        let from_var = load(&[(NONCE_SECRET_VAR, OLD)]).unwrap().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(from_var.is_valid(&from_file.issue(now), now));
        assert!(load(&[("AUTHGENT_DPOP_NONCE_SECRET_FILE", "/nonexistent/secret")]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_configuration_is_an_error_not_a_default() {
        assert!(load(&[]).unwrap().is_none());
        assert!(
            load(&[("AUTHGENT_DPOP_NONCE_SECRET", "   ")])
                .unwrap()
                .is_none()
        );
        // too short, not base64, ambiguous, previous alone
        assert!(load(&[(NONCE_SECRET_VAR, "c2hvcnQ=")]).is_err());
        assert!(load(&[(NONCE_SECRET_VAR, "not base64 at all!")]).is_err());
        assert!(
            load(&[
                (NONCE_SECRET_VAR, OLD),
                ("AUTHGENT_DPOP_NONCE_SECRET_FILE", "/x")
            ])
            .is_err()
        );
        assert!(load(&[(NONCE_SECRET_PREVIOUS_VAR, OLD)]).is_err());
        assert!(
            load(&[
                (NONCE_SECRET_VAR, OLD),
                (NONCE_SECRET_PREVIOUS_VAR, "c2hvcnQ")
            ])
            .is_err()
        );
    }
}
