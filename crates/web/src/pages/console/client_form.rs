//! The Custom Client and Sync Connector forms: what a person typed, kept whole to show
//! again, turned into the same typed commands the admin API builds (`NewClient`,
//! `ClientPatch`), and the use case's refusal placed beside the field it names.

use thetasecure_core::client::{Client, ClientFields, ClientPatch, NewClient, PatchField};
use thetasecure_core::grant::{ClientType, GrantType, ResponseType};

use super::ConsoleForm;

/// Every input of the client forms, as typed.
#[derive(Debug, Clone, Default)]
pub struct ClientFormValues {
    pub client_name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
    /// The redirect URI being typed, not yet added.
    pub new_redirect_uri: String,
    pub scopes: Vec<String>,
    pub new_scope: String,
    pub grant_types: Vec<String>,
    pub response_code: bool,
    pub require_user_consent: bool,
    /// `confidential` or `public`.
    pub client_kind: String,
    /// The confidential method of the client being edited (basic or post), kept.
    pub auth_method: String,
}

/// What a button of the form asked for besides saving: the no-JavaScript Add and Remove.
pub enum FormAction {
    Save,
    /// The form is shown again with the change, nothing saved.
    Edited,
}

impl ClientFormValues {
    pub fn new_custom() -> Self {
        Self {
            client_kind: "confidential".into(),
            ..Self::default()
        }
    }

    pub fn new_sync_connector() -> Self {
        Self {
            client_name: "Sync Connector".into(),
            ..Self::default()
        }
    }

    /// The form prefilled with a client's current settings.
    pub fn of(client: &Client) -> Self {
        let fields = ClientFields::from(&client.metadata);
        let method = client.metadata.token_endpoint_auth_method;
        Self {
            client_name: fields.client_name.unwrap_or_default(),
            description: fields.description.unwrap_or_default(),
            redirect_uris: fields.redirect_uris.unwrap_or_default(),
            new_redirect_uri: String::new(),
            scopes: client.metadata.scope.iter().map(str::to_owned).collect(),
            new_scope: String::new(),
            grant_types: fields.grant_types.unwrap_or_default(),
            response_code: client.metadata.response_types.contains(&ResponseType::Code),
            require_user_consent: client.metadata.require_user_consent,
            client_kind: if method.is_confidential() {
                "confidential"
            } else {
                "public"
            }
            .into(),
            auth_method: method.as_str().to_owned(),
        }
    }

    /// Reads the form, applying an Add or Remove button's change when one was pressed.
    pub fn read(form: &ConsoleForm) -> (Self, FormAction) {
        let list = |name: &str| -> Vec<String> {
            form.all(name)
                .into_iter()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut values = Self {
            client_name: form.get("client_name").unwrap_or_default().to_owned(),
            description: form.get("description").unwrap_or_default().to_owned(),
            redirect_uris: list("redirect_uri"),
            new_redirect_uri: form.text("new_redirect_uri"),
            scopes: list("scope"),
            new_scope: form.text("new_scope"),
            grant_types: list("grant_type"),
            response_code: form.checked("response_type"),
            require_user_consent: form.checked("require_user_consent"),
            client_kind: match form.get("client_kind") {
                Some("public") => "public".into(),
                _ => "confidential".into(),
            },
            auth_method: match form.get("auth_method") {
                Some("client_secret_post") => "client_secret_post".into(),
                _ => "client_secret_basic".into(),
            },
        };
        let action = form.get("action").unwrap_or("save");
        let removal = |prefix: &str| {
            action
                .strip_prefix(prefix)
                .and_then(|index| index.parse::<usize>().ok())
        };
        if action == "add_redirect_uri" {
            values.take_new_redirect_uri();
            (values, FormAction::Edited)
        } else if action == "add_scope" {
            values.take_new_scopes();
            (values, FormAction::Edited)
        } else if let Some(index) = removal("remove_redirect_uri:") {
            if index < values.redirect_uris.len() {
                values.redirect_uris.remove(index);
            }
            (values, FormAction::Edited)
        } else if let Some(index) = removal("remove_scope:") {
            if index < values.scopes.len() {
                values.scopes.remove(index);
            }
            (values, FormAction::Edited)
        } else {
            // What was typed but not added still counts: nothing typed is lost.
            values.take_new_redirect_uri();
            values.take_new_scopes();
            (values, FormAction::Save)
        }
    }

    fn take_new_redirect_uri(&mut self) {
        let uri = std::mem::take(&mut self.new_redirect_uri);
        if !uri.is_empty() && !self.redirect_uris.contains(&uri) {
            self.redirect_uris.push(uri);
        }
    }

    fn take_new_scopes(&mut self) {
        let typed = std::mem::take(&mut self.new_scope);
        for scope in typed.split_whitespace() {
            if !self.scopes.iter().any(|s| s == scope) {
                self.scopes.push(scope.to_owned());
            }
        }
    }

    pub fn has_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn is_public(&self) -> bool {
        self.client_kind == "public"
    }

    fn auth_method_value(&self) -> String {
        if self.is_public() {
            "none".into()
        } else {
            self.auth_method.clone()
        }
    }

    fn description_value(&self) -> Option<String> {
        Some(self.description.clone()).filter(|d| !d.trim().is_empty())
    }

    /// The create command, as the admin API would build it from the same values.
    pub fn new_client(&self, client_type: ClientType) -> NewClient {
        let fields = match client_type {
            // The preset fixes the rest (SPEC 3).
            ClientType::SyncConnector => ClientFields {
                client_name: Some(self.client_name.clone()),
                description: self.description_value(),
                ..ClientFields::default()
            },
            ClientType::Custom => ClientFields {
                client_name: Some(self.client_name.clone()),
                description: self.description_value(),
                redirect_uris: Some(self.redirect_uris.clone()),
                grant_types: Some(self.grant_types.clone()),
                // Unticked is "as the grant types imply": a create need not restate it.
                response_types: self.response_code.then(|| vec!["code".to_owned()]),
                scope: Some(self.scopes.join(" ")),
                token_endpoint_auth_method: Some(self.auth_method_value()),
                require_user_consent: Some(self.require_user_consent),
                ..ClientFields::default()
            },
        };
        NewClient {
            client_type: Some(client_type.as_str().to_owned()),
            fields,
        }
    }

    /// The merge patch of an edit: every field the form shows, the rest kept.
    pub fn patch(&self, client_type: ClientType) -> ClientPatch {
        let description = match self.description_value() {
            Some(text) => PatchField::Set(text),
            None => PatchField::Reset,
        };
        let mut patch = ClientPatch {
            client_name: PatchField::Set(self.client_name.clone()),
            description,
            ..ClientPatch::default()
        };
        if client_type == ClientType::Custom {
            patch.redirect_uris = PatchField::Set(self.redirect_uris.clone());
            patch.grant_types = PatchField::Set(self.grant_types.clone());
            patch.response_types = if self.response_code {
                PatchField::Set(vec!["code".to_owned()])
            } else {
                PatchField::Keep
            };
            patch.scope = PatchField::Set(self.scopes.join(" "));
            patch.token_endpoint_auth_method = PatchField::Set(self.auth_method_value());
            patch.require_user_consent = PatchField::Set(self.require_user_consent);
        }
        patch
    }
}

/// The use case's refusal, beside the field it names (or above the form).
#[derive(Debug, Clone, Default)]
pub struct FieldErrors {
    pub client_name: Option<String>,
    pub description: Option<String>,
    pub redirect_uris: Option<String>,
    pub scope: Option<String>,
    pub grant_types: Option<String>,
    pub response_types: Option<String>,
    pub client_kind: Option<String>,
    pub form: Option<String>,
}

impl FieldErrors {
    /// Places a refusal by the field its description starts with (`core` names the
    /// field first: "redirect_uris: …", "`client_name` must …", "scope `x` is …").
    pub fn placed(description: String) -> Self {
        let text = super::sentence(description.clone());
        let field = description.trim_start_matches('`');
        let mut errors = Self::default();
        let slot = if field.starts_with("client_name") {
            &mut errors.client_name
        } else if field.starts_with("description") {
            &mut errors.description
        } else if field.starts_with("redirect_uris") {
            &mut errors.redirect_uris
        } else if field.starts_with("scope") {
            &mut errors.scope
        } else if field.starts_with("grant_types") {
            &mut errors.grant_types
        } else if field.starts_with("response_types") {
            &mut errors.response_types
        } else if field.starts_with("token_endpoint_auth_method") {
            &mut errors.client_kind
        } else {
            &mut errors.form
        };
        *slot = Some(text);
        errors
    }

    pub fn any(&self) -> bool {
        [
            &self.client_name,
            &self.description,
            &self.redirect_uris,
            &self.scope,
            &self.grant_types,
            &self.response_types,
            &self.client_kind,
            &self.form,
        ]
        .iter()
        .any(|e| e.is_some())
    }
}

/// One grant type checkbox of the form, with the product page's words.
pub struct GrantChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// Why it cannot be chosen here, when it cannot.
    pub unavailable: Option<&'static str>,
    /// A warning beside it even where it can be chosen.
    pub warning: Option<&'static str>,
}

/// RFC 9700 §2.4 on the password grant, beside its checkbox (SPEC 9).
pub const PASSWORD_WARNING: &str = "RFC 9700 §2.4: the resource owner password credentials grant MUST NOT be used. It exposes the user's password to the client; use Authorization Code with PKCE instead.";

pub fn grant_choices(password_allowed: bool) -> Vec<GrantChoice> {
    vec![
        GrantChoice {
            value: GrantType::AuthorizationCode.as_str(),
            label: "Authorization Code",
            description: "Standard OAuth 2.0 flow for web applications. Requires a redirect URI and involves user interaction.",
            unavailable: None,
            warning: None,
        },
        GrantChoice {
            value: GrantType::ClientCredentials.as_str(),
            label: "Client Credentials",
            description: "Machine to machine authentication with no user interaction. Suitable for backend services and automated processes.",
            unavailable: None,
            warning: None,
        },
        GrantChoice {
            value: GrantType::Password.as_str(),
            label: "Password",
            description: "Direct username/password grant. Off by default.",
            unavailable: (!password_allowed).then_some(
                "Not enabled on this server: an operator must turn on allow_password_grant.",
            ),
            warning: Some(PASSWORD_WARNING),
        },
        GrantChoice {
            value: GrantType::RefreshToken.as_str(),
            label: "Refresh Token",
            description: "Enables token refresh capability for long lived sessions. Needs Authorization Code (or Password).",
            unavailable: None,
            warning: None,
        },
        GrantChoice {
            value: "implicit",
            label: "Implicit",
            description: "Legacy flow for single page applications. Not recommended for new implementations.",
            unavailable: Some(
                "Not available: RFC 9700 §2.1.2 and OAuth 2.1 remove the implicit grant. Use Authorization Code with PKCE.",
            ),
            warning: None,
        },
    ]
}

/// The words a grant type is shown with in badges ("client credentials").
pub fn grant_label(grant: GrantType) -> &'static str {
    match grant {
        GrantType::AuthorizationCode => "authorization code",
        GrantType::ClientCredentials => "client credentials",
        GrantType::RefreshToken => "refresh token",
        GrantType::Password => "password",
    }
}
