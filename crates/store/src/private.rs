//! Files only this user may read: the kiosk's and the hub's data folders (0700) and their
//! databases with SQLite's -wal, -shm and -journal files (0600). A data folder that other
//! users can read is refused with the command that fixes it, never silently used.

use super::StoreError;
use std::path::Path;

/// The permission bits that let group members or other users in.
const OTHERS: u32 = 0o077;

/// Makes `dir` (and any missing parent) with mode 0700, or checks that the existing folder
/// lets nobody but its owner in.
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Io {
        path: dir.display().to_string(),
        detail: e.to_string(),
    };
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io)?;
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode() & 0o777;
        if mode & OTHERS != 0 {
            return Err(StoreError::NotPrivate {
                path: dir.display().to_string(),
                mode,
            });
        }
    }
    Ok(())
}

/// Makes `dir` with mode 0700, or takes group and other permissions off the existing folder
/// (for folders inside a data folder that was checked with [`private_dir`]).
pub fn tighten_dir(dir: &Path) -> Result<(), StoreError> {
    if !dir.exists() {
        return private_dir(dir);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let io = |e: std::io::Error| StoreError::Io {
            path: dir.display().to_string(),
            detail: e.to_string(),
        };
        let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode() & 0o777;
        if mode & OTHERS != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(io)?;
        }
    }
    Ok(())
}

/// Creates the database file `path` with mode 0600 before SQLite opens it (SQLite gives its
/// -wal, -shm and -journal files the database file's mode), and takes group and other
/// permissions off an existing database and its companion files.
pub fn private_database_files(path: &Path) -> Result<(), StoreError> {
    let io = |p: &Path, e: std::io::Error| StoreError::Io {
        path: p.display().to_string(),
        detail: e.to_string(),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            // an empty file is an empty database to SQLite
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(path, e)),
            }
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & OTHERS != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))
                    .map_err(|e| io(&file, e))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, io);
    Ok(())
}

/// Writes a new file that only this user may read (mode 0600); fails if it exists.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_are_made_private_and_open_ones_refused_with_the_fix() {
        let base = std::env::temp_dir().join(format!("private-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let made = base.join("a/b");
        private_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = private_dir(&made).unwrap_err().to_string();
        assert!(e.contains("chmod 700") && e.contains("0755"), "{e}");
        std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o700)).unwrap();
        private_dir(&made).unwrap();
        let db = made.join("x.sqlite");
        private_database_files(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_database_files(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let _ = std::fs::remove_dir_all(&base);
    }
}
