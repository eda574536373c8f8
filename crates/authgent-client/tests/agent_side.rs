//! The agent side, safe by default (issue 10): every finding of the `authgent-client` review
//! reproduced over loopback HTTP, each test named after its finding. Each failed on the code
//! before the fix.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use authgent_client::{
    AgentAuthClient, ClientError, ExchangeRequest, Introspection, McpAuthProvider,
    RegisteredClient, ScopeChallengeHandler, ScopeStepUp, StepUpApprover, StepUpOutcome, TokenKey,
    TokenManager,
};
use authgent_core::dpop::DpopKey;
use common::{
    TOKEN_OK_BEARER, TOKEN_OK_DPOP, creds, field, form, header, http, proof_claims, serve,
    serve_with,
};

fn json(status: &str, body: &str) -> String {
    http(status, &["content-type: application/json"], body)
}

fn ok() -> String {
    http("200 OK", &[], "fine")
}

async fn as_with(answers: Vec<String>) -> (AgentAuthClient, common::Requests) {
    let (url, requests) = serve(answers).await;
    (AgentAuthClient::new(&url).unwrap(), requests)
}

async fn dpop_as(answers: Vec<String>) -> (AgentAuthClient, common::Requests) {
    let (url, requests) = serve(answers).await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    (auth, requests)
}

fn count(requests: &common::Requests) -> usize {
    requests.lock().unwrap().len()
}

/// Finding 1: a manager built with `.resource(…)` sent `Bearer …` to any URL it was handed.
#[tokio::test]
async fn agent_finding_01_tokens_go_only_to_the_origin_they_were_requested_for() {
    let (rs, rs_requests) = serve(vec![ok()]).await;
    let (evil, evil_requests) = serve(vec![ok()]).await;
    let (auth, as_requests) = as_with(vec![json("200 OK", TOKEN_OK_BEARER)]).await;
    let tokens = TokenManager::builder(auth.clone(), creds())
        .resource(format!("{rs}/api"))
        .build()
        .unwrap();
    let http = reqwest::Client::new();

    // Every way of attaching the token refuses the other origin, before a token is fetched.
    let err = tokens
        .send(http.get(format!("{evil}/steal")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::OriginNotBound { origin, bound } if *origin == evil && *bound == [rs.clone()]),
        "{err}"
    );
    assert_eq!(err.code(), "origin_not_bound");
    let default = TokenKey::new(None, Some(&format!("{rs}/api")));
    assert!(tokens.authorize(http.get(&evil)).await.is_err());
    assert!(tokens.send_for(http.get(&evil), &default).await.is_err());
    assert!(
        tokens
            .headers_for("GET", &format!("{evil}/x"), &default)
            .await
            .is_err()
    );
    // Same host, other port or scheme: another origin.
    let other_scheme = rs.replace("http://", "https://");
    assert!(tokens.send(http.get(&other_scheme)).await.is_err());
    assert_eq!(
        count(&evil_requests),
        0,
        "zero requests at the other origin"
    );
    assert_eq!(count(&as_requests), 0, "not even a token was fetched");

    // The bound origin gets it, on any path.
    let response = tokens
        .send(http.get(format!("{rs}/other/path")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = rs_requests.lock().unwrap()[0].clone();
    assert_eq!(header(&seen, "authorization"), Some("Bearer tok-abc"));
    // The resource went to the authorization server with the token request.
    let token_request = form(&as_requests.lock().unwrap()[0]);
    assert_eq!(field(&token_request, "resource"), [format!("{rs}/api")]);

    // An exchanged token is bound to its audience's origin.
    let exchanged = TokenKey::exchanged("https://downstream.example", None);
    assert_eq!(
        tokens.bound_origins(&exchanged).unwrap(),
        ["https://downstream.example"]
    );
}

#[tokio::test]
async fn agent_finding_01_no_resource_is_a_configuration_error_and_http_needs_opting_in() {
    let auth = AgentAuthClient::new("http://127.0.0.1:9").unwrap();
    let err = TokenManager::builder(auth.clone(), creds())
        .scope("read")
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "config");
    assert!(err.to_string().contains(".resource("), "{err}");
    // A resource that is not a URL names no origin either.
    assert!(
        TokenManager::builder(auth.clone(), creds())
            .resource("urn:example:api")
            .build()
            .is_err()
    );
    // The explicit "this origin" binding.
    let tokens = TokenManager::builder(auth.clone(), creds())
        .allow_origin("https://rs.example")
        .build()
        .unwrap();
    assert_eq!(
        tokens.bound_origins(&TokenKey::default()).unwrap(),
        ["https://rs.example"]
    );
    let err = TokenManager::builder(auth.clone(), creds())
        .allow_origin("https://rs.example/api")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("scheme://host"), "{err}");
    // Plain http:// off loopback: only by opting in.
    for resource in ["http://rs.example", "http://10.0.0.7:8080/api"] {
        let err = TokenManager::builder(auth.clone(), creds())
            .resource(resource)
            .build()
            .unwrap_err();
        assert_eq!(err.code(), "insecure_url", "{resource}");
        TokenManager::builder(auth.clone(), creds())
            .resource(resource)
            .allow_insecure_http()
            .build()
            .unwrap();
    }
    // …and per request, for keys named after the build.
    let tokens = TokenManager::builder(auth, creds())
        .resource("https://rs.example")
        .build()
        .unwrap();
    let err = tokens
        .send_for(
            reqwest::Client::new().get("http://rs.example/"),
            &TokenKey::new(None, Some("http://rs.example")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insecure_url");
}

/// Finding 2: the MCP provider must check the audience: a token for another resource fails.
#[tokio::test]
async fn agent_finding_02_mcp_provider_refuses_a_token_for_another_resource() {
    let issuer = authgent_testkit::TestIssuer::start().await.unwrap();
    let provider = McpAuthProvider::new(issuer.issuer(), "https://mcp.example/mcp").unwrap();
    let mine = issuer.token().audience("https://mcp.example/mcp").sign();
    assert!(provider.verify(&mine).await.is_ok());
    for other in [
        issuer.token().audience("https://other.example/mcp").sign(),
        issuer.token().audience("https://mcp.example/mcp/").sign(),
        issuer.token().audience("https://mcp.example").sign(),
        issuer.token().without_claim("aud").sign(),
    ] {
        let err = provider.verify(&other).await.unwrap_err();
        assert_eq!(err.code(), "invalid_token", "{err}");
    }
    assert!(McpAuthProvider::new(issuer.issuer(), "not a url").is_err());
}

/// Finding 3: with a caller-supplied HTTP client, a 307 from the token endpoint re-sent the
/// form, `client_secret` included, to another host.
#[tokio::test]
async fn agent_finding_03_no_redirect_is_followed_on_authorization_server_requests() {
    let (elsewhere, elsewhere_requests) = serve(vec![json("200 OK", TOKEN_OK_BEARER)]).await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let (url, _) = serve(vec![http(
            status,
            &[&format!("location: {elsewhere}/token")],
            "",
        )])
        .await;
        // A builder with reqwest's default policy (follow up to 10): redirects stay off.
        let auth = AgentAuthClient::builder(&url)
            .http_client(reqwest::Client::builder())
            .build()
            .unwrap();
        let err = auth.get_token(&creds(), None, None).await.unwrap_err();
        assert!(
            matches!(err, ClientError::Redirected { status: s, .. } if status.starts_with(&s.to_string())),
            "{status}: {err}"
        );
        assert_eq!(err.code(), "redirect_refused");
        assert!(auth.revoke_token(&creds(), "tok").await.is_err());
        assert!(auth.introspect_token("tok", Some(&creds())).await.is_err());
        assert!(auth.discover().await.is_err());
    }
    assert_eq!(
        count(&elsewhere_requests),
        0,
        "the secret went nowhere else"
    );
}

/// Finding 4: authenticated sends followed redirects: cross-origin with the proof and the
/// body, storing the target's nonce under the first origin, and same-origin replaying the
/// proof with its old `htu` and `jti`.
#[tokio::test]
async fn agent_finding_04_authenticated_sends_return_redirects_instead_of_following_them() {
    let (target, target_requests) =
        serve(vec![http("200 OK", &["dpop-nonce: poisoned"], "took it")]).await;
    let (rs, rs_requests) = serve_with(|rs| {
        vec![
            http(
                "307 Temporary Redirect",
                &[&format!("location: {target}/x")],
                "",
            ),
            http(
                "307 Temporary Redirect",
                &[&format!("location: {rs}/moved")],
                "",
            ),
            ok(),
        ]
    })
    .await;
    let (auth, _) = dpop_as(vec![json("200 OK", TOKEN_OK_DPOP)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .resource(rs.clone())
        .build()
        .unwrap();
    // The README's client, which follows redirects by default: only the request is used.
    let client = reqwest::Client::new();

    let cross = tokens
        .send(client.post(format!("{rs}/pay")).body("amount=100"))
        .await
        .unwrap();
    assert_eq!(cross.status(), 307, "returned to the caller");
    assert_eq!(
        count(&target_requests),
        0,
        "no proof, no body at the Location"
    );

    let same = tokens.send(client.get(format!("{rs}/old"))).await.unwrap();
    assert_eq!(
        same.status(),
        307,
        "same origin: returned too, no stale proof replayed"
    );
    assert_eq!(count(&rs_requests), 2);

    // The next request to the resource server carries no nonce it never sent.
    tokens
        .send(client.get(format!("{rs}/after")))
        .await
        .unwrap();
    let last = rs_requests.lock().unwrap()[2].clone();
    assert!(proof_claims(&last).get("nonce").is_none());
    // The authorized builder is on the manager's client too: a redirect is not followed.
    let (rs2, _) = serve(vec![http(
        "302 Found",
        &[&format!("location: {target}/y")],
        "",
    )])
    .await;
    let (bearer_as, _) = as_with(vec![json("200 OK", TOKEN_OK_BEARER)]).await;
    let tokens2 = TokenManager::builder(bearer_as, creds())
        .resource(rs2.clone())
        .build()
        .unwrap();
    let built = tokens2.authorize(client.get(&rs2)).await.unwrap();
    assert_eq!(built.send().await.unwrap().status(), 302);
    assert_eq!(count(&target_requests), 0);
}

const PENDING: &str = r#"{"id":"su1","agent_id":"agent-1","action":"scope_escalation","scope":"db:delete","status":"pending"}"#;
const APPROVED: &str = r#"{"id":"su1","agent_id":"agent-1","action":"scope_escalation","scope":"db:delete","status":"approved","approved_by":"alice"}"#;

fn forbidden(scope: &str) -> (http::StatusCode, http::HeaderMap) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "www-authenticate",
        format!(r#"Bearer error="insufficient_scope", scope="{scope}""#)
            .parse()
            .unwrap(),
    );
    (http::StatusCode::FORBIDDEN, headers)
}

fn json_body(request: &str) -> serde_json::Value {
    serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// Finding 5: the resource server could steer step-up: every challenged scope was filed, the
/// outcome was not checked, and approval sat on the agent's own client without credentials.
#[tokio::test]
async fn agent_finding_05_step_up_files_only_allowed_scopes_and_checks_the_outcome() {
    let (auth, requests) = as_with(vec![
        json("202 Accepted", PENDING),
        json("200 OK", APPROVED),
    ])
    .await;
    let handler = ScopeChallengeHandler::new(auth, ["db:delete"]).poll_interval(Duration::ZERO);
    let (status, headers) = forbidden("db:delete admin *:*");
    assert_eq!(
        handler.challenge(status, &headers).unwrap().scopes,
        ["db:delete"]
    );
    let outcome = handler
        .handle(status, &headers, "agent-1", None)
        .await
        .unwrap();
    assert!(matches!(outcome, Some(StepUpOutcome::Approved(_))));
    let filed = json_body(&requests.lock().unwrap()[0]);
    assert_eq!(filed["scope"], "db:delete", "admin and *:* were not filed");

    // An outcome about something else (wider scope, other agent, other id) is refused.
    for decided in [
        APPROVED.replace(r#""scope":"db:delete""#, r#""scope":"db:delete admin""#),
        APPROVED.replace("agent-1", "agent-2"),
        APPROVED.replace("su1", "su2"),
    ] {
        let (auth, _) = as_with(vec![
            json("202 Accepted", PENDING),
            json("200 OK", &decided),
        ])
        .await;
        let handler = ScopeChallengeHandler::new(auth, ["db:delete"]);
        let err = handler
            .handle(status, &headers, "agent-1", None)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("differs from the one filed"),
            "{err}"
        );
    }
    // A challenge naming no HITL scope files nothing.
    let (auth, requests) = as_with(vec![json("202 Accepted", PENDING)]).await;
    let handler = ScopeChallengeHandler::new(auth, ["db:delete"]);
    let (status, headers) = forbidden("admin *:*");
    assert!(
        handler
            .handle(status, &headers, "agent-1", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(count(&requests), 0);
}

#[tokio::test]
async fn agent_finding_05_approval_is_a_separate_api_with_its_own_credential() {
    let (url, requests) = serve(vec![json("200 OK", APPROVED)]).await;
    assert_eq!(
        StepUpApprover::builder(&url, "")
            .build()
            .unwrap_err()
            .code(),
        "config"
    );
    let approver = StepUpApprover::builder(&url, "approver-secret")
        .build()
        .unwrap();
    assert!(!format!("{approver:?}").contains("approver-secret"));
    let decided = approver.approve("su1", "alice").await.unwrap();
    assert_eq!(decided.approved_by.as_deref(), Some("alice"));
    let seen = requests.lock().unwrap()[0].clone();
    assert!(seen.starts_with("POST /stepup/su1/approve "));
    assert_eq!(
        header(&seen, "authorization"),
        Some("Bearer approver-secret")
    );
    // An answer about another request is not a recorded decision.
    let (url, _) = serve(vec![json("200 OK", APPROVED)]).await;
    let approver = StepUpApprover::builder(&url, "approver-secret")
        .build()
        .unwrap();
    assert!(approver.approve("su9", "alice").await.is_err());
}

#[tokio::test]
async fn agent_finding_05_the_mcp_step_up_rule_asks_for_the_union_of_allowed_scopes_a_bounded_number_of_times()
 {
    let challenge =
        r#"www-authenticate: Bearer error="insufficient_scope", scope="files:write admin""#;
    let (rs, rs_requests) = serve(vec![http("403 Forbidden", &[challenge], ""), ok()]).await;
    let read =
        r#"{"access_token":"t-read","token_type":"Bearer","expires_in":900,"scope":"files:read"}"#;
    let write = r#"{"access_token":"t-write","token_type":"Bearer","expires_in":900,"scope":"files:read files:write"}"#;
    let (auth, as_requests) = as_with(vec![json("200 OK", read), json("200 OK", write)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .resource(rs.clone())
        .scope("files:read")
        .build()
        .unwrap();
    let rule = ScopeStepUp::new(["files:read", "files:write"]);
    let key = TokenKey::new(Some("files:read"), Some(&rs));
    let (response, used) = tokens
        .send_with_step_up(reqwest::Client::new().get(format!("{rs}/f")), &key, &rule)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(used.scope.as_deref(), Some("files:read files:write"));
    let second = form(&as_requests.lock().unwrap()[1]);
    assert_eq!(
        field(&second, "scope"),
        ["files:read files:write"],
        "admin never asked for"
    );
    assert_eq!(
        header(&rs_requests.lock().unwrap()[1], "authorization"),
        Some("Bearer t-write")
    );

    // A server that keeps refusing gets `max_retries` retries, then its answer.
    let (rs, rs_requests) = serve(vec![http("403 Forbidden", &[challenge], "")]).await;
    let (auth, _) = as_with(vec![json("200 OK", read), json("200 OK", write)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .resource(rs.clone())
        .build()
        .unwrap();
    let key = TokenKey::new(Some("files:read"), Some(&rs));
    let (response, _) = tokens
        .send_with_step_up(reqwest::Client::new().get(format!("{rs}/f")), &key, &rule)
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(count(&rs_requests), 2, "one retry, then the answer");
}

/// Finding 6: plain `http://` authorization servers were accepted for any host, and
/// discovered endpoints were used verbatim.
#[tokio::test]
async fn agent_finding_06_plain_http_authorization_servers_and_endpoints_are_refused_off_loopback()
{
    for url in [
        "http://auth.example",
        "http://10.1.2.3:8000",
        "http://localhost.evil.example",
    ] {
        let err = AgentAuthClient::new(url).unwrap_err();
        assert_eq!(err.code(), "insecure_url", "{url}");
        AgentAuthClient::builder(url)
            .allow_insecure_http()
            .build()
            .unwrap();
    }
    for url in [
        "https://auth.example",
        "http://127.0.0.1:8000",
        "http://[::1]:8000",
        "http://localhost:8000",
    ] {
        AgentAuthClient::new(url).unwrap();
    }
    // A loopback issuer naming a plain-http endpoint elsewhere: discovery fails, nothing used.
    let (url, requests) = serve_with(|base| {
        let doc = format!(
            r#"{{"issuer":"{base}","token_endpoint":"http://auth.example/token","jwks_uri":"{base}/jwks"}}"#
        );
        vec![json("200 OK", &doc), json("200 OK", TOKEN_OK_BEARER)]
    })
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    let err = auth.discover().await.unwrap_err();
    assert_eq!(err.code(), "insecure_url");
    assert!(err.to_string().contains("token_endpoint"), "{err}");
    assert!(auth.metadata().is_none());
    assert_eq!(auth.token_endpoint(), format!("{url}/token"));
    assert_eq!(count(&requests), 1);
}

/// Finding 7: `Instant::now() + expires_in` panicked on a huge `expires_in`: lifetimes are
/// capped at [`authgent_client::MAX_CACHED_LIFETIME`] with checked arithmetic, on every path
/// that caches (own tokens and exchanged ones).
#[tokio::test]
async fn agent_finding_07_huge_lifetimes_are_capped_without_panicking() {
    let huge = r#"{"access_token":"t","token_type":"Bearer","expires_in":18446744073709551615}"#;
    let (auth, requests) = as_with(vec![json("200 OK", huge)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .allow_origin("https://rs.example")
        .build()
        .unwrap();
    tokens.token().await.unwrap();
    tokens
        .exchange_for("https://down.example", None)
        .await
        .unwrap();
    tokens.token().await.unwrap();
    assert_eq!(count(&requests), 2, "own + exchanged, each cached");
}

/// Finding 8: `Debug` of `extra` printed `registration_access_token`; `Authorization` was not
/// a sensitive header value.
#[tokio::test]
async fn agent_finding_08_debug_never_shows_extra_values_or_authorization() {
    let client: RegisteredClient = serde_json::from_str(
        r#"{"client_id":"c1","client_secret":"sec-1","registration_access_token":"rat-123","registration_client_uri":"https://as/x"}"#,
    )
    .unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("rat-123") && !shown.contains("sec-1"),
        "{shown}"
    );
    assert!(
        shown.contains("registration_access_token"),
        "names are kept: {shown}"
    );
    let intro: Introspection =
        serde_json::from_str(r#"{"active":true,"sub":"s","token":"leaked-tok","custom":"x"}"#)
            .unwrap();
    assert!(!format!("{intro:?}").contains("leaked-tok"));

    let (auth, _) = dpop_as(vec![json("200 OK", TOKEN_OK_DPOP)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .allow_origin("https://rs.example")
        .build()
        .unwrap();
    let request = tokens
        .authorize(reqwest::Client::new().get("https://rs.example/a"))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert!(request.headers()["authorization"].is_sensitive());
    assert!(request.headers()["dpop"].is_sensitive());
    let shown = format!("{request:?}");
    assert!(!shown.contains("tok-abc"), "{shown}");
    let headers = tokens
        .headers_for("GET", "https://rs.example/a", &TokenKey::default())
        .await
        .unwrap();
    assert!(headers.values().all(http::HeaderValue::is_sensitive));
}

/// Finding 9: one nonce slot for every authorization-server endpoint: a nonce from one origin
/// was sent to another.
#[tokio::test]
async fn agent_finding_09_dpop_nonces_are_kept_per_origin() {
    let (other, _) = serve(vec![http(
        "200 OK",
        &["dpop-nonce: from-other", "content-type: application/json"],
        r#"{"active":false}"#,
    )])
    .await;
    let (url, requests) = serve_with(|base| {
        let doc = format!(
            r#"{{"issuer":"{base}","token_endpoint":"{base}/token","introspection_endpoint":"{other}/introspect"}}"#
        );
        vec![json("200 OK", &doc), json("200 OK", TOKEN_OK_DPOP)]
    })
    .await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    auth.discover().await.unwrap();
    assert!(!auth.introspect_token("tok", None).await.unwrap().active);
    assert_eq!(
        auth.dpop_nonce(&format!("{other}/introspect")).as_deref(),
        Some("from-other")
    );
    assert_eq!(auth.dpop_nonce(&auth.token_endpoint()), None);
    auth.get_token(&creds(), None, None).await.unwrap();
    let token_request = requests.lock().unwrap()[1].clone();
    assert!(
        proof_claims(&token_request).get("nonce").is_none(),
        "the other origin's nonce stayed with it"
    );
}

/// Finding 10: the server could downgrade DPoP: `token_type: "N_A"` or another
/// `issued_token_type` skipped the check, and the manager then sent `Bearer`.
#[tokio::test]
async fn agent_finding_10_a_dpop_request_never_accepts_an_unbound_access_token() {
    for answer in [
        r#"{"access_token":"t","token_type":"N_A","expires_in":900}"#,
        r#"{"access_token":"t","token_type":"Bearer","expires_in":900,"issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"}"#,
        r#"{"access_token":"t","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:jwt"}"#,
    ] {
        let (auth, _) = dpop_as(vec![json("200 OK", answer)]).await;
        let err = auth.get_token(&creds(), None, None).await.unwrap_err();
        assert_eq!(err.code(), "not_dpop_bound", "{answer}");
        let err = auth
            .exchange_token(
                &creds(),
                &ExchangeRequest::new("subject").audience("https://a.example"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_dpop_bound", "{answer}");
        let (rs, rs_requests) = serve(vec![ok()]).await;
        let tokens = TokenManager::builder(auth, creds())
            .resource(rs.clone())
            .build()
            .unwrap();
        assert!(tokens.send(reqwest::Client::new().get(&rs)).await.is_err());
        assert_eq!(
            count(&rs_requests),
            0,
            "no bearer token sent by a DPoP client"
        );
    }
    // What was requested decides: the identity-chaining grant is N_A by design.
    let grant = r#"{"access_token":"g","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:jwt"}"#;
    let (auth, _) = dpop_as(vec![json("200 OK", grant)]).await;
    auth.start_identity_chain(&creds(), "subject", "https://b.example", None)
        .await
        .unwrap();
}

/// Finding 11: server text was echoed verbatim into errors (`invalid type: string "…"`,
/// `error_description`): it is bounded, stripped of control characters, and never holds the
/// secrets the client sent.
#[tokio::test]
async fn agent_finding_11_server_text_in_errors_is_bounded_clean_and_secret_free() {
    let secret = creds().client_secret.expose().to_owned();
    let long = "x".repeat(10_000);
    let body = format!(
        r#"{{"error":"invalid_client\r\nFAKE LOG LINE","error_description":"bad secret {secret}\n\u001b[31m {long}"}}"#
    );
    let (auth, _) = as_with(vec![json("401 Unauthorized", &body)]).await;
    let err = auth.get_token(&creds(), None, None).await.unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.len() < 1_000, "{}", text.len());
    let server = err.server_error().unwrap();
    assert!(
        !server.code.contains('\n') && server.code.len() <= 64,
        "{:?}",
        server.code
    );

    // A 2xx body of the wrong shape: the error names the problem, not the value.
    let odd = r#"{"access_token":"t","token_type":"Bearer","expires_in":"eyJhbGciOiJFUzI1NiJ9.secret-looking"}"#;
    let (auth, _) = as_with(vec![json("200 OK", odd)]).await;
    let text = auth
        .get_token(&creds(), None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(!text.contains("secret-looking"), "{text}");
    assert!(text.contains("invalid type"), "{text}");
}

/// Finding 12: the authorization-code flow sent no `resource`, generated and checked no
/// `state`, checked no `iss`, and broke an endpoint with a query.
#[tokio::test]
async fn agent_finding_12_authorization_code_flow_has_resource_state_and_iss() {
    let refreshed =
        r#"{"access_token":"a2","token_type":"Bearer","expires_in":900,"refresh_token":"r2"}"#;
    let (url, requests) = serve_with(|base| {
        let doc = format!(
            r#"{{"issuer":"{base}","authorization_endpoint":"{base}/authorize?tenant=t1","token_endpoint":"{base}/token","authorization_response_iss_parameter_supported":true}}"#
        );
        vec![
            json("200 OK", &doc),
            json("200 OK", r#"{"access_token":"a1","token_type":"Bearer","expires_in":900,"refresh_token":"r1"}"#),
            json("200 OK", refreshed),
        ]
    })
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    auth.discover().await.unwrap();
    let login = auth
        .authorization_request(
            "app",
            "http://127.0.0.1:9/cb",
            "read",
            Some("https://mcp.example/mcp"),
        )
        .unwrap();
    let opened = reqwest::Url::parse(login.url()).unwrap();
    let pairs: Vec<(String, String)> = opened.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        get("tenant"),
        Some("t1"),
        "the endpoint's own query is kept"
    );
    assert_eq!(get("resource"), Some("https://mcp.example/mcp"));
    let state = get("state").unwrap().to_owned();
    assert_eq!(state, login.state().expose());

    // Forged callbacks: nothing is sent.
    let iss = url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>();
    for forged in [
        format!("http://127.0.0.1:9/cb?code=c&state=guess&iss={iss}"),
        format!("http://127.0.0.1:9/cb?code=c&state={state}"),
        format!("http://127.0.0.1:9/cb?code=c&state={state}&iss=https%3A%2F%2Fevil.example"),
    ] {
        let err = auth
            .exchange_authorization_code(&creds(), &login, &forged)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_callback", "{forged}: {err}");
    }
    assert_eq!(count(&requests), 1);

    let callback = format!("http://127.0.0.1:9/cb?code=c-1&state={state}&iss={iss}");
    let tokens = auth
        .exchange_authorization_code(&creds(), &login, &callback)
        .await
        .unwrap();
    let code_request = form(&requests.lock().unwrap()[1]);
    assert_eq!(field(&code_request, "code"), ["c-1"]);
    assert_eq!(
        field(&code_request, "resource"),
        ["https://mcp.example/mcp"]
    );
    assert_eq!(
        field(&code_request, "redirect_uri"),
        ["http://127.0.0.1:9/cb"]
    );
    assert_eq!(field(&code_request, "code_verifier")[0].len(), 43);
    let refresh = tokens.refresh_token.unwrap();
    auth.refresh_token(&creds(), refresh.expose(), login.resource())
        .await
        .unwrap();
    let refresh_request = form(&requests.lock().unwrap()[2]);
    assert_eq!(
        field(&refresh_request, "resource"),
        ["https://mcp.example/mcp"]
    );
}

/// Finding 13a: a `401 invalid_token` from one service dropped the cached token of another.
#[tokio::test]
async fn agent_finding_13_an_invalid_token_answer_drops_only_that_services_token() {
    let (a, _) = serve(vec![ok()]).await;
    let (b, _) = serve(vec![http(
        "401 Unauthorized",
        &[r#"www-authenticate: Bearer error="invalid_token""#],
        "",
    )])
    .await;
    let (auth, as_requests) = as_with(vec![json("200 OK", TOKEN_OK_BEARER)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .resource(a.clone())
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    tokens.send(http.get(&a)).await.unwrap();
    // The old code sent A's token to B and dropped it on B's 401; now it never reaches B.
    let err = tokens.send(http.get(&b)).await.unwrap_err();
    assert_eq!(err.code(), "origin_not_bound");
    let for_b = TokenKey::new(None, Some(&b));
    assert_eq!(
        tokens
            .send_for(http.get(&b), &for_b)
            .await
            .unwrap()
            .status(),
        401
    );
    tokens.send(http.get(&a)).await.unwrap();
    assert_eq!(
        count(&as_requests),
        2,
        "A's token kept (one fetch for A, one for B)"
    );
}

/// Finding 13b: a failed renewal was retried by every waiting task in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_finding_13_a_failed_renewal_is_shared_not_repeated_by_each_waiter() {
    let (auth, requests) = as_with(vec![json(
        "503 Service Unavailable",
        r#"{"error":"temporarily_unavailable"}"#,
    )])
    .await;
    let tokens = TokenManager::builder(auth, creds())
        .allow_origin("https://rs.example")
        .build()
        .unwrap();
    let waiters: Vec<_> = (0..20)
        .map(|_| {
            let t = tokens.clone();
            tokio::spawn(async move { t.token().await.unwrap_err() })
        })
        .collect();
    let mut backoffs = 0;
    for w in waiters {
        let err = w.await.unwrap();
        assert_eq!(err.code(), "temporarily_unavailable", "{err}");
        backoffs += usize::from(matches!(err, ClientError::RenewalBackoff { .. }));
    }
    assert_eq!(count(&requests), 1, "20 waiters, one request");
    assert_eq!(backoffs, 19);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _ = tokens.token().await;
    assert_eq!(count(&requests), 2, "tried again after the backoff");
}

/// Finding 13c: `send` had no timeout of its own.
#[tokio::test]
async fn agent_finding_13_sends_time_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs = format!("http://{}", listener.local_addr().unwrap());
    let held = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().await.push(stream); // never answers
        }
    });
    let (auth, _) = as_with(vec![json("200 OK", TOKEN_OK_BEARER)]).await;
    let tokens = TokenManager::builder(auth, creds())
        .resource(rs.clone())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = tokens
        .send(reqwest::Client::new().get(&rs))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Finding 13d: `poll_interval(0)` polled hundreds of times per second.
#[tokio::test]
async fn agent_finding_13_polling_has_a_floor() {
    let (auth, requests) = as_with(vec![json("200 OK", PENDING)]).await;
    let err = auth
        .wait_for_stepup("su1", Duration::ZERO, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "step_up_timeout");
    let polls = count(&requests);
    assert!((2..=6).contains(&polls), "{polls} polls in 1 s");
}

/// Issue 23, item 6: `McpAuthProvider::verify_dpop` checked a proof against whatever URL the
/// caller passed, so a proof made for another server (sharing the issuer and the key) passed on
/// a provider for this one. The `htu` is compared with the configured resource origin + path;
/// the JWKS URL is the one discovery names, not a guessed `/.well-known/jwks.json`.
#[tokio::test]
async fn agent_finding_14_verify_dpop_checks_the_configured_origin_and_jwks_comes_from_discovery() {
    let issuer = authgent_testkit::TestIssuer::start().await.unwrap();
    let resource = "http://127.0.0.1:8000/mcp";
    let provider = McpAuthProvider::new(issuer.issuer(), resource).unwrap();
    let key = DpopKey::generate_es256().unwrap();
    let token = issuer.token().audience(resource).dpop_jkt(key.jkt()).sign();
    let proof_for = |url: &str| {
        key.proof(
            "POST",
            url,
            Some(&token),
            None,
            std::time::SystemTime::now(),
        )
        .unwrap()
    };
    // Made for another server: refused, whatever URL the caller passes.
    for (made_for, passed) in [
        ("https://mcp.example/mcp", "https://mcp.example/mcp"),
        ("https://mcp.example/mcp", "/mcp"),
        ("http://127.0.0.1:9000/mcp", "http://127.0.0.1:9000/mcp"),
    ] {
        let err = provider
            .verify_dpop(&token, &proof_for(made_for), "POST", passed)
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "invalid_dpop_proof",
            "{made_for} passed as {passed}"
        );
    }
    // Made for this server: accepted given the path, or the full URL the request reached.
    for passed in [
        "/mcp",
        "http://127.0.0.1:8000/mcp",
        "https://evil.example/mcp",
    ] {
        let identity = provider
            .verify_dpop(&token, &proof_for(resource), "POST", passed)
            .await
            .unwrap_or_else(|e| panic!("{passed}: {e}"));
        assert_eq!(identity.dpop_jkt(), Some(key.jkt()));
    }
    // Another path of this server: refused.
    let err = provider
        .verify_dpop(&token, &proof_for(resource), "POST", "/other")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_dpop_proof");

    // The testkit's metadata names /oauth/jwks.
    assert_eq!(provider.jwks_url().await.unwrap(), issuer.jwks_url());
    assert!(!issuer.jwks_url().ends_with("/.well-known/jwks.json"));
}
