use std::collections::HashMap;
use std::sync::Arc;

use herald_domain::Kind;

use crate::Provider;

/// Which optional providers the operator turned on.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryOptions {
    /// `script` runs local programs, so it is off unless `HERALD_ENABLE_SCRIPT_PROVIDER=true`.
    pub enable_script: bool,
}

/// The providers compiled into this build, by kind.
#[derive(Clone)]
pub struct Registry {
    providers: HashMap<Kind, Arc<dyn Provider>>,
}

impl Registry {
    pub fn builtin(options: RegistryOptions) -> Self {
        let mut registry = Self {
            providers: HashMap::new(),
        };
        registry.register(Arc::new(crate::slack::SlackProvider));
        registry.register(Arc::new(crate::teams::TeamsProvider));
        registry.register(Arc::new(crate::google_chat::GoogleChatProvider));
        registry.register(Arc::new(crate::discord::DiscordProvider));
        registry.register(Arc::new(crate::webex::WebexProvider));
        registry.register(Arc::new(crate::telegram::TelegramProvider));
        registry.register(Arc::new(crate::pagerduty::PagerDutyProvider));
        registry.register(Arc::new(crate::opsgenie::OpsgenieProvider));
        registry.register(Arc::new(crate::splunk::SplunkProvider));
        registry.register(Arc::new(crate::jira::JiraProvider));
        registry.register(Arc::new(crate::github::GithubProvider));
        registry.register(Arc::new(crate::email::EmailProvider));
        registry.register(Arc::new(crate::webhook::WebhookProvider));
        registry.register(Arc::new(crate::custom::CustomProvider));
        if options.enable_script {
            registry.register(Arc::new(crate::script::ScriptProvider));
        }
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
