//! Runs a local program for the `script` provider.
//!
//! - No shell: the program is executed directly with its arguments as given.
//! - The environment is cleared except `PATH` (Herald's own, or a standard default), so the
//!   server's secrets (database URL, master key) never reach the script, while a
//!   `#!/usr/bin/env python3` line still finds its interpreter. The working directory is `/`.
//! - stdin gets the request's bytes and is then closed. stdout and stderr are read together,
//!   in arrival order, up to `max_output` bytes; the rest is read and dropped so the program
//!   never blocks on a full pipe.
//! - The program runs in its own process group. When the timeout passes, the whole group is
//!   killed (a shell script's children too) and the program reaped: [`SendError::Timeout`].
//! - The status is the exit code; a death by signal N is reported as 128 + N, as shells do.
//!   A program that cannot be started because it does not exist is status 127, one that is
//!   not executable 126 (the shell's codes), so the provider can fail the delivery for good.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::{sleep_until, timeout_at, Instant};

use super::SendError;
use crate::{ExecRequest, Response};

/// Used when Herald itself runs without a PATH.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// After the program exits, output still in flight (or held open by a child it left running
/// in the background) is awaited this long, then abandoned.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// A freshly written program can be briefly "text file busy" while another thread's fork
/// still holds it open for writing.
const BUSY_RETRIES: u32 = 5;

pub(super) async fn run(exec: &ExecRequest, max_output: usize) -> Result<Response, SendError> {
    let mut command = Command::new(&exec.program);
    command
        .args(&exec.args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);

    let mut child = match spawn(&mut command).await {
        Ok(child) => child,
        Err(error) => return not_started(&error),
    };
    let mut group = GroupKiller::new(&child);
    let deadline = Instant::now() + exec.timeout;

    let output = Mutex::new(Vec::new());
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let status = {
        let io = async {
            tokio::join!(
                feed(stdin, &exec.stdin),
                collect(stdout, &output, max_output),
                collect(stderr, &output, max_output),
            )
        };
        tokio::pin!(io);
        let mut io_done = false;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = &mut io, if !io_done => io_done = true,
                _ = sleep_until(deadline) => {
                    group.kill();
                    let _ = child.kill().await;
                    return Err(SendError::Timeout);
                }
            }
        };
        // The program is reaped; its group id may be reused from here on, so never signal it.
        group.disarm();
        if !io_done {
            let grace = (Instant::now() + DRAIN_GRACE).min(deadline);
            let _ = timeout_at(grace, &mut io).await;
        }
        status.map_err(|e| SendError::Other(format!("waiting for the script: {e}")))?
    };
    let body = output.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Response {
        status: status_code(status),
        headers: Vec::new(),
        body,
        received_at: Utc::now(),
    })
}

async fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Err(error) if error.kind() == io::ErrorKind::ExecutableFileBusy => {
                attempt += 1;
                if attempt > BUSY_RETRIES {
                    return Err(error);
                }
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

/// A program that is missing or not executable will not appear by retrying: it is answered
/// as a shell would (127, 126) for the provider to fail. Anything else (no memory, too many
/// processes) may pass, and is an error to retry.
fn not_started(error: &io::Error) -> Result<Response, SendError> {
    #[cfg(unix)]
    let exec_format = error.raw_os_error() == Some(rustix::io::Errno::NOEXEC.raw_os_error());
    #[cfg(not(unix))]
    let exec_format = false;
    let (status, text) = match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            (127, "the program (or its #! interpreter) was not found")
        }
        io::ErrorKind::PermissionDenied | io::ErrorKind::IsADirectory => {
            (126, "the program is not executable")
        }
        _ if exec_format => (
            126,
            "the program is not in an executable format (no #! line?)",
        ),
        _ => {
            return Err(SendError::Other(format!(
                "could not start the script: {error}"
            )))
        }
    };
    Ok(Response {
        status,
        headers: Vec::new(),
        body: text.as_bytes().to_vec(),
        received_at: Utc::now(),
    })
}

fn status_code(status: ExitStatus) -> u16 {
    if let Some(code) = status.code() {
        // Exit codes are 0..=255 on Unix; anything else is clamped rather than wrapped.
        return u16::try_from(code).unwrap_or(u16::MAX);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + u16::try_from(signal).unwrap_or(0);
        }
    }
    u16::MAX
}

/// Writes the input and closes stdin. A program that exits without reading it is fine.
async fn feed(stdin: Option<tokio::process::ChildStdin>, input: &[u8]) {
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(input).await;
        let _ = stdin.shutdown().await;
    }
}

/// Appends to the shared output until it holds `max` bytes, then keeps reading and drops the
/// rest, so the writer never blocks.
async fn collect(stream: Option<impl AsyncRead + Unpin>, output: &Mutex<Vec<u8>>, max: usize) {
    let Some(mut stream) = stream else { return };
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut output = output.lock().unwrap_or_else(|e| e.into_inner());
                let room = max.saturating_sub(output.len());
                output.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
}

/// Kills the program's whole process group: on timeout, and if the run is abandoned
/// (the future dropped) while the program may still be running.
struct GroupKiller {
    #[cfg(unix)]
    group: Option<rustix::process::Pid>,
    armed: bool,
}

impl GroupKiller {
    fn new(child: &Child) -> Self {
        Self {
            #[cfg(unix)]
            group: child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw),
            armed: true,
        }
    }

    fn kill(&mut self) {
        #[cfg(unix)]
        if let (Some(group), true) = (self.group, self.armed) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        self.armed = false;
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}
