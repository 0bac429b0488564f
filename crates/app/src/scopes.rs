//! The scope registry (SPEC 6).

use serde_json::{Value, json};
use thetasecure_core::OAuthError;
use thetasecure_core::scope::{SCOPE_DESCRIPTION, is_valid_scope_name};
use thetasecure_core::text::{IDENTIFIER, shown};
use thetasecure_store::ScopeRecord;

use crate::audit::{self, Actor};
use crate::{AdminError, App};

fn invalid(description: impl Into<String>) -> AdminError {
    AdminError::Invalid(OAuthError::invalid_request(description))
}

fn parse_description(body: &Value, required: bool) -> Result<Option<String>, AdminError> {
    match body.get("description") {
        None | Some(Value::Null) if required => Err(invalid("description is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => Ok(Some(SCOPE_DESCRIPTION.normalise("description", raw)?)),
        Some(_) => Err(invalid("description must be a string")),
    }
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

fn reject_unknown_fields(body: &Value, allowed: &[&str]) -> Result<(), AdminError> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(invalid(format!("unknown field `{}`", shown(key)))),
        None => Ok(()),
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
        body: &Value,
    ) -> Result<ScopeRecord, AdminError> {
        reject_unknown_fields(body, &["name", "description"])?;
        let name = match body.get("name") {
            Some(Value::String(name)) if is_valid_scope_name(name) => name.clone(),
            Some(Value::String(_)) => {
                return Err(invalid("name must match ^[A-Za-z0-9_.:/-]{1,128}$"));
            }
            _ => return Err(invalid("name is required and must be a string")),
        };
        let description = parse_description(body, false)?.unwrap_or_default();
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
        body: &Value,
    ) -> Result<ScopeRecord, AdminError> {
        check_path_name(name)?;
        reject_unknown_fields(body, &["description", "name"])?;
        if body.get("name").is_some_and(|given| given != name) {
            return Err(invalid("name is immutable"));
        }
        let description = parse_description(body, true)?.unwrap_or_default();
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "scope.updated",
            "scope",
            name,
            json!({"fields": ["description"]}),
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
