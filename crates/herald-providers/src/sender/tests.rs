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
