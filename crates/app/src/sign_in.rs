//! Checking a person's username and password (SPEC 5). Every failure is the same
//! failure to the caller, and costs the same: an unknown or disabled user's attempt
//! verifies against a stand-in hash, so timing does not tell which usernames exist.

use std::sync::OnceLock;

use thetasecure_core::random;
use thetasecure_core::user::{MAX_PASSWORD_CHARS, User};

use crate::{AdminError, App};

/// Why a sign-in did not succeed. Callers show one message for `Refused`, whatever the
/// cause (SPEC 5: "Invalid username or password").
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid username or password")]
    Refused,
    #[error(transparent)]
    Failed(#[from] AdminError),
}

/// The message the sign-in page shows for every refusal.
pub const SIGN_IN_REFUSED: &str = "Invalid username or password";

impl App {
    /// The active user `username` (compared without case) whose password is `password`.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<User, SignInError> {
        let record = if username.is_empty() || username.chars().count() > 254 {
            None
        } else {
            self.store()
                .users()
                .for_sign_in(username)
                .await
                .map_err(|e| AdminError::from_store(e, "user"))?
        };
        // Longer than any password can be: no hash is computed for it, as none could match.
        let plausible = password.chars().count() <= MAX_PASSWORD_CHARS;
        let hashing = self.password_hashing();
        let (phc, user) = match record {
            Some(record) => (record.password_hash, Some(record.user)),
            None => (self.stand_in_hash().await?, None),
        };
        let matches = plausible && hashing.verify(password.to_owned(), phc).await?;
        match user {
            Some(user) if matches && user.is_active() => Ok(user),
            _ => Err(SignInError::Refused),
        }
    }

    /// A hash of a random password no one knows, made once, for unknown usernames.
    async fn stand_in_hash(&self) -> Result<String, AdminError> {
        static STAND_IN: OnceLock<String> = OnceLock::new();
        if let Some(phc) = STAND_IN.get() {
            return Ok(phc.clone());
        }
        let unguessable = data_encoding::BASE64URL_NOPAD.encode(&random::bytes::<32>());
        let phc = self.password_hashing().hash(unguessable).await?;
        Ok(STAND_IN.get_or_init(|| phc).clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use thetasecure_core::clock::SystemClock;
    use thetasecure_core::user::{NewUser, UserFields, UserStatus};

    use super::*;
    use crate::audit::Actor;
    use crate::test_support::sqlite_app;

    #[tokio::test]
    async fn only_an_active_user_with_the_right_password_signs_in() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        let new = NewUser {
            fields: UserFields {
                username: Some("Dora".into()),
                ..UserFields::default()
            },
            password: Some("dora's long password".into()),
        };
        let dora = app.create_user(&Actor::cli(), new).await.unwrap();
        let signed_in = app.sign_in("dORA", "dora's long password").await.unwrap();
        assert_eq!(signed_in.id, dora.id);
        for (username, password) in [
            ("dora", "dora's long passworD"),
            ("nobody", "dora's long password"),
            ("", "dora's long password"),
            ("dora", ""),
            ("dora", &"x".repeat(MAX_PASSWORD_CHARS + 1)),
        ] {
            assert!(
                matches!(
                    app.sign_in(username, password).await,
                    Err(SignInError::Refused)
                ),
                "{username}"
            );
        }
        app.set_user_status(&Actor::cli(), &dora.id, UserStatus::Disabled)
            .await
            .unwrap();
        assert!(matches!(
            app.sign_in("dora", "dora's long password").await,
            Err(SignInError::Refused)
        ));
    }
}
