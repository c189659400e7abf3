//! The disk room the hub keeps for itself. A hub whose disk fills up mid-day cannot commit a
//! reviewer's decision, a login or the row of a photo it has already written; a kiosk's stolen
//! token can fill a disk at several megabytes a second. So a submission is refused (507, and
//! the kiosk keeps it in its outbox and pauses) while the data folder's free room is below the
//! reserve, and `/healthz` says so, for the monitoring that pages the administrator.

use std::path::Path;

/// The room a hub keeps free by default: SQLite's journal, the logs and a day's reviews.
pub const DEFAULT_RESERVE_BYTES: u64 = 512 << 20;

/// The data folder's room as measured now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    Enough,
    /// Below the reserve: bytes free to an unprivileged writer, and the reserve.
    Low {
        free: u64,
        reserve: u64,
    },
}

/// The room left in the file system holding `dir`, against `reserve`. A folder that cannot
/// be measured counts as enough: the check guards against a full disk, and the write itself
/// still fails (and is answered 500) if the disk is in fact gone.
pub fn room(dir: &Path, reserve: u64) -> Room {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            if free < reserve {
                Room::Low { free, reserve }
            } else {
                Room::Enough
            }
        }
        Err(e) => {
            tracing::warn!(target: "hub", error = %e, "cannot measure the data folder's free room");
            Room::Enough
        }
    }
}

/// Megabytes, as said to an administrator.
pub fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_room_has_enough_and_an_impossible_reserve_is_low() {
        let dir = std::env::temp_dir();
        assert_eq!(room(&dir, 0), Room::Enough);
        assert!(matches!(
            room(&dir, u64::MAX),
            Room::Low {
                reserve: u64::MAX,
                ..
            }
        ));
    }
}
