//! Staff mode driven by simulated taps: a roster synced from a real hub on loopback, a roster
//! imported from the kiosk's import folder (a refused one first, then Excel's GBK), a new PIN
//! typed twice and then used, a photo sheet reprinted (sent to a stand-in print service, then
//! refused by it), the collection ended, another batch chosen with its figures, and the audit trail that
//! shows all of it. Screens are written to target/tmp/kiosk-staff/ to look at.

use crate::common;

use capture_kiosk::catalog::Catalog;
use capture_kiosk::hub_protocol::RosterEntry;
use capture_kiosk::kiosk::app::App;
use capture_kiosk::kiosk::demo::{headless_kiosk, Driver};
use capture_kiosk::kiosk::printer_sim::{SimPrinter, SimQueue};
use capture_kiosk::kiosk::{Kiosk, KioskOptions};
use capture_kiosk::session::Screen;
use capture_kiosk::store::Store;
use common::hubs::{fresh_dir, submit, test_jpeg, TestHub};
use slint::ComponentHandle;

/// What the kiosk's window shows, read through its `Kiosk` global.
fn shown<T>(app: &App, read: impl FnOnce(&Kiosk<'_>) -> T) -> T {
    let window = app.ui.upgrade().expect("the kiosk window is open");
    let kiosk = window.global::<Kiosk>();
    read(&kiosk)
}

/// Whether the window is open and what it shows passes `test`.
fn shown_if(app: &App, test: impl FnOnce(&Kiosk<'_>) -> bool) -> bool {
    app.ui
        .upgrade()
        .is_some_and(|window| test(&window.global::<Kiosk>()))
}

fn person(key: &str, name: &str, id: &str) -> RosterEntry {
    RosterEntry {
        candidate_key: key.into(),
        name: name.into(),
        id_number: id.into(),
        ethnicity: String::new(),
        address: String::new(),
        phone: String::new(),
        secret: String::new(),
    }
}

#[test]
fn staff_imports_rosters_changes_the_pin_ends_the_collection_and_reads_the_audit() {
    let hub = TestHub::start("kiosk-staff");
    let token = hub.kiosk_token("kiosk-staff");
    assert!(hub.hub.db().assign_batch("kiosk-staff", "Z3K8F7").unwrap());
    hub.hub
        .db()
        .replace_roster(
            "Z3K8F7",
            &[
                person("H001", "赵一", "11010519491231002X"),
                person("H002", "钱二", "440106199903070015"),
            ],
            "test",
        )
        .unwrap();
    let data = fresh_dir("kiosk-staff", "data");
    // a stand-in for CUPS's lp: records its arguments and answers with a job id as lp does;
    // with a file "refuse" beside it, it refuses like a queue that rejects jobs
    let lp = data.join("fake-lp");
    std::fs::write(
        &lp,
        "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/lp-args\"\nif [ -e \"$(dirname \"$0\")/refuse\" ]; then echo 'printer jammed' >&2; exit 1; fi\ncp \"$5\" \"$(dirname \"$0\")/spooled.jpg\"\necho 'request id is kiosk-photo-7 (1 file(s))'\n",
    )
    .unwrap();
    // the queue's state, as CUPS tells it over IPP
    let cups = SimPrinter::start("kiosk-photo", SimQueue::ready()).unwrap();
    std::fs::set_permissions(&lp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let earlier = {
        let mut store = Store::open(&data.join("kiosk.sqlite")).unwrap();
        store.set_setting("hub_url", &hub.url).unwrap();
        store.set_setting("hub_token", &token).unwrap();
        store.set_setting("printer", "kiosk-photo").unwrap();
        store.set_setting("printer_server", &cups.url()).unwrap();
        store
            .set_setting("print_command", lp.to_str().unwrap())
            .unwrap();
        // a capture from earlier in the day, to print again
        submit(&mut store, "2026CHSIZ3K8F7002X", &test_jpeg(3))
    };
    // the import folder as a USB stick would show it: a roster with a wrong ID number, and a
    // good one saved by Excel on a Chinese Windows (GBK)
    let import = data.join("import");
    std::fs::create_dir_all(&import).unwrap();
    std::fs::write(
        import.join("bad.csv"),
        "考生号,姓名,身份证号\nK1,孙三,11010519491231002X\nK2,李四,110105194912310021\n",
    )
    .unwrap();
    let good = "考生号,姓名,身份证号,民族\nK1,孙三,11010519491231002X,汉\nK2,李四,440106199903070015,回\nK3,周五,110108200106150022,维吾尔\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(good);
    std::fs::write(import.join("名单-gbk.csv"), &gbk).unwrap();

    let shots = fresh_dir("kiosk-staff", "screens");
    let opts = KioskOptions::new(data.clone());
    let (ui, app) = headless_kiosk(&opts, Catalog::shipped().unwrap(), false).unwrap();
    // only the test's import folder: whatever is mounted on this machine stays out of it
    app.borrow_mut().import_roots = vec![import.clone()];
    let mut d = Driver::new(&ui, app.clone(), &shots, "staff");
    let roster = |d: &Driver| d.app.borrow().store.roster_size("Z3K8F7").unwrap();
    let notice = |d: &Driver| shown(&d.app.borrow(), |k| k.get_notice()).to_string();
    assert_eq!(roster(&d), 6, "the demo roster");
    assert!(shown(&app.borrow(), |k| k.get_default_pin()));

    d.tap_id("Header::staff-corner").unwrap();
    d.type_keys("123456").unwrap();
    d.wait_for("the staff menu", 5, |a| a.screen() == Screen::StaffMenu)
        .unwrap();

    // the hub's roster replaces the demo one
    d.tap_id("StaffMenuScreen::sync-btn").unwrap();
    d.wait_for("the sync", 20, |_| {
        Store::open(&data.join("kiosk.sqlite"))
            .and_then(|s| s.roster_size("Z3K8F7"))
            .is_ok_and(|n| n == 2)
    })
    .unwrap();
    assert!(notice(&d).contains("2"), "{}", notice(&d));
    d.save("synced").unwrap();

    // import: the bad file is refused whole, naming the line; the GBK file goes in
    d.tap_id("StaffMenuScreen::import-btn").unwrap();
    assert_eq!(d.screen(), Screen::StaffImport);
    d.wait_for("the files", 10, |a| {
        shown_if(a, |k| slint::Model::row_count(&k.get_roster_files()) == 2)
    })
    .unwrap();
    d.save("import-files").unwrap();
    d.tap_label("bad.csv").unwrap();
    d.wait_for("the refusal", 10, |a| {
        shown_if(a, |k| k.get_notice().contains("第 3 行"))
    })
    .unwrap();
    // the Chinese window says the reason in Chinese only, the line's English half left out
    assert!(!notice(&d).contains("line 3"), "{}", notice(&d));
    assert_eq!(roster(&d), 2, "a refused roster changes nothing");
    d.save("import-refused").unwrap();
    d.tap_label("名单-gbk.csv").unwrap();
    d.wait_for("the import", 10, |a| {
        shown_if(a, |k| k.get_notice().contains("已导入"))
    })
    .unwrap();
    assert_eq!(roster(&d), 3, "{}", notice(&d));
    let k3 = app
        .borrow()
        .store
        .roster_entry("Z3K8F7", "K3")
        .unwrap()
        .unwrap();
    assert_eq!(
        (k3.name.as_str(), k3.ethnicity.as_str()),
        ("周五", "维吾尔")
    );
    d.save("import-done").unwrap();
    d.tap_id("StaffImportScreen::import-back").unwrap();

    // reprint: the sheet goes to the print service and stays as a file; a refusing printer
    // is reported and the sheet is still saved
    d.tap_id("StaffMenuScreen::reprint-btn").unwrap();
    let rows = shown(&app.borrow(), |k| k.get_reprint_rows());
    assert_eq!(slint::Model::row_count(&rows), 1);
    let row = slint::Model::row_data(&rows, 0).unwrap();
    assert!(
        row.detail.starts_with("2026**********002X"),
        "{}",
        row.detail
    );
    let printer_line = |a: &App| shown(a, |k| k.get_printer().detail.to_string());
    d.wait_for("the printer's state", 10, |a| printer_line(a) == "就绪")
        .unwrap();
    d.save("reprint-list").unwrap();
    d.tap_label(&row.title).unwrap();
    d.wait_for("the print", 20, |a| {
        shown_if(a, |k| k.get_notice().contains("kiosk-photo"))
    })
    .unwrap();
    d.save("reprint-sent").unwrap();
    let sheet_file = data.join("prints").join(format!("{earlier}.jpg"));
    assert_eq!(
        std::fs::read_to_string(data.join("lp-args"))
            .unwrap()
            .trim(),
        format!("-d kiosk-photo -t capture-kiosk {}", sheet_file.display())
    );
    let sheet = image::open(data.join("spooled.jpg")).unwrap();
    assert_eq!(
        (sheet.width(), sheet.height()),
        (1800, 1200),
        "6-inch paper at 300 dpi"
    );
    assert!(
        !sheet_file.exists(),
        "the candidate's photo is not left behind once printed"
    );
    // the job waits in the queue for ten minutes: reported as stuck, with the capture's record
    cups.set(SimQueue {
        state: 3,
        reasons: vec![],
        jobs: vec![(7, 3, std::time::Duration::from_secs(600))],
    });
    let tail: String = earlier.chars().skip(earlier.chars().count() - 6).collect();
    d.wait_for("the stuck job", 15, |a| {
        let line = printer_line(a);
        line.contains("打印任务 7 已等待 10 分钟") && line.contains(&tail)
    })
    .unwrap();
    assert!(!shown(&app.borrow(), |k| k.get_printer().ok));
    d.save("reprint-job-stuck").unwrap();
    // out of paper: the reprint is refused before anything reaches lp, with the reason
    cups.set(SimQueue::stopped(&["media-empty-error"]));
    std::fs::remove_file(data.join("lp-args")).unwrap();
    d.tap_label(&row.title).unwrap();
    d.wait_for("the check's refusal", 20, |a| {
        shown_if(a, |k| k.get_notice().contains("缺纸"))
    })
    .unwrap();
    assert!(!data.join("lp-args").exists(), "nothing was sent to lp");
    assert!(printer_line(&app.borrow()).contains("缺纸"));
    d.save("reprint-out-of-paper").unwrap();
    // ready again, but the queue refuses the job: reported, and the sheet is kept
    cups.set(SimQueue::ready());
    std::fs::write(data.join("refuse"), "").unwrap();
    d.tap_label(&row.title).unwrap();
    d.wait_for("the refusal", 20, |a| {
        shown_if(a, |k| k.get_notice().contains("printer jammed"))
    })
    .unwrap();
    assert!(
        sheet_file.exists(),
        "the sheet is kept when the printer refuses"
    );
    d.save("reprint-refused").unwrap();
    d.tap_id("StaffReprintScreen::reprint-back").unwrap();
    // the staff menu shows the printer among the devices: jammed, then paused
    cups.set(SimQueue::stopped(&["media-jam-error"]));
    d.wait_for("the jam", 15, |a| printer_line(a).contains("卡纸"))
        .unwrap();
    d.save("menu-printer-jammed").unwrap();
    cups.set(SimQueue::stopped(&["paused"]));
    d.wait_for("the pause", 15, |a| printer_line(a).contains("已暂停"))
        .unwrap();
    assert!(
        cups.asked() >= 8,
        "asked every few seconds, not once: {}",
        cups.asked()
    );

    // a new PIN: a guessable one refused, a mistyped repeat refused, then set
    d.tap_id("StaffMenuScreen::pin-btn").unwrap();
    assert_eq!(d.screen(), Screen::StaffNewPin);
    d.type_keys("1111").unwrap();
    d.tap_id("StaffNewPinScreen::new-pin-ok").unwrap();
    assert!(notice(&d).contains("容易猜"), "{}", notice(&d));
    d.type_keys("2580").unwrap();
    d.tap_id("StaffNewPinScreen::new-pin-ok").unwrap();
    d.type_keys("2581").unwrap();
    d.tap_id("StaffNewPinScreen::new-pin-ok").unwrap();
    assert!(notice(&d).contains("不一致"), "{}", notice(&d));
    d.save("new-pin-mismatch").unwrap();
    d.type_keys("2580").unwrap();
    d.tap_id("StaffNewPinScreen::new-pin-ok").unwrap();
    d.type_keys("2580").unwrap();
    d.tap_id("StaffNewPinScreen::new-pin-ok").unwrap();
    // sealed (argon2) on a worker thread, then stored
    d.wait_for("the new PIN stored", 10, |a| {
        a.screen() == Screen::StaffMenu
    })
    .unwrap();

    // open, then the old PIN no longer unlocks and the new one does
    d.tap_id("StaffMenuScreen::open-btn").unwrap();
    assert!(app.borrow().session.open());
    assert!(
        !shown(&app.borrow(), |k| k.get_default_pin()),
        "the idle screen no longer tells the default PIN"
    );
    d.tap_id("Header::staff-corner").unwrap();
    let key_at = d.position_of("5").unwrap();
    // the PIN is checked (argon2, on a worker) once four digits are typed, as long as it is
    d.type_keys("1234").unwrap();
    d.pump(1000).unwrap();
    assert_eq!(d.screen(), Screen::StaffPin);
    d.wait_for("the wrong PIN's notice", 10, |a| {
        shown_if(a, |k| !k.get_notice().is_empty())
    })
    .unwrap();
    assert_eq!(
        d.position_of("5").unwrap(),
        key_at,
        "the keys stay under the finger when the wrong PIN's notice appears"
    );
    d.type_keys("2580").unwrap();
    d.wait_for("the staff menu", 10, |a| a.screen() == Screen::StaffMenu)
        .unwrap();

    // end the collection: its figures, and nobody can start
    d.tap_id("StaffMenuScreen::end-btn").unwrap();
    assert!(!app.borrow().session.open());
    assert!(notice(&d).contains("本次采集 0 人"), "{}", notice(&d));
    assert_eq!(
        roster(&d),
        0,
        "the roster leaves the kiosk with the collection"
    );
    d.save("collection-ended").unwrap();

    // the audit trail shows what staff did, newest first
    d.tap_id("StaffMenuScreen::audit-btn").unwrap();
    d.save("audit").unwrap();
    let rows = shown(&app.borrow(), |k| k.get_audit_rows());
    let titles: Vec<String> = (0..slint::Model::row_count(&rows))
        .filter_map(|i| slint::Model::row_data(&rows, i))
        .map(|r| r.title.to_string())
        .collect();
    for (i, action) in [
        "结束采集",
        "解锁工作人员菜单",
        "PIN 错误",
        "开始采集",
        "修改 PIN",
        // sent, refused by the printer's check (out of paper), refused by the queue
        "补打照片",
        "补打照片",
        "补打照片",
        "导入名单",
        "名单导入失败",
        "同步名单",
        "解锁工作人员菜单",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            titles.get(i).is_some_and(|t| t.ends_with(action)),
            "audit line {i} should be {action}: {titles:?}"
        );
    }
    d.tap_id("StaffAuditScreen::audit-back").unwrap();

    // another batch: typed on the keypad, kept for the next start
    d.tap_id("StaffMenuScreen::batch-btn").unwrap();
    assert_eq!(d.screen(), Screen::StaffBatch);
    let batches = shown(&app.borrow(), |k| k.get_batch_rows());
    assert_eq!(
        slint::Model::row_data(&batches, 0).map(|r| r.title.to_string()),
        None,
        "no batch keeps a roster here once its collection ended"
    );
    for _ in 0..6 {
        d.tap_label("⌫").unwrap();
    }
    d.type_keys("B2026X").unwrap();
    d.save("batch-typed").unwrap();
    d.tap_id("StaffBatchScreen::batch-ok").unwrap();
    assert_eq!(d.screen(), Screen::StaffMenu);
    assert_eq!(app.borrow().batch, "B2026X");
    assert_eq!(
        app.borrow().store.get_setting("batch").unwrap().as_deref(),
        Some("B2026X")
    );
    d.tap_id("StaffMenuScreen::close-btn").unwrap();
    assert_eq!(d.screen(), Screen::Idle);
    assert!(
        d.tap_id("IdleScreen::start-btn").is_err(),
        "no start button while the collection is closed"
    );
    drop(d);
    hub.stop();
    println!("screens in {}", shots.display());
}

/// Staff unlock with the default PIN, choose `profile`, open the collection and start: the
/// kiosk waits on the identify screen.
fn open_collection_at_identify(d: &mut Driver, profile: &str) {
    d.tap_id("Header::staff-corner").unwrap();
    d.type_keys("123456").unwrap();
    d.wait_for("the staff menu", 5, |a| a.screen() == Screen::StaffMenu)
        .unwrap();
    assert!(d.app.borrow_mut().select_profile_named(profile));
    d.tap_id("StaffMenuScreen::open-btn").unwrap();
    d.tap_id("IdleScreen::start-btn").unwrap();
    d.wait_for("the identify screen", 5, |a| a.screen() == Screen::Identify)
        .unwrap();
}

#[test]
fn a_wrong_password_is_refused_like_an_unknown_number_and_the_right_one_identifies() {
    let data = fresh_dir("kiosk-password", "data");
    let shots = fresh_dir("kiosk-password", "screens");
    let opts = KioskOptions::new(data.clone());
    let (ui, app) = headless_kiosk(&opts, Catalog::shipped().unwrap(), false).unwrap();
    let mut d = Driver::new(&ui, app.clone(), &shots, "password");
    open_collection_at_identify(&mut d, "gd-chengkao");

    // a demo candidate's number with a wrong password: checked on a worker, refused in the
    // words an unknown number gets
    d.type_keys("20261234").unwrap();
    d.type_keys("654321").unwrap();
    d.tap_id("IdentifyScreen::identify-ok").unwrap();
    d.wait_for("the refusal", 10, |a| a.session.notice().is_some())
        .unwrap();
    assert_eq!(d.screen(), Screen::Identify);
    let notice = shown(&app.borrow(), |k| k.get_notice()).to_string();
    assert!(notice.contains("号码或密码不正确"), "{notice}");

    // the right password
    for _ in 0..6 {
        d.tap_label("⌫").unwrap();
    }
    d.type_keys(capture_kiosk::kiosk::demo::DEMO_PASSWORD)
        .unwrap();
    d.tap_id("IdentifyScreen::identify-ok").unwrap();
    d.wait_for("identification", 10, |a| a.screen() != Screen::Identify)
        .unwrap();
}

#[test]
fn a_roster_sync_that_cannot_reach_a_hub_says_why_in_the_windows_language() {
    let data = fresh_dir("kiosk-sync-unlinked", "data");
    let shots = fresh_dir("kiosk-sync-unlinked", "screens");
    let opts = KioskOptions::new(data.clone());
    let (ui, app) = headless_kiosk(&opts, Catalog::shipped().unwrap(), false).unwrap();
    let mut d = Driver::new(&ui, app.clone(), &shots, "sync-unlinked");
    d.tap_id("Header::staff-corner").unwrap();
    d.type_keys("123456").unwrap();
    d.wait_for("the staff menu", 5, |a| a.screen() == Screen::StaffMenu)
        .unwrap();
    d.tap_id("StaffMenuScreen::sync-btn").unwrap();
    d.wait_for("the failure", 20, |a| {
        shown_if(a, |k| k.get_notice().contains("名单同步失败"))
    })
    .unwrap();
    let notice = shown(&app.borrow(), |k| k.get_notice()).to_string();
    // the reason and what to do, in Chinese, with no English half
    assert!(
        notice.contains("尚未连接汇总服务器") && notice.contains("kiosk queue link"),
        "{notice}"
    );
    assert!(!notice.contains("not linked"), "{notice}");
    d.save("sync-unlinked").unwrap();
}

#[test]
fn an_unreadable_attempt_count_stops_the_kiosk_instead_of_letting_the_candidate_past_the_limit() {
    let data = fresh_dir("kiosk-attempts", "data");
    let shots = fresh_dir("kiosk-attempts", "screens");
    let opts = KioskOptions::new(data.clone());
    let (ui, app) = headless_kiosk(&opts, Catalog::shipped().unwrap(), false).unwrap();
    let mut d = Driver::new(&ui, app.clone(), &shots, "attempts");
    open_collection_at_identify(&mut d, "gd-chengkao");
    // the attempts table goes missing under the kiosk (a damaged database)
    let db = rusqlite::Connection::open(data.join("kiosk.sqlite")).unwrap();
    db.execute_batch("ALTER TABLE verification_attempts RENAME TO attempts_gone")
        .unwrap();
    d.type_keys("20261234").unwrap();
    d.type_keys(capture_kiosk::kiosk::demo::DEMO_PASSWORD)
        .unwrap();
    d.tap_id("IdentifyScreen::identify-ok").unwrap();
    d.wait_for("the failsafe screen", 10, |a| {
        a.screen() == Screen::Failsafe
    })
    .unwrap();
    let notice = shown(&app.borrow(), |k| k.get_notice()).to_string();
    assert!(notice.contains("数据库"), "{notice}");
}

#[test]
fn a_profile_a_site_adds_is_in_the_staff_menu() {
    let mut catalog = Catalog::shipped().unwrap();
    let text = include_str!("../profiles/gd-chengkao.toml")
        .replace("name = \"gd-chengkao\"", "name = \"sz-site-test\"");
    catalog
        .extend(&[(
            capture_kiosk::catalog::DataKind::Profile,
            "sz-site-test.toml".into(),
            text,
        )])
        .unwrap();
    let data = fresh_dir("kiosk-site-profile", "data");
    let opts = KioskOptions::new(data);
    let (_ui, app) = headless_kiosk(&opts, catalog, false).unwrap();
    // the shipped five first, in the spec's order, then the site's own
    assert!(app.borrow_mut().select_profile_named("gd-chengkao"));
    assert!(app.borrow_mut().select_profile_named("sz-site-test"));
}

#[test]
fn the_staff_pin_is_stored_sealed_and_an_older_kiosks_unsalted_pin_still_opens() {
    use capture_kiosk::kiosk::staff::{seal_pin, set_pin, store_sealed_pin, StoredPin};
    use capture_kiosk::session::identify::password_digest;
    let data = fresh_dir("kiosk-staff", "sealed-pin");
    let store = Store::open(&data.join("kiosk.sqlite")).unwrap();
    let read = || StoredPin::read(&store).unwrap();
    assert_eq!(read(), StoredPin::Default);
    assert!(read().matches("123456") && !read().matches("2580"));

    set_pin(&store, "2580").unwrap();
    let stored = read();
    assert!(
        matches!(&stored, StoredPin::Sealed { length: 4, phc } if phc.starts_with("$argon2id$")),
        "{stored:?}"
    );
    assert!(stored.matches("2580"));
    for wrong in ["2581", "25800", "123456", ""] {
        assert!(!stored.matches(wrong), "{wrong}");
    }
    // neither the PIN nor its unsalted digest is kept; a second sealing has its own salt
    let raw = store.get_setting("staff_pin_argon2").unwrap().unwrap();
    assert!(raw.starts_with("4$$argon2id$") && !raw.contains(&password_digest("staff", "2580")));
    assert_ne!(seal_pin("2580").unwrap(), seal_pin("2580").unwrap());

    // a damaged setting opens nothing, not even the default PIN; a blank one neither
    for damaged in ["garbage", ""] {
        store.set_setting("staff_pin_argon2", damaged).unwrap();
        assert!(
            !read().matches("123456") && !read().matches("2580"),
            "{damaged:?}"
        );
    }

    // an older kiosk's unsalted digest still opens, and sealing it blanks the digest
    let data = fresh_dir("kiosk-staff", "legacy-pin");
    let store = Store::open(&data.join("kiosk.sqlite")).unwrap();
    let read = || StoredPin::read(&store).unwrap();
    store
        .set_setting("staff_pin_sha256", &password_digest("staff", "731946"))
        .unwrap();
    let legacy = read();
    assert_eq!(legacy.length(), None);
    assert!(legacy.matches("731946") && !legacy.matches("731947"));
    store_sealed_pin(&store, &seal_pin("731946").unwrap()).unwrap();
    assert_eq!(
        store.get_setting("staff_pin_sha256").unwrap().as_deref(),
        Some("")
    );
    assert!(read().matches("731946"));
}
