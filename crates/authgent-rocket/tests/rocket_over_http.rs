//! A Rocket app on 127.0.0.1:0 with the testkit issuer: statuses and challenges, Bearer and
//! DPoP, optional identity (strict), guard helpers, missing state, metadata, cold outage.

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_core::metadata::ProtectedResourceMetadata;
use authgent_core::{ChainPolicy, ScopeRequirement};
use authgent_jwks::Verifier;
use authgent_rocket::{AgentAuth, AgentIdentity, AuthError, OptionalAgentIdentity};
use authgent_testkit::contract::send;
use authgent_testkit::{Fault, TestIssuer};
use rocket::http::ContentType;
use rocket::{get, post, routes};
use serde_json::json;

const PUBLIC: &str = "http://tools.test";

fn identity_json(id: &AgentIdentity) -> (ContentType, String) {
    let chain = id.delegation_chain();
    let body = json!({
        "authenticated": true, "subject": id.subject(), "delegation_depth": chain.depth(),
        "actors": chain.actors().iter().map(|a| a.subject()).collect::<Vec<_>>(),
        "human_root": chain.human_root(), "dpop_jkt": id.dpop_jkt(),
    });
    (ContentType::JSON, body.to_string())
}

#[post("/tools/search")]
fn search(id: AgentIdentity) -> Result<(ContentType, String), AuthError> {
    id.require_scopes(&ScopeRequirement::all(["search:execute"]))?;
    Ok(identity_json(&id))
}

#[get("/chain/human")]
fn human(id: AgentIdentity) -> Result<(ContentType, String), AuthError> {
    id.require_chain(&ChainPolicy::builder().require_human_root(true).build())?;
    Ok(identity_json(&id))
}

#[get("/me")]
fn me(id: OptionalAgentIdentity) -> (ContentType, String) {
    id.0.map_or_else(
        || {
            (
                ContentType::JSON,
                json!({"authenticated": false}).to_string(),
            )
        },
        |id| identity_json(&id),
    )
}

#[get("/plain")]
fn plain(id: AgentIdentity) -> (ContentType, String) {
    identity_json(&id)
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

async fn app(issuer: &TestIssuer) -> String {
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
        .resource_metadata(doc.well_known_url().unwrap())
        .build();
    launch(
        rocket::build()
            .attach(auth.fairing())
            .mount("/", routes![search, human, me, plain])
            .mount("/", authgent_rocket::resource_metadata_routes(doc)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_guards_and_strict_optional_identity() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let bearer = |t: String| format!("Bearer {t}");

    let r = send("POST", &format!("{base}/tools/search"), &[]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    assert!(r.challenges[0].starts_with("Bearer ") && !r.challenges[0].contains("error="));
    assert!(r.challenges[0].contains("resource_metadata="));

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
    assert_eq!(
        send(
            "GET",
            &format!("{base}/chain/human"),
            &[("authorization", &ok)]
        )
        .await
        .status,
        200
    );

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
    let r = send(
        "GET",
        &format!("{base}/chain/human"),
        &[("authorization", &read)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("no_human_root"))
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
            "{t}: invalid is never anonymous"
        );
        assert!(r.challenges[0].contains(r#"error="invalid_token""#));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_success_replay_and_bound_as_bearer() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_missing_state_and_cold_outage() {
    let issuer = TestIssuer::start().await.unwrap();
    let base = app(&issuer).await;
    let r = send(
        "GET",
        &format!("{base}/.well-known/oauth-protected-resource"),
        &[],
    )
    .await;
    assert_eq!((r.status, r.body["resource"].as_str()), (200, Some(PUBLIC)));
    issuer.set_fault(Fault::Status(500));
    let t = format!("Bearer {}", issuer.token().sign());
    let r = send("GET", &format!("{base}/plain"), &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(r.header("retry-after").is_some());

    // A guard without the fairing: 500 naming the fix.
    let bare = launch(rocket::build().mount("/", routes![plain])).await;
    let r = send("GET", &format!("{bare}/plain"), &[("authorization", &t)]).await;
    assert_eq!(r.status, 500);
}
