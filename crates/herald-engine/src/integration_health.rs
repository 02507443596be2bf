//! What each attempt's result means for its integration: the circuit breaker of its
//! destination, the integration's run of failures (shared through the store), the operator
//! events `herald.integration.failing` (when a circuit opens, once per run),
//! `herald.integration.disabled` (after `auto_disable_after` of failures) and
//! `herald.delivery.exhausted` (a delivery that ended undelivered), and disabling an
//! integration on Herald's own initiative.
//!
//! Operator events go through Herald's own ingest, so they route like any event. None is
//! emitted about the delivery of an operator event itself, so a failing route for them cannot
//! feed on itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use herald_domain::error::error_chain;
use herald_domain::{AuditId, EventInput, IntegrationId, OrgId};
use herald_store::{AuditEntry, ClaimedDelivery, ResultKind};
use serde_json::{json, Value};

use crate::attempt::Job;
use crate::breaker::Transition;
use crate::capacity::DestinationKey;
use crate::Engine;

/// How long this process trusts what it last wrote about an integration's run of failures
/// before writing again (another instance may have seen otherwise meanwhile).
const KNOWN_FOR: Duration = Duration::from_secs(60);

/// The prefix of Herald's own event types.
const OPERATOR_PREFIX: &str = "herald.";

#[derive(Clone, Copy)]
struct Known {
    failing_since: Option<DateTime<Utc>>,
    at: Instant,
}

/// This process's view of each integration's run of failures, so that only changes are
/// written.
#[derive(Default)]
pub(crate) struct FailureRuns {
    known: Mutex<HashMap<IntegrationId, Known>>,
}

impl FailureRuns {
    fn get(&self, id: &IntegrationId) -> Option<Known> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .get(id)
            .copied()
            .filter(|k| k.at.elapsed() < KNOWN_FOR)
    }

    fn set(&self, id: &IntegrationId, failing_since: Option<DateTime<Utc>>) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() > 100_000 {
            known.clear();
        }
        known.insert(
            id.clone(),
            Known {
                failing_since,
                at: Instant::now(),
            },
        );
    }
}

impl Engine {
    /// Whether the circuit of the delivery's destination lets an attempt start now; Err says
    /// when to look again.
    pub(crate) fn breaker_admits(&self, delivery: &ClaimedDelivery) -> Result<(), DateTime<Utc>> {
        self.breaker
            .admit(&DestinationKey::of(delivery), self.now())
    }

    /// Takes in an attempt's result: the breaker, the run of failures, auto-disable and the
    /// operator events. Errors are logged; the attempt's own result is unaffected.
    pub(crate) async fn observe_result(&self, job: &Job, result: &ResultKind, error: Option<&str>) {
        let delivery = &job.delivery;
        let key = DestinationKey::of(delivery);
        let now = self.now();
        let success = match result {
            ResultKind::Deferred(_) => {
                self.breaker.probe_not_sent(&key, now);
                return;
            }
            ResultKind::Delivered { .. } => true,
            // The receiver answered, on purpose: alive, but nothing to learn about failing.
            ResultKind::Aborted => {
                self.breaker.record(&key, true, now);
                return;
            }
            ResultKind::RetryAt(_) | ResultKind::Failed => false,
        };
        let transition = self.breaker.record(&key, success, now);
        if transition == Transition::Opened {
            tracing::warn!(integration_id = %delivery.integration_id, destination = %delivery.destination, "circuit opened: the destination keeps failing");
        }
        let about_operator_event = job
            .event
            .as_ref()
            .is_some_and(|e| e.event_type.starts_with(OPERATOR_PREFIX));
        if let Err(error) = self
            .note_failure_run(delivery, success, transition, now)
            .await
        {
            tracing::warn!(integration_id = %delivery.integration_id, error = %error_chain(&error), "could not record the integration's run of failures");
        }
        if matches!(result, ResultKind::Failed) && !about_operator_event {
            self.emit_exhausted(job, error).await;
        }
    }

    async fn note_failure_run(
        &self,
        delivery: &ClaimedDelivery,
        success: bool,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> Result<(), herald_store::StoreError> {
        let id = &delivery.integration_id;
        let known = self.failure_runs.get(id);
        if success {
            if !matches!(
                known,
                Some(Known {
                    failing_since: None,
                    ..
                })
            ) {
                self.store.integration_succeeded(id).await?;
                self.failure_runs.set(id, None);
            }
            return Ok(());
        }
        let mut failing_since = match known {
            Some(Known {
                failing_since: Some(since),
                ..
            }) => since,
            _ => {
                let Some(since) = self.store.integration_failed(id, now).await? else {
                    return Ok(()); // deleted meanwhile
                };
                self.failure_runs.set(id, Some(since));
                since
            }
        };
        if transition == Transition::Opened && self.store.claim_failing_report(id, now).await? {
            self.emit_integration_event(
                delivery,
                "herald.integration.failing",
                "high",
                format!("Integration {} keeps failing", delivery.integration_name),
                None,
                failing_since,
            )
            .await;
        }
        if let Some(period) = self.config.auto_disable_after {
            let mut failing_for = (now - failing_since).to_std().unwrap_or_default();
            if failing_for >= period && known.is_some() {
                // What this process remembers may be up to a minute old: another instance may
                // have seen a success since. The store has the last word before disabling.
                let Some(since) = self.store.integration_failed(id, now).await? else {
                    return Ok(());
                };
                self.failure_runs.set(id, Some(since));
                failing_since = since;
                failing_for = (now - since).to_std().unwrap_or_default();
            }
            if failing_for >= period {
                let reason = format!(
                    "every attempt failed for {} (since {})",
                    herald_domain::duration::format(Duration::from_secs(
                        failing_for.as_secs() / 3600 * 3600
                    )),
                    failing_since.to_rfc3339_opts(SecondsFormat::Secs, true)
                );
                self.disable_integration(&delivery.org_id, id, &reason, "herald:auto-disable")
                    .await?;
            }
        }
        Ok(())
    }

    /// Disables an integration on Herald's own initiative, with the reason on the integration,
    /// in the audit log (from `source`) and in a `herald.integration.disabled` event. Already
    /// disabled: nothing changes. Returns whether it disabled it.
    pub async fn disable_integration(
        &self,
        org: &OrgId,
        id: &IntegrationId,
        reason: &str,
        source: &str,
    ) -> Result<bool, herald_store::StoreError> {
        let Some(mut row) = self.store.get_integration(org, id).await? else {
            return Ok(false);
        };
        if !row.integration.enabled {
            return Ok(false);
        }
        let now = self.now();
        row.integration.enabled = false;
        row.integration.disabled_reason = Some(reason.to_owned());
        row.integration.updated_at = now;
        if !self.store.update_integration(&row).await? {
            return Ok(false);
        }
        self.integrations_changed(org);
        let entry = AuditEntry {
            id: AuditId::generate(),
            org_id: org.clone(),
            at: now,
            actor_id: None,
            token_id: None,
            source: Some(source.to_owned()),
            action: "integration.disable".into(),
            resource_type: "integration".into(),
            resource_id: id.to_string(),
            details: Some(json!({"changed": ["enabled"], "reason": reason})),
        };
        if let Err(error) = self.store.insert_audit(&entry).await {
            tracing::error!(integration_id = %id, error = %error_chain(&error), "could not record an audit entry");
        }
        tracing::warn!(integration_id = %id, reason, "integration disabled");
        let failing_since = self
            .store
            .integration_failing_since(id)
            .await
            .ok()
            .flatten();
        let data = json!({
            "integration_id": id.to_string(),
            "integration_name": row.integration.name,
            "kind": row.integration.kind.as_str(),
            "reason": reason,
            "failing_since": failing_since.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        });
        self.emit_operator_event(
            org,
            json!({
                "type": "herald.integration.disabled",
                "severity": "critical",
                "target_id": id.to_string(),
                "correlation_key": format!("herald.integration:{id}"),
                "title": format!("Integration {} was disabled", row.integration.name),
                "summary": reason,
                "data": data,
            }),
        )
        .await;
        Ok(true)
    }

    async fn emit_integration_event(
        &self,
        delivery: &ClaimedDelivery,
        event_type: &str,
        severity: &str,
        title: String,
        reason: Option<&str>,
        failing_since: DateTime<Utc>,
    ) {
        let id = &delivery.integration_id;
        let data = json!({
            "integration_id": id.to_string(),
            "integration_name": delivery.integration_name,
            "kind": delivery.kind.as_str(),
            "reason": reason,
            "failing_since": failing_since.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        self.emit_operator_event(
            &delivery.org_id,
            json!({
                "type": event_type,
                "severity": severity,
                "target_id": id.to_string(),
                "correlation_key": format!("herald.integration:{id}"),
                "title": title,
                "data": data,
            }),
        )
        .await;
    }

    async fn emit_exhausted(&self, job: &Job, error: Option<&str>) {
        let delivery = &job.delivery;
        let data = json!({
            "delivery_id": delivery.id.to_string(),
            "event_id": delivery.event_id.to_string(),
            "event_type": job.event.as_ref().map(|e| e.event_type.clone()),
            "integration_id": delivery.integration_id.to_string(),
            "integration_name": delivery.integration_name,
            "kind": delivery.kind.as_str(),
            "attempts": delivery.attempt_count + 1,
            "error": error,
        });
        self.emit_operator_event(
            &delivery.org_id,
            json!({
                "type": "herald.delivery.exhausted",
                "severity": "medium",
                "target_id": delivery.integration_id.to_string(),
                "title": format!("A delivery to {} failed", delivery.integration_name),
                "summary": error,
                "data": data,
            }),
        )
        .await;
    }

    /// Accepts one of Herald's own events through the ingest every event takes.
    async fn emit_operator_event(&self, org: &OrgId, input: Value) {
        let event_type = input["type"].as_str().unwrap_or_default().to_owned();
        let parsed = serde_json::from_value::<EventInput>(input)
            .map_err(|e| e.to_string())
            .and_then(|input| input.parse().map_err(|e| e.to_string()));
        let new = match parsed {
            Ok(new) => new,
            Err(error) => {
                tracing::error!(event_type, error, "an operator event is malformed");
                return;
            }
        };
        match self.accept_event(org, new).await {
            Ok(accepted) => {
                tracing::info!(event_type, event_id = %accepted.id, deliveries = accepted.deliveries, "operator event emitted")
            }
            Err(error) => {
                tracing::warn!(event_type, error = %error_chain(&error), "could not emit an operator event")
            }
        }
    }
}
