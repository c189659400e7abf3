//! The kiosk's controller: runs on the UI thread, turns taps and device events into session
//! events, carries out the session's effects (camera, checks, verification, store, uploader)
//! with slow work on worker threads, and shows the session's state on the window.

use super::devices::{CameraWorker, LiveFrame, ReaderEvent, ReaderWorker};
use super::print::{print_sheet, PrintSetup, Printed};
use super::staff::{
    action_words, find_roster_files, pin_problem, read_roster_file, RosterFile, DEFAULT_PIN,
};
use super::texts::{check_title, guide_items, masked_id};
use super::{CheckRow, FieldView, HealthRow, InfoRow, KioskWindow, ListRow};
use crate::camera::simulated::HeldUp;
use crate::catalog::{Catalog, ExamProfile, PhotoSpec};
use crate::engine::{descriptor_distance, FaceEngine, SAME_PERSON_DISTANCE};
use crate::hub_protocol::RosterEntry;
use crate::imaging::{decode_image, DecodeLimits};
use crate::photo::check_and_make;
use crate::reader::card::CardType;
use crate::reader::simulator::SimulatedReader;
use crate::session::identify::{
    collection_code, id_tail, match_roster, FieldChars, FieldState, RosterCheck,
};
use crate::session::{Candidate, Effect, Event, PreviousRecord, Rules, Screen, Session};
use crate::store::{NewCapture, Store};
use crate::upload::UploaderHandle;
use image::RgbImage;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::sync::mpsc::{self, Receiver, Sender};

/// Slow work finished on a worker thread.
enum Done {
    Checked {
        passed: bool,
        rows: Vec<(String, String, bool, String, String)>,
        photo: Option<(Vec<u8>, RgbImage)>,
        report_json: String,
    },
    Verified {
        distance: Option<f32>,
    },
    Withdrawn(Result<(), String>),
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
    Printed(Result<Printed, String>),
    /// The keypad's number and password checked (argon2, about 20 ms: never on the UI
    /// thread): the roster row when both were right.
    PasswordChecked(Option<RosterEntry>),
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
    fields: Vec<String>,
    active_field: usize,
    candidate_key: String,
    session_id: Option<String>,
    reference: Option<RgbImage>,
    photo: Option<(Vec<u8>, RgbImage)>,
    report_json: String,
    check_rows: Vec<(String, String, bool, String, String)>,
    verification_distance: Option<f32>,
    manual_done: usize,
    /// The manual path's photographs so far, and when the next one is taken.
    documents: Vec<Vec<u8>>,
    next_document_at: Option<i64>,
    jobs: Receiver<(u64, Done)>,
    jobs_tx: Sender<(u64, Done)>,
    /// Counts sessions: results of an earlier one are dropped.
    generation: u64,
    /// When the camera started failing (it reopens itself; a short gap is not a failure).
    camera_failing_since: Option<i64>,
    camera_model: crate::guidance::CameraModel,
    steady_since: Option<i64>,
    /// When the shutter fires, and whether staff or the candidate asked (not automatic).
    countdown_until: Option<i64>,
    countdown_manual: bool,
    live_prompt: (String, String),
    live_distance: Option<f32>,
    live_good: bool,
    live_fps: f32,
    receipt_time: String,
    now_ms: i64,
    notice_extra: Option<(String, String)>,
    /// Staff: where roster files are looked for, and the ones found.
    pub import_roots: Vec<std::path::PathBuf>,
    roster_files: Vec<RosterFile>,
    /// Staff: the captures offered for a reprint, and where sheets are saved.
    reprint_list: Vec<crate::store::CaptureSummary>,
    printing: bool,
    /// The keypad's password is being checked on a worker (a wipe forgets it with the
    /// result, which then belongs to an old generation).
    password_checking: bool,
    pub prints_folder: std::path::PathBuf,
    /// Staff: the batch being typed, and the batches with a roster here.
    batch_input: String,
    batch_list: Vec<(String, i64)>,
    /// Staff: the new PIN typed the first time, waiting for the repeat.
    new_pin_first: Option<String>,
    /// When staff opened the collection (the closing summary counts from here).
    collection_opened_ms: i64,
    /// CHSI: the typed ID tail the collection code must end with, and the last code judged.
    scan_tail: String,
    last_scanned: Option<(String, i64)>,
}

/// Steady and good this long before the automatic countdown starts.
const STEADY_MS: i64 = 1000;
const COUNTDOWN_MS: i64 = 3000;
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
        let mut app = App {
            ui: ui.as_weak(),
            catalog,
            engine,
            store,
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
            fields: Vec::new(),
            active_field: 0,
            candidate_key: String::new(),
            session_id: None,
            reference: None,
            photo: None,
            report_json: String::new(),
            check_rows: Vec::new(),
            verification_distance: None,
            manual_done: 0,
            documents: Vec::new(),
            next_document_at: None,
            jobs,
            jobs_tx,
            generation: 0,
            camera_failing_since: None,
            camera_model,
            steady_since: None,
            countdown_until: None,
            countdown_manual: false,
            live_prompt: (String::new(), String::new()),
            live_distance: None,
            live_good: false,
            live_fps: 0.0,
            receipt_time: String::new(),
            now_ms: crate::store::now_ms(),
            notice_extra: None,
            scan_tail: String::new(),
            last_scanned: None,
            import_roots: Vec::new(),
            roster_files: Vec::new(),
            new_pin_first: None,
            collection_opened_ms: 0,
            reprint_list: Vec::new(),
            printing: false,
            password_checking: false,
            batch_input: String::new(),
            batch_list: Vec::new(),
            prints_folder: std::env::temp_dir().join("capture-kiosk-prints"),
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
        self.session.screen
    }

    /// Analysed camera frames per second over the last second.
    pub fn live_fps(&self) -> f32 {
        self.live_fps
    }

    /// A prompt from the live guide is on the preview.
    pub fn has_guidance(&self) -> bool {
        !self.live_prompt.0.is_empty()
    }

    pub fn profile_name(&self) -> &str {
        &self.profile.name
    }

    pub fn set_english(&mut self, on: bool) {
        self.english = on;
        let _ = slint::select_bundled_translation(if on { "en" } else { "" });
        self.refresh();
    }

    pub fn toggle_language(&mut self) {
        self.set_english(!self.english);
    }

    fn reset_fields(&mut self) {
        self.fields = vec![String::new(); self.profile.keypad.len()];
        self.active_field = 0;
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
        self.session.rules = Rules::from_profile(&self.profile);
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
    pub fn dispatch(&mut self, event: Event) {
        let before = self.session.screen;
        let effects = self.session.handle(event);
        if self.session.screen != before {
            // a notice belongs to the screen it was given on
            self.notice_extra = None;
        }
        for fx in effects {
            self.effect(fx);
        }
        self.refresh();
    }

    pub fn touched(&mut self) {
        let now = self.now_ms;
        self.session.handle(Event::Touch { now_ms: now });
    }

    fn effect(&mut self, fx: Effect) {
        match fx {
            Effect::StartCamera => {
                self.live_prompt = (String::new(), String::new());
                self.live_distance = None;
                self.steady_since = None;
                self.countdown_until = None;
                self.live_good = false;
                self.live_fps = 0.0;
                self.camera_failing_since = None;
                self.devices
                    .camera
                    .set_scanning(self.session.screen == Screen::ScanCode);
                self.devices.camera.set_active(true);
            }
            Effect::StopCamera => {
                self.countdown_until = None;
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
                self.documents.clear();
                self.manual_done = 0;
                self.camera_failing_since = None;
                self.devices.camera.set_scanning(false);
                self.devices.camera.set_active(true);
                self.next_document_at = Some(self.now_ms + COUNTDOWN_MS);
            }
            Effect::Submit { manual_review } => self.submit(manual_review),
            Effect::Withdraw { record_id } => self.withdraw(record_id),
            Effect::Wipe => self.wipe(),
        }
    }

    fn wipe(&mut self) {
        self.generation += 1;
        self.password_checking = false;
        self.reset_fields();
        self.candidate_key.clear();
        self.session_id = None;
        self.reference = None;
        self.photo = None;
        self.report_json.clear();
        self.check_rows.clear();
        self.verification_distance = None;
        self.manual_done = 0;
        self.documents.clear();
        self.next_document_at = None;
        self.receipt_time.clear();
        self.notice_extra = None;
        self.scan_tail.clear();
        self.last_scanned = None;
        if let Some(held) = &self.devices.held_up {
            held.put_away();
        }
        self.devices.camera.set_active(false);
        self.devices.camera.forget();
        if let Some(ui) = self.ui.upgrade() {
            ui.set_photo(slint::Image::default());
            ui.set_preview(slint::Image::default());
        }
    }

    fn run_checks(&mut self) {
        let Some(frame) = self.devices.camera.capture() else {
            self.job_sender().send(Done::Checked {
                passed: false,
                rows: vec![(
                    "camera".into(),
                    "camera".into(),
                    false,
                    "没有拍到照片".into(),
                    "no photo was taken".into(),
                )],
                photo: None,
                report_json: "{}".into(),
            });
            return;
        };
        let (engine, spec, profile, tx) = (
            self.engine.clone(),
            self.spec.clone(),
            self.profile.clone(),
            self.job_sender(),
        );
        std::thread::spawn(move || {
            // the capture is decoded here, in full, off the UI thread
            let analysed = frame
                .full()
                .map_err(|e| e.to_string())
                .and_then(|f| Ok((engine.analyze_still(&f).map_err(|e| e.to_string())?, f)));
            let done = match analysed {
                Ok((analysis, frame)) => {
                    let (report, made) =
                        check_and_make(&engine, &frame, &analysis, &spec, &profile);
                    let made = made.ok();
                    let rows = report
                        .checks
                        .iter()
                        .filter(|c| c.limit.is_some() || !c.ok)
                        .map(|c| {
                            let (zh, en) = check_title(c.id);
                            let (rz, re) = c
                                .reason
                                .as_ref()
                                .map(|r| (r.zh.to_owned(), r.en.to_owned()))
                                .unwrap_or_default();
                            (zh.to_owned(), en.to_owned(), c.ok, rz, re)
                        })
                        .collect();
                    let passed = report.ok && made.as_ref().is_some_and(|m| m.valid);
                    let photo = made.and_then(|m| {
                        let rgb = decode_image(&m.jpeg, DecodeLimits::default()).ok()?;
                        Some((m.jpeg, rgb))
                    });
                    Done::Checked {
                        passed,
                        rows,
                        photo,
                        report_json: serde_json::to_string(&report).unwrap_or_else(|_| "{}".into()),
                    }
                }
                Err(e) => Done::Checked {
                    passed: false,
                    rows: vec![(
                        "engine".into(),
                        "engine".into(),
                        false,
                        format!("检测失败：{e}"),
                        format!("the check failed: {e}"),
                    )],
                    photo: None,
                    report_json: "{}".into(),
                },
            };
            tx.send(done);
        });
    }

    fn run_verify(&mut self) {
        let (Some(reference), Some((_, photo))) = (self.reference.clone(), self.photo.clone())
        else {
            self.job_sender().send(Done::Verified { distance: None });
            return;
        };
        let (engine, tx) = (self.engine.clone(), self.job_sender());
        std::thread::spawn(move || {
            // the two faces are described side by side, one per core
            let (a, b) = std::thread::scope(|scope| {
                let a = scope.spawn(|| engine.describe(&reference).ok().flatten());
                let b = engine.describe(&photo).ok().flatten();
                (a.join().ok().flatten(), b)
            });
            let distance = match (a, b) {
                (Some(a), Some(b)) => Some(descriptor_distance(&a, &b)),
                _ => None,
            };
            tx.send(Done::Verified { distance });
        });
    }

    fn submit(&mut self, manual_review: bool) {
        let Some((jpeg, _)) = self.photo.clone() else {
            self.dispatch(Event::SubmitFailed {
                reason: "no photo".into(),
            });
            return;
        };
        let session_id = match &self.session_id {
            Some(s) => s.clone(),
            None => match self.store.start_session(&self.profile.name, &self.batch) {
                Ok(s) => s,
                Err(e) => {
                    self.dispatch(Event::SubmitFailed {
                        reason: e.to_string(),
                    });
                    return;
                }
            },
        };
        let result = self.store.submit(&NewCapture {
            session_id: &session_id,
            profile: &self.profile.name,
            candidate_key: &self.candidate_key,
            spec: &self.spec.name,
            photo_jpeg: &jpeg,
            check_report_json: &self.report_json,
            verification_distance: self.verification_distance,
            manual_review,
            documents: &self.documents,
        });
        match result {
            Ok(id) => {
                if let Some(u) = &self.uploader {
                    u.wake();
                }
                let now = crate::store::now_ms();
                self.receipt_time = beijing_time(now);
                self.dispatch(Event::Submitted {
                    record_id: id,
                    at_ms: now,
                });
            }
            Err(e) => self.dispatch(Event::SubmitFailed {
                reason: e.to_string(),
            }),
        }
    }

    fn withdraw(&mut self, record_id: String) {
        let link = crate::upload::stored_link(&self.store).ok().flatten();
        let tx = self.job_sender();
        std::thread::spawn(move || {
            let result = (|| -> Result<(), String> {
                let link = link.ok_or("this kiosk is not linked to a hub")?;
                let client = crate::upload::HubClient::new(&link).map_err(|e| e.to_string())?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(client.withdraw(&record_id))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })();
            tx.send(Done::Withdrawn(result));
        });
    }

    /// Staff: fetch the batch's roster from the hub.
    pub fn sync_roster(&mut self) {
        if !self.batch_chosen() {
            return;
        }
        let link = crate::upload::stored_link(&self.store).ok().flatten();
        let (tx, batch) = (self.job_sender(), self.batch.clone());
        std::thread::spawn(move || {
            let result = (|| -> Result<Vec<RosterEntry>, String> {
                let link = link.ok_or("this kiosk is not linked to a hub (kiosk queue link)")?;
                let client = crate::upload::HubClient::new(&link).map_err(|e| e.to_string())?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(client.roster(&batch))
                    .map_err(|e| e.to_string())
            })();
            tx.send(Done::RosterSynced {
                batch,
                rows: result,
            });
        });
    }

    /// Whether staff chose a batch; if not, says so (rosters and collections belong to one).
    fn batch_chosen(&mut self) -> bool {
        if self.batch.is_empty() {
            self.notice_extra = Some(("请先选择批次".into(), "choose the batch first".into()));
            self.refresh();
        }
        !self.batch.is_empty()
    }

    /// Staff: open (or continue) the collection for the chosen profile and batch.
    pub fn staff_open(&mut self) {
        if !self.batch_chosen() {
            return;
        }
        if !self.session.open {
            self.collection_opened_ms = self.now_ms;
            let detail = format!("{} {}", self.profile.name, self.batch);
            if !self.audit("open_collection", &detail) {
                return;
            }
        }
        self.dispatch(Event::StaffOpen);
    }

    /// Staff: end the collection, with what it took and what still waits for upload.
    pub fn staff_end_collection(&mut self) {
        let (taken, waiting) = self
            .store
            .captures_since(self.collection_opened_ms)
            .unwrap_or((0, 0));
        // the roster (names, ID numbers, phones, registration photos) is not needed once the
        // collection is over: what waits for upload does not use it
        let forgotten = match self.store.remove_roster(&self.batch) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "the roster could not be removed at the end of the collection");
                0
            }
        };
        self.audit(
            "end_collection",
            &format!(
                "{} {}: {taken} captures, {waiting} waiting for upload, roster of {forgotten} removed",
                self.profile.name, self.batch
            ),
        );
        self.notice_extra = Some((
            format!("采集已结束：本次采集 {taken} 人，{waiting} 条待上传。联网后会自动上传，请勿删除数据。本批次名单已从本机删除。"),
            format!("Collection ended: {taken} captures, {waiting} waiting for upload. They upload by themselves once the network is there; do not delete the data. The batch's roster was removed from this kiosk."),
        ));
        self.dispatch(Event::StaffEndCollection);
    }

    /// Staff: look for roster files (a USB stick just plugged in, or the import folder), on
    /// a worker: a slow stick or a network mount must not freeze the screen.
    pub fn staff_import(&mut self) {
        if !self.batch_chosen() {
            return;
        }
        self.roster_files.clear();
        if self.session.screen != Screen::StaffImport {
            self.dispatch(Event::StaffImport);
        }
        self.notice_extra = Some((
            "正在查找名单文件…".into(),
            "looking for roster files…".into(),
        ));
        self.refresh();
        let (tx, roots) = (self.job_sender(), self.import_roots.clone());
        std::thread::spawn(move || tx.send(Done::RosterFiles(find_roster_files(&roots))));
    }

    /// Staff: read and check one of the files found on a worker; it becomes this batch's
    /// roster (all rows or none) when it comes back.
    pub fn staff_import_file(&mut self, index: usize) {
        let Some(file) = self.roster_files.get(index).cloned() else {
            return;
        };
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.notice_extra = Some((format!("正在读取 {name}…"), format!("reading {name}…")));
        self.refresh();
        let (tx, batch) = (self.job_sender(), self.batch.clone());
        std::thread::spawn(move || {
            let rows = read_roster_file(&file.path).map_err(|e| format!("{e:#}"));
            tx.send(Done::RosterRead {
                batch,
                file: name,
                rows,
            });
        });
    }

    /// A roster (from the hub or a file) for `batch` replaces that batch's roster here; an
    /// empty one never does (a hub that does not know the batch answers with no rows).
    fn store_roster(
        &mut self,
        batch: &str,
        source: &str,
        rows: Result<Vec<RosterEntry>, String>,
    ) -> Result<usize, String> {
        let rows = rows?;
        if rows.is_empty() {
            return Err(format!(
                "{source} has no candidates for batch {batch}; the roster here is kept"
            ));
        }
        self.store
            .replace_roster(batch, &rows)
            .map_err(|e| e.to_string())?;
        Ok(rows.len())
    }

    /// Staff: the recent captures whose photo is still on the kiosk, to print again.
    pub fn staff_reprint(&mut self) {
        self.reprint_list = self
            .store
            .recent_captures(if self.compact() { 6 } else { 10 })
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.photo_kept)
            .collect();
        self.dispatch(Event::StaffReprint);
    }

    /// Staff: print one capture's sheet on a worker thread (layout, JPEG, print service).
    pub fn reprint(&mut self, index: usize) {
        if self.printing {
            // one print at a time: a second tap while it runs is not a second order
            return;
        }
        let Some(id) = self.reprint_list.get(index).map(|c| c.id.clone()) else {
            return;
        };
        let photo = match self.store.capture_photo(&id) {
            Ok(Some(p)) => p,
            _ => {
                self.notice_extra = Some((
                    "这张照片已不在本机（已上传并过了保留期）".into(),
                    "this photo is no longer on the kiosk (uploaded, retention over)".into(),
                ));
                self.refresh();
                return;
            }
        };
        let setting = |key: &str| self.store.get_setting(key).ok().flatten();
        let setup = PrintSetup {
            layout: setting("print_layout").unwrap_or_else(|| "1in*8+2in*4".into()),
            printer: setting("printer").filter(|p| !p.is_empty()),
            command: setting("print_command").unwrap_or_else(|| "lp".into()),
            folder: self.prints_folder.clone(),
        };
        if !self.audit("reprint", &id) {
            return;
        }
        self.printing = true;
        self.notice_extra = Some(("正在准备打印…".into(), "preparing the print…".into()));
        self.refresh();
        let tx = self.job_sender();
        std::thread::spawn(move || {
            let result = print_sheet(&setup, &photo, &id).map_err(|e| format!("{e:#}"));
            tx.send(Done::Printed(result));
        });
    }

    /// Staff: choose the batch, from those with a roster here or typed.
    pub fn staff_batch(&mut self) {
        self.batch_input = self.batch.clone();
        self.batch_list = self.store.roster_batches().unwrap_or_default();
        // the batches with the largest rosters; the keypad needs the rest of the screen
        self.batch_list.truncate(2);
        self.dispatch(Event::StaffBatch);
    }

    /// Staff: one of the listed batches.
    pub fn pick_batch(&mut self, index: usize) {
        if let Some((b, _)) = self.batch_list.get(index) {
            self.batch_input = b.clone();
            self.batch_ok();
        }
    }

    /// Staff: use the typed batch from now on (also after a restart).
    pub fn batch_ok(&mut self) {
        let batch = self.batch_input.trim().to_owned();
        if batch.is_empty() {
            self.notice_extra = Some(("请输入批次".into(), "type the batch".into()));
            self.refresh();
            return;
        }
        if batch != self.batch {
            if let Err(e) = self.store.set_setting("batch", &batch) {
                self.store_failed(e);
                return;
            }
            if !self.audit("choose_batch", &format!("{} → {batch}", self.batch)) {
                return;
            }
            self.batch = batch;
        }
        self.dispatch(Event::BatchChosen);
    }

    /// Staff: start setting a new PIN.
    pub fn staff_change_pin(&mut self) {
        self.pin.clear();
        self.new_pin_first = None;
        self.dispatch(Event::StaffChangePin);
    }

    /// Staff: the new PIN's OK, once to type it and once to repeat it.
    pub fn new_pin_ok(&mut self) {
        let typed = std::mem::take(&mut self.pin);
        if let Some((zh, en)) = pin_problem(&typed, DEFAULT_PIN) {
            self.new_pin_first = None;
            self.notice_extra = Some((zh.into(), en.into()));
            self.refresh();
            return;
        }
        match self.new_pin_first.take() {
            None => {
                self.new_pin_first = Some(typed);
                self.notice_extra = None;
                self.refresh();
            }
            Some(first) if first == typed => {
                let stored = super::staff::set_pin(&self.store, &typed);
                if let Err(e) = stored {
                    self.notice_extra =
                        Some(("PIN 未能保存".into(), format!("the PIN was not saved: {e}")));
                    self.refresh();
                    return;
                }
                if !self.audit("change_pin", "") {
                    return;
                }
                self.notice_extra = None;
                self.dispatch(Event::PinChanged);
            }
            Some(_) => {
                self.notice_extra = Some((
                    "两次输入的 PIN 不一致，请重新输入".into(),
                    "the two PINs differ; type the new PIN again".into(),
                ));
                self.refresh();
            }
        }
    }

    /// The captures offered for a reprint, as staff read them (the candidate number masked
    /// like the ID number: staff need to tell records apart, not read them out).
    fn reprint_rows(&self) -> Vec<ListRow> {
        self.reprint_list
            .iter()
            .map(|c| {
                let title = self
                    .catalog
                    .profile(&c.profile)
                    .map(|p| self.t(&p.title.zh, &p.title.en))
                    .unwrap_or_else(|_| c.profile.clone());
                ListRow {
                    title: format!("{}  {}", beijing_time(c.created_at_ms), title).into(),
                    detail: format!("{} · {}", masked_id(&c.candidate_key), c.status_line()).into(),
                }
            })
            .collect()
    }

    /// The landscape layout (fewer rows fit).
    fn compact(&self) -> bool {
        self.ui
            .upgrade()
            .is_some_and(|ui| ui.global::<super::Metrics>().get_compact())
    }

    /// The newest audit lines for the staff screen.
    fn audit_rows(&self) -> Vec<ListRow> {
        self.store
            .recent_audit(if self.compact() { 14 } else { 18 })
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let (zh, en) = action_words(&a.action);
                ListRow {
                    title: format!("{}  {}", beijing_time(a.at_ms), self.t(&zh, &en)).into(),
                    detail: a.detail.into(),
                }
            })
            .collect()
    }

    // ------------------------------------------------------------------ identification

    /// A card was read while the identify screen is up.
    fn card_read(&mut self, read: crate::reader::driver::CardRead) {
        if let Some(sim) = &self.devices.simulated_reader {
            // the demo candidate takes the card back once it was read
            sim.lift();
        }
        if self.session.screen != Screen::Identify {
            return;
        }
        let card = read.card;
        if read.expired {
            self.dispatch(Event::IdentifyFailed {
                zh: "身份证已过期，请使用有效证件".into(),
                en: "this ID card has expired; please use a valid document".into(),
            });
            return;
        }
        let roster_size = self.store.roster_size(&self.batch).unwrap_or(0);
        let entry = self
            .store
            .roster_by_id_number(&self.batch, &card.id_number)
            .ok()
            .flatten();
        let roster = if roster_size == 0 {
            // no roster for this batch yet: nobody can be matched (R-ID-2); staff sees it
            RosterCheck {
                blocked: vec!["roster"],
                warned: Vec::new(),
                on_roster: false,
            }
        } else {
            match_roster(
                &card.name,
                &card.id_number,
                &card.ethnicity,
                &card.address,
                entry.as_ref(),
            )
        };
        let key = entry
            .as_ref()
            .map(|e| e.candidate_key.clone())
            .unwrap_or_else(|| card.id_number.clone());
        let candidate = Candidate {
            candidate_key: key,
            name: card.name.clone(),
            id_number: card.id_number.clone(),
            ethnicity: card.ethnicity.clone(),
            address: card.address.clone(),
            resident_card: card.card_type == CardType::Resident,
            other_document: card.card_type != CardType::Resident,
            has_reference_face: false,
        };
        self.identified(candidate, roster);
    }

    /// Identification succeeded: roster photo, earlier records and attempts, then the session.
    fn identified(&mut self, mut candidate: Candidate, roster: RosterCheck) {
        self.candidate_key = candidate.candidate_key.clone();
        self.reference = self
            .store
            .roster_photo(&self.batch, &candidate.candidate_key)
            .ok()
            .flatten()
            .and_then(|b| decode_image(&b, DecodeLimits::default()).ok());
        candidate.has_reference_face = self.reference.is_some();
        let previous = self
            .store
            .candidate_captures(&self.profile.name, &candidate.candidate_key)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|c| PreviousRecord {
                record_id: c.id.clone(),
                review: c.review_state,
                status_line: c.status_line(),
            });
        // the attempt limit rests on this count: unreadable, the kiosk stops (never 0)
        let failures = match self
            .store
            .consecutive_failures(&self.profile.name, &candidate.candidate_key)
        {
            Ok(n) => n as u32,
            Err(e) => {
                self.store_failed(e);
                return;
            }
        };
        self.session_id = self
            .store
            .start_session(&self.profile.name, &self.batch)
            .ok();
        self.dispatch(Event::Identified {
            candidate,
            roster,
            previous,
            failures_so_far: failures,
        });
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
    fn audit(&mut self, action: &str, detail: &str) -> bool {
        match self.store.audit("staff", action, detail) {
            Ok(()) => true,
            Err(e) => {
                self.store_failed(e);
                false
            }
        }
    }

    fn wrong_credentials(&mut self) {
        let phone = self.profile.help_phone.clone();
        self.dispatch(Event::IdentifyFailed {
            zh: format!("号码或密码不正确。忘记密码请联系工作人员或当地招生考试机构：{phone}"),
            en: format!("The number or password is wrong. To reset the password ask the staff or the local exam office: {phone}"),
        });
    }

    /// The keypad's OK: check every field, then look the candidate up.
    pub fn submit_keypad(&mut self) {
        for (spec, text) in self.profile.keypad.iter().zip(&self.fields) {
            if spec.state(text) != FieldState::Complete {
                let (zh, en) = (spec.label.zh.clone(), spec.label.en.clone());
                self.dispatch(Event::IdentifyFailed {
                    zh: format!("请完整填写：{zh}"),
                    en: format!("please complete: {en}"),
                });
                return;
            }
        }
        let value = |key: &str| -> String {
            self.profile
                .keypad
                .iter()
                .position(|f| f.key == key)
                .map(|i| self.fields[i].clone())
                .unwrap_or_default()
        };
        if self.profile.keypad.iter().any(|f| f.key == "batch_code") {
            // CHSI: the batch's feature code and the last four of the ID number, then the
            // candidate's collection QR code to the camera
            if !value("batch_code").eq_ignore_ascii_case(&self.batch) {
                self.dispatch(Event::IdentifyFailed {
                    zh: "批次特征码不正确，请核对".into(),
                    en: "the batch feature code is wrong; please check it".into(),
                });
                return;
            }
            self.scan_tail = id_tail(&value("id_tail"));
            self.last_scanned = None;
            self.dispatch(Event::CodeNeeded);
            return;
        }
        let key = value("candidate_key");
        let found = self.store.roster_entry(&self.batch, &key).ok().flatten();
        if self
            .profile
            .keypad
            .iter()
            .any(|f| f.chars == FieldChars::Secret)
        {
            // a second OK while the first is being checked changes nothing
            if self.password_checking {
                return;
            }
            self.password_checking = true;
            let password = value("password");
            let tx = self.job_sender();
            std::thread::spawn(move || {
                // a wrong password and an unknown number read the same, and take as long
                // (R-ID-1)
                let right = crate::roster::secret_matches(
                    found.as_ref().map(|e| e.secret.as_str()),
                    &key,
                    &password,
                );
                tx.send(Done::PasswordChecked(found.filter(|_| right)));
            });
            return;
        }
        let Some(e) = found else {
            self.wrong_credentials();
            return;
        };
        self.identified_on_roster(e);
    }

    /// The keypad (or the collection code) found the candidate's roster row.
    fn identified_on_roster(&mut self, e: RosterEntry) {
        let candidate = Candidate {
            candidate_key: e.candidate_key.clone(),
            name: e.name.clone(),
            id_number: e.id_number.clone(),
            ethnicity: e.ethnicity.clone(),
            address: e.address.clone(),
            resident_card: false,
            other_document: false,
            has_reference_face: false,
        };
        let roster = RosterCheck {
            on_roster: true,
            ..RosterCheck::default()
        };
        self.identified(candidate, roster);
    }

    /// A QR code was read on the scan screen (CHSI): its collection code must end with the
    /// typed ID tail and be on the batch's roster.
    fn code_scanned(&mut self, text: String, now: i64) {
        // the same code in front of the camera is judged once, again only after a while
        if let Some((last, at)) = &self.last_scanned {
            if *last == text && now - at < 4000 {
                return;
            }
        }
        self.last_scanned = Some((text.clone(), now));
        let code = match collection_code(&text, &self.scan_tail) {
            Ok(code) => code,
            Err(problem) => {
                let (zh, en) = problem.message();
                self.dispatch(Event::IdentifyFailed {
                    zh: zh.into(),
                    en: en.into(),
                });
                return;
            }
        };
        if let Some(held) = &self.devices.held_up {
            // the demo candidate lowers the phone once the code was read
            held.put_away();
        }
        let entry = self
            .store
            .roster_entry(&self.batch, &code)
            .ok()
            .flatten()
            .filter(|e| id_tail(&e.id_number) == self.scan_tail);
        match entry {
            Some(e) => self.identified_on_roster(e),
            None => {
                let phone = self.profile.help_phone.clone();
                self.dispatch(Event::IdentifyFailed {
                    zh: format!("本批次名单中没有这个采集码，请联系工作人员：{phone}"),
                    en: format!("this collection code is not on this batch's roster; please ask the staff: {phone}"),
                });
            }
        }
    }

    pub fn key(&mut self, k: &str) {
        if self.session.screen == Screen::StaffBatch {
            if self.batch_input.chars().count() < 20 && k.chars().all(|c| c.is_ascii_alphanumeric())
            {
                self.batch_input.push_str(&k.to_uppercase());
            }
            self.refresh();
            return;
        }
        if self.session.screen == Screen::StaffNewPin {
            if self.pin.len() < 8 && k.chars().all(|c| c.is_ascii_digit()) {
                self.pin.push_str(k);
            }
            self.refresh();
            return;
        }
        if self.session.screen == Screen::StaffPin {
            self.pin.push_str(k);
            // PINs are 4 to 8 digits: unlock as soon as it matches, refuse at 8
            let ok = self.pin.len() >= 4 && self.pin_matches();
            if ok || self.pin.len() >= 8 {
                self.pin.clear();
                // staff mode is not opened unrecorded
                if !self.audit(if ok { "unlock" } else { "wrong_pin" }, "") {
                    self.refresh();
                    return;
                }
                self.dispatch(Event::PinChecked { ok });
            }
            self.refresh();
            return;
        }
        let Some(spec) = self.profile.keypad.get(self.active_field).cloned() else {
            return;
        };
        let Some(c) = k.chars().next() else { return };
        let field = &mut self.fields[self.active_field];
        if spec.accepts(c) && field.chars().count() < spec.length[1] {
            field.push(c);
            if spec.state(field) == FieldState::Complete
                && self.active_field + 1 < self.fields.len()
            {
                self.active_field += 1;
            }
        }
        self.refresh();
    }

    fn pin_matches(&self) -> bool {
        super::staff::pin_matches(&self.store, &self.pin)
    }

    pub fn backspace(&mut self) {
        if self.session.screen == Screen::StaffBatch {
            self.batch_input.pop();
        } else if matches!(self.session.screen, Screen::StaffPin | Screen::StaffNewPin) {
            self.pin.pop();
        } else if let Some(f) = self.fields.get_mut(self.active_field) {
            if f.pop().is_none() && self.active_field > 0 {
                self.active_field -= 1;
            }
        }
        self.refresh();
    }

    pub fn select_field(&mut self, i: usize) {
        if i < self.fields.len() {
            self.active_field = i;
        }
        self.refresh();
    }

    /// Demo mode: put the simulated reader's long-term resident card on the reader; the real
    /// driver reads it through the pseudo-terminal.
    pub fn present_demo_card(&mut self) {
        if let Some(sim) = &self.devices.simulated_reader {
            sim.present(self.demo_card);
        }
    }

    /// The shutter button: a visible countdown, then the capture.
    pub fn shutter(&mut self) {
        if self.session.screen == Screen::Live && self.countdown_until.is_none() {
            self.countdown_until = Some(self.now_ms + COUNTDOWN_MS);
            self.countdown_manual = true;
            self.refresh();
        }
    }

    // ------------------------------------------------------------------ the timer

    /// Called several times a second on the UI thread: device events, finished work, the live
    /// preview and guidance, the countdown and the idle timeout.
    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        while let Some(ev) = self.devices.reader.poll() {
            match ev {
                ReaderEvent::Card(read) => self.card_read(*read),
                ReaderEvent::Lost(what) => {
                    if self.session.screen == Screen::Identify {
                        self.notice_extra = Some(("读卡器未连接，请使用键盘输入或联系工作人员".into(), format!("the ID-card reader is not connected ({what}); type your number or ask the staff")));
                    }
                }
                ReaderEvent::Back => self.notice_extra = None,
            }
        }
        while let Ok((generation, done)) = self.jobs.try_recv() {
            if generation == self.generation {
                self.finished(done);
            }
        }
        if self.session.screen == Screen::Live {
            self.live(now_ms);
        }
        if self.session.screen == Screen::ScanCode {
            self.scan_step(now_ms);
        }
        if self.session.screen == Screen::Manual && self.next_document_at.is_some() {
            self.document_step(now_ms);
        }
        if self.session.screen == Screen::Failsafe {
            self.camera_recovery();
        }
        // a tick changes nothing unless the idle timeout ends the session or locks staff
        // mode: no refresh otherwise
        let before = self.session.screen;
        let effects = self.session.handle(Event::Tick { now_ms });
        if !effects.is_empty() || self.session.screen != before {
            self.pin.clear();
            for fx in effects {
                self.effect(fx);
            }
            self.refresh();
        }
    }

    /// On the failsafe screen after a camera failure: keep asking the camera; its first good
    /// frame brings the kiosk back.
    fn camera_recovery(&mut self) {
        if self.camera_failing_since.is_none() {
            return;
        }
        self.devices.camera.set_active(true);
        if let Some(Ok(_)) = self.devices.camera.poll() {
            self.camera_failing_since = None;
            self.devices.camera.set_active(false);
            self.dispatch(Event::DeviceBack);
        }
    }

    /// The newest camera frame, already on the preview; `Err` when the camera is lost (a
    /// failure lasting over 3 s: it reopens itself after an unplug, so a short gap is not one).
    fn poll_camera(&mut self, now: i64) -> Result<Option<LiveFrame>, ()> {
        match self.devices.camera.poll() {
            Some(Ok(f)) => {
                self.camera_failing_since = None;
                self.live_fps = f.fps;
                if let Some(ui) = self.ui.upgrade() {
                    // shares the buffer with the frame: no copy
                    ui.set_preview(slint::Image::from_rgb8(f.preview.clone()));
                }
                Ok(Some(f))
            }
            Some(Err(e)) => {
                let since = *self.camera_failing_since.get_or_insert(now);
                if now - since > 3000 {
                    self.next_document_at = None;
                    self.dispatch(Event::DeviceLost {
                        what: format!("camera: {e}"),
                    });
                    return Err(());
                }
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn live(&mut self, now: i64) {
        let Ok(frame) = self.poll_camera(now) else {
            return;
        };
        if let Some(f) = frame {
            if let Some(g) = f.guidance {
                self.live_good = g.steady_frames > 0;
                self.live_prompt = (g.text.zh.to_owned(), g.text.en.to_owned());
                self.live_distance = g.distance_cm;
            }
            if self.live_good {
                self.steady_since.get_or_insert(now);
            } else {
                self.steady_since = None;
                // moving out of position stops an automatic countdown
                if !self.countdown_manual {
                    self.countdown_until = None;
                }
            }
        }
        if self.countdown_until.is_none() && self.steady_since.is_some_and(|t| now - t >= STEADY_MS)
        {
            self.countdown_until = Some(now + COUNTDOWN_MS);
            self.countdown_manual = false;
        }
        self.refresh_live();
        if self.countdown_until.is_some_and(|t| now >= t) {
            self.countdown_until = None;
            self.countdown_manual = false;
            self.dispatch(Event::Continue);
        }
    }

    /// The scan screen: show the camera, and judge any QR code it reads.
    fn scan_step(&mut self, now: i64) {
        let Ok(Some(f)) = self.poll_camera(now) else {
            return;
        };
        self.refresh_live();
        // another code in view (a poster, a payment code) must not hide the candidate's
        let tail = self.scan_tail.clone();
        let text = f
            .codes
            .iter()
            .find(|c| collection_code(c, &tail).is_ok())
            .or(f.codes.first())
            .cloned();
        if let Some(text) = text {
            self.code_scanned(text, now);
        }
    }

    /// Demo mode: the simulated candidate holds the phone with the collection code up.
    pub fn show_demo_code(&mut self) {
        let Some(held) = &self.devices.held_up else {
            return;
        };
        if let Some(phone) = crate::camera::simulated::phone_showing_qr(
            &super::demo_people::demo_collection_code(),
            9,
        ) {
            held.show(phone);
        }
    }

    /// The manual path: show the camera, and take the next document photograph when due.
    fn document_step(&mut self, now: i64) {
        if self.poll_camera(now).is_err() {
            return;
        }
        self.refresh_live();
        if self.next_document_at.is_some_and(|t| now < t) {
            return;
        }
        let Some(frame) = self.devices.camera.capture() else {
            return;
        };
        // the camera's own JPEG as it came (no second compression on the UI thread)
        let Ok(jpeg) = frame.to_jpeg(90) else {
            return;
        };
        self.documents.push(jpeg);
        self.manual_done = self.documents.len();
        if self.documents.len() < 3 {
            self.next_document_at = Some(now + COUNTDOWN_MS);
            self.refresh_live();
        } else {
            self.next_document_at = None;
            self.devices.camera.set_active(false);
            self.dispatch(Event::DocumentsCaptured);
        }
    }

    fn finished(&mut self, done: Done) {
        match done {
            Done::Checked {
                passed,
                rows,
                photo,
                report_json,
            } => {
                self.check_rows = rows;
                self.report_json = report_json;
                if let (Some((_, rgb)), Some(ui)) = (&photo, self.ui.upgrade()) {
                    ui.set_photo(image_of(rgb));
                }
                self.photo = photo;
                self.dispatch(Event::Checked {
                    passed: passed && self.photo.is_some(),
                });
            }
            Done::Verified { distance: None } => {
                // nothing was compared (no face in the reference, engine error): not an attempt
                self.dispatch(Event::VerifyUnavailable);
            }
            Done::Verified { distance } => {
                self.verification_distance = distance;
                let passed = distance.is_some_and(|d| d < SAME_PERSON_DISTANCE);
                // an attempt that cannot be recorded does not count as made: the kiosk stops
                if let Err(e) = self.store.record_attempt(
                    &self.profile.name,
                    &self.candidate_key,
                    distance,
                    passed,
                ) {
                    self.store_failed(e);
                    return;
                }
                self.dispatch(Event::Verified { passed });
            }
            Done::Withdrawn(Ok(())) => self.dispatch(Event::Withdrawn),
            Done::Withdrawn(Err(e)) => {
                self.session.busy = false;
                self.notice_extra = Some((
                    "暂时无法撤回，请稍后再试或联系工作人员".into(),
                    format!("cannot withdraw now ({e}); try later or ask the staff"),
                ));
                self.refresh();
            }
            Done::Printed(r) => {
                self.printing = false;
                self.notice_extra = Some(match r {
                    Ok(Printed::Sent { queue }) => (
                        format!("已发送到打印机 {queue}"),
                        format!("sent to the printer {queue}"),
                    ),
                    Ok(Printed::Saved { file }) => (
                        format!("未设置打印机，照片版面已保存为 {}", file.display()),
                        format!(
                            "no printer is set up; the sheet is saved as {}",
                            file.display()
                        ),
                    ),
                    Err(e) => (format!("打印失败：{e}"), format!("printing failed: {e}")),
                });
                self.refresh();
            }
            Done::RosterSynced { batch, rows } => {
                let stored = self.store_roster(&batch, "the hub", rows);
                self.audit(
                    if stored.is_ok() {
                        "sync_roster"
                    } else {
                        "sync_roster_failed"
                    },
                    &format!(
                        "{batch}: {}",
                        stored.as_ref().map(|n| n.to_string()).unwrap_or_default()
                    ),
                );
                self.notice_extra = Some(match stored {
                    Ok(n) => (
                        format!("批次 {batch} 名单已同步：{n} 人"),
                        format!("batch {batch}: roster synced, {n} candidates"),
                    ),
                    Err(e) => ("名单同步失败".into(), format!("roster sync failed: {e}")),
                });
                self.refresh();
            }
            Done::PasswordChecked(entry) => {
                self.password_checking = false;
                match entry {
                    Some(e) if self.session.screen == Screen::Identify => {
                        self.identified_on_roster(e)
                    }
                    Some(_) => {}
                    None => self.wrong_credentials(),
                }
            }
            Done::RosterFiles(files) => {
                self.roster_files = files;
                self.notice_extra = None;
                self.refresh();
            }
            Done::RosterRead { batch, file, rows } => {
                let stored = self.store_roster(&batch, &file, rows);
                self.notice_extra = Some(match stored {
                    Ok(n) => {
                        if !self.audit("import_roster", &format!("{file} → {batch}: {n}")) {
                            return;
                        }
                        (
                            format!("已导入 {n} 人到批次 {batch}（{file}）"),
                            format!("{n} candidates imported into batch {batch} ({file})"),
                        )
                    }
                    Err(why) => {
                        if !self.audit("import_roster_refused", &file) {
                            return;
                        }
                        // the reasons name lines, never personal data (see roster.rs)
                        (
                            format!("未导入，名单有问题：{why}"),
                            format!("nothing imported: {why}"),
                        )
                    }
                });
                self.refresh();
            }
        }
    }

    // ------------------------------------------------------------------ showing the state

    /// The live screen's changing parts only (prompt, distance, countdown, frame rate): no
    /// lists are rebuilt per frame.
    fn refresh_live(&self) {
        let Some(ui) = self.ui.upgrade() else { return };
        ui.set_prompt(self.t(&self.live_prompt.0, &self.live_prompt.1).into());
        ui.set_prompt_good(self.live_good);
        let [near, far] = self.profile.distance_cm;
        ui.set_distance_text(
            match self.live_distance {
                Some(d) => self.t(
                    &format!("距离约 {d:.0} 厘米（目标 {near:.0}–{far:.0}）"),
                    &format!("about {d:.0} cm (target {near:.0}–{far:.0})"),
                ),
                None => String::new(),
            }
            .into(),
        );
        let shutter_at = if self.session.screen == Screen::Manual {
            self.next_document_at
        } else {
            self.countdown_until
        };
        ui.set_countdown(
            shutter_at
                .map(|t| ((t - self.now_ms + 999) / 1000).max(1) as i32)
                .unwrap_or(0),
        );
        ui.set_manual_done(self.manual_done as i32);
        ui.set_fps_text(
            if self.live_fps > 0.0 {
                format!("{:.0} fps", self.live_fps)
            } else {
                String::new()
            }
            .into(),
        );
    }

    pub fn refresh(&self) {
        let Some(ui) = self.ui.upgrade() else { return };
        let s = &self.session;
        ui.set_screen(s.screen.name().into());
        ui.set_staff_mode(s.screen.is_staff());
        ui.set_english(self.english);
        ui.set_demo(self.demo);
        if s.screen == Screen::Idle {
            ui.set_default_pin(super::staff::default_pin_in_use(&self.store));
            // an unreadable count shows no hint; nothing depends on it but these words
            ui.set_demo_returning(self.demo && self.store.capture_count().is_ok_and(|n| n > 0));
        }
        ui.set_collection_open(s.open);
        ui.set_profile_title(
            if s.open || !matches!(s.screen, Screen::Idle) {
                self.t(&self.profile.title.zh, &self.profile.title.en)
            } else {
                String::new()
            }
            .into(),
        );
        ui.set_help_phone(self.profile.help_phone.clone().into());
        ui.set_help_open(s.help_open);
        ui.set_busy(s.busy);
        let notice = s
            .notice
            .as_ref()
            .map(|n| self.t(&n.zh, &n.en))
            .or_else(|| self.notice_extra.as_ref().map(|(zh, en)| self.t(zh, en)))
            .unwrap_or_default();
        ui.set_notice(notice.into());

        // identify
        let keypad = &self.profile.keypad;
        ui.set_accepts_card(self.profile.identification.iter().any(|m| m == "id-card"));
        ui.set_keypad_enabled(!keypad.is_empty());
        let active = keypad.get(self.active_field);
        ui.set_keypad_letters(
            active.is_some_and(|f| matches!(f.chars, FieldChars::Alnum | FieldChars::Secret)),
        );
        ui.set_keypad_x(active.is_some_and(|f| f.chars == FieldChars::IdTail));
        ui.set_active_field(self.active_field as i32);
        let fields: Vec<FieldView> = keypad
            .iter()
            .zip(&self.fields)
            .map(|(spec, text)| {
                let state = spec.state(text);
                let (code, hint) = match &state {
                    FieldState::Empty => (
                        0,
                        self.t(
                            &format!("{} 位", spec.length[0]),
                            &format!("{} characters", spec.length[0]),
                        ),
                    ),
                    FieldState::Incomplete => {
                        (1, format!("{}/{}", text.chars().count(), spec.length[0]))
                    }
                    FieldState::Complete => (2, String::new()),
                    FieldState::Bad(zh, en) => (3, self.t(zh, en)),
                };
                let shown = if spec.chars == FieldChars::Secret {
                    "•".repeat(text.chars().count())
                } else {
                    text.clone()
                };
                FieldView {
                    label: self.t(&spec.label.zh, &spec.label.en).into(),
                    value: shown.into(),
                    state: code,
                    hint: hint.into(),
                }
            })
            .collect();
        ui.set_fields(shared_rows(fields));

        // confirm info
        if let Some(c) = &s.candidate {
            let state_of = |field: &str| {
                if s.roster.blocked.contains(&field) {
                    2
                } else if s.roster.warned.contains(&field) {
                    1
                } else {
                    0
                }
            };
            let mut rows = vec![
                InfoRow {
                    label: self.t("姓名", "Name").into(),
                    value: c.name.clone().into(),
                    state: state_of("name"),
                },
                InfoRow {
                    label: self.t("证件号码", "ID number").into(),
                    value: masked_id(&c.id_number).into(),
                    state: state_of("id_number"),
                },
            ];
            if c.candidate_key != c.id_number {
                rows.push(InfoRow {
                    label: self.t("考生号", "Candidate number").into(),
                    value: c.candidate_key.clone().into(),
                    state: 0,
                });
            }
            if !c.ethnicity.is_empty() {
                rows.push(InfoRow {
                    label: self.t("民族", "Ethnicity").into(),
                    value: c.ethnicity.clone().into(),
                    state: state_of("ethnicity"),
                });
            }
            if !c.address.is_empty() {
                rows.push(InfoRow {
                    label: self.t("住址", "Address").into(),
                    value: c.address.clone().into(),
                    state: state_of("address"),
                });
            }
            if s.roster.blocked.contains(&"roster") {
                rows.push(InfoRow {
                    label: self.t("报名记录", "Registration").into(),
                    value: self.t("未找到", "not found").into(),
                    state: 2,
                });
            }
            ui.set_info_rows(shared_rows(rows));
        } else {
            ui.set_info_rows(shared_rows(Vec::<InfoRow>::new()));
        }
        ui.set_info_blocked(s.roster.is_blocked());
        ui.set_info_warned(!s.roster.warned.is_empty());

        // consent and guide
        let consent = self
            .profile
            .consent
            .as_ref()
            .map(|c| self.t(&c.zh, &c.en))
            .unwrap_or_default();
        ui.set_consent_text(consent.into());
        ui.set_consent_ticked(s.consent_ticked);
        let guide: Vec<SharedString> = guide_items(&self.profile, &self.spec)
            .iter()
            .map(|(zh, en)| self.t(zh, en).into())
            .collect();
        ui.set_guide_items(shared_rows(guide));

        // live (also refreshed on its own, per frame)
        self.refresh_live();

        // checks, verify
        let rows: Vec<CheckRow> = self
            .check_rows
            .iter()
            .map(|(zh, en, ok, rz, re)| CheckRow {
                name: self.t(zh, en).into(),
                ok: *ok,
                reason: self.t(rz, re).into(),
            })
            .collect();
        ui.set_check_rows(shared_rows(rows));
        ui.set_checks_passed(s.checks_passed);
        ui.set_verify_passed(s.verified == Some(true));
        ui.set_verify_text(
            match self.verification_distance {
                Some(d) => self.t(
                    &format!("相似度距离 {d:.2}（小于 {SAME_PERSON_DISTANCE:.2} 为同一人）"),
                    &format!("distance {d:.2} (below {SAME_PERSON_DISTANCE:.2}: same person)"),
                ),
                None if s.verified.is_some() => {
                    self.t("未能比对人脸", "the faces could not be compared")
                }
                None => String::new(),
            }
            .into(),
        );
        ui.set_attempts_text(
            match s.attempts_left() {
                Some(n) if s.verified == Some(false) => {
                    self.t(&format!("还可尝试 {n} 次"), &format!("{n} attempts left"))
                }
                _ => String::new(),
            }
            .into(),
        );
        let steps: Vec<SharedString> = [
            ("身份证正面", "front of the ID card"),
            ("身份证背面", "back of the ID card"),
            (
                "手持身份证的本人照片（横向）",
                "you holding the card (landscape)",
            ),
        ]
        .iter()
        .map(|(zh, en)| self.t(zh, en).into())
        .collect();
        ui.set_manual_steps(shared_rows(steps));

        // receipt and status
        if let Some((id, _)) = &s.receipt {
            ui.set_receipt_number(
                id.chars()
                    .rev()
                    .take(12)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
                    .to_uppercase()
                    .into(),
            );
            ui.set_receipt_time(self.receipt_time.clone().into());
            let st = if s.manual_review {
                self.t(
                    "排队上传，等待人工审核",
                    "queued for upload, then manual review",
                )
            } else {
                self.t("排队上传中，随后审核", "queued for upload, then review")
            };
            ui.set_status_text(st.into());
        } else if let Some(p) = &s.previous {
            ui.set_status_text(p.status_line.clone().into());
        }
        let review = s.previous.as_ref().and_then(|p| p.review);
        ui.set_can_withdraw(
            self.profile.withdraw_allowed
                && review == Some(crate::hub_protocol::ReviewState::PendingReview),
        );
        ui.set_can_retake(matches!(
            review,
            Some(
                crate::hub_protocol::ReviewState::Rejected
                    | crate::hub_protocol::ReviewState::Withdrawn
            )
        ));

        // staff
        ui.set_pin_dots("●".repeat(self.pin.len()).into());
        let names: Vec<SharedString> = self
            .profile_names
            .iter()
            .filter_map(|n| self.catalog.profile(n).ok())
            .map(|p| self.t(&p.title.zh, &p.title.en).into())
            .collect();
        ui.set_profiles(shared_rows(names));
        ui.set_selected_profile(self.selected as i32);
        ui.set_batch(self.batch.clone().into());
        if s.screen == Screen::StaffMenu {
            ui.set_health(shared_rows(self.health()));
        }
        if s.screen == Screen::StaffImport {
            let files: Vec<ListRow> = self
                .roster_files
                .iter()
                .map(|f| ListRow {
                    title: f
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                        .into(),
                    detail: format!(
                        "{} · {:.1} KB",
                        f.path
                            .parent()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        f.bytes as f64 / 1024.0
                    )
                    .into(),
                })
                .collect();
            ui.set_roster_files(shared_rows(files));
            ui.set_import_folders(
                self.import_roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join("  ")
                    .into(),
            );
        }
        if s.screen == Screen::StaffBatch {
            ui.set_batch_input(self.batch_input.clone().into());
            let rows: Vec<ListRow> = self
                .batch_list
                .iter()
                .map(|(b, n)| ListRow {
                    title: b.clone().into(),
                    detail: self
                        .t(&format!("名单 {n} 人"), &format!("roster of {n}"))
                        .into(),
                })
                .collect();
            ui.set_batch_rows(shared_rows(rows));
        }
        if s.screen == Screen::StaffReprint {
            ui.set_reprint_rows(shared_rows(self.reprint_rows()));
        }
        if s.screen == Screen::StaffAudit {
            ui.set_audit_rows(shared_rows(self.audit_rows()));
        }
        ui.set_new_pin_step(i32::from(self.new_pin_first.is_some()));
    }

    fn health(&self) -> Vec<HealthRow> {
        let q = self.store.queue_status().unwrap_or_default();
        let hub = crate::upload::stored_link(&self.store).ok().flatten();
        let roster = self.store.roster_size(&self.batch).unwrap_or(0);
        vec![
            HealthRow {
                name: self.t("摄像头", "Camera").into(),
                ok: true,
                detail: self.devices.camera.description.clone().into(),
            },
            HealthRow {
                name: self.t("读卡器", "ID reader").into(),
                ok: true,
                detail: format!(
                    "{}{}",
                    self.devices.reader.path.display(),
                    if self.devices.simulated_reader.is_some() {
                        " (simulated)"
                    } else {
                        ""
                    }
                )
                .into(),
            },
            HealthRow {
                name: self.t("中心", "Hub").into(),
                ok: hub.is_some(),
                detail: hub
                    .map(|l| l.url)
                    .unwrap_or_else(|| self.t("未连接", "not linked"))
                    .into(),
            },
            HealthRow {
                name: self.t("上传队列", "Outbox").into(),
                ok: q.quarantined == 0,
                detail: self
                    .t(
                        &format!(
                            "待上传 {}，已上传 {}，隔离 {}",
                            q.pending, q.sent, q.quarantined
                        ),
                        &format!(
                            "{} pending, {} sent, {} quarantined",
                            q.pending, q.sent, q.quarantined
                        ),
                    )
                    .into(),
            },
            HealthRow {
                name: self.t("名单", "Roster").into(),
                ok: roster > 0,
                detail: self
                    .t(&format!("{roster} 人"), &format!("{roster} candidates"))
                    .into(),
            },
        ]
    }
}

/// Local time at the collection point (UTC+8), for the receipt.
pub fn beijing_time(ms: i64) -> String {
    use crate::civil_time::{CivilTime, CST_OFFSET_SECS};
    CivilTime::from_unix(ms.div_euclid(1000), CST_OFFSET_SECS).date_time()
}

/// Wires the window's callbacks to the controller.
pub fn connect(ui: &KioskWindow, app: std::rc::Rc<std::cell::RefCell<App>>) {
    macro_rules! on {
        ($setter:ident, |$a:ident $(, $arg:ident : $t:ty)*| $body:expr) => {{
            let app = app.clone();
            ui.$setter(move |$($arg: $t),*| {
                if let Ok(mut $a) = app.try_borrow_mut() {
                    $a.touched();
                    $body;
                }
            });
        }};
    }
    on!(on_start, |a| a.dispatch(Event::Start));
    on!(on_staff_entry, |a| {
        a.pin.clear();
        a.dispatch(Event::StaffEntry)
    });
    on!(on_pin_key, |a, k: SharedString| a.key(&k));
    on!(on_pin_back, |a| a.backspace());
    on!(on_staff_select, |a, i: i32| a
        .select_profile(i.max(0) as usize));
    on!(on_staff_open, |a| a.staff_open());
    on!(on_staff_close, |a| a.dispatch(Event::StaffClose));
    on!(on_staff_end_collection, |a| a.staff_end_collection());
    on!(on_staff_import, |a| a.staff_import());
    on!(on_staff_import_file, |a, i: i32| a
        .staff_import_file(i.max(0) as usize));
    on!(on_staff_audit, |a| a.dispatch(Event::StaffAudit));
    on!(on_staff_change_pin, |a| a.staff_change_pin());
    on!(on_new_pin_ok, |a| a.new_pin_ok());
    on!(on_staff_reprint, |a| a.staff_reprint());
    on!(on_staff_batch, |a| a.staff_batch());
    on!(on_pick_batch, |a, i: i32| a.pick_batch(i.max(0) as usize));
    on!(on_batch_ok, |a| a.batch_ok());
    on!(on_reprint, |a, i: i32| a.reprint(i.max(0) as usize));
    on!(on_staff_sync, |a| a.sync_roster());
    on!(on_key, |a, k: SharedString| a.key(&k));
    on!(on_backspace, |a| a.backspace());
    on!(on_select_field, |a, i: i32| a
        .select_field(i.max(0) as usize));
    on!(on_submit_keypad, |a| a.submit_keypad());
    on!(on_next, |a| a.dispatch(Event::Continue));
    on!(on_back, |a| a.dispatch(Event::Back));
    on!(on_toggle_consent, |a| a.dispatch(Event::ConsentToggled));
    on!(on_capture, |a| a.shutter());
    on!(on_retake, |a| a.dispatch(Event::Retake));
    on!(on_withdraw, |a| a.dispatch(Event::Withdraw));
    on!(on_help, |a| a.dispatch(Event::Help));
    on!(on_close_help, |a| a.dispatch(Event::CloseHelp));
    on!(on_end_session, |a| a.dispatch(Event::End));
    on!(on_toggle_language, |a| a.toggle_language());
    on!(on_demo_card, |a| a.present_demo_card());
    on!(on_demo_code, |a| a.show_demo_code());
}
