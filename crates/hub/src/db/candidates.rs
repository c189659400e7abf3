//! A candidate's number and a reviewer's note at rest. For some profiles the number a candidate is filed under is
//! their ID number (gd-gaokao), for the rest an exam or student number; either names a person.
//! `candidate_key` (records and roster) holds its keyed digest (`SealingKey::index_text`), so
//! a returning candidate's records, the roster row behind a record, a duplicate of the same
//! candidate and a replaced rejection are still found by equality in SQL, and
//! `candidate_sealed` holds the number sealed for its row, opened only to be shown or sent
//! back (the review page, a kiosk's roster). A dump of the database shows neither. A
//! reviewer's note (`records.note`) is free text that may name the candidate or quote their
//! ID number ("not 李四 himself, ID 4401…"), so it is sealed for its record too, and opened
//! for the review page and the kiosk's status.

use super::access::{roster_place, unsealable};
use super::sql::{args, Dialect, Row};
use super::HubDb;
use capture_core::hub_protocol::{RecordStatus, ReviewState};
use capture_store::StoreError;

/// The transaction-level advisory lock under which one PostgreSQL replica seals what an
/// earlier version kept in clear ("capt-sea" in ASCII).
const SEALING_LOCK: i64 = 0x6361_7074_2d73_6561;

/// Where a record's candidate number is sealed for.
fn record_place(record_id: &str) -> String {
    format!("records\u{1f}{record_id}\u{1f}candidate_key")
}

/// Where a record's reviewer note is sealed for.
fn note_place(record_id: &str) -> String {
    format!("records\u{1f}{record_id}\u{1f}note")
}

impl HubDb {
    /// The digest a candidate's number is stored and found by: of the number as it came, as
    /// it was compared before it was digested (a roster may hold two numbers that differ only
    /// in case, and a folded digest would make them one row).
    pub fn candidate_index(&self, candidate_key: &str) -> String {
        self.sealing.index_text(candidate_key)
    }

    /// A record's candidate number, sealed for the record.
    pub(crate) fn seal_record_candidate(
        &self,
        record_id: &str,
        candidate_key: &str,
    ) -> Result<String, StoreError> {
        self.sealing
            .seal_text(&record_place(record_id), candidate_key)
            .map_err(unsealable)
    }

    pub(crate) fn open_record_candidate(
        &self,
        record_id: &str,
        stored: String,
    ) -> Result<String, StoreError> {
        self.sealing
            .open_text(&record_place(record_id), stored)
            .map_err(unsealable)
    }

    /// A roster row's candidate number, sealed for its batch and digest (so it does not open
    /// in another row).
    pub(crate) fn seal_roster_candidate(
        &self,
        batch_id: &str,
        index: &str,
        candidate_key: &str,
    ) -> Result<String, StoreError> {
        self.sealing
            .seal_text(
                &roster_place(batch_id, index, "candidate_key"),
                candidate_key,
            )
            .map_err(unsealable)
    }

    pub(crate) fn open_roster_candidate(
        &self,
        batch_id: &str,
        index: &str,
        stored: String,
    ) -> Result<String, StoreError> {
        self.sealing
            .open_text(&roster_place(batch_id, index, "candidate_key"), stored)
            .map_err(unsealable)
    }

    /// A reviewer's note, sealed for its record (an empty note stays empty).
    pub(crate) fn seal_note(&self, record_id: &str, note: &str) -> Result<String, StoreError> {
        self.sealing
            .seal_text(&note_place(record_id), note)
            .map_err(unsealable)
    }

    /// The note in column `at` of a row whose record id is in column `id_at`, opened. One that
    /// does not open is logged by record id and given as `unreadable` says: a kiosk's status
    /// and the review queue go on.
    pub(crate) fn opened_note(
        &self,
        r: &Row,
        id_at: usize,
        at: usize,
        unreadable: &str,
    ) -> Result<String, StoreError> {
        let record: String = r.get(id_at)?;
        Ok(
            match self.sealing.open_text(&note_place(&record), r.get(at)?) {
                Ok(note) => note,
                Err(_) => {
                    tracing::warn!(target: "hub", record = %record, "a reviewer's note does not open with the sealing key");
                    unreadable.to_owned()
                }
            },
        )
    }

    /// A record's status from the `STATUS_COLUMNS` of a row, from column `at` on.
    pub(crate) fn status_from_row(&self, r: &Row, at: usize) -> Result<RecordStatus, StoreError> {
        let state: String = r.get(at + 1)?;
        let reasons: String = r.get(at + 2)?;
        Ok(RecordStatus {
            record_id: r.get(at)?,
            state: ReviewState::parse(&state).unwrap_or(ReviewState::PendingReview),
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            // a kiosk shows the candidate the note: none rather than a word about the hub's key
            note: self.opened_note(r, at, at + 3, "")?,
            received_at_ms: r.get(at + 4)?,
            reviewed_at_ms: r.get(at + 5)?,
        })
    }

    /// Replaces the candidate numbers an earlier version stored in clear, in records and
    /// rosters, by their digest and sealed copy, and seals the reviewers' notes it kept in
    /// clear, at the first start that finds them (marked in `hub_secrets`, like the roster's
    /// fields: `seal_clear_roster`, which must run first, as it seals those fields for the
    /// number in clear). A purged record keeps no number and no note. How many rows. Each
    /// row is updated only if it still holds what was read.
    pub fn seal_clear_candidates(&mut self) -> Result<usize, StoreError> {
        if self.marked("candidates_sealed")? {
            return Ok(0);
        }
        let postgres = self.dialect() == Dialect::Postgres;
        // one transaction that reads, seals, writes and marks: replicas starting together on
        // PostgreSQL take turns (the lock), and the one after finds the mark and does nothing
        self.transaction(|tx| {
            if postgres {
                tx.execute("SELECT pg_advisory_xact_lock(?1)", args![SEALING_LOCK])?;
            }
            let done = tx.query_opt(
                "SELECT 1 FROM hub_secrets WHERE name = 'candidates_sealed'",
                &[],
            )?;
            if done.is_some() {
                return Ok(0);
            }
            let mut sealed = 0;
            let records = tx.query(
                "SELECT id, candidate_key FROM records
                 WHERE purged_at IS NULL AND candidate_key NOT LIKE 'index1:%' ORDER BY id",
                &[],
            )?;
            for r in &records {
                let (id, clear): (String, String) = (r.get(0)?, r.get(1)?);
                let copy = self.seal_record_candidate(&id, &clear)?;
                sealed += tx.execute(
                    "UPDATE records SET candidate_key = ?2, candidate_sealed = ?3
                     WHERE id = ?1 AND candidate_key = ?4",
                    args![&id, self.candidate_index(&clear), copy, &clear],
                )?;
            }
            let notes = tx.query(
                "SELECT id, note FROM records
                 WHERE purged_at IS NULL AND note != '' AND note NOT LIKE 'sealed1:%' ORDER BY id",
                &[],
            )?;
            for r in &notes {
                let (id, clear): (String, String) = (r.get(0)?, r.get(1)?);
                sealed += tx.execute(
                    "UPDATE records SET note = ?2 WHERE id = ?1 AND note = ?3",
                    args![&id, self.seal_note(&id, &clear)?, &clear],
                )?;
            }
            let roster = tx.query(
                "SELECT batch_id, candidate_key FROM roster WHERE candidate_key NOT LIKE 'index1:%'
                 ORDER BY batch_id, candidate_key",
                &[],
            )?;
            for r in &roster {
                let (batch_id, clear): (String, String) = (r.get(0)?, r.get(1)?);
                let index = self.candidate_index(&clear);
                let copy = self.seal_roster_candidate(&batch_id, &index, &clear)?;
                sealed += tx.execute(
                    "UPDATE roster SET candidate_key = ?2, candidate_sealed = ?3
                     WHERE batch_id = ?1 AND candidate_key = ?4",
                    args![&batch_id, &index, copy, &clear],
                )?;
            }
            tx.execute(
                "INSERT INTO hub_secrets (name, secret) VALUES ('candidates_sealed', '')
                 ON CONFLICT (name) DO NOTHING",
                &[],
            )?;
            Ok(sealed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::SealingKey;
    use capture_core::hub_protocol::{RecordMeta, ReviewState, RosterEntry};
    use std::sync::Arc;

    const ID: &str = "11010519491231002X";

    fn meta(key: &str, candidate: &str) -> RecordMeta {
        RecordMeta {
            key: key.into(),
            profile: "gd-gaokao".into(),
            batch_id: "B1".into(),
            candidate_key: candidate.into(),
            spec: "gd".into(),
            captured_at_ms: 1,
            verification_distance: None,
            manual_review: false,
        }
    }

    fn insert(db: &HubDb, kiosk: &str, meta: &RecordMeta) {
        db.insert_record(&super::super::NewRecord {
            meta,
            kiosk_id: kiosk,
            fingerprint: "f",
            photo_file: "",
            photo_bytes: 1,
            phash: &[0; 32],
            report: "{}",
            duplicates: &[],
            documents: 0,
        })
        .unwrap();
    }

    fn dump(dir: &std::path::Path) -> Vec<u8> {
        ["hub.sqlite", "hub.sqlite-wal"]
            .iter()
            .flat_map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_candidates_number_is_found_and_shown_but_not_stored_in_clear() {
        let dir = crate::sealing::tests::dir("candidates");
        let sealing = Arc::new(SealingKey::generate().unwrap());
        let mut db = HubDb::open(&dir.join("hub.sqlite"), sealing).unwrap();
        let (kiosk, _) = db.add_kiosk("k1").unwrap();
        // as an earlier version stored them: the number in clear, in a record and a roster
        db.sql()
            .unwrap()
            .execute(
                "INSERT INTO records (id, kiosk_id, profile, batch_id, candidate_key, spec, captured_at,
                     manual_review, fingerprint, photo_file, photo_bytes, phash, report, received_at, state, note)
                 VALUES ('old', ?1, 'gd-gaokao', 'B1', ?2, 'gd', 1, 0, 'f', '', 1, x'00', '{}', 1, 'pending_review',
                         '请重拍 电话13912345678')",
                super::super::sql::args![kiosk.as_str(), ID],
            )
            .unwrap();
        db.sql()
            .unwrap()
            .execute(
                "INSERT INTO roster (batch_id, candidate_key, name, id_number, secret) VALUES ('B1', ?1, '张三', ?1, '')",
                super::super::sql::args![ID],
            )
            .unwrap();
        // the clear rows reach the database file itself, as an earlier version's would have
        db.sql()
            .unwrap()
            .query_one("PRAGMA wal_checkpoint(TRUNCATE)", &[])
            .unwrap();
        assert_eq!(db.seal_clear_roster().unwrap(), 1);
        assert_eq!(
            db.seal_clear_candidates().unwrap(),
            3,
            "a number, a note, a roster row"
        );
        db.reclaim_old_rows(&["records", "roster"]).unwrap();
        // a copy of the folder taken now, the hub still running, holds none of them
        let running = dump(&dir);
        for clear in [ID, "13912345678"] {
            assert!(
                !running.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{clear} in the running hub's files"
            );
        }
        assert_eq!(db.seal_clear_candidates().unwrap(), 0, "once");
        insert(&db, &kiosk, &meta("new", ID));
        insert(&db, &kiosk, &meta("other", "440106199903070015"));

        // found by equality: the returning candidate, the roster row behind the record
        let found = db.candidate_records(&kiosk, "gd-gaokao", ID).unwrap();
        let mut ids: Vec<&str> = found.iter().map(|s| s.record_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["new", "old"]);
        // a reviewer's note is sealed as it is written, and opened for the kiosk and the queue
        let decision = capture_core::hub_protocol::Decision {
            approve: false,
            reasons: vec![capture_core::hub_protocol::RejectReason::Other],
            note: "不是本人 13800001111".into(),
        };
        let status = db.decide("other", "r1", &decision).unwrap().unwrap();
        assert_eq!(status.note, "不是本人 13800001111");
        let found_old = &db.candidate_records(&kiosk, "gd-gaokao", ID).unwrap();
        let old = found_old.iter().find(|s| s.record_id == "old").unwrap();
        assert_eq!(old.note, "请重拍 电话13912345678");
        let rejected = db.review_items(ReviewState::Rejected, 10, 0).unwrap();
        assert_eq!(rejected[0].note, "不是本人 13800001111");
        let queue = db.review_items(ReviewState::PendingReview, 10, 0).unwrap();
        let shown: Vec<(&str, Option<&str>)> = queue
            .iter()
            .map(|i| (i.candidate_key.as_str(), i.roster_name.as_deref()))
            .collect();
        assert_eq!(shown, [(ID, Some("张三")), (ID, Some("张三"))]);
        let roster = db.roster("B1").unwrap();
        assert_eq!(
            (roster[0].candidate_key.as_str(), roster[0].name.as_str()),
            (ID, "张三")
        );
        // a roster imported now is stored the same way, and read back in number order
        let row = |key: &str| RosterEntry {
            candidate_key: key.into(),
            name: "李四".into(),
            id_number: String::new(),
            ethnicity: String::new(),
            address: String::new(),
            phone: String::new(),
            secret: String::new(),
        };
        db.replace_roster("B2", &[row("2026009"), row("2026001")], "test")
            .unwrap();
        let keys: Vec<String> = db
            .roster("B2")
            .unwrap()
            .into_iter()
            .map(|e| e.candidate_key)
            .collect();
        assert_eq!(keys, ["2026001", "2026009"]);

        drop(db);
        let bytes = dump(&dir);
        for clear in [
            ID,
            "440106199903070015",
            "2026009",
            "13912345678",
            "13800001111",
        ] {
            assert!(
                !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{clear} in the database's files"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_number_moved_to_another_record_does_not_open() {
        let dir = crate::sealing::tests::dir("candidates-moved");
        let sealing = Arc::new(SealingKey::generate().unwrap());
        let db = HubDb::open(&dir.join("hub.sqlite"), sealing).unwrap();
        let (kiosk, _) = db.add_kiosk("k1").unwrap();
        insert(&db, &kiosk, &meta("a", ID));
        insert(&db, &kiosk, &meta("b", "440106199903070015"));
        db.sql()
            .unwrap()
            .execute(
                "UPDATE records SET candidate_sealed = (SELECT candidate_sealed FROM records WHERE id = 'a')
                 WHERE id = 'b'",
                &[],
            )
            .unwrap();
        // a purged record keeps no number; one an older hub wrote in clear has no sealed copy
        insert(&db, &kiosk, &meta("c", "2026003"));
        insert(&db, &kiosk, &meta("d", "2026004"));
        db.sql()
            .unwrap()
            .execute(
                "UPDATE records SET candidate_key = CASE id WHEN 'c' THEN 'purged' ELSE '2026004' END,
                        candidate_sealed = '' WHERE id IN ('c', 'd')",
                &[],
            )
            .unwrap();
        let queue = db.review_items(ReviewState::PendingReview, 10, 0).unwrap();
        let shown: Vec<&str> = queue.iter().map(|i| i.candidate_key.as_str()).collect();
        let unreadable = super::super::UNREADABLE;
        assert_eq!(shown, [ID, unreadable, "purged", unreadable]);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
