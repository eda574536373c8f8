//! The `authgent` binary run as a user runs it, against the testkit issuer and a
//! deliberately misconfigured server over loopback HTTP.

use assert_cmd::Command;
use authgent_testkit::TestIssuer;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use serde_json::{Value, json};

fn authgent() -> Command {
    let mut cmd = Command::cargo_bin("authgent").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs the binary on a blocking thread (the issuer keeps serving on the runtime).
async fn run(args: Vec<String>, stdin: Option<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut cmd = authgent();
        cmd.args(&args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_shows_the_chain_and_says_nothing_was_verified() {
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer
        .token()
        .subject("user:alice")
        .human_root(true)
        .actors(["client:worker", "client:orchestrator"])
        .sign();
    let (code, out, _) = run(args(&["inspect", &token]), None).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("NOT VERIFIED"), "{out}");
    assert!(
        out.contains(
            "user:alice (human root)\n└─ client:orchestrator\n   └─ client:worker  ◀ current actor"
        ),
        "{out}"
    );
    assert!(out.contains("expires in "), "{out}");

    // From stdin, as `Bearer …` pasted from a request, as JSON.
    let (code, out, _) = run(
        args(&["--json", "inspect", "-"]),
        Some(format!("Bearer {token}\n")),
    )
    .await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["chain"]["current_actor"], "client:worker");
    assert_eq!(v["chain"]["depth"], 2);
    assert_eq!(v["expired"], false);

    let (code, _, err) = run(args(&["inspect", "not-a-token"]), None).await;
    assert_eq!(code, 2);
    assert!(err.contains("not a JWT"), "{err}");
    let expired = issuer.token().expired().sign();
    let (_, out, _) = run(args(&["inspect", &expired]), None).await;
    assert!(out.contains("EXPIRED "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_gives_the_identity_or_the_exact_refusal() {
    let issuer = TestIssuer::start().await.unwrap();
    let aud = "https://tools.example";
    let good = issuer.token().audience(aud).actors(["client:tool"]).sign();
    let verify =
        |t: &str, a: &str| args(&["verify", t, "--issuer", issuer.issuer(), "--audience", a]);

    let mut verbose = verify(&good, aud);
    verbose.insert(0, "-v".into());
    let (code, out, err) = run(verbose, None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("[ok] valid token"), "{out}");
    // -v: what was fetched, from the verifier's own events; never the token.
    assert!(
        err.contains("discovering issuer metadata") && err.contains("fetching JWKS"),
        "{err}"
    );
    assert!(!err.contains(&good), "{err}");
    assert!(out.contains("client:tool  ◀ current actor"), "{out}");

    let (code, out, _) = run(verify(&good, "https://other.example"), None).await;
    assert_eq!(code, 1);
    assert!(
        out.contains("401 invalid_token: token audience (aud) does not include this resource"),
        "{out}"
    );

    let expired = issuer.token().audience(aud).expired().sign();
    let mut json = verify(&expired, aud);
    json.insert(0, "--json".into());
    let (code, out, _) = run(json, None).await;
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"valid": false, "status": 401, "error": "invalid_token", "reason": "token has expired"})
    );

    let unknown = issuer
        .token()
        .audience(aud)
        .header("kid", json!("gone"))
        .sign();
    let (_, out, _) = run(verify(&unknown, aud), None).await;
    assert!(out.contains("kid"), "{out}");

    // Nothing listens there: a network failure, exit 3, and -v says what was tried.
    let dead = args(&[
        "-v",
        "verify",
        &good,
        "--issuer",
        "http://127.0.0.1:9",
        "--audience",
        aud,
    ]);
    let (code, _, err) = run(dead, None).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("discovering http://127.0.0.1:9"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_keygen_jkt_and_proof_agree() {
    let dir = std::env::temp_dir().join(format!("authgent-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.jwk");
    let _ = std::fs::remove_file(&key);
    let key_s = key.display().to_string();
    let (code, printed_jkt, _) = run(args(&["dpop", "keygen", "--out", &key_s]), None).await;
    assert_eq!(code, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Never overwrites a key.
    let (code, _, err) = run(args(&["dpop", "keygen", "--out", &key_s]), None).await;
    assert_eq!(code, 2, "{err}");

    let (code, jkt, _) = run(args(&["jkt", &key_s]), None).await;
    assert_eq!(code, 0);
    assert_eq!(jkt, printed_jkt);
    let url = "https://api.example/tools?q=1";
    let (code, proof, _) = run(
        args(&[
            "dpop", "proof", "--key", &key_s, "--method", "POST", "--url", url, "--token", "abc",
        ]),
        None,
    )
    .await;
    assert_eq!(code, 0);
    let (_, out, _) = run(args(&["--json", "inspect", proof.trim()]), None).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["header"]["typ"], "dpop+jwt");
    assert_eq!(v["claims"]["htm"], "POST");
    assert_eq!(v["claims"]["htu"], "https://api.example/tools");
    assert!(v["claims"]["ath"].is_string());
    let jwk = serde_json::to_string(&v["header"]["jwk"]).unwrap();
    let (_, from_proof, _) = run(args(&["jkt", "-"]), Some(jwk)).await;
    assert_eq!(from_proof, jkt, "the proof carries the key's public JWK");
    assert!(!v["header"]["jwk"].as_object().unwrap().contains_key("d"));

    let (code, _, err) = run(
        args(&["dpop", "proof", "--key", &key_s, "--url", "relative"]),
        None,
    )
    .await;
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(args(&["dpop", "keygen", "--alg", "HS256"]), None).await;
    assert_eq!(code, 2);
    let (code, _, _) = run(args(&["no-such-command"]), None).await;
    assert_eq!(code, 2, "clap's usage errors are exit 2");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Everything a client trips over, in one server: the document's `resource` has a trailing
/// slash, the 401 names no resource_metadata but says error="invalid_token", one of its
/// challenges does not parse, and any token at all is accepted.
async fn misconfigured() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({"resource": format!("{base}/mcp/"), "authorization_servers": []});
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/mcp",
            any(|headers: HeaderMap| async move {
                if headers.contains_key(header::AUTHORIZATION) {
                    (StatusCode::OK, "{}").into_response()
                } else {
                    let mut response = StatusCode::UNAUTHORIZED.into_response();
                    let challenges = response.headers_mut();
                    challenges.append(
                        header::WWW_AUTHENTICATE,
                        r#"Bearer error="invalid_token""#.parse().unwrap(),
                    );
                    // An unterminated quoted-string: no client can parse it.
                    challenges.append(
                        header::WWW_AUTHENTICATE,
                        r#"Bearer realm="tools"#.parse().unwrap(),
                    );
                    response
                }
            }),
        );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/mcp"), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_what_a_misconfigured_server_gets_wrong() {
    let issuer = TestIssuer::start().await.unwrap();
    let (mcp, server) = misconfigured().await;
    let other = issuer.token().audience("https://another.example").sign();
    let (code, out, err) = run(args(&["--json", "doctor", &mcp, "--token", &other]), None).await;
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let level = |check: &str| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| {
                format!(
                    "{} {}",
                    f["level"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(
        level("resource")[0].starts_with("fail trailing slash"),
        "{out}"
    );
    assert!(level("resource-metadata")[0].starts_with("fail"), "{out}");
    assert!(level("challenge-error")[0].starts_with("warn"), "{out}");
    assert!(
        level("challenge-syntax")[0].starts_with("fail WWW-Authenticate"),
        "{out}"
    );
    assert!(
        level("audience")[0].starts_with("fail a token for another audience"),
        "{out}"
    );
    assert!(level("signature")[0].starts_with("fail"), "{out}");
    assert_eq!(v["clean"], false);

    // The text form names each fix.
    let (_, text, _) = run(args(&["doctor", &mcp]), None).await;
    assert!(text.contains("[FAIL] resource: trailing slash"), "{text}");
    assert!(text.contains("fix: add resource_metadata="), "{text}");
    assert!(text.contains("[skip] audience"), "{text}");

    // metadata says why the document must be refused.
    let (code, out, _) = run(args(&["metadata", &mcp]), None).await;
    assert_eq!(code, 1);
    assert!(out.contains("RFC 9728 §3.3"), "{out}");
    server.abort();

    // Nothing there: exit 3.
    let (code, _, _) = run(args(&["doctor", "http://127.0.0.1:9/mcp"]), None).await;
    assert_eq!(code, 3);
}

/// A server whose metadata and credential-less 401 are right, but which answers every
/// request with credentials `status` (a failing upstream behind a gateway, say).
async fn failing_with_credentials(
    issuer: &TestIssuer,
    status: StatusCode,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let well_known = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let doc =
        json!({"resource": format!("{base}/mcp"), "authorization_servers": [issuer.issuer()]});
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/mcp",
            any(move |headers: HeaderMap| async move {
                if headers.contains_key(header::AUTHORIZATION) {
                    return status.into_response();
                }
                let challenge = format!(r#"Bearer resource_metadata="{well_known}""#);
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
                response
            }),
        );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/mcp"), server)
}

/// Issue 23, item 3: a 5xx said nothing about the token, yet doctor printed "[ok] token …
/// accepted (502)". A server error or no answer where the answer is the verdict is "could
/// not tell", exit 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_cannot_tell_from_a_server_error() {
    let issuer = TestIssuer::start().await.unwrap();
    for status in [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE] {
        let (mcp, server) = failing_with_credentials(&issuer, status).await;
        for audience in [mcp.as_str(), "https://another.example"] {
            let token = issuer.token().audience(audience).sign();
            let (code, out, err) = run(args(&["doctor", &mcp, "--token", &token]), None).await;
            assert_eq!(code, 4, "{status} {audience}: {out}{err}");
            assert!(!out.contains("accepted ("), "{out}");
            assert!(!out.contains("[FAIL]"), "{out}");
            assert!(out.contains("[??]"), "{out}");
            assert!(
                out.contains(&format!("answered {}", status.as_u16())),
                "{out}"
            );
            assert!(out.contains("1 could not tell"), "{out}");
        }
        let token = issuer.token().audience(&mcp).sign();
        let (_, json_out, _) =
            run(args(&["--json", "doctor", &mcp, "--token", &token]), None).await;
        let v: Value = serde_json::from_str(&json_out).unwrap();
        assert_eq!(v["clean"], false, "{json_out}");
        assert_eq!(v["could_not_tell"], 1, "{json_out}");
        server.abort();
    }
    // The help names the exit code.
    let (_, help, _) = run(args(&["--help"]), None).await;
    assert!(help.contains("4 doctor could not"), "{help}");
}

/// Issue 23, item 2: with `http_proxy` set, `doctor --token` against a loopback server sent
/// `Authorization: Bearer …` to the proxy. No request of the CLI goes to an environment proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_never_sends_a_token_to_an_environment_proxy() {
    let issuer = TestIssuer::start().await.unwrap();
    let (mcp, server) = failing_with_credentials(&issuer, StatusCode::OK).await;
    let proxy = authgent_harness::env_proxy::CountingProxy::start();
    let token = issuer.token().audience(&mcp).sign();
    let mut cmd = authgent();
    cmd.args(["doctor", &mcp, "--token", &token]);
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    for name in authgent_harness::env_proxy::PROXY_VARIABLES {
        cmd.env(name, proxy.url());
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // (The stub accepts any token, so the broken-signature check fails: beside the point.)
    assert!(
        text.contains("[ok] token: a token for this resource is accepted (200)"),
        "{text}"
    );
    assert_eq!(proxy.connections(), 0, "connections to the proxy");
    server.abort();
}

/// Issue 24, item 8: `--format github` annotates each finding with its stable check id, and
/// an MCP endpoint is probed as a 2026-07-28 client would (`server/discover` with the
/// SEP-2243 headers), then with `initialize` for a server that does not speak it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_speaks_2026_07_28_first_and_annotates_for_github() {
    let (mcp, server) = misconfigured().await;
    let (code, out, _) = run(args(&["--format", "github", "doctor", &mcp]), None).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("::error title=authgent doctor resource::trailing slash"),
        "{out}"
    );
    assert!(
        out.contains("::warning title=authgent doctor challenge-error::"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("::notice title=authgent doctor::"),
        "{out}"
    );
    assert!(!out.contains("[FAIL]"), "{out}");
    server.abort();

    // What the probe sends: a server that knows only 2025-06-18 refuses server/discover (400).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/mcp",
        any(
            move |method: axum::http::Method, headers: HeaderMap, body: String| {
                let record = std::sync::Arc::clone(&record);
                async move {
                    let mcp_method = headers
                        .get("mcp-method")
                        .map(|v| v.to_str().unwrap().to_owned());
                    record
                        .lock()
                        .unwrap()
                        .push((method.to_string(), mcp_method, body.clone()));
                    match method.as_str() {
                        "GET" => StatusCode::METHOD_NOT_ALLOWED.into_response(),
                        _ if body.contains("server/discover") => {
                            StatusCode::BAD_REQUEST.into_response()
                        }
                        _ => StatusCode::UNAUTHORIZED.into_response(),
                    }
                }
            },
        ),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let _ = run(args(&["doctor", &format!("{base}/mcp")]), None).await;
    let seen = seen.lock().unwrap().clone();
    let posts: Vec<_> = seen.iter().filter(|(m, _, _)| m == "POST").collect();
    assert!(posts.len() >= 2, "{seen:?}");
    assert_eq!(posts[0].1.as_deref(), Some("server/discover"), "{seen:?}");
    assert!(posts[1].2.contains(r#""method":"initialize""#), "{seen:?}");
    server.abort();
}

/// A real token from the real authgent-server (`cargo xtask test` starts it): inspected
/// (its real claims and chain) and verified against the real server's discovery and JWKS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_a_real_servers_token_inspected_and_verified() {
    use authgent_harness::real_server::RealServer;
    let real = RealServer::default_instance();
    let orchestrator = real.register(&["search:execute"]).await;
    let worker = real.register(&["search:execute"]).await;
    let own = real
        .client_credentials(&orchestrator, "search:execute")
        .await;
    let delegated = real
        .exchange(&worker, &own, &real.url, "search:execute")
        .await;
    assert_eq!(delegated.status, 200, "{}", delegated.body);
    let token = delegated.body["access_token"].as_str().unwrap().to_owned();

    let (code, out, _) = run(args(&["--json", "inspect", &token]), None).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["claims"]["iss"], real.url.as_str());
    assert_eq!(v["chain"]["root_subject"], orchestrator.subject());
    assert_eq!(v["chain"]["current_actor"], worker.subject());

    let (code, out, err) = run(
        args(&[
            "-v",
            "verify",
            &token,
            "--issuer",
            &real.url,
            "--audience",
            &real.url,
        ]),
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("subject:   {}", orchestrator.subject())),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}  ◀ current actor", worker.subject())),
        "{out}"
    );
    let (code, out, _) = run(
        args(&[
            "verify",
            &token,
            "--issuer",
            &real.url,
            "--audience",
            "https://elsewhere.example",
        ]),
        None,
    )
    .await;
    assert_eq!(code, 1, "{out}");
}
