//! The scripted headless demo: taps through a full session per profile on Slint's testing
//! platform and writes a PNG of every screen. The people it uses are in `demo_people`.

use super::app::App;
use super::demo_people::chsi_demo_id;
pub use super::demo_people::{
    demo_collection_code, demo_people, demo_portrait, seed_roster, DEMO_BATCH, DEMO_PASSWORD,
};
use super::{build_app, KioskOptions, KioskWindow};
use crate::catalog::Catalog;
use crate::session::identify::id_tail;
use crate::session::Screen;
use anyhow::{anyhow, bail, Context, Result};
use i_slint_backend_testing::ElementHandle;
use slint::platform::PointerEventButton;
use slint::ComponentHandle;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a headless run did.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub sessions: Vec<(String, String)>,
    pub screenshots: Vec<PathBuf>,
    /// Analysed preview frames per second seen while the guide ran (one figure per second).
    pub live_fps: Vec<f32>,
    /// Resident memory now and at its peak (kB), read after the sessions.
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
    /// From creating the window to the first rendered screen.
    pub first_screen_ms: u128,
}

/// VmRSS and VmHWM of this process, in kB (Linux).
pub fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Taps through the kiosk like a person: elements by id or label, with the app's timer run in
/// between, and a PNG of every screen it passes through.
pub struct Driver<'a> {
    ui: &'a KioskWindow,
    pub app: std::rc::Rc<std::cell::RefCell<App>>,
    out: PathBuf,
    prefix: String,
    shot: usize,
    last: Option<Screen>,
    started: Instant,
    report: DemoReport,
}

impl<'a> Driver<'a> {
    /// Drives `app` in `ui`, saving screens to `out` with names starting with `prefix`.
    pub fn new(
        ui: &'a KioskWindow,
        app: std::rc::Rc<std::cell::RefCell<App>>,
        out: &Path,
        prefix: &str,
    ) -> Driver<'a> {
        Driver {
            ui,
            app,
            out: out.to_path_buf(),
            prefix: prefix.to_owned(),
            shot: 0,
            last: None,
            started: Instant::now(),
            report: DemoReport::default(),
        }
    }

    fn now(&self) -> i64 {
        crate::store::now_ms()
    }

    /// Lets the app run for `ms` of real time (devices and workers are real threads).
    pub fn pump(&mut self, ms: u64) -> Result<()> {
        let until = Instant::now() + Duration::from_millis(ms);
        loop {
            let now = self.now();
            self.app.borrow_mut().tick(now);
            let fps = self.app.borrow().live_fps();
            if self.screen() == Screen::Live
                && fps > 0.0
                && self.report.live_fps.last() != Some(&fps)
            {
                self.report.live_fps.push(fps);
            }
            self.snapshot_if_new()?;
            if Instant::now() >= until {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn screen(&self) -> Screen {
        self.app.borrow().screen()
    }

    pub fn wait_for(
        &mut self,
        what: &str,
        timeout_s: u64,
        done: impl Fn(&App) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(timeout_s);
        while !done(&self.app.borrow()) {
            if Instant::now() > deadline {
                bail!(
                    "{}: waited {timeout_s} s for {what}; the screen is {}",
                    self.prefix,
                    self.screen().name()
                );
            }
            self.pump(40)?;
        }
        self.pump(60)
    }

    fn snapshot_if_new(&mut self) -> Result<()> {
        let screen = self.screen();
        if self.last != Some(screen) {
            self.last = Some(screen);
            // let the screen settle (layouts, the first preview frame)
            self.app.borrow_mut().refresh();
            self.save(screen.name())?;
        }
        Ok(())
    }

    pub fn save(&mut self, name: &str) -> Result<()> {
        self.shot += 1;
        let path = self
            .out
            .join(format!("{}-{:02}-{name}.png", self.prefix, self.shot));
        save_png(self.ui, &path)?;
        self.report.screenshots.push(path);
        Ok(())
    }

    pub fn tap_id(&mut self, id: &str) -> Result<()> {
        let e = ElementHandle::find_by_element_id(self.ui, id)
            .next()
            .ok_or_else(|| {
                anyhow!(
                    "{}: no element {id} on the {} screen",
                    self.prefix,
                    self.screen().name()
                )
            })?;
        self.within_reach(&e, id)?;
        e.mock_single_click(PointerEventButton::Left);
        self.pump(30)
    }

    /// A tap reaches an element anywhere in the layout; a finger only what the screen shows.
    /// (A portrait keypad with letters once pushed 确定 below the screen's bottom edge, and
    /// the demo went on tapping it.)
    fn within_reach(&self, e: &ElementHandle, what: &str) -> Result<()> {
        let window = self.ui.window();
        let screen = window.size().to_logical(window.scale_factor());
        let (at, size) = (e.absolute_position(), e.size());
        let inside = at.x >= 0.0
            && at.y >= 0.0
            && at.x + size.width <= screen.width + 0.5
            && at.y + size.height <= screen.height + 0.5;
        if inside {
            Ok(())
        } else {
            bail!(
                "{}: {what} on the {} screen lies at {:.0},{:.0} ({:.0}×{:.0}), outside the \
                 {:.0}×{:.0} screen: a person cannot touch it",
                self.prefix,
                self.screen().name(),
                at.x,
                at.y,
                size.width,
                size.height,
                screen.width,
                screen.height
            )
        }
    }

    pub fn tap_label(&mut self, label: &str) -> Result<()> {
        // a button, not a text that shows the same words (a field's value "0" beside the key)
        let e = ElementHandle::find_by_accessible_label(self.ui, label)
            .find(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
            .ok_or_else(|| {
                anyhow!(
                    "{}: no button labelled {label:?} on the {} screen",
                    self.prefix,
                    self.screen().name()
                )
            })?;
        self.within_reach(&e, label)?;
        e.mock_single_click(PointerEventButton::Left);
        self.pump(10)
    }

    /// Where the button labelled `label` is on the screen (logical pixels), if shown.
    pub fn position_of(&self, label: &str) -> Option<(f32, f32)> {
        ElementHandle::find_by_accessible_label(self.ui, label)
            .find(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
            .map(|e| {
                let at = e.absolute_position();
                (at.x, at.y)
            })
    }

    pub fn type_keys(&mut self, text: &str) -> Result<()> {
        for c in text.chars() {
            self.tap_label(&c.to_string())?;
        }
        Ok(())
    }

    /// One profile's full session; returns the record id in the outbox.
    fn session(&mut self, profile: &str) -> Result<String> {
        self.prefix = profile.to_owned();
        self.shot = 0;
        self.last = None;
        self.pump(50)?;
        // staff: hidden entry, PIN, profile, open collection
        self.tap_id("Header::staff-corner")?;
        self.type_keys("123456")?;
        self.wait_for("the staff menu", 5, |a| a.screen() == Screen::StaffMenu)?;
        if !self.app.borrow_mut().select_profile_named(profile) {
            return Err(anyhow!("unknown profile {profile}"));
        }
        self.pump(30)?;
        self.save("staff-menu-selected")?;
        self.tap_id("StaffMenuScreen::open-btn")?;
        self.tap_id("IdleScreen::start-btn")?;
        self.wait_for("the identify screen", 5, |a| a.screen() == Screen::Identify)?;
        match profile {
            "gd-chengkao" => {
                self.type_keys("20261234")?;
                self.type_keys(DEMO_PASSWORD)?;
                self.save("identify-typed")?;
                self.tap_id("IdentifyScreen::identify-ok")?;
            }
            "bj-zikao-degree" => {
                self.type_keys("012345678901")?;
                self.save("identify-typed")?;
                self.tap_id("IdentifyScreen::identify-ok")?;
            }
            "chsi-graduation" => {
                // first with a mistyped ID tail: the candidate's own code is refused
                self.type_keys(&format!("{DEMO_BATCH}0000"))?;
                self.tap_id("IdentifyScreen::identify-ok")?;
                self.wait_for("the scan screen", 5, |a| a.screen() == Screen::ScanCode)?;
                self.tap_id("ScanCodeScreen::demo-code-btn")?;
                self.wait_for("the refusal", 15, |a| a.session.notice().is_some())?;
                self.save("scan-code-refused")?;
                self.tap_id("ScanCodeScreen::scan-back")?;
                for _ in 0..4 {
                    self.tap_label("⌫")?;
                }
                let tail = id_tail(&chsi_demo_id());
                self.type_keys(&tail)?;
                self.save("identify-typed")?;
                self.tap_id("IdentifyScreen::identify-ok")?;
                // then the collection code, held up to the camera as a QR code
                self.wait_for("the scan screen", 5, |a| a.screen() == Screen::ScanCode)?;
                self.wait_for("the preview", 10, |a| a.live_fps() > 0.0)?;
                self.save("scan-code")?;
                self.tap_id("ScanCodeScreen::demo-code-btn")?;
                self.wait_for("the code read", 15, |a| a.screen() != Screen::ScanCode)?;
            }
            _ => {
                // gd-gaokao and bj-chengkao: the candidate taps the ID card on the reader; for
                // bj-chengkao the card whose name has a rare character, so the session takes
                // the manual path (R-ID-3)
                self.app.borrow_mut().demo_card = if profile == "bj-chengkao" { 0 } else { 1 };
                self.tap_id("IdentifyScreen::demo-card-btn")?;
            }
        }
        self.wait_for("identification", 15, |a| a.screen() != Screen::Identify)?;
        self.tap_id("ConfirmInfoScreen::info-ok")?;
        if !self.app.borrow().session.consent_ticked() {
            self.tap_id("ConsentScreen::consent-box")?;
        }
        self.tap_id("ConsentScreen::consent-ok")?;
        self.tap_id("GuideScreen::guide-ok")?;
        for attempt in 0..3 {
            self.wait_for("the live screen", 20, |a| a.screen() == Screen::Live)?;
            if self
                .wait_for("guidance on the preview", 20, |a| {
                    a.screen() != Screen::Live || a.has_guidance()
                })
                .is_ok()
                && self.screen() == Screen::Live
            {
                self.save("live-guidance")?;
            }
            // the simulated candidate walks up and stands still: the kiosk shoots by itself
            let auto = self.wait_for("the automatic capture", 25, |a| a.screen() != Screen::Live);
            if auto.is_err() {
                self.tap_id("LiveScreen::shutter")?;
                self.wait_for("the capture", 10, |a| a.screen() != Screen::Live)?;
            }
            self.wait_for("the checks", 60, |a| !a.session.busy())?;
            self.save("checks-done")?;
            if self.app.borrow().session.checks_passed() {
                break;
            }
            if attempt == 2 {
                bail!("{profile}: the photo failed its checks three times");
            }
            self.tap_id("ChecksScreen::checks-retake")?;
        }
        self.tap_id("ChecksScreen::checks-ok")?;
        if self.screen() == Screen::Verify {
            self.wait_for("verification", 60, |a| !a.session.busy())?;
            self.save("verify-done")?;
            self.tap_id("VerifyScreen::verify-ok")?;
        }
        if self.screen() == Screen::Manual {
            self.tap_id("ManualScreen::manual-ok")?;
            self.wait_for("the documents", 20, |a| a.screen() != Screen::Manual)?;
        }
        self.wait_for("the confirm screen", 5, |a| a.screen() == Screen::Confirm)?;
        self.tap_id("ConfirmScreen::confirm-ok")?;
        self.wait_for("the receipt", 20, |a| a.screen() == Screen::Receipt)?;
        let record = self
            .app
            .borrow()
            .session
            .receipt()
            .map(|r| r.0.clone())
            .ok_or_else(|| anyhow!("no receipt"))?;
        // help on the receipt screen, then done
        self.tap_id("Header::help-btn")?;
        self.save("help")?;
        self.tap_id("KioskWindow::help-close")?;
        self.tap_id("ReceiptScreen::receipt-ok")?;
        self.wait_for("idle", 5, |a| a.screen() == Screen::Idle)?;
        Ok(record)
    }
}

/// Saves the window as it is now to a PNG.
pub fn save_png(ui: &KioskWindow, path: &Path) -> Result<()> {
    let shot = ui
        .window()
        .take_snapshot()
        .map_err(|e| anyhow!("cannot render the window: {e}"))?;
    let img = image::RgbaImage::from_raw(shot.width(), shot.height(), shot.as_bytes().to_vec())
        .ok_or_else(|| anyhow!("the snapshot has the wrong size"))?;
    img.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Installs Slint's testing platform with the software renderer: no display, real layout and
/// text rendering, and taps delivered as pointer events. Once per process.
pub fn install_headless_platform() -> Result<()> {
    let backend = i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        },
    );
    slint::platform::set_platform(Box::new(backend))
        .map_err(|e| anyhow!("cannot set up headless rendering: {e}"))
}

/// The kiosk in demo mode on Slint's headless testing platform, shown and wired up, ready to
/// be driven with a [`Driver`]. Once per process (the platform is process-wide).
pub fn headless_kiosk(
    opts: &KioskOptions,
    catalog: Catalog,
    landscape: bool,
) -> Result<(KioskWindow, std::rc::Rc<std::cell::RefCell<App>>)> {
    install_headless_platform()?;
    let ui = KioskWindow::new()?;
    let (w, h) = if landscape {
        (1920, 1080)
    } else {
        (1080, 1920)
    };
    ui.window().set_size(slint::PhysicalSize::new(w, h));
    ui.global::<super::Metrics>().set_compact(landscape);
    let mut demo_opts = opts.clone();
    demo_opts.force_demo = true;
    let app = std::rc::Rc::new(std::cell::RefCell::new(build_app(
        &ui, &demo_opts, catalog,
    )?));
    super::app::connect(&ui, app.clone());
    ui.show()?;
    Ok((ui, app))
}

/// Marks a data folder the headless demo made, so that the next run may delete it.
const DEMO_DATA_MARK: &str = ".headless-demo-data";

/// The headless demo's own data folder, `DIR/headless-demo-data`, emptied for this run: a
/// scripted demo must meet its candidates as new ones every time (a second run in the kiosk's
/// real data folder met them as returning candidates and stopped on the status screen). Its
/// name is not the kiosk's (`kiosk-data`), and it is refused if it is the kiosk's data folder
/// all the same; a folder of that name that an earlier demo did not make is never deleted
/// unless it is empty.
pub fn fresh_demo_data_dir(out: &Path, kiosk_data: &Path) -> Result<PathBuf> {
    let dir = out.join("headless-demo-data");
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&dir, kiosk_data) {
        bail!(
            "{} is the kiosk's own data folder; the headless demo never runs there: choose another folder for the screenshots",
            dir.display()
        );
    }
    if dir.exists() {
        let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
        if !empty && !dir.join(DEMO_DATA_MARK).exists() {
            bail!(
                "{} exists and was not made by the headless demo; choose another folder for the screenshots",
                dir.display()
            );
        }
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("emptying the demo's data folder {}", dir.display()))?;
    }
    // private like the kiosk's own data folder, which the kiosk refuses otherwise
    crate::store::private_dir(&dir)?;
    std::fs::write(
        dir.join(DEMO_DATA_MARK),
        "made by kiosk --headless-demo; emptied by its next run\n",
    )
    .with_context(|| format!("writing into {}", dir.display()))?;
    Ok(dir)
}

/// `kiosk --headless-demo DIR`: one scripted full session per profile with simulated taps and
/// devices; a PNG of every screen to `DIR/<profile>-<nn>-<screen>.png`. Every session must end
/// with its record in the outbox.
pub fn headless_demo(
    out: &Path,
    opts: &KioskOptions,
    catalog: Catalog,
    profiles: &[&str],
    landscape: bool,
) -> Result<DemoReport> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let started = Instant::now();
    let (ui, app) = headless_kiosk(opts, catalog, landscape)?;
    save_png(&ui, &out.join("first-screen.png"))?;
    let first_screen_ms = started.elapsed().as_millis();
    let mut driver = Driver::new(&ui, app.clone(), out, "");
    for profile in profiles {
        let record = driver.session(profile)?;
        let in_outbox = app
            .borrow()
            .store
            .recent_captures(50)?
            .iter()
            .any(|c| c.id == record);
        if !in_outbox {
            bail!("{profile}: the record {record} is not in the outbox");
        }
        tracing::info!(
            %profile,
            %record,
            screens = driver.report.screenshots.len(),
            seconds = driver.started.elapsed().as_secs(),
            "demo record in the outbox"
        );
        driver.report.sessions.push((profile.to_string(), record));
    }
    let mut report = std::mem::take(&mut driver.report);
    (report.rss_kb, report.peak_rss_kb) = memory_kb();
    report.first_screen_ms = first_screen_ms;
    ui.hide()?;
    Ok(report)
}
