//! What the web console stores and reads beyond the API's rows: users' password hashes,
//! browser sessions, and the aggregates its pages show (last delivery per integration,
//! deliveries per hour, the queue).

use chrono::{DateTime, Utc};
use herald_domain::{OrgId, PrincipalId};
use sqlx::Row;

use crate::time::{from_millis, opt_from_millis, to_millis};
use crate::{Result, Store};

/// A signed-in browser, found by the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub org_id: OrgId,
    /// Signed in with a password: the user.
    pub principal_id: Option<PrincipalId>,
    /// Signed in with an API token: its hash, so revoking the token ends the session.
    pub token_hash: Option<String>,
    /// Who the header shows as signed in (the user's or the token's name).
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The newest delivery of one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDelivery {
    pub integration_id: String,
    pub status: String,
    pub at: DateTime<Utc>,
}

/// Deliveries created in one hour, by their status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyDeliveries {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    pub status: String,
    pub count: i64,
}

/// Deliveries waiting to be sent (pending or retrying) and the oldest one's creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub waiting: i64,
    pub oldest_created_at: Option<DateTime<Utc>>,
}

const SESSION_COLUMNS: &str =
    "id_hash, org_id, principal_id, token_hash, display_name, created_at, expires_at";
const HOUR_MS: i64 = 3_600_000;

/// An organisation's deliveries still to be sent: pending or retrying, which is exactly those
/// with a next attempt. It walks the due index, the queue every instance shares; `org_id || ''`
/// keeps SQLite's planner from walking the organisation's whole log instead.
const QUEUE_DEPTH: &str = "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries \
                           WHERE next_attempt_at IS NOT NULL AND (org_id || '') = $1";

impl Store {
    /// The id of the organisation with this name, if there is one.
    pub async fn find_org(&self, name: &str) -> Result<Option<OrgId>> {
        let row = sqlx::query("SELECT id FROM organizations WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(OrgId::from_trusted(row.try_get("id")?)))
            .transpose()
    }

    /// Sets (or replaces) a user's password hash.
    pub async fn set_password_hash(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO user_passwords (principal_id, org_id, password_hash, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (principal_id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        )
        .bind(principal.to_string())
        .bind(org.to_string())
        .bind(password_hash.to_owned())
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn password_hash(
        &self,
        org: &OrgId,
        principal: &PrincipalId,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT password_hash FROM user_passwords WHERE principal_id = $1 AND org_id = $2",
        )
        .bind(principal.to_string())
        .bind(org.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok(row.try_get("password_hash")?)).transpose()
    }

    /// Which of these principals have a password (for the users list).
    pub async fn principals_with_password(&self, org: &OrgId) -> Result<Vec<PrincipalId>> {
        let rows = sqlx::query("SELECT principal_id FROM user_passwords WHERE org_id = $1")
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(PrincipalId::from_trusted(row.try_get("principal_id")?)))
            .collect()
    }

    /// Ends every session of a user (after a password change).
    pub async fn delete_sessions_of(&self, org: &OrgId, principal: &PrincipalId) -> Result<u64> {
        let _turn = self.write_turn().await;
        Ok(
            sqlx::query("DELETE FROM console_sessions WHERE org_id = $1 AND principal_id = $2")
                .bind(org.to_string())
                .bind(principal.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    pub async fn insert_session(&self, session: &ConsoleSession) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(&format!(
            "INSERT INTO console_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(session.id_hash.clone())
        .bind(session.org_id.to_string())
        .bind(session.principal_id.as_ref().map(|p| p.to_string()))
        .bind(session.token_hash.clone())
        .bind(session.display_name.clone())
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(crate::conflict_as("session"))?;
        Ok(())
    }

    /// The session with this hash, if it has not expired by `now`.
    pub async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE id_hash = $1 AND expires_at > $2"
        ))
        .bind(id_hash.to_owned())
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ConsoleSession {
                id_hash: row.try_get("id_hash")?,
                org_id: OrgId::from_trusted(row.try_get("org_id")?),
                principal_id: row
                    .try_get::<Option<String>, _>("principal_id")?
                    .map(PrincipalId::from_trusted),
                token_hash: row.try_get("token_hash")?,
                display_name: row.try_get("display_name")?,
                created_at: from_millis(row.try_get("created_at")?)?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        Ok(
            sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
                .bind(id_hash.to_owned())
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// Forgets sessions that expired before `now`.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let _turn = self.write_turn().await;
        Ok(
            sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                .bind(to_millis(now))
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// The newest delivery of each of the organisation's integrations that has one. One
    /// index lookup per integration (`deliveries_integration`), whatever the log's size.
    pub async fn last_deliveries(&self, org: &OrgId) -> Result<Vec<LastDelivery>> {
        let rows = sqlx::query(
            "SELECT d.integration_id, d.status, d.updated_at FROM deliveries d WHERE d.id IN \
             (SELECT (SELECT MAX(x.id) FROM deliveries x WHERE x.integration_id = i.id) \
              FROM integrations i WHERE i.org_id = $1) AND d.org_id = $1",
        )
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LastDelivery {
                    integration_id: row.try_get("integration_id")?,
                    status: row.try_get("status")?,
                    at: from_millis(row.try_get("updated_at")?)?,
                })
            })
            .collect()
    }

    /// Deliveries created since `since`, counted per hour and status: the organisation's
    /// `(org_id, created_at)` index finds them, and each row gives its status.
    pub async fn deliveries_per_hour(
        &self,
        org: &OrgId,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourlyDeliveries>> {
        let rows = sqlx::query(
            "SELECT (created_at / $3) AS hour, status, COUNT(*) AS n FROM deliveries \
             WHERE org_id = $1 AND created_at >= $2 GROUP BY (created_at / $3), status",
        )
        .bind(org.to_string())
        .bind(to_millis(since))
        .bind(HOUR_MS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hour: i64 = row.try_get("hour")?;
                Ok(HourlyDeliveries {
                    hour: from_millis(hour * HOUR_MS)?,
                    status: row.try_get("status")?,
                    count: row.try_get("n")?,
                })
            })
            .collect()
    }

    /// The organisation's deliveries still to be sent (see [`QUEUE_DEPTH`]).
    pub async fn queue_depth(&self, org: &OrgId) -> Result<QueueDepth> {
        let row = sqlx::query(QUEUE_DEPTH)
            .bind(org.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(QueueDepth {
            waiting: row.try_get("n")?,
            oldest_created_at: opt_from_millis(row.try_get("oldest")?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::tests::{emit, integration, record, stores, LEASE};
    use crate::ResultKind;

    fn session(org: &OrgId, hash: &str, expires_at: DateTime<Utc>) -> ConsoleSession {
        ConsoleSession {
            id_hash: hash.into(),
            org_id: org.clone(),
            principal_id: Some(PrincipalId::generate()),
            token_hash: None,
            display_name: "ada".into(),
            created_at: Utc::now(),
            expires_at,
        }
    }

    #[tokio::test]
    async fn a_session_is_found_until_it_expires_or_is_deleted() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let org = store.ensure_org("default").await.unwrap();
            let now = Utc::now();
            let live = session(&org, "live", now + Duration::hours(1));
            store.insert_session(&live).await.unwrap();
            store
                .insert_session(&session(&org, "old", now - Duration::seconds(1)))
                .await
                .unwrap();
            let found = store.find_session("live", now).await.unwrap().unwrap();
            assert_eq!(found.display_name, "ada");
            assert_eq!(found.principal_id, live.principal_id);
            assert!(store.find_session("old", now).await.unwrap().is_none());
            assert!(store
                .find_session("live", now + Duration::hours(2))
                .await
                .unwrap()
                .is_none());
            assert_eq!(store.delete_expired_sessions(now).await.unwrap(), 1);
            assert!(store.delete_session("live").await.unwrap());
            assert!(store.find_session("live", now).await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn a_password_hash_is_replaced_and_ends_the_users_sessions() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let org = store.ensure_org("default").await.unwrap();
            let user = PrincipalId::generate();
            assert_eq!(store.password_hash(&org, &user).await.unwrap(), None);
            store
                .set_password_hash(&org, &user, "first", Utc::now())
                .await
                .unwrap();
            store
                .set_password_hash(&org, &user, "second", Utc::now())
                .await
                .unwrap();
            assert_eq!(
                store.password_hash(&org, &user).await.unwrap().as_deref(),
                Some("second")
            );
            let mut mine = session(&org, "mine", Utc::now() + Duration::hours(1));
            mine.principal_id = Some(user.clone());
            store.insert_session(&mine).await.unwrap();
            assert_eq!(store.delete_sessions_of(&org, &user).await.unwrap(), 1);
            assert_eq!(store.find_org("default").await.unwrap(), Some(org));
            assert_eq!(store.find_org("nope").await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn the_console_aggregates_count_the_delivery_log() {
        let (stores, _dir) = stores().await;
        for store in stores {
            let org = store.ensure_org("default").await.unwrap();
            let quiet = integration(&store, &org).await;
            let busy = integration(&store, &org).await;
            let _never = integration(&store, &org).await;
            let now = Utc::now();
            emit(&store, &org, &busy, None, now).await;
            emit(&store, &org, &busy, None, now).await;
            emit(&store, &org, &quiet, None, now).await;
            let last = store.last_deliveries(&org).await.unwrap();
            assert_eq!(last.len(), 2, "one row per integration with deliveries");
            assert!(last.iter().all(|d| d.status == "pending"));
            let queue = store.queue_depth(&org).await.unwrap();
            assert_eq!(queue.waiting, 3);
            assert!(queue.oldest_created_at.is_some());

            // One delivered, one waiting for its retry, one still out (leased): two wait.
            let claimed = store.claim_due("w", now, LEASE, 10).await.unwrap();
            assert_eq!(claimed.len(), 3);
            let retry_at = now + Duration::minutes(5);
            store
                .record_results(&[
                    record(
                        &claimed[0],
                        1,
                        now,
                        ResultKind::Delivered { external_id: None },
                    ),
                    record(&claimed[1], 1, now, ResultKind::RetryAt(retry_at)),
                ])
                .await
                .unwrap();
            // Another organisation's queue is not this one's.
            let other = store.ensure_org("other").await.unwrap();
            let theirs = integration(&store, &other).await;
            emit(&store, &other, &theirs, None, now).await;
            let queue = store.queue_depth(&org).await.unwrap();
            assert_eq!(queue.waiting, 2);
            assert_eq!(store.queue_depth(&other).await.unwrap().waiting, 1);

            let hours = store
                .deliveries_per_hour(&org, now - Duration::hours(24))
                .await
                .unwrap();
            assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 3);
            let statuses: std::collections::BTreeSet<_> =
                hours.iter().map(|h| h.status.as_str()).collect();
            assert_eq!(
                statuses,
                ["pending", "retrying", "success"].into_iter().collect()
            );
            assert!(hours.iter().all(|h| h.hour <= now));
        }
    }

    #[tokio::test]
    async fn queue_depth_walks_the_due_index_and_an_events_deliveries_their_own() {
        let (stores, _dir) = stores().await;
        let sqlite = stores
            .into_iter()
            .find(|s| s.backend() == crate::Backend::Sqlite)
            .unwrap();
        for (sql, index) in [
            (QUEUE_DEPTH, "deliveries_due"),
            (crate::recovery::ORIGINAL_DELIVERIES, "deliveries_by_event"),
        ] {
            let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind("org")
                .bind("event")
                .fetch_all(sqlite.pool())
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String, _>("detail").unwrap())
                .collect();
            assert!(
                plan.iter()
                    .any(|step| step.contains(&format!("USING INDEX {index}"))),
                "{sql}: {plan:?}"
            );
        }
    }
}
