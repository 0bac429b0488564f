//! The server key: 32 bytes that encrypt signing keys at rest and key the client-secret
//! hash. Supplied by the operator (`THETASECURE_SECRET_KEY`) or generated into the data
//! directory by the binary.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use data_encoding::{BASE64, BASE64URL_NOPAD, HEXLOWER_PERMISSIVE};
use thetasecure_core::random;
use thetasecure_core::secret::SecretHasher;

pub const SERVER_KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct ServerKey([u8; SERVER_KEY_LEN]);

#[derive(Debug, thiserror::Error)]
pub enum ServerKeyError {
    #[error("the server key must be 32 bytes, written as 64 hex digits or base64/base64url")]
    Malformed,
    #[error("a stored signing key could not be decrypted: was the server key changed?")]
    Decrypt,
}

impl ServerKey {
    pub fn generate() -> Self {
        Self(random::bytes::<SERVER_KEY_LEN>())
    }

    /// Accepts 64 hex digits, or 32 bytes in base64 or base64url (padding optional).
    pub fn parse(text: &str) -> Result<Self, ServerKeyError> {
        let text = text.trim();
        let decoded = HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .or_else(|_| BASE64URL_NOPAD.decode(text.trim_end_matches('=').as_bytes()))
            .or_else(|_| BASE64.decode(text.as_bytes()))
            .map_err(|_| ServerKeyError::Malformed)?;
        let bytes: [u8; SERVER_KEY_LEN] =
            decoded.try_into().map_err(|_| ServerKeyError::Malformed)?;
        Ok(Self(bytes))
    }

    /// The form `parse` reads back, for writing the generated key file.
    pub fn encode(&self) -> String {
        BASE64URL_NOPAD.encode(&self.0)
    }

    pub fn secret_hasher(&self) -> SecretHasher {
        SecretHasher::from_server_key(&self.0)
    }

    /// AES-256-GCM with a random nonce, bound to `context` (the key id) as AAD.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = random::bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        let result = self.aead().and_then(|key| {
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .ok()
        });
        if result.is_none() {
            // Sealing with a valid 32-byte key cannot fail; never fall back to plaintext.
            std::process::abort();
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, ServerKeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(ServerKeyError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ServerKeyError::Decrypt)?;
        let key = self.aead().ok_or(ServerKeyError::Decrypt)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| ServerKeyError::Decrypt)?;
        Ok(plaintext.to_vec())
    }

    fn aead(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .ok()
            .map(LessSafeKey::new)
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = ServerKey::generate();
        let sealed = key.seal("kid-1", b"private key bytes");
        assert_eq!(key.open("kid-1", &sealed).unwrap(), b"private key bytes");
        assert!(key.open("kid-2", &sealed).is_err());
        assert!(ServerKey::generate().open("kid-1", &sealed).is_err());
        assert!(!sealed.windows(7).any(|w| w == b"private"));
    }

    #[test]
    fn parse_accepts_encodings_of_32_bytes() {
        let key = ServerKey::generate();
        let again = ServerKey::parse(&key.encode()).unwrap();
        assert_eq!(again.0, key.0);
        assert!(ServerKey::parse(&"ab".repeat(32)).is_ok());
        assert!(ServerKey::parse("short").is_err());
    }
}
