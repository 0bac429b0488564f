//! The scope registry (SPEC 6).

use serde_json::json;
use thetasecure_core::OAuthError;
use thetasecure_core::client::PatchField;
use thetasecure_core::scope::{SCOPE_DESCRIPTION, is_valid_scope_name};
use thetasecure_core::text::IDENTIFIER;
use thetasecure_store::ScopeRecord;

use crate::audit::{self, Actor};
use crate::{AdminError, App};

/// A scope to register, as the caller gave it.
#[derive(Debug, Clone, Default)]
pub struct NewScope {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A change to a scope: only the description changes; the name may be restated.
#[derive(Debug, Clone, Default)]
pub struct ScopePatch {
    pub name: PatchField<String>,
    pub description: Option<String>,
}

fn invalid(description: impl Into<String>) -> AdminError {
    AdminError::Invalid(OAuthError::invalid_request(description))
}

fn normalised_description(raw: &str) -> Result<String, AdminError> {
    Ok(SCOPE_DESCRIPTION.normalise("description", raw)?)
}

/// A scope name from a path: a control character is a 400 naming it; a name no scope
/// can have is not found without asking the store.
fn check_path_name(name: &str) -> Result<(), AdminError> {
    IDENTIFIER.check("name", name)?;
    if is_valid_scope_name(name) {
        Ok(())
    } else {
        Err(AdminError::NotFound("scope"))
    }
}

impl App {
    pub async fn list_scopes(&self) -> Result<Vec<ScopeRecord>, AdminError> {
        self.store()
            .scopes()
            .list()
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))
    }

    pub async fn get_scope(&self, name: &str) -> Result<ScopeRecord, AdminError> {
        check_path_name(name)?;
        self.store()
            .scopes()
            .get(name)
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))?
            .ok_or(AdminError::NotFound("scope"))
    }

    pub async fn create_scope(
        &self,
        actor: &Actor,
        new: NewScope,
    ) -> Result<ScopeRecord, AdminError> {
        let name = match new.name {
            Some(name) if is_valid_scope_name(&name) => name,
            Some(_) => return Err(invalid("name must match ^[A-Za-z0-9_.:/-]{1,128}$")),
            None => return Err(invalid("name is required and must be a string")),
        };
        let description = match new.description {
            Some(raw) => normalised_description(&raw)?,
            None => String::new(),
        };
        let now = self.clock().now();
        let scope = ScopeRecord {
            name,
            description,
            is_builtin: false,
            created_at: now,
            updated_at: now,
        };
        let entry = audit::entry(actor, now, "scope.created", "scope", &scope.name, json!({}));
        self.store()
            .scopes()
            .create(&scope, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))?;
        self.forget_scope_names();
        Ok(scope)
    }

    pub async fn update_scope(
        &self,
        actor: &Actor,
        name: &str,
        patch: ScopePatch,
    ) -> Result<ScopeRecord, AdminError> {
        check_path_name(name)?;
        match &patch.name {
            PatchField::Keep => {}
            PatchField::Set(given) if given == name => {}
            _ => return Err(invalid("name is immutable")),
        }
        let description = match patch.description {
            Some(raw) => normalised_description(&raw)?,
            None => return Err(invalid("description is required")),
        };
        let current = self.get_scope(name).await?;
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "scope.updated",
            "scope",
            name,
            json!({"fields": ["description"], "before": {"description": current.description}, "after": {"description": description}}),
        );
        self.store()
            .scopes()
            .update_description(name, &description, now, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))
    }

    pub async fn delete_scope(&self, actor: &Actor, name: &str) -> Result<(), AdminError> {
        check_path_name(name)?;
        let entry = audit::entry(
            actor,
            self.clock().now(),
            "scope.deleted",
            "scope",
            name,
            json!({}),
        );
        self.store()
            .scopes()
            .delete(name, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))?;
        self.forget_scope_names();
        Ok(())
    }
}
