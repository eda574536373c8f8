//! The test issuer over real HTTP: documents served, tokens minted, keys rotated, faults.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::{Algorithm, KeySet, TokenValidator};
use authgent_testkit::{Discovery, Fault, TestIssuer};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn keys_of(issuer: &TestIssuer) -> KeySet {
    KeySet::from_jwks_json(issuer.jwks().to_string().as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_jwks_and_rfc8414_metadata_and_counts_fetches() {
    let issuer = TestIssuer::start().await.unwrap();
    assert!(issuer.url().starts_with("http://127.0.0.1:"));
    let (status, body) = get(&issuer.jwks_url()).await;
    assert_eq!(status, 200);
    let jwks: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "test-key-1");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(jwks["keys"][0].get("d").is_none(), "public keys only");
    let (status, body) = get(&format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.url()
    ))
    .await;
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["issuer"], issuer.issuer());
    assert_eq!(meta["jwks_uri"], issuer.jwks_url());
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (1, 1));
    assert_eq!(get(&format!("{}/nothing", issuer.url())).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_tokens_verify_with_the_served_keys_and_carry_what_was_asked() {
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer
        .token()
        .subject("user:alice")
        .scopes(["search:execute", "read"])
        .audiences(["https://a", "https://b"])
        .actors(["client:tool", "client:worker", "client:orchestrator"])
        .human_root(true)
        .dpop_jkt("jkt-value")
        .claim("team", json!("blue"))
        .typ("at+jwt")
        .sign();
    let validator = TokenValidator::builder(issuer.issuer())
        .audience("https://b")
        .build()
        .unwrap();
    let id = validator
        .verify(&token, &keys_of(&issuer), SystemTime::now())
        .unwrap();
    assert_eq!(id.subject(), "user:alice");
    assert_eq!(id.scopes(), ["search:execute", "read"]);
    let actors: Vec<&str> = id
        .delegation_chain()
        .actors()
        .iter()
        .map(|a| a.subject())
        .collect();
    assert_eq!(
        actors,
        ["client:tool", "client:worker", "client:orchestrator"],
        "newest first"
    );
    assert!(id.delegation_chain().human_root());
    assert_eq!(id.dpop_jkt(), Some("jkt-value"));
    assert_eq!(id.claim("team"), Some(&json!("blue")));

    let expired = issuer.token().expired().sign();
    assert!(
        validator
            .verify(&expired, &keys_of(&issuer), SystemTime::now())
            .is_err()
    );
    let later = issuer
        .token()
        .expires_in(Duration::from_secs(3600))
        .audience("https://b")
        .sign();
    let id = validator
        .verify(&later, &keys_of(&issuer), SystemTime::now())
        .unwrap();
    let exp = id
        .expires_at()
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((3590..=3610).contains(&(exp - now)));
    let no_exp = issuer.token().without_claim("exp").sign();
    assert!(
        validator
            .verify(&no_exp, &keys_of(&issuer), SystemTime::now())
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_algorithms_on_request() {
    for alg in [Algorithm::Rs256, Algorithm::Ps256, Algorithm::EdDsa] {
        let issuer = TestIssuer::builder().algorithm(alg).start().await.unwrap();
        let token = issuer.token().sign();
        let validator = TokenValidator::builder(issuer.issuer())
            .audience(issuer.issuer())
            .build()
            .unwrap();
        validator
            .verify(&token, &keys_of(&issuer), SystemTime::now())
            .unwrap();
        assert_eq!(issuer.jwks()["keys"][0]["alg"], alg.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_old_keys_published_until_retired() {
    let issuer = TestIssuer::start().await.unwrap();
    let old = issuer.token().sign();
    let new_kid = issuer.rotate_keys();
    assert_eq!(new_kid, "test-key-2");
    let new = issuer.token().sign();
    let validator = TokenValidator::builder(issuer.issuer())
        .audience(issuer.issuer())
        .build()
        .unwrap();
    for t in [&old, &new] {
        validator
            .verify(t, &keys_of(&issuer), SystemTime::now())
            .unwrap();
    }
    issuer.retire_previous_keys();
    assert!(
        validator
            .verify(&old, &keys_of(&issuer), SystemTime::now())
            .is_err()
    );
    validator
        .verify(&new, &keys_of(&issuer), SystemTime::now())
        .unwrap();
    let late = issuer.token().signed_with("test-key-1").sign();
    assert!(
        validator
            .verify(&late, &keys_of(&issuer), SystemTime::now())
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_over_real_http() {
    let issuer = TestIssuer::start().await.unwrap();
    let url = issuer.jwks_url();
    issuer.set_fault(Fault::Status(503));
    assert_eq!(get(&url).await.0, 503);
    issuer.set_fault(Fault::Garbage);
    let (status, body) = get(&url).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err());
    issuer.set_fault(Fault::HugeBody(500_000));
    assert_eq!(get(&url).await.1.len(), 500_000);
    issuer.set_fault(Fault::Redirect("http://127.0.0.1:9/elsewhere".into()));
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "http://127.0.0.1:9/elsewhere");
    issuer.set_fault(Fault::DropConnection);
    assert!(client().get(&url).send().await.is_err());
    issuer.set_fault(Fault::Delay(Duration::from_secs(30)));
    let slow = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(slow.get(&url).send().await.unwrap_err().is_timeout());
    issuer.set_fault(Fault::None);
    assert_eq!(get(&url).await.0, 200);
    // Every answered request was counted (a dropped connection never reaches the handler).
    assert_eq!(issuer.requests_to("/oauth/jwks"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_modes_overrides_and_cache_control() {
    let issuer = TestIssuer::builder()
        .issuer_path("/t")
        .start()
        .await
        .unwrap();
    let rfc8414 = format!("{}/.well-known/oauth-authorization-server/t", issuer.url());
    let openid = format!("{}/t/.well-known/openid-configuration", issuer.url());
    assert_eq!(get(&rfc8414).await.0, 200);
    assert_eq!(get(&openid).await.0, 200);
    issuer.set_discovery(Discovery::OpenIdOnly);
    assert_eq!(get(&rfc8414).await.0, 404);
    assert_eq!(get(&openid).await.0, 200);
    issuer.set_discovery(Discovery::JwksOnly);
    assert_eq!(get(&openid).await.0, 404);
    issuer.set_metadata(Some(json!({"issuer": "x"})));
    issuer.set_discovery(Discovery::Full);
    assert_eq!(get(&rfc8414).await.1, r#"{"issuer":"x"}"#);
    issuer.set_jwks(Some(json!({"keys": []})));
    assert_eq!(get(&issuer.jwks_url()).await.1, r#"{"keys":[]}"#);
    issuer.set_cache_control(Some("max-age=60"));
    let r = client().get(issuer.jwks_url()).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "max-age=60");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_issuer_stops_the_server() {
    let issuer = TestIssuer::start().await.unwrap();
    let url = issuer.jwks_url();
    assert_eq!(get(&url).await.0, 200);
    drop(issuer);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(&url).send().await.is_err(),
        "nothing listens any more"
    );
}
