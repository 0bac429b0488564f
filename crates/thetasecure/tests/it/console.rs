//! The admin console over HTTP, as a browser without JavaScript uses it: sign-in and
//! the admin check, the clients list with search, filters and pages, create with the
//! form's errors beside their fields, the once-only secret, edit, delete, disable,
//! rotate, and the scopes, users and audit pages. Every change is audited as the admin.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authorization_code::{Browser, Page};
use crate::support::*;

/// A browser signed in to the console as the bootstrap admin.
async fn admin(server: &TestApp) -> Browser {
    let mut browser = Browser::new(server);
    let signed_in = browser
        .sign_in("/login?return_to=%2Fconsole", "admin", ADMIN_PASSWORD)
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location(), "/console");
    browser
}

/// What every console response carries.
fn assert_console_headers(page: &Page) {
    assert_eq!(page.headers["cache-control"], "no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
}

/// The page's CSRF token.
fn csrf(page: &Page) -> String {
    page.field("csrf_token")
}

/// A form post with the page's token; `fields` may repeat names.
async fn post(browser: &mut Browser, path: &str, token: &str, fields: &[(&str, &str)]) -> Page {
    let mut form = vec![("csrf_token", token)];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

/// The client id a create redirected to.
fn created_id(page: &Page) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location();
    let rest = location.strip_prefix("/console/clients/").unwrap();
    rest.split('?').next().unwrap().to_owned()
}

/// The secret shown in the details panel, if any.
fn shown_secret(page: &Page) -> Option<String> {
    let start =
        page.body.find("<code id=\"client-secret\">")? + "<code id=\"client-secret\">".len();
    let end = page.body[start..].find('<')? + start;
    Some(page.body[start..end].to_owned())
}

async fn audit_events(server: &TestApp) -> Vec<Value> {
    let (status, listed) = server
        .admin(Method::GET, "/api/v1/audit-events?actor=user:admin", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["items"].as_array().unwrap().clone()
}

both_engines! {
    async fn the_console_lets_in_administrators_only(server: TestApp) {
        let mut visitor = Browser::new(&server);
        let root = visitor.get("/").await;
        assert_eq!((root.status, root.location()), (StatusCode::SEE_OTHER, "/console".to_owned()));
        let console = visitor.get("/console").await;
        assert_eq!(console.location(), "/console/clients");
        let clients = visitor.get("/console/clients?search=x").await;
        assert_eq!(clients.status, StatusCode::SEE_OTHER);
        assert_eq!(clients.location(), "/login?return_to=%2Fconsole%2Fclients%3Fsearch%3Dx");
        // A post without a session changes nothing and goes to sign in.
        let refused = visitor.post("/console/scopes", &[("name", "sneaky")]).await;
        assert_eq!(refused.status, StatusCode::SEE_OTHER);

        let (status, _) = server.admin(Method::POST, "/api/v1/users", Some(json!({
            "username": "grace", "password": "a long enough password", "is_admin": false,
        }))).await;
        assert_eq!(status, StatusCode::CREATED);
        let mut user = Browser::new(&server);
        user.sign_in("/login?return_to=%2Fconsole", "grace", "a long enough password").await;
        let forbidden = user.get("/console/clients").await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        assert!(forbidden.body.contains("Administrators only"), "{}", forbidden.body);
        assert!(!forbidden.body.contains("ts_admin_client"));
        assert_console_headers(&forbidden);

        let mut admin = admin(&server).await;
        let page = admin.get("/console/clients").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_console_headers(&page);
        for shown in ["OAuth Clients", "OAuth Scopes", "Users", "Audit Log", "Signed in as", "admin", "Sign out"] {
            assert!(page.body.contains(shown), "{shown}");
        }
        // Sign-out is a form post with the token.
        let token = csrf(&page);
        let signed_out = post(&mut admin, "/logout", &token, &[("confirm", "yes")]).await;
        assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.body);
        assert_eq!(admin.get("/console/clients").await.status, StatusCode::SEE_OTHER);
    }

    async fn the_clients_list_searches_filters_and_pages(server: TestApp) {
        let mut admin = admin(&server).await;
        let page = admin.get("/console/clients").await;
        for column in ["Client", "Client ID", "Grant Types", "Status", "Created", "Actions"] {
            assert!(page.body.contains(&format!("<th scope=\"col\">{column}</th>")), "{column}");
        }
        for (name, id) in [
            ("Admin Client", "ts_admin_client"),
            ("Sync Service Client", "ts_sync_client"),
            ("ThetaSecure Mobile App", "thetasecure-mobile-app"),
            ("ThetaSecure Desktop Agent", "thetasecure-desktop-agent"),
        ] {
            assert!(page.body.contains(name), "{name}");
            assert!(page.body.contains(&format!("data-copy=\"{id}\"")), "copy button of {id}");
        }
        assert_eq!(page.body.matches("badge default\">Default").count(), 4);
        assert!(page.body.contains("client credentials") && page.body.contains("refresh token"));

        // htmx asks for the table alone.
        let request = admin.http.get(admin.url("/console/clients?search=MOBILE")).header("hx-request", "true");
        let fragment = admin.send(request).await;
        assert_eq!(fragment.status, StatusCode::OK);
        assert!(fragment.body.starts_with("<div id=\"client-results\""), "{}", fragment.body);
        assert!(fragment.body.contains("thetasecure-mobile-app"));
        assert!(!fragment.body.contains("ts_admin_client"));
        assert_console_headers(&fragment);
        // Without JavaScript the same search is a whole page.
        let whole = admin.get("/console/clients?search=sync_cli").await;
        assert!(whole.body.contains("<html") && whole.body.contains("ts_sync_client"));
        assert!(!whole.body.contains("thetasecure-mobile-app"));

        let public = admin.get("/console/clients?grant_type=authorization_code").await;
        assert!(public.body.contains("thetasecure-desktop-agent") && !public.body.contains("ts_admin_client\""));
        let none = admin.get("/console/clients?status=disabled").await;
        assert!(none.body.contains("No clients match"), "{}", none.body);
        let bad = admin.get("/console/clients?grant_type=implicit").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("grant_type must be one of"), "{}", bad.body);

        for n in 0..26 {
            server.machine_client(&format!("Batch {n:02}"), "admin").await;
            server.advance_seconds(1);
        }
        let first = admin.get("/console/clients?search=batch").await;
        assert_eq!(first.body.matches("<tr>").count() - 1, 25, "a page of 25 and the header");
        let next = first.body.split("rel=\"next\"").next().unwrap();
        let href = &next[next.rfind("href=\"").unwrap() + 6..];
        let href = href[..href.find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
        assert!(href.contains("search=batch") && href.contains("cursor="), "{href}");
        let second = admin.get(&href).await;
        assert!(second.body.contains("Batch 00"), "the oldest is on the second page");
        assert!(!second.body.contains("Batch 25"));
        assert!(second.body.contains("First page"));
    }

    async fn a_custom_client_keeps_every_input_on_a_refusal_and_shows_its_secret_once(server: TestApp) {
        let mut admin = admin(&server).await;
        let form = admin.get("/console/clients/new/custom").await;
        assert_eq!(form.status, StatusCode::OK);
        for field in ["Client Name", "Description", "Redirect URIs", "Grant Types", "Response Types", "Scopes", "Require User Consent", "Confidential", "Public", "RFC 9700", "Implicit"] {
            assert!(form.body.contains(field), "{field}");
        }
        assert!(form.body.contains("id=\"grant-password\" name=\"grant_type\" value=\"password\" disabled"), "password is off here");
        assert!(form.body.contains("id=\"grant-implicit\" name=\"grant_type\" value=\"implicit\" disabled"));
        let token = csrf(&form);

        // Without JavaScript, Add posts the form back with the entry added.
        let added = post(&mut admin, "/console/clients", &token, &[
            ("client_type", "custom"), ("client_name", "Billing"),
            ("new_redirect_uri", "https://billing.example/cb"), ("action", "add_redirect_uri"),
        ]).await;
        assert_eq!(added.status, StatusCode::OK);
        assert!(added.body.contains("name=\"redirect_uri\" value=\"https://billing.example/cb\""));

        let fields = [
            ("client_type", "custom"), ("client_name", "Billing"), ("description", "Invoices\nand more"),
            ("redirect_uri", "https://billing.example/cb"), ("redirect_uri", "http://evil.example/cb"),
            ("scope", "openid"), ("scope", "profile"), ("scope", "email"),
            ("grant_type", "authorization_code"), ("grant_type", "client_credentials"),
            ("client_kind", "confidential"), ("require_user_consent", "on"), ("action", "save"),
        ];
        let refused = post(&mut admin, "/console/clients", &token, &fields).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        let error = refused.body.split("id=\"redirect_uris-error\">").nth(1).expect("the error beside Redirect URIs");
        assert!(error.starts_with("redirect_uris: `http://evil.example/cb`"), "{error}");
        for kept in [
            "value=\"Billing\"", ">Invoices\nand more</textarea>", "value=\"https://billing.example/cb\"",
            "value=\"http://evil.example/cb\"", "name=\"scope\" value=\"email\"",
            "value=\"client_credentials\" checked", "id=\"require_user_consent\" name=\"require_user_consent\" value=\"on\" checked",
        ] {
            assert!(refused.body.contains(kept), "{kept} kept");
        }
        let listed = server.admin(Method::GET, "/api/v1/clients?search=billing", None).await.1;
        assert_eq!(listed["items"].as_array().unwrap().len(), 0, "nothing stored");

        let mut fixed = fields.to_vec();
        fixed.retain(|(_, value)| *value != "http://evil.example/cb");
        let created = post(&mut admin, "/console/clients", &token, &fixed).await;
        let client_id = created_id(&created);
        let details = admin.get(&created.location()).await;
        assert_console_headers(&details);
        let secret = shown_secret(&details).expect("the secret, this once");
        assert!(secret.starts_with("tss_"));
        assert!(details.body.contains("The Client Secret is displayed only once at creation time."));
        assert!(details.body.contains("Client created."));
        for shown in ["Client Details", "authorization code", "client credentials", "openid", "profile", "email", "code", "Require User Consent", "Yes", "Last Updated"] {
            assert!(details.body.contains(shown), "{shown}");
        }
        // It works, and it is never shown again: not on reload, not in the list.
        assert_eq!(server.token_response(&client_id, &secret, Some("profile")).await.status(), StatusCode::OK);
        for path in [created.location(), format!("/console/clients/{client_id}"), "/console/clients".into()] {
            let again = admin.get(&path).await;
            assert!(!again.body.contains(&secret), "{path}");
            assert!(shown_secret(&again).is_none(), "{path}");
        }

        let events = audit_events(&server).await;
        assert_eq!(events[0]["action"], "client.created");
        assert_eq!(events[0]["actor"], "user:admin");
        assert_eq!(events[0]["target_id"], client_id.as_str());
        assert!(!events.iter().any(|e| e.to_string().contains(&secret)));
    }

    async fn a_sync_connector_gets_the_preset(server: TestApp) {
        let mut admin = admin(&server).await;
        let chooser = admin.get("/console/clients/new").await;
        assert!(chooser.body.contains("Sync Connector Client") && chooser.body.contains("Custom Client"));
        assert!(chooser.body.contains("LDAP/AD directory synchronization"));
        let form = admin.get("/console/clients/new/sync-connector").await;
        let created = post(&mut admin, "/console/clients", &csrf(&form), &[
            ("client_type", "sync_connector"), ("client_name", "LDAP sync"), ("description", ""),
        ]).await;
        let client_id = created_id(&created);
        let details = admin.get(&created.location()).await;
        let secret = shown_secret(&details).unwrap();
        assert!(details.body.contains("Sync Connector Client"));
        let token = server.token_response(&client_id, &secret, None).await;
        let body: Value = token.json().await.unwrap();
        assert_eq!(body["scope"], "directory.read directory.write");
    }

    async fn edit_disable_rotate_and_delete_through_the_console(server: TestApp) {
        let (client_id, secret) = server.machine_client("Reports", "admin").await;
        let mut admin = admin(&server).await;
        let edit = admin.get(&format!("/console/clients/{client_id}/edit")).await;
        assert!(edit.body.contains("value=\"Reports\"") && edit.body.contains("name=\"scope\" value=\"admin\""));
        let token = csrf(&edit);
        let saved = post(&mut admin, &format!("/console/clients/{client_id}/edit"), &token, &[
            ("client_name", "Reports v2"), ("grant_type", "client_credentials"),
            ("scope", "admin"), ("new_scope", "introspect"), ("client_kind", "confidential"),
            ("auth_method", "client_secret_basic"),
        ]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let list = admin.get("/console/clients?search=reports").await;
        assert!(list.body.contains("Reports v2"));
        let (_, stored) = server.admin(Method::GET, &format!("/api/v1/clients/{client_id}"), None).await;
        assert_eq!(stored["scope"], "admin introspect");

        // Rotate with a grace period: both secrets work, the new one shown once.
        let rotated = post(&mut admin, &format!("/console/clients/{client_id}/rotate"), &token, &[("grace_period_seconds", "3600")]).await;
        assert_eq!(rotated.status, StatusCode::SEE_OTHER);
        let details = admin.get(&rotated.location()).await;
        let new_secret = shown_secret(&details).expect("the new secret");
        assert!(details.body.contains("New secret issued."));
        assert!(shown_secret(&admin.get(&format!("/console/clients/{client_id}")).await).is_none());
        for working in [&secret, &new_secret] {
            assert_eq!(server.token_response(&client_id, working, None).await.status(), StatusCode::OK);
        }
        // The old one is revocable by its own button.
        let (_, records) = server.admin(Method::GET, &format!("/api/v1/clients/{client_id}/secrets"), None).await;
        let old = records["items"].as_array().unwrap().iter().find(|r| secret.starts_with(r["hint"].as_str().unwrap())).unwrap();
        let old_id = old["id"].as_str().unwrap();
        assert!(details.body.contains(&format!("/secrets/{old_id}/revoke")));
        let revoked = post(&mut admin, &format!("/console/clients/{client_id}/secrets/{old_id}/revoke"), &token, &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        server.token_status_within_a_second(&client_id, &secret, StatusCode::UNAUTHORIZED).await;

        let disabled = post(&mut admin, &format!("/console/clients/{client_id}/status"), &token, &[("status", "disabled")]).await;
        assert_eq!(disabled.status, StatusCode::SEE_OTHER);
        let details = admin.get(&disabled.location()).await;
        assert!(details.body.contains("badge disabled\">disabled") && details.body.contains(">Enable</button>"));
        server.token_status_within_a_second(&client_id, &new_secret, StatusCode::UNAUTHORIZED).await;
        post(&mut admin, &format!("/console/clients/{client_id}/status"), &token, &[("status", "active")]).await;
        server.token_status_within_a_second(&client_id, &new_secret, StatusCode::OK).await;
        let tokens = post(&mut admin, &format!("/console/clients/{client_id}/revoke-tokens"), &token, &[]).await;
        assert_eq!(tokens.status, StatusCode::SEE_OTHER);

        let confirm = admin.get(&format!("/console/clients/{client_id}/delete")).await;
        assert!(confirm.body.contains("Delete <strong>Reports v2</strong>"), "{}", confirm.body);
        let deleted = post(&mut admin, &format!("/console/clients/{client_id}/delete"), &token, &[]).await;
        assert_eq!((deleted.status, deleted.location()), (StatusCode::SEE_OTHER, "/console/clients?done=deleted".to_owned()));
        assert!(!admin.get("/console/clients").await.body.contains("Reports v2"));
        assert_eq!(admin.get(&format!("/console/clients/{client_id}")).await.status, StatusCode::NOT_FOUND);

        let actions: Vec<String> = audit_events(&server).await.iter()
            .filter(|e| e["target_id"] == client_id.as_str())
            .map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        assert_eq!(actions, [
            "client.deleted", "client.refresh_tokens_revoked", "client.tokens_revoked", "client.updated",
            "client.updated", "client.secret_revoked", "client.secret_rotated", "client.updated",
        ]);
        let audit = admin.get(&format!("/console/audit?actor=user%3Aadmin&target={client_id}")).await;
        assert!(audit.body.contains("Reports v2") && audit.body.contains("admin introspect"), "before/after readable");
        assert!(audit.body.contains("client.deleted"));
    }

    async fn default_clients_ask_before_protected_changes(server: TestApp) {
        let mut admin = admin(&server).await;
        let details = admin.get("/console/clients/ts_sync_client").await;
        assert!(details.body.contains("Avoid modifying or deleting the default clients."));
        let token = csrf(&details);
        let edit = admin.get("/console/clients/thetasecure-mobile-app/edit").await;
        assert!(edit.body.contains("Avoid modifying or deleting the default clients."));
        let fields = [
            ("client_name", "ThetaSecure Mobile App"), ("grant_type", "authorization_code"),
            ("redirect_uri", "com.thetasecure.mobile:/oauth2/callback"), ("client_kind", "public"),
            ("scope", "openid"), ("scope", "profile"),
        ];
        let asked = post(&mut admin, "/console/clients/thetasecure-mobile-app/edit", &token, &fields).await;
        assert_eq!(asked.status, StatusCode::CONFLICT, "{}", asked.body);
        assert!(asked.body.contains("name=\"force\""), "a box to confirm");
        assert!(asked.body.contains("value=\"com.thetasecure.mobile:/oauth2/callback\""));
        let mut forced = fields.to_vec();
        forced.push(("force", "true"));
        let saved = post(&mut admin, "/console/clients/thetasecure-mobile-app/edit", &token, &forced).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

        let refused = post(&mut admin, "/console/clients/ts_sync_client/delete", &token, &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.body.contains("name=\"force\""));
        let deleted = post(&mut admin, "/console/clients/ts_sync_client/delete", &token, &[("force", "true")]).await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        let events = audit_events(&server).await;
        assert_eq!(events[0]["details"]["force"], true);
    }

    async fn console_forms_without_their_token_change_nothing(server: TestApp) {
        let mut admin = admin(&server).await;
        let page = admin.get("/console/clients").await;
        let token = csrf(&page);
        for form in [vec![("name", "sneaky")], vec![("name", "sneaky"), ("csrf_token", "forged")]] {
            let refused = admin.post("/console/scopes", &form).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN);
            assert_console_headers(&refused);
        }
        let request = admin.http.post(admin.url("/console/scopes"))
            .header("origin", "https://evil.example")
            .form(&[("name", "sneaky"), ("csrf_token", token.as_str())]);
        assert_eq!(admin.send(request).await.status, StatusCode::FORBIDDEN);
        let deleted = admin.post("/console/clients/ts_admin_client/delete", &[("force", "true")]).await;
        assert_eq!(deleted.status, StatusCode::FORBIDDEN);
        let (_, scopes) = server.admin(Method::GET, "/api/v1/scopes", None).await;
        assert!(!scopes.to_string().contains("sneaky"));
        assert_eq!(server.admin(Method::GET, "/api/v1/clients/ts_admin_client", None).await.0, StatusCode::OK);
    }

    async fn scopes_users_and_the_audit_log(server: TestApp) {
        let mut admin = admin(&server).await;
        let scopes = admin.get("/console/scopes").await;
        assert!(scopes.body.contains("directory.write") && scopes.body.contains("Built-in"));
        let token = csrf(&scopes);
        let created = post(&mut admin, "/console/scopes", &token, &[("name", "invoices.read"), ("description", "Read invoices")]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER);
        let bad = post(&mut admin, "/console/scopes", &token, &[("name", "no spaces"), ("description", "kept")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("value=\"kept\""));
        post(&mut admin, "/console/scopes/invoices.read", &token, &[("description", "Read every invoice")]).await;
        assert!(admin.get("/console/scopes").await.body.contains("value=\"Read every invoice\""));
        server.machine_client("Uses it", "invoices.read").await;
        let in_use = post(&mut admin, "/console/scopes/invoices.read/delete", &token, &[]).await;
        assert_eq!(in_use.status, StatusCode::CONFLICT, "{}", in_use.body);
        let builtin = post(&mut admin, "/console/scopes/openid/delete", &token, &[]).await;
        assert_eq!(builtin.status, StatusCode::CONFLICT);

        let users = admin.get("/console/users?search=adm").await;
        assert!(users.body.contains("administrator"));
        let short = post(&mut admin, "/console/users", &token, &[("username", "ada"), ("email", "ada@example.com"), ("password", "short")]).await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST);
        assert!(short.body.contains("value=\"ada@example.com\"") && !short.body.contains("value=\"short\""));
        let created = post(&mut admin, "/console/users", &token, &[("username", "ada"), ("password", "a long enough password")]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let user_path = created.location().split('?').next().unwrap().to_owned();
        let mut ada = Browser::new(&server);
        ada.sign_in("/login?return_to=%2Flogout", "ada", "a long enough password").await;
        let disabled = post(&mut admin, &format!("{user_path}/status"), &token, &[("status", "disabled")]).await;
        assert_eq!(disabled.status, StatusCode::SEE_OTHER);
        assert!(admin.get(&disabled.location()).await.body.contains("badge disabled\">disabled"));
        post(&mut admin, &format!("{user_path}/status"), &token, &[("status", "active")]).await;
        let reset = post(&mut admin, &format!("{user_path}/password"), &token, &[("password", "another long password")]).await;
        assert_eq!(reset.status, StatusCode::SEE_OTHER);
        let signed_out = post(&mut admin, &format!("{user_path}/sign-out"), &token, &[]).await;
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
        let login = ada.sign_in("/login?return_to=%2Flogout", "ada", "another long password").await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "the new password works");

        let audit = admin.get("/console/audit").await;
        assert_console_headers(&audit);
        for action in ["scope.created", "scope.updated", "user.created", "user.updated", "user.sessions_revoked"] {
            assert!(audit.body.contains(action), "{action}");
        }
        assert!(audit.body.contains("Read invoices") && audit.body.contains("Read every invoice"), "before and after");
        let filtered = admin.get("/console/audit?action=scope.created").await;
        assert!(filtered.body.contains("invoices.read") && !filtered.body.contains(">user.created</span>"));
        let by_cli = admin.get("/console/audit?actor=cli").await;
        assert!(by_cli.body.contains("No events"));
        assert!(!audit.body.contains("another long password"));
    }

    async fn the_details_panel_shows_when_a_client_last_authenticated_and_its_tokens_per_day(server: TestApp) {
        let (id, secret) = server.machine_client("Nightly export", "directory.read").await;
        let idle = admin(&server).await.get(&format!("/console/clients/{id}")).await;
        assert_eq!(idle.status, StatusCode::OK);
        let usage = &idle.body[idle.body.find("<section class=\"usage\"").expect("a Usage section")..];
        assert!(idle.body.find("</dl>").unwrap() < idle.body.find("<section class=\"usage\"").unwrap(), "after the facts");
        assert!(usage.contains("<h3 id=\"usage-title\">Usage</h3>"));
        assert!(usage.contains("Last authenticated: <span class=\"muted\">Never</span>"), "{usage}");
        assert!(usage.contains("No tokens issued in the last 30 days."));
        assert_eq!(usage.matches("<rect class=\"bar zero\"").count(), 30);

        // Three tokens yesterday, one today (the session would not outlive the day: sign in after).
        for _ in 0..3 {
            server.token(&id, &secret).await;
        }
        server.advance_seconds(86_400);
        server.token(&id, &secret).await;
        let today = thetasecure_core::usage::UtcDay::of(server.now());
        let (yesterday, today) = (today.minus(1).to_iso_date(), today.to_iso_date());
        let busy = admin(&server).await.get(&format!("/console/clients/{id}")).await;
        assert_console_headers(&busy);
        let usage = &busy.body[busy.body.find("<section class=\"usage\"").unwrap()..];
        let usage = &usage[..usage.find("</section>").unwrap()];
        assert!(usage.contains(&format!("Last authenticated: <time datetime=\"{}\">", server.now().to_rfc3339())), "{usage}");
        assert!(usage.contains(&format!("4 tokens issued in the last 30 days (UTC), the most on {yesterday} (3).")), "{usage}");
        // Bars sized on the server in the SVG's units: the busiest day full height (60).
        assert!(usage.contains(&format!("<title>{yesterday}: 3 tokens</title>")), "{usage}");
        assert!(usage.contains("<rect class=\"bar\" x=\"281\" y=\"0\" width=\"7\" height=\"60\"/>"), "{usage}");
        assert!(usage.contains(&format!("<title>{today}: 1 token</title>")));
        assert!(usage.contains("<rect class=\"bar\" x=\"291\" y=\"40\" width=\"7\" height=\"20\"/>"), "{usage}");
        assert_eq!(usage.matches("<rect class=\"bar zero\"").count(), 28);
        assert!(usage.contains("role=\"img\" aria-labelledby=\"usage-summary\""));
        assert!(!busy.body.contains(" style="), "the CSP allows no inline style");
    }
}
