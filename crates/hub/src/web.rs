//! The reviewers' side: login with a password (argon2), a session cookie, the review page and
//! its JSON API (queue, photo, decision), plus the admin routes for kiosks and rosters.

use super::db::{verify_password, Refusal, Reviewer, Role};
use super::login_guard::Refused;
use super::{blocking, ApiError, Hub, PeerAddr};
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use capture_core::hub_protocol::{Decision, RecordStatus, RejectReason, ReviewState};
use capture_core::roster::{parse_roster_csv, roster_text};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Who a failed login is logged and recorded as when the name typed is no account.
const NO_SUCH_ACCOUNT: &str = "(no such account)";

const COOKIE: &str = "hub_session";
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// The largest login form read: a user name and a password fit many times over.
const LOGIN_FORM_MAX: usize = 16 * 1024;
const LOGIN_PAGE: &str = include_str!("login.html");
const REVIEW_PAGE: &str = include_str!("review.html");
const OPENAPI: &str = include_str!("openapi.yaml");

/// The pages and the reviewers' API; public routes first, then those behind a reviewer's or an
/// administrator's session.
pub fn routes(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    use axum::middleware::from_fn_with_state;
    let public = Router::new()
        .route("/", get(|| async { Redirect::to("/review") }))
        .route("/healthz", get(|| async { "ok" }))
        // a login form is a name and a password: read before any check, a body the size of
        // the kiosks' let a stranger hold 8 MiB per connection (a helper's attack: 3 GB at 400)
        .route(
            "/login",
            get(login_page)
                .post(login)
                .layer(axum::extract::DefaultBodyLimit::max(LOGIN_FORM_MAX)),
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

fn login_html(error: &str) -> Response {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // the error text goes in the body, never in the style or script the policy hashes
    page(LOGIN_PAGE.replace("{{error}}", error), &POLICY, LOGIN_PAGE)
}

async fn login_page() -> Response {
    login_html("")
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login(
    State(hub): State<Arc<Hub>>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    // a login posted from another site's page is a forged login, whatever its password
    if !same_origin(&headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "log in from the hub's own login page",
        ));
    }
    let address = peer
        .map(|Extension(p)| p.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let user = f.user.trim().to_owned();
    // no account has a longer name: refused before the guard, the log and the events table,
    // which a stranger's megabyte "name" would otherwise fill
    if user.chars().count() > crate::db::MAX_LOGIN_NAME_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a login name has at most 64 characters",
        ));
    }
    let keys = hub.login_guard.keys(&user, address);
    let wait = match super::login_guard::admit(&hub, &keys).await {
        Ok(()) => None,
        Err(Refused::Wait(wait)) => Some(wait),
        Err(Refused::Uncounted) => {
            // no count, no limit: refused rather than let through unchecked
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                login_html("登录暂时无法检查，请稍后再试 · The hub cannot check logins right now (its database failed); try again in a minute"),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(30));
            return Ok(response);
        }
    };
    if let Some(wait) = wait {
        // the answer itself is slowed (1 to 2 s, a sleeping task, no thread): a guesser that
        // waits for answers makes a few attempts a second, not tens of thousands. At least
        // 1 s even when less of the wait is left: the wait runs from the last attempt's
        // count, and a shared database's commits (and the hash) have used some of it
        tokio::time::sleep(wait.clamp(Duration::from_secs(1), Duration::from_secs(2))).await;
        let seconds = wait.as_secs().max(1);
        // no name: what a stranger typed may be a candidate's ID number; the failed attempts
        // before this one name the account when it is one
        tracing::info!(target: "hub", address = %address, retry_after_s = seconds, "login throttled");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            login_html(&format!(
                "尝试次数过多，请 {seconds} 秒后再试 · Too many attempts; try again in {seconds} s"
            )),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    let looked_up = user.clone();
    let stored = blocking(&hub, move |h| Ok(h.db().password_hash(&looked_up)?)).await?;
    let checked = stored.clone();
    let correct = {
        // waited for without holding a thread; the hash runs on the blocking pool, off the lock
        let _slot = hub.login_guard.hashing_slot().await;
        let password = f.password;
        tokio::task::spawn_blocking(move || verify_password(checked.as_deref(), &password))
            .await
            .unwrap_or(false)
    };
    let opened = user.clone();
    let secret = blocking(&hub, move |h| {
        let db = h.db();
        // an account's name is the hub's own (staff); a name that is no account is whatever
        // a stranger typed, perhaps a candidate's ID number, and is neither logged nor kept
        let account = stored.is_some();
        match stored.filter(|_| correct) {
            Some(hash) => Ok(db.open_session(&opened, &hash, SESSION_MS)?),
            None => {
                let named = if account {
                    opened.as_str()
                } else {
                    NO_SUCH_ACCOUNT
                };
                db.login_failed(named)?;
                tracing::info!(target: "hub", user = ?named, address = %address, "login failed");
                Ok(None)
            }
        }
    })
    .await?;
    let Some(secret) = secret else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_html("用户名或密码错误 · Wrong user name or password"),
        )
            .into_response());
    };
    super::login_guard::succeeded(&hub, &keys).await;
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

/// Whether a browser's `Origin` (when it sends one) names this hub. Scripts and the kiosk
/// send none; a browser posting a form from another site always does.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
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
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(capture_core::hub_protocol::is_unsafe_char)
    {
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

async fn import_roster(
    State(hub): State<Arc<Hub>>,
    Extension(who): Extension<Reviewer>,
    Query(q): Query<BatchQuery>,
    // bytes, not a string: Excel on a Chinese Windows saves "CSV" as GBK, which the command
    // line's import already reads
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let batch = q.batch.as_str();
    if batch.is_empty()
        || batch.chars().count() > 64
        || batch
            .chars()
            .any(capture_core::hub_protocol::is_unsafe_char)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a batch name is 1–64 characters with no control characters",
        ));
    }
    let text = roster_text(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let mut rows = parse_roster_csv(&text)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let n = rows.len();
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
