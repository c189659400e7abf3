//! The fleet's services, each a child process or folder owned by a guard that stops or removes
//! it when dropped (also on an error or a panic): the scratch folder, the S3-compatible server
//! and the hub replicas.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a child may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A private scratch folder, removed when dropped unless it is to be kept.
pub struct Scratch {
    pub path: PathBuf,
    pub keep: bool,
}

impl Scratch {
    pub fn new(parent: &Path, keep: bool) -> Result<Scratch> {
        let path = parent.join(format!(
            "kiosk-bench-fleet-{}",
            uuid::Uuid::now_v7().simple()
        ));
        // the hub and the kiosk refuse a data folder other users can read
        capture_kiosk::store::tighten_dir(&path)?;
        Ok(Scratch { path, keep })
    }

    /// A private sub-folder.
    pub fn folder(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        capture_kiosk::store::tighten_dir(&dir)?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            tracing::info!(folder = %self.path.display(), "scratch folder kept");
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A child process killed and reaped when dropped.
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `child`'s stdout and stderr aside; the first line that contains `marker` is returned
/// from where the marker starts, within [`START_TIMEOUT`]. Other output goes to `log`.
fn wait_for_line(child: &mut Child, marker: &'static str, log: Option<PathBuf>) -> Result<String> {
    let (tx, rx) = mpsc::channel();
    let outs = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for out in outs.into_iter().flatten() {
        let tx = tx.clone();
        let log = log.clone();
        std::thread::spawn(move || {
            let mut file = log.and_then(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            });
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(at) = line.find(marker) {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
    }
    rx.recv_timeout(START_TIMEOUT)
        .map_err(|_| anyhow!("no {marker:?} line within {} s", START_TIMEOUT.as_secs()))
}

/// Moto's S3 server on loopback (`scripts/setup` installs it in `target/moto-venv`), with one
/// empty bucket.
pub struct S3Server {
    _child: Guarded,
    pub endpoint: String,
}

impl S3Server {
    pub fn start(server: &Path, bucket: &str) -> Result<S3Server> {
        let mut child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", server.display()))?;
        // werkzeug says where it listens on stderr (stdout in some versions)
        let endpoint = wait_for_line(&mut child, "http://127.0.0.1:", None);
        let child = Guarded(child);
        let s3 = S3Server {
            _child: child,
            endpoint: endpoint.context("the S3 server did not start")?,
        };
        s3.create_bucket(bucket)?;
        Ok(s3)
    }

    /// CreateBucket as a bare request: the test server does not check signatures.
    fn create_bucket(&self, name: &str) -> Result<()> {
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        if !answer.starts_with("HTTP/1.1 200") {
            bail!(
                "the S3 server refused to make bucket {name}: {}",
                answer.lines().next().unwrap_or("")
            );
        }
        Ok(())
    }

    /// The `AWS_…` settings a hub needs for a bucket on this server.
    pub fn env(&self) -> Vec<(String, String)> {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        vec![
            pair("AWS_ENDPOINT", &self.endpoint),
            pair("AWS_REGION", "us-east-1"),
            pair("AWS_ACCESS_KEY_ID", "fleet-bench"),
            pair("AWS_SECRET_ACCESS_KEY", "fleet-bench-secret"),
            pair("AWS_ALLOW_HTTP", "true"),
            pair("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
        ]
    }
}

/// How every replica (and every admin command) is started: the program, the arguments that
/// name the shared database and bucket, and the environment with their credentials.
#[derive(Clone)]
pub struct HubCommand {
    pub binary: PathBuf,
    pub shared_args: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

impl HubCommand {
    /// `kiosk hub --data DATA` with the shared arguments and environment; the caller adds
    /// the rest (`--listen …`, an admin command).
    pub fn command(&self, data: &Path) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("hub").arg("--data").arg(data).args(&self.shared_args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs an admin command (`kiosk hub … add-reviewer` and the like) on the data folder
    /// `data`, with `stdin` as its input; its standard output.
    pub fn admin(&self, data: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut child = self
            .command(data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.binary.display()))?;
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "`kiosk hub {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// One hub replica: a `kiosk hub` process on its own loopback port with its own data folder
/// (its database and bucket are the shared ones the command names).
pub struct Replica {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Guarded>,
    /// The highest VmHWM (KiB) seen over all its lives.
    peak_kib: u64,
}

impl Replica {
    /// Starts replica `n`; its logs go to `hub-N.log` in `dir`.
    pub fn start(hub: &HubCommand, dir: &Path, n: usize) -> Result<Replica> {
        let mut r = Replica {
            port: 0,
            data: dir.join(format!("replica-{n}")),
            log: dir.join(format!("hub-{n}.log")),
            child: None,
            peak_kib: 0,
        };
        r.launch(hub)?;
        Ok(r)
    }

    fn launch(&mut self, hub: &HubCommand) -> Result<()> {
        let mut child = hub
            .command(&self.data)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("KIOSK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", hub.binary.display()))?;
        let said = wait_for_line(&mut child, "hub listening on ", Some(self.log.clone()));
        let child = Guarded(child);
        let said = said.with_context(|| {
            format!(
                "a hub replica did not start (its log: {})",
                self.log.display()
            )
        })?;
        let port = said
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| anyhow!("the hub said {said:?}"))?;
        self.port = port;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.0.id())
    }

    /// Reads the process's peak memory into `peak_kib` (it is lost once the process exits).
    pub fn sample_memory(&mut self) {
        if let Some(pid) = self.pid() {
            if let Some(kib) = vm_hwm_kib(pid) {
                self.peak_kib = self.peak_kib.max(kib);
            }
        }
    }

    /// SIGKILL, as a machine that loses power or an OOM kill: no shutdown code runs.
    pub fn kill(&mut self) {
        self.sample_memory();
        self.child = None;
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self, hub: &HubCommand) -> Result<()> {
        self.kill();
        self.launch(hub)
    }

    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

/// VmHWM of `pid` in KiB (Linux /proc).
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
