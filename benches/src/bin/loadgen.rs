//! A loopback HTTP load run against the axum example, for `cargo xtask bench`.
//!
//! `loadgen --binary PATH [--seconds S] [--connections C]` starts a test issuer in this
//! process and the example as a child process trusting it, then drives keep-alive HTTP/1.1
//! connections at three routes, one after the other:
//!
//! - `public`: `GET /health`, no token;
//! - `anonymous`: `GET /me` without a token (the same route as the next two, through the
//!   layer, which lets requests without credentials through to `Option<AgentIdentity>`);
//! - `auth_repeated`: `GET /me` with one token (the verified-token cache's case: an agent
//!   calling again and again);
//! - `auth_distinct`: `GET /me` with a different token every request (every request a full
//!   verification), until the pre-minted tokens run out or the time is up.
//!
//! Prints one JSON object: requests/s and p50/p99 latency per scenario. The load generator and
//! the server share the machine's cores, so absolute figures are for this machine only; the
//! ratios between scenarios are what the report uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authgent_harness::contract::ServerProcess;
use authgent_testkit::TestIssuer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    binary: String,
    seconds: f64,
    connections: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        binary: String::new(),
        seconds: 5.0,
        connections: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} takes a value"));
        match a.as_str() {
            "--binary" => o.binary = value()?,
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds: a number")?,
            "--connections" => {
                o.connections = value()?.parse().map_err(|_| "--connections: a number")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.binary.is_empty() {
        return Err("usage: loadgen --binary PATH [--seconds S] [--connections C]".into());
    }
    Ok(o)
}

/// One keep-alive connection: sends a request, reads the whole response, returns the status.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    async fn get(&mut self, host: &str, path: &str, token: Option<&str>) -> std::io::Result<u16> {
        let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
        let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{auth}\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return Ok(status);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where a scenario's token comes from.
#[derive(Clone)]
enum Tokens {
    None,
    Repeated(Arc<String>),
    Distinct(Arc<Vec<String>>, Arc<AtomicUsize>),
}

impl Tokens {
    fn next(&self) -> Option<Option<&str>> {
        match self {
            Tokens::None => Some(None),
            Tokens::Repeated(t) => Some(Some(t.as_str())),
            Tokens::Distinct(all, next) => all
                .get(next.fetch_add(1, Ordering::Relaxed))
                .map(|t| Some(t.as_str())),
        }
    }
}

async fn scenario(addr: &str, path: &str, tokens: Tokens, o: &Options) -> Value {
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (addr, path, tokens) = (addr.to_owned(), path.to_owned(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::open(&addr)
                .await
                .expect("connect to the example");
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            while Instant::now() < deadline {
                let Some(token) = tokens.next() else { break };
                let t = Instant::now();
                match conn.get(&addr, &path, token).await {
                    Ok(200) => latencies.push(t.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.expect("a connection task");
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    json!({
        "requests": latencies.len(),
        "failures": failures,
        "seconds": elapsed,
        "requests_per_second": latencies.len() as f64 / elapsed,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
    })
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let o = options()?;
    let issuer = TestIssuer::start().await.map_err(|e| e.to_string())?;
    let server = ServerProcess::start(
        &o.binary,
        &[],
        &[
            ("AUTHGENT_ISSUER", issuer.issuer()),
            ("BIND", "127.0.0.1:0"),
        ],
    )
    .await?;
    let addr = server.addr.clone();
    let audience = format!("http://{addr}");
    let mint = || {
        issuer
            .token()
            .subject("user:alice")
            .audience(&audience)
            .scopes(["search:execute"])
            .actors(["client:agnt_0", "client:agnt_1"])
            .sign()
    };
    // Enough distinct tokens for the run at the rate one core verifies ES256 tokens.
    let distinct: Vec<String> = (0..((o.seconds * 15_000.0) as usize).max(1_000))
        .map(|_| mint())
        .collect();
    let repeated = Arc::new(mint());
    let mut warm = Connection::open(&addr).await.map_err(|e| e.to_string())?;
    for (path, token) in [("/health", None), ("/me", Some(repeated.as_str()))] {
        let status = warm
            .get(&addr, path, token)
            .await
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{path} answered {status}"));
        }
    }
    let public = scenario(&addr, "/health", Tokens::None, &o).await;
    let anonymous = scenario(&addr, "/me", Tokens::None, &o).await;
    let auth_repeated = scenario(&addr, "/me", Tokens::Repeated(repeated), &o).await;
    let auth_distinct = scenario(
        &addr,
        "/me",
        Tokens::Distinct(Arc::new(distinct), Arc::new(AtomicUsize::new(0))),
        &o,
    )
    .await;
    server.terminate().await;
    let report = json!({
        "connections": o.connections,
        "public": public,
        "anonymous": anonymous,
        "auth_repeated": auth_repeated,
        "auth_distinct": auth_distinct,
    });
    // The report on stdout is this binary's output (read by the xtask).
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    Ok(())
}
