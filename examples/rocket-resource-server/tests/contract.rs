//! The example started as a process and driven over HTTP through the EXAMPLES.md contract.

use authgent_testkit::TestIssuer;
use authgent_testkit::contract::{Contract, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_rocket-resource-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_examples_contract_against_a_testkit_issuer() {
    let issuer = TestIssuer::start().await.unwrap();
    let server = ServerProcess::start(
        BIN,
        &[],
        &[
            ("AUTHGENT_ISSUER", issuer.issuer()),
            ("BIND", "127.0.0.1:0"),
        ],
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.addr);
    let report = Contract::new(&base, &base, &issuer).run().await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.passed.len() >= 13);
    assert!(server.terminate().await, "SIGTERM shuts it down cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_prints_issuer_tokens_and_serves_them() {
    let server = ServerProcess::start(BIN, &["--embedded"], &[("BIND", "127.0.0.1:0")])
        .await
        .unwrap();
    assert!(
        server
            .printed("ISSUER")
            .is_some_and(|i| i.starts_with("http://127.0.0.1:"))
    );
    let token = server.printed("TOKEN_SEARCH").unwrap().to_owned();
    let r = reqwest::Client::new()
        .post(format!("http://{}/tools/search", server.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(server.terminate().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_an_issuer() {
    let out = tokio::process::Command::new(BIN)
        .env_remove("AUTHGENT_ISSUER")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHGENT_ISSUER"));
}
