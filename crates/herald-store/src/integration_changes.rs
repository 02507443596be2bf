//! On PostgreSQL, every committed integration write is announced on one channel, so that each
//! instance can drop what it caches about that integration at once.

use herald_domain::{IntegrationId, OrgId};
use sqlx::postgres::PgListener;

use crate::{Backend, Result, Store, StoreError, WriteTx};

/// The channel integration writes are announced on; the payload is `<org id>:<integration id>`.
pub const INTEGRATIONS_CHANNEL: &str = "herald_integrations";

/// An integration that was created, changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationChange {
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
}

impl IntegrationChange {
    fn parse(payload: &str) -> Option<Self> {
        // Written only by `notify_integration_changed`, from ids the store holds.
        let (org, id) = payload.split_once(':')?;
        Some(Self {
            org_id: OrgId::from_trusted(org.to_owned()),
            integration_id: IntegrationId::from_trusted(id.to_owned()),
        })
    }
}

/// A live subscription to [`INTEGRATIONS_CHANNEL`] on its own connection.
pub struct IntegrationChanges {
    listener: PgListener,
}

impl IntegrationChanges {
    /// The next change. `Ok(None)` means the connection was lost: changes may have been missed,
    /// so drop everything cached and subscribe again.
    pub async fn recv(&mut self) -> Result<Option<IntegrationChange>> {
        let Some(notification) = self.listener.try_recv().await? else {
            return Ok(None);
        };
        IntegrationChange::parse(notification.payload())
            .map(Some)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{INTEGRATIONS_CHANNEL} payload {:?}",
                    notification.payload()
                ))
            })
    }
}

impl Store {
    /// Subscribes to integration changes: None on SQLite, where one process owns the database.
    /// Everything committed after this returns is announced.
    pub async fn listen_integration_changes(&self) -> Result<Option<IntegrationChanges>> {
        let Some(url) = &self.postgres_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen(INTEGRATIONS_CHANNEL).await?;
        Ok(Some(IntegrationChanges { listener }))
    }

    /// Announces a change inside the write's transaction: PostgreSQL delivers it on commit only.
    pub(crate) async fn notify_integration_changed(
        &self,
        tx: &mut WriteTx,
        org: &OrgId,
        id: &IntegrationId,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(INTEGRATIONS_CHANNEL)
                .bind(format!("{org}:{id}"))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// The tables of an organisation's routing input that rows are deleted from by id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RoutingTable {
    IntegrationEvents,
    EventTypes,
    Supplies,
    Attachments,
}

impl RoutingTable {
    fn name(self) -> &'static str {
        match self {
            RoutingTable::IntegrationEvents => "integration_events",
            RoutingTable::EventTypes => "event_types",
            RoutingTable::Supplies => "supplies",
            RoutingTable::Attachments => "attachments",
        }
    }
}

impl Store {
    /// Deletes one row of an organisation's routing input by its id and announces the change.
    /// Returns false if it was not there.
    pub(crate) async fn delete_routing_row(
        &self,
        table: RoutingTable,
        org: &OrgId,
        id: &str,
    ) -> Result<bool> {
        let sql = format!("DELETE FROM {} WHERE id = $1 AND org_id = $2", table.name());
        let result = {
            let _turn = self.write_turn().await;
            sqlx::query(&sql)
                .bind(id.to_owned())
                .bind(org.to_string())
                .execute(&self.pool)
                .await?
        };
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.notify_routing_changed(org).await?;
        Ok(true)
    }

    /// Announces a committed change to an organisation's routing input other than an
    /// integration row (supplies, integration events, the scope tree, event types), so other
    /// instances drop their cached routing for it.
    pub(crate) async fn notify_routing_changed(&self, org: &OrgId) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(INTEGRATIONS_CHANNEL)
                .bind(format!("{org}:"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fresh_postgres_url;
    use crate::tests::new_integration;
    use crate::IntegrationRow;

    async fn next(changes: &mut IntegrationChanges) -> IntegrationChange {
        tokio::time::timeout(std::time::Duration::from_secs(5), changes.recv())
            .await
            .expect("a notification in time")
            .unwrap()
            .expect("the connection stays up")
    }

    #[tokio::test]
    async fn every_committed_write_is_announced_and_a_failed_one_is_not() {
        let store = Store::connect(&fresh_postgres_url().await).await.unwrap();
        let mut changes = store.listen_integration_changes().await.unwrap().unwrap();
        let org = store.ensure_org("default").await.unwrap();
        let change = |row: &IntegrationRow| IntegrationChange {
            org_id: org.clone(),
            integration_id: row.integration.id.clone(),
        };
        let mut rows = Vec::new();
        for _ in 0..2 {
            let row = IntegrationRow {
                integration: new_integration(&org),
                config_sealed: "sealed".into(),
            };
            store.insert_integration(&row).await.unwrap();
            assert_eq!(next(&mut changes).await, change(&row));
            rows.push(row);
        }
        // Renaming the first onto the second's name fails: its transaction, and its
        // notification, never commit; the next one heard is the later, successful update.
        let mut clash = rows[0].clone();
        clash.integration.name = rows[1].integration.name.clone();
        assert!(store.update_integration(&clash).await.is_err());
        rows[1].config_sealed = "resealed".into();
        assert!(store.update_integration(&rows[1]).await.unwrap());
        assert_eq!(next(&mut changes).await, change(&rows[1]));

        assert!(store
            .delete_integration(&org, &rows[0].integration.id)
            .await
            .unwrap());
        assert_eq!(next(&mut changes).await, change(&rows[0]));
    }

    #[tokio::test]
    async fn sqlite_has_nothing_to_listen_to() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&crate::testing::sqlite_url(dir.path()))
            .await
            .unwrap();
        assert!(store.listen_integration_changes().await.unwrap().is_none());
    }

    #[test]
    fn payloads_name_an_org_and_an_integration() {
        let (org, id) = (OrgId::generate(), IntegrationId::generate());
        assert_eq!(
            IntegrationChange::parse(&format!("{org}:{id}")),
            Some(IntegrationChange {
                org_id: org.clone(),
                integration_id: id.clone()
            })
        );
        assert_eq!(IntegrationChange::parse("nonsense"), None);
    }
}
