use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use herald_domain::Kind;
use herald_testkit::smtp::{SmtpFake, SmtpStage};
use serde_json::{json, Value};

use super::*;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, MailRequest, Outbound, Outcome, Redactor, SmtpSecurity};

const PASSWORD: &str = "s3cr%t-pass";

fn event() -> Value {
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": "Apply prod-network",
        "summary": "3 to add, 1 to change",
        "status": "waiting_for_approval",
        "severity": "high",
        "url": "https://ci.example.com/runs/42",
        "approve_url": "https://ci.example.com/runs/42/approve",
        "correlation_key": "run-42",
        "facts": {"workspace": "prod-network", "commit": "abc123"}
    })
}

fn config(smtp_url: &str) -> Value {
    json!({"smtp_url": smtp_url, "from": "Herald <alerts@example.com>", "to": ["ops@example.com", "oncall@example.com"]})
}

fn local(fake: &SmtpFake) -> Value {
    config(&format!("smtp://{}?tls=none", fake.host_port()))
}

fn render_mail(fixture: &Fixture, config: &Value) -> MailRequest {
    let rendered = EmailProvider.render(&fixture.ctx(), config).unwrap();
    let [Outbound::Mail(mail)] = rendered.as_slice() else {
        panic!("one mail")
    };
    mail.clone()
}

/// A parsed message: unfolded headers and the decoded MIME parts by content type.
pub(crate) struct Parsed {
    headers: Vec<(String, String)>,
    parts: Vec<(String, String)>,
}

impl Parsed {
    pub(crate) fn of(message: &[u8]) -> Self {
        let text = std::str::from_utf8(message).expect("ASCII message");
        let (head, body) = text.split_once("\r\n\r\n").expect("a header section");
        let headers = unfold(head);
        let content_type = find(&headers, "content-type").expect("a content type");
        assert!(
            content_type.starts_with("multipart/alternative"),
            "{content_type}"
        );
        let boundary = content_type
            .split("boundary=")
            .nth(1)
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let parts = body
            .split(&format!("--{boundary}"))
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| {
                let (head, body) = part
                    .trim_start_matches("\r\n")
                    .split_once("\r\n\r\n")
                    .unwrap();
                let headers = unfold(head);
                let kind = find(&headers, "content-type").unwrap();
                let encoding = find(&headers, "content-transfer-encoding").unwrap_or_default();
                (kind, decode_body(&encoding, body.trim_end_matches("\r\n")))
            })
            .collect();
        Self { headers, parts }
    }

    pub(crate) fn header(&self, name: &str) -> String {
        find(&self.headers, name).unwrap_or_else(|| panic!("no {name} header"))
    }

    pub(crate) fn part(&self, kind: &str) -> String {
        self.parts
            .iter()
            .find(|(k, _)| k.starts_with(kind))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no {kind} part"))
    }
}

fn unfold(head: &str) -> Vec<(String, String)> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push(line.to_owned()),
        }
    }
    lines
        .into_iter()
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect()
}

fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

fn decode_body(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => String::from_utf8(B64.decode(body.replace("\r\n", "")).unwrap()).unwrap(),
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    }
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `=?utf-8?b?...?=` words, decoded and joined as RFC 2047 says (whitespace between encoded
/// words is dropped).
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        match word
            .strip_prefix("=?utf-8?b?")
            .and_then(|w| w.strip_suffix("?="))
        {
            Some(encoded) => {
                out.push_str(&String::from_utf8(B64.decode(encoded).unwrap()).unwrap())
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

#[test]
fn renders_a_complete_message_with_both_alternatives() {
    let fixture = Fixture::new(Kind::Email, event());
    let mail = render_mail(&fixture, &config("smtps://herald:pw@smtp.example.com"));
    assert_eq!(mail.from, "alerts@example.com");
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com"]);
    assert!(
        mail.message.is_ascii(),
        "8-bit free, so no server needs 8BITMIME"
    );
    let parsed = Parsed::of(&mail.message);
    assert_eq!(parsed.header("from"), "Herald <alerts@example.com>");
    assert_eq!(parsed.header("to"), "ops@example.com, oncall@example.com");
    assert_eq!(parsed.header("subject"), "[HIGH] Apply prod-network");
    assert_eq!(parsed.header("date"), "Sun, 15 Jun 2025 15:06:40 +0000");
    assert_eq!(parsed.header("mime-version"), "1.0");
    assert_eq!(parsed.header("auto-submitted"), "auto-generated");
    assert_eq!(
        parsed.header("message-id"),
        format!(
            "<{}.{}@example.com>",
            fixture.event.id, fixture.target.integration_id
        )
    );
    assert!(find(&parsed.headers, "in-reply-to").is_none());
    assert!(find(&parsed.headers, "references").is_none());

    let text = parsed.part("text/plain");
    for expected in [
        "[HIGH] Apply prod-network",
        "Status: waiting for approval · Severity: high",
        "3 to add, 1 to change",
        "Workspace: prod-network",
        "Approve run: https://ci.example.com/runs/42/approve",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let html = parsed.part("text/html");
    for expected in [
        "<h2 style=\"margin:0 0 4px 0;font-size:18px;\">[HIGH] Apply prod-network</h2>",
        "Status: waiting for approval · Severity: high",
        "<th style=\"text-align:left;padding:2px 12px 2px 0;vertical-align:top;\">Commit</th><td style=\"padding:2px 0;\">abc123</td>",
        "<a href=\"https://ci.example.com/runs/42/approve\"",
        ">Approve run</a>",
        ">View run</a>",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
}

#[test]
fn every_attempt_carries_the_same_message_id() {
    let fixture = Fixture::new(Kind::Email, event());
    let config = config("smtps://herald:pw@smtp.example.com");
    let first = Parsed::of(&render_mail(&fixture, &config).message);
    let again = Parsed::of(&render_mail(&fixture, &config).message);
    assert_eq!(first.header("message-id"), again.header("message-id"));
    let other = Fixture::new(Kind::Email, event());
    let other = Parsed::of(&render_mail(&other, &config).message);
    assert_ne!(first.header("message-id"), other.header("message-id"));
}

#[test]
fn event_text_cannot_inject_headers_or_markup() {
    let fixture = Fixture::new(
        Kind::Email,
        json!({
            "type": "x",
            "title": "Déploiement échoué ✓\r\nBcc: victim@evil.example",
            "summary": "<script>alert(1)</script> & \"quotes\"",
            "facts": {"note": "<b>bold</b>"},
            "url": "https://ci.example.com/?a=1&b=\"2\""
        }),
    );
    let mail = render_mail(&fixture, &config("smtps://herald:pw@smtp.example.com"));
    assert!(mail.message.is_ascii());
    let parsed = Parsed::of(&mail.message);
    assert!(
        find(&parsed.headers, "bcc").is_none(),
        "no header may be injected"
    );
    let subject = parsed.header("subject");
    assert!(subject.starts_with("=?utf-8?b?"), "RFC 2047: {subject}");
    assert_eq!(
        decode_words(&subject),
        "Déploiement échoué ✓ Bcc: victim@evil.example"
    );
    let html = parsed.part("text/html");
    assert!(
        !html.contains("<script>") && !html.contains("<b>bold"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(html.contains("href=\"https://ci.example.com/?a=1&amp;b=%222%22\""));
}

#[test]
fn huge_titles_stay_within_header_limits() {
    let fixture = Fixture::new(
        Kind::Email,
        json!({"type": "x", "title": "é".repeat(500), "summary": "x".repeat(16 * 1024)}),
    );
    let mail = render_mail(&fixture, &config("smtps://herald:pw@smtp.example.com"));
    let text = String::from_utf8(mail.message.clone()).unwrap();
    assert!(
        text.split("\r\n").all(|line| line.len() <= 998),
        "RFC 5322 §2.1.1 line length"
    );
    let subject = decode_words(&Parsed::of(&mail.message).header("subject"));
    assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(subject.ends_with('…'));
}

#[test]
fn a_follow_up_threads_under_the_first_message() {
    let first = "<evt_first.int_x@example.com>";
    let fixture = Fixture::new(Kind::Email, event()).with_prior(first);
    let mail = render_mail(&fixture, &config("smtps://herald:pw@smtp.example.com"));
    let parsed = Parsed::of(&mail.message);
    assert_eq!(parsed.header("in-reply-to"), first);
    assert_eq!(parsed.header("references"), first);
    assert_ne!(parsed.header("message-id"), first);
    // The run stays anchored on its first message: the follow-up reports no id of its own.
    let outcome = EmailProvider.classify(&Outbound::Mail(mail), &response(250, &[], "queued"));
    assert_eq!(outcome, Outcome::Delivered { external_id: None });

    // A prior that is not a Message-ID is never put in a header.
    let odd = Fixture::new(Kind::Email, event()).with_prior("C123:1503435956.000247\r\nBcc: x");
    let parsed = Parsed::of(&render_mail(&odd, &config("smtps://h:p@smtp.example.com")).message);
    assert!(find(&parsed.headers, "in-reply-to").is_none());
    assert!(find(&parsed.headers, "bcc").is_none());
}

#[test]
fn follow_ups_keep_the_threads_subject_after_re() {
    let config = config("smtps://herald:pw@smtp.example.com");
    let subject_of = |fixture: &Fixture| {
        decode_words(&Parsed::of(&render_mail(fixture, &config).message).header("subject"))
    };
    let planning = json!({"type": "iac.run.planning", "title": "Run #44 planning",
        "correlation_key": "run-44"});
    let applied = json!({"type": "iac.run.applied", "title": "Run #44 applied",
        "correlation_key": "run-44"});
    assert_eq!(
        subject_of(&Fixture::new(Kind::Email, planning.clone())),
        "Run #44 planning"
    );
    let follow_up = Fixture::new(Kind::Email, applied.clone())
        .with_prior("<evt_first.int_x@example.com>")
        .after(&[
            planning.clone(),
            json!({"type": "iac.run.applying", "title": "Run #44 applying",
            "correlation_key": "run-44"}),
        ]);
    assert_eq!(subject_of(&follow_up), "Re: Run #44 planning");
    // Without the history (or its first event), the follow-up still says it is a reply.
    let bare = Fixture::new(Kind::Email, applied).with_prior("<evt_first.int_x@example.com>");
    assert_eq!(subject_of(&bare), "Re: Run #44 applied");
}

#[test]
fn config_validation_names_the_key() {
    let with = |patch: Value| {
        let mut config = config("smtps://herald:pw@smtp.example.com");
        for (key, value) in patch.as_object().unwrap() {
            config[key] = value.clone();
        }
        config
    };
    let cases = [
        (json!({}), "smtp_url"),
        (
            with(json!({"smtp_url": "https://smtp.example.com"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp.example.com:587"})),
            "smtp_url",
        ),
        (with(json!({"smtp_url": "smtps://"})), "smtp_url"),
        (
            with(json!({"smtp_url": "smtp://user@smtp.example.com"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp://:pw@smtp.example.com"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp://u:pw@relay.local?tls=none"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtps://smtp.example.com?tls=none"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp://smtp.example.com?tls=maybe"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp://smtp.example.com?debug=1"})),
            "smtp_url",
        ),
        (
            with(json!({"smtp_url": "smtp://smtp.example.com/path"})),
            "smtp_url",
        ),
        (with(json!({"smtp_url": 5})), "smtp_url"),
        (with(json!({"from": "not an address"})), "from"),
        (with(json!({"from": ""})), "from"),
        (
            with(json!({"from": "a@b.example\r\nBcc: x@y.example"})),
            "from",
        ),
        (with(json!({"from": "jörg@exämple.de"})), "from"),
        (with(json!({"to": []})), "to"),
        (with(json!({"to": "ops@example.com"})), "to"),
        (with(json!({"to": vec!["ops@example.com"; 51]})), "to"),
        (with(json!({"to": ["ops@example.com", ""]})), "to[1]"),
        (with(json!({"to": ["nope"]})), "to[0]"),
        (with(json!({"to": ["Ops <ops@example.com>"]})), "to[0]"),
        (with(json!({"cc": ["x@example.com"]})), "cc"),
    ];
    for (config, field) in cases {
        assert_eq!(
            EmailProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    for good in [
        config("smtps://herald:pw@smtp.example.com"),
        config("smtp://apikey:SG.x%2Fy@smtp.sendgrid.net:587"),
        config("smtp://relay.internal:25?tls=none"),
        config("smtp://relay.internal?tls=starttls"),
        config("smtp://[2001:db8::25]"),
        with(json!({"to": vec!["ops@example.com"; 50]})),
        with(json!({"from": "alerts@example.com"})),
    ] {
        assert!(EmailProvider.validate(&good).is_ok(), "{good}");
    }
}

#[test]
fn smtp_urls_parse_into_server_settings() {
    let server = parse_smtp_url("smtp://apikey:SG.x%2Fy%40z@SMTP.SendGrid.net").unwrap();
    assert_eq!(server.host, "smtp.sendgrid.net");
    assert_eq!(server.port, 587);
    assert_eq!(server.security, SmtpSecurity::StartTls);
    assert_eq!(server.username.as_deref(), Some("apikey"));
    assert_eq!(server.password.as_deref(), Some("SG.x/y@z"));
    let implicit = parse_smtp_url("smtps://u%40example.com:pw@smtp.example.com").unwrap();
    assert_eq!(
        (implicit.port, implicit.security),
        (465, SmtpSecurity::ImplicitTls)
    );
    assert_eq!(implicit.username.as_deref(), Some("u@example.com"));
    let relay = parse_smtp_url("smtp://127.0.0.1?tls=none").unwrap();
    assert_eq!((relay.port, relay.security), (25, SmtpSecurity::None));
    assert_eq!((relay.username, relay.password), (None, None));
    let v6 = parse_smtp_url("smtps://[2001:db8::25]:2465").unwrap();
    assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::25", 2465));
}

#[test]
fn validation_errors_never_echo_the_password() {
    for url in [
        format!("smtp://user:{PASSWORD}@relay.local?tls=none"),
        format!("smtp://user:{PASSWORD}@host/path"),
        format!("ftp://user:{PASSWORD}@host"),
        format!("smtp://user:{PASSWORD}@ho st"),
    ] {
        let config = config(&url);
        let error = EmailProvider.validate(&config).unwrap_err().to_string();
        assert!(
            !error.contains(PASSWORD) && !error.contains("s3cr"),
            "{error}"
        );
        assert_eq!(Redactor::from_config(&config).scrub(&error), error);
    }
}

fn mail_request(password: Option<&str>) -> Outbound {
    Outbound::Mail(MailRequest {
        server: parse_smtp_url("smtps://user:pw@smtp.example.com")
            .map(|mut s| {
                s.password = password.map(str::to_owned);
                s
            })
            .unwrap(),
        from: "a@example.com".into(),
        to: vec!["b@example.com".into()],
        message: b"Message-ID: <m1@example.com>\r\nSubject: x\r\n\r\nbody\r\n".to_vec(),
    })
}

#[test]
fn classification_follows_smtp_reply_codes() {
    let request = mail_request(Some("pw-secret"));
    let classify = |code, text: &str| EmailProvider.classify(&request, &response(code, &[], text));
    assert_eq!(
        classify(250, "2.0.0 queued as 1234"),
        Outcome::Delivered {
            external_id: Some("<m1@example.com>".into())
        }
    );
    for code in [421, 450, 451, 452] {
        let outcome = classify(code, "4.2.0 try later");
        assert!(
            matches!(&outcome, Outcome::Retry { after: None, reason } if reason.starts_with(&format!("SMTP {code}"))),
            "{code}: {outcome:?}"
        );
    }
    for code in [550, 551, 552, 553, 554] {
        let outcome = classify(code, "5.1.1 mailbox unavailable");
        assert!(
            matches!(&outcome, Outcome::Failed { reason } if reason == &format!("SMTP {code}: 5.1.1 mailbox unavailable")),
            "{code}: {outcome:?}"
        );
    }
    for code in [530, 535] {
        let outcome = classify(code, "5.7.8 bad credentials pw-secret");
        let Outcome::Failed { reason } = &outcome else {
            panic!("{code}: {outcome:?}")
        };
        assert!(reason.contains("authentication"), "{reason}");
        assert!(!reason.contains("pw-secret"), "{reason}");
    }
    // A connection test's 221 after QUIT is a success with no message id.
    let test = Outbound::Mail(MailRequest {
        message: Vec::new(),
        ..match mail_request(None) {
            Outbound::Mail(mail) => mail,
            _ => unreachable!(),
        }
    });
    assert_eq!(
        EmailProvider.classify(&test, &response(221, &[], "bye")),
        Outcome::Delivered { external_id: None }
    );
}

#[test]
fn the_destination_is_the_smtp_server() {
    let destination = EmailProvider.destination(&config("smtps://u:pw@smtp.example.com"));
    assert_eq!(destination.key, "email:smtp.example.com:465");
    assert_eq!(destination.rate, None);
}

#[tokio::test]
async fn delivers_through_smtp_with_the_envelope_and_message() {
    let fake = SmtpFake::start().await;
    let fixture = Fixture::new(Kind::Email, event());
    let config = local(&fake);
    let result = exchange(&loopback_sender(), &EmailProvider, &fixture.ctx(), &config).await;
    let [session] = fake.sessions().try_into().unwrap();
    assert_eq!(session.mail_from.as_deref(), Some("alerts@example.com"));
    assert_eq!(session.rcpt_to, ["ops@example.com", "oncall@example.com"]);
    assert_eq!(session.auth, None, "no login configured, none sent");
    assert_eq!(
        session.commands,
        ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    );
    let parsed = Parsed::of(session.message.as_deref().unwrap());
    assert_eq!(parsed.header("subject"), "[HIGH] Apply prod-network");
    assert!(parsed.part("text/plain").contains("3 to add, 1 to change"));
    assert!(parsed.part("text/html").contains("3 to add, 1 to change"));
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some(parsed.header("message-id"))
        }
    );
    assert_eq!(result.last_response.unwrap().status, 250);
}

#[tokio::test]
async fn a_follow_up_is_delivered_threaded_and_keeps_the_first_id() {
    let fake = SmtpFake::start().await;
    let config = local(&fake);
    let sender = loopback_sender();
    let first = Fixture::new(Kind::Email, event());
    let started = exchange(&sender, &EmailProvider, &first.ctx(), &config).await;
    let Outcome::Delivered {
        external_id: Some(root),
    } = started.outcome
    else {
        panic!("{:?}", started.outcome)
    };
    let resolved = Fixture::new(
        Kind::Email,
        json!({"type": "iac.run.applied", "status": "applied", "correlation_key": "run-42"}),
    )
    .with_prior(&root);
    let followed = exchange(&sender, &EmailProvider, &resolved.ctx(), &config).await;
    assert_eq!(
        followed.outcome,
        Outcome::Delivered {
            external_id: Some(root.clone())
        }
    );
    let sessions = fake.sessions();
    let reply = Parsed::of(sessions[1].message.as_deref().unwrap());
    assert_eq!(reply.header("in-reply-to"), root);
    assert_eq!(reply.header("references"), root);
}

#[tokio::test]
async fn a_message_cannot_end_data_early() {
    let fake = SmtpFake::start().await;
    let fixture = Fixture::new(
        Kind::Email,
        json!({"type": "x", "summary": "line\n.\nMAIL FROM:<evil@example.com>\n.."}),
    );
    let result = exchange(
        &loopback_sender(),
        &EmailProvider,
        &fixture.ctx(),
        &local(&fake),
    )
    .await;
    assert!(matches!(result.outcome, Outcome::Delivered { .. }));
    let [session] = fake.sessions().try_into().unwrap();
    assert_eq!(session.commands.iter().filter(|c| *c == "MAIL").count(), 1);
    let text = Parsed::of(session.message.as_deref().unwrap()).part("text/plain");
    assert!(
        text.contains("line\r\n.\r\nMAIL FROM:<evil@example.com>\r\n.."),
        "{text}"
    );
}

/// Credentials are refused in cleartext by validation, so the wire-level login is checked on a
/// rendered request whose server gets a login added by hand.
async fn send_with_login(
    fake: &SmtpFake,
    message: Vec<u8>,
) -> Result<crate::Response, crate::SendError> {
    let mut server = parse_smtp_url(&format!("smtp://{}?tls=none", fake.host_port())).unwrap();
    server.username = Some("herald@example.com".into());
    server.password = Some(PASSWORD.into());
    let mail = MailRequest {
        server,
        from: "alerts@example.com".into(),
        to: vec!["ops@example.com".into()],
        message,
    };
    loopback_sender().send(&Outbound::Mail(mail)).await
}

#[tokio::test]
async fn logs_in_with_plain_or_login() {
    let fake = SmtpFake::start().await;
    let fixture = Fixture::new(Kind::Email, event());
    let message = render_mail(&fixture, &local(&fake)).message;
    let response = send_with_login(&fake, message.clone()).await.unwrap();
    assert_eq!(response.status, 250);
    let auth = fake.sessions()[0].auth.clone().unwrap();
    assert_eq!(
        (
            auth.mechanism.as_str(),
            auth.username.as_str(),
            auth.password.as_str()
        ),
        ("PLAIN", "herald@example.com", PASSWORD)
    );

    fake.advertise_auth(&["LOGIN"]);
    send_with_login(&fake, message).await.unwrap();
    let auth = fake.sessions()[1].auth.clone().unwrap();
    assert_eq!(
        (auth.mechanism.as_str(), auth.password.as_str()),
        ("LOGIN", PASSWORD)
    );
}

#[tokio::test]
async fn a_rejected_login_fails_without_echoing_the_password() {
    let fake = SmtpFake::start().await;
    fake.reply(SmtpStage::Auth, 535, &format!("5.7.8 rejected {PASSWORD}"));
    let response = send_with_login(&fake, b"Subject: x\r\n\r\nx\r\n".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status, 535);
    let body = String::from_utf8(response.body.clone()).unwrap();
    assert!(!body.contains(PASSWORD), "{body}");
    let outcome = EmailProvider.classify(&mail_request(None), &response);
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.contains("authentication failed"))
    );
    let session = &fake.sessions()[0];
    assert!(session.message.is_none() && session.mail_from.is_none());
}

#[tokio::test]
async fn a_temporary_recipient_rejection_is_retried_before_any_data() {
    let fake = SmtpFake::start().await;
    fake.reply(SmtpStage::Rcpt, 450, "4.2.1 mailbox busy");
    let fixture = Fixture::new(Kind::Email, event());
    let result = exchange(
        &loopback_sender(),
        &EmailProvider,
        &fixture.ctx(),
        &local(&fake),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Retry {
            after: None,
            reason: "SMTP 450: 4.2.1 mailbox busy".into()
        }
    );
    let session = &fake.sessions()[0];
    assert!(!session.commands.contains(&"DATA".to_owned()));
    assert!(session.message.is_none());
}

#[tokio::test]
async fn a_permanent_data_rejection_fails() {
    let fake = SmtpFake::start().await;
    fake.reply(SmtpStage::Data, 550, "5.7.1 message refused");
    let fixture = Fixture::new(Kind::Email, event());
    let result = exchange(
        &loopback_sender(),
        &EmailProvider,
        &fixture.ctx(),
        &local(&fake),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            reason: "SMTP 550: 5.7.1 message refused".into()
        }
    );
}

#[tokio::test]
async fn the_connection_test_sends_no_mail() {
    let fake = SmtpFake::start().await;
    let fixture = Fixture::new(Kind::Email, json!({"type": "herald.test"})).for_test();
    let result = exchange(
        &loopback_sender(),
        &EmailProvider,
        &fixture.ctx(),
        &local(&fake),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    assert_eq!(fake.sessions()[0].commands, ["EHLO", "QUIT"]);

    // With a login, the test proves it.
    let response = send_with_login(&fake, Vec::new()).await.unwrap();
    assert_eq!(response.status, 221);
    let session = &fake.sessions()[1];
    assert_eq!(session.commands, ["EHLO", "AUTH", "QUIT"]);
    assert!(session.auth.is_some() && session.message.is_none());
}

#[tokio::test]
async fn required_starttls_is_never_skipped() {
    // The fake offers no STARTTLS, as a stripping attacker would not.
    let fake = SmtpFake::start().await;
    let config = config(&format!("smtp://herald:{PASSWORD}@{}", fake.host_port()));
    for fixture in [
        Fixture::new(Kind::Email, event()),
        Fixture::new(Kind::Email, event()).for_test(),
    ] {
        let result = exchange(&loopback_sender(), &EmailProvider, &fixture.ctx(), &config).await;
        let Outcome::Retry { reason, .. } = &result.outcome else {
            panic!("{:?}", result.outcome)
        };
        assert!(reason.contains("STARTTLS"), "{reason}");
        assert!(!reason.contains(PASSWORD));
    }
    for session in fake.sessions() {
        assert_eq!(
            session.commands,
            ["EHLO", "QUIT"],
            "no login, no mail in cleartext"
        );
    }
}

#[tokio::test]
async fn implicit_tls_never_speaks_cleartext_to_a_plain_server() {
    let fake = SmtpFake::start().await;
    let config = config(&format!("smtps://herald:{PASSWORD}@{}", fake.host_port()));
    let fixture = Fixture::new(Kind::Email, event());
    let result = exchange(&loopback_sender(), &EmailProvider, &fixture.ctx(), &config).await;
    let Outcome::Retry { reason, .. } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(reason.starts_with("could not connect: SMTP: "), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");
    // The fake reads the TLS ClientHello as garbage; what matters is that no SMTP was spoken.
    for session in fake.sessions() {
        assert!(
            session.commands.iter().all(|c| !matches!(
                c.as_str(),
                "EHLO" | "HELO" | "AUTH" | "MAIL" | "RCPT" | "DATA"
            )),
            "not one SMTP command in cleartext: {:?}",
            session.commands
        );
        assert!(session.auth.is_none());
    }
}
