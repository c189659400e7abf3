//! The kiosk-facing API: identify, submit (idempotent on the record key), statuses, withdraw,
//! a returning candidate's records, and the roster. Every route needs a kiosk token.

mod submission;

use super::auth::AuthedKiosk;
use super::db::Refusal;
use super::{blocking, ApiError, Hub, KioskLine};
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use capture_core::hub_protocol::KioskIdentity;
use capture_core::hub_protocol::{
    is_short_plain_text, ErrorCode, RecordMeta, RecordStatus, StatusQuery, SubmitReply,
};
use capture_core::imaging::{decode_image, DecodeLimits};
use serde::Deserialize;
use std::sync::Arc;

/// Sizes a kiosk's parts may have: generous for any spec's photo (bj-degree allows 2 MB).
const MAX_PHOTO_BYTES: usize = 4 << 20;
const MAX_REPORT_BYTES: usize = 256 << 10;
const MAX_META_BYTES: usize = 16 << 10;
/// The manual path's photographs: the ID card's front, back, the candidate holding it.
pub(super) const MAX_DOCUMENTS: usize = 3;
/// The parts a submission may have, said in every answer about a wrong part.
const PARTS: &str =
    "a submission has the parts metadata, photo and report, and up to 3 parts named document";
/// Pixel bounds: a kiosk's photo is a spec-sized photo (150×210 to 480×640 today); a document
/// is a camera frame of an ID card. Anything larger is refused from its header, before any
/// pixel is decoded.
const PHOTO_SIDES: (u32, u32) = (100, 2000);
/// 3000 px is ~900 dpi across an ID card; a progressive JPEG's decode holds its coefficients
/// too (~80 MiB at 3000², ~200 MiB at 4000²).
const DOCUMENT_SIDES: (u32, u32) = (100, 3000);
/// The largest statuses query: 500 record ids (36 characters each) with room for spacing.
const STATUS_QUERY_BYTES: usize = 64 << 10;
/// A candidate lookup is a profile and a candidate number.
const LOOKUP_BYTES: usize = 4 << 10;
/// The largest verification distance accepted (openapi.yaml states it). Real distances are
/// below 2; the bound keeps a float that overflows f32 from ever reaching the store.
const MAX_DISTANCE: f64 = 1000.0;

/// The kiosk routes, each behind the kiosk-token check.
pub fn routes(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/kiosk", get(whoami))
        .route("/api/v1/records", post(submit))
        // 500 ids are ~20 KiB of JSON: a body the size of a submission's would be parsed
        // whole before the count is looked at
        .route(
            "/api/v1/records/status",
            post(statuses).layer(axum::extract::DefaultBodyLimit::max(STATUS_QUERY_BYTES)),
        )
        .route("/api/v1/records/{id}", get(status))
        .route("/api/v1/records/{id}/withdraw", post(withdraw))
        .route(
            "/api/v1/candidates/lookup",
            post(candidate_lookup).layer(axum::extract::DefaultBodyLimit::max(LOOKUP_BYTES)),
        )
        .route("/api/v1/roster", get(roster))
        .route_layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            super::auth::require_kiosk,
        ))
}

pub(super) fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this request needs a kiosk token (Authorization: Bearer …)",
            )
        })
}

/// The kiosk (id, name) that `headers` authenticate, on a blocking thread.
pub(super) async fn kiosk(
    hub: &Arc<Hub>,
    headers: &HeaderMap,
) -> Result<(String, String), ApiError> {
    let token = bearer(headers)?;
    blocking(hub, move |h| {
        h.db().kiosk_by_token(&token)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked kiosk token; ask the hub's administrator for a new one",
            )
        })
    })
    .await
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::NotFound => ApiError::new(StatusCode::NOT_FOUND, "no such record"),
        // 403, never 401: the token is good, only this record is not the kiosk's
        Refusal::WrongKiosk => ApiError::new(
            StatusCode::FORBIDDEN,
            "this record was submitted by another kiosk; if this kiosk was registered again, the hub's administrator can move its records (kiosk hub move-records)",
        ),
        Refusal::Locked(m) => ApiError::new(StatusCode::CONFLICT, m),
        Refusal::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
    }
}

async fn whoami(Extension(auth): Extension<AuthedKiosk>) -> Json<KioskIdentity> {
    Json(KioskIdentity {
        kiosk_id: auth.id,
        name: auth.name,
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

async fn submit(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<SubmitReply>), ApiError> {
    let kiosk_id = auth.id;
    // its share, its allowance and the disk's room, before any of the body is read
    let _share = super::admission::admit(&hub, &kiosk_id)?;
    // a submission being received holds its parts (up to the body limit) in memory: a bounded
    // number at once, so many slow senders cannot add up to gigabytes
    let _receiving =
        hub.upload_slots.acquire().await.map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the hub is shutting down")
        })?;
    let (mut meta, mut photo, mut report) = (None, None, None);
    let mut documents: Vec<axum::body::Bytes> = Vec::new();
    // the last part read, so that an unreadable body can say where it went wrong
    let mut last = String::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(unreadable(&e, &last)),
        };
        // the name decides before the bytes are read, so an unknown part is never buffered
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(invalid(format!("a part has no name; {PARTS}")));
        };
        if !matches!(name.as_str(), "metadata" | "photo" | "report" | "document") {
            return Err(invalid(format!("unexpected part {name:?}; {PARTS}")));
        }
        let bytes = field.bytes().await.map_err(|e| unreadable(&e, &name))?;
        last = name.clone();
        if name == "document" {
            // too many is a malformed submission, too big a size limit: 422 and 413
            if documents.len() == MAX_DOCUMENTS {
                return Err(invalid(format!(
                    "more than {MAX_DOCUMENTS} document parts; {PARTS}"
                )));
            }
            if bytes.len() > MAX_PHOTO_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "a document part is {} bytes, more than the {MAX_PHOTO_BYTES} allowed",
                        bytes.len()
                    ),
                ));
            }
            documents.push(bytes);
            continue;
        }
        let (slot, limit) = match name.as_str() {
            "metadata" => (&mut meta, MAX_META_BYTES),
            "photo" => (&mut photo, MAX_PHOTO_BYTES),
            _ => (&mut report, MAX_REPORT_BYTES),
        };
        // a second copy would silently replace the first, and the fingerprint with it
        if slot.is_some() {
            return Err(invalid(format!("the {name} part was sent twice; {PARTS}")));
        }
        if bytes.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the {name} part is {} bytes, more than the {limit} allowed",
                    bytes.len()
                ),
            ));
        }
        *slot = Some(bytes);
    }
    // every submission read whole counts against the allowance, stored or not: a refused one
    // costs the hub its decodes all the same (a helper kept 1.7 cores busy with 422s)
    let read_bytes = [&meta, &photo, &report]
        .into_iter()
        .flatten()
        .map(|p| p.len())
        .chain(documents.iter().map(|d| d.len()))
        .sum::<usize>();
    hub.store_quota
        .received(&kiosk_id, read_bytes, std::time::Instant::now());
    let (Some(meta), Some(photo), Some(report)) = (meta, photo, report) else {
        return Err(invalid(
            "a submission needs three parts: metadata, photo and report",
        ));
    };
    let meta_bytes = meta;
    let meta: RecordMeta = serde_json::from_slice(&meta_bytes)
        .map_err(|e| invalid(format!("the metadata is not valid: {e}")))?;
    if let Some(problem) = meta.problem() {
        return Err(invalid(problem));
    }
    // the key names the photo files and is compared as text, so only one spelling of a UUID
    if !is_canonical_uuid(&meta.key) {
        return Err(invalid(format!(
            "key {:?} must be a UUID in its hyphenated form (8-4-4-4-12 lower-case hex digits)",
            meta.key
        )));
    }
    if let Some(d) = meta_distance(&meta_bytes).filter(|d| *d > MAX_DISTANCE) {
        return Err(invalid(format!(
            "verification_distance {d} is more than {MAX_DISTANCE}"
        )));
    }
    // decoding takes up to ~50 MiB per document: a few at a time, whoever is sending
    let _decoding =
        hub.decode_slots.acquire().await.map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the hub is shutting down")
        })?;
    blocking(&hub, move |h| {
        let documents: Vec<&[u8]> = documents.iter().map(|d| d.as_ref()).collect();
        h.store_submission(&kiosk_id, meta, &photo, &report, &documents)
    })
    .await
    .map(|(code, reply)| (code, Json(reply)))
}

/// Whether `key` is a UUID written the one way the hub stores it: hyphenated, lower case.
fn is_canonical_uuid(key: &str) -> bool {
    uuid::Uuid::try_parse(key).is_ok_and(|u| u.hyphenated().to_string() == key)
}

/// Decodes a photo or document within `sides` (smallest and largest side in pixels).
fn decode_within(bytes: &[u8], what: &str, sides: (u32, u32)) -> Result<image::RgbImage, ApiError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(invalid(format!("the {what} is not a JPEG")));
    }
    let limits = DecodeLimits {
        max_file_bytes: MAX_PHOTO_BYTES,
        max_side: sides.1,
        max_alloc_bytes: u64::from(sides.1) * u64::from(sides.1) * 3 + (1 << 20),
    };
    let img = decode_image(bytes, limits)
        .map_err(|e| invalid(format!("the {what} cannot be read: {e}")))?;
    if img.width() < sides.0 || img.height() < sides.0 {
        return Err(invalid(format!(
            "the {what} is {}×{} pixels; at least {}×{} is needed",
            img.width(),
            img.height(),
            sides.0,
            sides.0
        )));
    }
    Ok(img)
}

/// A multipart body that cannot be read any further (a part's headers are malformed, e.g. a
/// control character in its name, or the body ends early), said with the last good part.
fn unreadable(e: &axum::extract::multipart::MultipartError, last: &str) -> ApiError {
    let place = if last.is_empty() {
        "at its first part".to_owned()
    } else {
        format!("after the {last:?} part")
    };
    // a body the client stopped sending is the client's error, not the hub's: a 500 there
    // would page whoever watches the hub's failures
    let status = if e.status().is_server_error() {
        StatusCode::BAD_REQUEST
    } else {
        e.status()
    };
    ApiError::new(
        status,
        format!(
            "the multipart body cannot be read {place}: {}; {PARTS}, each with plain headers",
            e.body_text()
        ),
    )
}

/// The metadata's verification distance as sent: RecordMeta holds an f32, which would round a
/// number just over the documented bound down onto it.
fn meta_distance(meta: &[u8]) -> Option<f64> {
    #[derive(Deserialize)]
    struct Distance {
        verification_distance: Option<f64>,
    }
    serde_json::from_slice::<Distance>(meta)
        .ok()?
        .verification_distance
}

fn reply_of(s: &RecordStatus) -> SubmitReply {
    SubmitReply {
        record_id: s.record_id.clone(),
        state: s.state,
        received_at_ms: s.received_at_ms,
    }
}

async fn status(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    Path(id): Path<String>,
) -> Result<Json<RecordStatus>, ApiError> {
    let kiosk_id = auth.id;
    blocking(&hub, move |h| {
        let mut found = h
            .db()
            .statuses_for_kiosk(&kiosk_id, std::slice::from_ref(&id))?;
        if !found.foreign.is_empty() {
            return Err(refusal(Refusal::WrongKiosk));
        }
        found
            .mine
            .pop()
            .map(Json)
            .ok_or_else(|| refusal(Refusal::NotFound))
    })
    .await
}

/// The statuses of the asking kiosk's records; another kiosk's records are left out (and
/// logged), so one foreign id never keeps a kiosk from learning about its own.
async fn statuses(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    Json(q): Json<StatusQuery>,
) -> Result<Json<Vec<RecordStatus>>, ApiError> {
    let kiosk_id = auth.id;
    if q.record_ids.len() > 500 {
        return Err(invalid("ask for at most 500 records at a time"));
    }
    blocking(&hub, move |h| {
        let found = h.db().statuses_for_kiosk(&kiosk_id, &q.record_ids)?;
        let logged = found
            .foreign
            .first()
            .and_then(|first| Some((first, h.kiosk_line(&kiosk_id, KioskLine::ForeignStatus)?)));
        if let Some((first, n)) = logged {
            tracing::warn!(
                earlier_not_logged = n,
                kiosk_id = %kiosk_id,
                foreign = found.foreign.len(),
                first_record_id = %first,
                "status asked for records of another kiosk; left out (re-registered kiosk? see kiosk hub move-records)"
            );
        }
        Ok(Json(found.mine))
    })
    .await
}

async fn withdraw(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    Path(id): Path<String>,
) -> Result<Json<RecordStatus>, ApiError> {
    let kiosk_id = auth.id;
    blocking(&hub, move |h| {
        let done = h.db().withdraw(&id, &kiosk_id)?;
        let status = done.map_err(refusal)?;
        h.set_index_state(&id, status.state);
        tracing::info!(record_id = %id, kiosk_id = %kiosk_id, "record withdrawn by its kiosk");
        Ok(Json(status))
    })
    .await
}

#[derive(Deserialize)]
struct CandidateQuery {
    profile: String,
    candidate_key: String,
}

async fn candidate_lookup(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    Json(q): Json<CandidateQuery>,
) -> Result<Json<Vec<RecordStatus>>, ApiError> {
    let kiosk_id = auth.id;
    blocking(&hub, move |h| {
        Ok(Json(h.db().candidate_records(
            &kiosk_id,
            &q.profile,
            &q.candidate_key,
        )?))
    })
    .await
}

#[derive(Deserialize)]
struct BatchQuery {
    batch: String,
}

async fn roster(
    State(hub): State<Arc<Hub>>,
    Extension(auth): Extension<AuthedKiosk>,
    Query(q): Query<BatchQuery>,
) -> Result<Json<Vec<capture_core::hub_protocol::RosterEntry>>, ApiError> {
    // a batch name is short (as the submit path holds it): a long one is refused before it
    // reaches the log or the answer, which it would otherwise flood
    if !is_short_plain_text(&q.batch) {
        return Err(invalid(
            "a batch name is at most 64 characters, with no control or invisible characters"
                .to_owned(),
        ));
    }
    let (kiosk_id, kiosk_name) = (auth.id, auth.name);
    blocking(&hub, move |h| {
        // a roster is names, ID numbers and phones: only kiosks assigned the batch read it,
        // and an unknown batch answers the same as another's, so names cannot be probed
        let Some(rows) = h.db().roster_for_kiosk(&kiosk_id, &q.batch)? else {
            if let Some(n) = h.kiosk_line(&kiosk_id, KioskLine::RosterRefused) {
            tracing::warn!(kiosk = %kiosk_id, batch = ?q.batch, earlier_not_logged = n, "roster refused: batch not assigned");
        }
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this kiosk is not assigned batch {:?}; the hub's administrator assigns it with \
                     `kiosk hub assign-batch --kiosk {kiosk_name:?} --batch BATCH`",
                    q.batch
                ),
            )
            .with_code(ErrorCode::BatchNotAssigned));
        };
        if let Some(n) = h.kiosk_line(&kiosk_id, KioskLine::RosterSent) {
            tracing::info!(kiosk = %kiosk_id, batch = ?q.batch, rows = rows.len(), earlier_not_logged = n, "roster sent");
        }
        Ok(Json(rows))
    })
    .await
}

impl Hub {
    pub(super) fn set_index_state(&self, id: &str, state: capture_core::hub_protocol::ReviewState) {
        self.index().set_state(id, state);
    }
}
