//! The hub's own SQLite database: kiosks and their token digests, reviewers and their login
//! sessions, records with their review state, rosters and which kiosks may read them, and a
//! trail of review actions. `access.rs` holds the administration (reviewers, batch
//! assignments) and the rosters, `retention.rs` the purge.

mod access;
mod hash_index;
pub mod retention;

use capture_core::hub_protocol::{Decision, RecordMeta, RecordStatus, RejectReason, ReviewState};
use capture_store::{now_ms, open_database, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

mod ownership;
mod reviewers;
mod stats;
pub use ownership::KioskStatuses;
pub use reviewers::{verify_password, Role, MAX_LOGIN_NAME_CHARS};
pub use stats::{DayStats, KioskDay, SILENT_AFTER_MS};

const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE kiosks (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        token_sha256 TEXT NOT NULL UNIQUE,   -- the token itself is shown once and never stored
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER
    );
    CREATE TABLE reviewers (
        user          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,         -- argon2id, PHC string
        is_admin      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        user         TEXT NOT NULL REFERENCES reviewers(user),
        expires_at   INTEGER NOT NULL
    );
    CREATE TABLE records (
        id                    TEXT PRIMARY KEY,   -- the kiosk's idempotency key
        kiosk_id              TEXT NOT NULL REFERENCES kiosks(id),
        profile               TEXT NOT NULL,
        batch_id              TEXT NOT NULL,
        candidate_key         TEXT NOT NULL,
        spec                  TEXT NOT NULL,
        captured_at           INTEGER NOT NULL,
        verification_distance REAL,
        manual_review         INTEGER NOT NULL,
        fingerprint           TEXT NOT NULL,      -- sha256 of metadata, photo and report
        photo_file            TEXT NOT NULL,
        photo_bytes           INTEGER NOT NULL,
        phash                 BLOB NOT NULL,
        report                TEXT NOT NULL,
        received_at           INTEGER NOT NULL,
        state                 TEXT NOT NULL,
        reasons               TEXT NOT NULL DEFAULT '[]',
        note                  TEXT NOT NULL DEFAULT '',
        reviewed_by           TEXT,
        reviewed_at           INTEGER,
        duplicates            TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX records_by_state ON records(state, received_at);
    CREATE INDEX records_by_candidate ON records(profile, candidate_key);
    CREATE TABLE roster (
        batch_id      TEXT NOT NULL,
        candidate_key TEXT NOT NULL,
        name          TEXT NOT NULL,
        id_number     TEXT NOT NULL,
        ethnicity     TEXT NOT NULL DEFAULT '',
        address       TEXT NOT NULL DEFAULT '',
        phone         TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (batch_id, candidate_key)
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        record_id TEXT,
        detail    TEXT NOT NULL DEFAULT ''
    );
"#,
    // 2: password digests for profiles that identify by number and password
    "ALTER TABLE roster ADD COLUMN secret TEXT NOT NULL DEFAULT '';",
    // 3: how many document photographs came with a record (R-MANUAL)
    "ALTER TABLE records ADD COLUMN documents INTEGER NOT NULL DEFAULT 0;",
    // 4: the batches each kiosk may read the roster of, and when a record's personal data was
    // purged under the retention policy (the row stays for idempotency and status)
    r#"
    CREATE TABLE kiosk_batches (
        kiosk_id TEXT NOT NULL REFERENCES kiosks(id),
        batch_id TEXT NOT NULL,
        PRIMARY KEY (kiosk_id, batch_id)
    );
    ALTER TABLE records ADD COLUMN purged_at INTEGER;
    "#,
    // 5: the collection-day dashboard (`stats.rs`): a login's role (reviewer, or staff who see
    // the dashboard only), each kiosk's last contact and outbox figures, and the indexes that
    // keep the day's figures cheap on a large table
    r#"
    ALTER TABLE reviewers ADD COLUMN role TEXT NOT NULL DEFAULT 'reviewer';
    ALTER TABLE kiosks ADD COLUMN last_seen_at INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_pending INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_quarantined INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_oldest_at INTEGER;
    ALTER TABLE kiosks ADD COLUMN outbox_reported_at INTEGER;
    CREATE INDEX records_by_capture_time ON records(captured_at, kiosk_id);
    CREATE INDEX records_by_decision_time ON records(state, reviewed_at, kiosk_id);
    "#,
];

/// The name suffix of a record's `n`th document photo: the photo `SHARD/KEY.jpg` has its
/// documents beside it as `SHARD/KEY-docN.jpg` (written, served and purged by this one rule).
pub fn document_suffix(n: usize) -> String {
    format!("-doc{n}")
}

/// The file of a record's `n`th document photo, from its photo's file.
pub fn document_file(photo_file: &str, n: usize) -> String {
    let stem = photo_file.strip_suffix(".jpg").unwrap_or(photo_file);
    format!("{stem}{}.jpg", document_suffix(n))
}

pub fn digest_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh secret (kiosk token or login session): 32 bytes from the OS, hex.
pub fn new_secret(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Crypto(e.to_string()))?;
    Ok(format!(
        "{prefix}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// A logged-in account: a reviewer (maybe an administrator) or staff (the dashboard only).
#[derive(Clone, Debug)]
pub struct Reviewer {
    pub user: String,
    pub is_admin: bool,
    pub role: Role,
}

/// A stored record as the hub needs it for idempotency and decisions.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    pub id: String,
    pub kiosk_id: String,
    pub profile: String,
    pub candidate_key: String,
    pub fingerprint: String,
    pub photo_file: String,
    pub status: RecordStatus,
}

/// A near-duplicate of another record's photo.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct DuplicateFlag {
    pub record_id: String,
    pub distance: u32,
    pub same_candidate: bool,
}

/// A record as the review page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewItem {
    pub record_id: String,
    pub kiosk: String,
    pub profile: String,
    pub batch_id: String,
    pub candidate_key: String,
    pub roster_name: Option<String>,
    pub captured_at_ms: i64,
    pub received_at_ms: i64,
    pub verification_distance: Option<f32>,
    pub manual_review: bool,
    pub state: ReviewState,
    pub reasons: Vec<RejectReason>,
    pub note: String,
    pub duplicates: Vec<DuplicateFlag>,
    /// Document photographs from the manual path.
    pub documents: i64,
}

/// A record's perceptual hash, kept in memory for the duplicate check.
#[derive(Clone, Debug)]
pub struct HashEntry {
    pub record_id: String,
    pub profile: String,
    pub candidate_key: String,
    pub state: ReviewState,
    pub phash: Vec<u8>,
}

/// Why a decision or withdrawal cannot be made.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    NotFound,
    WrongKiosk,
    Locked(String),
    Invalid(String),
}

pub struct NewRecord<'a> {
    pub meta: &'a RecordMeta,
    pub kiosk_id: &'a str,
    pub fingerprint: &'a str,
    pub photo_file: &'a str,
    pub photo_bytes: usize,
    pub phash: &'a [u8],
    pub report: &'a str,
    pub duplicates: &'a [DuplicateFlag],
    pub documents: usize,
}

pub struct HubDb {
    conn: Connection,
}

fn status_from_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<RecordStatus> {
    let state: String = r.get(at + 1)?;
    let reasons: String = r.get(at + 2)?;
    Ok(RecordStatus {
        record_id: r.get(at)?,
        state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        note: r.get(at + 3)?,
        received_at_ms: r.get(at + 4)?,
        reviewed_at_ms: r.get(at + 5)?,
    })
}

const STATUS_COLUMNS: &str = "id, state, reasons, note, received_at, reviewed_at";

impl HubDb {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_database(path, MIGRATIONS)?;
        let sealed = capture_store::seal_stored_secrets(&conn)?;
        if sealed > 0 {
            tracing::info!(rows = sealed, "roster password digests sealed");
        }
        Ok(HubDb { conn })
    }

    fn event(
        &self,
        actor: &str,
        action: &str,
        record_id: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO events (at, actor, action, record_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now_ms(), actor, action, record_id, detail],
        )?;
        Ok(())
    }

    /// Registers a kiosk; returns its id and its token (shown once, stored only as a digest).
    pub fn add_kiosk(&self, name: &str) -> Result<(String, String), StoreError> {
        let id = format!("k-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let token = new_secret("ck_")?;
        self.conn.execute(
            "INSERT INTO kiosks (id, name, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, digest_hex(token.as_bytes()), now_ms()],
        )?;
        self.event("admin", "add_kiosk", None, &id)?;
        Ok((id, token))
    }

    pub fn revoke_kiosk(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE kiosks SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, now_ms()],
        )? == 1)
    }

    /// The kiosk a bearer token belongs to (id, name), unless unknown or revoked.
    pub fn kiosk_by_token(&self, token: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name FROM kiosks WHERE token_sha256 = ?1 AND revoked_at IS NULL",
                params![digest_hex(token.as_bytes())],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn record(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT kiosk_id, profile, candidate_key, fingerprint, photo_file, {STATUS_COLUMNS} FROM records WHERE id = ?1"),
                params![id],
                |r| {
                    Ok(StoredRecord {
                        id: id.to_owned(),
                        kiosk_id: r.get(0)?,
                        profile: r.get(1)?,
                        candidate_key: r.get(2)?,
                        fingerprint: r.get(3)?,
                        photo_file: r.get(4)?,
                        status: status_from_row(r, 5)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn insert_record(&self, n: &NewRecord) -> Result<RecordStatus, StoreError> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO records (id, kiosk_id, profile, batch_id, candidate_key, spec, captured_at, verification_distance,
                                  manual_review, fingerprint, photo_file, photo_bytes, phash, report, received_at, state, duplicates,
                                  documents)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending_review', ?16, ?17)",
            params![
                n.meta.key, n.kiosk_id, n.meta.profile, n.meta.batch_id, n.meta.candidate_key, n.meta.spec,
                n.meta.captured_at_ms, n.meta.verification_distance, n.meta.manual_review, n.fingerprint,
                n.photo_file, n.photo_bytes as i64, n.phash, n.report, now,
                serde_json::to_string(n.duplicates).unwrap_or_else(|_| "[]".into()),
                n.documents as i64
            ],
        )?;
        Ok(RecordStatus {
            record_id: n.meta.key.clone(),
            state: ReviewState::PendingReview,
            reasons: Vec::new(),
            note: String::new(),
            received_at_ms: now,
            reviewed_at_ms: None,
        })
    }

    /// Every record's perceptual hash, for the in-memory duplicate index.
    pub fn hashes(&self) -> Result<Vec<HashEntry>, StoreError> {
        // a purged record's photo is gone, and its hash with it
        let mut stmt = self.conn.prepare(
            "SELECT id, profile, candidate_key, state, phash FROM records WHERE purged_at IS NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            let state: String = r.get(3)?;
            Ok(HashEntry {
                record_id: r.get(0)?,
                profile: r.get(1)?,
                candidate_key: r.get(2)?,
                state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
                phash: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A returning candidate's records as `kiosk_id` may see them, newest first: those of the
    /// batches the kiosk is assigned to (the candidate may have been at another kiosk of the
    /// same collection) and those the kiosk sent itself.
    pub fn candidate_records(
        &self,
        kiosk_id: &str,
        profile: &str,
        candidate_key: &str,
    ) -> Result<Vec<RecordStatus>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {STATUS_COLUMNS} FROM records
             WHERE profile = ?1 AND candidate_key = ?2 AND purged_at IS NULL
               AND (kiosk_id = ?3 OR batch_id IN (SELECT batch_id FROM kiosk_batches WHERE kiosk_id = ?3))
             ORDER BY received_at DESC"
        ))?;
        let rows = stmt.query_map(params![profile, candidate_key, kiosk_id], |r| {
            status_from_row(r, 0)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Withdraws a record while it waits for review (R-STATUS).
    pub fn withdraw(
        &mut self,
        id: &str,
        kiosk_id: &str,
    ) -> Result<Result<RecordStatus, Refusal>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String)> = tx
            .query_row(
                "SELECT kiosk_id, state FROM records WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((owner, state)) = row else {
            return Ok(Err(Refusal::NotFound));
        };
        if owner != kiosk_id {
            return Ok(Err(Refusal::WrongKiosk));
        }
        if state != ReviewState::PendingReview.as_str() {
            return Ok(Err(Refusal::Locked(format!(
                "the record is {state}; only a record pending review can be withdrawn"
            ))));
        }
        tx.execute(
            "UPDATE records SET state = 'withdrawn', reviewed_at = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        tx.commit()?;
        self.event(kiosk_id, "withdraw", Some(id), "")?;
        Ok(self.record(id)?.map(|r| r.status).ok_or(Refusal::NotFound))
    }

    /// A reviewer's decision. Approved records are locked; withdrawn ones cannot be decided.
    pub fn decide(
        &mut self,
        id: &str,
        reviewer: &str,
        d: &Decision,
    ) -> Result<Result<RecordStatus, Refusal>, StoreError> {
        if !d.approve && d.reasons.is_empty() {
            return Ok(Err(Refusal::Invalid(
                "a rejection needs at least one reason".into(),
            )));
        }
        // an approval's reasons are dropped below, so only a rejection's `other` needs a note
        if !d.approve && d.reasons.contains(&RejectReason::Other) && d.note.trim().is_empty() {
            return Ok(Err(Refusal::Invalid(
                "reason \"other\" needs a note saying what is wrong".into(),
            )));
        }
        if d.note.chars().count() > 500 {
            return Ok(Err(Refusal::Invalid(
                "the note is longer than 500 characters".into(),
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state: Option<String> = tx
            .query_row(
                "SELECT state FROM records WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(state) = state else {
            return Ok(Err(Refusal::NotFound));
        };
        if state != ReviewState::PendingReview.as_str() && state != ReviewState::Rejected.as_str() {
            return Ok(Err(Refusal::Locked(format!(
                "the record is {state} and can no longer be changed"
            ))));
        }
        let (new_state, reasons) = if d.approve {
            (ReviewState::Approved, Vec::new())
        } else {
            (ReviewState::Rejected, d.reasons.clone())
        };
        tx.execute(
            "UPDATE records SET state = ?2, reasons = ?3, note = ?4, reviewed_by = ?5, reviewed_at = ?6 WHERE id = ?1",
            params![id, new_state.as_str(), serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into()), d.note.trim(), reviewer, now_ms()],
        )?;
        tx.commit()?;
        let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
        self.event(reviewer, new_state.as_str(), Some(id), &codes.join(","))?;
        Ok(self.record(id)?.map(|r| r.status).ok_or(Refusal::NotFound))
    }

    /// One record's check report as stored (JSON text).
    pub fn report(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT report FROM records WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records in `state`, oldest first (the review queue), one page without their reports.
    pub fn review_items(
        &self,
        state: ReviewState,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, k.name, r.profile, r.batch_id, r.candidate_key,
                    (SELECT name FROM roster WHERE batch_id = r.batch_id AND candidate_key = r.candidate_key),
                    r.captured_at, r.received_at, r.verification_distance, r.manual_review, r.state, r.reasons, r.note,
                    r.duplicates, r.documents
             FROM records r JOIN kiosks k ON k.id = r.kiosk_id
             WHERE r.state = ?1 ORDER BY r.received_at, r.id LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt.query_map(params![state.as_str(), limit as i64, offset as i64], |r| {
            let state: String = r.get(10)?;
            let reasons: String = r.get(11)?;
            let dups: String = r.get(13)?;
            Ok(ReviewItem {
                record_id: r.get(0)?,
                kiosk: r.get(1)?,
                profile: r.get(2)?,
                batch_id: r.get(3)?,
                candidate_key: r.get(4)?,
                roster_name: r.get(5)?,
                captured_at_ms: r.get(6)?,
                received_at_ms: r.get(7)?,
                verification_distance: r.get::<_, Option<f64>>(8)?.map(|d| d as f32),
                manual_review: r.get(9)?,
                state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
                reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                note: r.get(12)?,
                duplicates: serde_json::from_str(&dups).unwrap_or_default(),
                documents: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts by state, for the page header and the command line.
    pub fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM records GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ids of the records whose photo files are still theirs (a purged record's are not).
    pub fn records_with_photos(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM records WHERE photo_file != '' ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn record_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM records ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
