//! Real tokens from authgent-server 0.3.4 (data/authgent-server-0.3.4-fixtures.json), verified
//! offline with the clock pinned at the fixtures' `generated_at`.

mod common;

use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier};
use authgent_core::request::{RequestParts, RequestVerifier};
use authgent_core::txn::TxnTokenValidator;
use authgent_core::{
    AgentIdentity, AuthgentError, ChainPolicy, DelegationError, DpopError, KeySet, TokenError,
    TokenValidator,
};
use common::*;
use serde_json::Value;

const SERVER: &str = "http://127.0.0.1:8100";

struct Fixtures {
    doc: Value,
    keys: KeySet,
}

impl Fixtures {
    fn load() -> Self {
        let doc = fixtures();
        let keys = KeySet::from_jwks_json(doc["server"]["jwks"].to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 2, "current and rotated key");
        Fixtures { doc, keys }
    }
    fn generated_at(&self) -> u64 {
        self.doc["generated_at"].as_u64().unwrap()
    }
    fn token(&self, name: &str) -> &str {
        self.doc["tokens"][name]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token {name}"))
    }
    fn verify(&self, name: &str) -> Result<AgentIdentity, TokenError> {
        // Each fixture is checked for the audience it was issued for.
        let aud = &self.doc["tokens"][name]["claims"]["aud"];
        let validator = TokenValidator::builder(SERVER)
            .audience(aud.as_str().unwrap_or_else(|| panic!("{name} has one aud")))
            .build()
            .unwrap();
        validator.verify(self.token(name), &self.keys, at(self.generated_at()))
    }
}

const ACCESS_TOKENS: [&str; 16] = [
    "plain",
    "plain_resource_aud",
    "delegated_1hop",
    "delegated_2hop",
    "delegated_depth5",
    "dpop_bound",
    "dpop_bound_delegated",
    "revoked",
    "refreshed",
    "chaining_consumed",
    "human_rooted_1hop",
    "human_rooted_2hop",
    "may_act_root",
    "may_act_permitted_hop",
    "signed_by_rotated_key",
    "signed_by_new_key",
];

#[test]
fn every_access_token_verifies_and_matches_its_claims() {
    let f = Fixtures::load();
    for name in ACCESS_TOKENS {
        let identity = f.verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let claims = &f.doc["tokens"][name]["claims"];
        assert_eq!(
            identity.subject(),
            claims["sub"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(identity.issuer(), SERVER);
        let scopes: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
        assert_eq!(identity.scopes(), scopes.as_slice(), "{name}");
        assert_eq!(identity.client_id(), claims["client_id"].as_str(), "{name}");
        assert_eq!(identity.dpop_jkt(), claims["cnf"]["jkt"].as_str(), "{name}");
        assert_eq!(identity.token_id(), claims["jti"].as_str(), "{name}");
    }
}

#[test]
fn delegated_chains_list_actors_newest_first() {
    let f = Fixtures::load();
    let agents = &f.doc["agents"];
    let worker = format!("client:{}", agents["worker"]["client_id"].as_str().unwrap());
    let tool = format!("client:{}", agents["tool"]["client_id"].as_str().unwrap());
    let orchestrator = format!(
        "client:{}",
        agents["orchestrator"]["client_id"].as_str().unwrap()
    );

    let one = f.verify("delegated_1hop").unwrap();
    assert_eq!(one.delegation_chain().depth(), 1);
    assert_eq!(
        one.delegation_chain().current_actor().unwrap().subject(),
        worker
    );
    assert_eq!(one.delegation_chain().root_subject(), orchestrator);

    let two = f.verify("delegated_2hop").unwrap();
    let actors: Vec<&str> = two
        .delegation_chain()
        .actors()
        .iter()
        .map(|a| a.subject())
        .collect();
    assert_eq!(
        actors,
        [tool.as_str(), worker.as_str()],
        "newest (tool) first, then worker"
    );
    assert_eq!(
        two.delegation_chain().current_actor().unwrap().subject(),
        tool
    );
    assert_eq!(
        two.delegation_chain().original_actor().unwrap().subject(),
        worker
    );
    assert_eq!(
        two.client_id(),
        agents["tool"]["client_id"].as_str(),
        "client_id is the current actor"
    );
    assert!(
        !two.delegation_chain().human_root(),
        "an agent-rooted chain has no human root"
    );

    let five = f.verify("delegated_depth5").unwrap();
    assert_eq!(five.delegation_chain().depth(), 5);
    assert!(
        ChainPolicy::builder()
            .max_depth(5)
            .build()
            .check(five.delegation_chain())
            .is_ok()
    );
    assert_eq!(
        ChainPolicy::builder()
            .max_depth(4)
            .build()
            .check(five.delegation_chain()),
        Err(DelegationError::DepthExceeded { depth: 5, max: 4 })
    );
}

#[test]
fn human_rooted_chains_report_human_root_with_root_user_alice() {
    let f = Fixtures::load();
    for name in ["human_rooted_1hop", "human_rooted_2hop"] {
        let identity = f.verify(name).unwrap();
        let chain = identity.delegation_chain();
        assert!(chain.human_root(), "{name}");
        assert_eq!(chain.root_subject(), "user:alice", "{name}");
        assert_eq!(identity.claims().idp_subject(), Some("alice"));
        assert_eq!(
            identity.claims().idp_issuer(),
            Some("http://127.0.0.1:8101")
        );
        ChainPolicy::builder()
            .require_human_root(true)
            .build()
            .check(chain)
            .unwrap();
        // The Python SDK 0.3.4 decides on the innermost actor, a client here, and so says
        // "no human root" for these real human-rooted chains. We decide on the root subject.
        assert!(
            !chain
                .original_actor()
                .unwrap()
                .subject()
                .starts_with("user:"),
            "{name}"
        );
    }
    let plain = f.verify("plain").unwrap();
    assert_eq!(
        ChainPolicy::builder()
            .require_human_root(true)
            .build()
            .check(plain.delegation_chain()),
        Err(DelegationError::NoHumanRoot)
    );
}

#[test]
fn may_act_and_oidc_a_agent_claims_are_exposed() {
    let f = Fixtures::load();
    let root = f.verify("may_act_root").unwrap();
    let worker = format!(
        "client:{}",
        f.doc["agents"]["worker"]["client_id"].as_str().unwrap()
    );
    let may_act = root.claims().may_act().expect("may_act");
    assert!(may_act.permits(&worker));
    assert!(!may_act.permits("client:someone-else"));
    assert_eq!(root.agent().agent_type.as_deref(), Some("autonomous"));
    assert_eq!(root.agent().agent_model.as_deref(), Some("gpt-x"));
    assert_eq!(root.agent().agent_version.as_deref(), Some("1.0"));
    assert_eq!(root.agent().agent_provider.as_deref(), Some("acme"));
    assert_eq!(
        root.agent().agent_instance_id.as_deref(),
        Some("inst-e1af00")
    );
    let hop = f.verify("may_act_permitted_hop").unwrap();
    assert!(
        hop.claims().may_act().is_none(),
        "the server does not carry may_act forward"
    );
    assert_eq!(hop.agent().agent_type.as_deref(), Some("autonomous"));
}

#[test]
fn audience_and_issuer_are_checked_exactly() {
    let f = Fixtures::load();
    let t = at(f.generated_at());
    let token = f.token("plain_resource_aud");
    let mcp = TokenValidator::builder(SERVER)
        .audience("https://api.example.com/mcp")
        .build()
        .unwrap();
    assert!(mcp.verify(token, &f.keys, t).is_ok());
    let other = TokenValidator::builder(SERVER)
        .audience("https://api.example.com")
        .build()
        .unwrap();
    assert_eq!(
        other.verify(token, &f.keys, t),
        Err(TokenError::AudienceMismatch)
    );
    let slash = TokenValidator::builder(format!("{SERVER}/"))
        .audience(SERVER)
        .build()
        .unwrap();
    assert_eq!(
        slash.verify(f.token("plain"), &f.keys, t),
        Err(TokenError::IssuerMismatch)
    );
}

#[test]
fn expired_token_is_rejected_after_its_exp_plus_leeway() {
    let f = Fixtures::load();
    let exp = f.doc["tokens"]["expired"]["claims"]["exp"]
        .as_u64()
        .unwrap();
    let validator = TokenValidator::builder(SERVER)
        .audience(SERVER)
        .build()
        .unwrap();
    let token = f.token("expired");
    assert!(
        validator.verify(token, &f.keys, at(exp + 59)).is_ok(),
        "inside the 60 s leeway"
    );
    assert_eq!(
        validator.verify(token, &f.keys, at(exp + 61)),
        Err(TokenError::Expired)
    );
}

#[test]
fn key_rotation_old_jwks_lacks_the_new_kid() {
    let f = Fixtures::load();
    let before = KeySet::from_jwks_json(
        f.doc["server"]["jwks_before_rotation"]
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let validator = TokenValidator::builder(SERVER)
        .audience(SERVER)
        .build()
        .unwrap();
    let t = at(f.generated_at());
    assert!(
        validator
            .verify(f.token("signed_by_rotated_key"), &before, t)
            .is_ok()
    );
    assert_eq!(
        validator.verify(f.token("signed_by_new_key"), &before, t),
        Err(TokenError::UnknownKeyId)
    );
}

#[test]
fn txn_token_is_refused_as_access_token_and_accepted_by_txn_validator() {
    let f = Fixtures::load();
    assert_eq!(
        f.verify("txn_token").unwrap_err(),
        TokenError::UnacceptableType
    );
    // authgent-server 0.3.4 follows draft -10: the compatibility mode, named.
    let txn_validator = TxnTokenValidator::builder("https://trust-domain.example")
        .issuer(SERVER)
        .draft(authgent_core::txn::TxnDraft::Draft10)
        .build()
        .unwrap();
    let t = at(f.generated_at());
    let txn = txn_validator
        .verify(f.token("txn_token"), &f.keys, t)
        .unwrap();
    let claims = &f.doc["tokens"]["txn_token"]["claims"];
    assert_eq!(txn.txn, claims["txn"].as_str().unwrap());
    assert_eq!(txn.subject, claims["sub"].as_str().unwrap());
    assert_eq!(txn.scopes, ["read"]);
    assert_eq!(txn.tctx["action"], "transfer");
    assert_eq!(txn.rctx["purp"], "payment");
    assert_eq!(txn.req_wl.as_deref(), claims["req_wl"].as_str());
    // ...and an access token is never a txn token.
    assert_eq!(
        txn_validator
            .verify(f.token("plain"), &f.keys, t)
            .unwrap_err(),
        TokenError::UnacceptableType
    );
    let other_domain = TxnTokenValidator::builder("https://elsewhere.example")
        .build()
        .unwrap();
    assert_eq!(
        other_domain
            .verify(f.token("txn_token"), &f.keys, t)
            .unwrap_err(),
        TokenError::AudienceMismatch
    );
}

fn dpop_request(
    verifier: &RequestVerifier,
    keys: &KeySet,
    token: &str,
    proof: &str,
    uri: &str,
    t: std::time::SystemTime,
) -> Result<Option<AgentIdentity>, AuthgentError> {
    let auth = format!("DPoP {token}");
    let authorization: [&[u8]; 1] = [auth.as_bytes()];
    let dpop: [&[u8]; 1] = [proof.as_bytes()];
    verifier.verify(
        &RequestParts::new("GET", uri, &authorization, &dpop),
        keys,
        &MemoryReplay::default(),
        t,
    )
}

#[test]
fn dpop_bound_token_with_a_proof_from_its_key_passes_and_another_key_fails() {
    let f = Fixtures::load();
    let t = at(f.generated_at());
    let fixture = &f.doc["tokens"]["dpop_bound"];
    let token = f.token("dpop_bound");
    let key = DpopKey::from_jwk(fixture["dpop"]["private_jwk"].as_object().unwrap()).unwrap();
    assert_eq!(key.jkt(), fixture["claims"]["cnf"]["jkt"].as_str().unwrap());
    let verifier = RequestVerifier::new(
        TokenValidator::builder(SERVER)
            .audience(SERVER)
            .build()
            .unwrap(),
        DpopVerifier::builder().build().unwrap(),
    );
    let uri = "https://resource.example.com/api/data";
    let proof = key.proof("GET", uri, Some(token), None, t).unwrap();
    let identity = dpop_request(&verifier, &f.keys, token, &proof, uri, t)
        .unwrap()
        .unwrap();
    assert_eq!(identity.dpop_jkt(), Some(key.jkt()));

    let stranger = DpopKey::generate_es256().unwrap();
    let proof = stranger.proof("GET", uri, Some(token), None, t).unwrap();
    assert_eq!(
        dpop_request(&verifier, &f.keys, token, &proof, uri, t).unwrap_err(),
        AuthgentError::Dpop(DpopError::KeyMismatch)
    );

    // The real resource proof recorded with the fixture (made by the interop client) passes too.
    let recorded = &fixture["dpop"]["resource_request"];
    let iat = recorded["proof_claims"]["iat"].as_u64().unwrap();
    let proof = recorded["proof"].as_str().unwrap();
    dpop_request(
        &verifier,
        &f.keys,
        token,
        proof,
        recorded["htu"].as_str().unwrap(),
        at(iat),
    )
    .unwrap();
    let req = DpopRequest::new("GET", recorded["htu"].as_str().unwrap())
        .with_access_token(token, key.jkt());
    assert_eq!(
        DpopVerifier::builder()
            .build()
            .unwrap()
            .verify(proof, &req, &MemoryReplay::default(), at(iat))
            .unwrap()
            .jkt,
        key.jkt()
    );
}

#[test]
fn dpop_bound_token_presented_as_bearer_is_rejected() {
    let f = Fixtures::load();
    let verifier = RequestVerifier::new(
        TokenValidator::builder(SERVER)
            .audience(SERVER)
            .build()
            .unwrap(),
        DpopVerifier::builder().build().unwrap(),
    );
    let auth = format!("Bearer {}", f.token("dpop_bound"));
    let authorization: [&[u8]; 1] = [auth.as_bytes()];
    let parts = RequestParts::new(
        "GET",
        "https://resource.example.com/api/data",
        &authorization,
        &[],
    );
    assert_eq!(
        verifier
            .verify(
                &parts,
                &f.keys,
                &MemoryReplay::default(),
                at(f.generated_at())
            )
            .unwrap_err(),
        AuthgentError::Token(TokenError::DpopBoundAsBearer)
    );
}

#[test]
fn server_metadata_parses_and_refuses_a_different_issuer() {
    use authgent_core::metadata::{
        AuthorizationServerMetadata, MetadataError, ProtectedResourceMetadata,
    };
    let f = Fixtures::load();
    let as_meta = f.doc["server"]["as_metadata"].to_string();
    let doc = AuthorizationServerMetadata::parse(as_meta.as_bytes(), SERVER).unwrap();
    assert_eq!(
        doc.jwks_uri.as_deref(),
        Some("http://127.0.0.1:8100/.well-known/jwks.json")
    );
    assert_eq!(doc.dpop_signing_alg_values_supported, ["ES256"]);
    assert!(
        doc.extra.contains_key("resource_indicators_supported"),
        "unknown members kept"
    );
    assert_eq!(
        AuthorizationServerMetadata::parse(as_meta.as_bytes(), "http://127.0.0.1:8100/")
            .unwrap_err(),
        MetadataError::IssuerMismatch
    );
    let oidc = f.doc["server"]["openid_configuration"].to_string();
    assert!(AuthorizationServerMetadata::parse(oidc.as_bytes(), SERVER).is_ok());
    let prm = f.doc["server"]["protected_resource_metadata"].to_string();
    let doc = ProtectedResourceMetadata::parse(prm.as_bytes(), SERVER).unwrap();
    assert_eq!(doc.authorization_servers, [SERVER]);
    assert_eq!(
        ProtectedResourceMetadata::parse(prm.as_bytes(), "https://other.example").unwrap_err(),
        MetadataError::ResourceMismatch
    );
}
