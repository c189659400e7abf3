//! The kiosk's local store (an adapter over SQLite): one file, WAL, foreign keys, versioned
//! migrations, an integrity check at start. A capture, its outbox row and its idempotency key
//! are written in one transaction that is durable before the candidate is told "submitted".

mod private;
mod retention;
mod roster;
mod schema;

pub use private::{private_database_files, private_dir, tighten_dir};
pub use retention::{pseudonym_key_path, PSEUDONYM_PREFIX};
pub(crate) use roster::seal_stored_secrets;
pub use roster::{roster_row, write_roster};

use crate::hub_protocol::{RecordMeta, RecordStatus, RejectReason, ReviewState};
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
    #[error("cannot make a secret or password hash: {0}")]
    Crypto(String),
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("the data folder {path} can be read by other users (mode {mode:04o}); it holds candidates' personal data. Run `chmod 700 {path}` and start again")]
    NotPrivate { path: String, mode: u32 },
    #[error("the roster carries bare password digests, which are never stored; import it through `kiosk hub import-roster` or the staff menu, or update the hub it came from (both seal passwords)")]
    UnsealedSecret,
}

/// Opens a SQLite database the way every database of this product is opened: refuse a damaged
/// file (never overwrite it), WAL, durable commits, foreign keys, and `migrations` applied in
/// order (a database newer than `migrations` is refused).
pub fn open_database(path: &Path, migrations: &[&str]) -> Result<Connection, StoreError> {
    // made 0600 before SQLite opens it; its -wal, -shm and -journal files take its mode
    private_database_files(path)?;
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
    // deleted rows and freed pages are overwritten with zeros: a purged photo is gone from the
    // file, not just unlinked from the b-tree
    conn.pragma_update(None, "secure_delete", "ON")?;
    let fresh: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if fresh == 0 {
        // only a database with no tables yet can take it; purges then give pages back
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit survives a power cut, which is what "submitted" promises
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let known = migrations.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: shown,
            found,
            known,
        });
    }
    let mut conn = conn;
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(conn)
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
    /// Distance to the reference face, when one was compared.
    pub verification_distance: Option<f32>,
    /// The candidate went the manual path (R-MANUAL).
    pub manual_review: bool,
    /// On the manual path: the ID card's front, back and the candidate holding it (JPEG).
    pub documents: &'a [Vec<u8>],
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

/// One line of the staff audit trail.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub staff: String,
    pub action: String,
    pub detail: String,
}

/// One capture as staff and the candidate's status lookup see it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaptureSummary {
    pub id: String,
    pub profile: String,
    pub candidate_key: String,
    pub created_at_ms: i64,
    /// `pending`, `sent` or `quarantined`.
    pub outbox_state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The hub's review state once fetched.
    pub review_state: Option<ReviewState>,
    pub review_reasons: Vec<RejectReason>,
    pub review_note: String,
    pub photo_kept: bool,
}

impl CaptureSummary {
    /// The status line a returning candidate reads (R-STATUS), Chinese then English.
    pub fn status_line(&self) -> String {
        match (self.outbox_state.as_str(), self.review_state) {
            ("quarantined", _) => "上传被拒，请联系工作人员 · refused by the hub, ask staff".into(),
            ("pending", _) => "排队上传中 · queued for upload".into(),
            (_, None) => "已上传 · uploaded".into(),
            (_, Some(ReviewState::Rejected)) => {
                let zh: Vec<&str> = self.review_reasons.iter().map(|r| r.zh()).collect();
                let en: Vec<&str> = self.review_reasons.iter().map(|r| r.en()).collect();
                let mut line = format!(
                    "审核未通过：{} · rejected: {}",
                    zh.join("；"),
                    en.join("; ")
                );
                if !self.review_note.is_empty() {
                    line.push_str(&format!(" ({})", self.review_note));
                }
                line
            }
            (_, Some(state)) => format!("{} · {}", state.zh(), state.as_str().replace('_', " ")),
        }
    }
}

pub struct Store {
    conn: Connection,
    /// Keys the pseudonym a purged record keeps (`Store::pseudonym`).
    pseudonym_key: [u8; 32],
    /// A purge's write-ahead-log truncation found readers; the next purge tries again.
    checkpoint_owed: bool,
}

impl Store {
    /// Opens (or creates) the database, checks its integrity, and brings its schema up to date.
    /// The database and its companion files are made private (0600); the pseudonym key beside
    /// it is made at first start.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_database(path, schema::MIGRATIONS)?;
        let sealed = seal_stored_secrets(&conn)?;
        if sealed > 0 {
            tracing::info!(rows = sealed, "roster password digests sealed");
        }
        Ok(Store {
            conn,
            pseudonym_key: retention::load_or_make_key(path)?,
            checkpoint_owed: false,
        })
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
            "INSERT INTO captures (id, session_id, profile, candidate_key, spec, photo, check_report, created_at,
                                   verification_distance, manual_review)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![id, c.session_id, c.profile, c.candidate_key, c.spec, c.photo_jpeg, c.check_report_json, now,
                    c.verification_distance, c.manual_review],
        )?;
        for (n, jpeg) in c.documents.iter().enumerate() {
            tx.execute(
                "INSERT INTO capture_documents (capture_id, n, jpeg) VALUES (?1, ?2, ?3)",
                params![id, n as i64, jpeg],
            )?;
        }
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

    /// Failed attempts since the last passed one (also those the retention purge kept only
    /// under the candidate's pseudonym).
    pub fn consecutive_failures(
        &self,
        profile: &str,
        candidate_key: &str,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM verification_attempts
             WHERE profile = ?1 AND candidate_key IN (?2, ?3) AND passed = 0
               AND id > COALESCE((SELECT MAX(id) FROM verification_attempts
                                  WHERE profile = ?1 AND candidate_key IN (?2, ?3) AND passed = 1), 0)",
            params![profile, candidate_key, self.pseudonym(candidate_key)],
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

    fn summaries(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<CaptureSummary>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.profile, c.candidate_key, c.created_at, o.state, o.attempts, o.last_error,
                    c.review_state, c.review_reasons, c.review_note, c.photo IS NOT NULL
             FROM captures c JOIN outbox o ON o.capture_id = c.id {filter}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(args, |r| {
            let state: Option<String> = r.get(7)?;
            let reasons: String = r.get(8)?;
            Ok(CaptureSummary {
                id: r.get(0)?,
                profile: r.get(1)?,
                candidate_key: r.get(2)?,
                created_at_ms: r.get(3)?,
                outbox_state: r.get(4)?,
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                review_state: state.as_deref().and_then(ReviewState::parse),
                review_reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                review_note: r.get(9)?,
                photo_kept: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest captures first.
    pub fn recent_captures(&self, limit: usize) -> Result<Vec<CaptureSummary>, StoreError> {
        self.summaries(
            "ORDER BY c.created_at DESC, c.id DESC LIMIT ?1",
            &[&(limit as i64)],
        )
    }

    /// A returning candidate's records, newest first (R-STATUS); also finds purged records by
    /// their pseudonym.
    pub fn candidate_captures(
        &self,
        profile: &str,
        candidate_key: &str,
    ) -> Result<Vec<CaptureSummary>, StoreError> {
        self.summaries(
            "WHERE c.profile = ?1 AND c.candidate_key IN (?2, ?3) ORDER BY c.created_at DESC, c.id DESC",
            &[&profile, &candidate_key, &self.pseudonym(candidate_key)],
        )
    }

    pub fn capture_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM captures", [], |r| r.get(0))?)
    }

    /// Every capture id, oldest first.
    pub fn capture_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM captures ORDER BY id")?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    pub fn audit(&self, staff: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit (at, staff, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), staff, action, detail],
        )?;
        Ok(())
    }

    /// The newest lines of the audit trail first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT at, staff, action, detail FROM audit ORDER BY at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(AuditEntry {
                at_ms: r.get(0)?,
                staff: r.get(1)?,
                action: r.get(2)?,
                detail: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Captures made since `since_ms`, and how many of them still wait for upload: the
    /// figures staff read when closing a collection.
    pub fn captures_since(&self, since_ms: i64) -> Result<(i64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(o.state = 'pending'), 0)
             FROM captures c JOIN outbox o ON o.capture_id = c.id
             WHERE c.created_at >= ?1",
            params![since_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
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
