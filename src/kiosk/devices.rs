//! The kiosk's device workers, each on its own threads so the UI never waits: the camera with
//! the live guide (`camera_worker`), and the ID-card reader. Both report through channels the
//! UI thread drains on its timer.

pub use super::camera_worker::{CameraWorker, LiveFrame, LiveStats};
use crate::reader::driver::{CardRead, IdCardReader, PollOutcome, ReaderConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

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
