//! One attempt at one delivery: render, send, classify, and decide what happens next.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use herald_domain::{Event, Kind};
use herald_providers::{
    Destination, ExternalRef, Outcome, Provider, Purpose, Redactor, RenderContext, Target,
};
use herald_store::{AttemptRecord, ClaimedDelivery, IntegrationRow, ResultKind};
use serde_json::Value;

use crate::credential_cache::Opened;
use crate::{retry, Engine};

/// How long a 429 without Retry-After pauses its destination.
const DEFAULT_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a kind shows the event to people, so a message template applies. Machine payloads
/// (a signed webhook, a script's stdin, a Splunk record) carry the event as it was sent.
pub(crate) fn shows_people(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Webhook | Kind::Custom | Kind::Script | Kind::Splunk
    )
}

/// How much of a response body the delivery log keeps.
const EXCERPT_BYTES: usize = 1024;

/// A claimed delivery with what it needs to be sent, loaded for the whole batch at once.
pub(crate) struct Job {
    pub delivery: ClaimedDelivery,
    pub event: Option<Event>,
    pub integration: Option<IntegrationRow>,
}

/// Gives a claimed delivery back untouched, due at `now`: no attempt is logged, its retry
/// schedule does not advance, and any instance may claim it at once.
pub(crate) fn released(job: &Job, now: DateTime<Utc>) -> AttemptRecord {
    release_record(&job.delivery, now)
}

pub(crate) fn release_record(delivery: &ClaimedDelivery, now: DateTime<Utc>) -> AttemptRecord {
    AttemptRecord {
        lease_token: delivery.lease_token.clone(),
        attempt_number: delivery.attempt_count,
        delivery_id: delivery.id.clone(),
        started_at: now,
        duration: std::time::Duration::ZERO,
        result: ResultKind::Deferred(now),
        status_code: None,
        response_excerpt: None,
        error: None,
        external_id: None,
        chained: delivery.correlation_key.is_some(),
    }
}

/// What one exchange with a destination came to. Strings are already scrubbed.
pub(crate) struct Exchange {
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub response_excerpt: Option<String>,
    /// An id the destination gave, even if a later step failed.
    pub external_id: Option<String>,
    /// The receiver asked for no more attempts of this message.
    pub aborted: bool,
}

impl Exchange {
    fn failed(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Failed {
                reason: reason.into(),
            },
            status_code: None,
            response_excerpt: None,
            external_id: None,
            aborted: false,
        }
    }
}

/// What became of a claimed delivery.
enum Attempted {
    Sent(Exchange),
    /// Not sent: its destination is paced or paused until then (after its circuit let it
    /// through, so a probe it was is handed on).
    Deferred(DateTime<Utc>),
    /// Not sent, before its circuit was asked: the integration is paused, or the circuit is
    /// open.
    Held(DateTime<Utc>),
}

impl Engine {
    pub(crate) async fn attempt(&self, job: Job) -> AttemptRecord {
        let started_at = self.now();
        let timer = Instant::now();
        let exchange = match self.exchange_for(&job).await {
            Attempted::Sent(exchange) => exchange,
            attempted @ (Attempted::Deferred(_) | Attempted::Held(_)) => {
                let until = match attempted {
                    Attempted::Deferred(until) => {
                        // A probe that was not sent: the next attempt may probe.
                        self.observe_result(&job, &ResultKind::Deferred(until), None)
                            .await;
                        until
                    }
                    Attempted::Held(until) => until,
                    Attempted::Sent(_) => unreachable!("matched above"),
                };
                tracing::debug!(delivery_id = %job.delivery.id, %until, "destination busy; deferred");
                return AttemptRecord {
                    lease_token: job.delivery.lease_token,
                    attempt_number: job.delivery.attempt_count,
                    delivery_id: job.delivery.id,
                    started_at,
                    duration: timer.elapsed(),
                    result: ResultKind::Deferred(until),
                    status_code: None,
                    response_excerpt: None,
                    error: None,
                    external_id: None,
                    chained: job.delivery.correlation_key.is_some(),
                };
            }
        };
        let attempts_made = job.delivery.cycle_attempts + 1;
        let (result, error) = match exchange.outcome {
            Outcome::Delivered { external_id } => (ResultKind::Delivered { external_id }, None),
            Outcome::Failed { reason } if exchange.aborted => (ResultKind::Aborted, Some(reason)),
            Outcome::Failed { reason } => (ResultKind::Failed, Some(reason)),
            Outcome::Retry { after, reason } => {
                match retry::next_attempt_at(
                    &self.config.retry_schedule,
                    attempts_made,
                    after,
                    self.now(),
                ) {
                    Some(at) => (ResultKind::RetryAt(at), Some(reason)),
                    None => (
                        ResultKind::Failed,
                        Some(format!("{reason} (gave up after {attempts_made} attempts)")),
                    ),
                }
            }
        };
        log_outcome(
            &job.delivery,
            exchange.status_code,
            &result,
            error.as_deref(),
        );
        let error = error.map(|e| storable(&e));
        let outcome = match &result {
            ResultKind::Delivered { .. } => "delivered",
            ResultKind::RetryAt(_) => "retry",
            ResultKind::Aborted => "aborted",
            ResultKind::Failed | ResultKind::Deferred(_) => "failed",
        };
        self.metrics
            .attempt(job.delivery.kind.as_str(), outcome, timer.elapsed());
        self.observe_result(&job, &result, error.as_deref()).await;
        AttemptRecord {
            lease_token: job.delivery.lease_token,
            attempt_number: job.delivery.attempt_count + 1,
            delivery_id: job.delivery.id,
            started_at,
            duration: timer.elapsed(),
            result,
            status_code: exchange.status_code,
            response_excerpt: exchange.response_excerpt,
            error,
            external_id: exchange.external_id,
            chained: job.delivery.correlation_key.is_some(),
        }
    }

    async fn exchange_for(&self, job: &Job) -> Attempted {
        let failed = |reason: String| Attempted::Sent(Exchange::failed(reason));
        let Some(event) = &job.event else {
            return failed("the event is missing from the store".into());
        };
        let Some(row) = &job.integration else {
            return failed("integration deleted".into());
        };
        if !row.integration.enabled {
            return failed("integration disabled".into());
        }
        // Paused meanwhile: back to the queue, where claims pass it over until it is resumed.
        if row.integration.paused_at.is_some() {
            return Attempted::Held(self.now());
        }
        // An open circuit holds the destination's deliveries back until its probe.
        if let Err(until) = self.breaker_admits(&job.delivery) {
            return Attempted::Held(until);
        }
        let kind = row.integration.kind;
        let Some(provider) = self.registry.get(kind) else {
            return failed(format!("no provider for kind {}", kind.as_str()));
        };
        let opened = match self.credentials_for(row) {
            Ok(opened) => opened,
            Err(reason) => return failed(reason),
        };
        let config = &opened.config;
        let now = self.now();
        // A workspace attachment's channel or URL, if it resolved one, is its own destination.
        let override_to = Some(job.delivery.destination.as_str()).filter(|d| !d.is_empty());
        let resolved;
        let destination = match override_to {
            Some(to) => {
                let rate = opened.destination.rate;
                resolved = if to.contains("://") {
                    Destination::hashed(kind, to, rate)
                } else {
                    Destination::new(kind, to, rate)
                };
                &resolved
            }
            None => &opened.destination,
        };
        if let Err(until) = self.limiter.acquire(destination, now) {
            return Attempted::Deferred(until);
        }
        let prior = match self.store.chain_prior(&job.delivery).await {
            Ok(prior) => prior.map(ExternalRef),
            // Sending without the prior would open a second thread or issue: try again soon.
            Err(error) => {
                tracing::warn!(error = %herald_domain::error::error_chain(&error), "looking up a follow-up's external id failed");
                return Attempted::Deferred(now + chrono::Duration::seconds(1));
            }
        };
        // The integration event that carried the delivery may shape it; else the integration.
        let routing = match &job.delivery.carried_by {
            Some(_) => self.routing_for(&job.delivery.org_id).await.ok(),
            None => None,
        };
        let carried_template = routing
            .as_ref()
            .zip(job.delivery.carried_by.as_deref())
            .and_then(|(routing, id)| routing.template_of(id));
        let event = match carried_template.or(row.integration.template.as_ref()) {
            Some(template) if shows_people(kind) => {
                let (rendered, problems) = template.apply(event);
                for problem in problems {
                    tracing::warn!(integration_id = %row.integration.id, problem, "template failed; the event's own text is used");
                }
                rendered
            }
            _ => event.clone(),
        };
        let earlier = self.chain_history(&job.delivery, kind).await;
        let target = Target {
            delivery_id: job.delivery.id.to_string(),
            integration_id: job.delivery.integration_id.to_string(),
            integration_name: job.delivery.integration_name.clone(),
            kind: job.delivery.kind,
        };
        let ctx = RenderContext {
            event: &event,
            target: &target,
            prior: prior.as_ref(),
            earlier: &earlier,
            now,
            purpose: Purpose::Delivery,
            endpoints: &self.config.endpoints,
            destination: override_to,
            prepared: opened.prepared.as_deref(),
        };
        let exchange = self.exchange(provider, config, &ctx).await;
        // A 429 holds back every delivery to this destination, not just this one.
        if exchange.status_code == Some(429) {
            if let Outcome::Retry { after, .. } = &exchange.outcome {
                let pause = after.unwrap_or(DEFAULT_PAUSE);
                let until =
                    now + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX);
                self.limiter.pause(&destination.key, until);
            }
        }
        Attempted::Sent(exchange)
    }

    /// The opened config the send path uses, with its destination and what the provider
    /// prepared of it: from the credential cache when it holds one opened from this very blob.
    /// Parsing a config (a URL above all) on every attempt cost 6% of an event's instructions.
    pub(crate) fn credentials_for(&self, row: &IntegrationRow) -> Result<Arc<Opened>, String> {
        let id = &row.integration.id;
        if let Some(config) = self.credentials.get(id, &row.config_sealed) {
            return Ok(config);
        }
        let kind = row.integration.kind;
        let config = self.open_config(row)?;
        let (destination, prepared) = match self.registry.get(kind) {
            Some(provider) => (provider.destination(&config), provider.prepare(&config)),
            None => (Destination::new(kind, "", None), None),
        };
        let config = Arc::new(Opened {
            config,
            destination,
            prepared,
        });
        self.credentials.put(
            &row.integration.org_id,
            id,
            &row.config_sealed,
            config.clone(),
        );
        Ok(config)
    }

    /// Opens an integration's sealed config, bypassing the cache. Errors say why without
    /// showing any of it.
    pub fn open_config(&self, row: &IntegrationRow) -> Result<Value, String> {
        let plaintext = self
            .secrets
            .open(&row.config_sealed, row.integration.id.as_str())
            .map_err(|e| format!("the integration's config cannot be opened: {e}"))?;
        serde_json::from_slice(&plaintext)
            .map_err(|_| "the integration's config is not valid JSON".to_owned())
    }

    /// Renders, sends each request in order and classifies the answers; strings come back
    /// scrubbed of the integration's secrets.
    pub(crate) async fn exchange(
        &self,
        provider: &dyn Provider,
        config: &Value,
        ctx: &RenderContext<'_>,
    ) -> Exchange {
        let exchanged = herald_providers::exchange(&self.sender, provider, ctx, config).await;
        // Only a reason or a response body is stored, so only they need scrubbing. Building the
        // redactor (every config string in a dozen encodings) cost 8% of Herald's instructions
        // under load when done for every delivery, most of which succeed with an empty body.
        let has_text = !matches!(exchanged.outcome, Outcome::Delivered { .. })
            || exchanged
                .last_response
                .as_ref()
                .is_some_and(|r| !r.body.is_empty());
        let redactor = match has_text {
            // Credentials the provider derived and sent (a Basic header) may come back too.
            true => Redactor::from_config(config).with_sent(&exchanged.sent_credentials()),
            false => Redactor::default(),
        };
        let outcome = match exchanged.outcome {
            Outcome::Delivered { external_id } => Outcome::Delivered { external_id },
            Outcome::Retry { after, reason } => Outcome::Retry {
                after,
                reason: redactor.scrub(&reason),
            },
            Outcome::Failed { reason } => Outcome::Failed {
                reason: redactor.scrub(&reason),
            },
        };
        Exchange {
            outcome,
            status_code: exchanged.last_response.as_ref().map(|r| r.status),
            aborted: exchanged.aborted,
            response_excerpt: exchanged
                .last_response
                .as_ref()
                .map(|r| excerpt(&r.body, &redactor)),
            external_id: exchanged.external_id,
        }
    }
}

/// The start of a response body as text, scrubbed of the integration's secrets.
fn excerpt(body: &[u8], redactor: &Redactor) -> String {
    let cut = body.len().min(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > cut {
        text.push('…');
    }
    storable(&redactor.scrub(&text))
}

/// Says how an attempt ended, in words: delivered, retrying at a time, or failed (at WARN).
/// This is where each attempt's outcome is observed.
fn log_outcome(
    delivery: &ClaimedDelivery,
    status_code: Option<u16>,
    result: &ResultKind,
    error: Option<&str>,
) {
    let attempt = delivery.attempt_count + 1;
    let (delivery_id, event_id, integration_id, kind) = (
        delivery.id.as_str(),
        delivery.event_id.as_str(),
        delivery.integration_id.as_str(),
        delivery.kind.as_str(),
    );
    match result {
        ResultKind::Delivered { .. } => tracing::info!(
            delivery_id,
            event_id,
            integration_id,
            kind,
            attempt,
            status_code,
            "delivered"
        ),
        ResultKind::RetryAt(at) => tracing::info!(
            delivery_id,
            event_id,
            integration_id,
            kind,
            attempt,
            status_code,
            error,
            "retrying at {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        ResultKind::Aborted => tracing::warn!(
            delivery_id,
            event_id,
            integration_id,
            kind,
            attempt,
            status_code,
            error,
            "aborted by the receiver"
        ),
        ResultKind::Failed => tracing::warn!(
            delivery_id,
            event_id,
            integration_id,
            kind,
            attempt,
            status_code,
            error,
            "failed"
        ),
        ResultKind::Deferred(_) => {}
    }
}

/// Text that every back-end can store: PostgreSQL refuses NUL in TEXT columns.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}
