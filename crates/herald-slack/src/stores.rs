//! The Slack app's two stores, as Bolt keeps them: installations (which workspace is
//! connected to which integration) and OAuth states (Add to Slack's single-use `state`).
//! Small interfaces over Herald's store; the tokens themselves stay sealed in the
//! integration's config.

use chrono::{DateTime, Duration, Utc};
use herald_domain::{IntegrationId, OrgId, PrincipalId};
use herald_store::{SlackInstallation, SlackOAuthState, Store, StoreError};
use serde_json::Value;

/// How long an Add to Slack link stays usable.
pub const STATE_TTL: Duration = Duration::minutes(10);

#[derive(Clone)]
pub struct Installations(Store);

impl Installations {
    pub fn new(store: Store) -> Self {
        Self(store)
    }

    pub async fn save(&self, installation: &SlackInstallation) -> Result<(), StoreError> {
        self.0.save_slack_installation(installation).await
    }

    /// Every installation of a workspace, in any organisation, newest first.
    pub async fn of_team(&self, team_id: &str) -> Result<Vec<SlackInstallation>, StoreError> {
        self.0.slack_installations_of_team(team_id).await
    }

    /// The newest installation of a workspace in one organisation: the integration its
    /// commands act on.
    pub async fn in_org(
        &self,
        org: &OrgId,
        team_id: &str,
    ) -> Result<Option<SlackInstallation>, StoreError> {
        Ok(self
            .of_team(team_id)
            .await?
            .into_iter()
            .find(|i| &i.org_id == org))
    }

    pub async fn of_integration(
        &self,
        org: &OrgId,
        integration: &IntegrationId,
    ) -> Result<Option<SlackInstallation>, StoreError> {
        self.0.slack_installation(org, integration).await
    }
}

/// What an Add to Slack state was issued for.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    /// `None`: a new integration, made with `new_integration`.
    pub integration_id: Option<IntegrationId>,
    pub new_integration: Option<Value>,
}

/// Why a state cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// Never issued, or already used (it is removed on first use).
    Unknown,
    Expired,
}

#[derive(Clone)]
pub struct OAuthStates(Store);

impl OAuthStates {
    pub fn new(store: Store) -> Self {
        Self(store)
    }

    /// A fresh state for `issued`, valid for ten minutes from `now`. Only its hash is kept.
    pub async fn issue(&self, issued: Issued, now: DateTime<Utc>) -> Result<String, StoreError> {
        let state = random_code();
        self.0
            .insert_slack_oauth_state(&SlackOAuthState {
                state_hash: herald_crypto::hash_token(&state),
                org_id: issued.org_id,
                principal_id: issued.principal_id,
                integration_id: issued.integration_id,
                new_integration: issued.new_integration,
                expires_at: now + STATE_TTL,
            })
            .await?;
        Ok(state)
    }

    /// Uses a state up: whatever the answer, it cannot be used again.
    pub async fn consume(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Issued, StateProblem>, StoreError> {
        let Some(row) = self
            .0
            .take_slack_oauth_state(&herald_crypto::hash_token(state))
            .await?
        else {
            return Ok(Err(StateProblem::Unknown));
        };
        if row.expires_at < now {
            return Ok(Err(StateProblem::Expired));
        }
        Ok(Ok(Issued {
            org_id: row.org_id,
            principal_id: row.principal_id,
            integration_id: row.integration_id,
            new_integration: row.new_integration,
        }))
    }
}

/// 256 random bits in hex: a state or a link code.
pub(crate) fn random_code() -> String {
    let token = herald_crypto::generate_token();
    token.trim_start_matches("hld_").to_owned()
}
