//! Staff mode's tools: roster files on a USB stick, the staff PIN's rules, and the audit
//! trail's wording.

use crate::hub_protocol::RosterEntry;
use crate::roster::{parse_roster_csv, roster_text, seal_secret, secret_matches};
use crate::session::identify::password_digest;
use crate::store::{Store, StoreError};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub use crate::session::staff_pin::{pin_problem, DEFAULT_PIN, PIN_DIGITS};

/// The setting that holds the staff PIN sealed as roster passwords are (argon2id with its own
/// salt), written `LENGTH$PHC`: with the length known, a PIN is checked once, when its last
/// digit is typed, rather than at every digit from the fourth (each check costs tens of
/// milliseconds, on a worker thread).
const PIN_SETTING: &str = "staff_pin_argon2";
/// Kiosks before the sealed PIN kept an unsalted SHA-256 here: still accepted, and replaced by
/// the sealed form the first time the PIN is typed right.
const LEGACY_PIN_SETTING: &str = "staff_pin_sha256";
/// What `password_digest` is keyed with for the staff PIN.
const PIN_KEY: &str = "staff";

/// The staff PIN as the kiosk's database holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredPin {
    /// None set: the default PIN.
    Default,
    /// Sealed (argon2id), with the PIN's length.
    Sealed { length: usize, phc: String },
    /// An unsalted SHA-256 from an older kiosk.
    Legacy { digest: String },
}

impl StoredPin {
    /// Reads the PIN's setting; a database error is the caller's to handle (a kiosk that
    /// cannot read it must not fall back to the default PIN).
    pub fn read(store: &Store) -> Result<StoredPin, StoreError> {
        if let Some(v) = store.get_setting(PIN_SETTING)? {
            // a value that does not parse, even an empty one, matches nothing (never the
            // default PIN)
            let (length, phc) = v.split_once('$').unwrap_or(("0", ""));
            return Ok(StoredPin::Sealed {
                length: length.parse().unwrap_or(0),
                phc: phc.to_owned(),
            });
        }
        // the legacy digest is blanked, not deleted, once the PIN is sealed
        let legacy = store.get_setting(LEGACY_PIN_SETTING)?;
        Ok(match legacy.filter(|d| !d.is_empty()) {
            Some(digest) => StoredPin::Legacy { digest },
            None => StoredPin::Default,
        })
    }

    /// How many digits the PIN has, where that is known.
    pub fn length(&self) -> Option<usize> {
        match self {
            StoredPin::Default => Some(DEFAULT_PIN.len()),
            StoredPin::Sealed { length, .. } => Some(*length),
            StoredPin::Legacy { .. } => None,
        }
    }

    /// Whether `typed` is the PIN. For a sealed PIN this is argon2 (tens of milliseconds):
    /// never on the UI thread.
    pub fn matches(&self, typed: &str) -> bool {
        match self {
            StoredPin::Default => typed == DEFAULT_PIN,
            StoredPin::Sealed { length, phc } => {
                typed.len() == *length && secret_matches(Some(phc), PIN_KEY, typed)
            }
            StoredPin::Legacy { digest } => *digest == password_digest(PIN_KEY, typed),
        }
    }
}

/// The setting's value for a new PIN (argon2id: tens of milliseconds).
pub fn seal_pin(pin: &str) -> Result<String> {
    let phc = seal_secret(&password_digest(PIN_KEY, pin))?;
    Ok(format!("{}${phc}", pin.len()))
}

/// Stores a sealed PIN (from [`seal_pin`]) and blanks an older kiosk's unsalted digest, in one
/// transaction: either the new PIN is in force and the digest gone, or nothing changed.
pub fn store_sealed_pin(store: &Store, sealed: &str) -> Result<(), StoreError> {
    store.set_settings(&[(PIN_SETTING, sealed), (LEGACY_PIN_SETTING, "")])
}

/// Seals and stores a new staff PIN.
pub fn set_pin(store: &Store, pin: &str) -> Result<()> {
    Ok(store_sealed_pin(store, &seal_pin(pin)?)?)
}

/// Whether staff still use the default PIN (none of their own is set); an unreadable setting
/// says no (this only decides whether the hint shows).
pub fn default_pin_in_use(store: &Store) -> bool {
    StoredPin::read(store).is_ok_and(|p| p == StoredPin::Default)
}

/// Where a USB stick appears on a kiosk image (udisks mounts under /media or /run/media), and
/// the kiosk's own import folder.
pub fn default_import_roots(data_dir: &Path) -> Vec<PathBuf> {
    vec![
        data_dir.join("import"),
        PathBuf::from("/media"),
        PathBuf::from("/run/media"),
        PathBuf::from("/mnt"),
    ]
}

/// A CSV file that may be a roster.
#[derive(Clone, Debug, PartialEq)]
pub struct RosterFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub modified: std::time::SystemTime,
}

/// Folders below a root that are searched: /media/<user>/<stick>/<folder>.
const SEARCH_DEPTH: usize = 4;
/// More files than staff could pick from on one screen.
const MOST_FILES: usize = 8;
/// A roster of every candidate of a province is a few MB; anything far larger is not one.
const LARGEST_ROSTER: u64 = 32 << 20;

/// CSV files under `roots`, newest first. Unreadable folders (a stick pulled out while being
/// searched) are skipped.
pub fn find_roster_files(roots: &[PathBuf]) -> Vec<RosterFile> {
    let mut found = Vec::new();
    let mut folders: Vec<(PathBuf, usize)> = roots.iter().map(|r| (r.clone(), 0)).collect();
    while let Some((dir, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if meta.is_dir() && depth + 1 < SEARCH_DEPTH && !hidden {
                folders.push((path, depth + 1));
            } else if meta.is_file()
                && !hidden
                && path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                found.push(RosterFile {
                    path,
                    bytes: meta.len(),
                    modified: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                });
            }
        }
    }
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)));
    found.truncate(MOST_FILES);
    found
}

/// Reads and checks a roster file; nothing is imported unless every row is right.
pub fn read_roster_file(path: &Path) -> Result<Vec<RosterEntry>> {
    // the window names the file beside the reason, which is in both languages
    let bytes = capture_store::read_at_most(path, LARGEST_ROSTER)?;
    let text = roster_text(&bytes)?;
    let mut rows = parse_roster_csv(&text)?;
    // read on a worker thread, so the slow sealing of passwords stays off the UI thread
    crate::roster::seal_secrets(&mut rows)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_files_are_found_on_a_stick_newest_first() {
        let root = std::env::temp_dir().join(format!("kiosk-staff-{}", std::process::id()));
        let stick = root.join("media/kiosk/STICK/名单");
        std::fs::create_dir_all(&stick).unwrap();
        std::fs::create_dir_all(root.join("media/kiosk/STICK/.Trash")).unwrap();
        std::fs::write(stick.join("old.CSV"), "a").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(stick.join("新名单.csv"), "b").unwrap();
        std::fs::write(stick.join("photo.jpg"), "c").unwrap();
        std::fs::write(root.join("media/kiosk/STICK/.Trash/gone.csv"), "d").unwrap();
        let files = find_roster_files(&[root.join("media"), root.join("missing")]);
        let names: Vec<String> = files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["新名单.csv", "old.CSV"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
