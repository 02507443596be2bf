//! Verifying that a request comes from Slack, before anything reads it: `X-Slack-Signature`
//! is `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` under the
//! signing secret, and the timestamp is within five minutes of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Slack's SDKs accept a timestamp this far from now, either way.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a request was refused. Never carries the body or the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("X-Slack-Request-Timestamp is missing")]
    MissingTimestamp,
    #[error("X-Slack-Signature is missing")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not a unix time")]
    BadTimestamp,
    #[error("the timestamp is more than five minutes from now (a replay?)")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// `v0=` + hex of the signature Slack would send for this body at this time.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// Checks one request's headers against its raw body, at `now` (unix seconds).
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let timestamp = timestamp.ok_or(Refusal::MissingTimestamp)?;
    let signature = signature.ok_or(Refusal::MissingSignature)?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Refusal::Mismatch)?;
    // verify_slice compares in constant time.
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| Refusal::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's own worked example (docs.slack.dev, "Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_worked_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), EXPECTED);
        let now = 1_531_420_618 + 60;
        assert_eq!(
            verify(SECRET, Some(TS), Some(EXPECTED), BODY.as_bytes(), now),
            Ok(())
        );
    }

    #[test]
    fn every_kind_of_bad_request_is_refused() {
        let now = 1_531_420_618;
        let body = BODY.as_bytes();
        let check = |ts, sig, body, now| verify(SECRET, ts, sig, body, now);
        assert_eq!(
            check(None, Some(EXPECTED), body, now),
            Err(Refusal::MissingTimestamp)
        );
        assert_eq!(
            check(Some(TS), None, body, now),
            Err(Refusal::MissingSignature)
        );
        assert_eq!(
            check(Some("soon"), Some(EXPECTED), body, now),
            Err(Refusal::BadTimestamp)
        );
        assert_eq!(
            check(Some(TS), Some(EXPECTED), body, now + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check(Some(TS), Some(EXPECTED), body, now - 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check(Some(TS), Some(EXPECTED), b"text=changed", now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(Some(TS), Some("v0=zz"), body, now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(Some(TS), Some(&EXPECTED[3..]), body, now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify("other-secret", Some(TS), Some(EXPECTED), body, now),
            Err(Refusal::Mismatch)
        );
    }
}
