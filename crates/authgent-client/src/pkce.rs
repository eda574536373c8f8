//! PKCE (RFC 7636) for the authorization-code flow.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{ClientError, Secret};

/// A PKCE verifier and its S256 challenge (RFC 7636), for the authorization-code flow.
///
/// ```
/// let pkce = authgent_client::Pkce::new().unwrap();
/// assert_eq!(pkce.verifier().expose().len(), 43);
/// assert_ne!(pkce.challenge(), pkce.verifier().expose());
/// ```
#[derive(Clone, Debug)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh 256-bit verifier.
    pub fn new() -> Result<Self, ClientError> {
        let mut bytes = [0u8; 32];
        authgent_core::crypto::fill_random(&mut bytes)
            .map_err(|e| ClientError::Config(format!("no randomness for PKCE: {e}")))?;
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(authgent_core::crypto::sha256(verifier.as_bytes()));
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }

    /// The verifier, sent with the code.
    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    /// The S256 challenge, sent in the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}
