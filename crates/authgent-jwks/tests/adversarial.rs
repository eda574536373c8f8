//! The adversarial corpus at the verifier (issue 9): configuration that has no safe default
//! is refused at build, stores that cannot record refuse, revocation fails closed, extreme
//! times never panic, all through the public API over loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authgent_core::dpop::DpopKey;
use authgent_core::request::DpopMode;
use authgent_core::{AuthgentError, ConfigError, DpopError};
use authgent_jwks::{MemoryReplayStore, RevocationCheck, Verifier};
use authgent_testkit::TestIssuer;
use serde_json::json;

const PUBLIC: &str = "https://tools.example";

fn parts(method: &str, path: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn builder(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url(PUBLIC)
}

/// Finding 1: without an audience the verifier accepted a token for any resource.
#[tokio::test]
async fn finding_01_verifier_without_audience_fails_at_build() {
    let err = Verifier::builder()
        .issuer("https://as.example")
        .external_url(PUBLIC)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Required {
                setting: "audience",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(".any_audience()"),
        "names the opt-out: {err}"
    );
    // The explicit opt-out still works, and is visible.
    let issuer = TestIssuer::start().await.unwrap();
    let any = Verifier::builder()
        .issuer(issuer.issuer())
        .any_audience()
        .external_url(PUBLIC)
        .build()
        .unwrap();
    let foreign = issuer.token().audience("https://elsewhere.example").sign();
    any.verify_token(&foreign).await.unwrap();
    let strict = builder(&issuer).build().unwrap();
    assert_eq!(
        strict.verify_token(&foreign).await.unwrap_err().code(),
        "invalid_token"
    );
}

/// Finding 2: without an external URL, the DPoP htu came from the client's own Host header.
#[tokio::test]
async fn finding_02_dpop_without_external_url_fails_at_build() {
    let base = || {
        Verifier::builder()
            .issuer("https://as.example")
            .audience(PUBLIC)
    };
    let err = base().build().unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Required {
                setting: "external_url",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("htu_from_host_header"), "{err}");
    // Either refuse DPoP, or opt in visibly.
    base().dpop_mode(DpopMode::Disabled).build().unwrap();
    base().htu_from_host_header().build().unwrap();
    assert!(base().dpop_mode(DpopMode::Required).build().is_err());
}

/// Finding 2: a proof made for server A is refused at server B, whatever Host B is sent.
#[tokio::test]
async fn finding_02_proof_for_another_server_is_refused_whatever_the_host_header() {
    let issuer = TestIssuer::start().await.unwrap();
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer.token().dpop_jkt(key.jkt()).sign();
    let b = builder(&issuer)
        .external_url("https://b.example")
        .build()
        .unwrap();
    let proof_for_a = key
        .proof(
            "GET",
            "https://a.example/data",
            Some(&token),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let auth = format!("DPoP {token}");
    let request = parts(
        "GET",
        "/data",
        &[
            ("host", "a.example"),
            ("authorization", &auth),
            ("dpop", &proof_for_a),
        ],
    );
    assert_eq!(
        b.verify(&request).await.unwrap_err(),
        AuthgentError::Dpop(DpopError::UriMismatch)
    );
}

/// Finding 3: a full replay store admitted proofs unrecorded; now it answers 503.
#[tokio::test]
async fn finding_03_full_replay_store_refuses_with_503_and_never_admits_a_replay() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer)
        .replay_guard(Arc::new(MemoryReplayStore::new(16)))
        .build()
        .unwrap();
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer.token().dpop_jkt(key.jkt()).sign();
    let auth = format!("DPoP {token}");
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for _ in 0..64 {
        let proof = key
            .proof(
                "GET",
                &format!("{PUBLIC}/x"),
                Some(&token),
                None,
                SystemTime::now(),
            )
            .unwrap();
        let p = parts("GET", "/x", &[("authorization", &auth), ("dpop", &proof)]);
        match v.verify(&p).await {
            Ok(_) => accepted.push(p),
            Err(e) => {
                assert_eq!(
                    (e.status(), e.code()),
                    (503, "temporarily_unavailable"),
                    "{e:?}"
                );
                let response = v.error_response(&e, &p, &v.challenge_config(None));
                assert!(response.retry_after.is_some_and(|s| s >= 1));
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the store filled");
    assert!(!accepted.is_empty());
    for p in &accepted {
        let e = v.verify(p).await.unwrap_err();
        assert!(
            e == AuthgentError::Dpop(DpopError::Replayed) || e.status() == 503,
            "an admitted proof is never admitted again: {e:?}"
        );
        assert_ne!(e.status(), 200);
    }
}

/// Finding 6: revocation checking fails closed when introspection cannot answer.
#[tokio::test]
async fn finding_06_revocation_check_fails_closed_and_fail_open_is_explicit() {
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer.token().sign();
    let closed = builder(&issuer)
        .revocation_check(RevocationCheck::new().endpoint("http://127.0.0.1:9/introspect"))
        .build()
        .unwrap();
    let err = closed.verify_token(&token).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "temporarily_unavailable"));
    assert!(err.retry_after().is_some());
    let open = builder(&issuer)
        .revocation_check(
            RevocationCheck::new()
                .endpoint("http://127.0.0.1:9/introspect")
                .fail_open(true),
        )
        .build()
        .unwrap();
    open.verify_token(&token).await.unwrap();
    // Asked on a route with no check configured: a configuration error, not a silent pass.
    let none = builder(&issuer).build().unwrap();
    let id = none.verify_token(&token).await.unwrap();
    assert_eq!(
        none.check_revocation(&token, &id)
            .await
            .unwrap_err()
            .status(),
        500
    );
    // Per route: the verifier skips it, the route asks for it.
    let per_route = builder(&issuer)
        .revocation_check(
            RevocationCheck::new()
                .endpoint("http://127.0.0.1:9/introspect")
                .every_request(false),
        )
        .build()
        .unwrap();
    let id = per_route.verify_token(&token).await.unwrap();
    assert_eq!(
        per_route
            .check_revocation(&token, &id)
            .await
            .unwrap_err()
            .status(),
        503
    );
    // An issuer whose metadata names no introspection endpoint: refused (fail-closed), and
    // the metadata is read once, shared with key discovery, not fetched per request.
    let undiscoverable = builder(&issuer)
        .revocation_check(RevocationCheck::new())
        .build()
        .unwrap();
    for _ in 0..3 {
        let err = undiscoverable.verify_token(&token).await.unwrap_err();
        assert_eq!(err.status(), 503);
    }
    assert_eq!(undiscoverable.stats().metadata_fetches, 1);
    assert!(
        builder(&issuer)
            .revocation_check(RevocationCheck::new().cache_ttl(Duration::from_secs(3600)))
            .build()
            .is_err(),
        "verdicts are cached for minutes at most"
    );
}

/// Finding 8: `exp + leeway` in the token cache overflowed for `exp` near `i64::MAX`.
#[tokio::test]
async fn finding_08_token_cache_survives_exp_at_the_end_of_time() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = builder(&issuer).build().unwrap();
    for exp in [
        json!(i64::MAX),
        json!(253_402_300_799u64),
        json!(1e15 - 1.0),
    ] {
        let token = issuer.token().claim("exp", exp.clone()).sign();
        for _ in 0..2 {
            let _ = v.verify_token(&token).await;
        }
    }
}

/// Finding 7 at this layer: nothing here prints a token or secret.
#[tokio::test]
async fn finding_07_verifier_and_revocation_debug_are_redacted() {
    let check = RevocationCheck::new().client_credentials("rs", "hunter2-secret");
    assert!(!format!("{check:?}").contains("hunter2"));
    let store = MemoryReplayStore::new(10);
    assert!(format!("{store:?}").contains("capacity"));
}
