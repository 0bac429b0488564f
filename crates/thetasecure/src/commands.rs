//! Command dispatch, and the client commands that mirror the admin API.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use comfy_table::{ContentArrangement, Table};
use serde_json::json;
use thetasecure_app::App;
use thetasecure_app::audit::Actor;
use thetasecure_app::clients::ClientQuery;
use thetasecure_core::SystemClock;
use thetasecure_core::client::{Client, ClientFields, NewClient};
use thetasecure_core::grant::ClientStatus;
use thetasecure_store::Store;
use thetasecure_web::admin::views::{
    ClientCreatedView, ClientListView, ClientView, SecretCreatedView, SecretView,
};

use crate::cli::{Cli, ClientOptions, ClientsCommand, Command, KeysCommand};
use crate::config::{self, Config};
use crate::{serve, telemetry};

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = config::load_serve(args)?;
            telemetry::init(config.log_format, &config.log_level);
            serve::serve(config).await
        }
        Command::Migrate(args) => {
            let config = config::load(args)?;
            telemetry::init(config.log_format, &config.log_level);
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Clients { store, command } => {
            let mut config = config::load(store)?;
            telemetry::init(config.log_format, "warn");
            let app = open_app(&mut config).await?;
            let result = clients(&app, command).await;
            app.close().await;
            result
        }
        Command::Users { store, command } => {
            let mut config = config::load(store)?;
            telemetry::init(config.log_format, "warn");
            let app = open_app(&mut config).await?;
            let result = crate::users::users(&app, command).await;
            app.close().await;
            result
        }
        Command::Keys {
            store,
            command: KeysCommand::Rotate,
        } => {
            let mut config = config::load(store)?;
            telemetry::init(config.log_format, "warn");
            let app = open_app(&mut config).await?;
            for (alg, kid) in app.rotate_signing_keys().await? {
                println!(
                    "new {alg} signing key {kid} is active; running servers sign with it within a minute"
                );
            }
            Ok(())
        }
        Command::Healthcheck { listen } => healthcheck(&listen).await,
    }
}

/// Opens and migrates the store, loads the keys and provisions a new store.
/// Takes the bootstrap values out of `config`: they are needed once, here.
pub async fn open_app(config: &mut Config) -> Result<App> {
    let store = Store::connect(&config.database_url)
        .await
        .context("opening the store")?;
    store.migrate().await.context("migrating the store")?;
    let app = App::new(
        store,
        config.server_key.clone(),
        Arc::new(SystemClock),
        config.settings.clone(),
    )
    .await?;
    let input = std::mem::take(&mut config.bootstrap);
    if let Some(provisioned) = app.bootstrap(input).await.context("bootstrap")? {
        tracing::info!(data_dir = %config.data_dir.display(), "provisioned default clients, scopes and admin user");
        if !provisioned.generated.is_empty() {
            // The one documented time secrets are printed: labelled, on stdout, never logged.
            println!(
                "ThetaSecure first start: these credentials were generated and are shown only now. Store them safely."
            );
            for (label, secret) in &provisioned.generated {
                println!("{label}={}", secret.expose());
            }
            println!("(admin user: {})", provisioned.admin_username);
        }
    }
    Ok(app)
}

async fn clients(app: &App, command: ClientsCommand) -> Result<()> {
    let cli = Actor::cli();
    // Kept as the source, so the one-line report shows the cause too.
    let admin = anyhow::Error::from;
    match command {
        ClientsCommand::List {
            search,
            status,
            grant_type,
            limit,
            cursor,
            json,
        } => {
            let listing = app
                .list_clients(&ClientQuery {
                    search,
                    status,
                    grant_type,
                    limit,
                    cursor,
                })
                .await
                .map_err(admin)?;
            if json {
                print_json(&ClientListView {
                    items: listing.items.into_iter().map(ClientView::from).collect(),
                    next_cursor: listing.next_cursor,
                })
            } else {
                let rows = listing.items.iter().map(|client| {
                    let m = &client.metadata;
                    let grants: Vec<&str> = m.grant_types.iter().map(|g| g.as_str()).collect();
                    vec![
                        client.client_id.to_string(),
                        m.client_name.clone(),
                        grants.join(","),
                        m.status.to_string(),
                        client.created_at.to_rfc3339(),
                    ]
                });
                print_table(
                    &["CLIENT ID", "NAME", "GRANT TYPES", "STATUS", "CREATED"],
                    rows,
                );
                if let Some(next) = listing.next_cursor {
                    println!("more: --cursor {next}");
                }
                Ok(())
            }
        }
        ClientsCommand::Create {
            fields,
            client_type,
            json,
        } => {
            let new = NewClient {
                client_type,
                fields: fields.into_fields(),
            };
            let created = app.create_client(&cli, new).await.map_err(admin)?;
            let secret = created.secret.map(|s| s.expose().to_owned());
            if json {
                print_json(&ClientCreatedView {
                    client: created.client.into(),
                    client_secret: secret,
                })
            } else {
                print_client(&created.client);
                if let Some(secret) = secret {
                    println!(
                        "client_secret: {secret}\n(shown only now: store it in a secrets manager)"
                    );
                }
                Ok(())
            }
        }
        ClientsCommand::Get { client_id, json } => {
            output(app.get_client(&client_id).await.map_err(admin)?, json)
        }
        ClientsCommand::Update {
            client_id,
            fields,
            force,
            json,
        } => {
            let patch = fields.into_fields().into();
            output(
                app.update_client(&cli, &client_id, patch, force)
                    .await
                    .map_err(admin)?,
                json,
            )
        }
        ClientsCommand::Delete {
            client_id,
            force,
            json,
        } => {
            app.delete_client(&cli, &client_id, force)
                .await
                .map_err(admin)?;
            if json {
                print_json(&json!({"deleted": client_id}))
            } else {
                println!("deleted {client_id}");
                Ok(())
            }
        }
        ClientsCommand::RotateSecret {
            client_id,
            grace_period,
            json,
        } => {
            let (record, secret) = app
                .rotate_secret(&cli, &client_id, Some(grace_period))
                .await
                .map_err(admin)?;
            if json {
                print_json(&SecretCreatedView {
                    record: SecretView::new(record, app.now()),
                    client_secret: secret.expose().to_owned(),
                })
            } else {
                println!(
                    "new secret {} for {client_id}\nclient_secret: {}\n(shown only now)",
                    record.id,
                    secret.expose()
                );
                Ok(())
            }
        }
        ClientsCommand::Disable { client_id, json } => output(
            app.set_client_status(&cli, &client_id, ClientStatus::Disabled)
                .await
                .map_err(admin)?,
            json,
        ),
        ClientsCommand::Enable { client_id, json } => output(
            app.set_client_status(&cli, &client_id, ClientStatus::Active)
                .await
                .map_err(admin)?,
            json,
        ),
    }
}

impl ClientOptions {
    /// The given options as client fields: a create request, or the fields an update sets.
    fn into_fields(self) -> ClientFields {
        let listed = |items: Vec<String>| (!items.is_empty()).then_some(items);
        ClientFields {
            client_name: self.name,
            description: self.description,
            grant_types: listed(self.grant_types),
            scope: self.scope,
            redirect_uris: listed(self.redirect_uris),
            post_logout_redirect_uris: listed(self.post_logout_redirect_uris),
            token_endpoint_auth_method: self.auth_method,
            require_user_consent: self.require_user_consent,
            access_token_ttl_seconds: self.access_token_ttl_seconds.map(u64::from),
            ..ClientFields::default()
        }
    }
}

fn output(client: Client, json: bool) -> Result<()> {
    if json {
        print_json(&ClientView::from(client))
    } else {
        print_client(&client);
        Ok(())
    }
}

fn print_client(client: &Client) {
    let m = &client.metadata;
    let grants: Vec<&str> = m.grant_types.iter().map(|g| g.as_str()).collect();
    let uris: Vec<&str> = m.redirect_uris.iter().map(|u| u.as_str()).collect();
    let logout_uris: Vec<&str> = m
        .post_logout_redirect_uris
        .iter()
        .map(|u| u.as_str())
        .collect();
    let fields = [
        ("client_id:", client.client_id.to_string()),
        ("client_name:", m.client_name.clone()),
        ("client_type:", client.client_type.to_string()),
        ("status:", m.status.to_string()),
        ("grant_types:", grants.join(", ")),
        ("scope:", m.scope.to_string()),
        ("auth method:", m.token_endpoint_auth_method.to_string()),
        ("redirect_uris:", uris.join(", ")),
        ("post_logout_redirect_uris:", logout_uris.join(", ")),
        ("default:", client.is_default.to_string()),
        ("created_at:", client.created_at.to_rfc3339()),
        ("updated_at:", client.updated_at.to_rfc3339()),
    ];
    print_rows(
        None,
        fields
            .into_iter()
            .map(|(name, value)| vec![name.to_owned(), value]),
    );
}

pub(crate) fn print_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    print_rows(Some(header), rows);
}

/// Columns aligned by display width (comfy-table; our `Display` impls ignore `{:<n}`
/// padding, which is how ids once went unaligned), no borders, two spaces between
/// columns and no trailing blanks, so the output reads well and splits on whitespace.
pub(crate) fn print_rows(header: Option<&[&str]>, rows: impl IntoIterator<Item = Vec<String>>) {
    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    if let Some(header) = header {
        table.set_header(header.to_vec());
    }
    table.add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A minimal HTTP/1.1 GET of /healthz, so the binary needs no HTTP client.
async fn healthcheck(listen: &str) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(listen)
        .await
        .with_context(|| format!("connecting to {listen}"))?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    if response.starts_with("HTTP/1.1 200") {
        println!("healthy");
        Ok(())
    } else {
        bail!(
            "unhealthy: {}",
            response.lines().next().unwrap_or("no response")
        )
    }
}
