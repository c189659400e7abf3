//! What the hub keeps of candidates sealed at rest, and the key it is sealed with. Photos and
//! document photos (`sealed_photos.rs`) and the roster's personal fields (name, ID number,
//! ethnicity, address, phone: `db/access.rs`), candidate numbers (`db/candidates.rs`, which
//! also keeps a keyed digest to look them up by) and reviewers' notes are encrypted and
//! authenticated
//! (ChaCha20-Poly1305, `ring`, which the hub's TLS already builds) under a 256-bit key that
//! neither the photo store nor the database holds. A copied data folder, a database dump, a
//! backup, a bucket readable by the wrong account or a disk from a scrapped server shows no
//! face, name or ID number without the key; what was altered, or moved to another object or
//! row, does not open (each seal binds where it belongs), so a reviewer is never shown one
//! candidate's face or name as another's.
//!
//! The key lives where the site puts it: a file given by `--sealing-key` (`sealing_key` in
//! hub.toml), best on another disk or as the systemd credential `sealing-key`
//! (`LoadCredentialEncrypted=`, sealed to the machine's TPM, `$CREDENTIALS_DIRECTORY`); without
//! one, `sealing.key` in the data folder, made at first start (which still keeps faces out of a
//! copy of `photos/` or of a bucket, and names out of a database dump). Replicas sharing a
//! bucket and a database must share the key, so a bucket without a key given is refused.
//!
//! What an earlier version stored in clear is sealed at the first start that finds it (photos:
//! `SealedPhotos::seal_clear`; roster fields: `HubDb::seal_clear_roster`); from then on what is
//! found in clear was not written by the hub, and is refused.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hmac;
use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

/// What a sealed object begins with (a JPEG begins FF D8, so the two are never confused).
pub(crate) const SEAL_HEADER: &[u8; 8] = b"CKSEAL01";
/// What a sealed text field begins with, before the base64 of its nonce, ciphertext and tag.
const TEXT_HEADER: &str = "sealed1:";
/// What an indexed text begins with, before the hex of its keyed digest.
const INDEX_HEADER: &str = "index1:";
/// What the index's own key is derived with from the sealing key's bytes.
const INDEX_LABEL: &[u8] = b"capture-hub candidate index v1";
/// The key made in the data folder when the site gives none.
pub const DATA_FOLDER_KEY: &str = "sealing.key";
/// The systemd credential's name (`LoadCredentialEncrypted=sealing-key:…`).
pub const CREDENTIAL_NAME: &str = "sealing-key";

/// Where the sealing key comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SealingKeySource {
    /// `sealing.key` in the data folder, made at first start.
    #[default]
    DataFolder,
    /// A key file the site keeps apart from the data (another disk, a systemd credential).
    File(PathBuf),
}

impl SealingKeySource {
    /// `--sealing-key` or `sealing_key` if given, else the systemd credential `sealing-key` if the
    /// service has one, else the data folder's.
    pub fn choose(given: Option<PathBuf>) -> SealingKeySource {
        if let Some(file) = given {
            return SealingKeySource::File(file);
        }
        std::env::var_os("CREDENTIALS_DIRECTORY")
            .map(|dir| Path::new(&dir).join(CREDENTIAL_NAME))
            .filter(|file| file.is_file())
            .map_or(SealingKeySource::DataFolder, SealingKeySource::File)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealingKeyError {
    #[error("the sealing key {0} cannot be read ({1}); give the file the hub's photos were sealed with (--sealing-key, sealing_key in hub.toml), or for a new hub make one: (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > {0})")]
    Unreadable(PathBuf, String),
    #[error("the sealing key {0} can be read by other users of this machine (mode {1:04o}); run: chmod 600 {0}")]
    Open(PathBuf, u32),
    #[error("{0} is not a sealing key: it must hold 64 hex digits (make one with: (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > {0}))")]
    NotAKey(PathBuf),
    #[error("a new sealing key could not be made at {0} ({1})")]
    NotMade(PathBuf, String),
    #[error("the sealing key is not the one this hub's photos and rosters were sealed with: give that key (--sealing-key FILE, sealing_key in hub.toml, or the systemd credential {CREDENTIAL_NAME}; administration commands need it as the service does, and every replica the same one); with another key nothing stored could be read")]
    DoesNotOpen,
    #[error("photos in a bucket are read by every replica, which must all hold the same key: give it with --sealing-key FILE (sealing_key in hub.toml) or as the systemd credential {CREDENTIAL_NAME}")]
    BucketNeedsKey,
}

/// The key photos are sealed with. Never printed.
pub struct SealingKey {
    cipher: LessSafeKey,
    /// Derived from the same 32 bytes: the keyed digest a candidate's number is found by
    /// (`index_text`), so equal numbers still match in SQL while a dump shows none of them.
    index: hmac::Key,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key `source` names; the data folder's is made if it does not exist yet.
    pub fn load(source: &SealingKeySource, data_dir: &Path) -> Result<SealingKey, SealingKeyError> {
        match source {
            SealingKeySource::File(file) => Self::read(file),
            SealingKeySource::DataFolder => {
                let file = data_dir.join(DATA_FOLDER_KEY);
                Self::make_if_missing(&file)?;
                Self::read(&file)
            }
        }
    }

    /// A fresh key held only in memory (tests, throwaway databases).
    pub fn generate() -> Result<SealingKey, SealingKeyError> {
        let memory = Path::new("memory");
        Self::from_bytes(&random_key(memory)?, memory)
    }

    /// The key of 32 bytes read from (or made for) `file`.
    fn from_bytes(bytes: &[u8; 32], file: &Path) -> Result<SealingKey, SealingKeyError> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| SealingKeyError::NotAKey(file.to_owned()))?;
        // a key of its own for the index, never the cipher's: one use per key
        let index = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), INDEX_LABEL);
        Ok(SealingKey {
            cipher: LessSafeKey::new(key),
            index: hmac::Key::new(hmac::HMAC_SHA256, index.as_ref()),
        })
    }

    fn make_if_missing(file: &Path) -> Result<(), SealingKeyError> {
        if file.exists() {
            return Ok(());
        }
        let hex: String = random_key(file)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let not_made = |e: io::Error| SealingKeyError::NotMade(file.to_owned(), e.to_string());
        // written whole to a file of its own, then linked in under the key's name: a crash
        // or another process starting at the same moment never leaves a half-written key
        let hex_bytes = format!("{hex}\n");
        let unique = file.with_extension(format!("new-{}-{}", std::process::id(), &hex[..8]));
        capture_store::write_private_new(&unique, hex_bytes.as_bytes()).map_err(not_made)?;
        let linked = std::fs::hard_link(&unique, file);
        let _ = std::fs::remove_file(&unique);
        match linked {
            Ok(()) => {
                tracing::info!(target: "hub", "made a new sealing key in the data folder");
                Ok(())
            }
            // another process of this hub (an administration command) made it first
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(not_made(e)),
        }
    }

    fn read(file: &Path) -> Result<SealingKey, SealingKeyError> {
        use std::io::Read;
        let unreadable = |e: io::Error| SealingKeyError::Unreadable(file.to_owned(), e.to_string());
        // opened once: the permissions checked are those of the file read
        let mut opened = std::fs::File::open(file).map_err(unreadable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = opened.metadata().map_err(unreadable)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SealingKeyError::Open(file.to_owned(), mode));
            }
        }
        let mut text = Vec::with_capacity(80);
        // a key is 64 digits and a newline: anything much longer is not one
        opened
            .by_ref()
            .take(1024)
            .read_to_end(&mut text)
            .map_err(unreadable)?;
        let bytes =
            parse_hex_key(&text).ok_or_else(|| SealingKeyError::NotAKey(file.to_owned()))?;
        Self::from_bytes(&bytes, file)
    }

    /// `bytes` sealed as the object `name`: header, nonce, ciphertext and tag.
    pub fn seal(&self, name: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut sealed = SEAL_HEADER.to_vec();
        sealed.extend_from_slice(&self.seal_raw(name, bytes)?);
        Ok(sealed)
    }

    /// Whether stored bytes are sealed (a photo stored before sealing is a JPEG).
    pub fn is_sealed(stored: &[u8]) -> bool {
        stored.starts_with(SEAL_HEADER)
    }

    /// The object `name`'s bytes, opened; bytes that are not sealed are refused.
    pub fn open(&self, name: &str, stored: Vec<u8>) -> io::Result<Vec<u8>> {
        match stored.strip_prefix(SEAL_HEADER) {
            Some(sealed) => self.open_raw(name, sealed),
            None => Err(refused()),
        }
    }

    /// A text field sealed for `place` (its table, row and column): `sealed1:` and base64.
    /// An empty field stays empty: there is nothing in it to keep.
    pub fn seal_text(&self, place: &str, text: &str) -> io::Result<String> {
        if text.is_empty() {
            return Ok(String::new());
        }
        Ok(format!(
            "{TEXT_HEADER}{}",
            STANDARD_NO_PAD.encode(self.seal_raw(place, text.as_bytes())?)
        ))
    }

    /// Whether a stored text field is sealed (an empty one needs no seal).
    pub fn is_sealed_text(stored: &str) -> bool {
        stored.is_empty() || stored.starts_with(TEXT_HEADER)
    }

    /// A text field read back from `place`. One stored in clear is refused: the hub seals the
    /// clear fields an earlier version left at start (`HubDb::seal_clear_roster`), so a clear
    /// one now was written by someone other than the hub.
    pub fn open_text(&self, place: &str, stored: String) -> io::Result<String> {
        if stored.is_empty() {
            return Ok(stored);
        }
        let Some(encoded) = stored.strip_prefix(TEXT_HEADER) else {
            return Err(refused());
        };
        let sealed = STANDARD_NO_PAD.decode(encoded).map_err(|_| refused())?;
        String::from_utf8(self.open_raw(place, &sealed)?).map_err(|_| refused())
    }

    /// `text`'s keyed digest, for a column that is searched by equality and must not hold the
    /// text itself (a candidate's number, which for some profiles is the ID number): the same
    /// text gives the same digest under the same key, so a replica sharing the key finds it,
    /// and without the key the digest cannot be checked against every possible number.
    pub fn index_text(&self, text: &str) -> String {
        let digest = hmac::sign(&self.index, text.as_bytes());
        let mut out = String::with_capacity(INDEX_HEADER.len() + 64);
        out.push_str(INDEX_HEADER);
        for b in digest.as_ref() {
            // writing to a String cannot fail
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// Whether a stored text is an index digest (one stored before indexing is the text).
    pub fn is_index(stored: &str) -> bool {
        stored.starts_with(INDEX_HEADER)
    }

    /// Nonce, ciphertext and tag, `place` bound in as associated data.
    fn seal_raw(&self, place: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        // a random nonce per seal: 2^32 seals under one key stay far from a repeat
        getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        let mut body = Vec::with_capacity(NONCE_LEN + bytes.len() + 16);
        body.extend_from_slice(&nonce);
        body.extend_from_slice(bytes);
        let mut sealed = body.split_off(NONCE_LEN);
        self.cipher
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| io::Error::other("the hub could not seal what it stores"))?;
        body.extend_from_slice(&sealed);
        Ok(body)
    }

    fn open_raw(&self, place: &str, sealed: &[u8]) -> io::Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut body = body.to_vec();
        let opened = self
            .cipher
            .open_in_place(nonce, Aad::from(place.as_bytes()), &mut body)
            .map_err(|_| refused())?
            .len();
        body.truncate(opened);
        Ok(body)
    }
}

/// What does not open: the wrong key, or bytes altered or moved from where they were sealed.
fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "something the hub stored does not open with its sealing key: the key is not the one it was sealed with, or it was altered or moved",
    )
}

/// 32 random bytes for a new key (`for_file` names it in an error).
fn random_key(for_file: &Path) -> Result<[u8; 32], SealingKeyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| SealingKeyError::NotMade(for_file.to_owned(), e.to_string()))?;
    Ok(bytes)
}

/// 64 hex digits, with surrounding white space allowed (a trailing newline).
fn parse_hex_key(text: &[u8]) -> Option<[u8; 32]> {
    let text = std::str::from_utf8(text).ok()?.trim();
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An empty scratch folder of this test process.
    pub(crate) fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sealing-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A photo's first bytes and an ID number, to look for where they must not be.
    pub(crate) const JPEG: &[u8] = b"\xff\xd8\xff\xe0 a face, 440106199903070015";

    #[test]
    fn a_number_is_indexed_alike_under_one_key_and_never_shown() {
        let key = SealingKey::generate().unwrap();
        let id = "440106199903070015";
        let indexed = key.index_text(id);
        assert_eq!(indexed, key.index_text(id), "found again by equality");
        assert_ne!(indexed, key.index_text("440106199903070023"));
        assert!(SealingKey::is_index(&indexed) && !SealingKey::is_index(id));
        assert!(!indexed.contains(id) && indexed.len() == "index1:".len() + 64);
        // another hub's key (or a guess) gives another digest: a dump cannot be checked
        // against every possible number without the key
        assert_ne!(SealingKey::generate().unwrap().index_text(id), indexed);
    }

    #[test]
    fn an_altered_swapped_or_foreign_keyed_photo_is_refused() {
        let d = dir("refused");
        let key = SealingKey::load(&SealingKeySource::DataFolder, &d).unwrap();
        let sealed = key.seal("15/a-15.jpg", JPEG).unwrap();
        let mut altered = sealed.clone();
        let last = altered.len() - 20;
        altered[last] ^= 1;
        assert!(key.open("15/a-15.jpg", altered).is_err());
        assert!(key.open("15/b-15.jpg", sealed.clone()).is_err(), "swapped");
        assert!(key.open("15/a-15.jpg", sealed[..10].to_vec()).is_err());
        let other = SealingKey::load(&SealingKeySource::DataFolder, &dir("other")).unwrap();
        let e = other.open("15/a-15.jpg", sealed).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // bytes that are not sealed are not opened as if they were
        assert!(key.open("15/old.jpg", JPEG.to_vec()).is_err());
    }

    #[test]
    fn a_text_field_is_sealed_for_its_row_and_column() {
        let key = SealingKey::load(&SealingKeySource::DataFolder, &dir("text")).unwrap();
        let sealed = key
            .seal_text("roster/B1/Z3K8F7/id_number", "440106199903070015")
            .unwrap();
        assert!(sealed.starts_with(TEXT_HEADER) && !sealed.contains("4401061999"));
        assert_ne!(
            sealed,
            key.seal_text("roster/B1/Z3K8F7/id_number", "440106199903070015")
                .unwrap(),
            "a fresh nonce each time: equal numbers do not look equal"
        );
        assert_eq!(
            key.open_text("roster/B1/Z3K8F7/id_number", sealed.clone())
                .unwrap(),
            "440106199903070015"
        );
        // moved to another candidate's row, or another column: refused
        assert!(key
            .open_text("roster/B1/Z3K8F8/id_number", sealed.clone())
            .is_err());
        assert!(key.open_text("roster/B1/Z3K8F7/name", sealed).is_err());
        assert_eq!(key.seal_text("roster/B1/Z3K8F7/phone", "").unwrap(), "");
        assert_eq!(
            key.open_text("roster/B1/Z3K8F7/phone", String::new())
                .unwrap(),
            ""
        );
        // a clear field is no field the hub wrote: refused
        assert!(key
            .open_text("roster/B1/Z3K8F7/name", "张三".into())
            .is_err());
    }

    #[test]
    fn a_key_file_others_can_read_or_that_is_no_key_is_refused_saying_what_to_do() {
        let d = dir("files");
        let file = d.join("key");
        let source = SealingKeySource::File(file.clone());
        let e = SealingKey::load(&source, &d).unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
        std::fs::write(&file, format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SealingKey::load(&source, &d).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("0644"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SealingKey::load(&source, &d).is_ok());
        std::fs::write(&file, "not a key").unwrap();
        let e = SealingKey::load(&source, &d).unwrap_err().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
        // a key file given by the site is never made in its place: a typo must not start a
        // hub whose photos nobody can open
        assert!(!d.join("missing").exists());
        assert!(SealingKey::load(&SealingKeySource::File(d.join("missing")), &d).is_err());
        assert!(!d.join("missing").exists());
    }
}
