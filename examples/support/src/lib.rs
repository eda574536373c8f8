#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)] // these programs talk to people on stdout
//! The parts every example resource server shares, so each example shows only its framework:
//! settings from the environment (EXAMPLES.md), the `--embedded` test issuer with sample tokens
//! and curl commands, the route policies, the identity JSON, and shutdown signals.

mod observability;

use std::fmt;
use std::net::SocketAddr;

use authgent_core::dpop::NonceIssuer;
use authgent_core::{AgentIdentity, ChainPolicy};
use authgent_jwks::{AgentAuth, RedisReplayStore, Verifier};
use authgent_testkit::TestIssuer;
use serde_json::{Value, json};

/// Scopes the example routes use.
pub const SCOPES: [&str; 2] = ["search:execute", "db:delete"];

/// Settings from the environment and arguments (EXAMPLES.md "Start").
#[derive(Clone, Debug)]
pub struct Settings {
    /// `AUTHGENT_ISSUER`.
    pub issuer: Option<String>,
    /// `AUTHGENT_AUDIENCE` (default: `PUBLIC_URL`, the RFC 9728 `resource`).
    pub audience: Option<String>,
    /// `BIND` (default `127.0.0.1:3000`).
    pub bind: String,
    /// `PUBLIC_URL` (default `http://` + the bound address).
    pub public_url: Option<String>,
    /// `AUTHGENT_DPOP_NONCE=1`.
    pub dpop_nonce: bool,
    /// The nonce issuer shared by every replica: `AUTHGENT_DPOP_NONCE_SECRET` (and
    /// `AUTHGENT_DPOP_NONCE_SECRET_PREVIOUS` while rotating, or their `_FILE` variants).
    /// Setting a secret turns nonces on.
    pub dpop_nonce_secret: Option<NonceIssuer>,
    /// `AUTHGENT_REPLAY_REDIS`: the Redis every replica records DPoP proofs in (default: an
    /// in-memory store, right for one process only).
    pub replay_redis: Option<Redacted>,
    /// `AUTHGENT_CLAIMS_PROFILE`: where the issuer puts scopes, the client id and the mark of
    /// a human — `authgent-server` (default), `rfc9068`, `keycloak`, `auth0`, `okta`,
    /// `entra-id`.
    pub claims_profile: authgent_core::ClaimsProfile,
    /// `AUTHGENT_AUDIT=json`: one JSON audit line per decision on stderr.
    pub audit_json: bool,
    /// `METRICS_BIND`: serve Prometheus metrics at `http://$METRICS_BIND/metrics`.
    pub metrics_bind: Option<String>,
    /// `--embedded`.
    pub embedded: bool,
}

/// The claims profile named by `AUTHGENT_CLAIMS_PROFILE`.
pub fn claims_profile(name: &str) -> Result<authgent_core::ClaimsProfile, String> {
    use authgent_core::ClaimsProfile;
    Ok(match name {
        "authgent-server" => ClaimsProfile::authgent_server(),
        "rfc9068" => ClaimsProfile::rfc9068(),
        "keycloak" => ClaimsProfile::keycloak(),
        "auth0" => ClaimsProfile::auth0(),
        "okta" => ClaimsProfile::okta(),
        "entra-id" => ClaimsProfile::entra_id(),
        other => {
            return Err(format!(
                "AUTHGENT_CLAIMS_PROFILE={other:?}: use authgent-server, rfc9068, keycloak, \
                 auth0, okta or entra-id"
            ));
        }
    })
}

impl Settings {
    /// Reads the environment and `std::env::args`.
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let embedded = std::env::args().skip(1).any(|a| a == "--embedded");
        let settings = Settings {
            issuer: var("AUTHGENT_ISSUER"),
            audience: var("AUTHGENT_AUDIENCE"),
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:3000".into()),
            public_url: var("PUBLIC_URL"),
            dpop_nonce: var("AUTHGENT_DPOP_NONCE").as_deref() == Some("1"),
            dpop_nonce_secret: authgent_jwks::nonce_secrets_from_env()
                .map_err(|e| format!("AUTHGENT_DPOP_NONCE_SECRET: {e}"))?,
            replay_redis: var("AUTHGENT_REPLAY_REDIS").map(Redacted),
            claims_profile: claims_profile(
                var("AUTHGENT_CLAIMS_PROFILE")
                    .as_deref()
                    .unwrap_or("authgent-server"),
            )?,
            audit_json: match var("AUTHGENT_AUDIT").as_deref() {
                None => false,
                Some("json") => true,
                Some(other) => {
                    return Err(format!(
                        "AUTHGENT_AUDIT={other:?}: use json (one JSON line per decision on stderr)"
                    ));
                }
            },
            metrics_bind: var("METRICS_BIND"),
            embedded,
        };
        if settings.issuer.is_none() && !settings.embedded {
            return Err(
                "set AUTHGENT_ISSUER to your authorization server's URL, or pass --embedded".into(),
            );
        }
        Ok(settings)
    }
}

/// A setting that may hold a password (a Redis URL): never printed by `Debug`.
#[derive(Clone)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything a server needs once its socket is bound.
#[derive(Debug)]
pub struct Resource {
    /// The verifier (keys from the issuer, DPoP htu base = `public_url`).
    pub verifier: Verifier,
    /// The one authentication configuration every framework's adapter takes: optional mode
    /// (anonymous requests reach `/me`), the RFC 9728 document and its `resource_metadata`
    /// URL derived from the resource.
    pub auth: AgentAuth,
    /// The external base URL.
    pub public_url: String,
    /// Keeps the embedded issuer serving for the life of the program.
    pub embedded_issuer: Option<TestIssuer>,
}

/// Builds the verifier and metadata for a resource server bound at `bound`; with
/// `--embedded`, starts the test issuer and prints `ISSUER=…`, sample tokens and curl
/// commands.
pub async fn prepare(
    settings: &Settings,
    bound: SocketAddr,
) -> Result<Resource, Box<dyn std::error::Error>> {
    prepare_endpoint(settings, bound, Endpoint::ResourceServer).await
}

/// [`prepare`] for the MCP server: the protected resource (and default audience) is
/// `PUBLIC_URL/mcp`, and every request needs a token.
pub async fn prepare_mcp(
    settings: &Settings,
    bound: SocketAddr,
) -> Result<Resource, Box<dyn std::error::Error>> {
    prepare_endpoint(settings, bound, Endpoint::Mcp).await
}

/// Which example is being prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ResourceServer,
    Mcp,
}

async fn prepare_endpoint(
    settings: &Settings,
    bound: SocketAddr,
    endpoint: Endpoint,
) -> Result<Resource, Box<dyn std::error::Error>> {
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let public_url = public_url.trim_end_matches('/').to_owned();
    let embedded_issuer = if settings.embedded {
        Some(TestIssuer::start().await?)
    } else {
        None
    };
    let issuer = match (&embedded_issuer, &settings.issuer) {
        (Some(test), _) => test.issuer().to_owned(),
        (None, Some(url)) => url.clone(),
        (None, None) => return Err("no issuer".into()),
    };
    // EXAMPLES.md: the audience defaults to PUBLIC_URL, the RFC 9728 `resource`; a token
    // for any other audience is refused.
    let resource_url = match endpoint {
        Endpoint::ResourceServer => public_url.clone(),
        Endpoint::Mcp => format!("{public_url}/mcp"),
    };
    let audience = settings
        .audience
        .clone()
        .unwrap_or_else(|| resource_url.clone());
    let mut builder = Verifier::builder()
        .issuer(&issuer)
        .audience(&audience)
        .external_url(&public_url)
        .claims_profile(settings.claims_profile.clone());
    // Nonces every replica accepts come from a shared secret; a generated one suits a single
    // process only.
    match (&settings.dpop_nonce_secret, settings.dpop_nonce) {
        (Some(shared), _) => builder = builder.dpop_nonces(shared.clone()),
        (None, true) => builder = builder.dpop_nonces(NonceIssuer::generate()?),
        (None, false) => {}
    }
    // Replicas share one replay store, namespaced by the resource they all serve.
    if let Some(Redacted(url)) = &settings.replay_redis {
        let store = RedisReplayStore::builder(url)
            .namespace(&audience)
            .connect()
            .await
            .map_err(|e| format!("AUTHGENT_REPLAY_REDIS: {e}"))?;
        builder = builder.replay_store(store);
    }
    if let Some(bind) = &settings.metrics_bind {
        observability::serve_metrics(bind).await?;
    }
    let verifier = builder.build()?;
    let mut auth = observability::with_audit(
        AgentAuth::builder(verifier.clone()).scopes_supported(SCOPES),
        settings.audit_json,
    );
    if endpoint == Endpoint::ResourceServer {
        auth = auth.optional();
    }
    let auth = auth.build()?;
    if let Some(test) = &embedded_issuer {
        print_samples(test, &public_url, &audience, endpoint);
    }
    Ok(Resource {
        verifier,
        auth,
        public_url,
        embedded_issuer,
    })
}

fn print_samples(issuer: &TestIssuer, public_url: &str, audience: &str, endpoint: Endpoint) {
    let token = |scopes: &[&str]| issuer.token().scopes(scopes).audience(audience);
    println!("ISSUER={}", issuer.issuer());
    let search = token(&["search:execute"]).sign();
    let delete = token(&["db:delete"]).sign();
    let delegated = token(&["search:execute"])
        .subject("user:alice")
        .human_root(true)
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .sign();
    println!("TOKEN_SEARCH={search}");
    println!("TOKEN_DELETE={delete}");
    println!("TOKEN_DELEGATED={delegated}");
    println!("# try:");
    if endpoint == Endpoint::Mcp {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_records","arguments":{"table":"t"}}}"#;
        let headers =
            "-H 'content-type: application/json' -H 'accept: application/json, text/event-stream'";
        println!(
            "#   curl -si {public_url}/mcp -X POST {headers} -d '{{}}'   # 401 + resource_metadata"
        );
        println!(
            "#   curl -si {public_url}/mcp -X POST {headers} -H \"Authorization: Bearer $TOKEN_SEARCH\" -d '{call}'   # 403 insufficient_scope"
        );
        println!("#   curl -s {public_url}/.well-known/oauth-protected-resource/mcp");
        return;
    }
    println!(
        "#   curl -s -X POST -H \"Authorization: Bearer $TOKEN_SEARCH\" {public_url}/tools/search"
    );
    println!(
        "#   curl -s -X POST -H \"Authorization: Bearer $TOKEN_SEARCH\" {public_url}/tools/delete   # 403"
    );
    println!("#   curl -s -H \"Authorization: Bearer $TOKEN_DELEGATED\" {public_url}/chain/human");
    println!(
        "#   curl -s -H \"Authorization: Bearer $TOKEN_DELEGATED\" {public_url}/chain/strict  # 403"
    );
    println!("#   curl -s {public_url}/me");
}

/// Announces that the server accepts connections (EXAMPLES.md: one `LISTENING=` line).
pub fn announce(bound: SocketAddr) {
    println!("LISTENING={bound}");
}

/// `max_depth = 1` for `/chain/strict`.
pub fn strict_chain() -> ChainPolicy {
    ChainPolicy::builder().max_depth(1).build()
}

/// `require_human_root` for `/chain/human`.
pub fn human_chain() -> ChainPolicy {
    ChainPolicy::builder().require_human_root(true).build()
}

/// The identity JSON of EXAMPLES.md.
pub fn identity_json(id: &AgentIdentity) -> Value {
    let chain = id.delegation_chain();
    json!({
        "authenticated": true,
        "subject": id.subject(),
        "client_id": id.client_id(),
        "scopes": id.scopes(),
        "delegation_depth": chain.depth(),
        "actors": chain.actors().iter().map(|a| a.subject()).collect::<Vec<_>>(),
        "current_actor": chain.current_actor().map(|a| a.subject()),
        "human_root": chain.human_root(),
        "dpop_jkt": id.dpop_jkt(),
    })
}

/// `{"authenticated": false}` for `/me` without credentials.
pub fn anonymous_json() -> Value {
    json!({"authenticated": false})
}

/// `{"status": "ok"}` for `/health`.
pub fn health_json() -> Value {
    json!({"status": "ok"})
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
