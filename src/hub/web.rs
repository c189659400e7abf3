//! The reviewers' side: login with a password (argon2), a session cookie, the review page and
//! its JSON API (queue, photo, decision), plus the admin routes for kiosks and rosters.

use super::api::bearer;
use super::db::{Refusal, Reviewer};
use super::{blocking, log, ApiError, Hub};
use crate::hub_protocol::{Decision, RecordStatus, RejectReason, ReviewState};
use crate::roster::parse_roster_csv;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const COOKIE: &str = "hub_session";
const SESSION_MS: i64 = 12 * 3600 * 1000;
const LOGIN_PAGE: &str = include_str!("login.html");
const REVIEW_PAGE: &str = include_str!("review.html");
const OPENAPI: &str = include_str!("openapi.yaml");

pub fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/review") }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/review", get(review_page))
        .route("/api/v1/openapi.yaml", get(openapi))
        .route("/api/v1/reasons", get(reasons))
        .route("/api/v1/review/queue", get(queue))
        .route("/api/v1/review/records/{id}/photo", get(photo))
        .route("/api/v1/review/records/{id}/documents/{n}", get(document))
        .route("/api/v1/review/records/{id}/decision", post(decide))
        .route("/api/v1/kiosks", post(add_kiosk))
        .route("/api/v1/roster", axum::routing::put(import_roster))
}

fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })
        .find(|s| !s.is_empty())
}

async fn reviewer(hub: &Arc<Hub>, headers: &HeaderMap) -> Result<Reviewer, ApiError> {
    let unauthorised = || ApiError::new(StatusCode::UNAUTHORIZED, "log in as a reviewer first");
    let secret = session_secret(headers).ok_or_else(unauthorised)?;
    blocking(hub, move |h| {
        h.db()
            .reviewer_by_session(&secret)?
            .ok_or_else(unauthorised)
    })
    .await
}

async fn admin(hub: &Arc<Hub>, headers: &HeaderMap) -> Result<Reviewer, ApiError> {
    let r = reviewer(hub, headers).await?;
    if !r.is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only a hub administrator may do this",
        ));
    }
    Ok(r)
}

fn login_html(error: &str) -> Html<String> {
    Html(LOGIN_PAGE.replace("{{error}}", error))
}

async fn login_page() -> Html<String> {
    login_html("")
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login(
    State(hub): State<Arc<Hub>>,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let user = f.user.trim().to_owned();
    let secret = blocking(&hub, move |h| {
        Ok(h.db().login(&user, &f.password, SESSION_MS)?)
    })
    .await?;
    let Some(secret) = secret else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_html("用户名或密码错误 · Wrong user name or password"),
        )
            .into_response());
    };
    let secure = if hub.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_MS / 1000
    );
    let mut response = Redirect::to("/review").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn logout(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = session_secret(&headers) {
        blocking(&hub, move |h| Ok(h.db().logout(&secret)?)).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hub_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

async fn review_page(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    match reviewer(&hub, &headers).await {
        Ok(_) => Html(REVIEW_PAGE).into_response(),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

#[derive(Serialize)]
struct ReasonText {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
}

async fn reasons() -> Json<Vec<ReasonText>> {
    Json(
        RejectReason::ALL
            .iter()
            .map(|r| ReasonText {
                code: r.code(),
                zh: r.zh(),
                en: r.en(),
            })
            .collect(),
    )
}

#[derive(Deserialize)]
struct QueueQuery {
    state: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct QueuePage {
    reviewer: String,
    is_admin: bool,
    counts: Vec<(String, i64)>,
    items: Vec<super::db::ReviewItem>,
}

async fn queue(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueuePage>, ApiError> {
    let who = reviewer(&hub, &headers).await?;
    let state = match q.state.as_deref() {
        None => ReviewState::PendingReview,
        Some(s) => ReviewState::parse(s).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("unknown state {s:?}"))
        })?,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    blocking(&hub, move |h| {
        let db = h.db();
        Ok(Json(QueuePage {
            reviewer: who.user,
            is_admin: who.is_admin,
            counts: db.counts()?,
            items: db.review_items(state, limit)?,
        }))
    })
    .await
}

async fn photo(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    reviewer(&hub, &headers).await?;
    blocking(&hub, move |h| {
        let rec = h
            .db()
            .record(&id)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such record"))?;
        let bytes = std::fs::read(h.photo_path(&rec.photo_file))?;
        Ok(private_jpeg(bytes))
    })
    .await
}

/// A photo for a logged-in reviewer: never kept in a shared cache.
fn private_jpeg(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response()
}

async fn document(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, u8)>,
) -> Result<Response, ApiError> {
    reviewer(&hub, &headers).await?;
    // a record keeps at most three (front, back, holding the card); the path takes any u8
    if usize::from(n) >= super::api::MAX_DOCUMENTS {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no document photo {n}: they are numbered 0, 1 and 2"),
        ));
    }
    blocking(&hub, move |h| {
        let rec = h
            .db()
            .record(&id)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such record"))?;
        let file = rec.photo_file.replace(".jpg", &format!("-doc{n}.jpg"));
        let bytes = std::fs::read(h.photo_path(&file))
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such document photo"))?;
        Ok(private_jpeg(bytes))
    })
    .await
}

async fn decide(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Result<Json<RecordStatus>, ApiError> {
    let who = reviewer(&hub, &headers).await?;
    blocking(&hub, move |h| {
        let done = h.db().decide(&id, &who.user, &d)?;
        let status = done.map_err(|r| match r {
            Refusal::NotFound => ApiError::new(StatusCode::NOT_FOUND, "no such record"),
            Refusal::Locked(m) => ApiError::new(StatusCode::CONFLICT, m),
            Refusal::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            Refusal::WrongKiosk => ApiError::new(StatusCode::FORBIDDEN, "not allowed"),
        })?;
        h.set_index_state(&id, status.state);
        log(&format!(
            "record {id} {} by reviewer {}",
            status.state.as_str(),
            who.user
        ));
        Ok(Json(status))
    })
    .await
}

#[derive(Deserialize)]
struct NewKiosk {
    name: String,
}

#[derive(Serialize)]
struct IssuedKiosk {
    kiosk_id: String,
    name: String,
    token: String,
}

async fn add_kiosk(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Json(k): Json<NewKiosk>,
) -> Result<(StatusCode, Json<IssuedKiosk>), ApiError> {
    let who = admin(&hub, &headers).await?;
    let name = k.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a kiosk name is 1–64 characters",
        ));
    }
    blocking(&hub, move |h| {
        let (kiosk_id, token) = h.db().add_kiosk(&name).map_err(|e| match e {
            crate::store::StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                ApiError::new(StatusCode::CONFLICT, "a kiosk with this name exists")
            }
            other => other.into(),
        })?;
        log(&format!("kiosk {kiosk_id} registered by {}", who.user));
        Ok((
            StatusCode::CREATED,
            Json(IssuedKiosk {
                kiosk_id,
                name,
                token,
            }),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct BatchQuery {
    batch: String,
}

async fn import_roster(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Query(q): Query<BatchQuery>,
    body: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    // kiosks never write rosters; a kiosk token here is a mistake worth naming
    if bearer(&headers).is_ok() && session_secret(&headers).is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "kiosks may read rosters, not replace them",
        ));
    }
    let who = admin(&hub, &headers).await?;
    let mut rows = parse_roster_csv(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let n = rows.len();
    blocking(&hub, move |h| {
        // slow on purpose (argon2 per password): on this blocking thread, before the lock
        crate::roster::seal_secrets(&mut rows)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        h.db().replace_roster(&q.batch, &rows, &who.user)?;
        log(&format!(
            "roster of batch {} replaced ({n} rows) by {}",
            q.batch, who.user
        ));
        Ok(Json(serde_json::json!({ "batch": q.batch, "rows": n })))
    })
    .await
}
