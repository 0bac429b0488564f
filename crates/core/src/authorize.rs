//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1), read
//! in two steps because its errors go two ways (RFC 6749 §4.1.2.1): until the client and
//! its redirect URI are known, an error is shown to the user and never redirects (an open
//! redirector otherwise); after that, every error goes back to the client's redirect URI.

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::GrantType;
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::text::{TextRule, shown};

/// `state` and `nonce` are returned or embedded as given; bounded so a request cannot
/// make the server store or echo an arbitrary amount.
pub const OPAQUE_VALUE: TextRule = TextRule::single_line(1, 512);
/// A `login_hint` prefills the username field; no username is longer.
pub const LOGIN_HINT: TextRule = TextRule::single_line(0, 254);

/// Where an authorization request must send its answer: the client's redirect URI, as
/// the request gave it (a loopback port included), and the request's `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub redirect_uri: String,
    pub state: Option<String>,
}

/// OIDC `prompt`: whether the user must be asked again, or must not be asked at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    /// Ask only what is needed.
    #[default]
    Default,
    /// Never show a page: fail with `login_required` / `consent_required` instead.
    None,
    /// Sign in again even with a live session.
    Login,
    /// Ask for consent again even when it was given.
    Consent,
}

/// A valid authorization request for a known client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub reply_to: ReplyTo,
    pub scope: ScopeSet,
    pub code_challenge: CodeChallenge,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    /// Seconds since the user signed in beyond which they must sign in again.
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

/// Why a request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// The client or its redirect URI is unknown: shown to the user, never redirected.
    NoRedirect(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        reply_to: ReplyTo,
        error: OAuthError,
    },
}

impl AuthorizeRefusal {
    fn redirect(reply_to: &ReplyTo, error: OAuthError) -> Self {
        Self::Redirect {
            reply_to: reply_to.clone(),
            error,
        }
    }
}

/// Step one: the redirect URI the answer goes to. It must be registered for `client`
/// (exactly, but for a loopback port); it may be left out when the client registered
/// exactly one (RFC 6749 §3.1.2.3). `state` is checked here too, as every later error
/// carries it back.
pub fn reply_to(
    client: &Client,
    redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Result<ReplyTo, AuthorizeRefusal> {
    let registered = &client.metadata.redirect_uris;
    let redirect_uri = match redirect_uri {
        Some(presented) => registered
            .iter()
            .find(|uri| uri.matches(presented))
            .map(|_| presented.to_owned())
            .ok_or_else(|| {
                AuthorizeRefusal::NoRedirect(format!(
                    "redirect_uri `{}` is not registered for this client",
                    shown(presented)
                ))
            })?,
        None => match registered.as_slice() {
            [only] => only.as_str().to_owned(),
            [] => {
                return Err(AuthorizeRefusal::NoRedirect(
                    "this client has no redirect URI registered".to_owned(),
                ));
            }
            _ => {
                return Err(AuthorizeRefusal::NoRedirect(
                    "redirect_uri is required: this client registered several".to_owned(),
                ));
            }
        },
    };
    // A state the client cannot have sent is not echoed; the redirect carries none.
    let state = match state {
        Some(state) if OPAQUE_VALUE.check("state", state).is_err() => {
            return Err(AuthorizeRefusal::Redirect {
                reply_to: ReplyTo {
                    redirect_uri,
                    state: None,
                },
                error: OAuthError::invalid_request(
                    "state must be one line of at most 512 characters",
                ),
            });
        }
        other => other.map(str::to_owned),
    };
    Ok(ReplyTo {
        redirect_uri,
        state,
    })
}

/// The request's parameters after `client_id`, `redirect_uri` and `state`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParams<'a> {
    pub response_type: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub max_age: Option<&'a str>,
    pub login_hint: Option<&'a str>,
    /// `request` or `request_uri` (OIDC Core §6), which this server does not take.
    pub request_object: bool,
}

/// Step two: everything else, each error sent back to `reply_to`.
pub fn parse_request(
    client: &Client,
    reply_to: ReplyTo,
    params: RequestParams<'_>,
) -> Result<AuthorizationRequest, AuthorizeRefusal> {
    let refuse = |code: ErrorCode, description: String| {
        AuthorizeRefusal::redirect(&reply_to, OAuthError::new(code, description))
    };
    if params.request_object {
        return Err(refuse(
            ErrorCode::RequestNotSupported,
            "request objects (request, request_uri) are not supported".to_owned(),
        ));
    }
    match params.response_type {
        Some("code") => {}
        None => {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "response_type is required".to_owned(),
            ));
        }
        Some(other) => {
            return Err(refuse(
                ErrorCode::UnsupportedResponseType,
                format!(
                    "response_type `{}` is not supported; use code",
                    shown(other)
                ),
            ));
        }
    }
    if !client.metadata.allows_grant(GrantType::AuthorizationCode) {
        return Err(refuse(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant".to_owned(),
        ));
    }
    let allowed = &client.metadata.scope;
    let scope = match params.scope {
        Some(raw) => ScopeSet::parse(raw)
            .map_err(|why| refuse(ErrorCode::InvalidScope, format!("scope {why}")))?,
        // OIDC clients get `openid` (SPEC 5); others must say what they want.
        None if allowed.contains("openid") => ScopeSet::from_trusted("openid"),
        None => {
            return Err(refuse(
                ErrorCode::InvalidScope,
                "scope is required".to_owned(),
            ));
        }
    };
    if let Some(extra) = scope.iter().find(|name| !allowed.contains(name)) {
        return Err(refuse(
            ErrorCode::InvalidScope,
            format!("scope `{extra}` is not allowed for this client"),
        ));
    }
    let code_challenge = match params.code_challenge {
        Some(challenge) => CodeChallenge::parse(challenge, params.code_challenge_method)
            .map_err(|error| AuthorizeRefusal::redirect(&reply_to, error))?,
        None => {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "code_challenge is required (PKCE with S256)".to_owned(),
            ));
        }
    };
    let nonce = params
        .nonce
        .map(|nonce| {
            OPAQUE_VALUE
                .check("nonce", nonce)
                .map(|()| nonce.to_owned())
                .map_err(|why| refuse(ErrorCode::InvalidRequest, why.to_string()))
        })
        .transpose()?;
    let prompt = match params.prompt {
        None => Prompt::Default,
        Some("none") => Prompt::None,
        Some("login") => Prompt::Login,
        Some("consent") => Prompt::Consent,
        Some(other) => {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                format!(
                    "prompt `{}` is not supported (supported: none, login, consent)",
                    shown(other)
                ),
            ));
        }
    };
    let max_age = params
        .max_age
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                refuse(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative number of seconds".to_owned(),
                )
            })
        })
        .transpose()?;
    let login_hint = params
        .login_hint
        .map(|hint| {
            LOGIN_HINT
                .check("login_hint", hint)
                .map(|()| hint.to_owned())
                .map_err(|why| refuse(ErrorCode::InvalidRequest, why.to_string()))
        })
        .transpose()?;
    Ok(AuthorizationRequest {
        reply_to,
        scope,
        code_challenge,
        nonce,
        prompt,
        max_age,
        login_hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::client::default_clients;
    use crate::ids::ClientId;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// The desktop agent: public, loopback redirect URI, OIDC scopes.
    fn desktop() -> Client {
        let default = default_clients().remove(3);
        Client {
            client_id: ClientId::fixed(default.client_id),
            client_type: crate::grant::ClientType::Custom,
            metadata: default.metadata,
            is_default: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            tokens_revoked_before: None,
        }
    }

    fn params() -> RequestParams<'static> {
        RequestParams {
            response_type: Some("code"),
            scope: Some("openid offline_access"),
            code_challenge: Some(CHALLENGE),
            code_challenge_method: Some("S256"),
            ..RequestParams::default()
        }
    }

    fn reply() -> ReplyTo {
        reply_to(
            &desktop(),
            Some("http://127.0.0.1:51000/callback"),
            Some("xyz"),
        )
        .unwrap()
    }

    fn refused(params: RequestParams<'_>) -> OAuthError {
        match parse_request(&desktop(), reply(), params) {
            Err(AuthorizeRefusal::Redirect { reply_to, error }) => {
                assert_eq!(reply_to, reply());
                error
            }
            other => panic!("not redirected: {other:?}"),
        }
    }

    #[test]
    fn the_redirect_uri_must_be_registered_and_errors_before_it_never_redirect() {
        let client = desktop();
        let reply = reply_to(
            &client,
            Some("http://127.0.0.1:51000/callback"),
            Some("a b"),
        )
        .unwrap();
        assert_eq!(reply.redirect_uri, "http://127.0.0.1:51000/callback");
        assert_eq!(reply.state.as_deref(), Some("a b"));
        assert_eq!(
            reply_to(&client, None, None).unwrap().redirect_uri,
            "http://127.0.0.1/callback",
            "the only registered URI"
        );
        for wrong in [
            "http://127.0.0.1:51000/other",
            "https://evil.example/callback",
            "http://localhost:51000/callback",
        ] {
            assert!(
                matches!(
                    reply_to(&client, Some(wrong), None),
                    Err(AuthorizeRefusal::NoRedirect(_))
                ),
                "{wrong}"
            );
        }
        let bad_state = reply_to(&client, None, Some("a\nb"));
        assert!(matches!(
            bad_state,
            Err(AuthorizeRefusal::Redirect {
                reply_to: ReplyTo { state: None, .. },
                ..
            })
        ));
    }

    #[test]
    fn a_valid_request() {
        let request = parse_request(
            &desktop(),
            reply(),
            RequestParams {
                nonce: Some("n-0S6_WzA2Mj"),
                prompt: Some("login"),
                max_age: Some("300"),
                login_hint: Some("alice"),
                ..params()
            },
        )
        .unwrap();
        assert_eq!(request.scope.to_string(), "openid offline_access");
        assert_eq!(request.code_challenge.as_str(), CHALLENGE);
        assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(
            (request.prompt, request.max_age),
            (Prompt::Login, Some(300))
        );
        let defaulted = parse_request(
            &desktop(),
            reply(),
            RequestParams {
                scope: None,
                ..params()
            },
        )
        .unwrap();
        assert_eq!(defaulted.scope.to_string(), "openid");
    }

    #[test]
    fn each_error_goes_back_with_its_code() {
        for (params, code, says) in [
            (
                RequestParams {
                    response_type: Some("token"),
                    ..params()
                },
                ErrorCode::UnsupportedResponseType,
                "token",
            ),
            (
                RequestParams {
                    response_type: None,
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "response_type is required",
            ),
            (
                RequestParams {
                    scope: Some("openid admin"),
                    ..params()
                },
                ErrorCode::InvalidScope,
                "`admin`",
            ),
            (
                RequestParams {
                    code_challenge: None,
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "code_challenge is required",
            ),
            (
                RequestParams {
                    code_challenge_method: Some("plain"),
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "plain is not allowed",
            ),
            (
                RequestParams {
                    code_challenge_method: None,
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "plain is not allowed",
            ),
            (
                RequestParams {
                    prompt: Some("select_account"),
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "prompt",
            ),
            (
                RequestParams {
                    max_age: Some("-1"),
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "max_age",
            ),
            (
                RequestParams {
                    nonce: Some("a\u{0}"),
                    ..params()
                },
                ErrorCode::InvalidRequest,
                "nonce",
            ),
            (
                RequestParams {
                    request_object: true,
                    ..params()
                },
                ErrorCode::RequestNotSupported,
                "request objects",
            ),
        ] {
            let error = refused(params);
            assert_eq!(error.code, code, "{}", error.description);
            assert!(error.description.contains(says), "{}", error.description);
        }
    }

    #[test]
    fn a_client_without_the_code_grant_is_unauthorized() {
        let mut client = desktop();
        client.metadata.grant_types = vec![GrantType::ClientCredentials];
        let refusal = parse_request(&client, reply(), params()).unwrap_err();
        assert!(matches!(
            refusal,
            AuthorizeRefusal::Redirect {
                error: OAuthError {
                    code: ErrorCode::UnauthorizedClient,
                    ..
                },
                ..
            }
        ));
    }
}
