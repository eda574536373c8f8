//! Minting tokens with any shape a test needs.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::SigningKey;
use serde_json::{Map, Value, json};

use crate::TestIssuer;

/// Builds and signs a token for a [`TestIssuer`]. Defaults: subject `client:test-agent`,
/// `client_id` `test-agent`, scope `read`, audience = the issuer, issued now, five minutes.
#[derive(Debug)]
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
    header: Map<String, Value>,
    issued_at: SystemTime,
    lifetime: i64,
    actors: Vec<String>,
    kid: Option<String>,
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<'a> TokenBuilder<'a> {
    pub(crate) fn new(issuer: &'a TestIssuer) -> Self {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(issuer.issuer()));
        claims.insert("sub".into(), json!("client:test-agent"));
        claims.insert("aud".into(), json!(issuer.issuer()));
        claims.insert("client_id".into(), json!("test-agent"));
        claims.insert("scope".into(), json!("read"));
        // Uniqueness is what matters for a test jti; the time and a counter suffice.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        claims.insert(
            "jti".into(),
            json!(format!("tok_test_{n}_{}", secs(SystemTime::now()))),
        );
        TokenBuilder {
            issuer,
            claims,
            header: Map::new(),
            issued_at: SystemTime::now(),
            lifetime: 300,
            actors: Vec::new(),
            kid: None,
        }
    }

    /// `sub`.
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.claim("sub", Value::String(subject.into()))
    }

    /// `client_id`.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.claim("client_id", Value::String(client_id.into()))
    }

    /// `scope` from a list.
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claim("scope", Value::String(joined.join(" ")))
    }

    /// `aud` as one string.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", Value::String(audience.into()))
    }

    /// `aud` as an array.
    pub fn audiences<I, S>(self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<Value> = audiences
            .into_iter()
            .map(|a| Value::String(a.into()))
            .collect();
        self.claim("aud", Value::Array(list))
    }

    /// The delegation chain, **newest (current) actor first**, as nested `act` claims.
    pub fn actors<I, S>(mut self, actors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.actors = actors.into_iter().map(Into::into).collect();
        self
    }

    /// The `human_root` claim.
    pub fn human_root(self, human_root: bool) -> Self {
        self.claim("human_root", Value::Bool(human_root))
    }

    /// Binds the token to a DPoP key: `cnf.jkt`.
    pub fn dpop_jkt(self, jkt: impl Into<String>) -> Self {
        self.claim("cnf", json!({ "jkt": jkt.into() }))
    }

    /// The header `typ` (none by default).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.header.insert("typ".into(), Value::String(typ.into()));
        self
    }

    /// Any header member.
    pub fn header(mut self, name: impl Into<String>, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Issue time (default now).
    pub fn issued_at(mut self, at: SystemTime) -> Self {
        self.issued_at = at;
        self
    }

    /// Lifetime from the issue time (default five minutes).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Already expired: `exp` ten minutes ago (beyond any sane leeway).
    pub fn expired(mut self) -> Self {
        self.issued_at = SystemTime::now() - Duration::from_secs(1200);
        self.lifetime = 600;
        self
    }

    /// Any claim (replaces a default).
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Removes a claim (including defaults like `exp` or `sub`).
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        if name == "exp" {
            self.lifetime = i64::MIN;
        }
        self
    }

    /// Signs with the key of this `kid` (e.g. a retired key) instead of the current one.
    pub fn signed_with(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The claims as they will be signed.
    pub fn claims(&self) -> Map<String, Value> {
        let mut claims = self.claims.clone();
        let iat = secs(self.issued_at);
        claims.entry("iat").or_insert(json!(iat));
        if self.lifetime != i64::MIN {
            claims
                .entry("exp")
                .or_insert(json!(iat.saturating_add(self.lifetime)));
        }
        if let Some((last, rest)) = self.actors.split_last() {
            let mut act = json!({ "sub": last });
            for actor in rest.iter().rev() {
                act = json!({ "sub": actor, "act": act });
            }
            claims.insert("act".into(), act);
        }
        claims
    }

    /// Signs the token.
    ///
    /// # Panics
    ///
    /// If [`signed_with`](Self::signed_with) names a `kid` the issuer never had — a mistake in
    /// the test itself.
    pub fn sign(self) -> String {
        let key: Arc<SigningKey> = match &self.kid {
            Some(kid) => self
                .issuer
                .key_by_kid(kid)
                .unwrap_or_else(|| panic!("no key with kid {kid}")),
            None => self.issuer.signing_key(),
        };
        key.sign(&self.header, &self.claims())
            .expect("signing with a generated key")
    }
}
