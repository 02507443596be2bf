use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::parse_config;

/// The length of an Events API v2 integration (routing) key.
const ROUTING_KEY_LEN: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    routing_key: String,
}

/// A parsed PagerDuty config. Debug never shows the routing key: whoever holds it can page.
pub struct PagerDutyConfig {
    pub routing_key: String,
}

impl fmt::Debug for PagerDutyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PagerDutyConfig { routing_key: [redacted] }")
    }
}

impl PagerDutyConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        // Service integration keys are 32 hex digits, ruleset keys 32 letters and digits
        // starting with `R`; both fit this shape. The message never quotes the value.
        let key = &raw.routing_key;
        if key.len() != ROUTING_KEY_LEN || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FieldError::new(
                "routing_key",
                "must be the 32-character integration key of an Events API v2 integration \
                 (letters and digits only)",
            ));
        }
        Ok(Self {
            routing_key: raw.routing_key,
        })
    }
}
