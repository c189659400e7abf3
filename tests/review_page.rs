//! The review page in headless Chromium (Debian's chromium and chromium-driver, driven over
//! WebDriver): a wrong password is refused, a reviewer logs in, rejects a photo with a reason
//! and a note, and the kiosk then reports "rejected: reason". A screenshot of the page is
//! written to target/tmp/review/ to look at.

use crate::common;

use base64::Engine as _;
use capture_kiosk::store::Store;
use capture_kiosk::upload::{stored_link, HubClient, UploadPolicy, Worker};
use common::hubs::{free_port, fresh_dir, kiosk_store, runtime, submit, TestHub};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    base: String,
    session: String,
    driver: Child,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (scripts/setup installs Debian's chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let rt = runtime();
        let http = reqwest::Client::new();
        let ready = Instant::now();
        while rt
            .block_on(http.get(format!("{base}/status")).send())
            .is_err()
        {
            assert!(
                ready.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = fresh_dir("review", "chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--lang=zh-CN", "--window-size=1280,1400", format!("--user-data-dir={}", profile.display())]
        }}}});
        let mut b = Browser {
            base,
            session: String::new(),
            driver,
            rt,
            http,
        };
        let created = b.call("POST", "/session", caps);
        b.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        b
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = self.rt.block_on(async {
            req.send()
                .await
                .expect("webdriver")
                .json()
                .await
                .expect("json")
        });
        assert!(
            answer["value"].get("error").is_none(),
            "{method} {path}: {answer}"
        );
        answer["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.session_call("POST", "/url", json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), json!({}));
    }

    fn script(&self, js: &str) -> Value {
        self.session_call("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    /// Waits until `js` (an expression) is truthy.
    fn wait_for(&self, js: &str) {
        let start = Instant::now();
        while !self
            .script(&format!("return !!({js});"))
            .as_bool()
            .unwrap_or(false)
        {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "timed out waiting for {js}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, path: &std::path::Path) {
        let png = self.session_call("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("png");
        std::fs::write(path, bytes).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.rt.block_on(self.http.delete(url).send());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn a_reviewer_rejects_in_the_browser_and_the_kiosk_reports_the_reason() {
    let hub = TestHub::start("review-page");
    let token = hub.kiosk_token("kiosk-page");
    hub.hub
        .db()
        .add_reviewer("reviewer-c", "correct horse battery", false)
        .unwrap();
    let (db, mut store) = kiosk_store("review-page", &hub.url, &token);
    let face = image::imageops::resize(
        &common::photo("obama.jpg"),
        300,
        400,
        image::imageops::FilterType::Triangle,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&face)
        .unwrap();
    let id = submit(&mut store, "2026001", &jpeg);
    drop(store);
    let link = stored_link(&Store::open(&db).unwrap()).unwrap().unwrap();
    let mut kiosk = Worker::new(
        Store::open(&db).unwrap(),
        HubClient::new(&link).unwrap(),
        UploadPolicy::default(),
    )
    .unwrap();
    let rt = runtime();
    assert_eq!(
        rt.block_on(kiosk.drain(Instant::now() + Duration::from_secs(30)))
            .unwrap()
            .sent,
        1
    );

    let browser = Browser::start();
    browser.go(&format!("{}/review", hub.url));
    browser.wait_for("document.querySelector('#user')");
    // a wrong password stays on the login page with a message
    browser.type_into("#user", "reviewer-c");
    browser.type_into("#password", "not the password");
    browser.click("#login");
    browser.wait_for("document.querySelector('#error') && document.querySelector('#error').textContent.includes('Wrong')");

    browser.type_into("#user", "reviewer-c");
    browser.type_into("#password", "correct horse battery");
    browser.click("#login");
    browser.wait_for(&format!(
        "document.querySelector('section.record[data-id=\"{id}\"]')"
    ));
    browser.wait_for(&format!(
        "document.querySelector('section.record[data-id=\"{id}\"] img').naturalWidth > 0"
    ));
    let shots = fresh_dir("review", "screens");
    browser.screenshot(&shots.join("review-pending.png"));

    let card = format!("section.record[data-id=\"{id}\"]");
    // rejecting without a reason is not sent
    browser.click(&format!("{card} button.reject"));
    browser.wait_for("document.querySelector('#status').textContent.includes('至少')");
    browser.click(&format!("{card} input[name=reason][value=hair_over_brows]"));
    browser.type_into(&format!("{card} textarea.note"), "请把头发梳到耳后");
    browser.click(&format!("{card} button.reject"));
    browser.wait_for("document.querySelector('#status').textContent.includes('已驳回')");
    browser.wait_for("document.querySelector('#queue .empty')");
    browser.screenshot(&shots.join("review-after-reject.png"));
    println!("screenshots in {}", shots.display());

    let back = rt
        .block_on(kiosk.drain(Instant::now() + Duration::from_secs(30)))
        .unwrap();
    assert_eq!(back.reviews_updated, 1, "{back:?}");
    let store = Store::open(&db).unwrap();
    let line = store
        .candidate_captures("chsi-graduation", "2026001")
        .unwrap()[0]
        .status_line();
    println!("kiosk reports: {line}");
    assert!(
        line.contains("rejected: hair over the eyebrows or eyes"),
        "{line}"
    );
    assert!(line.contains("请把头发梳到耳后"), "{line}");
}
