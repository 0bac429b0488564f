//! The one mapping from errors to HTTP: status codes, `WWW-Authenticate`, `Retry-After`
//! and `Cache-Control: no-store`, with an RFC 6749 §5.2 JSON body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thetasecure_app::{AdminError, TokenError};
use thetasecure_core::{ErrorChain, ErrorCode, OAuthError};

/// The error body of every endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// An RFC 6749 / RFC 7591 / RFC 6750 error code.
    pub error: String,
    /// What was wrong, naming the field.
    pub error_description: String,
}

/// The `error` member: an OAuth error code, or one of the admin API's own outcomes,
/// which are HTTP's and have no OAuth code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    OAuth(ErrorCode),
    NotFound,
    Conflict,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Self::OAuth(code) => code.as_str(),
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    /// What was wrong, naming the field.
    description: String,
    /// The `WWW-Authenticate` challenge, where the status calls for one.
    challenge: Option<String>,
    /// Set when throttled: 429 with this `Retry-After`, whatever the error code.
    throttled_for: Option<u64>,
    /// A status the error code alone does not say (413 for an oversized body).
    status: Option<StatusCode>,
}

impl ApiError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError::new(code, description).into()
    }

    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// The request body is larger than the server accepts (RFC 9110 §15.5.14).
    pub fn body_too_large(limit: usize) -> Self {
        Self {
            status: Some(StatusCode::PAYLOAD_TOO_LARGE),
            ..Self::new(
                ErrorCode::InvalidRequest,
                format!("the request body exceeds {limit} bytes"),
            )
        }
    }

    /// What was wrong, as the body's `error_description` says it.
    pub(crate) fn description(&self) -> &str {
        &self.description
    }

    pub(crate) fn status(&self) -> StatusCode {
        if self.throttled_for.is_some() {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        if let Some(status) = self.status {
            return status;
        }
        match self.code {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Conflict => StatusCode::CONFLICT,
            Code::OAuth(ErrorCode::InvalidClient | ErrorCode::InvalidToken) => {
                StatusCode::UNAUTHORIZED
            }
            Code::OAuth(ErrorCode::InsufficientScope) => StatusCode::FORBIDDEN,
            Code::OAuth(ErrorCode::TemporarilyUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Code::OAuth(ErrorCode::ServerError) => StatusCode::INTERNAL_SERVER_ERROR,
            Code::OAuth(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// Maps a token-endpoint error; `basic_auth` says the client used the
    /// `Authorization` header, which makes `invalid_client` carry a Basic challenge.
    pub fn from_token_error(error: TokenError, basic_auth: bool) -> Self {
        match error {
            TokenError::InvalidClient(why) => {
                let error = Self::new(ErrorCode::InvalidClient, why);
                if basic_auth {
                    error.with_challenge("Basic realm=\"thetasecure\", charset=\"UTF-8\"")
                } else {
                    error
                }
            }
            TokenError::Rejected(error) => error.into(),
            // RFC 6585 §4; OAuth has no code for it, so the body says invalid_client (SECURITY D4).
            TokenError::Throttled {
                retry_after_seconds,
            } => Self {
                throttled_for: Some(retry_after_seconds),
                ..Self::new(
                    ErrorCode::InvalidClient,
                    "too many failed authentication attempts; retry later",
                )
            },
            TokenError::SignInThrottled {
                retry_after_seconds,
            } => Self {
                throttled_for: Some(retry_after_seconds),
                ..Self::new(
                    ErrorCode::InvalidGrant,
                    "too many failed sign-ins for this user or from this address; retry later",
                )
            },
            TokenError::Unavailable(cause) => Self::unavailable_because(&cause),
            TokenError::Internal(cause) => Self::internal(&*cause),
        }
    }

    /// 503; `cause` is logged here, where it becomes the response, and nowhere else.
    pub fn unavailable_because(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::warn!(error = %ErrorChain(cause), "storage unavailable");
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "storage is temporarily unavailable; retry shortly",
        )
    }

    /// 500; `cause` is logged here, where it becomes the response, and nowhere else.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(ErrorCode::ServerError, "internal server error")
    }
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        Self::with_code(Code::OAuth(error.code), error.description)
    }
}

impl ApiError {
    fn with_code(code: Code, description: String) -> Self {
        Self {
            code,
            description,
            challenge: None,
            throttled_for: None,
            status: None,
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid(error) => error.into(),
            AdminError::NotFound(what) => {
                Self::with_code(Code::NotFound, format!("{what} not found"))
            }
            AdminError::Conflict(why) => Self::with_code(Code::Conflict, why),
            AdminError::Unavailable(cause) => Self::unavailable_because(&cause),
            AdminError::Internal(cause) => Self::internal(&*cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.code.as_str().to_owned(),
            error_description: self.description,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(value) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = self.throttled_for {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log line has the whole chain; the client sees only the RFC-style body.
    #[test]
    fn an_internal_error_is_logged_with_its_causes_and_answered_plainly() {
        let cause = std::io::Error::other("disk on fire");
        let error = AdminError::Internal(Box::new(cause));
        assert_eq!(
            ErrorChain(&error).to_string(),
            "internal error: disk on fire"
        );
        let response = ApiError::from(error);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.description, "internal server error");
    }
}
