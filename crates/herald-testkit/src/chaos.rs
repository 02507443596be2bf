//! A webhook receiver that misbehaves on purpose: some requests get a 500, some a reset
//! connection (TCP RST, no answer at all), some a slow answer. It speaks HTTP/1.1 itself, over
//! raw sockets, so it can cut a connection the way a crashing load balancer does; every request
//! is recorded with what it got.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How often each kind of trouble happens (fractions of all requests).
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    pub status_500: f64,
    pub reset: f64,
    pub slow: f64,
    /// How long a slow answer (a 200) takes.
    pub slow_for: Duration,
}

/// What a recorded request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Answered with this status.
    Answered(u16),
    /// Answered 200 after a delay (the sender may have given up before).
    Slow,
    /// The connection was reset without an answer.
    Reset,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct ChaosRequest {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub fate: Fate,
}

impl ChaosRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct ChaosSink {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<ChaosRequest>>>,
    chaos: Arc<Mutex<Chaos>>,
}

impl ChaosSink {
    /// Starts on an ephemeral loopback port. The same `seed` gives the same sequence of fates.
    pub async fn start(chaos: Chaos, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the chaos sink");
        let addr = listener.local_addr().unwrap();
        let sink = Self {
            addr,
            requests: Arc::default(),
            chaos: Arc::new(Mutex::new(chaos)),
        };
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let accepting = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(accepting.clone().serve(stream, rng.clone()));
            }
        });
        sink
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on, misbehave like this (a calm sink is `Chaos::none()`).
    pub fn set_chaos(&self, chaos: Chaos) {
        *self.chaos.lock().unwrap() = chaos;
    }

    pub fn requests(&self) -> Vec<ChaosRequest> {
        self.requests.lock().unwrap().clone()
    }

    async fn serve(self, stream: TcpStream, rng: Arc<Mutex<StdRng>>) {
        let mut reader = BufReader::new(stream);
        loop {
            let Some((path, headers, body)) = read_request(&mut reader).await else {
                return;
            };
            let chaos = *self.chaos.lock().unwrap();
            let roll: f64 = rng.lock().unwrap().gen();
            let fate = if roll < chaos.status_500 {
                Fate::Answered(500)
            } else if roll < chaos.status_500 + chaos.reset {
                Fate::Reset
            } else if roll < chaos.status_500 + chaos.reset + chaos.slow {
                Fate::Slow
            } else {
                Fate::Answered(200)
            };
            self.requests.lock().unwrap().push(ChaosRequest {
                path,
                headers,
                body,
                fate,
            });
            let status = match fate {
                Fate::Reset => {
                    reset(reader.into_inner());
                    return;
                }
                Fate::Slow => {
                    tokio::time::sleep(chaos.slow_for).await;
                    200
                }
                Fate::Answered(status) => status,
            };
            let reason = if status == 200 { "OK" } else { "Error" };
            let answer = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n");
            if reader.get_mut().write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

impl Chaos {
    pub fn none() -> Self {
        Self {
            status_500: 0.0,
            reset: 0.0,
            slow: 0.0,
            slow_for: Duration::ZERO,
        }
    }
}

/// Closes with RST instead of FIN: the peer sees "connection reset", as from a crashed proxy.
fn reset(stream: TcpStream) {
    // A zero linger sends the RST at once and does not block on drop.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

type Request = (String, Vec<(String, String)>, Vec<u8>);

/// Reads one request with a Content-Length body (what Herald's client sends), or `None` when
/// the peer closed the connection.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((path, headers, body))
}
