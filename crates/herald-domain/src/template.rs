//! Message templates: an integration may override the title and text every provider shows,
//! with a MiniJinja template over the event's fields (`{{ title }} on {{ target_id }}`).
//! A template is compiled when it is saved, so a bad one is refused with its line and reason.

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::{Event, FieldError};

/// Each template's source is at most this long.
const MAX_SOURCE: usize = 8 * 1024;
/// Rendered output is cut to this; providers cut further to their own limits.
const MAX_OUTPUT: usize = 16 * 1024;
/// Bounds the work one rendering may do, so a loop in a template cannot stall a worker.
const FUEL: u64 = 50_000;

/// The title and/or text to use instead of the event's own. Absent parts keep the event's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl MessageTemplate {
    /// Checks both parts compile and render a sample event: MiniJinja finds an unknown
    /// filter only when rendering. Errors name the part (`template.title`) and give the line.
    pub fn validate(&self) -> Result<(), FieldError> {
        let env = environment();
        let sample = sample_context();
        for (field, source) in self.parts() {
            if source.len() > MAX_SOURCE {
                return Err(FieldError::new(
                    field,
                    format!("must be at most {MAX_SOURCE} bytes"),
                ));
            }
            env.template_from_str(source)
                .and_then(|template| template.render(&sample))
                .map_err(|e| FieldError::new(field, describe(&e)))?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.text.is_none()
    }

    /// The event with its title and summary replaced by the rendered templates. A template
    /// that fails at render time (it compiled, but, say, ran out of fuel) leaves the event's
    /// own value and says why.
    pub fn apply(&self, event: &Event) -> (Event, Vec<String>) {
        let mut rendered = event.clone();
        let mut problems = Vec::new();
        let context = serde_json::to_value(event).unwrap_or_default();
        let env = environment();
        let mut render = |field: &str, source: &str| -> Option<String> {
            let result = env
                .template_from_str(source)
                .and_then(|template| template.render(&context));
            match result {
                Ok(text) => {
                    let text = text.trim().to_owned();
                    (!text.is_empty()).then(|| cut(text))
                }
                Err(error) => {
                    problems.push(format!("{field}: {}", describe(&error)));
                    None
                }
            }
        };
        if let Some(source) = &self.title {
            if let Some(title) = render("template.title", source) {
                rendered.title = Some(title.replace(['\r', '\n'], " "));
            }
        }
        if let Some(source) = &self.text {
            if let Some(text) = render("template.text", source) {
                rendered.summary = Some(text);
            }
        }
        (rendered, problems)
    }

    fn parts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("template.title", &self.title),
            ("template.text", &self.text),
        ]
        .into_iter()
        .filter_map(|(field, source)| source.as_deref().map(|s| (field, s)))
    }
}

/// Every field an event can have, filled in, to try a template on.
fn sample_context() -> serde_json::Value {
    serde_json::json!({
        "id": "evt_sample", "type": "iac.run.plan_finished",
        "timestamp": "2026-01-01T00:00:00.000Z", "received_at": "2026-01-01T00:00:00.000Z",
        "target_id": "module", "severity": "high", "environment": "production",
        "correlation_key": "run-1", "title": "Title", "summary": "Summary", "status": "failed",
        "url": "https://example.com/run/1", "approve_url": "https://example.com/run/1/approve",
        "facts": {"workspace": "w", "commit": "abc123"}, "data": {"key": "value"}
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_fuel(Some(FUEL));
    env
}

/// "line 2: unexpected end of input, expected end of block" without the template's name.
fn describe(error: &minijinja::Error) -> String {
    let reason = error
        .detail()
        .map(str::to_owned)
        .unwrap_or_else(|| error.kind().to_string());
    match error.line() {
        Some(line) => format!("line {line}: {reason}"),
        None => reason,
    }
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_OUTPUT {
        let mut end = MAX_OUTPUT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, EventInput};
    use serde_json::json;

    fn event() -> Event {
        let new = serde_json::from_value::<EventInput>(json!({
            "type": "iac.run.failed", "title": "Run failed", "target_id": "net",
            "severity": "high", "facts": {"commit": "abc123"}
        }))
        .unwrap()
        .parse()
        .unwrap();
        Event::from_new(&EventId::generate(), &new, chrono::Utc::now())
    }

    #[test]
    fn renders_over_the_event_fields() {
        let template = MessageTemplate {
            title: Some("{{ severity | upper }}: {{ title }} on {{ target_id }}".into()),
            text: Some("Commit {{ facts.commit }}{% if missing %} never{% endif %}".into()),
        };
        template.validate().unwrap();
        let (rendered, problems) = template.apply(&event());
        assert_eq!(rendered.title.as_deref(), Some("HIGH: Run failed on net"));
        assert_eq!(rendered.summary.as_deref(), Some("Commit abc123"));
        assert!(problems.is_empty());
    }

    #[test]
    fn a_bad_template_is_refused_with_its_line() {
        let template = MessageTemplate {
            title: None,
            text: Some("fine\n{% if severity %}unclosed".into()),
        };
        let error = template.validate().unwrap_err();
        assert_eq!(error.field, "template.text");
        assert!(error.message.starts_with("line 2:"), "{}", error.message);
        let unknown_filter = MessageTemplate {
            title: Some("{{ title | nope }}".into()),
            text: None,
        };
        let error = unknown_filter.validate().unwrap_err();
        assert_eq!(error.field, "template.title");
        assert!(error.message.contains("line 1"), "{}", error.message);
    }

    #[test]
    fn a_runaway_template_is_refused_and_never_stalls_a_send() {
        let template = MessageTemplate {
            title: Some(
                "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}"
                    .into(),
            ),
            text: None,
        };
        assert_eq!(template.validate().unwrap_err().field, "template.title");
        let (rendered, problems) = template.apply(&event());
        assert_eq!(rendered.title.as_deref(), Some("Run failed"));
        assert_eq!(problems.len(), 1);
    }
}
