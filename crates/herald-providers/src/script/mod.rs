//! `script`: runs an operator's local program with the event envelope (the webhook's JSON) on
//! stdin. Only registered when the operator sets `HERALD_ENABLE_SCRIPT_PROVIDER=true`.
//!
//! Exit codes: 0 delivered; 75 (`EX_TEMPFAIL`) retry; 126 and 127 (not executable, not found)
//! failed; the other `sysexits.h` codes (64–78) failed, as mail transfer agents treat them;
//! 128 + N (killed by signal N) and any other non-zero code retry, until the retry schedule
//! ends it. A plain `exit 1` is most often a failed command inside the script (a service
//! down, a network blip) that a later run gets through; failing it at once would drop events
//! on every blip, while a script that knows its failure is permanent can say so with a
//! sysexits code such as 65 (`EX_DATAERR`) or 78 (`EX_CONFIG`).

mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::truncate_chars;
use crate::{Destination, Outbound, Outcome, Provider, RenderContext, RenderError, Response};

pub use config::{ScriptConfig, DEFAULT_TIMEOUT_S, MAX_ARGS, MAX_ARG_BYTES, MAX_TIMEOUT_S};

/// `EX_TEMPFAIL` from sysexits.h: "try again later".
pub const EXIT_TEMPFAIL: u16 = 75;

pub struct ScriptProvider;

impl Provider for ScriptProvider {
    fn kind(&self) -> Kind {
        Kind::Script
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "command",
            "Command",
            "Absolute path of the program to run on the Herald host.",
        )
        .required();
        s.strings("args", "Arguments", "One per line.");
        s.integer(
            "timeout_s",
            "Timeout (seconds)",
            "Default: the request timeout.",
        );
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        ScriptConfig::validate(config).map(|_| ())
    }

    /// A connection test runs the program with the test event: it is the operator's own
    /// program, and running it is the only way to know it works.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = ScriptConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        Ok(vec![Outbound::Exec(render::request(ctx, &config))])
    }

    /// The status is the exit code (128 + N for a death by signal N).
    fn classify(&self, _request: &Outbound, response: &Response) -> Outcome {
        let code = response.status;
        let said = last_line(&response.body);
        let reason = |what: &str| match &said {
            Some(line) => format!("script {what}: {line}"),
            None => format!("script {what}"),
        };
        match code {
            0 => Outcome::Delivered { external_id: None },
            EXIT_TEMPFAIL => Outcome::Retry {
                after: None,
                reason: reason("asked to be retried later (exit 75)"),
            },
            126 => Outcome::Failed {
                reason: reason("could not be executed (126)"),
            },
            127 => Outcome::Failed {
                reason: reason("was not found (127)"),
            },
            64..=78 => Outcome::Failed {
                reason: reason(&format!("failed permanently (exit {code})")),
            },
            129..=192 => Outcome::Retry {
                after: None,
                reason: reason(&format!("was killed by signal {}", code - 128)),
            },
            _ => Outcome::Retry {
                after: None,
                reason: reason(&format!("exited with {code}")),
            },
        }
    }

    /// One key per program, no pace of our own: the operator's program decides what it can
    /// take.
    fn destination(&self, config: &Value) -> Destination {
        match ScriptConfig::parse(config) {
            Ok(config) => Destination::new(Kind::Script, &config.command.to_string_lossy(), None),
            Err(_) => Destination::new(Kind::Script, "", None),
        }
    }
}

/// The last non-empty line of the output, where a failing program usually says why.
fn last_line(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let printable: String = line.chars().filter(|c| !c.is_control()).collect();
    Some(truncate_chars(&printable, 200))
}
