//! The duplicate index's refresh (`duplicates::HashIndex`): the hashes of the records received
//! since a time, so a replica takes in what the others stored since it last looked.

use super::sql::args;
use super::{HashEntry, HubDb};
use capture_core::hub_protocol::ReviewState;
use capture_store::StoreError;

impl HubDb {
    /// The perceptual hashes of the records received at or after `since_ms` and not purged,
    /// oldest first, each with its `received_at`.
    pub fn hashes_since(&self, since_ms: i64) -> Result<Vec<(HashEntry, i64)>, StoreError> {
        // every state named, so that the index on (state, received_at) finds the rows
        // instead of a scan of the whole table before each check
        let rows = self.sql()?.query(
            "SELECT id, profile, candidate_key, state, phash, received_at FROM records
             WHERE state IN ('pending_review', 'approved', 'rejected', 'withdrawn')
               AND received_at >= ?1 AND purged_at IS NULL
             ORDER BY received_at",
            args![since_ms],
        )?;
        rows.iter()
            .map(|r| {
                let state: String = r.get(3)?;
                Ok((
                    HashEntry {
                        record_id: r.get(0)?,
                        profile: r.get(1)?,
                        candidate_key: r.get(2)?,
                        state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
                        phash: r.get(4)?,
                    },
                    r.get(5)?,
                ))
            })
            .collect()
    }

    /// Which of `ids` a new photo may still be flagged against: not purged, not withdrawn.
    /// Another replica (or `kiosk hub purge`, another process) may have changed a row this
    /// replica's index still holds as it was; a flag is checked here before it is stored.
    pub fn still_matchable(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut live = Vec::with_capacity(ids.len());
        for id in ids {
            let row = self.sql()?.query_opt(
                "SELECT 1 FROM records WHERE id = ?1 AND purged_at IS NULL AND state != 'withdrawn'",
                args![id.as_str()],
            )?;
            if row.is_some() {
                live.push(id.clone());
            }
        }
        Ok(live)
    }
}
