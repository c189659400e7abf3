//! The controller's timer (every 33 ms): finished jobs, live camera frames with the countdown,
//! the code scan and the document sequence, the camera's recovery.

use super::*;
use crate::kiosk::devices::{LiveFrame, ReaderEvent};
use crate::session::identify::collection_code;
use crate::session::{Event, Screen};

impl App {
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
    pub(super) fn camera_recovery(&mut self) {
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
    pub(super) fn poll_camera(&mut self, now: i64) -> Result<Option<LiveFrame>, ()> {
        match self.devices.camera.poll() {
            Some(Ok(f)) => {
                self.camera_failing_since = None;
                self.live_fps = f.fps;
                if let Some(ui) = self.ui.upgrade() {
                    // shares the buffer with the frame: no copy
                    ui.global::<crate::kiosk::Kiosk>()
                        .set_preview(slint::Image::from_rgb8(f.preview.clone()));
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

    pub(super) fn live(&mut self, now: i64) {
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
    pub(super) fn scan_step(&mut self, now: i64) {
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

    /// The manual path: show the camera, and take the next document photograph when due.
    pub(super) fn document_step(&mut self, now: i64) {
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
}
