//! Who may see what: reviewers added, reset and removed (a reset or a removal ends their
//! sessions), the batches each kiosk is assigned to, and the rosters, which a kiosk reads only
//! for its own batches.

use super::sql::{args, Row};
use super::HubDb;
use capture_core::hub_protocol::RosterEntry;
use capture_store::{now_ms, StoreError};

fn roster_row(r: &Row) -> Result<RosterEntry, StoreError> {
    Ok(RosterEntry {
        candidate_key: r.get(0)?,
        name: r.get(1)?,
        id_number: r.get(2)?,
        ethnicity: r.get(3)?,
        address: r.get(4)?,
        phone: r.get(5)?,
        secret: r.get(6)?,
    })
}

impl HubDb {
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
        self.transaction(|tx| {
            tx.execute("DELETE FROM roster WHERE batch_id = ?1", args![batch_id])?;
            for e in rows {
                tx.execute(
                    "INSERT INTO roster (batch_id, candidate_key, name, id_number, ethnicity, address, phone, secret)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    args![batch_id, &e.candidate_key, &e.name, &e.id_number, &e.ethnicity, &e.address, &e.phone, &e.secret],
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

    /// A batch's roster, for administrators and the review page.
    pub fn roster(&self, batch_id: &str) -> Result<Vec<RosterEntry>, StoreError> {
        let rows = self.sql()?.query(
            "SELECT candidate_key, name, id_number, ethnicity, address, phone, secret FROM roster WHERE batch_id = ?1 ORDER BY candidate_key",
            args![batch_id],
        )?;
        rows.iter().map(roster_row).collect()
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
    use super::batch_key;

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
