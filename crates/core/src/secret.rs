//! Client secrets. The server generates them (256 random bits), shows them once, and
//! keeps only a keyed hash: HMAC-SHA-256 under a key derived from the server key. A
//! slow password hash would buy nothing against a 256-bit random value and would sit on
//! the token endpoint's path (SPEC 3; SECURITY K4).

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use data_encoding::BASE64URL_NOPAD;

/// A secret in the clear. `Debug` is redacted so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub const PREFIX: &'static str = "tss_";
    pub const HINT_LEN: usize = 8;

    /// `tss_` + 43 base64url characters (32 CSPRNG bytes).
    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            Self::PREFIX,
            BASE64URL_NOPAD.encode(&crate::random::bytes::<32>())
        ))
    }

    /// A presented or operator-supplied secret.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first characters, shown in listings so an operator can tell secrets apart.
    pub fn hint(&self) -> String {
        self.0.chars().take(Self::HINT_LEN).collect()
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}

/// The stored form of a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(Vec<u8>);

impl SecretHash {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Hashes and verifies secrets under one HMAC key. Built once at start.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl SecretHasher {
    /// Derives the hashing key from the server key, so the raw server key (which also
    /// encrypts signing keys) is never used for two purposes.
    pub fn from_server_key(server_key: &[u8]) -> Self {
        let derive = hmac::Key::new(hmac::HMAC_SHA256, server_key);
        let derived = hmac::sign(&derive, b"thetasecure client-secret hash v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    pub fn hash(&self, secret: &PlainSecret) -> SecretHash {
        SecretHash(
            hmac::sign(&self.key, secret.expose().as_bytes())
                .as_ref()
                .to_vec(),
        )
    }

    /// Constant-time: the comparison does not stop at the first differing byte (OIDC §16.12).
    pub fn verify(&self, presented: &PlainSecret, stored: &SecretHash) -> bool {
        let computed = self.hash(presented);
        equal_in_constant_time_bytes(computed.as_bytes(), stored.as_bytes())
    }
}

fn equal_in_constant_time_bytes(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Whether two secret values are equal, in time that does not depend on where they
/// differ (for values compared as they are, such as a form's CSRF token).
pub fn equal_in_constant_time(a: &str, b: &str) -> bool {
    equal_in_constant_time_bytes(a.as_bytes(), b.as_bytes())
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_has_documented_shape_and_hint() {
        let secret = PlainSecret::generate();
        let rest = secret.expose().strip_prefix("tss_").unwrap();
        assert_eq!(rest.len(), 43);
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(secret.hint(), secret.expose()[..8]);
        assert_ne!(PlainSecret::generate(), secret);
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = PlainSecret::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn verify_accepts_only_the_same_secret_under_the_same_key() {
        let hasher = SecretHasher::from_server_key(b"server key one");
        let secret = PlainSecret::generate();
        let stored = hasher.hash(&secret);
        assert!(hasher.verify(&secret, &stored));
        assert!(!hasher.verify(&PlainSecret::generate(), &stored));
        assert!(!hasher.verify(&PlainSecret::new(String::new()), &stored));
        let other = SecretHasher::from_server_key(b"server key two");
        assert!(!other.verify(&secret, &stored));
        assert_ne!(stored.as_bytes(), secret.expose().as_bytes());
    }
}
