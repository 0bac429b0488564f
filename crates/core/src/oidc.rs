//! OpenID Connect rules (OIDC Core 1.0): which claims an ID token and the UserInfo
//! response carry, and how `at_hash` is computed. Signing is `app`'s.

use aws_lc_rs::digest;
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::scope::ScopeSet;
use crate::user::User;

/// The JOSE `typ` of ID tokens (OIDC Core §2 leaves it open; "JWT" is what RPs expect).
pub const ID_TOKEN_TYP: &str = "JWT";

/// How long an ID token may be presented; it proves one sign-in to the client, and
/// RPs check it right after the token response.
pub const ID_TOKEN_TTL_SECONDS: i64 = 3600;

/// The scope that makes a request an OpenID Connect one.
pub const OPENID_SCOPE: &str = "openid";

/// Every user may sign in only with a password today (RFC 8176 `pwd`).
pub const AMR_PASSWORD: &str = "pwd";

/// The claims this server can release, for discovery's `claims_supported`.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "at_hash",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

/// The subject types this server issues (OIDC Discovery `subject_types_supported`):
/// a user's `sub` is the same for every client.
pub const SUBJECT_TYPES_SUPPORTED: &[&str] = &["public"];

/// Claims about the user that the granted scopes release (OIDC Core §5.4). Only what
/// the user model holds: `profile` gives names and `updated_at`, `email` the address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl UserClaims {
    pub fn for_scope(user: &User, scope: &ScopeSet) -> Self {
        let mut claims = UserClaims::default();
        if scope.contains("profile") {
            claims.name = user.profile.display_name.clone();
            claims.preferred_username = Some(user.profile.username.clone());
            claims.updated_at = Some(user.updated_at.unix_seconds());
        }
        if scope.contains("email")
            && let Some(email) = &user.profile.email
        {
            claims.email = Some(email.clone());
            // An administrator typed the address; nobody proved they receive mail there.
            claims.email_verified = Some(false);
        }
        claims
    }
}

/// The UserInfo response (OIDC Core §5.3.2): `sub` always, the rest by scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub claims: UserClaims,
}

impl UserInfo {
    pub fn new(user: &User, scope: &ScopeSet) -> Self {
        Self {
            sub: user.id.clone(),
            claims: UserClaims::for_scope(user, scope),
        }
    }
}

/// The claims of an ID token (OIDC Core §2, §3.1.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(flatten)]
    pub user: UserClaims,
}

/// What an ID token is made from.
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub user: &'a User,
    pub client_id: &'a str,
    pub scope: &'a ScopeSet,
    pub issued_at: Timestamp,
    /// When the user signed in; kept across refreshes (OIDC Core §12.2).
    pub auth_time: Timestamp,
    /// The authorization request's `nonce`; never on a refresh (OIDC Core §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued with it and the JWS `alg` of the ID token.
    pub access_token: &'a str,
    pub alg: &'a str,
}

impl IdTokenClaims {
    /// `None` when `alg` has no hash `at_hash` could be made with (a bug in the caller).
    pub fn new(input: IdTokenInput<'_>) -> Option<Self> {
        let iat = input.issued_at.unix_seconds();
        Some(Self {
            iss: input.issuer.to_owned(),
            sub: input.user.id.clone(),
            aud: input.client_id.to_owned(),
            // One audience, the client itself (OIDC Core §2 `azp`).
            azp: input.client_id.to_owned(),
            iat,
            exp: iat + ID_TOKEN_TTL_SECONDS,
            auth_time: input.auth_time.unix_seconds(),
            amr: vec![AMR_PASSWORD.to_owned()],
            at_hash: Some(at_hash(input.access_token, input.alg)?),
            nonce: input.nonce.map(str::to_owned),
            user: UserClaims::for_scope(input.user, input.scope),
        })
    }
}

/// OIDC Core §3.1.3.6: the base64url of the left half of the hash of the access token's
/// ASCII octets, with the hash of the ID token's `alg` (SHA-512 for EdDSA on Ed25519,
/// as RP libraries compute it).
pub fn at_hash(access_token: &str, alg: &str) -> Option<String> {
    let algorithm = match alg {
        "RS256" | "ES256" | "PS256" => &digest::SHA256,
        "RS384" | "ES384" | "PS384" => &digest::SHA384,
        "RS512" | "ES512" | "PS512" | "EdDSA" => &digest::SHA512,
        _ => return None,
    };
    let hash = digest::digest(algorithm, access_token.as_bytes());
    let bytes = hash.as_ref();
    Some(BASE64URL_NOPAD.encode(&bytes[..bytes.len() / 2]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::{UserProfile, UserStatus};

    fn user(email: Option<&str>, display_name: Option<&str>) -> User {
        User {
            id: "u-1".into(),
            profile: UserProfile {
                username: "Ada".into(),
                email: email.map(str::to_owned),
                display_name: display_name.map(str::to_owned),
                status: UserStatus::Active,
                is_admin: false,
            },
            created_at: Timestamp(1_000_000),
            updated_at: Timestamp(1_795_000_000_123),
        }
    }

    fn input<'a>(user: &'a User, scope: &'a ScopeSet, nonce: Option<&'a str>) -> IdTokenInput<'a> {
        IdTokenInput {
            issuer: "https://id.example",
            user,
            client_id: "ts_client",
            scope,
            issued_at: Timestamp(1_795_000_100_000),
            auth_time: Timestamp(1_795_000_050_999),
            nonce,
            access_token: "a.b.c",
            alg: "RS256",
        }
    }

    /// Expected value computed apart, with Python's hashlib: the left 16 bytes of the
    /// SHA-256 of the token, base64url without padding.
    #[test]
    fn at_hash_is_the_left_half_of_the_algs_hash() {
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNB4pYBnA", "RS256").as_deref(),
            Some("1hziH6iVsAetB1KQMHhSFQ")
        );
        assert_eq!(at_hash("x", "ES256").map(|h| h.len()), Some(22));
        // SHA-512: 32 of 64 bytes, 43 base64url characters.
        assert_eq!(at_hash("x", "EdDSA").map(|h| h.len()), Some(43));
        assert_eq!(at_hash("x", "none"), None);
        assert_eq!(at_hash("x", "HS256"), None);
    }

    #[test]
    fn an_id_token_names_the_client_the_sign_in_and_the_nonce() {
        let user = user(Some("ada@example.com"), Some("Ada L."));
        let scope = ScopeSet::from_trusted("openid");
        let claims = IdTokenClaims::new(input(&user, &scope, Some("n-0S6"))).unwrap();
        assert_eq!(claims.iss, "https://id.example");
        assert_eq!(claims.sub, "u-1");
        assert_eq!(
            (claims.aud.as_str(), claims.azp.as_str()),
            ("ts_client", "ts_client")
        );
        assert_eq!(claims.iat, 1_795_000_100);
        assert_eq!(claims.exp, 1_795_000_100 + ID_TOKEN_TTL_SECONDS);
        assert_eq!(claims.auth_time, 1_795_000_050);
        assert_eq!(claims.amr, ["pwd"]);
        assert_eq!(claims.at_hash, at_hash("a.b.c", "RS256"));
        assert_eq!(claims.nonce.as_deref(), Some("n-0S6"));
        // `openid` alone releases no profile or email claims.
        assert_eq!(claims.user, UserClaims::default());
        let json = serde_json::to_value(&claims).unwrap();
        assert!(json.get("email").is_none() && json.get("name").is_none());

        let without_nonce = IdTokenClaims::new(input(&user, &scope, None)).unwrap();
        assert!(
            serde_json::to_value(&without_nonce)
                .unwrap()
                .get("nonce")
                .is_none()
        );
        let unknown_alg = IdTokenInput {
            alg: "none",
            ..input(&user, &scope, None)
        };
        assert!(IdTokenClaims::new(unknown_alg).is_none());
    }

    #[test]
    fn scopes_release_their_claims() {
        let user = user(Some("ada@example.com"), Some("Ada L."));
        let profile = UserClaims::for_scope(&user, &ScopeSet::from_trusted("openid profile"));
        assert_eq!(profile.name.as_deref(), Some("Ada L."));
        assert_eq!(profile.preferred_username.as_deref(), Some("Ada"));
        assert_eq!(profile.updated_at, Some(1_795_000_000));
        assert_eq!((profile.email, profile.email_verified), (None, None));

        let email = UserClaims::for_scope(&user, &ScopeSet::from_trusted("openid email"));
        assert_eq!(email.email.as_deref(), Some("ada@example.com"));
        assert_eq!(email.email_verified, Some(false));
        assert_eq!(email.preferred_username, None);

        // A user without an address or a display name: those claims are left out.
        let bare = user_without_extras();
        let both = UserClaims::for_scope(&bare, &ScopeSet::from_trusted("openid profile email"));
        assert_eq!(
            (both.name, both.email, both.email_verified),
            (None, None, None)
        );
        assert_eq!(both.preferred_username.as_deref(), Some("Ada"));

        let info = UserInfo::new(&user, &ScopeSet::from_trusted("openid"));
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            serde_json::json!({"sub": "u-1"})
        );
    }

    fn user_without_extras() -> User {
        user(None, None)
    }
}
