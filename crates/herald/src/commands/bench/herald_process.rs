//! Herald under test, in its own process: `herald serve` (this very binary) on a fresh
//! database, so that its RSS is Herald's alone and the load generator and the sink do not
//! share its runtime.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use tokio::process::{Child, Command};

use super::http::Connection;

pub const TOKEN: &str = "bench-owner-token-0123456789abcdef";

/// Where Herald keeps its data in one run.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    /// A server on which each run creates (and afterwards drops) a database of its own.
    Postgres(String),
}

impl Backend {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw == "sqlite" {
            Ok(Self::Sqlite)
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self::Postgres(raw.to_owned()))
        } else {
            Err(format!("`{raw}` is neither `sqlite` nor a postgres:// URL"))
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

pub struct HeraldProcess {
    child: Child,
    pid: u32,
    pub addr: SocketAddr,
    data: tempfile::TempDir,
    /// The PostgreSQL server and the name of the database made for this run.
    database: Option<(String, String)>,
}

impl HeraldProcess {
    /// Starts `herald serve` with a bootstrap token and waits until it answers `/healthz`.
    /// `HERALD_*` variables in the environment (for example `HERALD_WORKERS`) pass through.
    /// `wrapper` runs Herald under another program, a profiler for example.
    pub async fn start(
        backend: &Backend,
        workers: Option<usize>,
        wrapper: &[String],
    ) -> Result<Self, String> {
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(server) => Some((server.clone(), create_database(server).await?)),
        };
        let database_url = database
            .as_ref()
            .map(|(server, name)| database_url_on(server, name));
        let addr = free_local_addr()?;
        let log =
            std::fs::File::create(data.path().join("herald.log")).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        command
            .arg("serve")
            .env("HERALD_LISTEN", addr.to_string())
            .env("HERALD_DATA_DIR", data.path())
            .env("HERALD_BOOTSTRAP_TOKEN", TOKEN)
            .env(
                "HERALD_MASTER_KEY",
                herald_crypto::MasterKey::generate().to_base64(),
            )
            .env("HERALD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
            .env(
                "HERALD_LOG",
                std::env::var("HERALD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("HERALD_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        if let Some(url) = &database_url {
            command.env("HERALD_DATABASE_URL", url);
        }
        if let Some(workers) = workers {
            command.env("HERALD_WORKERS", workers.to_string());
        }
        let child = command
            .spawn()
            .map_err(|e| format!("start herald serve: {e}"))?;
        let pid = child.id().ok_or("herald serve exited at once")?;
        let mut herald = Self {
            child,
            pid,
            addr,
            data,
            database,
        };
        herald.wait_until_healthy().await?;
        Ok(herald)
    }

    async fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "herald serve exited ({status}): {}",
                    self.log_tail()
                ));
            }
            if let Ok(mut connection) = Connection::open(self.addr, None).await {
                let answer = connection
                    .send(hyper::Method::GET, "/healthz", Default::default())
                    .await;
                if answer.is_ok_and(|a| a.status.is_success()) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "herald serve did not answer /healthz: {}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines Herald logged, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data.path().join("herald.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Herald's peak resident set size so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|e| format!("read Herald's memory use: {e}"))?;
        parse_vm_hwm_mib(&status).ok_or_else(|| "no VmHWM in /proc/<pid>/status".into())
    }

    /// Stops Herald (SIGTERM, so a profiler around it writes its output; SIGKILL after 30 s)
    /// and drops its PostgreSQL database.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        if let Some((server, name)) = self.database.take() {
            let mut admin = sqlx::PgConnection::connect(&server)
                .await
                .map_err(|e| format!("connect to {server}: {e}"))?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .map_err(|e| format!("drop the bench database {name}: {e}"))?;
        }
        Ok(())
    }
}

fn parse_vm_hwm_mib(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A port nobody listens on now. Herald binds it a moment later; on a busy machine another
/// process could take it first, and the start then fails with Herald's own message.
fn free_local_addr() -> Result<SocketAddr, String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    probe.local_addr().map_err(|e| e.to_string())
}

/// Creates an empty database on the server of `server_url` and returns its name.
async fn create_database(server_url: &str) -> Result<String, String> {
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(|e| format!("connect to {server_url}: {e}"))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = format!("herald_bench_{}_{stamp}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| {
            format!("create a bench database on {server_url} (the role needs CREATEDB): {e}")
        })?;
    Ok(name)
}

/// The URL of database `name` on the server of `server_url`, with the same options.
fn database_url_on(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    format!("{}/{name}{query}", server_part(base))
}

/// `postgres://user@host:port` of a URL, without the database path.
fn server_part(url: &str) -> &str {
    let authority = url.find("://").map_or(0, |i| i + 3);
    match url[authority..].find('/') {
        Some(slash) => &url[..authority + slash],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_sqlite_or_a_postgres_url() {
        assert_eq!(Backend::parse("sqlite"), Ok(Backend::Sqlite));
        assert_eq!(
            Backend::parse("postgres://u@h/db"),
            Ok(Backend::Postgres("postgres://u@h/db".into()))
        );
        assert!(Backend::parse("mysql://h/db").is_err());
    }

    #[test]
    fn the_bench_database_lives_on_the_given_server() {
        assert_eq!(
            database_url_on("postgres://u@h:5432/test?sslmode=disable", "b1"),
            "postgres://u@h:5432/b1?sslmode=disable"
        );
        assert_eq!(
            server_part("postgres://u@h:5432/test"),
            "postgres://u@h:5432"
        );
        assert_eq!(server_part("postgres://u@h:5432"), "postgres://u@h:5432");
    }

    #[test]
    fn peak_rss_is_read_from_vm_hwm() {
        let status =
            "Name:\therald\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_vm_hwm_mib(status), Some(50.0));
        assert_eq!(parse_vm_hwm_mib("Name:\therald\n"), None);
    }
}
