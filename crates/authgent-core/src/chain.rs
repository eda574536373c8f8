//! Delegation chains (RFC 8693 nested `act`) and the policy that judges them.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::DelegationError;

/// One actor of a delegation chain: the members of one `act` object except the nested `act`.
#[derive(Clone, Debug, PartialEq)]
pub struct Actor {
    subject: String,
    claims: Map<String, Value>,
}

impl Actor {
    pub(crate) fn new(subject: String, claims: Map<String, Value>) -> Self {
        Actor { subject, claims }
    }

    /// The actor's `sub`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The actor's `iss`, when the issuer names it.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The actor's `client_id`, when present.
    pub fn client_id(&self) -> Option<&str> {
        self.claims.get("client_id").and_then(Value::as_str)
    }

    /// Any member of this actor's `act` object.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// All members of this actor's `act` object (without the nested `act`).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Who delegated to whom: the token's subject (the root) and its actors, newest first.
///
/// In RFC 8693 §4.1 the outermost `act` is the *current* actor and deeper ones acted before
/// it; [`actors`](Self::actors) keeps that order. The root is the token's `sub` — the party on
/// whose behalf the whole chain acts.
///
/// ```
/// use authgent_core::TokenClaims;
/// let json = serde_json::json!({
///     "sub": "user:alice", "human_root": true,
///     "act": {"sub": "client:tool", "act": {"sub": "client:worker"}}
/// });
/// let claims = TokenClaims::from_json(json.as_object().unwrap().clone(), 32)?;
/// let chain = authgent_core::DelegationChain::from_claims(&claims);
/// assert_eq!(chain.depth(), 2);
/// assert_eq!(chain.current_actor().unwrap().subject(), "client:tool");
/// assert_eq!(chain.root_subject(), "user:alice");
/// assert!(chain.human_root());
/// assert!(chain.has_actor("client:worker"));
/// # Ok::<(), authgent_core::TokenError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DelegationChain {
    root_subject: String,
    human_root_claim: Option<bool>,
    actors: Arc<[Actor]>,
    /// Whether the chain starts at a human, decided once by the verifier's
    /// [`ClaimsProfile`](crate::ClaimsProfile).
    human_root: bool,
}

impl DelegationChain {
    /// The chain of a token's claims, its human root decided by the default
    /// [`HumanRootRule`] (a verifier decides it by its
    /// [`ClaimsProfile`](crate::ClaimsProfile)).
    pub fn from_claims(claims: &crate::TokenClaims) -> Self {
        let mut chain = DelegationChain {
            root_subject: claims.subject().unwrap_or_default().to_owned(),
            human_root_claim: claims.human_root(),
            actors: Arc::clone(claims.actor_list()),
            human_root: false,
        };
        chain.human_root = HumanRootRule::default().is_human_rooted(&chain);
        chain
    }

    /// The same chain, its human root decided elsewhere (the claims profile).
    pub(crate) fn with_human_root(mut self, human_root: bool) -> Self {
        self.human_root = human_root;
        self
    }

    /// The actors, newest (current) first. Empty for a token nobody delegated.
    pub fn actors(&self) -> &[Actor] {
        &self.actors
    }

    /// Number of delegation hops (`act` levels).
    pub fn depth(&self) -> usize {
        self.actors.len()
    }

    /// Whether the token is delegated at all.
    pub fn is_delegated(&self) -> bool {
        !self.actors.is_empty()
    }

    /// The actor presenting the token (outermost `act`), the one RFC 8693 says access control
    /// decisions are about.
    pub fn current_actor(&self) -> Option<&Actor> {
        self.actors.first()
    }

    /// The first actor that was delegated to (innermost `act`).
    pub fn original_actor(&self) -> Option<&Actor> {
        self.actors.last()
    }

    /// The token's `sub`: on whose behalf the chain acts.
    pub fn root_subject(&self) -> &str {
        &self.root_subject
    }

    /// The whole chain as audit trails show it, root first: the subject, then every actor from
    /// the first delegate to the current one.
    ///
    /// ```
    /// # use authgent_core::{DelegationChain, TokenClaims};
    /// let claims = serde_json::json!({
    ///     "sub": "user:alice", "act": {"sub": "client:tool", "act": {"sub": "client:planner"}}
    /// });
    /// let claims = TokenClaims::from_json(claims.as_object().unwrap().clone(), 8)?;
    /// let chain = DelegationChain::from_claims(&claims);
    /// let names: Vec<&str> = chain.root_first().collect();
    /// assert_eq!(names, ["user:alice", "client:planner", "client:tool"]);
    /// # Ok::<(), authgent_core::TokenError>(())
    /// ```
    pub fn root_first(&self) -> impl DoubleEndedIterator<Item = &str> {
        std::iter::once(self.root_subject.as_str())
            .chain(self.actors.iter().rev().map(Actor::subject))
    }

    /// The issuer's `human_root` claim, if it set one.
    pub fn human_root_claim(&self) -> Option<bool> {
        self.human_root_claim
    }

    /// Whether the chain starts at a human: as the verifier's
    /// [`ClaimsProfile`](crate::ClaimsProfile) decided (the default profile: a `human_root`
    /// claim or a `user:` subject).
    pub fn human_root(&self) -> bool {
        self.human_root
    }

    /// Whether any actor has subject `subject`.
    pub fn has_actor(&self, subject: &str) -> bool {
        self.actors.iter().any(|a| a.subject == subject)
    }

    /// The chain drawn as a tree for people (logs, the `authgent` CLI, demos): the root
    /// subject first, then each actor in the order they were delegated to, the current actor
    /// (the outermost `act`, the one access decisions are about) marked.
    ///
    /// ```
    /// use authgent_core::{DelegationChain, TokenClaims};
    /// let json = serde_json::json!({"sub": "user:alice", "human_root": true,
    ///     "act": {"sub": "client:tool", "act": {"sub": "client:orchestrator"}}});
    /// let claims = TokenClaims::from_json(json.as_object().unwrap().clone(), 32)?;
    /// let tree = DelegationChain::from_claims(&claims).tree().to_string();
    /// assert_eq!(tree, "\
    /// user:alice (human root)
    /// └─ client:orchestrator
    ///    └─ client:tool  ◀ current actor");
    /// # Ok::<(), authgent_core::TokenError>(())
    /// ```
    pub fn tree(&self) -> ChainTree<'_> {
        ChainTree(self)
    }
}

/// [`DelegationChain::tree`]: a `Display` of the chain, one line per party.
#[derive(Clone, Copy, Debug)]
pub struct ChainTree<'c>(&'c DelegationChain);

impl fmt::Display for ChainTree<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = self.0;
        let root = if chain.root_subject.is_empty() {
            "(no sub)"
        } else {
            &chain.root_subject
        };
        f.write_str(root)?;
        if chain.human_root() {
            f.write_str(" (human root)")?;
        }
        if chain.actors.is_empty() {
            return f.write_str("  (not delegated: the subject calls itself)");
        }
        // Oldest first: the innermost `act` was delegated to first.
        for (depth, actor) in chain.actors.iter().rev().enumerate() {
            write!(
                f,
                "\n{:indent$}└─ {}",
                "",
                actor.subject,
                indent = depth * 3
            )?;
            if depth + 1 == chain.actors.len() {
                f.write_str("  ◀ current actor")?;
            }
        }
        Ok(())
    }
}

type HumanRootFn = dyn Fn(&DelegationChain) -> bool + Send + Sync;

/// Decides whether a chain is rooted at a human.
///
/// The default: the issuer's `human_root` claim is `true`, or the root subject (`sub`) starts
/// with `user:` — which is how authgent-server marks humans. (The Python SDK looks at the
/// innermost actor instead and so misses real human-rooted chains.)
#[derive(Clone)]
pub struct HumanRootRule(Arc<HumanRootFn>);

impl HumanRootRule {
    /// A custom rule.
    ///
    /// ```
    /// use authgent_core::HumanRootRule;
    /// let rule = HumanRootRule::custom(|chain| chain.root_subject().starts_with("human|"));
    /// # let _ = rule;
    /// ```
    pub fn custom(f: impl Fn(&DelegationChain) -> bool + Send + Sync + 'static) -> Self {
        HumanRootRule(Arc::new(f))
    }

    /// Applies the rule.
    pub fn is_human_rooted(&self, chain: &DelegationChain) -> bool {
        (self.0)(chain)
    }
}

impl Default for HumanRootRule {
    fn default() -> Self {
        HumanRootRule::custom(|chain| {
            chain.human_root_claim == Some(true) || chain.root_subject.starts_with("user:")
        })
    }
}

impl fmt::Debug for HumanRootRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HumanRootRule(..)")
    }
}

/// Delegation policy for a route: depth, who may act, and whether a human must be at the root.
///
/// ```
/// use authgent_core::{ChainPolicy, TokenClaims, DelegationChain};
/// let policy = ChainPolicy::builder()
///     .max_depth(1)
///     .allowed_current_actor(["client:tool"])
///     .build();
/// let json = serde_json::json!({"sub": "client:orch", "act": {"sub": "client:tool"}});
/// let claims = TokenClaims::from_json(json.as_object().unwrap().clone(), 32)?;
/// assert!(policy.check(&DelegationChain::from_claims(&claims)).is_ok());
/// # Ok::<(), authgent_core::TokenError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChainPolicy {
    max_depth: Option<usize>,
    allowed_actors: Option<HashSet<String>>,
    allowed_current_actor: Option<HashSet<String>>,
    require_human_root: bool,
    human_root_rule: Option<HumanRootRule>,
}

impl ChainPolicy {
    /// Starts a policy that allows everything.
    pub fn builder() -> ChainPolicyBuilder {
        ChainPolicyBuilder(ChainPolicy::default())
    }

    /// Checks `chain`, in order: depth, human root, every actor, the current actor.
    pub fn check(&self, chain: &DelegationChain) -> Result<(), DelegationError> {
        if let Some(max) = self.max_depth
            && chain.depth() > max
        {
            return Err(DelegationError::DepthExceeded {
                depth: chain.depth(),
                max,
            });
        }
        // Unlike the Python SDK this also applies to undelegated tokens: a client acting for
        // itself has no human root either.
        let human_rooted = match &self.human_root_rule {
            Some(rule) => rule.is_human_rooted(chain),
            None => chain.human_root(),
        };
        if self.require_human_root && !human_rooted {
            return Err(DelegationError::NoHumanRoot);
        }
        if let Some(allowed) = &self.allowed_actors
            && let Some(actor) = chain
                .actors()
                .iter()
                .find(|a| !allowed.contains(a.subject()))
        {
            return Err(DelegationError::UnauthorizedActor {
                actor: actor.subject().to_owned(),
            });
        }
        if let (Some(allowed), Some(current)) = (&self.allowed_current_actor, chain.current_actor())
            && !allowed.contains(current.subject())
        {
            return Err(DelegationError::UnauthorizedActor {
                actor: current.subject().to_owned(),
            });
        }
        Ok(())
    }

    /// The human-root rule this policy uses instead of the verifier's decision
    /// ([`DelegationChain::human_root`]), if one was set.
    pub fn human_root_rule(&self) -> Option<&HumanRootRule> {
        self.human_root_rule.as_ref()
    }
}

/// Builds a [`ChainPolicy`].
#[derive(Debug)]
#[must_use]
pub struct ChainPolicyBuilder(ChainPolicy);

impl ChainPolicyBuilder {
    /// At most `max` delegation hops (`act` levels). `0` forbids delegated tokens.
    pub fn max_depth(mut self, max: usize) -> Self {
        self.0.max_depth = Some(max);
        self
    }

    /// Every actor in the chain must be one of `subjects` (the Python SDK's rule).
    pub fn allowed_actors<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.allowed_actors = Some(subjects.into_iter().map(Into::into).collect());
        self
    }

    /// The current (outermost) actor must be one of `subjects` (RFC 8693 §4.1's rule: prior
    /// actors are informational). Undelegated tokens pass.
    pub fn allowed_current_actor<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0.allowed_current_actor = Some(subjects.into_iter().map(Into::into).collect());
        self
    }

    /// Require a human at the root of the chain.
    pub fn require_human_root(mut self, required: bool) -> Self {
        self.0.require_human_root = required;
        self
    }

    /// Decide the human root with `rule` on this route, instead of the verifier's
    /// [`ClaimsProfile`](crate::ClaimsProfile) (which decides it once for every route).
    pub fn human_root_rule(mut self, rule: HumanRootRule) -> Self {
        self.0.human_root_rule = Some(rule);
        self
    }

    /// Finishes the policy.
    pub fn build(self) -> ChainPolicy {
        self.0
    }
}
