//! Opaque bearer values the server hands out once and keeps only as hashes: browser
//! session ids, authorization codes and refresh tokens. Each carries 256 random bits,
//! so a plain SHA-256 is a sound lookup key: nothing can be guessed from it, and a
//! leaked table reveals no usable value (RFC 9700 §4.14; SPEC 5 "stored hashed").

use std::fmt;

use aws_lc_rs::digest;
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};

/// What a value is for, written as its prefix so a leaked one says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaqueKind {
    Session,
    AuthorizationCode,
    RefreshToken,
}

impl OpaqueKind {
    /// The prefix every value of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Session => "tsx_",
            Self::AuthorizationCode => "tsc_",
            Self::RefreshToken => "tsr_",
        }
    }
}

/// A freshly issued value, in the clear; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

impl OpaqueToken {
    pub fn generate(kind: OpaqueKind) -> Self {
        Self(format!(
            "{}{}",
            kind.prefix(),
            BASE64URL_NOPAD.encode(&crate::random::bytes::<32>())
        ))
    }

    /// The value to hand out, once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key it is stored under.
    pub fn hash(&self) -> String {
        hash_of(&self.0)
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(redacted)")
    }
}

/// The stored key of a presented value: lowercase hex SHA-256.
pub fn hash_of(presented: &str) -> String {
    HEXLOWER.encode(digest::digest(&digest::SHA256, presented.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_prefixed_random_and_stored_as_their_hash() {
        let code = OpaqueToken::generate(OpaqueKind::AuthorizationCode);
        assert!(code.expose().starts_with("tsc_"));
        assert_eq!(code.expose().len(), 4 + 43);
        assert_ne!(code, OpaqueToken::generate(OpaqueKind::AuthorizationCode));
        assert_eq!(code.hash(), hash_of(code.expose()));
        assert_eq!(code.hash().len(), 64);
        assert!(!format!("{code:?}").contains(code.expose()));
        assert_eq!(
            hash_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
