//! Against the real authgent-server 0.3.4 started by `cargo xtask test` (interop/README.md):
//! tokens of every kind the server issues, verified with keys discovered from it.

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_core::{AuthgentError, TokenError};
use authgent_jwks::Verifier;
use serde_json::{Value, json};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn required_env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("{key} is not set: interop tests need the real authgent-server; run them with `cargo xtask test` (Python 3.11+ and pip required)")
    })
}

fn server() -> String {
    required_env("AUTHGENT_INTEROP_URL")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Agent {
    client_id: String,
    client_secret: String,
}

async fn register(base: &str, scopes: &[&str]) -> Agent {
    // authgent-server 0.3.4 on SQLite answers concurrent registrations with 500
    // (StaleDataError); nextest serialises interop tests, and this retries the rare leftover.
    for attempt in 0..5 {
        let body =
            json!({"name": format!("rust-interop-{}", rand_suffix()), "allowed_scopes": scopes});
        let r = reqwest::Client::new()
            .post(format!("{base}/agents"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status >= 500 && attempt < 4 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!(status, 201, "register agent: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        return Agent {
            client_id: v["client_id"].as_str().unwrap().to_owned(),
            client_secret: v["client_secret"].as_str().unwrap().to_owned(),
        };
    }
    unreachable!("the last attempt asserts")
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn token(
    base: &str,
    agent: &Agent,
    extra: &[(&str, &str)],
    dpop: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut pairs = vec![
        ("client_id", agent.client_id.as_str()),
        ("client_secret", agent.client_secret.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let mut req = reqwest::Client::new()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs));
    if let Some(proof) = dpop {
        req = req.header("dpop", proof);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
        headers,
    )
}

async fn client_credentials(base: &str, agent: &Agent, scope: &str) -> String {
    let (status, body, _) = token(
        base,
        agent,
        &[("grant_type", "client_credentials"), ("scope", scope)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(
    base: &str,
    agent: &Agent,
    subject: &str,
    audience: &str,
    scope: &str,
) -> (u16, Value) {
    let (status, body, _) = token(
        base,
        agent,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("audience", audience),
            ("scope", scope),
        ],
        None,
    )
    .await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_client_credentials_token_verifies_with_discovered_keys() {
    let base = server();
    let agent = register(&base, &["search:execute", "read"]).await;
    let access = client_credentials(&base, &agent, "search:execute read").await;
    let v = Verifier::builder().issuer(&base).build().unwrap();
    let id = v.verify_token(&access).await.unwrap();
    assert_eq!(id.subject(), format!("client:{}", agent.client_id));
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
        format!("{base}/.well-known/jwks.json")
    );
    // Audience: the server's default aud is the issuer; a resource-bound token carries it.
    let (status, body, _) = token(
        &base,
        &agent,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", "https://api.example/mcp"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let scoped = Verifier::builder()
        .issuer(&base)
        .audience("https://api.example/mcp")
        .build()
        .unwrap();
    scoped
        .verify_token(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        scoped.verify_token(&access).await.unwrap_err(),
        AuthgentError::Token(TokenError::AudienceMismatch)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_delegation_chains_from_real_token_exchanges() {
    let base = server();
    let orchestrator = register(&base, &["read", "write"]).await;
    let worker = register(&base, &["read", "write"]).await;
    let tool = register(&base, &["read"]).await;
    let root = client_credentials(&base, &orchestrator, "read write").await;
    let (status, hop1) = exchange(
        &base,
        &worker,
        &root,
        "https://worker.example",
        "read write",
    )
    .await;
    assert_eq!(status, 200, "{hop1}");
    let hop1 = hop1["access_token"].as_str().unwrap().to_owned();
    let (status, hop2) = exchange(&base, &tool, &hop1, "https://tool.example", "read").await;
    assert_eq!(status, 200, "{hop2}");
    let v = Verifier::builder()
        .issuer(&base)
        .audience("https://tool.example")
        .build()
        .unwrap();
    let id = v
        .verify_token(hop2["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let chain = id.delegation_chain();
    let actors: Vec<&str> = chain.actors().iter().map(|a| a.subject()).collect();
    let (w, t) = (
        format!("client:{}", worker.client_id),
        format!("client:{}", tool.client_id),
    );
    assert_eq!(actors, [t.as_str(), w.as_str()], "newest first");
    assert_eq!(
        chain.root_subject(),
        format!("client:{}", orchestrator.client_id)
    );
    assert!(!chain.human_root());
    // The server refuses to widen scope.
    let (status, body) = exchange(&base, &tool, &hop1, "https://x.example", "read write").await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_dpop_bound_token_with_rust_made_proofs() {
    let base = server();
    let agent = register(&base, &["read"]).await;
    let key = DpopKey::generate_es256().unwrap();
    let proof = key
        .proof(
            "POST",
            &format!("{base}/token"),
            None,
            None,
            SystemTime::now(),
        )
        .unwrap();
    let (status, body, _) = token(
        &base,
        &agent,
        &[("grant_type", "client_credentials"), ("scope", "read")],
        Some(&proof),
    )
    .await;
    assert_eq!(status, 200, "the server accepted a Rust-made proof: {body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();
    let v = Verifier::builder()
        .issuer(&base)
        .external_url("https://api.example")
        .build()
        .unwrap();
    let use_proof = key
        .proof(
            "GET",
            "https://api.example/data",
            Some(access),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let auth = format!("DPoP {access}");
    let parts = http::Request::builder()
        .uri("/data")
        .header("authorization", &auth)
        .header("dpop", &use_proof)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let id = v.verify(&parts).await.unwrap().unwrap();
    assert_eq!(
        id.dpop_jkt(),
        Some(key.jkt()),
        "cnf.jkt is the Rust key's RFC 7638 thumbprint"
    );
    assert_eq!(
        v.verify_token(access).await.unwrap_err(),
        AuthgentError::Token(TokenError::DpopBoundAsBearer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_require_dpop_server_nonce_flow() {
    let base = required_env("AUTHGENT_INTEROP_DPOP_URL");
    let agent = register(&base, &["read"]).await;
    let key = DpopKey::generate_es256().unwrap();
    let htu = format!("{base}/token");
    let grant = [("grant_type", "client_credentials"), ("scope", "read")];
    let first = key
        .proof("POST", &htu, None, None, SystemTime::now())
        .unwrap();
    let (status, body, headers) = token(&base, &agent, &grant, Some(&first)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let retry = key
        .proof("POST", &htu, None, Some(&nonce), SystemTime::now())
        .unwrap();
    let (status, body, _) = token(&base, &agent, &grant, Some(&retry)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let v = Verifier::builder().issuer(&base).build().unwrap();
    let access = body["access_token"].as_str().unwrap();
    let proof = key
        .proof(
            "GET",
            "http://localhost/x",
            Some(access),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let auth = format!("DPoP {access}");
    let parts = http::Request::builder()
        .uri("http://localhost/x")
        .header("authorization", &auth)
        .header("dpop", &proof)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert!(v.verify(&parts).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_key_rotation_picked_up_by_the_verifier() {
    let base = server();
    let agent = register(&base, &["read"]).await;
    let v = Verifier::builder().issuer(&base).build().unwrap();
    let before = client_credentials(&base, &agent, "read").await;
    v.verify_token(&before).await.unwrap();
    let kids_before = v.key_info().unwrap().kids;
    // `authgent-server rotate-keys` with the server's environment, from an empty directory.
    let python = required_env("AUTHGENT_INTEROP_PYTHON");
    let env_file = std::fs::read_to_string(required_env("AUTHGENT_INTEROP_ENV")).unwrap();
    let cli = std::path::Path::new(&python).with_file_name("authgent-server");
    let cwd = std::env::temp_dir().join(format!("authgent-rotate-{}", rand_suffix()));
    std::fs::create_dir_all(&cwd).unwrap();
    let envs = env_file.lines().filter_map(|l| l.split_once('='));
    let out = std::process::Command::new(cli)
        .arg("rotate-keys")
        .envs(envs)
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rotate-keys: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = client_credentials(&base, &agent, "read").await;
    let id = v.verify_token(&after).await.unwrap();
    assert_eq!(id.subject(), format!("client:{}", agent.client_id));
    let kids_after = v.key_info().unwrap().kids;
    assert_eq!(
        kids_after.len(),
        kids_before.len() + 1,
        "new key picked up, old one still published"
    );
    v.verify_token(&before).await.unwrap();
}
