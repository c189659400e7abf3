//! The duplicate index's reads (`duplicates::HashIndex`): every record's hash at start, the
//! hashes of the records received since a time (so a replica takes in what the others stored
//! since it last looked), and the rows as they are now behind a few near matches.

use super::sql::{args, Row};
use super::{HashEntry, HubDb};
use capture_core::hub_protocol::ReviewState;
use capture_store::StoreError;

/// The columns every read below selects first, in this order.
const ENTRY_COLUMNS: &str = "id, profile, candidate_key, state, phash";

fn entry(r: &Row) -> Result<HashEntry, StoreError> {
    let state: String = r.get(3)?;
    Ok(HashEntry {
        record_id: r.get(0)?,
        profile: r.get(1)?,
        candidate_index: r.get(2)?,
        state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
        phash: r.get(4)?,
    })
}

impl HubDb {
    /// Every record's perceptual hash, for the in-memory duplicate index.
    pub fn hashes(&self) -> Result<Vec<HashEntry>, StoreError> {
        // a purged record's photo is gone, and its hash with it
        let rows = self.sql()?.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM records WHERE purged_at IS NULL"),
            &[],
        )?;
        rows.iter().map(entry).collect()
    }

    /// The perceptual hashes of the records received at or after `since_ms` and not purged,
    /// oldest first, each with its `received_at`.
    pub fn hashes_since(&self, since_ms: i64) -> Result<Vec<(HashEntry, i64)>, StoreError> {
        // every state named, so that the index on (state, received_at) finds the rows
        // instead of a scan of the whole table before each check
        let rows = self.sql()?.query(
            &format!(
                "SELECT {ENTRY_COLUMNS}, received_at FROM records
                 WHERE state IN ('pending_review', 'approved', 'rejected', 'withdrawn')
                   AND received_at >= ?1 AND purged_at IS NULL
                 ORDER BY received_at"
            ),
            args![since_ms],
        )?;
        rows.iter().map(|r| Ok((entry(r)?, r.get(5)?))).collect()
    }

    /// The records `ids` as they are now, the purged left out. The index holds rows as this
    /// replica last saw them: another replica (or `kiosk hub purge`, another process) may
    /// since have decided, withdrawn or purged one, so a near match is judged on this.
    pub fn current_entries(&self, ids: &[String]) -> Result<Vec<HashEntry>, StoreError> {
        let mut now = Vec::with_capacity(ids.len());
        for id in ids {
            let row = self.sql()?.query_opt(
                &format!("SELECT {ENTRY_COLUMNS} FROM records WHERE id = ?1 AND purged_at IS NULL"),
                args![id.as_str()],
            )?;
            if let Some(r) = row {
                now.push(entry(&r)?);
            }
        }
        Ok(now)
    }
}
