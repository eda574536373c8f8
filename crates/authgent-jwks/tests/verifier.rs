//! The `Verifier` end to end over loopback HTTP: verified-token cache, DPoP with the replay
//! store, chain policy, multi-issuer routing, real authgent-server 0.3.4 tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::dpop::{DpopKey, NonceIssuer, ProofId, ReplayGuard, ReplayVerdict};
use authgent_core::{
    AuthgentError, ChainPolicy, ConfigError, DelegationError, DpopError, TokenError,
};
use authgent_jwks::{
    MemoryReplayStore, MultiIssuerVerifier, OpaqueTokens, RevocationCheck, Verifier,
};
use authgent_testkit::TestIssuer;
use serde_json::Value;

/// A verifier of `issuer`'s tokens (their default audience is the issuer's URL), DPoP `htu`
/// base `https://tools.example`.
fn builder(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
}

fn parts(method: &str, path: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_token_cache_hit_returns_the_same_identity() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).build().unwrap();
    let token = issuer
        .token()
        .subject("user:alice")
        .actors(["client:tool"])
        .sign();
    let a = v.verify_token(&token).await.unwrap();
    let b = v.verify_token(&token).await.unwrap();
    assert!(Arc::ptr_eq(&a, &b), "served from the cache");
    let s = v.stats();
    assert_eq!((s.token_cache_misses, s.token_cache_hits), (1, 1));
    // Turned off: every request verifies.
    let off = builder(&issuer).token_cache_capacity(0).build().unwrap();
    let a = off.verify_token(&token).await.unwrap();
    let b = off.verify_token(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(off.stats().token_cache_hits, 0);
}

/// The cache is keyed by the whole token and compared in full on a hit: a token differing from
/// a cached one in any byte (its signature, a claim, a trailing character) is verified on its
/// own and refused, never served the cached identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_close_to_a_cached_one_is_never_served_from_the_cache() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).build().unwrap();
    let token = issuer.token().subject("user:alice").sign();
    v.verify_token(&token).await.unwrap();
    let (head, last) = token.split_at(token.len() - 1);
    let flipped = format!("{head}{}", if last == "A" { "B" } else { "A" });
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.rsplit_once('.').unwrap();
    let other_claims = issuer.token().subject("user:mallory").sign();
    let (_, other_rest) = other_claims.split_once('.').unwrap();
    let (other_payload, _) = other_rest.rsplit_once('.').unwrap();
    let spliced = format!("{header}.{other_payload}.{signature}");
    for forged in [flipped, spliced, format!("{token}A")] {
        assert!(v.verify_token(&forged).await.is_err(), "{forged}");
    }
    let s = v.stats();
    assert_eq!(s.token_cache_hits, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_not_served_from_the_cache() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).leeway(Duration::ZERO).build().unwrap();
    let token = issuer.token().expires_in(Duration::from_secs(2)).sign();
    v.verify_token(&token).await.unwrap();
    v.verify_token(&token).await.unwrap();
    assert_eq!(v.stats().token_cache_hits, 1);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(
        v.verify_token(&token).await.unwrap_err(),
        AuthgentError::Token(TokenError::Expired)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_token_is_rejected_when_its_key_leaves_the_jwks() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).build().unwrap();
    let token = issuer.token().sign();
    v.verify_token(&token).await.unwrap();
    issuer.rotate_keys();
    issuer.retire_previous_keys();
    v.refresh().await.unwrap();
    assert_eq!(
        v.verify_token(&token).await.unwrap_err(),
        AuthgentError::Token(TokenError::UnknownKeyId)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_request_verifies_and_replayed_proof_is_rejected_even_on_cache_hit() {
    let issuer = TestIssuer::start().await.unwrap();
    let key = DpopKey::generate_es256().unwrap();
    let v = builder(&issuer).build().unwrap();
    let token = issuer.token().dpop_jkt(key.jkt()).sign();
    let url = "https://tools.example/tools/search";
    let auth = format!("DPoP {token}");
    let proof = key
        .proof("POST", url, Some(&token), None, SystemTime::now())
        .unwrap();
    let p = parts(
        "POST",
        "/tools/search",
        &[("authorization", &auth), ("dpop", &proof)],
    );
    let id = v.verify(&p).await.unwrap().unwrap();
    assert_eq!(id.dpop_jkt(), Some(key.jkt()));
    // Same proof again: the token is now cached, the proof is still checked.
    assert_eq!(
        v.verify(&p).await.unwrap_err(),
        AuthgentError::Dpop(DpopError::Replayed)
    );
    // A fresh proof on the cached token passes; as Bearer the bound token fails.
    let fresh = key
        .proof("POST", url, Some(&token), None, SystemTime::now())
        .unwrap();
    let p2 = parts(
        "POST",
        "/tools/search",
        &[("authorization", &auth), ("dpop", &fresh)],
    );
    v.verify(&p2).await.unwrap().unwrap();
    assert!(v.stats().token_cache_hits >= 2);
    let bearer = format!("Bearer {token}");
    let p3 = parts("POST", "/tools/search", &[("authorization", &bearer)]);
    assert_eq!(
        v.verify(&p3).await.unwrap_err(),
        AuthgentError::Token(TokenError::DpopBoundAsBearer)
    );
    assert_eq!(
        v.verify_token(&token).await.unwrap_err(),
        AuthgentError::Token(TokenError::DpopBoundAsBearer)
    );
    // The htu base is the configured external URL, not the Host header.
    let wrong = key
        .proof(
            "POST",
            "http://internal:8080/tools/search",
            Some(&token),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let p4 = parts(
        "POST",
        "/tools/search",
        &[
            ("authorization", &auth),
            ("dpop", &wrong),
            ("host", "internal:8080"),
        ],
    );
    assert_eq!(
        v.verify(&p4).await.unwrap_err(),
        AuthgentError::Dpop(DpopError::UriMismatch)
    );
    // On a cache hit the proof's `ath` is compared with the hash kept with the token: a proof
    // made for another token (same key, fresh jti) is refused, and so is one without `ath`.
    let other = issuer.token().dpop_jkt(key.jkt()).sign();
    for ath_of in [Some(other.as_str()), None] {
        let foreign = key
            .proof("POST", url, ath_of, None, SystemTime::now())
            .unwrap();
        let p5 = parts(
            "POST",
            "/tools/search",
            &[("authorization", &auth), ("dpop", &foreign)],
        );
        assert_eq!(
            v.verify(&p5).await.unwrap_err(),
            AuthgentError::Dpop(DpopError::AthMismatch)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_nonce_flow_through_the_verifier() {
    let issuer = TestIssuer::start().await.unwrap();
    let key = DpopKey::generate_ed25519().unwrap();
    let v = builder(&issuer)
        .dpop_nonces(NonceIssuer::generate().unwrap())
        .build()
        .unwrap();
    let token = issuer.token().dpop_jkt(key.jkt()).sign();
    let url = "https://tools.example/me";
    let auth = format!("DPoP {token}");
    let first = key
        .proof("GET", url, Some(&token), None, SystemTime::now())
        .unwrap();
    let err = v
        .verify(&parts(
            "GET",
            "/me",
            &[("authorization", &auth), ("dpop", &first)],
        ))
        .await
        .unwrap_err();
    let AuthgentError::Dpop(DpopError::UseNonce { nonce }) = &err else {
        panic!("{err:?}")
    };
    let cfg = v.challenge_config(None);
    let response = v.error_response(
        &err,
        &parts("GET", "/me", &[("authorization", &auth)]),
        &cfg,
    );
    assert_eq!(response.dpop_nonce.as_deref(), Some(nonce.as_str()));
    let retry = key
        .proof("GET", url, Some(&token), Some(nonce), SystemTime::now())
        .unwrap();
    v.verify(&parts(
        "GET",
        "/me",
        &[("authorization", &auth), ("dpop", &retry)],
    ))
    .await
    .unwrap()
    .unwrap();
    assert!(v.issue_dpop_nonce().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_policy_is_applied_on_every_request_including_cache_hits() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer)
        .chain_policy(ChainPolicy::builder().max_depth(1).build())
        .build()
        .unwrap();
    let deep = issuer.token().actors(["client:c", "client:b"]).sign();
    for _ in 0..2 {
        assert_eq!(
            v.verify_token(&deep).await.unwrap_err(),
            AuthgentError::Delegation(DelegationError::DepthExceeded { depth: 2, max: 1 })
        );
    }
    v.verify_token(&issuer.token().actors(["client:c"]).sign())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_is_none_and_bad_requests_are_errors() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).build().unwrap();
    assert!(v.verify(&parts("GET", "/", &[])).await.unwrap().is_none());
    let t = issuer.token().sign();
    let auth = format!("Bearer {t}");
    let two = parts(
        "GET",
        "/",
        &[("authorization", &auth), ("authorization", &auth)],
    );
    assert_eq!(v.verify(&two).await.unwrap_err().status(), 400);
    let expired = format!("Bearer {}", issuer.token().expired().sign());
    let err = v
        .verify(&parts("GET", "/", &[("authorization", &expired)]))
        .await
        .unwrap_err();
    assert_eq!(err, AuthgentError::Token(TokenError::Expired));
    let wrong_aud = Verifier::builder()
        .issuer(issuer.issuer())
        .external_url("https://tools.example")
        .audience("https://other")
        .build()
        .unwrap();
    assert_eq!(
        wrong_aud.verify_token(&t).await.unwrap_err(),
        AuthgentError::Token(TokenError::AudienceMismatch)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_uri_from_external_url_host_or_trusted_forwarded_headers() {
    let issuer = TestIssuer::start().await.unwrap();
    let p = parts(
        "GET",
        "/a/b?x=1",
        &[
            ("host", "svc:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "api.example"),
        ],
    );
    let base = || {
        Verifier::builder()
            .issuer(issuer.issuer())
            .audience(issuer.issuer())
    };
    let plain = base().htu_from_host_header().build().unwrap();
    assert_eq!(plain.request_uri(&p), "http://svc:8080/a/b?x=1");
    let trusting = base()
        .htu_from_host_header()
        .trust_forwarded_headers(true)
        .build()
        .unwrap();
    assert_eq!(trusting.request_uri(&p), "https://api.example/a/b?x=1");
    let external = base()
        .external_url("https://tools.example/")
        .build()
        .unwrap();
    assert_eq!(external.request_uri(&p), "https://tools.example/a/b?x=1");
    // Forwarded headers are ignored unless Host is opted in: only the path, no origin.
    let not_opted_in = base()
        .dpop_mode(authgent_core::request::DpopMode::Disabled)
        .trust_forwarded_headers(true)
        .build()
        .unwrap();
    assert_eq!(not_opted_in.request_uri(&p), "/a/b?x=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_fails_at_build() {
    assert!(Verifier::builder().build().is_err());
    assert!(
        Verifier::builder()
            .issuer("not a url")
            .audience("not a url")
            .external_url("https://tools.example")
            .build()
            .is_err()
    );
    assert!(
        Verifier::builder()
            .issuer("https://as.example")
            .audience("https://as.example")
            .external_url("https://tools.example")
            .jwks_uri("/relative")
            .build()
            .is_err()
    );
    assert!(
        Verifier::builder()
            .issuer("https://as.example")
            .audience("https://as.example")
            .external_url("tools.example")
            .build()
            .is_err()
    );
    assert!(
        Verifier::builder()
            .issuer("https://as.example")
            .audience("https://as.example")
            .external_url("https://tools.example")
            .jwks_max_age(Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        Verifier::builder()
            .issuer("https://as.example")
            .audience("https://as.example")
            .external_url("https://tools.example")
            .leeway(Duration::from_secs(3600))
            .build()
            .is_err()
    );
    // Both introspecting caches: a lifetime over 5 minutes and a relative endpoint are
    // refused, each named in the error.
    let introspecting = || {
        Verifier::builder()
            .issuer("https://as.example")
            .audience("https://as.example")
            .external_url("https://tools.example")
    };
    let setting = |result: Result<Verifier, ConfigError>| match result {
        Err(ConfigError::Invalid { setting, .. }) => setting,
        other => panic!("expected an invalid setting, got {other:?}"),
    };
    let long = Duration::from_secs(301);
    assert_eq!(
        setting(
            introspecting()
                .revocation_check(RevocationCheck::new().cache_ttl(long))
                .build()
        ),
        "revocation cache_ttl"
    );
    assert_eq!(
        setting(
            introspecting()
                .revocation_check(RevocationCheck::new().endpoint("/introspect"))
                .build()
        ),
        "revocation endpoint"
    );
    assert_eq!(
        setting(
            introspecting()
                .opaque_tokens(OpaqueTokens::new().cache_ttl(long))
                .build()
        ),
        "opaque_tokens cache_ttl"
    );
    assert_eq!(
        setting(
            introspecting()
                .opaque_tokens(OpaqueTokens::new().endpoint("/introspect"))
                .build()
        ),
        "opaque_tokens endpoint"
    );
    assert!(
        introspecting()
            .opaque_tokens(OpaqueTokens::new().cache_ttl(Duration::from_secs(300)))
            .build()
            .is_ok()
    );
}

#[test]
fn background_refresh_needs_a_runtime() {
    let err = Verifier::builder()
        .issuer("https://as.example")
        .audience("https://as.example")
        .external_url("https://tools.example")
        .background_refresh(true)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("tokio runtime"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_issuer_routes_by_iss_only_to_configured_issuers() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let stranger = TestIssuer::start().await.unwrap();
    let multi = MultiIssuerVerifier::new([
        Verifier::builder()
            .issuer(a.issuer())
            .audience(a.issuer())
            .external_url("https://tools.example")
            .build()
            .unwrap(),
        Verifier::builder()
            .issuer(b.issuer())
            .audience(b.issuer())
            .external_url("https://tools.example")
            .build()
            .unwrap(),
    ]);
    assert_eq!(
        multi
            .verify_token(&a.token().sign())
            .await
            .unwrap()
            .issuer(),
        a.issuer()
    );
    assert_eq!(
        multi
            .verify_token(&b.token().sign())
            .await
            .unwrap()
            .issuer(),
        b.issuer()
    );
    assert_eq!(
        multi
            .verify_token(&stranger.token().sign())
            .await
            .unwrap_err(),
        AuthgentError::Token(TokenError::IssuerMismatch)
    );
    assert_eq!(
        stranger.jwks_fetches() + stranger.metadata_fetches(),
        0,
        "unconfigured issuers are never contacted"
    );
    // A token claiming issuer A but signed by B's key fails A's signature check.
    let forged = b
        .token()
        .claim("iss", Value::String(a.issuer().into()))
        .sign();
    assert!(multi.verify_token(&forged).await.is_err());
    let auth = format!("Bearer {}", b.token().sign());
    assert!(
        multi
            .verify(&parts("GET", "/", &[("authorization", &auth)]))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_shaped_verify_token_with_a_process_wide_registry() {
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer.token().subject("user:alice").sign();
    let id = authgent_jwks::verify_token(&token, issuer.issuer(), issuer.issuer())
        .await
        .unwrap();
    assert_eq!(id.subject(), "user:alice");
    authgent_jwks::verify_token(&issuer.token().sign(), issuer.issuer(), issuer.issuer())
        .await
        .unwrap();
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "the registry's verifier kept its keys"
    );
    let err = authgent_jwks::verify_token(&token, "not-a-url", issuer.issuer())
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (500, "server_error"));
}

#[test]
fn replay_store_rejects_a_second_use_and_refuses_rather_than_forgets_under_a_million_ids() {
    let store = MemoryReplayStore::new(10_000);
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    assert_eq!(
        store.check_and_record(ProofId::new([1; 32]), now, until),
        ReplayVerdict::Fresh
    );
    assert_eq!(
        store.check_and_record(ProofId::new([1; 32]), now, until),
        ReplayVerdict::Replayed
    );
    let mut fresh = 1;
    for i in 0u32..1_000_000 {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        id[16] = (i % 251) as u8;
        match store.check_and_record(ProofId::new(id), now, until) {
            ReplayVerdict::Fresh => fresh += 1,
            ReplayVerdict::Unavailable { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let held = store.len();
    assert!(held <= store.capacity(), "bounded: {held}");
    assert_eq!(held, fresh, "every admitted id is still held");
    assert_eq!(
        store.check_and_record(ProofId::new([1; 32]), now, until),
        ReplayVerdict::Replayed
    );
}

#[test]
fn replay_store_is_atomic_under_concurrency() {
    let store = Arc::new(MemoryReplayStore::default());
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    let winners: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                s.spawn(move || {
                    (0..1000u32)
                        .filter(|i| {
                            let mut id = [9u8; 32];
                            id[..4].copy_from_slice(&i.to_be_bytes());
                            id[16] = (*i % 16) as u8;
                            store.check_and_record(ProofId::new(id), now, until)
                                == ReplayVerdict::Fresh
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        winners, 1000,
        "each id is fresh exactly once across threads"
    );
}

// ---- real authgent-server 0.3.4 tokens, keys served by the testkit ----

fn fixtures() -> Value {
    serde_json::from_str(include_str!(
        "../../authgent-core/tests/data/authgent-server-0.3.4-fixtures.json"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_fixtures_verify_through_the_verifier() {
    let f = fixtures();
    let served = TestIssuer::start().await.unwrap();
    served.set_jwks(Some(f["server"]["jwks"].clone()));
    let generated_at = f["generated_at"].as_u64().unwrap();
    let v = Verifier::builder()
        .issuer("http://127.0.0.1:8100")
        // every audience the fixtures were issued for (any one matches)
        .audience("http://127.0.0.1:8100")
        .audience("https://api.example.com/mcp")
        .audience("https://worker.example")
        .audience("https://tool.example")
        .audience("https://hop5.example")
        .jwks_uri(served.jwks_url())
        .external_url("https://resource.example.com")
        .clock(move || UNIX_EPOCH + Duration::from_secs(generated_at))
        .build()
        .unwrap();
    for name in [
        "plain",
        "plain_resource_aud",
        "delegated_1hop",
        "delegated_2hop",
        "delegated_depth5",
        "refreshed",
        "human_rooted_1hop",
        "human_rooted_2hop",
        "may_act_root",
        "signed_by_rotated_key",
        "signed_by_new_key",
    ] {
        let token = f["tokens"][name]["token"].as_str().unwrap();
        let id = v
            .verify_token(token)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            id.subject(),
            f["tokens"][name]["claims"]["sub"].as_str().unwrap()
        );
    }
    let human = v
        .verify_token(f["tokens"]["human_rooted_2hop"]["token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(human.delegation_chain().human_root());
    assert_eq!(human.delegation_chain().root_subject(), "user:alice");
    assert_eq!(
        v.verify_token(f["tokens"]["txn_token"]["token"].as_str().unwrap())
            .await
            .unwrap_err(),
        AuthgentError::Token(TokenError::UnacceptableType)
    );
    // The DPoP-bound token with a proof from its key, at the pinned time.
    let bound = f["tokens"]["dpop_bound"]["token"].as_str().unwrap();
    let key = DpopKey::from_jwk(
        f["tokens"]["dpop_bound"]["dpop"]["private_jwk"]
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let proof = key
        .proof(
            "GET",
            "https://resource.example.com/api/data",
            Some(bound),
            None,
            UNIX_EPOCH + Duration::from_secs(generated_at),
        )
        .unwrap();
    let auth = format!("DPoP {bound}");
    let id = v
        .verify(&parts(
            "GET",
            "/api/data",
            &[("authorization", &auth), ("dpop", &proof)],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id.dpop_jkt(), Some(key.jkt()));
    assert_eq!(served.jwks_fetches(), 1);
}
