//! Whatever a server (or a resource server) sends, the client's parsers answer with a value or
//! an error, never a panic.

use authgent_client::{
    ExchangeCheck, Introspection, ScopeChallenge, ServerError, StepUp, TokenResponse,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;

fn headers(name: &'static str, values: &[Vec<u8>]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(name, v);
        }
    }
    h
}

/// JSON-ish bytes: mostly valid JSON fragments of the shapes the client reads.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(r#"{"error":"#.to_owned()),
        Just(r#"{"error_code":null,"type":"#.to_owned()),
        Just(r#""https://authgent.dev/errors/"#.to_owned()),
        Just(r#"{"detail":[{"msg":1},"#.to_owned()),
        Just(r#"{"active":true,"act":{"sub":"#.to_owned()),
        Just(r#"{"access_token":"t","token_type":"#.to_owned()),
        Just(r#""aud":["#.to_owned()),
        Just(r#"{"status":"#.to_owned()),
        Just("}".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just("\"".to_owned()),
        "[a-z_:/ ]{0,12}",
        any::<i64>().prop_map(|n| n.to_string()),
    ];
    prop::collection::vec(fragment, 0..24).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn error_bodies_and_challenges_never_panic(
        status in 100u16..600,
        body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..256)],
        challenges in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..96), 0..3),
    ) {
        let h = headers("www-authenticate", &challenges);
        let e = ServerError::from_response(status, &h, &body);
        prop_assert!(!e.code.is_empty());
        let _ = ScopeChallenge::from_response(StatusCode::FORBIDDEN, &h);
    }

    #[test]
    fn crafted_challenges_never_panic(
        parts in prop::collection::vec(prop_oneof![
            Just("Bearer ".to_owned()), Just("DPoP ".to_owned()), Just(", ".to_owned()),
            Just("error=\"insufficient_scope\"".to_owned()), Just("scope=".to_owned()),
            Just("\"".to_owned()), Just("\\".to_owned()), Just("=".to_owned()),
            "[a-z: ]{0,10}",
        ], 0..16)
    ) {
        let value = parts.concat().into_bytes();
        let h = headers("www-authenticate", &[value]);
        if let Some(c) = ScopeChallenge::from_response(StatusCode::FORBIDDEN, &h) {
            prop_assert!(!c.scopes.is_empty());
        }
    }

    #[test]
    fn success_bodies_never_panic(body in jsonish()) {
        let _ = serde_json::from_slice::<TokenResponse>(&body);
        if let Ok(i) = serde_json::from_slice::<Introspection>(&body) {
            let _ = i.delegation_chain();
        }
        let _ = serde_json::from_slice::<StepUp>(&body);
        let _ = serde_json::from_slice::<ExchangeCheck>(&body);
    }
}

#[test]
fn a_deeply_nested_act_in_introspection_is_refused_not_overflowed() {
    let mut act = String::from(r#"{"sub":"client:x"}"#);
    for _ in 0..5000 {
        act = format!(r#"{{"sub":"client:x","act":{act}}}"#);
    }
    let body = format!(r#"{{"active":true,"sub":"client:root","act":{act}}}"#);
    // serde_json's recursion limit refuses it; a shallower-but-deep chain is refused by the
    // core's act-depth cap.
    let parsed = serde_json::from_str::<Introspection>(&body);
    assert!(parsed.is_err() || parsed.unwrap().delegation_chain().is_none());
    let mut act = String::from(r#"{"sub":"client:x"}"#);
    for _ in 0..60 {
        act = format!(r#"{{"sub":"client:x","act":{act}}}"#);
    }
    let body = format!(r#"{{"active":true,"sub":"client:root","act":{act}}}"#);
    let i: Introspection = serde_json::from_str(&body).unwrap();
    assert!(i.delegation_chain().is_none(), "deeper than the cap");
}
