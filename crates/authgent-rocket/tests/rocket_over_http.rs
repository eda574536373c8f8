//! What is specific to Rocket, over loopback HTTP with the testkit issuer: catchers only when
//! asked for (an application with its own catchers launches and renders authgent's refusals
//! through `AuthRejection::of`), the strict `OptionalAgentIdentity`, guard helpers returning
//! `AuthRejection`, the missing-fairing 500. The status table itself is the EXAMPLES.md
//! contract, run against `examples/rocket-resource-server`.

use authgent_core::ScopeRequirement;
use authgent_harness::contract::send;
use authgent_jwks::Verifier;
use authgent_rocket::{
    AgentAuth, AgentAuthFairing, AgentIdentity, AuthRejection, OptionalAgentIdentity,
};
use authgent_testkit::TestIssuer;
use rocket::http::{ContentType, Status};
use rocket::{Request, catch, catchers, get, routes};
use serde_json::json;

const PUBLIC: &str = "http://tools.test";

/// A verifier for `PUBLIC` trusting `issuer`, to finish configuring.
fn verifier(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(PUBLIC)
        .external_url(PUBLIC)
}

#[get("/delete")]
fn delete(id: AgentIdentity) -> Result<(ContentType, String), AuthRejection> {
    id.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    Ok((
        ContentType::JSON,
        json!({"subject": id.subject()}).to_string(),
    ))
}

#[get("/me")]
fn me(id: OptionalAgentIdentity) -> (ContentType, String) {
    let subject = id.0.map(|i| i.subject().to_owned());
    (ContentType::JSON, json!({"subject": subject}).to_string())
}

/// The application's own 401 catcher: authgent's refusal when there is one, else its own.
#[catch(401)]
fn app_401(req: &Request<'_>) -> Result<AuthRejection, (Status, &'static str)> {
    AuthRejection::of(req).ok_or((Status::Unauthorized, "app says no"))
}

#[catch(404)]
fn app_404() -> &'static str {
    "the app's own 404"
}

async fn launch(rocket: rocket::Rocket<rocket::Build>) -> String {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let config = rocket::Config {
        address: [127, 0, 0, 1].into(),
        port: 0,
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            ..Default::default()
        },
        ..rocket::Config::debug_default()
    };
    let rocket = rocket
        .configure(config)
        .attach(rocket::fairing::AdHoc::on_liftoff("port", move |r| {
            let port = r.config().port;
            Box::pin(async move {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(port);
                }
            })
        }));
    tokio::spawn(rocket.launch());
    format!("http://127.0.0.1:{}", rx.await.unwrap())
}

fn auth(issuer: &TestIssuer) -> AgentAuth {
    let verifier = verifier(issuer).build().unwrap();
    AgentAuth::builder(verifier).optional().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_with_its_own_catchers_launches_and_renders_authgents_refusals() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = launch(
        rocket::build()
            .register("/", catchers![app_401, app_404])
            .attach(AgentAuthFairing::new(auth(&issuer)))
            .mount("/", routes![delete, me]),
    )
    .await;
    let r = send("GET", &format!("{base}/delete"), &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.challenges[0].starts_with("Bearer "), "{:?}", r.challenges);
    assert_eq!(r.body["error"], "missing_credentials");
    let r = send("GET", &format!("{base}/nowhere"), &[]).await;
    assert_eq!(r.status, 404);
    // A helper's refusal is a responder: 403 with the challenge, no catcher involved.
    let t = format!("Bearer {}", issuer.token().audience(PUBLIC).sign());
    let r = send("GET", &format!("{base}/delete"), &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(r.challenges[0].contains(r#"scope="db:delete""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_catchers_the_optional_identity_is_strict_and_the_state_is_required() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = launch(
        rocket::build()
            .attach(AgentAuthFairing::new(auth(&issuer)).with_catchers())
            .mount("/", routes![delete, me]),
    )
    .await;
    let r = send("GET", &format!("{base}/me"), &[]).await;
    assert_eq!((r.status, r.body["subject"].clone()), (200, json!(null)));
    let bad = format!(
        "Bearer {}",
        issuer.token().audience(PUBLIC).expired().sign()
    );
    let r = send("GET", &format!("{base}/me"), &[("authorization", &bad)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // No fairing: the guard's 500 names it.
    let bare = launch(
        rocket::build()
            .register("/", authgent_rocket::catchers())
            .mount("/", routes![me]),
    )
    .await;
    let r = send("GET", &format!("{bare}/me"), &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("AgentAuthFairing")
    );
}

#[get("/open")]
fn open(id: AgentIdentity) -> String {
    id.subject().to_owned()
}

/// Issue 23, item 7: every 401 and 403 names `resource_metadata` and the realm, DPoP-scheme
/// ones (`invalid_dpop_proof`, `use_dpop_nonce`, a bound token as Bearer) included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_names_the_metadata_and_the_realm() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = verifier(&issuer)
        .dpop_nonces(authgent_core::dpop::NonceIssuer::generate().unwrap())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier).realm("tools").build().unwrap();
    let base = launch(
        rocket::build()
            .attach(AgentAuthFairing::new(auth).with_catchers())
            .mount("/", routes![open, delete]),
    )
    .await;
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

#[get("/transfer")]
fn transfer(_id: AgentIdentity, txn: authgent_rocket::TransactionToken) -> (ContentType, String) {
    let body = json!({"txn": txn.txn, "for": txn.subject, "req_wl": txn.req_wl});
    (ContentType::JSON, body.to_string())
}

/// Issue 23, item 8: the Rocket `TransactionToken` guard, over HTTP, with a draft -11
/// validator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    let base = launch(
        rocket::build()
            .attach(AgentAuthFairing::new(auth).with_catchers())
            .mount("/", routes![transfer]),
    )
    .await;
    authgent_harness::txn::Probe {
        url: &format!("{base}/transfer"),
        issuer: &issuer,
        audience: PUBLIC,
        trust_domain: trust,
    }
    .run()
    .await
    .unwrap();
}
