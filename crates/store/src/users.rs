//! Users: the local accounts people sign in with, and their password hashes. Written
//! once for both engines.

use thetasecure_core::Timestamp;
use thetasecure_core::user::{User, UserProfile, UserStatus};

use crate::engine::for_each_engine;
use crate::refresh_tokens::Owner;
use crate::rows::limit;
use crate::{
    AuditEntry, RevokedTokens, Store, StoreError, UserCursor, UserFilter, UserPage, UserRecord,
};

pub struct Users<'a> {
    pub(crate) store: &'a Store,
}

impl Users<'_> {
    /// Conflict if another user has the same username, compared without case.
    pub async fn create(&self, user: &UserRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, create(user, audit))
    }
    pub async fn get(&self, id: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self.store, get(id))
    }
    /// The user a sign-in names, with its password hash; `username` compared without case.
    pub async fn for_sign_in(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        dispatch!(self.store, for_sign_in(username))
    }
    /// Newest first (created_at desc, id desc); `search` is a case-insensitive substring
    /// of username, e-mail or display name; `limit` rows at most, `next` set when more
    /// follow.
    pub async fn list(&self, filter: &UserFilter) -> Result<UserPage, StoreError> {
        dispatch!(self.store, list(filter))
    }
    /// Replaces the profile and `updated_at`, and the password hash when one is given.
    /// NotFound if absent; Conflict if the username is taken, or if the change would
    /// leave no active admin user (checked in the writing transaction).
    pub async fn update(
        &self,
        user: &User,
        password_hash: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, update(user, password_hash, audit))
    }
    /// Revokes the user's tokens (as `RefreshTokens::revoke_for_user`, telling other
    /// instances), then deletes the user and what it owns, in one transaction: the
    /// access tokens would otherwise outlive the records that name them. NotFound if
    /// absent; Conflict if it is the last active admin user.
    pub async fn delete(&self, id: &str, audit: &AuditEntry) -> Result<RevokedTokens, StoreError> {
        dispatch!(self.store, delete(id, audit))
    }
}

/// Qualified, with the times renamed, so that a code or refresh token read with its user
/// in one statement (`get_with_user`) keeps its own `created_at`.
macro_rules! user_columns {
    () => {
        "users.id, users.username, users.email, users.display_name, users.status, \
         users.is_admin, users.created_at AS user_created_at, \
         users.updated_at AS user_updated_at"
    };
}
pub(crate) use user_columns;

/// The condition of a write that issues tokens to the user of a `$table` row (a code's
/// redemption, a refresh token's rotation or retry, the password grant's first refresh
/// token): the user is still active. The token path
/// read the user before it signed; a user disabled since then must not get tokens that
/// the disabling's sign-out, already past, did not revoke. On PostgreSQL the user's row
/// is locked until the write commits, so a disabling waits for it and its sign-out then
/// finds the new tokens; one that committed first is seen (`for_share`). SQLite writes
/// one transaction at a time.
macro_rules! user_still_active {
    ($table:literal) => {
        concat!(
            " AND EXISTS (SELECT 1 FROM users WHERE users.id = ",
            $table,
            ".user_id AND users.status = 'active'",
            for_share!(),
            ")"
        )
    };
}
pub(crate) use user_still_active;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    username: String,
    email: Option<String>,
    display_name: Option<String>,
    status: String,
    is_admin: bool,
    #[sqlx(rename = "user_created_at")]
    created_at: i64,
    #[sqlx(rename = "user_updated_at")]
    updated_at: i64,
}

/// A row of another table read with its user (`user_columns`).
#[derive(sqlx::FromRow)]
pub(crate) struct WithUser<Record> {
    #[sqlx(flatten)]
    record: Record,
    #[sqlx(flatten)]
    user: UserRow,
}

impl<Record> WithUser<Record> {
    /// The record, converted by `into_record`, and its user.
    pub(crate) fn into_pair<T>(
        self,
        into_record: impl FnOnce(Record) -> Result<T, StoreError>,
    ) -> Result<(T, User), StoreError> {
        Ok((into_record(self.record)?, self.user.into_user()?))
    }
}

/// The row of `$table` (its `$columns`) whose `$key` is `$1`, with its user; for a
/// `WithUser` row.
macro_rules! select_with_user {
    ($columns:expr, $table:literal, $key:literal) => {
        concat!(
            "SELECT record.*, ",
            $crate::users::user_columns!(),
            " FROM (SELECT ",
            $columns,
            " FROM ",
            $table,
            " WHERE ",
            $key,
            " = $1) AS record JOIN users ON users.id = record.user_id"
        )
    };
}
pub(crate) use select_with_user;

#[derive(sqlx::FromRow)]
struct SignInRow {
    password_hash: String,
    #[sqlx(flatten)]
    user: UserRow,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let status = UserStatus::parse(&self.status).ok_or_else(|| StoreError::Backend {
            what: format!("stored user status `{}` is not valid", self.status),
            cause: None,
        })?;
        Ok(User {
            id: self.id,
            profile: UserProfile {
                username: self.username,
                email: self.email,
                display_name: self.display_name,
                status,
                is_admin: self.is_admin,
            },
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

/// What `search` matches: the lowercase username, e-mail and display name, one per line,
/// so a term (which holds no line break) never matches across two of them.
fn search_text(profile: &UserProfile) -> String {
    [
        Some(profile.username.as_str()),
        profile.email.as_deref(),
        profile.display_name.as_deref(),
    ]
    .map(Option::unwrap_or_default)
    .join("\n")
    .to_lowercase()
}

fn username_taken(profile: &UserProfile) -> StoreError {
    StoreError::Conflict(format!("username `{}` is taken", profile.username))
}

fn last_admin() -> StoreError {
    StoreError::Conflict(
        "this is the last active admin user; make another user an admin first".to_owned(),
    )
}

/// Whether a user is one the console can be administered through.
fn is_active_admin(profile: &UserProfile) -> bool {
    profile.is_admin && profile.status == UserStatus::Active
}

for_each_engine! {
    /// `ON CONFLICT DO NOTHING`, so a taken username is told from other failures by the
    /// rows affected.
    pub(crate) async fn insert(conn: &mut Conn, record: &UserRecord) -> Result<(), StoreError> {
        let user = &record.user;
        let profile = &user.profile;
        let done = sqlx::query(
            "INSERT INTO users (id, username, username_lower, email, display_name, password_hash,
                 is_admin, created_at, status, updated_at, search_text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (username_lower) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&profile.username)
        .bind(profile.username_key())
        .bind(&profile.email)
        .bind(&profile.display_name)
        .bind(&record.password_hash)
        .bind(profile.is_admin)
        .bind(user.created_at.0)
        .bind(profile.status.as_str())
        .bind(user.updated_at.0)
        .bind(search_text(profile))
        .execute(conn)
        .await
        .map_err(error)?;
        if done.rows_affected() == 0 {
            return Err(username_taken(profile));
        }
        Ok(())
    }

    pub(crate) async fn create(db: &Db, record: &UserRecord, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        insert(&mut tx, record).await?;
        audit::finish(tx, entry).await
    }

    pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(&db.pool)
                .await
                .map_err(error)?;
        row.map(UserRow::into_user).transpose()
    }

    pub(crate) async fn for_sign_in(db: &Db, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<SignInRow> = sqlx::query_as(concat!(
            "SELECT password_hash, ",
            user_columns!(),
            " FROM users WHERE username_lower = $1"
        ))
        .bind(username.to_lowercase())
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(|row| {
            Ok(UserRecord {
                user: row.user.into_user()?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    pub(crate) async fn list(db: &Db, filter: &UserFilter) -> Result<UserPage, StoreError> {
        let after = filter.after.as_ref();
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users
             WHERE (CAST($1 AS TEXT) IS NULL OR ",
            position_of!(),
            "(search_text, $1) > 0)
               AND (CAST($2 AS TEXT) IS NULL OR status = $2)
               AND (CAST($3 AS BIGINT) IS NULL OR (created_at, id) < ($3, $4))
             ORDER BY created_at DESC, id DESC
             LIMIT $5"
        ))
        .bind(filter.search.as_ref().map(|term| term.to_lowercase()))
        .bind(filter.status.map(UserStatus::as_str))
        .bind(after.map(|cursor| cursor.created_at.0))
        .bind(after.map(|cursor| cursor.id.as_str()))
        .bind(limit(filter.limit.saturating_add(1)))
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        let max = usize::try_from(filter.limit).unwrap_or(usize::MAX);
        let more = rows.len() > max;
        let items = rows
            .into_iter()
            .take(max)
            .map(UserRow::into_user)
            .collect::<Result<Vec<_>, _>>()?;
        let next = more
            .then(|| items.last())
            .flatten()
            .map(|user| UserCursor {
                created_at: user.created_at,
                id: user.id.clone(),
            });
        Ok(UserPage { items, next })
    }

    /// Refuses a change that would leave no active admin: the active admins are read
    /// (and on PostgreSQL locked, so two such changes cannot both pass) in the writing
    /// transaction.
    async fn keep_an_admin(tx: &mut Tx, id: &str, after: Option<&UserProfile>) -> Result<(), StoreError> {
        if after.is_some_and(is_active_admin) {
            return Ok(());
        }
        let admins: Vec<String> = sqlx::query_scalar(concat!(
            "SELECT id FROM users WHERE is_admin AND status = 'active'",
            for_update!()
        ))
        .fetch_all(&mut **tx)
        .await
        .map_err(error)?;
        if admins.iter().any(|admin| admin == id) && admins.len() == 1 {
            return Err(last_admin());
        }
        Ok(())
    }

    pub(crate) async fn update(
        db: &Db,
        user: &User,
        password_hash: Option<&str>,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let profile = &user.profile;
        let mut tx = begin_write(db).await?;
        keep_an_admin(&mut tx, &user.id, Some(profile)).await?;
        let done = sqlx::query(
            "UPDATE users SET username = $2, username_lower = $3, email = $4, display_name = $5,
                 status = $6, is_admin = $7, updated_at = $8, search_text = $9,
                 password_hash = COALESCE($10, password_hash)
             WHERE id = $1",
        )
        .bind(&user.id)
        .bind(&profile.username)
        .bind(profile.username_key())
        .bind(&profile.email)
        .bind(&profile.display_name)
        .bind(profile.status.as_str())
        .bind(profile.is_admin)
        .bind(user.updated_at.0)
        .bind(search_text(profile))
        .bind(password_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| match error(e) {
            StoreError::Conflict(_) => username_taken(profile),
            other => other,
        })?;
        audit::finish_change(tx, done.rows_affected(), entry).await
    }

    pub(crate) async fn delete(db: &Db, id: &str, entry: &AuditEntry) -> Result<RevokedTokens, StoreError> {
        let mut tx = begin_write(db).await?;
        keep_an_admin(&mut tx, id, None).await?;
        let revoked = refresh_tokens::revoke_in(&mut tx, Owner::User, id, entry.at).await?;
        publish(db, &mut tx, &Owner::User.change(id, &revoked)?).await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        audit::finish_change(tx, done.rows_affected(), entry).await?;
        Ok(revoked)
    }
}
