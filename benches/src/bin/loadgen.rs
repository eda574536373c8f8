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
//! With `--layer-binary PATH` (`layer-server`: one handler on `/open` without the layer and on
//! `/auth` behind it), the like-for-like comparison follows, every request carrying a token:
//!
//! - `open`: `GET /open`, one token repeated (the layer is absent: the token is not read);
//! - `auth_repeated`: `GET /auth`, the same token (a verified-token cache hit);
//!
//! alternated in five pairs of short runs (`repeated_vs_open_paired`: the median ratio), then
//! `auth_distinct`: `GET /auth`, a different token every request.
//!
//! With `--redis` (a `redis-server` is started per run, `AUTHGENT_REDIS_SERVER` or `PATH`),
//! DPoP scenarios follow, each request with a DPoP-bound token (cached after the first
//! request) and a fresh pre-minted ES256 proof, so every request verifies a proof and records
//! its id:
//!
//! - `dpop_memory_1`: one replica with the in-memory replay store;
//! - `dpop_redis_1`: one replica recording proofs in Redis;
//! - `dpop_redis_2`: two replicas sharing that Redis, the connections split between them as a
//!   load balancer would;
//!
//! and `replay_check`: the latency of one `check_and_record` alone, in-memory and on Redis
//! over loopback (sequential, and 16 at a time), p50/p99.
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
    redis: bool,
    layer_binary: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        binary: String::new(),
        seconds: 5.0,
        connections: 16,
        redis: false,
        layer_binary: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} takes a value"));
        match a.as_str() {
            "--binary" => o.binary = value()?,
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds: a number")?,
            "--redis" => o.redis = true,
            "--layer-binary" => o.layer_binary = Some(value()?),
            "--connections" => {
                o.connections = value()?.parse().map_err(|_| "--connections: a number")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.binary.is_empty() {
        return Err(
            "usage: loadgen --binary PATH [--seconds S] [--connections C] [--redis] [--layer-binary PATH]".into(),
        );
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

    /// `GET path` with `headers` (complete `name: value\r\n` lines).
    async fn get(&mut self, host: &str, path: &str, headers: &str) -> std::io::Result<u16> {
        let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{headers}\r\n");
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

/// The credential headers of a scenario's requests.
#[derive(Clone)]
enum Tokens {
    None,
    Repeated(Arc<String>),
    /// One use each, until they run out.
    Distinct(Arc<Vec<String>>, Arc<AtomicUsize>),
}

impl Tokens {
    fn next(&self) -> Option<&str> {
        match self {
            Tokens::None => Some(""),
            Tokens::Repeated(t) => Some(t.as_str()),
            Tokens::Distinct(all, next) => all
                .get(next.fetch_add(1, Ordering::Relaxed))
                .map(String::as_str),
        }
    }

    fn distinct(all: Vec<String>) -> Self {
        Tokens::Distinct(Arc::new(all), Arc::new(AtomicUsize::new(0)))
    }
}

fn bearer(token: &str) -> String {
    format!("authorization: Bearer {token}\r\n")
}

/// `o.connections` connections spread over `addrs` (one per replica), for `o.seconds`.
async fn scenario(addrs: &[&str], path: &str, tokens: Tokens, o: &Options) -> Value {
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..o.connections {
        let addr = addrs[n % addrs.len()];
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
    let (p50, p99) = percentiles(&mut latencies);
    json!({
        "requests": latencies.len(),
        "failures": failures,
        "seconds": elapsed,
        "requests_per_second": latencies.len() as f64 / elapsed,
        "p50_us": p50,
        "p99_us": p99,
    })
}

/// One warm-up request, which must answer 200.
async fn expect_ok(addr: &str, path: &str, headers: &str) -> Result<(), String> {
    let mut connection = Connection::open(addr).await.map_err(|e| e.to_string())?;
    match connection.get(addr, path, headers).await {
        Ok(200) => Ok(()),
        Ok(status) => Err(format!("{path} answered {status}")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

/// p50 and p99 in µs.
fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (pct(0.50), pct(0.99))
}

/// A server under load and the Bearer headers to send it.
struct Started {
    server: ServerProcess,
    addr: String,
    /// One delegated token (2 hops), for the repeated-token scenarios.
    repeated: Arc<String>,
    /// Enough distinct tokens for the run at the rate one core verifies ES256 tokens.
    distinct: Vec<String>,
}

/// Starts `binary` trusting `issuer` on a free port and mints its tokens (audience: the
/// server's address).
async fn start(issuer: &TestIssuer, binary: &str, o: &Options) -> Result<Started, String> {
    let server = ServerProcess::start(
        binary,
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
        let token = issuer
            .token()
            .subject("user:alice")
            .audience(&audience)
            .scopes(["search:execute"])
            .actors(["client:agnt_0", "client:agnt_1"])
            .sign();
        bearer(&token)
    };
    let distinct = (0..((o.seconds * 15_000.0) as usize).max(1_000))
        .map(|_| mint())
        .collect();
    Ok(Started {
        server,
        addr,
        repeated: Arc::new(mint()),
        distinct,
    })
}

/// One handler without and with the layer (`layer-server`); see the module docs.
async fn same_handler_scenarios(
    issuer: &TestIssuer,
    binary: &str,
    o: &Options,
) -> Result<Value, String> {
    let Started {
        server,
        addr,
        repeated,
        distinct,
    } = start(issuer, binary, o).await?;
    for path in ["/open", "/auth"] {
        expect_ok(&addr, path, &repeated).await?;
    }
    let at = [addr.as_str()];
    // Alternating short runs, so that the machine's drift (a shared VM's speed moves by tens
    // of percent within minutes) hits both routes alike; the median ratio of adjacent runs is
    // the comparison.
    const ROUNDS: usize = 5;
    let short = Options {
        seconds: o.seconds / 2.0,
        binary: String::new(),
        layer_binary: None,
        ..*o
    };
    let (mut opens, mut auths, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let open = scenario(&at, "/open", Tokens::Repeated(repeated.clone()), &short).await;
        let auth = scenario(&at, "/auth", Tokens::Repeated(repeated.clone()), &short).await;
        let rps = |v: &Value| v["requests_per_second"].as_f64().unwrap_or(0.0);
        ratios.push(rps(&auth) / rps(&open));
        opens.push(open);
        auths.push(auth);
    }
    let median = authgent_bench::median(&mut ratios);
    // The reported runs: the pair whose ratio is the median.
    let pick = |runs: &[Value]| {
        let rps = |v: &Value| v["requests_per_second"].as_f64().unwrap_or(0.0);
        (0..ROUNDS)
            .min_by(|&a, &b| {
                let d = |i: usize| (rps(&auths[i]) / rps(&opens[i]) - median).abs();
                d(a).total_cmp(&d(b))
            })
            .map(|i| runs[i].clone())
            .unwrap_or(Value::Null)
    };
    let (open, auth_repeated) = (pick(&opens), pick(&auths));
    let auth_distinct = scenario(&at, "/auth", Tokens::distinct(distinct), o).await;
    server.terminate().await;
    Ok(json!({
        "open": open,
        "auth_repeated": auth_repeated,
        "auth_distinct": auth_distinct,
        "repeated_vs_open_paired": median,
        "repeated_vs_open_rounds": ratios,
    }))
}

/// The DPoP scenarios and the replay check alone; see the module docs.
async fn dpop_scenarios(issuer: &TestIssuer, o: &Options) -> Result<Value, String> {
    use authgent_core::dpop::DpopKey;
    use authgent_harness::redis::RedisServer;
    const PUBLIC_URL: &str = "http://replicas.bench";
    let redis = RedisServer::start();
    let start = |redis_url: Option<String>| async move {
        let mut env = vec![
            ("AUTHGENT_ISSUER", issuer.issuer().to_owned()),
            ("PUBLIC_URL", PUBLIC_URL.to_owned()),
            ("BIND", "127.0.0.1:0".to_owned()),
        ];
        if let Some(url) = redis_url {
            env.push(("AUTHGENT_REPLAY_REDIS", url));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ServerProcess::start(&o.binary, &[], &env).await
    };
    let key = DpopKey::generate_es256().map_err(|e| e.to_string())?;
    let token = issuer
        .token()
        .subject("client:agnt_bench")
        .audience(PUBLIC_URL)
        .scopes(["search:execute"])
        .dpop_jkt(key.jkt())
        .sign();
    // Minted just before each scenario (a proof is good for the 60 s iat window), enough for
    // the run at the rate this machine verifies ES256 proofs.
    let proofs = |n: usize| -> Result<Tokens, String> {
        let now = std::time::SystemTime::now();
        let all = (0..n)
            .map(|_| {
                key.proof("GET", &format!("{PUBLIC_URL}/me"), Some(&token), None, now)
                    .map(|p| format!("authorization: DPoP {token}\r\ndpop: {p}\r\n"))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tokens::distinct(all))
    };
    let count = ((o.seconds * 12_000.0) as usize).max(1_000);
    let mut report = serde_json::Map::new();
    for (name, replicas, shared) in [
        ("dpop_memory_1", 1, false),
        ("dpop_redis_1", 1, true),
        ("dpop_redis_2", 2, true),
    ] {
        let mut servers = Vec::new();
        for _ in 0..replicas {
            servers.push(start(shared.then(|| redis.url())).await?);
        }
        let addrs: Vec<&str> = servers.iter().map(|s| s.addr.as_str()).collect();
        let warm = proofs(addrs.len())?;
        for addr in &addrs {
            expect_ok(addr, "/me", warm.next().unwrap_or_default())
                .await
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let result = scenario(&addrs, "/me", proofs(count)?, o).await;
        report.insert(name.into(), result);
        for server in servers {
            server.terminate().await;
        }
    }
    report.insert("replay_check".into(), replay_check(&redis).await?);
    Ok(Value::Object(report))
}

/// One `check_and_record` alone: in-memory, and on Redis over loopback.
async fn replay_check(redis: &authgent_harness::redis::RedisServer) -> Result<Value, String> {
    use authgent_core::dpop::ProofId;
    use authgent_jwks::{MemoryReplayStore, RedisReplayStore, ReplayStore};
    const OPS: u32 = 20_000;
    /// `ops` calls one after the other, each with a new id of `run`; each call's latency.
    async fn timed(store: &dyn ReplayStore, run: u32, ops: u32) -> Vec<Duration> {
        let now = std::time::SystemTime::now();
        let until = now + Duration::from_secs(121);
        let mut latencies = Vec::with_capacity(ops as usize);
        for n in 0..ops {
            // Unique in the first 16 bytes (the in-memory store's key); byte 16 picks its
            // shard, spread as a hash would spread it.
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&run.to_le_bytes());
            id[4..8].copy_from_slice(&n.to_le_bytes());
            id[16] = (n % 251) as u8;
            let t = Instant::now();
            let _ = store.check_and_record(ProofId::new(id), now, until).await;
            latencies.push(t.elapsed());
        }
        latencies
    }
    let report = |mut latencies: Vec<Duration>| {
        let (p50, p99) = percentiles(&mut latencies);
        json!({"ops": latencies.len(), "p50_us": p50, "p99_us": p99})
    };
    let memory = MemoryReplayStore::new(1_000_000);
    let redis_store = Arc::new(
        RedisReplayStore::builder(redis.url())
            .namespace("bench")
            .connect()
            .await
            .map_err(|e| e.to_string())?,
    );
    let memory_seq = report(timed(&memory, 1, OPS).await);
    let redis_seq = report(timed(&*redis_store, 2, OPS).await);
    // 16 at a time over the one multiplexed connection, as 16 concurrent requests would.
    let started = Instant::now();
    let tasks: Vec<_> = (0..16u32)
        .map(|task| {
            let store = Arc::clone(&redis_store);
            tokio::spawn(async move { timed(&*store, 3 + task, OPS / 16).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ops_per_second = latencies.len() as f64 / elapsed;
    let mut concurrent = report(latencies);
    concurrent["ops_per_second"] = json!(ops_per_second);
    let stats = redis_store.stats();
    if stats.failures > 0 {
        return Err(format!("the Redis store failed {} times", stats.failures));
    }
    Ok(json!({
        "memory": memory_seq,
        "redis": redis_seq,
        "redis_16_concurrent": concurrent,
    }))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let o = options()?;
    let issuer = TestIssuer::start().await.map_err(|e| e.to_string())?;
    let Started {
        server,
        addr,
        repeated,
        distinct,
    } = start(&issuer, &o.binary, &o).await?;
    for (path, headers) in [("/health", ""), ("/me", repeated.as_str())] {
        expect_ok(&addr, path, headers).await?;
    }
    let at = [addr.as_str()];
    let public = scenario(&at, "/health", Tokens::None, &o).await;
    let anonymous = scenario(&at, "/me", Tokens::None, &o).await;
    let auth_repeated = scenario(&at, "/me", Tokens::Repeated(repeated), &o).await;
    let auth_distinct = scenario(&at, "/me", Tokens::distinct(distinct), &o).await;
    server.terminate().await;
    let same_handler = match &o.layer_binary {
        Some(binary) => same_handler_scenarios(&issuer, binary, &o).await?,
        None => Value::Null,
    };
    let dpop = if o.redis {
        dpop_scenarios(&issuer, &o).await?
    } else {
        Value::Null
    };
    let report = json!({
        "connections": o.connections,
        "public": public,
        "anonymous": anonymous,
        "auth_repeated": auth_repeated,
        "auth_distinct": auth_distinct,
        "same_handler": same_handler,
        "dpop": dpop,
    });
    // The report on stdout is this binary's output (read by the xtask).
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    Ok(())
}
