//! What is specific to actix-web, over loopback HTTP with the testkit issuer: the strict
//! `OptionalAgentIdentity` against actix's `Option<T>`, guards as middleware (closure guard
//! included), the missing-middleware 500, the metadata service, every header of a refusal.
//! The status table itself is the EXAMPLES.md contract, run against
//! `examples/actix-resource-server`.

use actix_web::{App, HttpResponse, HttpServer, web};
use authgent_actix::{
    AgentAuth, AgentAuthMiddleware, AgentIdentity, OptionalAgentIdentity, Require,
};
use authgent_core::ScopeError;
use authgent_harness::contract::send;
use authgent_jwks::Verifier;
use authgent_testkit::TestIssuer;
use serde_json::json;

const PUBLIC: &str = "http://tools.test";

/// A verifier for `PUBLIC` trusting `issuer`, to finish configuring.
fn verifier(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(PUBLIC)
        .external_url(PUBLIC)
}

async fn subject(id: AgentIdentity) -> HttpResponse {
    HttpResponse::Ok().json(json!({"subject": id.subject()}))
}

async fn strict(id: OptionalAgentIdentity) -> HttpResponse {
    HttpResponse::Ok().json(json!({"subject": id.0.map(|i| i.subject().to_owned())}))
}

async fn lenient(id: Option<AgentIdentity>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"subject": id.map(|i| i.subject().to_owned())}))
}

async fn start(issuer: &TestIssuer) -> String {
    let verifier = verifier(issuer).build().unwrap();
    let auth = AgentAuth::builder(verifier).optional().build().unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .configure(authgent_actix::resource_metadata(&auth))
            .route("/unguarded/strict", web::get().to(strict))
            .route("/unguarded/lenient", web::get().to(lenient))
            .service(
                web::scope("")
                    .wrap(AgentAuthMiddleware::new(auth.clone()))
                    .service(
                        web::resource("/alice")
                            .wrap(Require::check(|id| match id.subject() {
                                "user:alice" => Ok(()),
                                _ => Err(ScopeError::new(["alice"]).into()),
                            }))
                            .route(web::get().to(subject)),
                    )
                    .service(
                        web::resource("/delete")
                            .wrap(Require::all(["db:delete"]))
                            .route(web::get().to(subject)),
                    )
                    .route("/me", web::get().to(strict)),
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
async fn guards_as_middleware_and_every_header_of_a_refusal() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = start(&issuer).await;
    let alice = format!(
        "Bearer {}",
        issuer.token().audience(PUBLIC).subject("user:alice").sign()
    );
    let bob = format!(
        "Bearer {}",
        issuer.token().audience(PUBLIC).subject("user:bob").sign()
    );
    let r = send(
        "GET",
        &format!("{base}/alice"),
        &[("authorization", &alice)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["subject"].as_str()),
        (200, Some("user:alice"))
    );
    let r = send("GET", &format!("{base}/alice"), &[("authorization", &bob)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="alice""#));
    let r = send("GET", &format!("{base}/delete"), &[("authorization", &bob)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        r.challenges[0].contains(
            r#"resource_metadata="http://tools.test/.well-known/oauth-protected-resource""#
        )
    );
    // Anonymous through the optional middleware; the guard refuses with 401.
    let r = send("GET", &format!("{base}/me"), &[]).await;
    assert_eq!((r.status, r.body["subject"].clone()), (200, json!(null)));
    assert_eq!(
        send("GET", &format!("{base}/delete"), &[]).await.status,
        401
    );
}

#[actix_web::test]
async fn without_the_middleware_the_strict_extractor_is_a_500_and_options_are_none() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = start(&issuer).await;
    let t = format!("Bearer {}", issuer.token().audience(PUBLIC).sign());
    let r = send(
        "GET",
        &format!("{base}/unguarded/strict"),
        &[("authorization", &t)],
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains(".wrap(AgentAuthMiddleware::new(auth))")
    );
    // actix's own rule for Option<T>: any failure is None (why OptionalAgentIdentity exists).
    let r = send(
        "GET",
        &format!("{base}/unguarded/lenient"),
        &[("authorization", &t)],
    )
    .await;
    assert_eq!((r.status, r.body["subject"].clone()), (200, json!(null)));
    let r = send(
        "GET",
        &format!("{base}/.well-known/oauth-protected-resource"),
        &[],
    )
    .await;
    assert_eq!((r.status, r.body["resource"].as_str()), (200, Some(PUBLIC)));
}

/// Issue 23, item 7: every 401 and 403 names `resource_metadata` and the realm, DPoP-scheme
/// ones (`invalid_dpop_proof`, `use_dpop_nonce`, a bound token as Bearer) included.
#[actix_web::test]
async fn every_refusal_names_the_metadata_and_the_realm() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = verifier(&issuer)
        .dpop_nonces(authgent_core::dpop::NonceIssuer::generate().unwrap())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier).realm("tools").build().unwrap();
    let server = HttpServer::new(move || {
        App::new().service(
            web::scope("")
                .wrap(AgentAuthMiddleware::new(auth.clone()))
                .service(
                    web::resource("/delete")
                        .wrap(Require::all(["db:delete"]))
                        .route(web::get().to(subject)),
                )
                .route("/open", web::get().to(subject)),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let base = format!("http://{}", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    authgent_harness::challenges::Probe {
        base: &base,
        public_url: PUBLIC,
        audience: PUBLIC,
        issuer: &issuer,
        open_route: "/open",
        scoped_route: "/delete",
        method: "GET",
        bodies: None,
        realm: "tools",
        metadata_url: "http://tools.test/.well-known/oauth-protected-resource",
    }
    .run()
    .await
    .unwrap();
}

async fn transfer(_id: AgentIdentity, txn: authgent_actix::TransactionToken) -> HttpResponse {
    HttpResponse::Ok().json(json!({"txn": txn.txn, "for": txn.subject, "req_wl": txn.req_wl}))
}

/// Issue 23, item 8: the actix `TransactionToken` extractor, over HTTP, with a draft -11
/// validator.
#[actix_web::test]
async fn transaction_tokens_reach_the_handler_and_bad_ones_are_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    let trust = "https://trust.example";
    let verifier = verifier(&issuer).build().unwrap();
    let validator = authgent_core::txn::TxnTokenValidator::builder(trust)
        .issuer(issuer.issuer())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier)
        .transaction_tokens(validator)
        .build()
        .unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(AgentAuthMiddleware::new(auth.clone()))
            .route("/transfer", web::get().to(transfer))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/transfer", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    authgent_harness::txn::Probe {
        url: &url,
        issuer: &issuer,
        audience: PUBLIC,
        trust_domain: trust,
    }
    .run()
    .await
    .unwrap();
}
