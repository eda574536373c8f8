//! For framework adapters: the local wrappers each adapter needs around the shared types (a
//! framework's traits can only be implemented on a type of the adapter's own crate), defined
//! once here so that every adapter has the same API. Not for applications.

#[doc(hidden)]
pub use authgent_core::txn::TransactionToken as TransactionTokenClaims;

/// Defines, in the calling adapter crate, `AuthRejection` (around [`Rejection`](crate::Rejection)),
/// `AgentIdentity` (around [`Caller`](crate::Caller)) and `TransactionToken`, with the same
/// methods everywhere. The adapter then implements its framework's traits on them.
#[doc(hidden)]
#[macro_export]
macro_rules! adapter_types {
    () => {
        /// A refusal: the status, every header and the body of its
        /// [`ErrorResponse`](authgent_core::challenge::ErrorResponse). Keeps the shared
        /// [`Rejection`](authgent_jwks::Rejection) and, through it, the `AuthgentError` as its
        /// `source()`.
        #[derive(Clone)]
        #[non_exhaustive]
        pub struct AuthRejection(pub $crate::Rejection);

        impl ::std::convert::From<$crate::Rejection> for AuthRejection {
            fn from(rejection: $crate::Rejection) -> Self {
                AuthRejection(rejection)
            }
        }

        impl AuthRejection {
            /// The HTTP status.
            pub fn status(&self) -> u16 {
                self.0.status()
            }

            /// The stable error code.
            pub fn code(&self) -> &'static str {
                self.0.code()
            }
        }

        impl ::std::fmt::Debug for AuthRejection {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Display for AuthRejection {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for AuthRejection {
            fn source(&self) -> ::std::option::Option<&(dyn ::std::error::Error + 'static)> {
                ::std::error::Error::source(&self.0)
            }
        }

        /// The verified caller. Derefs to [`Caller`](authgent_jwks::Caller) (`require_scopes`,
        /// `require_chain`, `require`, `transaction_token`) and through it to
        /// [`authgent_core::AgentIdentity`] (`subject()`, `scopes()`, `delegation_chain()`, …).
        #[derive(Clone)]
        #[non_exhaustive]
        pub struct AgentIdentity(pub $crate::Caller);

        impl ::std::fmt::Debug for AgentIdentity {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::ops::Deref for AgentIdentity {
            type Target = $crate::Caller;

            fn deref(&self) -> &$crate::Caller {
                &self.0
            }
        }

        /// The request's verified `Txn-Token`, when the
        /// [`AgentAuth`](authgent_jwks::AgentAuth) accepts transaction tokens
        /// ([`transaction_tokens`](authgent_jwks::AgentAuthBuilder::transaction_tokens)); a
        /// request without one is refused (400) where this is required.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct TransactionToken(pub ::std::sync::Arc<$crate::adapter::TransactionTokenClaims>);

        impl ::std::ops::Deref for TransactionToken {
            type Target = $crate::adapter::TransactionTokenClaims;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl TransactionToken {
            /// The request's token, or the 400 of a request without one.
            fn from_context(context: &$crate::AuthContext) -> Result<Self, $crate::Rejection> {
                match context.transaction_token() {
                    Some(token) => Ok(TransactionToken(::std::sync::Arc::clone(token))),
                    None => {
                        Err(context.reject(authgent_core::RequestError::MissingTxnToken.into()))
                    }
                }
            }
        }
    };
}

/// Defines an adapter's `Require` guard, a local type around a [`Guard`](crate::Guard) (with
/// `From<Guard>` and the same constructors everywhere); the attributes given (its docs) are
/// put on it. The adapter implements its framework's middleware trait on it.
#[doc(hidden)]
#[macro_export]
macro_rules! require_type {
    ($(#[$meta:meta])*) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct Require {
            guard: $crate::Guard,
        }

        impl ::std::convert::From<$crate::Guard> for Require {
            fn from(guard: $crate::Guard) -> Self {
                Require { guard }
            }
        }

        impl Require {
        /// Every scope is required ([`Guard::all`](authgent_jwks::Guard::all)).
        pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
            $crate::Guard::all(scopes).into()
        }

        /// One of the scopes suffices ([`Guard::any`](authgent_jwks::Guard::any)).
        pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
            $crate::Guard::any(scopes).into()
        }

        /// A [`ScopeRequirement`](authgent_core::ScopeRequirement).
        pub fn scopes(requirement: authgent_core::ScopeRequirement) -> Self {
            $crate::Guard::scopes(requirement).into()
        }

        /// A [`ChainPolicy`](authgent_core::ChainPolicy).
        pub fn chain(policy: authgent_core::ChainPolicy) -> Self {
            $crate::Guard::chain(policy).into()
        }

        /// A closure over the identity ([`Guard::check`](authgent_jwks::Guard::check)).
        pub fn check(
            check: impl Fn(&authgent_core::AgentIdentity) -> Result<(), authgent_core::AuthgentError>
                + Send
                + Sync
                + 'static,
        ) -> Self {
            $crate::Guard::check(check).into()
        }

        /// The token is still active at its issuer
        /// ([`Guard::active_token`](authgent_jwks::Guard::active_token)).
        pub fn active_token() -> Self {
            $crate::Guard::active_token().into()
        }
        }
    };
}
