//! The UserInfo endpoint's use case (OIDC Core §5.3): the claims about the signed-in
//! user that the access token's scopes release.

use thetasecure_core::oidc::{OPENID_SCOPE, UserInfo};
use thetasecure_core::scope::ScopeSet;

use crate::{App, TokenError};

/// Why UserInfo is refused; each maps to its RFC 6750 §3.1 answer in `web`.
#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    #[error("a bearer access token is required")]
    NoToken,
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    #[error("the access token lacks the openid scope")]
    InsufficientScope,
    /// The token could not be checked (storage unavailable, …).
    #[error(transparent)]
    Unchecked(#[from] TokenError),
}

impl App {
    /// The claims for the holder of `bearer`, an access token of ours with `openid`.
    pub async fn userinfo(&self, bearer: Option<&str>) -> Result<UserInfo, UserInfoError> {
        let token = bearer.ok_or(UserInfoError::NoToken)?;
        let active = self
            .active_access_token(token)
            .await?
            .ok_or(UserInfoError::InvalidToken)?;
        let claims = active.claims();
        let scope = ScopeSet::from_trusted(&claims.scope);
        if !scope.contains(OPENID_SCOPE) {
            return Err(UserInfoError::InsufficientScope);
        }
        // The subject of a token with `openid` is a user; one that was deleted or
        // disabled since has no claims to give.
        match self
            .store()
            .users()
            .get(&claims.sub)
            .await
            .map_err(TokenError::from)?
        {
            Some(user) if user.is_active() => Ok(UserInfo::new(&user, &scope)),
            _ => Err(UserInfoError::InvalidToken),
        }
    }
}
