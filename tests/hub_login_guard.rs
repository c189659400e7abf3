//! The login guard across replicas (issue 15): failed logins are counted in the database the
//! replicas share, so a stranger behind a round-robin load balancer gets no more guesses
//! from two replicas than from one, and a restarted replica still knows the count; a guard
//! that cannot count refuses rather than lets a guess through. Also what staff logins are told
//! on the review and admin routes.

use crate::common;

use capture_kiosk::hub::pg_cluster::{self, ThrowawayCluster};
use capture_kiosk::hub::{PgSettings, RecordStorage};
use common::hubs::{database_url, fresh_dir, runtime, Backend, TestHub};
use std::net::IpAddr;

const PASSWORD: &str = "correct horse battery";

/// A hub on the PostgreSQL database `url`, whatever this run's default backend.
fn replica_on(name: &str, url: &str) -> TestHub {
    let settings = PgSettings::new(url, None).unwrap();
    let key = common::hubs::replicas_key(url);
    TestHub::start_configured(fresh_dir("hubs", name), 0, move |c| {
        c.database = RecordStorage::Postgres(settings);
        c.sealing_key = capture_kiosk::hub::sealing::SealingKeySource::File(key);
    })
}

fn ip(c: u8, d: u8) -> IpAddr {
    IpAddr::from([127, 0, c, d])
}

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    cookie: Option<String>,
    /// The device cookie set, whole (value and attributes).
    device: Option<String>,
    body: String,
}

/// One login attempt to `hub` from `from`.
fn login(hub: &TestHub, from: IpAddr, user: &str, password: &str) -> Answer {
    login_from_browser(hub, from, user, password, None)
}

/// One login attempt from a browser that sends `device` (a device cookie's `name=value`).
fn login_from_browser(
    hub: &TestHub,
    from: IpAddr,
    user: &str,
    password: &str,
    device: Option<&str>,
) -> Answer {
    runtime().block_on(async {
        let mut request = reqwest::Client::builder()
            .local_address(from)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/login", hub.url))
            .form(&[("user", user), ("password", password)]);
        if let Some(device) = device {
            request = request.header("Cookie", device);
        }
        let r = request.send().await.unwrap();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after").and_then(|v| v.parse().ok());
        let cookie = header("set-cookie").and_then(|c| c.split(';').next().map(str::to_owned));
        let device = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("hub_device_"))
            .map(str::to_owned);
        let status = r.status().as_u16();
        Answer {
            status,
            retry_after,
            cookie,
            device,
            body: r.text().await.unwrap(),
        }
    })
}

/// A request with a session cookie: (status, Location, body).
fn call(hub: &TestHub, method: &str, path: &str, cookie: &str) -> (u16, String, String) {
    runtime().block_on(async {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(method.parse().unwrap(), format!("{}{path}", hub.url))
            .header("Cookie", cookie)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, r.text().await.unwrap())
    })
}

fn assert_throttled(a: &Answer, what: &str) {
    assert_eq!(a.status, 429, "{what}: {}", a.body);
    assert!(
        a.retry_after.is_some_and(|s| s >= 1),
        "{what}: Retry-After says how long"
    );
}

#[test]
fn five_wrong_passwords_spread_over_two_replicas_throttle_the_sixth_at_either() {
    let url = pg_cluster::shared()
        .unwrap()
        .create_database("guard_replicas")
        .unwrap();
    let a = replica_on("guard-replica-a", &url);
    let b = replica_on("guard-replica-b", &url);
    // the refusal's answer is slowed by the wait itself (1 s), so each "sixth attempt" is
    // tried on its own name or machine, once towards each replica
    for (user, sixth_to) in [("ana", &b), ("bo", &a)] {
        a.hub.db().add_reviewer(user, PASSWORD, false).unwrap();
        // one reviewer's name, guessed through a round-robin balancer from five machines:
        // each replica alone saw at most three guesses
        for n in 0..5u8 {
            let replica = if n % 2 == 0 { &a } else { &b };
            let answer = login(replica, ip(1, n + 1), user, &format!("guess{n}"));
            assert_eq!(answer.status, 401, "{user}, guess {n}: {}", answer.body);
        }
        // the sixth waits, even with the right password from a new machine, in any case
        let sixth = login(sixth_to, ip(1, 10), &user.to_uppercase(), PASSWORD);
        assert_throttled(&sixth, &format!("{user}'s sixth"));
    }

    // one machine trying five names over both replicas: its sixth waits, whatever the name
    for (machine, sixth_to) in [(ip(2, 1), &a), (ip(2, 2), &b)] {
        for n in 0..5u8 {
            let replica = if n % 2 == 0 { &b } else { &a };
            assert_eq!(
                login(replica, machine, &format!("user{n}"), "x").status,
                401
            );
        }
        let sixth = login(sixth_to, machine, "someone-else", "x");
        assert_throttled(&sixth, &format!("{machine}'s sixth"));
    }

    // the table holds digests only, never the names typed
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let keys: Vec<String> = c
        .query("SELECT digest FROM login_attempts", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!keys.is_empty());
    assert!(
        keys.iter()
            .all(|k| k.len() == 64 && !k.contains("ana") && !k.contains("user")),
        "{keys:?}"
    );
}

#[test]
fn thirty_two_guesses_sent_at_once_to_two_replicas_get_five_answers() {
    let url = pg_cluster::shared()
        .unwrap()
        .create_database("guard_burst")
        .unwrap();
    let a = replica_on("guard-burst-a", &url);
    let b = replica_on("guard-burst-b", &url);
    a.hub.db().add_reviewer("ana", PASSWORD, false).unwrap();
    // each from its own machine, so only the name's count can hold them
    let statuses = runtime().block_on(async {
        let mut sent = tokio::task::JoinSet::new();
        for n in 0..32u8 {
            let url = if n % 2 == 0 { &a.url } else { &b.url };
            let request = reqwest::Client::builder()
                .local_address(ip(7, n + 1))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(format!("{url}/login"))
                .form(&[("user", "ana"), ("password", &format!("guess{n}"))]);
            sent.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let mut statuses = Vec::new();
        while let Some(s) = sent.join_next().await {
            statuses.push(s.unwrap());
        }
        statuses
    });
    let answered = statuses.iter().filter(|s| **s == 401).count();
    let waiting = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (answered, waiting),
        (5, 27),
        "only the free attempts reach a password check: {statuses:?}"
    );
}

#[test]
fn the_count_survives_a_restart_of_the_hub() {
    let hub = TestHub::start("guard-restart");
    hub.hub.db().add_reviewer("ana", PASSWORD, false).unwrap();
    for n in 0..5u8 {
        assert_eq!(login(&hub, ip(3, n + 1), "ana", "wrong").status, 401);
    }
    let dir = hub.dir.clone();
    hub.stop();
    let hub = TestHub::start_in(dir, 0);
    assert_throttled(
        &login(&hub, ip(3, 10), "ana", PASSWORD),
        "after the restart",
    );
}

#[test]
fn a_guard_that_cannot_count_refuses_even_the_right_password() {
    let hub = TestHub::start("guard-uncounted");
    hub.hub.db().add_reviewer("ana", PASSWORD, false).unwrap();
    assert!(hub.reviewer_cookie("bo", false).starts_with("hub_session="));
    // the attempts table is gone behind the hub's back: a count it cannot make
    match Backend::current() {
        Backend::Sqlite => {
            rusqlite::Connection::open(hub.dir.join("hub.sqlite"))
                .unwrap()
                .execute_batch("DROP TABLE login_attempts")
                .unwrap();
        }
        Backend::Postgres => {
            let url = database_url(&hub.dir).unwrap();
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .batch_execute("DROP TABLE login_attempts")
                .unwrap();
        }
    }
    let answer = login(&hub, ip(4, 1), "ana", PASSWORD);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.cookie.is_none(), "no session");
    assert!(answer.retry_after.is_some());
    assert!(
        answer.body.contains("cannot check logins right now"),
        "{}",
        answer.body
    );
}

#[test]
fn with_the_database_down_a_login_is_refused_and_the_review_page_does_not_send_to_the_login() {
    // a cluster of its own: stopping the shared one would fail other tests' hubs
    let cluster = ThrowawayCluster::start().unwrap();
    let url = cluster.create_database("guard_outage").unwrap();
    let hub = replica_on("guard-outage", &url);
    let cookie = hub.reviewer_cookie("ana", false);
    assert_eq!(call(&hub, "GET", "/review", &cookie).0, 200);
    cluster.stop().unwrap();
    let answer = login(&hub, ip(5, 1), "ana", PASSWORD);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.cookie.is_none());
    // sent to the login page, a reviewer would log in, be sent back, and round again
    let (status, location, body) = call(&hub, "GET", "/review", &cookie);
    assert_eq!((status, location.as_str()), (500, ""), "{body}");
    assert!(body.contains("database failed"), "{body}");
    cluster.start_again().unwrap();
    assert_eq!(login(&hub, ip(5, 2), "ana", PASSWORD).status, 303);
}

#[test]
fn staff_are_sent_to_their_dashboard_and_told_what_their_account_is_for() {
    let hub = TestHub::start("guard-staff");
    hub.hub.db().add_staff("desk", PASSWORD).unwrap();
    let staff = login(&hub, ip(6, 1), "desk", PASSWORD);
    assert_eq!(staff.status, 303, "{}", staff.body);
    let staff = staff.cookie.unwrap();
    let (status, location, _) = call(&hub, "GET", "/review", &staff);
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    assert_eq!(call(&hub, "GET", "/dashboard", &staff).0, 200);
    for (method, path) in [
        ("POST", "/api/v1/kiosks"),
        ("PUT", "/api/v1/roster?batch=B1"),
    ] {
        let (status, _, body) = call(&hub, method, path, &staff);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("this account may only see the dashboard"),
            "{path}: {body}"
        );
    }
    // a reviewer who is not an administrator is told that instead
    let reviewer = hub.reviewer_cookie("rev", false);
    let (status, _, body) = call(&hub, "POST", "/api/v1/kiosks", &reviewer);
    assert_eq!(status, 403);
    assert!(body.contains("only a hub administrator"), "{body}");
}

#[test]
fn a_login_form_the_size_of_an_upload_is_refused_before_it_is_read() {
    // a stranger held 8 MiB of the hub's memory per connection this way
    let hub = TestHub::start("guard-big-form");
    let answer = login(&hub, ip(7, 1), "ana", &"a".repeat(100_000));
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(answer.cookie.is_none());
}

#[test]
fn a_stranger_guessing_at_a_reviewer_s_name_does_not_lock_the_reviewer_out_of_her_browser() {
    let hub = TestHub::start("guard-device");
    hub.hub.db().add_reviewer("ana", PASSWORD, false).unwrap();
    hub.hub.db().add_reviewer("bo", PASSWORD, false).unwrap();
    // ana logs in once from her browser: from now on it is known
    let first = login(&hub, ip(5, 1), "ana", PASSWORD);
    assert_eq!(first.status, 303, "{}", first.body);
    let set = first.device.expect("a device cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/login", "Max-Age="] {
        assert!(set.contains(attribute), "{set}");
    }
    let pair = |set: &str| set.split(';').next().unwrap_or_default().to_owned();
    let device = pair(&set);

    // a stranger who knows her name guesses from machine after machine, waiting as told
    // (1, 2, 4, 8, 16 s) between the last guesses: the name waits 32 s everywhere
    for n in 0..5u8 {
        assert_eq!(login(&hub, ip(6, n + 1), "ana", "guess").status, 401);
    }
    for (n, wait_ms) in [(6u8, 1100), (7, 2100), (8, 4100), (9, 8100), (10, 16100)] {
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        assert_eq!(login(&hub, ip(6, n), "ana", "guess").status, 401);
    }
    assert_throttled(&login(&hub, ip(6, 20), "ana", PASSWORD), "a new browser");
    // ... but not in her own browser, whose attempts count on their own
    let hers = login_from_browser(&hub, ip(5, 1), "ana", PASSWORD, Some(&device));
    assert_eq!(hers.status, 303, "her browser: {}", hers.body);
    let device = pair(&hers.device.expect("a fresh device cookie"));
    // her login gave the stranger no fresh attempts at the name
    assert_throttled(
        &login(&hub, ip(6, 21), "ana", PASSWORD),
        "the name after hers",
    );

    // bo logs in on the same office PC: it keeps a cookie for each of them
    let bos = login_from_browser(&hub, ip(5, 1), "bo", PASSWORD, Some(&device));
    assert_eq!(bos.status, 303, "{}", bos.body);
    let bos = pair(&bos.device.expect("bo's device cookie"));
    assert_ne!(
        bos.split('=').next(),
        device.split('=').next(),
        "a name each"
    );
    // bo's cookie is no device for ana, nor is hers for another spelling, nor an altered one
    assert_throttled(
        &login_from_browser(&hub, ip(5, 1), "ana", PASSWORD, Some(&bos)),
        "bo's cookie for ana",
    );
    assert_throttled(
        &login_from_browser(&hub, ip(5, 1), "ANA", PASSWORD, Some(&device)),
        "her cookie for ANA",
    );
    let last = device.chars().last().unwrap_or('0');
    let altered = format!(
        "{}{}",
        &device[..device.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_throttled(
        &login_from_browser(&hub, ip(5, 1), "ana", PASSWORD, Some(&altered)),
        "an altered cookie",
    );
    // both cookies, as the shared PC sends them: hers counts for her
    let both = format!("{bos}; {device}");
    let a = login_from_browser(&hub, ip(5, 1), "ana", PASSWORD, Some(&both));
    assert_eq!(a.status, 303, "the shared PC: {}", a.body);
    let device = pair(&a.device.expect("a fresh device cookie"));

    // the browser's own wrong passwords throttle the browser, and it is told so
    for n in 0..5 {
        let a = login_from_browser(&hub, ip(5, 1), "ana", "typo", Some(&device));
        assert_eq!(a.status, 401, "typo {n}: {}", a.body);
    }
    let own = login_from_browser(&hub, ip(5, 1), "ana", PASSWORD, Some(&device));
    assert_throttled(&own, "her browser after five typos");
    assert!(own.body.contains("from this browser"), "{}", own.body);

    // a new password (a reviewer leaving, a password suspected): her browsers are no longer
    // known, and her name is still throttled
    hub.hub
        .db()
        .add_reviewer("ana", "a new password", false)
        .unwrap();
    let cookies = format!("{bos}; {device}");
    let fresh = login_from_browser(&hub, ip(5, 2), "ana", "a new password", Some(&cookies));
    assert_throttled(&fresh, "her cookies after a new password");
    assert!(!fresh.body.contains("from this browser"), "{}", fresh.body);
}

#[test]
fn a_wrong_password_at_an_account_is_recorded_after_the_answer() {
    let hub = TestHub::start("guard-event");
    hub.hub.db().add_reviewer("ana", PASSWORD, false).unwrap();
    assert_eq!(login(&hub, ip(7, 1), "ana", "wrong").status, 401);
    let sql = "SELECT COUNT(*) FROM events WHERE action = 'login_failed' AND actor = 'ana'";
    let recorded = || -> i64 {
        match Backend::current() {
            Backend::Sqlite => rusqlite::Connection::open(hub.dir.join("hub.sqlite"))
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Backend::Postgres => {
                let url = database_url(&hub.dir).unwrap();
                postgres::Client::connect(&url, postgres::NoTls)
                    .unwrap()
                    .query_one(sql, &[])
                    .unwrap()
                    .get(0)
            }
        }
    };
    // written after the answer (so that it takes as long as at a name that is no account):
    // it arrives within moments
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while recorded() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(recorded(), 1, "the audit trail holds the account's failure");
}
