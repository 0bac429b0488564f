//! `/api/v1/scopes`: the scope registry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use thetasecure_app::App;

use super::AdminPrincipal;
use super::requests::{Body, NewScopeDoc, ScopePatchDoc};
use super::views::*;
use crate::error::{ApiError, ErrorBody};

#[utoipa::path(get, path = "/api/v1/scopes", tag = "scopes", operation_id = "list_scopes",
    responses((status = 200, body = ScopeListView, description = "Every scope, built-in ones included")))]
pub async fn list(
    _admin: AdminPrincipal,
    State(app): State<App>,
) -> Result<Json<ScopeListView>, ApiError> {
    let scopes = app.list_scopes().await?;
    Ok(Json(ScopeListView {
        items: scopes.into_iter().map(ScopeView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/scopes", tag = "scopes", operation_id = "create_scope", request_body = NewScopeDoc,
    responses((status = 201, body = ScopeView, description = "Created"),
        (status = 400, body = ErrorBody, description = "An invalid name or description"),
        (status = 409, body = ErrorBody, description = "A scope of that name exists")))]
pub async fn create(
    admin: AdminPrincipal,
    State(app): State<App>,
    Body(body): Body<NewScopeDoc>,
) -> Result<(StatusCode, Json<ScopeView>), ApiError> {
    let scope = app.create_scope(&admin.actor, body.into()).await?;
    Ok((StatusCode::CREATED, Json(scope.into())))
}

#[utoipa::path(get, path = "/api/v1/scopes/{name}", tag = "scopes", operation_id = "get_scope",
    responses((status = 200, body = ScopeView, description = "The scope"),
        (status = 404, body = ErrorBody, description = "No such scope")))]
pub async fn get(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<ScopeView>, ApiError> {
    Ok(Json(app.get_scope(&name).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/scopes/{name}", tag = "scopes", operation_id = "update_scope", request_body = ScopePatchDoc,
    responses((status = 200, body = ScopeView, description = "The updated scope"),
        (status = 400, body = ErrorBody, description = "An invalid description"),
        (status = 404, body = ErrorBody, description = "No such scope")))]
pub async fn update(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(name): Path<String>,
    Body(patch): Body<ScopePatchDoc>,
) -> Result<Json<ScopeView>, ApiError> {
    Ok(Json(
        app.update_scope(&admin.actor, &name, patch.into())
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/scopes/{name}", tag = "scopes", operation_id = "delete_scope",
    responses((status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody, description = "No such scope"),
        (status = 409, body = ErrorBody, description = "Built in, or used by a client")))]
pub async fn delete(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_scope(&admin.actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
