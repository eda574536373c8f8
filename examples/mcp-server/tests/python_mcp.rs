//! The official MCP Python SDK (`mcp` 2.3.0, in the venv `cargo xtask test` installs) as the
//! client of this MCP server, both trusting the real authgent-server: the SDK's discovery
//! helpers read our 401 and metadata, its session lists and calls tools with a real token —
//! Bearer and DPoP-bound — and its challenge parsing reads our 403.

use authgent_harness::contract::ServerProcess;
use authgent_harness::real_server::{RealServer, required_env};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-server");

async fn probe(request: Value) -> Value {
    let python = required_env("AUTHGENT_INTEROP_PYTHON");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../interop/python/mcp_probe.py"
    );
    let mut child = tokio::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.expect("python ran");
    assert!(
        out.status.success(),
        "mcp_probe.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("mcp_probe.py answers JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_python_mcp_sdk_discovers_calls_tools_and_reads_the_challenges() {
    let real = RealServer::default_instance();
    let server = ServerProcess::start(
        BIN,
        &[],
        &[("AUTHGENT_ISSUER", &real.url), ("BIND", "127.0.0.1:0")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://{}", server.addr);
    let endpoint = format!("{base}/mcp");
    let agent = real.register(&["search:execute", "db:delete"]).await;
    let out = probe(json!({
        "endpoint": endpoint,
        "server": real.url,
        "client_id": agent.client_id,
        "client_secret": agent.client_secret,
    }))
    .await;

    // Discovery: the 401 names the path-inserted document and carries no error; the
    // document names the endpoint and the real server, whose issuer the SDK validates.
    let d = &out["discovery"];
    assert_eq!(d["status"], 401, "{out:#}");
    assert_eq!(
        d["resource_metadata"],
        format!("{base}/.well-known/oauth-protected-resource/mcp"),
        "{out:#}"
    );
    assert_eq!(d["error"], Value::Null, "{out:#}");
    assert_eq!(d["resource"], endpoint, "{out:#}");
    assert_eq!(d["authorization_servers"], json!([real.url]), "{out:#}");
    assert_eq!(d["issuer"], real.url, "{out:#}");

    // The 403 the SDK reads: insufficient_scope with the tool's scope, and where to look.
    let c = &out["challenge"];
    assert_eq!(c["status"], 403, "{out:#}");
    assert_eq!(c["error"], "insufficient_scope", "{out:#}");
    assert_eq!(c["scope"], "db:delete", "{out:#}");
    assert_eq!(c["resource_metadata"], d["resource_metadata"], "{out:#}");

    // A session with a Bearer token: every tool listed, the caller inside the tool, the
    // scoped tool refused (the SDK surfaces the HTTP refusal as an error, the tool never ran).
    let b = &out["bearer"];
    assert_eq!(b["server"], "authgent-mcp-example", "{out:#}");
    assert_eq!(
        b["tools"],
        json!(["delete_records", "human_only", "search", "whoami"]),
        "{out:#}"
    );
    assert_eq!(b["whoami"]["ok"], true, "{out:#}");
    assert_eq!(
        b["whoami"]["structured"]["subject"],
        agent.subject(),
        "{out:#}"
    );
    assert_eq!(b["search"]["structured"]["query"], "from python", "{out:#}");
    assert_eq!(b["delete"]["ok"], false, "{out:#}");
    assert!(b["delete"]["structured"].is_null(), "{out:#}");

    // DPoP: a Python-made key and proofs, a DPoP-bound token from the real server, a session
    // whose every request carries a fresh proof; the tool sees the key's thumbprint.
    assert_eq!(out["dpop_token_type"], "DPoP", "{out:#}");
    let p = &out["dpop"];
    assert_eq!(p["whoami"]["ok"], true, "{out:#}");
    assert_eq!(p["whoami"]["structured"]["dpop_jkt"], out["jkt"], "{out:#}");
    assert!(server.terminate().await);
}
