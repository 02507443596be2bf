//! The one outbound HTTP client: timeouts, no redirects, no proxies, and the address policy
//! enforced on the resolved address at connect time, so DNS rebinding leaves no gap.

mod exec;
mod mail;
mod policy;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

pub use policy::{BlockedAddress, OutboundPolicy};

use crate::{Method, Outbound, OutboundRequest, Response};

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Response bodies are read up to this many bytes; the rest is dropped.
    pub max_response_bytes: usize,
    pub policy: OutboundPolicy,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            policy: OutboundPolicy::default(),
        }
    }
}

/// Why a request got no HTTP response. Messages never include the URL.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Blocked(#[from] BlockedAddress),
    #[error("timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    max_response_bytes: usize,
    connect_timeout: Duration,
    /// Bounds every kind of exchange (an e-mail, a script), not just HTTP: the delivery lease
    /// is sized to outlast it.
    total_timeout: Duration,
}

impl Sender {
    pub fn new(config: SenderConfig) -> Self {
        let policy = Arc::new(config.policy);
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .expect("the HTTP client configuration is static and valid");
        Self {
            client,
            policy,
            max_response_bytes: config.max_response_bytes,
            connect_timeout: config.connect_timeout,
            total_timeout: config.total_timeout,
        }
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Sends whatever the provider asked for: an HTTP request, an e-mail or a local program.
    pub async fn send(&self, outbound: &Outbound) -> Result<Response, SendError> {
        match outbound {
            Outbound::Http(request) => self.send_http(request).await,
            Outbound::Mail(mail) => mail::send(self, mail).await,
            Outbound::Exec(exec) => {
                let exec = crate::ExecRequest {
                    timeout: exec.timeout.min(self.total_timeout),
                    ..exec.clone()
                };
                exec::run(&exec, self.max_response_bytes).await
            }
        }
    }

    pub async fn send_http(&self, request: &OutboundRequest) -> Result<Response, SendError> {
        // A literal IP host skips the resolver, so it is checked here.
        match request.url.host() {
            Some(Host::Ipv4(ip)) => self.policy.check(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.policy.check(IpAddr::V6(ip))?,
            Some(Host::Domain(_)) => {}
            None => return Err(SendError::Other("the URL has no host".into())),
        }
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .client
            .request(method, request.url.clone())
            .body(request.body.clone());
        for header in &request.headers {
            builder = builder.header(&header.name, &header.value);
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        while body.len() < self.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status already arrived; a broken body does not change what it means.
                Err(_) => break,
            }
        }
        body.truncate(self.max_response_bytes);
        Ok(Response {
            status,
            headers,
            body,
            received_at: Utc::now(),
        })
    }
}

/// Describes a transport error by its causes, never by its URL.
fn describe(error: reqwest::Error) -> SendError {
    if let Some(blocked) = find_cause::<BlockedAddress>(&error) {
        return SendError::Blocked(blocked.clone());
    }
    if error.is_timeout() {
        return SendError::Timeout;
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let is_connect = error.is_connect();
    let detail = causes
        .last()
        .cloned()
        .unwrap_or_else(|| error.without_url().to_string());
    if is_connect {
        SendError::Connect(detail)
    } else {
        SendError::Other(detail)
    }
}

fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Resolves names and drops every address the policy refuses; the connection can only go to
/// an address that was checked.
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(refusal) => {
                        first_refusal.get_or_insert(refusal);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), first_refusal) {
                (true, Some(refusal)) => {
                    Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>)
                }
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}
