//! Managing users (SPEC 4): the admin API, the CLI and the console call these. Passwords
//! are hashed on `PasswordHashing`'s bounded pool and never leave this module.

use serde_json::json;
use thetasecure_core::OAuthError;
use thetasecure_core::client::PatchField;
use thetasecure_core::ids::ClientId;
use thetasecure_core::text::IDENTIFIER;
use thetasecure_core::user::{
    NewUser, USER_SEARCH, User, UserPatch, UserStatus, apply_user_patch, validate_new_user,
};
use thetasecure_store::{
    ConsentRecord, RefreshTokenRecord, SessionRecord, UserCursor, UserFilter, UserRecord,
};

use crate::audit::{self, Actor};
use crate::{AdminError, App, paging};

/// A listing request as the caller wrote it; parsed and checked here.
#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub search: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub struct UserListing {
    pub items: Vec<User>,
    pub next_cursor: Option<String>,
}

fn store_error(error: thetasecure_store::StoreError) -> AdminError {
    AdminError::from_store(error, "user")
}

/// The profile fields an update changes, as they were and are now, for the audit log
/// (the password is named in `fields` only, never shown).
fn changed_profile(
    before: &thetasecure_core::user::UserProfile,
    after: &thetasecure_core::user::UserProfile,
) -> (serde_json::Value, serde_json::Value) {
    let values = |p: &thetasecure_core::user::UserProfile| {
        [
            ("username", json!(p.username)),
            ("email", json!(p.email)),
            ("display_name", json!(p.display_name)),
            ("status", json!(p.status.as_str())),
            ("is_admin", json!(p.is_admin)),
        ]
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for ((name, was), (_, now)) in values(before).into_iter().zip(values(after)) {
        if was != now {
            old.insert(name.to_owned(), was);
            new.insert(name.to_owned(), now);
        }
    }
    (old.into(), new.into())
}

impl App {
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User, AdminError> {
        let (profile, password) = validate_new_user(new)?;
        let password_hash = self.password_hashing().hash(password).await?;
        let now = self.clock().now();
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            profile,
            created_at: now,
            updated_at: now,
        };
        let entry = audit::entry(
            actor,
            now,
            "user.created",
            "user",
            &user.id,
            json!({"username": user.profile.username, "is_admin": user.profile.is_admin}),
        );
        let record = UserRecord {
            user,
            password_hash,
        };
        self.store()
            .users()
            .create(&record, &entry)
            .await
            .map_err(store_error)?;
        Ok(record.user)
    }

    pub async fn get_user(&self, id: &str) -> Result<User, AdminError> {
        IDENTIFIER.check("user_id", id)?;
        if !paging::is_canonical_uuid(id) {
            return Err(AdminError::NotFound("user"));
        }
        self.store()
            .users()
            .get(id)
            .await
            .map_err(store_error)?
            .ok_or(AdminError::NotFound("user"))
    }

    /// A user named by id or by username (compared without case), as the CLI takes them.
    pub async fn find_user(&self, id_or_username: &str) -> Result<User, AdminError> {
        if paging::is_canonical_uuid(id_or_username) {
            return self.get_user(id_or_username).await;
        }
        IDENTIFIER.check("user", id_or_username)?;
        self.store()
            .users()
            .for_sign_in(id_or_username)
            .await
            .map_err(store_error)?
            .map(|record| record.user)
            .ok_or(AdminError::NotFound("user"))
    }

    pub async fn list_users(&self, query: &UserQuery) -> Result<UserListing, AdminError> {
        let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(UserStatus::parse(raw).ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "status must be one of: {}",
                    UserStatus::expected()
                ))
            })?),
        };
        let search = match query.search.as_deref() {
            None => None,
            Some(raw) => Some(USER_SEARCH.normalise("search", raw)?).filter(|s| !s.is_empty()),
        };
        let after = paging::decode_cursor(query.cursor.as_deref(), |id| {
            paging::is_canonical_uuid(id).then(|| id.to_owned())
        })?
        .map(|(created_at, id)| UserCursor { created_at, id });
        let filter = UserFilter {
            search,
            status,
            limit: paging::page_size(query.limit)?,
            after,
        };
        let page = self
            .store()
            .users()
            .list(&filter)
            .await
            .map_err(store_error)?;
        Ok(UserListing {
            items: page.items,
            next_cursor: page
                .next
                .map(|next| paging::encode_cursor(next.created_at, &next.id)),
        })
    }

    /// Applies a merge patch; a password in it replaces the user's.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        patch: UserPatch,
    ) -> Result<User, AdminError> {
        let current = self.get_user(id).await?;
        // Every member the patch names, nulls too; the password by name only.
        let changed = patch.named_fields();
        let new_password = patch.password.is_given();
        let current_active = current.is_active();
        let (profile, password) = apply_user_patch(&current.profile, patch)?;
        let password_hash = match password {
            Some(password) => Some(self.password_hashing().hash(password).await?),
            None => None,
        };
        let (before, after) = changed_profile(&current.profile, &profile);
        let now = self.clock().now();
        let updated = User {
            profile,
            updated_at: now,
            ..current
        };
        let entry = audit::entry(
            actor,
            now,
            "user.updated",
            "user",
            id,
            json!({"fields": changed, "before": before, "after": after}),
        );
        self.store()
            .users()
            .update(&updated, password_hash.as_deref(), &entry)
            .await
            .map_err(store_error)?;
        // A new password or a disabled account ends what the old state allowed.
        if new_password || (current_active && !updated.is_active()) {
            self.sign_out(actor, &updated.id).await?;
        }
        Ok(updated)
    }

    pub async fn set_user_status(
        &self,
        actor: &Actor,
        id: &str,
        status: UserStatus,
    ) -> Result<User, AdminError> {
        let patch = UserPatch {
            status: PatchField::Set(status.as_str().to_owned()),
            ..UserPatch::default()
        };
        self.update_user(actor, id, patch).await
    }

    pub async fn set_user_password(
        &self,
        actor: &Actor,
        id: &str,
        password: String,
    ) -> Result<User, AdminError> {
        let patch = UserPatch {
            password: PatchField::Set(password),
            ..UserPatch::default()
        };
        self.update_user(actor, id, patch).await
    }

    /// Ends every browser session of the user and revokes every refresh token (and the
    /// access tokens issued with them), each audited.
    pub async fn sign_out_everywhere(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        let user = self.get_user(id).await?;
        self.sign_out(actor, &user.id).await
    }

    /// `sign_out_everywhere` for a user already read.
    async fn sign_out(&self, actor: &Actor, user_id: &str) -> Result<(), AdminError> {
        self.revoke_sessions(actor, user_id).await?;
        self.revoke_refresh_tokens(actor, user_id).await?;
        Ok(())
    }

    /// The user's live browser sessions, newest first.
    pub async fn user_sessions(&self, id: &str) -> Result<Vec<SessionRecord>, AdminError> {
        let user = self.get_user(id).await?;
        self.store()
            .sessions()
            .list_for_user(&user.id, self.clock().now())
            .await
            .map_err(store_error)
    }

    /// Ends every browser session of the user; returns how many were live.
    pub async fn end_user_sessions(&self, actor: &Actor, id: &str) -> Result<u64, AdminError> {
        let user = self.get_user(id).await?;
        self.revoke_sessions(actor, &user.id).await
    }

    async fn revoke_sessions(&self, actor: &Actor, user_id: &str) -> Result<u64, AdminError> {
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "user.sessions_revoked",
            "user",
            user_id,
            json!({}),
        );
        self.store()
            .sessions()
            .revoke_for_user(user_id, now, &entry)
            .await
            .map_err(store_error)
    }

    /// The clients the user consented to, with the scopes granted.
    pub async fn user_consents(&self, id: &str) -> Result<Vec<ConsentRecord>, AdminError> {
        let user = self.get_user(id).await?;
        self.store()
            .consents()
            .list_for_user(&user.id)
            .await
            .map_err(store_error)
    }

    /// Forgets the user's consent to a client: the next request asks again.
    pub async fn revoke_user_consent(
        &self,
        actor: &Actor,
        id: &str,
        client_id: &str,
    ) -> Result<(), AdminError> {
        let user = self.get_user(id).await?;
        IDENTIFIER.check("client_id", client_id)?;
        let client = ClientId::parse(client_id).ok_or(AdminError::NotFound("consent"))?;
        let entry = audit::entry(
            actor,
            self.clock().now(),
            "user.consent_revoked",
            "user",
            &user.id,
            json!({"client_id": client_id}),
        );
        self.store()
            .consents()
            .revoke(&user.id, &client, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "consent"))
    }

    /// The live head token of each of the user's refresh-token families.
    pub async fn user_refresh_tokens(
        &self,
        id: &str,
    ) -> Result<Vec<RefreshTokenRecord>, AdminError> {
        let user = self.get_user(id).await?;
        self.store()
            .refresh_tokens()
            .list_families_for_user(&user.id, self.clock().now())
            .await
            .map_err(store_error)
    }

    /// Revokes every refresh token of the user and the access tokens issued with them.
    pub async fn revoke_user_refresh_tokens(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<u64, AdminError> {
        let user = self.get_user(id).await?;
        self.revoke_refresh_tokens(actor, &user.id).await
    }

    async fn revoke_refresh_tokens(&self, actor: &Actor, user_id: &str) -> Result<u64, AdminError> {
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "user.refresh_tokens_revoked",
            "user",
            user_id,
            json!({}),
        );
        let revoked = self
            .store()
            .refresh_tokens()
            .revoke_for_user(user_id, now, &entry)
            .await
            .map_err(store_error)?;
        self.forget_revoked(&revoked);
        Ok(revoked.refresh_tokens)
    }

    pub async fn delete_user(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        let current = self.get_user(id).await?;
        let entry = audit::entry(
            actor,
            self.clock().now(),
            "user.deleted",
            "user",
            id,
            json!({"username": current.profile.username}),
        );
        let revoked = self
            .store()
            .users()
            .delete(id, &entry)
            .await
            .map_err(store_error)?;
        self.forget_revoked(&revoked);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use thetasecure_core::clock::SystemClock;
    use thetasecure_core::user::UserFields;

    use super::*;
    use crate::test_support::sqlite_app;

    fn new_user(username: &str, password: &str) -> NewUser {
        NewUser {
            fields: UserFields {
                username: Some(username.into()),
                ..UserFields::default()
            },
            password: Some(password.into()),
        }
    }

    /// The stored hash verifies the password given, and a new one replaces it.
    #[tokio::test]
    async fn passwords_are_stored_as_argon2id_and_replaced() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        let actor = Actor::cli();
        let user = app
            .create_user(&actor, new_user("Grace", "first long password"))
            .await
            .unwrap();
        let stored = |app: App| async move {
            app.store()
                .users()
                .for_sign_in("grace")
                .await
                .unwrap()
                .unwrap()
                .password_hash
        };
        let first = stored(app.clone()).await;
        assert!(first.starts_with("$argon2id$"));
        let hashing = app.password_hashing();
        assert!(
            hashing
                .verify("first long password".into(), first.clone())
                .await
                .unwrap()
        );

        app.set_user_password(&actor, &user.id, "second long password".into())
            .await
            .unwrap();
        let second = stored(app.clone()).await;
        assert!(
            hashing
                .verify("second long password".into(), second.clone())
                .await
                .unwrap()
        );
        assert!(
            !hashing
                .verify("first long password".into(), second)
                .await
                .unwrap()
        );

        let refused = app
            .set_user_password(&actor, &user.id, "short".into())
            .await;
        assert!(matches!(refused, Err(AdminError::Invalid(_))));
    }

    #[tokio::test]
    async fn ids_and_cursors_that_name_nothing() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        assert!(matches!(
            app.get_user("nobody").await,
            Err(AdminError::NotFound("user"))
        ));
        assert!(matches!(
            app.get_user("a\u{0}").await,
            Err(AdminError::Invalid(_))
        ));
        let query = UserQuery {
            cursor: Some(paging::encode_cursor(thetasecure_core::Timestamp(1), "x")),
            ..UserQuery::default()
        };
        assert!(matches!(
            app.list_users(&query).await,
            Err(AdminError::Invalid(_))
        ));
    }
}
