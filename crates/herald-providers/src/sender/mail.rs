//! SMTP submission for the `email` provider.
//!
//! The host is resolved here and every address checked against the outbound policy; the
//! connection goes only to a checked address while TLS still verifies the configured host
//! name. SMTP rejections come back as a [`Response`] carrying the reply code, so the provider
//! classifies them; only transport failures are errors. No error text carries the login.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use tokio::time::{timeout, timeout_at, Instant};

use super::{OutboundPolicy, SendError, Sender};
use crate::{MailRequest, Response, SmtpSecurity};

/// QUIT after the outcome is known is a courtesy; a silent server must not delay us.
const QUIT_GRACE: Duration = Duration::from_secs(2);

pub(super) async fn send(sender: &Sender, mail: &MailRequest) -> Result<Response, SendError> {
    let limits = Limits {
        connect: sender.connect_timeout,
        total: sender.total_timeout,
        max_reply_bytes: sender.max_response_bytes,
    };
    send_with(sender.policy(), &limits, mail).await
}

pub(super) struct Limits {
    pub connect: Duration,
    pub total: Duration,
    pub max_reply_bytes: usize,
}

pub(super) async fn send_with(
    policy: &OutboundPolicy,
    limits: &Limits,
    mail: &MailRequest,
) -> Result<Response, SendError> {
    let deadline = Instant::now() + limits.total;
    let addresses = timeout_at(
        deadline,
        resolve(policy, &mail.server.host, mail.server.port),
    )
    .await
    .map_err(|_| SendError::Timeout)??;
    let server = &mail.server;
    let tls = match server.security {
        SmtpSecurity::ImplicitTls | SmtpSecurity::StartTls => Some(
            TlsParameters::new(server.host.clone())
                .map_err(|e| SendError::Other(format!("TLS setup: {e}")))?,
        ),
        SmtpSecurity::None => None,
    };
    // No hostname is looked up: an address literal is always a valid EHLO argument.
    let hello = ClientId::default();
    let implicit = match server.security {
        SmtpSecurity::ImplicitTls => tls.clone(),
        _ => None,
    };
    let connect = AsyncSmtpConnection::connect_tokio1(
        addresses.as_slice(),
        Some(limits.connect),
        &hello,
        implicit,
        None,
    );
    let mut connection = match timeout_at(deadline, connect).await {
        Err(_) => return Err(SendError::Timeout),
        Ok(Err(error)) => return answer(error, mail, limits),
        Ok(Ok(connection)) => connection,
    };
    let mut open = true;
    let dialogue = dialogue(&mut connection, &mut open, mail, tls, &hello);
    let result = match timeout_at(deadline, dialogue).await {
        Err(_) => Err(SendError::Timeout),
        Ok(Ok(reply)) => Ok(response(reply.code().into(), &joined(&reply), mail, limits)),
        Ok(Err(Failure::Smtp(error))) => answer(error, mail, limits),
        Ok(Err(Failure::Refused(error))) => Err(error),
    };
    if open && !connection.has_broken() {
        let _ = timeout(QUIT_GRACE, connection.quit()).await;
    }
    result
}

enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Refused(SendError),
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(error: lettre::transport::smtp::Error) -> Self {
        Failure::Smtp(error)
    }
}

/// STARTTLS if required, AUTH if there is a login, then the message; a connection test (an
/// empty message) ends with QUIT instead, whose reply is the answer.
async fn dialogue(
    connection: &mut AsyncSmtpConnection,
    open: &mut bool,
    mail: &MailRequest,
    tls: Option<TlsParameters>,
    hello: &ClientId,
) -> Result<lettre::transport::smtp::response::Response, Failure> {
    let server = &mail.server;
    if server.security == SmtpSecurity::StartTls {
        if !connection.can_starttls() {
            return Err(Failure::Refused(SendError::Connect(
                "the SMTP server does not offer STARTTLS; refusing to continue in cleartext \
                 (smtp_url may say tls=none only for a trusted local relay)"
                    .into(),
            )));
        }
        // Fail closed: without TLS parameters there is no upgrade, and no cleartext either.
        let tls = tls.ok_or_else(|| {
            Failure::Refused(SendError::Other("TLS is required but not set up".into()))
        })?;
        connection.starttls(tls, hello).await?;
    }
    if let (Some(username), Some(password)) = (&server.username, &server.password) {
        let credentials = Credentials::new(username.clone(), password.clone());
        connection
            .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
            .await?;
    }
    if mail.message.is_empty() {
        *open = false;
        return Ok(connection.quit().await?);
    }
    let envelope = envelope(mail).map_err(Failure::Refused)?;
    Ok(connection.send(&envelope, &mail.message).await?)
}

fn envelope(mail: &MailRequest) -> Result<Envelope, SendError> {
    let parse = |raw: &str| {
        Address::from_str(raw).map_err(|_| SendError::Other("an address is not valid".into()))
    };
    let from = parse(&mail.from)?;
    let to = mail
        .to
        .iter()
        .map(|raw| parse(raw))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| SendError::Other(format!("envelope: {e}")))
}

/// Only checked addresses are handed to the connector, so no later lookup can swap in an
/// address the policy refuses.
async fn resolve(
    policy: &OutboundPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, SendError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        policy.check(ip)?;
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| SendError::Connect(format!("could not resolve the SMTP host: {e}")))?
        .collect();
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
        (true, Some(refusal)) => Err(SendError::Blocked(refusal)),
        (true, None) => Err(SendError::Connect(
            "the SMTP host resolved to no address".into(),
        )),
        (false, _) => Ok(allowed),
    }
}

/// A negative SMTP reply becomes a [`Response`] with its code; anything else is a transport
/// failure. lettre's messages name no credentials; the reply text is scrubbed all the same.
fn answer(
    error: lettre::transport::smtp::Error,
    mail: &MailRequest,
    limits: &Limits,
) -> Result<Response, SendError> {
    if let Some(code) = error.status() {
        let text = std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default();
        return Ok(response(code.into(), &text, mail, limits));
    }
    if error.is_timeout() {
        return Err(SendError::Timeout);
    }
    // lettre nests "Connection error: ..." wrappers; the innermost cause says what happened.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    let detail = scrub(&detail, mail);
    if error.is_client() || error.is_response() {
        Err(SendError::Other(format!("SMTP: {detail}")))
    } else {
        Err(SendError::Connect(format!("SMTP: {detail}")))
    }
}

/// The reply's lines joined with spaces.
fn joined(reply: &lettre::transport::smtp::response::Response) -> String {
    reply.message().collect::<Vec<_>>().join(" ")
}

fn response(status: u16, text: &str, mail: &MailRequest, limits: &Limits) -> Response {
    let mut body = scrub(text, mail).into_bytes();
    body.truncate(limits.max_reply_bytes);
    Response {
        status,
        headers: Vec::new(),
        body,
        received_at: Utc::now(),
    }
}

fn scrub(text: &str, mail: &MailRequest) -> String {
    let mut out = text.to_owned();
    for secret in [&mail.server.password, &mail.server.username]
        .into_iter()
        .flatten()
    {
        if secret.len() >= 3 {
            out = out.replace(secret.as_str(), "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SmtpSecurity, SmtpServer};

    fn mail(host: &str, port: u16, security: SmtpSecurity) -> MailRequest {
        MailRequest {
            server: SmtpServer {
                host: host.into(),
                port,
                security,
                username: Some("herald".into()),
                password: Some("hunter2-secret".into()),
            },
            from: "alerts@example.com".into(),
            to: vec!["ops@example.com".into()],
            message: b"Subject: x\r\n\r\nhello\r\n".to_vec(),
        }
    }

    fn loopback() -> OutboundPolicy {
        OutboundPolicy::new(OutboundPolicy::parse_allow_list("127.0.0.0/8").unwrap())
    }

    fn limits(total_ms: u64) -> Limits {
        Limits {
            connect: Duration::from_millis(total_ms),
            total: Duration::from_millis(total_ms),
            max_reply_bytes: 1024,
        }
    }

    #[tokio::test]
    async fn a_server_that_never_greets_times_out_within_the_limit() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(socket);
        });
        let started = std::time::Instant::now();
        let error = send_with(
            &loopback(),
            &limits(300),
            &mail("127.0.0.1", port, SmtpSecurity::None),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, SendError::Timeout), "{error}");
        assert!(started.elapsed() < Duration::from_secs(3));
        held.abort();
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error_without_the_login() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = send_with(
            &loopback(),
            &limits(2000),
            &mail("127.0.0.1", port, SmtpSecurity::ImplicitTls),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, SendError::Connect(_)), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn refused_addresses_are_never_contacted() {
        let policy = OutboundPolicy::default();
        for host in [
            "127.0.0.1",
            "[::1]",
            "::1",
            "localhost",
            "10.1.2.3",
            "169.254.169.254",
        ] {
            let error = send_with(&policy, &limits(2000), &mail(host, 25, SmtpSecurity::None))
                .await
                .unwrap_err();
            assert!(matches!(error, SendError::Blocked(_)), "{host}: {error}");
        }
    }
}
