//! A local plain-text SMTP server standing in for a mail provider: it records every session
//! (EHLO name, AUTH credentials, envelope, message) and answers RCPT, DATA and AUTH from a
//! script, so tests can see exactly what a client sent and how it reacts to 4xx and 5xx.
//! It never offers STARTTLS, which is what a stripping attacker would do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Which command a scripted reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStage {
    /// The greeting banner sent on connect.
    Greeting,
    Auth,
    Mail,
    Rcpt,
    /// The reply after the message's final `.`.
    Data,
}

/// Credentials a client authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

/// One connection as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct SmtpSession {
    pub ehlo: Option<String>,
    pub auth: Option<SmtpAuth>,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    /// The message after DATA, dot-unstuffed, without the final `.` line.
    pub message: Option<Vec<u8>>,
    /// Every command verb in order (`EHLO`, `AUTH`, `MAIL`, ...).
    pub commands: Vec<String>,
}

impl SmtpSession {
    pub fn message_text(&self) -> String {
        String::from_utf8_lossy(self.message.as_deref().unwrap_or_default()).into_owned()
    }
}

struct State {
    sessions: Vec<SmtpSession>,
    replies: Vec<(SmtpStage, u16, String)>,
    auth_mechanisms: Vec<String>,
}

impl State {
    fn scripted(&mut self, stage: SmtpStage) -> Option<(u16, String)> {
        let index = self.replies.iter().position(|(s, _, _)| *s == stage)?;
        let (_, code, text) = self.replies.remove(index);
        Some((code, text))
    }
}

#[derive(Clone)]
pub struct SmtpFake {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SmtpFake {
    /// Starts on an ephemeral loopback port, offering AUTH PLAIN and LOGIN and no STARTTLS.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP fake");
        let addr = listener.local_addr().expect("a bound address");
        let state = Arc::new(Mutex::new(State {
            sessions: Vec::new(),
            replies: Vec::new(),
            auth_mechanisms: vec!["PLAIN".into(), "LOGIN".into()],
        }));
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = accept_state.clone();
                tokio::spawn(async move {
                    // A client hanging up mid-session is a test's business, not the fake's.
                    let _ = serve(stream, state).await;
                });
            }
        });
        Self { addr, state }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://[user:pass@]127.0.0.1:port?tls=none` style URLs start from this.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// The next command of `stage` is answered with `code text` instead of the usual success;
    /// replies for the same stage are used in order, one per command.
    pub fn reply(&self, stage: SmtpStage, code: u16, text: &str) {
        self.state
            .lock()
            .unwrap()
            .replies
            .push((stage, code, text.to_owned()));
    }

    /// The AUTH mechanisms advertised in EHLO (PLAIN and LOGIN by default; none hides AUTH).
    pub fn advertise_auth(&self, mechanisms: &[&str]) {
        self.state.lock().unwrap().auth_mechanisms =
            mechanisms.iter().map(|m| m.to_string()).collect();
    }

    pub fn sessions(&self) -> Vec<SmtpSession> {
        self.state.lock().unwrap().sessions.clone()
    }
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let index = {
        let mut state = state.lock().unwrap();
        state.sessions.push(SmtpSession::default());
        state.sessions.len() - 1
    };
    let record = |f: &mut dyn FnMut(&mut SmtpSession)| {
        let mut state = state.lock().unwrap();
        f(&mut state.sessions[index]);
    };
    let scripted = |stage| state.lock().unwrap().scripted(stage);
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);

    let (code, text) = scripted(SmtpStage::Greeting).unwrap_or((220, "fake ESMTP ready".into()));
    reply(&mut write, code, &text).await?;
    if code >= 400 {
        return Ok(());
    }
    loop {
        let Some(line) = read_line(&mut lines).await? else {
            return Ok(());
        };
        let (verb, argument) = match line.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.to_owned()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        record(&mut |s| s.commands.push(verb.clone()));
        match verb.as_str() {
            "EHLO" | "HELO" => {
                record(&mut |s| s.ehlo = Some(argument.clone()));
                let mechanisms = state.lock().unwrap().auth_mechanisms.join(" ");
                let mut extensions = vec!["fake greets you".to_owned(), "8BITMIME".to_owned()];
                if !mechanisms.is_empty() {
                    extensions.push(format!("AUTH {mechanisms}"));
                }
                multiline(&mut write, 250, &extensions).await?;
            }
            "AUTH" => {
                let auth = authenticate(&argument, &mut lines, &mut write).await?;
                let Some(auth) = auth else {
                    reply(&mut write, 501, "malformed AUTH").await?;
                    continue;
                };
                record(&mut |s| s.auth = Some(auth.clone()));
                let (code, text) =
                    scripted(SmtpStage::Auth).unwrap_or((235, "authenticated".into()));
                reply(&mut write, code, &text).await?;
            }
            "MAIL" => {
                let (code, text) = scripted(SmtpStage::Mail).unwrap_or((250, "sender ok".into()));
                if code < 400 {
                    record(&mut |s| s.mail_from = Some(path_of(&argument)));
                }
                reply(&mut write, code, &text).await?;
            }
            "RCPT" => {
                let (code, text) =
                    scripted(SmtpStage::Rcpt).unwrap_or((250, "recipient ok".into()));
                if code < 400 {
                    record(&mut |s| s.rcpt_to.push(path_of(&argument)));
                }
                reply(&mut write, code, &text).await?;
            }
            "DATA" => {
                reply(&mut write, 354, "end data with <CR><LF>.<CR><LF>").await?;
                let message = read_data(&mut lines).await?;
                record(&mut |s| s.message = Some(message.clone()));
                let (code, text) = scripted(SmtpStage::Data).unwrap_or((250, "queued".into()));
                reply(&mut write, code, &text).await?;
            }
            "RSET" => {
                record(&mut |s| {
                    s.mail_from = None;
                    s.rcpt_to.clear();
                });
                reply(&mut write, 250, "reset").await?;
            }
            "NOOP" => reply(&mut write, 250, "ok").await?,
            "QUIT" => {
                reply(&mut write, 221, "bye").await?;
                return Ok(());
            }
            _ => reply(&mut write, 502, "command not implemented").await?,
        }
    }
}

type Lines = BufReader<tokio::net::tcp::OwnedReadHalf>;
type Writer = tokio::net::tcp::OwnedWriteHalf;

async fn read_line(lines: &mut Lines) -> std::io::Result<Option<String>> {
    let mut buffer = Vec::new();
    if lines.read_until(b'\n', &mut buffer).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&buffer);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn reply(write: &mut Writer, code: u16, text: &str) -> std::io::Result<()> {
    write
        .write_all(format!("{code} {text}\r\n").as_bytes())
        .await
}

async fn multiline(write: &mut Writer, code: u16, lines: &[String]) -> std::io::Result<()> {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let separator = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{separator}{line}\r\n"));
    }
    write.write_all(out.as_bytes()).await
}

/// `FROM:<a@b> SIZE=1` -> `a@b`
fn path_of(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].to_owned()
}

async fn read_data(lines: &mut Lines) -> std::io::Result<Vec<u8>> {
    let mut message = Vec::new();
    loop {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(message);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(message);
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        message.extend_from_slice(unstuffed);
    }
}

fn decode(text: &str) -> Option<String> {
    String::from_utf8(B64.decode(text.trim()).ok()?).ok()
}

/// Runs the AUTH exchange for PLAIN (with or without an initial response) and LOGIN.
async fn authenticate(
    argument: &str,
    lines: &mut Lines,
    write: &mut Writer,
) -> std::io::Result<Option<SmtpAuth>> {
    let mut words = argument.split_whitespace();
    let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    match mechanism.as_str() {
        "PLAIN" => {
            let encoded = match initial {
                Some(encoded) => encoded,
                None => {
                    reply(write, 334, "").await?;
                    read_line(lines).await?.unwrap_or_default()
                }
            };
            let Some(decoded) = decode(&encoded) else {
                return Ok(None);
            };
            let mut parts = decoded.split('\0');
            let (_authzid, username, password) = (parts.next(), parts.next(), parts.next());
            Ok(username.zip(password).map(|(username, password)| SmtpAuth {
                mechanism,
                username: username.to_owned(),
                password: password.to_owned(),
            }))
        }
        "LOGIN" => {
            let username = match initial {
                Some(encoded) => decode(&encoded),
                None => {
                    reply(write, 334, &B64.encode("Username:")).await?;
                    decode(&read_line(lines).await?.unwrap_or_default())
                }
            };
            reply(write, 334, &B64.encode("Password:")).await?;
            let password = decode(&read_line(lines).await?.unwrap_or_default());
            Ok(username.zip(password).map(|(username, password)| SmtpAuth {
                mechanism,
                username,
                password,
            }))
        }
        _ => Ok(None),
    }
}
