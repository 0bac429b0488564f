//! The admin REST API (`/api/v1`, SPEC 4). Every handler takes an `AdminPrincipal`, so
//! none can be reached without one. The OpenAPI document is generated from these routes.

mod audit;
mod auth;
mod clients;
pub mod requests;
mod scopes;
mod users;
pub mod views;

use axum::Json;
use axum::Router;
use thetasecure_app::App;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Header, Object, Ref, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::AdminPrincipal;

#[derive(OpenApi)]
#[openapi(
    info(title = "ThetaSecure admin API", description = "Manage OAuth clients, their secrets, scopes, users and the audit log."),
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

/// An answer any admin operation can give, whatever it does.
struct CommonResponse {
    status: &'static str,
    /// Its name under `components/responses`.
    name: &'static str,
    description: &'static str,
    header: (&'static str, Type, &'static str),
}

/// The `AdminPrincipal` rejections (SPEC 4) and a storage outage. Added to every
/// operation of the finished document, so no handler's annotation can forget them.
const COMMON_RESPONSES: [CommonResponse; 3] = [
    CommonResponse {
        status: "401",
        name: "Unauthorized",
        description: "No bearer access token, or one that is invalid, expired or revoked",
        header: (
            "WWW-Authenticate",
            Type::String,
            "A `Bearer` challenge (RFC 6750)",
        ),
    },
    CommonResponse {
        status: "403",
        name: "Forbidden",
        description: "The access token lacks the `admin` scope",
        header: (
            "WWW-Authenticate",
            Type::String,
            "A `Bearer` challenge with `error=\"insufficient_scope\"`",
        ),
    },
    CommonResponse {
        status: "503",
        name: "Unavailable",
        description: "Storage is temporarily unavailable (`temporarily_unavailable`)",
        header: (
            "Retry-After",
            Type::Integer,
            "Seconds to wait before retrying",
        ),
    },
];

struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for common in &COMMON_RESPONSES {
            let (header, header_type, header_description) = common.header.clone();
            let response = ResponseBuilder::new()
                .description(common.description)
                .header(
                    header,
                    Header::builder()
                        .schema(Some(Object::with_type(header_type)))
                        .description(Some(header_description))
                        .build(),
                )
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build();
            components
                .responses
                .insert(common.name.to_owned(), response.into());
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for common in &COMMON_RESPONSES {
                    operation
                        .responses
                        .responses
                        .entry(common.status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(common.name)));
                }
            }
        }
    }
}

fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::list_secrets, clients::rotate_secret))
        .routes(routes!(clients::revoke_secret))
        .routes(routes!(clients::revoke_tokens))
        .routes(routes!(clients::usage))
        .routes(routes!(scopes::list, scopes::create))
        .routes(routes!(scopes::get, scopes::update, scopes::delete))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::list_sessions, users::end_sessions))
        .routes(routes!(users::list_consents))
        .routes(routes!(users::revoke_consent))
        .routes(routes!(
            users::list_refresh_tokens,
            users::revoke_refresh_tokens
        ))
        .routes(routes!(audit::list))
}

/// The admin routes and the OpenAPI document that describes them.
fn split() -> (Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut document) = api().split_for_parts();
    CommonResponses.modify(&mut document);
    (router, document)
}

pub fn routes() -> Router<App> {
    let (router, document) = split();
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

    /// The document as served.
    fn document() -> Value {
        serde_json::to_value(split().1).unwrap()
    }

    /// Each operation as ("method path", operation).
    fn operations(document: &Value) -> Vec<(String, &Value)> {
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations.push((format!("{method} {path}"), operation));
            }
        }
        operations
    }

    /// An operation's responses by status, references to `components/responses` resolved.
    fn responses<'a>(document: &'a Value, operation: &'a Value) -> Vec<(&'a String, &'a Value)> {
        let mut responses = Vec::new();
        for (status, response) in operation["responses"].as_object().unwrap() {
            let response = match response["$ref"].as_str() {
                Some(reference) => {
                    let name = reference.strip_prefix("#/components/responses/").unwrap();
                    let target = &document["components"]["responses"][name];
                    assert!(target.is_object(), "{reference} does not resolve");
                    target
                }
                None => response,
            };
            responses.push((status, response));
        }
        responses
    }

    // OpenAPI requires a description on every response object; utoipa leaves it out
    // when the annotation has none, and validators and SDK generators then refuse it.
    #[test]
    fn every_response_has_a_description() {
        let document = document();
        for (operation, body) in operations(&document) {
            for (status, response) in responses(&document, body) {
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
        let document = document();
        let mut seen = BTreeMap::new();
        for (operation, body) in operations(&document) {
            let id = body["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{operation} has no operationId"))
                .to_owned();
            if let Some(other) = seen.insert(id.clone(), operation.clone()) {
                panic!("operationId {id} names both {other} and {operation}");
            }
        }
        assert_eq!(seen.len(), 27, "{seen:?}");
    }

    #[test]
    fn every_operation_documents_the_admin_rejections_and_an_outage() {
        let document = document();
        for (operation, body) in operations(&document) {
            let responses = responses(&document, body);
            for (status, header) in [
                ("401", "WWW-Authenticate"),
                ("403", "WWW-Authenticate"),
                ("503", "Retry-After"),
            ] {
                let (_, response) = responses
                    .iter()
                    .find(|(s, _)| s.as_str() == status)
                    .unwrap_or_else(|| panic!("{operation} does not document {status}"));
                assert!(
                    response["headers"].get(header).is_some(),
                    "{operation} {status}"
                );
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{operation} {status}"
                );
            }
        }
    }

    // The create body needs only a name (the rest has defaults or depends on the
    // client type), a merge patch needs nothing, and rotation works without a body.
    #[test]
    fn request_bodies_require_what_the_server_requires() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["NewClientDoc"]["required"],
            serde_json::json!(["client_name"])
        );
        assert!(schemas["ClientPatchDoc"].get("required").is_none());
        let patch = &document["paths"]["/api/v1/clients/{client_id}"]["patch"]["requestBody"];
        assert!(
            patch["content"]
                .get("application/merge-patch+json")
                .is_some()
        );
        let rotate = &document["paths"]["/api/v1/clients/{client_id}/secrets"]["post"];
        assert_ne!(rotate["requestBody"]["required"], true);
    }
}
