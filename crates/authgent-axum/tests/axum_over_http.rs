//! An axum app on 127.0.0.1:0 with the testkit issuer: every status-table row, Bearer and
//! DPoP, optional identity, guards as layers and as helpers, metadata, missing layer, outage.

use std::time::SystemTime;

use authgent_axum::{AgentAuthLayer, AgentIdentity, AuthRejection, RequireChain, RequireScopes};
use authgent_core::dpop::DpopKey;
use authgent_core::metadata::ProtectedResourceMetadata;
use authgent_core::{ChainPolicy, ScopeRequirement};
use authgent_jwks::Verifier;
use authgent_testkit::contract::send;
use authgent_testkit::{Fault, TestIssuer};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

const PUBLIC: &str = "http://tools.test";

fn identity_json(id: &AgentIdentity) -> Json<Value> {
    let chain = id.delegation_chain();
    Json(json!({
        "authenticated": true, "subject": id.subject(), "scopes": id.scopes(),
        "delegation_depth": chain.depth(),
        "actors": chain.actors().iter().map(|a| a.subject()).collect::<Vec<_>>(),
        "human_root": chain.human_root(), "dpop_jkt": id.dpop_jkt(),
    }))
}

async fn search(id: AgentIdentity) -> Json<Value> {
    identity_json(&id)
}

async fn delete(id: AgentIdentity) -> Result<Json<Value>, AuthRejection> {
    id.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    Ok(identity_json(&id))
}

async fn me(id: Option<AgentIdentity>) -> Json<Value> {
    id.map_or_else(
        || Json(json!({"authenticated": false})),
        |id| identity_json(&id),
    )
}

async fn app(issuer: &TestIssuer) -> String {
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url(PUBLIC)
        .build()
        .unwrap();
    let doc = ProtectedResourceMetadata::builder(PUBLIC)
        .authorization_server(issuer.issuer())
        .scopes_supported(["search:execute", "db:delete"])
        .build()
        .unwrap();
    let auth = AgentAuthLayer::builder(verifier)
        .optional()
        .resource_metadata(doc.well_known_url().unwrap())
        .build();
    let protected = Router::new()
        .route(
            "/tools/search",
            post(search).route_layer(RequireScopes::all(["search:execute"])),
        )
        .route("/tools/delete", post(delete))
        .route(
            "/chain/strict",
            get(search).route_layer(RequireChain::new(
                ChainPolicy::builder().max_depth(1).build(),
            )),
        )
        .route(
            "/chain/human",
            get(search).route_layer(RequireChain::new(
                ChainPolicy::builder().require_human_root(true).build(),
            )),
        )
        .route("/me", get(me))
        .layer(auth);
    let router = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/unguarded", get(search)) // extractor without the layer: a bug the 500 names
        .merge(authgent_axum::resource_metadata_router(doc))
        .merge(protected);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_extractor_guards_and_status_table() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let bearer = |t: String| format!("Bearer {t}");

    assert_eq!(
        send("GET", &format!("{base}/health"), &[]).await.body["status"],
        "ok"
    );
    // Required identity without credentials: 401 challenge, no error code, metadata URL.
    let r = send("POST", &format!("{base}/tools/search"), &[]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    assert!(r.challenges[0].contains(&format!(
        r#"resource_metadata="{PUBLIC}/.well-known/oauth-protected-resource""#
    )));
    // Scope via route layer.
    let search = bearer(
        issuer
            .token()
            .subject("user:alice")
            .scopes(["search:execute"])
            .actors(["client:tool"])
            .sign(),
    );
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &search)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["subject"], "user:alice");
    assert_eq!(r.body["actors"], json!(["client:tool"]));
    assert_eq!(r.body["human_root"], true);
    // Scope via the in-handler helper.
    let r = send(
        "POST",
        &format!("{base}/tools/delete"),
        &[("authorization", &search)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="db:delete""#));
    let del = bearer(issuer.token().scopes(["db:delete"]).sign());
    assert_eq!(
        send(
            "POST",
            &format!("{base}/tools/delete"),
            &[("authorization", &del)]
        )
        .await
        .status,
        200
    );
    // Chain policies.
    let deep = bearer(issuer.token().actors(["client:b", "client:a"]).sign());
    let r = send(
        "GET",
        &format!("{base}/chain/strict"),
        &[("authorization", &deep)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("delegation_depth_exceeded"))
    );
    let r = send(
        "GET",
        &format!("{base}/chain/human"),
        &[("authorization", &deep)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("no_human_root"))
    );
    assert_eq!(
        send(
            "GET",
            &format!("{base}/chain/human"),
            &[("authorization", &search)]
        )
        .await
        .status,
        200
    );
    // Malformed / expired / wrong issuer: 401 invalid_token.
    let other = TestIssuer::start().await.unwrap();
    for t in [
        bearer(issuer.token().expired().sign()),
        bearer(other.token().sign()),
        "Bearer abc.def.ghi".into(),
        "Bearer".into(),
    ] {
        let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_token")),
            "{t}"
        );
        assert!(r.challenges[0].contains(r#"error="invalid_token""#));
    }
    // Two Authorization headers: 400.
    let r = send(
        "GET",
        &format!("{base}/me"),
        &[("authorization", &search), ("authorization", &search)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn option_identity_is_none_only_without_credentials() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let r = send("GET", &format!("{base}/me"), &[]).await;
    assert_eq!(
        (r.status, r.body["authenticated"].as_bool()),
        (200, Some(false))
    );
    let ok = format!("Bearer {}", issuer.token().sign());
    let r = send("GET", &format!("{base}/me"), &[("authorization", &ok)]).await;
    assert_eq!(r.body["subject"], "client:test-agent");
    let bad = format!("Bearer {}", issuer.token().expired().sign());
    assert_eq!(
        send("GET", &format!("{base}/me"), &[("authorization", &bad)])
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_success_replay_bound_as_bearer_and_htu_base() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer
        .token()
        .scopes(["search:execute"])
        .dpop_jkt(key.jkt())
        .sign();
    let proof = key
        .proof(
            "POST",
            &format!("{PUBLIC}/tools/search"),
            Some(&token),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let auth = format!("DPoP {token}");
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["dpop_jkt"], key.jkt());
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(r.challenges[0].starts_with("DPoP "));
    // htu must be PUBLIC_URL + path, not the internal address.
    let internal = key
        .proof(
            "POST",
            &format!("{base}/tools/search"),
            Some(&token),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &auth), ("dpop", &internal)],
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_route_missing_layer_and_cold_outage() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let r = send(
        "GET",
        &format!("{base}/.well-known/oauth-protected-resource"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["resource"], PUBLIC);
    assert_eq!(r.body["authorization_servers"], json!([issuer.issuer()]));
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    let r = send("GET", &format!("{base}/unguarded"), &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("AgentAuthLayer")
    );
    issuer.set_fault(Fault::Status(500));
    let t = format!("Bearer {}", issuer.token().sign());
    let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
}
