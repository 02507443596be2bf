//! The words of `/herald …`.

use herald_domain::ScopeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `subscribe <pattern> [scope]`
    Subscribe {
        pattern: String,
        scope: ScopeArg,
    },
    /// `unsubscribe <id|pattern>`
    Unsubscribe {
        target: String,
    },
    List,
    Help,
    Link,
    /// Anything else, with what was wrong.
    Unknown(String),
}

/// `stack:prod`, `namespace:payments`, `module:api`; none means the whole organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeArg {
    Organisation,
    Named(ScopeKind, String),
}

impl ScopeArg {
    /// Words for people: "everywhere", "in stack prod".
    pub fn describe(&self) -> String {
        match self {
            ScopeArg::Organisation => "everywhere".into(),
            ScopeArg::Named(kind, name) => format!("in {} {name}", kind.as_str()),
        }
    }
}

pub fn parse(text: &str) -> Command {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [] | ["help"] => Command::Help,
        ["list"] => Command::List,
        ["link"] => Command::Link,
        ["subscribe"] => Command::Unknown("subscribe needs an event pattern, e.g. `/herald subscribe iac.run.*`".into()),
        ["subscribe", pattern] => Command::Subscribe {
            pattern: (*pattern).to_owned(),
            scope: ScopeArg::Organisation,
        },
        ["subscribe", pattern, scope] => match parse_scope(scope) {
            Ok(scope) => Command::Subscribe {
                pattern: (*pattern).to_owned(),
                scope,
            },
            Err(problem) => Command::Unknown(problem),
        },
        ["unsubscribe", target] => Command::Unsubscribe {
            target: (*target).to_owned(),
        },
        ["unsubscribe"] => Command::Unknown("unsubscribe needs a subscription id or its pattern, e.g. `/herald unsubscribe iac.run.*`".into()),
        [word, ..] => Command::Unknown(format!("`{word}` is not a /herald command, or it has too many words")),
    }
}

fn parse_scope(raw: &str) -> Result<ScopeArg, String> {
    let problem = || {
        "the scope must be `stack:NAME`, `namespace:NAME` or `module:NAME` (none: everywhere)"
            .to_owned()
    };
    let (kind, name) = raw.split_once(':').ok_or_else(problem)?;
    let kind = match kind {
        "stack" => ScopeKind::Stack,
        "namespace" => ScopeKind::Namespace,
        "module" | "workspace" => ScopeKind::Module,
        "organisation" | "organization" if name.is_empty() => return Ok(ScopeArg::Organisation),
        _ => return Err(problem()),
    };
    if name.is_empty() {
        return Err(problem());
    }
    Ok(ScopeArg::Named(kind, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(parse(""), Command::Help);
        assert_eq!(parse("  list "), Command::List);
        assert_eq!(
            parse("subscribe iac.run.*"),
            Command::Subscribe {
                pattern: "iac.run.*".into(),
                scope: ScopeArg::Organisation
            }
        );
        assert_eq!(
            parse("subscribe iac.run.failed stack:prod"),
            Command::Subscribe {
                pattern: "iac.run.failed".into(),
                scope: ScopeArg::Named(ScopeKind::Stack, "prod".into())
            }
        );
        assert_eq!(
            parse("unsubscribe iev_1"),
            Command::Unsubscribe {
                target: "iev_1".into()
            }
        );
        for bad in [
            "subscribe",
            "subscribe x prod",
            "subscribe x stack:",
            "frobnicate",
            "list all",
        ] {
            assert!(matches!(parse(bad), Command::Unknown(_)), "{bad}");
        }
    }
}
