//! The SDK end to end with no server to install: an in-process test issuer serves its JWKS
//! and metadata on 127.0.0.1; a `Verifier` discovers the keys over HTTP and verifies a
//! delegated token, a DPoP-bound request, a replay, a key rotation and an unknown-kid storm.
//!
//! `cargo run -p authgent-jwks --example demo`
#![allow(clippy::print_stdout)]

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_core::{ChainPolicy, ScopeRequirement};
use authgent_jwks::Verifier;
use authgent_testkit::TestIssuer;

fn request(auth: &str, proof: Option<&str>) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method("POST")
        .uri("/tools/search")
        .header("authorization", auth);
    if let Some(p) = proof {
        b = b.header("dpop", p);
    }
    b.body(())
        .map(|r| r.into_parts().0)
        .unwrap_or_else(|_| unreachable!("static request"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    println!("ISSUER={}", issuer.issuer());

    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience("https://tools.example")
        .external_url("https://tools.example")
        .build()?;

    // 1. A human-rooted, two-hop delegated token.
    let token = issuer
        .token()
        .subject("user:alice")
        .human_root(true)
        .audience("https://tools.example")
        .scopes(["search:execute"])
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .sign();
    let id = verifier.verify_token(&token).await?;
    ScopeRequirement::all(["search:execute"]).check(id.scopes())?;
    ChainPolicy::builder()
        .max_depth(2)
        .require_human_root(true)
        .build()
        .check(id.delegation_chain())?;
    let chain = id.delegation_chain();
    println!(
        "1. verified {} for {}: actors (newest first) {:?}, human root {}",
        chain.current_actor().map_or("-", |a| a.subject()),
        id.subject(),
        chain
            .actors()
            .iter()
            .map(|a| a.subject())
            .collect::<Vec<_>>(),
        chain.human_root()
    );

    // 2. A DPoP-bound token with a proof, then the same proof replayed.
    let key = DpopKey::generate_es256()?;
    let bound = issuer
        .token()
        .audience("https://tools.example")
        .dpop_jkt(key.jkt())
        .sign();
    let proof = key.proof(
        "POST",
        "https://tools.example/tools/search",
        Some(&bound),
        None,
        SystemTime::now(),
    )?;
    let auth = format!("DPoP {bound}");
    let id = verifier
        .verify(&request(&auth, Some(&proof)))
        .await?
        .ok_or("no credentials")?;
    println!(
        "2. DPoP-bound request accepted, key {}",
        id.dpop_jkt().unwrap_or("-")
    );
    let err = verifier
        .verify(&request(&auth, Some(&proof)))
        .await
        .err()
        .ok_or("replay accepted")?;
    println!("   replayed proof refused: {} {}", err.status(), err.code());
    let err = verifier
        .verify(&request(&format!("Bearer {bound}"), None))
        .await
        .err()
        .ok_or("accepted")?;
    println!(
        "   bound token as Bearer refused: {} {}",
        err.status(),
        err.code()
    );

    // 3. Key rotation: the new kid is picked up with one refresh.
    let before = issuer.jwks_fetches();
    let kid = issuer.rotate_keys();
    let rotated = issuer.token().audience("https://tools.example").sign();
    verifier.verify_token(&rotated).await?;
    println!(
        "3. rotated to {kid}: verified after {} JWKS fetch",
        issuer.jwks_fetches() - before
    );

    // 4. An unknown-kid storm costs at most one fetch per cooldown.
    let before = issuer.jwks_fetches();
    let mut tasks = Vec::new();
    for i in 0..500 {
        let t = issuer
            .token()
            .header("kid", serde_json::json!(format!("bogus-{i}")))
            .sign();
        let v = verifier.clone();
        tasks.push(tokio::spawn(
            async move { v.verify_token(&t).await.is_err() },
        ));
    }
    let mut refused = 0;
    for t in tasks {
        refused += usize::from(t.await?);
    }
    println!(
        "4. {refused} tokens with unknown kids refused; JWKS fetches: {}",
        issuer.jwks_fetches() - before
    );
    println!("   stats: {:?}", verifier.stats());
    Ok(())
}
