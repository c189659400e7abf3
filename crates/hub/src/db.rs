//! The hub's database: kiosks and their token digests, reviewers and their login sessions,
//! records with their review state, rosters and which kiosks may read them, and a trail of
//! review actions. `access.rs` holds the administration (reviewers, batch assignments) and
//! the rosters, `retention.rs` the purge.
//!
//! One implementation of every operation over two engines (`sql.rs`): SQLite in the data
//! folder (`schema.rs`), the default for one college, or PostgreSQL shared by a province's
//! replicas (`pg.rs`).

mod access;
mod candidates;
mod hash_index;
pub mod login_attempts;
pub mod pg;
pub mod retention;
mod schema;
pub mod sql;

use crate::sealing::SealingKey;
use capture_core::hub_protocol::{Decision, RecordMeta, RecordStatus, RejectReason, ReviewState};
use capture_store::{now_ms, open_database, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sql::{args, Dialect, Row, Sql, SqliteTx};
use std::cell::{RefCell, RefMut};
use std::path::Path;
use std::sync::Arc;

mod ownership;
mod reviewers;
mod stats;
pub use ownership::KioskStatuses;
pub use reviewers::{verify_password, Role, MAX_LOGIN_NAME_CHARS};
pub use stats::{DayStats, KioskDay, SILENT_AFTER_MS};

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
    /// The candidate number's digest (`db/candidates.rs`), or 'purged'.
    pub candidate_index: String,
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
    /// The candidate number's digest: equal numbers, equal digests.
    pub candidate_index: String,
    pub state: ReviewState,
    pub phash: Vec<u8>,
}

/// What the review page shows for a sealed field that does not open with the hub's key.
const UNREADABLE: &str = "（无法读取 · unreadable）";

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

/// The hub's database through one connection: SQLite's one connection (behind the hub's
/// mutex), or a connection leased from the PostgreSQL pool for one handler.
pub struct HubDb {
    conn: RefCell<Conn>,
    /// Seals the roster's personal fields (`db/access.rs`, `sealing.rs`).
    sealing: Arc<SealingKey>,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<pg::PgConn>),
}

/// Whether a statement failed on a UNIQUE or PRIMARY KEY constraint (a name or key taken).
pub fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == rusqlite::ErrorCode::ConstraintViolation
        }
        StoreError::Shared(e) => e
            .downcast_ref::<postgres::Error>()
            .and_then(postgres::Error::code)
            .is_some_and(|c| *c == postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}

const STATUS_COLUMNS: &str = "id, state, reasons, note, received_at, reviewed_at";
/// The newest records of one candidate a kiosk is shown (`candidate_records`): more than any
/// candidate makes in a collection (attempt limits are a handful), so the kiosk's count of
/// attempts is never short of its limit.
const CANDIDATE_RECORDS_SHOWN: u32 = 100;

impl HubDb {
    /// Opens (and migrates) the SQLite database at `path`.
    pub fn open(path: &Path, sealing: Arc<SealingKey>) -> Result<Self, StoreError> {
        let conn = open_database(path, schema::MIGRATIONS)?;
        // every statement is prepared once per connection (sql.rs uses the cache)
        conn.set_prepared_statement_cache_capacity(64);
        let sealed = capture_store::seal_stored_secrets(&conn)?;
        if sealed > 0 {
            tracing::info!(rows = sealed, "roster password digests sealed");
        }
        Ok(HubDb {
            conn: RefCell::new(Conn::Sqlite(conn)),
            sealing,
        })
    }

    /// A connection leased from the PostgreSQL pool, given back when this is dropped.
    /// (PostgreSQL databases are made by this version, so there are no legacy password
    /// digests to seal as `open` does for an old `hub.sqlite`.)
    pub fn pooled(pool: &Arc<pg::Pool>, sealing: Arc<SealingKey>) -> Self {
        HubDb {
            conn: RefCell::new(Conn::Postgres(Box::new(pool.lease()))),
            sealing,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn.try_borrow().as_deref() {
            Ok(Conn::Postgres(_)) => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// The connection for one statement.
    pub(crate) fn sql(&self) -> Result<RefMut<'_, dyn Sql>, StoreError> {
        let conn = self.conn.try_borrow_mut().map_err(|_| StoreError::Column {
            index: 0,
            wanted: "a free connection",
            found: "one already in use by this handler".into(),
        })?;
        Ok(RefMut::map(conn, |c| match c {
            Conn::Sqlite(c) => c as &mut dyn Sql,
            Conn::Postgres(c) => &mut **c as &mut dyn Sql,
        }))
    }

    /// Runs `f` in a write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: read
    /// committed, with the rows a decision depends on locked), committed if `f` returns Ok.
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.try_borrow_mut().map_err(|_| StoreError::Column {
            index: 0,
            wanted: "a free connection",
            found: "one already in use by this handler".into(),
        })?;
        match &mut *conn {
            Conn::Sqlite(c) => {
                let mut tx = SqliteTx(
                    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
                );
                let v = f(&mut tx)?;
                tx.0.commit()?;
                Ok(v)
            }
            Conn::Postgres(c) => c.transaction(f),
        }
    }

    fn event(
        &self,
        actor: &str,
        action: &str,
        record_id: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.sql()?.execute(
            "INSERT INTO events (at, actor, action, record_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            args![now_ms(), actor, action, record_id, detail],
        )?;
        Ok(())
    }

    /// Registers a kiosk; returns its id and its token (shown once, stored only as a digest).
    pub fn add_kiosk(&self, name: &str) -> Result<(String, String), StoreError> {
        let id = format!("k-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let token = new_secret("ck_")?;
        self.sql()?.execute(
            "INSERT INTO kiosks (id, name, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
            args![&id, name, digest_hex(token.as_bytes()), now_ms()],
        )?;
        self.event("admin", "add_kiosk", None, &id)?;
        Ok((id, token))
    }

    pub fn revoke_kiosk(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.sql()?.execute(
            "UPDATE kiosks SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            args![name, now_ms()],
        )? == 1)
    }

    /// The kiosk a bearer token belongs to (id, name), unless unknown or revoked.
    pub fn kiosk_by_token(&self, token: &str) -> Result<Option<(String, String)>, StoreError> {
        self.sql()?
            .query_opt(
                "SELECT id, name FROM kiosks WHERE token_sha256 = ?1 AND revoked_at IS NULL",
                args![digest_hex(token.as_bytes())],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
    }

    pub fn record(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.sql()?
            .query_opt(
                &format!("SELECT kiosk_id, profile, candidate_key, fingerprint, photo_file, {STATUS_COLUMNS} FROM records WHERE id = ?1"),
                args![id],
            )?
            .map(|r| {
                Ok(StoredRecord {
                    id: id.to_owned(),
                    kiosk_id: r.get(0)?,
                    profile: r.get(1)?,
                    candidate_index: r.get(2)?,
                    fingerprint: r.get(3)?,
                    photo_file: r.get(4)?,
                    status: self.status_from_row(&r, 5)?,
                })
            })
            .transpose()
    }

    /// Stores a new record; None if a record with its key is already stored (the same record
    /// sent twice at once, to this replica or another: the key is the primary key, so one of
    /// them is stored and the other answered from it).
    pub fn insert_record(&self, n: &NewRecord) -> Result<Option<RecordStatus>, StoreError> {
        let now = now_ms();
        let index = self.candidate_index(&n.meta.candidate_key);
        let copy = self.seal_record_candidate(&n.meta.key, &n.meta.candidate_key)?;
        let inserted = self.sql()?.execute(
            "INSERT INTO records (id, kiosk_id, profile, batch_id, candidate_key, spec, captured_at, verification_distance,
                                  manual_review, fingerprint, photo_file, photo_bytes, phash, report, received_at, state, duplicates,
                                  documents, candidate_sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending_review', ?16, ?17, ?18)
             ON CONFLICT (id) DO NOTHING",
            args![
                &n.meta.key, n.kiosk_id, &n.meta.profile, &n.meta.batch_id, index, &n.meta.spec,
                n.meta.captured_at_ms, n.meta.verification_distance, n.meta.manual_review, n.fingerprint,
                n.photo_file, n.photo_bytes, n.phash, n.report, now,
                serde_json::to_string(n.duplicates).unwrap_or_else(|_| "[]".into()),
                n.documents, copy
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        Ok(Some(RecordStatus {
            record_id: n.meta.key.clone(),
            state: ReviewState::PendingReview,
            reasons: Vec::new(),
            note: String::new(),
            received_at_ms: now,
            reviewed_at_ms: None,
        }))
    }

    /// A returning candidate's records as `kiosk_id` may see them, newest first: those of the
    /// batches the kiosk is assigned to (the candidate may have been at another kiosk of the
    /// same collection) and those the kiosk sent itself. At most `CANDIDATE_RECORDS_SHOWN`: a
    /// candidate has a few, and a stolen kiosk's token that stored thousands under one
    /// candidate must not make one answer take the database for seconds.
    pub fn candidate_records(
        &self,
        kiosk_id: &str,
        profile: &str,
        candidate_key: &str,
    ) -> Result<Vec<RecordStatus>, StoreError> {
        let rows = self.sql()?.query(
            &format!(
                "SELECT {STATUS_COLUMNS} FROM records
                 WHERE profile = ?1 AND candidate_key = ?2 AND purged_at IS NULL
                   AND (kiosk_id = ?3 OR batch_id IN (SELECT batch_id FROM kiosk_batches WHERE kiosk_id = ?3))
                 ORDER BY received_at DESC LIMIT {CANDIDATE_RECORDS_SHOWN}"
            ),
            args![profile, self.candidate_index(candidate_key), kiosk_id],
        )?;
        rows.iter().map(|r| self.status_from_row(r, 0)).collect()
    }

    /// Withdraws a record while it waits for review (R-STATUS).
    pub fn withdraw(
        &mut self,
        id: &str,
        kiosk_id: &str,
    ) -> Result<Result<RecordStatus, Refusal>, StoreError> {
        let done = self.transaction(|tx| {
            let lock = tx.lock_rows();
            let row = tx.query_opt(
                &format!("SELECT kiosk_id, state FROM records WHERE id = ?1{lock}"),
                args![id],
            )?;
            let Some(row) = row else {
                return Ok(Err(Refusal::NotFound));
            };
            let (owner, state): (String, String) = (row.get(0)?, row.get(1)?);
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
                args![id, now_ms()],
            )?;
            Ok(Ok(()))
        })?;
        if let Err(refused) = done {
            return Ok(Err(refused));
        }
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
        let (new_state, reasons) = if d.approve {
            (ReviewState::Approved, Vec::new())
        } else {
            (ReviewState::Rejected, d.reasons.clone())
        };
        // sealed before the transaction, like the roster's fields: a reviewer's words may name
        // the candidate or quote their ID number
        let note = self.seal_note(id, d.note.trim())?;
        let done = self.transaction(|tx| {
            let lock = tx.lock_rows();
            let state: Option<String> = tx
                .query_opt(
                    // a purged record (its photo gone) is past deciding, whatever a stale page shows
                    &format!("SELECT state FROM records WHERE id = ?1 AND purged_at IS NULL{lock}"),
                    args![id],
                )?
                .map(|r| r.get(0))
                .transpose()?;
            let Some(state) = state else {
                return Ok(Err(Refusal::NotFound));
            };
            if state != ReviewState::PendingReview.as_str()
                && state != ReviewState::Rejected.as_str()
            {
                return Ok(Err(Refusal::Locked(format!(
                    "the record is {state} and can no longer be changed"
                ))));
            }
            tx.execute(
                "UPDATE records SET state = ?2, reasons = ?3, note = ?4, reviewed_by = ?5, reviewed_at = ?6 WHERE id = ?1",
                args![id, new_state.as_str(), serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into()), note, reviewer, now_ms()],
            )?;
            Ok(Ok(()))
        })?;
        if let Err(refused) = done {
            return Ok(Err(refused));
        }
        let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
        self.event(reviewer, new_state.as_str(), Some(id), &codes.join(","))?;
        Ok(self.record(id)?.map(|r| r.status).ok_or(Refusal::NotFound))
    }

    /// One record's check report as stored (JSON text).
    pub fn report(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.sql()?
            .query_opt("SELECT report FROM records WHERE id = ?1", args![id])?
            .map(|r| r.get(0))
            .transpose()
    }

    /// Records in `state`, oldest first (the review queue), one page without their reports.
    pub fn review_items(
        &self,
        state: ReviewState,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let rows = self.sql()?.query(
            "SELECT r.id, k.name, r.profile, r.batch_id, r.candidate_key, ro.name,
                    r.captured_at, r.received_at, r.verification_distance, r.manual_review, r.state, r.reasons, r.note,
                    r.duplicates, r.documents, r.candidate_sealed, ro.candidate_sealed
             FROM records r JOIN kiosks k ON k.id = r.kiosk_id
                  LEFT JOIN roster ro ON ro.batch_id = r.batch_id AND ro.candidate_key = r.candidate_key
             WHERE r.state = ?1 ORDER BY r.received_at, r.id LIMIT ?2 OFFSET ?3",
            args![state.as_str(), limit, offset],
        )?;
        rows.iter()
            .map(|r| {
                let state: String = r.get(10)?;
                let reasons: String = r.get(11)?;
                let dups: String = r.get(13)?;
                Ok(ReviewItem {
                    record_id: r.get(0)?,
                    kiosk: r.get(1)?,
                    profile: r.get(2)?,
                    batch_id: r.get(3)?,
                    candidate_key: self.review_candidate(r)?,
                    roster_name: self.review_name(r)?,
                    captured_at_ms: r.get(6)?,
                    received_at_ms: r.get(7)?,
                    verification_distance: r.get::<Option<f64>>(8)?.map(|d| d as f32),
                    manual_review: r.get(9)?,
                    state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    note: self.opened_note(r, 0, 12, UNREADABLE)?,
                    duplicates: serde_json::from_str(&dups).unwrap_or_default(),
                    documents: r.get(14)?,
                })
            })
            .collect()
    }

    /// The candidate number of a review list row (columns 0, 4 and 15), opened: 'purged' for
    /// a purged record, which keeps none. One that does not open, or that has no sealed copy
    /// (a row an older hub wrote in clear after this one sealed the rest), is shown as
    /// unreadable and logged by record id: the rest of the queue is reviewed.
    fn review_candidate(&self, r: &Row) -> Result<String, StoreError> {
        let (record, stored): (String, String) = (r.get(0)?, r.get(4)?);
        if stored == "purged" {
            return Ok(stored);
        }
        let opened = self
            .open_record_candidate(&record, r.get(15)?)
            .ok()
            .filter(|candidate| !candidate.is_empty());
        Ok(opened.unwrap_or_else(|| {
            tracing::warn!(target: "hub", record = %record, "a candidate number does not open with the sealing key");
            UNREADABLE.to_owned()
        }))
    }

    /// The roster name of a review list row (columns 0, 3, 4, 5 and 16), opened: the roster
    /// row's own number first, for which its name is sealed. One that does not open is shown
    /// as such and logged by record id.
    fn review_name(&self, r: &Row) -> Result<Option<String>, StoreError> {
        let (Some(stored), Some(number)) =
            (r.get::<Option<String>>(5)?, r.get::<Option<String>>(16)?)
        else {
            return Ok(None);
        };
        let (batch, index): (String, String) = (r.get(3)?, r.get(4)?);
        let opened = self
            .open_roster_candidate(&batch, &index, number)
            .and_then(|number| self.open_roster_field(&batch, &number, "name", stored));
        Ok(Some(opened.unwrap_or_else(|_| {
            let record = r.get::<String>(0).unwrap_or_default();
            tracing::warn!(target: "hub", record = %record, "a roster name does not open with the sealing key");
            UNREADABLE.to_owned()
        })))
    }

    /// Counts by state, for the page header and the command line.
    pub fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self.sql()?.query(
            "SELECT state, COUNT(*) FROM records GROUP BY state ORDER BY state",
            &[],
        )?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
    }

    /// Ids of the records whose photo files are still theirs (a purged record's are not).
    pub fn records_with_photos(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.sql()?.query(
            "SELECT id FROM records WHERE photo_file != '' ORDER BY id",
            &[],
        )?;
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// Whether record `id` is stored and names a photo (the sweep asks again just before a
    /// delete: a retry may have stored it since the sweep read the rows).
    pub fn names_photo(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .sql()?
            .query_opt(
                "SELECT 1 FROM records WHERE id = ?1 AND photo_file != ''",
                args![id],
            )?
            .is_some())
    }

    pub fn record_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .sql()?
            .query("SELECT id FROM records ORDER BY id", &[])?;
        rows.iter().map(|r| r.get(0)).collect()
    }
}
