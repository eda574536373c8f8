#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)] // a transcript for people
//! `cargo xtask demo`: an agent's day, told against the real example servers.
//!
//! Starts an issuer (the in-process testkit one, or with `--server` the real authgent-server
//! whose URL is in `AUTHGENT_SERVER_URL`), the axum example and the MCP example as child
//! processes trusting it, and plays: a tool call, a 2-hop delegation (its chain drawn), a
//! DPoP-bound call, a replayed proof, a missing scope, a broken chain policy, a key rotation,
//! and an MCP tool call with the caller's identity inside the tool. Every answer is checked:
//! the demo exits non-zero the moment the story does not go as told.

use std::sync::Arc;
use std::time::SystemTime;

use authgent_client::{AgentAuthClient, AgentRegistration, ClientCredentials, ExchangeRequest};
use authgent_core::dpop::DpopKey;
use authgent_core::{DelegationChain, TokenClaims};
use authgent_harness::contract::ServerProcess;
use authgent_harness::mcp::McpClient;
use authgent_testkit::TestIssuer;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

/// Where the tokens come from.
enum Issuer {
    /// The testkit issuer, in this process.
    Embedded(TestIssuer),
    /// A real authgent-server, through `AgentAuthClient`.
    Server(RealServer),
}

struct RealServer {
    url: String,
    client: AgentAuthClient,
    orchestrator: ClientCredentials,
    worker: ClientCredentials,
    sub_worker: ClientCredentials,
}

impl Issuer {
    fn url(&self) -> &str {
        match self {
            Issuer::Embedded(i) => i.issuer(),
            Issuer::Server(s) => &s.url,
        }
    }

    /// The orchestrator's own token with `scope`.
    async fn token(&self, scope: &str, resource: &str) -> Result<String, Error> {
        Ok(match self {
            Issuer::Embedded(i) => i
                .token()
                .subject("client:agnt_orchestrator")
                .client_id("agnt_orchestrator")
                .scopes(scope.split(' '))
                .audience(resource)
                .sign(),
            Issuer::Server(s) => s
                .client
                .get_token(&s.orchestrator, Some(scope), Some(resource))
                .await?
                .access_token
                .expose()
                .to_owned(),
        })
    }

    /// A token delegated twice: orchestrator → worker → sub-worker.
    async fn delegated(&self, resource: &str) -> Result<String, Error> {
        Ok(match self {
            Issuer::Embedded(i) => i
                .token()
                .subject("user:alice")
                .human_root(true)
                .scopes(["search:execute"])
                .audience(resource)
                .actors(["client:agnt_sub_worker", "client:agnt_worker"])
                .sign(),
            Issuer::Server(s) => {
                let mine = self.token("search:execute", resource).await?;
                let once = s
                    .client
                    .exchange_token(
                        &s.worker,
                        &ExchangeRequest::new(mine)
                            .audience(resource)
                            .scope("search:execute"),
                    )
                    .await?;
                let twice = s
                    .client
                    .exchange_token(
                        &s.sub_worker,
                        &ExchangeRequest::new(once.access_token)
                            .audience(resource)
                            .scope("search:execute"),
                    )
                    .await?;
                twice.access_token.expose().to_owned()
            }
        })
    }

    /// A token bound to `key` (RFC 9449 `cnf.jkt`).
    async fn dpop_bound(&self, key: &Arc<DpopKey>, resource: &str) -> Result<String, Error> {
        Ok(match self {
            Issuer::Embedded(i) => i
                .token()
                .subject("client:agnt_orchestrator")
                .scopes(["search:execute"])
                .audience(resource)
                .dpop_jkt(key.jkt())
                .sign(),
            Issuer::Server(s) => {
                let bound = AgentAuthClient::builder(&s.url)
                    .dpop_key(Arc::clone(key))
                    .build()?;
                let t = bound
                    .get_token(&s.orchestrator, Some("search:execute"), Some(resource))
                    .await?;
                t.access_token.expose().to_owned()
            }
        })
    }

    /// JWKS requests the issuer has answered (the testkit issuer counts them).
    fn jwks_fetches(&self) -> Option<u64> {
        match self {
            Issuer::Embedded(i) => Some(i.jwks_fetches()),
            Issuer::Server(_) => None,
        }
    }

    /// The issuer rotates its signing key.
    fn rotate(&self) {
        match self {
            Issuer::Embedded(i) => {
                i.rotate_keys();
            }
            Issuer::Server(s) => {
                authgent_harness::real_server::RealServer::at(s.url.clone()).rotate_keys()
            }
        }
    }
}

struct Story {
    step: usize,
}

impl Story {
    fn chapter(&mut self, title: &str) {
        self.step += 1;
        println!("\n{}. {title}", self.step);
    }

    fn said(&self, line: impl AsRef<str>) {
        for l in line.as_ref().lines() {
            println!("   {l}");
        }
    }

    /// A refusal's status, code and every challenge.
    fn refused(&self, what: &str, answer: &Answer) {
        self.said(format!(
            "{what} -> {} {}",
            answer.status, answer.body["error"]
        ));
        for c in &answer.challenges {
            self.said(format!("WWW-Authenticate: {c}"));
        }
    }
}

/// One HTTP answer, checked against what the story expects.
struct Answer {
    status: u16,
    body: Value,
    challenges: Vec<String>,
}

async fn call(
    method: &str,
    url: &str,
    auth: Option<(&str, &str)>,
    proof: Option<&str>,
) -> Result<Answer, Error> {
    let mut request = reqwest::Client::new().request(method.parse()?, url);
    if let Some((scheme, token)) = auth {
        request = request.header("authorization", format!("{scheme} {token}"));
    }
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok(Answer {
        status,
        body,
        challenges,
    })
}

/// `method url` with `Authorization: Bearer token`.
async fn bearer(method: &str, url: &str, token: &str) -> Result<Answer, Error> {
    call(method, url, Some(("Bearer", token)), None).await
}

fn expect(answer: &Answer, status: u16, what: &str) -> Result<(), Error> {
    expect_status(answer.status, status, &format!("{what} ({})", answer.body))
}

fn expect_status(got: u16, want: u16, what: &str) -> Result<(), Error> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want}, got {got}").into())
    }
}

fn chain_of(token: &str) -> Result<DelegationChain, Error> {
    // The demo reads its own tokens to tell the story; the servers verify them.
    let (_, claims) = authgent_cli::inspect::decode(token)?;
    let claims = TokenClaims::from_json(claims, 32)?;
    Ok(DelegationChain::from_claims(&claims))
}

fn kid_of(token: &str) -> Result<String, Error> {
    let (header, _) = authgent_cli::inspect::decode(token)?;
    Ok(header["kid"].as_str().unwrap_or_default().to_owned())
}

async fn play(issuer: &Issuer, dir: &std::path::Path) -> Result<(), Error> {
    let mut story = Story { step: 0 };
    let bin = |name: &str| dir.join(name).display().to_string();
    let env = vec![
        ("AUTHGENT_ISSUER".to_owned(), issuer.url().to_owned()),
        ("BIND".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    let start = |name: &'static str| {
        let env = env.clone();
        let binary = bin(name);
        async move {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            ServerProcess::start(&binary, &[], &env).await
        }
    };
    println!("issuer: {}", issuer.url());
    let api = start("axum-resource-server").await?;
    let base = format!("http://{}", api.addr);
    println!("axum example (resource server): {base}");
    let mcp_server = start("mcp-server").await?;
    let mcp = format!("http://{}/mcp", mcp_server.addr);
    println!("MCP example: {mcp}");
    // Every token is for one resource (RFC 8707 `resource` at the real server).
    let aud = base.clone();
    let at = |path: &str| format!("{base}{path}");

    story.chapter("An agent calls a tool with its own token");
    let token = issuer.token("search:execute", &aud).await?;
    let r = bearer("POST", &at("/tools/search"), &token).await?;
    expect(&r, 200, "the tool call")?;
    story.said(format!(
        "POST /tools/search -> 200: subject {}, scopes {}",
        r.body["subject"], r.body["scopes"]
    ));

    story.chapter("It delegates to a worker, which delegates to a sub-worker (RFC 8693, 2 hops)");
    let delegated = issuer.delegated(&aud).await?;
    story.said(chain_of(&delegated)?.tree().to_string());
    let r = bearer("POST", &at("/tools/search"), &delegated).await?;
    expect(&r, 200, "the delegated call")?;
    story.said(format!(
        "POST /tools/search -> 200: current actor {} (the outermost act), on behalf of {}",
        r.body["current_actor"], r.body["subject"]
    ));

    story.chapter("A DPoP-bound token: stolen, it is useless without the agent's key");
    let key = Arc::new(DpopKey::generate_es256()?);
    let bound = issuer.dpop_bound(&key, &aud).await?;
    let url = at("/tools/search");
    let proof = key.proof("POST", &url, Some(&bound), None, SystemTime::now())?;
    let r = call("POST", &url, Some(("DPoP", &bound)), Some(&proof)).await?;
    expect(&r, 200, "the DPoP call")?;
    story.said(format!(
        "POST /tools/search with a fresh proof -> 200, bound to key {}",
        r.body["dpop_jkt"]
    ));

    story.chapter("Someone replays that proof");
    let r = call("POST", &url, Some(("DPoP", &bound)), Some(&proof)).await?;
    expect(&r, 401, "the replay")?;
    story.refused("the same request, the same proof", &r);

    story.chapter("The agent asks for a tool its token has no scope for");
    let r = bearer("POST", &at("/tools/delete"), &token).await?;
    expect(&r, 403, "the missing scope")?;
    story.refused("POST /tools/delete", &r);
    story.said("(a client steps up: it asks its authorization server for exactly that scope)");

    story.chapter("The 2-hop chain meets a route that allows one hop");
    let r = bearer("GET", &at("/chain/strict"), &delegated).await?;
    expect(&r, 403, "the chain policy")?;
    story.said(format!(
        "GET /chain/strict (max_depth 1) -> 403 {}",
        r.body["error"]
    ));

    story.chapter("The issuer rotates its signing key");
    issuer.rotate();
    let fetches = issuer.jwks_fetches();
    let fresh = issuer.token("search:execute", &aud).await?;
    let (old_kid, new_kid) = (kid_of(&token)?, kid_of(&fresh)?);
    if old_kid == new_kid {
        return Err("the issuer still signs with the old key after rotating".into());
    }
    story.said(format!("new kid {new_kid} (was {old_kid})"));
    let r = bearer("POST", &at("/tools/search"), &fresh).await?;
    expect(&r, 200, "a token signed with the new key")?;
    story.said("a token signed with the new key -> 200: the unknown kid made the server fetch the JWKS again");
    if let (Some(before), Some(after)) = (fetches, issuer.jwks_fetches()) {
        story.said(format!("(JWKS fetches at the issuer: {before} -> {after})"));
    }

    story.chapter("An MCP tool call: the tool sees who called it");
    let mcp_token = issuer.token("search:execute", &mcp).await?;
    let mut client = McpClient::bearer(&mcp, Some(&mcp_token));
    let init = client.initialize().await?;
    expect_status(init.status, 200, "MCP initialize")?;
    let whoami = client.call("whoami", json!({})).await?;
    expect_status(whoami.status, 200, "tools/call whoami")?;
    let inside = whoami.structured().cloned().unwrap_or_default();
    story.said(format!(
        "tools/call whoami -> the tool got AgentIdentity {} with scopes {}",
        inside["subject"], inside["scopes"]
    ));
    let delete = client.call("delete_records", json!({"table": "t"})).await?;
    expect_status(delete.status, 403, "tools/call delete_records")?;
    story.said(format!(
        "tools/call delete_records -> 403 before the tool runs: {}",
        delete.header("www-authenticate").unwrap_or_default()
    ));

    for server in [api, mcp_server] {
        if !server.terminate().await {
            return Err("an example server did not stop cleanly".into());
        }
    }
    println!("\nThe story went as told: every answer above was checked.");
    Ok(())
}

async fn real_server(url: &str) -> Result<RealServer, Error> {
    let client = AgentAuthClient::builder(url).build()?;
    let register = |name: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .register_agent(
                    &AgentRegistration::new(name).scopes(["search:execute", "db:delete"]),
                )
                .await?;
            Ok::<_, Error>(r.credentials())
        }
    };
    // One at a time: authgent-server 0.3.4 on SQLite fails concurrent registrations.
    let orchestrator = register("demo-orchestrator").await?;
    let worker = register("demo-worker").await?;
    let sub_worker = register("demo-sub-worker").await?;
    Ok(RealServer {
        url: url.trim_end_matches('/').to_owned(),
        client,
        orchestrator,
        worker,
        sub_worker,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = std::env::current_exe()?
        .parent()
        .ok_or("no directory")?
        .to_path_buf();
    let issuer = if std::env::args().any(|a| a == "--server") {
        let url = std::env::var("AUTHGENT_SERVER_URL").map_err(
            |_| "--server needs AUTHGENT_SERVER_URL (cargo xtask demo --server sets it)",
        )?;
        println!(
            "authgent demo, against the real authgent-server (tokens through AgentAuthClient)"
        );
        Issuer::Server(real_server(&url).await?)
    } else {
        println!("authgent demo, on the embedded test issuer (nothing to install)");
        Issuer::Embedded(TestIssuer::start().await?)
    };
    play(&issuer, &dir).await
}
