//! The controller's staff menu: opening and ending a collection, roster import and sync,
//! reprints, the batch and a new PIN.

use super::*;
use crate::hub_protocol::RosterEntry;
use crate::kiosk::print::print_sheet;
use crate::kiosk::staff::{find_roster_files, pin_problem, read_roster_file, DEFAULT_PIN};
use crate::kiosk::texts::masked_id;
use crate::kiosk::ListRow;
use crate::session::{Event, Screen};
use crate::store::AuditAction;

impl App {
    /// Staff: fetch the batch's roster from the hub.
    pub fn sync_roster(&mut self) {
        if !self.batch_chosen() {
            return;
        }
        let link = crate::upload::stored_link(&self.store).ok().flatten();
        let (tx, batch) = (self.job_sender(), self.batch.clone());
        std::thread::spawn(move || {
            let result = (|| -> Result<Vec<RosterEntry>, String> {
                let link = link.ok_or(
                    "本机尚未连接汇总服务器（kiosk queue link） / this kiosk is not linked to a hub (kiosk queue link)",
                )?;
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
    pub(super) fn batch_chosen(&mut self) -> bool {
        if self.batch.is_empty() {
            self.notice_extra = Some(Bilingual::new("请先选择批次", "choose the batch first"));
            self.refresh();
        }
        !self.batch.is_empty()
    }

    /// Staff: open (or continue) the collection for the chosen profile and batch.
    pub fn staff_open(&mut self) {
        if !self.batch_chosen() {
            return;
        }
        if !self.session.open() {
            self.collection_opened_ms = self.now_ms;
            let detail = format!("{} {}", self.profile.name, self.batch);
            if !self.audit(AuditAction::OpenCollection, &detail) {
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
            AuditAction::EndCollection,
            &format!(
                "{} {}: {taken} captures, {waiting} waiting for upload, roster of {forgotten} removed",
                self.profile.name, self.batch
            ),
        );
        self.notice_extra = Some(Bilingual::new(
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
        if self.session.screen() != Screen::StaffImport {
            self.dispatch(Event::StaffImport);
        }
        self.notice_extra = Some(Bilingual::new(
            "正在查找名单文件…",
            "looking for roster files…",
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
        self.notice_extra = Some(Bilingual::new(
            format!("正在读取 {name}…"),
            format!("reading {name}…"),
        ));
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
    pub(super) fn store_roster(
        &mut self,
        batch: &str,
        source: &Bilingual,
        rows: Result<Vec<RosterEntry>, String>,
    ) -> Result<usize, String> {
        let rows = rows?;
        if rows.is_empty() {
            return Err(format!(
                "{} 中没有批次 {batch} 的考生，本机名单保持不变 / {} has no candidates for batch {batch}; the roster here is kept",
                source.zh, source.en
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
                self.notice_extra = Some(Bilingual::new(
                    "这张照片已不在本机（已上传并过了保留期）",
                    "this photo is no longer on the kiosk (uploaded, retention over)",
                ));
                self.refresh();
                return;
            }
        };
        let setup = self.print_setup();
        if !self.audit(AuditAction::Reprint, &id) {
            return;
        }
        self.printing = true;
        self.notice_extra = Some(Bilingual::new(
            "正在检查打印机并准备打印…",
            "checking the printer, preparing the print…",
        ));
        self.refresh();
        let tx = self.job_sender();
        std::thread::spawn(move || {
            let result = print_sheet(&setup, &photo, &id).map_err(|e| format!("{e:#}"));
            tx.send(Done::Printed { record: id, result });
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
            self.notice_extra = Some(Bilingual::new("请输入批次", "type the batch"));
            self.refresh();
            return;
        }
        if batch != self.batch {
            if let Err(e) = self.store.set_setting("batch", &batch) {
                self.store_failed(e);
                return;
            }
            if !self.audit(
                AuditAction::ChooseBatch,
                &format!("{} → {batch}", self.batch),
            ) {
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
        if let Some(problem) = pin_problem(&typed, DEFAULT_PIN) {
            self.new_pin_first = None;
            self.notice_extra = Some(problem.into());
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
                // sealing takes tens of milliseconds: on a worker, stored when it is back
                let tx = self.job_sender();
                std::thread::spawn(move || {
                    let sealed =
                        crate::kiosk::staff::seal_pin(&typed).map_err(|e| format!("{e:#}"));
                    tx.send(Done::PinSealed {
                        sealed,
                        changed: true,
                    });
                });
            }
            Some(_) => {
                self.notice_extra = Some(Bilingual::new(
                    "两次输入的 PIN 不一致，请重新输入",
                    "the two PINs differ; type the new PIN again",
                ));
                self.refresh();
            }
        }
    }

    /// The captures offered for a reprint, as staff read them (the candidate number masked
    /// like the ID number: staff need to tell records apart, not read them out).
    pub(super) fn reprint_rows(&self) -> Vec<ListRow> {
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

    /// The newest audit lines for the staff screen.
    pub(super) fn audit_rows(&self) -> Vec<ListRow> {
        self.facts
            .audit
            .iter()
            .map(|a| {
                let words = a.words();
                ListRow {
                    title: format!(
                        "{}  {}",
                        beijing_time(a.at_ms),
                        self.t(&words.zh, &words.en)
                    )
                    .into(),
                    detail: a.detail.clone().into(),
                }
            })
            .collect()
    }

    /// A sealed PIN is back from its worker: stored, and for a new PIN recorded and confirmed.
    pub(super) fn pin_sealed(&mut self, sealed: Result<String, String>, changed: bool) {
        let stored = sealed.and_then(|v| {
            crate::kiosk::staff::store_sealed_pin(&self.store, &v).map_err(|e| e.to_string())
        });
        match (stored, changed) {
            (Ok(()), true) => {
                if !self.audit(AuditAction::ChangePin, "") {
                    return;
                }
                self.notice_extra = None;
                self.dispatch(Event::PinChanged);
            }
            (Err(e), true) => {
                self.notice_extra = Some(Bilingual::new(
                    "PIN 未能保存",
                    format!("the PIN was not saved: {e}"),
                ));
                self.refresh();
            }
            // the old unsalted PIN still works; sealing is tried again at the next unlock
            (Err(e), false) => tracing::warn!(error = %e, "the staff PIN could not be resealed"),
            (Ok(()), false) => tracing::info!("the staff PIN was resealed with argon2"),
        }
    }
}
