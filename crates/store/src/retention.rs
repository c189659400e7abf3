//! The kiosk's retention purge and the pseudonym a purged record keeps. After the retention
//! period a capture keeps only its status: the photo, the documents, the candidate's number
//! (also in sessions and verification attempts) go, the freed pages are overwritten
//! (`secure_delete`, set at open) and the write-ahead log is emptied, so the bytes are gone
//! from every file. The pseudonym is keyed with a secret of this kiosk kept outside the
//! database, so a copied database alone cannot be reversed by trying every number.

use super::{Store, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{params, TransactionBehavior};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a purged candidate number starts with (an earlier version's unkeyed pseudonyms were
/// dropped by migration 6).
pub const PSEUDONYM_PREFIX: &str = "purged:";

/// The file beside the database that holds the kiosk's pseudonym key (32 random bytes, hex,
/// mode 0600), made at first start.
pub fn pseudonym_key_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".pseudonym-key");
    db.with_file_name(name)
}

/// Reads the kiosk's pseudonym key, making it at first start.
pub(super) fn load_or_make_key(db: &Path) -> Result<[u8; 32], StoreError> {
    let path = pseudonym_key_path(db);
    let shown = || path.display().to_string();
    let parse = |text: &str| -> Option<[u8; 32]> {
        let text = text.trim();
        let mut key = [0u8; 32];
        if text.len() != 64 {
            return None;
        }
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(key)
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or_else(|| StoreError::Io {
            path: shown(),
            detail: "it is not a pseudonym key (64 hex digits); restore it from a backup, or \
                     delete it to make a new one (purged records then no longer match returning candidates)"
                .into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| StoreError::Crypto(e.to_string()))?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            match super::private::write_private_new(&path, hex.as_bytes()) {
                Ok(()) => Ok(key),
                // another connection made it first: use that one
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::Io {
                        path: shown(),
                        detail: e.to_string(),
                    })?;
                    parse(&text).ok_or_else(|| StoreError::Io {
                        path: shown(),
                        detail: "it is not a pseudonym key (64 hex digits)".into(),
                    })
                }
                Err(e) => Err(StoreError::Io {
                    path: shown(),
                    detail: e.to_string(),
                }),
            }
        }
        Err(e) => Err(StoreError::Io {
            path: shown(),
            detail: e.to_string(),
        }),
    }
}

/// HMAC-SHA-256 (RFC 2104), by the `hmac` crate the hub's device cookies use too.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // the RFC's own padding of a key to one block (a longer key hashed first), which leaves
    // the keyed MAC nothing to refuse
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = Hmac::<Sha256>::new(&block.into());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn keyed_pseudonym(key: &[u8; 32], candidate_key: &str) -> String {
    let mac = hmac_sha256(key, candidate_key.as_bytes());
    let hex: String = mac.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{PSEUDONYM_PREFIX}{hex}")
}

impl Store {
    /// What a purge keeps of a candidate number: a keyed digest, so a returning candidate's
    /// record is still found on this kiosk, but the number cannot be recovered from the
    /// database by trying every number.
    pub fn pseudonym(&self, candidate_key: &str) -> String {
        keyed_pseudonym(&self.pseudonym_key, candidate_key)
    }

    /// Deletes the personal data of records the hub confirmed more than `retention` ago (the
    /// photo, the documents, the candidate number, which becomes its pseudonym), and takes the
    /// candidate number out of sessions and verification attempts older than that; the record
    /// and its review status stay. Returns how many records were purged.
    pub fn purge_uploaded(&mut self, now: i64, retention: Duration) -> Result<usize, StoreError> {
        let cutoff = now - retention.as_millis() as i64;
        let secret = self.pseudonym_key;
        let pseudonym = |k: &str| keyed_pseudonym(&secret, k);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT c.id, c.candidate_key, c.session_id FROM captures c JOIN outbox o ON o.capture_id = c.id
                 WHERE c.purged_at IS NULL AND o.state = 'sent' AND o.sent_at <= ?1",
            )?;
            let rows =
                stmt.query_map(params![cutoff], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, key, session) in &due {
            tx.execute(
                "UPDATE captures SET photo = NULL, candidate_key = ?2, purged_at = ?3 WHERE id = ?1",
                params![id, pseudonym(key), now],
            )?;
            tx.execute(
                "UPDATE sessions SET candidate_key = NULL WHERE id = ?1",
                params![session],
            )?;
            tx.execute(
                "UPDATE capture_documents SET jpeg = NULL WHERE capture_id = ?1",
                params![id],
            )?;
        }
        // attempts outlive the retention period only as pseudonyms: the attempt limit still
        // counts them for a returning candidate (`consecutive_failures` matches both), but the
        // number is gone, also for candidates who never submitted
        let attempted: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT candidate_key FROM verification_attempts
                 WHERE at <= ?1 AND candidate_key NOT LIKE 'purged:%'",
            )?;
            let rows = stmt.query_map(params![cutoff], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for key in &attempted {
            tx.execute(
                "UPDATE verification_attempts SET candidate_key = ?2 WHERE candidate_key = ?1 AND at <= ?3",
                params![key, pseudonym(key), cutoff],
            )?;
        }
        let sessions = tx.execute(
            "UPDATE sessions SET candidate_key = NULL WHERE started_at <= ?1 AND candidate_key IS NOT NULL",
            params![cutoff],
        )?;
        tx.commit()?;
        if !due.is_empty() || !attempted.is_empty() || sessions > 0 || self.checkpoint_owed {
            self.checkpoint_freed()?;
        }
        Ok(due.len())
    }

    /// After a delete: gives freed pages back (incremental vacuum, on databases made with it)
    /// and empties the write-ahead log, whose older frames still hold the deleted bytes. Busy
    /// readers can hold the log; the next purge tries again.
    pub(super) fn checkpoint_freed(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA incremental_vacuum")?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        self.checkpoint_owed = busy != 0;
        if self.checkpoint_owed {
            tracing::warn!(
                "the write-ahead log is in use; purged bytes leave it at the next purge"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // test case 2
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // test case 6: a key longer than a block is hashed first
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
