//! The collection-day dashboard's figures (`/api/v1/stats`) on a real hub on loopback, fed by
//! real kiosk stores and uploaders: records collected per kiosk, each kiosk's backlog as its
//! uploader reports it, silent kiosks, decisions and their reasons. And who may see them: a
//! staff login sees the dashboard and nothing else, a reviewer sees both, nobody else either.

use crate::common;

use capture_kiosk::store::{now_ms, Store};
use capture_kiosk::upload::{spawn_uploader, stored_link, UploadPolicy};
use common::hubs::{drain, kiosk_store, linked_worker, runtime, submit, test_jpeg, TestHub};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// Logs `user` in over HTTP (the account exists) and returns the cookie to send.
fn login(hub: &TestHub, user: &str) -> String {
    runtime().block_on(async {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/login", hub.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("user={user}&password=correct+horse+battery"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{user} logs in");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    })
}

/// A request with `cookie` (or none); returns the status, the Location header and the body.
fn call(hub: &TestHub, method: &str, path: &str, cookie: Option<&str>) -> (u16, String, String) {
    runtime().block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = format!("{}{path}", hub.url);
        let mut req = match method {
            "GET" => client.get(url),
            _ => client
                .post(url)
                .json(&json!({"approve": true, "reasons": [], "note": ""})),
        };
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        let r = req.send().await.unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    })
}

fn stats(hub: &TestHub, cookie: &str) -> Value {
    let (status, _, body) = call(hub, "GET", "/api/v1/stats", Some(cookie));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn decide(hub: &TestHub, cookie: &str, id: &str, decision: Value) {
    let status = runtime().block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/review/records/{id}/decision", hub.url))
            .header("Cookie", cookie)
            .json(&decision)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
}

fn kiosk<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["kiosks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("kiosk {name} in {s}"))
}

#[test]
fn the_figures_follow_the_kiosks_uploads_backlogs_and_the_reviews() {
    let hub = TestHub::start("dashboard-figures");
    let reviewer = hub.reviewer_cookie("rev-figures", false);
    hub.hub.db().add_staff("staff-figures", PASSWORD).unwrap();
    let staff = login(&hub, "staff-figures");

    // kiosk A sends three records; kiosk B has two waiting and only says so (its uploads are
    // failing, say); kiosk C was registered and never heard from
    let a = hub.kiosk_token("hall-a");
    let (db_a, mut store_a) = kiosk_store("dashboard-a", &hub.url, &a);
    let ids: Vec<String> = (0..3)
        .map(|n| submit(&mut store_a, &format!("20260010{n}"), &test_jpeg(n)))
        .collect();
    drop(store_a);
    assert_eq!(drain(&db_a, 30).sent, 3);
    let b = hub.kiosk_token("hall-b");
    let (_db_b, mut store_b) = kiosk_store("dashboard-b", &hub.url, &b);
    for n in 0..2 {
        submit(&mut store_b, &format!("20260020{n}"), &test_jpeg(10 + n));
    }
    std::thread::sleep(Duration::from_millis(1100));
    runtime().block_on(linked_worker(store_b).heartbeat());
    hub.kiosk_token("hall-c");

    decide(&hub, &reviewer, &ids[0], json!({"approve": true}));
    decide(
        &hub,
        &reviewer,
        &ids[1],
        json!({"approve": false, "reasons": ["glasses"], "note": ""}),
    );
    decide(
        &hub,
        &reviewer,
        &ids[2],
        json!({"approve": false, "reasons": ["glasses", "blur"], "note": ""}),
    );

    let (status, _, body) = call(&hub, "GET", "/api/v1/stats", Some(&staff));
    assert_eq!(status, 200);
    println!("{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    let (ka, kb, kc) = (
        kiosk(&s, "hall-a"),
        kiosk(&s, "hall-b"),
        kiosk(&s, "hall-c"),
    );
    assert_eq!(ka["collected"], 3);
    assert_eq!(
        (ka["approved"].as_i64(), ka["rejected"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(ka["silent"], false);
    assert_eq!(
        ka["outbox"]["pending"], 0,
        "the drain's last word: nothing waiting"
    );
    assert_eq!(kb["collected"], 0, "B's records are not at the hub");
    assert_eq!(kb["silent"], false);
    assert_eq!(kb["outbox"]["pending"], 2);
    let oldest = kb["outbox"]["oldest_pending_age_s"].as_i64().unwrap();
    assert!(
        (1..60).contains(&oldest),
        "B's oldest record is {oldest} s old"
    );
    assert_eq!(kc["silent"], true);
    assert!(kc["last_seen_at_ms"].is_null() && kc["outbox"].is_null());
    let hourly: i64 = s["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["collected"].as_i64().unwrap())
        .sum();
    assert_eq!(hourly, 3);
    assert_eq!(
        s["decisions"],
        json!({"approved": 1, "rejected": 2, "pending_review": 0})
    );
    assert_eq!(s["top_rejection_reasons"][0]["code"], "glasses");
    assert_eq!(s["top_rejection_reasons"][0]["count"], 2);
    assert_eq!(s["top_rejection_reasons"][1]["code"], "blur");
    assert_eq!(s["top_rejection_reasons"][1]["count"], 1);
    // counts and kiosks only: no candidate number, record id or reviewer reaches the figures
    for secret in ["20260010", "20260020", "rev-figures", ids[0].as_str()] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }

    // however often it is asked, the hub computes the figures at most once per 2 s
    let first = s["generated_at_ms"].as_i64().unwrap();
    let (db_late, mut late) = kiosk_store("dashboard-late", &hub.url, &a);
    submit(&mut late, "202600300", &test_jpeg(30));
    drop(late);
    assert_eq!(drain(&db_late, 30).sent, 1);
    let again = stats(&hub, &reviewer);
    assert_eq!(
        again["generated_at_ms"].as_i64(),
        Some(first),
        "served again"
    );
    assert_eq!(kiosk(&again, "hall-a")["collected"], 3);
    std::thread::sleep(Duration::from_millis(2100));
    let fresh = stats(&hub, &reviewer);
    assert!(fresh["generated_at_ms"].as_i64().unwrap() > first);
    assert_eq!(kiosk(&fresh, "hall-a")["collected"], 4);
    assert_eq!(fresh["decisions"]["pending_review"], 1);
}

#[test]
fn a_kiosk_that_sends_no_figures_or_bad_ones_is_still_heard_and_served() {
    let hub = TestHub::start("dashboard-old-kiosk");
    let old = hub.kiosk_token("old-kiosk");
    let odd = hub.kiosk_token("odd-kiosk");
    let whoami = |token: &str, header: Option<&str>| {
        runtime().block_on(async {
            let mut req = reqwest::Client::new()
                .get(format!("{}/api/v1/kiosk", hub.url))
                .bearer_auth(token);
            if let Some(h) = header {
                req = req.header("X-Kiosk-Outbox", h);
            }
            req.send().await.unwrap().status().as_u16()
        })
    };
    assert_eq!(whoami(&old, None), 200);
    assert_eq!(
        whoami(&odd, Some("pending=lots")),
        200,
        "a bad header fails nothing"
    );
    // a stranger's header is never read: no token, no contact noted
    assert_eq!(whoami("ck_nonsense", Some("pending=1")), 401);
    let s = hub.hub.db().day_stats(now_ms()).unwrap();
    for k in &s.kiosks {
        assert!(!k.silent && k.last_seen_at_ms.is_some(), "{k:?}");
        assert_eq!(k.outbox, None, "{k:?}");
    }
}

#[test]
fn a_running_uploader_reports_its_emptied_outbox_without_waiting_for_housekeeping() {
    let hub = TestHub::start("dashboard-uploader");
    let token = hub.kiosk_token("hall-u");
    let (db, mut store) = kiosk_store("dashboard-uploader", &hub.url, &token);
    for n in 0..3 {
        submit(&mut store, &format!("20260040{n}"), &test_jpeg(40 + n));
    }
    let link = stored_link(&Store::open(&db).unwrap()).unwrap().unwrap();
    let policy = UploadPolicy {
        // only the first housekeeping runs in this test: the report of an empty outbox must
        // come from the heartbeat after the last record went
        housekeeping_every: Duration::from_secs(3600),
        ..UploadPolicy::default()
    };
    let uploader = spawn_uploader(db.clone(), link, policy).unwrap();
    let started = Instant::now();
    loop {
        let s = hub.hub.db().day_stats(now_ms()).unwrap();
        let k = &s.kiosks[0];
        if k.collected == 3 && k.outbox.as_ref().is_some_and(|o| o.pending == 0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the hub never heard the emptied outbox: {k:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    uploader.stop();
    assert_eq!(store.queue_status().unwrap().pending, 0);
}

#[test]
fn staff_see_the_dashboard_and_nothing_else_and_reviewers_see_both() {
    let hub = TestHub::start("dashboard-roles");
    let token = hub.kiosk_token("hall-r");
    let (db, mut store) = kiosk_store("dashboard-roles", &hub.url, &token);
    let id = submit(&mut store, "202600500", &test_jpeg(50));
    drop(store);
    assert_eq!(drain(&db, 30).sent, 1);
    let reviewer = hub.reviewer_cookie("rev-roles", false);
    // staff are never administrators, even when asked
    hub.hub
        .db()
        .add_account(
            "staff-roles",
            PASSWORD,
            capture_kiosk::hub::db::Role::Staff,
            true,
        )
        .unwrap();
    let staff = login(&hub, "staff-roles");

    // nobody logged in: the page sends to the login, the figures are refused; a kiosk's
    // token is not a login
    let (status, location, _) = call(&hub, "GET", "/dashboard", None);
    assert_eq!((status, location.as_str()), (303, "/login"));
    assert_eq!(call(&hub, "GET", "/api/v1/stats", None).0, 401);
    let with_token = runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/stats", hub.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(with_token, 401);

    // staff: the dashboard and its figures
    let (status, _, page) = call(&hub, "GET", "/dashboard", Some(&staff));
    assert_eq!(status, 200);
    assert!(page.contains("/api/v1/stats"));
    // drawn by its own inline script, nothing fetched from anywhere but the hub
    assert!(
        !page.contains("https://") && !page.contains("<script src"),
        "an outside resource"
    );
    let policy = runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{}/dashboard", hub.url))
            .header("Cookie", &staff)
            .send()
            .await
            .unwrap()
            .headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    });
    for rule in [
        "default-src 'none'",
        "connect-src 'self'",
        "script-src 'sha256-",
    ] {
        assert!(policy.contains(rule), "{rule} not in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(call(&hub, "GET", "/api/v1/stats", Some(&staff)).0, 200);
    // and nothing of the review: the page sends them to their dashboard, the API refuses
    let (status, location, _) = call(&hub, "GET", "/review", Some(&staff));
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    let (status, location, _) = call(&hub, "GET", "/", Some(&staff));
    assert_eq!(status, 303, "{location}");
    for path in [
        "/api/v1/review/queue".to_owned(),
        format!("/api/v1/review/records/{id}/photo"),
        format!("/api/v1/review/records/{id}/report"),
        format!("/api/v1/review/records/{id}/documents/0"),
    ] {
        let (status, _, body) = call(&hub, "GET", &path, Some(&staff));
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("dashboard only"), "{body}");
    }
    let decision = format!("/api/v1/review/records/{id}/decision");
    assert_eq!(call(&hub, "POST", &decision, Some(&staff)).0, 403);
    assert_eq!(call(&hub, "POST", "/api/v1/kiosks", Some(&staff)).0, 403);
    assert_eq!(
        hub.hub
            .db()
            .record(&id)
            .unwrap()
            .unwrap()
            .status
            .state
            .as_str(),
        "pending_review",
        "the staff login's decision changed nothing"
    );

    // a reviewer: the review as before, and the dashboard too (counts of what they see anyway)
    let (status, _, page) = call(&hub, "GET", "/review", Some(&reviewer));
    assert_eq!(status, 200);
    // "same person" on the page where the kiosk decided so, not at a number of its own
    let distance = format!(
        "const SAME_PERSON_DISTANCE = {};",
        capture_kiosk::engine::SAME_PERSON_DISTANCE
    );
    assert!(page.contains(&distance), "{page}");
    assert!(!page.contains("{{"), "a placeholder left unfilled");
    assert_eq!(
        call(&hub, "GET", "/api/v1/review/queue", Some(&reviewer)).0,
        200
    );
    assert_eq!(
        call(
            &hub,
            "GET",
            &format!("/api/v1/review/records/{id}/photo"),
            Some(&reviewer)
        )
        .0,
        200
    );
    assert_eq!(call(&hub, "GET", "/dashboard", Some(&reviewer)).0, 200);
    assert_eq!(call(&hub, "GET", "/api/v1/stats", Some(&reviewer)).0, 200);

    // a reviewer made staff loses the review at once: every session of theirs ends
    hub.hub.db().add_staff("rev-roles", PASSWORD).unwrap();
    assert_eq!(
        call(&hub, "GET", "/api/v1/review/queue", Some(&reviewer)).0,
        401
    );
    let demoted = login(&hub, "rev-roles");
    assert_eq!(
        call(&hub, "GET", "/api/v1/review/queue", Some(&demoted)).0,
        403
    );
    assert_eq!(call(&hub, "GET", "/api/v1/stats", Some(&demoted)).0, 200);
}

#[test]
fn a_staff_login_made_on_the_command_line_lands_on_the_dashboard() {
    let data = common::hubs::fresh_dir("hubs", "dashboard-cli");
    let out = common::run_kiosk_with_input(
        &[
            "hub".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "add-staff".as_ref(),
            "--user".as_ref(),
            "staff-cli".as_ref(),
        ],
        b"correct horse battery\n",
    );
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("staff login staff-cli set"), "{said}");

    let hub = TestHub::start_in(data, 0);
    let staff = login(&hub, "staff-cli");
    let (status, location, _) = call(&hub, "GET", "/review", Some(&staff));
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    assert_eq!(call(&hub, "GET", "/api/v1/stats", Some(&staff)).0, 200);
    assert_eq!(
        call(&hub, "GET", "/api/v1/review/queue", Some(&staff)).0,
        403
    );
}
