//! Teams' answers. Workflows accept with 202 and report card errors only in the flow's run
//! history; legacy connectors answer 200 with body `1`, and have been seen to answer 200 with
//! the error in the body ("… returned HTTP error 429 …"), so a 200 body is read too.

use crate::{parse_retry_after, Outcome, Response};

/// Longest piece of a response body quoted in a reason.
const SNIPPET_CHARS: usize = 200;

pub(super) fn classify(response: &Response) -> Outcome {
    let status = response.status;
    let after = || {
        response
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, response.received_at))
    };
    let body = String::from_utf8_lossy(&response.body);
    match status {
        200..=299 => match embedded_error(&body) {
            Some(code) if code == 429 || code >= 500 => Outcome::Retry {
                after: after(),
                reason: format!("Teams HTTP {status}: the connector reported HTTP error {code}"),
            },
            Some(code) => Outcome::Failed {
                reason: format!("Teams HTTP {status}: the connector reported HTTP error {code}"),
            },
            None => Outcome::Delivered { external_id: None },
        },
        408 | 429 | 500..=599 => Outcome::Retry {
            after: after(),
            reason: format!("Teams HTTP {status}"),
        },
        300..=399 => Outcome::Retry {
            after: None,
            reason: format!("Teams HTTP {status}: redirects are not followed"),
        },
        400 => Outcome::Failed {
            reason: with_snippet("Teams HTTP 400: the card was refused", &body),
        },
        401 | 403 => Outcome::Failed {
            reason: format!(
                "Teams HTTP {status}: the webhook refused the request (check the URL and the flow's owner)"
            ),
        },
        404 | 410 => Outcome::Failed {
            reason: format!(
                "Teams HTTP {status}: the webhook no longer exists (Office 365 connectors are retired; create a Workflows webhook)"
            ),
        },
        413 => Outcome::Failed {
            reason: "Teams HTTP 413: the card is too large".into(),
        },
        _ => Outcome::Failed {
            reason: with_snippet(&format!("Teams HTTP {status}"), &body),
        },
    }
}

/// The code in a legacy connector's "… returned HTTP error NNN …" body, if there is one.
fn embedded_error(body: &str) -> Option<u16> {
    let rest = body.split_once("HTTP error ")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn with_snippet(reason: &str, body: &str) -> String {
    let snippet: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(SNIPPET_CHARS)
        .collect();
    if snippet.is_empty() {
        reason.to_owned()
    } else {
        format!("{reason}: {snippet}")
    }
}
