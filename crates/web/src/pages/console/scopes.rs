//! Configuration > OAuth Scopes: the registry (SPEC 6). Register, describe, delete the
//! unused; built-in scopes stay.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use thetasecure_app::App;
use thetasecure_app::scopes::{NewScope, ScopePatch};

use super::{ConsoleAdmin, ConsoleForm, Section, Shell, failure_page, refusal_text, segment};
use crate::pages::login::see_other;

pub struct ScopeRow {
    pub name: String,
    pub path: String,
    pub description: String,
    pub is_builtin: bool,
}

#[derive(Template)]
#[template(path = "console/scopes.html")]
struct ScopesPage {
    shell: Shell,
    scopes: Vec<ScopeRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The create form as typed, when it was refused.
    new_name: String,
    new_description: String,
}

async fn page(
    admin: ConsoleAdmin,
    app: &App,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    typed: (String, String),
) -> Response {
    let scopes = match app.list_scopes().await {
        Ok(scopes) => scopes
            .into_iter()
            .map(|s| ScopeRow {
                path: segment(&s.name).into_owned(),
                name: s.name,
                description: s.description,
                is_builtin: s.is_builtin,
            })
            .collect(),
        Err(error) => return failure_page(error),
    };
    let page = ScopesPage {
        shell: admin.shell(Section::Scopes),
        scopes,
        notice,
        error,
        new_name: typed.0,
        new_description: typed.1,
    };
    admin.page(status, &page)
}

pub async fn list(
    admin: ConsoleAdmin,
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = match raw.as_deref() {
        Some("done=created") => Some("Scope registered."),
        Some("done=updated") => Some("Description saved."),
        Some("done=deleted") => Some("Scope deleted."),
        _ => None,
    };
    page(
        admin,
        &app,
        StatusCode::OK,
        notice,
        None,
        Default::default(),
    )
    .await
}

/// A refusal shown above the table, the typed create form kept.
async fn refused(
    admin: ConsoleAdmin,
    app: &App,
    error: thetasecure_app::AdminError,
    typed: (String, String),
) -> Response {
    let status = match error {
        thetasecure_app::AdminError::Conflict(_) => StatusCode::CONFLICT,
        thetasecure_app::AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    match refusal_text(&error) {
        Some(text) => page(admin, app, status, None, Some(text), typed).await,
        None => failure_page(error),
    }
}

pub async fn create(
    admin: ConsoleAdmin,
    State(app): State<App>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let typed = (
        form.text("name"),
        form.get("description").unwrap_or_default().to_owned(),
    );
    let new = NewScope {
        name: Some(typed.0.clone()),
        description: Some(typed.1.clone()),
    };
    match app.create_scope(&admin.actor, new).await {
        Ok(_) => see_other("/console/scopes?done=created"),
        Err(error) => refused(admin, &app, error, typed).await,
    }
}

pub async fn update(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let patch = ScopePatch {
        description: Some(form.get("description").unwrap_or_default().to_owned()),
        ..ScopePatch::default()
    };
    match app.update_scope(&admin.actor, &name, patch).await {
        Ok(_) => see_other("/console/scopes?done=updated"),
        Err(error) => refused(admin, &app, error, Default::default()).await,
    }
}

pub async fn delete(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    match app.delete_scope(&admin.actor, &name).await {
        Ok(()) => see_other("/console/scopes?done=deleted"),
        Err(error) => refused(admin, &app, error, Default::default()).await,
    }
}
