//! The issuer's keys: discovery, fetch, cache, single-flight refresh, cooldown, stale-if-error.
//!
//! Reads take a read lock only long enough to clone an `Arc`; no lock is held across `.await`
//! except the refresh mutex, which only callers that must fetch ever wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use authgent_core::metadata::{AuthorizationServerMetadata, MetadataError, well_known_url};
use authgent_core::{AuthgentError, KeySet, TokenError, VerificationKey};
use tracing::{debug, info, warn};

use crate::fetch::{Fetcher, JwksError};
use crate::stats::Stats;

/// Lower and upper bounds for a `Cache-Control: max-age` the issuer sends.
pub(crate) const MAX_AGE_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(30), Duration::from_secs(24 * 3600));

#[derive(Clone, Debug)]
pub(crate) struct KeySettings {
    pub(crate) max_age: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) failure_backoff: Duration,
    pub(crate) stale_if_error: Duration,
}

#[derive(Clone, Default)]
struct KeyState {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    fetched_at_wall: Option<SystemTime>,
    max_age: Duration,
    /// Completed fetch attempts; single-flight waiters compare it to know someone fetched.
    attempts: u64,
    last_failure: Option<Instant>,
    last_unknown_kid_refresh: Option<Instant>,
}

/// What a cache snapshot says about the keys it holds.
impl KeyState {
    fn age(&self, now: Instant) -> Option<Duration> {
        self.fetched_at.map(|t| now.saturating_duration_since(t))
    }
    fn is_fresh(&self, now: Instant) -> bool {
        self.age(now).is_some_and(|a| a < self.max_age)
    }
    /// Usable keys: fresh, or stale for at most `stale_if_error` beyond their max age.
    fn usable(&self, now: Instant, stale_if_error: Duration) -> Option<&Arc<KeySet>> {
        let age = self.age(now)?;
        (age < self.max_age.saturating_add(stale_if_error))
            .then_some(self.keys.as_ref())
            .flatten()
    }
}

/// A snapshot of the cached key set, for observability and tests.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KeySetInfo {
    /// The usable keys' ids.
    pub kids: Vec<String>,
    /// When the set was fetched.
    pub fetched_at: SystemTime,
    /// How long it is fresh for (Cache-Control within bounds, else the configured max age).
    pub max_age: Duration,
    /// The JWKS URL it came from.
    pub jwks_uri: String,
}

pub(crate) struct KeyCache {
    issuer: String,
    explicit_jwks_uri: Option<String>,
    discovered: Mutex<Option<String>>,
    /// The metadata's `introspection_endpoint` from the last successful discovery (`Some(None)`:
    /// the issuer names none), so revocation checks do not fetch metadata per request.
    discovered_introspection: Mutex<Option<Option<String>>>,
    fetcher: Fetcher,
    settings: KeySettings,
    state: RwLock<KeyState>,
    refresh: tokio::sync::Mutex<()>,
    background_running: AtomicBool,
    stats: Arc<Stats>,
}

impl KeyCache {
    pub(crate) fn new(
        issuer: String,
        explicit_jwks_uri: Option<String>,
        fetcher: Fetcher,
        settings: KeySettings,
        stats: Arc<Stats>,
    ) -> Self {
        KeyCache {
            issuer,
            explicit_jwks_uri,
            discovered: Mutex::new(None),
            discovered_introspection: Mutex::new(None),
            fetcher,
            settings,
            state: RwLock::new(KeyState::default()),
            refresh: tokio::sync::Mutex::new(()),
            background_running: AtomicBool::new(false),
            stats,
        }
    }

    fn snapshot(&self) -> KeyState {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn failure_backoff(&self) -> Duration {
        self.settings.failure_backoff
    }

    fn unavailable(&self) -> AuthgentError {
        AuthgentError::KeysUnavailable {
            retry_after: self.settings.failure_backoff,
        }
    }

    /// The key for `kid` if the cached set has it now, without fetching (token-cache checks).
    pub(crate) fn cached_key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        let state = self.snapshot();
        state
            .usable(Instant::now(), self.settings.stale_if_error)?
            .get(kid)
            .cloned()
    }

    /// The key for `kid`: from cache when usable, refreshing (single-flight) when the kid is
    /// unknown (at most once per cooldown) or the cache is cold or too stale.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Arc<VerificationKey>, AuthgentError> {
        let now = Instant::now();
        let state = self.snapshot();
        if let Some(keys) = state.usable(now, self.settings.stale_if_error) {
            if let Some(key) = keys.get(kid) {
                if !state.is_fresh(now) {
                    self.refresh_in_background();
                }
                return Ok(Arc::clone(key));
            }
            let cooling = state.last_unknown_kid_refresh.is_some_and(|t| {
                now.saturating_duration_since(t) < self.settings.unknown_kid_cooldown
            });
            if cooling {
                self.stats.unknown_kid_rejected();
                debug!(target: "authgent_jwks", "unknown kid rejected during cooldown");
                return Err(TokenError::UnknownKeyId.into());
            }
            return self.refresh_then_lookup(kid, state.attempts, true).await;
        }
        let backing_off = state
            .last_failure
            .is_some_and(|t| now.saturating_duration_since(t) < self.settings.failure_backoff);
        if backing_off {
            return Err(self.unavailable());
        }
        self.refresh_then_lookup(kid, state.attempts, false).await
    }

    async fn refresh_then_lookup(
        &self,
        kid: &str,
        seen_attempts: u64,
        unknown_kid: bool,
    ) -> Result<Arc<VerificationKey>, AuthgentError> {
        {
            let _single_flight = self.refresh.lock().await;
            if self.snapshot().attempts == seen_attempts {
                if unknown_kid {
                    if let Ok(mut s) = self.state.write() {
                        s.last_unknown_kid_refresh = Some(Instant::now());
                    }
                    info!(target: "authgent_jwks", issuer = %self.issuer, "unknown kid: refreshing JWKS");
                }
                let _ = self.fetch_and_store().await;
            }
        }
        let state = self.snapshot();
        match state.usable(Instant::now(), self.settings.stale_if_error) {
            Some(keys) => keys.get(kid).cloned().ok_or_else(|| {
                self.stats.unknown_kid_rejected();
                TokenError::UnknownKeyId.into()
            }),
            None => Err(self.unavailable()),
        }
    }

    /// Refreshes now (waiting for a refresh already under way instead of starting another).
    pub(crate) async fn refresh(&self) -> Result<(), JwksError> {
        let _single_flight = self.refresh.lock().await;
        self.fetch_and_store().await
    }

    /// Starts a refresh on the runtime unless one is running or the last one failed recently.
    pub(crate) fn refresh_in_background(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let state = self.snapshot();
        let now = Instant::now();
        if state
            .last_failure
            .is_some_and(|t| now.saturating_duration_since(t) < self.settings.failure_backoff)
        {
            return;
        }
        if self.background_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        runtime.spawn(async move {
            let seen = this.snapshot().attempts;
            let _single_flight = this.refresh.lock().await;
            if this.snapshot().attempts == seen {
                let _ = this.fetch_and_store().await;
            }
            this.background_running.store(false, Ordering::Release);
        });
    }

    /// How long until the cached keys stop being fresh (zero when cold or stale).
    pub(crate) fn fresh_for(&self) -> Duration {
        let state = self.snapshot();
        match state.age(Instant::now()) {
            Some(age) => state.max_age.saturating_sub(age),
            None => Duration::ZERO,
        }
    }

    pub(crate) fn info(&self) -> Option<KeySetInfo> {
        let state = self.snapshot();
        let keys = state.keys.as_ref()?;
        let mut kids: Vec<String> = keys.kids().map(str::to_owned).collect();
        kids.sort();
        Some(KeySetInfo {
            kids,
            fetched_at: state.fetched_at_wall?,
            max_age: state.max_age,
            jwks_uri: self.current_jwks_uri().unwrap_or_default(),
        })
    }

    fn current_jwks_uri(&self) -> Option<String> {
        self.explicit_jwks_uri
            .clone()
            .or_else(|| self.discovered.lock().ok().and_then(|d| d.clone()))
    }

    /// One fetch attempt; the outcome is recorded whatever it is.
    async fn fetch_and_store(&self) -> Result<(), JwksError> {
        let result = self.fetch_keys().await;
        let now = Instant::now();
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.attempts += 1;
        match result {
            Ok((keys, max_age)) => {
                for skipped in keys.skipped() {
                    warn!(target: "authgent_jwks", issuer = %self.issuer, kid = ?skipped.kid,
                        reason = %skipped.reason, "JWKS key skipped");
                }
                info!(target: "authgent_jwks", issuer = %self.issuer, keys = keys.len(),
                    max_age_s = max_age.as_secs(), "JWKS refreshed");
                state.keys = Some(Arc::new(keys));
                state.fetched_at = Some(now);
                state.fetched_at_wall = Some(SystemTime::now());
                state.max_age = max_age;
                state.last_failure = None;
                crate::metrics::fetch(&self.issuer, true);
                Ok(())
            }
            Err(e) => {
                self.stats.fetch_failed();
                crate::metrics::fetch(&self.issuer, false);
                warn!(target: "authgent_jwks", issuer = %self.issuer, error = %e,
                    serving_stale = state.keys.is_some(), "JWKS refresh failed");
                state.last_failure = Some(now);
                drop(state);
                if matches!(
                    e,
                    JwksError::Status {
                        status: 404 | 410,
                        ..
                    }
                ) {
                    // The JWKS moved: rediscover next time. (Outages keep the discovered URL.)
                    if let Ok(mut d) = self.discovered.lock() {
                        *d = None;
                    }
                }
                Err(e)
            }
        }
    }

    async fn fetch_keys(&self) -> Result<(KeySet, Duration), JwksError> {
        let uri = self.jwks_uri().await?;
        self.stats.jwks_fetched();
        debug!(target: "authgent_jwks", url = %uri, "fetching JWKS");
        let fetched = self.fetcher.get(&uri).await?;
        let keys =
            KeySet::from_jwks_json(&fetched.body).map_err(|e| JwksError::InvalidDocument {
                url: uri.clone(),
                reason: e.to_string(),
            })?;
        let max_age = fetched.max_age.map_or(self.settings.max_age, |a| {
            a.clamp(MAX_AGE_BOUNDS.0, MAX_AGE_BOUNDS.1)
        });
        Ok((keys, max_age))
    }

    /// RFC 8414 metadata (path inserted, §3.1), then OpenID configuration, then the
    /// conventional `/.well-known/jwks.json`. A document for another issuer is refused.
    async fn jwks_uri(&self) -> Result<String, JwksError> {
        if let Some(uri) = self.current_jwks_uri() {
            return Ok(uri);
        }
        if let Some(uri) = self.discover().await?.and_then(|m| m.jwks_uri) {
            return Ok(uri);
        }
        Ok(format!(
            "{}/.well-known/jwks.json",
            self.issuer.trim_end_matches('/')
        ))
    }

    /// The issuer's RFC 7662 `introspection_endpoint`, from its metadata (discovered once).
    pub(crate) async fn introspection_endpoint(&self) -> Result<Option<String>, JwksError> {
        if let Some(known) = self
            .discovered_introspection
            .lock()
            .ok()
            .and_then(|d| d.clone())
        {
            return Ok(known);
        }
        Ok(self
            .discover()
            .await?
            .and_then(|m| m.introspection_endpoint))
    }

    /// The issuer's metadata: RFC 8414 (path inserted), then OpenID configuration; `None` when
    /// neither is served (404/410). Metadata naming another issuer is refused. What it names
    /// (JWKS and introspection endpoints) is remembered, so one discovery serves both.
    async fn discover(&self) -> Result<Option<AuthorizationServerMetadata>, JwksError> {
        let metadata = self.fetch_metadata().await?;
        if let Some(uri) = metadata.as_ref().and_then(|m| m.jwks_uri.clone())
            && let Ok(mut d) = self.discovered.lock()
        {
            *d = Some(uri);
        }
        if let Ok(mut d) = self.discovered_introspection.lock() {
            *d = Some(
                metadata
                    .as_ref()
                    .and_then(|m| m.introspection_endpoint.clone()),
            );
        }
        Ok(metadata)
    }

    async fn fetch_metadata(&self) -> Result<Option<AuthorizationServerMetadata>, JwksError> {
        let base = self.issuer.trim_end_matches('/');
        let candidates = [
            well_known_url(&self.issuer, "oauth-authorization-server").ok(),
            Some(format!("{base}/.well-known/openid-configuration")),
        ];
        for url in candidates.into_iter().flatten() {
            debug!(target: "authgent_jwks", %url, "discovering issuer metadata");
            self.stats.metadata_fetched();
            let fetched = match self.fetcher.get(&url).await {
                Ok(f) => f,
                // Not served here: try the next convention. Any other failure (5xx, timeout,
                // garbage) is an outage, not an absence, and must not lead to guessing a URL.
                Err(JwksError::Status {
                    status: 404 | 410, ..
                }) => continue,
                Err(e) => return Err(e),
            };
            return match AuthorizationServerMetadata::parse(&fetched.body, &self.issuer) {
                Ok(m) => Ok(Some(m)),
                Err(MetadataError::IssuerMismatch) => Err(JwksError::IssuerMismatch { url }),
                Err(e) => Err(JwksError::InvalidDocument {
                    url,
                    reason: e.to_string(),
                }),
            };
        }
        Ok(None)
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }
}
