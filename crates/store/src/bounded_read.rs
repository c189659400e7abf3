//! Reading a file someone names on the command line or in a setting, within a size: a
//! multi-gigabyte file (or a sparse one that only claims to be) must be refused before it is
//! read into memory, and a pipe or device must be refused before `open` waits on it forever.

use std::io::Read;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReadFileError {
    #[error("不是普通文件（是文件夹、管道或设备）/ is not a regular file (a folder, a pipe or a device)")]
    NotAFile,
    #[error("文件有 {size} 字节，超过允许的 {max} 字节 / the file is {size} bytes, more than the {max} bytes allowed")]
    TooLarge { size: u64, max: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The whole of the regular file at `path` (symbolic links followed), if it holds at most
/// `max` bytes.
pub fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>, ReadFileError> {
    // asked before opening: opening a named pipe for reading waits until something writes
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadFileError::NotAFile);
    }
    if meta.len() > max {
        return Err(ReadFileError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let file = std::fs::File::open(path)?;
    // the length may change between the question and the reading: never more than `max` + 1
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadFileError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh folder for one test, removed when it ends.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("bounded-read-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_file_within_the_size_is_read_whole() {
        let dir = Scratch::new("whole");
        let path = dir.path().join("a.csv");
        std::fs::write(&path, b"candidate_key,name\n").unwrap();
        assert_eq!(read_at_most(&path, 19).unwrap(), b"candidate_key,name\n");
    }

    #[test]
    fn a_file_that_claims_more_than_the_size_is_refused_unread() {
        let dir = Scratch::new("sparse");
        let path = dir.path().join("sparse.jpg");
        // 8 GiB that take no disk: read whole, they would take 8 GiB of memory
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(8 << 30).unwrap();
        let r = read_at_most(&path, 64 << 20);
        assert!(
            matches!(r, Err(ReadFileError::TooLarge { size, .. }) if size == 8 << 30),
            "{r:?}"
        );
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("more than the 67108864 bytes"));
    }

    #[test]
    fn a_pipe_or_a_folder_is_refused_without_waiting() {
        let dir = Scratch::new("fifo");
        let fifo = dir.path().join("photo.jpg");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // nothing ever writes to it: opening it to read would wait forever
        assert!(matches!(
            read_at_most(&fifo, 1 << 20),
            Err(ReadFileError::NotAFile)
        ));
        assert!(matches!(
            read_at_most(dir.path(), 1 << 20),
            Err(ReadFileError::NotAFile)
        ));
        let r = read_at_most(&dir.path().join("missing.jpg"), 1 << 20);
        assert!(matches!(r, Err(ReadFileError::Io(_))), "{r:?}");
    }
}
