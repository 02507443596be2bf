//! The one outbound HTTP client: timeouts, no redirects, no proxies, and the address policy
//! enforced on the resolved address at connect time, so DNS rebinding leaves no gap.

mod exec;
mod mail;
mod origins;
mod policy;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, USER_AGENT};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Host;

pub use policy::{BlockedAddress, OutboundPolicy};

use crate::{Method, Outbound, OutboundRequest, Response};

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Response bodies are read up to this many bytes; the rest is dropped.
    pub max_response_bytes: usize,
    /// Requests in flight to one origin at most, and so connections open to it (see
    /// `origins`); the rest wait for a connection, within their deadline.
    pub max_connections_per_origin: usize,
    pub policy: OutboundPolicy,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            max_connections_per_origin: 64,
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

type HttpClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

const HERALD_AGENT: HeaderValue =
    HeaderValue::from_static(concat!("Herald/", env!("CARGO_PKG_VERSION")));

/// Idle keep-alive connections are closed after this long, as browsers and reqwest do.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// hyper's own pooled HTTP/1 client, with TLS by rustls: no redirects and no proxies by
/// construction. (reqwest, on the same client, parsed every URL twice more per request in its
/// redirect layer and request path.)
#[derive(Clone)]
pub struct Sender {
    client: HttpClient,
    origins: Arc<origins::OriginLimits>,
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
        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            policy: policy.clone(),
        });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .expect("ring supports the default protocol versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let origins = Arc::new(origins::OriginLimits::new(
            config.max_connections_per_origin,
        ));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            // A connection opened for a request that then found an idle one is not kept.
            .pool_max_idle_per_host(origins.per_origin())
            .build(connector);
        Self {
            client,
            origins,
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
        // The mail and script branches are boxed: their futures (a script's two 8 KiB read
        // buffers above all) would otherwise size every attempt's future, webhooks included,
        // at 18 KB, copied several times as each attempt starts.
        match outbound {
            Outbound::Http(request) => self.send_http(request).await,
            Outbound::Mail(mail) => Box::pin(mail::send(self, mail)).await,
            Outbound::Exec(exec) => {
                let exec = crate::ExecRequest {
                    timeout: exec.timeout.min(self.total_timeout),
                    ..exec.clone()
                };
                Box::pin(exec::run(&exec, self.max_response_bytes)).await
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
            Method::Get => hyper::Method::GET,
            Method::Post => hyper::Method::POST,
            Method::Put => hyper::Method::PUT,
            Method::Patch => hyper::Method::PATCH,
            Method::Delete => hyper::Method::DELETE,
        };
        let uri: hyper::Uri = request
            .url
            .as_str()
            .parse()
            .map_err(|_| SendError::Other("the URL is not a valid request target".into()))?;
        let mut outgoing = hyper::Request::new(Full::new(Bytes::from(request.body.clone())));
        *outgoing.method_mut() = method;
        *outgoing.uri_mut() = uri;
        let headers = outgoing.headers_mut();
        for header in &request.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes());
            let value = HeaderValue::from_str(&header.value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(SendError::Other(format!(
                    "the header {} cannot be sent",
                    header.name
                )));
            };
            headers.append(name, value);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, HERALD_AGENT);
        }
        // One deadline for the wait for a connection, the answer and its body together.
        let exchange = async {
            let _turn = self.origins.turn(&request.url).await;
            self.exchange_http(outgoing).await
        };
        tokio::time::timeout(self.total_timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout)?
    }

    async fn exchange_http(
        &self,
        outgoing: hyper::Request<Full<Bytes>>,
    ) -> Result<Response, SendError> {
        let response = self.client.request(outgoing).await.map_err(describe)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while body.len() < self.max_response_bytes {
            match incoming.frame().await {
                Some(Ok(frame)) => {
                    if let Some(chunk) = frame.data_ref() {
                        body.extend_from_slice(chunk);
                    }
                }
                None => break,
                // The status already arrived; a broken body does not change what it means.
                Some(Err(_)) => break,
            }
        }
        // The rest is dropped with the connection, unread.
        body.truncate(self.max_response_bytes);
        Ok(Response {
            status,
            headers,
            body,
            received_at: Utc::now(),
        })
    }
}

/// Describes a transport error by its causes, never by its URL (hyper's errors carry none).
fn describe(error: hyper_util::client::legacy::Error) -> SendError {
    if let Some(blocked) = find_cause::<BlockedAddress>(&error) {
        return SendError::Blocked(blocked.clone());
    }
    let timed_out = find_cause::<std::io::Error>(&error)
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    if timed_out {
        return SendError::Timeout;
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let detail = causes.last().cloned().unwrap_or_else(|| error.to_string());
    if error.is_connect() {
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
#[derive(Clone)]
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
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
                (true, Some(refusal)) => Err(Box::new(refusal) as Self::Error),
                _ => Ok(allowed.into_iter()),
            }
        })
    }
}
