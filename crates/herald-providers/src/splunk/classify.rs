use serde_json::Value;

use crate::present::truncate_chars;
use crate::{classify_status, parse_retry_after, Outcome, Response};

const MAX_TEXT_CHARS: usize = 200;

/// HEC answers `{"text", "code"}`; the code says more than the HTTP status. Codes 8, 9 and
/// 18–20 (server error, busy, unhealthy) are retried; 1–7 and 10–16 (token, format, index,
/// channel problems) fail; 0 and 17 (success, healthy) and codes outside the table follow the
/// HTTP status, which makes 429 a retry with its Retry-After.
pub(super) fn outcome(response: &Response) -> Outcome {
    let Some((code, text)) = hec_code(response) else {
        return classify_status(response);
    };
    let reason = format!(
        "splunk HEC code {code}: {}",
        truncate_chars(&text, MAX_TEXT_CHARS)
    );
    match code {
        8 | 9 | 18..=20 => Outcome::Retry {
            after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, response.received_at)),
            reason,
        },
        1..=7 | 10..=16 => Outcome::Failed { reason },
        _ => match classify_status(response) {
            Outcome::Retry { after, .. } => Outcome::Retry { after, reason },
            Outcome::Failed { .. } => Outcome::Failed { reason },
            delivered => delivered,
        },
    }
}

fn hec_code(response: &Response) -> Option<(i64, String)> {
    let body = response.json()?;
    let code = body.get("code")?.as_i64()?;
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((code, text))
}
