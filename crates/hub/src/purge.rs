//! Runs the retention policy (`db::retention`): the rows first, then the photo files they
//! named, then the duplicate index, then the photo files no record names that a crash left
//! over an hour ago. `kiosk hub purge` reports what went, by id only.

use super::db::retention::{KioskPurgeError, PurgeReason, PurgedRecord, RetentionPolicy};
use super::Hub;
use capture_store::StoreError;

/// What one purge removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PurgeReport {
    pub records: Vec<PurgedRecord>,
    /// Photo and document files deleted.
    pub files_removed: usize,
    /// Files a purged row named that were already gone.
    pub files_missing: usize,
    /// Photo files no record names, written over `orphans::SHARED_SWEEP_AGE` ago: what a crash
    /// between a photo's write and its row, or between a purge's commit and its deletions, left.
    pub leftovers_removed: usize,
}

impl PurgeReport {
    pub fn count(&self, reason: PurgeReason) -> usize {
        self.records.iter().filter(|r| r.reason == reason).count()
    }
}

impl Hub {
    /// Purges what `policy` says is due at `now` (Unix ms).
    pub fn purge(&self, policy: &RetentionPolicy, now: i64) -> Result<PurgeReport, StoreError> {
        let records = self.db().purge_due(policy, now)?;
        let mut report = self.remove_purged(records)?;
        // a hub may be serving beside this purge: only what is older than any upload goes
        let swept = super::orphans::sweep(
            self.photos.as_ref(),
            &self.db(),
            Some(super::orphans::SHARED_SWEEP_AGE),
        )?;
        report.leftovers_removed = swept.temporary + swept.unreferenced;
        Ok(report)
    }

    /// Purges what the revoked kiosk `kiosk` sent since `since` (Unix ms) that no reviewer
    /// has decided (`HubDb::purge_revoked_kiosk`): after a kiosk or its token was stolen.
    pub fn purge_revoked_kiosk(
        &self,
        kiosk: &str,
        since: i64,
        now: i64,
    ) -> Result<PurgeReport, KioskPurgeError> {
        let records = self.db().purge_revoked_kiosk(kiosk, since, now)?;
        Ok(self.remove_purged(records)?)
    }

    /// Deletes the photo files of rows already purged, and forgets their fingerprints.
    fn remove_purged(&self, records: Vec<PurgedRecord>) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::default();
        for r in &records {
            for file in &r.files {
                match self.photos.delete(file) {
                    Ok(true) => report.files_removed += 1,
                    Ok(false) => report.files_missing += 1,
                    Err(e) => {
                        return Err(StoreError::Io {
                            path: file.clone(),
                            detail: format!(
                                "{e}; record {} is purged in the database, delete the file by hand",
                                r.record_id
                            ),
                        })
                    }
                }
            }
            tracing::info!(record = %r.record_id, reason = r.reason.as_str(), "record purged");
        }
        let purged: Vec<String> = records.iter().map(|r| r.record_id.clone()).collect();
        self.index().remove(&purged);
        report.records = records;
        Ok(report)
    }
}
