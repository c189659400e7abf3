//! Authentication runs before anything of a request is parsed: these layers sit in front of
//! the routes that need a kiosk, a reviewer, an administrator or any login (the dashboard's
//! figures), so a stranger's request gets 401 (or 403) and its query, JSON or multipart body
//! is never read.

use super::connection_slots::Proof;
use super::{api, blocking, web, ApiError, Hub};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use capture_core::hub_protocol::{OutboxReport, OUTBOX_HEADER};
use std::sync::Arc;

/// Marks the request's connection as one a kiosk or a login holds: it is never closed to make
/// room for another (`connection_slots.rs`).
fn proven(request: &Request) {
    if let Some(proof) = request.extensions().get::<Proof>() {
        proof.prove();
    }
}

/// The kiosk a request's token names; handlers behind [`require_kiosk`] take it as an
/// `Extension` (one lookup per request).
#[derive(Clone, Debug)]
pub(super) struct AuthedKiosk {
    pub id: String,
    pub name: String,
}

pub(super) async fn require_kiosk(
    State(hub): State<Arc<Hub>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (id, name) = api::kiosk(&hub, request.headers()).await?;
    proven(&request);
    // only now, with the kiosk known, is its outbox header read; one that cannot be read is
    // ignored (it is for the dashboard; the request itself must not fail over it)
    let outbox = request
        .headers()
        .get(OUTBOX_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(OutboxReport::parse);
    let seen = id.clone();
    if let Err(e) = blocking(&hub, move |h| {
        let now = std::time::Instant::now();
        let at_once = h.contact_writes.may_write(&seen, now);
        let written = h
            .db()
            .kiosk_contact(&seen, outbox, capture_store::now_ms(), at_once)?;
        if written {
            h.contact_writes.wrote(&seen, now);
        }
        Ok(())
    })
    .await
    {
        tracing::warn!(target: "hub", kiosk = %id, error = %e.message, "cannot note the kiosk's contact");
    }
    request.extensions_mut().insert(AuthedKiosk { id, name });
    Ok(next.run(request).await)
}

/// Any login, reviewer or staff (the dashboard's figures); handlers take the
/// [`super::db::Reviewer`] as an `Extension`.
pub(super) async fn require_account(
    State(hub): State<Arc<Hub>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let account = web::account(&hub, request.headers()).await?;
    proven(&request);
    request.extensions_mut().insert(account);
    Ok(next.run(request).await)
}

/// Handlers behind this take the [`super::db::Reviewer`] as an `Extension`.
pub(super) async fn require_reviewer(
    State(hub): State<Arc<Hub>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let reviewer = web::reviewer(&hub, request.headers()).await?;
    proven(&request);
    request.extensions_mut().insert(reviewer);
    Ok(next.run(request).await)
}

/// Like [`require_reviewer`], for administrators only.
pub(super) async fn require_admin(
    State(hub): State<Arc<Hub>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let admin = web::admin(&hub, request.headers()).await?;
    proven(&request);
    request.extensions_mut().insert(admin);
    Ok(next.run(request).await)
}
