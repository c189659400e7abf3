//! Who may see what: reviewers added, reset and removed (a reset or a removal ends their
//! sessions), the batches each kiosk is assigned to, and the rosters, which a kiosk reads only
//! for its own batches. The roster's personal fields (name, ID number, ethnicity, address,
//! phone) are stored sealed for their row and column (`sealing.rs`): a dump of the database
//! shows no name or ID number, and a field moved to another candidate's row does not open.

use super::sql::{args, Row};
use super::HubDb;
use crate::sealing::SealingKey;
use capture_core::hub_protocol::RosterEntry;
use capture_store::{now_ms, StoreError};

/// Where a roster field is sealed for: its batch, candidate and column (a separator no batch
/// name or key can hold, so two places never read alike).
pub(super) fn roster_place(batch_id: &str, candidate_key: &str, column: &str) -> String {
    format!("roster\u{1f}{batch_id}\u{1f}{candidate_key}\u{1f}{column}")
}

/// A sealed field that does not open, as the database's error.
pub(super) fn unsealable(e: std::io::Error) -> StoreError {
    StoreError::Unsealed(e.to_string())
}

impl HubDb {
    /// A roster field as stored, opened (a field stored before sealing is read as it is).
    pub(crate) fn open_roster_field(
        &self,
        batch_id: &str,
        candidate_key: &str,
        column: &str,
        stored: String,
    ) -> Result<String, StoreError> {
        self.sealing
            .open_text(&roster_place(batch_id, candidate_key, column), stored)
            .map_err(unsealable)
    }

    fn seal_roster_field(
        &self,
        batch_id: &str,
        candidate_key: &str,
        column: &str,
        value: &str,
    ) -> Result<String, StoreError> {
        self.sealing
            .seal_text(&roster_place(batch_id, candidate_key, column), value)
            .map_err(unsealable)
    }

    /// Whether the sealing key is the one this hub's data was sealed with: a known text sealed
    /// under the first key the hub ran with is kept among its secrets, and each start opens it
    /// before anything is sealed or read (a stray key made by a command run without the site's
    /// credential, or a replica given another file, is refused, not used).
    pub fn sealing_key_is_the_hubs(&self) -> Result<bool, StoreError> {
        const PLACE: &str = "hub_secrets\u{1f}sealing_check";
        const TEXT: &str = "capture-hub sealing check";
        let fresh = self
            .sealing
            .seal_text(PLACE, TEXT)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        let mut sql = self.sql()?;
        sql.execute(
            "INSERT INTO hub_secrets (name, secret) VALUES ('sealing_check', ?1)
             ON CONFLICT (name) DO NOTHING",
            args![fresh],
        )?;
        let stored: String = sql
            .query_one(
                "SELECT secret FROM hub_secrets WHERE name = 'sealing_check'",
                &[],
            )?
            .get(0)?;
        Ok(self
            .sealing
            .open_text(PLACE, stored)
            .is_ok_and(|text| text == TEXT))
    }

    /// Whether the photos an earlier version stored in clear have all been sealed (once, by the
    /// first start that found them: `SealedPhotos::seal_clear`).
    pub fn photos_sealed(&self) -> Result<bool, StoreError> {
        self.marked("photos_sealed")
    }

    pub fn mark_photos_sealed(&self) -> Result<(), StoreError> {
        self.mark("photos_sealed")
    }

    /// Whether a one-time step of the hub's (`mark`) was done.
    pub(super) fn marked(&self, step: &str) -> Result<bool, StoreError> {
        Ok(self
            .sql()?
            .query_opt("SELECT 1 FROM hub_secrets WHERE name = ?1", args![step])?
            .is_some())
    }

    pub(super) fn mark(&self, step: &str) -> Result<(), StoreError> {
        self.sql()?.execute(
            "INSERT INTO hub_secrets (name, secret) VALUES (?1, '') ON CONFLICT (name) DO NOTHING",
            args![step],
        )?;
        Ok(())
    }

    /// Seals the roster fields an earlier version stored in clear, at the first start that
    /// finds them (marked in `hub_secrets`: a row put in clear later, while the hub was
    /// stopped, is refused, never sealed as if the hub had written it). On SQLite
    /// `secure_delete` overwrites the clear pages; PostgreSQL keeps old row versions until its
    /// VACUUM. How many rows. Each row is updated only if it still holds what was read: a
    /// roster imported meanwhile is not written over.
    pub fn seal_clear_roster(&mut self) -> Result<usize, StoreError> {
        if self.marked("roster_sealed")? {
            return Ok(0);
        }
        let sealed = self.seal_clear_roster_rows()?;
        self.mark("roster_sealed")?;
        Ok(sealed)
    }

    fn seal_clear_roster_rows(&mut self) -> Result<usize, StoreError> {
        const COLUMNS: [&str; 5] = ["name", "id_number", "ethnicity", "address", "phone"];
        let clear = self.sql()?.query(
            "SELECT batch_id, candidate_key, name, id_number, ethnicity, address, phone FROM roster
             WHERE (name != '' AND name NOT LIKE 'sealed1:%') OR (id_number != '' AND id_number NOT LIKE 'sealed1:%')
                OR (ethnicity != '' AND ethnicity NOT LIKE 'sealed1:%') OR (address != '' AND address NOT LIKE 'sealed1:%')
                OR (phone != '' AND phone NOT LIKE 'sealed1:%')",
            &[],
        )?;
        let mut updates = Vec::with_capacity(clear.len());
        for r in &clear {
            let (batch_id, candidate_key): (String, String) = (r.get(0)?, r.get(1)?);
            let mut was = Vec::with_capacity(COLUMNS.len());
            let mut now = Vec::with_capacity(COLUMNS.len());
            for (at, column) in COLUMNS.iter().enumerate() {
                let stored: String = r.get(at + 2)?;
                now.push(if SealingKey::is_sealed_text(&stored) {
                    stored.clone()
                } else {
                    self.seal_roster_field(&batch_id, &candidate_key, column, &stored)?
                });
                was.push(stored);
            }
            updates.push((batch_id, candidate_key, was, now));
        }
        self.transaction(|tx| {
            let mut sealed = 0;
            for (batch_id, candidate_key, was, now) in &updates {
                sealed += tx.execute(
                    "UPDATE roster SET name = ?3, id_number = ?4, ethnicity = ?5, address = ?6, phone = ?7
                     WHERE batch_id = ?1 AND candidate_key = ?2 AND name = ?8 AND id_number = ?9
                       AND ethnicity = ?10 AND address = ?11 AND phone = ?12",
                    args![
                        batch_id, candidate_key, &now[0], &now[1], &now[2], &now[3], &now[4],
                        &was[0], &was[1], &was[2], &was[3], &was[4]
                    ],
                )?;
            }
            Ok(sealed)
        })
    }

    /// A roster row (the columns `roster` selects), opened: its number first, as its fields
    /// are sealed for the number.
    fn roster_row(&self, batch_id: &str, r: &Row) -> Result<RosterEntry, StoreError> {
        let index: String = r.get(0)?;
        let candidate_key = self.open_roster_candidate(batch_id, &index, r.get(7)?)?;
        let field = |at: usize, column: &str| -> Result<String, StoreError> {
            self.open_roster_field(batch_id, &candidate_key, column, r.get(at)?)
        };
        Ok(RosterEntry {
            name: field(1, "name")?,
            id_number: field(2, "id_number")?,
            ethnicity: field(3, "ethnicity")?,
            address: field(4, "address")?,
            phone: field(5, "phone")?,
            secret: r.get(6)?,
            candidate_key,
        })
    }

    /// Removes a reviewer and ends their sessions; false if there is no such reviewer. Their
    /// past decisions keep their name.
    pub fn remove_reviewer(&mut self, user: &str) -> Result<bool, StoreError> {
        let removed = self.transaction(|tx| {
            tx.execute("DELETE FROM web_sessions WHERE \"user\" = ?1", args![user])?;
            Ok(tx.execute("DELETE FROM reviewers WHERE \"user\" = ?1", args![user])? == 1)
        })?;
        if removed {
            self.event("admin", "remove_reviewer", None, user)?;
        }
        Ok(removed)
    }

    /// Open login sessions of a reviewer (the command line reports what a reset ended).
    pub fn session_count(&self, user: &str) -> Result<i64, StoreError> {
        self.sql()?
            .query_one(
                "SELECT COUNT(*) FROM web_sessions WHERE \"user\" = ?1 AND expires_at > ?2",
                args![user, now_ms()],
            )?
            .get(0)
    }

    /// The id of the active (not revoked) kiosk named `name`.
    pub fn active_kiosk_id(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.sql()?
            .query_opt(
                "SELECT id FROM kiosks WHERE name = ?1 AND revoked_at IS NULL",
                args![name],
            )?
            .map(|r| r.get(0))
            .transpose()
    }

    /// Lets the kiosk named `kiosk_name` read `batch_id`'s roster; false if there is no such
    /// active kiosk.
    pub fn assign_batch(&self, kiosk_name: &str, batch_id: &str) -> Result<bool, StoreError> {
        let Some(id) = self.active_kiosk_id(kiosk_name)? else {
            return Ok(false);
        };
        self.sql()?.execute(
            "INSERT INTO kiosk_batches (kiosk_id, batch_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![&id, batch_id],
        )?;
        self.event("admin", "assign_batch", None, &format!("{id} {batch_id}"))?;
        Ok(true)
    }

    /// Takes `batch_id` from the kiosk named `kiosk_name`; false if it was not assigned.
    pub fn unassign_batch(&self, kiosk_name: &str, batch_id: &str) -> Result<bool, StoreError> {
        let Some(id) = self.active_kiosk_id(kiosk_name)? else {
            return Ok(false);
        };
        let n = self.sql()?.execute(
            "DELETE FROM kiosk_batches WHERE kiosk_id = ?1 AND batch_id = ?2",
            args![&id, batch_id],
        )?;
        if n > 0 {
            self.event("admin", "unassign_batch", None, &format!("{id} {batch_id}"))?;
        }
        Ok(n > 0)
    }

    /// Replaces a batch's roster. Its passwords must be sealed already
    /// (`capture_core::roster::seal_secrets`, slow, so before the database lock is taken).
    pub fn replace_roster(
        &mut self,
        batch_id: &str,
        rows: &[RosterEntry],
        actor: &str,
    ) -> Result<(), StoreError> {
        capture_store::check_sealed(rows)?;
        // sealed before the transaction: the lock is not held for the cipher's work
        let mut sealed = Vec::with_capacity(rows.len());
        for e in rows {
            let seal = |column: &str, value: &str| {
                self.seal_roster_field(batch_id, &e.candidate_key, column, value)
            };
            let index = self.candidate_index(&e.candidate_key);
            sealed.push([
                self.seal_roster_candidate(batch_id, &index, &e.candidate_key)?,
                index,
                seal("name", &e.name)?,
                seal("id_number", &e.id_number)?,
                seal("ethnicity", &e.ethnicity)?,
                seal("address", &e.address)?,
                seal("phone", &e.phone)?,
            ]);
        }
        self.transaction(|tx| {
            tx.execute("DELETE FROM roster WHERE batch_id = ?1", args![batch_id])?;
            for (e, [copy, index, name, id_number, ethnicity, address, phone]) in
                rows.iter().zip(&sealed)
            {
                tx.execute(
                    "INSERT INTO roster (batch_id, candidate_key, candidate_sealed, name, id_number, ethnicity, address, phone, secret)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    args![batch_id, index, copy, name, id_number, ethnicity, address, phone, &e.secret],
                )?;
            }
            Ok(())
        })?;
        self.event(
            actor,
            "import_roster",
            None,
            &format!("{batch_id}: {} rows", rows.len()),
        )?;
        Ok(())
    }

    /// A batch's roster, for administrators and the review page, ordered by number (sorted
    /// once opened: the database holds only their digests).
    pub fn roster(&self, batch_id: &str) -> Result<Vec<RosterEntry>, StoreError> {
        let rows = self.sql()?.query(
            "SELECT candidate_key, name, id_number, ethnicity, address, phone, secret, candidate_sealed
             FROM roster WHERE batch_id = ?1",
            args![batch_id],
        )?;
        let mut roster = rows
            .iter()
            .map(|r| self.roster_row(batch_id, r))
            .collect::<Result<Vec<_>, _>>()?;
        roster.sort_unstable_by(|a, b| a.candidate_key.cmp(&b.candidate_key));
        Ok(roster)
    }

    /// Whether `batch_id` is given to other kiosks and not to `kiosk_id`: such a batch takes
    /// records only from the kiosks assigned it. A batch no kiosk is assigned stays open to
    /// every kiosk (a collection day without rosters, or records with no batch at all).
    ///
    /// Batches are matched by [`batch_key`], so "b1", "B1 " or a full-width "Ｂ１" is the
    /// assigned batch "B1" here; only its exact name from an assigned kiosk is taken, as a
    /// kiosk sends the name the hub gave it. Otherwise a stolen token could file faces under a
    /// look-alike of another college's batch, which the review page shows beside the real one.
    pub fn batch_closed_to(&self, kiosk_id: &str, batch_id: &str) -> Result<bool, StoreError> {
        let mut sql = self.sql()?;
        let own: bool = sql
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM kiosk_batches WHERE kiosk_id = ?1 AND batch_id = ?2)",
                args![kiosk_id, batch_id],
            )?
            .get(0)?;
        if own {
            return Ok(false);
        }
        // the assigned batches are a few per kiosk: read them rather than teach SQL Unicode
        let key = batch_key(batch_id);
        for row in sql.query("SELECT DISTINCT batch_id FROM kiosk_batches", args![])? {
            let assigned: String = row.get(0)?;
            if batch_key(&assigned) == key {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A batch's roster as a kiosk may read it: None unless the kiosk is assigned the batch.
    pub fn roster_for_kiosk(
        &self,
        kiosk_id: &str,
        batch_id: &str,
    ) -> Result<Option<Vec<RosterEntry>>, StoreError> {
        let assigned: bool = self
            .sql()?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM kiosk_batches WHERE kiosk_id = ?1 AND batch_id = ?2)",
                args![kiosk_id, batch_id],
            )?
            .get(0)?;
        if !assigned {
            return Ok(None);
        }
        self.roster(batch_id).map(Some)
    }
}

/// What a batch name says once its look-alikes are folded together: compatibility forms
/// (full-width letters and digits, ligatures) to their plain ones (NFKC), combining marks,
/// white space and punctuation dropped, case folded, and the letters drawn like Latin ones
/// (Cyrillic, Greek, small capitals; I, l and O like 1 and 0) read as those. Two batches whose
/// names a reviewer cannot tell apart share a key; not every confusable in Unicode is here.
pub fn batch_key(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    name.nfkc()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(drawn_as)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The Latin letter or digit a lower-case letter is drawn like (itself if none).
fn drawn_as(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' | 'ʙ' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'е' | 'ё' | 'ε' => 'e',
        'һ' | 'н' | 'η' => 'h',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' | 'μ' => 'm',
        'ν' => 'n',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'у' | 'υ' => 'y',
        'х' | 'χ' => 'x',
        'ζ' => 'z',
        'i' | 'l' | 'і' | 'ι' | 'ı' | 'ӏ' | 'ǀ' | 'ɩ' | 'ᛁ' | '|' | '∣' | '׀' => '1',
        'o' | 'о' | 'ο' => '0',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_rows_an_earlier_version_kept_in_clear_are_sealed_at_start() {
        let dir = std::env::temp_dir().join(format!(
            "hub-roster-seal-{}-{}",
            std::process::id(),
            now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sealing = std::sync::Arc::new(crate::sealing::SealingKey::generate().unwrap());
        let mut db = HubDb::open(&dir.join("hub.sqlite"), sealing).unwrap();
        db.sql()
            .unwrap()
            .execute(
                "INSERT INTO roster (batch_id, candidate_key, name, id_number, secret) VALUES ('B1', 'K1', '张三', '11010519491231002X', '')",
                &[],
            )
            .unwrap();
        assert_eq!(db.seal_clear_roster().unwrap(), 1);
        assert_eq!(db.seal_clear_roster().unwrap(), 0, "once");
        assert_eq!(db.seal_clear_candidates().unwrap(), 1, "then its number");
        // a row put in clear afterwards (the hub stopped, the database edited) is not sealed
        // as if the hub had written it: it is refused
        db.sql()
            .unwrap()
            .execute(
                "INSERT INTO roster (batch_id, candidate_key, name, id_number, secret) VALUES ('B2', 'K2', '王五', '', '')",
                &[],
            )
            .unwrap();
        assert_eq!(db.seal_clear_roster().unwrap(), 0);
        assert_eq!(db.seal_clear_candidates().unwrap(), 0);
        assert!(matches!(db.roster("B2"), Err(StoreError::Unsealed(_))));
        let stored = db
            .sql()
            .unwrap()
            .query_one(
                "SELECT name, id_number, phone FROM roster WHERE batch_id = 'B1'",
                &[],
            )
            .unwrap();
        let (name, id, phone): (String, String, String) = (
            stored.get(0).unwrap(),
            stored.get(1).unwrap(),
            stored.get(2).unwrap(),
        );
        assert!(name.starts_with("sealed1:") && id.starts_with("sealed1:"));
        assert_eq!(phone, "", "an empty field stays empty");
        let rows = db.roster("B1").unwrap();
        assert_eq!(
            (rows[0].name.as_str(), rows[0].id_number.as_str()),
            ("张三", "11010519491231002X")
        );
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn look_alike_batch_names_share_a_key() {
        for alike in [
            "B1",
            "b1",
            " B1 ",
            "Ｂ１",
            "B 1",
            "\u{1D401}1",
            "В1",
            "Β1",
            "BI",
            "Bl",
            "ＢＩ",
        ] {
            assert_eq!(batch_key(alike), "b1", "{alike:?}");
        }
        assert_ne!(batch_key("B2"), batch_key("B1"));
        assert_eq!(batch_key("СОМ-2026"), batch_key("com-2026"));
        assert_ne!(batch_key("北京"), batch_key("南京"));
        assert_eq!(batch_key("2026春季"), batch_key("２０２６春季"));
    }
}
