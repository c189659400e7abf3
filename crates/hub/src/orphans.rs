//! At start, the photos folder is made to match the database: a kill or a full disk between a
//! photo's write and its commit leaves a temporary file or a photo no record names, and a
//! photo no record names is a candidate's face the hub can no longer account for or purge.

use super::db::HubDb;
use super::photos::{is_unfinished, PhotoStore};
use capture_store::StoreError;
use std::collections::HashSet;

/// What the sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub temporary: usize,
    pub unreferenced: usize,
}

/// Removes unfinished writes and photos whose record is not in `db` or was purged (a crash
/// between a purge's commit and its deletions leaves them). Objects the hub did not name
/// (anything but `.KEY….tmp` and `KEY….jpg`) are left alone.
pub fn sweep(photos: &dyn PhotoStore, db: &HubDb) -> Result<Swept, StoreError> {
    let known: HashSet<String> = db.records_with_photos()?.into_iter().collect();
    let mut swept = Swept::default();
    let names = photos.names().map_err(|e| StoreError::Io {
        path: "photos".into(),
        detail: e.to_string(),
    })?;
    for name in names {
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
        match photos.delete(&name) {
            Ok(_) => *counts += 1,
            Err(e) => {
                tracing::warn!(target: "hub", error = %e, "cannot remove a leftover photo")
            }
        }
    }
    Ok(swept)
}
