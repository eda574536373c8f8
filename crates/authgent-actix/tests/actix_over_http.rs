//! An actix-web app on 127.0.0.1:0 with the testkit issuer: statuses and challenges, Bearer
//! and DPoP, optional identity, guards, the missing-middleware 500, metadata, cold outage.

use std::time::SystemTime;

use actix_web::{App, HttpResponse, HttpServer, web};
use authgent_actix::{AgentAuth, AgentIdentity, AuthError, OptionalAgentIdentity, Require};
use authgent_core::dpop::DpopKey;
use authgent_core::metadata::ProtectedResourceMetadata;
use authgent_core::{ChainPolicy, ScopeRequirement};
use authgent_jwks::Verifier;
use authgent_testkit::contract::send;
use authgent_testkit::{Fault, TestIssuer};
use serde_json::json;

const PUBLIC: &str = "http://tools.test";

fn identity_json(id: &AgentIdentity) -> HttpResponse {
    let chain = id.delegation_chain();
    HttpResponse::Ok().json(json!({
        "authenticated": true, "subject": id.subject(), "delegation_depth": chain.depth(),
        "actors": chain.actors().iter().map(|a| a.subject()).collect::<Vec<_>>(),
        "human_root": chain.human_root(), "dpop_jkt": id.dpop_jkt(),
    }))
}

async fn search(id: AgentIdentity) -> HttpResponse {
    identity_json(&id)
}

async fn delete(id: AgentIdentity) -> Result<HttpResponse, AuthError> {
    id.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    Ok(identity_json(&id))
}

async fn me(id: OptionalAgentIdentity) -> HttpResponse {
    id.0.map_or_else(
        || HttpResponse::Ok().json(json!({"authenticated": false})),
        |id| identity_json(&id),
    )
}

async fn start(issuer: &TestIssuer) -> String {
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url(PUBLIC)
        .build()
        .unwrap();
    let doc = ProtectedResourceMetadata::builder(PUBLIC)
        .authorization_server(issuer.issuer())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier)
        .optional()
        .resource_metadata(doc.well_known_url().unwrap())
        .build();
    let server = HttpServer::new(move || {
        App::new()
            .service(authgent_actix::resource_metadata(doc.clone()))
            .route("/unguarded", web::get().to(search))
            .service(
                web::scope("")
                    .wrap(auth.clone())
                    .service(
                        web::resource("/tools/search")
                            .wrap(Require::scopes(ScopeRequirement::all(["search:execute"])))
                            .route(web::post().to(search)),
                    )
                    .route("/tools/delete", web::post().to(delete))
                    .service(
                        web::resource("/chain/strict")
                            .wrap(Require::chain(ChainPolicy::builder().max_depth(1).build()))
                            .route(web::get().to(search)),
                    )
                    .route("/me", web::get().to(me)),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}")
}

#[actix_web::test]
async fn status_table_guards_and_optional_identity() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = start(&issuer).await;
    let bearer = |t: String| format!("Bearer {t}");

    let r = send("POST", &format!("{base}/tools/search"), &[]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    assert!(r.challenges[0].starts_with("Bearer ") && !r.challenges[0].contains("error="));
    assert!(r.challenges[0].contains("resource_metadata="));
    assert!(r.challenges.iter().any(|c| c.starts_with("DPoP algs=")));

    let ok = bearer(
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
        &[("authorization", &ok)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["subject"].as_str()),
        (200, Some("user:alice"))
    );
    assert_eq!(r.body["actors"], json!(["client:tool"]));

    let r = send(
        "POST",
        &format!("{base}/tools/delete"),
        &[("authorization", &ok)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="db:delete""#));

    let read = bearer(issuer.token().scopes(["read"]).sign());
    let r = send(
        "POST",
        &format!("{base}/tools/search"),
        &[("authorization", &read)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="search:execute""#));

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

    for t in [
        bearer(issuer.token().expired().sign()),
        "Bearer x.y.z".into(),
        "Bearer".into(),
    ] {
        let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_token")),
            "{t}"
        );
    }
    let r = send(
        "GET",
        &format!("{base}/me"),
        &[("authorization", &ok), ("authorization", &ok)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let r = send("GET", &format!("{base}/me"), &[]).await;
    assert_eq!(
        (r.status, r.body["authenticated"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(
        send("GET", &format!("{base}/me"), &[("authorization", &ok)])
            .await
            .body["subject"],
        "user:alice"
    );
}

#[actix_web::test]
async fn dpop_success_replay_and_bound_as_bearer() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = start(&issuer).await;
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
    assert_eq!(
        (r.status, r.body["dpop_jkt"].as_str()),
        (200, Some(key.jkt()))
    );
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
    assert!(r.challenges[0].starts_with("DPoP "));
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
}

#[actix_web::test]
async fn metadata_missing_middleware_and_cold_outage() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = start(&issuer).await;
    let r = send(
        "GET",
        &format!("{base}/.well-known/oauth-protected-resource"),
        &[],
    )
    .await;
    assert_eq!((r.status, r.body["resource"].as_str()), (200, Some(PUBLIC)));
    let r = send("GET", &format!("{base}/unguarded"), &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("AgentAuth")
    );
    issuer.set_fault(Fault::Status(500));
    let t = format!("Bearer {}", issuer.token().sign());
    let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(r.header("retry-after").is_some());
}
