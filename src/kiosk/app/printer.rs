//! The controller's watch on the printer: while staff are in the menu or the reprint list,
//! CUPS is asked every few seconds on a worker thread (the UI thread never waits on the
//! network) and the answer is shown; the CUPS jobs of reprints are remembered (in the store,
//! so also after a restart) and a stuck one is reported with the capture it was printing,
//! which stays in the store to print again.

use super::*;
use crate::kiosk::print::{job_record, remember_job, PrintSetup};
use crate::kiosk::printer_state::{self, PrinterState};
use crate::kiosk::HealthRow;
use crate::session::Screen;

/// How often the staff screens ask CUPS (each question takes at most 3 s).
const ASK_EVERY_MS: i64 = 5_000;

#[derive(Default)]
pub(super) struct PrinterWatch {
    /// What CUPS said last; None: no printer set up, or not asked yet.
    state: Option<PrinterState>,
    asked_ms: Option<i64>,
    /// The stuck job already logged (logged once, shown as long as it lasts).
    logged_stuck: Option<i32>,
}

impl App {
    /// How and where reprints go, from the settings `kiosk staff printer` and kiosk.toml set.
    pub(super) fn print_setup(&self) -> PrintSetup {
        let setting = |key: &str| self.store.get_setting(key).ok().flatten();
        PrintSetup {
            layout: setting("print_layout").unwrap_or_else(|| "1in*8+2in*4".into()),
            printer: setting("printer").filter(|p| !p.is_empty()),
            server: setting("printer_server")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| printer_state::DEFAULT_SERVER.into()),
            command: setting("print_command").unwrap_or_else(|| "lp".into()),
            folder: self.prints_folder.clone(),
        }
    }

    /// On the staff screens that show the printer: asks CUPS again when the last answer is a
    /// few seconds old.
    pub(super) fn watch_printer(&mut self, now_ms: i64) {
        if !matches!(
            self.session.screen(),
            Screen::StaffMenu | Screen::StaffReprint
        ) || self
            .printer
            .asked_ms
            .is_some_and(|t| (0..ASK_EVERY_MS).contains(&(now_ms - t)))
        {
            return;
        }
        self.printer.asked_ms = Some(now_ms);
        let setup = self.print_setup();
        let Some(queue) = setup.printer else {
            if self.printer.state.take().is_some() {
                self.refresh();
            }
            return;
        };
        let tx = self.job_sender();
        std::thread::spawn(move || {
            let state = printer_state::ask(&setup.server, &queue).map_err(|e| format!("{e:#}"));
            tx.send(Done::PrinterState(state));
        });
    }

    /// CUPS answered (or could not be asked): shown, and a newly stuck job logged with the
    /// capture it was printing.
    pub(super) fn printer_answered(&mut self, answer: Result<PrinterState, String>) {
        let state = answer.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the printer's state could not be read");
            PrinterState::Unknown(e)
        });
        if let PrinterState::JobStuck { job_id, age_s } = &state {
            if self.printer.logged_stuck != Some(*job_id) {
                self.printer.logged_stuck = Some(*job_id);
                let record = self.printed_record(*job_id);
                tracing::warn!(job = job_id, age_s, record = ?record, "a print job is stuck in the queue");
            }
        }
        if self.printer.state.as_ref() != Some(&state) {
            self.printer.state = Some(state);
            self.refresh();
        }
    }

    /// A reprint went to CUPS as `job`: remembered, to name its capture if it gets stuck.
    pub(super) fn printer_took(&mut self, job: Option<i32>, record: String) {
        if let Some(job) = job {
            // only the link to the capture is lost if this fails: the photo stays reprintable
            if let Err(e) = remember_job(&self.store, job, &record) {
                tracing::warn!(job, record, error = %e, "the print job's capture could not be remembered");
            }
        }
        // the queue changed: ask again at the next tick rather than in five seconds
        self.printer.asked_ms = None;
    }

    /// A reprint was refused by the check before it: the state it was refused for is shown.
    pub(super) fn printer_refused(&mut self, state: PrinterState) {
        self.printer.state = Some(state);
    }

    fn printed_record(&self, job: i32) -> Option<String> {
        job_record(&self.store, job)
    }

    /// The printer's line on the staff screens: green when a sheet sent now would print.
    pub(super) fn printer_row(&self) -> HealthRow {
        let name = self.t("打印机", "Printer").into();
        let Some(state) = &self.printer.state else {
            let configured = self
                .store
                .get_setting("printer")
                .ok()
                .flatten()
                .is_some_and(|p| !p.is_empty());
            return HealthRow {
                name,
                ok: !configured,
                detail: if configured {
                    self.t("正在查询…", "asking CUPS…")
                } else {
                    self.t(
                        "未设置打印机，补打的版面保存在本机",
                        "no printer set up; reprints are saved on the kiosk",
                    )
                }
                .into(),
            };
        };
        let words = state.words();
        let mut detail = self.t(&words.zh, &words.en);
        if let PrinterState::JobStuck { job_id, .. } = state {
            if let Some(record) = self.printed_record(*job_id) {
                // the record's last characters tell staff which capture, without personal data
                let tail: String = record
                    .chars()
                    .skip(record.chars().count().saturating_sub(6))
                    .collect();
                detail
                    .push_str(&self.t(&format!("（记录 …{tail}）"), &format!(" (record …{tail})")));
            }
        }
        HealthRow {
            name,
            ok: state.can_print(),
            detail: detail.into(),
        }
    }
}
