//! How the binary reports a failure: one line on standard error that starts with
//! `error: `, so scripts and log collectors see one record, and never a secret.
//! A usage error (clap refused the command line) exits 2 and points at the right
//! `--help`; any other failure exits 1. `--help` and `--version` print as clap has them.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use thetasecure_core::secret::PlainSecret;

/// Exit status of a command line clap refused (clap's own, as most Unix tools use).
const USAGE: u8 = 2;
/// Exit status of a command that was understood but failed.
const FAILURE: u8 = 1;

/// Environment variables whose values are secrets; an error that quotes one is redacted.
const SECRET_VARIABLES: [&str; 4] = [
    "THETASECURE_SECRET_KEY",
    "THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET",
    "THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET",
    "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD",
];
/// Options whose values are secrets.
const SECRET_OPTIONS: [&str; 1] = ["--secret-key"];
const REDACTED: &str = "[redacted]";

/// Prints clap's refusal and returns the exit status; help and version print as usual.
pub fn usage(error: &clap::Error, command: &clap::Command, args: &[OsString]) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let secrets = known_secrets(args);
    eprintln!("{}", usage_line(error, command, args, &secrets));
    ExitCode::from(USAGE)
}

/// Prints a failed command's error and returns the exit status.
pub fn failure(error: &anyhow::Error, args: &[OsString]) -> ExitCode {
    eprintln!("{}", failure_line(error, &known_secrets(args)));
    ExitCode::from(FAILURE)
}

/// `error: ` and the error's causes joined with ": ", on one line.
fn failure_line(error: &anyhow::Error, secrets: &[String]) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        // Many errors already end with their source's text ("…: {source}").
        if message.is_empty() || text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    format!("error: {}", clean(&text, secrets))
}

/// clap's message without its usage block, and the `--help` of the subcommand concerned.
fn usage_line(
    error: &clap::Error,
    command: &clap::Command,
    args: &[OsString],
    secrets: &[String],
) -> String {
    let path = subcommand_path(command, args);
    let see = format!("(see '{} --help')", path.join(" "));
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    ) {
        // A command given without its subcommand: name the choices instead of the help page.
        let mut current = command;
        for name in &path[1..] {
            match current.find_subcommand(name) {
                Some(sub) => current = sub,
                None => break,
            }
        }
        let choices: Vec<&str> = current
            .get_subcommands()
            .map(clap::Command::get_name)
            .filter(|name| *name != "help")
            .collect();
        return format!(
            "error: '{}' needs a subcommand: {} {see}",
            path.join(" "),
            choices.join(", ")
        );
    }
    let rendered = error.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let line = line.strip_prefix("error:").map_or(line, str::trim_start);
        match parts.last_mut() {
            Some(last) if !line.starts_with("tip:") => {
                last.push(' ');
                last.push_str(line);
            }
            _ => parts.push(line.to_owned()),
        }
    }
    format!("error: {} {see}", clean(&parts.join("; "), secrets))
}

/// The program name and the subcommands named on the command line, e.g.
/// `["thetasecure", "clients", "get"]`: option values are skipped by asking the
/// command tree which options take one, so `--search list` is not the `list` command.
fn subcommand_path(command: &clap::Command, args: &[OsString]) -> Vec<String> {
    let mut path = vec![command.get_name().to_owned()];
    // Global options are accepted below the command that declares them.
    let mut options: Vec<&clap::Arg> = command.get_arguments().collect();
    let mut current = command;
    let mut tokens = args.iter().skip(1).map(|arg| arg.to_string_lossy());
    while let Some(token) = tokens.next() {
        if token == "--" {
            break;
        }
        if let Some(option) = token.strip_prefix('-') {
            let known = match option.strip_prefix('-') {
                Some(long) if !long.contains('=') => options
                    .iter()
                    .any(|arg| arg.get_long() == Some(long) && takes_value(arg)),
                Some(_) => false,
                // `-x value`; `-xvalue` carries its value with it.
                None => {
                    let mut chars = option.chars();
                    match (chars.next(), chars.next()) {
                        (Some(short), None) => options
                            .iter()
                            .any(|arg| arg.get_short() == Some(short) && takes_value(arg)),
                        _ => false,
                    }
                }
            };
            if known {
                tokens.next();
            }
            continue;
        }
        match current.find_subcommand(token.as_ref()) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                options.extend(sub.get_arguments());
                current = sub;
            }
            // A positional value; subcommands come before those.
            None => break,
        }
    }
    path
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

/// Secrets this process was given, so an error quoting one back can be redacted.
fn known_secrets(args: &[OsString]) -> Vec<String> {
    let mut secrets: Vec<String> = SECRET_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let args: Vec<String> = args
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    for (i, arg) in args.iter().enumerate() {
        for option in SECRET_OPTIONS {
            if arg == option {
                secrets.extend(args.get(i + 1).cloned());
            } else if let Some(value) = arg.strip_prefix(option).and_then(|r| r.strip_prefix('=')) {
                secrets.push(value.to_owned());
            }
        }
    }
    // Too short to be a secret, and replacing it would mangle the message.
    secrets.retain(|secret| secret.trim().len() >= 8);
    secrets
}

/// One line: no line breaks or control characters, no secret.
fn clean(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), REDACTED);
    }
    let text = redact_url_passwords(&redact_client_secrets(&text));
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        // Drop the drawing in multi-line parser messages, e.g. TOML's `  |` and `^`.
        .filter(|line| !line.chars().all(|c| matches!(c, '|' | '^' | '~' | ' ')))
        .map(|line| {
            line.chars()
                .map(|c| match c {
                    '\t' => " ".to_owned(),
                    c if c.is_control() => c.escape_default().to_string(),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect();
    lines.join(" ")
}

/// `tss_` followed by secret characters, as generated by `PlainSecret`.
fn redact_client_secrets(text: &str) -> String {
    let is_secret_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PlainSecret::PREFIX) {
        let after = &rest[at + PlainSecret::PREFIX.len()..];
        let body = after.find(|c| !is_secret_char(c)).unwrap_or(after.len());
        // At the start of a word, and long enough not to be prose about the prefix.
        let starts_word = !rest[..at].ends_with(is_secret_char);
        out.push_str(&rest[..at]);
        out.push_str(PlainSecret::PREFIX);
        if starts_word && body >= 8 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&after[..body]);
        }
        rest = &after[body..];
    }
    out.push_str(rest);
    out
}

/// The password of `scheme://user:password@host`, e.g. in a database URL.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(end), Some(colon)) if colon < end => {
                out.push_str(&authority[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&authority[end..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::Cli;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// The line for a command line clap refuses.
    fn refused(line: &str) -> String {
        let args = args(line);
        let error = match Cli::try_parse_from(&args) {
            Ok(_) => panic!("{line} parsed"),
            Err(error) => error,
        };
        usage_line(&error, &Cli::command(), &args, &known_secrets(&args))
    }

    fn assert_one_line(line: &str) {
        assert!(line.starts_with("error: "), "{line}");
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
    }

    #[test]
    fn a_missing_argument_names_it_and_its_subcommands_help() {
        let line = refused("thetasecure clients get");
        assert_one_line(&line);
        assert_eq!(
            line,
            "error: the following required arguments were not provided: <CLIENT_ID> \
             (see 'thetasecure clients get --help')"
        );
    }

    #[test]
    fn clap_tips_and_possible_values_stay_on_the_line() {
        let line = refused("thetasecure clients list --serch x");
        assert_one_line(&line);
        assert!(
            line.contains("'--serch'")
                && line.contains("tip: a similar argument exists: '--search'"),
            "{line}"
        );
        assert!(
            line.ends_with("(see 'thetasecure clients list --help')"),
            "{line}"
        );

        let line = refused("thetasecure serve --signing-alg HS256");
        assert_one_line(&line);
        assert!(
            line.contains("[possible values: ES256, RS256, EdDSA]"),
            "{line}"
        );
        assert!(line.ends_with("(see 'thetasecure serve --help')"), "{line}");
    }

    #[test]
    fn a_command_without_its_subcommand_lists_the_choices() {
        let line = refused("thetasecure clients --data-dir list");
        assert_eq!(
            line,
            "error: 'thetasecure clients' needs a subcommand: list, create, get, update, \
             delete, rotate-secret, disable, enable (see 'thetasecure clients --help')"
        );
        assert!(
            refused("thetasecure").contains("serve, migrate, clients, users, keys, healthcheck")
        );
    }

    #[test]
    fn option_values_are_not_taken_for_subcommands() {
        let path = subcommand_path(
            &Cli::command(),
            &args("thetasecure clients --data-dir get --database-url=x list --search get"),
        );
        assert_eq!(path, ["thetasecure", "clients", "list"]);
        let path = subcommand_path(&Cli::command(), &args("thetasecure clients get keys"));
        assert_eq!(path, ["thetasecure", "clients", "get"]);
    }

    #[test]
    fn a_secret_in_a_refused_value_is_not_echoed() {
        let secret = "tss_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
        let line = refused(&format!("thetasecure clients list --limit {secret}"));
        assert_one_line(&line);
        assert!(!line.contains("0123456789"), "{line}");
        assert!(line.contains("tss_[redacted]"), "{line}");
    }

    #[test]
    fn a_failure_joins_its_causes_on_one_line() {
        let error = anyhow::anyhow!("pool timed out\nwhile connecting")
            .context("database unavailable")
            .context("opening the store");
        assert_eq!(
            failure_line(&error, &[]),
            "error: opening the store: database unavailable: pool timed out while connecting"
        );
    }

    #[test]
    fn a_cause_already_quoted_by_its_context_is_not_repeated() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "database unavailable: {}", self.0)
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = anyhow::Error::new(Wrapper(std::io::Error::other("connection refused")))
            .context("opening the store");
        assert_eq!(
            failure_line(&error, &[]),
            "error: opening the store: database unavailable: connection refused"
        );
    }

    #[test]
    fn parser_drawings_and_control_characters_are_flattened() {
        let toml =
            "TOML parse error at line 2, column 1\n  |\n2 | foo = 1\n  | ^\ninvalid string\n";
        assert_eq!(
            clean(toml, &[]),
            "TOML parse error at line 2, column 1 2 | foo = 1 invalid string"
        );
        assert_eq!(
            clean("name `a\u{1b}[31mb`\r\n", &[]),
            "name `a\\u{1b}[31mb`"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let generated = PlainSecret::generate();
        let line = clean(&format!("unknown scope `{}`", generated.expose()), &[]);
        assert_eq!(line, "unknown scope `tss_[redacted]`");
        // Prose about the prefix, and ids that merely contain it, stay readable.
        assert_eq!(
            clean("secrets start with tss_", &[]),
            "secrets start with tss_"
        );
        assert_eq!(
            clean("client ts_tss_abcdefghij", &[]),
            "client ts_tss_abcdefghij"
        );
        assert_eq!(
            clean(
                "cannot reach postgres://app:hunter2@db:5432/ts?sslmode=require",
                &[]
            ),
            "cannot reach postgres://app:[redacted]@db:5432/ts?sslmode=require"
        );
        assert_eq!(
            clean("see https://example.com/a:b@c", &[]),
            "see https://example.com/a:b@c"
        );
        assert_eq!(
            clean("key deadbeefcafe is wrong", &["deadbeefcafe".to_owned()]),
            "key [redacted] is wrong"
        );
    }

    #[test]
    fn secret_options_are_known_secrets() {
        let secrets = known_secrets(&args(
            "thetasecure clients list --secret-key 00112233445566778899 --secret-key=aabbccddeeff0011 --name short",
        ));
        assert!(
            secrets.contains(&"00112233445566778899".to_owned()),
            "{secrets:?}"
        );
        assert!(
            secrets.contains(&"aabbccddeeff0011".to_owned()),
            "{secrets:?}"
        );
        assert!(!secrets.iter().any(|s| s == "short"), "{secrets:?}");
    }
}
