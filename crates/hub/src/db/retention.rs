//! The hub's retention policy. Withdrawn records and rejected records the candidate replaced
//! with a newer one go first; decided records (approved, or rejected and never replaced) go
//! only if the administrator sets an age for them. A purged record keeps its row (its key,
//! fingerprint and state, so a kiosk's replay is still answered and its status still flows
//! back) but loses the candidate number, the check report, the note, the perceptual hash and
//! its photo files.

use super::sql::{args, Dialect, Sql};
use super::HubDb;
use capture_store::StoreError;
use std::time::Duration;

/// What a purge removes and when.
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionPolicy {
    /// A withdrawn record, this long after it was withdrawn.
    pub withdrawn_after: Duration,
    /// A rejected record whose candidate sent a newer record, this long after the rejection.
    pub replaced_after: Duration,
    /// Any decided record (approved or rejected), this long after the decision; None keeps
    /// them until the administrator says otherwise.
    pub decided_after: Option<Duration>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        const DAY: Duration = Duration::from_secs(86_400);
        RetentionPolicy {
            withdrawn_after: Duration::ZERO,
            // the reviewer of the replacement may still compare it with the rejected photo
            replaced_after: 7 * DAY,
            decided_after: None,
        }
    }
}

/// Why a record was purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeReason {
    Withdrawn,
    Replaced,
    Decided,
    /// Sent by a revoked kiosk and never decided: what a stolen or misused token uploaded
    /// (`HubDb::purge_revoked_kiosk`).
    RevokedKiosk,
}

impl PurgeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeReason::Withdrawn => "withdrawn",
            PurgeReason::Replaced => "replaced",
            PurgeReason::Decided => "decided",
            PurgeReason::RevokedKiosk => "revoked_kiosk",
        }
    }
}

/// One record whose personal data was purged, and the photo files (relative to the photos
/// folder) that are to be deleted now that the row no longer names them.
#[derive(Clone, Debug, PartialEq)]
pub struct PurgedRecord {
    pub record_id: String,
    pub reason: PurgeReason,
    pub files: Vec<String>,
}

/// Why a revoked kiosk's uploads were not purged.
#[derive(Debug, thiserror::Error)]
pub enum KioskPurgeError {
    #[error("没有名为 {0} 的采集机 / no kiosk is registered as {0:?}")]
    Unknown(String),
    #[error("采集机 {0} 的令牌仍然有效。顺序是：先 kiosk hub revoke-kiosk --name {0}，再清除，最后 relink-kiosk 给它新令牌 / kiosk {0:?} still has a working token. The order is: kiosk hub revoke-kiosk --name {0}, then this purge, then relink-kiosk for a new token")]
    NotRevoked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl HubDb {
    /// Purges the rows `policy` says are due at `now` in one transaction and returns them
    /// with the files to delete. The rows are committed first: a crash before the files are
    /// deleted leaves files no row names, which the hub's start-up sweep removes.
    pub fn purge_due(
        &mut self,
        policy: &RetentionPolicy,
        now: i64,
    ) -> Result<Vec<PurgedRecord>, StoreError> {
        let purged = self.transaction(|tx| {
            let mut due: Vec<(String, PurgeReason, String, i64)> = Vec::new();
            let mut pick = |tx: &mut dyn Sql,
                            sql: &str,
                            cutoff: i64,
                            reason: PurgeReason|
             -> Result<(), StoreError> {
                // on PostgreSQL the rows are locked, so a purge another replica runs at the
                // same time waits and then finds them purged (READ COMMITTED re-checks them)
                let sql = format!("{sql}{}", tx.lock_rows());
                for r in tx.query(&sql, args![cutoff])? {
                    let (id, file, documents): (String, String, i64) =
                        (r.get(0)?, r.get(1)?, r.get(2)?);
                    if !due.iter().any(|d| d.0 == id) {
                        due.push((id, reason, file, documents));
                    }
                }
                Ok(())
            };
            pick(
                tx,
                "SELECT id, photo_file, documents FROM records
                 WHERE purged_at IS NULL AND state = 'withdrawn' AND COALESCE(reviewed_at, received_at) <= ?1
                 ORDER BY id",
                now - ms(policy.withdrawn_after),
                PurgeReason::Withdrawn,
            )?;
            pick(
                tx,
                "SELECT r.id, r.photo_file, r.documents FROM records r
                 WHERE r.purged_at IS NULL AND r.state = 'rejected' AND COALESCE(r.reviewed_at, r.received_at) <= ?1
                   AND EXISTS (SELECT 1 FROM records n WHERE n.profile = r.profile
                               AND n.candidate_key = r.candidate_key AND n.received_at > r.received_at)
                 ORDER BY r.id",
                now - ms(policy.replaced_after),
                PurgeReason::Replaced,
            )?;
            if let Some(after) = policy.decided_after {
                pick(
                    tx,
                    "SELECT id, photo_file, documents FROM records
                     WHERE purged_at IS NULL AND state IN ('approved', 'rejected') AND reviewed_at <= ?1
                     ORDER BY id",
                    now - ms(after),
                    PurgeReason::Decided,
                )?;
            }
            purge_rows(tx, due, now)
        })?;
        if !purged.is_empty() {
            self.reclaim_old_rows(&["records"])?;
        }
        Ok(purged)
    }

    /// Purges what the kiosk registered as `kiosk` sent since `since` (Unix ms) that no
    /// reviewer has decided yet: a stolen or misused token's uploads. The kiosk must be
    /// revoked first, or the token goes on uploading behind the purge. The records become
    /// withdrawn (out of the reviewers' queue) and lose what any purge takes; decided records
    /// and older ones stay for a person to judge. Nothing tells the thief's records from the
    /// kiosk's own in the window: its genuine undecided candidates go too, and are
    /// photographed again.
    pub fn purge_revoked_kiosk(
        &mut self,
        kiosk: &str,
        since: i64,
        now: i64,
    ) -> Result<Vec<PurgedRecord>, KioskPurgeError> {
        // the kiosk is looked up in the purge's own transaction: a relink-kiosk (which gives
        // it a working token again) between a check and the purge cannot slip through
        let purged = self.transaction(|tx| {
            let Some(row) = tx.query_opt(
                &format!(
                    "SELECT id, revoked_at FROM kiosks WHERE name = ?1{}",
                    tx.lock_rows()
                ),
                args![kiosk],
            )?
            else {
                return Ok(Err(KioskPurgeError::Unknown(kiosk.to_owned())));
            };
            let (id, revoked_at): (String, Option<i64>) = (row.get(0)?, row.get(1)?);
            if revoked_at.is_none() {
                return Ok(Err(KioskPurgeError::NotRevoked(kiosk.to_owned())));
            }
            let sql = format!(
                "SELECT id, photo_file, documents FROM records
                 WHERE purged_at IS NULL AND state = 'pending_review' AND kiosk_id = ?1
                   AND received_at >= ?2
                 ORDER BY id{}",
                tx.lock_rows()
            );
            let mut due = Vec::new();
            for r in tx.query(&sql, args![&id, since])? {
                due.push((r.get(0)?, PurgeReason::RevokedKiosk, r.get(1)?, r.get(2)?));
            }
            for (record, ..) in &due {
                tx.execute(
                    "UPDATE records SET state = 'withdrawn', reviewed_at = ?2 WHERE id = ?1",
                    args![record, now],
                )?;
            }
            purge_rows(tx, due, now).map(Ok)
        })??;
        if !purged.is_empty() {
            self.reclaim_old_rows(&["records"])?;
        }
        Ok(purged)
    }

    /// Makes rows just rewritten (purged, or sealed where they were in clear) gone from the
    /// database's files, not only from `tables`.
    pub(crate) fn reclaim_old_rows(&mut self, tables: &[&str]) -> Result<(), StoreError> {
        match self.dialect() {
            // until a checkpoint the database file still holds the pages as they were, and
            // the write-ahead log's older frames the rows before
            Dialect::Sqlite => {
                self.sql()?
                    .query_one("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
            }
            // the old row versions (names, keys) stay in the table's pages until a vacuum
            // reclaims them; autovacuum may take hours, so they are made gone now
            Dialect::Postgres => {
                for table in tables {
                    self.sql()?.execute(&format!("VACUUM {table}"), &[])?;
                }
            }
        }
        Ok(())
    }
}

/// Takes the personal data out of the `due` rows (id, reason, photo file, document count)
/// and logs each purge; returns them with the files to delete.
fn purge_rows(
    tx: &mut dyn Sql,
    due: Vec<(String, PurgeReason, String, i64)>,
    now: i64,
) -> Result<Vec<PurgedRecord>, StoreError> {
    let mut purged = Vec::with_capacity(due.len());
    for (id, reason, file, documents) in due {
        tx.execute(
            "UPDATE records SET candidate_key = 'purged', candidate_sealed = '', report = '{}', note = '', phash = ?3,
                                photo_file = '', purged_at = ?2
             WHERE id = ?1",
            args![&id, now, &[][..]],
        )?;
        let mut files = Vec::new();
        if !file.is_empty() {
            let docs: Vec<String> = (0..documents)
                .map(|n| super::document_file(&file, n as usize))
                .collect();
            files.push(file);
            files.extend(docs);
        }
        purged.push(PurgedRecord {
            record_id: id,
            reason,
            files,
        });
    }
    for p in &purged {
        tx.execute(
            "INSERT INTO events (at, actor, action, record_id, detail) VALUES (?1, 'retention', 'purge', ?2, ?3)",
            args![now, &p.record_id, p.reason.as_str()],
        )?;
    }
    Ok(purged)
}
