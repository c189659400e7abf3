//! What the kiosk may read of the session (its fields are private: it changes them only by
//! events).

use super::identify::RosterCheck;
use super::{Candidate, Notice, PreviousRecord, Rules, Screen, Session};

impl Session {
    /// Whether the returning candidate may withdraw their record now: the profile allows it
    /// and the record is still pending review (R-STATUS).
    pub fn can_withdraw(&self) -> bool {
        self.rules.withdraw_allowed
            && self
                .previous
                .as_ref()
                .is_some_and(|p| p.review == Some(crate::hub_protocol::ReviewState::PendingReview))
    }

    /// Whether the staff PIN keypad takes digits at `now_ms` (it waits after wrong PINs).
    pub fn pin_keypad_open(&self, now_ms: i64) -> bool {
        now_ms >= self.pin_wait_until
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Staff opened collection: candidates may start.
    pub fn open(&self) -> bool {
        self.open
    }

    pub fn help_open(&self) -> bool {
        self.help_open
    }

    pub fn candidate(&self) -> Option<&Candidate> {
        self.candidate.as_ref()
    }

    pub fn roster(&self) -> &RosterCheck {
        &self.roster
    }

    pub fn previous(&self) -> Option<&PreviousRecord> {
        self.previous.as_ref()
    }

    pub fn consent_ticked(&self) -> bool {
        self.consent_ticked
    }

    pub fn checks_passed(&self) -> bool {
        self.checks_passed
    }

    pub fn verified(&self) -> Option<bool> {
        self.verified
    }

    pub fn manual_review(&self) -> bool {
        self.manual_review
    }

    /// The record id and the time it was stored.
    pub fn receipt(&self) -> Option<&(String, i64)> {
        self.receipt.as_ref()
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Work is running for this screen (checks, verification, submit, withdraw, documents).
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// When the visible countdown ends: the shutter's on the live screen, the next document's
    /// on the manual path.
    pub fn countdown_until(&self) -> Option<i64> {
        match self.screen {
            Screen::Live => self.shutter.countdown_until(),
            Screen::Manual => self.documents.next_at,
            _ => None,
        }
    }

    /// Documents photographed so far on the manual path.
    pub fn documents_taken(&self) -> usize {
        self.documents.taken
    }

    /// The camera was lost: the failsafe screen waits for a good frame (`DeviceBack`).
    pub fn camera_lost(&self) -> bool {
        self.camera_lost
    }
}
