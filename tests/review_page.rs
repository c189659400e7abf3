//! The review page in headless Chromium (Debian's chromium and chromium-driver, driven over
//! WebDriver): a wrong password is refused, a reviewer logs in, rejects a photo with a reason
//! and a note, and the kiosk then reports "rejected: reason". A screenshot of the page is
//! written to target/tmp/review/ to look at.

use crate::common;

use capture_kiosk::store::Store;
use capture_kiosk::upload::{stored_link, HubClient, UploadPolicy, Worker};
use common::browser::Browser;
use common::hubs::{fresh_dir, kiosk_store, runtime, submit, TestHub};
use std::time::{Duration, Instant};

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

    let browser = Browser::start("review");
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
