//! What `cargo xtask bench` measures on: one set of keys and tokens per run, shared by the
//! criterion benches, the Python SDK's run and the report, so every ratio compares the same
//! inputs.
//!
//! The fixture is written once per run to the file named by `AUTHGENT_BENCH_FIXTURE` (the
//! xtask sets it under `target/bench/`); the benches and the Python script read it back.
//! Without the variable a fresh fixture is made in memory.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authgent_core::{Algorithm, KeySet, SigningKey, TokenValidator};
use serde_json::{Map, Value, json};

/// The issuer every fixture token names.
pub const ISSUER: &str = "https://as.bench.example";
/// The audience every fixture token is for.
pub const AUDIENCE: &str = "https://tools.bench.example";
/// The delegation depths measured: a direct token, a 2-hop and a 5-hop chain.
pub const HOPS: [usize; 3] = [0, 2, 5];
/// The algorithms measured (cold verification).
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::Es256,
    Algorithm::EdDsa,
];
/// How long fixture tokens stay valid: a whole bench run, with room to spare.
const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// One algorithm's key and tokens.
#[derive(Debug)]
pub struct AlgorithmFixture {
    /// The algorithm.
    pub alg: Algorithm,
    /// The signing key (its `kid` is the algorithm's name).
    pub key: SigningKey,
    /// The private JWK, as persisted.
    pub private_jwk: Map<String, Value>,
    /// One token per entry of [`HOPS`], in that order.
    pub tokens: Vec<String>,
}

impl AlgorithmFixture {
    /// The token with `hops` delegation levels.
    pub fn token(&self, hops: usize) -> &str {
        let i = HOPS
            .iter()
            .position(|h| *h == hops)
            .expect("a measured depth");
        &self.tokens[i]
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        self.key.public_jwk()
    }
}

/// Keys and tokens for every measured algorithm.
#[derive(Debug)]
pub struct Fixture {
    /// When the tokens were issued (seconds since the epoch).
    pub issued_at: u64,
    /// Per algorithm, in [`ALGORITHMS`] order.
    pub algorithms: Vec<AlgorithmFixture>,
}

impl Fixture {
    /// The fixture named by `AUTHGENT_BENCH_FIXTURE` (made there if missing or expired), or a
    /// fresh one in memory.
    pub fn load() -> Fixture {
        match std::env::var_os("AUTHGENT_BENCH_FIXTURE") {
            Some(path) => Fixture::load_or_create(Path::new(&path)),
            None => Fixture::generate(),
        }
    }

    /// Reads `path`, or generates a fixture and writes it there.
    pub fn load_or_create(path: &Path) -> Fixture {
        if let Some(f) = std::fs::read(path)
            .ok()
            .and_then(|b| Fixture::from_json(&b))
        {
            return f;
        }
        let f = Fixture::generate();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the fixture's directory");
        }
        std::fs::write(path, f.to_json().to_string()).expect("write the fixture");
        f
    }

    /// Fresh keys and tokens.
    pub fn generate() -> Fixture {
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let algorithms = ALGORITHMS
            .into_iter()
            .map(|alg| {
                let key = SigningKey::generate(alg)
                    .expect("generate a key")
                    .with_kid(alg.as_str());
                let private_jwk = key.private_jwk().clone();
                let tokens = HOPS
                    .iter()
                    .map(|h| sign(&key, &claims(issued_at, *h)))
                    .collect();
                AlgorithmFixture {
                    alg,
                    key,
                    private_jwk,
                    tokens,
                }
            })
            .collect();
        Fixture {
            issued_at,
            algorithms,
        }
    }

    /// The fixture for `alg`.
    pub fn get(&self, alg: Algorithm) -> &AlgorithmFixture {
        self.algorithms
            .iter()
            .find(|a| a.alg == alg)
            .expect("a measured algorithm")
    }

    /// Every public key, as a key set.
    pub fn key_set(&self) -> KeySet {
        KeySet::from_keys(
            self.algorithms
                .iter()
                .map(|a| a.key.verification_key().expect("a public key")),
        )
    }

    /// The validator every Rust measurement uses: issuer and audience checked, all algorithms.
    pub fn validator(&self) -> TokenValidator {
        TokenValidator::builder(ISSUER)
            .audience(AUDIENCE)
            .build()
            .expect("a valid configuration")
    }

    /// A time at which every token is valid.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.issued_at + 60)
    }

    fn to_json(&self) -> Value {
        json!({
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "issued_at": self.issued_at,
            "hops": HOPS,
            "algorithms": self.algorithms.iter().map(|a| json!({
                "alg": a.alg.as_str(),
                "private_jwk": a.private_jwk,
                "public_jwk": a.public_jwk(),
                "tokens": a.tokens,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(bytes: &[u8]) -> Option<Fixture> {
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        let issued_at = doc.get("issued_at")?.as_u64()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        if now + 3600 > issued_at + LIFETIME.as_secs() {
            return None;
        }
        let mut algorithms = Vec::new();
        for a in doc.get("algorithms")?.as_array()? {
            let alg: Algorithm = a.get("alg")?.as_str()?.parse().ok()?;
            let private_jwk = a.get("private_jwk")?.as_object()?.clone();
            let key = SigningKey::from_private_jwk(&private_jwk, Some(alg)).ok()?;
            let tokens = a
                .get("tokens")?
                .as_array()?
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?;
            algorithms.push(AlgorithmFixture {
                alg,
                key,
                private_jwk,
                tokens,
            });
        }
        (algorithms.len() == ALGORITHMS.len()).then_some(Fixture {
            issued_at,
            algorithms,
        })
    }
}

/// The claims of a token with `hops` delegation levels: what authgent-server issues after
/// `hops` token exchanges.
pub fn claims(issued_at: u64, hops: usize) -> Map<String, Value> {
    let mut act: Option<Value> = None;
    for i in (0..hops).rev() {
        let mut level = json!({ "sub": format!("client:agnt_{i}") });
        if let Some(inner) = act.take() {
            level["act"] = inner;
        }
        act = Some(level);
    }
    let mut c = json!({
        "iss": ISSUER, "sub": "user:alice", "aud": AUDIENCE,
        "exp": issued_at + LIFETIME.as_secs(), "iat": issued_at,
        "jti": format!("tok_{hops}"), "scope": "search:execute read",
        "client_id": "agnt_0",
    });
    if let Some(act) = act {
        c["act"] = act;
    }
    match c {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

fn sign(key: &SigningKey, claims: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("at+jwt".into()));
    key.sign(&header, claims).expect("sign a token")
}

/// The signing input and decoded signature of a compact JWS: what the floor measures.
pub fn split_jws(token: &str) -> (&[u8], Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    (input.as_bytes(), base64url(signature))
}

fn base64url(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

/// How long each paired measurement runs: `AUTHGENT_BENCH_PAIRED_SECONDS` (which `cargo xtask
/// bench` sets by its mode), else 3 s.
pub fn paired_seconds() -> f64 {
    std::env::var("AUTHGENT_BENCH_PAIRED_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

/// The median of `values` (sorted in place; the upper one of an even count). `values` must
/// not be empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The raw aws-lc-rs check of `token`'s signature with `jwk`'s key parsed once: the floor no
/// JWT library can go below.
pub struct Floor {
    key: aws_lc_rs::signature::ParsedPublicKey,
}

impl std::fmt::Debug for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Floor")
    }
}

impl Floor {
    /// Parses the public key of `fixture` once.
    pub fn new(fixture: &AlgorithmFixture) -> Floor {
        Floor::for_key(fixture.alg, fixture.public_jwk())
    }

    /// Parses the public `jwk` once, for `alg` (RS256, PS256, ES256 or EdDSA).
    pub fn for_key(alg: Algorithm, jwk: &Map<String, Value>) -> Floor {
        use aws_lc_rs::signature::{self, ParsedPublicKey};
        let member = |m: &str| base64url(jwk[m].as_str().expect("a string member"));
        let (alg, bytes): (&'static dyn signature::VerificationAlgorithm, Vec<u8>) = match alg {
            Algorithm::Es256 => {
                let mut point = vec![4];
                point.extend(member("x"));
                point.extend(member("y"));
                (&signature::ECDSA_P256_SHA256_FIXED, point)
            }
            Algorithm::EdDsa => (&signature::ED25519, member("x")),
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let params = if alg == Algorithm::Rs256 {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                let components = signature::RsaPublicKeyComponents {
                    n: member("n"),
                    e: member("e"),
                };
                return Floor {
                    key: components.to_parsed_public_key(params).expect("an RSA key"),
                };
            }
            other => panic!("no floor for {other}"),
        };
        Floor {
            key: ParsedPublicKey::new(alg, bytes).expect("a valid public key"),
        }
    }

    /// Checks the signature of a split token.
    pub fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(input, signature).is_ok()
    }
}
