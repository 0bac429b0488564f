//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` proves nothing to whoever
//! saw the authorization request (RFC 9700 §2.1.1, OAuth 2.1 §4.1.1).

use aws_lc_rs::digest;
use data_encoding::BASE64URL_NOPAD;

use crate::error::OAuthError;

/// The one method this server accepts, as discovery advertises it.
pub const S256: &str = "S256";

/// A `code_challenge` as the authorization request carried it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_text(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// `method` defaults to `plain` in RFC 7636 §4.3, so an absent one is refused too.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some(S256) => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256 (plain is not allowed)",
                ));
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256",
                ));
            }
        }
        // An S256 challenge is the base64url of a SHA-256 digest: exactly 43 characters.
        if challenge.len() != 43 || !is_pkce_text(challenge) {
            return Err(OAuthError::invalid_request(
                "code_challenge must be the 43-character base64url SHA-256 of the code_verifier",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// For a challenge read back from the store, checked when it was written.
    pub fn from_trusted(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` is the one this challenge was made from; compared in constant
    /// time. A verifier of the wrong form proves nothing.
    pub fn is_proved_by(&self, verifier: &str) -> bool {
        if !is_pkce_text(verifier) {
            return false;
        }
        let computed =
            BASE64URL_NOPAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
        crate::secret::equal_in_constant_time(&computed, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_proves_its_challenge() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(challenge.is_proved_by(VERIFIER));
        assert!(!challenge.is_proved_by(&VERIFIER.replace('d', "e")));
        assert!(!challenge.is_proved_by(CHALLENGE));
        assert!(!challenge.is_proved_by("short"));
        assert!(!challenge.is_proved_by(&format!("{VERIFIER} ")));
    }

    #[test]
    fn only_s256_challenges_of_the_right_form() {
        for (challenge, method, says) in [
            (CHALLENGE, None, "plain is not allowed"),
            (CHALLENGE, Some("plain"), "plain is not allowed"),
            (CHALLENGE, Some("s256"), "must be S256"),
            ("abc", Some("S256"), "43-character"),
            (&format!("{CHALLENGE}A"), Some("S256"), "43-character"),
            (&CHALLENGE.replace('-', "+"), Some("S256"), "43-character"),
        ] {
            let refused = CodeChallenge::parse(challenge, method).unwrap_err();
            assert!(
                refused.description.contains(says),
                "{challenge} {method:?}: {}",
                refused.description
            );
        }
    }
}
