//! At start, the photos folder is made to match the database: a kill or a full disk between a
//! photo's write and its commit leaves a temporary file or a photo no record names, and a
//! photo no record names is a candidate's face the hub can no longer account for or purge.

use super::db::HubDb;
use capture_store::StoreError;
use std::collections::HashSet;
use std::path::Path;

/// What the sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub temporary: usize,
    pub unreferenced: usize,
}

/// Removes temporary files and photos whose record is not in `db` or was purged (a crash
/// between a purge's commit and its file deletions leaves them). Files the hub did not name
/// (anything but `.KEY….tmp` and `KEY….jpg` in a two-character shard) are left alone.
pub fn sweep(photos: &Path, db: &HubDb) -> Result<Swept, StoreError> {
    let known: HashSet<String> = db.records_with_photos()?.into_iter().collect();
    let mut swept = Swept::default();
    let Ok(shards) = std::fs::read_dir(photos) else {
        return Ok(swept);
    };
    for shard in shards.flatten() {
        if shard.file_name().len() != 2 || !shard.path().is_dir() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let temporary = name.starts_with('.') && name.ends_with(".tmp");
            let Some(key) = name.trim_start_matches('.').get(..36) else {
                continue;
            };
            let counts = if temporary {
                &mut swept.temporary
            } else if name.ends_with(".jpg")
                && uuid::Uuid::try_parse(key).is_ok()
                && !known.contains(key)
            {
                &mut swept.unreferenced
            } else {
                continue;
            };
            match std::fs::remove_file(file.path()) {
                Ok(()) => *counts += 1,
                Err(e) => {
                    tracing::warn!(target: "hub", error = %e, "cannot remove a leftover photo file")
                }
            }
        }
    }
    Ok(swept)
}
