use std::collections::HashMap;
use std::sync::Arc;

use herald_domain::Kind;

use crate::Provider;

/// The providers compiled into this build, by kind.
#[derive(Clone)]
pub struct Registry {
    providers: HashMap<Kind, Arc<dyn Provider>>,
}

impl Registry {
    pub fn builtin() -> Self {
        let mut registry = Self {
            providers: HashMap::new(),
        };
        registry.register(Arc::new(crate::webhook::WebhookProvider));
        registry
    }

    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert(provider.kind(), provider);
    }

    pub fn get(&self, kind: Kind) -> Option<&dyn Provider> {
        self.providers.get(&kind).map(|p| p.as_ref())
    }

    /// The kinds that can be used, in the order of [`Kind::ALL`].
    pub fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| self.providers.contains_key(k))
            .collect()
    }
}
