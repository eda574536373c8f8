//! The agent's per-request cost once it holds a token: `TokenManager::authorize` on a cache
//! hit, Bearer (a header) and DPoP (a header and a fresh ES256 proof with `ath`). The token
//! comes once from the tests' loopback server answering a canned token response.
//!
//! `cargo bench -p authgent-client --bench token_manager`; figures go in docs/performance.md.

use std::hint::black_box;

use authgent_client::{AgentAuthClient, ClientCredentials, TokenManager};
use authgent_core::dpop::DpopKey;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/common/mod.rs"]
mod common;

/// The loopback server of the tests, answering one token response of `token_type`.
async fn token_server(token_type: &str) -> String {
    let body = format!(
        r#"{{"access_token":"{}","token_type":"{token_type}","expires_in":3600}}"#,
        "a".repeat(600)
    );
    common::serve(vec![common::http("200 OK", &[], &body)])
        .await
        .0
}

fn authorize(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let creds = ClientCredentials::new("agnt_bench", "secret");
    let mut group = c.benchmark_group("token_manager");
    for dpop in [false, true] {
        let manager = rt.block_on(async {
            let url = token_server(if dpop { "DPoP" } else { "Bearer" }).await;
            let mut builder = AgentAuthClient::builder(url);
            if dpop {
                builder = builder.dpop_key(DpopKey::generate_es256().unwrap());
            }
            let manager = TokenManager::builder(builder.build().unwrap(), creds.clone())
                .resource("https://tools.example")
                .build()
                .unwrap();
            manager.token().await.unwrap();
            manager
        });
        let name = if dpop {
            "authorize_dpop_cached"
        } else {
            "authorize_bearer_cached"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let request = http.get("https://tools.example/search?q=rust");
                black_box(rt.block_on(manager.authorize(request)).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, authorize);
criterion_main!(benches);
