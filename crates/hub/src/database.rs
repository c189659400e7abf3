//! Where the hub keeps its records, kiosks, reviewers, sessions, rosters and events: SQLite in
//! its data folder (one college, nothing to set up) or a PostgreSQL database that a province's
//! replicas share (`--database postgres://…`). Handlers reach either through [`Hub::db`],
//! which hands out the one SQLite connection under its mutex or a pooled PostgreSQL one.
//!
//! [`Hub::db`]: crate::Hub::db

use crate::db::{pg, HubDb};
use crate::sealing::SealingKey;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The environment variable that carries the PostgreSQL password (never the command line,
/// where every user of the machine can read it in the process list).
pub const PASSWORD_ENV: &str = "HUB_DATABASE_PASSWORD";

/// Which database the hub uses.
#[derive(Clone, Debug, Default)]
pub enum RecordStorage {
    /// `hub.sqlite` in the data folder.
    #[default]
    Sqlite,
    /// A PostgreSQL database the replicas share.
    Postgres(PgSettings),
}

/// A PostgreSQL database: its URL (without a password) and the connection settings.
#[derive(Clone)]
pub struct PgSettings {
    /// The URL as given, for messages (it carries no password).
    pub url: String,
    config: Arc<postgres::Config>,
    /// TLS verified against the database's CA (`--database-ca`); required for a database
    /// that is not on this machine.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why a database setting is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseSettingError {
    #[error("{0:?} is not a PostgreSQL URL such as postgres://hub@db.example:5432/hub (or postgres://hub@localhost/hub?host=/run/postgresql for a socket): {1}")]
    NotAUrl(String, String),
    #[error("the database URL carries a password, which a command line or hub.toml shows to every user of the machine; give the URL without it and put the password in the environment variable {PASSWORD_ENV} or in a file named by database_password_file in hub.toml (--database-password-file)")]
    PasswordInUrl,
    #[error("cannot read the database password file {0}: {1}")]
    PasswordFile(PathBuf, String),
    #[error("the database at {0} is reached over the network, where ID numbers and names must not travel in the clear: give the database server's CA certificate with --database-ca (database_ca in hub.toml), so the connection is encrypted and the server verified")]
    NeedsTls(String),
    #[error("cannot use {0} as the database's CA certificate: {1}")]
    Ca(PathBuf, String),
}

impl PgSettings {
    pub(crate) fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// Checks that `url` is a PostgreSQL URL without a password (hub.toml is read early).
    pub fn check_url(url: &str) -> Result<(), DatabaseSettingError> {
        Self::parse(url).map(drop)
    }

    pub(crate) fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.tls.clone()
    }

    /// Parses `url`, refusing one with a password in it; the password, if any, comes from
    /// `password_file` or else from [`PASSWORD_ENV`]. The database must be on this machine (a
    /// Unix socket, localhost): see [`PgSettings::with_ca`] for one across the network.
    pub fn new(url: &str, password_file: Option<&Path>) -> Result<Self, DatabaseSettingError> {
        Self::with_ca(url, password_file, None)
    }

    /// Like [`PgSettings::new`]; with `ca_file` (PEM) every connection is TLS verified against
    /// it. Without it, a database host that is not a Unix socket or this machine is refused.
    pub fn with_ca(
        url: &str,
        password_file: Option<&Path>,
        ca_file: Option<&Path>,
    ) -> Result<Self, DatabaseSettingError> {
        let mut config = Self::parse(url)?;
        let tls = match ca_file {
            Some(file) => Some(Arc::new(client_tls(file)?)),
            None => {
                if let Some(host) = remote_host(&config) {
                    return Err(DatabaseSettingError::NeedsTls(host));
                }
                None
            }
        };
        let password = match password_file {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        DatabaseSettingError::PasswordFile(file.to_owned(), e.to_string())
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()),
        };
        if let Some(p) = password {
            config.password(p);
        }
        Ok(PgSettings {
            url: url.to_owned(),
            config: Arc::new(config),
            tls,
        })
    }

    fn parse(url: &str) -> Result<postgres::Config, DatabaseSettingError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DatabaseSettingError::NotAUrl(
                redacted(url),
                "it must start with postgres://".into(),
            ));
        }
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            DatabaseSettingError::NotAUrl(redacted(url), e.to_string())
        })?;
        if config.get_password().is_some() {
            return Err(DatabaseSettingError::PasswordInUrl);
        }
        Ok(config)
    }
}

/// `url` with any password in it replaced by `…`, for a message about a URL that did not parse
/// (the password check comes after parsing).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":…" } else { "" };
            format!("{scheme}://{user}{hidden}@{hosts}{tail}")
        }
        None => url.to_owned(),
    }
}

/// The first host of `config` that is neither a Unix socket nor this machine (a `hostaddr`
/// counts: the client connects to it whatever `host` says).
fn remote_host(config: &postgres::Config) -> Option<String> {
    use postgres::config::Host;
    if let Some(addr) = config.get_hostaddrs().iter().find(|a| !a.is_loopback()) {
        return Some(addr.to_string());
    }
    config.get_hosts().iter().find_map(|h| match h {
        Host::Unix(_) => None,
        Host::Tcp(name) => {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            let local = name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            (!local).then(|| name.to_owned())
        }
    })
}

/// A TLS client that trusts only the CA certificates in `file`.
fn client_tls(file: &Path) -> Result<rustls::ClientConfig, DatabaseSettingError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let fail = |e: String| DatabaseSettingError::Ca(file.to_owned(), e);
    let pem = capture_store::read_at_most(file, 1 << 20).map_err(|e| fail(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not a PEM certificate: {e}")))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificate in it".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The open database of a running hub.
pub(crate) enum Database {
    Local(Mutex<HubDb>),
    Shared(Arc<pg::Pool>, Arc<SealingKey>),
}

impl Database {
    /// Opens `hub.sqlite` in `data_dir`, or connects to PostgreSQL and migrates its schema.
    pub fn open(
        storage: &RecordStorage,
        data_dir: &Path,
        sealing: Arc<SealingKey>,
    ) -> anyhow::Result<Database> {
        Ok(match storage {
            RecordStorage::Sqlite => Database::Local(Mutex::new(HubDb::open(
                &data_dir.join("hub.sqlite"),
                sealing,
            )?)),
            RecordStorage::Postgres(s) => Database::Shared(
                pg::Pool::open(s.config().clone(), s.tls())
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .map_err(|e| e.context(format!("connecting to the database {}", s.url)))?,
                sealing,
            ),
        })
    }

    pub fn handle(&self) -> DbHandle<'_> {
        match self {
            // a handler that panicked while holding the lock left no half-written transaction
            // (SQLite rolled it back), so the connection is still usable
            Database::Local(m) => DbHandle::Local(m.lock().unwrap_or_else(|p| p.into_inner())),
            Database::Shared(pool, sealing) => {
                DbHandle::Pooled(HubDb::pooled(pool, sealing.clone()))
            }
        }
    }
}

/// The database for one handler or admin task: the SQLite connection under its lock, or a
/// PostgreSQL connection leased from the pool (given back when this is dropped).
pub enum DbHandle<'a> {
    Local(MutexGuard<'a, HubDb>),
    Pooled(HubDb),
}

impl Deref for DbHandle<'_> {
    type Target = HubDb;
    fn deref(&self) -> &HubDb {
        match self {
            DbHandle::Local(g) => g,
            DbHandle::Pooled(db) => db,
        }
    }
}

impl DerefMut for DbHandle<'_> {
    fn deref_mut(&mut self) -> &mut HubDb {
        match self {
            DbHandle::Local(g) => g,
            DbHandle::Pooled(db) => db,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_password_is_refused_saying_where_the_password_goes() {
        let e = PgSettings::new("postgres://hub:hunter2@db.example/hub", None).unwrap_err();
        assert_eq!(e, DatabaseSettingError::PasswordInUrl);
        let shown = e.to_string();
        assert!(
            shown.contains(PASSWORD_ENV) && shown.contains("database_password_file"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let e = PgSettings::new("postgres://hub:s3cret@db/x?sslmode=bogus", None).unwrap_err();
        assert!(matches!(e, DatabaseSettingError::NotAUrl(..)), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = PgSettings::new("mysql://hub@db/hub", None).unwrap_err();
        assert!(matches!(e, DatabaseSettingError::NotAUrl(..)), "{e}");
        let s = PgSettings::new("postgres://hub@localhost/hub?host=/run/postgresql", None)
            .expect("a socket URL");
        assert_eq!(s.config.get_dbname(), Some("hub"));
    }

    #[test]
    fn a_database_across_the_network_needs_its_ca_and_one_on_this_machine_does_not() {
        for url in [
            "postgres://hub@db.exam-office.example:5432/hub",
            "postgres://hub@10.1.2.3/hub",
            "postgres://hub@localhost,db2.example/hub",
            // hostaddr is where the client connects, whatever host says
            "postgres://hub@localhost/hub?hostaddr=10.1.2.3",
        ] {
            let e = PgSettings::new(url, None).unwrap_err();
            assert!(matches!(e, DatabaseSettingError::NeedsTls(_)), "{url}: {e}");
            assert!(e.to_string().contains("--database-ca"), "{e}");
        }
        for url in [
            "postgres://hub@localhost/hub",
            "postgres://hub@127.0.0.1:5432/hub",
            "postgres://hub@[::1]:5432/hub",
            "postgres://hub@localhost/hub?host=/run/postgresql",
        ] {
            let s = PgSettings::new(url, None).expect(url);
            assert!(s.tls.is_none(), "{url}");
        }
        // a CA file that is missing or holds no certificate is said, naming the file
        let missing = std::path::Path::new("/nonexistent/db-ca.pem");
        let e =
            PgSettings::with_ca("postgres://hub@db.example/hub", None, Some(missing)).unwrap_err();
        assert!(matches!(e, DatabaseSettingError::Ca(..)) && e.to_string().contains("db-ca.pem"));
        let empty = std::env::temp_dir().join(format!("hub-db-ca-{}", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").expect("file");
        let e =
            PgSettings::with_ca("postgres://hub@db.example/hub", None, Some(&empty)).unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let _ = std::fs::remove_file(&empty);
    }

    #[test]
    fn the_password_comes_from_its_file() {
        let file = std::env::temp_dir().join(format!("hub-db-password-{}", std::process::id()));
        std::fs::write(&file, "s3cret\n").expect("file");
        let s = PgSettings::new("postgres://hub@localhost/hub", Some(&file)).expect("settings");
        assert_eq!(s.config.get_password(), Some(&b"s3cret"[..]));
        assert!(!format!("{s:?}").contains("s3cret"));
        let _ = std::fs::remove_file(&file);
        let gone = PgSettings::new("postgres://hub@localhost/hub", Some(&file)).unwrap_err();
        assert!(
            matches!(gone, DatabaseSettingError::PasswordFile(..)),
            "{gone}"
        );
    }
}
