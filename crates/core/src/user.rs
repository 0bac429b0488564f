//! The user model (SPEC 4): the local accounts people sign in with. Like clients, users
//! are created from a `NewUser` and changed with a `UserPatch` (RFC 7396, typed), and a
//! `UserProfile` that exists has passed every rule. Passwords are checked here and
//! hashed by the caller; a `User` never holds one.

use crate::Timestamp;
use crate::client::PatchField;
use crate::error::OAuthError;
use crate::grant::string_enum;
use crate::text::{TextError, TextRule, shown};

string_enum!(
    UserStatus {
        Active => "active",
        Disabled => "disabled",
    }
);

/// 1–64 characters: letters and digits of any script and `. _ - @ +`, so an e-mail
/// address is a username, and nothing invisible or look-alike-by-layout (spaces, bidi
/// controls, zero-width characters) can make two names read the same on a screen.
pub const USERNAME: TextRule = TextRule::single_line(1, 64);
const USERNAME_PUNCTUATION: &[char] = &['.', '_', '-', '@', '+'];
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, an address at most 254 characters.
pub const EMAIL: TextRule = TextRule::single_line(3, 254);
pub const DISPLAY_NAME: TextRule = TextRule::single_line(0, 200);
/// NIST SP 800-63B §3.1.1.2: length is what makes a password strong; no composition
/// rules. The same minimum as the bootstrap admin password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Long enough for any passphrase or generated password; Argon2 takes any length, the
/// limit only bounds what a request may make the server hash.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The admin list's `search`: a term longer than any username or e-mail matches nothing.
pub const USER_SEARCH: TextRule = TextRule::single_line(0, EMAIL.max_chars);

/// A stored user. The password hash is kept apart (the store hands it only to sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub profile: UserProfile,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.profile.status == UserStatus::Active
    }
}

/// Every field a user has besides its id, times and password, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub status: UserStatus,
    pub is_admin: bool,
}

impl UserProfile {
    /// The lowercase form two usernames are compared in: unique per store.
    pub fn username_key(&self) -> String {
        self.username.to_lowercase()
    }
}

/// The profile fields as a caller gave them, not yet checked; `None` is "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFields {
    pub username: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub status: Option<String>,
    pub is_admin: Option<bool>,
}

/// A user to create: the profile fields and the initial password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub fields: UserFields,
    pub password: Option<String>,
}

/// A merge patch of a user: each field kept, reset (`null`) or set. A given password
/// replaces the current one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub username: PatchField<String>,
    pub email: PatchField<String>,
    pub display_name: PatchField<String>,
    pub status: PatchField<String>,
    pub is_admin: PatchField<bool>,
    pub password: PatchField<String>,
}

impl UserPatch {
    /// The names of the members the patch has, `null` ones included, sorted; the
    /// password is named, never shown.
    pub fn named_fields(&self) -> Vec<&'static str> {
        let given = [
            ("display_name", self.display_name.is_given()),
            ("email", self.email.is_given()),
            ("is_admin", self.is_admin.is_given()),
            ("password", self.password.is_given()),
            ("status", self.status.is_given()),
            ("username", self.username.is_given()),
        ];
        given
            .into_iter()
            .filter_map(|(name, is_given)| is_given.then_some(name))
            .collect()
    }
}

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description)
}

fn text_error(error: TextError) -> OAuthError {
    invalid(error.to_string())
}

/// Checks a create request: the profile and the password, which is required.
pub fn validate_new_user(new: NewUser) -> Result<(UserProfile, String), OAuthError> {
    let profile = validate_profile(new.fields)?;
    let password = new
        .password
        .ok_or_else(|| invalid("password is required"))?;
    check_password(&password)?;
    Ok((profile, password))
}

/// Applies a patch to `current` and checks the result as a create is checked. Returns
/// the new profile and the new password, if the patch sets one.
pub fn apply_user_patch(
    current: &UserProfile,
    patch: UserPatch,
) -> Result<(UserProfile, Option<String>), OAuthError> {
    let mut fields = UserFields {
        username: Some(current.username.clone()),
        email: current.email.clone(),
        display_name: current.display_name.clone(),
        status: Some(current.status.as_str().to_owned()),
        is_admin: Some(current.is_admin),
    };
    patch.username.merge_into(&mut fields.username);
    patch.email.merge_into(&mut fields.email);
    patch.display_name.merge_into(&mut fields.display_name);
    patch.status.merge_into(&mut fields.status);
    patch.is_admin.merge_into(&mut fields.is_admin);
    let password = match patch.password {
        PatchField::Keep => None,
        PatchField::Reset => return Err(invalid("password cannot be removed, only replaced")),
        PatchField::Set(password) => {
            check_password(&password)?;
            Some(password)
        }
    };
    Ok((validate_profile(fields)?, password))
}

/// A password a user may choose: its length is the rule (characters, not bytes).
pub fn check_password(password: &str) -> Result<(), OAuthError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(invalid(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )))
    } else if chars > MAX_PASSWORD_CHARS {
        Err(invalid(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )))
    } else {
        Ok(())
    }
}

/// Checks the profile fields alone (no password), as for a user whose password hash is
/// already made.
pub fn validate_profile(fields: UserFields) -> Result<UserProfile, OAuthError> {
    let username = fields
        .username
        .ok_or_else(|| invalid("username is required"))?;
    let username = check_username(&username)?;
    let email = fields
        .email
        .map(|raw| check_email(&raw))
        .transpose()?
        .filter(|email| !email.is_empty());
    let display_name = fields
        .display_name
        .map(|raw| DISPLAY_NAME.normalise("display_name", &raw))
        .transpose()
        .map_err(text_error)?
        .filter(|name| !name.is_empty());
    let status = match fields.status.as_deref() {
        None => UserStatus::Active,
        Some(raw) => UserStatus::parse(raw)
            .ok_or_else(|| invalid(format!("status must be one of: {}", UserStatus::expected())))?,
    };
    Ok(UserProfile {
        username,
        email,
        display_name,
        status,
        is_admin: fields.is_admin.unwrap_or(false),
    })
}

fn check_username(raw: &str) -> Result<String, OAuthError> {
    USERNAME.check("username", raw).map_err(text_error)?;
    if let Some(refused) = raw
        .chars()
        .find(|c| !c.is_alphanumeric() && !USERNAME_PUNCTUATION.contains(c))
    {
        return Err(invalid(format!(
            "username may hold letters, digits and . _ - @ + only, not `{}` (U+{:04X})",
            shown(&refused.to_string()),
            u32::from(refused)
        )));
    }
    Ok(raw.to_owned())
}

/// A plausible address: one `@` with text on both sides, no spaces. Whether it reaches
/// anyone only sending mail can tell.
fn check_email(raw: &str) -> Result<String, OAuthError> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(String::new());
    }
    EMAIL.check("email", email).map_err(text_error)?;
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if !plausible {
        return Err(invalid(format!(
            "email `{}` is not an e-mail address",
            shown(email)
        )));
    }
    Ok(email.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(username: &str) -> UserFields {
        UserFields {
            username: Some(username.to_owned()),
            ..UserFields::default()
        }
    }

    fn new_user(username: &str) -> NewUser {
        NewUser {
            fields: fields(username),
            password: Some("correct horse battery".to_owned()),
        }
    }

    fn refused(new: NewUser) -> String {
        validate_new_user(new).unwrap_err().description
    }

    #[test]
    fn a_minimal_user_gets_the_defaults() {
        let (profile, password) = validate_new_user(new_user("alice")).unwrap();
        assert_eq!(profile.username, "alice");
        assert_eq!(profile.status, UserStatus::Active);
        assert!(!profile.is_admin);
        assert_eq!((profile.email, profile.display_name), (None, None));
        assert_eq!(password, "correct horse battery");
    }

    #[test]
    fn usernames_hold_letters_digits_and_a_little_punctuation() {
        for accepted in ["alice", "Zoë", "计算", "a.b_c-d+e@example.com", "x"] {
            assert!(validate_new_user(new_user(accepted)).is_ok(), "{accepted}");
        }
        for (refused_name, says) in [
            ("", "`username` must not be empty"),
            ("a b", "not ` ` (U+0020)"),
            ("admin\u{202e}", "(U+202E)"),
            ("ad\u{200b}min", "(U+200B)"),
            ("a\u{0}", "control character (U+0000)"),
            ("a/b", "not `/`"),
        ] {
            let description = refused(new_user(refused_name));
            assert!(
                description.contains(says),
                "{refused_name:?}: {description}"
            );
        }
        assert!(refused(new_user(&"a".repeat(65))).contains("username"));
        assert_eq!(
            refused(NewUser {
                fields: UserFields::default(),
                ..new_user("x")
            }),
            "username is required"
        );
    }

    #[test]
    fn usernames_compare_without_case() {
        let (upper, _) = validate_new_user(new_user("ÉLODIE")).unwrap();
        let (lower, _) = validate_new_user(new_user("élodie")).unwrap();
        assert_eq!(upper.username_key(), lower.username_key());
        assert_eq!(upper.username, "ÉLODIE");
    }

    #[test]
    fn passwords_are_judged_by_length_alone() {
        let with_password = |password: &str| NewUser {
            password: Some(password.to_owned()),
            ..new_user("alice")
        };
        assert!(validate_new_user(with_password("twelve chars")).is_ok());
        assert!(validate_new_user(with_password("ñññññññññññ日")).is_ok());
        assert_eq!(
            refused(with_password("eleven char")),
            "password must be at least 12 characters"
        );
        assert!(refused(with_password(&"p".repeat(257))).contains("at most 256"));
        assert_eq!(
            refused(NewUser {
                password: None,
                ..new_user("alice")
            }),
            "password is required"
        );
    }

    #[test]
    fn email_display_name_and_status() {
        let with = |email: &str, display_name: &str, status: &str| NewUser {
            fields: UserFields {
                email: Some(email.to_owned()),
                display_name: Some(display_name.to_owned()),
                status: Some(status.to_owned()),
                ..fields("alice")
            },
            ..new_user("alice")
        };
        let (profile, _) =
            validate_new_user(with(" a@example.com ", " Alice ", "disabled")).unwrap();
        assert_eq!(profile.email.as_deref(), Some("a@example.com"));
        assert_eq!(profile.display_name.as_deref(), Some("Alice"));
        assert_eq!(profile.status, UserStatus::Disabled);
        let (blank, _) = validate_new_user(with("", " ", "active")).unwrap();
        assert_eq!((blank.email, blank.display_name), (None, None));
        for email in ["alice", "@example.com", "a@", "a b@example.com", "a@b@c"] {
            assert!(
                refused(with(email, "", "active")).contains("email"),
                "{email}"
            );
        }
        assert!(refused(with("a@example.com", "A\nB", "active")).contains("display_name"));
        assert!(refused(with("a@example.com", "", "paused")).contains("status must be one of"));
    }

    #[test]
    fn a_patch_changes_what_it_names_and_is_checked_as_a_create() {
        let (current, _) = validate_new_user(NewUser {
            fields: UserFields {
                email: Some("a@example.com".into()),
                ..fields("alice")
            },
            ..new_user("alice")
        })
        .unwrap();
        let patch = UserPatch {
            email: PatchField::Reset,
            is_admin: PatchField::Set(true),
            password: PatchField::Set("a new long password".into()),
            ..UserPatch::default()
        };
        assert_eq!(patch.named_fields(), ["email", "is_admin", "password"]);
        let (updated, password) = apply_user_patch(&current, patch).unwrap();
        assert_eq!(updated.email, None);
        assert!(updated.is_admin);
        assert_eq!(updated.username, "alice");
        assert_eq!(password.as_deref(), Some("a new long password"));

        let reset_name = UserPatch {
            username: PatchField::Reset,
            ..UserPatch::default()
        };
        assert_eq!(
            apply_user_patch(&current, reset_name)
                .unwrap_err()
                .description,
            "username is required"
        );
        let short = UserPatch {
            password: PatchField::Set("short".into()),
            ..UserPatch::default()
        };
        assert!(apply_user_patch(&current, short).is_err());
        let removed = UserPatch {
            password: PatchField::Reset,
            ..UserPatch::default()
        };
        assert!(apply_user_patch(&current, removed).is_err());
    }
}
