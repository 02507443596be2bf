//! Bearer tokens and what their principals may do. Every `/v1` route runs behind
//! [`require_token`], and each handler asks the [`Caller`] for the one permission it needs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use herald_domain::{Grants, IntegrationId, OrgId, OrgRole, Permission, PrincipalId, TokenId};
use herald_store::TokenRecord;

use crate::error::ApiError;
use crate::AppState;

/// Who is calling, resolved from the bearer token, with everything granted to it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: OrgId,
    /// The bearer token used; `None` for a principal acting through another surface (a Slack
    /// user linked to it).
    pub token_id: Option<TokenId>,
    /// `None` for a token from before principals existed.
    pub principal_id: Option<PrincipalId>,
    pub grants: Arc<Grants>,
    /// The client's address, for the audit log.
    pub source: Option<String>,
}

impl Caller {
    /// An organisation-wide permission, or 403.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.grants.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission))
        }
    }

    /// A permission on one integration. A caller who may not even read it gets 404, as if it
    /// did not exist; one who may read it but not do this gets 403.
    pub fn require_on(
        &self,
        permission: Permission,
        integration: &IntegrationId,
    ) -> Result<(), ApiError> {
        if self.grants.allows_on(permission, integration) {
            Ok(())
        } else if self
            .grants
            .allows_on(Permission::IntegrationRead, integration)
        {
            Err(ApiError::Forbidden(permission))
        } else {
            Err(ApiError::NotFound("integration"))
        }
    }
}

impl Caller {
    /// A principal acting through another surface than a token (a Slack user linked to it),
    /// with the same grants, resolved and cached as for its tokens. `source` is what the
    /// audit log records as "from where" (e.g. `slack:T0123/U0456`). `None` if the principal
    /// does not exist in `org`.
    pub async fn for_principal(
        state: &AppState,
        org: &OrgId,
        principal: &PrincipalId,
        source: String,
    ) -> Result<Option<Caller>, ApiError> {
        if state
            .engine
            .store()
            .get_principal(org, principal)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let grants = principal_grants(state, org, principal).await?;
        Ok(Some(Caller {
            org_id: org.clone(),
            token_id: None,
            principal_id: Some(principal.clone()),
            grants,
            source: Some(source),
        }))
    }

    /// As [`Caller::require_on`], for a resource that belongs to an integration (a supply, an
    /// integration event, an attachment): its 404 names the resource, not the integration.
    pub fn require_on_child(
        &self,
        permission: Permission,
        integration: &IntegrationId,
        resource: &'static str,
    ) -> Result<(), ApiError> {
        self.require_on(permission, integration)
            .map_err(|error| match error {
                ApiError::NotFound(_) => ApiError::NotFound(resource),
                other => other,
            })
    }
}

/// Recently seen tokens, so that a busy client costs no query per request. Expiry is checked
/// on every request; revoking clears the cache, and a token removed in another instance stops
/// working within the TTL.
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenRecord, Instant)>>,
}

const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Beyond this many distinct tokens or principals a cache starts over, bounding its memory.
const CACHE_MAX: usize = 10_000;

impl TokenCache {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &str) -> Option<TokenRecord> {
        let entries = self.entries.lock().expect("not poisoned");
        let (record, cached_at) = entries.get(hash)?;
        (cached_at.elapsed() < TOKEN_CACHE_TTL).then(|| record.clone())
    }

    fn put(&self, hash: String, record: TokenRecord) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, (record, Instant::now()));
    }

    /// Forgets every token, after one was revoked.
    pub fn clear(&self) {
        self.entries.lock().expect("not poisoned").clear();
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Resolved grants per principal. Any change to principals, memberships or role assignments
/// in this process bumps the generation and so invalidates them all at once; changes made
/// through another instance are seen within the TTL.
#[derive(Default)]
pub struct GrantCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<PrincipalId, CachedGrants>>,
}

/// Grants with the generation they were resolved under and when.
type CachedGrants = (Arc<Grants>, u64, Instant);

const GRANT_CACHE_TTL: Duration = Duration::from_secs(2);

impl GrantCache {
    fn get(&self, principal: &PrincipalId) -> Option<Arc<Grants>> {
        let entries = self.entries.lock().expect("not poisoned");
        let (grants, generation, cached_at) = entries.get(principal)?;
        (*generation == self.generation.load(Ordering::Acquire)
            && cached_at.elapsed() < GRANT_CACHE_TTL)
            .then(|| grants.clone())
    }

    fn put(&self, principal: PrincipalId, grants: Arc<Grants>, generation: u64) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert(principal, (grants, generation, Instant::now()));
    }

    /// Call after any change to who holds which role.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthorized)?
        .to_owned();
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let caller = caller_for_token(&state, &token, source).await?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is matched without regard
/// to case (RFC 9110 §11.1: `bearer` and `BEARER` are the same scheme).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller an API token stands for, as every `/v1` request resolves it: for a surface that
/// receives a token another way (a form on a page). 401 if it is unknown, expired or revoked.
pub async fn caller_for_token(
    state: &AppState,
    token: &str,
    source: Option<String>,
) -> Result<Caller, ApiError> {
    let hash = herald_crypto::hash_token(token);
    let record = match state.tokens.get(&hash) {
        Some(record) => record,
        None => {
            // Unknown tokens are not cached: guessing must not fill memory.
            let record = state
                .engine
                .store()
                .find_token(&hash)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            state.tokens.put(hash, record.clone());
            record
        }
    };
    if !record.is_usable(Utc::now()) {
        return Err(ApiError::Unauthorized);
    }
    let grants = grants_of(state, &record).await?;
    Ok(Caller {
        org_id: record.org_id,
        token_id: Some(record.id),
        principal_id: record.principal_id,
        grants,
        source,
    })
}

async fn grants_of(state: &AppState, record: &TokenRecord) -> Result<Arc<Grants>, ApiError> {
    let Some(principal) = &record.principal_id else {
        // A token from before principals: its role was the only one there was.
        let mut grants = Grants::default();
        if record.role == "owner" {
            grants.org.insert(OrgRole::Owner);
        }
        return Ok(Arc::new(grants));
    };
    principal_grants(state, &record.org_id, principal).await
}

async fn principal_grants(
    state: &AppState,
    org: &OrgId,
    principal: &PrincipalId,
) -> Result<Arc<Grants>, ApiError> {
    if let Some(grants) = state.grants.get(principal) {
        return Ok(grants);
    }
    // Read the generation first: a change landing during the query makes this entry stale.
    let generation = state.grants.generation.load(Ordering::Acquire);
    let grants = Arc::new(state.engine.store().resolve_grants(org, principal).await?);
    state
        .grants
        .put(principal.clone(), grants.clone(), generation);
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "BeArEr   abc  "] {
            assert_eq!(bearer_token(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer   ", "Bearerabc", "abc", ""] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
