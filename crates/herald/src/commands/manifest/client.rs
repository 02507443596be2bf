//! A small client of Herald's REST API, as the token's principal: everything it does is
//! subject to that principal's roles and lands in the audit log.

use std::fmt;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Where Herald is and who is calling: `--server`/HERALD_URL, `--token`/HERALD_TOKEN.
#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    /// Herald's base URL.
    #[arg(long, env = "HERALD_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An API token; every call is made, and audited, as its principal.
    #[arg(long, env = "HERALD_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// A refused or failed call: the API's status, code, field and message.
#[derive(Debug)]
pub struct CallError {
    pub status: Option<StatusCode>,
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(args: &ServerArgs) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: args.server.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
        }
    }

    /// One call; the answer's JSON (null for 204).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let what = format!("{method} {path}");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| CallError {
            status: None,
            message: format!(
                "cannot reach {}: {}",
                self.base,
                herald_server::error_chain(&e.without_url())
            ),
        })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let error = &answer["error"];
        let code = error["code"].as_str().unwrap_or("error");
        let message = error["message"].as_str().unwrap_or_default();
        let message = match error["field"].as_str() {
            Some(field) => format!("{what}: {status} {code}: {field}: {message}"),
            None => format!("{what}: {status} {code}: {message}"),
        };
        Err(CallError {
            status: Some(status),
            message,
        })
    }

    /// Every item of a paginated list (`{data, next_cursor}`), following the cursor.
    /// The first page of a list, with the filters that are set as its query.
    pub async fn first_page(
        &self,
        path: &str,
        filters: Vec<(&str, Option<String>)>,
    ) -> Result<Vec<Value>, CallError> {
        let query: Vec<String> = filters
            .into_iter()
            .filter_map(|(name, value)| {
                Some(format!(
                    "{name}={}",
                    crate::commands::integrations::encode(&value?)
                ))
            })
            .collect();
        let page = self
            .call(Method::GET, &format!("{path}?{}", query.join("&")), None)
            .await?;
        Ok(page["data"].as_array().cloned().unwrap_or_default())
    }

    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, CallError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}{separator}limit=250&cursor={c}"),
                None => format!("{path}{separator}limit=250"),
            };
            let page = self.call(Method::GET, &page_path, None).await?;
            if let Some(data) = page["data"].as_array() {
                items.extend(data.iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
                _ => return Ok(items),
            }
        }
    }
}
