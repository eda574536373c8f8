//! A complete round trip with no server: an issuer key mints a delegated, DPoP-bound token;
//! a resource verifies the request, applies scope and chain policy, and answers refusals with
//! the right status and challenge.
//!
//! `cargo run -p authgent-core --example quickstart`
#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::challenge::ErrorResponse;
use authgent_core::credentials::Scheme;
use authgent_core::dpop::{DpopKey, DpopVerifier, ProofId, ReplayGuard, ReplayVerdict};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::{
    Algorithm, AuthgentError, ChainPolicy, KeySet, ScopeRequirement, SigningKey, TokenValidator,
};
use serde_json::json;

/// A toy replay store for the example (authgent-jwks has the bounded one).
#[derive(Default)]
struct SeenProofs(Mutex<HashSet<ProofId>>);

impl ReplayGuard for SeenProofs {
    fn check_and_record(&self, id: ProofId, _now: SystemTime, _until: SystemTime) -> ReplayVerdict {
        match self.0.lock().map(|mut seen| seen.insert(id)) {
            Ok(true) => ReplayVerdict::Fresh,
            Ok(false) => ReplayVerdict::Replayed,
            // A guard that cannot record refuses; it never admits.
            Err(_) => ReplayVerdict::Unavailable {
                retry_after: Duration::from_secs(1),
            },
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH)?.as_secs();

    // The authorization server's signing key, and the JWKS it would publish.
    let issuer_key = SigningKey::generate(Algorithm::Es256)?.with_kid("demo-key");
    let jwks = json!({"keys": [issuer_key.jwks_entry()]}).to_string();

    // The calling agent's DPoP key; its thumbprint is bound into the token (cnf.jkt).
    let agent_key = DpopKey::generate_es256()?;
    let claims = json!({
        "iss": "https://as.example", "sub": "user:alice", "aud": "https://tools.example",
        "iat": secs, "exp": secs + 300, "scope": "search:execute", "client_id": "agnt_tool",
        "human_root": true, "cnf": {"jkt": agent_key.jkt()},
        "act": {"sub": "client:agnt_tool", "act": {"sub": "client:agnt_orchestrator"}}
    });
    let token = issuer_key.sign(&Default::default(), claims.as_object().ok_or("claims")?)?;

    // The resource server: keys prepared once, verifiers built once.
    let keys = KeySet::from_jwks_json(jwks.as_bytes())?;
    let verifier = RequestVerifier::new(
        TokenValidator::builder("https://as.example")
            .audience("https://tools.example")
            .build()?,
        DpopVerifier::builder().build()?,
    );
    let replay = SeenProofs::default();
    let uri = "https://tools.example/tools/search";

    // One request: Authorization: DPoP <token>, DPoP: <proof>.
    let proof = agent_key.proof("POST", uri, Some(&token), None, now)?;
    let auth = format!("DPoP {token}");
    let (authorization, dpop): ([&[u8]; 1], [&[u8]; 1]) = ([auth.as_bytes()], [proof.as_bytes()]);
    let request = RequestParts::new("POST", uri, &authorization, &dpop);
    let identity = verifier
        .verify(&request, &keys, &replay, now)?
        .ok_or("no credentials")?;

    ScopeRequirement::all(["search:execute"]).check(identity.scopes())?;
    ChainPolicy::builder()
        .max_depth(2)
        .require_human_root(true)
        .build()
        .check(identity.delegation_chain())?;

    let chain = identity.delegation_chain();
    println!(
        "verified: subject={} scopes={:?}",
        identity.subject(),
        identity.scopes()
    );
    println!(
        "chain: depth={} current_actor={} actors(newest first)={:?} human_root={}",
        chain.depth(),
        chain.current_actor().map_or("-", |a| a.subject()),
        chain
            .actors()
            .iter()
            .map(|a| a.subject())
            .collect::<Vec<_>>(),
        chain.human_root()
    );
    println!("dpop: bound to jkt={}", identity.dpop_jkt().unwrap_or("-"));

    // Refusals, as a resource would answer them.
    let config = verifier.challenge_config(Some(
        "https://tools.example/.well-known/oauth-protected-resource".into(),
    ));
    let show = |what: &str, err: AuthgentError, scheme: Option<Scheme>| {
        let r = ErrorResponse::new(&err, scheme, &config);
        println!(
            "{what}: {} {}  WWW-Authenticate: {}",
            r.status,
            r.body_json(),
            r.challenges.join(" | ")
        );
    };
    // The same proof again is a replay.
    if let Err(e) = verifier.verify(&request, &keys, &replay, now) {
        show("replayed proof", e, Some(Scheme::Dpop));
    }
    if let Err(e) = ScopeRequirement::all(["db:delete"]).check(identity.scopes()) {
        show("missing scope", e.into(), Some(Scheme::Dpop));
    }
    if let Err(e) = ChainPolicy::builder().max_depth(1).build().check(chain) {
        show("chain too deep", e.into(), Some(Scheme::Dpop));
    }
    let later = now + Duration::from_secs(3600);
    let fresh = agent_key.proof("POST", uri, Some(&token), None, later)?;
    let dpop = [fresh.as_bytes()];
    if let Err(e) = verifier.verify(
        &RequestParts::new("POST", uri, &authorization, &dpop),
        &keys,
        &replay,
        later,
    ) {
        show("expired token", e, Some(Scheme::Dpop));
    }
    show("no credentials", AuthgentError::MissingCredentials, None);
    Ok(())
}
