//! The kiosk's device workers, each on its own thread so the UI never waits: the camera with
//! the live guide (frames the UI has not taken yet are replaced, never queued), and the ID-card
//! reader. Both report through channels the UI thread drains on its timer.

use super::preview::PreviewMaker;
use crate::camera::FrameSource;
use crate::guidance::{Guidance, LiveGuide};
use crate::imaging::read_qr_codes;
use crate::reader::driver::{CardRead, IdCardReader, PollOutcome, ReaderConfig};
use image::RgbImage;
use slint::{Rgb8Pixel, SharedPixelBuffer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One analysed camera frame for the UI.
pub struct LiveFrame {
    /// Mirrored and shrunk for the preview (the candidate sees a mirror; the capture is not),
    /// ready for the window without a copy.
    pub preview: SharedPixelBuffer<Rgb8Pixel>,
    pub guidance: Option<Guidance>,
    /// The texts of QR codes in the frame, while scanning for codes instead of guiding.
    pub codes: Vec<String>,
    /// Frames analysed per second, over the last second.
    pub fps: f32,
    /// Which start of the camera the frame belongs to (see `CameraWorker::epoch`).
    epoch: u64,
}

pub struct CameraWorker {
    active: Arc<AtomicBool>,
    /// Counts starts and stops: a frame taken before the camera was last started or stopped
    /// is never shown, scanned or captured (it may show the candidate before, or their code).
    epoch: Arc<AtomicU64>,
    /// Look for QR codes instead of running the live guide.
    scanning: Arc<AtomicBool>,
    /// A new live guide (the profile changed), taken by the camera thread.
    next_guide: Arc<Mutex<Option<LiveGuide>>>,
    stop: Arc<AtomicBool>,
    latest: Arc<Mutex<Option<RgbImage>>>,
    frames: Receiver<Result<LiveFrame, String>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub description: String,
}

impl CameraWorker {
    /// Runs `source` through `guide` while active; `preview_width` sizes the preview.
    pub fn start(
        mut source: Box<dyn FrameSource>,
        mut guide: LiveGuide,
        preview_width: u32,
    ) -> CameraWorker {
        let description = source.describe();
        let active = Arc::new(AtomicBool::new(false));
        let scanning = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let latest = Arc::new(Mutex::new(None));
        let next_guide: Arc<Mutex<Option<LiveGuide>>> = Arc::new(Mutex::new(None));
        let g = next_guide.clone();
        // room for one frame: a frame the UI has not taken is dropped for a fresher one
        let (tx, frames): (SyncSender<Result<LiveFrame, String>>, _) = mpsc::sync_channel(1);
        let (a, s, l, q, ep) = (
            active.clone(),
            stop.clone(),
            latest.clone(),
            scanning.clone(),
            epoch.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || {
                let mut previews = PreviewMaker::new(preview_width);
                let mut window_start = Instant::now();
                let (mut count, mut fps) = (0u32, 0f32);
                let mut guided_epoch = ep.load(Ordering::SeqCst);
                while !s.load(Ordering::SeqCst) {
                    if let Some(new) = g.lock().ok().and_then(|mut n| n.take()) {
                        guide = new;
                    }
                    if !a.load(Ordering::SeqCst) {
                        // the rate counts only frames while on: no stale figure on restart
                        (count, fps, window_start) = (0, 0.0, Instant::now());
                        std::thread::sleep(Duration::from_millis(30));
                        continue;
                    }
                    let started_in = ep.load(Ordering::SeqCst);
                    if started_in != guided_epoch {
                        // a new start: the next candidate may already be in view
                        guide.reset();
                        guided_epoch = started_in;
                    }
                    let frame = match source.next_frame() {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = tx.try_send(Err(e.to_string()));
                            std::thread::sleep(Duration::from_millis(500));
                            continue;
                        }
                    };
                    let (guidance, codes) = if q.load(Ordering::SeqCst) {
                        (None, read_qr_codes(&frame))
                    } else {
                        (guide.frame(&frame).ok(), Vec::new())
                    };
                    count += 1;
                    if window_start.elapsed() >= Duration::from_secs(1) {
                        fps = count as f32 / window_start.elapsed().as_secs_f32();
                        (count, window_start) = (0, Instant::now());
                    }
                    let preview = previews.make(&frame);
                    if ep.load(Ordering::SeqCst) != started_in {
                        continue;
                    }
                    if let Ok(mut slot) = l.lock() {
                        *slot = Some(frame);
                    }
                    let _ = tx.try_send(Ok(LiveFrame {
                        preview,
                        guidance,
                        codes,
                        fps,
                        epoch: started_in,
                    }));
                }
            })
            .ok();
        CameraWorker {
            active,
            epoch,
            scanning,
            next_guide,
            stop,
            latest,
            frames,
            thread,
            description,
        }
    }

    /// Starts or stops the camera. Starting forgets the last frame: a capture must be of the
    /// person in front of the camera now, never of the one before. Stopping keeps it: it is
    /// the capture the checks are about to use.
    pub fn set_active(&self, on: bool) {
        if self.active.load(Ordering::SeqCst) == on {
            // already so (the failsafe screen asks on every tick): frames keep coming
            return;
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.active.store(on, Ordering::SeqCst);
        while self.frames.try_recv().is_ok() {}
        if on {
            self.forget();
        }
    }

    /// Whether frames are searched for QR codes (the scan screen) or guided (the live screen).
    pub fn set_scanning(&self, on: bool) {
        self.scanning.store(on, Ordering::SeqCst);
    }

    /// Drops the last full-resolution frame (the end of a candidate's session).
    pub fn forget(&self) {
        if let Ok(mut f) = self.latest.lock() {
            *f = None;
        }
    }

    /// The live guide for another profile (distance window, glasses rule, limits).
    pub fn set_guide(&self, guide: LiveGuide) {
        if let Ok(mut g) = self.next_guide.lock() {
            *g = Some(guide);
        }
    }

    /// The newest analysed frame, if one came since the last call.
    pub fn poll(&self) -> Option<Result<LiveFrame, String>> {
        loop {
            match self.frames.try_recv() {
                Ok(Ok(f)) if f.epoch != self.epoch.load(Ordering::SeqCst) => continue,
                Ok(f) => return Some(f),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    return Some(Err("the camera thread stopped".into()))
                }
            }
        }
    }

    /// The full-resolution frame behind the newest preview (the capture).
    pub fn capture(&self) -> Option<RgbImage> {
        self.latest.lock().ok().and_then(|f| f.clone())
    }
}

impl Drop for CameraWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the reader saw.
pub enum ReaderEvent {
    Card(Box<CardRead>),
    Lost(String),
    Back,
}

pub struct ReaderWorker {
    events: Receiver<ReaderEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub path: PathBuf,
}

impl ReaderWorker {
    pub fn start(path: PathBuf) -> ReaderWorker {
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let p = path.clone();
        let thread = std::thread::Builder::new()
            .name("id-reader".into())
            .spawn(move || {
                let mut reader: Option<IdCardReader> = None;
                let mut connected = true;
                while !s.load(Ordering::SeqCst) {
                    if reader.is_none() {
                        match IdCardReader::open(ReaderConfig::new(&p)) {
                            Ok(r) => reader = Some(r),
                            Err(e) => {
                                if connected {
                                    let _ = tx.send(ReaderEvent::Lost(e.to_string()));
                                    connected = false;
                                }
                                std::thread::sleep(Duration::from_millis(500));
                                continue;
                            }
                        }
                    }
                    let Some(r) = reader.as_mut() else { continue };
                    match r.poll() {
                        Ok(PollOutcome::Card(card)) => {
                            let _ = tx.send(ReaderEvent::Card(card));
                        }
                        Ok(PollOutcome::Disconnected) => {
                            if connected {
                                let _ = tx.send(ReaderEvent::Lost(
                                    "the ID-card reader was unplugged".into(),
                                ));
                                connected = false;
                            }
                        }
                        Ok(_) => {
                            if !connected {
                                let _ = tx.send(ReaderEvent::Back);
                                connected = true;
                            }
                        }
                        Err(_) => {}
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            })
            .ok();
        ReaderWorker {
            events,
            stop,
            thread,
            path,
        }
    }

    pub fn poll(&self) -> Option<ReaderEvent> {
        self.events.try_recv().ok()
    }
}

impl Drop for ReaderWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
