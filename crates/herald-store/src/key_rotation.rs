//! Master key rotation: every integration config not under the primary key gets its data key
//! rewrapped, one compare-and-swap at a time, while servers keep reading and writing.

use herald_crypto::{SealError, SecretBox};
use herald_domain::{IntegrationId, OrgId};
use sqlx::Row;

use crate::{Result, Store};

/// Rows read per page, so a large table is never held in memory at once.
const PAGE: i64 = 500;

/// What a rotation did.
#[derive(Debug, Default)]
pub struct RotationReport {
    /// Now under the primary key.
    pub rotated: usize,
    /// Changed by someone else between read and write; running the rotation again takes them.
    pub skipped: usize,
    /// Already under the primary key.
    pub current: usize,
    /// Configs no key of the keyring opens, with why.
    pub failed: Vec<(IntegrationId, SealError)>,
}

impl Store {
    /// Rewraps every integration config that `keys` can open and that is not already under its
    /// primary key. A row changed meanwhile (a PATCH sealed anew) is left alone and counted as
    /// skipped: its new blob is under whatever key that server seals with.
    pub async fn rotate_master_key(&self, keys: &SecretBox) -> Result<RotationReport> {
        self.rotate_in_pages(keys, PAGE).await
    }

    async fn rotate_in_pages(&self, keys: &SecretBox, page: i64) -> Result<RotationReport> {
        let mut report = RotationReport::default();
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, org_id, config_sealed FROM integrations WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after.clone())
            .bind(page)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                return Ok(report);
            };
            after = last.try_get("id")?;
            for row in &rows {
                let id = IntegrationId::from_trusted(row.try_get("id")?);
                let org = OrgId::from_trusted(row.try_get("org_id")?);
                let sealed: String = row.try_get("config_sealed")?;
                match keys.rewrap(&sealed, id.as_str()) {
                    Ok(None) => report.current += 1,
                    Ok(Some(rewrapped)) => {
                        if self
                            .replace_sealed_config(&org, &id, &sealed, &rewrapped)
                            .await?
                        {
                            report.rotated += 1;
                        } else {
                            report.skipped += 1;
                        }
                    }
                    Err(error) => report.failed.push((id, error)),
                }
            }
        }
    }

    /// Sets an integration's sealed config only if it is still `old`. Returns whether it did.
    pub async fn replace_sealed_config(
        &self,
        org: &OrgId,
        id: &IntegrationId,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let replaced = sqlx::query(
            "UPDATE integrations SET config_sealed = $1 WHERE id = $2 AND org_id = $3 AND config_sealed = $4",
        )
        .bind(new.to_owned())
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(old.to_owned())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if replaced {
            self.notify_integration_changed(&mut tx, org, id).await?;
        }
        tx.commit().await?;
        Ok(replaced)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use herald_crypto::MasterKey;

    use super::*;
    use crate::tests::{new_integration, stores};
    use crate::IntegrationRow;

    fn plaintext(id: &IntegrationId) -> Vec<u8> {
        format!("{{\"token\":\"secret-of-{id}\"}}").into_bytes()
    }

    async fn insert_sealed(store: &Store, org: &OrgId, with: &SecretBox) -> IntegrationId {
        let integration = new_integration(org);
        let config_sealed = with.seal(&plaintext(&integration.id), integration.id.as_str());
        let id = integration.id.clone();
        store
            .insert_integration(&IntegrationRow {
                integration,
                config_sealed,
            })
            .await
            .unwrap();
        id
    }

    async fn sealed_of(store: &Store, org: &OrgId, id: &IntegrationId) -> String {
        store
            .get_integration(org, id)
            .await
            .unwrap()
            .unwrap()
            .config_sealed
    }

    /// The procedure of the README: servers run with "NEW,OLD" and keep opening configs while
    /// the rotation runs; afterwards NEW alone opens every one.
    #[tokio::test]
    async fn rotation_rewraps_every_config_while_readers_keep_opening_them() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let (old, new) = (MasterKey::generate(), MasterKey::generate());
            let old_box = SecretBox::new(old.clone());
            let keyring = SecretBox::from_keys(vec![new.clone(), old.clone()]).unwrap();
            let org = store.ensure_org("default").await.unwrap();
            let mut ids = Vec::new();
            for _ in 0..7 {
                ids.push(insert_sealed(&store, &org, &old_box).await);
            }
            ids.push(insert_sealed(&store, &org, &keyring).await);

            let stop = Arc::new(AtomicBool::new(false));
            let reads = Arc::new(AtomicUsize::new(0));
            let reader = tokio::spawn({
                let (store, org, ids, keyring) =
                    (store.clone(), org.clone(), ids.clone(), keyring.clone());
                let (stop, reads) = (stop.clone(), reads.clone());
                async move {
                    while !stop.load(Ordering::Acquire) {
                        for id in &ids {
                            let sealed = sealed_of(&store, &org, id).await;
                            assert_eq!(keyring.open(&sealed, id.as_str()).unwrap(), plaintext(id));
                            reads.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
            // Let the reader get going before the rotation, without sleeping for it.
            while reads.load(Ordering::Relaxed) == 0 {
                tokio::task::yield_now().await;
            }
            let report = store.rotate_in_pages(&keyring, 3).await.unwrap();
            stop.store(true, Ordering::Release);
            reader.await.unwrap();
            assert_eq!(
                (
                    report.rotated,
                    report.current,
                    report.skipped,
                    report.failed.len()
                ),
                (7, 1, 0, 0),
                "{:?}",
                store.backend()
            );

            let new_only = SecretBox::new(new.clone());
            for id in &ids {
                let sealed = sealed_of(&store, &org, id).await;
                assert_eq!(SecretBox::key_id_of(&sealed), Some(new.id().as_str()));
                assert_eq!(new_only.open(&sealed, id.as_str()).unwrap(), plaintext(id));
            }
            let again = store.rotate_master_key(&keyring).await.unwrap();
            assert_eq!((again.rotated, again.current), (0, 8));
        }
    }

    #[tokio::test]
    async fn a_config_changed_meanwhile_is_never_overwritten() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let key = SecretBox::new(MasterKey::generate());
            let org = store.ensure_org("default").await.unwrap();
            let id = insert_sealed(&store, &org, &key).await;
            let read = sealed_of(&store, &org, &id).await;
            // A PATCH seals a new config after the rotation read the row.
            let patched = key.seal(b"{}", id.as_str());
            assert!(store
                .replace_sealed_config(&org, &id, &read, &patched)
                .await
                .unwrap());
            assert!(!store
                .replace_sealed_config(&org, &id, &read, "rewrapped-from-stale")
                .await
                .unwrap());
            assert_eq!(sealed_of(&store, &org, &id).await, patched);
        }
    }

    #[tokio::test]
    async fn configs_no_key_opens_are_reported_and_left_alone() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let org = store.ensure_org("default").await.unwrap();
            let lost = SecretBox::new(MasterKey::generate());
            let id = insert_sealed(&store, &org, &lost).await;
            let before = sealed_of(&store, &org, &id).await;
            let report = store
                .rotate_master_key(&SecretBox::new(MasterKey::generate()))
                .await
                .unwrap();
            assert_eq!(report.failed.len(), 1);
            assert_eq!(report.failed[0].0, id);
            assert_eq!(sealed_of(&store, &org, &id).await, before);
        }
    }
}
