//! The tower layer served by hyper on 127.0.0.1:0, with the testkit issuer: statuses,
//! challenges, optional mode, guards, DPoP, the missing-layer 500, cold JWKS outage.

use std::time::SystemTime;

mod common;

use authgent_core::ChainPolicy;
use authgent_core::dpop::DpopKey;
use authgent_harness::contract::send;
use authgent_jwks::Verifier;
use authgent_testkit::{Fault, TestIssuer};
use authgent_tower::{AgentAuth, AgentAuthLayer, Require};
use common::{Echo, serve};
use serde_json::json;
use tower_layer::Layer;

async fn setup(optional: bool) -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("http://resource.test")
        .build()
        .unwrap();
    // The resource_metadata URL is derived from the external URL (RFC 9728 §3.1).
    let mut builder = AgentAuth::builder(verifier);
    if optional {
        builder = builder.optional();
    }
    let layer = AgentAuthLayer::new(builder.build().unwrap());
    let guarded = Require::all(["db:delete"])
        .layer(Require::chain(ChainPolicy::builder().max_depth(1).build()).layer(Echo));
    let url = serve(layer.layer(guarded)).await;
    (issuer, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_over_http() {
    let (issuer, url) = setup(false).await;
    // No credentials: 401, Bearer challenge without error, plus DPoP algs.
    let r = send("POST", &url, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "missing_credentials");
    assert!(r.challenges[0].starts_with("Bearer ") && !r.challenges[0].contains("error="));
    assert!(r.challenges[0].contains(
        r#"resource_metadata="http://resource.test/.well-known/oauth-protected-resource""#
    ));
    assert!(
        r.challenges[1].starts_with("DPoP resource_metadata=") && r.challenges[1].contains("algs=")
    );
    assert_eq!(r.header("cache-control").unwrap(), "no-store");
    // Valid token with the scope: through all guards to the handler.
    let ok = format!("Bearer {}", issuer.token().scopes(["db:delete"]).sign());
    let r = send("POST", &url, &[("authorization", &ok)]).await;
    assert_eq!(
        (r.status, r.body["subject"].as_str()),
        (200, Some("client:test-agent"))
    );
    // Expired: 401 invalid_token.
    let expired = format!(
        "Bearer {}",
        issuer.token().scopes(["db:delete"]).expired().sign()
    );
    let r = send("POST", &url, &[("authorization", &expired)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(r.challenges[0].contains(r#"error="invalid_token""#));
    // Missing scope: 403 with the scope needed.
    let read = format!("Bearer {}", issuer.token().scopes(["read"]).sign());
    let r = send("POST", &url, &[("authorization", &read)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="db:delete""#));
    // Chain too deep: 403, body code from the delegation error.
    let deep = format!(
        "Bearer {}",
        issuer
            .token()
            .scopes(["db:delete"])
            .actors(["client:a", "client:b"])
            .sign()
    );
    let r = send("POST", &url, &[("authorization", &deep)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("delegation_depth_exceeded"))
    );
    assert!(r.challenges[0].contains(r#"error="insufficient_scope""#));
    // Two Authorization headers: 400.
    let r = send(
        "POST",
        &url,
        &[("authorization", &ok), ("authorization", &ok)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_success_replay_and_bound_as_bearer() {
    let (issuer, url) = setup(false).await;
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer
        .token()
        .scopes(["db:delete"])
        .dpop_jkt(key.jkt())
        .sign();
    let proof = key
        .proof(
            "POST",
            "http://resource.test/",
            Some(&token),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let auth = format!("DPoP {token}");
    let r = send("POST", &url, &[("authorization", &auth), ("dpop", &proof)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = send("POST", &url, &[("authorization", &auth), ("dpop", &proof)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    assert!(
        r.challenges[0].starts_with("DPoP ")
            && r.challenges[0].contains(r#"error="invalid_dpop_proof""#)
    );
    let bearer = format!("Bearer {token}");
    let r = send("POST", &url, &[("authorization", &bearer)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_mode_passes_anonymous_but_never_a_bad_token() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let url = serve(
        AgentAuthLayer::new(AgentAuth::builder(verifier).optional().build().unwrap()).layer(Echo),
    )
    .await;
    let r = send("POST", &url, &[]).await;
    assert_eq!(
        (r.status, r.body["authenticated"].as_bool()),
        (200, Some(false))
    );
    // Issue 23, item 10b: docs/adapters.md said the layer puts a `Caller` in the extensions;
    // it put only the `AuthContext`, so `get::<Caller>()` compiled and was always `None`. Now
    // both are there, and an anonymous request has no `Caller`.
    assert_eq!(r.body["caller"], serde_json::Value::Null);
    let alice = format!("Bearer {}", issuer.token().subject("user:alice").sign());
    let r = send("POST", &url, &[("authorization", &alice)]).await;
    assert_eq!(
        (r.status, r.body["caller"].as_str()),
        (200, Some("user:alice"))
    );
    let bad = format!("Bearer {}", issuer.token().expired().sign());
    assert_eq!(
        send("POST", &url, &[("authorization", &bad)]).await.status,
        401
    );
    let garbage = send("POST", &url, &[("authorization", "Bearer not.a.token")]).await;
    assert_eq!(garbage.status, 401);
    let good = format!("Bearer {}", issuer.token().sign());
    assert_eq!(
        send("POST", &url, &[("authorization", &good)]).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_without_the_layer_is_a_500_naming_the_fix() {
    let url = serve(Require::all(["x"]).layer(Echo)).await;
    let r = send("POST", &url, &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("AgentAuthLayer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_jwks_outage_is_503_with_retry_after() {
    let (issuer, url) = setup(false).await;
    issuer.set_fault(Fault::Status(500));
    let t = format!("Bearer {}", issuer.token().sign());
    let r = send("POST", &url, &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(r.header("retry-after").unwrap(), "5");
    assert!(r.challenges.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_body_hook_and_verbose_errors() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let layer = AgentAuthLayer::new(
        AgentAuth::builder(verifier)
            .verbose_errors(true)
            .error_body(|e| {
                json!({"code": e.code, "why": e.description, "status": e.status}).to_string()
            })
            .build()
            .unwrap(),
    );
    let url = serve(layer.layer(Echo)).await;
    let t = format!("Bearer {}", issuer.token().expired().sign());
    let r = send("POST", &url, &[("authorization", &t)]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "invalid_token");
    assert_eq!(r.body["why"], "token has expired");
}

/// Issue 9 finding 6, per route: the verifier skips revocation (`every_request(false)`); the
/// route behind `Require::active_token()` checks it, fail-closed (introspection unreachable → 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_checked_on_the_guarded_route_only() {
    let issuer = TestIssuer::start().await.unwrap();
    let builder = || {
        Verifier::builder()
            .issuer(issuer.issuer())
            .audience(issuer.issuer())
            .external_url("http://resource.test")
    };
    let verifier = builder()
        .revocation_check(
            authgent_jwks::RevocationCheck::new()
                .endpoint("http://127.0.0.1:9/introspect")
                .every_request(false),
        )
        .build()
        .unwrap();
    let layer = AgentAuthLayer::new(AgentAuth::builder(verifier).build().unwrap());
    let open = serve(layer.layer(Echo)).await;
    let guarded = serve(layer.layer(Require::active_token().layer(Echo))).await;
    let auth = format!("Bearer {}", issuer.token().sign());
    assert_eq!(
        send("GET", &open, &[("authorization", &auth)]).await.status,
        200
    );
    let r = send("GET", &guarded, &[("authorization", &auth)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(send("GET", &guarded, &[]).await.status, 401);
    // A verifier without a revocation check: the guard is a configuration error, not a pass.
    let unchecked = AgentAuthLayer::new(
        AgentAuth::builder(builder().build().unwrap())
            .build()
            .unwrap(),
    );
    let misconfigured = serve(unchecked.layer(Require::active_token().layer(Echo))).await;
    let r = send("GET", &misconfigured, &[("authorization", &auth)]).await;
    assert_eq!(r.status, 500);
}
