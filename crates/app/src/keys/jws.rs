//! JWS compact serialization (RFC 7515 §7.1) over our pre-parsed keys. Signing builds
//! `header.payload.signature` directly; verification checks the header's `alg` against
//! the key's own, so a token can never choose its algorithm (no `none`, no HMAC).

use data_encoding::BASE64URL_NOPAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{KeyError, KeyRing, SigningKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("unexpected token type")]
    WrongType,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// A token whose signature checked out against one of our keys.
pub struct VerifiedJws<T> {
    pub claims: T,
    pub kid: String,
}

impl SigningKey {
    /// Signs `claims` as an RFC 9068 access token (`typ: at+jwt`).
    pub fn sign_access_token<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign_compact(self.access_token_header(), claims)
    }

    /// Signs `claims` as an OpenID Connect ID token (`typ: JWT`).
    pub fn sign_id_token<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign_compact(self.id_token_header(), claims)
    }

    /// `header` is the base64url of the JOSE header, made once per key.
    fn sign_compact<T: Serialize>(&self, header: &str, claims: &T) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Material(e.to_string()))?;
        let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 100);
        token.push_str(header);
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&payload));
        let signature = self.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&signature));
        Ok(token)
    }
}

impl SigningKey {
    /// Signs `claims` as a compact JWS with header `typ`, `alg` and `kid`: for tokens
    /// other than access and ID tokens (which have their precomputed headers).
    pub fn sign_jws<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, KeyError> {
        let header = serde_json::to_vec(&serde_json::json!({
            "alg": self.alg().as_str(),
            "kid": self.kid(),
            "typ": typ,
        }))
        .map_err(|e| KeyError::Material(e.to_string()))?;
        self.sign_compact(&BASE64URL_NOPAD.encode(&header), claims)
    }
}

impl KeyRing {
    /// Verifies a compact JWS of type `expected_typ` signed by one of the published keys
    /// and decodes its claims. Expiry and issuer are the caller's to check.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expected_typ: &str,
    ) -> Result<VerifiedJws<T>, JwsError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let decode = |part: &str| {
            BASE64URL_NOPAD
                .decode(part.as_bytes())
                .map_err(|_| JwsError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(header_b64)?).map_err(|_| JwsError::Malformed)?;
        let kid = header.kid.ok_or(JwsError::UnknownKey)?;
        let key = self.find(&kid).ok_or(JwsError::UnknownKey)?;
        if header.alg != key.alg().as_str() {
            return Err(JwsError::BadSignature);
        }
        if !header
            .typ
            .is_some_and(|typ| typ.eq_ignore_ascii_case(expected_typ))
        {
            return Err(JwsError::WrongType);
        }
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        if !key.verify(&token.as_bytes()[..signing_input_len], &decode(sig_b64)?) {
            return Err(JwsError::BadSignature);
        }
        let claims =
            serde_json::from_slice(&decode(payload_b64)?).map_err(|_| JwsError::Malformed)?;
        Ok(VerifiedJws { claims, kid })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::SigningAlg;
    use super::*;

    fn ring(alg: SigningAlg) -> KeyRing {
        let key = Arc::new(SigningKey::generate(format!("kid-{alg}"), alg).unwrap());
        KeyRing {
            active: vec![key.clone()],
            published: vec![key],
        }
    }

    #[test]
    fn sign_then_verify_every_alg() {
        for alg in SigningAlg::ALL {
            let ring = ring(*alg);
            let key = ring.active(*alg).unwrap();
            let token = key
                .sign_access_token(&serde_json::json!({"sub": "x"}))
                .unwrap();
            let verified: VerifiedJws<serde_json::Value> = ring.verify(&token, "at+jwt").unwrap();
            assert_eq!(verified.claims["sub"], "x");
            assert_eq!(
                ring.verify::<serde_json::Value>(&token, "JWT").err(),
                Some(JwsError::WrongType)
            );
            // An ID token is not an access token, and the other way round.
            let id_token = key.sign_id_token(&serde_json::json!({"sub": "y"})).unwrap();
            let verified: VerifiedJws<serde_json::Value> = ring.verify(&id_token, "JWT").unwrap();
            assert_eq!(verified.claims["sub"], "y");
            assert_eq!(
                ring.verify::<serde_json::Value>(&id_token, "at+jwt").err(),
                Some(JwsError::WrongType)
            );
        }
    }

    #[test]
    fn a_jws_of_another_type_verifies_only_as_that_type() {
        for alg in SigningAlg::ALL {
            let ring = ring(*alg);
            let token = ring
                .active(*alg)
                .unwrap()
                .sign_jws(&serde_json::json!({"aud": "x"}), "JWT")
                .unwrap();
            let verified: VerifiedJws<serde_json::Value> = ring.verify(&token, "JWT").unwrap();
            assert_eq!(verified.claims["aud"], "x");
            assert_eq!(verified.kid, ring.active(*alg).unwrap().kid());
            assert_eq!(
                ring.verify::<serde_json::Value>(&token, "at+jwt").err(),
                Some(JwsError::WrongType)
            );
        }
    }

    #[test]
    fn tampering_and_foreign_keys_fail() {
        let ring = ring(SigningAlg::Es256);
        let token = ring
            .active(SigningAlg::Es256)
            .unwrap()
            .sign_access_token(&serde_json::json!({"scope": "a"}))
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = BASE64URL_NOPAD.encode(br#"{"scope":"admin"}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            ring.verify::<serde_json::Value>(&forged, "at+jwt").err(),
            Some(JwsError::BadSignature)
        );
        // Same kid, different key pair: the signature decides.
        let impostor = self::ring(SigningAlg::Es256);
        assert_eq!(
            impostor.verify::<serde_json::Value>(&token, "at+jwt").err(),
            Some(JwsError::BadSignature)
        );
        let rsa = self::ring(SigningAlg::Rs256);
        assert_eq!(
            rsa.verify::<serde_json::Value>(&token, "at+jwt").err(),
            Some(JwsError::UnknownKey)
        );
        assert_eq!(
            ring.verify::<serde_json::Value>("a.b", "at+jwt").err(),
            Some(JwsError::Malformed)
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let ring = ring(SigningAlg::Es256);
        let kid = ring.active(SigningAlg::Es256).unwrap().kid().to_owned();
        let header = BASE64URL_NOPAD
            .encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#).as_bytes());
        let payload = BASE64URL_NOPAD.encode(br#"{"sub":"x"}"#);
        let unsigned = format!("{header}.{payload}.");
        assert_eq!(
            ring.verify::<serde_json::Value>(&unsigned, "at+jwt").err(),
            Some(JwsError::BadSignature)
        );
    }

    #[test]
    fn jwk_has_no_private_members() {
        for alg in SigningAlg::ALL {
            let jwks = serde_json::to_string(&ring(*alg).jwks()).unwrap();
            for private in [
                "\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"", "\"k\"",
            ] {
                assert!(!jwks.contains(private), "{alg}: {private}");
            }
        }
    }
}
