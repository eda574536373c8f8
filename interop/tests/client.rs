//! `authgent-client` against the real authgent-server 0.3.4 (started by `cargo xtask test`):
//! every client method, and every token kind it issues verified with `authgent-jwks` (keys
//! discovered from the real server).

mod common;

use std::time::{Duration, SystemTime};

use authgent_client::{
    AgentAuthClient, ClientAuthMethod, ClientError, ClientRegistration, ExchangeRequest,
    ScopeChallengeHandler, StepUpApprover, StepUpOutcome, StepUpRequest, StepUpStatus, TokenKey,
    TokenManager, TxnTokenRequest, grant_type, token_type,
};
use authgent_core::dpop::{DpopKey, NonceIssuer};
use authgent_core::request::DpopMode;
use authgent_core::txn::TxnTokenValidator;
use authgent_core::{AuthgentError, KeySet};
use authgent_harness::real_server::{RealServer, required_env};
use authgent_jwks::Verifier;
use common::{
    agent, client, default_resource_server, default_url, dpop_client, manager, resource_server,
    unique, verifier,
};

/// The human approver's client: separate from the agent's, with its own credential.
fn approver(url: &str) -> StepUpApprover {
    StepUpApprover::builder(url, "interop-approver-credential")
        .build()
        .unwrap()
}

#[tokio::test]
async fn interop_client_discovers_metadata_and_registers_agents() {
    let auth = client();
    let meta = auth.discover().await.expect("discovery");
    assert_eq!(meta.issuer, default_url());
    assert_eq!(auth.token_endpoint(), format!("{}/token", default_url()));
    assert!(
        meta.grant_types_supported
            .iter()
            .any(|g| g == grant_type::TOKEN_EXCHANGE)
    );

    let a = agent(&auth, &["read", "write"]).await;
    assert!(a.client_id.starts_with("agnt_"), "{}", a.client_id);
    assert_eq!(a.allowed_scopes, ["read", "write"]);
    assert!(!format!("{a:?}").contains(a.client_secret.expose()));
    assert_eq!(a.subject(), format!("client:{}", a.client_id));

    // A server whose metadata names another issuer is refused, never followed.
    let wrong = AgentAuthClient::new(default_url().replace("127.0.0.1", "localhost")).unwrap();
    let err = wrong.discover().await.unwrap_err();
    assert_eq!(err.code(), "invalid_response", "{err}");
}

#[tokio::test]
async fn interop_client_credentials_plain_and_resource_bound_tokens_verify() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read write"), None)
        .await
        .expect("token");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scopes().collect::<Vec<_>>(), ["read", "write"]);
    assert!(token.expires_in.is_some_and(|s| s > 60));
    assert!(!format!("{token:?}").contains(token.access_token.expose()));

    let id = verifier(&default_url())
        .verify_token(token.access_token.expose())
        .await
        .expect("plain token verifies");
    assert_eq!(id.subject(), a.subject());
    assert_eq!(id.scopes(), ["read", "write"]);
    assert_eq!(id.audience(), [default_url()]);
    assert_eq!(id.delegation_chain().depth(), 0);

    // Resource-bound (RFC 8707), with client_secret_basic this time.
    let basic = AgentAuthClient::builder(default_url())
        .auth_method(ClientAuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    let bound = basic
        .get_token(
            &a.credentials(),
            Some("read"),
            Some("https://tools.example"),
        )
        .await
        .expect("resource-bound token");
    let tools = Verifier::builder()
        .issuer(default_url())
        .external_url("https://tools.example")
        .audience("https://tools.example")
        .build()
        .unwrap();
    let id = tools
        .verify_token(bound.access_token.expose())
        .await
        .expect("resource-bound token verifies for its audience");
    assert_eq!(id.audience(), ["https://tools.example"]);
    let other = Verifier::builder()
        .issuer(default_url())
        .external_url("https://tools.example")
        .audience("https://other.example")
        .build()
        .unwrap();
    let err = other
        .verify_token(bound.access_token.expose())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_token");

    // Wrong secret: the server's code, typed.
    let wrong = authgent_client::ClientCredentials::new(a.client_id.clone(), "wrong");
    let err = auth.get_token(&wrong, None, None).await.unwrap_err();
    let server = err.server_error().expect("a server refusal");
    assert_eq!(
        (server.status, server.code.as_str()),
        (401, "invalid_client")
    );
    assert!(server.www_authenticate.is_some());
    assert!(!err.is_transient());
}

#[tokio::test]
async fn interop_delegation_chains_1_2_5_hops_verify_and_depth_6_is_refused() {
    let auth = client();
    let root = agent(&auth, &["read", "write"]).await;
    let mut token = auth
        .get_token(&root.credentials(), Some("read write"), None)
        .await
        .unwrap()
        .access_token;
    // Each hop is exchanged for its own audience; one verifier serves all five resources.
    let mut hops = Verifier::builder()
        .issuer(default_url())
        .external_url("https://tools.example");
    for hop in 1..=5 {
        hops = hops.audience(format!("https://hop{hop}.example"));
    }
    let v = hops.build().unwrap();
    let mut actors: Vec<String> = Vec::new();
    for hop in 1..=5 {
        let actor = agent(&auth, &["read"]).await;
        let audience = format!("https://hop{hop}.example");
        let exchanged = auth
            .exchange_token(
                &actor.credentials(),
                &ExchangeRequest::new(token.clone())
                    .audience(&audience)
                    .scope("read"),
            )
            .await
            .unwrap_or_else(|e| panic!("hop {hop}: {e}"));
        assert_eq!(exchanged.scope.as_deref(), Some("read"));
        actors.insert(0, actor.subject());
        let id = v
            .verify_token(exchanged.access_token.expose())
            .await
            .unwrap();
        let chain = id.delegation_chain();
        assert_eq!(chain.depth(), hop);
        assert_eq!(id.subject(), root.subject(), "the root stays the subject");
        let got: Vec<&str> = chain.actors().iter().map(|a| a.subject()).collect();
        assert_eq!(got, actors, "newest actor first");
        assert!(!chain.human_root(), "an agent-rooted chain");
        token = exchanged.access_token;
    }
    let sixth = agent(&auth, &["read"]).await;
    let err = auth
        .exchange_token(
            &sixth.credentials(),
            &ExchangeRequest::new(token)
                .audience("https://hop6.example")
                .scope("read"),
        )
        .await
        .unwrap_err();
    let server = err.server_error().expect("refused by the server");
    assert_eq!(
        (server.status, server.code.as_str()),
        (403, "delegation_depth_exceeded")
    );
}

#[tokio::test]
async fn interop_scope_escalation_is_refused_and_check_exchange_predicts_it() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let b = agent(&auth, &["read", "write"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    let subject = token.access_token.expose();

    let ok = auth
        .check_exchange(subject, "https://b.example", &b.client_id, "read")
        .await
        .unwrap();
    assert!(ok.allowed, "{ok:?}");
    assert_eq!(ok.effective_scopes, ["read"]);
    assert_eq!(
        ok.delegation_depth, 0,
        "0.3.4 reports the subject token's depth"
    );
    assert_eq!(ok.max_delegation_depth, 5);

    let no = auth
        .check_exchange(subject, "https://b.example", &b.client_id, "read write")
        .await
        .unwrap();
    assert!(!no.allowed);
    assert!(no.reasons.iter().any(|r| r.contains("write")), "{no:?}");

    let err = auth
        .exchange_token(
            &b.credentials(),
            &ExchangeRequest::new(token.access_token.clone())
                .audience("https://b.example")
                .scope("read write"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "scope_escalation", "{err}");
    assert_eq!(err.server_error().map(|e| e.status), Some(403));
}

#[tokio::test]
async fn interop_dpop_bound_tokens_with_rust_proofs_and_a_resource_server_nonce() {
    let auth = dpop_client(&default_url());
    let key = auth.dpop_key().unwrap();
    let a = agent(&auth, &["read"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    assert!(token.is_dpop(), "{}", token.token_type);
    let intro = auth
        .introspect_token(token.access_token.expose(), None)
        .await
        .unwrap();
    // 0.3.4 reports a bound token as token_type DPoP but leaves `cnf` out of introspection.
    assert_eq!(intro.token_type.as_deref(), Some("DPoP"));
    assert!(
        intro
            .cnf
            .is_none_or(|c| c.jkt.as_deref() == Some(key.jkt()))
    );

    // A resource server that requires DPoP and nonces; the TokenManager answers its
    // use_dpop_nonce challenge once and remembers the nonce.
    let nonces = NonceIssuer::generate().unwrap();
    let rs = resource_server(|base| {
        Verifier::builder()
            .issuer(default_url())
            .audience(default_url())
            .external_url(base)
            .dpop_mode(DpopMode::Required)
            .dpop_nonces(nonces)
            .build()
            .unwrap()
    })
    .await;
    let tokens = manager(&auth, &a, "read", &rs);
    let http = reqwest::Client::new();
    let response = tokens.send(http.get(format!("{rs}/whoami"))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), a.subject());
    let again = tokens
        .send(http.get(format!("{rs}/whoami?x=1")))
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "second call uses the remembered nonce");
    // It did need the nonce: a correct proof without one is challenged.
    let token_for_rs = tokens.token().await.unwrap();
    let no_nonce = http
        .get(format!("{rs}/whoami"))
        .header(
            "authorization",
            format!("DPoP {}", token_for_rs.access_token.expose()),
        )
        .header(
            "dpop",
            key.proof(
                "GET",
                &format!("{rs}/whoami"),
                Some(token_for_rs.access_token.expose()),
                None,
                SystemTime::now(),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_nonce.status(), 401);
    assert!(no_nonce.headers().contains_key("dpop-nonce"));
    assert!(
        no_nonce.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );

    // The same token without its proof is refused; with a proof for another URL too.
    let bare = http
        .get(format!("{rs}/whoami"))
        .header(
            "authorization",
            format!("DPoP {}", token.access_token.expose()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    let foreign = DpopKey::generate_es256().unwrap();
    let stolen = http
        .get(format!("{rs}/whoami"))
        .header(
            "authorization",
            format!("DPoP {}", token.access_token.expose()),
        )
        .header(
            "dpop",
            foreign
                .proof(
                    "GET",
                    &format!("{rs}/whoami"),
                    Some(token.access_token.expose()),
                    None,
                    SystemTime::now(),
                )
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 401);

    // McpAuthProvider takes the proof.
    let mcp = authgent_client::McpAuthProvider::new(default_url(), default_url()).unwrap(); // tokens requested without a resource carry aud = the server URL
    let proof_for = |url: &str| {
        key.proof(
            "POST",
            url,
            Some(token.access_token.expose()),
            None,
            SystemTime::now(),
        )
        .unwrap()
    };
    // A proof for another server is refused, even when the caller passes that server's URL
    // (issue 23, item 6: the htu is compared with the provider's own origin).
    let elsewhere = "https://mcp.example/tools/call";
    let err = mcp
        .verify_dpop(
            token.access_token.expose(),
            &proof_for(elsewhere),
            "POST",
            elsewhere,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_dpop_proof");
    let url = format!("{}/tools/call", default_url());
    let id = mcp
        .verify_dpop(token.access_token.expose(), &proof_for(&url), "POST", &url)
        .await
        .expect("DPoP-bound token with its proof");
    assert_eq!(id.dpop_jkt(), Some(key.jkt()));
    let err = mcp.verify(token.access_token.expose()).await.unwrap_err();
    assert!(
        matches!(err, AuthgentError::Dpop(_) | AuthgentError::Token(_)),
        "{err:?}"
    );
    assert!(
        mcp.metadata_url()
            .ends_with("/.well-known/oauth-authorization-server")
    );
    // The JWKS URL the real server's metadata names.
    assert_eq!(
        mcp.jwks_url().await.unwrap(),
        format!("{}/.well-known/jwks.json", default_url())
    );
    // A whole request: a plain bearer token from another agent, and no credentials at all.
    let plain = agent(&client(), &["read"]).await;
    let bearer = client()
        .get_token(&plain.credentials(), Some("read"), None)
        .await
        .unwrap();
    let parts = |auth: Option<String>| {
        let mut b = http::Request::builder()
            .uri("/tools/call")
            .header("host", "mcp.example");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap().into_parts().0
    };
    let id = mcp
        .verify_request(&parts(Some(format!(
            "Bearer {}",
            bearer.access_token.expose()
        ))))
        .await
        .unwrap()
        .expect("an identity");
    assert_eq!(id.subject(), plain.subject());
    assert!(mcp.verify_request(&parts(None)).await.unwrap().is_none());
}

#[tokio::test]
async fn interop_require_dpop_server_nonce_retry_and_memory() {
    let url = required_env("AUTHGENT_INTEROP_DPOP_URL");
    let auth = dpop_client(&url);
    let key = auth.dpop_key().unwrap();
    let a = agent(&auth, &["read"]).await;
    assert_eq!(auth.dpop_nonce(&auth.token_endpoint()), None);
    let first = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .expect("use_dpop_nonce answered with the server's nonce");
    assert!(first.is_dpop());
    let nonce = auth
        .dpop_nonce(&auth.token_endpoint())
        .expect("nonce remembered");
    let second = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    assert!(second.is_dpop());
    let id = verifier(&url)
        .verify_request(&authgent_core::request::RequestParts::new(
            "GET",
            "https://rs.example/x",
            &[format!("DPoP {}", second.access_token.expose()).as_bytes()],
            &[key
                .proof(
                    "GET",
                    "https://rs.example/x",
                    Some(second.access_token.expose()),
                    None,
                    SystemTime::now(),
                )
                .unwrap()
                .as_bytes()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id.dpop_jkt(), Some(key.jkt()));
    let _ = nonce;

    // Without a key this server refuses: typed, with its code.
    let plain = AgentAuthClient::new(&url).unwrap();
    let err = plain
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap_err();
    assert_eq!(err.server_error().map(|e| e.status), Some(400), "{err}");
    assert_eq!(err.code(), "invalid_request");
}

#[tokio::test]
async fn interop_refresh_via_the_authorization_code_flow() {
    let auth = client();
    let redirect = "http://127.0.0.1:9/cb";
    let app = auth
        .register_client(
            &ClientRegistration::new(unique("rust-app"))
                .grant_types(["authorization_code", "refresh_token"])
                .redirect_uris([redirect])
                .scope("read write"),
        )
        .await
        .expect("RFC 7591 registration");
    let creds = app.credentials().expect("a confidential client");
    auth.discover().await.unwrap();
    let login = auth
        .authorization_request(&app.client_id, redirect, "read write", None)
        .unwrap();
    let url = login.url().to_owned();
    // The user agent's part (consent is auto-approved on the test server).
    let ua = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = ua.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let param = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(login.state().expose()));
    assert_eq!(
        param("iss").as_deref(),
        Some(default_url().as_str()),
        "RFC 9207 iss, checked by the client"
    );
    assert!(param("code").is_some());
    // A callback with another state is refused before the code is sent.
    let forged = location.as_str().replace(login.state().expose(), "forged");
    let err = auth
        .exchange_authorization_code(&creds, &login, &forged)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_callback");

    let tokens = auth
        .exchange_authorization_code(&creds, &login, location.as_str())
        .await
        .expect("code exchange");
    let refresh = tokens.refresh_token.clone().expect("a refresh token");
    let refreshed = auth
        .refresh_token(&creds, refresh.expose(), None)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    let id = verifier(&default_url())
        .verify_token(refreshed.access_token.expose())
        .await
        .expect("refreshed token verifies");
    assert_eq!(id.scopes(), ["read", "write"]);
    // Refresh tokens rotate: the old one is refused now.
    let err = auth
        .refresh_token(&creds, refresh.expose(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "{err}");
    // A code is single-use.
    let err = auth
        .exchange_authorization_code(&creds, &login, location.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "{err}");
}

/// MCP requires the RFC 8707 `resource` on the authorization, code and refresh requests: the
/// real server then issues tokens for exactly that resource, and refreshes keep it.
#[tokio::test]
async fn interop_authorization_code_tokens_are_for_the_resource_named() {
    let auth = client();
    auth.discover().await.unwrap();
    let redirect = "http://127.0.0.1:9/cb";
    let app = auth
        .register_client(
            &ClientRegistration::new(unique("rust-mcp-app"))
                .grant_types(["authorization_code", "refresh_token"])
                .redirect_uris([redirect])
                .scope("read"),
        )
        .await
        .unwrap();
    let creds = app.credentials().unwrap();
    let resource = "https://tools.example/mcp";
    let login = auth
        .authorization_request(&app.client_id, redirect, "read", Some(resource))
        .unwrap();
    let ua = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = ua.get(login.url()).send().await.unwrap();
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    let tokens = auth
        .exchange_authorization_code(&creds, &login, &callback)
        .await
        .unwrap();
    let for_resource = Verifier::builder()
        .issuer(default_url())
        .audience(resource)
        .external_url("https://tools.example")
        .build()
        .unwrap();
    let id = for_resource
        .verify_token(tokens.access_token.expose())
        .await
        .expect("a token for the resource named");
    assert_eq!(id.audience(), [resource]);
    assert!(
        verifier(&default_url())
            .verify_token(tokens.access_token.expose())
            .await
            .is_err(),
        "not a token for the issuer's default audience"
    );
    let refresh = tokens.refresh_token.expect("a refresh token");
    let refreshed = auth
        .refresh_token(&creds, refresh.expose(), login.resource())
        .await
        .unwrap();
    let id = for_resource
        .verify_token(refreshed.access_token.expose())
        .await
        .unwrap();
    assert_eq!(id.audience(), [resource]);
}

#[tokio::test]
async fn interop_identity_chaining_both_hops() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let b = agent(&auth, &["read"]).await;
    let consumer = auth
        .register_client(
            &ClientRegistration::new(unique("rust-domain-b"))
                .grant_types([grant_type::JWT_BEARER, "client_credentials"])
                .scope("read"),
        )
        .await
        .unwrap()
        .credentials()
        .unwrap();
    let subject = auth
        .get_token(&a.credentials(), Some("read write"), None)
        .await
        .unwrap();
    let grant = auth
        .start_identity_chain(
            &b.credentials(),
            subject.access_token.expose(),
            &default_url(),
            Some("read"),
        )
        .await
        .expect("domain A: JWT authorization grant");
    assert_eq!(grant.token_type, "N_A");
    assert_eq!(grant.issued_token_type.as_deref(), Some(token_type::JWT));
    let consumed = auth
        .consume_identity_chain(&consumer, grant.access_token.expose(), None, Some("read"))
        .await
        .expect("domain B: access token");
    let id = verifier(&default_url())
        .verify_token(consumed.access_token.expose())
        .await
        .expect("the chained token verifies");
    assert_eq!(id.scopes(), ["read"]);
    // Grants are single-use.
    let err = auth
        .consume_identity_chain(&consumer, grant.access_token.expose(), None, Some("read"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "{err}");
}

#[tokio::test]
async fn interop_transaction_tokens_validated_by_the_core_txn_validator() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let b = agent(&auth, &["read"]).await;
    let subject = auth
        .get_token(&a.credentials(), Some("read write"), None)
        .await
        .unwrap();
    let domain = "https://trust-domain.example";
    let txn = auth
        .issue_transaction_token(
            &b.credentials(),
            &TxnTokenRequest::new(subject.access_token.clone(), domain, "read")
                .request_details(serde_json::json!({"action": "transfer", "amount": 100}))
                .request_context(serde_json::json!({"req_ip": "10.0.0.1"})),
        )
        .await
        .expect("transaction token");
    assert_eq!(txn.token_type, "N_A");
    let jwks = reqwest::get(format!("{}/.well-known/jwks.json", default_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    // authgent-server 0.3.4 follows draft -10: the compatibility mode, named.
    let validator = TxnTokenValidator::builder(domain)
        .issuer(default_url())
        .draft(authgent_core::txn::TxnDraft::Draft10)
        .build()
        .unwrap();
    let verified = validator
        .verify(txn.access_token.expose(), &keys, SystemTime::now())
        .expect("txn token verifies");
    assert_eq!(verified.subject, a.subject());
    assert_eq!(verified.scopes, ["read"]);
    assert_eq!(verified.tctx["action"], "transfer");
    assert!(!verified.txn.is_empty());
    // It is not an access token, and not for another trust domain.
    let err = verifier(&default_url())
        .verify_token(txn.access_token.expose())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_token");
    let elsewhere = TxnTokenValidator::builder("https://other.example")
        .issuer(default_url())
        .build()
        .unwrap();
    assert!(
        elsewhere
            .verify(txn.access_token.expose(), &keys, SystemTime::now())
            .is_err()
    );

    // Over HTTP through the adapters' core: an axum route reads the real Txn-Token, verified
    // with the same verifier's keys (discovered from the real server).
    let auth_config = authgent_axum::AgentAuth::builder(verifier(&default_url()))
        .transaction_tokens(validator)
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/transfer",
            axum::routing::get(
                |id: authgent_axum::AgentIdentity, txn: authgent_axum::TransactionToken| async move {
                    format!("{} {} {}", id.subject(), txn.subject, txn.tctx["amount"])
                },
            ),
        )
        .layer(authgent_axum::AgentAuthLayer::new(auth_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", subject.access_token.expose());
    let answer = http
        .get(format!("{rs}/transfer"))
        .header("authorization", &bearer)
        .header("txn-token", txn.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        format!("{} {} 100", a.subject(), a.subject())
    );
    // The access token in the Txn-Token header: refused (401), never read as a txn token.
    let answer = http
        .get(format!("{rs}/transfer"))
        .header("authorization", &bearer)
        .header("txn-token", subject.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
}

#[tokio::test]
async fn interop_introspection_before_and_after_revocation() {
    let auth = client();
    let a = agent(&auth, &["read"]).await;
    let b = agent(&auth, &["read"]).await;
    let root = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    let delegated = auth
        .exchange_token(
            &b.credentials(),
            &ExchangeRequest::new(root.access_token.clone())
                .audience("https://b.example")
                .scope("read"),
        )
        .await
        .unwrap();
    let token = delegated.access_token.expose();
    let before = auth.introspect_token(token, None).await.unwrap();
    assert!(before.active);
    assert_eq!(before.sub.as_deref(), Some(a.subject().as_str()));
    assert_eq!(before.scopes().collect::<Vec<_>>(), ["read"]);
    assert_eq!(before.aud, ["https://b.example"]);
    assert_eq!(before.token_type.as_deref(), Some("Bearer"));
    let chain = before.delegation_chain().expect("act parsed");
    assert_eq!(chain.depth(), 1);
    assert_eq!(chain.actors()[0].subject(), b.subject());

    // Only the owner may revoke: whatever the server answers a non-owner (RFC 7009 lets it
    // answer 200 and ignore the request), the token stays active.
    let _ = auth.revoke_token(&a.credentials(), token).await;
    assert!(
        auth.introspect_token(token, None).await.unwrap().active,
        "a non-owner cannot revoke"
    );
    auth.revoke_token(&b.credentials(), token)
        .await
        .expect("revoke");
    let after = auth.introspect_token(token, None).await.unwrap();
    assert!(!after.active);
    assert!(after.sub.is_none() && after.scope.is_none());
    assert!(after.delegation_chain().is_none());
    // The server refuses to exchange a revoked subject.
    let c = agent(&auth, &["read"]).await;
    let err = auth
        .exchange_token(
            &c.credentials(),
            &ExchangeRequest::new(delegated.access_token.clone())
                .audience("x")
                .scope("read"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "token_revoked", "{err}");
    // RFC 7009 §2.2: revoking a token the server does not know is still a success.
    auth.revoke_token(&b.credentials(), "not-a-token-this-server-issued")
        .await
        .expect("unknown tokens revoke with 200");
    // Revocation needs client authentication.
    let anonymous = authgent_client::ClientCredentials::new(b.client_id.clone(), "wrong");
    let err = auth.revoke_token(&anonymous, token).await.unwrap_err();
    assert_eq!(err.code(), "invalid_client");
}

#[tokio::test]
async fn interop_stepup_approve_deny_and_the_scope_challenge_handler() {
    let auth = client();
    // Registered for db:delete, but working with "read" until a human approves more.
    let a = agent(&auth, &["read", "db:delete"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();

    // Approve, observed by polling.
    let filed = auth
        .request_stepup_for_token(
            token.access_token.expose(),
            "delete_records",
            "db:delete",
            Some("https://db.example"),
        )
        .await
        .unwrap();
    assert_eq!(filed.status, StepUpStatus::Pending);
    assert_eq!(filed.agent_id, a.client_id);
    // The human's side is a separate client with its own credential (the agent holds none);
    // authgent-server 0.3.4 does not check it (INTEROP.md), a gateway in front of it would.
    let human = approver(&default_url());
    let id = filed.id.clone();
    let deciding = human.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        deciding.approve(&id, "alice").await.unwrap();
    });
    let decided = auth
        .wait_for_stepup(&filed.id, Duration::from_secs(1), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(decided.status, StepUpStatus::Approved);
    assert_eq!(decided.approved_by.as_deref(), Some("alice"));
    assert!(
        decided.step_up_token.is_none(),
        "0.3.4 issues none (INTEROP.md)"
    );

    // Deny.
    let filed = auth
        .request_stepup(&StepUpRequest::new(
            a.id.clone(),
            "transfer",
            "bank:transfer",
        ))
        .await
        .unwrap();
    let denied = human.deny(&filed.id).await.unwrap();
    assert_eq!(denied.status, StepUpStatus::Denied);
    assert_eq!(
        auth.check_stepup(&filed.id).await.unwrap().status,
        StepUpStatus::Denied
    );
    // Deciding twice is refused.
    let err = human.approve(&filed.id, "bob").await.unwrap_err();
    assert_eq!(err.server_error().map(|e| e.status), Some(400), "{err}");
    // Nobody decides: the client stops waiting.
    let pending = auth
        .request_stepup(&StepUpRequest::new(a.id.clone(), "wait", "db:delete"))
        .await
        .unwrap();
    let err = auth
        .wait_for_stepup(
            &pending.id,
            Duration::from_millis(50),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "step_up_timeout");

    // A resource server's 403 insufficient_scope for a HITL scope → step-up → outcome.
    let rs = default_resource_server().await;
    let tokens = manager(&auth, &a, "read", &rs);
    let http = reqwest::Client::new();
    let response = tokens.send(http.get(format!("{rs}/delete"))).await.unwrap();
    assert_eq!(response.status(), 403);
    // Decisions land between polls: authgent-server 0.3.4 shares one SQLite connection across
    // requests (StaticPool), and an approval overlapping a poll is lost (INTEROP notes).
    let handler = ScopeChallengeHandler::new(auth.clone(), ["db:delete"])
        .poll_interval(Duration::from_secs(1))
        .timeout(Duration::from_secs(10));
    let challenge = handler
        .challenge(response.status(), response.headers())
        .expect("a HITL scope challenge");
    assert_eq!(challenge.scopes, ["db:delete"]);
    let not_hitl = ScopeChallengeHandler::new(auth.clone(), ["bank:transfer"]);
    assert!(
        not_hitl
            .challenge(response.status(), response.headers())
            .is_none()
    );

    for (approve, expected) in [
        (true, StepUpStatus::Approved),
        (false, StepUpStatus::Denied),
    ] {
        // The human's side: learns the request id from the agent's notification, decides.
        let (filed_tx, mut filed_rx) = tokio::sync::mpsc::unbounded_channel();
        let handler = handler.clone().on_filed(move |s| {
            let _ = filed_tx.send(s.id.clone());
        });
        let reviewer = approver(&default_url());
        let decide = tokio::spawn(async move {
            let id = filed_rx.recv().await.expect("a step-up request was filed");
            tokio::time::sleep(Duration::from_millis(250)).await;
            if approve {
                reviewer.approve(&id, "alice").await.unwrap();
            } else {
                reviewer.deny(&id).await.unwrap();
            }
        });
        let outcome = handler
            .handle(response.status(), response.headers(), &a.id, Some(&rs))
            .await
            .unwrap()
            .expect("handled");
        decide.await.unwrap();
        let decided = match outcome {
            StepUpOutcome::Approved(s) | StepUpOutcome::Denied(s) => s,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(decided.status, expected);
        assert_eq!(decided.scope, "db:delete");
        assert_eq!(decided.resource.as_deref(), Some(rs.as_str()));
    }
    // Not a HITL scope, or not a scope challenge at all: nothing is filed.
    assert!(
        not_hitl
            .handle(response.status(), response.headers(), &a.id, None)
            .await
            .unwrap()
            .is_none()
    );
    let ok = tokens.send(http.get(format!("{rs}/whoami"))).await.unwrap();
    assert!(
        handler
            .handle(ok.status(), ok.headers(), &a.id, None)
            .await
            .unwrap()
            .is_none()
    );

    // After approval, what the server actually supports: ask for a token with the approved
    // scope (the registration allows it; approval itself widens nothing) and retry.
    let wider = TokenKey::new(Some("read db:delete"), None);
    let retried = tokens
        .send_for(http.get(format!("{rs}/delete")), &wider)
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(
        retried.text().await.unwrap(),
        format!("deleted for {}", a.subject())
    );
}

#[tokio::test]
async fn interop_stepup_expires_on_the_server() {
    let url = required_env("AUTHGENT_INTEROP_LIMITED_URL");
    let auth = AgentAuthClient::new(&url).unwrap();
    // No registration here: this server's /agents is rate limited; step-up takes any agent id.
    let filed = auth
        .request_stepup(&StepUpRequest::new("agent-expiry", "wait", "db:delete"))
        .await
        .unwrap();
    let decided = auth
        .wait_for_stepup(
            &filed.id,
            Duration::from_millis(250),
            Duration::from_secs(15),
        )
        .await
        .unwrap();
    assert_eq!(decided.status, StepUpStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interop_token_manager_caches_renews_and_renews_once_for_many_callers() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let tokens = manager(&auth, &a, "read", "https://x.example");
    let real = RealServer::default_instance();
    let requests_before = real.token_requests();
    // Spawned all at once (collected), then awaited.
    let many: Vec<_> = (0..20)
        .map(|_| {
            let t = tokens.clone();
            tokio::spawn(async move { t.token().await.unwrap().access_token.clone() })
        })
        .collect();
    let mut got = Vec::new();
    for h in many {
        got.push(h.await.unwrap());
    }
    assert!(
        got.windows(2).all(|w| w[0] == w[1]),
        "one token for 20 concurrent callers"
    );
    assert_eq!(tokens.token().await.unwrap().access_token, got[0], "cached");
    assert_eq!(
        real.token_requests() - requests_before,
        1,
        "one POST /token at the real server for 21 calls"
    );
    // Per key: another scope is another token.
    let write = tokens
        .token_for(&TokenKey::new(Some("write"), None))
        .await
        .unwrap();
    assert_eq!(write.scope.as_deref(), Some("write"));
    assert_ne!(write.access_token, got[0]);
    // A buffer longer than the lifetime renews on every call.
    let eager = TokenManager::builder(auth.clone(), a.credentials())
        .buffer(Duration::from_secs(24 * 3600))
        .allow_origin("https://x.example")
        .build()
        .unwrap();
    let one = eager.token().await.unwrap();
    let two = eager.token().await.unwrap();
    assert_ne!(one.access_token, two.access_token);
    // After revocation the resource server says invalid_token... (verifiers are stateless:
    // revocation shows at introspection); invalidate() forces a new token.
    tokens.invalidate(&TokenKey::new(Some("read"), None));
    let renewed = tokens.token().await.unwrap();
    assert_ne!(renewed.access_token, got[0]);

    // The default token exchanged for a downstream audience: delegated, cached.
    let down = tokens
        .exchange_for("https://downstream.example", Some("read"))
        .await
        .unwrap();
    assert_eq!(
        tokens
            .exchange_for("https://downstream.example", Some("read"))
            .await
            .unwrap()
            .access_token,
        down.access_token
    );
    let id = Verifier::builder()
        .issuer(default_url())
        .audience("https://downstream.example")
        .external_url("https://downstream.example")
        .build()
        .unwrap()
        .verify_token(down.access_token.expose())
        .await
        .unwrap();
    assert_eq!(id.audience(), ["https://downstream.example"]);
    assert_eq!(id.delegation_chain().depth(), 1);

    // Headers for other HTTP clients; revocation at the server, then a new token.
    let key = TokenKey::new(Some("read"), None);
    let headers = tokens
        .headers_for("GET", "https://x.example/a", &key)
        .await
        .unwrap();
    assert_eq!(
        headers["authorization"].to_str().unwrap(),
        format!("Bearer {}", renewed.access_token.expose())
    );
    tokens.revoke(&key).await.unwrap();
    let intro = auth
        .introspect_token(renewed.access_token.expose(), None)
        .await
        .unwrap();
    assert!(!intro.active);
    assert_ne!(
        tokens.token().await.unwrap().access_token,
        renewed.access_token
    );
}

#[tokio::test]
async fn interop_key_rotation_is_picked_up_by_the_verifier() {
    let auth = client();
    let a = agent(&auth, &["read"]).await;
    let v = verifier(&default_url());
    let before = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    v.verify_token(before.access_token.expose()).await.unwrap();
    RealServer::default_instance().rotate_keys();
    let after = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    let kid = |t: &str| {
        authgent_core::TokenValidator::builder(default_url())
            .any_audience() // only parsed here, for its kid
            .build()
            .unwrap()
            .parse(t)
            .unwrap()
            .kid()
            .to_owned()
    };
    assert_ne!(
        kid(before.access_token.expose()),
        kid(after.access_token.expose())
    );
    v.verify_token(after.access_token.expose())
        .await
        .expect("the new key is fetched on its first token");
    v.verify_token(before.access_token.expose())
        .await
        .expect("the old key stays published");
}

#[tokio::test]
async fn interop_rate_limit_429_carries_retry_after() {
    let url = required_env("AUTHGENT_INTEROP_LIMITED_URL");
    let auth = AgentAuthClient::new(&url).unwrap();
    // 5 requests per minute per IP across /agents, /register and /token.
    let mut outcome = None;
    let a = agent(&auth, &["read"]).await;
    for _ in 0..10 {
        match auth.get_token(&a.credentials(), Some("read"), None).await {
            Ok(_) => continue,
            Err(e) => {
                outcome = Some(e);
                break;
            }
        }
    }
    match outcome.expect("the limit is reached within 10 requests") {
        ClientError::RateLimited { retry_after, error } => {
            let after = retry_after.expect("Retry-After");
            assert!(
                after > Duration::ZERO && after <= Duration::from_secs(61),
                "{after:?}"
            );
            assert_eq!(error.status, 429);
            assert_eq!(error.code, "rate_limited");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/authgent-client/examples/agent.rs"]
mod agent_example;

#[tokio::test]
async fn interop_the_client_example_runs_against_the_real_server() {
    let said = agent_example::run(&default_url())
        .await
        .expect("the example runs");
    assert_eq!(said.len(), 4, "{said:?}");
    assert!(said[0].starts_with("orchestrator token: DPoP"), "{said:?}");
    assert!(said[1].contains("allowed: true"), "{said:?}");
    assert!(said[2].contains("(depth 1)"), "{said:?}");
    assert_eq!(said[3], "active before revocation: true, after: false");
}

/// RFC 9728 → RFC 8414 on the agent side, against one of our resource servers trusting the
/// real server: the 401 names the metadata, the document names the real server, and the
/// real server's own metadata is then discovered with its issuer checked.
#[tokio::test]
async fn interop_resource_discovery_from_a_401_to_the_authorization_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{rs}/mcp");
    let config = authgent_axum::AgentAuth::builder(
        Verifier::builder()
            .issuer(default_url())
            .audience(&resource)
            .external_url(&rs)
            .build()
            .unwrap(),
    )
    .scopes_supported(["read"])
    .build()
    .unwrap();
    let app = axum::Router::new()
        .route(
            "/mcp",
            axum::routing::post(|id: authgent_axum::AgentIdentity| async move {
                id.subject().to_owned()
            }),
        )
        .layer(authgent_axum::AgentAuthLayer::new(config.clone()))
        .merge(authgent_axum::resource_metadata_router(&config));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let first = reqwest::Client::new().post(&resource).send().await.unwrap();
    assert_eq!(first.status(), 401);
    let hint = authgent_client::resource_metadata_url(first.status(), first.headers())
        .expect("the 401 names the metadata");
    assert_eq!(
        hint,
        format!("{rs}/.well-known/oauth-protected-resource/mcp")
    );
    let auth = client();
    let doc = auth
        .discover_resource(&resource, Some(&hint))
        .await
        .expect("the resource accepts the real server's tokens");
    assert_eq!(doc.scopes_supported, ["read"]);
    let meta = auth.discover().await.expect("RFC 8414, issuer checked");
    assert_eq!(meta.issuer, default_url());
    // A client of another server is told so before it requests anything.
    let other = AgentAuthClient::new(required_env("AUTHGENT_INTEROP_LIMITED_URL")).unwrap();
    let err = other
        .discover_resource(&resource, Some(&hint))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not from this client's server"),
        "{err}"
    );
    // And a token for that resource, from the real server, is accepted there.
    let a = agent(&auth, &["read"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), Some(&resource))
        .await
        .unwrap();
    let answer = reqwest::Client::new()
        .post(&resource)
        .bearer_auth(token.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
