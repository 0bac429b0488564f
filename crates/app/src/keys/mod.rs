//! Signing keys: generated at first start, stored encrypted under the server key, parsed
//! once into ready-to-sign key pairs (parsing per signature costs 35–55 % more), and
//! published in the JWKS while a token they signed may still be alive.

mod jws;
mod signing_key;

use std::sync::{Arc, RwLock};

pub use jws::{JwsError, VerifiedJws};
pub use signing_key::{PublicJwk, SigningAlg, SigningKey, generate_pkcs8};

use thetasecure_core::Timestamp;
use thetasecure_store::{SigningKeyRecord, Store, StoreError};

use crate::server_key::ServerKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ServerKey(#[from] crate::server_key::ServerKeyError),
    #[error("key material rejected: {0}")]
    Material(String),
}

/// The loaded keys. One active key per algorithm in use (access tokens and ID tokens
/// may use different ones) signs; every key not retired longer than the longest token
/// lifetime verifies and is published.
pub struct KeyRing {
    active: Vec<Arc<SigningKey>>,
    published: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    /// The key that signs with `alg`; `None` only for an algorithm not loaded as in use.
    pub fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.active.iter().find(|key| key.alg() == alg)
    }

    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.published.iter().find(|key| key.kid() == kid)
    }

    pub fn published(&self) -> &[Arc<SigningKey>] {
        &self.published
    }

    /// The JWK Set (RFC 7517 §5).
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .published
                .iter()
                .map(|key| key.public_jwk().clone())
                .collect(),
        }
    }
}

/// A JWK Set document (RFC 7517 §5).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

/// Holds the current `KeyRing`; swapped whole on rotation so signers never wait.
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
}

impl Keys {
    pub fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Ensures an active key of each of `algs` exists (creating one if needed, racing
    /// instances agree through the store), then loads every key still worth publishing.
    pub async fn load(
        store: &Store,
        server_key: &ServerKey,
        algs: &[SigningAlg],
        now: Timestamp,
        publish_retired_for_seconds: i64,
    ) -> Result<Self, KeyError> {
        let ring =
            Self::build_ring(store, server_key, algs, now, publish_retired_for_seconds).await?;
        Ok(Self {
            ring: RwLock::new(Arc::new(ring)),
        })
    }

    /// Re-reads the keys from the store (after a rotation by this or another instance).
    pub async fn reload(
        &self,
        store: &Store,
        server_key: &ServerKey,
        algs: &[SigningAlg],
        now: Timestamp,
        publish_retired_for_seconds: i64,
    ) -> Result<(), KeyError> {
        let ring =
            Self::build_ring(store, server_key, algs, now, publish_retired_for_seconds).await?;
        match self.ring.write() {
            Ok(mut guard) => *guard = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(())
    }

    /// For each of `algs` and each algorithm that has an active key in the store (one
    /// an instance with other settings uses), generates a new key and retires the old
    /// one, which stays published. Returns the new keys' algorithms and ids.
    pub async fn rotate(
        store: &Store,
        server_key: &ServerKey,
        algs: &[SigningAlg],
        now: Timestamp,
    ) -> Result<Vec<(SigningAlg, String)>, KeyError> {
        let mut rotate: Vec<SigningAlg> = algs.to_vec();
        for record in store.signing_keys().list().await? {
            if record.retired_at.is_none()
                && let Some(alg) = SigningAlg::parse(&record.alg)
                && !rotate.contains(&alg)
            {
                rotate.push(alg);
            }
        }
        let mut rotated = Vec::new();
        for alg in rotate {
            let record = new_record(server_key, alg, now)?;
            store.signing_keys().rotate(&record, now).await?;
            rotated.push((alg, record.kid));
        }
        Ok(rotated)
    }

    async fn build_ring(
        store: &Store,
        server_key: &ServerKey,
        algs: &[SigningAlg],
        now: Timestamp,
        publish_retired_for_seconds: i64,
    ) -> Result<KeyRing, KeyError> {
        let mut records = store.signing_keys().list().await?;
        let mut inserted = false;
        for alg in algs {
            if !records
                .iter()
                .any(|r| r.alg == alg.as_str() && r.retired_at.is_none())
            {
                store
                    .signing_keys()
                    .insert_if_none_active(&new_record(server_key, *alg, now)?)
                    .await?;
                inserted = true;
            }
        }
        if inserted {
            records = store.signing_keys().list().await?;
        }
        let publish_after = now.plus_seconds(-publish_retired_for_seconds);
        let mut published = Vec::new();
        let mut active: Vec<Arc<SigningKey>> = Vec::new();
        for record in records {
            if record.retired_at.is_some_and(|at| at < publish_after) {
                continue;
            }
            let Some(record_alg) = SigningAlg::parse(&record.alg) else {
                continue;
            };
            let pkcs8 = server_key.open(&record.kid, &record.encrypted_private_key)?;
            let key = Arc::new(SigningKey::from_pkcs8(
                record.kid.clone(),
                record_alg,
                &pkcs8,
            )?);
            // Newest first: the first unretired key of an algorithm in use signs.
            if algs.contains(&record_alg)
                && record.retired_at.is_none()
                && !active.iter().any(|key| key.alg() == record_alg)
            {
                active.push(key.clone());
            }
            published.push(key);
        }
        if let Some(missing) = algs
            .iter()
            .find(|alg| !active.iter().any(|key| key.alg() == **alg))
        {
            return Err(KeyError::Material(format!(
                "no active {missing} key after provisioning"
            )));
        }
        // A stable order for the JWKS: the active keys in the order of `algs` (access
        // tokens' first), then the others newest first.
        active.sort_by_key(|key| algs.iter().position(|alg| *alg == key.alg()));
        published.sort_by_key(|key| {
            active
                .iter()
                .position(|signing| Arc::ptr_eq(signing, key))
                .unwrap_or(usize::MAX)
        });
        Ok(KeyRing { active, published })
    }
}

fn new_record(
    server_key: &ServerKey,
    alg: SigningAlg,
    now: Timestamp,
) -> Result<SigningKeyRecord, KeyError> {
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let pkcs8 = signing_key::generate_pkcs8(alg)?;
    Ok(SigningKeyRecord {
        encrypted_private_key: server_key.seal(&kid, &pkcs8),
        kid,
        alg: alg.as_str().to_owned(),
        created_at: now,
        retired_at: None,
    })
}
