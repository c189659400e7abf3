//! `hub.toml`: what a site sets once for its hub (the packaged default is
//! `/etc/capture-hub/hub.toml`, which listens on localhost until told otherwise). Each key is a
//! command-line option of `capture-hub` (and `kiosk hub`); a flag given on the command line
//! overrides the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The largest disk reserve a site may set (1 TiB): more is a typo for a smaller number.
pub const MAX_DISK_RESERVE_MIB: u64 = 1 << 20;

/// Where an installed hub looks when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/capture-hub/hub.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// toml's message names the line, the column and the key.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {field}: {problem}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        problem: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data`
    pub data: Option<PathBuf>,
    /// `--secure-cookies`
    pub secure_cookies: Option<bool>,
    /// `--max-request-mib`
    pub max_request_mib: Option<usize>,
    /// `--disk-reserve-mib`
    pub disk_reserve_mib: Option<u64>,
    /// `--objects` (keys from the environment, never this file)
    pub objects: Option<String>,
    /// `--sealing-key`
    pub sealing_key: Option<PathBuf>,
    /// `--database` (a PostgreSQL URL without a password)
    pub database: Option<String>,
    /// `--database-password-file`
    pub database_password_file: Option<PathBuf>,
    /// `--database-ca`
    pub database_ca: Option<PathBuf>,
    /// `--trusted-proxy`, each balancer's address
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,
    pub tls: Option<TlsSection>,
    pub retention: Option<RetentionSection>,
}

/// `--tls-cert` and `--tls-key`, both or neither.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `capture-hub purge`'s `--withdrawn-days`, `--replaced-days` and `--decided-days`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    pub withdrawn_days: Option<u32>,
    pub replaced_days: Option<u32>,
    pub decided_days: Option<u32>,
}

impl HubFile {
    /// Reads `explicit` (which must exist) or else `default_path` (its absence means every
    /// default, as on a developer's machine).
    pub fn load(explicit: Option<&Path>, default_path: &Path) -> Result<HubFile, ConfigError> {
        let path = match explicit {
            Some(p) => p,
            None if !default_path.exists() => return Ok(HubFile::default()),
            None => default_path,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        HubFile::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<HubFile, ConfigError> {
        let file: HubFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |field, problem: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            problem,
        };
        if let Some(listen) = &file.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(invalid(
                    "listen",
                    format!("{listen:?} is not an address and port such as \"127.0.0.1:8600\""),
                ));
            }
        }
        if let Some(mib) = file.max_request_mib {
            if !(1..=256).contains(&mib) {
                return Err(invalid("max_request_mib", format!("{mib} is not 1 to 256")));
            }
        }
        if let Some(mib) = file.disk_reserve_mib {
            if mib > MAX_DISK_RESERVE_MIB {
                return Err(invalid(
                    "disk_reserve_mib",
                    format!("{mib} is not 0 to {MAX_DISK_RESERVE_MIB}"),
                ));
            }
        }
        if let Some(objects) = &file.objects {
            if !objects.starts_with("s3://") {
                return Err(invalid(
                    "objects",
                    format!("{objects:?} is not s3://BUCKET[/PREFIX]"),
                ));
            }
        }
        if let Some(url) = &file.database {
            // a password in hub.toml (world-readable as shipped) is refused like one on the
            // command line, with the same message saying where it goes
            if let Err(e) = crate::PgSettings::check_url(url) {
                return Err(invalid("database", e.to_string()));
            }
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HubFile, ConfigError> {
        HubFile::parse(text, Path::new("/etc/capture-hub/hub.toml"))
    }

    #[test]
    fn the_shipped_file_listens_on_localhost() {
        let f = parse(include_str!("../../../packaging/hub/hub.toml")).unwrap();
        let listen: std::net::SocketAddr = f.listen.unwrap().parse().unwrap();
        assert!(listen.ip().is_loopback(), "{listen}");
        assert_eq!(f.data.as_deref(), Some(Path::new("/var/lib/capture-hub")));
        assert!(f.tls.is_none());
    }

    #[test]
    fn a_missing_file_at_the_default_path_means_defaults() {
        let gone = std::env::temp_dir().join(format!("hub-config-{}/hub.toml", std::process::id()));
        assert_eq!(HubFile::load(None, &gone).unwrap(), HubFile::default());
        let e = HubFile::load(Some(&gone), Path::new(DEFAULT_PATH));
        assert!(matches!(e, Err(ConfigError::Read { .. })), "{e:?}");
    }

    #[test]
    fn a_bad_value_names_the_line_and_the_field() {
        let e = parse("data = \"/srv/hub\"\nmax_request_mib = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hub.toml") && e.contains("line 2"), "{e}");
        assert!(e.contains("max_request_mib"), "{e}");

        let e = parse("disk_reserve_mib = 5000000\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("disk_reserve_mib:"), "{e}");
        let f = parse("disk_reserve_mib = 2048\n").unwrap();
        assert_eq!(f.disk_reserve_mib, Some(2048));

        let e = parse("listen = \"localhost\"\n").unwrap_err().to_string();
        assert!(e.contains("listen:"), "{e}");

        let e = parse("[tls]\ncert = \"/etc/capture-hub/tls/hub.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key"),
            "a half TLS section names what is missing: {e}"
        );

        let e = parse("[retention]\ndecided_days = -1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("decided_days"), "{e}");

        let e = parse("database = \"postgres://hub:hunter2@db.example/hub\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("database:")
                && e.contains("HUB_DATABASE_PASSWORD")
                && !e.contains("hunter2"),
            "a password in hub.toml is refused, saying where it goes: {e}"
        );
        let f = parse("database = \"postgres://hub@localhost/hub?host=/run/postgresql\"\ndatabase_password_file = \"/etc/capture-hub/db-password\"\n")
            .unwrap();
        assert!(f.database.is_some() && f.database_password_file.is_some());

        let e = parse("listn = \"127.0.0.1:8600\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listn"), "{e}");
    }
}
