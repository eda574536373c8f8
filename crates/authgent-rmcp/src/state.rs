//! [`CallerState`]: SEP-2322 `requestState` bound to the verified caller.

use std::time::Duration;

use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};

/// Seals and opens rmcp's `requestState` (SEP-2322, the multi round-trip flow) with the
/// **verified caller** as associated data — issuer, subject, current actor and DPoP `jkt` —
/// and an expiry. The client echoes the state back verbatim, so it is attacker-controlled
/// input; a state sealed for one caller does not open for another (another user, the same
/// user through another agent, the same token bound to another key), nor after its expiry.
/// Integrity only: the payload is readable (rmcp's `RequestStateCodec`, HMAC-SHA256), so put
/// no secret in it; one-time use, where needed, is the server's to enforce.
///
/// ```
/// use authgent_rmcp::CallerState;
/// # fn demo(caller: &authgent_rmcp::AgentIdentity, other: &authgent_rmcp::AgentIdentity) -> Result<(), rmcp::model::RequestStateError> {
/// let states = CallerState::new(*b"a 32-byte secret, same on every replica")?;
/// let sealed = states.seal(caller, b"step=2");
/// assert_eq!(states.open(caller, &sealed)?, b"step=2");
/// assert!(states.open(other, &sealed).is_err());
/// # Ok(()) }
/// ```
pub struct CallerState {
    codec: RequestStateCodec,
    ttl: Duration,
}

impl std::fmt::Debug for CallerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerState")
            .field("key", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl CallerState {
    /// How long a sealed state opens by default.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    /// A sealer with `key` (at least 32 bytes of high-entropy secret, the same on every
    /// replica).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, RequestStateError> {
        Ok(CallerState {
            codec: RequestStateCodec::try_new(key)?,
            ttl: Self::DEFAULT_TTL,
        })
    }

    /// How long a sealed state opens (default [`DEFAULT_TTL`](Self::DEFAULT_TTL)).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// `payload` sealed for `caller`, to send as `requestState`.
    pub fn seal(&self, caller: &authgent_core::AgentIdentity, payload: &[u8]) -> String {
        let bound = binding(caller);
        let options = SealOptions::new().associated_data(&bound).ttl(self.ttl);
        self.codec.seal_with(payload, &options)
    }

    /// The payload of a `requestState` sealed for this same `caller` and not expired;
    /// [`RequestStateError::IntegrityCheckFailed`] for another caller or a tampered value,
    /// [`RequestStateError::Expired`] past the TTL.
    pub fn open(
        &self,
        caller: &authgent_core::AgentIdentity,
        sealed: &str,
    ) -> Result<Vec<u8>, RequestStateError> {
        self.codec.open_with(sealed, &binding(caller))
    }
}

/// The caller as associated data: each part length-prefixed, so no two callers encode alike.
fn binding(caller: &authgent_core::AgentIdentity) -> Vec<u8> {
    let chain = caller.delegation_chain();
    let parts = [
        caller.issuer(),
        caller.subject(),
        chain.current_actor().map_or("", |a| a.subject()),
        caller.dpop_jkt().unwrap_or(""),
    ];
    let mut out = b"authgent-caller-v1".to_vec();
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}
