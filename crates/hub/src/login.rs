//! The login form: a reviewer's or staff member's name and password (argon2), behind the
//! login guard (`login_guard.rs`), answered with a session cookie and, for the browser, a
//! device cookie (`device_cookie.rs`) that keeps a stranger's guesses at the name from
//! locking its owner out of this browser.

use super::db::verify_password;
use super::device_cookie;
use super::login_guard::Refused;
use super::web::{cookie_values, page, COOKIE};
use super::{blocking, ApiError, Hub, PeerAddr};
use axum::extract::{Extension, Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const SESSION_MS: i64 = 12 * 3600 * 1000;
/// The largest login form read: a user name and a password fit many times over.
pub(super) const LOGIN_FORM_MAX: usize = 16 * 1024;
const LOGIN_PAGE: &str = include_str!("login.html");

fn login_html(error: &str) -> Response {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // the error text goes in the body, never in the style or script the policy hashes
    page(LOGIN_PAGE.replace("{{error}}", error), &POLICY, LOGIN_PAGE)
}

pub(super) async fn login_page() -> Response {
    login_html("")
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    user: String,
    password: String,
}

pub(super) async fn login(
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
    // a browser that has logged in as this name before, under its password as it is now,
    // counts its attempts on its own; only a cookie whose MAC holds costs the hash's read
    let now_s = u64::try_from(capture_store::now_ms() / 1000).unwrap_or_default();
    let claim = hub.login_guard.claimed_device(
        cookie_values(&headers, |name| {
            name.starts_with(device_cookie::NAME_PREFIX)
        }),
        &user,
        now_s,
    );
    let read_early = match claim {
        Some(_) => Some(password_hash(&hub, &user).await?),
        None => None,
    };
    let keys = hub.login_guard.keys_from_browser(
        &user,
        address,
        claim.as_ref(),
        read_early.as_ref().and_then(Option::as_deref),
    );
    // counted on the blocking pool: a client that hangs up here is counted all the same
    match super::login_guard::admit(&hub, &keys).await {
        Ok(()) => {}
        Err(Refused::Wait(wait)) => {
            return Ok(throttled(&hub, wait, keys.device.is_some(), address).await)
        }
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
    }
    let stored = match read_early {
        Some(stored) => stored,
        None => password_hash(&hub, &user).await?,
    };
    // The wait for a hash slot is the queue, and a guesser that hangs up while in it leaves it:
    // its place costs nothing more. Once it holds a slot, the password's check and what
    // follows (the session, or the account's failure kept as an event) run as a task of their
    // own that the slot bounds, so a client that hangs up mid-hash cannot leave a checked
    // password unrecorded (dropping this handler no longer drops the record).
    let slot = hub.login_guard.hashing_slot(&keys).await;
    let check = Check {
        user: user.clone(),
        password: f.password,
        stored,
        keys,
        address,
        _slot: slot,
    };
    let decided = tokio::spawn(decide(hub.clone(), check))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the login could not be checked; try again",
            )
        })??;
    match decided {
        Some(decided) => Ok(signed_in(&hub, &user, now_s, decided)),
        None => Ok((
            StatusCode::UNAUTHORIZED,
            login_html("用户名或密码错误 · Wrong user name or password"),
        )
            .into_response()),
    }
}

/// The answer to an attempt the guard holds up: slowed, with when to try again.
async fn throttled(hub: &Hub, wait: Duration, known_browser: bool, address: IpAddr) -> Response {
    // the answer itself is slowed (1 to 2 s, a sleeping task, no thread): a guesser that
    // waits for answers makes a few attempts a second, not tens of thousands. At least
    // 1 s even when less of the wait is left: the wait runs from the last attempt's
    // count, and a shared database's commits (and the hash) have used some of it
    tokio::time::sleep(wait.clamp(Duration::from_secs(1), Duration::from_secs(2))).await;
    let seconds = wait.as_secs().max(1);
    // no name: what a stranger typed may be a candidate's ID number; the failed attempts
    // before this one name the account when it is one. One line a minute per address
    // (`log_limit.rs`): a stranger's refused attempts must not fill the disk with the log
    if let Some(held_back) = hub
        .throttled_logins
        .allow(address, std::time::Instant::now())
    {
        tracing::info!(
            target: "hub",
            address = %address,
            known_browser,
            retry_after_s = seconds,
            earlier_not_logged = held_back,
            "login throttled"
        );
    }
    // a stranger's guesses hold up the name, not a browser its owner has used before;
    // a known browser held up is held up by its own mistakes
    let message = if known_browser {
        format!(
            "此浏览器尝试次数过多，请 {seconds} 秒后再试 · Too many attempts from this \
             browser; try again in {seconds} s"
        )
    } else {
        format!(
            "尝试次数过多，请 {seconds} 秒后再试；在您以前登录过的浏览器上可以照常登录 · Too \
             many attempts; try again in {seconds} s. A browser you have logged in from \
             before is not held up"
        )
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, login_html(&message)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The answer to a correct password: the session cookie, and the device cookie that makes
/// this browser a known one from now on.
fn signed_in(hub: &Hub, user: &str, now_s: u64, decided: Decided) -> Response {
    let Decided {
        secret,
        issued_under,
    } = decided;
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
    // this browser is known from now on (a fresh id at every login: its count starts empty)
    let device = hub
        .login_guard
        .device_set_cookie(user, &issued_under, now_s, hub.config().secure_cookies)
        .and_then(|c| HeaderValue::from_str(&c).ok());
    if let Some(v) = device {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A login attempt past the guard with its hash slot, owned, for the task that checks it.
struct Check {
    user: String,
    password: String,
    /// The account's password hash (None: no such account; the decoy is checked instead).
    stored: Option<String>,
    keys: super::login_guard::LoginKeys,
    address: IpAddr,
    /// Held until the check and its record are done.
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A correct password: the new session's secret, and the hash it was issued under (the
/// device cookie is bound to it, so a password reset ends the browser's standing).
struct Decided {
    secret: String,
    issued_under: String,
}

/// Checks the password (argon2 on the blocking pool) and opens a session, or records the
/// failure: None is a wrong name or password.
async fn decide(hub: Arc<Hub>, c: Check) -> Result<Option<Decided>, ApiError> {
    let Check {
        user,
        password,
        stored,
        keys,
        address,
        _slot,
    } = c;
    let checked = stored.clone();
    let correct =
        tokio::task::spawn_blocking(move || verify_password(checked.as_deref(), &password))
            .await
            .unwrap_or(false);
    let opened = user.clone();
    // a name that is no account is whatever a stranger typed, perhaps a candidate's ID
    // number: neither logged nor kept; an account's failure is kept as an event, not logged
    let account = stored.is_some();
    let issued_under = stored.clone();
    let secret = blocking(&hub, move |h| {
        let db = h.db();
        match stored.filter(|_| correct) {
            Some(hash) => Ok(db.open_session(&opened, &hash, SESSION_MS)?),
            None => {
                // no name either way: which reviewer was guessed at is in the events table
                // (an admin's to read), not in a log that anyone running the hub can read
                tracing::info!(target: "hub", account, address = %address, "login failed");
                Ok(None)
            }
        }
    })
    .await?;
    match (secret, issued_under) {
        (Some(secret), Some(issued_under)) => {
            super::login_guard::succeeded(&hub, &keys).await;
            Ok(Some(Decided {
                secret,
                issued_under,
            }))
        }
        _ => {
            if account {
                record_failure(&hub, user);
            }
            Ok(None)
        }
    }
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

/// Records a wrong password at an account as an event, after the answer: the answer to a
/// wrong password takes as long at an account as at a name that is no account (which gets no
/// row: a stranger cycling names would add one per guess, without end), so its timing does not
/// tell which names are accounts.
fn record_failure(hub: &Arc<Hub>, user: String) {
    let hub = hub.clone();
    tokio::spawn(async move {
        if let Err(e) = blocking(&hub, move |h| Ok(h.db().login_failed(&user)?)).await {
            tracing::warn!(target: "hub", error = %e.message, "cannot record a failed login");
        }
    });
}

/// The account's password hash (None: no such account), off the async threads.
async fn password_hash(hub: &Arc<Hub>, user: &str) -> Result<Option<String>, ApiError> {
    let looked_up = user.to_owned();
    blocking(hub, move |h| Ok(h.db().password_hash(&looked_up)?)).await
}
