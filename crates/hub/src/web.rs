//! The reviewers' side: the session cookie the login (`login.rs`) hands out, the review page
//! and its JSON API (queue, photo, decision), plus the admin routes for kiosks and rosters.

use super::db::{Refusal, Reviewer, Role};
use super::{blocking, ApiError, Hub};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use capture_core::hub_protocol::{Decision, RecordStatus, RejectReason, ReviewState};
use capture_core::roster::{parse_roster_csv, roster_text};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The session cookie's name.
pub(super) const COOKIE: &str = "hub_session";
const REVIEW_PAGE: &str = include_str!("review.html");
const OPENAPI: &str = include_str!("openapi.yaml");

/// The pages and the reviewers' API; public routes first, then those behind a reviewer's or an
/// administrator's session.
pub fn routes(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    use axum::middleware::from_fn_with_state;
    let public = Router::new()
        .route("/", get(|| async { Redirect::to("/review") }))
        .route("/healthz", get(healthz))
        // a login form is a name and a password: read before any check, a body the size of
        // the kiosks' let a stranger hold 8 MiB per connection (a helper's attack: 3 GB at 400)
        .route(
            "/login",
            get(super::login::login_page)
                .post(super::login::login)
                .layer(axum::extract::DefaultBodyLimit::max(
                    super::login::LOGIN_FORM_MAX,
                )),
        )
        .route("/logout", post(logout))
        .route("/review", get(review_page))
        .route("/api/v1/openapi.yaml", get(openapi))
        .route("/api/v1/reasons", get(reasons));
    let reviewers = Router::new()
        .route("/api/v1/review/queue", get(queue))
        .route("/api/v1/review/records/{id}/report", get(report))
        .route("/api/v1/review/records/{id}/photo", get(photo))
        .route("/api/v1/review/records/{id}/documents/{n}", get(document))
        .route("/api/v1/review/records/{id}/decision", post(decide))
        .route_layer(from_fn_with_state(
            hub.clone(),
            super::auth::require_reviewer,
        ));
    let admins = Router::new()
        .route("/api/v1/kiosks", post(add_kiosk))
        .route("/api/v1/roster", axum::routing::put(import_roster))
        .route_layer(from_fn_with_state(hub.clone(), super::auth::require_admin));
    public.merge(reviewers).merge(admins)
}

/// The values of every cookie the request carries whose name `wanted` accepts.
pub(super) fn cookie_values<'a>(
    headers: &'a HeaderMap,
    wanted: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |c| {
            let (name, value) = c.trim().split_once('=')?;
            wanted(name).then_some(value)
        })
}

fn session_secret(headers: &HeaderMap) -> Option<String> {
    cookie_values(headers, |name| name == COOKIE)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The account a session cookie names, whatever its role (reviewer or staff).
pub(super) async fn account(hub: &Arc<Hub>, headers: &HeaderMap) -> Result<Reviewer, ApiError> {
    let unauthorised = || ApiError::new(StatusCode::UNAUTHORIZED, "log in first");
    let secret = session_secret(headers).ok_or_else(unauthorised)?;
    blocking(hub, move |h| {
        h.db()
            .reviewer_by_session(&secret)?
            .ok_or_else(unauthorised)
    })
    .await
}

/// A reviewer's session: a staff login (the dashboard only) is refused with 403.
pub(super) async fn reviewer(hub: &Arc<Hub>, headers: &HeaderMap) -> Result<Reviewer, ApiError> {
    // only "not logged in" is reworded: a database failure stays a 500, not a login prompt
    let r = account(hub, headers).await.map_err(|e| {
        if e.status == StatusCode::UNAUTHORIZED {
            ApiError::new(StatusCode::UNAUTHORIZED, "log in as a reviewer first")
        } else {
            e
        }
    })?;
    if r.role != Role::Reviewer {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this login opens the collection-day dashboard only; reviewing needs a reviewer's login",
        ));
    }
    Ok(r)
}

pub(super) async fn admin(hub: &Arc<Hub>, headers: &HeaderMap) -> Result<Reviewer, ApiError> {
    let r = account(hub, headers).await.map_err(|e| {
        if e.status == StatusCode::UNAUTHORIZED {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "log in as a hub administrator first",
            )
        } else {
            e
        }
    })?;
    // a staff login is told what it is for, not that reviewing needs another login
    if r.role == Role::Staff {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this account may only see the dashboard (/dashboard); kiosks and rosters are managed by a hub administrator",
        ));
    }
    if !r.is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only a hub administrator may do this",
        ));
    }
    Ok(r)
}

/// A page with its own Content-Security-Policy (computed once per page).
pub(super) fn page(
    html: String,
    policy: &'static std::sync::OnceLock<String>,
    source: &str,
) -> Response {
    let policy = policy.get_or_init(|| super::headers::page_policy(source));
    let mut response = Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// The review page with the kiosk's decision distance written in, so that a reviewer reads
/// "same person" exactly where the kiosk decided so (the policy hashes this text's script).
fn review_html() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        REVIEW_PAGE.replace(
            "{{same_person_distance}}",
            &capture_core::engine::SAME_PERSON_DISTANCE.to_string(),
        )
    })
}

/// "ok" while the hub can take records; 503 once its disk is below the reserve, so the
/// monitoring that watches this pages the administrator before kiosks' outboxes fill.
async fn healthz(State(hub): State<Arc<Hub>>) -> Response {
    match hub.disk_room() {
        super::disk_reserve::Room::Enough => "ok".into_response(),
        super::disk_reserve::Room::Low { free, reserve } => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "disk nearly full: {} MiB free, {} MiB kept in reserve; submissions are refused \
                 until room is made",
                super::disk_reserve::mib(free),
                super::disk_reserve::mib(reserve)
            ),
        )
            .into_response(),
    }
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
    match account(&hub, &headers).await {
        Ok(r) if r.role == Role::Reviewer => {
            static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let html = review_html();
            page(html.to_owned(), &POLICY, html)
        }
        // staff land here after logging in (and from `/`): their page is the dashboard
        Ok(_) => Redirect::to("/dashboard").into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Redirect::to("/login").into_response(),
        // a database failure is the hub's fault: sent to the login page, a reviewer who logs
        // in is sent back here, and round again
        Err(e) => e.into_response(),
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

/// The largest review page: the list carries no reports (see [`report`]), but a page is
/// still held in memory whole.
const MAX_PAGE: usize = 50;

#[derive(Deserialize)]
struct QueueQuery {
    state: Option<String>,
    limit: Option<usize>,
    /// Items to skip (the next page starts where the last ended).
    offset: Option<usize>,
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
    Extension(who): Extension<Reviewer>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueuePage>, ApiError> {
    let state = match q.state.as_deref() {
        None => ReviewState::PendingReview,
        Some(s) => ReviewState::parse(s).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("unknown state {s:?}"))
        })?,
    };
    let limit = q.limit.unwrap_or(20).clamp(1, MAX_PAGE);
    let offset = q.offset.unwrap_or(0).min(1 << 31);
    blocking(&hub, move |h| {
        let db = h.db();
        Ok(Json(QueuePage {
            reviewer: who.user,
            is_admin: who.is_admin,
            counts: db.counts()?,
            items: db.review_items(state, limit, offset)?,
        }))
    })
    .await
}

/// One record's check report, sent as stored (the list leaves reports out: re-parsing up to
/// 256 KiB per item for a whole page took hundreds of MiB).
async fn report(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(&hub, move |h| {
        let text = h
            .db()
            .report(&id)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such record"))?;
        Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            text,
        )
            .into_response())
    })
    .await
}

async fn photo(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(&hub, move |h| {
        let rec = h
            .db()
            .record(&id)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such record"))?;
        if rec.photo_file.is_empty() {
            return Err(purged());
        }
        // a row that names a missing photo is the one thing the write order rules out
        let bytes = h.photos.get(&rec.photo_file)?.ok_or_else(|| {
            // the write order rules this out; a lost bucket or a hand-deleted file does not
            tracing::error!(target: "hub", record = %rec.id, "a record's photo is missing from the photo store");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this record's photo is missing",
            )
        })?;
        Ok(private_jpeg(bytes))
    })
    .await
}

/// A record whose photos the retention policy removed.
fn purged() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "this record's photos were removed under the retention policy",
    )
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
    Path((id, n)): Path<(String, u8)>,
) -> Result<Response, ApiError> {
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
        if rec.photo_file.is_empty() {
            return Err(purged());
        }
        let file = super::db::document_file(&rec.photo_file, usize::from(n));
        let bytes = h
            .photos
            .get(&file)?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such document photo"))?;
        Ok(private_jpeg(bytes))
    })
    .await
}

async fn decide(
    State(hub): State<Arc<Hub>>,
    Extension(who): Extension<Reviewer>,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Result<Json<RecordStatus>, ApiError> {
    blocking(&hub, move |h| {
        let done = h.db().decide(&id, &who.user, &d)?;
        let status = done.map_err(|r| match r {
            Refusal::NotFound => ApiError::new(StatusCode::NOT_FOUND, "no such record"),
            Refusal::Locked(m) => ApiError::new(StatusCode::CONFLICT, m),
            Refusal::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            Refusal::WrongKiosk => ApiError::new(StatusCode::FORBIDDEN, "not allowed"),
        })?;
        h.set_index_state(&id, status.state);
        tracing::info!(target: "hub", record = %id, state = status.state.as_str(), reviewer = ?who.user, "record decided");
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
    Extension(who): Extension<Reviewer>,
    Json(k): Json<NewKiosk>,
) -> Result<(StatusCode, Json<IssuedKiosk>), ApiError> {
    let name = k.name.trim().to_owned();
    if name.is_empty() || !capture_core::hub_protocol::is_short_plain_text(&name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a kiosk name is 1–64 characters with no control or invisible format characters",
        ));
    }
    blocking(&hub, move |h| {
        let (kiosk_id, token) = h.db().add_kiosk(&name).map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                ApiError::new(StatusCode::CONFLICT, "a kiosk with this name exists")
            } else {
                e.into()
            }
        })?;
        tracing::info!(target: "hub", kiosk = %kiosk_id, admin = ?who.user, "kiosk registered");
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

/// Password digests one roster upload may carry: sealing them takes about 3 minutes of both
/// cores on the reference machine.
const MAX_PASSWORDS_PER_UPLOAD: usize = 20_000;

async fn import_roster(
    State(hub): State<Arc<Hub>>,
    Extension(who): Extension<Reviewer>,
    Query(q): Query<BatchQuery>,
    // bytes, not a string: Excel on a Chinese Windows saves "CSV" as GBK, which the command
    // line's import already reads
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let batch = q.batch.as_str();
    if batch.is_empty() || !capture_core::hub_protocol::is_short_plain_text(batch) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a batch name is 1–64 characters with no control or invisible characters",
        ));
    }
    // the query is decoded lossily: a replacement character stands for bytes (`%FF`) that
    // were not UTF-8, and a batch stored so is not the one its administrator meant
    if batch.contains(char::REPLACEMENT_CHARACTER) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the batch name is not UTF-8 text (percent-encode its UTF-8 bytes)",
        ));
    }
    let text = roster_text(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let mut rows = parse_roster_csv(&text)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    // each password is sealed with argon2 (about 20 ms of a core): bounded before any is, so
    // one upload cannot hold the hub's cores for half an hour
    let to_seal = rows
        .iter()
        .filter(|r| capture_core::roster::needs_sealing(&r.secret))
        .count();
    if to_seal > MAX_PASSWORDS_PER_UPLOAD {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "一次最多导入 {MAX_PASSWORDS_PER_UPLOAD} 个带密码摘要的考生（本文件 {to_seal} 个），\
                 请拆分后按批次分别导入 / at most {MAX_PASSWORDS_PER_UPLOAD} candidates with a \
                 password digest per upload ({to_seal} in this file): split it and upload the \
                 parts as batches of their own"
            ),
        ));
    }
    let n = rows.len();
    // one upload seals at a time: two at once would each take every core
    let _sealing = hub.sealing_slots.acquire().await.ok();
    blocking(&hub, move |h| {
        // slow on purpose (argon2 per password): on this blocking thread, before the lock
        capture_core::roster::seal_secrets(&mut rows)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        h.db().replace_roster(&q.batch, &rows, &who.user)?;
        // a batch name is the admin's text: Debug escapes a newline that would forge a line
        tracing::info!(target: "hub", batch = ?q.batch, rows = n, admin = ?who.user, "roster replaced");
        Ok(Json(serde_json::json!({ "batch": q.batch, "rows": n })))
    })
    .await
}
