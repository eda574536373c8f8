//! Cross-checks with the Python SDK `authgent` 0.3.4 (the venv `cargo xtask test` installs),
//! on tokens from the real authgent-server: DPoP proofs made by either SDK pass the other's
//! verification, and both SDKs read the same identity from every token — except `human_root`,
//! where the Python SDK is wrong (see `both_sdks_agree…` below and docs/interop.md).

mod common;

use std::time::SystemTime;

use authgent_client::{ExchangeRequest, McpAuthProvider, token_type};
use authgent_core::dpop::DpopKey;
use authgent_harness::real_server::RealServer;
use authgent_jwks::Verifier;
use common::{agent, client, default_url, dpop_client};
use serde_json::{Value, json};

/// Runs `interop/python/sdk_probe.py` with `request` on the venv's python.
async fn python(request: Value) -> Value {
    authgent_harness::real_server::python_probe("sdk_probe.py", &request).await
}

#[tokio::test]
async fn interop_python_sdk_accepts_rust_made_dpop_proofs() {
    let auth = dpop_client(&default_url());
    let key = auth.dpop_key().unwrap();
    let a = agent(&auth, &["read"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    let mcp = McpAuthProvider::new(default_url(), default_url()).unwrap(); // tokens requested without a resource carry aud = the server URL
    let uri = &format!("{}/search", default_url()); // the provider's origin (issue 23, item 6)
    let proof = |k: &DpopKey, method: &str| {
        k.proof(
            method,
            uri,
            Some(token.access_token.expose()),
            None,
            SystemTime::now(),
        )
        .unwrap()
    };
    let ours = proof(key, "GET");
    let identity = mcp
        .verify_dpop(token.access_token.expose(), &ours, "GET", uri)
        .await
        .expect("Rust accepts its own proof");
    let claims = Value::Object(identity.claims().raw().clone());

    let answer = python(json!({
        "op": "verify_dpop", "claims": claims, "proof": ours, "method": "GET", "uri": uri,
    }))
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        answer["jkt"],
        key.jkt(),
        "both SDKs compute the same RFC 7638 thumbprint"
    );

    // And Python refuses what it should: another key, another method.
    let foreign = DpopKey::generate_es256().unwrap();
    for (bad, method) in [(proof(&foreign, "GET"), "GET"), (proof(key, "POST"), "GET")] {
        let answer = python(json!({
            "op": "verify_dpop", "claims": claims, "proof": bad, "method": method, "uri": uri,
        }))
        .await;
        assert_eq!(answer["ok"], false, "{answer}");
        assert!(
            mcp.verify_dpop(token.access_token.expose(), &bad, method, uri)
                .await
                .is_err(),
            "Rust refuses it too"
        );
    }
}

#[tokio::test]
async fn interop_rust_accepts_python_made_dpop_proofs() {
    let auth = client();
    let a = agent(&auth, &["read"]).await;
    let uri = &format!("{}/call", default_url()); // the provider's origin (issue 23, item 6)
    let answer = python(json!({
        "op": "dpop_token", "server": default_url(), "client_id": a.client_id,
        "client_secret": a.client_secret.expose(), "scope": "read", "method": "POST", "uri": uri,
    }))
    .await;
    assert!(answer.get("error").is_none(), "{answer}");
    assert_eq!(answer["token_type"], "DPoP");
    let (token, proof, jkt) = (
        answer["token"].as_str().unwrap(),
        answer["proof"].as_str().unwrap(),
        answer["jkt"].as_str().unwrap(),
    );
    let mcp = McpAuthProvider::new(default_url(), default_url()).unwrap(); // tokens requested without a resource carry aud = the server URL
    let identity = mcp
        .verify_dpop(token, proof, "POST", uri)
        .await
        .expect("a Python-made proof, for a token the real server bound to Python's key");
    assert_eq!(identity.dpop_jkt(), Some(jkt));
    assert_eq!(identity.subject(), a.subject());
    // Bound to its request: another URI or method is refused, and so is a replay.
    let other_uri = mcp
        .verify_dpop(token, proof, "POST", &format!("{}/other", default_url()))
        .await;
    assert_eq!(other_uri.unwrap_err().code(), "invalid_dpop_proof");
    let other_method = mcp.verify_dpop(token, proof, "GET", uri).await;
    assert_eq!(other_method.unwrap_err().code(), "invalid_dpop_proof");
    let replay = mcp.verify_dpop(token, proof, "POST", uri).await;
    assert_eq!(replay.unwrap_err().code(), "invalid_dpop_proof");
}

#[derive(Debug, PartialEq)]
struct Reading {
    subject: String,
    scopes: Vec<String>,
    depth: usize,
    actors: Vec<String>,
    human_root: bool,
}

fn python_reading(v: &Value) -> Reading {
    assert!(v.get("error").is_none(), "Python SDK refused: {v}");
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    Reading {
        subject: v["subject"].as_str().unwrap().to_owned(),
        scopes: strings("scopes"),
        depth: v["depth"].as_u64().unwrap() as usize,
        actors: strings("actors"),
        human_root: v["human_root"].as_bool().unwrap(),
    }
}

/// The Python SDK's `human_root` is "the innermost actor's `sub` starts with `user:`". But the
/// chain's root is the token's `sub` (RFC 8693 §4.1: `act` names the actors, `sub` the party
/// they act for), and authgent-server marks id_token-rooted chains with `sub = user:<idp sub>`
/// and `human_root: true` — their innermost actor is always a `client:`. So Python says `false`
/// for every human-rooted chain, and Rust says `true`. On every other field they agree.
#[tokio::test]
async fn interop_both_sdks_agree_on_identity_and_differ_on_human_root_where_python_is_wrong() {
    let auth = client();
    let real = RealServer::default_instance();
    let root = agent(&auth, &["read", "write"]).await;
    let hops: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(agent(&auth, &["read", "write"]).await);
        }
        v
    };
    let exchange = |actor: &authgent_client::RegisteredAgent, subject: &str, subject_type: &str| {
        let auth = auth.clone();
        let creds = actor.credentials();
        let request = ExchangeRequest::new(subject)
            .subject_token_type(subject_type)
            .audience("https://next.example")
            .scope("read");
        async move {
            auth.exchange_token(&creds, &request)
                .await
                .unwrap()
                .access_token
        }
    };
    let mut tokens: Vec<(&str, String)> = Vec::new();
    let plain = auth
        .get_token(&root.credentials(), Some("read write"), None)
        .await
        .unwrap()
        .access_token;
    tokens.push(("plain", plain.expose().to_owned()));
    let bound = auth
        .get_token(
            &root.credentials(),
            Some("read"),
            Some("https://tools.example"),
        )
        .await
        .unwrap();
    tokens.push(("resource-bound", bound.access_token.expose().to_owned()));
    let mut current = plain.expose().to_owned();
    for (i, hop) in hops.iter().enumerate() {
        let next = exchange(hop, &current, token_type::ACCESS_TOKEN).await;
        current = next.expose().to_owned();
        if matches!(i + 1, 1 | 2 | 5) {
            tokens.push((
                ["", "1-hop", "2-hop", "", "", "5-hop"][i + 1],
                current.clone(),
            ));
        }
    }
    let id_token = real.id_token("alice");
    let human1 = exchange(&hops[0], &id_token, token_type::ID_TOKEN).await;
    tokens.push(("human-rooted 1-hop", human1.expose().to_owned()));
    let human2 = exchange(&hops[1], human1.expose(), token_type::ACCESS_TOKEN).await;
    tokens.push(("human-rooted 2-hop", human2.expose().to_owned()));

    let answer = python(json!({
        "op": "identities", "issuer": default_url(),
        "tokens": tokens.iter().map(|(_, t)| t).collect::<Vec<_>>(),
    }))
    .await;
    // The tokens were issued for the server itself, for tools.example, and (exchanged) for
    // next.example: one verifier for the three resources.
    let v = Verifier::builder()
        .issuer(default_url())
        .audience(default_url())
        .audience("https://tools.example")
        .audience("https://next.example")
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let mut differences = Vec::new();
    for ((name, token), py) in tokens.iter().zip(answer.as_array().unwrap()) {
        let id = v
            .verify_token(token)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let chain = id.delegation_chain();
        let rust = Reading {
            subject: id.subject().to_owned(),
            scopes: id.scopes().to_vec(),
            depth: chain.depth(),
            actors: chain
                .actors()
                .iter()
                .map(|a| a.subject().to_owned())
                .collect(),
            human_root: chain.human_root(),
        };
        let python = python_reading(py);
        assert_eq!(
            (&rust.subject, &rust.scopes, rust.depth, &rust.actors),
            (
                &python.subject,
                &python.scopes,
                python.depth,
                &python.actors
            ),
            "{name}: the SDKs disagree"
        );
        if rust.human_root != python.human_root {
            differences.push((*name, rust.human_root, python.human_root));
        }
        if name.starts_with("human") {
            assert!(
                rust.subject.starts_with("user:"),
                "{name}: {}",
                rust.subject
            );
            assert_eq!(id.claims().human_root(), Some(true), "the server marks it");
        }
    }
    assert_eq!(
        differences,
        [
            ("human-rooted 1-hop", true, false),
            ("human-rooted 2-hop", true, false)
        ],
        "Rust: human_root is the root (`sub`); Python looks at the innermost actor instead"
    );
}

/// The Python SDK splits `WWW-Authenticate` on spaces, so a challenge naming two scopes loses
/// the second, and `scope=` inside a quoted description overrides the real parameter; the
/// Rust handler uses the core's RFC 9110 parser. Real challenges come from the axum adapter over HTTP.
#[tokio::test]
async fn interop_scope_challenges_rust_reads_every_scope_python_loses_some() {
    use authgent_client::ScopeChallenge;
    use authgent_core::ScopeRequirement;
    use authgent_jwks::Verifier;
    use axum::routing::get;

    let auth = client();
    let a = agent(&auth, &["read"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    // A resource needing two scopes, behind the axum adapter.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let verifier = Verifier::builder()
        .issuer(default_url())
        .audience(default_url())
        .external_url(&base)
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/wire",
            get(|id: authgent_axum::AgentIdentity| async move {
                id.require_scopes(&ScopeRequirement::all(["bank:transfer", "bank:read"]))
                    .map(|()| "ok")
                    .map_err(authgent_axum::AuthRejection::from)
            }),
        )
        .layer(authgent_axum::AgentAuthLayer::new(
            authgent_axum::AgentAuth::builder(verifier).build().unwrap(),
        ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let response = reqwest::Client::new()
        .get(format!("{base}/wire"))
        .bearer_auth(token.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let header = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let rust = ScopeChallenge::from_response(response.status(), response.headers()).unwrap();
    assert_eq!(rust.scopes, ["bank:transfer", "bank:read"], "{header}");

    // A description mentioning another scope: Python takes it for the `scope` parameter.
    let crafted = r#"Bearer error="insufficient_scope", scope="bank:transfer", error_description="ask for scope=admin""#;
    let python = python(json!({"op": "scope_challenges", "headers": [header, crafted]})).await;
    assert_eq!(
        python[0], "bank:transfer",
        "Python keeps only the first scope"
    );
    assert_eq!(
        python[1], "admin",
        "Python reads the scope out of the description"
    );
    let mut h = http::HeaderMap::new();
    h.insert("www-authenticate", crafted.parse().unwrap());
    let rust = ScopeChallenge::from_response(http::StatusCode::FORBIDDEN, &h).unwrap();
    assert_eq!(rust.scopes, ["bank:transfer"]);
}
