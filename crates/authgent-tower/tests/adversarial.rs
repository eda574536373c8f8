//! The adversarial corpus over real HTTP through the tower layer (issue 9): each hostile
//! request answered with its status, code and challenge, and the server still healthy after.

mod common;

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_harness::contract::send;
use authgent_jwks::Verifier;
use authgent_testkit::TestIssuer;
use authgent_tower::{AgentAuth, AgentAuthLayer};
use common::{Echo, serve};
use serde_json::json;
use tower_layer::Layer;

const PUBLIC: &str = "http://resource.test";

/// A case: name, request headers, expected status and error code.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_requests_over_http_get_the_right_status_and_code() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(PUBLIC)
        .external_url(PUBLIC)
        .build()
        .unwrap();
    let layer = AgentAuthLayer::new(AgentAuth::builder(verifier).build().unwrap());
    let url = serve(layer.layer(Echo)).await;
    let token = |b: authgent_testkit::TokenBuilder<'_>| b.audience(PUBLIC).sign();
    let good = token(issuer.token());
    let key = DpopKey::generate_es256().unwrap();
    let bound = token(issuer.token().dpop_jkt(key.jkt()));
    let proof = |htu: &str| {
        key.proof("GET", htu, Some(&bound), None, SystemTime::now())
            .unwrap()
    };
    let bearer = |t: &str| format!("Bearer {t}");
    let dpop_auth = format!("DPoP {bound}");
    let cases: Vec<Case<'_>> = vec![
        ("valid", vec![("authorization", bearer(&good))], 200, ""),
        (
            "aud of another resource",
            vec![(
                "authorization",
                bearer(&issuer.token().audience("https://elsewhere.example").sign()),
            )],
            401,
            "invalid_token",
        ),
        (
            "aud missing",
            vec![(
                "authorization",
                bearer(&issuer.token().without_claim("aud").sign()),
            )],
            401,
            "invalid_token",
        ),
        (
            "aud empty array",
            vec![(
                "authorization",
                bearer(&issuer.token().claim("aud", json!([])).sign()),
            )],
            401,
            "invalid_token",
        ),
        (
            "cnf x5t#S256",
            vec![(
                "authorization",
                bearer(&token(
                    issuer.token().claim("cnf", json!({"x5t#S256": "abc"})),
                )),
            )],
            401,
            "invalid_token",
        ),
        (
            "cnf a string",
            vec![(
                "authorization",
                bearer(&token(issuer.token().claim("cnf", json!("jkt")))),
            )],
            401,
            "invalid_token",
        ),
        (
            "act an array",
            vec![(
                "authorization",
                bearer(&token(issuer.token().claim("act", json!([{"sub": "a"}])))),
            )],
            401,
            "invalid_token",
        ),
        (
            "exp 1e300",
            vec![(
                "authorization",
                bearer(&token(issuer.token().claim("exp", json!(1e300)))),
            )],
            401,
            "invalid_token",
        ),
        (
            "iat negative",
            vec![(
                "authorization",
                bearer(&token(issuer.token().claim("iat", json!(-1)))),
            )],
            401,
            "invalid_token",
        ),
        (
            "sub empty",
            vec![("authorization", bearer(&token(issuer.token().subject(""))))],
            401,
            "invalid_token",
        ),
        (
            "kid with control characters",
            vec![(
                "authorization",
                bearer(&token(issuer.token().header("kid", json!("k\u{1}")))),
            )],
            401,
            "invalid_token",
        ),
        (
            "crit unknown",
            vec![(
                "authorization",
                bearer(&token(issuer.token().header("crit", json!(["x"])))),
            )],
            401,
            "invalid_token",
        ),
        (
            "Bearer<TAB>token",
            vec![("authorization", format!("Bearer\t{good}"))],
            401,
            "invalid_token",
        ),
        (
            "two Authorization headers",
            vec![
                ("authorization", bearer(&good)),
                ("authorization", bearer(&good)),
            ],
            400,
            "invalid_request",
        ),
        (
            "bound token as Bearer",
            vec![("authorization", bearer(&bound))],
            401,
            "invalid_token",
        ),
        (
            "DPoP proof for another host",
            vec![
                ("authorization", dpop_auth.clone()),
                ("dpop", proof("http://other.test/")),
            ],
            401,
            "invalid_dpop_proof",
        ),
        (
            "DPoP proof, Host header of the proof's host",
            vec![
                ("authorization", dpop_auth.clone()),
                ("dpop", proof("http://evil.test/")),
                ("host", "evil.test".into()),
            ],
            401,
            "invalid_dpop_proof",
        ),
        (
            "DPoP htu with user-info",
            vec![
                ("authorization", dpop_auth.clone()),
                ("dpop", proof("http://u@resource.test/")),
            ],
            401,
            "invalid_dpop_proof",
        ),
        (
            "DPoP htu with two ports",
            vec![
                ("authorization", dpop_auth.clone()),
                ("dpop", proof("http://resource.test:80:80/")),
            ],
            401,
            "invalid_dpop_proof",
        ),
        (
            "DPoP valid",
            vec![
                ("authorization", dpop_auth.clone()),
                ("dpop", proof("http://resource.test/")),
            ],
            200,
            "",
        ),
    ];
    for (name, headers, status, code) in &cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = send("GET", &url, &h).await;
        assert_eq!(r.status, *status, "{name}: {}", r.body);
        if *status != 200 {
            assert_eq!(r.body["error"], *code, "{name}");
            assert!(!r.challenges.is_empty(), "{name}: a challenge");
            let wanted = format!("error=\"{code}\"");
            assert!(
                r.challenges.iter().any(|c| c.contains(&wanted)),
                "{name}: {:?}",
                r.challenges
            );
        }
    }
    // Still serving after all of that.
    assert_eq!(
        send("GET", &url, &[("authorization", &bearer(&good))])
            .await
            .status,
        200
    );
}
