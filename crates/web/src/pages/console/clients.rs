//! Configuration > OAuth Clients: the list, the create chooser and forms, the details
//! panel with the once-only secret, edit, delete, disable, rotate and revoke. Each
//! change calls the admin API's use case with the signed-in admin as the actor.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use thetasecure_app::clients::{ClientQuery, DEFAULT_CLIENT_WARNING};
use thetasecure_app::{AdminError, App};
use thetasecure_core::client::Client;
use thetasecure_core::grant::{ClientStatus, ClientType, GrantType};
use thetasecure_core::usage::ClientUsage;

use super::client_form::{
    ClientFormValues, FieldErrors, FormAction, GrantChoice, grant_choices, grant_label,
};
use super::usage::UsageChart;
use super::{
    ConsoleAdmin, ConsoleForm, Section, Shell, When, failure_page, from_htmx, refusal_text,
    segment, with_query,
};
use crate::pages::login::see_other;

const PAGE_SIZE: u32 = 25;

/// The product page's tip on a once-only secret, and what this server adds to it.
pub const SECRET_WARNING: &str = "The Client Secret is displayed only once at creation time. Copy it immediately and store it in a secure location such as a secrets manager or vault. If you lose the secret, you will need to delete and recreate the client.";
pub const SECRET_WARNING_ROTATE: &str =
    "Here you can also issue a new one with Rotate Secret, below.";

/// One row of the clients table.
pub struct ClientRow {
    pub client_id: String,
    /// The id escaped for a path.
    pub path: String,
    pub name: String,
    pub grants: Vec<&'static str>,
    pub active: bool,
    pub is_default: bool,
    pub created: When,
}

impl From<&Client> for ClientRow {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.client_id.as_str().to_owned(),
            path: segment(client.client_id.as_str()).into_owned(),
            name: client.metadata.client_name.clone(),
            grants: client
                .metadata
                .grant_types
                .iter()
                .map(|g| grant_label(*g))
                .collect(),
            active: client.is_active(),
            is_default: client.is_default,
            created: When::of(client.created_at),
        }
    }
}

/// The table as filtered, one page of it.
pub struct Listing {
    pub search: String,
    pub status: String,
    pub grant_type: String,
    pub rows: Vec<ClientRow>,
    pub next_page: Option<String>,
    /// Set past the first page.
    pub first_page: Option<String>,
    pub error: Option<String>,
}

impl Listing {
    pub fn filtered(&self) -> bool {
        !(self.search.is_empty() && self.status.is_empty() && self.grant_type.is_empty())
    }

    pub fn grant_options(&self) -> Vec<(&'static str, &'static str)> {
        GrantType::ALL
            .iter()
            .map(|g| (g.as_str(), grant_label(*g)))
            .collect()
    }
}

/// The query string of the list, every value kept (empty ones too).
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// One page of the list, through the admin API's use case (and its indexes).
async fn listing(app: &App, raw: Option<&str>) -> Result<Listing, Response> {
    let pairs = query_pairs(raw);
    let (search, status, grant_type, cursor) = (
        param(&pairs, "search").trim().to_owned(),
        param(&pairs, "status").to_owned(),
        param(&pairs, "grant_type").to_owned(),
        param(&pairs, "cursor").to_owned(),
    );
    let query = ClientQuery {
        search: Some(search.clone()),
        status: Some(status.clone()),
        grant_type: Some(grant_type.clone()),
        limit: Some(PAGE_SIZE),
        cursor: Some(cursor.clone()),
    };
    let filters = [
        ("search", search.as_str()),
        ("status", status.as_str()),
        ("grant_type", grant_type.as_str()),
    ];
    let (rows, next_cursor, error) = match app.list_clients(&query).await {
        Ok(page) => (
            page.items.iter().map(ClientRow::from).collect(),
            page.next_cursor,
            None,
        ),
        Err(error) => match refusal_text(&error) {
            Some(text) => (Vec::new(), None, Some(text)),
            None => return Err(failure_page(error)),
        },
    };
    let next_page = next_cursor.map(|cursor| {
        let mut pairs = filters.to_vec();
        pairs.push(("cursor", &cursor));
        with_query("/console/clients", &pairs)
    });
    let first_page = (!cursor.is_empty()).then(|| with_query("/console/clients", &filters));
    Ok(Listing {
        search,
        status,
        grant_type,
        rows,
        next_page,
        first_page,
        error,
    })
}

/// A secret's record in the details panel.
pub struct SecretRow {
    pub id: String,
    pub hint: String,
    pub created: When,
    pub expires: Option<When>,
    pub last_used: Option<When>,
    pub revoked: Option<When>,
    pub active: bool,
}

/// The Client Details panel.
pub struct Details {
    pub client_id: String,
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    pub sync_connector: bool,
    pub is_default: bool,
    pub active: bool,
    pub grants: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub require_user_consent: bool,
    pub confidential: bool,
    pub auth_method: &'static str,
    pub created: When,
    pub updated: When,
    pub secrets: Vec<SecretRow>,
    pub usage: UsageChart,
    /// A secret just created or rotated: shown on this one page, never again.
    pub new_secret: Option<String>,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
}

impl Details {
    fn new(
        app: &App,
        client: &Client,
        secrets: Vec<thetasecure_app::records::SecretRecord>,
        usage: &ClientUsage,
    ) -> Self {
        let now = app.now();
        let metadata = &client.metadata;
        Self {
            client_id: client.client_id.as_str().to_owned(),
            path: segment(client.client_id.as_str()).into_owned(),
            name: metadata.client_name.clone(),
            description: metadata.description.clone(),
            sync_connector: client.client_type == ClientType::SyncConnector,
            is_default: client.is_default,
            active: client.is_active(),
            grants: metadata
                .grant_types
                .iter()
                .map(|g| grant_label(*g))
                .collect(),
            response_types: metadata.response_types.iter().map(|r| r.as_str()).collect(),
            scopes: metadata.scope.iter().map(str::to_owned).collect(),
            redirect_uris: metadata
                .redirect_uris
                .iter()
                .map(|uri| uri.as_str().to_owned())
                .collect(),
            require_user_consent: metadata.require_user_consent,
            confidential: metadata.is_confidential(),
            auth_method: metadata.token_endpoint_auth_method.as_str(),
            created: When::of(client.created_at),
            updated: When::of(client.updated_at),
            secrets: secrets
                .into_iter()
                .map(|record| SecretRow {
                    active: record.is_active(now),
                    id: record.id,
                    hint: record.hint,
                    created: When::of(record.created_at),
                    expires: record.expires_at.map(When::of),
                    last_used: record.last_used_at.map(When::of),
                    revoked: record.revoked_at.map(When::of),
                })
                .collect(),
            usage: UsageChart::new(usage),
            new_secret: None,
            notice: None,
            error: None,
        }
    }

    pub fn default_warning(&self) -> &'static str {
        DEFAULT_CLIENT_WARNING
    }

    pub fn secret_warning(&self) -> &'static str {
        SECRET_WARNING
    }

    pub fn secret_warning_rotate(&self) -> &'static str {
        SECRET_WARNING_ROTATE
    }

    pub fn grace_periods(&self) -> &'static [(i64, &'static str)] {
        &GRACE_PERIODS
    }
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    shell: Shell,
    listing: Listing,
    details: Option<Details>,
    notice: Option<&'static str>,
}

impl ClientsPage {
    fn default_warning(&self) -> &'static str {
        DEFAULT_CLIENT_WARNING
    }
}

#[derive(Template)]
#[template(path = "console/clients_table.html")]
struct ClientsTable {
    listing: Listing,
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "Client created.",
        "updated" => "Client updated.",
        "deleted" => "Client deleted.",
        "disabled" => {
            "Client disabled. It can no longer obtain tokens, and the tokens it held are revoked."
        }
        "enabled" => "Client enabled.",
        "rotated" => "New secret issued.",
        "secret_revoked" => "Secret revoked. It stops working now.",
        "tokens_revoked" => "Every token of this client is revoked.",
        _ => return None,
    })
}

pub async fn list(
    admin: ConsoleAdmin,
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let listing = match listing(&app, raw.as_deref()).await {
        Ok(listing) => listing,
        Err(page) => return page,
    };
    let status = if listing.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if from_htmx(&headers) {
        return admin.page(status, &ClientsTable { listing });
    }
    let pairs = query_pairs(raw.as_deref());
    let page = ClientsPage {
        shell: admin.shell(Section::Clients),
        listing,
        details: None,
        notice: notice(param(&pairs, "done")),
    };
    admin.page(status, &page)
}

pub async fn details(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let done = notice(param(&pairs, "done"));
    details_page(admin, &app, &client_id, StatusCode::OK, done, None).await
}

/// The list with the client's details panel beside it; takes the secret held for this
/// session, if any, so it is shown on this page only.
async fn details_page(
    admin: ConsoleAdmin,
    app: &App,
    client_id: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let client = match app.get_client(client_id).await {
        Ok(client) => client,
        Err(error) => return failure_page(error),
    };
    let secrets = if client.metadata.is_confidential() {
        match app.list_secrets(client_id).await {
            Ok(secrets) => secrets,
            Err(error) => return failure_page(error),
        }
    } else {
        Vec::new()
    };
    let usage = match app.client_usage(client_id).await {
        Ok(usage) => usage,
        Err(error) => return failure_page(error),
    };
    let new_secret = match app
        .take_secret_for_session(&admin.signed_in, client_id)
        .await
    {
        Ok(secret) => secret,
        Err(error) => return failure_page(error),
    };
    let listing = match listing(app, None).await {
        Ok(listing) => listing,
        Err(page) => return page,
    };
    let mut details = Details::new(app, &client, secrets, &usage);
    details.new_secret = new_secret.map(|secret| secret.expose().to_owned());
    details.notice = notice;
    details.error = error;
    let page = ClientsPage {
        shell: admin.shell(Section::Clients),
        listing,
        details: Some(details),
        notice: None,
    };
    admin.page(status, &page)
}

#[derive(Template)]
#[template(path = "console/chooser.html")]
struct ChooserPage {
    shell: Shell,
}

/// The create chooser as a page: what `+ Create Client` opens without JavaScript.
pub async fn chooser(admin: ConsoleAdmin) -> Response {
    let page = ChooserPage {
        shell: admin.shell(Section::Clients),
    };
    admin.page(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "console/client_form.html")]
struct ClientFormPage {
    shell: Shell,
    sync_connector: bool,
    /// The client being edited: its id escaped for a path, and its name.
    editing: Option<(String, String)>,
    is_default: bool,
    /// A default client's protected field is being changed: ask to confirm.
    confirm_default: bool,
    values: ClientFormValues,
    errors: FieldErrors,
    grants: Vec<GrantChoice>,
    known_scopes: Vec<String>,
}

impl ClientFormPage {
    fn action(&self) -> String {
        match &self.editing {
            Some((path, _)) => format!("/console/clients/{path}/edit"),
            None => "/console/clients".into(),
        }
    }

    fn client_type(&self) -> &'static str {
        if self.sync_connector {
            ClientType::SyncConnector.as_str()
        } else {
            ClientType::Custom.as_str()
        }
    }

    fn default_warning(&self) -> &'static str {
        DEFAULT_CLIENT_WARNING
    }
}

struct FormContext {
    sync_connector: bool,
    editing: Option<(String, String)>,
    is_default: bool,
}

async fn form_page(
    admin: ConsoleAdmin,
    app: &App,
    status: StatusCode,
    context: FormContext,
    values: ClientFormValues,
    errors: FieldErrors,
    confirm_default: bool,
) -> Response {
    let known_scopes = match app.list_scopes().await {
        Ok(scopes) => scopes.into_iter().map(|s| s.name).collect(),
        Err(error) => return failure_page(error),
    };
    let page = ClientFormPage {
        shell: admin.shell(Section::Clients),
        sync_connector: context.sync_connector,
        editing: context.editing,
        is_default: context.is_default,
        confirm_default,
        values,
        errors,
        grants: grant_choices(app.settings().allow_password_grant),
        known_scopes,
    };
    admin.page(status, &page)
}

/// `/console/clients/new/custom` and `/console/clients/new/sync-connector`.
pub async fn new_form(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(kind): Path<String>,
) -> Response {
    let (sync_connector, values) = match kind.as_str() {
        "custom" => (false, ClientFormValues::new_custom()),
        "sync-connector" => (true, ClientFormValues::new_sync_connector()),
        _ => return failure_page(AdminError::NotFound("kind of client")),
    };
    let context = FormContext {
        sync_connector,
        editing: None,
        is_default: false,
    };
    form_page(
        admin,
        &app,
        StatusCode::OK,
        context,
        values,
        FieldErrors::default(),
        false,
    )
    .await
}

/// A refusal of a create or update as the form shows it, or the page for the rest.
fn placed(error: AdminError) -> Result<(StatusCode, FieldErrors), AdminError> {
    match error {
        AdminError::Invalid(error) => Ok((
            StatusCode::BAD_REQUEST,
            FieldErrors::placed(error.description),
        )),
        AdminError::Conflict(why) => Ok((
            StatusCode::CONFLICT,
            FieldErrors {
                form: Some(super::sentence(why)),
                ..FieldErrors::default()
            },
        )),
        other => Err(other),
    }
}

pub async fn create(
    admin: ConsoleAdmin,
    State(app): State<App>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let client_type = match form.get("client_type") {
        Some("sync_connector") => ClientType::SyncConnector,
        _ => ClientType::Custom,
    };
    let context = FormContext {
        sync_connector: client_type == ClientType::SyncConnector,
        editing: None,
        is_default: false,
    };
    let (values, action) = ClientFormValues::read(&form);
    if let FormAction::Edited = action {
        return form_page(
            admin,
            &app,
            StatusCode::OK,
            context,
            values,
            FieldErrors::default(),
            false,
        )
        .await;
    }
    match app
        .create_client(&admin.actor, values.new_client(client_type))
        .await
    {
        Ok(created) => {
            let client_id = created.client.client_id.as_str();
            if let Some(secret) = &created.secret
                && let Err(error) = app
                    .hold_secret_for_session(&admin.signed_in, client_id, secret)
                    .await
            {
                return failure_page(error);
            }
            see_other(&format!(
                "/console/clients/{}?done=created",
                segment(client_id)
            ))
        }
        Err(error) => match placed(error) {
            Ok((status, errors)) => {
                form_page(admin, &app, status, context, values, errors, false).await
            }
            Err(error) => failure_page(error),
        },
    }
}

pub async fn edit_form(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Response {
    let client = match app.get_client(&client_id).await {
        Ok(client) => client,
        Err(error) => return failure_page(error),
    };
    let context = edit_context(&client);
    let values = ClientFormValues::of(&client);
    form_page(
        admin,
        &app,
        StatusCode::OK,
        context,
        values,
        FieldErrors::default(),
        false,
    )
    .await
}

fn edit_context(client: &Client) -> FormContext {
    FormContext {
        sync_connector: client.client_type == ClientType::SyncConnector,
        editing: Some((
            segment(client.client_id.as_str()).into_owned(),
            client.metadata.client_name.clone(),
        )),
        is_default: client.is_default,
    }
}

pub async fn update(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let client = match app.get_client(&client_id).await {
        Ok(client) => client,
        Err(error) => return failure_page(error),
    };
    let context = edit_context(&client);
    let (values, action) = ClientFormValues::read(&form);
    if let FormAction::Edited = action {
        return form_page(
            admin,
            &app,
            StatusCode::OK,
            context,
            values,
            FieldErrors::default(),
            false,
        )
        .await;
    }
    // A default client's protected fields change only with the box ticked (?force=true).
    let force = client.is_default && form.checked("force");
    let patch = values.patch(client.client_type);
    match app
        .update_client(&admin.actor, &client_id, patch, force)
        .await
    {
        Ok(_) => see_other(&format!(
            "/console/clients/{}?done=updated",
            segment(&client_id)
        )),
        Err(error) => {
            let confirm = client.is_default && matches!(error, AdminError::Conflict(_));
            match placed(error) {
                Ok((status, errors)) => {
                    form_page(admin, &app, status, context, values, errors, confirm).await
                }
                Err(error) => failure_page(error),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "console/delete_client.html")]
struct DeletePage {
    shell: Shell,
    path: String,
    name: String,
    client_id: String,
    is_default: bool,
    error: Option<String>,
}

impl DeletePage {
    fn default_warning(&self) -> &'static str {
        DEFAULT_CLIENT_WARNING
    }
}

fn delete_page(
    admin: ConsoleAdmin,
    client: &Client,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let page = DeletePage {
        shell: admin.shell(Section::Clients),
        path: segment(client.client_id.as_str()).into_owned(),
        name: client.metadata.client_name.clone(),
        client_id: client.client_id.as_str().to_owned(),
        is_default: client.is_default,
        error,
    };
    admin.page(status, &page)
}

/// The confirmation, as a page: what Delete opens without JavaScript.
pub async fn confirm_delete(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
) -> Response {
    match app.get_client(&client_id).await {
        Ok(client) => delete_page(admin, &client, StatusCode::OK, None),
        Err(error) => failure_page(error),
    }
}

pub async fn delete(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let client = match app.get_client(&client_id).await {
        Ok(client) => client,
        Err(error) => return failure_page(error),
    };
    match app
        .delete_client(&admin.actor, &client_id, form.checked("force"))
        .await
    {
        Ok(()) => see_other("/console/clients?done=deleted"),
        Err(error @ AdminError::Conflict(_)) => {
            delete_page(admin, &client, StatusCode::CONFLICT, refusal_text(&error))
        }
        Err(error) => failure_page(error),
    }
}

/// What an action button's use case answered: back to the details with its notice, or
/// the details again with its refusal.
async fn after_action(
    admin: ConsoleAdmin,
    app: &App,
    client_id: &str,
    result: Result<&'static str, AdminError>,
) -> Response {
    match result {
        Ok(done) => see_other(&format!(
            "/console/clients/{}?done={done}",
            segment(client_id)
        )),
        Err(error) => match refusal_text(&error) {
            Some(text) if !matches!(error, AdminError::NotFound("client")) => {
                let status = match error {
                    AdminError::Conflict(_) => StatusCode::CONFLICT,
                    AdminError::NotFound(_) => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_REQUEST,
                };
                details_page(admin, app, client_id, status, None, Some(text)).await
            }
            _ => failure_page(error),
        },
    }
}

pub async fn status(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let (status, done) = match form.get("status") {
        Some("disabled") => (ClientStatus::Disabled, "disabled"),
        _ => (ClientStatus::Active, "enabled"),
    };
    let result = app
        .set_client_status(&admin.actor, &client_id, status)
        .await
        .map(|_| done);
    after_action(admin, &app, &client_id, result).await
}

/// The grace periods offered for the secrets a rotation replaces, in seconds.
pub const GRACE_PERIODS: [(i64, &str); 4] = [
    (0, "None: the old secret stops working now"),
    (3600, "1 hour"),
    (86_400, "24 hours"),
    (604_800, "7 days"),
];

pub async fn rotate(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let grace = form
        .get("grace_period_seconds")
        .and_then(|raw| raw.parse::<i64>().ok())
        .unwrap_or(0);
    let result = match app
        .rotate_secret(&admin.actor, &client_id, Some(grace))
        .await
    {
        Ok((_, secret)) => app
            .hold_secret_for_session(&admin.signed_in, &client_id, &secret)
            .await
            .map(|()| "rotated"),
        Err(error) => Err(error),
    };
    after_action(admin, &app, &client_id, result).await
}

pub async fn revoke_secret(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path((client_id, secret_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let result = app
        .revoke_secret(&admin.actor, &client_id, &secret_id)
        .await
        .map(|()| "secret_revoked");
    after_action(admin, &app, &client_id, result).await
}

pub async fn revoke_tokens(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let result = app
        .revoke_client_tokens(&admin.actor, &client_id)
        .await
        .map(|()| "tokens_revoked");
    after_action(admin, &app, &client_id, result).await
}
