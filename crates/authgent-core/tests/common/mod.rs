//! Shared fixtures for the integration tests: a test issuer key, clocks, a replay store, and
//! the data files.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::dpop::{ProofId, ReplayGuard, ReplayVerdict};
use authgent_core::{Algorithm, KeySet, SigningKey, TokenValidator};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "https://as.example";
pub const AUDIENCE: &str = "https://tools.example";
pub const NOW: u64 = 1_800_000_000;

pub fn now() -> SystemTime {
    at(NOW)
}

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

/// A test issuer: one ES256 key with kid "k1" and its key set.
pub struct Issuer {
    pub key: SigningKey,
    pub keys: KeySet,
}

impl Issuer {
    pub fn new() -> Self {
        Self::with(Algorithm::Es256)
    }

    pub fn with(alg: Algorithm) -> Self {
        let key = SigningKey::generate(alg).unwrap().with_kid("k1");
        let keys = KeySet::from_keys([key.verification_key().unwrap()]);
        Issuer { key, keys }
    }

    /// Claims of a valid token, to be changed by the test.
    pub fn claims(&self) -> Map<String, Value> {
        object(json!({
            "iss": ISSUER, "sub": "client:agent", "aud": AUDIENCE,
            "exp": NOW + 300, "iat": NOW, "jti": "t1", "scope": "read write",
            "client_id": "agent"
        }))
    }

    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        self.key.sign(&Map::new(), claims).unwrap()
    }

    pub fn sign_with_header(&self, header: Value, claims: &Map<String, Value>) -> String {
        self.key.sign(&object(header), claims).unwrap()
    }

    pub fn token(&self) -> String {
        self.sign(&self.claims())
    }
}

pub fn validator() -> TokenValidator {
    TokenValidator::builder(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

/// An unbounded in-memory replay store (tests only; the bounded one lives in authgent-jwks).
#[derive(Default)]
pub struct MemoryReplay(Mutex<HashMap<ProofId, SystemTime>>);

impl ReplayGuard for MemoryReplay {
    fn check_and_record(
        &self,
        id: ProofId,
        _: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayVerdict {
        let mut seen = self.0.lock().unwrap();
        if seen.contains_key(&id) {
            return ReplayVerdict::Replayed;
        }
        seen.insert(id, expires_at);
        ReplayVerdict::Fresh
    }
}

pub fn vectors() -> Vec<Value> {
    let v: Value = serde_json::from_str(include_str!("../data/rfc-vectors.json")).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

pub fn vector(id: &str) -> Value {
    vectors()
        .into_iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

pub fn fixtures() -> Value {
    serde_json::from_str(include_str!("../data/authgent-server-0.3.4-fixtures.json")).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
