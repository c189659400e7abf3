//! The kiosk's controller: runs on the UI thread, turns taps and device events into session
//! events, carries out the session's effects (camera, checks, verification, store, uploader)
//! with slow work on worker threads, and shows the session's state on the window.
//!
//! One room per job, each an `impl App` of its own: here the state, `dispatch` and the effects;
//! `jobs` the worker threads and what they bring back; `identify` the card, keypad and code;
//! `staff_menu` staff's tools; `timer` the 33 ms tick (camera frames, countdown, scans);
//! `view` what the window shows; `wiring` the window's callbacks.

use super::devices::{CameraWorker, ReaderWorker};
use super::print::Printed;
use super::staff::RosterFile;
use super::KioskWindow;
use crate::camera::simulated::HeldUp;
use crate::catalog::{Bilingual, Catalog, ExamProfile, PhotoSpec};
use crate::engine::FaceEngine;
use crate::hub_protocol::RosterEntry;
use crate::reader::simulator::SimulatedReader;
use crate::session::keypad::Keypad;
use crate::session::{Effect, Event, Rules, Screen, Session};
use crate::store::Store;
use crate::upload::UploaderHandle;
use image::RgbImage;
use slint::{ComponentHandle, ModelRc, VecModel};
use std::sync::mpsc::{self, Receiver, Sender};

mod candidate;
mod identify;
mod jobs;
mod printer;
mod speech;
mod staff_menu;
mod store_facts;
mod timer;
mod view;
mod wiring;
mod writer;

use candidate::{CandidateData, CheckLine};
use store_facts::StoreFacts;
pub use view::beijing_time;
pub use wiring::connect;

/// Slow work finished on a worker thread.
enum Done {
    Checked {
        passed: bool,
        rows: Vec<CheckLine>,
        photo: Option<(Vec<u8>, RgbImage)>,
        report_json: String,
    },
    Verified {
        distance: Option<f32>,
    },
    Withdrawn(Result<(), String>),
    /// The confirmed capture's durable write: its record id, or why it was not stored.
    Stored(Result<String, String>),
    /// The hub's roster for `batch` (the batch staff synced, whatever is chosen by now).
    RosterSynced {
        batch: String,
        rows: Result<Vec<RosterEntry>, String>,
    },
    /// Roster files found on a USB stick.
    RosterFiles(Vec<RosterFile>),
    /// A roster file read and checked, for `batch`.
    RosterRead {
        batch: String,
        file: String,
        rows: Result<Vec<RosterEntry>, String>,
    },
    /// A reprint's outcome, for the capture `record`.
    Printed {
        record: String,
        result: Result<Printed, String>,
    },
    /// What CUPS said about the printer (or why it could not be asked).
    PrinterState(Result<super::printer_state::PrinterState, String>),
    /// The keypad's number and password checked (argon2, about 20 ms: never on the UI
    /// thread): the roster row when both were right.
    PasswordChecked(Option<RosterEntry>),
    /// The staff PIN checked (argon2 for a sealed PIN).
    PinChecked {
        ok: bool,
    },
    /// A PIN sealed for storing: a new one staff chose (`changed`), or an older kiosk's
    /// unsalted PIN replaced after it was typed right.
    PinSealed {
        sealed: Result<String, String>,
        changed: bool,
    },
}

/// Hands a worker's result back, tagged with the session it belongs to: a result that arrives
/// after its candidate left (help → end, idle timeout) must not reach the next candidate.
#[derive(Clone)]
struct JobSender {
    generation: u64,
    tx: Sender<(u64, Done)>,
}

impl JobSender {
    /// Gone results (the kiosk is shutting down) are dropped: nobody is left to show them to.
    fn send(&self, done: Done) {
        let _ = self.tx.send((self.generation, done));
    }
}

/// The kiosk's devices and their simulators.
pub struct Devices {
    pub camera: CameraWorker,
    pub reader: ReaderWorker,
    /// In demo mode: the simulated reader the driver reads through a pseudo-terminal.
    pub simulated_reader: Option<SimulatedReader>,
    /// The camera's geometry, for rebuilding the live guide when the profile changes.
    pub camera_model: crate::guidance::CameraModel,
    /// In demo mode: what the simulated candidate holds up to the camera.
    pub held_up: Option<HeldUp>,
}

pub struct App {
    pub ui: slint::Weak<KioskWindow>,
    catalog: Catalog,
    engine: FaceEngine,
    pub store: Store,
    /// Writes confirmed captures off the UI thread (`writer`).
    writer: writer::CaptureWriter,
    uploader: Option<UploaderHandle>,
    pub devices: Devices,
    pub demo: bool,
    /// Which of the simulated reader's cards the demo button puts on the reader.
    pub demo_card: usize,
    pub session: Session,
    profile_names: Vec<String>,
    selected: usize,
    pub batch: String,
    profile: ExamProfile,
    spec: PhotoSpec,
    english: bool,
    pub(crate) pin: String,
    /// The candidate in front of the kiosk (a wipe replaces it).
    cand: CandidateData,
    /// What the current screen shows from the store, read before each drawing.
    facts: StoreFacts,
    jobs: Receiver<(u64, Done)>,
    jobs_tx: Sender<(u64, Done)>,
    /// Counts sessions: results of an earlier one are dropped.
    generation: u64,
    camera_model: crate::guidance::CameraModel,
    live_fps: f32,
    now_ms: i64,
    notice_extra: Option<Bilingual>,
    /// Staff: where roster files are looked for, and the ones found.
    pub import_roots: Vec<std::path::PathBuf>,
    roster_files: Vec<RosterFile>,
    /// Staff: the captures offered for a reprint, and where sheets are saved.
    reprint_list: Vec<crate::store::CaptureSummary>,
    printing: bool,
    pub prints_folder: std::path::PathBuf,
    /// Staff: the printer as CUPS last described it (`printer`), and when it was last asked.
    printer: printer::PrinterWatch,
    /// Staff: the batch being typed, and the batches with a roster here.
    batch_input: String,
    batch_list: Vec<(String, i64)>,
    /// Staff: the new PIN typed the first time, waiting for the repeat.
    new_pin_first: Option<String>,
    /// The typed staff PIN is being checked: the keypad waits (tens of milliseconds).
    pin_checking: bool,
    /// When staff opened the collection (the closing summary counts from here).
    collection_opened_ms: i64,
    /// Events waiting for the session: an effect's result is queued, never handled inside
    /// the handling of the event that caused it.
    queued: std::collections::VecDeque<Event>,
    dispatching: bool,
    /// The spoken prompts (`speech`); silent until `set_voice`.
    voice: crate::kiosk::voice::Voice,
}

/// The exam profiles staff choose from, in the order of the spec's table.
pub const PROFILES: [&str; 5] = [
    "gd-chengkao",
    "gd-gaokao",
    "bj-chengkao",
    "bj-zikao-degree",
    "chsi-graduation",
];

fn shared_rows<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

fn image_of(img: &RgbImage) -> slint::Image {
    let buffer = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::clone_from_slice(
        img.as_raw(),
        img.width(),
        img.height(),
    );
    slint::Image::from_rgb8(buffer)
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ui: &KioskWindow,
        catalog: Catalog,
        engine: FaceEngine,
        store: Store,
        db: std::path::PathBuf,
        uploader: Option<UploaderHandle>,
        devices: Devices,
        demo: bool,
        batch: String,
    ) -> anyhow::Result<App> {
        // the shipped profiles in the spec's order, then any a site added with --data-dir
        let mut profile_names: Vec<String> = PROFILES
            .iter()
            .filter(|n| catalog.profile(n).is_ok())
            .map(|s| s.to_string())
            .collect();
        profile_names.extend(
            catalog
                .profiles
                .keys()
                .filter(|n| !PROFILES.contains(&n.as_str()))
                .cloned(),
        );
        let first = profile_names
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no exam profile is installed"))?;
        let profile = catalog.profile(&first)?.clone();
        let spec = catalog.spec(&profile.spec)?.clone();
        let (jobs_tx, jobs) = mpsc::channel();
        let camera_model = devices.camera_model;
        // silent until the window starts the voice, but staff's settings show from the start
        let voice = crate::kiosk::voice::Voice::silent(speech::stored_settings(&store));
        let mut app = App {
            ui: ui.as_weak(),
            catalog,
            engine,
            store,
            writer: writer::CaptureWriter::spawn(db)
                .map_err(|e| anyhow::anyhow!("starting the capture writer: {e}"))?,
            uploader,
            devices,
            demo,
            demo_card: 1,
            session: Session::new(Rules::from_profile(&profile)),
            profile_names,
            selected: 0,
            batch,
            profile,
            spec,
            english: false,
            pin: String::new(),
            cand: CandidateData::default(),
            facts: StoreFacts::default(),
            jobs,
            jobs_tx,
            generation: 0,
            camera_model,
            live_fps: 0.0,
            now_ms: crate::store::now_ms(),
            notice_extra: None,
            queued: std::collections::VecDeque::new(),
            dispatching: false,
            import_roots: Vec::new(),
            roster_files: Vec::new(),
            new_pin_first: None,
            pin_checking: false,
            collection_opened_ms: 0,
            reprint_list: Vec::new(),
            printing: false,
            printer: printer::PrinterWatch::default(),
            batch_input: String::new(),
            batch_list: Vec::new(),
            prints_folder: std::env::temp_dir().join("capture-kiosk-prints"),
            voice,
        };
        app.reset_fields();
        Ok(app)
    }

    fn job_sender(&self) -> JobSender {
        JobSender {
            generation: self.generation,
            tx: self.jobs_tx.clone(),
        }
    }

    fn t(&self, zh: &str, en: &str) -> String {
        if self.english {
            en.to_owned()
        } else {
            zh.to_owned()
        }
    }

    pub fn screen(&self) -> Screen {
        self.session.screen()
    }

    /// Analysed camera frames per second over the last second.
    pub fn live_fps(&self) -> f32 {
        self.live_fps
    }

    /// A prompt from the live guide is on the preview.
    pub fn has_guidance(&self) -> bool {
        !self.cand.live_prompt.zh.is_empty()
    }

    pub fn profile_name(&self) -> &str {
        &self.profile.name
    }

    pub fn set_english(&mut self, on: bool) {
        self.english = on;
        self.voice.set_lang(if on {
            crate::kiosk::voice::Lang::En
        } else {
            crate::kiosk::voice::Lang::Zh
        });
        let _ = slint::select_bundled_translation(if on { "en" } else { "" });
        self.refresh();
    }

    pub fn toggle_language(&mut self) {
        self.set_english(!self.english);
    }

    fn reset_fields(&mut self) {
        self.cand.keypad = Keypad::new(&self.profile.keypad);
    }

    /// Chooses the exam profile (staff).
    pub fn select_profile(&mut self, index: usize) {
        let Some(name) = self.profile_names.get(index).cloned() else {
            return;
        };
        let Ok(p) = self.catalog.profile(&name).cloned() else {
            return;
        };
        let Ok(s) = self.catalog.spec(&p.spec).cloned() else {
            return;
        };
        self.selected = index;
        self.devices
            .camera
            .set_guide(crate::guidance::LiveGuide::new(
                self.engine.clone(),
                self.camera_model,
                &p,
                s.glasses_allowed,
            ));
        self.profile = p;
        self.spec = s;
        // only staff changes the profile, with no candidate in session: the rules are all
        // that change
        self.dispatch(Event::ProfileChosen {
            rules: Rules::from_profile(&self.profile),
        });
        self.reset_fields();
        self.refresh();
    }

    pub fn select_profile_named(&mut self, name: &str) -> bool {
        match self.profile_names.iter().position(|n| n == name) {
            Some(i) => {
                self.select_profile(i);
                true
            }
            None => false,
        }
    }

    /// Feeds an event to the session and carries out what follows.
    /// Hands an event to the session and carries out its effects. An event that arrives while
    /// another is being handled (an effect's immediate result) waits its turn in the queue, so
    /// the session sees events one at a time, in order.
    pub fn dispatch(&mut self, event: Event) {
        self.run_queue(event, true);
    }

    /// Like [`App::dispatch`] for the events that seldom change anything (a camera frame,
    /// time passing): the window is redrawn only when the screen changed or effects came back.
    pub(super) fn observe(&mut self, event: Event) {
        self.run_queue(event, false);
    }

    fn run_queue(&mut self, event: Event, always_redraw: bool) {
        self.queued.push_back(event);
        if self.dispatching {
            // the loop below handles it next, and redraws
            return;
        }
        self.dispatching = true;
        let first = self.session.screen();
        let mut acted = false;
        while let Some(event) = self.queued.pop_front() {
            let before = self.session.screen();
            let effects = self.session.handle(event);
            if self.session.screen() != before {
                // a notice belongs to the screen it was given on
                self.notice_extra = None;
            }
            acted |= !effects.is_empty();
            for fx in effects {
                self.effect(fx);
            }
        }
        self.dispatching = false;
        if always_redraw || acted || self.session.screen() != first {
            self.refresh();
        }
    }

    pub fn touched(&mut self) {
        let now = self.now_ms;
        self.session.handle(Event::Touch { now_ms: now });
    }

    fn effect(&mut self, fx: Effect) {
        match fx {
            Effect::StartCamera => {
                self.cand.live_prompt = Bilingual::default();
                self.cand.live_distance = None;
                self.cand.live_good = false;
                self.cand.live_shown = None;
                self.live_fps = 0.0;
                if let Some(ui) = self.ui.upgrade() {
                    // the last picture of the previous screen (the phone held up on the scan
                    // screen) is not shown as if it were live
                    ui.global::<crate::kiosk::Kiosk>()
                        .set_preview(slint::Image::default());
                }
                self.devices
                    .camera
                    .set_scanning(self.session.screen() == Screen::ScanCode);
                self.devices.camera.set_active(true);
            }
            Effect::StopCamera => {
                self.devices.camera.set_active(false);
                if let Some(held) = &self.devices.held_up {
                    // the demo candidate lowers the phone when the camera is done with it
                    held.put_away();
                }
            }
            Effect::RunChecks => self.run_checks(),
            Effect::Verify => self.run_verify(),
            Effect::CaptureDocuments => {
                // the candidate holds the ID card's front, back, then the card beside the face
                // to the camera; each is taken after a visible countdown
                self.cand.documents.clear();
                self.devices.camera.set_scanning(false);
                self.devices.camera.set_active(true);
            }
            Effect::PhotographDocument => self.photograph_document(),
            Effect::JudgeCode { text } => self.code_scanned(text),
            Effect::Submit { manual_review } => self.submit(manual_review),
            Effect::Withdraw { record_id } => self.withdraw(record_id),
            Effect::Wipe => self.wipe(),
        }
    }

    fn wipe(&mut self) {
        self.generation += 1;
        self.pin_checking = false;
        self.cand = CandidateData::default();
        self.reset_fields();
        self.notice_extra = None;
        if let Some(held) = &self.devices.held_up {
            held.put_away();
        }
        self.devices.camera.set_active(false);
        self.devices.camera.forget();
        if let Some(ui) = self.ui.upgrade() {
            ui.global::<crate::kiosk::Kiosk>()
                .set_photo(slint::Image::default());
            ui.global::<crate::kiosk::Kiosk>()
                .set_preview(slint::Image::default());
        }
    }

    /// The kiosk's database failed where a rule or the audit trail depends on it: the kiosk
    /// stops on the failsafe screen (the candidate's session is wiped) instead of carrying on
    /// as if the write or read had worked. An attempt limit must never fail open.
    fn store_failed(&mut self, e: impl std::fmt::Display) {
        tracing::error!(error = %e, "the kiosk's database failed; stopping on the failsafe screen");
        self.dispatch(Event::DeviceLost {
            what: "本机数据库 the kiosk's database".into(),
        });
    }

    /// Writes a staff action to the audit trail; false (and the failsafe screen) if it could
    /// not be written, so the action is not taken unrecorded.
    fn audit(&mut self, action: crate::store::AuditAction, detail: &str) -> bool {
        match self.store.audit("staff", action, detail) {
            Ok(()) => true,
            Err(e) => {
                self.store_failed(e);
                false
            }
        }
    }
}
