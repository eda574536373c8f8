//! Every tracing event the crate emits, captured at TRACE level over a workload that touches
//! every path (discovery, refresh, failures, skipped keys, unknown kids, DPoP, refusals, the
//! audit events of allowed and refused requests and their JSON lines), must not contain a
//! token, a proof, or key material.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use authgent_core::dpop::DpopKey;
use authgent_jwks::Verifier;
use authgent_testkit::{Fault, TestIssuer};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method("GET").uri("/data");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[tokio::test] // current-thread: the thread-local subscriber sees every task
async fn tokens_proofs_and_keys_never_appear_in_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let issuer = TestIssuer::start().await.unwrap();
    let dpop = DpopKey::generate_es256().unwrap();
    let v = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(issuer.issuer())
        .external_url("https://api.example")
        .jwks_max_age(Duration::from_secs(1))
        .failure_backoff(Duration::from_millis(10))
        .unknown_kid_cooldown(Duration::from_millis(10))
        .build()
        .unwrap();
    let mut secrets = vec![dpop.private_jwk()["d"].as_str().unwrap().to_owned()];
    secrets.push(
        issuer.signing_key().private_jwk()["d"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let token = issuer
        .token()
        .subject("user:alice")
        .actors(["client:tool"])
        .sign();
    let bound = issuer.token().dpop_jkt(dpop.jkt()).sign();
    let proof = dpop
        .proof(
            "GET",
            "https://api.example/data",
            Some(&bound),
            None,
            SystemTime::now(),
        )
        .unwrap();
    let unknown = issuer.token().header("kid", json!("nope")).sign();
    let expired = issuer.token().expired().sign();
    for t in [&token, &bound, &proof, &unknown, &expired] {
        secrets.push(t.to_string());
        secrets.push(t.rsplit('.').next().unwrap().to_owned()); // the signature alone
    }

    v.verify_token(&token).await.unwrap();
    v.verify_token(&token).await.unwrap();
    let auth = format!("DPoP {bound}");
    v.verify(&parts(&[("authorization", &auth), ("dpop", &proof)]))
        .await
        .unwrap();
    assert!(
        v.verify(&parts(&[("authorization", &auth), ("dpop", &proof)]))
            .await
            .is_err()
    );
    assert!(v.verify_token(&unknown).await.is_err());
    assert!(v.verify_token(&expired).await.is_err());
    let bearer_bound = format!("Bearer {bound}");
    assert!(
        v.verify(&parts(&[("authorization", &bearer_bound)]))
            .await
            .is_err()
    );
    issuer.set_jwks(Some(json!({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, issuer.signing_key().jwks_entry()]})));
    issuer.set_fault(Fault::Status(500));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify_token(&issuer.token().sign()).await.unwrap(); // stale keys, failing refresh
    tokio::time::sleep(Duration::from_millis(100)).await;
    issuer.set_fault(Fault::None);
    v.refresh().await.unwrap(); // logs the skipped oct key

    // Through AgentAuth, as every adapter refuses: one debug event per refusal, and one audit
    // event (tracing and a JSON-lines sink) per request.
    let lines = Captured::default();
    let agent_auth = authgent_jwks::AgentAuth::builder(v.clone())
        .audit_sink(authgent_jwks::audit::JsonLines::new(lines.clone()))
        .build()
        .unwrap();
    let bearer_expired = format!("Bearer {expired}");
    let headers = parts(&[("authorization", &bearer_expired)]).headers;
    let refused = agent_auth.authenticate("GET", "/data", &headers).await;
    assert_eq!(refused.unwrap_err().status(), 401);
    // Allowed (the query string carries a token: never logged), then refused by a guard.
    let bearer = format!("Bearer {token}");
    let headers = parts(&[("authorization", &bearer)]).headers;
    let target = format!("/data?access_token={token}");
    let context = agent_auth
        .authenticate("GET", &target, &headers)
        .await
        .unwrap();
    context.record_response(200);
    let context = agent_auth
        .authenticate("GET", "/data", &headers)
        .await
        .unwrap();
    let guard = authgent_jwks::Guard::all(["admin"]);
    let rejection = context.check(&guard).await.unwrap_err();
    context.record_response(rejection.status());
    // A DPoP-bound request allowed: its proof is fresh.
    let proof = dpop
        .proof(
            "GET",
            "https://api.example/data",
            Some(&bound),
            None,
            SystemTime::now(),
        )
        .unwrap();
    secrets.push(proof.clone());
    let headers = parts(&[("authorization", &auth), ("dpop", &proof)]).headers;
    let context = agent_auth
        .authenticate("GET", "/data", &headers)
        .await
        .unwrap();
    context.record_response(200);

    let json_lines = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<(&str, u64)> = events
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("refused", 401),
            ("allowed", 200),
            ("refused", 403),
            ("allowed", 200)
        ]
    );
    assert_eq!(events[1]["chain"], json!(["user:alice", "client:tool"]));
    assert_eq!(events[3]["dpop_jkt"], dpop.jkt());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for line in [
        "request refused outcome=\"refused\" status=401 error=\"invalid_token\"",
        "request allowed outcome=\"allowed\" status=200",
        "request refused outcome=\"refused\" status=403 error=\"insufficient_scope\"",
        "chain=[\"user:alice\", \"client:tool\"]",
    ] {
        assert!(
            logs.contains(line),
            "audit event {line:?} not logged:\n{logs}"
        );
    }
    // Refusals can be debugged: the precise reason is at debug level, never the token.
    for reason in [
        "token has expired",
        "token key id (kid) names no key of the issuer",
        "DPoP proof was replayed (jti already seen)",
        "DPoP-bound token must be sent with the DPoP scheme",
    ] {
        assert!(
            logs.contains(reason),
            "reason {reason:?} not logged:\n{logs}"
        );
    }
    assert!(
        logs.contains("request refused") && logs.contains("code=\"invalid_token\""),
        "AgentAuth logs each refusal with its code:\n{logs}"
    );
    assert!(logs.contains("JWKS refreshed"), "capture works:\n{logs}");
    assert!(logs.contains("JWKS refresh failed"));
    assert!(logs.contains("JWKS key skipped"));
    assert!(
        logs.contains("outcome=\"ok\""),
        "verification spans are logged"
    );
    assert!(logs.contains("outcome=\"invalid_dpop_proof\""));
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
        assert!(
            !json_lines.contains(secret.as_str()),
            "a secret leaked into the audit lines"
        );
    }
    assert!(!logs.contains("c2VjcmV0"), "symmetric key material leaked");
}
