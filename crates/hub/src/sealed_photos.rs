//! A photo store whose every object is sealed with the hub's sealing key (`sealing.rs`)
//! before it reaches the folder or the bucket: no store ever holds a face in the clear. The
//! object's name is bound into the seal, so an object swapped for another's does not open.

use super::photos::{is_unfinished, Listed, PhotoStore};
use super::sealing::SealingKey;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A photo store whose objects are sealed with the hub's sealing key.
pub struct SealedPhotos {
    inner: Box<dyn PhotoStore>,
    key: Arc<SealingKey>,
    /// Whether a photo found in clear is read as it is: only until the photos an earlier
    /// version stored in clear have been sealed (`seal_clear`); after, one in clear was put
    /// there by someone other than the hub.
    clear_read: AtomicBool,
}

impl SealedPhotos {
    pub fn new(inner: Box<dyn PhotoStore>, key: Arc<SealingKey>) -> SealedPhotos {
        SealedPhotos {
            inner,
            key,
            clear_read: AtomicBool::new(true),
        }
    }

    /// Seals every photo an earlier version stored in clear, each replaced whole (a crash
    /// leaves some sealed and the rest for the next start); how many.
    pub fn seal_clear(&self) -> io::Result<usize> {
        let mut sealed = 0;
        for listed in self.inner.listing()? {
            if is_unfinished(&listed.name) {
                continue;
            }
            let Some(stored) = self.inner.get(&listed.name)? else {
                continue;
            };
            if !SealingKey::is_sealed(&stored) {
                self.inner
                    .put(&listed.name, &self.key.seal(&listed.name, &stored)?)?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    /// From now on a photo found in clear is refused, not shown.
    pub fn refuse_clear(&self) {
        self.clear_read.store(false, Ordering::Relaxed);
    }
}

impl PhotoStore for SealedPhotos {
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.inner.put(name, &self.key.seal(name, bytes)?)
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(stored) = self.inner.get(name)? else {
            return Ok(None);
        };
        if !SealingKey::is_sealed(&stored) && self.clear_read.load(Ordering::Relaxed) {
            return Ok(Some(stored));
        }
        self.key.open(name, stored).map(Some)
    }

    fn delete(&self, name: &str) -> io::Result<bool> {
        self.inner.delete(name)
    }

    fn listing(&self) -> io::Result<Vec<Listed>> {
        self.inner.listing()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::photos::FolderPhotos;
    use crate::sealing::tests::{dir, JPEG};
    use crate::sealing::{SealingKeySource, DATA_FOLDER_KEY, SEAL_HEADER};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_photo_is_sealed_on_disk_and_opened_whole() {
        let d = dir("cycle");
        let key = SealingKey::load(&SealingKeySource::DataFolder, &d).unwrap();
        assert_eq!(
            std::fs::metadata(d.join(DATA_FOLDER_KEY))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let store = SealedPhotos::new(
            Box::new(FolderPhotos::new(d.join("photos"))),
            std::sync::Arc::new(key),
        );
        store.put("15/k-15.jpg", JPEG).unwrap();
        let on_disk = std::fs::read(d.join("photos/15/k-15.jpg")).unwrap();
        assert!(on_disk.starts_with(SEAL_HEADER));
        assert!(!on_disk.windows(18).any(|w| w == b"440106199903070015"));
        assert_eq!(store.get("15/k-15.jpg").unwrap().as_deref(), Some(JPEG));
        // a photo an earlier version stored in clear is read until the store is sealed, then
        // sealed; after that a photo found in clear is refused
        let old = d.join("photos/15/old-15.jpg");
        std::fs::write(&old, JPEG).unwrap();
        assert_eq!(store.get("15/old-15.jpg").unwrap().as_deref(), Some(JPEG));
        assert_eq!(store.seal_clear().unwrap(), 1);
        assert_eq!(store.seal_clear().unwrap(), 0, "once");
        assert!(std::fs::read(&old).unwrap().starts_with(SEAL_HEADER));
        store.refuse_clear();
        assert_eq!(store.get("15/old-15.jpg").unwrap().as_deref(), Some(JPEG));
        std::fs::write(&old, JPEG).unwrap();
        assert!(
            store.get("15/old-15.jpg").is_err(),
            "put there by someone else"
        );
        // the same key is read back by the next start
        let again = SealingKey::load(&SealingKeySource::DataFolder, &d).unwrap();
        assert_eq!(again.open("15/k-15.jpg", on_disk).unwrap(), JPEG);
    }
}
