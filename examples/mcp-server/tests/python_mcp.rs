//! The official MCP Python SDK (`mcp` 2.3.0, in the venv `cargo xtask test` installs) as the
//! client of this MCP server, both trusting the real authgent-server: the SDK's discovery
//! helpers read our 401 and metadata, its session lists and calls tools with a real token —
//! Bearer and DPoP-bound — and its challenge parsing reads our 403.

use authgent_harness::mcp::RealMcpExample;
use authgent_harness::real_server::python_probe;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_the_python_mcp_sdk_discovers_calls_tools_and_reads_the_challenges() {
    let example = RealMcpExample::start(BIN, "search:execute").await;
    let (base, endpoint, real, agent) = (
        &example.base,
        &example.endpoint,
        &example.real,
        &example.agent,
    );
    let out = python_probe(
        "mcp_probe.py",
        &json!({
            "endpoint": endpoint,
            "server": real.url,
            "client_id": agent.client_id,
            "client_secret": agent.client_secret,
        }),
    )
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
    assert_eq!(d["resource"], endpoint.as_str(), "{out:#}");
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

    // Protocol 2026-07-28 (issue 24): the SDK's Client pinned to the revision, no session;
    // tools, the prompt (the caller's subject in it), and the resource the token's scope does
    // not cover refused before the server reads it.
    let m = &out["modern"];
    assert_eq!(m["protocol_version"], "2026-07-28", "{out:#}");
    assert_eq!(
        m["tools"],
        json!(["delete_records", "human_only", "search", "whoami"]),
        "{out:#}"
    );
    assert_eq!(
        m["whoami"]["structured"]["subject"],
        agent.subject(),
        "{out:#}"
    );
    assert!(
        m["prompt"]
            .as_str()
            .unwrap_or_default()
            .contains(&agent.subject()),
        "{out:#}"
    );
    assert_eq!(m["resource"]["ok"], false, "{out:#}");
    // The refusal is the HTTP 403 the SDK's helpers read: one, for resources/read, naming the
    // resource's scope and where the metadata is.
    let refused = json!([{
        "status": 403,
        "mcp_method": "resources/read",
        "error": "insufficient_scope",
        "scope": "db:delete",
        "resource_metadata": d["resource_metadata"],
    }]);
    assert_eq!(m["challenges"], refused, "{out:#}");

    // DPoP: a Python-made key and proofs, a DPoP-bound token from the real server, a session
    // whose every request carries a fresh proof; the tool sees the key's thumbprint.
    assert_eq!(out["dpop_token_type"], "DPoP", "{out:#}");
    let p = &out["dpop"];
    assert_eq!(p["whoami"]["ok"], true, "{out:#}");
    assert_eq!(p["whoami"]["structured"]["dpop_jkt"], out["jkt"], "{out:#}");
    assert!(example.server.terminate().await);
}
