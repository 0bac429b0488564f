//! The authorization endpoint's decisions (RFC 6749 §4.1, OIDC Core §3.1.2): which
//! client and redirect URI, whether the user must sign in or consent, and the code. The
//! web layer shows the pages; every rule is here.

use thetasecure_core::authorize::{
    AuthorizationRequest, AuthorizeRefusal, Prompt, ReplyTo, RequestParams, parse_request, reply_to,
};
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use thetasecure_core::opaque::{OpaqueKind, OpaqueToken};
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::text::IDENTIFIER;
use thetasecure_core::{ErrorCode, OAuthError};
use thetasecure_store::{AuthorizationCodeRecord, ConsentRecord};

use crate::sessions::SignedIn;
use crate::{AdminError, App};

/// What a `client_id` in a browser's request names.
pub(crate) enum NamedClient {
    Unknown,
    Disabled,
    Active(Box<Client>),
}

/// An authorization code lives this long (SPEC 5; RFC 6749 §4.1.2 says at most 10 min).
pub const CODE_LIFETIME_SECONDS: i64 = 60;

/// The request's parameters as the browser sent them.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizeParams<'a> {
    pub client_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    pub request: RequestParams<'a>,
}

/// A scope as the consent page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeShown {
    pub name: String,
    pub description: String,
}

/// What the browser is to do next.
#[derive(Debug)]
pub enum Authorization {
    /// Sign in, then come back to the same request (without `prompt` and `max_age`, which
    /// the fresh sign-in satisfies).
    SignIn {
        client_name: String,
        login_hint: Option<String>,
    },
    /// Ask the user whether `client_name` may have `scopes`.
    Consent {
        client_name: String,
        scopes: Vec<ScopeShown>,
    },
    /// Go back to the client: with a code, or with an error.
    Redirect(String),
}

/// Why the request cannot go on at all.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// Shown on an error page: the client or its redirect URI is not known, so there is
    /// nowhere safe to send the browser.
    #[error("{0}")]
    NoRedirect(String),
    #[error(transparent)]
    Failed(#[from] AdminError),
}

impl App {
    /// Decides what an authorization request needs, given who is signed in.
    pub async fn authorize(
        &self,
        params: AuthorizeParams<'_>,
        signed_in: Option<&SignedIn>,
    ) -> Result<Authorization, AuthorizeError> {
        let (client, request) = match self.read_request(params).await? {
            Ok(read) => read,
            Err(redirect) => return Ok(Authorization::Redirect(redirect)),
        };
        let now = self.clock().now();
        let fresh_enough = |session: &SignedIn| {
            let age = now.unix_seconds() - session.auth_time.unix_seconds();
            request.max_age.is_none_or(|max| age <= max as i64)
        };
        let session = match signed_in {
            Some(session) if request.prompt != Prompt::Login && fresh_enough(session) => session,
            _ if request.prompt == Prompt::None => {
                return Ok(self.refuse(
                    &request.reply_to,
                    ErrorCode::LoginRequired,
                    "the user must sign in",
                ));
            }
            _ => {
                return Ok(Authorization::SignIn {
                    client_name: client.metadata.client_name.clone(),
                    login_hint: request.login_hint.clone(),
                });
            }
        };
        if self.needs_consent(&client, &request, session).await? {
            if request.prompt == Prompt::None {
                return Ok(self.refuse(
                    &request.reply_to,
                    ErrorCode::ConsentRequired,
                    "the user must consent",
                ));
            }
            return Ok(Authorization::Consent {
                client_name: client.metadata.client_name.clone(),
                scopes: self.scopes_shown(&request.scope).await?,
            });
        }
        Ok(Authorization::Redirect(
            self.issue_code(&client, &request, session).await?,
        ))
    }

    /// The user's answer on the consent page, for the same request (re-read and checked
    /// again: the form carries it). Allowing remembers the consent for these scopes.
    pub async fn answer_consent(
        &self,
        params: AuthorizeParams<'_>,
        session: &SignedIn,
        allow: bool,
    ) -> Result<String, AuthorizeError> {
        let (client, request) = match self.read_request(params).await? {
            Ok(read) => read,
            Err(redirect) => return Ok(redirect),
        };
        if !allow {
            return Ok(redirect_with_error(
                &request.reply_to,
                self.issuer(),
                &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
            ));
        }
        let consents = self.store().consents();
        let previous = consents
            .get(&session.user.id, &client.client_id)
            .await
            .map_err(store_error)?;
        let scope = match previous.and_then(|p| ScopeSet::parse(&p.scope).ok()) {
            Some(granted) => granted.union(&request.scope),
            None => request.scope.clone(),
        };
        let record = ConsentRecord {
            user_id: session.user.id.clone(),
            client_id: client.client_id.clone(),
            scope: scope.to_string(),
            granted_at: self.clock().now(),
        };
        consents.grant(&record).await.map_err(store_error)?;
        Ok(self.issue_code(&client, &request, session).await?)
    }

    /// The client and the valid request, or the redirect that refuses it.
    async fn read_request(
        &self,
        params: AuthorizeParams<'_>,
    ) -> Result<Result<(Client, AuthorizationRequest), String>, AuthorizeError> {
        let client = self.client_for_authorization(params.client_id).await?;
        let reply_to = match reply_to(&client, params.redirect_uri, params.state) {
            Ok(reply_to) => reply_to,
            Err(refusal) => return Ok(Err(self.refusal_redirect(refusal)?)),
        };
        match parse_request(&client, reply_to, params.request) {
            Ok(request) => Ok(Ok((client, request))),
            Err(refusal) => Ok(Err(self.refusal_redirect(refusal)?)),
        }
    }

    fn refusal_redirect(&self, refusal: AuthorizeRefusal) -> Result<String, AuthorizeError> {
        match refusal {
            AuthorizeRefusal::NoRedirect(why) => Err(AuthorizeError::NoRedirect(why)),
            AuthorizeRefusal::Redirect { reply_to, error } => {
                Ok(redirect_with_error(&reply_to, self.issuer(), &error))
            }
        }
    }

    fn refuse(&self, reply_to: &ReplyTo, code: ErrorCode, why: &str) -> Authorization {
        Authorization::Redirect(redirect_with_error(
            reply_to,
            self.issuer(),
            &OAuthError::new(code, why),
        ))
    }

    /// An active client the request names; anything else is an error page.
    async fn client_for_authorization(
        &self,
        client_id: Option<&str>,
    ) -> Result<Client, AuthorizeError> {
        let raw = client_id
            .ok_or_else(|| AuthorizeError::NoRedirect("client_id is required".to_owned()))?;
        let why = match self.named_client(raw).await? {
            NamedClient::Active(client) => return Ok(*client),
            NamedClient::Unknown => "the application is not known here",
            NamedClient::Disabled => "the application is disabled",
        };
        Err(AuthorizeError::NoRedirect(why.to_owned()))
    }

    /// The client a browser's request names by `client_id`, read through the cache.
    /// Pages refuse an unknown or disabled one on an error page, never redirecting.
    pub(crate) async fn named_client(&self, raw: &str) -> Result<NamedClient, AdminError> {
        if IDENTIFIER.check("client_id", raw).is_err() {
            return Ok(NamedClient::Unknown);
        }
        let Some(id) = ClientId::parse(raw) else {
            return Ok(NamedClient::Unknown);
        };
        let entry = self
            .client_entry(&id)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        Ok(match entry {
            None => NamedClient::Unknown,
            Some(entry) if !entry.client.is_active() => NamedClient::Disabled,
            Some(entry) => NamedClient::Active(Box::new(entry.client.clone())),
        })
    }

    async fn needs_consent(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        session: &SignedIn,
    ) -> Result<bool, AdminError> {
        if !client.metadata.require_user_consent {
            return Ok(false);
        }
        if request.prompt == Prompt::Consent {
            return Ok(true);
        }
        let consent = self
            .store()
            .consents()
            .get(&session.user.id, &client.client_id)
            .await
            .map_err(store_error)?;
        Ok(consent
            .and_then(|c| ScopeSet::parse(&c.scope).ok())
            .is_none_or(|granted| request.scope.first_missing_from(&granted).is_some()))
    }

    /// The requested scopes with their registered descriptions, read in one query.
    async fn scopes_shown(&self, scope: &ScopeSet) -> Result<Vec<ScopeShown>, AdminError> {
        let registered = self
            .store()
            .scopes()
            .list()
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))?;
        Ok(scope
            .iter()
            .map(|name| ScopeShown {
                name: name.to_owned(),
                description: registered
                    .iter()
                    .find(|record| record.name == name)
                    .map(|record| record.description.clone())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Stores a new code for this request and returns the redirect that delivers it.
    async fn issue_code(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        session: &SignedIn,
    ) -> Result<String, AdminError> {
        let code = OpaqueToken::generate(OpaqueKind::AuthorizationCode);
        let now = self.clock().now();
        let record = AuthorizationCodeRecord {
            code_hash: code.hash(),
            client_id: client.client_id.clone(),
            user_id: session.user.id.clone(),
            session_id_hash: Some(session.session_hash.clone()),
            redirect_uri: request.reply_to.redirect_uri.clone(),
            scope: request.scope.to_string(),
            code_challenge: Some(request.code_challenge.as_str().to_owned()),
            nonce: request.nonce.clone(),
            auth_time: session.auth_time,
            created_at: now,
            expires_at: now.plus_seconds(CODE_LIFETIME_SECONDS),
            redeemed_at: None,
            access_token_jti: None,
            access_token_expires_at: None,
            refresh_family_id: None,
        };
        self.store()
            .authorization_codes()
            .insert(&record)
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %client.client_id, user_id = %session.user.id, "authorization code issued");
        Ok(redirect(
            &request.reply_to,
            self.issuer(),
            &[("code", code.expose())],
        ))
    }
}

fn store_error(error: thetasecure_store::StoreError) -> AdminError {
    AdminError::from_store(error, "authorization")
}

/// The client's redirect URI with `extra`, the request's `state` and `iss` (RFC 9207)
/// added to its query.
fn redirect(reply_to: &ReplyTo, issuer: &str, extra: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(&reply_to.redirect_uri) {
        Ok(url) => url,
        // Registered URIs were parsed when registered; this cannot happen.
        Err(_) => return reply_to.redirect_uri.clone(),
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in extra {
            query.append_pair(name, value);
        }
        if let Some(state) = &reply_to.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

fn redirect_with_error(reply_to: &ReplyTo, issuer: &str, error: &OAuthError) -> String {
    redirect(
        reply_to,
        issuer,
        &[
            ("error", error.code.as_str()),
            ("error_description", &error.description),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_keeps_the_uris_query_and_adds_state_and_iss() {
        let reply_to = ReplyTo {
            redirect_uri: "https://app.example/cb?tenant=a".to_owned(),
            state: Some("s t&x".to_owned()),
        };
        assert_eq!(
            redirect(&reply_to, "https://id.example", &[("code", "tsc_abc")]),
            "https://app.example/cb?tenant=a&code=tsc_abc&state=s+t%26x&iss=https%3A%2F%2Fid.example"
        );
        let native = ReplyTo {
            redirect_uri: "com.thetasecure.mobile:/oauth2/callback".to_owned(),
            state: None,
        };
        let error = OAuthError::new(ErrorCode::AccessDenied, "no");
        assert_eq!(
            redirect_with_error(&native, "https://id.example", &error),
            "com.thetasecure.mobile:/oauth2/callback?error=access_denied&error_description=no&iss=https%3A%2F%2Fid.example"
        );
    }
}
