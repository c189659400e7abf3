//! The session's camera timing, decided here rather than in the kiosk: when the shutter goes
//! (a steady good position, then a visible countdown; or the button, then the same countdown),
//! when the next document is photographed, when a failing camera counts as lost, and when the
//! same QR code in view is judged again. Time comes in with the events.

/// Good and steady this long before the automatic countdown starts.
pub const STEADY_MS: i64 = 1000;
/// The countdown before the shutter and before each document photograph.
pub const COUNTDOWN_MS: i64 = 3000;
/// A camera failing for longer than this is lost (it reopens itself after an unplug, so a short
/// gap is not a loss).
pub const CAMERA_LOST_AFTER_MS: i64 = 3000;
/// The same code in front of the camera is judged once, again only after this long.
pub const SAME_CODE_AGAIN_MS: i64 = 4000;
/// The manual path photographs the ID card's front, its back, and the candidate holding it.
pub const DOCUMENTS: usize = 3;

/// The live screen's shutter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Shutter {
    steady_since: Option<i64>,
    countdown_until: Option<i64>,
    /// Started by the button: moving out of position does not stop it.
    by_button: bool,
}

impl Shutter {
    /// A frame's verdict: good and steady long enough starts the countdown; moving out of
    /// position stops a countdown the button did not start.
    pub(super) fn frame(&mut self, good: bool, now_ms: i64) {
        if good {
            let since = *self.steady_since.get_or_insert(now_ms);
            if self.countdown_until.is_none() && now_ms - since >= STEADY_MS {
                self.countdown_until = Some(now_ms + COUNTDOWN_MS);
                self.by_button = false;
            }
        } else {
            self.steady_since = None;
            if !self.by_button {
                self.countdown_until = None;
            }
        }
    }

    /// The shutter button: the countdown, unless one is running.
    pub(super) fn button(&mut self, now_ms: i64) {
        if self.countdown_until.is_none() {
            self.countdown_until = Some(now_ms + COUNTDOWN_MS);
            self.by_button = true;
        }
    }

    /// Whether the countdown has ended (the shutter goes once: the shutter is reset).
    pub(super) fn fires(&mut self, now_ms: i64) -> bool {
        let fires = self.countdown_until.is_some_and(|t| now_ms >= t);
        if fires {
            *self = Shutter::default();
        }
        fires
    }

    pub(super) fn countdown_until(&self) -> Option<i64> {
        self.countdown_until
    }
}

/// The manual path's document photographs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Documents {
    pub(super) taken: usize,
    /// When the next one is due (set at the first tick after the start or the last one).
    pub(super) next_at: Option<i64>,
    pub(super) running: bool,
    /// One is being taken (asked for, not answered yet).
    taking: bool,
}

impl Documents {
    pub(super) fn start(&mut self) {
        *self = Documents {
            running: true,
            ..Documents::default()
        };
    }

    /// Whether the next photograph is due now; the countdown to it starts at the first call.
    pub(super) fn due(&mut self, now_ms: i64) -> bool {
        if !self.running || self.taking {
            return false;
        }
        match self.next_at {
            None => {
                self.next_at = Some(now_ms + COUNTDOWN_MS);
                false
            }
            Some(t) if now_ms >= t => {
                self.next_at = None;
                self.taking = true;
                true
            }
            Some(_) => false,
        }
    }

    /// One was taken; true when that was the last.
    pub(super) fn taken(&mut self, now_ms: i64) -> bool {
        if !self.taking {
            return false;
        }
        self.taking = false;
        self.taken += 1;
        if self.taken >= DOCUMENTS {
            self.running = false;
            true
        } else {
            self.next_at = Some(now_ms + COUNTDOWN_MS);
            false
        }
    }

    /// The camera had no frame to give: it is tried again at the next tick.
    pub(super) fn missed(&mut self, now_ms: i64) {
        if self.taking {
            self.taking = false;
            self.next_at = Some(now_ms);
        }
    }
}

/// Whether a failing camera is lost yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct CameraHealth {
    failing_since: Option<i64>,
}

impl CameraHealth {
    pub(super) fn frame(&mut self) {
        self.failing_since = None;
    }

    /// A failure at `now_ms`: true once the camera has failed for longer than the grace.
    pub(super) fn failed(&mut self, now_ms: i64) -> bool {
        let since = *self.failing_since.get_or_insert(now_ms);
        now_ms - since > CAMERA_LOST_AFTER_MS
    }
}

/// The last QR code judged, so the same code in view is not judged on every frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct LastCode {
    last: Option<(String, i64)>,
}

impl LastCode {
    /// Whether `text` seen at `now_ms` should be judged.
    pub(super) fn fresh(&mut self, text: &str, now_ms: i64) -> bool {
        if let Some((last, at)) = &self.last {
            if last == text && now_ms - at < SAME_CODE_AGAIN_MS {
                return false;
            }
        }
        self.last = Some((text.to_owned(), now_ms));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_good_position_starts_the_countdown_and_moving_stops_it() {
        let mut s = Shutter::default();
        s.frame(true, 0);
        s.frame(true, STEADY_MS - 1);
        assert_eq!(s.countdown_until(), None);
        s.frame(true, STEADY_MS);
        assert_eq!(s.countdown_until(), Some(STEADY_MS + COUNTDOWN_MS));
        assert!(!s.fires(STEADY_MS + COUNTDOWN_MS - 1));
        // moving out of position stops it, and steadiness starts again from nothing
        s.frame(false, STEADY_MS + 100);
        assert_eq!(s.countdown_until(), None);
        s.frame(true, STEADY_MS + 200);
        s.frame(true, 2 * STEADY_MS + 199);
        assert_eq!(s.countdown_until(), None);
        s.frame(true, 2 * STEADY_MS + 200);
        let end = 2 * STEADY_MS + 200 + COUNTDOWN_MS;
        assert!(s.fires(end));
        assert!(!s.fires(end + 1), "the shutter goes once");
    }

    #[test]
    fn the_button_counts_down_whatever_the_position() {
        let mut s = Shutter::default();
        s.button(500);
        s.frame(false, 600);
        assert_eq!(s.countdown_until(), Some(500 + COUNTDOWN_MS));
        s.button(700);
        assert_eq!(
            s.countdown_until(),
            Some(500 + COUNTDOWN_MS),
            "not restarted"
        );
        assert!(s.fires(500 + COUNTDOWN_MS));
    }

    #[test]
    fn documents_are_taken_one_countdown_apart_and_a_missed_one_is_tried_again() {
        let mut d = Documents::default();
        assert!(!d.due(0), "none running");
        d.start();
        assert!(!d.due(100), "the countdown starts");
        assert!(!d.due(100 + COUNTDOWN_MS - 1));
        assert!(d.due(100 + COUNTDOWN_MS));
        assert!(!d.due(100 + COUNTDOWN_MS + 10), "being taken");
        let mut d = Documents::default();
        d.start();
        d.due(0);
        assert!(d.due(COUNTDOWN_MS));
        d.missed(COUNTDOWN_MS + 20);
        assert!(d.due(COUNTDOWN_MS + 20), "tried again at once");
        assert!(!d.taken(COUNTDOWN_MS + 30));
        assert!(
            !d.taken(COUNTDOWN_MS + 31),
            "an answer nobody asked for counts nothing"
        );
        assert_eq!(d.taken, 1);
        assert!(d.due(2 * COUNTDOWN_MS + 30));
        assert!(!d.taken(2 * COUNTDOWN_MS + 40));
        assert!(d.due(3 * COUNTDOWN_MS + 40));
        assert!(d.taken(3 * COUNTDOWN_MS + 50), "the third is the last");
        assert!(!d.due(10 * COUNTDOWN_MS));
    }

    #[test]
    fn a_camera_is_lost_only_after_failing_past_the_grace_and_a_code_is_judged_once() {
        let mut c = CameraHealth::default();
        assert!(!c.failed(0));
        assert!(!c.failed(CAMERA_LOST_AFTER_MS));
        c.frame();
        assert!(
            !c.failed(CAMERA_LOST_AFTER_MS + 1),
            "a good frame starts the grace again"
        );
        assert!(c.failed(2 * CAMERA_LOST_AFTER_MS + 2));

        let mut codes = LastCode::default();
        assert!(codes.fresh("A", 0));
        assert!(!codes.fresh("A", SAME_CODE_AGAIN_MS - 1));
        assert!(
            codes.fresh("B", SAME_CODE_AGAIN_MS - 1),
            "another code is judged at once"
        );
        assert!(codes.fresh("A", SAME_CODE_AGAIN_MS));
    }
}
