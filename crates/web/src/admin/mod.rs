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
