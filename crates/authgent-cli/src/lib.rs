#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! The library behind the `authgent` command (`cargo install --path crates/authgent-cli`):
//! every subcommand is a function returning an [`Outcome`], so the same checks run from the
//! command line, from tests and from other tools (the examples' tests run [`doctor`] against
//! each example server).
//!
//! | command | does | exit |
//! |---|---|---|
//! | `authgent inspect <token\|->` | decodes a JWT: header, claims, delegation chain as a tree, expiry — verifies **nothing** | 0, 2 not a JWT |
//! | `authgent verify <token> --issuer URL --audience A` | real discovery and JWKS, every check of a resource server | 0 valid, 1 refused, 3 issuer unreachable |
//! | `authgent jkt <jwk-file\|->` | the RFC 7638 thumbprint (`cnf.jkt`) | 0, 2 |
//! | `authgent dpop keygen` / `dpop proof` | a DPoP key; a proof for one request (RFC 9449) | 0, 2 |
//! | `authgent metadata <resource-url>` | RFC 9728 document and the RFC 8414 metadata behind it | 0, 1 invalid, 3 unreachable |
//! | `authgent doctor <resource-url>` | what a client will trip over on a live resource or MCP server | 0 clean, 1 findings, 3 unreachable |
//!
//! ```
//! // `inspect` needs no network: it decodes and says so.
//! let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyOmFsaWNlIiwiYWN0Ijp7InN1YiI6ImNsaWVudDp0b29sIn19.c2ln";
//! let outcome = authgent_cli::inspect::inspect(token, std::time::SystemTime::now())?;
//! assert!(outcome.text.contains("NOT VERIFIED"));
//! assert!(outcome.text.contains("client:tool  ◀ current actor"));
//! assert_eq!(outcome.json["chain"]["current_actor"], "client:tool");
//! # Ok::<(), authgent_cli::CliError>(())
//! ```

pub mod doctor;
pub mod inspect;
pub mod keys;
pub mod metadata;
mod net;
pub mod verify;

pub use net::Fetcher;

use std::fmt;

/// What a command produced: the text for people, the JSON for `--json`, and its exit code.
/// It can hold a private key (`dpop keygen`) or a proof, so its `Debug` shows neither.
#[derive(Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// Human-readable report (`[ok]`, `[warn]`, `[FAIL]`, `[??]` markers; see [`paint`]).
    pub text: String,
    /// The same, as one JSON value.
    pub json: serde_json::Value,
    /// The same as GitHub Actions workflow commands (`--format github`), where the command
    /// has findings to annotate (`doctor`); the text otherwise.
    pub github: Option<String>,
    /// The process exit code ([`exit`]).
    pub code: u8,
}

impl Outcome {
    /// An outcome of `text`, `json` and exit `code`.
    pub fn new(text: String, json: serde_json::Value, code: u8) -> Self {
        Outcome {
            text,
            json,
            github: None,
            code,
        }
    }

    /// The same outcome with its GitHub Actions annotations.
    #[must_use]
    pub fn with_github(mut self, github: String) -> Self {
        self.github = Some(github);
        self
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("json", &"<redacted>")
            .field("code", &self.code)
            .finish()
    }
}

/// The documented exit codes.
pub mod exit {
    /// The command did what was asked: a valid token, a clean doctor report.
    pub const OK: u8 = 0;
    /// The answer is "no": the token is refused, the metadata is invalid, doctor has findings.
    pub const REFUSED: u8 = 1;
    /// The input is unusable: not a JWT, not a JWK, a bad URL, a bad flag (clap's usage errors).
    pub const USAGE: u8 = 2;
    /// The network failed: the issuer or resource could not be reached or answered garbage.
    pub const NETWORK: u8 = 3;
    /// doctor could not tell: where the server's answer was the verdict (is this token
    /// accepted?), it answered 5xx or not at all, and nothing else failed.
    pub const INCONCLUSIVE: u8 = 4;
}

/// A command that could not run (as opposed to one whose answer is "no").
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// Bad input (exit 2).
    Input(String),
    /// Network failure (exit 3).
    Network(String),
}

impl CliError {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Input(_) => exit::USAGE,
            CliError::Network(_) => exit::NETWORK,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(m) | CliError::Network(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// Replaces the `[ok]`, `[warn]`, `[FAIL]` and `[??]` (could not tell) markers of a report with coloured ones (for a
/// terminal; `NO_COLOR` and pipes get the plain text).
///
/// ```
/// assert_eq!(authgent_cli::paint("[ok] fine", false), "[ok] fine");
/// assert!(authgent_cli::paint("[ok] fine", true).contains("\u{1b}[32m"));
/// ```
pub fn paint(text: &str, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    text.replace("[ok]", "\u{1b}[32m[ok]\u{1b}[0m")
        .replace("[warn]", "\u{1b}[33m[warn]\u{1b}[0m")
        .replace("[FAIL]", "\u{1b}[1;31m[FAIL]\u{1b}[0m")
        .replace("[??]", "\u{1b}[35m[??]\u{1b}[0m")
        .replace("NOT VERIFIED", "\u{1b}[1;33mNOT VERIFIED\u{1b}[0m")
}
