//! The kiosk's local store (an adapter over SQLite): one file, WAL, foreign keys, versioned
//! migrations, an integrity check at start. A capture, its outbox row and its idempotency key
//! are written in one transaction that is durable before the candidate is told "submitted".

mod schema;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database {path} is damaged ({detail}); the kiosk will not write to it. Copy it aside for recovery and start with a new one")]
    Corrupt { path: String, detail: String },
    #[error("the database {path} was written by a newer kiosk (schema {found}, this build knows {known}); update the kiosk")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A capture the candidate confirmed.
#[derive(Clone, Debug)]
pub struct NewCapture<'a> {
    pub session_id: &'a str,
    pub profile: &'a str,
    pub candidate_key: &'a str,
    pub spec: &'a str,
    pub photo_jpeg: &'a [u8],
    pub check_report_json: &'a str,
}

/// An outbox row leased to an uploader.
#[derive(Clone, Debug, PartialEq)]
pub struct Leased {
    pub capture_id: String,
    pub attempts: i64,
}

/// Queue figures for staff.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct QueueStatus {
    pub pending: i64,
    pub sent: i64,
    pub quarantined: i64,
    pub oldest_pending_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (or creates) the database, checks its integrity, and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        let shown = path.display().to_string();
        let verdict: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| StoreError::Corrupt {
                path: shown.clone(),
                detail: e.to_string(),
            })?;
        if verdict != "ok" {
            return Err(StoreError::Corrupt {
                path: shown,
                detail: verdict,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit survives a power cut, which is what "submitted" promises
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mut store = Store { conn };
        store.migrate(&shown)?;
        Ok(store)
    }

    fn migrate(&mut self, shown: &str) -> Result<(), StoreError> {
        let known = schema::MIGRATIONS.len() as i64;
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > known {
            return Err(StoreError::TooNew {
                path: shown.to_owned(),
                found,
                known,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub fn start_session(&self, profile: &str, batch_id: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.conn.execute(
            "INSERT INTO sessions (id, profile, batch_id, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, profile, batch_id, now_ms()],
        )?;
        Ok(id)
    }

    /// Stores the capture and queues it for upload in one durable transaction; returns its
    /// idempotency key (the receipt number's source).
    pub fn submit(&mut self, c: &NewCapture) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO captures (id, session_id, profile, candidate_key, spec, photo, check_report, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, c.session_id, c.profile, c.candidate_key, c.spec, c.photo_jpeg, c.check_report_json, now],
        )?;
        tx.execute(
            "INSERT INTO outbox (capture_id, state, next_attempt_at) VALUES (?1, 'pending', ?2)",
            params![id, now],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Records a verification attempt; the count survives restarts.
    pub fn record_attempt(
        &self,
        profile: &str,
        candidate_key: &str,
        score: Option<f32>,
        passed: bool,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO verification_attempts (profile, candidate_key, at, score, passed) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![profile, candidate_key, now_ms(), score, passed],
        )?;
        Ok(())
    }

    /// Failed attempts since the last passed one.
    pub fn consecutive_failures(
        &self,
        profile: &str,
        candidate_key: &str,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM verification_attempts
             WHERE profile = ?1 AND candidate_key = ?2 AND passed = 0
               AND id > COALESCE((SELECT MAX(id) FROM verification_attempts
                                  WHERE profile = ?1 AND candidate_key = ?2 AND passed = 1), 0)",
            params![profile, candidate_key],
            |r| r.get(0),
        )?)
    }

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
            pending: count("pending")?,
            sent: count("sent")?,
            quarantined: count("quarantined")?,
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

    /// Deletes the photos of records the hub confirmed more than `retention` ago.
    pub fn purge_uploaded(&self, now: i64, retention: Duration) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE captures SET photo = NULL, purged_at = ?1
             WHERE photo IS NOT NULL AND id IN
               (SELECT capture_id FROM outbox WHERE state = 'sent' AND sent_at <= ?2)",
            params![now, now - retention.as_millis() as i64],
        )?)
    }

    pub fn audit(&self, staff: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit (at, staff, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), staff, action, detail],
        )?;
        Ok(())
    }

    /// The stored photo of a capture (None once purged).
    pub fn capture_photo(&self, capture_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT photo FROM captures WHERE id = ?1",
                params![capture_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}
