//! First-start provisioning: default scopes and clients, the admin user, their audit
//! entries, all in one transaction, once.

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::{AuditEntry, BootstrapPlan, Store, StoreError};

pub struct Bootstrap<'a> {
    pub(crate) store: &'a Store,
}

impl Bootstrap<'_> {
    /// Provisions an empty store in one transaction: scopes, clients with their secrets,
    /// the admin user, and the audit entries. Returns false (and writes nothing) when the
    /// store was already provisioned, also when two instances race.
    pub async fn provision(
        &self,
        plan: &BootstrapPlan,
        audit: &[AuditEntry],
    ) -> Result<bool, StoreError> {
        dispatch!(self.store, provision(plan, audit))
    }
}

for_each_engine! {
    pub(crate) async fn provision(
        db: &Db,
        plan: &BootstrapPlan,
        entries: &[AuditEntry],
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(db).await?;
        let marked = sqlx::query(
            "INSERT INTO bootstrap_state (id, provisioned_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(plan.admin_user.user.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        if marked.rows_affected() == 0 {
            rollback(tx).await?;
            return Ok(false);
        }
        for scope in &plan.scopes {
            scopes::insert(&mut tx, scope).await?;
        }
        for (client, secret) in &plan.clients {
            clients::insert(&mut tx, client).await?;
            if let Some(secret) = secret {
                secrets::insert(&mut tx, secret).await?;
            }
        }
        users::insert(&mut tx, &plan.admin_user).await?;
        // Instances starting beside this one may have looked for these already.
        publish(db, &mut tx, &Change::ScopesChanged).await?;
        for (client, _) in &plan.clients {
            let change = Change::ClientChanged { client_id: client.client_id.clone() };
            publish(db, &mut tx, &change).await?;
        }
        for entry in entries {
            audit::insert(&mut tx, entry).await?;
        }
        commit(tx).await?;
        Ok(true)
    }
}
