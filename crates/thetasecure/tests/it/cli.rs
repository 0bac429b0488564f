//! The `thetasecure clients …` commands against the local store, on both engines.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

fn json_of(place: &Place, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, stdout, stderr) = cli(place, &all);
    assert!(ok, "{args:?}: {stderr}");
    // The first run on an empty store also prints the bootstrap banner; the JSON follows it.
    let start = stdout
        .find(['{', '['])
        .unwrap_or_else(|| panic!("no JSON in {stdout}"));
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn clients_commands(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    let place = Arc::new(place);
    let created = json_of(
        &place,
        &[
            "clients",
            "create",
            "--name",
            "CLI made",
            "--grant-type",
            "client_credentials",
            "--scope",
            "directory.read",
            "--post-logout-redirect-uri",
            "https://cli.example.com/bye",
            "--post-logout-redirect-uri",
            "https://cli.example.com/bye?again=1",
        ],
    );
    assert_eq!(
        created["post_logout_redirect_uris"],
        serde_json::json!([
            "https://cli.example.com/bye",
            "https://cli.example.com/bye?again=1"
        ])
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tss_"));

    let sync = json_of(
        &place,
        &[
            "clients",
            "create",
            "--type",
            "sync_connector",
            "--name",
            "LDAP",
        ],
    );
    assert_eq!(sync["scope"], "directory.read directory.write");

    let listed = json_of(&place, &["clients", "list", "--search", "cli MADE"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));
    let fetched = json_of(&place, &["clients", "get", &id]);
    assert_eq!(fetched["client_name"], "CLI made");
    assert!(fetched.get("client_secret").is_none());

    let updated = json_of(
        &place,
        &["clients", "update", &id, "--description", "from the shell"],
    );
    assert_eq!(updated["description"], "from the shell");
    let (ok, _, stderr) = cli(&place, &["clients", "update", &id, "--scope", "nope"]);
    assert!(!ok && stderr.contains("nope"), "{stderr}");
    // The flag replaces the list, and its rules are the API's.
    let updated = json_of(
        &place,
        &[
            "clients",
            "update",
            &id,
            "--post-logout-redirect-uri",
            "https://cli.example.com/other",
        ],
    );
    assert_eq!(
        updated["post_logout_redirect_uris"],
        serde_json::json!(["https://cli.example.com/other"])
    );
    let (ok, _, stderr) = cli(
        &place,
        &[
            "clients",
            "update",
            &id,
            "--post-logout-redirect-uri",
            "http://cli.example.com/bye",
        ],
    );
    assert!(
        !ok && stderr.contains("post_logout_redirect_uris"),
        "{stderr}"
    );
    let (ok, stdout, _) = cli(&place, &["clients", "get", &id]);
    assert!(
        ok && stdout.contains("https://cli.example.com/other"),
        "{stdout}"
    );

    // A running server enforces what the CLI (another process) changed within a second.
    let server = TestServer::start_on(place.clone(), false).await;
    server.token(&id, &secret).await;
    let disabled = json_of(&place, &["clients", "disable", &id]);
    assert_eq!(disabled["status"], "disabled");
    server
        .token_status_within_a_second(&id, &secret, StatusCode::UNAUTHORIZED)
        .await;
    let enabled = json_of(&place, &["clients", "enable", &id]);
    assert_eq!(enabled["status"], "active");
    server
        .token_status_within_a_second(&id, &secret, StatusCode::OK)
        .await;

    let rotated = json_of(&place, &["clients", "rotate-secret", &id]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    server
        .token_status_within_a_second(&id, &secret, StatusCode::UNAUTHORIZED)
        .await;
    server.token(&id, new_secret).await;

    let (ok, _, stderr) = cli(&place, &["clients", "delete", "ts_admin_client"]);
    assert!(!ok && stderr.contains("force"), "{stderr}");
    json_of(&place, &["clients", "delete", &id]);
    let (ok, _, stderr) = cli(&place, &["clients", "get", &id]);
    assert!(!ok && stderr.contains("not found"), "{stderr}");

    let (ok, stdout, _) = cli(&place, &["clients", "list"]);
    assert!(
        ok && stdout.contains("ts_admin_client") && stdout.contains("LDAP"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_commands_sqlite() {
    clients_commands(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_commands_postgres() {
    clients_commands(Engine::Postgres).await;
}

/// Char offsets where each title starts in the header line.
fn column_starts(header: &str, titles: &[&str]) -> Vec<usize> {
    titles
        .iter()
        .map(|title| {
            let byte = header
                .find(title)
                .unwrap_or_else(|| panic!("{title} missing from {header:?}"));
            header[..byte].chars().count()
        })
        .collect()
}

/// The text after char offset `at`.
fn from_char(line: &str, at: usize) -> String {
    line.chars().skip(at).collect()
}

async fn clients_list_is_aligned(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    // Ids of two lengths (generated `ts_…` and the fixed default ones) and names of very
    // different lengths, one of them not ASCII.
    let mut made = Vec::new();
    for name in [
        "A",
        "Café",
        "A rather long client name to stretch its column",
    ] {
        let created = json_of(
            &place,
            &[
                "clients",
                "create",
                "--name",
                name,
                "--grant-type",
                "client_credentials",
                "--scope",
                "directory.read",
            ],
        );
        made.push((created["client_id"].as_str().unwrap().to_owned(), name));
    }
    let (ok, stdout, stderr) = cli(&place, &["clients", "list"]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let titles = ["CLIENT ID", "NAME", "GRANT TYPES", "STATUS", "CREATED"];
    let starts = column_starts(lines[0], &titles);
    assert_eq!(starts[0], 0, "{stdout}");
    assert_eq!(lines.len(), 1 + 4 + made.len(), "{stdout}");
    for line in &lines[1..] {
        let chars: Vec<char> = line.chars().collect();
        for &start in &starts[1..] {
            assert!(
                chars.get(start - 1) == Some(&' ')
                    && chars.get(start).is_some_and(|c| !c.is_whitespace()),
                "a column does not start at offset {start}:\n{stdout}"
            );
        }
        assert!(line.ends_with(|c: char| !c.is_whitespace()), "{line:?}");
    }
    for (id, name) in &made {
        let row = lines
            .iter()
            .find(|line| line.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} missing:\n{stdout}"));
        assert!(from_char(row, starts[1]).starts_with(name), "{stdout}");
        assert!(
            from_char(row, starts[2]).starts_with("client_credentials "),
            "{stdout}"
        );
        assert!(from_char(row, starts[3]).starts_with("active "), "{stdout}");
    }
    let admin = lines
        .iter()
        .find(|line| line.starts_with("ts_admin_client"))
        .unwrap();
    assert!(
        from_char(admin, starts[1]).starts_with("Admin Client"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_list_is_aligned_sqlite() {
    clients_list_is_aligned(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_list_is_aligned_postgres() {
    clients_list_is_aligned(Engine::Postgres).await;
}

/// A secret of our shape, to check that no error message quotes it back.
const PASTED_SECRET: &str = "tss_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

/// (exit code, stdout, stderr) of a finished command.
fn finished(command: &mut std::process::Command) -> (i32, String, String) {
    let output = command.output().expect("run thetasecure");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Exactly one line on stderr, `error: …`, and nothing that looks like a secret.
fn assert_one_error_line(args: &[&str], stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: ") && stderr.ends_with('\n'),
        "{args:?} printed:\n{stderr}"
    );
    assert!(
        !stderr.contains(PASTED_SECRET) && !stderr.contains("hunter2"),
        "{args:?} echoed a secret: {stderr}"
    );
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let data_dir = tempfile::tempdir().unwrap();
    for args in [
        &["clients", "get"][..],
        &["clients", "list", "--serch", "x"],
        &["clients", "list", "--limit", PASTED_SECRET],
        &["clients", "lst"],
        &["clients"],
        &[],
        &["serve", "--signing-alg", "HS256"],
        &["clients", "create", "--require-user-consent", "maybe"],
    ] {
        let (code, stdout, stderr) = finished(
            std::process::Command::new(env!("CARGO_BIN_EXE_thetasecure"))
                .env_clear()
                .env("THETASECURE_DATA_DIR", data_dir.path())
                .args(args),
        );
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_one_error_line(args, &stderr);
        assert!(stderr.contains("--help')"), "{args:?}: {stderr}");
    }
}

#[test]
fn help_and_version_still_print_normally() {
    for args in [
        &["--help"][..],
        &["clients", "create", "--help"],
        &["--version"],
    ] {
        let (code, stdout, stderr) =
            finished(std::process::Command::new(env!("CARGO_BIN_EXE_thetasecure")).args(args));
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
        assert!(
            stdout.starts_with("thetasecure ") || stdout.lines().count() > 5,
            "{stdout}"
        );
    }
}

async fn runtime_errors_are_one_line_and_exit_1(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    // The first run on an empty store prints the bootstrap banner; get it out of the way.
    json_of(&place, &["clients", "get", "ts_admin_client"]);
    let bad_toml = place.data_dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "listen = [\nfoo = 1\n").unwrap();
    let bad_toml = bad_toml.to_str().unwrap();
    for (args, says) in [
        (&["clients", "get", "ts_unknown"][..], "client not found"),
        (
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--grant-type",
                "bogus",
                "--scope",
                "directory.read",
            ],
            "bogus",
        ),
        (
            &[
                "clients",
                "update",
                "ts_admin_client",
                "--scope",
                PASTED_SECRET,
            ],
            "scope registry",
        ),
        (&["clients", "list", "--config", bad_toml], "line 2"),
        (
            &["clients", "list", "--issuer", "http://id.example.com"],
            "https",
        ),
    ] {
        let (code, stdout, stderr) = finished(place.command().args(args));
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_one_error_line(args, &stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_errors_are_one_line_and_exit_1_sqlite() {
    runtime_errors_are_one_line_and_exit_1(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_errors_are_one_line_and_exit_1_postgres() {
    runtime_errors_are_one_line_and_exit_1(Engine::Postgres).await;
}

#[test]
fn an_unreachable_database_is_one_line_without_its_password() {
    let data_dir = tempfile::tempdir().unwrap();
    let args = ["clients", "list"];
    let (code, _, stderr) = finished(
        std::process::Command::new(env!("CARGO_BIN_EXE_thetasecure"))
            .env_clear()
            .env("THETASECURE_DATA_DIR", data_dir.path())
            // Port 1: nothing listens there, so the connection is refused.
            .env(
                "THETASECURE_DATABASE_URL",
                "postgres://thetasecure:hunter2@127.0.0.1:1/thetasecure",
            )
            .args(args),
    );
    assert_eq!(code, 1, "{stderr}");
    assert_one_error_line(&args, &stderr);
    assert!(stderr.contains("database unavailable"), "{stderr}");
}

async fn server_ttl_variable_does_not_set_a_clients_ttl(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    let create = |ttl: Option<&str>| {
        let mut args = vec![
            "clients",
            "create",
            "--name",
            "TTL",
            "--grant-type",
            "client_credentials",
            "--scope",
            "directory.read",
            "--json",
        ];
        args.extend(
            ttl.map(|ttl| ["--access-token-ttl-seconds", ttl])
                .into_iter()
                .flatten(),
        );
        let (code, stdout, stderr) = finished(
            place
                .command()
                .env("THETASECURE_ACCESS_TOKEN_TTL_SECONDS", "600")
                .args(&args),
        );
        assert_eq!(code, 0, "{stderr}");
        let start = stdout.find('{').unwrap();
        serde_json::from_str::<Value>(&stdout[start..]).unwrap()
    };
    // The variable is the server's default for every client without its own.
    let created = create(None);
    assert!(created["access_token_ttl_seconds"].is_null(), "{created}");
    // The option after `create` is the client's own, validated as a client field.
    assert_eq!(create(Some("120"))["access_token_ttl_seconds"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ttl_variable_does_not_set_a_clients_ttl_sqlite() {
    server_ttl_variable_does_not_set_a_clients_ttl(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ttl_variable_does_not_set_a_clients_ttl_postgres() {
    server_ttl_variable_does_not_set_a_clients_ttl(Engine::Postgres).await;
}

#[test]
fn serve_help_documents_every_option() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_thetasecure"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "--admin-listen",
        "--database-url",
        "--data-dir",
        "--secret-key",
        "--issuer",
        "--signing-alg",
        "--log-format",
        "--config",
    ] {
        assert!(help.contains(option), "{option} missing from serve --help");
    }
    assert!(help.contains("THETASECURE_LISTEN"));
}
