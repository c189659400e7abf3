//! The camera's two threads, so the live screen keeps the camera's 30 fps on a 2-core kiosk:
//! the "camera" thread takes each frame, decodes it at the size the guide needs (a JPEG at a
//! half or a quarter by its DCT) and makes the mirrored preview; the "guide" thread runs the
//! models on the newest frame and hands the preview with its prompt to the UI; while nobody is
//! near, the "aside" thread runs the slow still detector on a frame now and then, so a far
//! candidate is found without the guide missing frames, and while someone is, the face parsing
//! (hat, fringe, frames, teeth) on a frame every second. Nothing queues:
//! a frame the guide has not taken is replaced by a fresher one, and so is a result the UI
//! has not taken. Every such drop is counted, with why, for `kiosk bench-live`.

use super::preview::PreviewMaker;
use crate::camera::{Frame, FrameSource};
use crate::engine::{FaceDetection, FaceEngine};
use crate::guidance::{
    FaceTarget, Guidance, HighlightsReading, LightReading, LiveGuide, PartsReading, PartsRequest,
    RefinedReading,
};
use crate::imaging::read_qr_codes;
use image::RgbImage;
use slint::{Rgb8Pixel, SharedPixelBuffer};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The guide's frames are decoded at least this wide (1080p MJPEG: at half size, 960).
pub const ANALYSIS_MIN_WIDTH: u32 = 640;

/// Latencies kept for the figures: the last minute at 30 fps.
const LATENCIES_KEPT: usize = 1800;
/// Damaged frames in a row (a second at 30 fps) after which the camera is reported as faulty
/// to the screen, as an unplugged one is; a good frame starts the count again.
const DAMAGED_FRAMES_REPORTED: u32 = 30;

/// One analysed camera frame for the UI.
pub struct LiveFrame {
    /// Mirrored and shrunk for the preview (the candidate sees a mirror; the capture is not),
    /// ready for the window without a copy.
    pub preview: SharedPixelBuffer<Rgb8Pixel>,
    pub guidance: Option<Guidance>,
    /// Where the live screen's oval goes, as shares of the frame (the preview is the frame
    /// shrunk, so the same shares), from the guide's own camera and frame size.
    pub target: Option<FaceTarget>,
    /// The texts of QR codes in the frame, while scanning for codes instead of guiding.
    pub codes: Vec<String>,
    /// Frames analysed per second, over the last second.
    pub fps: f32,
    /// Which start of the camera the frame belongs to (see `CameraWorker::epoch`).
    epoch: u64,
}

/// What happened to the frames while the camera was on.
#[derive(Clone, Debug, Default)]
pub struct LiveStats {
    /// Frames the camera delivered.
    pub delivered: u64,
    /// Frames that could not be decoded (a damaged JPEG).
    pub damaged: u64,
    /// Frames replaced by a newer one before the guide took them (the guide was busy).
    pub skipped_by_guide: u64,
    /// Analysed frames replaced by a newer one before the UI took them (the UI was busy).
    pub skipped_by_ui: u64,
    /// Frames from before the camera was last stopped or started, never shown.
    pub stale: u64,
    /// Frames analysed and handed on.
    pub analysed: u64,
    /// For the newest analysed frames: ms from the frame leaving the camera to its prompt.
    pub arrival_to_prompt_ms: VecDeque<f32>,
}

/// A decoded frame on its way from the camera thread to the guide thread.
struct Decoded {
    frame: Frame,
    pixels: Arc<RgbImage>,
    preview: SharedPixelBuffer<Rgb8Pixel>,
    epoch: u64,
    arrived: Instant,
    /// Which count of the stats the frame's arrival went into (see `CameraWorker::stats`).
    counted_in: u64,
}

/// A one-frame mailbox: putting replaces what was not taken.
#[derive(Default)]
struct Mailbox {
    slot: Mutex<Option<Decoded>>,
    ready: Condvar,
}

impl Mailbox {
    /// Puts `d`, returning whether an untaken frame was replaced.
    fn put(&self, d: Decoded) -> bool {
        let replaced = match self.slot.lock() {
            Ok(mut slot) => slot.replace(d).is_some(),
            Err(_) => false,
        };
        self.ready.notify_one();
        replaced
    }

    /// Waits up to `wait` for a frame.
    fn take(&self, wait: Duration) -> Option<Decoded> {
        let slot = self.slot.lock().ok()?;
        let (mut slot, _) = self
            .ready
            .wait_timeout_while(slot, wait, |s| s.is_none())
            .ok()?;
        slot.take()
    }
}

/// Slow work the guide hands aside, on the frame it was asked on.
enum AsideJob {
    /// Search the frame for a far face with the still detector.
    FarFaces,
    /// Parse the face the guide found.
    Parts(PartsRequest),
}

/// A job for the aside thread, and what it found; tagged with the camera start it belongs to.
#[derive(Default)]
struct Aside {
    request: Mutex<Option<(Arc<RgbImage>, AsideJob, u64)>>,
    asked: Condvar,
    far_found: Mutex<Option<(Vec<FaceDetection>, u64)>>,
    parts_found: Mutex<Option<(PartsReading, u64)>>,
}

/// What the threads share with the kiosk.
struct Shared {
    active: AtomicBool,
    /// Counts starts and stops: a frame taken before the camera was last started or stopped
    /// is never shown, scanned or captured (it may show the candidate before, or their code).
    epoch: AtomicU64,
    /// Look for QR codes instead of running the live guide.
    scanning: AtomicBool,
    stop: AtomicBool,
    /// A new live guide (the profile changed), taken by the guide thread.
    next_guide: Mutex<Option<LiveGuide>>,
    /// The frame behind the newest preview handed to the UI (the capture).
    latest: Mutex<Option<Frame>>,
    mailbox: Mailbox,
    aside: Aside,
    stats: Mutex<LiveStats>,
    /// Bumped when the stats start again: a frame that arrived before counts nowhere after.
    stats_count: AtomicU64,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut LiveStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

pub struct CameraWorker {
    shared: Arc<Shared>,
    frames: Receiver<Result<LiveFrame, String>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    pub description: String,
}

impl CameraWorker {
    /// Runs `source` through `guide` while active; `preview_width` sizes the preview.
    pub fn start(
        source: Box<dyn FrameSource>,
        guide: LiveGuide,
        preview_width: u32,
    ) -> CameraWorker {
        let description = source.describe();
        let shared = Arc::new(Shared {
            active: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            scanning: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            next_guide: Mutex::new(None),
            latest: Mutex::new(None),
            mailbox: Mailbox::default(),
            aside: Aside::default(),
            stats: Mutex::new(LiveStats::default()),
            stats_count: AtomicU64::new(0),
        });
        // room for one frame: a frame the UI has not taken is dropped for a fresher one
        let (tx, frames) = mpsc::sync_channel(1);
        let mut threads = Vec::new();
        let (s, t) = (shared.clone(), tx.clone());
        if let Ok(h) = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || camera_thread(source, preview_width, &s, &t))
        {
            threads.push(h);
        }
        let (s, engine) = (shared.clone(), guide.engine().clone());
        if let Ok(h) = std::thread::Builder::new()
            .name("aside".into())
            .spawn(move || aside_thread(&engine, &s))
        {
            threads.push(h);
        }
        let s = shared.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("guide".into())
            .spawn(move || guide_thread(guide, &s, &tx))
        {
            threads.push(h);
        }
        CameraWorker {
            shared,
            frames,
            threads,
            description,
        }
    }

    /// Starts or stops the camera. Starting forgets the last frame: a capture must be of the
    /// person in front of the camera now, never of the one before. Stopping keeps it: it is
    /// the capture the checks are about to use.
    pub fn set_active(&self, on: bool) {
        if self.shared.active.load(Ordering::SeqCst) == on {
            // already so (the failsafe screen asks on every tick): frames keep coming
            return;
        }
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.active.store(on, Ordering::SeqCst);
        while self.frames.try_recv().is_ok() {}
        if on {
            self.forget();
        }
    }

    /// Whether frames are searched for QR codes (the scan screen) or guided (the live screen).
    pub fn set_scanning(&self, on: bool) {
        self.shared.scanning.store(on, Ordering::SeqCst);
    }

    /// Drops the last frame (the end of a candidate's session).
    pub fn forget(&self) {
        if let Ok(mut f) = self.shared.latest.lock() {
            *f = None;
        }
    }

    /// The live guide for another profile (distance window, glasses rule, limits).
    pub fn set_guide(&self, guide: LiveGuide) {
        if let Ok(mut g) = self.shared.next_guide.lock() {
            *g = Some(guide);
        }
    }

    /// The newest analysed frame, if one came since the last call.
    pub fn poll(&self) -> Option<Result<LiveFrame, String>> {
        loop {
            match self.frames.try_recv() {
                Ok(Ok(f)) if f.epoch != self.shared.epoch.load(Ordering::SeqCst) => continue,
                Ok(f) => return Some(f),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    return Some(Err("the camera thread stopped".into()))
                }
            }
        }
    }

    /// The frame behind the newest preview (the capture), as the camera sent it: decode it
    /// with [`Frame::full`] off the UI thread.
    pub fn capture(&self) -> Option<Frame> {
        self.shared.latest.lock().ok().and_then(|f| f.clone())
    }

    /// What happened to the frames so far; `reset` starts the count again.
    pub fn stats(&self, reset: bool) -> LiveStats {
        match self.shared.stats.lock() {
            Ok(mut s) if reset => {
                self.shared.stats_count.fetch_add(1, Ordering::SeqCst);
                std::mem::take(&mut *s)
            }
            Ok(s) => s.clone(),
            Err(_) => LiveStats::default(),
        }
    }
}

impl Drop for CameraWorker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.mailbox.ready.notify_all();
        self.shared.aside.asked.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Takes frames, decodes them at the guide's size and makes the preview.
fn camera_thread(
    mut source: Box<dyn FrameSource>,
    preview_width: u32,
    shared: &Shared,
    tx: &SyncSender<Result<LiveFrame, String>>,
) {
    let mut previews = PreviewMaker::new(preview_width);
    let mut damaged_in_a_row = 0u32;
    while !shared.stop.load(Ordering::SeqCst) {
        if !shared.active.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(30));
            continue;
        }
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let frame = match source.next_frame() {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.try_send(Err(e.to_string()));
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        let arrived = Instant::now();
        let counted_in = shared.stats_count.load(Ordering::SeqCst);
        shared.count(|s| s.delivered += 1);
        let pixels = match frame.pixels_at_least(ANALYSIS_MIN_WIDTH) {
            Ok(p) => {
                damaged_in_a_row = 0;
                p
            }
            Err(e) => {
                // one damaged frame from a USB camera is normal: log it and take the next.
                // A second of nothing but damaged frames is a camera fault, said as one (the
                // live view would otherwise stand still with no word of why)
                tracing::debug!(error = %e, "camera frame skipped");
                shared.count(|s| s.damaged += 1);
                damaged_in_a_row += 1;
                if damaged_in_a_row == DAMAGED_FRAMES_REPORTED {
                    tracing::warn!(frames = damaged_in_a_row, error = %e, "the camera sends only damaged frames");
                    let _ = tx.try_send(Err(e.to_string()));
                }
                continue;
            }
        };
        let preview = previews.make(&pixels);
        let replaced = shared.mailbox.put(Decoded {
            frame,
            pixels,
            preview,
            epoch,
            arrived,
            counted_in,
        });
        if replaced {
            shared.count(|s| s.skipped_by_guide += 1);
        }
    }
}

/// The slow models, aside: a far candidate is found, and a near one's face parsed, without
/// holding up the guide's frames (each takes several frames' time).
fn aside_thread(engine: &FaceEngine, shared: &Shared) {
    let mut scratch = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let asked = shared.aside.request.lock().ok().and_then(|slot| {
            shared
                .aside
                .asked
                .wait_timeout_while(slot, Duration::from_millis(100), |s| s.is_none())
                .ok()
                .and_then(|(mut slot, _)| slot.take())
        });
        let Some((pixels, job, epoch)) = asked else {
            continue;
        };
        match job {
            AsideJob::FarFaces => match engine.detect_with(&pixels, &mut scratch) {
                Ok(faces) => {
                    if let Ok(mut found) = shared.aside.far_found.lock() {
                        *found = Some((faces, epoch));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the far-face detector failed on a frame"),
            },
            AsideJob::Parts(request) => {
                // the two models fail apart: the parsing's hat, glasses and hair prompts do
                // not wait on the attention mesh's lips
                let refined = engine
                    .refine(&pixels, &request.mesh, &mut scratch)
                    .map(|f| RefinedReading::read(&pixels, &request.mesh, f))
                    .inspect_err(
                        |e| tracing::warn!(error = %e, "the attention mesh failed on a frame"),
                    )
                    .ok();
                match engine.parts(&pixels, &request.mesh, &mut scratch) {
                    Ok(parsing) => {
                        let reading = PartsReading {
                            shares: parsing.shares(),
                            light: LightReading::read(&pixels, &request.mesh, &parsing),
                            highlights: HighlightsReading::read(&pixels, &request.mesh, &parsing),
                            refined,
                            frame: request.frame,
                            candidate: request.candidate,
                        };
                        if let Ok(mut found) = shared.aside.parts_found.lock() {
                            *found = Some((reading, epoch));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "the face parsing failed on a frame"),
                }
            }
        }
    }
}

/// Runs the guide (or the QR reader) on the newest decoded frame and hands it to the UI.
fn guide_thread(mut guide: LiveGuide, shared: &Shared, tx: &SyncSender<Result<LiveFrame, String>>) {
    let mut window_start = Instant::now();
    let (mut count, mut fps) = (0u32, 0f32);
    let mut guided_epoch = shared.epoch.load(Ordering::SeqCst);
    guide.far_look_aside();
    while !shared.stop.load(Ordering::SeqCst) {
        if let Some(new) = shared.next_guide.lock().ok().and_then(|mut n| n.take()) {
            guide = new;
            guide.far_look_aside();
        }
        let Some(d) = shared.mailbox.take(Duration::from_millis(100)) else {
            if !shared.active.load(Ordering::SeqCst) {
                // the rate counts only frames while on: no stale figure on restart
                (count, fps, window_start) = (0, 0.0, Instant::now());
            }
            continue;
        };
        if d.epoch != shared.epoch.load(Ordering::SeqCst) {
            shared.count(|s| s.stale += 1);
            continue;
        }
        if d.epoch != guided_epoch {
            // a new start: the next candidate may already be in view
            guide.reset();
            guided_epoch = d.epoch;
        }
        let (guidance, codes) = if shared.scanning.load(Ordering::SeqCst) {
            (None, read_qr_codes(&d.pixels))
        } else {
            // what was found aside counts only for the camera start it was seen in
            let aside = &shared.aside;
            if let Some((faces, epoch)) = aside.far_found.lock().ok().and_then(|mut f| f.take()) {
                if epoch == d.epoch {
                    guide.far_faces_found(faces);
                }
            }
            if let Some((parts, epoch)) = aside.parts_found.lock().ok().and_then(|mut f| f.take()) {
                if epoch == d.epoch {
                    guide.parts_found(parts);
                }
            }
            let guidance = guide.frame(&d.pixels).ok();
            let job = if guide.wants_far_look() {
                Some(AsideJob::FarFaces)
            } else {
                guide.wants_parts_look().map(AsideJob::Parts)
            };
            if let Some(job) = job {
                if let Ok(mut request) = aside.request.lock() {
                    // a job the thread has not started is replaced by this fresher one
                    *request = Some((d.pixels.clone(), job, d.epoch));
                }
                aside.asked.notify_one();
            }
            (guidance, Vec::new())
        };
        count += 1;
        if window_start.elapsed() >= Duration::from_secs(1) {
            fps = count as f32 / window_start.elapsed().as_secs_f32();
            (count, window_start) = (0, Instant::now());
        }
        if shared.epoch.load(Ordering::SeqCst) != d.epoch {
            shared.count(|s| s.stale += 1);
            continue;
        }
        if let Ok(mut slot) = shared.latest.lock() {
            *slot = Some(d.frame);
        }
        let latency = d.arrived.elapsed().as_secs_f32() * 1000.0;
        let target = guide.target_on(d.pixels.width(), d.pixels.height());
        let sent = tx.try_send(Ok(LiveFrame {
            preview: d.preview,
            guidance,
            target,
            codes,
            fps,
            epoch: d.epoch,
        }));
        if d.counted_in != shared.stats_count.load(Ordering::SeqCst) {
            continue;
        }
        shared.count(|s| {
            s.analysed += 1;
            if matches!(sent, Err(TrySendError::Full(_))) {
                s.skipped_by_ui += 1;
            }
            if s.arrival_to_prompt_ms.len() == LATENCIES_KEPT {
                s.arrival_to_prompt_ms.pop_front();
            }
            s.arrival_to_prompt_ms.push_back(latency);
        });
    }
}
