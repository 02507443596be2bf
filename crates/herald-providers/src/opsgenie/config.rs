use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::{parse_config, Endpoints};

/// Longer than any key Opsgenie issues (they are UUIDs); a bound against pasted garbage.
const MAX_KEY_LEN: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    api_key: String,
    #[serde(default)]
    region: Region,
}

/// Which Opsgenie instance holds the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    #[default]
    Us,
    Eu,
}

/// A parsed Opsgenie config. Debug never shows the key.
pub struct OpsgenieConfig {
    pub api_key: String,
    pub region: Region,
}

impl fmt::Debug for OpsgenieConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OpsgenieConfig {{ api_key: [redacted], region: {:?} }}",
            self.region
        )
    }
}

impl OpsgenieConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let key = &raw.api_key;
        if key.is_empty() {
            return Err(FieldError::new("api_key", "must not be empty"));
        }
        // It goes into a header: visible ASCII only, and no spaces (`GenieKey <key>`).
        if key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                "api_key",
                "must be an Opsgenie API integration key (at most 128 visible ASCII \
                 characters, no spaces)",
            ));
        }
        Ok(Self {
            api_key: raw.api_key,
            region: raw.region,
        })
    }

    pub fn base<'e>(&self, endpoints: &'e Endpoints) -> &'e url::Url {
        match self.region {
            Region::Us => &endpoints.opsgenie_us,
            Region::Eu => &endpoints.opsgenie_eu,
        }
    }
}
