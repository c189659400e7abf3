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
    // The judgement (the guard's count, the hash, the session or the failure's event) runs
    // as a task of its own: a guesser that hangs up without waiting for the answer drops this
    // handler, not the judgement, so its attempt is counted and an account's failure is kept
    // however the connection ends. Only the throttled answer's delay stays here, where a
    // client that has gone ends it.
    let Some(place) = hub.login_guard.judging_place(claim.is_some()) else {
        return Ok(busy());
    };
    let hub_for_task = hub.clone();
    let attempt = Attempt {
        user: user.clone(),
        password: f.password,
        claim,
        address,
    };
    let judged = tokio::spawn(async move {
        let _place = place;
        judge(hub_for_task, attempt).await
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the login could not be checked; try again",
        )
    })??;
    match judged {
        Judged::Throttled {
            wait,
            known_browser,
        } => Ok(throttled(wait, known_browser, address).await),
        Judged::Uncounted => {
            // no count, no limit: refused rather than let through unchecked
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                login_html("登录暂时无法检查，请稍后再试 · The hub cannot check logins right now (its database failed); try again in a minute"),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(30));
            Ok(response)
        }
        Judged::Wrong => Ok((
            StatusCode::UNAUTHORIZED,
            login_html("用户名或密码错误 · Wrong user name or password"),
        )
            .into_response()),
        Judged::Correct(decided) => Ok(signed_in(&hub, &user, now_s, decided)),
    }
}

/// The answer when every place for judging a stranger's attempt is taken (a crowd of guesses,
/// perhaps hung up): at once, without counting or hashing anything.
fn busy() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        login_html(
            "登录检查繁忙，请稍后再试 · The hub is busy checking logins; try again in a moment",
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

/// The answer to an attempt the guard holds up: slowed, with when to try again.
async fn throttled(wait: Duration, known_browser: bool, address: IpAddr) -> Response {
    // the answer itself is slowed (1 to 2 s, a sleeping task, no thread): a guesser that
    // waits for answers makes a few attempts a second, not tens of thousands. At least
    // 1 s even when less of the wait is left: the wait runs from the last attempt's
    // count, and a shared database's commits (and the hash) have used some of it
    tokio::time::sleep(wait.clamp(Duration::from_secs(1), Duration::from_secs(2))).await;
    let seconds = wait.as_secs().max(1);
    // no name: what a stranger typed may be a candidate's ID number; the failed attempts
    // before this one name the account when it is one
    tracing::info!(
        target: "hub",
        address = %address,
        known_browser,
        retry_after_s = seconds,
        "login throttled"
    );
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

/// One login attempt past the guard, owned, for the task that decides it.
struct Attempt {
    user: String,
    password: String,
    /// The browser's device cookie, where its MAC holds for this name.
    claim: Option<device_cookie::DeviceClaim>,
    address: IpAddr,
}

/// What the guard and the password say of an attempt.
enum Judged {
    /// Too many attempts: the answer waits (at most 2 s), then says when to try again.
    Throttled {
        wait: Duration,
        known_browser: bool,
    },
    /// The guard's count cannot be read or written: refused, not let through unchecked.
    Uncounted,
    /// A wrong name or password.
    Wrong,
    Correct(Decided),
}

/// A correct password: the new session's secret, and the hash it was issued under (the
/// device cookie is bound to it, so a password reset ends the browser's standing).
struct Decided {
    secret: String,
    issued_under: String,
}

/// Counts the attempt, then checks the password and opens a session, or records the failure.
async fn judge(hub: Arc<Hub>, a: Attempt) -> Result<Judged, ApiError> {
    // only a cookie whose MAC holds costs the hash's read before the guard
    let read_early = match a.claim {
        Some(_) => Some(password_hash(&hub, &a.user).await?),
        None => None,
    };
    let keys = hub.login_guard.keys_from_browser(
        &a.user,
        a.address,
        a.claim.as_ref(),
        read_early.as_ref().and_then(Option::as_deref),
    );
    match super::login_guard::admit(&hub, &keys).await {
        Ok(()) => {}
        Err(Refused::Wait(wait)) => {
            let known_browser = keys.device.is_some();
            return Ok(Judged::Throttled {
                wait,
                known_browser,
            });
        }
        Err(Refused::Uncounted) => return Ok(Judged::Uncounted),
    }
    let stored = match read_early {
        Some(stored) => stored,
        None => password_hash(&hub, &a.user).await?,
    };
    let checked = stored.clone();
    let correct = {
        // waited for without holding a thread; the hash runs on the blocking pool, off the lock
        let _slot = hub.login_guard.hashing_slot(&keys).await;
        let password = a.password;
        tokio::task::spawn_blocking(move || verify_password(checked.as_deref(), &password))
            .await
            .unwrap_or(false)
    };
    let opened = a.user.clone();
    // a name that is no account is whatever a stranger typed, perhaps a candidate's ID
    // number: neither logged nor kept; an account's failure is kept as an event, not logged
    let account = stored.is_some();
    let address = a.address;
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
            Ok(Judged::Correct(Decided {
                secret,
                issued_under,
            }))
        }
        _ => {
            if account {
                record_failure(&hub, a.user);
            }
            Ok(Judged::Wrong)
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
