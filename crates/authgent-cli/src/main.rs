#![forbid(unsafe_code)]
//! `authgent`: look inside agent tokens and check the services that take them.
//!
//! Exit codes: 0 done (valid, clean), 1 the answer is no (refused, invalid, findings),
//! 2 unusable input or usage, 3 network failure, 4 doctor could not tell (a 5xx or no answer
//! where the server's answer was the verdict). `--json` prints one JSON value instead of
//! text; colour only on a terminal (and never with `NO_COLOR`); `-v` says what is fetched.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use authgent_cli::{CliError, Fetcher, Outcome, doctor, exit, inspect, keys, metadata, verify};
use clap::{Parser, Subcommand, ValueEnum};

/// Look inside agent tokens (delegation chains, DPoP) and check the services that take them.
// No `Debug`: the arguments hold tokens.
#[derive(Parser)]
#[command(name = "authgent", version, after_help = EXIT_CODES)]
struct Cli {
    /// Print one JSON value instead of text (the same as `--format json`).
    #[arg(long, global = true)]
    json: bool,
    /// `text` (default), `json` (one JSON value), or `github` (GitHub Actions annotations:
    /// `::error`/`::warning` per doctor finding, titled with its check id).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Say on stderr what is fetched (and, for `verify`, authgent's debug events: discovery,
    /// JWKS fetches, the reason of a refusal).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Github,
}

impl Cli {
    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

const EXIT_CODES: &str = "Exit codes: 0 ok / valid / clean, 1 refused / invalid / findings, \
                          2 unusable input or usage, 3 network failure, 4 doctor could not \
                          tell (the server answered 5xx or nothing where its answer decides).";

#[derive(Subcommand)]
enum Command {
    /// Decode a token (JWT): header, claims, delegation chain, expiry. Verifies NOTHING.
    Inspect {
        /// The token (or `Bearer <token>`), or `-` to read it from stdin.
        token: String,
    },
    /// Verify a token as a resource server would: the issuer's real keys, audience, expiry.
    Verify {
        /// The token, or `-` for stdin.
        token: String,
        /// The issuer URL (its keys are discovered from its RFC 8414 metadata).
        #[arg(long)]
        issuer: String,
        /// The audience this service requires (its resource URL).
        #[arg(long)]
        audience: String,
    },
    /// The RFC 7638 thumbprint (`cnf.jkt`) of a JWK or each key of a JWKS.
    Jkt {
        /// A JWK / JWKS file, or `-` for stdin.
        jwk: String,
    },
    /// DPoP keys and proofs (RFC 9449).
    #[command(subcommand)]
    Dpop(Dpop),
    /// A resource's RFC 9728 metadata and the authorization servers' RFC 8414 metadata.
    Metadata {
        /// The resource identifier, e.g. `https://api.example` or `https://api.example/mcp`.
        resource: String,
    },
    /// Probe a live resource or MCP server for what clients will trip over. Each finding has a
    /// stable check id: transport, metadata, resource, authorization-servers, challenge,
    /// challenge-syntax, resource-metadata, challenge-error, dpop, audience, token, signature.
    /// An MCP endpoint is probed as a 2026-07-28 client would (`server/discover`), then as an
    /// older one (`initialize`).
    Doctor {
        /// The resource identifier, e.g. `https://api.example` or `https://api.example/mcp`.
        resource: String,
        /// A protected route to call without credentials, e.g. `/tools/search`
        /// (default: the resource URL).
        #[arg(long)]
        path: Option<String>,
        /// A token to try: one for another audience must be refused.
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum Dpop {
    /// Generate a DPoP key: prints the private JWK (a secret) unless `--out` is given.
    Keygen {
        /// ES256 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Write the private JWK to this file (mode 0600), print only its thumbprint.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A DPoP proof for one request.
    Proof {
        /// The private JWK file (`dpop keygen --out`).
        #[arg(long)]
        key: PathBuf,
        /// The request method (htm).
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request URL (htu; query and fragment dropped).
        #[arg(long)]
        url: String,
        /// The access token the proof goes with (adds `ath`).
        #[arg(long)]
        token: Option<String>,
        /// The server's DPoP-Nonce.
        #[arg(long)]
        nonce: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        // authgent's own events (discovery, JWKS fetches, the reason of a refusal) on stderr;
        // they never contain a token.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::stderr)
            .without_time()
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &cli,
                &CliError::Network(format!("cannot start the runtime: {e}")),
            );
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(outcome) => print(&cli, &outcome),
        Err(e) => fail(&cli, &e),
    }
}

async fn run(cli: &Cli) -> Result<Outcome, CliError> {
    let fetcher = || Fetcher::new(cli.verbose);
    match &cli.command {
        Command::Inspect { token } => {
            inspect::inspect(&input(token)?, std::time::SystemTime::now())
        }
        Command::Verify {
            token,
            issuer,
            audience,
        } => verify::verify(&fetcher()?, &input(token)?, issuer, audience).await,
        Command::Jkt { jwk } => keys::jkt(&input_file(jwk)?),
        Command::Dpop(Dpop::Keygen { alg, out }) => {
            let (key, outcome) = keys::keygen(alg)?;
            match out {
                None => {
                    eprintln!("authgent: this is a private key: keep it secret");
                    Ok(outcome)
                }
                Some(path) => {
                    write_secret(path, &outcome.text)?;
                    let text = format!("{}\n", key.jkt());
                    let mut json = outcome.json;
                    if let Some(members) = json.as_object_mut() {
                        members.remove("jwk");
                    }
                    json["file"] = path.display().to_string().into();
                    Ok(Outcome::new(text, json, exit::OK))
                }
            }
        }
        Command::Dpop(Dpop::Proof {
            key,
            method,
            url,
            token,
            nonce,
        }) => keys::proof(
            &input_file(&key.display().to_string())?,
            method,
            url,
            token.as_deref(),
            nonce.as_deref(),
        ),
        Command::Metadata { resource } => metadata::metadata(&fetcher()?, resource).await,
        Command::Doctor {
            resource,
            path,
            token,
        } => {
            let mut options = doctor::Options::default();
            if let Some(path) = path {
                options = options.path(path);
            }
            if let Some(token) = token {
                options = options.token(input(token)?);
            }
            Ok(doctor::doctor(&fetcher()?, resource, &options).await?.1)
        }
    }
}

/// The argument, or stdin for `-`.
fn input(arg: &str) -> Result<String, CliError> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::Input(format!("cannot read stdin: {e}")))?;
    Ok(s.trim().to_owned())
}

/// A file's content, or stdin for `-`.
fn input_file(arg: &str) -> Result<String, CliError> {
    if arg == "-" {
        return input(arg);
    }
    std::fs::read_to_string(arg).map_err(|e| CliError::Input(format!("cannot read {arg}: {e}")))
}

fn write_secret(path: &Path, content: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        CliError::Input(format!(
            "cannot create {} (it must not exist yet): {e}",
            path.display()
        ))
    })?;
    file.write_all(content.as_bytes())
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))
}

fn print(cli: &Cli, outcome: &Outcome) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let written = match (cli.format(), &outcome.github) {
        (Format::Json, _) => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&outcome.json).unwrap_or_default()
        ),
        (Format::Github, Some(github)) => write!(stdout, "{github}"),
        (Format::Text | Format::Github, _) => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            write!(stdout, "{}", authgent_cli::paint(&outcome.text, colour))
        }
    };
    if written.is_err() {
        return ExitCode::from(exit::USAGE);
    }
    ExitCode::from(outcome.code)
}

fn fail(cli: &Cli, e: &CliError) -> ExitCode {
    if cli.format() == Format::Json {
        let json = serde_json::json!({"error": e.to_string(), "exit": e.code()});
        let _ = writeln!(std::io::stdout(), "{json}");
    }
    eprintln!("authgent: {e}");
    ExitCode::from(e.code())
}
