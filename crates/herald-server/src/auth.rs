//! Bearer tokens. Every `/v1` route runs behind [`require_token`].

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_domain::{OrgId, TokenId};
use herald_store::TokenRecord;

use crate::error::ApiError;
use crate::AppState;

/// Who is calling: resolved from the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: OrgId,
    pub token_id: TokenId,
    pub role: String,
}

/// Recently seen tokens, so that a busy client costs no query per request. Expiry is still
/// checked on every request; a token removed from the store stops working within the TTL.
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenRecord, Instant)>>,
}

const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Beyond this many distinct tokens the cache starts over, bounding its memory.
const TOKEN_CACHE_MAX: usize = 10_000;

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
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash, (record, Instant::now()));
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new()
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
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
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
    request.extensions_mut().insert(Caller {
        org_id: record.org_id,
        token_id: record.id,
        role: record.role,
    });
    Ok(next.run(request).await)
}
