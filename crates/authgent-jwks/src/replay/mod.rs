//! DPoP replay stores (RFC 9449 §11.1, CONFORMANCE 16): where a verifier records the id of
//! every proof it accepts, so that the same proof is never accepted twice.
//!
//! [`ReplayStore`] is the asynchronous interface the [`Verifier`](crate::Verifier) awaits; a
//! store that does network I/O implements it without blocking a tokio worker. Two stores come
//! with the crate:
//!
//! - [`MemoryReplayStore`] (the default): exact and bounded, for one process;
//! - `RedisReplayStore` (feature `redis`): one store shared by every replica of a service, so
//!   a proof accepted by one replica is refused by all the others.
//!
//! A synchronous [`ReplayGuard`] of authgent-core can be used too
//! ([`VerifierBuilder::replay_guard`](crate::VerifierBuilder::replay_guard)).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use authgent_core::dpop::{ProofId, ReplayGuard, ReplayVerdict};

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryReplayStore;
#[cfg(feature = "redis")]
pub use redis::{RedisReplayError, RedisReplayStats, RedisReplayStore, RedisReplayStoreBuilder};

/// What [`ReplayStore::check_and_record`] returns: the verdict, once the store has answered.
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = ReplayVerdict> + Send + 'a>>;

/// Records DPoP proof ids for as long as their proofs could be accepted, atomically: of any
/// number of concurrent calls with one id, exactly one is [`ReplayVerdict::Fresh`].
///
/// The contract is authgent-core's [`ReplayGuard`] contract, made asynchronous: every id
/// recorded stays recorded until its `expires_at`; a store that cannot record an id (full,
/// unreachable, too slow) answers [`ReplayVerdict::Unavailable`] — the request is refused
/// with `503` and `Retry-After` — and never [`ReplayVerdict::Fresh`] unless it was explicitly
/// configured to fail open.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authgent_core::dpop::{ProofId, ReplayVerdict};
/// use authgent_jwks::{MemoryReplayStore, ReplayStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryReplayStore::default();
/// let (now, id) = (SystemTime::now(), ProofId::new([1; 32]));
/// let until = now + Duration::from_secs(121);
/// assert_eq!(ReplayStore::check_and_record(&store, id, now, until).await, ReplayVerdict::Fresh);
/// assert_eq!(ReplayStore::check_and_record(&store, id, now, until).await, ReplayVerdict::Replayed);
/// # }
/// ```
pub trait ReplayStore: Send + Sync {
    /// Records `id` until `expires_at` (`now` is the verifier's clock):
    /// [`ReplayVerdict::Fresh`] the first time, [`ReplayVerdict::Replayed`] after.
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayFuture<'_>;
}

impl<T: ReplayStore + ?Sized> ReplayStore for Arc<T> {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayFuture<'_> {
        (**self).check_and_record(id, now, expires_at)
    }
}

/// A synchronous guard's answer as a [`ReplayFuture`] (ready at once).
fn answer_now(
    guard: &(impl ReplayGuard + ?Sized),
    id: ProofId,
    now: SystemTime,
    expires_at: SystemTime,
) -> ReplayFuture<'static> {
    Box::pin(std::future::ready(
        guard.check_and_record(id, now, expires_at),
    ))
}

/// A synchronous [`ReplayGuard`] as a [`ReplayStore`] (it answers without waiting).
pub(crate) struct GuardStore(pub(crate) Arc<dyn ReplayGuard + Send + Sync>);

impl ReplayStore for GuardStore {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayFuture<'_> {
        answer_now(&*self.0, id, now, expires_at)
    }
}
