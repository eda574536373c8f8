//! `authgent doctor` and `authgent metadata` (the authgent-cli library) against an example
//! started as a process: what a client would trip over must be nothing.

use authgent_cli::doctor::{Level, Options, doctor};
use authgent_cli::{Fetcher, exit};
use authgent_testkit::TestIssuer;

use crate::contract::ServerProcess;

/// Which kind of example: a resource server (probed at `POST /tools/search`) or the MCP
/// server (probed at its endpoint, `/mcp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The EXAMPLES.md resource servers.
    ResourceServer,
    /// The MCP server example.
    Mcp,
}

/// Starts `binary` against a fresh test issuer and runs the doctor twice: with a token for the
/// example (accepted, its broken-signature twin refused) and with one for another audience
/// (refused). Both reports must be clean: no failure, no warning. Then `metadata` is valid.
pub async fn example_passes_the_doctor(binary: &str, kind: Kind) {
    let issuer = TestIssuer::start().await.expect("test issuer");
    let server = ServerProcess::trusting(binary, issuer.issuer()).await;
    let resource = resource(&server, kind);
    let token = |audience: &str| {
        issuer
            .token()
            .audience(audience)
            .scopes(["search:execute"])
            .sign()
    };
    let (ours, theirs) = (token(&resource), token("https://another-service.example"));
    clean(binary, kind, &resource, issuer.issuer(), ours, theirs).await;
    assert!(server.terminate().await);
}

/// [`example_passes_the_doctor`] with panva's oidc-provider as the issuer
/// (`AUTHGENT_CLAIMS_PROFILE=rfc9068`) and its tokens.
pub async fn example_passes_the_doctor_with_oidc_provider(binary: &str, kind: Kind) {
    use crate::oidc::{AGENT_A, OidcProvider};
    let provider = OidcProvider::start(false).await;
    let server = provider.serve_example(binary).await;
    let resource = resource(&server, kind);
    let token = |answer: serde_json::Value| answer["access_token"].as_str().unwrap().to_owned();
    let ours = token(
        provider
            .client_credentials(AGENT_A, "search:execute", Some(&resource))
            .await,
    );
    let theirs = provider
        .client_credentials(
            AGENT_A,
            "search:execute",
            Some("https://another-service.example"),
        )
        .await;
    clean(binary, kind, &resource, &provider.url, ours, token(theirs)).await;
    assert!(server.terminate().await);
}

/// The protected resource of the example `server`.
fn resource(server: &ServerProcess, kind: Kind) -> String {
    let base = format!("http://{}", server.addr);
    match kind {
        Kind::ResourceServer => base,
        Kind::Mcp => format!("{base}/mcp"),
    }
}

/// The doctor run twice against `resource` — with `ours` (accepted, its broken-signature twin
/// refused) and with `theirs`, for another audience (refused) — both reports clean, then a
/// valid `metadata` naming `issuer`.
async fn clean(
    binary: &str,
    kind: Kind,
    resource: &str,
    issuer: &str,
    ours: String,
    theirs: String,
) {
    let options = match kind {
        Kind::ResourceServer => Options::default().path("/tools/search"),
        Kind::Mcp => Options::default(),
    };
    let fetcher = Fetcher::new(false).expect("http client");
    for (token, expect) in [(ours, "token"), (theirs, "audience")] {
        let (findings, outcome) = doctor(&fetcher, resource, &options.clone().token(token))
            .await
            .unwrap_or_else(|e| panic!("{binary}: doctor could not run: {e}"));
        assert_eq!(outcome.code, exit::OK, "{binary}:\n{}", outcome.text);
        assert_eq!(outcome.json["clean"], true, "{binary}:\n{}", outcome.text);
        let passed = |check: &str| {
            findings
                .iter()
                .any(|f| f.check == check && f.level == Level::Ok)
        };
        assert!(
            passed(expect),
            "{binary}: the {expect} check ran:\n{}",
            outcome.text
        );
        for check in [
            "metadata",
            "authorization-servers",
            "challenge",
            "resource-metadata",
            "dpop",
        ] {
            assert!(
                passed(check),
                "{binary}: {check} checked and fine:\n{}",
                outcome.text
            );
        }
    }
    let metadata = authgent_cli::metadata::metadata(&fetcher, resource)
        .await
        .expect("metadata");
    assert_eq!(metadata.code, exit::OK, "{binary}:\n{}", metadata.text);
    assert_eq!(
        metadata.json["authorization_servers"][0]["metadata"]["issuer"],
        issuer
    );
}

/// The resource server `binary` misconfigured the way a TLS-terminating proxy misleads it:
/// `PUBLIC_URL` says `https://` while clients reach it over `http://` on the same address.
/// The doctor must name the scheme and the 401's `resource_metadata` (failures, exit 1) and
/// nothing it cannot know (no DPoP finding without a usable document).
pub async fn example_behind_a_misleading_proxy_is_diagnosed(binary: &str) {
    let issuer = TestIssuer::start().await.expect("test issuer");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bind = format!("127.0.0.1:{port}");
    let public = format!("https://{bind}");
    let env = [
        ("AUTHGENT_ISSUER", issuer.issuer()),
        ("BIND", bind.as_str()),
        ("PUBLIC_URL", public.as_str()),
    ];
    let server = ServerProcess::start(binary, &[], &env)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fetcher = Fetcher::new(false).expect("http client");
    let resource = format!("http://{bind}");
    let (findings, outcome) = doctor(
        &fetcher,
        &resource,
        &Options::default().path("/tools/search"),
    )
    .await
    .unwrap_or_else(|e| panic!("{binary}: doctor could not run: {e}"));
    assert_eq!(outcome.code, exit::REFUSED, "{}", outcome.text);
    let failed = |check: &str, starts: &str| {
        findings
            .iter()
            .any(|f| f.check == check && f.level == Level::Fail && f.message.starts_with(starts))
    };
    assert!(failed("resource", "scheme"), "{}", outcome.text);
    assert!(
        failed(
            "resource-metadata",
            "the 401 names resource_metadata https://"
        ),
        "{}",
        outcome.text
    );
    assert!(
        !findings.iter().any(|f| f.check == "dpop"),
        "{}",
        outcome.text
    );
    assert!(server.terminate().await);
}
