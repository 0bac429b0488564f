//! The admin API's request bodies: the wire format of the typed commands the use cases
//! take. Each is read with serde; what a body may hold and what a member of the wrong
//! type is told are said here, in the API's own words, so a refusal names the field.

use axum::extract::{FromRequest, OptionalFromRequest, Request};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thetasecure_app::scopes::{NewScope, ScopePatch};
use thetasecure_core::client::{
    ClientFields, ClientPatch, MUTABLE_FIELDS, NewClient, PatchField, access_token_ttl_refused,
};
use thetasecure_core::text::shown;
use thetasecure_core::user::{NewUser, UserFields, UserPatch};
use thetasecure_core::{ErrorCode, OAuthError};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::JsonBody;

/// A JSON object body read into `T`.
pub struct Body<T>(pub T);

/// What a request body may hold and how its refusals read.
pub trait RequestBody: DeserializeOwned {
    /// Whether a `null` member counts as left out, and so is never refused.
    const NULL_IS_ABSENT: bool;
    const MEMBERS: Members;
}

/// The refusals of a body's members.
pub struct Members {
    /// The refusal of a member the body may not have; `None` ignores it.
    unknown: fn(&str) -> Option<OAuthError>,
    /// The refusal of a member of the wrong type.
    misfit: fn(&str) -> OAuthError,
}

fn read<T: RequestBody>(body: Value) -> Result<T, OAuthError> {
    let Value::Object(mut members) = body else {
        return Err(OAuthError::invalid_request(
            "the request body must be a JSON object",
        ));
    };
    if T::NULL_IS_ABSENT {
        members.retain(|_, value| !value.is_null());
    }
    // `members` is sorted by name: the refusal is the same whatever order the request
    // wrote them in.
    if let Some(refusal) = members
        .keys()
        .find_map(|member| (T::MEMBERS.unknown)(member))
    {
        return Err(refusal);
    }
    serde_path_to_error::deserialize(Value::Object(members)).map_err(|error| {
        let member = match error.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => key.clone(),
            _ => String::new(),
        };
        (T::MEMBERS.misfit)(&member)
    })
}

impl<S: Send + Sync, T: RequestBody> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBody(body) = <JsonBody as FromRequest<S>>::from_request(request, state).await?;
        Ok(Body(read(body)?))
    }
}

/// An optional body: absent when the request has none at all.
impl<S: Send + Sync, T: RequestBody> OptionalFromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <JsonBody as OptionalFromRequest<S>>::from_request(request, state).await? {
            None => Ok(None),
            Some(JsonBody(body)) => Ok(Some(Body(read(body)?))),
        }
    }
}

fn metadata_error(description: String) -> OAuthError {
    OAuthError::invalid_client_metadata(description)
}

/// Members a client shows but no request may set.
const READ_ONLY_CLIENT_FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "is_default",
    "created_at",
    "updated_at",
];

fn unknown_client_member(member: &str) -> Option<OAuthError> {
    if member == "client_type" || MUTABLE_FIELDS.contains(&member) {
        None
    } else if READ_ONLY_CLIENT_FIELDS.contains(&member) {
        Some(metadata_error(format!("{member} is read-only")))
    } else {
        Some(metadata_error(format!("unknown field `{}`", shown(member))))
    }
}

const CLIENT_MEMBERS: Members = Members {
    unknown: unknown_client_member,
    misfit: misfit_client_member,
};

fn misfit_client_member(member: &str) -> OAuthError {
    match member {
        "access_token_ttl_seconds" => access_token_ttl_refused(),
        "redirect_uris" => OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris must be an array of strings",
        ),
        "grant_types" | "response_types" | "post_logout_redirect_uris" => {
            metadata_error(format!("{member} must be an array of strings"))
        }
        "require_user_consent" => metadata_error(format!("{member} must be a boolean")),
        _ => metadata_error(format!("{member} must be a string")),
    }
}

/// The create body: the mutable fields plus `client_type`. Only `client_name` is always
/// required; a `custom` client also needs `grant_types` and `scope`, which the
/// `sync_connector` preset sets. `null` is the same as leaving a field out; unknown and
/// read-only fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientDoc {
    /// `custom` (the default) or `sync_connector`; immutable.
    #[schema(example = "custom")]
    pub client_type: Option<String>,
    #[schema(value_type = String, required = true, example = "Billing service")]
    pub client_name: Option<String>,
    pub description: Option<String>,
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Option<Vec<String>>,
    /// Where RP-initiated logout (`/logout`) may send the browser afterwards; matched
    /// exactly, same rules as `redirect_uris`.
    #[schema(example = json!(["https://app.example.com/signed-out"]))]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Option<Vec<String>>,
    /// Defaults to what `grant_types` implies.
    pub response_types: Option<Vec<String>>,
    #[schema(example = "api.read api.write")]
    pub scope: Option<String>,
    /// `client_secret_basic` (the default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// Defaults to `false`.
    pub require_user_consent: Option<bool>,
    #[schema(value_type = Option<u32>, minimum = 60, maximum = 86400)]
    pub access_token_ttl_seconds: Option<u64>,
    /// `active` (the default) or `disabled`.
    pub status: Option<String>,
}

impl RequestBody for NewClientDoc {
    const NULL_IS_ABSENT: bool = true;
    const MEMBERS: Members = CLIENT_MEMBERS;
}

/// Moves the mutable client fields, which the bodies and the commands name alike, from
/// `$body` into the struct literal `$target { … }`.
macro_rules! with_client_fields {
    ($body:ident, $target:ident { $($other:tt)* }) => {
        $target {
            $($other)*
            client_name: $body.client_name,
            description: $body.description,
            redirect_uris: $body.redirect_uris,
            post_logout_redirect_uris: $body.post_logout_redirect_uris,
            grant_types: $body.grant_types,
            response_types: $body.response_types,
            scope: $body.scope,
            token_endpoint_auth_method: $body.token_endpoint_auth_method,
            require_user_consent: $body.require_user_consent,
            access_token_ttl_seconds: $body.access_token_ttl_seconds,
            status: $body.status,
        }
    };
}

impl From<NewClientDoc> for NewClient {
    fn from(body: NewClientDoc) -> Self {
        NewClient {
            client_type: body.client_type,
            fields: with_client_fields!(body, ClientFields {}),
        }
    }
}

/// A JSON merge patch (RFC 7396) of the mutable fields: those given replace the
/// client's, `null` resets one to its default. The result is validated as a create is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchDoc {
    /// May be repeated, never changed.
    // Read as JSON, so that any other value, of any type, is refused as a change.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_type: PatchField<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_name: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub redirect_uris: PatchField<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub post_logout_redirect_uris: PatchField<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub grant_types: PatchField<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub response_types: PatchField<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub scope: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub token_endpoint_auth_method: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub require_user_consent: PatchField<bool>,
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 60, maximum = 86400)]
    pub access_token_ttl_seconds: PatchField<u64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: PatchField<String>,
}

impl RequestBody for ClientPatchDoc {
    // A member the merge would drop still has to be a field: the audit entry lists it.
    const NULL_IS_ABSENT: bool = false;
    const MEMBERS: Members = CLIENT_MEMBERS;
}

/// A JSON value as text to compare with a name: a string as it is, anything else as
/// JSON, which no name equals.
fn as_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn text_patch(field: PatchField<Value>) -> PatchField<String> {
    match field {
        PatchField::Keep => PatchField::Keep,
        PatchField::Reset => PatchField::Reset,
        PatchField::Set(value) => PatchField::Set(as_text(value)),
    }
}

impl From<ClientPatchDoc> for ClientPatch {
    fn from(body: ClientPatchDoc) -> Self {
        with_client_fields!(
            body,
            ClientPatch {
                client_type: text_patch(body.client_type),
            }
        )
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RotateSecretDoc {
    /// How long the secrets active now keep working (0–604800, default 0).
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

impl RequestBody for RotateSecretDoc {
    const NULL_IS_ABSENT: bool = true;
    const MEMBERS: Members = Members {
        // Other members were always ignored here; kept so, as clients may send them.
        unknown: |_| None,
        misfit: |member| OAuthError::invalid_request(format!("{member} must be an integer")),
    };
}

const SCOPE_MEMBERS: Members = Members {
    unknown: |member| {
        (!["name", "description"].contains(&member))
            .then(|| OAuthError::invalid_request(format!("unknown field `{}`", shown(member))))
    },
    misfit: |member| OAuthError::invalid_request(format!("{member} must be a string")),
};

#[derive(Deserialize, ToSchema)]
pub struct NewScopeDoc {
    // Read as JSON: a name that is no string is refused as a missing one.
    #[schema(value_type = String, required = true, example = "billing:read")]
    pub name: Option<Value>,
    pub description: Option<String>,
}

impl RequestBody for NewScopeDoc {
    const NULL_IS_ABSENT: bool = false;
    const MEMBERS: Members = SCOPE_MEMBERS;
}

impl From<NewScopeDoc> for NewScope {
    fn from(body: NewScopeDoc) -> Self {
        NewScope {
            name: body.name.and_then(|name| match name {
                Value::String(name) => Some(name),
                _ => None,
            }),
            description: body.description,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ScopePatchDoc {
    #[schema(value_type = String, required = true)]
    pub description: Option<String>,
    // The name may be restated, never changed; read as JSON so any other value, of any
    // type, is refused as a change. Not documented: it was never part of the schema.
    #[serde(default)]
    #[schema(ignore)]
    pub name: PatchField<Value>,
}

impl RequestBody for ScopePatchDoc {
    const NULL_IS_ABSENT: bool = false;
    const MEMBERS: Members = SCOPE_MEMBERS;
}

impl From<ScopePatchDoc> for ScopePatch {
    fn from(body: ScopePatchDoc) -> Self {
        ScopePatch {
            name: text_patch(body.name),
            description: body.description,
        }
    }
}

/// The members a user body may have; the password is write-only.
const USER_FIELDS: &[&str] = &[
    "username",
    "password",
    "email",
    "display_name",
    "status",
    "is_admin",
];

/// Members a user shows but no request may set.
const READ_ONLY_USER_FIELDS: &[&str] = &["id", "created_at", "updated_at"];

const USER_MEMBERS: Members = Members {
    unknown: |member| {
        if USER_FIELDS.contains(&member) {
            None
        } else if READ_ONLY_USER_FIELDS.contains(&member) {
            Some(OAuthError::invalid_request(format!(
                "{member} is read-only"
            )))
        } else {
            Some(OAuthError::invalid_request(format!(
                "unknown field `{}`",
                shown(member)
            )))
        }
    },
    misfit: |member| match member {
        "is_admin" => OAuthError::invalid_request(format!("{member} must be a boolean")),
        _ => OAuthError::invalid_request(format!("{member} must be a string")),
    },
};

/// A user to create. `username` and `password` are required; `null` is the same as
/// leaving a field out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserDoc {
    /// 1–64 letters, digits and `. _ - @ +`; unique without regard to case.
    #[schema(value_type = String, required = true, example = "alice")]
    pub username: Option<String>,
    /// 12–256 characters. Write-only: never shown.
    #[schema(value_type = String, required = true, write_only)]
    pub password: Option<String>,
    #[schema(example = "alice@example.com")]
    pub email: Option<String>,
    #[schema(example = "Alice Example")]
    pub display_name: Option<String>,
    /// `active` (the default) or `disabled`.
    pub status: Option<String>,
    /// May sign in to the console. Defaults to `false`.
    pub is_admin: Option<bool>,
}

impl RequestBody for NewUserDoc {
    const NULL_IS_ABSENT: bool = true;
    const MEMBERS: Members = USER_MEMBERS;
}

impl From<NewUserDoc> for NewUser {
    fn from(body: NewUserDoc) -> Self {
        NewUser {
            fields: UserFields {
                username: body.username,
                email: body.email,
                display_name: body.display_name,
                status: body.status,
                is_admin: body.is_admin,
            },
            password: body.password,
        }
    }
}

/// A JSON merge patch (RFC 7396) of a user: members given replace the user's, `null`
/// clears `email` or `display_name`. A `password` replaces the user's password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchDoc {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub username: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, write_only)]
    pub password: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: PatchField<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_admin: PatchField<bool>,
}

impl RequestBody for UserPatchDoc {
    const NULL_IS_ABSENT: bool = false;
    const MEMBERS: Members = USER_MEMBERS;
}

impl From<UserPatchDoc> for UserPatch {
    fn from(body: UserPatchDoc) -> Self {
        UserPatch {
            username: body.username,
            email: body.email,
            display_name: body.display_name,
            status: body.status,
            is_admin: body.is_admin,
            password: body.password,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refused<T: RequestBody>(body: Value) -> OAuthError {
        match read::<T>(body) {
            Ok(_) => panic!("the body should be refused"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_member_of_the_wrong_type_is_named_as_the_api_always_named_it() {
        for (member, value, code, says) in [
            (
                "client_name",
                json!(5),
                ErrorCode::InvalidClientMetadata,
                "client_name must be a string",
            ),
            (
                "scope",
                json!(["api.read"]),
                ErrorCode::InvalidClientMetadata,
                "scope must be a string",
            ),
            (
                "grant_types",
                json!("client_credentials"),
                ErrorCode::InvalidClientMetadata,
                "grant_types must be an array of strings",
            ),
            (
                "grant_types",
                json!(["client_credentials", 5]),
                ErrorCode::InvalidClientMetadata,
                "grant_types must be an array of strings",
            ),
            (
                "redirect_uris",
                json!("https://a.example/cb"),
                ErrorCode::InvalidRedirectUri,
                "redirect_uris must be an array of strings",
            ),
            (
                "post_logout_redirect_uris",
                json!("https://a.example/bye"),
                ErrorCode::InvalidClientMetadata,
                "post_logout_redirect_uris must be an array of strings",
            ),
            (
                "require_user_consent",
                json!("yes"),
                ErrorCode::InvalidClientMetadata,
                "require_user_consent must be a boolean",
            ),
            (
                "access_token_ttl_seconds",
                json!(-1),
                ErrorCode::InvalidClientMetadata,
                "access_token_ttl_seconds must be an integer from 60 to 86400",
            ),
            (
                "access_token_ttl_seconds",
                json!(3.5),
                ErrorCode::InvalidClientMetadata,
                "access_token_ttl_seconds must be an integer from 60 to 86400",
            ),
            (
                "access_token_ttl_seconds",
                json!("600"),
                ErrorCode::InvalidClientMetadata,
                "access_token_ttl_seconds must be an integer from 60 to 86400",
            ),
            (
                "client_type",
                json!(1),
                ErrorCode::InvalidClientMetadata,
                "client_type must be a string",
            ),
        ] {
            let error = refused::<NewClientDoc>(json!({ "client_name": "x", member: value }));
            assert_eq!(
                (error.code, error.description.as_str()),
                (code, says),
                "{member}"
            );
        }
    }

    #[test]
    fn unknown_and_read_only_members_are_named_and_nulls_count_as_left_out_on_create() {
        let error = refused::<NewClientDoc>(json!({"client_name": "x", "colour": "red"}));
        assert_eq!(error.description, "unknown field `colour`");
        assert_eq!(error.code, ErrorCode::InvalidClientMetadata);
        let error = refused::<NewClientDoc>(json!({"client_name": "x", "client_id": "ts_mine"}));
        assert_eq!(error.description, "client_id is read-only");
        let error = refused::<NewClientDoc>(json!([1, 2]));
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        let created: NewClient =
            read::<NewClientDoc>(json!({"client_name": "x", "client_id": null, "scope": null}))
                .unwrap()
                .into();
        assert_eq!(created.fields.client_name.as_deref(), Some("x"));
        assert_eq!(created.fields.scope, None);
    }

    #[test]
    fn a_patch_keeps_left_out_members_resets_nulls_and_refuses_null_unknowns() {
        let patch: ClientPatch =
            read::<ClientPatchDoc>(json!({"description": null, "scope": "a", "client_type": 5}))
                .unwrap()
                .into();
        assert_eq!(patch.description, PatchField::Reset);
        assert_eq!(patch.scope, PatchField::Set("a".to_owned()));
        assert_eq!(patch.client_name, PatchField::Keep);
        assert_eq!(patch.client_type, PatchField::Set("5".to_owned()));
        let error = refused::<ClientPatchDoc>(json!({"colour\u{0}": null}));
        assert_eq!(error.description, "unknown field `colour\\u{0000}`");
        let error = refused::<ClientPatchDoc>(json!({"client_id": null}));
        assert_eq!(error.description, "client_id is read-only");
    }

    #[test]
    fn scope_and_rotation_bodies() {
        let new: NewScope = read::<NewScopeDoc>(json!({"name": 5})).unwrap().into();
        assert_eq!(new.name, None);
        let error = refused::<NewScopeDoc>(json!({"name": "a", "description": 5}));
        assert_eq!(error.description, "description must be a string");
        let error = refused::<ScopePatchDoc>(json!({"description": "d", "colour": null}));
        assert_eq!(error.description, "unknown field `colour`");
        let patch: ScopePatch = read::<ScopePatchDoc>(json!({"description": "d", "name": null}))
            .unwrap()
            .into();
        assert_eq!(patch.name, PatchField::Reset);
        let error = refused::<RotateSecretDoc>(json!({"grace_period_seconds": "60"}));
        assert_eq!(error.description, "grace_period_seconds must be an integer");
        let rotate =
            read::<RotateSecretDoc>(json!({"grace_period_seconds": 60, "note": 1})).unwrap();
        assert_eq!(rotate.grace_period_seconds, Some(60));
    }

    #[test]
    fn user_bodies() {
        let new: NewUser =
            read::<NewUserDoc>(json!({"username": "a", "password": "p", "email": null}))
                .unwrap()
                .into();
        assert_eq!(new.password.as_deref(), Some("p"));
        assert_eq!(new.fields.email, None);
        for (body, says) in [
            (json!({"is_admin": 1}), "is_admin must be a boolean"),
            (json!({"password": 5}), "password must be a string"),
            (json!({"created_at": "x"}), "created_at is read-only"),
            (json!({"role": "root"}), "unknown field `role`"),
        ] {
            assert_eq!(refused::<NewUserDoc>(body).description, says);
        }
        let patch: UserPatch = read::<UserPatchDoc>(json!({"email": null, "password": "p"}))
            .unwrap()
            .into();
        assert_eq!(patch.email, PatchField::Reset);
        assert_eq!(patch.password, PatchField::Set("p".to_owned()));
        assert_eq!(patch.username, PatchField::Keep);
        assert_eq!(
            refused::<UserPatchDoc>(json!({"id": null})).description,
            "id is read-only"
        );
    }
}
