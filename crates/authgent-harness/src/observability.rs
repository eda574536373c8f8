//! Issue 27, over HTTP against each example process: `AUTHGENT_AUDIT=json` writes exactly one
//! JSON line per decision on stderr (the whole chain, root first; never a token; names
//! escaped), and `METRICS_BIND` serves Prometheus metrics whose counts match a scripted
//! sequence of requests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use authgent_core::dpop::DpopKey;
use authgent_testkit::TestIssuer;
use serde_json::{Value, json};

use crate::contract::{ServerProcess, send};
use crate::mcp::McpClient;

/// A subject with a newline and a forged JSON object: it must stay one escaped string.
const HOSTILE_SUBJECT: &str = "user:eve\n{\"outcome\":\"allowed\",\"subject\":\"user:admin\"}";

/// A secret sent in the query string: never logged (the audit path drops the query).
const QUERY_SECRET: &str = "query-secret-8d1f";

/// Starts `binary` trusting `issuer` with audit lines and metrics on.
async fn start(binary: &str, issuer: &TestIssuer) -> ServerProcess {
    ServerProcess::start_capturing_stderr(
        binary,
        &[],
        &[
            ("AUTHGENT_ISSUER", issuer.issuer()),
            ("BIND", "127.0.0.1:0"),
            ("AUTHGENT_AUDIT", "json"),
            ("METRICS_BIND", "127.0.0.1:0"),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The audit events the server wrote so far: every stderr line that is a JSON object with an
/// `outcome` (any other line is a log line, kept for the failure message).
fn audit_events(server: &ServerProcess) -> Vec<Value> {
    server
        .stderr_lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("outcome").is_some())
        .collect()
}

/// Waits (at most 5 s) until `n` audit events were read from the server's stderr: the server
/// writes each before its response, but this process reads the pipe on its own task.
async fn wait_for_events(server: &ServerProcess, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events = audit_events(server);
        if events.len() >= n || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The samples of a Prometheus text exposition: `name{label="value",…}` → value, labels
/// sorted, so a lookup does not depend on the exporter's label order.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut pairs: Vec<&str> = split_labels(labels);
        pairs.sort_unstable();
        out.insert(format!("{name}{{{}}}", pairs.join(",")), value);
    }
    out
}

/// `a="x",b="y,z"` → [`a="x"`, `b="y,z"`] (commas inside quotes kept).
fn split_labels(labels: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        parts.push(&labels[start..]);
    }
    parts
}

/// The value of `name` with exactly `labels`, 0 when the series is absent.
pub fn sample(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    pairs.sort_unstable();
    samples
        .get(&format!("{name}{{{}}}", pairs.join(",")))
        .copied()
        .unwrap_or(0.0)
}

/// `GET /metrics` of a server started with `METRICS_BIND`: the text, and its samples for
/// [`sample`].
pub async fn scrape(server: &ServerProcess) -> (String, BTreeMap<String, f64>) {
    let addr = server.printed("METRICS").expect("a METRICS= line");
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /metrics")
        .text()
        .await
        .expect("the metrics text");
    let parsed = samples(&body);
    (body, parsed)
}

/// One scripted request: method, URL, headers, expected status.
type Step<'a> = (&'a str, String, Vec<(&'a str, String)>, u16);

/// A resource-server example (axum, actix-web, Rocket): a scripted sequence of requests, then
/// the audit lines one by one and the metrics by count.
pub async fn example_audits_and_counts_every_decision(binary: &str) {
    let issuer = TestIssuer::start().await.expect("test issuer");
    let server = start(binary, &issuer).await;
    let base = format!("http://{}", server.addr);
    let at = |path: &str| format!("{base}{path}");
    let token = |scopes: &[&str]| issuer.token().audience(&base).scopes(scopes);
    let delegated = token(&["search:execute"])
        .subject("user:alice")
        .human_root(true)
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .sign();
    let expired = token(&["search:execute"]).expired().sign();
    let hostile = token(&["search:execute"]).subject(HOSTILE_SUBJECT).sign();
    let key = DpopKey::generate_es256().expect("a DPoP key");
    let bound = token(&["search:execute"])
        .subject("user:bob")
        .actors(["client:agnt_dpop"])
        .dpop_jkt(key.jkt())
        .sign();
    let proof = key
        .proof(
            "POST",
            &at("/tools/search"),
            Some(&bound),
            None,
            SystemTime::now(),
        )
        .expect("a proof");
    let bearer = |t: &str| format!("Bearer {t}");

    // Not behind authgent: no event.
    assert_eq!(send("GET", &at("/health"), &[]).await.status, 200);
    let script: [Step<'_>; 7] = [
        (
            "POST",
            at(&format!("/tools/search?access_token={QUERY_SECRET}")),
            vec![("authorization", bearer(&delegated))],
            200,
        ),
        (
            "POST",
            at("/tools/delete"),
            vec![("authorization", bearer(&delegated))],
            403,
        ),
        (
            "POST",
            at("/tools/search"),
            vec![("authorization", bearer(&expired))],
            401,
        ),
        (
            "GET",
            at("/chain/strict"),
            vec![("authorization", bearer(&delegated))],
            403,
        ),
        ("GET", at("/me"), vec![], 200),
        (
            "POST",
            at("/tools/search"),
            vec![
                ("authorization", format!("DPoP {bound}")),
                ("dpop", proof.clone()),
            ],
            200,
        ),
        (
            "POST",
            at("/tools/search"),
            vec![("authorization", bearer(&hostile))],
            200,
        ),
    ];
    for (method, url, headers, status) in &script {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = send(method, url, &headers).await;
        assert_eq!(r.status, *status, "{method} {url}: {}", r.body);
    }
    let events = wait_for_events(&server, script.len()).await;
    let all = server.stderr_lines().join("\n");
    assert_eq!(
        events.len(),
        script.len(),
        "one audit line per decision:\n{all}"
    );

    // 1: allowed, the whole chain root first, the path without its query.
    let e = &events[0];
    assert_eq!(e["outcome"], "allowed", "{e}");
    assert_eq!(e["status"], 200);
    assert_eq!(
        (&e["method"], &e["path"]),
        (&json!("POST"), &json!("/tools/search"))
    );
    assert_eq!(e["subject"], "user:alice");
    assert_eq!(
        e["chain"],
        json!(["user:alice", "client:agnt_orchestrator", "client:agnt_tool"])
    );
    assert_eq!(e["human_root"], true);
    assert_eq!(e["scheme"], "bearer");
    assert_eq!(e["issuer"], issuer.issuer());
    assert!(e["jti"].is_string(), "{e}");
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    // 2: refused by the route's scope guard, with who was refused.
    let e = &events[1];
    assert_eq!(
        (&e["outcome"], &e["status"], &e["error"]),
        (&json!("refused"), &json!(403), &json!("insufficient_scope")),
        "{e}"
    );
    assert_eq!(e["path"], "/tools/delete");
    assert_eq!(e["chain"][2], "client:agnt_tool");
    // 3: refused before verification: the reason, and no claim of the unverified token.
    let e = &events[2];
    assert_eq!(
        (&e["outcome"], &e["status"], &e["error"]),
        (&json!("refused"), &json!(401), &json!("invalid_token")),
        "{e}"
    );
    assert!(
        e["reason"].as_str().is_some_and(|r| r.contains("expired")),
        "{e}"
    );
    // (members not known are left out of the line)
    assert!(
        e.get("subject").is_none() && e.get("chain").is_none(),
        "{e}"
    );
    // 4: the chain policy's refusal.
    let e = &events[3];
    assert_eq!(e["error"], "delegation_depth_exceeded", "{e}");
    assert_eq!(e["path"], "/chain/strict");
    // 5: anonymous, allowed where the route allows it.
    let e = &events[4];
    assert_eq!(
        (&e["outcome"], &e["path"]),
        (&json!("allowed"), &json!("/me")),
        "{e}"
    );
    assert!(
        e.get("subject").is_none() && e.get("scheme").is_none(),
        "{e}"
    );
    // 6: DPoP: the scheme and the key thumbprint.
    let e = &events[5];
    assert_eq!(
        (&e["scheme"], &e["dpop_jkt"]),
        (&json!("dpop"), &json!(key.jkt())),
        "{e}"
    );
    assert_eq!(e["chain"], json!(["user:bob", "client:agnt_dpop"]));
    // 7: a hostile subject is one escaped JSON string, not a second event.
    assert_eq!(events[6]["subject"], HOSTILE_SUBJECT);
    for secret in [&delegated, &expired, &hostile, &bound, &proof] {
        assert!(
            !all.contains(secret.as_str()),
            "a token or proof in the logs"
        );
    }
    assert!(!all.contains(QUERY_SECRET), "the query string in the logs");

    let (text, m) = scrape(&server).await;
    let decisions = |outcome, error| {
        sample(
            &m,
            "authgent_decisions_total",
            &[("outcome", outcome), ("error", error)],
        )
    };
    assert_eq!(decisions("allowed", ""), 4.0, "{text}");
    assert_eq!(decisions("refused", "insufficient_scope"), 1.0, "{text}");
    assert_eq!(decisions("refused", "invalid_token"), 1.0, "{text}");
    assert_eq!(
        decisions("refused", "delegation_depth_exceeded"),
        1.0,
        "{text}"
    );
    let verifications = |outcome, error| {
        sample(
            &m,
            "authgent_verifications_total",
            &[("outcome", outcome), ("error", error)],
        )
    };
    // Six requests carried a token: five verified, the expired one refused.
    assert_eq!(verifications("accepted", ""), 5.0, "{text}");
    assert_eq!(verifications("refused", "invalid_token"), 1.0, "{text}");
    assert_eq!(
        sample(
            &m,
            "authgent_verification_duration_seconds_count",
            &[("outcome", "accepted")]
        ),
        5.0,
        "{text}"
    );
    // The delegated token three times: verified once, then served from the cache twice.
    let cache = |result| {
        sample(
            &m,
            "authgent_token_cache_lookups_total",
            &[("result", result)],
        )
    };
    assert_eq!((cache("hit"), cache("miss")), (2.0, 4.0), "{text}");
    assert_eq!(
        sample(
            &m,
            "authgent_jwks_fetches_total",
            &[("issuer", issuer.issuer()), ("outcome", "ok")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &m,
            "authgent_replay_store_checks_total",
            &[("outcome", "fresh")]
        ),
        1.0,
        "{text}"
    );
    assert!(text.contains("# HELP authgent_decisions_total"), "{text}");
    // Still one line per decision, well after the last one (a second event would be here).
    assert_eq!(audit_events(&server).len(), script.len(), "{all}");
    assert!(server.terminate().await, "{binary}: SIGTERM");
}

/// The MCP example: a tool call allowed and one refused, each one audit line naming the tool
/// and the chain; the MCP decisions counted.
pub async fn mcp_example_audits_tool_calls(binary: &str) {
    let issuer = TestIssuer::start().await.expect("test issuer");
    let server = start(binary, &issuer).await;
    let endpoint = format!("http://{}/mcp", server.addr);
    let token = issuer
        .token()
        .audience(&endpoint)
        .scopes(["search:execute"])
        .subject("user:alice")
        .human_root(true)
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .sign();
    let mut client = McpClient::bearer(&endpoint, Some(&token));
    assert_eq!(client.initialize().await.expect("initialize").status, 200);
    let before = wait_for_events(&server, 2).await.len();
    let r = client
        .call("search", json!({"query": "q"}))
        .await
        .expect("search");
    assert_eq!(r.status, 200, "{}", r.text);
    let r = client
        .call("delete_records", json!({"table": "t"}))
        .await
        .expect("delete_records");
    assert_eq!(r.status, 403, "{}", r.text);
    let events = wait_for_events(&server, before + 2).await;
    let all = server.stderr_lines().join("\n");
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["mcp"]["methods"] == json!(["tools/call"]))
        .collect();
    assert_eq!(calls.len(), 2, "one line per tool call:\n{all}");
    let (allowed, refused) = (calls[0], calls[1]);
    assert_eq!(
        (
            &allowed["outcome"],
            &allowed["status"],
            &allowed["mcp"]["tools"]
        ),
        (&json!("allowed"), &json!(200), &json!(["search"])),
        "{allowed}"
    );
    assert_eq!(
        allowed["chain"],
        json!(["user:alice", "client:agnt_orchestrator", "client:agnt_tool"])
    );
    assert_eq!(allowed["path"], "/mcp");
    assert_eq!(
        (
            &refused["outcome"],
            &refused["error"],
            &refused["mcp"]["tools"]
        ),
        (
            &json!("refused"),
            &json!("insufficient_scope"),
            &json!(["delete_records"])
        ),
        "{refused}"
    );
    assert_eq!(refused["subject"], "user:alice");
    assert!(!all.contains(&token), "the token in the logs");
    let (text, m) = scrape(&server).await;
    assert_eq!(
        sample(
            &m,
            "authgent_decisions_total",
            &[("outcome", "refused"), ("error", "insufficient_scope")]
        ),
        1.0,
        "{text}"
    );
    assert!(server.terminate().await, "{binary}: SIGTERM");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_samples_are_found_whatever_the_label_order() {
        let text = "# HELP x y\nauthgent_x{b=\"2\",a=\"1,3\"} 4\nauthgent_y 7\n";
        let m = samples(text);
        assert_eq!(sample(&m, "authgent_x", &[("a", "1,3"), ("b", "2")]), 4.0);
        assert_eq!(sample(&m, "authgent_y", &[]), 7.0);
        assert_eq!(sample(&m, "authgent_x", &[("a", "1")]), 0.0);
    }
}
