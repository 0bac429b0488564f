//! `/api/v1/audit-events`: who changed what and when.

use axum::Json;
use axum::extract::State;
use thetasecure_app::App;
use thetasecure_app::audit::AuditQuery;

use super::AdminPrincipal;
use super::views::*;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;

#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", operation_id = "list_audit_events",
    params(("actor" = Option<String>, Query, description = "Only events by this actor (`user:<username>`, `client:<client_id>`, `cli`, `system`)"),
        ("action" = Option<String>, Query, description = "Only events of this action, e.g. `client.updated`"),
        ("target" = Option<String>, Query, description = "Only events about this object (a client id, scope name or user id)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1–200, default 50")),
    responses((status = 200, body = AuditListView, description = "A page of audit events, newest first"),
        (status = 400, body = ErrorBody, description = "A malformed or out-of-range query parameter")))]
pub async fn list(
    _admin: AdminPrincipal,
    State(app): State<App>,
    query: QueryParams,
) -> Result<Json<AuditListView>, ApiError> {
    let filter = AuditQuery {
        actor: query.get("actor").map(str::to_owned),
        action: query.get("action").map(str::to_owned),
        target_id: query.get("target").map(str::to_owned),
    };
    let page = app
        .list_audit_events(&filter, query.get("cursor"), query.number("limit")?)
        .await?;
    Ok(Json(AuditListView {
        items: page.items.into_iter().map(AuditEventView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
