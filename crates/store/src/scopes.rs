//! Scopes: the registered scope names and their descriptions.

use thetasecure_core::Timestamp;

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::rows::ScopeRow;
use crate::{AuditEntry, ScopeRecord, Store, StoreError};

pub struct Scopes<'a> {
    pub(crate) store: &'a Store,
}

impl Scopes<'_> {
    /// Ordered by name.
    pub async fn list(&self) -> Result<Vec<ScopeRecord>, StoreError> {
        dispatch!(self.store, list())
    }
    pub async fn get(&self, name: &str) -> Result<Option<ScopeRecord>, StoreError> {
        dispatch!(self.store, get(name))
    }
    /// Conflict if the name exists.
    pub async fn create(&self, scope: &ScopeRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, create(scope, audit))
    }
    pub async fn update_description(
        &self,
        name: &str,
        description: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<ScopeRecord, StoreError> {
        dispatch!(
            self.store,
            update_description(name, description, now, audit)
        )
    }
    /// NotFound if absent; Conflict if built in or any client's scope contains it
    /// (checked in the deleting transaction).
    pub async fn delete(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, delete(name, audit))
    }
}

macro_rules! scope_columns {
    () => {
        "name, description, is_builtin, created_at, updated_at"
    };
}

fn builtin_scope(name: &str) -> StoreError {
    StoreError::Conflict(format!("scope `{name}` is built in"))
}

fn scope_in_use(name: &str) -> StoreError {
    StoreError::Conflict(format!("scope `{name}` is used by at least one client"))
}

for_each_engine! {
    pub(crate) async fn list(db: &Db) -> Result<Vec<ScopeRecord>, StoreError> {
        let rows: Vec<ScopeRow> =
            sqlx::query_as(concat!("SELECT ", scope_columns!(), " FROM scopes ORDER BY name"))
                .fetch_all(&db.pool)
                .await
                .map_err(error)?;
        Ok(rows.into_iter().map(ScopeRecord::from).collect())
    }

    pub(crate) async fn get(db: &Db, name: &str) -> Result<Option<ScopeRecord>, StoreError> {
        let row: Option<ScopeRow> =
            sqlx::query_as(concat!("SELECT ", scope_columns!(), " FROM scopes WHERE name = $1"))
                .bind(name)
                .fetch_optional(&db.pool)
                .await
                .map_err(error)?;
        Ok(row.map(ScopeRecord::from))
    }

    pub(crate) async fn insert(conn: &mut Conn, scope: &ScopeRecord) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO scopes (",
            scope_columns!(),
            ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING"
        ))
        .bind(&scope.name)
        .bind(&scope.description)
        .bind(scope.is_builtin)
        .bind(scope.created_at.0)
        .bind(scope.updated_at.0)
        .execute(conn)
        .await
        .map_err(error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "scope `{}` already exists",
                scope.name
            )));
        }
        Ok(())
    }

    pub(crate) async fn create(
        db: &Db,
        scope: &ScopeRecord,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        insert(&mut tx, scope).await?;
        publish(db, &mut tx, &Change::ScopesChanged).await?;
        audit::finish(tx, entry).await
    }

    pub(crate) async fn update_description(
        db: &Db,
        name: &str,
        description: &str,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<ScopeRecord, StoreError> {
        let mut tx = begin_write(db).await?;
        let row: Option<ScopeRow> = sqlx::query_as(concat!(
            "UPDATE scopes SET description = $2, updated_at = $3 WHERE name = $1 RETURNING ",
            scope_columns!()
        ))
        .bind(name)
        .bind(description)
        .bind(now.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        let record = ScopeRecord::from(row.ok_or(StoreError::NotFound)?);
        publish(db, &mut tx, &Change::ScopesChanged).await?;
        audit::finish(tx, entry).await?;
        Ok(record)
    }

    pub(crate) async fn delete(db: &Db, name: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        // No client may start using the scope between the check below and the delete.
        lock_clients_against_writes(&mut tx).await?;
        let builtin: Option<bool> = sqlx::query_scalar(concat!(
            "SELECT is_builtin FROM scopes WHERE name = $1",
            for_update!()
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        match builtin {
            None => return Err(StoreError::NotFound),
            Some(true) => return Err(builtin_scope(name)),
            Some(false) => {}
        }
        let in_use: bool = sqlx::query_scalar(concat!(
            "SELECT EXISTS (SELECT 1 FROM clients WHERE ",
            position_of!(),
            "(' ' || scope || ' ', ' ' || $1 || ' ') > 0)"
        ))
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(error)?;
        if in_use {
            return Err(scope_in_use(name));
        }
        sqlx::query("DELETE FROM scopes WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        publish(db, &mut tx, &Change::ScopesChanged).await?;
        audit::finish(tx, entry).await
    }
}
