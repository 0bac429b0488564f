use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    UnparsedPublicKey,
};
use data_encoding::BASE64URL_NOPAD;

use super::KeyError;

/// JWS algorithms ThetaSecure signs with (RFC 7518 §3.1, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    Es256,
    Rs256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: &'static [SigningAlg] =
        &[SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|alg| alg.as_str() == raw)
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum KeyPairKind {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A public key as a JWK (RFC 7517 §4; members of RFC 7518 §6 and RFC 8037 §2): public
/// members only, so a private one cannot be published by mistake. Members in name order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublicJwk {
    pub alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    pub kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(rename = "use")]
    pub use_: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A parsed key pair, ready to sign without further parsing.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: KeyPairKind,
    public_jwk: PublicJwk,
    /// The precomputed JOSE headers of access tokens and ID tokens, base64url-encoded.
    access_token_header: String,
    id_token_header: String,
}

/// The PKCS#8 document of a fresh key pair of `alg`.
pub fn generate_pkcs8(alg: SigningAlg) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    let failed = |what: &str| KeyError::Material(format!("could not generate {what} key"));
    Ok(match alg {
        SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| failed("P-256"))?
            .as_ref()
            .to_vec(),
        SigningAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map_err(|_| failed("RSA"))?
            .as_ref()
            .to_vec(),
        // PKCS#8 v1: the form other JOSE libraries read back (ARCHITECTURE "known traps").
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map_err(|_| failed("Ed25519"))?
            .as_ref()
            .to_vec(),
    })
}

impl SigningKey {
    /// A fresh key pair of `alg`, for tests and benchmarks; the server stores its keys.
    pub fn generate(kid: String, alg: SigningAlg) -> Result<Self, KeyError> {
        Self::from_pkcs8(kid, alg, &generate_pkcs8(alg)?)
    }

    pub fn from_pkcs8(kid: String, alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| KeyError::Material(e.to_string());
        let b64 = |bytes: &[u8]| BASE64URL_NOPAD.encode(bytes);
        let jwk = |kty, crv| PublicJwk {
            alg: alg.as_str(),
            crv,
            e: None,
            kid: kid.clone(),
            kty,
            n: None,
            use_: "sig",
            x: None,
            y: None,
        };
        let (pair, jwk) = match alg {
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(rejected)?;
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(KeyError::Material(
                        "unexpected P-256 public key length".into(),
                    ));
                }
                let jwk = PublicJwk {
                    x: Some(b64(&point[1..33])),
                    y: Some(b64(&point[33..])),
                    ..jwk("EC", Some("P-256"))
                };
                (KeyPairKind::Ec(pair), jwk)
            }
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let jwk = PublicJwk {
                    n: Some(b64(&components.n)),
                    e: Some(b64(&components.e)),
                    ..jwk("RSA", None)
                };
                (KeyPairKind::Rsa(pair), jwk)
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let jwk = PublicJwk {
                    x: Some(b64(pair.public_key().as_ref())),
                    ..jwk("OKP", Some("Ed25519"))
                };
                (KeyPairKind::Ed(pair), jwk)
            }
        };
        let header = |typ| {
            b64(
                serde_json::json!({"alg": alg.as_str(), "typ": typ, "kid": kid})
                    .to_string()
                    .as_bytes(),
            )
        };
        Ok(Self {
            access_token_header: header(thetasecure_core::token::ACCESS_TOKEN_TYP),
            id_token_header: header(thetasecure_core::oidc::ID_TOKEN_TYP),
            kid,
            alg,
            pair,
            public_jwk: jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public_jwk
    }

    pub(super) fn access_token_header(&self) -> &str {
        &self.access_token_header
    }

    pub(super) fn id_token_header(&self) -> &str {
        &self.id_token_header
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::Material("signing failed".into());
        match &self.pair {
            KeyPairKind::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| failed()),
            KeyPairKind::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| failed())?;
                Ok(sig)
            }
            KeyPairKind::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    pub(super) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let public = match &self.pair {
            KeyPairKind::Ec(pair) => pair.public_key().as_ref().to_vec(),
            KeyPairKind::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            KeyPairKind::Ed(pair) => pair.public_key().as_ref().to_vec(),
        };
        let algorithm: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::Es256 => &ECDSA_P256_SHA256_FIXED,
            SigningAlg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::EdDsa => &ED25519,
        };
        UnparsedPublicKey::new(algorithm, public)
            .verify(message, sig)
            .is_ok()
    }
}
