//! Checking a person's username and password (SPEC 5). Every failure is the same
//! failure to the caller, and costs the same: an unknown or disabled user's attempt
//! verifies against a stand-in hash, so timing does not tell which usernames exist.

use std::net::IpAddr;
use std::sync::OnceLock;

use thetasecure_core::random;
use thetasecure_core::user::{MAX_PASSWORD_CHARS, User};

use serde_json::json;

use crate::audit::{self, Actor};
use crate::{AdminError, App};

/// Why a sign-in did not succeed. Callers show one message for `Refused`, whatever the
/// cause (SPEC 5: "Invalid username or password").
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid username or password")]
    Refused,
    /// Too many recent failures for this username or from this address (429).
    #[error("too many failed sign-ins; retry in {retry_after_seconds} s")]
    Throttled { retry_after_seconds: u64 },
    #[error(transparent)]
    Failed(#[from] AdminError),
}

/// The longest name a sign-in can match: an e-mail address (usernames are shorter).
const MAX_USERNAME_CHARS: usize = thetasecure_core::user::EMAIL.max_chars;

/// What a password check found; the caller is told only `Refused`, the audit log more.
enum Checked {
    Accepted(User),
    Refused { user_id: Option<String> },
}

/// The message the sign-in page shows for every refusal.
pub const SIGN_IN_REFUSED: &str = "Invalid username or password";

/// Failed sign-ins are counted in fixed windows of this length, in the store, so the
/// limit holds across instances sharing PostgreSQL.
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;
/// Failures per username (known or not, so the limit tells nothing about which exist)
/// within a window: enough for typos, too few for guessing (OWASP ASVS 2.2.1).
pub const MAX_FAILURES_PER_USERNAME: u32 = 5;
/// Failures per client address within a window: a shared office NAT gets room, a single
/// machine spraying passwords over many usernames does not.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 50;

impl App {
    /// The active user `username` (compared without case) whose password is `password`,
    /// asked from `address`. While either the username or the address has had too many
    /// failures lately, no password is checked at all.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<User, SignInError> {
        let keys = [
            (
                format!("user:{}", username.to_lowercase()),
                MAX_FAILURES_PER_USERNAME,
            ),
            (format!("ip:{address}"), MAX_FAILURES_PER_ADDRESS),
        ];
        let now = self.clock().now();
        let window_ms = FAILURE_WINDOW_SECONDS * 1000;
        let failures = self.store().sign_in_failures();
        let store_error = |e| SignInError::Failed(AdminError::from_store(e, "sign-in"));
        for (key, max) in &keys {
            if failures
                .count(key, now, window_ms)
                .await
                .map_err(store_error)?
                >= *max
            {
                return Err(SignInError::Throttled {
                    retry_after_seconds: FAILURE_WINDOW_SECONDS as u64,
                });
            }
        }
        match self.check_password(username, password).await? {
            Checked::Accepted(user) => {
                failures.clear(&keys[0].0).await.map_err(store_error)?;
                Ok(user)
            }
            Checked::Refused { user_id } => {
                for (key, _) in &keys {
                    failures
                        .record(key, now, window_ms)
                        .await
                        .map_err(store_error)?;
                }
                // SPEC 4: sign-in failures are audited. The username as typed, not the
                // password; the user's id when there is such a user, for the admin.
                let entry = audit::entry(
                    &Actor::visitor(address),
                    now,
                    "user.sign_in_failed",
                    "user",
                    user_id.as_deref().unwrap_or_default(),
                    json!({"username": username.chars().take(MAX_USERNAME_CHARS).collect::<String>()}),
                );
                self.store()
                    .audit()
                    .record(&entry)
                    .await
                    .map_err(store_error)?;
                Err(SignInError::Refused)
            }
        }
    }

    async fn check_password(&self, username: &str, password: &str) -> Result<Checked, AdminError> {
        let record = if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
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
        Ok(match user {
            Some(user) if matches && user.is_active() => Checked::Accepted(user),
            user => Checked::Refused {
                user_id: user.map(|user| user.id),
            },
        })
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
    use crate::test_support::sqlite_app;

    #[tokio::test]
    async fn only_an_active_user_with_the_right_password_signs_in() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        let here = std::net::Ipv4Addr::LOCALHOST.into();
        let new = NewUser {
            fields: UserFields {
                username: Some("Dora".into()),
                ..UserFields::default()
            },
            password: Some("dora's long password".into()),
        };
        let dora = app.create_user(&Actor::cli(), new).await.unwrap();
        let signed_in = app
            .sign_in("dORA", "dora's long password", here)
            .await
            .unwrap();
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
                    app.sign_in(username, password, here).await,
                    Err(SignInError::Refused)
                ),
                "{username}"
            );
        }
        app.set_user_status(&Actor::cli(), &dora.id, UserStatus::Disabled)
            .await
            .unwrap();
        assert!(matches!(
            app.sign_in("dora", "dora's long password", here).await,
            Err(SignInError::Refused)
        ));

        // Every refusal is audited (SPEC 4): by address, with Dora's id for hers, and
        // never with a password.
        let query = crate::audit::AuditQuery {
            action: Some("user.sign_in_failed".into()),
            ..Default::default()
        };
        let failed = app
            .list_audit_events(&query, None, Some(100))
            .await
            .unwrap()
            .items;
        assert_eq!(failed.len(), 6);
        let doras = failed.iter().filter(|event| event.target_id == dora.id);
        assert_eq!(doras.count(), 4);
        let nobodys = failed
            .iter()
            .find(|event| event.details["username"] == "nobody");
        assert_eq!(nobodys.map(|event| event.target_id.as_str()), Some(""));
        for event in &failed {
            assert_eq!(event.actor, "address:127.0.0.1");
            assert!(!event.details.to_string().contains("password"), "{event:?}");
        }
    }

    /// Five failures lock the username for the window, whoever asks, right password or
    /// not; another username from the same address still gets its own tries.
    #[tokio::test]
    async fn failures_lock_the_username_for_the_window() {
        let start = thetasecure_core::Timestamp(1_795_000_000_000);
        let clock = Arc::new(thetasecure_core::clock::FixedClock::new(start));
        let (_database, app) = sqlite_app(clock.clone()).await;
        let new = NewUser {
            fields: UserFields {
                username: Some("eve".into()),
                ..UserFields::default()
            },
            password: Some("eve's long password".into()),
        };
        app.create_user(&Actor::cli(), new).await.unwrap();
        let here = std::net::Ipv4Addr::LOCALHOST.into();
        for _ in 0..MAX_FAILURES_PER_USERNAME {
            let refused = app.sign_in("eve", "wrong password!", here).await;
            assert!(matches!(refused, Err(SignInError::Refused)));
        }
        let locked = app.sign_in("EVE", "eve's long password", here).await;
        assert!(matches!(locked, Err(SignInError::Throttled { .. })));
        let other = app.sign_in("mallory", "any password at all", here).await;
        assert!(matches!(other, Err(SignInError::Refused)));
        clock.advance_seconds(FAILURE_WINDOW_SECONDS);
        assert!(
            app.sign_in("eve", "eve's long password", here)
                .await
                .is_ok()
        );
    }
}
