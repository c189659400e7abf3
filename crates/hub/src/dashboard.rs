//! The collection-day dashboard: a page for the college's staff (a staff login, or a reviewer)
//! and the same figures as JSON at `/api/v1/stats` for tools. The figures are counts and kiosk
//! ids (`db::DayStats`), never a candidate's name, number or photo.
//!
//! However many pages and tools poll, the figures are computed at most once per [`FRESH`] and
//! the same answer is served to all in between: the queries take the database lock that
//! kiosks' uploads need, so their cost must not grow with the number of people watching.

use super::{blocking, ApiError, Hub};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DASHBOARD_PAGE: &str = include_str!("dashboard.html");
/// How long one computation of the figures is served (the page polls every 5 s).
pub const FRESH: Duration = Duration::from_secs(2);

/// The last figures computed, as the JSON sent.
#[derive(Default)]
pub(super) struct StatsCache {
    // an async lock: callers that arrive while the figures are computed wait for them instead
    // of computing them again
    last: tokio::sync::Mutex<Option<(Instant, Bytes)>>,
}

pub fn routes(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    use axum::middleware::from_fn_with_state;
    let page = Router::new().route("/dashboard", get(dashboard_page));
    let api = Router::new()
        .route("/api/v1/stats", get(stats))
        .route_layer(from_fn_with_state(
            hub.clone(),
            super::auth::require_account,
        ));
    page.merge(api)
}

async fn dashboard_page(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    match super::web::account(&hub, &headers).await {
        Ok(_) => {
            static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            super::web::page(DASHBOARD_PAGE.to_owned(), &POLICY, DASHBOARD_PAGE)
        }
        Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
            Redirect::to("/login").into_response()
        }
        // a database failure is the hub's fault, not a reason to log in again
        Err(e) => e.into_response(),
    }
}

async fn stats(State(hub): State<Arc<Hub>>) -> Result<Response, ApiError> {
    let mut last = hub.stats.last.lock().await;
    let body = match &*last {
        Some((at, body)) if at.elapsed() < FRESH => body.clone(),
        _ => {
            let body = blocking(&hub, |h| {
                let figures = h.db().day_stats(capture_store::now_ms())?;
                serde_json::to_vec(&figures).map(Bytes::from).map_err(|e| {
                    tracing::error!(target: "hub", error = %e, "cannot encode the day's figures");
                    ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "the hub failed; try again later",
                    )
                })
            })
            .await?;
            *last = Some((Instant::now(), body.clone()));
            body
        }
    };
    drop(last);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        body,
    )
        .into_response())
}
