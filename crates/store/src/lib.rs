//! The kiosk's local store (an adapter over SQLite): one file, WAL, foreign keys, versioned
//! migrations, an integrity check at start. A capture, its outbox row and its idempotency key
//! are written in one transaction that is durable before the candidate is told "submitted".

mod audit;
mod bounded_read;
mod outbox;
mod private;
mod retention;
mod roster;
mod schema;

pub use audit::AuditAction;
pub use bounded_read::{read_at_most, read_line_at_most, ReadFileError};
pub use outbox::OutboxState;
pub use private::{private_database_files, private_dir, tighten_dir, write_private_new};
pub use retention::{pseudonym_key_path, PSEUDONYM_PREFIX};
pub use roster::seal_stored_secrets;
pub use roster::{check_sealed, roster_row, write_roster};

use capture_core::hub_protocol::{RejectReason, ReviewState};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("数据库 {path} 已损坏（{detail}），本机不再写入。请把它复制留存以便恢复，再启用新数据库 / the database {path} is damaged ({detail}); the kiosk will not write to it. Copy it aside for recovery and start with a new one")]
    Corrupt { path: String, detail: String },
    /// The file could not be read or written (a full disk, a pulled stick, no permission):
    /// nothing says its records are lost, so it must not be replaced.
    #[error("数据库 {path} 现在无法读写（{detail}）：磁盘已满、已拔出，或本用户无写权限？其中的记录仍在，请腾出空间或修正权限后重试，不要换新数据库 / the database {path} cannot be read or written now ({detail}): is the disk full or removed, or not writable by this user? The records in it are kept: free space or fix the permission and try again; do not start a new one")]
    Unreachable { path: String, detail: String },
    #[error("数据库 {path} 由更新版本的程序写入（结构 {found}，本程序只认识到 {known}），请升级本程序 / the database {path} was written by a newer kiosk (schema {found}, this build knows {known}); update the kiosk")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot make a secret or password hash: {0}")]
    Crypto(String),
    /// Something stored sealed does not open with the sealing key (altered, moved to another
    /// row, or stored in clear by someone other than the program).
    #[error(
        "stored data does not open with the sealing key (altered, or moved from another row): {0}"
    )]
    Unsealed(String),
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("数据文件夹 {path} 其他用户可读（权限 {mode:04o}），其中有考生个人信息。请运行 `chmod 700 {path}` 后重新启动 / the data folder {path} can be read by other users (mode {mode:04o}); it holds candidates' personal data. Run `chmod 700 {path}` and start again")]
    NotPrivate { path: String, mode: u32 },
    #[error("the roster carries bare password digests, which are never stored; import it through `kiosk hub import-roster` or the staff menu, or update the hub it came from (both seal passwords)")]
    UnsealedSecret,
    /// The hub's shared database server (PostgreSQL): unreachable, a cut connection, or a
    /// statement it refused. The engine's own error is the source.
    #[error("the shared database: {0}")]
    Shared(Box<dyn std::error::Error + Send + Sync>),
    #[error("a database column {index} was read as {wanted} but held {found}")]
    Column {
        index: usize,
        wanted: &'static str,
        found: String,
    },
}

/// Why a database that opened could not be checked: damaged only on the engine's own word that
/// the file is not a sound database; a full disk, a pulled stick or a missing permission is
/// said as such, since the advice for damage (start a new one) would strand its records.
fn unopenable(path: &str, e: rusqlite::Error) -> StoreError {
    let (path, detail) = (path.to_owned(), e.to_string());
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            StoreError::Corrupt { path, detail }
        }
        _ => StoreError::Unreachable { path, detail },
    }
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
        .map_err(|e| unopenable(&shown, e))?;
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
    /// As stored; [`AuditEntry::action`] reads it as an [`AuditAction`].
    pub action_name: String,
    pub detail: String,
}

impl AuditEntry {
    /// What was done; None for an action a newer kiosk recorded.
    pub fn action(&self) -> Option<AuditAction> {
        AuditAction::parse(&self.action_name)
    }

    /// What staff read for it; an unknown action as it was stored.
    pub fn words(&self) -> capture_core::text::Bilingual {
        match self.action() {
            Some(a) => a.words().into(),
            None => capture_core::text::Bilingual::new(&self.action_name, &self.action_name),
        }
    }
}

/// One capture as staff and the candidate's status lookup see it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaptureSummary {
    pub id: String,
    pub profile: String,
    pub candidate_key: String,
    pub created_at_ms: i64,
    /// Where its outbox row stands.
    pub outbox_state: OutboxState,
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
        match (self.outbox_state, self.review_state) {
            (OutboxState::Quarantined, _) => {
                "上传被拒，请联系工作人员 · refused by the hub, ask staff".into()
            }
            (OutboxState::Pending, _) => "排队上传中 · queued for upload".into(),
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

    pub fn audit(&self, staff: &str, action: AuditAction, detail: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit (at, staff, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), staff, action.as_str(), detail],
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
                action_name: r.get(2)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message.to_owned()))
    }

    #[test]
    fn a_full_or_unwritable_disk_is_not_called_damage() {
        for (code, message) in [
            (ffi::SQLITE_FULL, "database or disk is full"),
            (ffi::SQLITE_IOERR, "disk I/O error"),
            (ffi::SQLITE_READONLY, "attempt to write a readonly database"),
            (ffi::SQLITE_CANTOPEN, "unable to open database file"),
        ] {
            let e = unopenable("kiosk-data/kiosk.sqlite", failure(code, message));
            assert!(
                matches!(e, StoreError::Unreachable { .. }),
                "{message}: {e:?}"
            );
            let said = e.to_string();
            assert!(said.contains("do not start a new one") && said.contains("不要换新数据库"));
        }
        for (code, message) in [
            (ffi::SQLITE_CORRUPT, "database disk image is malformed"),
            (ffi::SQLITE_NOTADB, "file is not a database"),
        ] {
            let e = unopenable("kiosk-data/kiosk.sqlite", failure(code, message));
            assert!(matches!(e, StoreError::Corrupt { .. }), "{message}: {e:?}");
        }
    }
}
