//! The roster tables (the kiosk's and the hub's share the columns): writing a batch, finding
//! a candidate, the registration photo, and forgetting a batch when its collection ends. A
//! candidate's password is only ever stored sealed (`capture_core::roster::seal_secret`).

use super::{Store, StoreError};
use capture_core::hub_protocol::RosterEntry;
use capture_core::roster::{is_sealed, looks_like_digest, seal_secret};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// A roster row selected as `candidate_key, name, id_number, ethnicity, address, phone,
/// secret` (the kiosk's and the hub's rosters share the columns).
pub fn roster_row(r: &rusqlite::Row) -> rusqlite::Result<RosterEntry> {
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

/// Refuses a roster whose passwords are not sealed: a fast digest of a password is
/// recoverable in a second (6 digits); the caller seals it first (slow, so outside any lock).
/// Every roster written (the kiosk's, the hub's SQLite or PostgreSQL) passes here.
pub fn check_sealed(rows: &[RosterEntry]) -> Result<(), StoreError> {
    if rows
        .iter()
        .any(|e| !e.secret.is_empty() && !is_sealed(&e.secret))
    {
        return Err(StoreError::UnsealedSecret);
    }
    Ok(())
}

/// Replaces a batch's rows in a `roster` table (the kiosk's and the hub's share the columns),
/// inside the caller's transaction.
pub fn write_roster(
    tx: &rusqlite::Transaction,
    batch_id: &str,
    rows: &[RosterEntry],
) -> Result<(), StoreError> {
    check_sealed(rows)?;
    tx.execute("DELETE FROM roster WHERE batch_id = ?1", params![batch_id])?;
    for e in rows {
        tx.execute(
            "INSERT INTO roster (batch_id, candidate_key, name, id_number, ethnicity, address, phone, secret)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![batch_id, e.candidate_key, e.name, e.id_number, e.ethnicity, e.address, e.phone, e.secret],
        )?;
    }
    Ok(())
}

/// Seals the password digests a database written by an earlier version keeps in the clear (a
/// one-time upgrade at open); returns how many rows it sealed.
pub fn seal_stored_secrets(conn: &Connection) -> Result<usize, StoreError> {
    let legacy: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT batch_id, candidate_key, secret FROM roster WHERE secret <> '' AND secret NOT LIKE '$argon2%'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (batch, key, secret) in &legacy {
        // anything else in the column cannot be a password digest: nobody could log in with
        // it, so it is dropped rather than kept
        let sealed = if looks_like_digest(secret) {
            seal_secret(secret).map_err(|e| StoreError::Crypto(e.to_string()))?
        } else {
            String::new()
        };
        conn.execute(
            "UPDATE roster SET secret = ?3 WHERE batch_id = ?1 AND candidate_key = ?2",
            params![batch, key, sealed],
        )?;
    }
    Ok(legacy.len())
}

impl Store {
    /// Replaces a batch's roster with `rows` (synced from the hub or imported by staff).
    pub fn replace_roster(
        &mut self,
        batch_id: &str,
        rows: &[RosterEntry],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_roster(&tx, batch_id, rows)?;
        tx.commit()?;
        Ok(())
    }

    /// A roster row by candidate key.
    pub fn roster_entry(
        &self,
        batch_id: &str,
        candidate_key: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        self.roster_find(batch_id, "candidate_key", candidate_key)
    }

    /// A roster row by ID number (a card tap identifies by the number on the card).
    pub fn roster_by_id_number(
        &self,
        batch_id: &str,
        id_number: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        self.roster_find(batch_id, "UPPER(id_number)", &id_number.to_uppercase())
    }

    fn roster_find(
        &self,
        batch_id: &str,
        column: &str,
        value: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT candidate_key, name, id_number, ethnicity, address, phone, secret FROM roster
                     WHERE batch_id = ?1 AND {column} = ?2"
                ),
                params![batch_id, value],
                roster_row,
            )
            .optional()?)
    }

    /// The registration photo of a roster row: the reference face when no chip decoder is
    /// installed (R-VERIFY).
    pub fn roster_photo(
        &self,
        batch_id: &str,
        candidate_key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT photo FROM roster WHERE batch_id = ?1 AND candidate_key = ?2",
                params![batch_id, candidate_key],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    pub fn set_roster_photo(
        &self,
        batch_id: &str,
        candidate_key: &str,
        jpeg: &[u8],
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE roster SET photo = ?3 WHERE batch_id = ?1 AND candidate_key = ?2",
            params![batch_id, candidate_key, jpeg],
        )?;
        Ok(())
    }

    /// The batches with a roster on this kiosk and their sizes, largest first.
    pub fn roster_batches(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT batch_id, COUNT(*) FROM roster GROUP BY batch_id ORDER BY COUNT(*) DESC, batch_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn roster_size(&self, batch_id: &str) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM roster WHERE batch_id = ?1",
            params![batch_id],
            |r| r.get(0),
        )?)
    }

    /// Forgets a batch's roster (names, ID numbers, phones, registration photos) when its
    /// collection ends; returns how many candidates it held.
    pub fn remove_roster(&mut self, batch_id: &str) -> Result<usize, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM roster WHERE batch_id = ?1", params![batch_id])?;
        self.checkpoint_freed()?;
        Ok(n)
    }
}
