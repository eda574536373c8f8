//! What is specific to axum, over loopback HTTP with the testkit issuer: `Option<AgentIdentity>`,
//! the extractor without the layer, several issuers through one `AgentAuth`, `DPoP-Nonce` on
//! successes, the `TransactionToken` extractor, the derived metadata route. The status table
//! itself is the EXAMPLES.md contract, run against `examples/axum-resource-server`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_axum::{
    AgentAuth, AgentAuthLayer, AgentIdentity, AuthRejection, Require, TransactionToken,
    resource_metadata_router,
};
use authgent_core::dpop::{DpopKey, NonceIssuer};
use authgent_core::txn::TxnTokenValidator;
use authgent_harness::contract::send;
use authgent_jwks::{MultiIssuerVerifier, Verifier};
use authgent_testkit::TestIssuer;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

const PUBLIC: &str = "http://tools.test";

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn verifier(issuer: &TestIssuer) -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(PUBLIC)
        .external_url(PUBLIC)
}

async fn me(id: Option<AgentIdentity>) -> axum::Json<Value> {
    axum::Json(id.map_or_else(
        || json!({"authenticated": false}),
        |id| json!({"subject": id.subject(), "issuer": id.issuer()}),
    ))
}

async fn subject(id: AgentIdentity) -> String {
    id.subject().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn option_identity_is_none_only_without_credentials_and_the_extractor_needs_the_layer() {
    let issuer = TestIssuer::start().await.unwrap();
    let auth = AgentAuth::builder(verifier(&issuer).build().unwrap())
        .optional()
        .build()
        .unwrap();
    let base = serve(
        Router::new()
            .route("/me", get(me))
            .layer(AgentAuthLayer::new(auth))
            .route("/unguarded", get(subject)),
    )
    .await;
    let r = send("GET", &format!("{base}/me"), &[]).await;
    assert_eq!(
        (r.status, r.body["authenticated"].as_bool()),
        (200, Some(false))
    );
    let ok = format!("Bearer {}", issuer.token().audience(PUBLIC).sign());
    let r = send("GET", &format!("{base}/me"), &[("authorization", &ok)]).await;
    assert_eq!(r.body["subject"], "client:test-agent");
    let bad = format!(
        "Bearer {}",
        issuer.token().audience(PUBLIC).expired().sign()
    );
    let r = send("GET", &format!("{base}/me"), &[("authorization", &bad)]).await;
    assert_eq!(r.status, 401, "a bad token is never anonymous");
    let r = send(
        "GET",
        &format!("{base}/unguarded"),
        &[("authorization", &ok)],
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("AgentAuthLayer::new")
    );
}

/// Issue 11: one `AgentAuth` over a `MultiIssuerVerifier`, each token verified by its own
/// issuer's keys, a token of an issuer not configured refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_auth_over_several_issuers() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let stranger = TestIssuer::start().await.unwrap();
    let multi =
        MultiIssuerVerifier::new([verifier(&a).build().unwrap(), verifier(&b).build().unwrap()]);
    let auth = AgentAuth::builder(multi).build().unwrap();
    let base = serve(
        Router::new()
            .route("/me", get(me))
            .layer(AgentAuthLayer::new(auth.clone()))
            .merge(resource_metadata_router(&auth)),
    )
    .await;
    for issuer in [&a, &b] {
        let t = format!("Bearer {}", issuer.token().audience(PUBLIC).sign());
        let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
        assert_eq!(
            (r.status, r.body["issuer"].as_str()),
            (200, Some(issuer.issuer()))
        );
    }
    let t = format!("Bearer {}", stranger.token().audience(PUBLIC).sign());
    let r = send("GET", &format!("{base}/me"), &[("authorization", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // A token naming issuer A but signed by B's key: routed to A, refused by A's keys.
    let forged = format!(
        "Bearer {}",
        b.token()
            .audience(PUBLIC)
            .claim("iss", json!(a.issuer()))
            .sign()
    );
    let r = send("GET", &format!("{base}/me"), &[("authorization", &forged)]).await;
    assert_eq!(r.status, 401);
    // The metadata document names both authorization servers.
    let r = send(
        "GET",
        &format!("{base}/.well-known/oauth-protected-resource"),
        &[],
    )
    .await;
    assert_eq!(r.body["resource"], PUBLIC);
    let mut servers = vec![a.issuer().to_owned(), b.issuer().to_owned()];
    servers.sort();
    assert_eq!(r.body["authorization_servers"], json!(servers));
}

/// Issue 11: a success carries a fresh `DPoP-Nonce` when nonces are on and the current bucket
/// is in its last quarter (the verifier's clock is set there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_nonce_on_a_success_when_the_bucket_is_about_to_roll() {
    let issuer = TestIssuer::start().await.unwrap();
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 50 s into a 60 s bucket, at most 50 s from now (inside every ±60 s window).
    let late = UNIX_EPOCH + Duration::from_secs(real - real % 60 + 50);
    let nonces = NonceIssuer::generate().unwrap();
    let auth = AgentAuth::builder(
        verifier(&issuer)
            .dpop_nonces(nonces)
            .clock(move || late)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let base = serve(
        Router::new()
            .route(
                "/tools/search",
                get(subject).route_layer(Require::all(["search:execute"])),
            )
            .layer(AgentAuthLayer::new(auth)),
    )
    .await;
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer
        .token()
        .audience(PUBLIC)
        .scopes(["search:execute"])
        .dpop_jkt(key.jkt())
        .sign();
    let url = format!("{PUBLIC}/tools/search");
    let authorization = format!("DPoP {token}");
    let proof = key
        .proof("GET", &url, Some(&token), None, SystemTime::now())
        .unwrap();
    let r = send(
        "GET",
        &format!("{base}/tools/search"),
        &[("authorization", &authorization), ("dpop", &proof)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("use_dpop_nonce"))
    );
    let nonce = r.header("dpop-nonce").unwrap().to_owned();
    let proof = key
        .proof("GET", &url, Some(&token), Some(&nonce), SystemTime::now())
        .unwrap();
    let r = send(
        "GET",
        &format!("{base}/tools/search"),
        &[("authorization", &authorization), ("dpop", &proof)],
    )
    .await;
    assert_eq!(r.status, 200);
    let next = r
        .header("dpop-nonce")
        .expect("a fresh nonce ahead of the roll");
    assert_ne!(next, nonce);
}

async fn transfer(
    id: AgentIdentity,
    txn: TransactionToken,
) -> Result<axum::Json<Value>, AuthRejection> {
    id.require_scopes(&authgent_core::ScopeRequirement::all(["pay"]))?;
    Ok(axum::Json(json!({
        "txn": txn.txn, "for": txn.subject, "amount": txn.tctx.get("amount"), "caller": id.subject(),
    })))
}

/// Issue 11: the `Txn-Token` header verified with the same keys and handed to the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_tokens_reach_the_handler_and_bad_ones_are_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    let trust = "https://trust.example";
    let validator = TxnTokenValidator::builder(trust)
        .issuer(issuer.issuer())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier(&issuer).build().unwrap())
        .transaction_tokens(validator)
        .build()
        .unwrap();
    let base = serve(
        Router::new()
            .route("/transfer", get(transfer))
            .layer(AgentAuthLayer::new(auth)),
    )
    .await;
    let access = format!(
        "Bearer {}",
        issuer.token().audience(PUBLIC).scopes(["pay"]).sign()
    );
    let txn = issuer
        .token()
        .typ("txntoken+jwt")
        .audience(trust)
        .subject("user:alice")
        .scopes(["pay"])
        .claim("txn", json!("txn-42"))
        .claim("req_wl", json!("client:payments"))
        .claim("tctx", json!({"amount": 100}))
        .sign();
    let url = format!("{base}/transfer");
    let r = send(
        "GET",
        &url,
        &[("authorization", &access), ("txn-token", &txn)],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["txn"], "txn-42");
    assert_eq!(r.body["for"], "user:alice");
    assert_eq!(r.body["amount"], 100);
    // None sent: the extractor refuses (400); an access token as Txn-Token: 401.
    let r = send("GET", &url, &[("authorization", &access)]).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let as_txn = issuer.token().audience(trust).sign();
    let r = send(
        "GET",
        &url,
        &[("authorization", &access), ("txn-token", &as_txn)],
    )
    .await;
    assert_eq!(r.status, 401);
    let other_domain = issuer
        .token()
        .typ("txntoken+jwt")
        .audience("https://elsewhere.example")
        .scopes(["pay"])
        .claim("txn", json!("t"))
        .sign();
    let r = send(
        "GET",
        &url,
        &[("authorization", &access), ("txn-token", &other_domain)],
    )
    .await;
    assert_eq!(r.status, 401);
}

/// Issue 12: per-tool scopes on an MCP-shaped endpoint, decided from the JSON-RPC body before
/// the handler runs; the handler gets the body unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_are_decided_from_the_body_before_dispatch() {
    use authgent_axum::RequireTools;
    use authgent_core::mcp::ToolPolicy;
    use axum::routing::post;

    let issuer = TestIssuer::start().await.unwrap();
    let auth = AgentAuth::builder(verifier(&issuer).build().unwrap())
        .optional()
        .build()
        .unwrap();
    let policy = ToolPolicy::builder()
        .tool("delete_records", ["db:delete"])
        .tool("transfer", ["bank:transfer", "bank:read"])
        .covers("db:admin", ["db:delete"])
        .build();
    let base = serve(
        Router::new()
            .route("/mcp", post(|body: String| async move { body }))
            .route_layer(RequireTools::new(policy))
            .layer(AgentAuthLayer::new(auth)),
    )
    .await;
    let call = |tool: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}"}}}}"#)
    };
    let client = reqwest::Client::new();
    let post = |token: Option<String>, body: String, headers: Vec<(&'static str, &'static str)>| {
        let mut request = client
            .post(format!("{base}/mcp"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    let reader = issuer.token().audience(PUBLIC).scopes(["bank:read"]).sign();
    let admin = issuer.token().audience(PUBLIC).scopes(["db:admin"]).sign();

    // A tool that needs scopes the token lacks: 403 naming all of them, before dispatch.
    let r = post(Some(reader.clone()), call("transfer"), vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="bank:transfer bank:read""#),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    // The hierarchy: db:admin covers db:delete; the handler sees the body as sent.
    let r = post(Some(admin.clone()), call("delete_records"), vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), call("delete_records"));
    // Anonymous: an unscoped call passes, a scoped one is a 401 with the challenge.
    let r = post(None, call("whoami"), vec![]).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = post(None, call("delete_records"), vec![]).await.unwrap();
    assert_eq!(r.status(), 401);
    // A batch cannot smuggle the scoped call; headers must agree with the body.
    let batch = format!(
        r#"[{{"jsonrpc":"2.0","id":2,"method":"tools/list"}},{}]"#,
        call("transfer")
    );
    let r = post(Some(reader.clone()), batch, vec![]).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        Some(admin.clone()),
        call("delete_records"),
        vec![("mcp-method", "tools/call"), ("mcp-name", "whoami")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // Duplicate member names are refused, not resolved one way or the other.
    let dup = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_records"}}"#;
    let r = post(Some(reader), dup.to_owned(), vec![]).await.unwrap();
    assert_eq!(r.status(), 400);
}

/// Issue 23, item 7: DPoP-scheme 401s (`invalid_dpop_proof`, `use_dpop_nonce`, a bound token
/// sent as Bearer) named no `resource_metadata`; every 401 and 403 names it, and the realm,
/// through the adapter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_names_the_metadata_and_the_realm() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = verifier(&issuer)
        .dpop_nonces(NonceIssuer::generate().unwrap())
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier).realm("tools").build().unwrap();
    let base = serve(
        Router::new()
            .route("/open", get(subject))
            .route("/scoped", get(subject).layer(Require::all(["db:delete"])))
            .layer(AgentAuthLayer::new(auth)),
    )
    .await;
    authgent_harness::challenges::Probe {
        base: &base,
        public_url: PUBLIC,
        audience: PUBLIC,
        issuer: &issuer,
        open_route: "/open",
        scoped_route: "/scoped",
        method: "GET",
        bodies: None,
        realm: "tools",
        metadata_url: "http://tools.test/.well-known/oauth-protected-resource",
    }
    .run()
    .await
    .unwrap();
}

/// Issue 24 (SEP-2243, MCP 2026-07-28): a `tools/call` whose `Mcp-Name` is the base64 form,
/// and any `prompts/get` or `resources/read` with its `Mcp-Name`, were refused with 400 before
/// the MCP server saw them. Names come from the member each method uses; prompts and resources
/// have scopes; a header sent twice or not ASCII is 400; batches are refused on revisions
/// without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_2026_07_28_headers_prompts_and_resources_are_decided_before_dispatch() {
    use authgent_axum::RequireTools;
    use authgent_core::mcp::ToolPolicy;
    use axum::routing::post;

    let issuer = TestIssuer::start().await.unwrap();
    let auth = AgentAuth::builder(verifier(&issuer).build().unwrap())
        .build()
        .unwrap();
    let policy = ToolPolicy::builder()
        .tool("deploy", ["deploy:run"])
        .prompt("incident_report", ["reports:read"])
        .resource("file:///payroll/*", ["payroll:read"])
        .build();
    let base = serve(
        Router::new()
            .route("/mcp", post(|body: String| async move { body }))
            .route_layer(
                RequireTools::new(policy)
                    .prompt_guard(
                        "incident_report",
                        authgent_axum::Guard::chain(
                            authgent_core::ChainPolicy::builder()
                                .require_human_root(true)
                                .build(),
                        ),
                    )
                    .resource_guard(
                        "file:///payroll/*",
                        authgent_axum::Guard::check(|id| match id.subject() {
                            "user:alice" => Ok(()),
                            _ => Err(authgent_core::ScopeError::new(["payroll:owner"]).into()),
                        }),
                    ),
            )
            .layer(AgentAuthLayer::new(auth)),
    )
    .await;
    let client = reqwest::Client::new();
    let token = |scopes: &[&str]| {
        issuer
            .token()
            .audience(PUBLIC)
            .scopes(scopes.iter().copied())
            .sign()
    };
    let send = |token: String, body: String, headers: Vec<(&'static str, Vec<u8>)>| {
        let mut request = client
            .post(format!("{base}/mcp"))
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .bearer_auth(token)
            .body(body);
        for (k, v) in headers {
            request = request.header(k, reqwest::header::HeaderValue::from_bytes(&v).unwrap());
        }
        request.send()
    };
    let message = |method: &str, member: &str, value: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{"{member}":"{value}"}}}}"#
        )
    };
    let all = issuer
        .token()
        .audience(PUBLIC)
        .subject("user:alice")
        .human_root(true)
        .scopes(["deploy:run", "reports:read", "payroll:read"])
        .sign();
    for (method, member, value, header) in [
        ("tools/call", "name", "deploy", "=?base64?ZGVwbG95?="),
        ("tools/call", "name", "deploy", "deploy"),
        ("prompts/get", "name", "incident_report", "incident_report"),
        (
            "resources/read",
            "uri",
            "file:///payroll/q4.csv",
            "file:///payroll/q4.csv",
        ),
    ] {
        let body = message(method, member, value);
        let headers = vec![
            ("mcp-method", method.as_bytes().to_vec()),
            ("mcp-name", header.as_bytes().to_vec()),
        ];
        let r = send(all.clone(), body.clone(), headers).await.unwrap();
        assert_eq!(r.status(), 200, "{method} {header}");
        assert_eq!(r.text().await.unwrap(), body, "passed on unchanged");
    }
    // Prompts and resources need their scopes: 403 naming them.
    for (method, member, value, scope) in [
        ("prompts/get", "name", "incident_report", "reports:read"),
        (
            "resources/read",
            "uri",
            "file:///payroll/q4.csv",
            "payroll:read",
        ),
    ] {
        let r = send(
            token(&["deploy:run"]),
            message(method, member, value),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "{method}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.contains(&format!(r#"scope="{scope}""#)),
            "{challenge}"
        );
    }
    // Guards per prompt and per resource pattern, after the scopes.
    let bob = token(&["deploy:run", "reports:read", "payroll:read"]);
    let r = send(
        bob.clone(),
        message("prompts/get", "name", "incident_report"),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no_human_root", "{body}");
    let r = send(
        bob,
        message("resources/read", "uri", "file:///payroll/q4.csv"),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains(r#"scope="payroll:owner""#),
        "{challenge}"
    );
    // A header twice, not ASCII, or naming another target: 400 before dispatch, with the
    // JSON-RPC error -32020 (HeaderMismatch) the 2026-07-28 revision requires of a server,
    // answering the request's id.
    let deploy = message("tools/call", "name", "deploy");
    for headers in [
        vec![
            ("mcp-name", b"deploy".to_vec()),
            ("mcp-name", b"deploy".to_vec()),
        ],
        vec![("mcp-name", "d\u{e9}ploy".as_bytes().to_vec())],
        vec![("mcp-name", b"=?base64?d2hvYW1p?=".to_vec())], // "whoami"
        vec![("mcp-method", b"tools/list".to_vec())],
    ] {
        let r = send(all.clone(), deploy.clone(), headers.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{headers:?}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["jsonrpc"], "2.0", "JSON-RPC-shaped: {body}");
        assert_eq!(body["id"], deploy_id(&deploy), "{body}");
        assert_eq!(body["error"]["code"], -32020, "{body}");
        let said = body["error"]["message"].as_str().unwrap();
        assert!(said.starts_with("Header mismatch: the Mcp-"), "{said}");
    }
    // A body the authorization layer cannot decide on stays an OAuth-shaped 400 that says why.
    let r = send(
        all.clone(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#.to_owned(),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "OAuth-shaped: {body}");
    let said = body["error_description"].as_str().unwrap();
    assert!(said.contains("params.name that is not a string"), "{said}");
    // No batches on 2026-07-28.
    let r = send(all, format!("[{deploy}]"), vec![]).await.unwrap();
    assert_eq!(r.status(), 400);
}

/// The id of a JSON-RPC request body.
fn deploy_id(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["id"].clone()
}
