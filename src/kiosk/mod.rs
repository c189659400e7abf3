//! The touchscreen kiosk (an adapter): the Slint window, the controller that runs the session
//! on it, the device workers, and the demo mode with simulated devices. `kiosk` with no
//! arguments starts it; `kiosk --headless-demo DIR` runs a scripted session per profile and
//! writes every screen to PNG.

slint::include_modules!();

pub mod app;
pub mod camera_worker;
pub mod config;
pub mod demo;
pub mod demo_people;
pub mod devices;
pub mod preview;
pub mod print;
pub mod printer_sim;
pub mod printer_state;
pub mod staff;
pub mod texts;
pub mod voice;
pub mod watchdog;

use crate::camera::profile::CameraProfile;
use crate::camera::simulated::{Portrait, Scene, SimulatedCamera};
use crate::camera::FrameSource;
use crate::catalog::Catalog;
use crate::engine::FaceEngine;
use crate::guidance::LiveGuide;
use crate::reader::simulator::{CardDeck, Faults, SimulatedReader};
use crate::session::Screen;
use crate::store::Store;
use anyhow::{Context, Result};
use app::{App, Devices};
use devices::{CameraWorker, ReaderWorker};
use std::path::{Path, PathBuf};

/// How the kiosk starts.
#[derive(Clone, Debug)]
pub struct KioskOptions {
    /// Holds kiosk.sqlite (created if missing).
    pub data_dir: PathBuf,
    /// A V4L2 camera index; None: the first camera if there is one, else the simulator.
    pub camera: Option<u32>,
    /// The ID-card reader's serial port; None: /dev/ttyUSB0 if present, else the simulator.
    pub reader: Option<PathBuf>,
    /// Use the simulators even when hardware is present.
    pub force_demo: bool,
    pub english: bool,
    /// A landscape screen (1920×1080): tighter sizes, letters beside the digits.
    pub landscape: bool,
    /// The collection batch (its feature code for CHSI); None: the one staff chose last (in
    /// demo mode, the demo batch).
    pub batch: Option<String>,
    /// kiosk.toml: its hub link and printer are applied to the database at start.
    pub site: config::KioskConfig,
}

impl KioskOptions {
    pub fn new(data_dir: PathBuf) -> Self {
        KioskOptions {
            data_dir,
            camera: None,
            reader: None,
            force_demo: false,
            landscape: false,
            english: false,
            batch: None,
            site: config::KioskConfig::default(),
        }
    }
}

/// The shipped folder of hardware data (camera profiles, demo cards, demo people):
/// `$KIOSK_HARDWARE_DIR`, an installed kiosk's `/usr/share/capture-kiosk/hardware`, or the
/// source tree's `hardware/` (development and tests).
pub fn hardware_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KIOSK_HARDWARE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(share) = installed_share_dir() {
        return share.join("hardware");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hardware")
}

/// The package's data beside an installed binary: `/usr/bin/kiosk` → `/usr/share/capture-kiosk`
/// (the Debian package's layout), if it is there.
pub fn installed_share_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let share = exe.parent()?.parent()?.join("share/capture-kiosk");
    share.is_dir().then_some(share)
}

fn load_profile(name: &str) -> Result<CameraProfile> {
    let path = hardware_dir().join("cameras").join(format!("{name}.toml"));
    CameraProfile::load(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Opens the devices: real ones where found, simulators otherwise. Returns the devices and
/// whether any simulator is in use (the screen then shows DEMO).
pub fn open_devices(
    opts: &KioskOptions,
    engine: &FaceEngine,
    catalog: &Catalog,
    scratch: &Path,
) -> Result<(Devices, bool)> {
    let profile = catalog.profile(app::PROFILES[0])?.clone();
    let spec_glasses = catalog.spec(&profile.spec)?.glasses_allowed;
    let wants_camera =
        !opts.force_demo && (opts.camera.is_some() || Path::new("/dev/video0").exists());
    let p = load_profile("generic-uvc-1080p")?;
    let model = p.model_for(p.width);
    let real: Option<Box<dyn FrameSource>> = if wants_camera {
        match crate::camera::v4l::V4lCamera::open(opts.camera.unwrap_or(0), p.clone()) {
            Ok(cam) => Some(Box::new(cam)),
            Err(e) => {
                // a laptop's webcam without the kiosk camera's format: demo, not a dead kiosk
                tracing::warn!(error = %e, "the camera cannot be used; using the simulated camera");
                None
            }
        }
    } else {
        None
    };
    let camera_present = real.is_some();
    let mut held_up = None;
    let source: Box<dyn FrameSource> = match real {
        Some(cam) => cam,
        None => {
            let who = demo::demo_portrait(engine)?;
            let scene = Scene::Approach {
                who,
                from_cm: 150.0,
                to_cm: 90.0,
                frames: 24,
            };
            let mut cam = SimulatedCamera::new(scene, model, p.width, p.height, p.fps);
            cam.realtime = true;
            held_up = Some(cam.held_up());
            Box::new(cam)
        }
    };
    let guide = LiveGuide::new(engine.clone(), model, &profile, spec_glasses);
    let camera = CameraWorker::start(source, guide, 720);

    let reader_path = opts.reader.clone().or_else(|| {
        (!opts.force_demo)
            .then(|| PathBuf::from("/dev/ttyUSB0"))
            .filter(|p| p.exists())
    });
    let (reader_path, simulated) = match reader_path {
        Some(p) => (p, None),
        None => {
            let deck_path = hardware_dir().join("reader/demo-cards.toml");
            let text = std::fs::read_to_string(&deck_path)
                .with_context(|| format!("reading {}", deck_path.display()))?;
            let deck = CardDeck::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", deck_path.display()))?;
            let link = scratch.join("reader-sim");
            let sim = SimulatedReader::start(deck, Faults::default(), &link)
                .context("starting the simulated reader")?;
            (link, Some(sim))
        }
    };
    let demo = !camera_present || simulated.is_some();
    let reader = ReaderWorker::start(reader_path);
    Ok((
        Devices {
            camera,
            reader,
            simulated_reader: simulated,
            camera_model: model,
            held_up,
        },
        demo,
    ))
}

/// Builds the controller for `ui`: store, engine, devices, the demo roster when simulated.
pub fn build_app(ui: &KioskWindow, opts: &KioskOptions, catalog: Catalog) -> Result<App> {
    // made 0700, or refused with the chmod that fixes it if other users can read it: it
    // holds candidates' personal data and the hub token
    crate::store::private_dir(&opts.data_dir)?;
    let db = opts.data_dir.join("kiosk.sqlite");
    let mut store = Store::open(&db)?;
    config::apply(&opts.site, &store).context("applying kiosk.toml")?;
    let engine = FaceEngine::load_default().context("loading the face models")?;
    let (devices, demo) = open_devices(opts, &engine, &catalog, &opts.data_dir)?;
    let batch = match &opts.batch {
        Some(b) => b.clone(),
        None => match store.get_setting("batch")? {
            Some(b) => b,
            None if demo => demo::DEMO_BATCH.to_owned(),
            None => String::new(),
        },
    };
    if demo && !batch.is_empty() {
        demo::seed_roster(&mut store, &batch)?;
    }
    let uploader = match crate::upload::stored_link(&store)? {
        Some(link) => {
            let policy = crate::upload::UploadPolicy {
                retention: crate::upload::stored_retention(&store)?,
                ..Default::default()
            };
            Some(crate::upload::spawn_uploader(db.clone(), link, policy)?)
        }
        None => None,
    };
    let mut app = App::new(
        ui,
        catalog,
        engine,
        store,
        db.clone(),
        uploader,
        devices,
        demo,
        batch,
    )?;
    app.import_roots = staff::default_import_roots(&opts.data_dir);
    app.prints_folder = opts.data_dir.join("prints");
    if opts.english {
        app.set_english(true);
    }
    app.refresh();
    Ok(app)
}

/// `kiosk`: the window on the desktop or the kiosk's screen.
pub fn run_window(opts: KioskOptions, catalog: Catalog) -> Result<()> {
    let started = std::time::Instant::now();
    let ui = KioskWindow::new().context("opening the window (is a display available? try Xvfb)")?;
    ui.global::<Metrics>().set_compact(opts.landscape);
    if opts.landscape {
        ui.window()
            .set_size(slint::LogicalSize::new(1920.0, 1080.0));
    }
    let app = std::rc::Rc::new(std::cell::RefCell::new(build_app(&ui, &opts, catalog)?));
    // the real window speaks (the headless demo and tests stay silent)
    app.borrow_mut()
        .start_voice(&voice::clips_dir(), voice::DEVICE);
    app::connect(&ui, app.clone());
    let timer = slint::Timer::default();
    let ticking = app.clone();
    timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_millis(33),
        move || {
            if let Ok(mut a) = ticking.try_borrow_mut() {
                a.tick(crate::store::now_ms());
            }
        },
    );
    ui.show()?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        demo = app.borrow().demo,
        "first screen shown"
    );
    // READY=1 now the window is up; WATCHDOG=1 from this (the UI) thread's timers from here on
    let _watchdog = watchdog::Feeder::start(watchdog::Systemd, watchdog::interval_from_env());
    ui.run()?;
    Ok(())
}

/// Scripted full sessions with simulated taps: see [`demo::headless_demo`].
pub use demo::headless_demo;

/// Mirrors a portrait for the simulator (kept here so the demo can build scenes).
pub fn portrait(engine: &FaceEngine, img: image::RgbImage) -> Result<Option<Portrait>> {
    Ok(Portrait::measure(engine, img)?)
}

/// The window's screen for each of the session's: one to one, so a screen added to the session
/// does not compile until the window has it.
pub fn ui_screen(screen: Screen) -> UiScreen {
    match screen {
        Screen::Idle => UiScreen::Idle,
        Screen::StaffPin => UiScreen::StaffPin,
        Screen::StaffMenu => UiScreen::StaffMenu,
        Screen::StaffImport => UiScreen::StaffImport,
        Screen::StaffAudit => UiScreen::StaffAudit,
        Screen::StaffNewPin => UiScreen::StaffNewPin,
        Screen::StaffReprint => UiScreen::StaffReprint,
        Screen::StaffBatch => UiScreen::StaffBatch,
        Screen::Identify => UiScreen::Identify,
        Screen::ScanCode => UiScreen::ScanCode,
        Screen::ConfirmInfo => UiScreen::ConfirmInfo,
        Screen::Consent => UiScreen::Consent,
        Screen::Guide => UiScreen::Guide,
        Screen::Live => UiScreen::Live,
        Screen::Checks => UiScreen::Checks,
        Screen::Verify => UiScreen::Verify,
        Screen::Manual => UiScreen::Manual,
        Screen::Confirm => UiScreen::Confirm,
        Screen::Receipt => UiScreen::Receipt,
        Screen::Status => UiScreen::Status,
        Screen::Failed => UiScreen::CollectionFailed,
        Screen::Failsafe => UiScreen::Failsafe,
    }
}
