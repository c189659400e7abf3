//! Storing a kiosk's submission once: the same record key with the same content is answered
//! as the first time, with other content or from another kiosk refused; the photo and its
//! documents are written durably before the row that names them.

use super::{decode_within, invalid, reply_of, DOCUMENT_SIDES, PHOTO_SIDES};
use crate::db::{self, digest_hex, HubDb, NewRecord};
use crate::duplicates::{near_duplicates, nearest, photo_hash, NEAREST_LOOKED_UP};
use crate::{ApiError, Hub, KioskLine};
use axum::http::StatusCode;
use capture_core::hub_protocol::{ErrorCode, RecordMeta, SubmitReply};

impl Hub {
    /// Stores a submission once. The same key with the same content is answered as the first
    /// time (200); the same key with other content (409) or from another kiosk (403) is refused.
    pub(super) fn store_submission(
        &self,
        kiosk_id: &str,
        meta: RecordMeta,
        photo: &[u8],
        report: &[u8],
        documents: &[&[u8]],
    ) -> Result<(StatusCode, SubmitReply), ApiError> {
        let report_text = std::str::from_utf8(report)
            .ok()
            .filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok())
            .ok_or_else(|| invalid("the check report is not JSON"))?;
        let canonical = serde_json::to_vec(&meta).unwrap_or_default();
        let mut content = Vec::with_capacity(canonical.len() + photo.len() + report.len() + 2);
        content.extend_from_slice(&canonical);
        content.push(0);
        content.extend_from_slice(photo);
        content.push(0);
        content.extend_from_slice(report);
        for doc in documents {
            content.push(0);
            content.extend_from_slice(doc);
        }
        let fingerprint = digest_hex(&content);

        let replay = |db: &HubDb| -> Result<Option<(StatusCode, SubmitReply)>, ApiError> {
            let Some(rec) = db.record(&meta.key)? else {
                return Ok(None);
            };
            if rec.kiosk_id != kiosk_id {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "this record key belongs to another kiosk",
                ));
            }
            if rec.fingerprint != fingerprint {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "a different record with this key is already stored; a new capture needs a new key",
                ));
            }
            if let Some(n) = self.kiosk_line(kiosk_id, KioskLine::Replayed) {
                tracing::info!(target: "hub", record = %rec.id, kiosk = %kiosk_id, earlier_not_logged = n, "record replayed: answered from the stored record");
            }
            Ok(Some((StatusCode::OK, reply_of(&rec.status))))
        };
        if let Some(answer) = replay(&self.db())? {
            return Ok(answer);
        }
        // a batch given to kiosks takes records from them only, so a stolen token cannot put
        // faces into another college's batch (a record stored before stays answered above)
        if self.db().batch_closed_to(kiosk_id, &meta.batch_id)? {
            if let Some(n) = self.kiosk_line(kiosk_id, KioskLine::BatchClosed) {
                tracing::warn!(target: "hub", kiosk = %kiosk_id, batch = ?meta.batch_id, earlier_not_logged = n, "submission refused: batch assigned to other kiosks");
            }
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "batch {:?} is assigned to other kiosks, not this one (or is written \
                     like such a batch: in another case, width or spacing, or with letters drawn \
                     alike); the hub's administrator assigns it with \
                     `kiosk hub assign-batch --kiosk KIOSK --batch BATCH`",
                    meta.batch_id
                ),
            )
            .with_code(ErrorCode::BatchNotAssigned));
        }

        let img = decode_within(photo, "photo", PHOTO_SIDES)?;
        let hash = photo_hash(&img);
        drop(img);
        for doc in documents {
            // decoded to prove it is a photo, then dropped: one document in memory at a time
            decode_within(doc, "document photo", DOCUMENT_SIDES)?;
        }

        let _claim = self.storing.claim(&meta.key);
        let db = self.db();
        // a replay that raced this one may have stored it while the photo was decoded
        if let Some(answer) = replay(&db)? {
            return Ok(answer);
        }
        // what the other replicas stored since this one last looked, read without holding the
        // index (a slow database must not queue every upload behind this one)
        let stored_since = db.hashes_since(self.index().since_ms())?;
        let near = {
            let mut index = self.index();
            index.take_in(stored_since);
            nearest(&index, &meta.key, &hash, NEAREST_LOOKED_UP)
        };
        let candidate_index = db.candidate_index(&meta.candidate_key);
        // the index holds rows as this replica last saw them: the flag rules (another
        // candidate's photo unless withdrawn; this candidate's only once approved) are applied
        // to the near ones as they are now, decided, withdrawn or purged by any replica
        let flags = if near.is_empty() {
            Vec::new()
        } else {
            let current = db.current_entries(&near)?;
            self.index().refresh(&near, &current);
            near_duplicates(&current, &meta.key, &meta.profile, &candidate_index, &hash)
        };
        let file = self.write_photo(&meta.key, "", photo)?;
        for (n, doc) in documents.iter().enumerate() {
            self.write_photo(&meta.key, &db::document_suffix(n), doc)?;
        }
        let Some(status) = db.insert_record(&NewRecord {
            meta: &meta,
            kiosk_id,
            fingerprint: &fingerprint,
            photo_file: &file,
            photo_bytes: photo.len(),
            phash: &hash,
            report: report_text,
            duplicates: &flags,
            documents: documents.len(),
        })?
        else {
            // the same key was stored meanwhile by another request (on PostgreSQL, maybe at
            // another replica): answered like any replay, so it is stored once
            return replay(&db)?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the hub's database failed; try again later",
                )
            });
        };
        drop(db);
        self.index().add(db::HashEntry {
            record_id: meta.key.clone(),
            profile: meta.profile.clone(),
            candidate_index,
            state: status.state,
            phash: hash,
        });
        tracing::info!(
            target: "hub",
            record = %meta.key,
            kiosk = %kiosk_id,
            bytes = photo.len(),
            documents = documents.len(),
            possible_duplicates = flags.len(),
            "record stored"
        );
        Ok((StatusCode::CREATED, reply_of(&status)))
    }

    /// Stores the photo durably (`PhotoStore::put`) and returns its name. The key was checked
    /// to be a UUID, so it is safe in a name.
    fn write_photo(&self, key: &str, suffix: &str, bytes: &[u8]) -> Result<String, ApiError> {
        let shard = &key[key.len().saturating_sub(2)..];
        let name = format!("{shard}/{key}{suffix}.jpg");
        self.photos.put(&name, bytes)?;
        Ok(name)
    }
}
