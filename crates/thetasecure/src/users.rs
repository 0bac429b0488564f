//! `thetasecure users …`: the users admin API's use cases from the command line.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use thetasecure_app::App;
use thetasecure_app::audit::Actor;
use thetasecure_app::users::UserQuery;
use thetasecure_core::user::{NewUser, User, UserFields, UserStatus};
use thetasecure_web::admin::views::{UserListView, UserView};

use crate::cli::UsersCommand;
use crate::commands::{print_json, print_rows, print_table};

pub async fn users(app: &App, command: UsersCommand) -> Result<()> {
    let cli = Actor::cli();
    match command {
        UsersCommand::List {
            search,
            status,
            limit,
            cursor,
            json,
        } => {
            let query = UserQuery {
                search,
                status,
                limit,
                cursor,
            };
            let listing = app.list_users(&query).await?;
            if json {
                return print_json(&UserListView {
                    items: listing.items.into_iter().map(UserView::from).collect(),
                    next_cursor: listing.next_cursor,
                });
            }
            let rows = listing.items.iter().map(|user| {
                let profile = &user.profile;
                vec![
                    user.id.clone(),
                    profile.username.clone(),
                    profile.email.clone().unwrap_or_default(),
                    profile.status.to_string(),
                    if profile.is_admin { "yes" } else { "no" }.to_owned(),
                    user.created_at.to_rfc3339(),
                ]
            });
            print_table(
                &["ID", "USERNAME", "EMAIL", "STATUS", "ADMIN", "CREATED"],
                rows,
            );
            if let Some(next) = listing.next_cursor {
                println!("more: --cursor {next}");
            }
            Ok(())
        }
        UsersCommand::Create {
            username,
            email,
            display_name,
            admin,
            json,
        } => {
            let new = NewUser {
                fields: UserFields {
                    username: Some(username),
                    email,
                    display_name,
                    status: None,
                    is_admin: Some(admin),
                },
                password: Some(password_from_stdin()?),
            };
            output(app.create_user(&cli, new).await?, json)
        }
        UsersCommand::Get { user, json } => output(app.find_user(&user).await?, json),
        UsersCommand::SetPassword { user } => {
            let password = password_from_stdin()?;
            let user = app.find_user(&user).await?;
            app.set_user_password(&cli, &user.id, password).await?;
            println!("password of {} replaced", user.profile.username);
            Ok(())
        }
        UsersCommand::Disable { user, json } => {
            let user = app.find_user(&user).await?;
            output(
                app.set_user_status(&cli, &user.id, UserStatus::Disabled)
                    .await?,
                json,
            )
        }
        UsersCommand::Enable { user, json } => {
            let user = app.find_user(&user).await?;
            output(
                app.set_user_status(&cli, &user.id, UserStatus::Active)
                    .await?,
                json,
            )
        }
        UsersCommand::Delete { user } => {
            let user = app.find_user(&user).await?;
            app.delete_user(&cli, &user.id).await?;
            println!("deleted {}", user.profile.username);
            Ok(())
        }
    }
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input (pipe it in, e.g. `… < password.txt`)");
    }
    Ok(password)
}

fn output(user: User, json: bool) -> Result<()> {
    if json {
        return print_json(&UserView::from(user));
    }
    let profile = &user.profile;
    let fields = [
        ("id:", user.id.clone()),
        ("username:", profile.username.clone()),
        ("email:", profile.email.clone().unwrap_or_default()),
        (
            "display_name:",
            profile.display_name.clone().unwrap_or_default(),
        ),
        ("status:", profile.status.to_string()),
        ("admin:", profile.is_admin.to_string()),
        ("created_at:", user.created_at.to_rfc3339()),
        ("updated_at:", user.updated_at.to_rfc3339()),
    ];
    print_rows(
        None,
        fields
            .into_iter()
            .map(|(name, value)| vec![name.to_owned(), value]),
    );
    Ok(())
}
