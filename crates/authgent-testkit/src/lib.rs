#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! An in-process test issuer for authgent: real keys, real tokens, real HTTP on `127.0.0.1`.
//!
//! [`TestIssuer::start`] serves a JWKS and RFC 8414 metadata on a free loopback port and mints
//! tokens with a builder — subjects, scopes, audiences, delegation chains of any depth, DPoP
//! binding, `typ`, expiry in the past or future, any extra claim. Keys rotate on demand,
//! fetches are counted, and faults (delays, errors, garbage, huge bodies, redirects, dropped
//! connections) can be switched on, so caching and outage behaviour can be tested for real.
//!
//! ```no_run
//! use authgent_testkit::{Fault, TestIssuer};
//! # async fn demo() -> std::io::Result<()> {
//! let issuer = TestIssuer::start().await?;
//! let token = issuer
//!     .token()
//!     .subject("user:alice")
//!     .scopes(["search:execute"])
//!     .actors(["client:tool", "client:orchestrator"]) // newest first
//!     .sign();
//! println!("issuer {} serves {}", issuer.url(), issuer.jwks_url());
//! assert_eq!(issuer.jwks_fetches(), 0);
//! issuer.set_fault(Fault::Status(500));                // the issuer is now "down"
//! # let _ = token; Ok(()) }
//! ```

mod server;
mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use authgent_core::{Algorithm, SigningKey};
use serde_json::{Value, json};

pub use token::TokenBuilder;

/// A misbehaviour the issuer's HTTP server shows until it is switched off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Normal service.
    #[default]
    None,
    /// Answer every request with this status and an empty JSON object.
    Status(u16),
    /// Wait this long before answering (longer than a client timeout = a hang).
    Delay(Duration),
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Answer 200 with a JSON-looking body of this many bytes.
    HugeBody(usize),
    /// Answer 302 with this `Location`.
    Redirect(String),
    /// Close the connection without answering.
    DropConnection,
}

/// Which discovery documents the issuer serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discovery {
    /// RFC 8414 metadata and OpenID configuration, both pointing at `/oauth/jwks`.
    #[default]
    Full,
    /// Only `/.well-known/openid-configuration`.
    OpenIdOnly,
    /// No metadata: only `/.well-known/jwks.json`.
    JwksOnly,
}

struct IssuerKey {
    key: Arc<SigningKey>,
    published: bool,
}

struct State {
    alg: Algorithm,
    keys: Vec<IssuerKey>,
    next_key: u32,
    fault: Fault,
    discovery: Discovery,
    cache_control: Option<String>,
    jwks_override: Option<Value>,
    metadata_override: Option<Value>,
    hits: HashMap<String, u64>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    jwks_fetches: AtomicU64,
    metadata_fetches: AtomicU64,
    url: String,
    issuer: String,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge the server for the others.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts a [`TestIssuer`] with non-default settings.
#[derive(Debug)]
#[must_use]
pub struct TestIssuerBuilder {
    alg: Algorithm,
    issuer_path: String,
}

impl TestIssuerBuilder {
    /// Signing algorithm of the issuer's keys (default ES256; RS256, PS256, EdDSA, … on request).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// A path for the issuer identifier (`http://127.0.0.1:port/tenant`), to exercise RFC 8414
    /// path insertion. Must start with `/`.
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = path.into();
        self
    }

    /// Binds `127.0.0.1:0` and starts serving. Needs a tokio runtime.
    pub async fn start(self) -> std::io::Result<TestIssuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let issuer = format!("{url}{}", self.issuer_path.trim_end_matches('/'));
        let first = generate(self.alg, 1)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                alg: self.alg,
                keys: vec![IssuerKey {
                    key: Arc::new(first),
                    published: true,
                }],
                next_key: 2,
                fault: Fault::None,
                discovery: Discovery::Full,
                cache_control: None,
                jwks_override: None,
                metadata_override: None,
                hits: HashMap::new(),
            }),
            jwks_fetches: AtomicU64::new(0),
            metadata_fetches: AtomicU64::new(0),
            url,
            issuer,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), stopped));
        Ok(TestIssuer {
            shared,
            addr,
            stop: Some(stop),
            task,
        })
    }
}

fn generate(alg: Algorithm, n: u32) -> std::io::Result<SigningKey> {
    SigningKey::generate(alg)
        .map(|k| k.with_kid(format!("test-key-{n}")))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// An authorization server for tests, serving on `127.0.0.1`. Stops when dropped.
pub struct TestIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl TestIssuer {
    /// Starts an ES256 issuer at the root path.
    pub async fn start() -> std::io::Result<TestIssuer> {
        Self::builder().start().await
    }

    /// Starts configuring an issuer.
    pub fn builder() -> TestIssuerBuilder {
        TestIssuerBuilder {
            alg: Algorithm::Es256,
            issuer_path: String::new(),
        }
    }

    /// The issuer identifier (`iss` of its tokens).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JWKS URL the metadata advertises.
    pub fn jwks_url(&self) -> String {
        format!("{}/oauth/jwks", self.shared.url)
    }

    /// Mints a token: a builder with a valid default (subject `client:test-agent`, five minutes).
    pub fn token(&self) -> TokenBuilder<'_> {
        TokenBuilder::new(self)
    }

    /// The current signing key.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        let state = self.shared.state();
        Arc::clone(&state.keys.last().expect("an issuer always has a key").key)
    }

    pub(crate) fn key_by_kid(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let state = self.shared.state();
        state
            .keys
            .iter()
            .find(|k| k.key.kid() == Some(kid))
            .map(|k| Arc::clone(&k.key))
    }

    /// Adds a new signing key (new `kid`) and signs with it from now on; the old keys stay
    /// published, as authgent-server does after `rotate-keys`. Returns the new `kid`.
    pub fn rotate_keys(&self) -> String {
        let mut state = self.shared.state();
        let n = state.next_key;
        state.next_key += 1;
        let key = generate(state.alg, n).expect("key generation");
        let kid = key.kid().unwrap_or_default().to_owned();
        state.keys.push(IssuerKey {
            key: Arc::new(key),
            published: true,
        });
        kid
    }

    /// Stops publishing every key but the current one (tokens of old keys can still be minted
    /// with [`TokenBuilder::signed_with`], to test that they are refused).
    pub fn retire_previous_keys(&self) {
        let mut state = self.shared.state();
        let last = state.keys.len() - 1;
        for (i, k) in state.keys.iter_mut().enumerate() {
            k.published = i == last;
        }
    }

    /// The JWKS document currently served.
    pub fn jwks(&self) -> Value {
        let state = self.shared.state();
        jwks_of(&state)
    }

    /// Serve this document as the JWKS instead of the issuer's own keys (`None` restores).
    pub fn set_jwks(&self, jwks: Option<Value>) {
        self.shared.state().jwks_override = jwks;
    }

    /// Serve this document as the metadata instead of the real one (`None` restores).
    pub fn set_metadata(&self, metadata: Option<Value>) {
        self.shared.state().metadata_override = metadata;
    }

    /// Which discovery documents are served.
    pub fn set_discovery(&self, discovery: Discovery) {
        self.shared.state().discovery = discovery;
    }

    /// A `Cache-Control` header for JWKS responses (`None`: no header, like authgent-server).
    pub fn set_cache_control(&self, value: Option<&str>) {
        self.shared.state().cache_control = value.map(str::to_owned);
    }

    /// Switches a fault on (or off with [`Fault::None`]).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.state().fault = fault;
    }

    /// How many JWKS documents were requested (at either JWKS path).
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many metadata documents were requested.
    pub fn metadata_fetches(&self) -> u64 {
        self.shared.metadata_fetches.load(Ordering::SeqCst)
    }

    /// How many requests reached `path`, whatever was answered.
    pub fn requests_to(&self, path: &str) -> u64 {
        self.shared.state().hits.get(path).copied().unwrap_or(0)
    }
}

pub(crate) fn jwks_of(state: &State) -> Value {
    if let Some(doc) = &state.jwks_override {
        return doc.clone();
    }
    let keys: Vec<Value> = state
        .keys
        .iter()
        .filter(|k| k.published)
        .map(|k| Value::Object(k.key.jwks_entry()))
        .collect();
    json!({ "keys": keys })
}
