//! `kiosk.toml`: what a site sets once for a kiosk (the packaged default is
//! `/etc/capture-kiosk/kiosk.toml`, documented line by line). Every key maps to something the
//! kiosk already has: a command-line flag (which overrides the file) or a setting in the
//! kiosk's database that `kiosk queue link` and `kiosk staff printer` also write. The file's
//! database settings are applied when the file's value changes, not at every start, so what
//! staff change on the day (the printer from the staff menu or `kiosk staff printer`) stays
//! until the site edits the file.

use crate::store::{AuditAction, Store};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The longest a kiosk keeps a photo the hub has confirmed, in hours (ten years).
const MAX_RETENTION_HOURS: u64 = 87_600;

/// Where an installed kiosk looks when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/capture-kiosk/kiosk.toml";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Zh,
    En,
}

/// A V4L2 camera by index (`0` is /dev/video0) or by device path (`/dev/kiosk-camera`, the
/// udev rule's stable name, resolved to its index at start).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CameraDevice {
    Index(u32),
    Path(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    /// `--kiosk-data`: the database, outbox and prints.
    pub data_dir: Option<PathBuf>,
    /// `--data-dir`: a folder with the site's own `specs/` and `profiles/`.
    pub site_data: Option<PathBuf>,
    /// `--english` when "en".
    pub language: Option<Language>,
    /// `--landscape`.
    pub landscape: Option<bool>,
    /// `--camera`.
    pub camera: Option<CameraDevice>,
    /// `--reader`: the ID-card reader's serial port.
    pub reader: Option<PathBuf>,
    pub hub: Option<HubSection>,
    pub printer: Option<PrinterSection>,
    pub voice: Option<VoiceSection>,
}

/// What `kiosk queue link` stores; the token is read from a file of its own (0640 root:kiosk)
/// so the config file can stay readable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    pub url: String,
    pub token_file: PathBuf,
    /// A PEM certificate to trust for the hub.
    pub ca: Option<PathBuf>,
    /// Hours a photo stays on the kiosk after the hub confirmed it.
    pub retention_hours: Option<u64>,
}

/// What `kiosk staff printer` stores.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterSection {
    /// The CUPS queue (`lpstat -p`); "" for none (sheets only saved to prints/).
    pub queue: Option<String>,
    pub layout: Option<String>,
    /// Where CUPS answers IPP, for the printer's state [default: http://localhost:631].
    pub server: Option<String>,
}

/// The spoken prompts (src/kiosk/voice); staff can change both on the day.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceSection {
    /// 0 to 100 (a share of the clips' own level).
    pub volume: Option<i64>,
    pub mute: Option<bool>,
}

impl KioskConfig {
    /// Reads `explicit` (which must exist) or else `default_path` (its absence means an
    /// unconfigured kiosk: every default, as on a developer's machine).
    pub fn load(explicit: Option<&Path>, default_path: &Path) -> Result<KioskConfig, ConfigError> {
        let path = match explicit {
            Some(p) => p,
            None if !default_path.exists() => return Ok(KioskConfig::default()),
            None => default_path,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        KioskConfig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<KioskConfig, ConfigError> {
        let config: KioskConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |field, problem: &str| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            problem: problem.to_owned(),
        };
        if let Some(hub) = &config.hub {
            let url = hub.url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(
                    "hub.url",
                    "must start with https:// (or http:// for a hub on this machine)",
                ));
            }
            if hub.retention_hours == Some(0) {
                return Err(invalid("hub.retention_hours", "must be at least 1 hour"));
            }
            // ten years: beyond it the purge's cutoff overflows into the future and would
            // delete every confirmed photo at once
            if hub.retention_hours.is_some_and(|h| h > MAX_RETENTION_HOURS) {
                return Err(invalid(
                    "hub.retention_hours",
                    "must be at most 87600 hours (ten years)",
                ));
            }
        }
        if let Some(layout) = config.printer.as_ref().and_then(|p| p.layout.as_deref()) {
            if let Err(e) = crate::photo::sheet::plan_sheet(layout, "6in", 300) {
                return Err(invalid("printer.layout", &e.to_string()));
            }
        }
        if let Some(v) = config.voice.as_ref().and_then(|v| v.volume) {
            if !(0..=100).contains(&v) {
                return Err(invalid("voice.volume", "must be 0 to 100"));
            }
        }
        Ok(config)
    }
}

impl CameraDevice {
    /// The V4L2 index: a path is followed to its `/dev/videoN`. A path that is not there (the
    /// camera unplugged at boot) gives None: the kiosk then looks for /dev/video0 as without
    /// the setting, and says so in the log.
    pub fn index(&self) -> Result<Option<u32>, String> {
        let path = match self {
            CameraDevice::Index(i) => return Ok(Some(*i)),
            CameraDevice::Path(p) => p,
        };
        let real = match std::fs::canonicalize(path) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the configured camera is not there; looking for /dev/video0");
                return Ok(None);
            }
        };
        real.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("video"))
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "camera: {} is {}, not a /dev/videoN device",
                    path.display(),
                    real.display()
                )
            })
    }
}

/// The database settings the file manages (the keys `kiosk queue link` and `kiosk staff
/// printer` write), each remembered under `site_config.<key>` once applied.
fn managed(config: &KioskConfig) -> Result<Vec<(&'static str, String)>, ConfigError> {
    use crate::upload::settings;
    let mut out = Vec::new();
    if let Some(hub) = &config.hub {
        let token =
            std::fs::read_to_string(&hub.token_file).map_err(|source| ConfigError::Read {
                path: hub.token_file.clone(),
                source,
            })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(ConfigError::Invalid {
                path: hub.token_file.clone(),
                field: "hub.token_file",
                problem: "the file is empty; put the token from `capture-hub add-kiosk` in it"
                    .into(),
            });
        }
        out.push((settings::HUB_URL, hub.url.trim().to_owned()));
        out.push((settings::HUB_TOKEN, token.to_owned()));
        if let Some(ca) = &hub.ca {
            let pem = std::fs::read_to_string(ca).map_err(|source| ConfigError::Read {
                path: ca.clone(),
                source,
            })?;
            out.push((settings::HUB_CA_PEM, pem));
        }
        if let Some(h) = hub.retention_hours {
            out.push((settings::RETENTION_HOURS, h.to_string()));
        }
    }
    if let Some(p) = &config.printer {
        if let Some(q) = &p.queue {
            out.push(("printer", q.trim().to_owned()));
        }
        if let Some(l) = &p.layout {
            out.push(("print_layout", l.trim().to_owned()));
        }
        if let Some(s) = &p.server {
            out.push(("printer_server", s.trim().to_owned()));
        }
    }
    if let Some(v) = &config.voice {
        if let Some(volume) = v.volume {
            out.push((crate::kiosk::voice::VOLUME_KEY, volume.to_string()));
        }
        if let Some(mute) = v.mute {
            out.push((crate::kiosk::voice::MUTE_KEY, mute.to_string()));
        }
    }
    Ok(out)
}

/// Writes the file's database settings whose value changed since they were last applied;
/// returns the keys written (never their values: the token is a secret).
pub fn apply(config: &KioskConfig, store: &Store) -> anyhow::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    for (key, value) in managed(config)? {
        let marker = format!("site_config.{key}");
        if store.get_setting(&marker)?.as_deref() == Some(value.as_str()) {
            continue;
        }
        store.set_settings(&[(key, value.as_str()), (marker.as_str(), value.as_str())])?;
        written.push(key);
    }
    if written.contains(&crate::upload::settings::HUB_URL)
        || written.contains(&crate::upload::settings::HUB_TOKEN)
    {
        store.audit("kiosk.toml", AuditAction::LinkHub, "")?;
    }
    if !written.is_empty() {
        tracing::info!(settings = ?written, "applied kiosk.toml to the kiosk's settings");
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KioskConfig, ConfigError> {
        KioskConfig::parse(text, Path::new("/etc/capture-kiosk/kiosk.toml"))
    }

    #[test]
    fn the_shipped_file_parses_and_sets_only_what_it_uncomments() {
        let text = include_str!("../../packaging/kiosk/kiosk.toml");
        let c = parse(text).unwrap();
        assert_eq!(
            c.data_dir.as_deref(),
            Some(Path::new("/var/lib/capture-kiosk"))
        );
        assert_eq!(c.reader.as_deref(), Some(Path::new("/dev/idreader")));
        assert_eq!(
            c.camera,
            Some(CameraDevice::Path("/dev/kiosk-camera".into()))
        );
        assert!(c.hub.is_none(), "no hub until the site names one");
    }

    #[test]
    fn a_missing_file_at_the_default_path_means_defaults() {
        let dir = std::env::temp_dir().join(format!("kiosk-config-{}", std::process::id()));
        let c = KioskConfig::load(None, &dir.join("kiosk.toml")).unwrap();
        assert_eq!(c, KioskConfig::default());
        // but one named on the command line must be there
        let e = KioskConfig::load(Some(&dir.join("kiosk.toml")), Path::new(DEFAULT_PATH));
        assert!(matches!(e, Err(ConfigError::Read { .. })), "{e:?}");
    }

    #[test]
    fn a_bad_value_names_the_line_and_the_field() {
        let e = parse("data_dir = \"/var/lib/capture-kiosk\"\nlandscape = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kiosk.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("landscape"), "{e}");

        let e = parse("language = \"fr\"\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("language"), "{e}");

        let e = parse("[hub]\nurl = \"ftp://hub\"\ntoken_file = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hub.url"), "{e}");

        let e = parse(
            "[hub]\nurl = \"https://hub\"\ntoken_file = \"/x\"\nretention_hours = 3000000000000\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("hub.retention_hours"), "{e}");

        let e = parse("[printer]\nlayout = \"9in*99\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("printer.layout"), "{e}");

        for bad in ["101", "-1"] {
            let e = parse(&format!("[voice]\nvolume = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("voice.volume") && e.contains("0 to 100"), "{e}");
        }
        let e = parse("[voice]\nmute = \"yes\"\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("mute"), "{e}");
    }

    #[test]
    fn a_misspelt_key_is_refused_with_its_name() {
        let e = parse("[hub]\nurl = \"https://hub\"\ntoken_file = \"/t\"\nretention = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn a_camera_is_an_index_or_a_device_path() {
        let c = parse("camera = 2\n").unwrap();
        assert_eq!(c.camera, Some(CameraDevice::Index(2)));
        assert_eq!(CameraDevice::Index(2).index(), Ok(Some(2)));
        // an unplugged camera's udev name: the kiosk starts and looks for /dev/video0
        let gone = CameraDevice::Path("/nonexistent/kiosk-camera".into());
        assert_eq!(gone.index(), Ok(None));
        // a path that is not a video device is a mistake in the file
        let e = CameraDevice::Path("/".into()).index().unwrap_err();
        assert!(e.contains("not a /dev/videoN"), "{e}");
    }

    #[test]
    fn settings_are_applied_once_so_staff_changes_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("kiosk-config-apply-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("hub-token");
        std::fs::write(&token, "tok-123\n").unwrap();
        let store = Store::open(&dir.join("kiosk.sqlite")).unwrap();
        let text = format!(
            "[hub]\nurl = \"https://hub.example:8600\"\ntoken_file = \"{}\"\nretention_hours = 48\n[printer]\nqueue = \"SELPHY\"\nserver = \"http://127.0.0.1:8631\"\n",
            token.display()
        );
        let c = parse(&text).unwrap();
        let written = apply(&c, &store).unwrap();
        assert_eq!(written.len(), 5, "{written:?}");
        let link = crate::upload::stored_link(&store).unwrap().unwrap();
        assert_eq!(
            (link.url.as_str(), link.token.as_str()),
            ("https://hub.example:8600", "tok-123")
        );
        assert_eq!(
            store.get_setting("printer").unwrap().as_deref(),
            Some("SELPHY")
        );
        assert_eq!(
            store.get_setting("printer_server").unwrap().as_deref(),
            Some("http://127.0.0.1:8631")
        );

        // staff choose another printer on the day; a restart with the same file keeps it
        store.set_setting("printer", "Other").unwrap();
        assert!(apply(&c, &store).unwrap().is_empty());
        assert_eq!(
            store.get_setting("printer").unwrap().as_deref(),
            Some("Other")
        );

        // the site edits the file: its new value wins
        let c2 = parse(&text.replace("SELPHY", "DNP")).unwrap();
        assert_eq!(apply(&c2, &store).unwrap(), vec!["printer"]);
        assert_eq!(
            store.get_setting("printer").unwrap().as_deref(),
            Some("DNP")
        );

        // the voice's volume and mute, like the printer: the file's value once, staff's after
        let voiced = parse(&format!(
            "{}[voice]\nvolume = 40\nmute = true\n",
            text.replace("SELPHY", "DNP")
        ))
        .unwrap();
        let written = apply(&voiced, &store).unwrap();
        assert_eq!(written, vec!["voice_volume", "voice_mute"]);
        let v = crate::kiosk::voice::VoiceSettings::from_store(&store).unwrap();
        assert_eq!((v.volume, v.muted), (40, true));
        v.next().save(&store).unwrap();
        assert!(apply(&voiced, &store).unwrap().is_empty());
        let v = crate::kiosk::voice::VoiceSettings::from_store(&store).unwrap();
        assert_eq!((v.volume, v.muted), (100, false), "staff's choice stays");

        // an unreadable token file is an error that names it
        std::fs::remove_file(&token).unwrap();
        let e = apply(&c, &store).unwrap_err().to_string();
        assert!(e.contains("hub-token"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
