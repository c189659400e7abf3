//! What the window shows that lives in the kiosk's store, read in one place before the window
//! is drawn and only for the screen that shows it, so drawing (`view`) never queries the store.

use crate::session::Screen;
use crate::store::{AuditEntry, QueueStatus, Store};

#[derive(Default)]
pub(super) struct StoreFacts {
    /// Idle: no PIN of staff's own is set (the demo may tell the default one).
    pub(super) default_pin: bool,
    /// Idle: this kiosk has photographed someone before.
    pub(super) has_captures: bool,
    /// Staff menu: the outbox, the hub link and the batch's roster.
    pub(super) queue: QueueStatus,
    pub(super) hub_url: Option<String>,
    pub(super) roster_size: i64,
    /// Audit screen: the newest lines.
    pub(super) audit: Vec<AuditEntry>,
}

impl StoreFacts {
    /// Reads what `screen` shows. A figure that cannot be read is shown as none: nothing but
    /// these words depends on it (the rules that rest on the store stop the kiosk instead).
    pub(super) fn read(store: &Store, batch: &str, screen: Screen, audit_lines: usize) -> Self {
        let mut facts = StoreFacts::default();
        match screen {
            Screen::Idle => {
                facts.default_pin = crate::kiosk::staff::default_pin_in_use(store);
                facts.has_captures = store.capture_count().is_ok_and(|n| n > 0);
            }
            Screen::StaffMenu => {
                facts.queue = store.queue_status().unwrap_or_default();
                facts.hub_url = crate::upload::stored_link(store)
                    .ok()
                    .flatten()
                    .map(|l| l.url);
                facts.roster_size = store.roster_size(batch).unwrap_or(0);
            }
            Screen::StaffAudit => {
                facts.audit = store.recent_audit(audit_lines).unwrap_or_default();
            }
            _ => {}
        }
        facts
    }
}
