//! The real authgent-server that `cargo xtask test` starts (see `interop/README.md`): helpers to
//! register agents and obtain every kind of token it issues, for interop tests.

use std::time::{Duration, SystemTime};

use authgent_core::dpop::DpopKey;
use serde_json::{Value, json};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The value of an interop environment variable; panics with instructions when absent, so
/// interop tests fail loudly instead of skipping.
pub fn required_env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!(
            "{key} is not set: interop tests need the real authgent-server; run them with \
             `cargo xtask test` (Python 3.11+ and pip required)"
        )
    })
}

/// Runs the Python `script` (under `interop/python/`) on the interop venv's python with
/// `request` as its standard input, and parses the one JSON answer it prints. Panics with the
/// script's stderr when it fails.
pub async fn python_probe(script: &str, request: &Value) -> Value {
    use tokio::io::AsyncWriteExt as _;
    let python = required_env("AUTHGENT_INTEROP_PYTHON");
    let path = format!(
        "{}/../../interop/python/{script}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = tokio::process::Command::new(&python)
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .expect("write the request");
    drop(stdin);
    let out = child.wait_with_output().await.expect("python ran");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} answers JSON: {e}"))
}

/// A count the xtask proxy keeps in the file named by `var`.
fn proxy_count(var: &str) -> u64 {
    std::fs::read_to_string(required_env(var))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A registered agent's credentials.
#[derive(Clone, Debug)]
pub struct Agent {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
}

impl Agent {
    /// The token subject the server gives this agent: `client:<client_id>`.
    pub fn subject(&self) -> String {
        format!("client:{}", self.client_id)
    }
}

/// A `/token` answer.
#[derive(Debug)]
#[non_exhaustive]
pub struct TokenReply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// `DPoP-Nonce`, when sent.
    pub dpop_nonce: Option<String>,
}

/// A running authgent-server.
#[derive(Clone, Debug)]
pub struct RealServer {
    /// Its base URL (= token `iss`).
    pub url: String,
    client: reqwest::Client,
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

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("rust-interop-{nanos:x}")
}

impl RealServer {
    /// The default server (`AUTHGENT_INTEROP_URL`).
    pub fn default_instance() -> Self {
        Self::at(required_env("AUTHGENT_INTEROP_URL"))
    }

    /// The server that requires DPoP with nonces (`AUTHGENT_INTEROP_DPOP_URL`).
    pub fn require_dpop_instance() -> Self {
        Self::at(required_env("AUTHGENT_INTEROP_DPOP_URL"))
    }

    /// A server at `url`.
    pub fn at(url: String) -> Self {
        RealServer {
            url: url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// Registers an agent allowed `scopes` (`POST /agents`, open registration policy).
    pub async fn register(&self, scopes: &[&str]) -> Agent {
        // authgent-server 0.3.4 on SQLite answers concurrent registrations with 500
        // (StaleDataError); interop tests run one at a time and this retries leftovers.
        for attempt in 0..5 {
            let body = json!({"name": unique_name(), "allowed_scopes": scopes});
            let r = self
                .client
                .post(format!("{}/agents", self.url))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST /agents: {e}"));
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if status >= 500 && attempt < 4 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            assert_eq!(status, 201, "register agent: {text}");
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            return Agent {
                client_id: v["client_id"].as_str().unwrap_or_default().to_owned(),
                client_secret: v["client_secret"].as_str().unwrap_or_default().to_owned(),
            };
        }
        unreachable!("the last attempt asserts")
    }

    /// `POST /token` for `agent` with extra form fields and an optional DPoP proof.
    pub async fn token_request(
        &self,
        agent: &Agent,
        extra: &[(&str, &str)],
        dpop: Option<&str>,
    ) -> TokenReply {
        let mut pairs = vec![
            ("client_id", agent.client_id.as_str()),
            ("client_secret", agent.client_secret.as_str()),
        ];
        pairs.extend_from_slice(extra);
        let mut req = self
            .client
            .post(format!("{}/token", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs));
        if let Some(proof) = dpop {
            req = req.header("dpop", proof);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /token: {e}"));
        let status = r.status().as_u16();
        let dpop_nonce = r
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        TokenReply {
            status,
            body,
            dpop_nonce,
        }
    }

    /// A client-credentials access token with `scope`.
    pub async fn client_credentials(&self, agent: &Agent, scope: &str) -> String {
        let r = self
            .token_request(
                agent,
                &[("grant_type", "client_credentials"), ("scope", scope)],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "client_credentials: {}", r.body);
        r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// RFC 8693 exchange of `subject` by `agent` (one more `act` level).
    pub async fn exchange(
        &self,
        agent: &Agent,
        subject: &str,
        audience: &str,
        scope: &str,
    ) -> TokenReply {
        let fields = [
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN),
            ("audience", audience),
            ("scope", scope),
        ];
        self.token_request(agent, &fields, None).await
    }

    /// An id_token for `subject` from the test IdP the default server trusts
    /// (`AUTHGENT_INTEROP_IDP_URL`). The IdP's key is made on first use and kept in its
    /// directory, next to the JWKS the server fetches.
    pub fn id_token(&self, subject: &str) -> String {
        use authgent_core::{Algorithm, SigningKey};
        let idp = required_env("AUTHGENT_INTEROP_IDP_URL");
        let dir = std::path::PathBuf::from(required_env("AUTHGENT_INTEROP_IDP_DIR"));
        let key_file = dir.join("idp-key.json");
        let key = match std::fs::read_to_string(&key_file)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        {
            Some(Value::Object(jwk)) => SigningKey::from_private_jwk(&jwk, Some(Algorithm::Es256)),
            _ => {
                let key = SigningKey::generate(Algorithm::Es256).map(|k| k.with_kid("interop-idp"));
                if let Ok(k) = &key {
                    let jwks = json!({"keys": [k.jwks_entry()]}).to_string();
                    let _ = std::fs::write(dir.join(".well-known/jwks.json"), jwks);
                    let _ = std::fs::write(
                        &key_file,
                        Value::Object(k.private_jwk().clone()).to_string(),
                    );
                }
                key
            }
        }
        .unwrap_or_else(|e| panic!("test IdP key: {e}"));
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = json!({"iss": idp, "sub": subject, "aud": "authgent-interop", "iat": now, "exp": now + 600});
        let claims = match claims {
            Value::Object(m) => m,
            _ => unreachable!("a JSON object literal"),
        };
        key.sign(&serde_json::Map::new(), &claims)
            .unwrap_or_else(|e| panic!("id_token: {e}"))
    }

    /// Identity chaining's first step for a human: `agent` exchanges an id_token, giving a
    /// human-rooted token (`sub = user:<subject>`, `human_root: true`, one `act`).
    pub async fn exchange_id_token(
        &self,
        agent: &Agent,
        id_token: &str,
        audience: &str,
        scope: &str,
    ) -> TokenReply {
        let fields = [
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", id_token),
            ("subject_token_type", ID_TOKEN),
            ("audience", audience),
            ("scope", scope),
        ];
        self.token_request(agent, &fields, None).await
    }

    /// A human-rooted access token for `user:<subject>` and `audience`: the user signs in at a
    /// freshly registered front agent, which exchanges their id_token ([`Self::id_token`],
    /// [`Self::exchange_id_token`]) for `scope`.
    pub async fn human_token(&self, subject: &str, audience: &str, scope: &str) -> String {
        let scopes: Vec<&str> = scope.split_ascii_whitespace().collect();
        let front = self.register(&scopes).await;
        let reply = self
            .exchange_id_token(&front, &self.id_token(subject), audience, scope)
            .await;
        reply.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no human-rooted token: {}", reply.body))
            .to_owned()
    }

    /// A DPoP-bound client-credentials token for `key` (proof made for this server's `/token`).
    pub async fn dpop_token(&self, agent: &Agent, scope: &str, key: &DpopKey) -> String {
        let htu = format!("{}/token", self.url);
        let proof = key
            .proof("POST", &htu, None, None, SystemTime::now())
            .unwrap_or_default();
        let r = self
            .token_request(
                agent,
                &[("grant_type", "client_credentials"), ("scope", scope)],
                Some(&proof),
            )
            .await;
        assert_eq!(r.status, 200, "DPoP token: {}", r.body);
        assert_eq!(r.body["token_type"], "DPoP");
        r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// JWKS requests the default server has answered so far (counted by the proxy in front of
    /// it, `AUTHGENT_INTEROP_JWKS_FETCHES`).
    pub fn jwks_fetches(&self) -> u64 {
        proxy_count("AUTHGENT_INTEROP_JWKS_FETCHES")
    }

    /// `POST /token` requests the default server has answered so far (counted by the same
    /// proxy, `AUTHGENT_INTEROP_TOKEN_REQUESTS`).
    pub fn token_requests(&self) -> u64 {
        proxy_count("AUTHGENT_INTEROP_TOKEN_REQUESTS")
    }

    /// `authgent-server rotate-keys` with the default server's environment.
    pub fn rotate_keys(&self) {
        let python = required_env("AUTHGENT_INTEROP_PYTHON");
        let env_file =
            std::fs::read_to_string(required_env("AUTHGENT_INTEROP_ENV")).unwrap_or_default();
        let cli = std::path::Path::new(&python).with_file_name("authgent-server");
        // The CLI reads ./.env: run it from an empty directory.
        let cwd = std::env::temp_dir().join(unique_name());
        let _ = std::fs::create_dir_all(&cwd);
        let envs = env_file.lines().filter_map(|l| l.split_once('='));
        let out = std::process::Command::new(cli)
            .arg("rotate-keys")
            .envs(envs)
            .current_dir(&cwd)
            .output()
            .unwrap_or_else(|e| panic!("rotate-keys: {e}"));
        assert!(
            out.status.success(),
            "rotate-keys: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
