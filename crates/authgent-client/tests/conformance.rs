//! CONFORMANCE.md items 20 and 26–29 (client DPoP proofs, identity chaining, the OAuth
//! client), checked on the wire: a loopback server records exactly what the client sends and
//! answers what a server may answer. The agent-side safety checks of issue 10 (where tokens,
//! secrets and proofs may go) are in `agent_side.rs`.
//! The same operations against the real authgent-server are in `interop/tests/client.rs`.

mod common;

use authgent_client::{
    AgentAuthClient, ClientError, ExchangeRequest, TokenManager, TxnTokenRequest, grant_type,
    token_type,
};
use authgent_core::dpop::DpopKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{
    TOKEN_OK_BEARER, TOKEN_OK_DPOP, creds, field, form, header, http, proof_claims, serve,
};

const GRANT: &str = r#"{"access_token":"grant","token_type":"N_A","expires_in":60,"issued_token_type":"urn:ietf:params:oauth:token-type:jwt"}"#;

#[tokio::test]
async fn c26_identity_chaining_hop1_is_a_jwt_exchange_for_the_target_as_hop2_is_jwt_bearer() {
    let (url, requests) = serve(vec![
        http("200 OK", &[], GRANT),
        http("200 OK", &[], TOKEN_OK_BEARER),
    ])
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    let grant = auth
        .start_identity_chain(
            &creds(),
            "subject-token",
            "https://as-b.example",
            Some("read"),
        )
        .await
        .unwrap();
    assert_eq!(grant.issued_token_type.as_deref(), Some(token_type::JWT));
    auth.consume_identity_chain(
        &creds(),
        grant.access_token.expose(),
        Some("https://api.b.example"),
        Some("read"),
    )
    .await
    .unwrap();
    let seen = requests.lock().unwrap().clone();
    let hop1 = form(&seen[0]);
    assert_eq!(field(&hop1, "grant_type"), [grant_type::TOKEN_EXCHANGE]);
    assert_eq!(field(&hop1, "requested_token_type"), [token_type::JWT]);
    assert_eq!(field(&hop1, "audience"), ["https://as-b.example"]);
    assert_eq!(field(&hop1, "subject_token"), ["subject-token"]);
    assert_eq!(
        field(&hop1, "subject_token_type"),
        [token_type::ACCESS_TOKEN]
    );
    let hop2 = form(&seen[1]);
    assert_eq!(field(&hop2, "grant_type"), [grant_type::JWT_BEARER]);
    assert_eq!(field(&hop2, "assertion"), ["grant"]);
    assert_eq!(field(&hop2, "resource"), ["https://api.b.example"]);
}

#[tokio::test]
async fn c27_form_encoded_requests_and_typed_errors() {
    let (url, requests) = serve(vec![
        http("200 OK", &[], TOKEN_OK_BEARER),
        http("200 OK", &[], r#"{"active":false}"#),
        http("200 OK", &[], "{}"),
        http(
            "400 Bad Request",
            &["content-type: application/json"],
            r#"{"error":"invalid_grant","error_description":"Refresh token has already been used"}"#,
        ),
        http(
            "400 Bad Request",
            &["content-type: application/problem+json"],
            r#"{"type":"https://authgent.dev/errors/invalid-request","title":"Invalid Request","status":400,"detail":"token parameter is required","error_code":"invalid_request"}"#,
        ),
    ])
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    auth.get_token(&creds(), Some("read write"), None)
        .await
        .unwrap();
    auth.introspect_token("t", None).await.unwrap();
    auth.revoke_token(&creds(), "t").await.unwrap();
    for request in requests.lock().unwrap().iter() {
        assert!(request.starts_with("POST "), "{request}");
        assert_eq!(
            header(request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }
    // Spaces in scope and the secret's reserved characters survive form encoding.
    let first = form(&requests.lock().unwrap()[0]);
    assert_eq!(field(&first, "scope"), ["read write"]);
    assert_eq!(field(&first, "client_secret"), ["s3cr3t:&="]);

    let err = auth.refresh_token(&creds(), "old", None).await.unwrap_err();
    let ClientError::Server(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.code.as_str()), (400, "invalid_grant"));
    assert_eq!(
        e.description.as_deref(),
        Some("Refresh token has already been used")
    );
    let err = auth.introspect_token("", None).await.unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert_eq!(
        err.server_error().unwrap().description.as_deref(),
        Some("token parameter is required")
    );
    // 429 Retry-After and redaction: see hostile_server.rs (rate_limits_and_server_errors_are_typed,
    // secrets_never_appear_in_debug_or_logs) and the real server's 429 in interop/tests/client.rs.
}

#[tokio::test]
async fn c28_token_exchange_parameters_per_rfc8693() {
    let (url, requests) = serve(vec![http("200 OK", &[], TOKEN_OK_BEARER)]).await;
    let auth = AgentAuthClient::new(&url).unwrap();
    let without_actor = ExchangeRequest::new("subj")
        .audience("https://a.example")
        .audience("https://b.example")
        .resource("https://r.example/api")
        .scope("read");
    auth.exchange_token(&creds(), &without_actor).await.unwrap();
    let with_actor = ExchangeRequest::new("subj")
        .subject_token_type(token_type::ID_TOKEN)
        .requested_token_type(token_type::ACCESS_TOKEN)
        .actor_token("actor", token_type::ACCESS_TOKEN);
    auth.exchange_token(&creds(), &with_actor).await.unwrap();
    let seen = requests.lock().unwrap().clone();
    let first = form(&seen[0]);
    assert_eq!(field(&first, "grant_type"), [grant_type::TOKEN_EXCHANGE]);
    assert_eq!(
        field(&first, "audience"),
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(field(&first, "resource"), ["https://r.example/api"]);
    assert_eq!(
        field(&first, "subject_token_type"),
        [token_type::ACCESS_TOKEN]
    );
    assert!(field(&first, "actor_token").is_empty());
    assert!(
        field(&first, "actor_token_type").is_empty(),
        "only with actor_token"
    );
    assert!(field(&first, "requested_token_type").is_empty());
    let second = form(&seen[1]);
    assert_eq!(field(&second, "subject_token_type"), [token_type::ID_TOKEN]);
    assert_eq!(field(&second, "actor_token"), ["actor"]);
    assert_eq!(
        field(&second, "actor_token_type"),
        [token_type::ACCESS_TOKEN]
    );
    assert_eq!(
        field(&second, "requested_token_type"),
        [token_type::ACCESS_TOKEN]
    );

    // Transaction tokens are an exchange too, with JSON contexts as form fields.
    let (url, requests) = serve(vec![http(
        "200 OK",
        &[],
        r#"{"access_token":"x","token_type":"N_A"}"#,
    )])
    .await;
    AgentAuthClient::new(&url)
        .unwrap()
        .issue_transaction_token(
            &creds(),
            &TxnTokenRequest::new("subj", "https://td.example", "read")
                .request_details(serde_json::json!({"amount": 100})),
        )
        .await
        .unwrap();
    let txn = form(&requests.lock().unwrap()[0]);
    assert_eq!(field(&txn, "requested_token_type"), [token_type::TXN_TOKEN]);
    assert_eq!(field(&txn, "audience"), ["https://td.example"]);
    assert_eq!(field(&txn, "request_details"), [r#"{"amount":100}"#]);
}

#[tokio::test]
async fn c29_inactive_introspection_is_a_value_and_revoking_an_unknown_token_is_ok() {
    let (url, _) = serve(vec![
        http(
            "200 OK",
            &[],
            r#"{"active":false,"scope":null,"sub":null,"act":null}"#,
        ),
        http("200 OK", &[], "{}"),
    ])
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    let i = auth.introspect_token("unknown", None).await.unwrap();
    assert!(!i.active);
    assert!(i.delegation_chain().is_none());
    auth.revoke_token(&creds(), "unknown").await.unwrap();
}

/// Item 20 through the token manager, on the wire: each resource request gets a fresh proof
/// (`jti` of at least 96 bits, `iat` now, `htm`/`htu` of that request, `ath` of the token
/// sent), the resource server's nonce after `use_dpop_nonce` (one retry), and only that
/// origin's nonce.
#[tokio::test]
async fn c20_resource_requests_carry_fresh_proofs_with_ath_and_the_origins_nonce() {
    let nonce_please = http(
        "401 Unauthorized",
        &[
            r#"www-authenticate: DPoP error="use_dpop_nonce""#,
            "dpop-nonce: rs-n1",
        ],
        "",
    );
    let (rs, requests) = serve(vec![nonce_please, http("200 OK", &[], "ok")]).await;
    let (url, _) = serve(vec![http("200 OK", &[], TOKEN_OK_DPOP)]).await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    let tokens = TokenManager::builder(auth, creds())
        .resource(rs.clone())
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let response = tokens
        .send(client.post(format!("{rs}/tools/call?x=1")).body("{}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "retried once with the nonce");
    tokens.send(client.get(format!("{rs}/next"))).await.unwrap();
    let seen = requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let proofs: Vec<_> = seen.iter().map(|r| proof_claims(r)).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ath = URL_SAFE_NO_PAD.encode(authgent_core::crypto::sha256(b"tok-abc"));
    for (request, proof) in seen.iter().zip(&proofs) {
        assert_eq!(header(request, "authorization"), Some("DPoP tok-abc"));
        assert_eq!(proof["ath"], ath.as_str());
        let jti = proof["jti"].as_str().unwrap();
        assert!(jti.len() * 6 >= 96, "{jti}");
        assert!((proof["iat"].as_i64().unwrap() - now).abs() <= 5);
    }
    assert_eq!(proofs[0]["htm"], "POST");
    assert_eq!(
        proofs[0]["htu"],
        format!("{rs}/tools/call"),
        "no query in htu"
    );
    assert!(proofs[0].get("nonce").is_none());
    assert_eq!(proofs[1]["nonce"], "rs-n1");
    assert_eq!(
        proofs[2]["nonce"], "rs-n1",
        "the origin's nonce is remembered"
    );
    assert_eq!(proofs[2]["htm"], "GET");
    let jtis: std::collections::BTreeSet<_> =
        proofs.iter().map(|p| p["jti"].as_str().unwrap()).collect();
    assert_eq!(
        jtis.len(),
        3,
        "a fresh jti for every request, the retry included"
    );
}
