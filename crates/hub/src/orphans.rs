//! At start, the photos folder is made to match the database: a kill or a full disk between a
//! photo's write and its commit leaves a temporary file or a photo no record names, and a
//! photo no record names is a candidate's face the hub can no longer account for or purge.
//!
//! A serving hub may be between an object's write and its row's commit at any moment, and so
//! may another replica sharing the bucket and the database: `kiosk hub purge` (run daily beside
//! the server) leaves every object younger than [`SHARED_SWEEP_AGE`], far longer than any
//! upload may take, so what a crash left is gone within a day without a restart. Replicas
//! sharing a bucket do not sweep at start.

use super::db::HubDb;
use super::photos::{is_unfinished, PhotoStore};
use capture_store::StoreError;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// With shared storage, objects younger than this are never swept: a record being stored by
/// another replica has its object written before its row commits, and an upload is cut off
/// long before an hour (the server's request time limit).
pub const SHARED_SWEEP_AGE: Duration = Duration::from_secs(3600);

/// What the sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub temporary: usize,
    pub unreferenced: usize,
}

/// Removes unfinished writes and photos whose record is not in `db` or was purged (a crash
/// between a purge's commit and its deletions leaves them). Objects the hub did not name
/// (anything but `.KEY….tmp` and `KEY….jpg`) are left alone, and so are objects written less
/// than `older_than` ago (or whose age the store does not say) when it is given.
pub fn sweep(
    photos: &dyn PhotoStore,
    db: &HubDb,
    older_than: Option<Duration>,
) -> Result<Swept, StoreError> {
    // listed before the rows are read: an object written after the listing is not looked at,
    // and one listed whose row commits after the read is young enough to be left
    let listing = photos.listing().map_err(|e| StoreError::Io {
        path: "photos".into(),
        detail: e.to_string(),
    })?;
    let known: HashSet<String> = db.records_with_photos()?.into_iter().collect();
    let mut swept = Swept::default();
    let now = SystemTime::now();
    for listed in listing {
        if let Some(age) = older_than {
            let old_enough = listed
                .written
                .and_then(|w| now.duration_since(w).ok())
                .is_some_and(|a| a >= age);
            if !old_enough {
                continue;
            }
        }
        let name = listed.name;
        let file = name.rsplit('/').next().unwrap_or(&name);
        let Some(key) = file.trim_start_matches('.').get(..36) else {
            continue;
        };
        let counts = if is_unfinished(&name) {
            &mut swept.temporary
        } else if file.ends_with(".jpg")
            && uuid::Uuid::try_parse(key).is_ok()
            && !known.contains(key)
        {
            &mut swept.unreferenced
        } else {
            continue;
        };
        // beside a serving hub the listing and the rows are minutes old by now: a kiosk's
        // retry may have stored this very record since (its photo rewritten, its row
        // committed), so ask once more just before the delete
        if older_than.is_some() && !is_unfinished(&name) && db.names_photo(key)? {
            continue;
        }
        match photos.delete(&name) {
            Ok(_) => *counts += 1,
            Err(e) => {
                tracing::warn!(target: "hub", error = %e, "cannot remove a leftover photo")
            }
        }
    }
    Ok(swept)
}
