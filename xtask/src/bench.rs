//! `cargo xtask bench [--quick]`: every measurement of the performance report in one run, on
//! one set of keys and tokens, then a table and `target/bench-summary.json`.
//!
//! 1. criterion: `authgent-bench`'s `verify` (cold verification per algorithm and depth, the
//!    aws-lc-rs floor, jsonwebtoken 10 and 12, key-set sizes, DPoP), `signing` (signing and
//!    DPoP proof creation on aws-lc-rs against the josekit/OpenSSL signer used before) and
//!    `adapters` (cache hit, axum and actix with and without the layer, the layer with audit
//!    events and metrics on, one vs two threads);
//! 2. the Python SDK's `verify_token` on the same tokens, in the interop venv;
//! 3. a loopback HTTP load run against the axum example (`loadgen`), one handler with and
//!    without the layer (`layer-server`: the like-for-like comparison), then DPoP routes with
//!    the in-memory replay store, with Redis, and with two replicas sharing Redis, and the
//!    replay check alone on Redis over loopback (redis-server installed when missing).
//!
//! Every figure comes from this run. `*_verify_vs_floor` and `*_verify_vs_jsonwebtoken` are
//! the median ratios of adjacent blocks (the `paired` measurement: a shared machine's speed
//! drifts between benchmarks, never within a block pair); `*_of_medians` are the same
//! comparisons as plain ratios of criterion medians.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

use crate::interop;

struct Mode {
    quick: bool,
}

impl Mode {
    fn criterion_args(&self) -> Vec<&'static str> {
        if self.quick {
            vec![
                "--warm-up-time",
                "0.5",
                "--measurement-time",
                "1.5",
                "--sample-size",
                "30",
            ]
        } else {
            vec!["--warm-up-time", "1", "--measurement-time", "4"]
        }
    }
    /// How long the paired measurement runs per algorithm.
    fn paired_seconds(&self) -> &'static str {
        if self.quick { "1.5" } else { "4" }
    }
    fn python_seconds(&self) -> &'static str {
        if self.quick { "1.5" } else { "4" }
    }
    fn load_seconds(&self) -> &'static str {
        if self.quick { "3" } else { "8" }
    }
}

fn cargo(args: &[&str], env: &[(&str, &OsStr)]) -> Result<(), String> {
    eprintln!("==> cargo {}", args.join(" "));
    let status = Command::new("cargo")
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed", args.join(" ")))
    }
}

fn output_json(program: &Path, args: &[&str]) -> Result<Value, String> {
    output_json_with(program, args, &[])
}

/// [`output_json`] with `env` set for the program.
fn output_json_with(
    program: &Path,
    args: &[&str],
    env: &[(&str, &OsStr)],
) -> Result<Value, String> {
    eprintln!("==> {} {}", program.display(), args.join(" "));
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed", program.display()));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{} printed no JSON report: {e}", program.display()))
}

/// Medians (µs) of every criterion benchmark of this run, by id (`verify/ES256/2`).
fn criterion_medians(dir: &Path) -> Map<String, Value> {
    fn walk(dir: &Path, root: &Path, out: &mut Map<String, Value>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.ends_with("new/estimates.json") {
                let id = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| p.to_string_lossy().into_owned());
                let median = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["median"]["point_estimate"].as_f64());
                if let (Some(id), Some(ns)) = (id, median) {
                    out.insert(id, json!(ns / 1000.0));
                }
            }
        }
    }
    let mut out = Map::new();
    walk(dir, dir, &mut out);
    out
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mode = Mode {
        quick: args.iter().any(|a| a == "--quick"),
    };
    if let Some(other) = args.iter().find(|a| *a != "--quick") {
        return Err(format!(
            "unknown argument {other}; usage: cargo xtask bench [--quick]"
        ));
    }
    let root = interop::workspace_root();
    let target = crate::interop::target_dir();
    let fixture = target.join("bench/fixture.json");
    let criterion_dir = target.join("criterion");
    // One run, one fixture, no medians left from an earlier run.
    let _ = std::fs::remove_file(&fixture);
    let _ = std::fs::remove_dir_all(&criterion_dir);
    cargo(
        &[
            "build",
            "--profile",
            "bench",
            "--locked",
            "-p",
            "authgent-bench",
            "-p",
            "axum-resource-server",
            "--bins",
        ],
        &[],
    )?;
    let mut bench = vec![
        "bench",
        "--locked",
        "-p",
        "authgent-bench",
        "--bench",
        "verify",
        "--bench",
        "adapters",
        "--bench",
        "signing",
        "--",
        "--noplot",
    ];
    bench.extend(mode.criterion_args());
    let paired_path = target.join("bench/paired.json");
    let _ = std::fs::remove_file(&paired_path);
    let paired_adapters_path = target.join("bench/paired-adapters.json");
    let _ = std::fs::remove_file(&paired_adapters_path);
    cargo(
        &bench,
        &[
            ("AUTHGENT_BENCH_FIXTURE", fixture.as_os_str()),
            ("AUTHGENT_BENCH_PAIRED", paired_path.as_os_str()),
            (
                "AUTHGENT_BENCH_PAIRED_ADAPTERS",
                paired_adapters_path.as_os_str(),
            ),
            (
                "AUTHGENT_BENCH_PAIRED_SECONDS",
                OsStr::new(mode.paired_seconds()),
            ),
        ],
    )?;
    let medians = criterion_medians(&criterion_dir);
    let mut paired: Value = std::fs::read(&paired_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the verify bench wrote no paired report")?;
    paired["dpop"] = std::fs::read(&paired_adapters_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the adapters bench wrote no paired report")?;

    let python = interop::ensure_venv()?;
    let script = root.join("interop/python/sdk_bench.py");
    let python_sdk = output_json(
        &python,
        &[
            &script.to_string_lossy(),
            &fixture.to_string_lossy(),
            mode.python_seconds(),
        ],
    )?;
    let redis = crate::redis::ensure_redis_server()?;
    eprintln!(
        "==> loopback HTTP load, DPoP replicas on {}",
        redis.display()
    );
    let load = output_json_with(
        &target.join("release/loadgen"),
        &[
            "--binary",
            &target
                .join("release/axum-resource-server")
                .to_string_lossy(),
            "--seconds",
            mode.load_seconds(),
            "--redis",
            "--layer-binary",
            &target.join("release/layer-server").to_string_lossy(),
        ],
        &[("AUTHGENT_REDIS_SERVER", redis.as_os_str())],
    )?;

    let summary = summarize(&medians, &paired, &python_sdk, &load, mode.quick)?;
    let path = target.join("bench-summary.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("could not write {}: {e}", path.display()))?;
    eprintln!("{}", table(&summary));
    eprintln!("summary: {}", path.display());
    Ok(())
}

fn summarize(
    medians: &Map<String, Value>,
    paired: &Value,
    python_sdk: &Value,
    load: &Value,
    quick: bool,
) -> Result<Value, String> {
    let us = |id: &str| {
        medians
            .get(id)
            .and_then(Value::as_f64)
            .ok_or(format!("no median for {id}: did the benchmark run?"))
    };
    let rps = |scenario: &str| {
        load[scenario]["requests_per_second"]
            .as_f64()
            .ok_or(format!("the load run has no {scenario} figure"))
    };
    let python_es256 = python_sdk["ES256/2"]["median_us"]
        .as_f64()
        .ok_or("the Python SDK run has no ES256/2 figure")?;
    let ratio = |a: f64, b: f64| (a / b * 1000.0).round() / 1000.0;
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut s = Map::new();
    // Against the floor and the peer: the median ratio of adjacent blocks (drift-proof), and
    // the plain ratio of the criterion medians next to it.
    for (key, alg) in [("es256", "ES256"), ("rs256", "RS256"), ("eddsa", "EdDSA")] {
        let ours = us(&format!("verify/{alg}/2"))?;
        let pair = |what: &str| {
            paired[alg][what]
                .as_f64()
                .map(|v| (v * 1000.0).round() / 1000.0)
                .ok_or(format!("the paired report has no {alg} {what}"))
        };
        s.insert(
            format!("{key}_verify_vs_floor"),
            json!(pair("verify_vs_floor")?),
        );
        s.insert(
            format!("{key}_verify_vs_jsonwebtoken"),
            json!(pair("verify_vs_jsonwebtoken")?),
        );
        s.insert(
            format!("{key}_verify_vs_jsonwebtoken12"),
            json!(pair("verify_vs_jsonwebtoken12")?),
        );
        s.insert(
            format!("{key}_verify_vs_floor_of_medians"),
            json!(ratio(ours, us(&format!("floor/{alg}"))?)),
        );
        s.insert(
            format!("{key}_verify_vs_jsonwebtoken_of_medians"),
            json!(ratio(ours, us(&format!("jsonwebtoken/{alg}/2"))?)),
        );
        s.insert(
            format!("{key}_verify_vs_jsonwebtoken12_of_medians"),
            json!(ratio(ours, us(&format!("jsonwebtoken12/{alg}/2"))?)),
        );
        // Signing now (aws-lc-rs) against the josekit/OpenSSL signer used before issue 26.
        s.insert(
            format!("{key}_sign_vs_josekit"),
            json!(ratio(
                us(&format!("signing/{alg}/aws-lc-rs"))?,
                us(&format!("signing/{alg}/josekit"))?
            )),
        );
    }
    s.insert(
        "dpop_proof_create_vs_josekit".into(),
        json!(ratio(
            us("signing/dpop_proof/aws-lc-rs")?,
            us("signing/dpop_proof/josekit")?
        )),
    );
    let cached = us("cached/verify_token")?;
    s.insert("cached_verify_us".into(), json!(round(cached)));
    s.insert(
        "axum_layer_overhead_us".into(),
        json!(round(
            us("axum/with_layer")? - us("axum/without_layer")? - cached
        )),
    );
    // Issue 27: what audit events (as JSON lines) and metrics (Prometheus) add to the layer
    // on the cache-hit path (target: at most 1 µs together). Paired (adjacent blocks): the
    // criterion medians below differ by about as much as the machine drifts between them.
    s.insert(
        "audit_and_metrics_overhead_us".into(),
        json!(round(
            paired["dpop"]["audit_and_metrics_added_us"]
                .as_f64()
                .ok_or("the paired report has no audit and metrics cost")?
        )),
    );
    let layer = us("axum/with_layer")?;
    for (key, id) in [
        ("audit_overhead_us_of_medians", "axum/with_layer_audit"),
        ("metrics_overhead_us_of_medians", "axum/with_layer_metrics"),
        (
            "audit_and_metrics_overhead_us_of_medians",
            "axum/with_layer_audit_metrics",
        ),
    ] {
        s.insert(key.into(), json!(round(us(id)? - layer)));
    }
    s.insert(
        "actix_layer_overhead_us".into(),
        json!(round(
            us("actix/with_layer")? - us("actix/without_layer")? - cached
        )),
    );
    let es256_floor = us("floor/ES256")?;
    s.insert(
        "dpop_request_vs_floor".into(),
        json!(ratio(us("dpop/request")?, 2.0 * es256_floor)),
    );
    // Paired (adjacent blocks, the same proofs): criterion's medians of the request and of
    // the floor are minutes apart, and the machine's speed moves more than the gap measured.
    s.insert(
        "dpop_cached_token_vs_proof_floor".into(),
        json!(round(
            paired["dpop"]["dpop_cached_token_vs_proof_floor"]
                .as_f64()
                .ok_or("the paired DPoP report has no ratio")?
        )),
    );
    s.insert(
        "dpop_cached_token_vs_proof_floor_of_medians".into(),
        json!(ratio(us("cached/dpop_request")?, es256_floor)),
    );
    s.insert(
        "speedup_vs_python_sdk".into(),
        json!(ratio(python_es256, us("verify/ES256/2")?)),
    );
    s.insert(
        "two_thread_scaling".into(),
        json!(ratio(us("scaling/1_threads")?, us("scaling/2_threads")?)),
    );
    s.insert(
        "http_auth_vs_public_throughput".into(),
        json!(ratio(rps("auth_repeated")?, rps("public")?)),
    );
    s.insert(
        "http_auth_vs_anonymous_throughput".into(),
        json!(ratio(rps("auth_repeated")?, rps("anonymous")?)),
    );
    // Like for like: one handler, the same request bytes, with and without the layer.
    let same = |scenario: &str| {
        load["same_handler"][scenario]["requests_per_second"]
            .as_f64()
            .ok_or(format!(
                "the load run has no same_handler {scenario} figure"
            ))
    };
    s.insert(
        "http_layer_vs_same_handler_throughput".into(),
        json!(round(
            load["same_handler"]["repeated_vs_open_paired"]
                .as_f64()
                .ok_or("the load run has no same_handler paired ratio")?
        )),
    );
    s.insert(
        "http_layer_distinct_tokens_vs_same_handler_throughput".into(),
        json!(ratio(same("auth_distinct")?, same("open")?)),
    );
    // Replicas: the replay check on Redis, and what it and a second replica do to a DPoP
    // route's throughput.
    let dpop = &load["dpop"];
    let dpop_rps = |scenario: &str| {
        dpop[scenario]["requests_per_second"]
            .as_f64()
            .ok_or(format!("the load run has no {scenario} figure"))
    };
    let check = |store: &str, p: &str| {
        dpop["replay_check"][store][p]
            .as_f64()
            .ok_or(format!("the load run has no replay_check {store} {p}"))
    };
    s.insert(
        "redis_replay_check_added_p50_us".into(),
        json!(round(
            check("redis", "p50_us")? - check("memory", "p50_us")?
        )),
    );
    s.insert(
        "redis_replay_check_added_p99_us".into(),
        json!(round(
            check("redis", "p99_us")? - check("memory", "p99_us")?
        )),
    );
    s.insert(
        "dpop_redis_vs_memory_throughput".into(),
        json!(ratio(dpop_rps("dpop_redis_1")?, dpop_rps("dpop_memory_1")?)),
    );
    s.insert(
        "dpop_two_replicas_vs_one_throughput".into(),
        json!(ratio(dpop_rps("dpop_redis_2")?, dpop_rps("dpop_redis_1")?)),
    );
    let get = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    let targets = json!({
        "es256_verify_vs_floor <= 1.10": get("es256_verify_vs_floor") <= 1.10,
        "rs256_verify_vs_floor <= 1.10": get("rs256_verify_vs_floor") <= 1.10,
        "eddsa_verify_vs_floor <= 1.10": get("eddsa_verify_vs_floor") <= 1.10,
        "es256_verify_vs_jsonwebtoken <= 1": get("es256_verify_vs_jsonwebtoken") <= 1.0,
        "rs256_verify_vs_jsonwebtoken <= 1": get("rs256_verify_vs_jsonwebtoken") <= 1.0,
        "eddsa_verify_vs_jsonwebtoken <= 1": get("eddsa_verify_vs_jsonwebtoken") <= 1.0,
        "es256_verify_vs_jsonwebtoken12 <= 1": get("es256_verify_vs_jsonwebtoken12") <= 1.0,
        "rs256_verify_vs_jsonwebtoken12 <= 1": get("rs256_verify_vs_jsonwebtoken12") <= 1.0,
        "eddsa_verify_vs_jsonwebtoken12 <= 1": get("eddsa_verify_vs_jsonwebtoken12") <= 1.0,
        "es256_sign_vs_josekit <= 1": get("es256_sign_vs_josekit") <= 1.0,
        "rs256_sign_vs_josekit <= 1": get("rs256_sign_vs_josekit") <= 1.0,
        "eddsa_sign_vs_josekit <= 1": get("eddsa_sign_vs_josekit") <= 1.0,
        "dpop_proof_create_vs_josekit <= 1": get("dpop_proof_create_vs_josekit") <= 1.0,
        "cached_verify_us <= 1": get("cached_verify_us") <= 1.0,
        "axum_layer_overhead_us <= 2": get("axum_layer_overhead_us") <= 2.0,
        "audit_and_metrics_overhead_us <= 1": get("audit_and_metrics_overhead_us") <= 1.0,
        "dpop_request_vs_floor <= 1.15": get("dpop_request_vs_floor") <= 1.15,
        "dpop_cached_token_vs_proof_floor <= 1.10": get("dpop_cached_token_vs_proof_floor") <= 1.10,
        "speedup_vs_python_sdk >= 3": get("speedup_vs_python_sdk") >= 3.0,
        "two_thread_scaling >= 1.8": get("two_thread_scaling") >= 1.8,
        "http_layer_vs_same_handler_throughput >= 0.95": get("http_layer_vs_same_handler_throughput") >= 0.95,
    });
    Ok(json!({
        "summary": s,
        "targets": targets,
        "medians_us": medians,
        "paired": paired,
        "python_sdk": python_sdk,
        "http_load": load,
        "run": {
            "quick": quick,
            "cpus": std::thread::available_parallelism().map_or(0, usize::from),
            "signature_backend": "aws-lc-rs",
        },
    }))
}

/// The report as a readable table.
fn table(summary: &Value) -> String {
    let m = &summary["medians_us"];
    let f = |id: &str| m[id].as_f64().map_or("—".into(), |v| format!("{v:.2}"));
    let mut out = String::from("\ncold verification (µs, median)\n");
    out += &format!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}\n",
        "alg", "0 hops", "2 hops", "5 hops", "floor", "jwt 10", "jwt 12", "python sdk"
    );
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let py = summary["python_sdk"][format!("{alg}/2")]["median_us"]
            .as_f64()
            .map_or("—".into(), |v| format!("{v:.1}"));
        out += &format!(
            "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}\n",
            alg,
            f(&format!("verify/{alg}/0")),
            f(&format!("verify/{alg}/2")),
            f(&format!("verify/{alg}/5")),
            f(&format!("floor/{alg}")),
            f(&format!("jsonwebtoken/{alg}/2")),
            f(&format!("jsonwebtoken12/{alg}/2")),
            py,
        );
    }
    out += "\nsigning (µs, median): now (aws-lc-rs) / before (josekit, OpenSSL)\n";
    for what in ["ES256", "RS256", "EdDSA", "dpop_proof"] {
        out += &format!(
            "{what:<12} {:>9} {:>9}\n",
            f(&format!("signing/{what}/aws-lc-rs")),
            f(&format!("signing/{what}/josekit")),
        );
    }
    out += "\nother paths (µs, median)\n";
    for (label, id) in [
        ("verified-token cache hit", "cached/verify_token"),
        ("DPoP request, token + proof (ES256)", "dpop/request"),
        (
            "DPoP request, token cached, proof verified",
            "cached/dpop_request",
        ),
        ("DPoP proof alone", "dpop/proof"),
        ("axum request without the layer", "axum/without_layer"),
        ("axum request with the layer (cache hit)", "axum/with_layer"),
        ("  + audit events as JSON lines", "axum/with_layer_audit"),
        (
            "  + metrics (Prometheus recorder)",
            "axum/with_layer_metrics",
        ),
        ("  + audit and metrics", "axum/with_layer_audit_metrics"),
        (
            "actix request without the middleware",
            "actix/without_layer",
        ),
        ("actix request with the middleware", "actix/with_layer"),
        ("full verify, 1 thread (per op)", "scaling/1_threads"),
        ("full verify, 2 threads (per op)", "scaling/2_threads"),
        ("verify against 1 key", "jwks_keys/1"),
        ("verify against 10 keys", "jwks_keys/10"),
        ("verify against 100 keys", "jwks_keys/100"),
        ("parse only", "parts/parse"),
        ("chain policy check", "parts/chain_policy"),
        ("prepare a one-key JWKS", "parts/jwks_prepare_es256"),
    ] {
        out += &format!("{label:<48} {:>10}\n", f(id));
    }
    let load = &summary["http_load"];
    let scenario_line = |name: &str, s: &Value| {
        format!(
            "{name:<16} {:>10.0} req/s  p50 {:>8.0} µs  p99 {:>8.0} µs\n",
            s["requests_per_second"].as_f64().unwrap_or(0.0),
            s["p50_us"].as_f64().unwrap_or(0.0),
            s["p99_us"].as_f64().unwrap_or(0.0),
        )
    };
    out += "\nloopback HTTP load against the axum example\n";
    for scenario in ["public", "anonymous", "auth_repeated", "auth_distinct"] {
        out += &scenario_line(scenario, &load[scenario]);
    }
    out += "\none handler without / with the layer (layer-server, a token on every request)\n";
    for scenario in ["open", "auth_repeated", "auth_distinct"] {
        out += &scenario_line(scenario, &load["same_handler"][scenario]);
    }
    out += "\nDPoP route (GET /me, token cached, a fresh ES256 proof per request)\n";
    for scenario in ["dpop_memory_1", "dpop_redis_1", "dpop_redis_2"] {
        out += &scenario_line(scenario, &load["dpop"][scenario]);
    }
    out += "\nreplay check alone (µs)\n";
    for store in ["memory", "redis", "redis_16_concurrent"] {
        let s = &load["dpop"]["replay_check"][store];
        out += &format!(
            "{store:<20} p50 {:>8.1}  p99 {:>8.1}\n",
            s["p50_us"].as_f64().unwrap_or(0.0),
            s["p99_us"].as_f64().unwrap_or(0.0),
        );
    }
    out += "\nsummary (ratios of medians from this run)\n";
    if let Some(map) = summary["summary"].as_object() {
        for (k, v) in map {
            out += &format!("{k:<36} {v}\n");
        }
    }
    out += "\ntargets\n";
    if let Some(map) = summary["targets"].as_object() {
        for (k, v) in map {
            let mark = if v.as_bool() == Some(true) {
                "met"
            } else {
                "MISSED"
            };
            out += &format!("{k:<44} {mark}\n");
        }
    }
    out
}
