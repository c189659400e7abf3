//! Authentication runs before anything of a request is parsed: these layers sit in front of
//! the routes that need a kiosk, a reviewer or an administrator, so a stranger's request gets
//! 401 (or 403) and its query, JSON or multipart body is never read.

use super::{api, web, ApiError, Hub};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

pub(super) async fn require_kiosk(
    State(hub): State<Arc<Hub>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    api::kiosk(&hub, request.headers()).await?;
    Ok(next.run(request).await)
}

pub(super) async fn require_reviewer(
    State(hub): State<Arc<Hub>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    web::reviewer(&hub, request.headers()).await?;
    Ok(next.run(request).await)
}

pub(super) async fn require_admin(
    State(hub): State<Arc<Hub>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    web::admin(&hub, request.headers()).await?;
    Ok(next.run(request).await)
}
