//! Where the hub keeps photos and document photos: one trait, `PhotoStore`, so that a college's
//! hub keeps them in a private folder beside its database and a province's replicas can share a
//! bucket. Objects are named by the hub (`ab/KEY.jpg`, `ab/KEY-doc0.jpg`: the record key's last
//! two characters, then the key); the database row that names one commits only after `put`
//! returned, so a row never points at a missing object, and what a crash leaves between the two
//! is swept at start (`orphans`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One object of a listing: its name and when it was last written, if the store says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub written: Option<SystemTime>,
}

/// A photo store. `put` is durable when it returns: a power cut after it loses nothing.
pub trait PhotoStore: Send + Sync {
    /// Stores `bytes` as `name`, replacing any object of that name.
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// The object's bytes, or `None` if there is no such object.
    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Deletes the object; false if it was already gone.
    fn delete(&self, name: &str) -> io::Result<bool>;
    /// Every object, and every unfinished write a crash left (`is_unfinished`), with when it
    /// was written.
    fn listing(&self) -> io::Result<Vec<Listed>>;
    /// Every object's name, and every unfinished write's.
    fn names(&self) -> io::Result<Vec<String>> {
        Ok(self.listing()?.into_iter().map(|l| l.name).collect())
    }
}

/// A name `names` gives for a write a crash cut short: not a photo, always safe to delete.
pub fn is_unfinished(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.starts_with('.') && file.ends_with(".tmp")
}

/// Refuses names that would leave the store's folder or prefix: the hub makes every name
/// itself, so one with `..`, an empty part or a leading `/` is a bug, never a path to follow.
pub fn check_name(name: &str) -> io::Result<()> {
    let safe = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if safe {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a photo name that is not the hub's own",
        ))
    }
}

/// The embedded default: a private folder (0700, files 0600 through the hub's umask), one
/// sub-folder per shard.
pub struct FolderPhotos {
    root: PathBuf,
}

impl FolderPhotos {
    pub fn new(root: PathBuf) -> Self {
        FolderPhotos { root }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        Ok(self.root.join(name))
    }
}

impl PhotoStore for FolderPhotos {
    /// Temporary file, fsync, rename, fsync of the folder: the photo is whole or absent.
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name)?;
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(name)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, name: &str) -> io::Result<bool> {
        match std::fs::remove_file(self.path(name)?) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The files in two-character shard folders; anything else in the folder is not the
    /// hub's and is left out (and so never swept).
    fn listing(&self) -> io::Result<Vec<Listed>> {
        let mut names = Vec::new();
        let shards = match std::fs::read_dir(&self.root) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            let shard_name = shard.file_name().to_string_lossy().into_owned();
            if shard_name.len() != 2 || !shard.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(shard.path())? {
                let file = file?;
                let meta = file.metadata()?;
                if meta.is_file() {
                    names.push(Listed {
                        name: format!("{shard_name}/{}", file.file_name().to_string_lossy()),
                        written: meta.modified().ok(),
                    });
                }
            }
        }
        Ok(names)
    }
}

/// The folder a hub keeps its photos in by default.
pub fn default_folder(data_dir: &Path) -> PathBuf {
    data_dir.join("photos")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> FolderPhotos {
        let dir = std::env::temp_dir().join(format!("hub-photos-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        FolderPhotos::new(dir)
    }

    #[test]
    fn a_photo_put_is_read_back_listed_and_deleted_once() {
        let store = folder("cycle");
        store.put("ab/k-ab.jpg", b"jpeg").unwrap();
        assert_eq!(
            store.get("ab/k-ab.jpg").unwrap().as_deref(),
            Some(&b"jpeg"[..])
        );
        assert_eq!(store.names().unwrap(), ["ab/k-ab.jpg"]);
        assert!(store.delete("ab/k-ab.jpg").unwrap());
        assert!(!store.delete("ab/k-ab.jpg").unwrap());
        assert_eq!(store.get("ab/k-ab.jpg").unwrap(), None);
    }

    #[test]
    fn names_that_leave_the_folder_are_refused() {
        let store = folder("escape");
        for name in ["../x.jpg", "/etc/passwd", "ab/../../x", "", "ab//x.jpg"] {
            assert!(store.put(name, b"x").is_err(), "{name}");
            assert!(store.get(name).is_err(), "{name}");
        }
    }

    #[test]
    fn unfinished_writes_are_told_by_their_name() {
        assert!(is_unfinished("ab/.k-ab.jpg.tmp"));
        assert!(!is_unfinished("ab/k-ab.jpg"));
    }
}
