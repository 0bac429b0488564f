//! The Audit Log page: who changed what, newest first, filtered by actor, action and
//! target, each entry's before and after readable.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use thetasecure_app::App;
use thetasecure_app::audit::AuditQuery;

use super::{ConsoleAdmin, Section, Shell, When, failure_page, refusal_text, with_query};

/// One changed field: its name, its value before and after.
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

pub struct EventRow {
    pub at: When,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub changes: Vec<Change>,
    /// The other details, `name: value`.
    pub details: Vec<(String, String)>,
}

/// A JSON value as a person reads it: strings bare, lists joined, nothing as "none".
fn readable(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(text)) if text.is_empty() => "(empty)".into(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) if items.is_empty() => "(none)".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| readable(Some(item)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

impl EventRow {
    fn new(event: thetasecure_app::records::AuditEvent) -> Self {
        let mut changes = Vec::new();
        let mut details = Vec::new();
        if let Value::Object(map) = &event.details {
            let before = map.get("before").and_then(Value::as_object);
            let after = map.get("after").and_then(Value::as_object);
            if let (Some(before), Some(after)) = (before, after) {
                for (field, now) in after {
                    changes.push(Change {
                        field: field.clone(),
                        before: readable(before.get(field)),
                        after: readable(Some(now)),
                    });
                }
            }
            for (name, value) in map {
                if name != "before" && name != "after" {
                    details.push((name.clone(), readable(Some(value))));
                }
            }
        }
        Self {
            at: When::of(event.at),
            actor: event.actor,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            changes,
            details,
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    shell: Shell,
    actor: String,
    action: String,
    target: String,
    events: Vec<EventRow>,
    next_page: Option<String>,
    first_page: Option<String>,
    error: Option<String>,
}

const PAGE_SIZE: u32 = 50;

pub async fn list(
    admin: ConsoleAdmin,
    State(app): State<App>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
            .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (actor, action, target, cursor) =
        (get("actor"), get("action"), get("target"), get("cursor"));
    let query = AuditQuery {
        actor: Some(actor.clone()),
        action: Some(action.clone()),
        target_id: Some(target.clone()),
    };
    let cursor_given = (!cursor.is_empty()).then_some(cursor.as_str());
    let filters = [
        ("actor", actor.as_str()),
        ("action", action.as_str()),
        ("target", target.as_str()),
    ];
    let (events, next_page, error, status) = match app
        .list_audit_events(&query, cursor_given, Some(PAGE_SIZE))
        .await
    {
        Ok(page) => {
            let next = page.next_cursor.map(|next| {
                let mut pairs = filters.to_vec();
                pairs.push(("cursor", &next));
                with_query("/console/audit", &pairs)
            });
            (
                page.items.into_iter().map(EventRow::new).collect(),
                next,
                None,
                StatusCode::OK,
            )
        }
        Err(error) => match refusal_text(&error) {
            Some(text) => (Vec::new(), None, Some(text), StatusCode::BAD_REQUEST),
            None => return failure_page(error),
        },
    };
    let page = AuditPage {
        shell: admin.shell(Section::Audit),
        first_page: cursor_given.map(|_| with_query("/console/audit", &filters)),
        actor,
        action,
        target,
        events,
        next_page,
        error,
    };
    admin.page(status, &page)
}
