//! `/api/v1/clients`: the client registry, its secrets and token revocation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thetasecure_app::App;
use thetasecure_app::clients::ClientQuery;

use super::AdminPrincipal;
use super::requests::{Body, ClientPatchDoc, NewClientDoc, RotateSecretDoc};
use super::views::*;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;
use crate::oauth::no_store;

#[utoipa::path(get, path = "/api/v1/clients", tag = "clients", operation_id = "list_clients",
    params(
        ("search" = Option<String>, Query, description = "Case-insensitive substring of client name or client id"),
        ("status" = Option<String>, Query, description = "active or disabled"),
        ("grant_type" = Option<String>, Query, description = "Only clients with this grant type"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = ClientListView, description = "A page of clients, newest first"),
        (status = 400, body = ErrorBody, description = "A malformed or out-of-range query parameter")))]
pub async fn list(
    _admin: AdminPrincipal,
    State(app): State<App>,
    query: QueryParams,
) -> Result<Json<ClientListView>, ApiError> {
    let query = ClientQuery {
        search: query.get("search").map(str::to_owned),
        status: query.get("status").map(str::to_owned),
        grant_type: query.get("grant_type").map(str::to_owned),
        limit: query.number("limit")?,
        cursor: query.get("cursor").map(str::to_owned),
    };
    let listing = app.list_clients(&query).await?;
    Ok(Json(ClientListView {
        items: listing.items.into_iter().map(ClientView::from).collect(),
        next_cursor: listing.next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", operation_id = "create_client", request_body = NewClientDoc,
    responses((status = 201, body = ClientCreatedView, description = "Created; `client_secret` is shown only here"),
        (status = 400, body = ErrorBody, description = "invalid_client_metadata or invalid_redirect_uri")))]
pub async fn create(
    admin: AdminPrincipal,
    State(app): State<App>,
    Body(body): Body<NewClientDoc>,
) -> Result<Response, ApiError> {
    let created = app.create_client(&admin.actor, body.into()).await?;
    let location = format!("/api/v1/clients/{}", created.client.client_id);
    let view = ClientCreatedView {
        client: created.client.into(),
        client_secret: created.secret.map(|secret| secret.expose().to_owned()),
    };
    let mut response = no_store((StatusCode::CREATED, Json(view)));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/clients/{client_id}", tag = "clients", operation_id = "get_client",
    responses((status = 200, body = ClientView, description = "The client"),
        (status = 404, body = ErrorBody, description = "No such client")))]
pub async fn get(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientView>, ApiError> {
    Ok(Json(app.get_client(&client_id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/clients/{client_id}", tag = "clients", operation_id = "update_client",
    request_body(content((ClientPatchDoc = "application/merge-patch+json"), (ClientPatchDoc = "application/json"))),
    params(("force" = Option<bool>, Query, description = "Required to change grant types, scope or redirect URIs of a default client")),
    responses((status = 200, body = ClientView, description = "The updated client"),
        (status = 400, body = ErrorBody, description = "invalid_client_metadata or invalid_redirect_uri"),
        (status = 404, body = ErrorBody, description = "No such client"),
        (status = 409, body = ErrorBody, description = "A protected field of a default client, without `force=true`")))]
pub async fn update(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
    query: QueryParams,
    Body(patch): Body<ClientPatchDoc>,
) -> Result<Json<ClientView>, ApiError> {
    let updated = app
        .update_client(&admin.actor, &client_id, patch.into(), query.flag("force")?)
        .await?;
    Ok(Json(updated.into()))
}

#[utoipa::path(delete, path = "/api/v1/clients/{client_id}", tag = "clients", operation_id = "delete_client",
    params(("force" = Option<bool>, Query, description = "Required to delete a default client")),
    responses((status = 204, description = "Deleted, with its codes, refresh tokens and consents"),
        (status = 404, body = ErrorBody, description = "No such client"),
        (status = 409, body = ErrorBody, description = "A default client, without `force=true`")))]
pub async fn delete(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
    query: QueryParams,
) -> Result<StatusCode, ApiError> {
    app.delete_client(&admin.actor, &client_id, query.flag("force")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/clients/{client_id}/secrets", tag = "clients", operation_id = "list_client_secrets",
    responses((status = 200, body = SecretListView, description = "The client's secrets as records, never their values"),
        (status = 404, body = ErrorBody, description = "No such client")))]
pub async fn list_secrets(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Result<Json<SecretListView>, ApiError> {
    let now = app.now();
    let records = app.list_secrets(&client_id).await?;
    Ok(Json(SecretListView {
        items: records
            .into_iter()
            .map(|r| SecretView::new(r, now))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/clients/{client_id}/secrets", tag = "clients", operation_id = "rotate_client_secret", request_body(content = Option<RotateSecretDoc>, description = "Optional; without it the secrets active now stop working at once"),
    responses((status = 201, body = SecretCreatedView, description = "Created; `client_secret` is shown only here"),
        (status = 400, body = ErrorBody, description = "A public client, or `grace_period_seconds` out of range"),
        (status = 404, body = ErrorBody, description = "No such client"),
        (status = 409, body = ErrorBody, description = "The client already holds the most active secrets allowed")))]
pub async fn rotate_secret(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
    body: Option<Body<RotateSecretDoc>>,
) -> Result<Response, ApiError> {
    let grace = body.and_then(|Body(body)| body.grace_period_seconds);
    let (record, secret) = app.rotate_secret(&admin.actor, &client_id, grace).await?;
    let view = SecretCreatedView {
        record: SecretView::new(record, app.now()),
        client_secret: secret.expose().to_owned(),
    };
    Ok(no_store((StatusCode::CREATED, Json(view))))
}

#[utoipa::path(delete, path = "/api/v1/clients/{client_id}/secrets/{secret_id}", tag = "clients", operation_id = "revoke_client_secret",
    responses((status = 204, description = "Revoked; it stops working now"),
        (status = 404, body = ErrorBody, description = "No such client or secret"),
        (status = 409, body = ErrorBody, description = "The last active secret")))]
pub async fn revoke_secret(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path((client_id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.revoke_secret(&admin.actor, &client_id, &secret_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/clients/{client_id}/revoke-tokens", tag = "clients", operation_id = "revoke_client_tokens",
    responses((status = 204, description = "Every refresh and access token of the client is revoked"),
        (status = 404, body = ErrorBody, description = "No such client")))]
pub async fn revoke_tokens(
    admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    app.revoke_client_tokens(&admin.actor, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/clients/{client_id}/usage", tag = "clients", operation_id = "get_client_usage",
    responses((status = 200, body = ClientUsageView, description = "Tokens issued per UTC day over the last 30 days, and the last authentication"),
        (status = 404, body = ErrorBody, description = "No such client")))]
pub async fn usage(
    _admin: AdminPrincipal,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientUsageView>, ApiError> {
    Ok(Json(app.client_usage(&client_id).await?.into()))
}
