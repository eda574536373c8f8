//! Key discovery and caching over real loopback HTTP with the testkit issuer: rotation,
//! single-flight, unknown-kid storms, stale-if-error, outages and hostile responses.

use std::sync::Arc;
use std::time::Duration;

use authgent_core::{AuthgentError, TokenError};
use authgent_jwks::Verifier;
use authgent_testkit::{Discovery, Fault, TestIssuer};
use serde_json::json;

fn verifier(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
}

fn unavailable(r: Result<Arc<authgent_core::AgentIdentity>, AuthgentError>) -> Duration {
    match r {
        Err(AuthgentError::KeysUnavailable { retry_after }) => {
            let e = AuthgentError::KeysUnavailable { retry_after };
            assert_eq!(e.status(), 503, "a cold outage is 503, never 401/500");
            retry_after
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_cold_start_1000_concurrent_first_requests_fetch_once() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer).token_cache_capacity(0).build().unwrap();
    let token = Arc::new(issuer.token().sign());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (v, token) = (v.clone(), Arc::clone(&token));
            tokio::spawn(async move { v.verify_token(&token).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "exactly one JWKS fetch for 1000 cold requests"
    );
    assert_eq!(issuer.metadata_fetches(), 1, "discovery also happened once");
    assert_eq!(v.stats().jwks_fetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_10000_verifications_with_1000_unknown_kids_fetch_at_most_once_per_cooldown() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer).build().unwrap();
    v.refresh().await.unwrap();
    let before = issuer.jwks_fetches();
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| {
                issuer
                    .token()
                    .header("kid", json!(format!("unknown-{i}")))
                    .sign()
            })
            .collect(),
    );
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let (v, tokens) = (v.clone(), Arc::clone(&tokens));
            tokio::spawn(async move { v.verify_token(&tokens[i % 1000]).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err, AuthgentError::Token(TokenError::UnknownKeyId));
    }
    assert_eq!(
        issuer.jwks_fetches() - before,
        1,
        "one refresh for the whole storm"
    );
    assert_eq!(v.stats().unknown_kid_rejections, 10_000);
    // Still inside the cooldown: more unknown kids cost no fetch at all.
    let t = issuer.token().header("kid", json!("yet-another")).sign();
    assert!(v.verify_token(&t).await.is_err());
    assert_eq!(issuer.jwks_fetches() - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_cooldown_expires_and_allows_one_more_refresh() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .unknown_kid_cooldown(Duration::from_millis(300))
        .build()
        .unwrap();
    v.refresh().await.unwrap();
    let t = issuer.token().header("kid", json!("nope")).sign();
    assert!(v.verify_token(&t).await.is_err());
    assert!(v.verify_token(&t).await.is_err());
    assert_eq!(issuer.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(v.verify_token(&t).await.is_err());
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_picked_up_on_unknown_kid_and_old_kid_rejected_once_dropped() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer).build().unwrap();
    let old_kid = issuer.signing_key().kid().unwrap().to_owned();
    let old_token = issuer.token().sign();
    v.verify_token(&old_token).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    let new_kid = issuer.rotate_keys();
    let new_token = issuer.token().sign();
    let id = v.verify_token(&new_token).await.unwrap();
    assert_eq!(id.issuer(), issuer.issuer());
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "the unknown kid triggered exactly one refresh"
    );
    assert_eq!(v.key_info().unwrap().kids, [old_kid.clone(), new_kid]);
    v.verify_token(&old_token).await.unwrap(); // old key still published, as after rotate-keys

    issuer.retire_previous_keys();
    v.refresh().await.unwrap();
    // The cached identity of the old token is not served once its key left the JWKS…
    assert_eq!(
        v.verify_token(&old_token).await.unwrap_err(),
        AuthgentError::Token(TokenError::UnknownKeyId)
    );
    // …nor is a fresh token signed with the retired key.
    let late = issuer.token().signed_with(old_kid).sign();
    assert_eq!(
        v.verify_token(&late).await.unwrap_err(),
        AuthgentError::Token(TokenError::UnknownKeyId)
    );
    v.verify_token(&new_token).await.unwrap();
}

/// Polls `condition` every 20 ms for up to 10 s: waits for an event, asserts nothing about speed.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_keeps_serving_cached_keys_through_500_garbage_and_dropped_connections() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_max_age(Duration::from_millis(1000))
        .failure_backoff(Duration::from_millis(50))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    for (i, fault) in [Fault::Status(500), Fault::Garbage, Fault::DropConnection]
        .into_iter()
        .enumerate()
    {
        issuer.set_fault(fault.clone());
        tokio::time::sleep(Duration::from_millis(1100)).await; // keys now stale
        v.verify_token(&issuer.token().sign())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        // The stale read started one background refresh, which fails against the fault.
        eventually("the background refresh failed", || {
            v.stats().fetch_failures > i as u64
        })
        .await;
        v.verify_token(&issuer.token().sign())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
    }
    assert_eq!(
        v.stats().metadata_fetches,
        1,
        "outages never trigger rediscovery"
    );
    issuer.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    v.verify_token(&issuer.token().sign()).await.unwrap();
    eventually("keys refreshed after recovery", || {
        v.key_info().is_some_and(|k| {
            k.fetched_at
                .elapsed()
                .is_ok_and(|age| age < Duration::from_millis(900))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_reads_never_wait_on_a_hanging_refresh() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .jwks_max_age(Duration::from_millis(1000))
        .fetch_timeout(Duration::from_secs(60))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    issuer.set_fault(Fault::Delay(Duration::from_secs(30)));
    tokio::time::sleep(Duration::from_millis(1100)).await; // keys now stale
    v.verify_token(&issuer.token().sign()).await.unwrap();
    eventually("the background refresh is hanging at the issuer", || {
        issuer.jwks_fetches() == 2
    })
    .await;
    // With a 30 s refresh in flight, reads finish (a read that waited could not within 10 s)…
    for _ in 0..3 {
        let token = issuer.token().sign();
        let read = tokio::time::timeout(Duration::from_secs(10), v.verify_token(&token));
        read.await
            .expect("reads never wait on a fetch while keys are present")
            .unwrap();
    }
    // …and start no second refresh.
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_is_bounded() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_max_age(Duration::from_secs(1))
        .stale_if_error(Duration::from_millis(500))
        .failure_backoff(Duration::from_millis(50))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    issuer.set_fault(Fault::Status(503));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    unavailable(v.verify_token(&issuer.token().sign()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_outage_is_503_class_then_recovers() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_fault(Fault::Status(500));
    let v = verifier(&issuer)
        .failure_backoff(Duration::from_millis(200))
        .build()
        .unwrap();
    let token = issuer.token().sign();
    assert_eq!(
        unavailable(v.verify_token(&token).await),
        Duration::from_millis(200)
    );
    // Within the backoff no new fetch is attempted.
    let fetches = issuer.metadata_fetches() + issuer.jwks_fetches();
    unavailable(v.verify_token(&token).await);
    assert_eq!(issuer.metadata_fetches() + issuer.jwks_fetches(), fetches);
    issuer.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_millis(250)).await;
    v.verify_token(&token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_timeout_applies() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_fault(Fault::Delay(Duration::from_secs(30)));
    let v = verifier(&issuer)
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    // Without the fetch timeout this would wait for the 30 s hang.
    let token = issuer.token().sign();
    let verify = tokio::time::timeout(Duration::from_secs(10), v.verify_token(&token));
    unavailable(verify.await.expect("the fetch timeout ended the request"));
    assert!(matches!(
        v.refresh().await,
        Err(authgent_jwks::JwksError::Timeout { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let issuer = TestIssuer::start().await.unwrap();
    let elsewhere = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .build()
        .unwrap();
    issuer.set_fault(Fault::Redirect(elsewhere.jwks_url()));
    unavailable(v.verify_token(&issuer.token().sign()).await);
    assert!(matches!(
        v.refresh().await,
        Err(authgent_jwks::JwksError::Redirect { status: 302, .. })
    ));
    assert_eq!(
        elsewhere.jwks_fetches(),
        0,
        "the redirect target was never contacted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_jwks_is_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .build()
        .unwrap();
    issuer.set_fault(Fault::HugeBody(300 * 1024));
    unavailable(v.verify_token(&issuer.token().sign()).await);
    assert!(matches!(
        v.refresh().await,
        Err(authgent_jwks::JwksError::TooLarge { limit: 262_144, .. })
    ));
    let small = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .max_jwks_bytes(2048)
        .build()
        .unwrap();
    issuer.set_fault(Fault::HugeBody(4096));
    assert!(matches!(
        small.refresh().await,
        Err(authgent_jwks::JwksError::TooLarge { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_rsa_and_hmac_keys_are_skipped_others_usable() {
    let issuer = TestIssuer::start().await.unwrap();
    let weak = openssl::rsa::Rsa::generate(1024).unwrap();
    let b64 = |b: Vec<u8>| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let good = issuer.signing_key().jwks_entry();
    issuer.set_jwks(Some(json!({"keys": [
        {"kty": "RSA", "kid": "weak", "n": b64(weak.n().to_vec()), "e": b64(weak.e().to_vec())},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},
        good,
    ]})));
    let v = verifier(&issuer).build().unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    assert_eq!(
        v.key_info().unwrap().kids,
        [issuer.signing_key().kid().unwrap()]
    );
    for kid in ["weak", "hmac"] {
        let t = issuer.token().header("kid", json!(kid)).sign();
        assert_eq!(
            v.verify_token(&t).await.unwrap_err(),
            AuthgentError::Token(TokenError::UnknownKeyId)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_rfc8414_with_path_insertion() {
    let issuer = TestIssuer::builder()
        .issuer_path("/tenant-a")
        .start()
        .await
        .unwrap();
    assert!(issuer.issuer().ends_with("/tenant-a"));
    let v = verifier(&issuer).build().unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    assert_eq!(
        issuer.requests_to("/.well-known/oauth-authorization-server/tenant-a"),
        1
    );
    assert_eq!(issuer.requests_to("/oauth/jwks"), 1);
    assert_eq!(v.key_info().unwrap().jwks_uri, issuer.jwks_url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_to_openid_configuration_then_jwks_json() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_discovery(Discovery::OpenIdOnly);
    let v = verifier(&issuer).build().unwrap();
    v.verify_token(&issuer.token().sign()).await.unwrap();
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 1);
    assert_eq!(issuer.requests_to("/oauth/jwks"), 1);

    let bare = TestIssuer::start().await.unwrap();
    bare.set_discovery(Discovery::JwksOnly);
    let v = verifier(&bare).build().unwrap();
    v.verify_token(&bare.token().sign()).await.unwrap();
    assert_eq!(bare.requests_to("/.well-known/jwks.json"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_naming_another_issuer_is_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_metadata(Some(
        json!({"issuer": "https://evil.example", "jwks_uri": issuer.jwks_url()}),
    ));
    let v = verifier(&issuer).build().unwrap();
    unavailable(v.verify_token(&issuer.token().sign()).await);
    assert!(matches!(
        v.refresh().await,
        Err(authgent_jwks::JwksError::IssuerMismatch { .. })
    ));
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "no keys were taken from a foreign issuer's metadata"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_control_max_age_honoured_within_bounds() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .build()
        .unwrap();
    for (header, expected) in [
        (None, 600),
        (Some("public, max-age=7200"), 7200),
        (Some("max-age=5"), 30),
        (Some("max-age=9999999"), 86_400),
        (Some("no-store"), 30),
    ] {
        issuer.set_cache_control(header);
        v.refresh().await.unwrap();
        assert_eq!(
            v.key_info().unwrap().max_age,
            Duration::from_secs(expected),
            "{header:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_runs_before_expiry_and_stops_on_drop() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer)
        .jwks_uri(issuer.jwks_url())
        .jwks_max_age(Duration::from_secs(1))
        .background_refresh(true)
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let fetched = issuer.jwks_fetches();
    assert!(fetched >= 2, "refreshed without any request: {fetched}");
    drop(v);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        issuer.jwks_fetches() <= fetched + 1,
        "the task stopped with the verifier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_does_not_guess_urls_when_metadata_fails_with_5xx() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_fault(Fault::Status(502));
    let v = verifier(&issuer).build().unwrap();
    unavailable(v.verify_token(&issuer.token().sign()).await);
    assert!(matches!(
        v.refresh().await,
        Err(authgent_jwks::JwksError::Status { status: 502, .. })
    ));
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 0);
    assert_eq!(issuer.requests_to("/.well-known/jwks.json"), 0);
}
