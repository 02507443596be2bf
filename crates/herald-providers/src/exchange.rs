//! One exchange with a destination: render, send each request in turn, classify each answer,
//! and add the requests that depend on an answer. The engine and the providers' own tests
//! run this same loop.

use std::collections::VecDeque;

use serde_json::Value;

use crate::{Outbound, Outcome, Provider, RenderContext, Response, SendError, Sender, Step};

/// More steps than any provider needs; a provider that keeps adding requests is cut off here.
const MAX_STEPS: usize = 8;

/// What an exchange came to.
#[derive(Debug)]
pub struct Exchanged {
    pub outcome: Outcome,
    /// The last answer received, if any.
    pub last_response: Option<Response>,
    /// The first external id any step produced, even if a later step then failed: a retry
    /// continues from it instead of creating a second message, alert or issue.
    pub external_id: Option<String>,
    /// The requests sent, in order: what they carried is scrubbed from what comes back (see
    /// [`Exchanged::sent_credentials`]).
    pub sent: Vec<Outbound>,
    /// The receiver asked for no more attempts of this message (see
    /// [`crate::receiver_aborted`]); the outcome is then `Failed`.
    pub aborted: bool,
}

impl Exchanged {
    /// How many requests were sent.
    pub fn steps(&self) -> usize {
        self.sent.len()
    }

    /// Credentials the requests carried (header values, URL paths and queries, SMTP
    /// passwords), for scrubbing what comes back. Gathered only when asked: most exchanges
    /// succeed with nothing to scrub, and gathering them for every one cost about 2% of
    /// Herald's instructions per delivery.
    pub fn sent_credentials(&self) -> Vec<String> {
        let mut credentials = Vec::new();
        for request in &self.sent {
            credentials_of(request, &mut credentials);
        }
        credentials
    }
}

/// What carries an exchange's requests: the guarded [`Sender`] for real deliveries, or a
/// preview's example answers (`herald render`), so both run this one loop.
pub trait Transport: Sync {
    fn send(
        &self,
        request: &Outbound,
    ) -> impl std::future::Future<Output = Result<Response, SendError>> + Send;
}

impl Transport for Sender {
    fn send(
        &self,
        request: &Outbound,
    ) -> impl std::future::Future<Output = Result<Response, SendError>> + Send {
        Sender::send(self, request)
    }
}

pub async fn exchange(
    transport: &impl Transport,
    provider: &dyn Provider,
    ctx: &RenderContext<'_>,
    config: &Value,
) -> Exchanged {
    let mut queue: VecDeque<Outbound> = match provider.render(ctx, config) {
        Ok(requests) => requests.into(),
        Err(error) => {
            let reason = error.to_string();
            return ended(Outcome::Failed { reason }, None, None, Vec::new());
        }
    };
    let mut done: Vec<(Outbound, Response, Outcome)> = Vec::new();
    let mut external_id: Option<String> = None;
    while let Some(request) = queue.pop_front() {
        if done.len() == MAX_STEPS {
            let reason = format!("the provider asked for more than {MAX_STEPS} requests");
            return ended(
                Outcome::Failed { reason },
                None,
                external_id,
                sent(done, None),
            );
        }
        let response = match transport.send(&request).await {
            Ok(response) => response,
            // A refused address stays refused until the operator changes the allow list.
            Err(error @ SendError::Blocked(_)) => {
                let reason = error.to_string();
                let sent = sent(done, Some(request));
                return ended(Outcome::Failed { reason }, None, external_id, sent);
            }
            Err(error) => {
                let outcome = Outcome::Retry {
                    after: None,
                    reason: error.to_string(),
                };
                return ended(outcome, None, external_id, sent(done, Some(request)));
            }
        };
        let outcome = provider.classify(&request, &response);
        // Whatever the provider made of the answer, a receiver that says "stop" is obeyed.
        if crate::receiver_aborted(&response) && !matches!(outcome, Outcome::Delivered { .. }) {
            let reason = crate::ABORTED_REASON.to_owned();
            let sent = sent(done, Some(request));
            let mut ended = ended(
                Outcome::Failed { reason },
                Some(response),
                external_id,
                sent,
            );
            ended.aborted = true;
            return ended;
        }
        let Outcome::Delivered {
            external_id: produced,
        } = &outcome
        else {
            return ended(
                outcome,
                Some(response),
                external_id,
                sent(done, Some(request)),
            );
        };
        if external_id.is_none() {
            external_id.clone_from(produced);
        }
        done.push((request, response, outcome));
        let finished: Vec<Step<'_>> = done
            .iter()
            .map(|(request, response, outcome)| Step {
                request,
                response,
                outcome,
            })
            .collect();
        let more = provider.follow_on(ctx, config, &finished);
        drop(finished);
        match more {
            Ok(more) => queue.extend(more),
            Err(error) => {
                let reason = error.to_string();
                let (last, sent) = last_and_sent(done);
                return ended(Outcome::Failed { reason }, last, external_id, sent);
            }
        }
    }
    let (Some(last), sent) = last_and_sent(done) else {
        let reason = "the provider rendered no request".to_owned();
        return ended(Outcome::Failed { reason }, None, None, Vec::new());
    };
    let external_id = external_id.or_else(|| ctx.prior.map(|prior| prior.0.clone()));
    ended(
        Outcome::Delivered {
            external_id: external_id.clone(),
        },
        Some(last),
        external_id,
        sent,
    )
}

/// The requests sent: those answered so far, and the one that ended the exchange, if sent.
fn sent(done: Vec<(Outbound, Response, Outcome)>, last: Option<Outbound>) -> Vec<Outbound> {
    let mut sent: Vec<Outbound> = done.into_iter().map(|(request, _, _)| request).collect();
    sent.extend(last);
    sent
}

/// The last answer, and every request sent.
fn last_and_sent(done: Vec<(Outbound, Response, Outcome)>) -> (Option<Response>, Vec<Outbound>) {
    let mut last = None;
    let sent = done
        .into_iter()
        .map(|(request, response, _)| {
            last = Some(response);
            request
        })
        .collect();
    (last, sent)
}

fn ended(
    outcome: Outcome,
    last_response: Option<Response>,
    external_id: Option<String>,
    sent: Vec<Outbound>,
) -> Exchanged {
    Exchanged {
        outcome,
        last_response,
        external_id,
        sent,
        aborted: false,
    }
}

/// Headers whose values are credentials, whatever the provider.
fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "proxy-authorization"
        || ["key", "token", "secret", "signature"]
            .iter()
            .any(|word| name.contains(word))
}

fn credentials_of(request: &Outbound, into: &mut Vec<String>) {
    match request {
        Outbound::Http(http) => {
            for header in &http.headers {
                if is_credential_header(&header.name) {
                    into.push(header.value.clone());
                    // "Basic abc", "Bearer abc", "GenieKey abc": the credential alone too.
                    if let Some((_, credential)) = header.value.split_once(' ') {
                        into.push(credential.to_owned());
                    }
                }
            }
            into.push(http.url.path().to_owned());
            into.extend(http.url.query().map(str::to_owned));
        }
        Outbound::Mail(mail) => into.extend(mail.server.password.clone()),
        Outbound::Exec(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::{FieldError, Kind};
    use herald_testkit::{Receiver, Reply};
    use serde_json::json;

    use super::*;
    use crate::testing::{loopback_sender, Fixture};
    use crate::{Destination, Method, OutboundRequest, RenderError};

    /// Creates a thing, then (depending on the answer) labels it: the shape of Jira's
    /// create-then-transition.
    struct TwoStep;

    impl Provider for TwoStep {
        fn kind(&self) -> Kind {
            Kind::Custom
        }
        fn config_schema(&self) -> Value {
            serde_json::json!({"type": "object"})
        }
        fn validate(&self, _config: &Value) -> Result<(), FieldError> {
            Ok(())
        }
        fn render(
            &self,
            ctx: &RenderContext<'_>,
            config: &Value,
        ) -> Result<Vec<Outbound>, RenderError> {
            let base = config["base"].as_str().unwrap();
            let url = match ctx.prior {
                Some(prior) => format!("{base}/things/{}/comments", prior.0),
                None => format!("{base}/things"),
            };
            Ok(vec![OutboundRequest::new(
                Method::Post,
                url.parse().unwrap(),
            )
            .into()])
        }
        fn follow_on(
            &self,
            _ctx: &RenderContext<'_>,
            config: &Value,
            done: &[Step<'_>],
        ) -> Result<Vec<Outbound>, RenderError> {
            if done.len() > 1 {
                return Ok(vec![]);
            }
            let id = done[0].response.json().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let base = config["base"].as_str().unwrap();
            let url = format!("{base}/things/{id}/label");
            Ok(vec![OutboundRequest::new(
                Method::Put,
                url.parse().unwrap(),
            )
            .into()])
        }
        fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
            let created = request.http().unwrap().url.path() == "/things";
            match crate::classify_status(response) {
                Outcome::Delivered { .. } if created => Outcome::Delivered {
                    external_id: response.json().unwrap()["id"].as_str().map(str::to_owned),
                },
                other => other,
            }
        }
        fn destination(&self, _config: &Value) -> Destination {
            Destination::new(Kind::Custom, "", None)
        }
    }

    #[tokio::test]
    async fn follow_ons_use_earlier_answers_and_progress_survives_a_failure() {
        let fake = Receiver::start().await;
        fake.script([
            Reply::status(201).body(r#"{"id": "T-7"}"#),
            Reply::status(503),
        ]);
        let config = json!({"base": fake.url("")});
        let fixture = Fixture::new(Kind::Custom, json!({"type": "x"}));
        let sender = loopback_sender();
        let first = exchange(&sender, &TwoStep, &fixture.ctx(), &config).await;
        assert!(matches!(first.outcome, Outcome::Retry { .. }));
        assert_eq!(first.external_id.as_deref(), Some("T-7"));
        assert_eq!(first.steps(), 2);
        let paths: Vec<_> = fake.received().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/things", "/things/T-7/label"]);
        // What both requests carried, the one that failed too, is scrubbed from the answer.
        assert_eq!(first.sent_credentials(), ["/things", "/things/T-7/label"]);

        // The retry continues from the id the first attempt got, instead of creating again.
        fake.script([
            Reply::status(201).body(r#"{"id": "C-1"}"#),
            Reply::status(204),
        ]);
        let retry = Fixture::new(Kind::Custom, json!({"type": "x"})).with_prior("T-7");
        let second = exchange(&sender, &TwoStep, &retry.ctx(), &config).await;
        assert_eq!(
            second.outcome,
            Outcome::Delivered {
                external_id: Some("T-7".into())
            }
        );
        assert_eq!(fake.received()[2].path, "/things/T-7/comments");
    }

    #[tokio::test]
    async fn a_transport_error_is_retried_and_nothing_rendered_fails() {
        let config = json!({"base": "http://127.0.0.1:9"});
        let fixture = Fixture::new(Kind::Custom, json!({"type": "x"}));
        let result = exchange(&loopback_sender(), &TwoStep, &fixture.ctx(), &config).await;
        assert!(
            matches!(result.outcome, Outcome::Retry { .. }),
            "{result:?}"
        );
        assert_eq!(result.external_id, None);
    }
}
