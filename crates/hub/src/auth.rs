//! Authentication runs before anything of a request is parsed: these layers sit in front of
//! the routes that need a kiosk, a reviewer or an administrator, so a stranger's request gets
//! 401 (or 403) and its query, JSON or multipart body is never read.

use super::{api, web, ApiError, Hub};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

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
    request.extensions_mut().insert(AuthedKiosk { id, name });
    Ok(next.run(request).await)
}

/// Handlers behind this take the [`super::db::Reviewer`] as an `Extension`.
pub(super) async fn require_reviewer(
    State(hub): State<Arc<Hub>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let reviewer = web::reviewer(&hub, request.headers()).await?;
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
    request.extensions_mut().insert(admin);
    Ok(next.run(request).await)
}
