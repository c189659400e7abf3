//! Reading a file someone names on the command line or in a setting, within a size: a
//! multi-gigabyte file (or a sparse one that only claims to be) must be refused before it is
//! read into memory, and a pipe or device must be refused before `open` waits on it forever.

use std::io::Read;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReadFileError {
    #[error("不是普通文件（是文件夹、管道或设备） / is not a regular file (a folder, a pipe or a device)")]
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

/// The first line of `input` without its line ending, read no further than `max` bytes: a
/// password or PIN piped in from a file that has no line break (or from an endless stream) is
/// refused instead of being held whole.
pub fn read_line_at_most(input: impl std::io::BufRead, max: usize) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut limited = input.take(max as u64 + 1);
    std::io::BufRead::read_until(&mut limited, b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("输入的一行超过 {max} 字节 / the line read is longer than {max} bytes"),
        ));
    }
    String::from_utf8(line).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "输入不是 UTF-8 文本 / the line read is not UTF-8 text",
        )
    })
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
    fn a_line_is_read_up_to_its_bound_and_a_longer_one_refused() {
        assert_eq!(
            read_line_at_most(&b"s3cret pw\r\nnext"[..], 16).unwrap(),
            "s3cret pw"
        );
        assert_eq!(read_line_at_most(&b"123456"[..], 6).unwrap(), "123456");
        let endless = std::io::repeat(b'x');
        let e = read_line_at_most(std::io::BufReader::new(endless), 1024).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
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
