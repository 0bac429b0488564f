//! First start (SPEC 2): the default clients, the built-in scopes and the admin user, in
//! one transaction. Secrets come from the operator or are generated and handed back to
//! the binary, which prints them once.

use thetasecure_core::client::{ADMIN_CLIENT_ID, Client, SYNC_CLIENT_ID, default_clients};
use thetasecure_core::grant::ClientType;
use thetasecure_core::ids::ClientId;
use thetasecure_core::scope::BUILTIN_SCOPES;
use thetasecure_core::secret::PlainSecret;
use thetasecure_store::{BootstrapPlan, ScopeRecord, UserRecord};

use crate::audit::{self, Actor};
use thetasecure_core::user::{
    MIN_PASSWORD_CHARS, User, UserFields, check_password, validate_profile,
};

use crate::{AdminError, App, passwords};

/// Operator-supplied bootstrap values (`THETASECURE_BOOTSTRAP_*`).
#[derive(Default)]
pub struct BootstrapInput {
    pub admin_client_secret: Option<String>,
    pub sync_client_secret: Option<String>,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
}

/// Why a first start could not provision the store.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The operator supplied an unusable value: a startup error naming the setting,
    /// not an internal one.
    #[error("{setting}: {problem}")]
    Setting {
        setting: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// What was provisioned; `generated` holds only values the server made up, to print once.
pub struct Provisioned {
    pub admin_username: String,
    pub generated: Vec<(&'static str, PlainSecret)>,
}

/// Operator-chosen client secrets must be as hard to guess as generated ones are meant to be.
pub const MIN_SUPPLIED_SECRET_CHARS: usize = 32;

impl App {
    /// Provisions an empty store; `Ok(None)` when it already was (by us or another instance).
    pub async fn bootstrap(
        &self,
        input: BootstrapInput,
    ) -> Result<Option<Provisioned>, BootstrapError> {
        self.provision(input, None).await
    }

    /// [`bootstrap`](Self::bootstrap) with the admin user's password already hashed: a
    /// PHC string from [`passwords::hash`], for a password the caller keeps (so
    /// `input.admin_password` must be `None`, and no password is generated).
    ///
    /// Why it exists: a test harness provisions a fresh store for every case, and the
    /// Argon2id hash is deliberately the slowest step of a bootstrap. With this, it hashes
    /// its one test password once, with the production parameters, and every store it
    /// provisions holds a real hash of it. Nothing in the production configuration
    /// reaches this; no weaker hash can be made through it (it accepts Argon2id only).
    pub async fn bootstrap_with_password_hash(
        &self,
        input: BootstrapInput,
        admin_password_hash: String,
    ) -> Result<Option<Provisioned>, BootstrapError> {
        let setting = "admin password hash";
        if input.admin_password.is_some() {
            return Err(BootstrapError::Setting {
                setting,
                problem: "give the password or its hash, not both".to_owned(),
            });
        }
        if !passwords::is_production_hash(&admin_password_hash) {
            return Err(BootstrapError::Setting {
                setting,
                problem: "must be an Argon2id PHC string made by `passwords::hash`".to_owned(),
            });
        }
        self.provision(input, Some(admin_password_hash)).await
    }

    async fn provision(
        &self,
        input: BootstrapInput,
        admin_password_hash: Option<String>,
    ) -> Result<Option<Provisioned>, BootstrapError> {
        // Fast path for every start after the first: skip generating secrets and the
        // deliberately slow password hash. The store's marker row still decides races.
        if self
            .store()
            .clients()
            .count()
            .await
            .map_err(|e| AdminError::from_store(e, "store"))?
            > 0
        {
            return Ok(None);
        }
        let mut generated = Vec::new();
        let mut secret_for = |label: &'static str,
                              supplied: Option<String>,
                              min: usize|
         -> Result<PlainSecret, BootstrapError> {
            match supplied {
                Some(value) if value.chars().count() >= min => Ok(PlainSecret::new(value)),
                Some(_) => Err(BootstrapError::Setting {
                    setting: label,
                    problem: format!("must be at least {min} characters"),
                }),
                None => {
                    let secret = PlainSecret::generate();
                    generated.push((label, secret.clone()));
                    Ok(secret)
                }
            }
        };
        let admin_secret = secret_for(
            "THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET",
            input.admin_client_secret,
            MIN_SUPPLIED_SECRET_CHARS,
        )?;
        let sync_secret = secret_for(
            "THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET",
            input.sync_client_secret,
            MIN_SUPPLIED_SECRET_CHARS,
        )?;
        let password = match admin_password_hash {
            Some(_) => None,
            None => Some(secret_for(
                "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD",
                input.admin_password,
                MIN_PASSWORD_CHARS,
            )?),
        };
        let admin_username = input.admin_username.unwrap_or_else(|| "admin".to_owned());

        let now = self.clock().now();
        let clients = default_clients()
            .into_iter()
            .map(|default| {
                let client = Client {
                    client_id: ClientId::fixed(default.client_id),
                    client_type: ClientType::Custom,
                    metadata: default.metadata,
                    is_default: true,
                    created_at: now,
                    updated_at: now,
                    tokens_revoked_before: None,
                };
                let secret = match default.client_id {
                    ADMIN_CLIENT_ID => Some(&admin_secret),
                    SYNC_CLIENT_ID => Some(&sync_secret),
                    _ => None,
                };
                let record =
                    secret.map(|secret| self.secret_record(&client.client_id, secret, now));
                (client, record)
            })
            .collect::<Vec<_>>();
        let scopes = BUILTIN_SCOPES
            .iter()
            .map(|scope| ScopeRecord {
                name: scope.name.to_owned(),
                description: scope.description.to_owned(),
                is_builtin: true,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let admin = UserFields {
            username: Some(admin_username.clone()),
            display_name: Some("Administrator".to_owned()),
            is_admin: Some(true),
            ..UserFields::default()
        };
        let profile = validate_profile(admin).map_err(|refused| BootstrapError::Setting {
            setting: "THETASECURE_BOOTSTRAP_ADMIN_USERNAME",
            problem: refused.description,
        })?;
        let password_hash = match (admin_password_hash, password) {
            (Some(hash), _) => hash,
            (None, password) => {
                let password = password.map(|p| p.expose().to_owned()).unwrap_or_default();
                check_password(&password).map_err(|refused| BootstrapError::Setting {
                    setting: "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD",
                    problem: refused.description,
                })?;
                self.password_hashing().hash(password).await?
            }
        };
        let admin_user = UserRecord {
            user: User {
                id: uuid::Uuid::now_v7().to_string(),
                profile,
                created_at: now,
                updated_at: now,
            },
            password_hash,
        };
        let system = Actor::system();
        let mut audit_entries: Vec<_> = clients
            .iter()
            .map(|(client, _)| {
                audit::entry(
                    &system,
                    now,
                    "client.created",
                    "client",
                    client.client_id.as_str(),
                    serde_json::json!({"bootstrap": true}),
                )
            })
            .collect();
        audit_entries.push(audit::entry(
            &system,
            now,
            "user.created",
            "user",
            &admin_user.user.id,
            serde_json::json!({"bootstrap": true}),
        ));
        let plan = BootstrapPlan {
            scopes,
            clients,
            admin_user,
        };
        let provisioned = self
            .store()
            .bootstrap()
            .provision(&plan, &audit_entries)
            .await
            .map_err(|e| AdminError::from_store(e, "store"))?;
        Ok(provisioned.then_some(Provisioned {
            admin_username,
            generated,
        }))
    }
}
