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
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    /// Maps a store error, naming what a NotFound was about.
    pub fn from_store(error: StoreError, what: &'static str) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound(what),
            StoreError::Conflict(why) => Self::Conflict(why),
            StoreError::Busy | StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Backend(why) => Self::Internal(why),
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
    #[error("storage temporarily unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for TokenError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy | StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        Self::Rejected(error)
    }
}
