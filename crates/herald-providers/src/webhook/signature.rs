//! Standard Webhooks v1 symmetric signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

const PREFIX: &str = "whsec_";
/// Tolerance used by every reference library, in both directions.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The decoded key of a `whsec_…` secret. Debug never shows it.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    /// Accepts `whsec_<base64>` or bare base64 of 24 to 64 bytes, as the spec recommends.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let encoded = raw.strip_prefix(PREFIX).unwrap_or(raw);
        let key = B64
            .decode(encoded)
            .map_err(|_| "must be `whsec_` followed by standard base64".to_owned())?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!("must decode to 24 to 64 bytes, not {}", key.len()));
        }
        Ok(Self(key))
    }

    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// Verifies a `webhook-signature` header (space-separated, unknown versions ignored) the way
    /// a receiver should: within the tolerance, constant-time.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
        header: &str,
        now: i64,
    ) -> bool {
        if (now - timestamp).abs() > TOLERANCE_SECONDS {
            return false;
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        header
            .split(' ')
            .filter_map(|sig| sig.strip_prefix("v1,"))
            .filter_map(|encoded| B64.decode(encoded).ok())
            .any(|candidate| mac.clone().verify_slice(&candidate).is_ok())
    }
}
