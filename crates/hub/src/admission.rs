//! Whether a kiosk's submission is read at all: the kiosk's share of the submissions being
//! received (`kiosk_share.rs`), its allowance of what it may store (`store_quota.rs`) and the
//! disk's room (`disk_reserve.rs`), each answered before any of the body is read, with when
//! to try again. The kiosk keeps the record and pauses (429 and 507 charge it no attempt).

use super::kiosk_share::Share;
use super::{ApiError, Hub, KioskLine};
use axum::http::StatusCode;

/// The kiosk's place among the submissions being received, or why it has none now.
pub(super) fn admit<'h>(hub: &'h Hub, kiosk_id: &str) -> Result<Share<'h>, ApiError> {
    // one kiosk's slow bodies cannot take every upload slot from the others
    let Some(share) = hub.kiosk_shares.take(kiosk_id) else {
        if let Some(n) = hub.kiosk_line(kiosk_id, KioskLine::ShareTaken) {
            tracing::warn!(target: "hub", kiosk = %kiosk_id, limit = super::kiosk_share::PER_KIOSK, earlier_not_logged = n, "submission refused: this kiosk already has its share being received");
        }
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this kiosk already has {} submissions being received; send one record at a time \
                 and try this one again when they are answered",
                super::kiosk_share::PER_KIOSK
            ),
        )
        .retry_after(5));
    };
    // one token cannot fill the disk every kiosk stores on (`store_quota.rs`)
    if let Err(wait) = hub
        .store_quota
        .may_store(kiosk_id, std::time::Instant::now())
    {
        let allowance = hub.store_quota.allowance();
        if let Some(n) = hub.kiosk_line(kiosk_id, KioskLine::AllowanceUsed) {
            tracing::warn!(target: "hub", kiosk = %kiosk_id, wait_s = wait.as_secs(), earlier_not_logged = n, "submission refused: this kiosk has stored its allowance of records; if it is not sending a backlog, its token may be stolen (kiosk hub revoke-kiosk)");
        }
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this kiosk has stored as many records as the hub takes from one kiosk in a \
                 while ({} records or {} MiB at once, then {} records or {} MiB an hour); the \
                 record stays in the kiosk's outbox and is sent again in {} s",
                allowance.burst_records,
                (allowance.burst_bytes / f64::from(1u32 << 20)).round(),
                allowance.records_per_hour,
                (allowance.bytes_per_hour / f64::from(1u32 << 20)).round(),
                wait.as_secs()
            ),
        )
        .retry_after(u32::try_from(wait.as_secs()).unwrap_or(u32::MAX)));
    }
    // a full disk would fail the commit after the photo is written, and take the reviewers'
    // decisions and logins down with it: the record waits in the kiosk's outbox instead
    if let super::disk_reserve::Room::Low { free, reserve } = hub.disk_room() {
        if let Some(n) = hub.kiosk_line(kiosk_id, KioskLine::DiskLow) {
            tracing::warn!(target: "hub", kiosk = %kiosk_id, free_mib = super::disk_reserve::mib(free), reserve_mib = super::disk_reserve::mib(reserve), earlier_not_logged = n, "submission refused: the data folder's disk is nearly full");
        }
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "the hub's disk is nearly full; the record stays in the kiosk's outbox and is sent \
             again once the hub's administrator has made room",
        )
        .retry_after(600));
    }
    Ok(share)
}
