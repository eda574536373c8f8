//! Transaction tokens (draft-ietf-oauth-transaction-tokens-11 by default; -10 in an explicit
//! compatibility mode, [`TxnDraft::Draft10`]): short-lived, `typ` `txntoken+jwt`, audience =
//! the trust domain, sent in the `Txn-Token` header.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::claims::TokenClaims;
use crate::error::{ConfigError, RequestError, TokenError};
use crate::jws::{self, CompactJws};
use crate::key::KeyResolver;
use crate::validator::{
    DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, check_time, verify_signature_and_claims,
};

/// The request header that carries a transaction token.
pub const TXN_TOKEN_HEADER: &str = "Txn-Token";

/// A verified transaction token.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TransactionToken {
    /// `txn`: the transaction identifier.
    pub txn: String,
    /// `sub`: the subject the transaction runs for.
    pub subject: String,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    /// `tctx`: transaction context (empty when absent).
    pub tctx: Map<String, Value>,
    /// `rctx`: requester context (empty when absent).
    pub rctx: Map<String, Value>,
    /// `req_wl`: the requesting workload (always present under -11; under the -10
    /// compatibility mode, `None` when the token names none).
    pub req_wl: Option<String>,
    /// All claims.
    pub claims: TokenClaims,
}

/// Which revision of draft-ietf-oauth-transaction-tokens a [`TxnTokenValidator`] follows.
///
/// ```
/// use authgent_core::txn::{TxnDraft, TxnTokenValidator};
/// // authgent-server 0.3.4 issues -10 tokens (no `req_wl`): say so explicitly.
/// let validator = TxnTokenValidator::builder("https://trust-domain.example")
///     .draft(TxnDraft::Draft10)
///     .build()?;
/// assert_eq!(validator.draft(), TxnDraft::Draft10);
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxnDraft {
    /// draft-ietf-oauth-transaction-tokens-11 (the default): `txn`, `sub`, `scope`, `req_wl`,
    /// `aud`, `iat` and `exp` required; `tctx` and `rctx` optional objects; `purp` is no
    /// longer a claim of its own (an issuer may still put it in a context, unchecked).
    #[default]
    Draft11,
    /// draft-ietf-oauth-transaction-tokens-10, as authgent-server 0.3.4 issues them: the same,
    /// except that `req_wl` may be absent. A compatibility mode, chosen explicitly.
    Draft10,
}

/// Verifies transaction tokens; refuses access tokens (and the access-token validator refuses
/// transaction tokens, by `typ`).
///
/// ```no_run
/// # use authgent_core::{KeySet, txn::TxnTokenValidator};
/// # let keys = KeySet::default(); let header_value = "";
/// let validator = TxnTokenValidator::builder("https://trust-domain.example")
///     .issuer("http://127.0.0.1:8000")
///     .build()?;
/// let txn = validator.verify(header_value, &keys, std::time::SystemTime::now())?;
/// println!("transaction {} for {}", txn.txn, txn.subject);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TxnTokenValidator {
    trust_domain: String,
    draft: TxnDraft,
    issuer: Option<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_token_bytes: usize,
}

impl TxnTokenValidator {
    /// Starts a validator for the trust domain `trust_domain` (the required `aud`).
    pub fn builder(trust_domain: impl Into<String>) -> TxnTokenValidatorBuilder {
        TxnTokenValidatorBuilder(TxnTokenValidator {
            trust_domain: trust_domain.into(),
            draft: TxnDraft::default(),
            issuer: None,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: DEFAULT_LEEWAY,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        })
    }

    /// The draft this validator follows.
    pub fn draft(&self) -> TxnDraft {
        self.draft
    }

    /// Picks the one `Txn-Token` header value from all values sent: none → `Ok(None)`,
    /// several → [`RequestError::MultipleTxnToken`].
    pub fn from_headers<'a>(values: &[&'a [u8]]) -> Result<Option<&'a str>, RequestError> {
        match values {
            [] => Ok(None),
            [one] => std::str::from_utf8(one)
                .ok()
                .filter(|s| s.is_ascii())
                .map(|s| Some(s.trim()))
                .ok_or(RequestError::InvalidHeader(TXN_TOKEN_HEADER)),
            _ => Err(RequestError::MultipleTxnToken),
        }
    }

    /// The `kid` of a transaction token's header, unverified: which key to fetch before
    /// [`verify`](Self::verify).
    pub fn unverified_kid(&self, token: &str) -> Result<String, TokenError> {
        let jws = CompactJws::parse(token, self.max_token_bytes)?;
        Ok(jws.kid()?.to_owned())
    }

    /// Verifies a transaction token against the trust domain's keys.
    pub fn verify(
        &self,
        token: &str,
        keys: &impl KeyResolver,
        now: SystemTime,
    ) -> Result<TransactionToken, TokenError> {
        let jws = CompactJws::parse(token, self.max_token_bytes)?;
        let alg = jws.algorithm(&self.algorithms)?;
        jws.check_crit()?;
        match jws.typ()? {
            Some(t) if jws::typ_is(t, "txntoken+jwt") => {}
            _ => return Err(TokenError::UnacceptableType),
        }
        let key = keys.resolve(jws.kid()?).ok_or(TokenError::UnknownKeyId)?;
        let claims =
            verify_signature_and_claims(&jws, alg, key, crate::validator::DEFAULT_MAX_ACT_DEPTH)?;
        check_time(&claims, now, self.leeway, true)?;
        if claims.issued_at().is_none() {
            return Err(TokenError::MissingClaim("iat"));
        }
        if let Some(iss) = &self.issuer
            && claims.issuer() != Some(iss.as_str())
        {
            return Err(TokenError::IssuerMismatch);
        }
        if !claims.audience().contains(&self.trust_domain) {
            return Err(TokenError::AudienceMismatch);
        }
        let txn = match claims.get("txn") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            Some(_) => {
                return Err(TokenError::InvalidClaim {
                    claim: "txn",
                    reason: "must be a non-empty string",
                });
            }
            None => return Err(TokenError::MissingClaim("txn")),
        };
        let subject = claims
            .subject()
            .ok_or(TokenError::MissingClaim("sub"))?
            .to_owned();
        if claims.scope().is_none() {
            return Err(TokenError::MissingClaim("scope"));
        }
        let context = |name: &'static str| match claims.get(name) {
            None => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(TokenError::InvalidClaim {
                claim: name,
                reason: "must be a JSON object",
            }),
        };
        let req_wl = match claims.get("req_wl") {
            None if self.draft == TxnDraft::Draft10 => None,
            None => return Err(TokenError::MissingClaim("req_wl")),
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(TokenError::InvalidClaim {
                    claim: "req_wl",
                    reason: "must be a non-empty string",
                });
            }
        };
        Ok(TransactionToken {
            txn,
            subject,
            scopes: claims.scopes().map(str::to_owned).collect(),
            tctx: context("tctx")?,
            rctx: context("rctx")?,
            req_wl,
            claims,
        })
    }
}

/// Builds a [`TxnTokenValidator`].
#[derive(Debug)]
#[must_use]
pub struct TxnTokenValidatorBuilder(TxnTokenValidator);

impl TxnTokenValidatorBuilder {
    /// The draft to follow (default [`TxnDraft::Draft11`]); [`TxnDraft::Draft10`] accepts
    /// tokens without `req_wl`, as authgent-server 0.3.4 issues them.
    pub fn draft(mut self, draft: TxnDraft) -> Self {
        self.0.draft = draft;
        self
    }

    /// Require `iss` to be exactly `issuer`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.0.issuer = Some(issuer.into());
        self
    }

    /// Allowed algorithms.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.0.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock leeway (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.0.leeway = leeway;
        self
    }

    /// Checks the settings and builds the validator.
    pub fn build(self) -> Result<TxnTokenValidator, ConfigError> {
        if self.0.trust_domain.is_empty() {
            return Err(ConfigError::Missing("trust_domain"));
        }
        if self.0.algorithms.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "algorithms",
                reason: "allow at least one algorithm",
            });
        }
        Ok(self.0)
    }
}
