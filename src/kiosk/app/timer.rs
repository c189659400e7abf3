//! The controller's timer (every 33 ms): device events, finished jobs, camera frames (handed
//! to the session with the guide's verdict, which decides the countdown), the code scan, the
//! documents the session asks for, the camera's recovery, and time for the session.

use super::*;
use crate::kiosk::devices::{LiveFrame, ReaderEvent};
use crate::session::identify::collection_code;
use crate::session::{Event, Screen};

impl App {
    /// Called several times a second on the UI thread: device events, finished work, the live
    /// preview and guidance, and the session's clock (countdowns, documents, idle timeout).
    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        while let Some(ev) = self.devices.reader.poll() {
            match ev {
                ReaderEvent::Card(read) => self.card_read(*read),
                ReaderEvent::Lost(what) => {
                    if self.session.screen() == Screen::Identify {
                        self.notice_extra = Some(Bilingual::new("读卡器未连接，请使用键盘输入或联系工作人员", format!("the ID-card reader is not connected ({what}); type your number or ask the staff")));
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
        self.watch_printer(now_ms);
        match self.session.screen() {
            Screen::Live => self.live(now_ms),
            Screen::ScanCode => self.scan_step(now_ms),
            // the documents' camera runs while the session takes them
            Screen::Manual if self.session.busy() => {
                self.poll_camera(now_ms);
                self.refresh_live();
            }
            Screen::Failsafe if self.session.camera_lost() => self.camera_recovery(),
            _ => {}
        }
        // a tick changes nothing unless a countdown ends, a document is due or the idle
        // timeout ends the session or locks staff mode: no redraw otherwise
        let before = self.session.screen();
        self.observe(Event::Tick { now_ms });
        if self.session.screen() != before {
            self.pin.clear();
        }
        self.speak();
    }

    /// On the failsafe screen after the camera was lost: keep asking the camera; its first
    /// good frame brings the kiosk back.
    pub(super) fn camera_recovery(&mut self) {
        self.devices.camera.set_active(true);
        if let Some(Ok(_)) = self.devices.camera.poll() {
            self.devices.camera.set_active(false);
            self.dispatch(Event::DeviceBack);
        }
    }

    /// The newest camera frame, put on the preview and told to the session with the guide's
    /// verdict; a camera error is told too (the session decides when the camera is lost).
    pub(super) fn poll_camera(&mut self, now_ms: i64) -> Option<LiveFrame> {
        match self.devices.camera.poll()? {
            Ok(f) => {
                self.live_fps = f.fps;
                if let Some(ui) = self.ui.upgrade() {
                    let kiosk = ui.global::<crate::kiosk::Kiosk>();
                    // shares the buffer with the frame: no copy
                    kiosk.set_preview(slint::Image::from_rgb8(f.preview.clone()));
                    // the oval where the guide wants the face, on the picture as shown
                    if let Some(t) = f.target {
                        // the preview is mirrored
                        kiosk.set_guide_across(1.0 - t.centre_across);
                        kiosk.set_guide_down(t.centre_down);
                        kiosk.set_guide_width(t.width);
                        kiosk.set_guide_height(t.height);
                    }
                }
                if let Some(g) = &f.guidance {
                    self.cand.live_good = g.steady_frames > 0;
                    self.cand.live_prompt = g.text.into();
                    self.cand.live_distance = g.distance_cm;
                    self.cand.live_shown = Some(g.prompt);
                }
                let good = f.guidance.as_ref().map(|g| g.steady_frames > 0);
                self.observe(Event::CameraFrame { now_ms, good });
                Some(f)
            }
            Err(e) => {
                self.dispatch(Event::CameraFailed {
                    what: e.to_string(),
                    now_ms,
                });
                None
            }
        }
    }

    pub(super) fn live(&mut self, now_ms: i64) {
        self.poll_camera(now_ms);
        self.refresh_live();
    }

    /// The scan screen: show the camera, and tell the session of any QR code it reads.
    pub(super) fn scan_step(&mut self, now_ms: i64) {
        let Some(f) = self.poll_camera(now_ms) else {
            return;
        };
        self.refresh_live();
        // another code in view (a poster, a payment code) must not hide the candidate's
        let tail = self.cand.scan_tail.clone();
        let text = f
            .codes
            .iter()
            .find(|c| collection_code(c, &tail).is_ok())
            .or(f.codes.first())
            .cloned();
        if let Some(text) = text {
            self.dispatch(Event::CodeSeen { text, now_ms });
        }
    }

    /// The session asked for the next document's photograph.
    pub(super) fn photograph_document(&mut self) {
        let now_ms = self.now_ms;
        // the camera's own JPEG as it came (no second compression on the UI thread)
        let jpeg = self
            .devices
            .camera
            .capture()
            .and_then(|frame| frame.to_jpeg(90).ok());
        match jpeg {
            Some(jpeg) => {
                self.cand.documents.push(jpeg);
                self.dispatch(Event::DocumentTaken { now_ms });
            }
            None => self.dispatch(Event::DocumentMissed { now_ms }),
        }
    }
}
