//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the request read and
//! checked against the application's registration, then, once the user confirmed, the
//! browser's session ended. The rules are `core::logout`'s; the pages are the web layer's.

use thetasecure_core::ids::ClientId;
use thetasecure_core::logout::{
    IdTokenHint, LogoutRefusal, redirect_after_logout, requesting_client,
};
use thetasecure_core::oidc::ID_TOKEN_TYP;

use crate::authorize::NamedClient;
use crate::keys::{JwsError, VerifiedJws};
use crate::{AdminError, App};

/// The request's parameters as the browser sent them (`ui_locales` and any other are
/// ignored).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogoutParams<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// The application a logout request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClient {
    pub client_id: ClientId,
    pub client_name: String,
}

/// A logout request that may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// Who asks, when the request names an application.
    pub client: Option<LogoutClient>,
    /// The checked `post_logout_redirect_uri` and `state`, as the request gave them, for
    /// the confirmation form to carry.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// Where the browser goes after signing out: the registered URI with `state`.
    pub redirect: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Shown on an error page; the browser is never redirected.
    #[error(transparent)]
    Refused(#[from] LogoutRefusal),
    #[error(transparent)]
    Failed(#[from] AdminError),
}

fn refused(why: &str) -> LogoutError {
    LogoutError::Refused(LogoutRefusal(why.to_owned()))
}

impl App {
    /// Reads a logout request: the `id_token_hint` verified against our keys, the
    /// application it and `client_id` name, and `post_logout_redirect_uri` checked
    /// against that application's registered list.
    pub async fn logout_request(
        &self,
        params: LogoutParams<'_>,
    ) -> Result<LogoutRequest, LogoutError> {
        let hint = match params.id_token_hint {
            Some(raw) => Some(self.verify_id_token_hint(raw).await?),
            None => None,
        };
        let client = match requesting_client(params.client_id, hint.as_ref(), self.issuer())? {
            Some(client_id) => Some(self.logout_client(&client_id).await?),
            None => None,
        };
        let redirect = redirect_after_logout(
            client
                .as_ref()
                .map(|c| c.metadata.post_logout_redirect_uris.as_slice()),
            params.post_logout_redirect_uri,
            params.state,
        )?;
        Ok(LogoutRequest {
            client: client.map(|client| LogoutClient {
                client_id: client.client_id,
                client_name: client.metadata.client_name,
            }),
            post_logout_redirect_uri: redirect
                .as_ref()
                .and(params.post_logout_redirect_uri.map(str::to_owned)),
            state: redirect.as_ref().and(params.state.map(str::to_owned)),
            redirect,
        })
    }

    /// The claims of an ID token one of our keys signed; an expired one still counts
    /// (RP-Initiated Logout §2). A key id we have not loaded reloads the keys once (a
    /// rotation through another instance), as access tokens do.
    async fn verify_id_token_hint(&self, raw: &str) -> Result<IdTokenHint, LogoutError> {
        let verify = |app: &App| -> Result<VerifiedJws<IdTokenHint>, JwsError> {
            app.0.keys.current().verify(raw, ID_TOKEN_TYP)
        };
        let mut verified = verify(self);
        if matches!(verified, Err(JwsError::UnknownKey))
            && self.reload_signing_keys_for_unknown_kid().await
        {
            verified = verify(self);
        }
        verified
            .map(|verified| verified.claims)
            .map_err(|_| refused("the id_token_hint is not an ID token issued by this server"))
    }

    /// The application a logout request names. Unknown and disabled applications are
    /// refused, as at the authorization endpoint: there is nowhere trusted to go back to.
    async fn logout_client(
        &self,
        raw: &str,
    ) -> Result<thetasecure_core::client::Client, LogoutError> {
        match self.named_client(raw).await? {
            NamedClient::Active(client) => Ok(*client),
            NamedClient::Unknown => Err(refused("the client_id names no application known here")),
            NamedClient::Disabled => Err(refused("the application (client_id) is disabled")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use serde_json::json;
    use thetasecure_core::clock::{FixedClock, SystemClock};
    use thetasecure_core::{Clock, Timestamp};

    use super::*;
    use crate::audit::Actor;
    use crate::keys::{SigningAlg, SigningKey};
    use crate::test_support::sqlite_app;

    const DESKTOP: &str = "thetasecure-desktop-agent";
    const BYE: &str = "http://127.0.0.1/bye";

    async fn app_with_logout_uri() -> (thetasecure_store::testing::TestDatabase, App) {
        let clock = Arc::new(FixedClock::new(SystemClock.now()));
        let (database, app) = sqlite_app(clock).await;
        let patch = thetasecure_core::client::ClientPatch {
            post_logout_redirect_uris: thetasecure_core::client::PatchField::Set(vec![
                BYE.to_owned(),
            ]),
            ..Default::default()
        };
        app.update_client(&Actor::cli(), DESKTOP, patch, true)
            .await
            .unwrap();
        (database, app)
    }

    /// An ID token as the server will sign it, with our active key.
    fn id_token(app: &App, claims: serde_json::Value) -> String {
        app.0
            .keys
            .current()
            .active(app.settings().id_token_signing_alg)
            .unwrap()
            .sign_jws(&claims, ID_TOKEN_TYP)
            .unwrap()
    }

    fn params<'a>(hint: Option<&'a str>, client_id: Option<&'a str>) -> LogoutParams<'a> {
        LogoutParams {
            id_token_hint: hint,
            client_id,
            post_logout_redirect_uri: Some(BYE),
            state: Some("s 1"),
        }
    }

    #[tokio::test]
    async fn a_hint_signed_by_our_key_names_the_client_even_when_expired() {
        let (_db, app) = app_with_logout_uri().await;
        let expired = Timestamp(0).unix_seconds();
        let hint = id_token(
            &app,
            json!({"iss": app.issuer(), "aud": DESKTOP, "sub": "u", "exp": expired, "iat": expired}),
        );
        for client_id in [None, Some(DESKTOP)] {
            let request = app
                .logout_request(params(Some(&hint), client_id))
                .await
                .unwrap();
            assert_eq!(
                request.client.as_ref().map(|c| c.client_id.as_str()),
                Some(DESKTOP)
            );
            assert_eq!(
                request.redirect.as_deref(),
                Some("http://127.0.0.1/bye?state=s+1")
            );
        }
        let other = app
            .logout_request(params(Some(&hint), Some("thetasecure-mobile-app")))
            .await
            .unwrap_err();
        assert!(other.to_string().contains("client_id"), "{other}");
    }

    #[tokio::test]
    async fn hints_not_ours_are_refused() {
        let (_db, app) = app_with_logout_uri().await;
        let claims = json!({"iss": app.issuer(), "aud": DESKTOP});
        let foreign = SigningKey::generate(
            app.0
                .keys
                .current()
                .active(SigningAlg::Rs256)
                .unwrap()
                .kid()
                .to_owned(),
            SigningAlg::EdDsa,
        )
        .unwrap()
        .sign_jws(&claims, ID_TOKEN_TYP)
        .unwrap();
        let access_token_typ = app
            .0
            .keys
            .current()
            .active(app.settings().id_token_signing_alg)
            .unwrap()
            .sign_jws(&claims, "at+jwt")
            .unwrap();
        let other_issuer = id_token(
            &app,
            json!({"iss": "https://other.example", "aud": DESKTOP}),
        );
        for hint in [
            foreign.as_str(),
            &access_token_typ,
            &other_issuer,
            "not.a.jws",
        ] {
            let refusal = app
                .logout_request(params(Some(hint), None))
                .await
                .unwrap_err();
            assert!(
                matches!(refusal, LogoutError::Refused(_))
                    && refusal.to_string().contains("id_token_hint"),
                "{refusal}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_or_disabled_clients_and_unregistered_uris_are_refused() {
        let (_db, app) = app_with_logout_uri().await;
        let unknown = app
            .logout_request(params(None, Some("ts_nobody")))
            .await
            .unwrap_err();
        assert!(unknown.to_string().contains("client_id"), "{unknown}");
        let unregistered = app
            .logout_request(LogoutParams {
                post_logout_redirect_uri: Some("http://127.0.0.1:8000/bye"),
                ..params(None, Some(DESKTOP))
            })
            .await
            .unwrap_err();
        assert!(
            unregistered
                .to_string()
                .contains("post_logout_redirect_uri"),
            "{unregistered}"
        );
        // No application and no URI: a plain sign-out.
        let plain = app.logout_request(LogoutParams::default()).await.unwrap();
        assert_eq!(
            plain,
            LogoutRequest {
                client: None,
                post_logout_redirect_uri: None,
                state: None,
                redirect: None,
            }
        );
        app.set_client_status(
            &Actor::cli(),
            DESKTOP,
            thetasecure_core::grant::ClientStatus::Disabled,
        )
        .await
        .unwrap();
        let disabled = app
            .logout_request(params(None, Some(DESKTOP)))
            .await
            .unwrap_err();
        assert!(disabled.to_string().contains("disabled"), "{disabled}");
    }
}
