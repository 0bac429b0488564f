//! Extractors that turn malformed requests into OAuth `invalid_request` JSON, never
//! axum's plain-text rejections.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use data_encoding::BASE64;
use http_body_util::BodyExt as _;
use serde_json::Value;
use thetasecure_app::{App, ClientAuthentication, ClientCredentials};
use thetasecure_core::OAuthError;
use thetasecure_core::grant::AuthMethod;
use thetasecure_core::secret::PlainSecret;

use crate::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::unambiguous_json;

/// Where the request comes from, for the sign-in and client-authentication limits: the
/// peer, or behind a trusted proxy the client its `X-Forwarded-For` names
/// (`thetasecure_app::client_address`).
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<App> for ClientAddress {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            // Only a router served without connection info gets here: a bug, not input.
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "no peer address"));
        };
        let trusted = &app.settings().trusted_proxies;
        if trusted.is_empty() {
            return Ok(Self(peer.ip()));
        }
        let forwarded_for = parts
            .headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok());
        Ok(Self(trusted.client_address(peer.ip(), forwarded_for)))
    }
}

const FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

fn invalid(description: impl Into<String>) -> ApiError {
    OAuthError::invalid_request(description).into()
}

/// Whether `Content-Type` names one of `accepted`, ignoring case, parameters and the
/// whitespace around the media type (RFC 9110 §8.3.1).
pub(crate) fn has_media_type(headers: &HeaderMap, accepted: &[&str]) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let value = value.as_bytes();
    let media = &value[..memchr::memchr(b';', value).unwrap_or(value.len())];
    let media = media.trim_ascii();
    accepted
        .iter()
        .any(|ok| media.eq_ignore_ascii_case(ok.as_bytes()))
}

/// The whole body, refused with 413 beyond `MAX_BODY_BYTES` (SECURITY D4): a declared
/// length is checked before reading, a chunked body as it arrives.
pub(crate) async fn body_bytes(request: Request) -> Result<Bytes, ApiError> {
    let declared_too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES as u64);
    if declared_too_large {
        return Err(ApiError::body_too_large(MAX_BODY_BYTES));
    }
    // Frames read directly rather than through `to_bytes` (a `Limited` body under a
    // `Collect`): that machinery cost about a thousand instructions a request, and a
    // form almost always arrives in one frame, which is then returned as it came.
    let mut body = request.into_body();
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| invalid("the request body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing a form or JSON body needs
        };
        let read = joined.as_ref().map_or(first.len(), Vec::len);
        if read + data.len() > MAX_BODY_BYTES {
            return Err(ApiError::body_too_large(MAX_BODY_BYTES));
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => joined = Some([&first[..], &data[..]].concat()),
        }
    }
    Ok(joined.map_or(first, Bytes::from))
}

/// More parameters than any OAuth or admin request needs; beyond it the request is
/// refused, so the repeated-parameter check stays cheap whatever a caller sends.
const MAX_PARAMS: usize = 64;

/// Unique, non-empty parameters from a form or a query string (RFC 6749 §3.1, §3.2:
/// empty values count as omitted; a repeated parameter is an error), in request order.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(encoded: &[u8]) -> Result<Self, ApiError> {
        let mut params: Vec<(String, String)> = Vec::new();
        let mut start = 0;
        let ends = memchr::memchr_iter(b'&', encoded).chain([encoded.len()]);
        for end in ends {
            let pair = &encoded[start..end];
            start = end + 1;
            let Some((name, value)) = decode_pair(pair) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(invalid(format!(
                    "parameter `{}` is repeated",
                    thetasecure_core::text::shown(&name)
                )));
            }
            if params.len() == MAX_PARAMS {
                return Err(invalid(format!(
                    "more than {MAX_PARAMS} parameters in one request"
                )));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(params))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One `name=value` pair of a form. Tokens, ids and grant types carry no escapes, and
/// for those a UTF-8 check and a borrow replace decoding byte by byte, which profiling
/// showed cost more than a whole echo request for a 400-byte token.
fn decode_pair(pair: &[u8]) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    if pair.is_empty() {
        return None;
    }
    if memchr::memchr2(b'%', b'+', pair).is_none()
        && let Ok(pair) = std::str::from_utf8(pair)
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        return Some((Cow::Borrowed(name), Cow::Borrowed(value)));
    }
    url::form_urlencoded::parse(pair).next()
}

/// One form-urlencoded component on its own, as `Authorization: Basic` carries the client
/// id and secret (RFC 6749 §2.3.1).
fn decode_component(encoded: String) -> String {
    if memchr::memchr2(b'%', b'+', encoded.as_bytes()).is_none() {
        return encoded;
    }
    url::form_urlencoded::parse(format!("v={encoded}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// An `application/x-www-form-urlencoded` body, as the OAuth endpoints take it, with the
/// request's `Authorization` header (taken here so handlers need not copy every header).
pub struct OAuthForm {
    params: Params,
    authorization: Option<HeaderValue>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
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
        let authorization = request.headers().get(header::AUTHORIZATION).cloned();
        Ok(OAuthForm {
            params: Params::parse(&body_bytes(request).await?)?,
            authorization,
        })
    }
}

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// The request's `Authorization` header, for a bearer token sent beside a form.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// How the client identifies itself: a secret (as [`Self::client_credentials`]), or,
    /// with neither `Authorization` nor `client_secret`, its `client_id` alone (`none`,
    /// for public clients, RFC 6749 §2.3 and §3.2.1).
    pub fn client_authentication(
        &self,
        source: IpAddr,
    ) -> Result<(ClientAuthentication, bool), ApiError> {
        match (
            &self.authorization,
            self.get("client_secret"),
            self.get("client_id"),
        ) {
            (None, None, Some(client_id)) => Ok((
                ClientAuthentication::Public {
                    client_id: client_id.to_owned(),
                },
                false,
            )),
            _ => self
                .client_credentials(source)
                .map(|(credentials, basic)| (ClientAuthentication::Secret(credentials), basic)),
        }
    }

    /// The client's credentials, from exactly one of `Authorization: Basic` or the body
    /// (RFC 6749 §2.3.1; OAuth 2.1 §2.4: one method per request). The flag says Basic was used.
    pub fn client_credentials(
        &self,
        source: IpAddr,
    ) -> Result<(ClientCredentials, bool), ApiError> {
        let body_secret = self.get("client_secret");
        match &self.authorization {
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
                let decoded = BASE64
                    .decode(encoded.trim().as_bytes())
                    .map_err(|_| basic_error())?;
                let mut id = String::from_utf8(decoded).map_err(|_| basic_error())?;
                let colon = id.find(':').ok_or_else(basic_error)?;
                let secret = id.split_off(colon + 1);
                id.truncate(colon);
                let client_id = decode_component(id);
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
                        secret: PlainSecret::new(decode_component(secret)),
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

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(
            request.headers(),
            &["application/json", "application/merge-patch+json"],
        ) {
            return Err(invalid("the body must be application/json"));
        }
        let bytes = body_bytes(request).await?;
        let value = unambiguous_json::parse(&bytes).map_err(|e| {
            if unambiguous_json::is_ambiguity(&e) {
                invalid(format!("the body is ambiguous: {e}"))
            } else {
                invalid(format!("the body is not valid JSON: {e}"))
            }
        })?;
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
pub struct QueryParams(Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Params::parse(parts.uri.query().unwrap_or_default().as_bytes()).map(QueryParams)
    }
}

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
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
        let params = Params::parse(b"a=1&b=&c=%20x&&d").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some(" x"));
        assert_eq!(params.get("d"), None);
        assert!(Params::parse(b"a=1&a=2").is_err());
        assert!(Params::parse(b"a=1&a%3D=2&a=3").is_err());
    }

    #[test]
    fn escaped_and_plain_pairs_decode_alike() {
        for (encoded, name, value) in [
            (&b"token=abc.def-ghi_j"[..], "token", "abc.def-ghi_j"),
            (&b"scope=a+b"[..], "scope", "a b"),
            (&b"scope=a%20b%2Bc"[..], "scope", "a b+c"),
            (&b"na%6De=v=w"[..], "name", "v=w"),
            (&b"k=\xff"[..], "k", "\u{fffd}"),
        ] {
            let params = Params::parse(encoded).unwrap();
            assert_eq!(params.get(name), Some(value), "{encoded:?}");
        }
        assert_eq!(decode_component("id%3Awith+space".into()), "id:with space");
        assert_eq!(decode_component("plain".into()), "plain");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_with_413() {
        // No Content-Length: the limit applies while reading, as for a chunked body.
        let request = Request::new(axum::body::Body::from(vec![b'a'; MAX_BODY_BYTES + 1]));
        let refused = body_bytes(request).await.unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        let request = Request::new(axum::body::Body::from(vec![b'a'; MAX_BODY_BYTES]));
        assert_eq!(body_bytes(request).await.unwrap().len(), MAX_BODY_BYTES);
    }

    fn chunked(chunks: Vec<Vec<u8>>) -> Request {
        let frames = chunks.into_iter().map(Ok::<_, std::io::Error>);
        Request::new(axum::body::Body::from_stream(futures::stream::iter(frames)))
    }

    #[tokio::test]
    async fn a_body_in_several_frames_is_joined_and_limited_as_a_whole() {
        let parts = vec![
            b"token=".to_vec(),
            vec![],
            b"abc".to_vec(),
            b"&x=1".to_vec(),
        ];
        assert_eq!(
            &body_bytes(chunked(parts)).await.unwrap()[..],
            b"token=abc&x=1"
        );
        let half = vec![b'a'; MAX_BODY_BYTES / 2 + 1];
        let refused = body_bytes(chunked(vec![half.clone(), half]))
            .await
            .unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body_bytes(chunked(vec![])).await.unwrap().is_empty());
    }

    #[test]
    fn media_types_match_without_case_parameters_or_spaces() {
        let form = ["application/x-www-form-urlencoded"];
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            has_media_type(&headers, &form)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("Application/X-WWW-Form-URLEncoded; charset=UTF-8"));
        assert!(with(" application/x-www-form-urlencoded ;charset=utf-8"));
        assert!(!with("application/json"));
        assert!(!with("application/x-www-form-urlencoded-not"));
        assert!(!with(""));
        assert!(!has_media_type(&HeaderMap::new(), &form));
    }

    fn basic_form(authorization: &str) -> OAuthForm {
        OAuthForm {
            params: Params::default(),
            authorization: Some(HeaderValue::from_str(authorization).unwrap()),
        }
    }

    #[test]
    fn basic_credentials_are_decoded_as_rfc_6749_says() {
        let source = IpAddr::from([127, 0, 0, 1]);
        let basic = |raw: &str| format!("Basic {}", BASE64.encode(raw.as_bytes()));
        for (sent, id, secret) in [
            (basic("ts_a:tss_b"), "ts_a", "tss_b"),
            // Each part is form-urlencoded first (§2.3.1); the secret may hold a colon.
            (basic("id%3Ax:se+cr%25et"), "id:x", "se cr%et"),
            (basic("ts_a:b:c"), "ts_a", "b:c"),
            (format!("basic {}", BASE64.encode(b"ts_a:s")), "ts_a", "s"),
        ] {
            let (credentials, was_basic) = basic_form(&sent).client_credentials(source).unwrap();
            assert!(was_basic);
            assert_eq!(credentials.client_id, id, "{sent}");
            assert_eq!(credentials.secret.expose(), secret, "{sent}");
        }
        for malformed in [
            "Basic !!!!".to_owned(),
            basic("no-colon"),
            format!("Basic {}", BASE64.encode(b"\xff:\xfe")),
            "Bearer abc".to_owned(),
        ] {
            let refused = basic_form(&malformed)
                .client_credentials(source)
                .unwrap_err();
            assert_eq!(
                refused.status(),
                axum::http::StatusCode::UNAUTHORIZED,
                "{malformed}"
            );
        }
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert!(Params::parse(many.join("&").as_bytes()).is_err());
        assert!(Params::parse(many[..MAX_PARAMS].join("&").as_bytes()).is_ok());
    }
}
