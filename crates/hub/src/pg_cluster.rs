//! A throwaway PostgreSQL for tests and benchmarks: `initdb` and `pg_ctl` in a private temp
//! folder, listening only on a Unix socket in that folder (no TCP port, no password: only
//! this machine's user who owns the folder, and root, can reach it), stopped and removed on
//! drop. No system service is involved, so it needs Debian's `postgresql` package installed
//! (`scripts/setup` does) and nothing started.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: there the cluster runs as the
//! unprivileged `postgres` user Debian's package creates (or `nobody`), which is given the
//! folder; as a normal user it runs as that user.

use anyhow::{bail, Context};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

/// The superuser the cluster is made with (no password: the socket's folder is the fence).
pub const SUPERUSER: &str = "hub";

/// The port only names the socket file (`.s.PGSQL.5432`): nothing listens on TCP.
const PORT: u16 = 5432;

/// Server settings for a cluster that is thrown away: no fsync (a test needs no durability
/// across a power cut, and fsync on this machine's disk would make every commit slow) and
/// room for many hubs' connection pools at once.
const TEST_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "''"),
    ("max_connections", "300"),
    ("shared_buffers", "64MB"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("log_min_messages", "warning"),
];

/// A private PostgreSQL cluster that lives as long as this value.
pub struct ThrowawayCluster {
    dir: PathBuf,
    /// The socket's number, and the TCP port of a cluster made by `start_tls`.
    port: u16,
    /// Who runs the server when this process is root.
    run_as: Option<(u32, u32)>,
    running: AtomicBool,
}

impl ThrowawayCluster {
    /// Makes and starts a fresh cluster (about a second on this machine).
    pub fn start() -> anyhow::Result<ThrowawayCluster> {
        Self::start_with(&[])
    }

    /// Like [`ThrowawayCluster::start`], with server settings added to (or overriding) the
    /// test settings, e.g. `("fsync", "on")` for a benchmark that should pay for durable
    /// commits.
    pub fn start_with(settings: &[(&str, &str)]) -> anyhow::Result<ThrowawayCluster> {
        Self::make(settings, PORT, None)
    }

    /// A cluster that also listens on 127.0.0.1:`port`, where it takes connections only over
    /// TLS with `cert_pem` and `key_pem` as its certificate (a database across the network,
    /// as a province runs it); the socket stays for [`ThrowawayCluster::create_database`].
    pub fn start_tls(
        port: u16,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> anyhow::Result<ThrowawayCluster> {
        Self::make(
            &[("listen_addresses", "'127.0.0.1'"), ("ssl", "on")],
            port,
            Some((cert_pem, key_pem)),
        )
    }

    /// A cluster that also listens on 127.0.0.1:`port` in the clear (no TLS at all): what a
    /// hub told to use TLS must refuse rather than fall back to.
    pub fn start_plain_tcp(port: u16) -> anyhow::Result<ThrowawayCluster> {
        Self::make(&[("listen_addresses", "'127.0.0.1'")], port, None)
    }

    /// The TCP URL of database `db` on a cluster made by [`ThrowawayCluster::start_tls`].
    pub fn tcp_url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    fn make(
        settings: &[(&str, &str)],
        port: u16,
        tls: Option<(&[u8], &[u8])>,
    ) -> anyhow::Result<ThrowawayCluster> {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "capture-pg-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("making {}", dir.display()))?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let run_as = unprivileged_user()?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the cluster's user", dir.display()))?;
        }
        let cluster = ThrowawayCluster {
            dir,
            port,
            run_as,
            running: AtomicBool::new(false),
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "--auth=trust".as_ref(),
                "--no-locale".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let mut conf = format!(
            "\n# capture_hub::pg_cluster\nunix_socket_directories = '{}'\nport = {port}\n",
            cluster.dir.display()
        );
        for (k, v) in TEST_SETTINGS.iter().chain(settings) {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        let conf_file = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_file)
            .with_context(|| format!("reading {}", conf_file.display()))?;
        text.push_str(&conf);
        std::fs::write(&conf_file, text)
            .with_context(|| format!("writing {}", conf_file.display()))?;
        if let Some((cert, key)) = tls {
            cluster.write_private(&data.join("server.crt"), cert)?;
            cluster.write_private(&data.join("server.key"), key)?;
            // the socket as before; over TCP only TLS
            cluster.write_private(
                &data.join("pg_hba.conf"),
                b"local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            )?;
        }
        cluster.start_again()?;
        Ok(cluster)
    }

    /// The folder holding the data, the socket and the server's log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The URL of database `db` for `kiosk hub --database` (the socket's folder as `host`).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost/{db}?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    /// Makes an empty database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.admin(&format!("CREATE DATABASE \"{}\"", plain(name)?))?;
        Ok(self.url(name))
    }

    /// Drops database `name` if it exists, cutting its connections.
    pub fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        self.admin(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            plain(name)?
        ))
    }

    fn admin(&self, statement: &str) -> anyhow::Result<()> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .context("connecting to the throwaway cluster")?;
        client
            .batch_execute(statement)
            .with_context(|| statement.to_owned())
    }

    /// Starts the server again after [`ThrowawayCluster::stop`] (waits until it answers).
    pub fn start_again(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let log = self.log_file();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Stops the server; open connections are cut (what a crash or a failover looks like to
    /// the hub).
    pub fn stop(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Stops and starts the server.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop()?;
        self.start_again()
    }

    /// Writes a file only the cluster's user may read (the server refuses a key others can).
    fn write_private(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the cluster's user", path.display()))?;
        }
        Ok(())
    }

    /// Runs one of PostgreSQL's programs as the cluster's user; fails with its output.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
        let path = postgres_program(program)?;
        let mut cmd = Command::new(&path);
        cmd.args(args).current_dir(&self.dir);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        let out = cmd
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            bail!(
                "{} failed ({}): {}{}\n{}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(out)
    }
}

impl ThrowawayCluster {
    /// Stops the server at once and removes the folder (drop, or the end of the process for
    /// the shared cluster).
    fn shut_down(&self) {
        if self.running.swap(false, Ordering::SeqCst) {
            let data = self.data_dir();
            // immediate: nothing in a throwaway cluster is worth a checkpoint
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        self.shut_down();
    }
}

static SHARED: OnceLock<Result<ThrowawayCluster, String>> = OnceLock::new();

extern "C" fn stop_shared() {
    if let Some(Ok(c)) = SHARED.get() {
        c.shut_down();
    }
}

/// One cluster for the whole test process, started on first use and stopped when the process
/// exits (a static is never dropped, so an `atexit` handler stops it). Tests give each hub its
/// own database in it (`create_database`) rather than a cluster each (a second apiece).
pub fn shared() -> anyhow::Result<&'static ThrowawayCluster> {
    let started = SHARED.get_or_init(|| {
        let c = ThrowawayCluster::start().map_err(|e| format!("{e:#}"))?;
        // SAFETY: registers a plain function with no captured state; it runs once at exit
        unsafe {
            libc::atexit(stop_shared);
        }
        Ok(c)
    });
    started.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A fresh database in the shared cluster, migrated and opened as the hub opens it (unit tests
/// of `db`).
#[cfg(test)]
pub fn test_database(name: &str) -> anyhow::Result<crate::db::HubDb> {
    let url = shared()?.create_database(name)?;
    let settings = crate::database::PgSettings::new(&url, None)?;
    let pool = crate::db::pg::Pool::open(settings.config().clone(), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sealing = std::sync::Arc::new(crate::sealing::SealingKey::generate()?);
    Ok(crate::db::HubDb::pooled(&pool, sealing))
}

/// A database name that needs no escaping.
fn plain(name: &str) -> anyhow::Result<&str> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("{name:?} is not a plain database name (letters, digits, - and _)");
    }
    Ok(name)
}

/// `initdb`, `pg_ctl`: from `$PG_BIN` if set, else the `PATH`, else Debian's
/// `/usr/lib/postgresql/VERSION/bin` (newest version), which Debian does not put on the `PATH`.
fn postgres_program(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let p = Path::new(&dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).with_context(|| {
        format!("{name} is missing: install Debian's postgresql package (scripts/setup does)")
    })
}

/// When this process is root: the uid and gid of `postgres` (made by Debian's package) or
/// `nobody`, since PostgreSQL will not run as root. None otherwise.
fn unprivileged_user() -> anyhow::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions and cannot fail
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        let Ok(cname) = std::ffi::CString::new(name) else {
            continue;
        };
        // SAFETY: getpwnam reads a NUL-terminated name and returns a pointer to static storage
        // or null; the fields are copied out at once, before any other call could reuse it
        // (tests that start clusters concurrently may race here, but both read the same
        // entries of /etc/passwd)
        let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: pw is non-null and points at a passwd record
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Ok(Some((uid, gid)));
        }
    }
    bail!("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throwaway_cluster_starts_makes_databases_restarts_and_is_removed() {
        let cluster = ThrowawayCluster::start().expect("cluster starts");
        let dir = cluster.dir().to_owned();
        let url = cluster.create_database("first").expect("database");
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
        let one: i32 = c.query_one("SELECT 1", &[]).expect("query").get(0);
        assert_eq!(one, 1);
        cluster.restart().expect("restarts");
        assert!(
            c.query_one("SELECT 1", &[]).is_err(),
            "a restart cuts open connections"
        );
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("reconnects");
        let db: String = c
            .query_one("SELECT current_database()", &[])
            .expect("query")
            .get(0);
        assert_eq!(db, "first");
        assert!(
            cluster.create_database("bad name;").is_err(),
            "only plain names"
        );
        drop(c);
        drop(cluster);
        assert!(!dir.exists(), "the folder is removed");
    }
}
