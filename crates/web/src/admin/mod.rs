//! The admin REST API (`/api/v1`, SPEC 4). Every handler takes an `AdminPrincipal`, so
//! none can be reached without one. The OpenAPI document is generated from these routes.

mod audit;
mod auth;
mod clients;
mod scopes;
pub mod views;

use axum::Json;
use axum::Router;
use thetasecure_app::App;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::AdminPrincipal;

#[derive(OpenApi)]
#[openapi(
    info(title = "ThetaSecure admin API", description = "Manage OAuth clients, their secrets, scopes and the audit log."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::list_secrets, clients::rotate_secret))
        .routes(routes!(clients::revoke_secret))
        .routes(routes!(clients::revoke_tokens))
        .routes(routes!(scopes::list, scopes::create))
        .routes(routes!(scopes::get, scopes::update, scopes::delete))
        .routes(routes!(audit::list))
}

pub fn routes() -> Router<App> {
    let (router, document) = api().split_for_parts();
    router.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || async move { Json(document) }),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    /// The document as served, with each operation as (method path, operation).
    fn operations() -> Vec<(String, Value)> {
        let (_, document) = api().split_for_parts();
        let document = serde_json::to_value(document).unwrap();
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations.push((format!("{method} {path}"), operation.clone()));
            }
        }
        operations
    }

    // OpenAPI requires a description on every response object; utoipa leaves it out
    // when the annotation has none, and validators and SDK generators then refuse it.
    #[test]
    fn every_response_has_a_description() {
        for (operation, body) in operations() {
            for (status, response) in body["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{operation}: response {status} has no description"
                );
            }
        }
    }

    // utoipa names operations after their functions, and `list`, `get`, … repeat across
    // modules; OpenAPI requires unique ids, and SDK generators derive method names from them.
    #[test]
    fn operation_ids_are_unique() {
        let mut seen = BTreeMap::new();
        for (operation, body) in operations() {
            let id = body["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{operation} has no operationId"))
                .to_owned();
            if let Some(other) = seen.insert(id.clone(), operation.clone()) {
                panic!("operationId {id} names both {other} and {operation}");
            }
        }
        assert_eq!(seen.len(), 15, "{seen:?}");
    }
}
