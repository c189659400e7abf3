//! Headless Chromium driven over WebDriver (Debian's chromium and chromium-driver), for the
//! hub's pages: the review page and the dashboard.

use super::hubs::{free_port, fresh_dir, runtime};
use base64::Engine as _;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    base: String,
    session: String,
    driver: Child,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver and a browser whose profile lives in `folder` (one per test, so two
    /// tests' browsers never share a profile).
    pub fn start(folder: &str) -> Browser {
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
        let profile = fresh_dir(folder, "chromium-profile");
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

    pub fn call(&self, method: &str, path: &str, body: Value) -> Value {
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

    pub fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn go(&self, url: &str) {
        self.session_call("POST", "/url", json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), json!({}));
    }

    pub fn script(&self, js: &str) -> Value {
        self.session_call("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    /// Waits until `js` (an expression) is truthy.
    pub fn wait_for(&self, js: &str) {
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

    pub fn screenshot(&self, path: &std::path::Path) {
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
