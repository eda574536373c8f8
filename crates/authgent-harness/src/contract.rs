//! The black-box contract every example resource server follows (`EXAMPLES.md`), as one
//! suite that runs against any server over HTTP: routes and bodies, statuses and challenges,
//! forged and malformed tokens, DPoP attacks, chain policy, live key rotation, unknown-kid
//! storms (checked by JWKS fetch counts), concurrency, and health after abuse.
//!
//! ```no_run
//! # async fn demo(issuer: &authgent_testkit::TestIssuer) {
//! use authgent_harness::contract::Contract;
//! let report = Contract::new("http://127.0.0.1:3000", "http://127.0.0.1:3000", issuer).run().await;
//! assert!(report.failures.is_empty(), "{:#?}", report.failures);
//! # }
//! ```

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use serde_json::{Value, json};

use authgent_testkit::TestIssuer;

/// A server under test and the issuer it trusts.
#[derive(Debug)]
pub struct Contract<'a> {
    base: String,
    public_url: String,
    audience: Option<String>,
    issuer: &'a TestIssuer,
}

/// What a run found: the cases that passed and the failures, each with its reason.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Names of the cases that passed.
    pub passed: Vec<String>,
    /// `(case, reason)` for every failure.
    pub failures: Vec<(String, String)>,
}

type Check = Result<(), String>;

fn expect(cond: bool, what: impl Into<String>) -> Check {
    if cond { Ok(()) } else { Err(what.into()) }
}

impl<'a> Contract<'a> {
    /// `base`: where to send requests; `public_url`: the server's `PUBLIC_URL` (RFC 9728
    /// `resource`, DPoP `htu` base); `issuer`: the issuer the server was started with.
    pub fn new(base: &str, public_url: &str, issuer: &'a TestIssuer) -> Self {
        Contract {
            base: base.trim_end_matches('/').to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            audience: None,
            issuer,
        }
    }

    /// The server requires this audience (`AUTHGENT_AUDIENCE`): tokens are minted for it.
    #[must_use]
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// Tokens for the server's audience: `AUTHGENT_AUDIENCE` when set, else `PUBLIC_URL`
    /// (EXAMPLES.md's default).
    fn token(&self) -> authgent_testkit::TokenBuilder<'a> {
        let audience = self.audience.as_deref().unwrap_or(&self.public_url);
        self.issuer.token().audience(audience)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, String> {
        try_send(method, &format!("{}{path}", self.base), headers).await
    }

    async fn expect_error(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        status: u16,
        code: &str,
    ) -> Check {
        let r = self.send(method, path, headers).await?;
        expect(
            r.status == status && r.body["error"] == code,
            format!(
                "{method} {path}: expected {status} {code}, got {} {}",
                r.status, r.body
            ),
        )?;
        if status == 401 || status == 403 || status == 400 {
            expect(
                !r.challenges.is_empty(),
                format!("{method} {path}: {status} without WWW-Authenticate"),
            )?;
        }
        Ok(())
    }

    async fn expect_identity(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Value, String> {
        let r = self.send(method, path, headers).await?;
        expect(
            r.status == 200,
            format!("{method} {path}: expected 200, got {} {}", r.status, r.body),
        )?;
        expect(
            r.body["authenticated"] == true,
            format!("{method} {path}: not an identity: {}", r.body),
        )?;
        Ok(r.body)
    }

    /// Runs every case; never panics.
    pub async fn run(&self) -> Report {
        let mut report = Report::default();
        macro_rules! case {
            ($name:literal, $body:expr) => {
                match $body.await {
                    Ok(()) => report.passed.push($name.to_owned()),
                    Err(why) => report.failures.push(($name.to_owned(), why)),
                }
            };
        }
        case!("health", self.health());
        case!("resource metadata", self.metadata());
        case!("no credentials: 401 challenge", self.no_credentials());
        case!("scopes: search and delete", self.scopes());
        case!("identity JSON", self.identity());
        case!("chain policy: strict and human", self.chains());
        case!("optional identity on /me", self.optional());
        case!("forged and malformed tokens", self.forged());
        case!("DPoP: bound, replay, as Bearer, wrong htu", self.dpop());
        case!("live key rotation", self.rotation());
        case!("unknown-kid storm: one JWKS fetch", self.storm());
        case!("concurrency", self.concurrency());
        case!("health after abuse", self.health_after_abuse());
        report
    }

    async fn health(&self) -> Check {
        let r = self.send("GET", "/health", &[]).await?;
        expect(
            r.status == 200 && r.body == json!({"status": "ok"}),
            format!("health: {} {}", r.status, r.body),
        )
    }

    async fn metadata(&self) -> Check {
        let r = self
            .send("GET", "/.well-known/oauth-protected-resource", &[])
            .await?;
        expect(r.status == 200, format!("metadata status {}", r.status))?;
        check_metadata(&r.body, &self.public_url, self.issuer.issuer())
    }

    async fn no_credentials(&self) -> Check {
        let r = self.send("POST", "/tools/search", &[]).await?;
        expect(r.status == 401, format!("status {}", r.status))?;
        let bearer = r
            .challenges
            .iter()
            .find(|c| c.starts_with("Bearer"))
            .ok_or("no Bearer challenge")?;
        expect(
            !bearer.contains("error="),
            "a challenge without credentials carries no error",
        )?;
        expect(
            bearer.contains("resource_metadata="),
            "challenge names resource_metadata",
        )?;
        expect(
            r.challenges
                .iter()
                .any(|c| c.starts_with("DPoP") && c.contains("algs=")),
            "DPoP algs challenge",
        )
    }

    async fn scopes(&self) -> Check {
        let search = format!("Bearer {}", self.token().scopes(["search:execute"]).sign());
        let delete = format!("Bearer {}", self.token().scopes(["db:delete"]).sign());
        self.expect_identity("POST", "/tools/search", &[("authorization", &search)])
            .await?;
        self.expect_identity("POST", "/tools/delete", &[("authorization", &delete)])
            .await?;
        let r = self
            .send("POST", "/tools/delete", &[("authorization", &search)])
            .await?;
        expect(
            r.status == 403 && r.body["error"] == "insufficient_scope",
            format!("delete with search scope: {} {}", r.status, r.body),
        )?;
        expect(
            r.challenges
                .iter()
                .any(|c| c.contains(r#"scope="db:delete""#)),
            "challenge scope=\"db:delete\"",
        )?;
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &delete)],
            403,
            "insufficient_scope",
        )
        .await
    }

    async fn identity(&self) -> Check {
        let t = self
            .token()
            .subject("user:alice")
            .client_id("agnt_tool")
            .scopes(["search:execute"])
            .human_root(true)
            .actors(["client:agnt_tool", "client:agnt_orchestrator"])
            .sign();
        let b = self
            .expect_identity(
                "POST",
                "/tools/search",
                &[("authorization", &format!("Bearer {t}"))],
            )
            .await?;
        let expected = json!({
            "authenticated": true, "subject": "user:alice", "client_id": "agnt_tool",
            "scopes": ["search:execute"], "delegation_depth": 2,
            "actors": ["client:agnt_tool", "client:agnt_orchestrator"],
            "current_actor": "client:agnt_tool", "human_root": true, "dpop_jkt": null
        });
        expect(b == expected, format!("identity JSON {b} != {expected}"))
    }

    async fn chains(&self) -> Check {
        let one = format!("Bearer {}", self.token().actors(["client:a"]).sign());
        let two = format!(
            "Bearer {}",
            self.token().actors(["client:b", "client:a"]).sign()
        );
        let human = format!(
            "Bearer {}",
            self.token()
                .subject("user:alice")
                .actors(["client:a"])
                .sign()
        );
        self.expect_identity("GET", "/chain/strict", &[("authorization", &one)])
            .await?;
        self.expect_error(
            "GET",
            "/chain/strict",
            &[("authorization", &two)],
            403,
            "delegation_depth_exceeded",
        )
        .await?;
        self.expect_identity("GET", "/chain/human", &[("authorization", &human)])
            .await?;
        self.expect_error(
            "GET",
            "/chain/human",
            &[("authorization", &two)],
            403,
            "no_human_root",
        )
        .await
    }

    async fn optional(&self) -> Check {
        let r = self.send("GET", "/me", &[]).await?;
        expect(
            r.status == 200 && r.body == json!({"authenticated": false}),
            format!("/me anonymous: {} {}", r.status, r.body),
        )?;
        let t = format!("Bearer {}", self.token().sign());
        self.expect_identity("GET", "/me", &[("authorization", &t)])
            .await?;
        let bad = format!("Bearer {}", self.token().expired().sign());
        self.expect_error(
            "GET",
            "/me",
            &[("authorization", &bad)],
            401,
            "invalid_token",
        )
        .await
    }

    async fn forged(&self) -> Check {
        let valid = self.token().scopes(["search:execute"]).sign();
        let (head, rest) = valid.split_once('.').ok_or("token shape")?;
        let (payload, _) = rest.split_once('.').ok_or("token shape")?;
        let none_header = "eyJhbGciOiJub25lIiwia2lkIjoidGVzdC1rZXktMSJ9"; // {"alg":"none","kid":"test-key-1"}
        let tampered_payload = format!("{payload}x");
        let cases = [
            format!(
                "Bearer {}",
                self.token().scopes(["search:execute"]).expired().sign()
            ),
            format!(
                "Bearer {}",
                self.token()
                    .scopes(["search:execute"])
                    .claim("iss", json!("https://evil.example"))
                    .sign()
            ),
            // Issued for another resource: refused by default (audience = PUBLIC_URL).
            format!(
                "Bearer {}",
                self.token()
                    .scopes(["search:execute"])
                    .audience("https://elsewhere.example")
                    .sign()
            ),
            format!(
                "Bearer {}",
                self.token()
                    .scopes(["search:execute"])
                    .without_claim("aud")
                    .sign()
            ),
            format!("Bearer {none_header}.{payload}."),
            format!("Bearer {head}.{tampered_payload}.AAAA"),
            format!("Bearer {head}.{payload}"),
            "Bearer not-a-jwt".to_owned(),
            "Bearer".to_owned(),
            format!(
                "Bearer {}",
                self.token()
                    .scopes(["search:execute"])
                    .claim("exp", json!("never"))
                    .sign()
            ),
            format!(
                "Bearer {}",
                self.token()
                    .scopes(["search:execute"])
                    .typ("txntoken+jwt")
                    .sign()
            ),
        ];
        for h in &cases {
            self.expect_error(
                "POST",
                "/tools/search",
                &[("authorization", h)],
                401,
                "invalid_token",
            )
            .await?;
        }
        let ok = format!("Bearer {valid}");
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &ok), ("authorization", &ok)],
            400,
            "invalid_request",
        )
        .await
    }

    async fn dpop(&self) -> Check {
        let key = DpopKey::generate_es256().map_err(|e| e.to_string())?;
        let token = self
            .token()
            .scopes(["search:execute"])
            .dpop_jkt(key.jkt())
            .sign();
        let htu = format!("{}/tools/search", self.public_url);
        let proof = key
            .proof("POST", &htu, Some(&token), None, SystemTime::now())
            .map_err(|e| e.to_string())?;
        let auth = format!("DPoP {token}");
        let b = self
            .expect_identity(
                "POST",
                "/tools/search",
                &[("authorization", &auth), ("dpop", &proof)],
            )
            .await?;
        expect(b["dpop_jkt"] == key.jkt(), "dpop_jkt in identity")?;
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &auth), ("dpop", &proof)],
            401,
            "invalid_dpop_proof",
        )
        .await?;
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &format!("Bearer {token}"))],
            401,
            "invalid_token",
        )
        .await?;
        let elsewhere = key
            .proof(
                "POST",
                "https://evil.example/tools/search",
                Some(&token),
                None,
                SystemTime::now(),
            )
            .map_err(|e| e.to_string())?;
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &auth), ("dpop", &elsewhere)],
            401,
            "invalid_dpop_proof",
        )
        .await?;
        let stranger = DpopKey::generate_es256().map_err(|e| e.to_string())?;
        let foreign = stranger
            .proof("POST", &htu, Some(&token), None, SystemTime::now())
            .map_err(|e| e.to_string())?;
        self.expect_error(
            "POST",
            "/tools/search",
            &[("authorization", &auth), ("dpop", &foreign)],
            401,
            "invalid_dpop_proof",
        )
        .await
    }

    async fn rotation(&self) -> Check {
        let before = self.issuer.jwks_fetches();
        self.issuer.rotate_keys();
        let t = format!("Bearer {}", self.token().scopes(["search:execute"]).sign());
        self.expect_identity("POST", "/tools/search", &[("authorization", &t)])
            .await?;
        expect(
            self.issuer.jwks_fetches() - before <= 1,
            "rotation picked up with one fetch",
        )
    }

    async fn storm(&self) -> Check {
        let before = self.issuer.jwks_fetches();
        let auths = (0..200)
            .map(|i| {
                format!(
                    "Bearer {}",
                    self.token()
                        .header("kid", json!(format!("storm-{i}")))
                        .sign()
                )
            })
            .collect();
        for status in concurrent_statuses("GET", &format!("{}/me", self.base), auths).await? {
            expect(status == 401, format!("unknown kid answered {status}"))?;
        }
        let fetched = self.issuer.jwks_fetches() - before;
        expect(
            fetched <= 1,
            format!("{fetched} JWKS fetches for 200 unknown kids"),
        )
    }

    async fn concurrency(&self) -> Check {
        let t = format!("Bearer {}", self.token().scopes(["search:execute"]).sign());
        let url = format!("{}/tools/search", self.base);
        for status in concurrent_statuses("POST", &url, vec![t; 200]).await? {
            expect(
                status == 200,
                format!("concurrent request answered {status}"),
            )?;
        }
        Ok(())
    }

    async fn health_after_abuse(&self) -> Check {
        self.health().await?;
        let t = format!("Bearer {}", self.token().scopes(["search:execute"]).sign());
        self.expect_identity("POST", "/tools/search", &[("authorization", &t)])
            .await
            .map(|_| ())
    }
}

/// An example's RFC 9728 document (EXAMPLES.md): `resource`, the one authorization server,
/// the example scopes, header-only bearer tokens, DPoP algorithms.
pub(crate) fn check_metadata(b: &Value, resource: &str, issuer: &str) -> Check {
    expect(
        b["resource"] == resource,
        format!("resource {} != {resource}", b["resource"]),
    )?;
    expect(
        b["authorization_servers"] == json!([issuer]),
        format!("authorization_servers {}", b["authorization_servers"]),
    )?;
    expect(
        b["scopes_supported"] == json!(["search:execute", "db:delete"]),
        format!("scopes_supported {}", b["scopes_supported"]),
    )?;
    expect(
        b["bearer_methods_supported"] == json!(["header"]),
        "bearer_methods_supported",
    )?;
    expect(
        b["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "dpop algs",
    )
}

/// An example server started as a child process, with what it printed before listening.
#[derive(Debug)]
pub struct ServerProcess {
    child: tokio::process::Child,
    /// The address from its `LISTENING=` line.
    pub addr: String,
    /// Every stdout line up to and including `LISTENING=…`.
    pub startup: Vec<String>,
    /// Every stderr line so far, when started with [`Self::start_capturing_stderr`].
    stderr: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
}

impl ServerProcess {
    /// Starts `binary` with `args` and `env`, waiting (at most 60 s) for `LISTENING=`.
    pub async fn start(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        Self::spawn(binary, args, env, false).await
    }

    /// [`start`](Self::start), keeping every line the server writes on stderr (its audit
    /// events with `AUTHGENT_AUDIT=json`) for [`stderr_lines`](Self::stderr_lines).
    pub async fn start_capturing_stderr(
        binary: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        Self::spawn(binary, args, env, true).await
    }

    /// The stderr lines written so far (empty unless capturing).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .as_ref()
            .map(|lines| lines.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    async fn spawn(
        binary: &str,
        args: &[&str],
        env: &[(&str, &str)],
        capture_stderr: bool,
    ) -> Result<Self, String> {
        use tokio::io::AsyncBufReadExt as _;
        let mut command = tokio::process::Command::new(binary);
        command
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        if capture_stderr {
            command.stderr(std::process::Stdio::piped());
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {binary}: {e}"))?;
        let stderr = child.stderr.take().map(|pipe| {
            let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let writer = std::sync::Arc::clone(&kept);
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    writer.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
            kept
        });
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut startup = Vec::new();
        let wait = async {
            while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
                startup.push(line.clone());
                if let Some(addr) = line.strip_prefix("LISTENING=") {
                    return Ok(addr.to_owned());
                }
            }
            Err(format!("{binary} exited before printing LISTENING="))
        };
        let addr = tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .map_err(|_| format!("{binary} did not print LISTENING= within 60 s"))??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess {
            child,
            addr,
            startup,
            stderr,
        })
    }

    /// Starts `binary` on a free loopback port trusting `issuer` (`AUTHGENT_ISSUER`), as every
    /// contract run does; panics when it does not come up (this is for tests).
    pub async fn trusting(binary: &str, issuer: &str) -> Self {
        Self::trusting_with(binary, issuer, &[]).await
    }

    /// [`trusting`](Self::trusting) with more environment (e.g. `AUTHGENT_CLAIMS_PROFILE`).
    pub async fn trusting_with(binary: &str, issuer: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("AUTHGENT_ISSUER", issuer), ("BIND", "127.0.0.1:0")];
        all.extend_from_slice(env);
        Self::start(binary, &[], &all)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The value of a `KEY=value` line the server printed at start-up.
    pub fn printed(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.startup
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit; `true` if it exited cleanly.
    pub async fn terminate(mut self) -> bool {
        let Some(pid) = self.child.id() else {
            return false;
        };
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !sent {
            return false;
        }
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(30), self.child.wait()).await,
            Ok(Ok(status)) if status.success()
        )
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every `WWW-Authenticate` value, in order.
    pub challenges: Vec<String>,
    /// The JSON body (a JSON string when the body is not JSON).
    pub body: Value,
    headers: Vec<(String, String)>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `method url` with `headers` and reads the answer (panics on transport errors: this is
/// for tests).
pub async fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> Response {
    try_send(method, url, headers)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Sends `method url` with `headers`, all `authorizations` at once, one request each; the
/// statuses in order.
pub async fn concurrent_statuses(
    method: &'static str,
    url: &str,
    authorizations: Vec<String>,
) -> Result<Vec<u16>, String> {
    let tasks: Vec<_> = authorizations
        .into_iter()
        .map(|auth| {
            let url = url.to_owned();
            tokio::spawn(async move {
                try_send(method, &url, &[("authorization", &auth)])
                    .await
                    .map(|r| r.status)
            })
        })
        .collect();
    let mut statuses = Vec::with_capacity(tasks.len());
    for task in tasks {
        statuses.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(statuses)
}

/// [`send`] that reports transport errors instead of panicking.
pub async fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    try_send_body(method, url, headers, None).await
}

/// [`try_send`] with a body (sent as JSON, accepting JSON and an event stream, as an MCP
/// client sends a JSON-RPC message).
pub async fn try_send_body(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Response, String> {
    // A pooled client per thread: connections are reused as real clients do, and no pool
    // outlives the tokio runtime its connections belong to (each test has its own runtime).
    thread_local! {
        static CLIENT: reqwest::Client = reqwest::Client::new();
    }
    let client = CLIENT.with(reqwest::Client::clone);
    let mut req = if method == "POST" {
        client.post(url)
    } else {
        client.get(url)
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_owned());
    }
    let r = req
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = r.status().as_u16();
    let headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let challenges = headers
        .iter()
        .filter(|(k, _)| k == "www-authenticate")
        .map(|(_, v)| v.clone())
        .collect();
    let text = r.text().await.map_err(|e| format!("{method} {url}: {e}"))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Response {
        status,
        challenges,
        body,
        headers,
    })
}

/// Starts the example server `binary` against a fresh test issuer, runs the whole contract, and
/// checks that SIGTERM stops it cleanly. Panics with every failed case.
pub async fn example_follows_the_contract(binary: &str) {
    let issuer = TestIssuer::start().await.expect("test issuer");
    let server = ServerProcess::trusting(binary, issuer.issuer()).await;
    let base = format!("http://{}", server.addr);
    let report = Contract::new(&base, &base, &issuer).run().await;
    assert!(
        report.failures.is_empty(),
        "{binary}: {:#?}",
        report.failures
    );
    assert!(report.passed.len() >= 13, "{binary}: {:?}", report.passed);
    assert!(
        server.terminate().await,
        "{binary}: SIGTERM shuts it down cleanly"
    );
}

/// `--embedded`: the example prints `ISSUER=` and sample tokens that it then accepts.
pub async fn example_embedded_mode_works(binary: &str) {
    let server = ServerProcess::start(binary, &["--embedded"], &[("BIND", "127.0.0.1:0")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        server
            .printed("ISSUER")
            .is_some_and(|i| i.starts_with("http://127.0.0.1:")),
        "ISSUER= line"
    );
    let token = server
        .printed("TOKEN_SEARCH")
        .expect("TOKEN_SEARCH= line")
        .to_owned();
    let auth = format!("Bearer {token}");
    let r = send(
        "POST",
        &format!("http://{}/tools/search", server.addr),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{binary}: {}", r.body);
    assert!(server.terminate().await);
}

/// Without `AUTHGENT_ISSUER` or `--embedded` the example refuses to start, saying what to set.
pub async fn example_requires_an_issuer(binary: &str) {
    let out = tokio::process::Command::new(binary)
        .env_remove("AUTHGENT_ISSUER")
        .output()
        .await
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHGENT_ISSUER"));
}

/// The example server `binary` with the **real** authgent-server as its issuer
/// (`AUTHGENT_INTEROP_URL`, started by `cargo xtask test`): health and metadata, scopes and
/// challenges, optional identity, malformed requests, real delegation chains (agent- and
/// human-rooted) against chain policy, forged tokens, DPoP binding and attacks (replay, as
/// Bearer, wrong `htu`, foreign key), live key rotation with `rotate-keys`, an unknown-kid
/// storm counted at the server, concurrency, and health afterwards.
pub async fn example_against_the_real_server(binary: &str) {
    use crate::real_server::RealServer;
    let real = RealServer::default_instance();
    let server = ServerProcess::start(
        binary,
        &[],
        // The real server's client-credentials and exchanged tokens here are issued for its
        // own URL, so that is the audience this run configures (not the PUBLIC_URL default).
        &[
            ("AUTHGENT_ISSUER", &real.url),
            ("AUTHGENT_AUDIENCE", &real.url),
            ("BIND", "127.0.0.1:0"),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://{}", server.addr);
    let at = |path: &str| format!("{base}{path}");
    let bearer = |t: &str| format!("Bearer {t}");

    assert_eq!(send("GET", &at("/health"), &[]).await.status, 200);
    let meta = send("GET", &at("/.well-known/oauth-protected-resource"), &[]).await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["resource"], base.as_str());
    assert_eq!(meta.body["authorization_servers"], json!([real.url]));

    let searcher = real.register(&["search:execute", "read"]).await;
    let search = real.client_credentials(&searcher, "search:execute").await;
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&search))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subject"], searcher.subject());
    assert_eq!(r.body["client_id"], searcher.client_id.as_str());
    let r = send(
        "POST",
        &at("/tools/delete"),
        &[("authorization", &bearer(&search))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(
        r.challenges
            .iter()
            .any(|c| c.contains(r#"scope="db:delete""#))
    );
    let r = send("POST", &at("/tools/search"), &[]).await;
    assert_eq!(r.status, 401);

    // Real chains: worker (1 hop), then tool (2 hops).
    let worker = real.register(&["read"]).await;
    let tool = real.register(&["read"]).await;
    let root = real.client_credentials(&searcher, "read").await;
    let hop1 = real.exchange(&worker, &root, &real.url, "read").await.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hop2 = real.exchange(&tool, &hop1, &real.url, "read").await.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = send(
        "GET",
        &at("/chain/strict"),
        &[("authorization", &bearer(&hop1))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["actors"], json!([worker.subject()]));
    let r = send(
        "GET",
        &at("/chain/strict"),
        &[("authorization", &bearer(&hop2))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("delegation_depth_exceeded"))
    );
    assert_eq!(r.body["error"], "delegation_depth_exceeded");
    let r = send(
        "GET",
        &at("/chain/human"),
        &[("authorization", &bearer(&hop2))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("no_human_root"))
    );

    // A human-rooted chain: the worker exchanges alice's id_token from the trusted IdP.
    let id_token = real.id_token("alice");
    let human = real
        .exchange_id_token(&worker, &id_token, &real.url, "read")
        .await;
    assert_eq!(human.status, 200, "id_token exchange: {}", human.body);
    let human = human.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = send(
        "GET",
        &at("/chain/human"),
        &[("authorization", &bearer(&human))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subject"], "user:alice");
    assert_eq!(r.body["human_root"], true);
    assert_eq!(r.body["current_actor"], worker.subject());
    assert_eq!(r.body["delegation_depth"], 1);

    // Optional identity on /me, and malformed requests.
    let r = send("GET", &at("/me"), &[]).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"authenticated": false}))
    );
    let r = send("GET", &at("/me"), &[("authorization", &bearer(&search))]).await;
    assert_eq!(r.body["subject"], searcher.subject());
    let twice = bearer(&search);
    let r = send(
        "GET",
        &at("/me"),
        &[("authorization", &twice), ("authorization", &twice)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    for malformed in ["Bearer", "Bearer not-a-jwt", "Bearer a.b"] {
        let r = send("GET", &at("/me"), &[("authorization", malformed)]).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_token")),
            "{malformed}"
        );
    }

    // Forged from a real token: tampered payload, stripped signature, alg none.
    let (head, rest) = search.split_once('.').unwrap_or_default();
    let (payload, _) = rest.split_once('.').unwrap_or_default();
    for forged in [
        format!("{head}.{payload}x.AAAA"),
        format!("{head}.{payload}."),
        format!("eyJhbGciOiJub25lIn0.{payload}."),
    ] {
        let r = send(
            "POST",
            &at("/tools/search"),
            &[("authorization", &bearer(&forged))],
        )
        .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_token"))
        );
    }

    // A DPoP-bound token the real server issued to a Rust key.
    let key = DpopKey::generate_es256().unwrap_or_else(|e| panic!("{e}"));
    let bound = real.dpop_token(&searcher, "search:execute", &key).await;
    let proof = key
        .proof(
            "POST",
            &at("/tools/search"),
            Some(&bound),
            None,
            SystemTime::now(),
        )
        .unwrap_or_default();
    let auth = format!("DPoP {bound}");
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["dpop_jkt"].as_str()),
        (200, Some(key.jkt())),
        "{}",
        r.body
    );
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&bound))],
    )
    .await;
    assert_eq!(r.status, 401);
    let now = SystemTime::now();
    let elsewhere = key
        .proof(
            "POST",
            "https://evil.example/tools/search",
            Some(&bound),
            None,
            now,
        )
        .unwrap_or_default();
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &auth), ("dpop", &elsewhere)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let foreign_key = DpopKey::generate_es256().unwrap_or_else(|e| panic!("{e}"));
    let foreign = foreign_key
        .proof("POST", &at("/tools/search"), Some(&bound), None, now)
        .unwrap_or_default();
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &auth), ("dpop", &foreign)],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );

    // Live key rotation: a token signed by the new key is accepted.
    real.rotate_keys();
    let rotated = real.client_credentials(&searcher, "search:execute").await;
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&rotated))],
    )
    .await;
    assert_eq!(r.status, 200, "after rotate-keys: {}", r.body);

    // Unknown-kid storm: 200 concurrent tokens with random kids cost at most one JWKS fetch
    // (after the rotation: the storm starts the unknown-kid cooldown).
    let stranger = authgent_core::SigningKey::generate(authgent_core::Algorithm::Es256)
        .unwrap_or_else(|e| panic!("{e}"));
    let claims =
        json!({"iss": real.url, "sub": "client:storm", "exp": 4_000_000_000u64}).to_string();
    let before = real.jwks_fetches();
    let auths = (0..200)
        .map(|i| {
            let header =
                json!({"alg": "ES256", "kid": format!("storm-{i}"), "typ": "JWT"}).to_string();
            bearer(&stranger.sign_raw(header.as_bytes(), claims.as_bytes()))
        })
        .collect();
    let statuses = concurrent_statuses("GET", &at("/me"), auths)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        statuses.iter().all(|s| *s == 401),
        "unknown kids: {statuses:?}"
    );
    let fetched = real.jwks_fetches() - before;
    assert!(
        fetched <= 1,
        "{fetched} JWKS fetches at the real server for 200 unknown kids"
    );

    // Concurrency and health after all of the above.
    let many = vec![bearer(&search); 100];
    let statuses = concurrent_statuses("POST", &at("/tools/search"), many)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        statuses.iter().all(|s| *s == 200),
        "concurrent: {statuses:?}"
    );
    assert_eq!(send("GET", &at("/health"), &[]).await.status, 200);
    assert!(server.terminate().await);
}
