use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::parse_config;

pub const MAX_ARGS: usize = 64;
/// Per argument; far below the kernel's limit, far above any sensible flag.
pub const MAX_ARG_BYTES: usize = 4096;
pub const DEFAULT_TIMEOUT_S: u64 = 30;
pub const MAX_TIMEOUT_S: u64 = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    timeout_s: Option<u64>,
}

/// A parsed script config: an absolute program path, its arguments (passed as they are, never
/// through a shell) and a time limit.
pub struct ScriptConfig {
    pub command: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
}

impl ScriptConfig {
    /// Checks the config's shape only. Whether the program exists is checked when the config is
    /// saved ([`ScriptConfig::validate`]); at delivery time a missing program is the delivery's
    /// failure (status 127), not an unrenderable config.
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        if raw.command.is_empty() {
            return Err(FieldError::new("command", "must not be empty"));
        }
        if raw.command.contains('\0') {
            return Err(FieldError::new("command", "must not contain NUL"));
        }
        let command = PathBuf::from(&raw.command);
        if !command.is_absolute() {
            return Err(FieldError::new(
                "command",
                "must be an absolute path such as /usr/local/bin/notify (no shell, no PATH lookup)",
            ));
        }
        if raw.args.len() > MAX_ARGS {
            return Err(FieldError::new(
                "args",
                format!("must have at most {MAX_ARGS} entries"),
            ));
        }
        for (i, arg) in raw.args.iter().enumerate() {
            if arg.contains('\0') {
                return Err(FieldError::new(
                    format!("args[{i}]"),
                    "must not contain NUL",
                ));
            }
            if arg.len() > MAX_ARG_BYTES {
                return Err(FieldError::new(
                    format!("args[{i}]"),
                    format!("must be at most {MAX_ARG_BYTES} bytes"),
                ));
            }
        }
        let timeout_s = raw.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
            return Err(FieldError::new(
                "timeout_s",
                format!("must be between 1 and {MAX_TIMEOUT_S} seconds"),
            ));
        }
        Ok(Self {
            command,
            args: raw.args,
            timeout: Duration::from_secs(timeout_s),
        })
    }

    /// The shape, and that the program is there to run: an existing regular file (after
    /// symlinks) with an execute bit.
    pub fn validate(config: &Value) -> Result<Self, FieldError> {
        let parsed = Self::parse(config)?;
        check_program(&parsed.command).map_err(|m| FieldError::new("command", m))?;
        Ok(parsed)
    }
}

fn check_program(path: &Path) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "cannot be read by Herald".to_owned(),
        _ => format!("cannot be inspected ({e})"),
    })?;
    if !metadata.is_file() {
        return Err("is not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            return Err("is not executable (chmod +x it)".into());
        }
    }
    Ok(())
}
