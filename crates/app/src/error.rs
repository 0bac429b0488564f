//! One error enum per kind of use case, each mapping to the protocol error it means.

use thetasecure_core::OAuthError;
use thetasecure_core::text::TextError;
use thetasecure_store::StoreError;

/// Errors of the admin use cases (admin API and CLI).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 400 with the RFC 7591 / RFC 6749 code and a description naming the field.
    #[error("{0}")]
    Invalid(OAuthError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Storage is busy or unreachable; the request may be retried.
    #[error("storage temporarily unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] InternalCause),
}

/// What went wrong inside, kept whole for the one log line that reports it.
pub type InternalCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An internal failure described by text alone (no error value to keep).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InternalFailure(pub String);

impl AdminError {
    /// Maps a store error, naming what a NotFound was about.
    pub fn from_store(error: StoreError, what: &'static str) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound(what),
            StoreError::Conflict(why) => Self::Conflict(why),
            StoreError::Busy | StoreError::Unavailable { .. } => Self::Unavailable(error),
            StoreError::Backend { .. } => Self::Internal(Box::new(error)),
        }
    }
}

impl From<OAuthError> for AdminError {
    fn from(error: OAuthError) -> Self {
        Self::Invalid(error)
    }
}

/// Text the admin use cases check themselves (parameters, scope descriptions) is part of
/// the request, not RFC 7591 client metadata, which `core` checks with its own code.
impl From<TextError> for AdminError {
    fn from(error: TextError) -> Self {
        Self::Invalid(OAuthError::invalid_request(error.to_string()))
    }
}

/// Errors of the token, introspection and revocation endpoints.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Client authentication failed: unknown client, wrong secret, disabled client.
    #[error("invalid_client: {0}")]
    InvalidClient(&'static str),
    #[error("{0}")]
    Rejected(OAuthError),
    /// Too many failed authentications from this address for this client id (429).
    #[error("throttled for {retry_after_seconds} s")]
    Throttled { retry_after_seconds: u64 },
    /// Too many failed sign-ins for the username or from the address (the password
    /// grant, 429): the sign-in page's limit, so the body says `invalid_grant`.
    #[error("sign-in throttled for {retry_after_seconds} s")]
    SignInThrottled { retry_after_seconds: u64 },
    #[error("storage temporarily unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] InternalCause),
}

impl From<StoreError> for TokenError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy | StoreError::Unavailable { .. } => Self::Unavailable(error),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        Self::Rejected(error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use thetasecure_core::ErrorChain;

    use super::*;

    /// An outage or a database error keeps its cause down to the driver's error, for the
    /// one log line that reports it.
    #[test]
    fn store_failures_keep_their_cause() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outage = StoreError::Unavailable {
            what: "PostgreSQL".into(),
            cause: Some(Arc::new(refused)),
        };
        let error = AdminError::from_store(outage.clone(), "client");
        let reported = "storage temporarily unavailable: database unavailable: PostgreSQL: refused";
        assert_eq!(ErrorChain(&error).to_string(), reported);
        assert_eq!(ErrorChain(&TokenError::from(outage)).to_string(), reported);

        let corrupt = StoreError::Backend {
            what: "stored client id `x` is not valid".into(),
            cause: None,
        };
        let error = TokenError::from(corrupt);
        assert!(matches!(error, TokenError::Internal(_)));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "internal error: database error: stored client id `x` is not valid"
        );
    }
}
