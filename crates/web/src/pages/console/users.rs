//! Configuration > Users: the local accounts people sign in with. Search, create,
//! disable or enable, reset a password, sign out everywhere.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use thetasecure_app::users::UserQuery;
use thetasecure_app::{AdminError, App};
use thetasecure_core::user::{NewUser, User, UserFields, UserStatus};

use super::{
    ConsoleAdmin, ConsoleForm, Section, Shell, When, failure_page, refusal_text, with_query,
};
use crate::pages::login::see_other;

const PAGE_SIZE: u32 = 50;

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub is_admin: bool,
    pub created: When,
    pub updated: When,
}

impl From<User> for UserRow {
    fn from(user: User) -> Self {
        Self {
            active: user.is_active(),
            id: user.id,
            username: user.profile.username,
            display_name: user.profile.display_name.unwrap_or_default(),
            email: user.profile.email.unwrap_or_default(),
            is_admin: user.profile.is_admin,
            created: When::of(user.created_at),
            updated: When::of(user.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    shell: Shell,
    search: String,
    users: Vec<UserRow>,
    next_page: Option<String>,
    first_page: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

pub async fn list(
    admin: ConsoleAdmin,
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (search, cursor) = (get("search"), get("cursor"));
    let query = UserQuery {
        search: Some(search.clone()),
        status: None,
        limit: Some(PAGE_SIZE),
        cursor: Some(cursor.clone()),
    };
    let (users, next_page, error, status) = match app.list_users(&query).await {
        Ok(page) => (
            page.items.into_iter().map(UserRow::from).collect(),
            page.next_cursor.map(|next| {
                with_query("/console/users", &[("search", &search), ("cursor", &next)])
            }),
            None,
            StatusCode::OK,
        ),
        Err(error) => match refusal_text(&error) {
            Some(text) => (Vec::new(), None, Some(text), StatusCode::BAD_REQUEST),
            None => return failure_page(error),
        },
    };
    let notice = match get("done").as_str() {
        "deleted" => Some("User deleted."),
        _ => None,
    };
    let page = UsersPage {
        shell: admin.shell(Section::Users),
        first_page: (!cursor.is_empty())
            .then(|| with_query("/console/users", &[("search", &search)])),
        search,
        users,
        next_page,
        notice,
        error,
    };
    admin.page(status, &page)
}

/// The create form as typed (the password is never sent back).
#[derive(Default)]
pub struct NewUserValues {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewUserPage {
    shell: Shell,
    values: NewUserValues,
    error: Option<String>,
}

pub async fn new_form(admin: ConsoleAdmin) -> Response {
    let page = NewUserPage {
        shell: admin.shell(Section::Users),
        values: NewUserValues::default(),
        error: None,
    };
    admin.page(StatusCode::OK, &page)
}

fn optional(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
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
    let values = NewUserValues {
        username: form.text("username"),
        email: form.text("email"),
        display_name: form.text("display_name"),
        is_admin: form.checked("is_admin"),
    };
    let new = NewUser {
        fields: UserFields {
            username: Some(values.username.clone()),
            email: optional(values.email.clone()),
            display_name: optional(values.display_name.clone()),
            status: None,
            is_admin: Some(values.is_admin),
        },
        password: Some(form.get("password").unwrap_or_default().to_owned()),
    };
    match app.create_user(&admin.actor, new).await {
        Ok(user) => see_other(&format!("/console/users/{}?done=created", user.id)),
        Err(error) => match refusal_text(&error) {
            Some(text) => {
                let status = if matches!(error, AdminError::Conflict(_)) {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::BAD_REQUEST
                };
                let page = NewUserPage {
                    shell: admin.shell(Section::Users),
                    values,
                    error: Some(text),
                };
                admin.page(status, &page)
            }
            None => failure_page(error),
        },
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    shell: Shell,
    user: UserRow,
    sessions: usize,
    notice: Option<&'static str>,
    error: Option<String>,
}

pub async fn details(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(user_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = match raw.as_deref() {
        Some("done=created") => Some("User created."),
        Some("done=disabled") => Some("User disabled and signed out everywhere."),
        Some("done=enabled") => Some("User enabled."),
        Some("done=password") => Some("Password reset. The user is signed out everywhere."),
        Some("done=signed_out") => {
            Some("Signed out everywhere: sessions ended, refresh tokens revoked.")
        }
        _ => None,
    };
    user_page(admin, &app, &user_id, StatusCode::OK, notice, None).await
}

async fn user_page(
    admin: ConsoleAdmin,
    app: &App,
    user_id: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let user = match app.get_user(user_id).await {
        Ok(user) => user,
        Err(error) => return failure_page(error),
    };
    let sessions = match app.user_sessions(user_id).await {
        Ok(sessions) => sessions.len(),
        Err(error) => return failure_page(error),
    };
    let page = UserPage {
        shell: admin.shell(Section::Users),
        user: user.into(),
        sessions,
        notice,
        error,
    };
    admin.page(status, &page)
}

async fn after_action(
    admin: ConsoleAdmin,
    app: &App,
    user_id: &str,
    result: Result<&'static str, AdminError>,
) -> Response {
    match result {
        Ok(done) => see_other(&format!("/console/users/{user_id}?done={done}")),
        Err(AdminError::NotFound(what)) => failure_page(AdminError::NotFound(what)),
        Err(error) => match refusal_text(&error) {
            Some(text) => {
                user_page(
                    admin,
                    app,
                    user_id,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(text),
                )
                .await
            }
            None => failure_page(error),
        },
    }
}

pub async fn status(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let (status, done) = match form.get("status") {
        Some("disabled") => (UserStatus::Disabled, "disabled"),
        _ => (UserStatus::Active, "enabled"),
    };
    let result = app
        .set_user_status(&admin.actor, &user_id, status)
        .await
        .map(|_| done);
    after_action(admin, &app, &user_id, result).await
}

pub async fn password(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    let result = app
        .set_user_password(&admin.actor, &user_id, password)
        .await
        .map(|_| "password");
    after_action(admin, &app, &user_id, result).await
}

pub async fn sign_out(
    admin: ConsoleAdmin,
    State(app): State<App>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(refused) = admin.check_form(&app, &headers, &form) {
        return refused.into_response();
    }
    let result = app
        .sign_out_everywhere(&admin.actor, &user_id)
        .await
        .map(|()| "signed_out");
    after_action(admin, &app, &user_id, result).await
}
