//! The fastest bare HTTP/1.1 paths the bench can build on hyper: a client connection (one TCP
//! stream with `TCP_NODELAY`, kept alive, requests sent one after another) and a sink that
//! answers every request with 204 and counts it. Both the baseline and the load on Herald use
//! the same client, so the ratio compares Herald against nothing but itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// One kept-alive HTTP/1.1 connection to `addr`, with Nagle's algorithm off.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
}

/// What a request answered: its status and its body.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Connection {
    pub async fn open(addr: SocketAddr, bearer: Option<&str>) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header"),
            authorization: bearer.map(|token| {
                HeaderValue::from_str(&format!("Bearer {token}")).expect("a valid token header")
            }),
        })
    }

    /// Sends one request and reads its whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer { status, body })
    }

    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<Answer, String> {
        self.send(Method::POST, path, body).await
    }
}

/// A webhook receiver: answers 204 to everything, counts requests and, while recording,
/// notes when each event id arrived.
#[derive(Clone, Default)]
pub struct Sink {
    inner: Arc<SinkState>,
}

#[derive(Default)]
struct SinkState {
    count: AtomicUsize,
    /// The count at which `reached_at` is stamped.
    target: AtomicUsize,
    reached_at: Mutex<Option<Instant>>,
    recording: AtomicBool,
    arrivals: Mutex<Vec<(Bytes, Instant)>>,
}

impl Sink {
    /// Listens on an ephemeral local port until the process ends.
    pub async fn start(&self) -> Result<SocketAddr, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the sink: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let sink = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let sink = sink.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let sink = sink.clone();
                        async move { sink.receive(request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }

    async fn receive(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, hyper::Error> {
        let body = request.into_body().collect().await?.to_bytes();
        let now = Instant::now();
        let state = &self.inner;
        if state.recording.load(Ordering::Relaxed) {
            if let Some(id) = envelope_id(&body) {
                state
                    .arrivals
                    .lock()
                    .unwrap()
                    .push((body.slice_ref(id), now));
            }
        }
        let count = state.count.fetch_add(1, Ordering::AcqRel) + 1;
        if count == state.target.load(Ordering::Acquire) {
            *state.reached_at.lock().unwrap() = Some(now);
        }
        let mut response = Response::new(Empty::new());
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }

    /// Starts a phase: zero counts, stamp the arrival of the `target`-th request, and note
    /// arrivals by event id if `record`.
    pub fn reset(&self, target: usize, record: bool) {
        let state = &self.inner;
        state.target.store(target, Ordering::Release);
        state.count.store(0, Ordering::Release);
        *state.reached_at.lock().unwrap() = None;
        state.arrivals.lock().unwrap().clear();
        state.recording.store(record, Ordering::Release);
    }

    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Waits until the phase's target count arrived and returns when the last one did.
    pub async fn wait_for_target(&self, patience: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(at) = *self.inner.reached_at.lock().unwrap() {
                return Ok(at);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {} requests reached the sink within {}s",
                    self.count(),
                    self.inner.target.load(Ordering::Acquire),
                    patience.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The arrivals noted since the last reset: (event id, when).
    pub fn take_arrivals(&self) -> Vec<(Bytes, Instant)> {
        std::mem::take(&mut *self.inner.arrivals.lock().unwrap())
    }
}

/// The id a JSON body starts with: Herald's envelope and its `202` answer both begin with
/// `{"id":"…"`.
pub fn envelope_id(body: &[u8]) -> Option<&[u8]> {
    let rest = body.strip_prefix(br#"{"id":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_ids_are_read_from_the_start_of_the_body() {
        assert_eq!(
            envelope_id(br#"{"id":"evt_1","type":"x"}"#),
            Some(&b"evt_1"[..])
        );
        assert_eq!(envelope_id(br#"{"type":"x","id":"evt_1"}"#), None);
        assert_eq!(envelope_id(br#"{"id":"unterminated"#), None);
    }

    #[tokio::test]
    async fn the_client_counts_at_the_sink_and_the_last_arrival_is_stamped() {
        let sink = Sink::default();
        let addr = sink.start().await.unwrap();
        sink.reset(3, true);
        let mut connection = Connection::open(addr, None).await.unwrap();
        for id in ["evt_a", "evt_b", "evt_c"] {
            let body = Bytes::from(format!(r#"{{"id":"{id}"}}"#));
            let answer = connection.post("/hook", body).await.unwrap();
            assert_eq!(answer.status, StatusCode::NO_CONTENT);
        }
        sink.wait_for_target(Duration::from_secs(5)).await.unwrap();
        let ids: Vec<Bytes> = sink.take_arrivals().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["evt_a", "evt_b", "evt_c"]);
        assert_eq!(sink.count(), 3);
    }
}
