//! The outbox: leasing rows to the uploader, marking them sent, retried or quarantined, and
//! the review results that come back for them.

use super::*;
use capture_core::hub_protocol::{RecordMeta, RecordStatus};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::time::Duration;

/// Where a capture's outbox row stands (the table's `state`, held to these three by a CHECK).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Waiting to be sent (or being sent under a lease).
    Pending,
    /// The hub answered 200/201.
    Sent,
    /// The hub refused it; kept for staff.
    Quarantined,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Quarantined => "quarantined",
        }
    }
}

impl rusqlite::types::FromSql for OutboxState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value.as_str()? {
            "pending" => Ok(OutboxState::Pending),
            "sent" => Ok(OutboxState::Sent),
            "quarantined" => Ok(OutboxState::Quarantined),
            other => Err(rusqlite::types::FromSqlError::Other(
                format!("unknown outbox state {other:?}").into(),
            )),
        }
    }
}

impl Store {
    /// Takes the next due row for `lease`; a row whose lease ran out (its uploader died) is due
    /// again.
    pub fn lease_next(&mut self, now: i64, lease: Duration) -> Result<Option<Leased>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                "SELECT capture_id, attempts FROM outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
                 ORDER BY next_attempt_at, capture_id LIMIT 1",
                params![now],
                |r| {
                    Ok(Leased {
                        capture_id: r.get(0)?,
                        attempts: r.get(1)?,
                    })
                },
            )
            .optional()?;
        if let Some(l) = &row {
            tx.execute(
                "UPDATE outbox SET lease_until = ?2 WHERE capture_id = ?1",
                params![l.capture_id, now + lease.as_millis() as i64],
            )?;
        }
        tx.commit()?;
        Ok(row)
    }

    /// The hub confirmed the record.
    pub fn mark_sent(&self, capture_id: &str, now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?2, lease_until = 0, last_error = NULL WHERE capture_id = ?1",
            params![capture_id, now],
        )?;
        Ok(())
    }

    /// Sending failed for a reason that may pass: try again at `retry_at`.
    pub fn mark_retry(
        &self,
        capture_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, lease_until = 0, last_error = ?3
             WHERE capture_id = ?1",
            params![capture_id, retry_at, error],
        )?;
        Ok(())
    }

    /// Gives a row back without counting a failed attempt against it: the hub as a whole is
    /// away, which is not the record's fault.
    pub fn release(&self, capture_id: &str, error: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET lease_until = 0, last_error = ?2 WHERE capture_id = ?1",
            params![capture_id, error],
        )?;
        Ok(())
    }

    /// A starting uploader is the only one for its database (one kiosk process), so leases left
    /// by a killed process are void; should another worker still hold one, the hub's
    /// idempotency makes a second send harmless.
    pub fn release_all_leases(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET lease_until = 0 WHERE state = 'pending' AND lease_until > 0",
            [],
        )?)
    }

    /// The hub refused the record as invalid: keep it for staff, never drop it.
    pub fn quarantine(&self, capture_id: &str, error: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET state = 'quarantined', lease_until = 0, last_error = ?2 WHERE capture_id = ?1",
            params![capture_id, error],
        )?;
        Ok(())
    }

    pub fn queue_status(&self) -> Result<QueueStatus, StoreError> {
        let count = |state: &str| -> Result<i64, rusqlite::Error> {
            self.conn.query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = ?1",
                params![state],
                |r| r.get(0),
            )
        };
        Ok(QueueStatus {
            pending: count(OutboxState::Pending.as_str())?,
            sent: count(OutboxState::Sent.as_str())?,
            quarantined: count(OutboxState::Quarantined.as_str())?,
            oldest_pending_ms: self.conn.query_row(
                "SELECT MIN(c.created_at) FROM outbox o JOIN captures c ON c.id = o.capture_id WHERE o.state = 'pending'",
                [],
                |r| r.get(0),
            )?,
            last_success_ms: self.conn.query_row("SELECT MAX(sent_at) FROM outbox", [], |r| r.get(0))?,
            last_error: self
                .conn
                .query_row(
                    "SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
        })
    }

    pub fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Several settings in one transaction: all of them or none.
    pub fn set_settings(&self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        for (key, value) in pairs {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// When the next pending row becomes due (its retry time or the end of its lease).
    pub fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MIN(MAX(next_attempt_at, lease_until)) FROM outbox WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    /// "Upload now": every pending row not held by a live lease is due at `now`.
    pub fn make_all_due(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET next_attempt_at = ?1 WHERE state = 'pending' AND next_attempt_at > ?1",
            params![now],
        )?)
    }

    /// What the uploader sends for a capture: metadata, photo and check report. None when the
    /// capture is unknown or its photo was already purged.
    pub fn upload_payload(
        &self,
        capture_id: &str,
    ) -> Result<Option<(RecordMeta, Vec<u8>, String)>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT c.profile, s.batch_id, c.candidate_key, c.spec, c.created_at, c.verification_distance,
                        c.manual_review, c.photo, c.check_report
                 FROM captures c JOIN sessions s ON s.id = c.session_id WHERE c.id = ?1",
                params![capture_id],
                |r| {
                    let photo: Option<Vec<u8>> = r.get(7)?;
                    let meta = RecordMeta {
                        key: capture_id.to_owned(),
                        profile: r.get(0)?,
                        batch_id: r.get(1)?,
                        candidate_key: r.get(2)?,
                        spec: r.get(3)?,
                        captured_at_ms: r.get(4)?,
                        verification_distance: r.get::<_, Option<f64>>(5)?.map(|d| d as f32),
                        manual_review: r.get(6)?,
                    };
                    let report: String = r.get(8)?;
                    Ok(photo.map(|p| (meta, p, report)))
                },
            )
            .optional()?;
        Ok(row.flatten())
    }

    /// The manual path's document photographs of a capture, in order (empty once purged).
    pub fn capture_documents(&self, capture_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT jpeg FROM capture_documents WHERE capture_id = ?1 AND jpeg IS NOT NULL ORDER BY n",
        )?;
        let rows = stmt.query_map(params![capture_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Uploaded records whose review may still change, least recently asked first.
    pub fn awaiting_review(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id FROM captures c JOIN outbox o ON o.capture_id = c.id
             WHERE o.state = 'sent' AND (c.review_state IS NULL OR c.review_state = 'pending_review')
             ORDER BY COALESCE(c.review_checked_at, 0), c.id LIMIT ?1",
        )?;
        let ids = stmt.query_map(params![limit as i64], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// Records what the hub says of a record's review.
    pub fn set_review(&self, status: &RecordStatus, now: i64) -> Result<(), StoreError> {
        let reasons = serde_json::to_string(&status.reasons).unwrap_or_else(|_| "[]".into());
        self.conn.execute(
            "UPDATE captures SET review_state = ?2, review_reasons = ?3, review_note = ?4, review_checked_at = ?5
             WHERE id = ?1",
            params![status.record_id, status.state.as_str(), reasons, status.note, now],
        )?;
        Ok(())
    }

    /// Notes that the hub was asked about these records (so others get their turn).
    pub fn touch_review(&self, capture_ids: &[String], now: i64) -> Result<(), StoreError> {
        for id in capture_ids {
            self.conn.execute(
                "UPDATE captures SET review_checked_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(())
    }

    /// Staff put a quarantined record back in the queue (after the hub's problem was fixed).
    pub fn requeue(&self, capture_id: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, lease_until = 0
             WHERE capture_id = ?1 AND state = 'quarantined'",
            params![capture_id, now],
        )? == 1)
    }
}
