//! Required scopes for a route: all-of or any-of.

use crate::error::ScopeError;

/// How a [`ScopeRequirement`] combines its scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeMatch {
    /// Every scope is required.
    All,
    /// One of the scopes suffices.
    Any,
}

/// Scopes a route requires.
///
/// ```
/// use authgent_core::ScopeRequirement;
/// let granted = ["search:execute".to_string(), "read".to_string()];
/// assert!(ScopeRequirement::all(["search:execute"]).check(&granted).is_ok());
/// assert!(ScopeRequirement::any(["db:delete", "read"]).check(&granted).is_ok());
/// let err = ScopeRequirement::all(["db:delete"]).check(&granted).unwrap_err();
/// assert_eq!(err.required, ["db:delete"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeRequirement {
    mode: ScopeMatch,
    scopes: Vec<String>,
}

impl ScopeRequirement {
    /// All of `scopes` are required.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement {
            mode: ScopeMatch::All,
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// Any one of `scopes` is required.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement {
            mode: ScopeMatch::Any,
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// How the scopes combine.
    pub fn mode(&self) -> ScopeMatch {
        self.mode
    }

    /// The scopes named.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Checks granted scopes (exact, case-sensitive string match, RFC 6749 §3.3).
    /// An empty requirement always passes.
    pub fn check<S: AsRef<str>>(&self, granted: &[S]) -> Result<(), ScopeError> {
        let has = |s: &String| granted.iter().any(|g| g.as_ref() == s);
        let ok = match self.mode {
            ScopeMatch::All => self.scopes.iter().all(has),
            ScopeMatch::Any => self.scopes.is_empty() || self.scopes.iter().any(has),
        };
        if ok {
            Ok(())
        } else {
            Err(ScopeError {
                required: self.scopes.clone(),
            })
        }
    }
}
