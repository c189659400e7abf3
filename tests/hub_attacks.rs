//! The hub under a stranger's cheap attacks, for real on loopback: password guessing, photos
//! that declare huge sizes, requests without credentials, cross-site logins, pages that could
//! run a stranger's script (connections held open: `hub_connections.rs`). Attackers come from other loopback addresses
//! (127.0.0.2 and up), as they would from other machines.

use crate::common;

use common::hubs::{client_from, fresh_dir, loopback, runtime, test_jpeg, TestHub};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One login attempt from `from`: (status, Retry-After, seconds it took).
fn login(hub: &TestHub, from: IpAddr, user: &str, password: &str) -> (u16, Option<u64>, f64) {
    runtime().block_on(async {
        let started = Instant::now();
        let r = client_from(from)
            .post(format!("{}/login", hub.url))
            .form(&[("user", user), ("password", password)])
            .send()
            .await
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        (r.status().as_u16(), retry, started.elapsed().as_secs_f64())
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn password_guessing_is_slowed_per_address_and_per_user_and_names_do_not_leak_by_timing() {
    let hub = TestHub::start("guessing");
    hub.hub
        .db()
        .add_reviewer("ana", "correct horse battery", false)
        .unwrap();

    // five wrong guesses from one machine are answered; the sixth must wait, and its answer
    // itself is slowed
    let attacker = loopback(0, 0, 2);
    for n in 0..5 {
        let (status, _, _) = login(&hub, attacker, "ana", &format!("guess{n}"));
        assert_eq!(status, 401, "guess {n} is answered as wrong");
    }
    let (status, retry, took) = login(&hub, attacker, "ana", "correct horse battery");
    assert_eq!(
        status, 429,
        "the sixth attempt waits, even with the right password"
    );
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After says how long");
    assert!(took >= 0.9, "the refusal itself is slowed ({took:.3} s)");

    // each answer waits out the wait, so each rule is tried on fresh names and addresses:
    // the user is throttled from any machine…
    for n in 0..5 {
        assert_eq!(
            login(&hub, loopback(0, 0, 3), "cy", &format!("g{n}")).0,
            401
        );
    }
    assert_eq!(login(&hub, loopback(0, 0, 4), "cy", "x").0, 429);
    // …and the machine for any user
    for n in 0..5 {
        assert_eq!(
            login(&hub, loopback(0, 0, 5), &format!("user{n}"), "x").0,
            401
        );
    }
    assert_eq!(login(&hub, loopback(0, 0, 5), "someone-else", "x").0, 429);

    // an unknown name takes as long as a wrong password for a known one
    hub.hub
        .db()
        .add_reviewer("bo", "correct horse battery", false)
        .unwrap();
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for n in 0..4u8 {
        let (s1, _, t1) = login(&hub, loopback(0, 1, n + 1), &format!("nobody{n}"), "x");
        let (s2, _, t2) = login(&hub, loopback(0, 2, n + 1), "bo", "x");
        assert_eq!((s1, s2), (401, 401));
        unknown.push(t1);
        wrong.push(t2);
    }
    let ratio = median(unknown.clone()) / median(wrong.clone());
    println!("unknown user {unknown:.4?} s, wrong password {wrong:.4?} s, ratio {ratio:.2}");
    assert!(
        (0.5..2.0).contains(&ratio),
        "an unknown user is answered in {ratio:.2}× the time of a wrong password"
    );
    // the right password from a fresh machine still works (the lockout is not permanent
    // for the user's own address: bo had only four misses)
    assert_eq!(
        login(&hub, loopback(0, 3, 1), "bo", "correct horse battery").0,
        303
    );
}

#[test]
fn a_login_posted_from_another_site_is_refused() {
    let hub = TestHub::start("origin");
    hub.hub
        .db()
        .add_reviewer("ana", "correct horse battery", false)
        .unwrap();
    let post = |origin: &str| {
        runtime().block_on(async {
            client_from(loopback(0, 0, 1))
                .post(format!("{}/login", hub.url))
                .header("Origin", origin)
                .form(&[("user", "ana"), ("password", "correct horse battery")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(post("https://evil.example"), 403);
    assert_eq!(post(&format!("http://{}", hub.addr)), 303);
}

/// A submission as raw multipart; returns (status, body).
fn submit_raw(
    hub: &TestHub,
    token: &str,
    meta: serde_json::Value,
    photo: Vec<u8>,
    documents: Vec<Vec<u8>>,
) -> (u16, String) {
    runtime().block_on(async {
        let mut form = reqwest::multipart::Form::new()
            .text("metadata", meta.to_string())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(photo)
                    .mime_str("image/jpeg")
                    .unwrap(),
            )
            .text(
                "report",
                r#"{"ok":true,"checks":[{"id":"blur","ok":true}]}"#,
            );
        for d in documents {
            form = form.part(
                "document",
                reqwest::multipart::Part::bytes(d)
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        }
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/records", hub.url))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    })
}

fn meta(key: &str) -> serde_json::Value {
    serde_json::json!({
        "key": key, "profile": "chsi-graduation", "batch_id": "b1", "candidate_key": "Z3K8F7",
        "spec": "chsi", "captured_at_ms": 1_700_000_000_000i64,
    })
}

/// `jpeg` with the frame size in its SOF0 header changed to `w`×`h` (the pixels stay small).
fn declaring(mut jpeg: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let sof = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline JPEG");
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

fn tiny_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 200]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

#[test]
fn photos_outside_their_pixel_bounds_and_malformed_fields_are_refused() {
    let hub = TestHub::start("bounds");
    let token = hub.kiosk_token("k");
    let key = |n: u32| format!("0190f3a2-0000-7000-8000-{n:012}");

    let bomb = declaring(test_jpeg(1), 6000, 6000);
    let started = Instant::now();
    let (status, body) = submit_raw(&hub, &token, meta(&key(1)), bomb, vec![]);
    assert_eq!(status, 422, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused from its header"
    );

    let (status, body) = submit_raw(&hub, &token, meta(&key(2)), tiny_jpeg(1, 1), vec![]);
    assert_eq!(status, 422, "a 1×1 photo: {body}");

    let mut broken = vec![0xFF, 0xD8, 0xFF, 0xE0];
    broken.extend_from_slice(&[7u8; 500]);
    broken.extend_from_slice(&[0xFF, 0xD9]);
    let (status, body) = submit_raw(&hub, &token, meta(&key(3)), test_jpeg(3), vec![broken]);
    assert_eq!(status, 422, "a document that does not decode: {body}");
    // half a photo closed with an end marker: the decoder would paint the rest flat, and a
    // reviewer would be shown a face over a blank block
    let whole = test_jpeg(9);
    let cut = [&whole[..whole.len() / 2], &[0xFF, 0xD9][..]].concat();
    let (status, body) = submit_raw(&hub, &token, meta(&key(9)), cut, vec![]);
    assert_eq!(status, 422, "a photo cut short: {body}");
    assert!(body.contains("stops before the end"), "{body}");
    let doc_bomb = declaring(tiny_jpeg(200, 200), 9000, 9000);
    let (status, body) = submit_raw(&hub, &token, meta(&key(4)), test_jpeg(4), vec![doc_bomb]);
    assert_eq!(status, 422, "a document declaring 9000×9000: {body}");

    let upper = key(5).to_uppercase();
    let (status, body) = submit_raw(&hub, &token, meta(&upper), test_jpeg(5), vec![]);
    assert_eq!(
        status, 422,
        "an upper-case key is a second spelling: {body}"
    );
    let mut forged = meta(&key(6));
    forged["batch_id"] = "b1\nFORGED".into();
    let (status, body) = submit_raw(&hub, &token, forged, test_jpeg(6), vec![]);
    assert_eq!(status, 422, "a control character in a field: {body}");
    let mut turned = meta(&key(8));
    turned["candidate_key"] = "Z3K8\u{202E}F7".into();
    let (status, body) = submit_raw(&hub, &token, turned, test_jpeg(8), vec![]);
    assert_eq!(status, 422, "a right-to-left override in a field: {body}");

    let (status, body) = submit_raw(
        &hub,
        &token,
        meta(&key(7)),
        test_jpeg(7),
        vec![tiny_jpeg(640, 400)],
    );
    assert_eq!(
        status, 201,
        "a good record with a document still goes: {body}"
    );
    assert_eq!(hub.hub.db().record_ids().unwrap(), vec![key(7)]);
}

#[test]
fn strangers_get_401_before_their_request_is_parsed() {
    let hub = TestHub::start("strangers");
    let id = "0190f3a2-0000-7000-8000-000000000001";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "POST",
            "/api/v1/records".into(),
            "text/plain",
            "not multipart",
        ),
        (
            "POST",
            "/api/v1/records/status".into(),
            "application/json",
            "{bad",
        ),
        ("GET", "/api/v1/roster".into(), "", ""),
        (
            "POST",
            "/api/v1/candidates/lookup".into(),
            "application/json",
            "[]",
        ),
        ("GET", format!("/api/v1/records/{id}"), "", ""),
        (
            "POST",
            format!("/api/v1/records/{id}/withdraw"),
            "application/json",
            "{",
        ),
        ("POST", "/api/v1/kiosks".into(), "application/json", "{"),
        ("PUT", "/api/v1/roster".into(), "text/csv", "x"),
        ("GET", "/api/v1/review/queue?limit=abc".into(), "", ""),
        (
            "GET",
            format!("/api/v1/review/records/{id}/documents/x"),
            "",
            "",
        ),
        ("GET", format!("/api/v1/review/records/{id}/report"), "", ""),
        (
            "POST",
            format!("/api/v1/review/records/{id}/decision"),
            "application/json",
            "{",
        ),
    ];
    runtime().block_on(async {
        let client = reqwest::Client::new();
        for (method, path, content_type, body) in cases {
            let mut r = client.request(method.parse().unwrap(), format!("{}{path}", hub.url));
            if !content_type.is_empty() {
                r = r.header("Content-Type", content_type).body(body.to_owned());
            }
            let status = r.send().await.unwrap().status().as_u16();
            assert_eq!(status, 401, "{method} {path} without credentials");
        }
    });
}

#[test]
fn a_kiosks_status_query_is_bounded_before_it_is_parsed() {
    let hub = TestHub::start("status-bound");
    let token = hub.kiosk_token("k");
    let ask = |body: String| -> u16 {
        runtime().block_on(async {
            reqwest::Client::new()
                .post(format!("{}/api/v1/records/status", hub.url))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let ids = |n: usize| -> String {
        let list: Vec<String> = (0..n)
            .map(|i| format!("\"0190f3a2-0000-7000-8000-{i:012}\""))
            .collect();
        format!("{{\"record_ids\":[{}]}}", list.join(","))
    };
    assert_eq!(ask(ids(500)), 200, "500 ids, the most a kiosk asks at once");
    assert_eq!(ask(ids(501)), 422, "one more is refused by count");
    // past 64 KiB of ids, as a stolen token could send by the megabyte: refused by size,
    // never parsed (80 KB rather than 8 MB: a client still writing a body the hub has already
    // refused only sees its pipe break, not the answer)
    assert_eq!(ask(ids(2_000)), 413);
}

#[test]
fn the_review_list_comes_in_small_pages_without_reports() {
    let hub = TestHub::start("pages");
    let token = hub.kiosk_token("k");
    for n in 0..3u32 {
        let key = format!("0190f3a2-0000-7000-8000-{n:012}");
        assert_eq!(
            submit_raw(&hub, &token, meta(&key), test_jpeg(n), vec![]).0,
            201
        );
    }
    let cookie = hub.reviewer_cookie("ana", false);
    let get = |path: &str| -> (u16, serde_json::Value) {
        runtime().block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{}{path}", hub.url))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json().await.unwrap_or_default())
        })
    };
    let (status, page) = get("/api/v1/review/queue?limit=500");
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items.iter().all(|i| i.get("report").is_none()),
        "the list carries no reports"
    );
    let (_, second) = get("/api/v1/review/queue?limit=2&offset=2");
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    let id = items[0]["record_id"].as_str().unwrap();
    let (status, report) = get(&format!("/api/v1/review/records/{id}/report"));
    assert_eq!(status, 200);
    assert_eq!(report["checks"][0]["id"], "blur", "the report as submitted");
}

#[test]
fn pages_run_only_their_own_script_and_no_answer_is_sniffed_or_framed() {
    let hub = TestHub::start("headers");
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let login = client
            .get(format!("{}/login", hub.url))
            .send()
            .await
            .unwrap();
        let csp = login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let api = client
            .get(format!("{}/api/v1/reasons", hub.url))
            .send()
            .await
            .unwrap();
        assert_eq!(api.headers()["x-content-type-options"], "nosniff");
        assert!(api.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    });
}

#[test]
fn photo_files_no_record_names_are_removed_when_the_hub_starts() {
    let dir = fresh_dir("hubs", "orphans");
    let hub = TestHub::start_in(dir.clone(), 0);
    let token = hub.kiosk_token("k");
    let kept = "0190f3a2-0000-7000-8000-000000000001";
    assert_eq!(
        submit_raw(&hub, &token, meta(kept), test_jpeg(1), vec![]).0,
        201
    );
    hub.stop();
    let shard = dir.join("photos").join("01");
    let temporary = shard.join(format!(".{kept}-doc0.tmp"));
    // a photo written before a kill, whose record was never committed (same shard, "01")
    let orphan = shard.join("0190f3a2-0000-7000-8000-000000000201.jpg");
    std::fs::write(&temporary, b"half a photo").unwrap();
    std::fs::write(&orphan, test_jpeg(9)).unwrap();
    let unrelated = dir.join("photos").join("README");
    std::fs::write(&unrelated, b"not ours").unwrap();

    let _again = TestHub::start_in(dir.clone(), 0);
    if common::hubs::Backend::current() == common::hubs::Backend::Postgres {
        // a shared database means replicas: one may be storing a photo right now, so what
        // looks orphaned is left to `kiosk hub purge` (only what is an hour old)
        assert!(temporary.exists() && orphan.exists());
        return;
    }
    assert!(!temporary.exists(), "the temporary file is gone");
    assert!(!orphan.exists(), "the photo no record names is gone");
    assert!(
        shard.join(format!("{kept}.jpg")).exists(),
        "the record's photo stays"
    );
    assert!(
        unrelated.exists(),
        "a file the hub did not name is left alone"
    );
}
