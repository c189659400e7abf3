//! Which kiosk a record belongs to. A record at the hub belongs to the kiosk (its id) that
//! submitted it, and only that kiosk may replay it, follow its review or withdraw it; a status
//! batch answers the asking kiosk's records and sets the others apart, never failing for them.
//!
//! A kiosk that is given a new token as a new registration becomes a stranger to its own
//! earlier records. Two supported paths keep them together:
//! - `relink_kiosk`: a new token for the same registration (a lost or leaked token, a kiosk
//!   whose database was rebuilt); the old token stops working, the id and records stay;
//! - `move_kiosk_records`: the kiosk was already registered again under a new name; the old
//!   registration's records move to the new one and the old registration is revoked.

use super::sql::{args, Sql};
use super::{digest_hex, new_secret, HubDb};
use capture_core::hub_protocol::RecordStatus;
use capture_store::{now_ms, StoreError};

/// What the hub holds of the records a kiosk asked about.
#[derive(Debug, Default)]
pub struct KioskStatuses {
    /// The asking kiosk's records.
    pub mine: Vec<RecordStatus>,
    /// Ids of records another kiosk submitted.
    pub foreign: Vec<String>,
}

impl HubDb {
    /// Statuses of the given records that belong to `kiosk_id`, in the order asked; records
    /// another kiosk submitted are set apart (never a reason to fail the others); unknown ids
    /// are left out.
    pub fn statuses_for_kiosk(
        &self,
        kiosk_id: &str,
        ids: &[String],
    ) -> Result<KioskStatuses, StoreError> {
        let mut out = KioskStatuses::default();
        for id in ids {
            match self.record(id)? {
                Some(r) if r.kiosk_id == kiosk_id => out.mine.push(r.status),
                Some(_) => out.foreign.push(id.clone()),
                None => {}
            }
        }
        Ok(out)
    }

    /// Issues a new token for the kiosk named `name` (also a revoked one: the administrator
    /// says it is back); the old token stops working at once. Returns the kiosk's id and the
    /// token (shown once, stored only as a digest), or None if no kiosk has that name.
    pub fn relink_kiosk(&self, name: &str) -> Result<Option<(String, String)>, StoreError> {
        let token = new_secret("ck_")?;
        let id: Option<String> = self
            .sql()?
            .query_opt(
                "UPDATE kiosks SET token_sha256 = ?2, revoked_at = NULL WHERE name = ?1 RETURNING id",
                args![name, digest_hex(token.as_bytes())],
            )?
            .map(|r| r.get(0))
            .transpose()?;
        let Some(id) = id else {
            return Ok(None);
        };
        self.event("admin", "relink_kiosk", None, &id)?;
        Ok(Some((id, token)))
    }

    /// Moves every record of the kiosk named `from` to the kiosk named `to` and revokes `from`
    /// (they are one machine registered twice). Returns how many records moved, or a message
    /// for the administrator when a name is unknown or both are the same.
    pub fn move_kiosk_records(
        &mut self,
        from: &str,
        to: &str,
    ) -> Result<Result<usize, String>, StoreError> {
        let moved = self.transaction(|tx| {
            let id_of = |tx: &mut dyn Sql, name: &str| -> Result<Option<String>, StoreError> {
                tx.query_opt("SELECT id FROM kiosks WHERE name = ?1", args![name])?
                    .map(|r| r.get(0))
                    .transpose()
            };
            let (Some(from_id), Some(to_id)) = (id_of(tx, from)?, id_of(tx, to)?) else {
                return Ok(Err(format!(
                    "both {from:?} and {to:?} must be registered kiosks (see kiosk hub add-kiosk)"
                )));
            };
            if from_id == to_id {
                return Ok(Err("the two kiosk names are the same kiosk".into()));
            }
            let moved = tx.execute(
                "UPDATE records SET kiosk_id = ?2 WHERE kiosk_id = ?1",
                args![&from_id, &to_id],
            )?;
            tx.execute(
                "UPDATE kiosks SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                args![&from_id, now_ms()],
            )?;
            Ok(Ok((moved, from_id, to_id)))
        })?;
        let (moved, from_id, to_id) = match moved {
            Ok(m) => m,
            Err(refused) => return Ok(Err(refused)),
        };
        self.event(
            "admin",
            "move_kiosk_records",
            None,
            &format!("{moved} records from {from_id} to {to_id}"),
        )?;
        Ok(Ok(moved))
    }
}
