//! The client model (SPEC 3). Parse, don't validate: a `ClientMetadata` that exists has
//! passed every rule, and the same checks serve create and merge-patch, so an update is
//! validated exactly as a create is. Callers hand in typed commands (`NewClient`,
//! `ClientPatch`); reading them from JSON or a form is the caller's business.

use crate::Timestamp;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::{AuthMethod, ClientStatus, ClientType, GrantType, ResponseType};
use crate::ids::ClientId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;
use crate::text::{TextError, TextRule, shown};

/// SPEC 3: 1–200 characters after trimming, any Unicode.
pub const CLIENT_NAME: TextRule = TextRule::single_line(1, 200);
/// SPEC 3: at most 2000 characters.
pub const CLIENT_DESCRIPTION: TextRule = TextRule::multi_line(0, 2000);
/// The admin list's `search`: a term longer than any client name or id matches nothing.
pub const CLIENT_SEARCH: TextRule = TextRule::single_line(0, CLIENT_NAME.max_chars);
pub const MAX_REDIRECT_URIS: usize = 20;
pub const TTL_RANGE_SECONDS: std::ops::RangeInclusive<u32> = 60..=86_400;
const SYNC_CONNECTOR_SCOPE: &str = "directory.read directory.write";

/// Every mutable field, validated. Field names are RFC 7591 client metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    pub client_name: String,
    pub description: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may send the browser afterwards (OIDC RP-Initiated
    /// Logout 1.0 §3.1), matched exactly.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    pub scope: ScopeSet,
    pub token_endpoint_auth_method: AuthMethod,
    pub require_user_consent: bool,
    pub access_token_ttl_seconds: Option<u32>,
    pub status: ClientStatus,
}

impl ClientMetadata {
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method.is_confidential()
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A stored client. The secret is not part of it: secrets are separate records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: ClientId,
    pub client_type: ClientType,
    pub metadata: ClientMetadata,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Access tokens issued before this instant are revoked (revoke-tokens, disable).
    pub tokens_revoked_before: Option<Timestamp>,
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.metadata.status == ClientStatus::Active
    }
}

/// The mutable client fields as a caller gave them (admin API body, CLI options, console
/// form), not yet checked: `None` is "not given". Generated with [`ClientPatch`] from one
/// list, so the two cannot drift apart.
macro_rules! client_fields {
    ($($field:ident: $ty:ty),+ $(,)?) => {
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
        pub struct ClientFields {
            $(pub $field: Option<$ty>,)+
        }

        /// A JSON merge patch (RFC 7396) of the mutable fields, typed. `client_type` may
        /// be restated, never changed.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[cfg_attr(test, derive(serde::Deserialize), serde(deny_unknown_fields))]
        pub struct ClientPatch {
            #[cfg_attr(test, serde(default))]
            pub client_type: PatchField<String>,
            $(
                #[cfg_attr(test, serde(default))]
                pub $field: PatchField<$ty>,
            )+
        }

        /// Every mutable field by its RFC 7591 name.
        pub const MUTABLE_FIELDS: &[&str] = &[$(stringify!($field)),+];

        impl ClientPatch {
            /// The names of the members the patch has, `null` ones included, sorted.
            pub fn named_fields(&self) -> Vec<&'static str> {
                let mut names = Vec::new();
                if self.client_type.is_given() {
                    names.push("client_type");
                }
                $(if self.$field.is_given() {
                    names.push(stringify!($field));
                })+
                names.sort_unstable();
                names
            }

            fn merge_into(self, fields: &mut ClientFields) {
                $(self.$field.merge_into(&mut fields.$field);)+
            }
        }

        /// The patch that sets every given field and keeps the rest.
        impl From<ClientFields> for ClientPatch {
            fn from(fields: ClientFields) -> Self {
                Self {
                    client_type: PatchField::Keep,
                    $($field: fields.$field.map_or(PatchField::Keep, PatchField::Set),)+
                }
            }
        }
    };
}

client_fields! {
    client_name: String,
    description: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    scope: String,
    token_endpoint_auth_method: String,
    require_user_consent: bool,
    access_token_ttl_seconds: u64,
    status: String,
}

/// A create request as the caller gave it; [`validate_new_client`] checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewClient {
    /// `custom` when not given.
    pub client_type: Option<String>,
    pub fields: ClientFields,
}

/// One member of a JSON merge patch (RFC 7396): absent, `null`, or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PatchField<T> {
    /// Not in the patch: the current value stays.
    #[default]
    Keep,
    /// `null`: back to the default.
    Reset,
    Set(T),
}

impl<T> PatchField<T> {
    pub fn is_given(&self) -> bool {
        !matches!(self, Self::Keep)
    }

    pub(crate) fn merge_into(self, current: &mut Option<T>) {
        match self {
            Self::Keep => {}
            Self::Reset => *current = None,
            Self::Set(value) => *current = Some(value),
        }
    }
}

/// `null` is `Reset` and a value is `Set`; an absent member needs `#[serde(default)]`
/// on the field to be `Keep`. RFC 7396's semantics, for whoever reads a patch with serde.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for PatchField<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Self::Reset,
            Some(value) => Self::Set(value),
        })
    }
}

impl From<&ClientMetadata> for ClientFields {
    fn from(metadata: &ClientMetadata) -> Self {
        fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Option<Vec<String>> {
            Some(items.iter().map(|item| name(item).to_owned()).collect())
        }
        Self {
            client_name: Some(metadata.client_name.clone()),
            description: metadata.description.clone(),
            redirect_uris: names(&metadata.redirect_uris, RedirectUri::as_str),
            post_logout_redirect_uris: names(
                &metadata.post_logout_redirect_uris,
                RedirectUri::as_str,
            ),
            grant_types: names(&metadata.grant_types, |g| g.as_str()),
            response_types: names(&metadata.response_types, |r| r.as_str()),
            scope: Some(metadata.scope.to_string()),
            token_endpoint_auth_method: Some(
                metadata.token_endpoint_auth_method.as_str().to_owned(),
            ),
            require_user_consent: Some(metadata.require_user_consent),
            access_token_ttl_seconds: metadata.access_token_ttl_seconds.map(u64::from),
            status: Some(metadata.status.as_str().to_owned()),
        }
    }
}

/// Checks a create request. `scope_exists` answers whether a scope is registered.
pub fn validate_new_client(
    new: NewClient,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<(ClientType, ClientMetadata), OAuthError> {
    let client_type = match new.client_type.as_deref() {
        None => ClientType::Custom,
        Some(raw) => ClientType::parse(raw).ok_or_else(|| {
            metadata_error(format!(
                "client_type must be one of: {}",
                ClientType::expected()
            ))
        })?,
    };
    let metadata = validate_fields(new.fields, client_type, scope_exists)?;
    Ok((client_type, metadata))
}

/// Applies a merge patch to a client and checks the result as a create is checked.
pub fn apply_client_patch(
    current: &Client,
    patch: ClientPatch,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<ClientMetadata, OAuthError> {
    match &patch.client_type {
        PatchField::Keep => {}
        PatchField::Set(raw) if raw == current.client_type.as_str() => {}
        _ => return Err(metadata_error("client_type is immutable")),
    }
    let mut fields = ClientFields::from(&current.metadata);
    // response_types follows grant_types unless the patch sets it, so a patch that only
    // changes grant_types does not trip over the old, now inconsistent, value.
    if patch.grant_types.is_given() && !patch.response_types.is_given() {
        fields.response_types = None;
    }
    patch.merge_into(&mut fields);
    validate_fields(fields, current.client_type, scope_exists)
}

/// The refusal of an `access_token_ttl_seconds` that is not an integer in range; the web
/// layer gives the same answer for a JSON value that is no integer at all.
pub fn access_token_ttl_refused() -> OAuthError {
    metadata_error(format!(
        "access_token_ttl_seconds must be an integer from {} to {}",
        TTL_RANGE_SECONDS.start(),
        TTL_RANGE_SECONDS.end()
    ))
}

/// For a default client, the name of the first protected field an update changes.
pub fn protected_field_changed(current: &Client, updated: &ClientMetadata) -> Option<&'static str> {
    let before = &current.metadata;
    if !current.is_default {
        None
    } else if before.grant_types != updated.grant_types {
        Some("grant_types")
    } else if before.scope != updated.scope {
        Some("scope")
    } else if before.redirect_uris != updated.redirect_uris {
        Some("redirect_uris")
    } else if before.post_logout_redirect_uris != updated.post_logout_redirect_uris {
        Some("post_logout_redirect_uris")
    } else {
        None
    }
}

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn text_error(error: TextError) -> OAuthError {
    metadata_error(error.to_string())
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// A field that must be given, or the error naming it.
fn required<T>(value: Option<T>, key: &str) -> Result<T, OAuthError> {
    value.ok_or_else(|| metadata_error(format!("{key} is required")))
}

/// One of an enum's wire names, or the error listing them all.
fn one_of<T>(
    raw: &str,
    key: &str,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
) -> Result<T, OAuthError> {
    parse(raw).ok_or_else(|| metadata_error(format!("{key} must be one of: {}", expected())))
}

fn validate_fields(
    mut fields: ClientFields,
    client_type: ClientType,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<ClientMetadata, OAuthError> {
    if client_type == ClientType::SyncConnector {
        apply_sync_connector_preset(&mut fields)?;
    }

    let client_name = CLIENT_NAME
        .normalise("client_name", &required(fields.client_name, "client_name")?)
        .map_err(text_error)?;
    let description = fields
        .description
        .map(|raw| CLIENT_DESCRIPTION.normalise("description", &raw))
        .transpose()
        .map_err(text_error)?
        .filter(|text| !text.is_empty());

    let token_endpoint_auth_method = match fields.token_endpoint_auth_method.as_deref() {
        None => AuthMethod::ClientSecretBasic,
        Some(raw) => one_of(
            raw,
            "token_endpoint_auth_method",
            AuthMethod::parse,
            AuthMethod::expected,
        )?,
    };
    let confidential = token_endpoint_auth_method.is_confidential();

    let grant_types = parse_grant_types(required(fields.grant_types, "grant_types")?)?;
    let has = |grant| grant_types.contains(&grant);
    if has(GrantType::RefreshToken)
        && !has(GrantType::AuthorizationCode)
        && !has(GrantType::Password)
    {
        return Err(metadata_error(
            "grant_types: refresh_token requires authorization_code or password",
        ));
    }
    if !confidential {
        for grant in [GrantType::ClientCredentials, GrantType::Password] {
            if has(grant) {
                return Err(metadata_error(format!(
                    "grant_types: {grant} requires a confidential client (token_endpoint_auth_method other than none)"
                )));
            }
        }
    }

    let consistent_response_types = if has(GrantType::AuthorizationCode) {
        vec![ResponseType::Code]
    } else {
        Vec::new()
    };
    let response_types = match fields.response_types {
        None => consistent_response_types,
        Some(raw_types) => {
            let parsed = raw_types
                .iter()
                .map(|raw| {
                    ResponseType::parse(raw).ok_or_else(|| {
                        metadata_error(format!(
                            "response_types: `{}` is not supported (supported: {})",
                            shown(raw),
                            ResponseType::expected()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut deduped = parsed.clone();
            deduped.dedup();
            if deduped != consistent_response_types {
                return Err(metadata_error(
                    "response_types must be [\"code\"] when grant_types has authorization_code, else [] (RFC 7591 §2.1)",
                ));
            }
            deduped
        }
    };

    let scope_raw = required(fields.scope, "scope")?;
    let scope =
        ScopeSet::parse(&scope_raw).map_err(|err| metadata_error(format!("scope {err}")))?;
    if let Some(unknown) = scope.iter().find(|name| !scope_exists(name)) {
        return Err(metadata_error(format!(
            "scope `{unknown}` is not in the scope registry"
        )));
    }

    let redirect_uris = parse_uris(
        "redirect_uris",
        fields.redirect_uris.unwrap_or_default(),
        !confidential,
        redirect_error,
    )?;
    // The same rules as redirect_uris: the browser is sent there just the same. Refused
    // as metadata, since `invalid_redirect_uri` (RFC 7591 §3.2.2) names redirect_uris.
    let post_logout_redirect_uris = parse_uris(
        "post_logout_redirect_uris",
        fields.post_logout_redirect_uris.unwrap_or_default(),
        !confidential,
        metadata_error,
    )?;
    if has(GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris: at least one is required with the authorization_code grant",
        ));
    }

    let access_token_ttl_seconds = fields
        .access_token_ttl_seconds
        .map(|seconds| {
            u32::try_from(seconds)
                .ok()
                .filter(|n| TTL_RANGE_SECONDS.contains(n))
                .ok_or_else(access_token_ttl_refused)
        })
        .transpose()?;
    let status = match fields.status.as_deref() {
        None => ClientStatus::Active,
        Some(raw) => one_of(raw, "status", ClientStatus::parse, ClientStatus::expected)?,
    };

    Ok(ClientMetadata {
        client_name,
        description,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        response_types,
        scope,
        token_endpoint_auth_method,
        require_user_consent: fields.require_user_consent.unwrap_or(false),
        access_token_ttl_seconds,
        status,
    })
}

/// Sync connectors get a fixed configuration; a request may restate it but not vary it.
fn apply_sync_connector_preset(fields: &mut ClientFields) -> Result<(), OAuthError> {
    fn fixed<T: PartialEq + std::fmt::Debug>(
        key: &str,
        given: &mut Option<T>,
        preset: T,
        same: impl Fn(&T, &T) -> bool,
    ) -> Result<(), OAuthError> {
        if let Some(given) = given
            && !same(given, &preset)
        {
            // Debug writes these strings and lists as JSON would.
            return Err(metadata_error(format!(
                "{key} is fixed for sync_connector clients (preset: {preset:?})"
            )));
        }
        *given = Some(preset);
        Ok(())
    }
    fixed(
        "grant_types",
        &mut fields.grant_types,
        vec![GrantType::ClientCredentials.as_str().to_owned()],
        PartialEq::eq,
    )?;
    fixed(
        "scope",
        &mut fields.scope,
        SYNC_CONNECTOR_SCOPE.to_owned(),
        |given: &String, preset: &String| {
            ScopeSet::parse(given).ok() == ScopeSet::parse(preset).ok()
        },
    )?;
    fixed(
        "token_endpoint_auth_method",
        &mut fields.token_endpoint_auth_method,
        AuthMethod::ClientSecretBasic.as_str().to_owned(),
        PartialEq::eq,
    )?;
    fixed(
        "redirect_uris",
        &mut fields.redirect_uris,
        Vec::new(),
        PartialEq::eq,
    )?;
    fixed(
        "post_logout_redirect_uris",
        &mut fields.post_logout_redirect_uris,
        Vec::new(),
        PartialEq::eq,
    )?;
    fixed(
        "response_types",
        &mut fields.response_types,
        Vec::new(),
        PartialEq::eq,
    )
}

fn parse_grant_types(raw_grants: Vec<String>) -> Result<Vec<GrantType>, OAuthError> {
    let mut grants = Vec::new();
    for raw in &raw_grants {
        let grant = GrantType::parse(raw).ok_or_else(|| {
            metadata_error(format!(
                "grant_types: `{}` is not supported (supported: {})",
                shown(raw),
                GrantType::expected()
            ))
        })?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err(metadata_error(
            "grant_types must name at least one grant type",
        ));
    }
    Ok(grants)
}

/// A list of URIs the browser may be sent to, `key` naming it in refusals.
fn parse_uris(
    key: &str,
    raw_uris: Vec<String>,
    public_client: bool,
    refused: fn(String) -> OAuthError,
) -> Result<Vec<RedirectUri>, OAuthError> {
    if raw_uris.len() > MAX_REDIRECT_URIS {
        return Err(refused(format!(
            "{key}: at most {MAX_REDIRECT_URIS} are allowed"
        )));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw_uris.len());
    for raw in &raw_uris {
        let uri = RedirectUri::parse(raw, public_client)
            .map_err(|why| refused(format!("{key}: `{}` {why}", shown(raw))))?;
        if uris.contains(&uri) {
            return Err(refused(format!("{key}: `{}` is listed twice", shown(raw))));
        }
        uris.push(uri);
    }
    Ok(uris)
}

/// One of the clients every installation starts with (SPEC 2).
pub struct DefaultClient {
    pub client_id: &'static str,
    pub metadata: ClientMetadata,
}

pub const ADMIN_CLIENT_ID: &str = "ts_admin_client";
pub const SYNC_CLIENT_ID: &str = "ts_sync_client";

/// The four default clients of the product page, exactly as SPEC 2 lists them.
pub fn default_clients() -> Vec<DefaultClient> {
    let scope = ScopeSet::from_trusted;
    let confidential = |name: &str, scope_raw: &str| ClientMetadata {
        client_name: name.to_owned(),
        description: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::ClientCredentials],
        response_types: Vec::new(),
        scope: scope(scope_raw),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        require_user_consent: false,
        access_token_ttl_seconds: None,
        status: ClientStatus::Active,
    };
    let native = |name: &str, redirect: &str| ClientMetadata {
        client_name: name.to_owned(),
        description: None,
        redirect_uris: vec![RedirectUri::from_trusted(redirect.to_owned())],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: scope("openid profile email offline_access"),
        token_endpoint_auth_method: AuthMethod::None,
        require_user_consent: false,
        access_token_ttl_seconds: None,
        status: ClientStatus::Active,
    };
    let with_description = |mut metadata: ClientMetadata, text: &str| {
        metadata.description = Some(text.to_owned());
        metadata
    };
    vec![
        DefaultClient {
            client_id: ADMIN_CLIENT_ID,
            metadata: with_description(
                confidential("Admin Client", "admin"),
                "Administrative API access for platform management operations.",
            ),
        },
        DefaultClient {
            client_id: SYNC_CLIENT_ID,
            metadata: with_description(
                confidential("Sync Service Client", SYNC_CONNECTOR_SCOPE),
                "Internal service communication for directory synchronization.",
            ),
        },
        DefaultClient {
            client_id: "thetasecure-mobile-app",
            metadata: with_description(
                native(
                    "ThetaSecure Mobile App",
                    "com.thetasecure.mobile:/oauth2/callback",
                ),
                "End user authentication from the ThetaSecure mobile application.",
            ),
        },
        DefaultClient {
            client_id: "thetasecure-desktop-agent",
            metadata: with_description(
                native("ThetaSecure Desktop Agent", "http://127.0.0.1/callback"),
                "End user authentication from the ThetaSecure desktop agent.",
            ),
        },
    ]
}

#[cfg(test)]
mod tests;
