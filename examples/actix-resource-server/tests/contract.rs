//! The example started as a process and driven over HTTP through the EXAMPLES.md contract.

use authgent_harness::contract;

const BIN: &str = env!("CARGO_BIN_EXE_actix-resource-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_examples_contract_against_a_testkit_issuer() {
    contract::example_follows_the_contract(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_prints_issuer_tokens_and_serves_them() {
    contract::example_embedded_mode_works(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_an_issuer() {
    contract::example_requires_an_issuer(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_the_real_authgent_server_as_issuer() {
    contract::example_against_the_real_server(BIN).await;
}

/// Issue 25: `authgent doctor` is clean with oidc-provider as the issuer too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_authgent_doctor_finds_nothing_to_fix_with_oidc_provider() {
    authgent_harness::doctor::example_passes_the_doctor_with_oidc_provider(
        BIN,
        authgent_harness::doctor::Kind::ResourceServer,
    )
    .await;
}

/// Issue 25: the routes with panva's oidc-provider as the issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_oidc_provider_as_issuer() {
    authgent_harness::oidc::example_against_oidc_provider(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authgent_doctor_finds_nothing_to_fix() {
    authgent_harness::doctor::example_passes_the_doctor(
        BIN,
        authgent_harness::doctor::Kind::ResourceServer,
    )
    .await;
}

/// Issue 27: `AUTHGENT_AUDIT=json` writes one JSON line per decision (the whole chain, never
/// a token) and `METRICS_BIND` serves Prometheus counts matching a scripted sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_and_counts_every_decision() {
    authgent_harness::observability::example_audits_and_counts_every_decision(BIN).await;
}
