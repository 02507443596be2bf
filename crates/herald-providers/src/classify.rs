//! The shared status table. A provider overrides it only with its service's real signals.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Outcome, Response};

/// 2xx delivered; 408, 429 and 5xx retry (honouring Retry-After); 3xx retry, since redirects
/// are never followed and the receiver may be fixed; any other 4xx is permanent.
pub fn classify_status(response: &Response) -> Outcome {
    let status = response.status;
    match status {
        200..=299 => Outcome::Delivered { external_id: None },
        408 | 429 | 500..=599 => Outcome::Retry {
            after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, response.received_at)),
            reason: format!("HTTP {status}"),
        },
        300..=399 => Outcome::Retry {
            after: None,
            reason: format!("HTTP {status}: redirects are not followed"),
        },
        _ => Outcome::Failed {
            reason: format!("HTTP {status}"),
        },
    }
}

/// The receiver asks for no more attempts of this message, as Svix's receivers do with
/// `webhook-delivery: abort-message` on an answer that is not a success.
pub fn receiver_aborted(response: &Response) -> bool {
    !(200..=299).contains(&response.status)
        && response
            .header("webhook-delivery")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("abort-message"))
}

/// Why an aborted delivery ended, for the delivery log.
pub const ABORTED_REASON: &str =
    "the receiver asked for no more attempts (webhook-delivery: abort-message)";

/// Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: vec![],
            received_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn only_a_failed_answer_with_the_abort_header_aborts() {
        let abort = [("Webhook-Delivery", " Abort-Message ")];
        assert!(receiver_aborted(&response(500, &abort)));
        assert!(receiver_aborted(&response(410, &abort)));
        assert!(!receiver_aborted(&response(204, &abort)));
        assert!(!receiver_aborted(&response(
            500,
            &[("webhook-delivery", "retry")]
        )));
        assert!(!receiver_aborted(&response(500, &[])));
    }

    #[test]
    fn the_status_table_holds() {
        for status in [200, 201, 202, 204] {
            assert_eq!(
                classify_status(&response(status, &[])),
                Outcome::Delivered { external_id: None }
            );
        }
        for status in [301, 302, 408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify_status(&response(status, &[])),
                    Outcome::Retry { .. }
                ),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 410, 413, 422] {
            assert!(
                matches!(
                    classify_status(&response(status, &[])),
                    Outcome::Failed { .. }
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_in_both_forms() {
        let seconds = classify_status(&response(429, &[("Retry-After", "7")]));
        assert!(
            matches!(seconds, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7))
        );
        let date = classify_status(&response(
            503,
            &[("retry-after", "Thu, 01 Jan 2026 00:01:00 GMT")],
        ));
        assert!(
            matches!(date, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(60))
        );
        assert!(matches!(
            classify_status(&response(503, &[("retry-after", "soon")])),
            Outcome::Retry { after: None, .. }
        ));
    }
}
