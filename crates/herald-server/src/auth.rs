//! Bearer tokens. Every `/v1` route runs behind [`require_token`].

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use herald_domain::{OrgId, TokenId};

use crate::error::ApiError;
use crate::AppState;

/// Who is calling: resolved from the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: OrgId,
    pub token_id: TokenId,
    pub role: String,
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
    let record = state
        .engine
        .store()
        .find_token(&herald_crypto::hash_token(token))
        .await?
        .filter(|record| record.is_usable(Utc::now()))
        .ok_or(ApiError::Unauthorized)?;
    request.extensions_mut().insert(Caller {
        org_id: record.org_id,
        token_id: record.id,
        role: record.role,
    });
    Ok(next.run(request).await)
}
