//! `/api/v1/users`: the local accounts people sign in with.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thetasecure_app::App;
use thetasecure_app::users::UserQuery;

use super::AdminPrincipal;
use super::requests::{Body, NewUserDoc, UserPatchDoc};
use super::views::*;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;

#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    params(
        ("search" = Option<String>, Query, description = "Case-insensitive substring of username, e-mail or display name"),
        ("status" = Option<String>, Query, description = "active or disabled"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = UserListView, description = "A page of users, newest first"),
        (status = 400, body = ErrorBody, description = "A malformed or out-of-range query parameter")))]
pub async fn list(
    _admin: AdminPrincipal,
    State(app): State<App>,
    query: QueryParams,
) -> Result<Json<UserListView>, ApiError> {
    let query = UserQuery {
        search: query.get("search").map(str::to_owned),
        status: query.get("status").map(str::to_owned),
        limit: query.number("limit")?,
        cursor: query.get("cursor").map(str::to_owned),
    };
    let listing = app.list_users(&query).await?;
    Ok(Json(UserListView {
        items: listing.items.into_iter().map(UserView::from).collect(),
        next_cursor: listing.next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "create_user", request_body = NewUserDoc,
    responses((status = 201, body = UserView, description = "Created"),
        (status = 400, body = ErrorBody, description = "An invalid field, named in the description"),
        (status = 409, body = ErrorBody, description = "The username is taken")))]
pub async fn create(
    admin: AdminPrincipal,
    State(app): State<App>,
    Body(body): Body<NewUserDoc>,
) -> Result<Response, ApiError> {
    let user = app.create_user(&admin.actor, body.into()).await?;
    let location = format!("/api/v1/users/{}", user.id);
    let mut response = (StatusCode::CREATED, Json(UserView::from(user))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users", operation_id = "get_user",
    responses((status = 200, body = UserView, description = "The user"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn get(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(app.get_user(&user_id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/users/{user_id}", tag = "users", operation_id = "update_user",
    request_body(content((UserPatchDoc = "application/merge-patch+json"), (UserPatchDoc = "application/json"))),
    responses((status = 200, body = UserView, description = "The updated user"),
        (status = 400, body = ErrorBody, description = "An invalid field, named in the description"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "The username is taken, or the change would leave no active admin user")))]
pub async fn update(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
    Body(patch): Body<UserPatchDoc>,
) -> Result<Json<UserView>, ApiError> {
    let updated = app
        .update_user(&admin.actor, &user_id, patch.into())
        .await?;
    Ok(Json(updated.into()))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users", operation_id = "delete_user",
    responses((status = 204, description = "Deleted"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "The last active admin user")))]
pub async fn delete(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_user(&admin.actor, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/sessions", tag = "users", operation_id = "list_user_sessions",
    responses((status = 200, body = SessionListView, description = "The user's live browser sessions, newest first"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn list_sessions(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<Json<SessionListView>, ApiError> {
    let sessions = app.user_sessions(&user_id).await?;
    Ok(Json(SessionListView {
        items: sessions.into_iter().map(SessionView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}/sessions", tag = "users", operation_id = "end_user_sessions",
    responses((status = 204, description = "Every browser session of the user has ended"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn end_sessions(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.end_user_sessions(&admin.actor, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/consents", tag = "users", operation_id = "list_user_consents",
    responses((status = 200, body = ConsentListView, description = "The clients the user consented to, with the scopes granted"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn list_consents(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<Json<ConsentListView>, ApiError> {
    let consents = app.user_consents(&user_id).await?;
    Ok(Json(ConsentListView {
        items: consents.into_iter().map(ConsentView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}/consents/{client_id}", tag = "users", operation_id = "revoke_user_consent",
    responses((status = 204, description = "Forgotten: the client's next request asks the user again"),
        (status = 404, body = ErrorBody, description = "No such user, or no consent to that client")))]
pub async fn revoke_consent(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path((user_id, client_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.revoke_user_consent(&admin.actor, &user_id, &client_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/refresh-tokens", tag = "users", operation_id = "list_user_refresh_tokens",
    responses((status = 200, body = RefreshTokenListView, description = "The user's live refresh-token families"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn list_refresh_tokens(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<Json<RefreshTokenListView>, ApiError> {
    let tokens = app.user_refresh_tokens(&user_id).await?;
    Ok(Json(RefreshTokenListView {
        items: tokens.into_iter().map(RefreshTokenView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}/refresh-tokens", tag = "users", operation_id = "revoke_user_refresh_tokens",
    responses((status = 204, description = "Every refresh token of the user is revoked, with the access tokens issued from them"),
        (status = 404, body = ErrorBody, description = "No such user")))]
pub async fn revoke_refresh_tokens(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.revoke_user_refresh_tokens(&admin.actor, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
