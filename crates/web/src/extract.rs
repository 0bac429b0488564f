//! Extractors that turn malformed requests into OAuth `invalid_request` JSON, never
//! axum's plain-text rejections.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use thetasecure_app::ClientCredentials;
use thetasecure_core::OAuthError;
use thetasecure_core::grant::AuthMethod;
use thetasecure_core::secret::PlainSecret;

use crate::error::ApiError;

fn invalid(description: impl Into<String>) -> ApiError {
    OAuthError::invalid_request(description).into()
}

fn has_media_type(headers: &HeaderMap, accepted: &[&str]) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            accepted
                .iter()
                .any(|ok| media.trim().eq_ignore_ascii_case(ok))
        })
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|_| invalid("the request body could not be read (too large?)"))
}

/// Unique, non-empty parameters from a form or a query string (RFC 6749 §3.1, §3.2:
/// empty values count as omitted; a repeated parameter is an error).
fn unique_params(encoded: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if value.is_empty() {
            continue;
        }
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(invalid(format!("parameter `{name}` is repeated")));
        }
    }
    Ok(params)
}

/// An `application/x-www-form-urlencoded` body, as the OAuth endpoints take it.
pub struct OAuthForm(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), &["application/x-www-form-urlencoded"]) {
            return Err(invalid(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        if request
            .uri()
            .query()
            .is_some_and(|q| q.contains("client_secret"))
        {
            return Err(invalid("credentials must not be sent in the request URI"));
        }
        unique_params(&body_bytes(request, state).await?).map(OAuthForm)
    }
}

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The client's credentials, from exactly one of `Authorization: Basic` or the body
    /// (RFC 6749 §2.3.1; OAuth 2.1 §2.4: one method per request). The flag says Basic was used.
    pub fn client_credentials(
        &self,
        headers: &HeaderMap,
        source: IpAddr,
    ) -> Result<(ClientCredentials, bool), ApiError> {
        let body_secret = self.get("client_secret");
        match headers.get(header::AUTHORIZATION) {
            Some(value) => {
                if body_secret.is_some() {
                    return Err(invalid(
                        "use one client authentication method: Basic or client_secret in the body, not both",
                    ));
                }
                let basic_error = || {
                    ApiError::from_token_error(
                        thetasecure_app::TokenError::InvalidClient("malformed Basic credentials"),
                        true,
                    )
                };
                let encoded = value
                    .to_str()
                    .ok()
                    .and_then(|v| {
                        v.strip_prefix("Basic ")
                            .or_else(|| v.strip_prefix("basic "))
                    })
                    .ok_or_else(basic_error)?;
                let decoded = STANDARD.decode(encoded.trim()).map_err(|_| basic_error())?;
                let decoded = String::from_utf8(decoded).map_err(|_| basic_error())?;
                let (id, secret) = decoded.split_once(':').ok_or_else(basic_error)?;
                let unescape = |part: &str| -> String {
                    url::form_urlencoded::parse(format!("v={part}").as_bytes())
                        .next()
                        .map(|(_, value)| value.into_owned())
                        .unwrap_or_default()
                };
                let client_id = unescape(id);
                if self
                    .get("client_id")
                    .is_some_and(|body_id| body_id != client_id)
                {
                    return Err(invalid(
                        "client_id in the body differs from the Basic credentials",
                    ));
                }
                Ok((
                    ClientCredentials {
                        client_id,
                        secret: PlainSecret::new(unescape(secret)),
                        method: AuthMethod::ClientSecretBasic,
                        source,
                    },
                    true,
                ))
            }
            None => match (self.get("client_id"), body_secret) {
                (Some(id), Some(secret)) => Ok((
                    ClientCredentials {
                        client_id: id.to_owned(),
                        secret: PlainSecret::new(secret.to_owned()),
                        method: AuthMethod::ClientSecretPost,
                        source,
                    },
                    false,
                )),
                _ => Err(ApiError::from_token_error(
                    thetasecure_app::TokenError::InvalidClient("client authentication is required"),
                    true,
                )),
            },
        }
    }
}

/// A JSON object body (`application/json`, or `application/merge-patch+json` for PATCH).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(
            request.headers(),
            &["application/json", "application/merge-patch+json"],
        ) {
            return Err(invalid("the body must be application/json"));
        }
        let bytes = body_bytes(request, state).await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("the body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(invalid("the body must be a JSON object"));
        }
        Ok(JsonBody(value))
    }
}

/// An optional JSON body: absent when the request has no body at all.
impl<S: Send + Sync> axum::extract::OptionalFromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let has_body = request.headers().contains_key(header::CONTENT_TYPE)
            || request
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_some_and(|len| len != "0");
        if !has_body {
            return Ok(None);
        }
        <JsonBody as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

/// Query parameters with the same rules as forms.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        unique_params(parts.uri.query().unwrap_or_default().as_bytes()).map(QueryParams)
    }
}

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(invalid(format!("{name} must be true or false"))),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.parse()
                    .map_err(|_| invalid(format!("{name} must be a non-negative integer")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_repeats_refused() {
        let params = unique_params(b"a=1&b=&c=%20x").unwrap();
        assert_eq!(params.get("a").map(String::as_str), Some("1"));
        assert!(!params.contains_key("b"));
        assert_eq!(params.get("c").map(String::as_str), Some(" x"));
        assert!(unique_params(b"a=1&a=2").is_err());
    }
}
