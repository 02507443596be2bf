//! The outbound guard against hostile destinations: literal addresses in every spelling, names
//! that resolve inside, and redirects.

use std::time::Duration;

use herald_testkit::{Receiver, Reply};

use super::*;
use crate::OutboundRequest;

fn sender(allow: &str) -> Sender {
    let policy = OutboundPolicy::new(OutboundPolicy::parse_allow_list(allow).unwrap());
    Sender::new(SenderConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        policy,
        ..SenderConfig::default()
    })
}

fn post(url: &str) -> OutboundRequest {
    OutboundRequest::post_json(url::Url::parse(url).expect(url), b"{}".to_vec())
}

/// Every one of these must be refused before a connection is made.
const HOSTILE: &[&str] = &[
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]/latest/meta-data",
    "http://100.100.100.200/latest/meta-data",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://127.0.0.1./",
    "http://user:pass@127.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://①②⑦.0.0.1/",
    "http://localhost/",
    "http://[::]/",
    "http://198.18.0.1/",
];

#[tokio::test]
async fn hostile_destinations_are_refused() {
    let sender = sender("");
    assert!(HOSTILE.len() >= 25);
    for url in HOSTILE {
        let error = sender.send_http(&post(url)).await.expect_err(url);
        assert!(matches!(error, SendError::Blocked(_)), "{url}: {error}");
        assert!(
            !error.to_string().contains("pass"),
            "{url}: the error must not echo userinfo"
        );
    }
}

#[tokio::test]
async fn an_allowed_range_is_reachable_and_nothing_else_is() {
    let receiver = Receiver::start().await;
    let response = sender("127.0.0.0/8")
        .send_http(&post(&receiver.url("/ok")))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let refused = sender("10.0.0.0/8")
        .send_http(&post(&receiver.url("/ok")))
        .await
        .unwrap_err();
    assert!(matches!(refused, SendError::Blocked(_)));
}

#[tokio::test]
async fn redirects_to_internal_addresses_are_not_followed() {
    let (outside, inside) = (Receiver::start().await, Receiver::start().await);
    outside.set_fallback(Reply::status(302).header("location", &inside.url("/internal")));
    let response = sender("127.0.0.0/8")
        .send_http(&post(&outside.url("/hook")))
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    assert!(matches!(
        crate::classify_status(&response),
        crate::Outcome::Retry { .. }
    ));
    assert!(
        inside.received().is_empty(),
        "the redirect target was never contacted"
    );
}

/// An endpoint that answers 200 and then streams a body without end.
async fn endless_body() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_response_body_is_read_up_to_the_cap_and_the_rest_dropped() {
    let url = endless_body().await;
    let sender = Sender::new(SenderConfig {
        max_response_bytes: 10_000,
        policy: OutboundPolicy::new(OutboundPolicy::parse_allow_list("127.0.0.0/8").unwrap()),
        ..SenderConfig::default()
    });
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(5), sender.send_http(&post(&url)))
        .await
        .expect("an endless body does not hold the sender")
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 10_000);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out() {
    let receiver = Receiver::start().await;
    receiver.set_fallback(Reply::hang());
    let sender = Sender::new(SenderConfig {
        total_timeout: Duration::from_millis(300),
        policy: OutboundPolicy::new(OutboundPolicy::parse_allow_list("127.0.0.0/8").unwrap()),
        ..SenderConfig::default()
    });
    let started = std::time::Instant::now();
    let error = sender
        .send_http(&post(&receiver.url("/")))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Timeout), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_default_attempt_limits_are_5_s_to_connect_and_15_s_in_total() {
    let config = SenderConfig::default();
    assert_eq!(config.connect_timeout, Duration::from_secs(5));
    assert_eq!(config.total_timeout, Duration::from_secs(15));
}

/// An https URL is spoken in TLS: the first thing the endpoint reads is a TLS handshake record
/// (0x16), never a plaintext request line. The handshake then fails (the endpoint is not a TLS
/// server), and that is an error, not an answer.
#[tokio::test]
async fn an_https_url_is_spoken_in_tls() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let first_byte = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        byte[0]
    });
    let error = sender("127.0.0.0/8")
        .send_http(&post(&format!("https://{addr}/hook")))
        .await
        .unwrap_err();
    assert!(!matches!(error, SendError::Blocked(_)), "{error}");
    assert_eq!(first_byte.await.unwrap(), 0x16, "a TLS handshake record");
}
