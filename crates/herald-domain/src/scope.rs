//! The scope tree (organisation > stack > namespace > module), where an event happened, and
//! the scopes integrations are supplied to and subscribed on.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{Event, FieldError};

/// A level of the tree. A module is what the seeds also call a workspace, a target or a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Organisation,
    Stack,
    Namespace,
    Module,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Organisation => "organisation",
            ScopeKind::Stack => "stack",
            ScopeKind::Namespace => "namespace",
            ScopeKind::Module => "module",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Organisation,
            Self::Stack,
            Self::Namespace,
            Self::Module,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }

    /// The level a registered scope of this kind hangs under (the organisation is implicit).
    pub fn parent(self) -> Option<ScopeKind> {
        match self {
            ScopeKind::Namespace => Some(ScopeKind::Stack),
            ScopeKind::Module => Some(ScopeKind::Namespace),
            ScopeKind::Organisation | ScopeKind::Stack => None,
        }
    }
}

/// A stack, namespace or module name: the platform's own identifier (a module's name is what
/// events carry as `target_id`). 1 to 256 bytes, no control characters, no surrounding spaces.
pub fn parse_scope_name(field: &str, raw: &str) -> Result<String, FieldError> {
    if raw.is_empty() || raw.len() > 256 {
        return Err(FieldError::new(field, "must be 1 to 256 bytes"));
    }
    if raw.trim() != raw || raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters or surrounding spaces",
        ));
    }
    Ok(raw.to_owned())
}

/// The registered tree: each module's namespace and each namespace's stack, by name.
#[derive(Debug, Clone, Default)]
pub struct ScopeTree {
    namespace_of: HashMap<String, String>,
    stack_of: HashMap<String, String>,
}

impl ScopeTree {
    /// Records that `name` (a namespace or module) hangs under `parent`.
    pub fn insert(&mut self, kind: ScopeKind, name: String, parent: String) {
        match kind {
            ScopeKind::Module => {
                self.namespace_of.insert(name, parent);
            }
            ScopeKind::Namespace => {
                self.stack_of.insert(name, parent);
            }
            ScopeKind::Organisation | ScopeKind::Stack => {}
        }
    }
}

/// Where an event happened: its module, and the module's namespace and stack, as far as known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Location {
    pub stack: Option<String>,
    pub namespace: Option<String>,
    pub module: Option<String>,
}

impl Location {
    /// The event's own `target_id`, `namespace` and `stack`, where the registered tree wins:
    /// a registered module brings its namespace, a registered namespace its stack.
    pub fn resolve(event: &Event, tree: &ScopeTree) -> Self {
        let module = event.target_id.clone();
        let namespace = module
            .as_ref()
            .and_then(|m| tree.namespace_of.get(m).cloned())
            .or_else(|| event.namespace.clone());
        let stack = namespace
            .as_ref()
            .and_then(|n| tree.stack_of.get(n).cloned())
            .or_else(|| event.stack.clone());
        Self {
            stack,
            namespace,
            module,
        }
    }

    pub fn at(&self, kind: ScopeKind) -> Option<&str> {
        match kind {
            ScopeKind::Organisation => None,
            ScopeKind::Stack => self.stack.as_deref(),
            ScopeKind::Namespace => self.namespace.as_deref(),
            ScopeKind::Module => self.module.as_deref(),
        }
    }
}

/// The scope an integration event is subscribed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Organisation,
    Named(ScopeKind, String),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Organisation => ScopeKind::Organisation,
            Scope::Named(kind, _) => *kind,
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Scope::Organisation => None,
            Scope::Named(_, name) => Some(name),
        }
    }

    /// The organisation contains every event; a named scope, the events located under it.
    pub fn contains(&self, at: &Location) -> bool {
        match self {
            Scope::Organisation => true,
            Scope::Named(kind, name) => at.at(*kind) == Some(name.as_str()),
        }
    }
}

/// Where an integration is supplied: the organisation-wide flag, or stacks, namespaces and
/// modules by name. There is no organisation supply row: the flag is that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supply {
    pub all_modules: bool,
    pub stacks: HashSet<String>,
    pub namespaces: HashSet<String>,
    pub modules: HashSet<String>,
}

impl Supply {
    pub fn add(&mut self, kind: ScopeKind, name: String) {
        match kind {
            ScopeKind::Organisation => self.all_modules = true,
            ScopeKind::Stack => {
                self.stacks.insert(name);
            }
            ScopeKind::Namespace => {
                self.namespaces.insert(name);
            }
            ScopeKind::Module => {
                self.modules.insert(name);
            }
        }
    }

    /// Whether the integration serves the place the event happened.
    pub fn covers(&self, at: &Location) -> bool {
        let has = |set: &HashSet<String>, name: &Option<String>| {
            name.as_ref().is_some_and(|n| set.contains(n))
        };
        self.all_modules
            || has(&self.modules, &at.module)
            || has(&self.namespaces, &at.namespace)
            || has(&self.stacks, &at.stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, EventInput};
    use serde_json::json;

    fn event(body: serde_json::Value) -> Event {
        let new = serde_json::from_value::<EventInput>(body)
            .unwrap()
            .parse()
            .unwrap();
        Event::from_new(&EventId::generate(), &new, chrono::Utc::now())
    }

    fn tree() -> ScopeTree {
        let mut tree = ScopeTree::default();
        tree.insert(ScopeKind::Namespace, "net".into(), "prod".into());
        tree.insert(ScopeKind::Module, "vpc".into(), "net".into());
        tree
    }

    #[test]
    fn a_registered_module_brings_its_ancestors_and_wins() {
        let at = Location::resolve(
            &event(
                json!({"type": "iac.run.applied", "target_id": "vpc", "namespace": "other", "stack": "dev"}),
            ),
            &tree(),
        );
        assert_eq!(
            (at.stack.as_deref(), at.namespace.as_deref()),
            (Some("prod"), Some("net"))
        );
    }

    #[test]
    fn an_unregistered_module_uses_the_events_fields() {
        let at = Location::resolve(
            &event(json!({"type": "iac.run.applied", "target_id": "db", "namespace": "net"})),
            &tree(),
        );
        assert_eq!(at.stack.as_deref(), Some("prod"), "the namespace is known");
        let bare = Location::resolve(
            &event(json!({"type": "iac.run.applied", "target_id": "db", "stack": "dev"})),
            &tree(),
        );
        assert_eq!((bare.namespace, bare.stack.as_deref()), (None, Some("dev")));
    }

    #[test]
    fn scopes_and_supplies_contain_what_lies_under_them() {
        let at = Location {
            stack: Some("prod".into()),
            namespace: Some("net".into()),
            module: Some("vpc".into()),
        };
        assert!(Scope::Organisation.contains(&at));
        assert!(Scope::Named(ScopeKind::Namespace, "net".into()).contains(&at));
        assert!(!Scope::Named(ScopeKind::Stack, "dev".into()).contains(&at));
        assert!(!Scope::Named(ScopeKind::Module, "net".into()).contains(&at));
        let mut supply = Supply::default();
        assert!(!supply.covers(&at));
        supply.add(ScopeKind::Stack, "prod".into());
        assert!(supply.covers(&at));
        assert!(!supply.covers(&Location::default()));
        supply.all_modules = true;
        assert!(supply.covers(&Location::default()));
    }
}
