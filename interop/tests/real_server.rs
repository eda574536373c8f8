//! Against the real authgent-server 0.3.4 started by `cargo xtask test` (interop/README.md):
//! tokens of every kind the server issues, verified with keys discovered from it.

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_core::{AuthgentError, TokenError};
use authgent_harness::real_server::RealServer;
use authgent_jwks::Verifier;

fn parts(uri: &str, auth: &str, proof: &str) -> http::request::Parts {
    let req = http::Request::builder()
        .uri(uri)
        .header("authorization", auth)
        .header("dpop", proof);
    req.body(()).unwrap().into_parts().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_client_credentials_token_verifies_with_discovered_keys() {
    let server = RealServer::default_instance();
    let agent = server.register(&["search:execute", "read"]).await;
    let access = server
        .client_credentials(&agent, "search:execute read")
        .await;
    let v = Verifier::builder()
        .issuer(&server.url)
        .audience(&server.url)
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let id = v.verify_token(&access).await.unwrap();
    assert_eq!(id.subject(), agent.subject());
    assert_eq!(id.scopes(), ["search:execute", "read"]);
    assert_eq!(id.client_id(), Some(agent.client_id.as_str()));
    assert_eq!(id.delegation_chain().depth(), 0);
    assert_eq!(
        v.stats().metadata_fetches,
        1,
        "discovered through RFC 8414 metadata"
    );
    assert_eq!(
        v.key_info().unwrap().jwks_uri,
        format!("{}/.well-known/jwks.json", server.url)
    );
    // Audience: a resource-bound token carries its resource as aud.
    let fields = [
        ("grant_type", "client_credentials"),
        ("scope", "read"),
        ("resource", "https://api.example/mcp"),
    ];
    let r = server.token_request(&agent, &fields, None).await;
    assert_eq!(r.status, 200);
    let scoped = Verifier::builder()
        .issuer(&server.url)
        .external_url("https://tools.example")
        .audience("https://api.example/mcp")
        .build()
        .unwrap();
    scoped
        .verify_token(r.body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        scoped.verify_token(&access).await.unwrap_err(),
        AuthgentError::Token(TokenError::AudienceMismatch)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_delegation_chains_from_real_token_exchanges() {
    let server = RealServer::default_instance();
    let orchestrator = server.register(&["read", "write"]).await;
    let worker = server.register(&["read", "write"]).await;
    let tool = server.register(&["read"]).await;
    let root = server.client_credentials(&orchestrator, "read write").await;
    let hop1 = server
        .exchange(&worker, &root, "https://worker.example", "read write")
        .await;
    assert_eq!(hop1.status, 200, "{}", hop1.body);
    let hop1 = hop1.body["access_token"].as_str().unwrap().to_owned();
    let hop2 = server
        .exchange(&tool, &hop1, "https://tool.example", "read")
        .await;
    assert_eq!(hop2.status, 200, "{}", hop2.body);
    let v = Verifier::builder()
        .issuer(&server.url)
        .external_url("https://tools.example")
        .audience("https://tool.example")
        .build()
        .unwrap();
    let id = v
        .verify_token(hop2.body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let chain = id.delegation_chain();
    let actors: Vec<&str> = chain.actors().iter().map(|a| a.subject()).collect();
    assert_eq!(actors, [tool.subject(), worker.subject()], "newest first");
    assert_eq!(chain.root_subject(), orchestrator.subject());
    assert!(!chain.human_root());
    // The server refuses to widen scope.
    let wider = server
        .exchange(&tool, &hop1, "https://x.example", "read write")
        .await;
    assert_eq!(wider.status, 403, "{}", wider.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_dpop_bound_token_with_rust_made_proofs() {
    let server = RealServer::default_instance();
    let agent = server.register(&["read"]).await;
    let key = DpopKey::generate_es256().unwrap();
    let access = server.dpop_token(&agent, "read", &key).await; // the server accepted our proof
    let v = Verifier::builder()
        .issuer(&server.url)
        .audience(&server.url)
        .external_url("https://api.example")
        .build()
        .unwrap();
    let proof = key
        .proof(
            "GET",
            "https://api.example/data",
            Some(&access),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let id = v
        .verify(&parts("/data", &format!("DPoP {access}"), &proof))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        id.dpop_jkt(),
        Some(key.jkt()),
        "cnf.jkt is the Rust key's RFC 7638 thumbprint"
    );
    assert_eq!(
        v.verify_token(&access).await.unwrap_err(),
        AuthgentError::Token(TokenError::DpopBoundAsBearer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_require_dpop_server_nonce_flow() {
    let server = RealServer::require_dpop_instance();
    let agent = server.register(&["read"]).await;
    let key = DpopKey::generate_es256().unwrap();
    let htu = format!("{}/token", server.url);
    let grant = [("grant_type", "client_credentials"), ("scope", "read")];
    let first = key
        .proof("POST", &htu, None, None, SystemTime::now())
        .unwrap();
    let r = server.token_request(&agent, &grant, Some(&first)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("use_dpop_nonce")),
        "{}",
        r.body
    );
    let nonce = r.dpop_nonce.expect("DPoP-Nonce header");
    let retry = key
        .proof("POST", &htu, None, Some(&nonce), SystemTime::now())
        .unwrap();
    let r = server.token_request(&agent, &grant, Some(&retry)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "DPoP");
    let v = Verifier::builder()
        .issuer(&server.url)
        .audience(&server.url)
        .external_url("http://localhost") // the origin the proof below names
        .build()
        .unwrap();
    let access = r.body["access_token"].as_str().unwrap();
    let proof = key
        .proof(
            "GET",
            "http://localhost/x",
            Some(access),
            None,
            SystemTime::now(),
        )
        .unwrap();
    assert!(
        v.verify(&parts(
            "http://localhost/x",
            &format!("DPoP {access}"),
            &proof
        ))
        .await
        .unwrap()
        .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_key_rotation_picked_up_by_the_verifier() {
    let server = RealServer::default_instance();
    let agent = server.register(&["read"]).await;
    let v = Verifier::builder()
        .issuer(&server.url)
        .audience(&server.url)
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let before = server.client_credentials(&agent, "read").await;
    v.verify_token(&before).await.unwrap();
    let kids_before = v.key_info().unwrap().kids;
    server.rotate_keys();
    let after = server.client_credentials(&agent, "read").await;
    assert_eq!(
        v.verify_token(&after).await.unwrap().subject(),
        agent.subject()
    );
    let kids_after = v.key_info().unwrap().kids;
    assert_eq!(
        kids_after.len(),
        kids_before.len() + 1,
        "new key picked up, old one still published"
    );
    v.verify_token(&before).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_human_rooted_chain_from_an_id_token_exchange() {
    let server = RealServer::default_instance();
    let worker = server.register(&["read", "write"]).await;
    let tool = server.register(&["read"]).await;
    let hop1 = server
        .exchange_id_token(
            &worker,
            &server.id_token("alice"),
            "https://worker.example",
            "read write",
        )
        .await;
    assert_eq!(hop1.status, 200, "{}", hop1.body);
    let hop1 = hop1.body["access_token"].as_str().unwrap().to_owned();
    let hop2 = server
        .exchange(&tool, &hop1, "https://tool.example", "read")
        .await;
    assert_eq!(hop2.status, 200, "{}", hop2.body);
    let v = Verifier::builder()
        .issuer(&server.url)
        .audience("https://tool.example")
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let id = v
        .verify_token(hop2.body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let chain = id.delegation_chain();
    assert_eq!(chain.root_subject(), "user:alice");
    assert!(
        chain.human_root(),
        "human-rooted by sub and the human_root claim"
    );
    assert_eq!(chain.human_root_claim(), Some(true));
    let actors: Vec<&str> = chain.actors().iter().map(|a| a.subject()).collect();
    assert_eq!(actors, [tool.subject(), worker.subject()]);
    // The Python SDK 0.3.4 looks at the innermost actor (an agent) and so reports no human
    // root for this real human-rooted chain; we decide on the root subject.
    assert!(
        !chain
            .original_actor()
            .unwrap()
            .subject()
            .starts_with("user:")
    );
    assert_eq!(id.claims().idp_subject(), Some("alice"));
}
