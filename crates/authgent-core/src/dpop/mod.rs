//! DPoP (RFC 9449): proof verification for resource servers, proof creation for clients,
//! stateless server nonces, and the replay-guard interface.

mod key;
mod nonce;
mod verify;

pub use key::DpopKey;
pub use nonce::{MIN_NONCE_KEY_BYTES, NonceIssuer};
pub use verify::{
    CheckedProof, DEFAULT_IAT_WINDOW, DEFAULT_MAX_JTI_BYTES, DpopRequest, DpopVerifier,
    DpopVerifierBuilder, ProofId, ReplayGuard, ReplayVerdict, VerifiedProof,
};

/// The `ath` value for an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
///
/// ```
/// // RFC 9449 §7.1
/// assert_eq!(
///     authgent_core::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
///     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
/// );
/// ```
pub fn access_token_hash(access_token: &str) -> String {
    crate::b64::sha256(access_token)
}
