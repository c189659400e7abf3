//! The controller's slow work: checks, verification, submitting and withdrawing run on worker
//! threads, and what they send back (`Done`) is applied here on the UI thread.

use super::writer;
use super::*;
use crate::engine::{descriptor_distance, SAME_PERSON_DISTANCE};
use crate::imaging::{decode_image, DecodeLimits};
use crate::kiosk::print::Printed;
use crate::kiosk::texts::check_title;
use crate::photo::check_and_make;
use crate::session::{Event, Screen};
use crate::store::AuditAction;

impl App {
    pub(super) fn run_checks(&mut self) {
        let Some(frame) = self.devices.camera.capture() else {
            self.job_sender().send(Done::Checked {
                passed: false,
                rows: vec![CheckLine {
                    title: Bilingual::new("摄像头", "camera"),
                    ok: false,
                    reason: Some(Bilingual::new("没有拍到照片", "no photo was taken")),
                }],
                photo: None,
                report_json: "{}".into(),
            });
            return;
        };
        let (engine, spec, profile, tx) = (
            self.engine.clone(),
            self.spec.clone(),
            self.profile.clone(),
            self.job_sender(),
        );
        std::thread::spawn(move || {
            // the capture is decoded here, in full, off the UI thread
            let analysed = frame
                .full()
                .map_err(|e| e.to_string())
                .and_then(|f| Ok((engine.analyze_still(&f).map_err(|e| e.to_string())?, f)));
            let done = match analysed {
                Ok((analysis, frame)) => {
                    let (report, made) =
                        check_and_make(&engine, &frame, &analysis, &spec, &profile);
                    let made = made.ok();
                    let rows = report
                        .checks
                        .iter()
                        .filter(|c| c.limit.is_some() || !c.ok)
                        .map(|c| CheckLine {
                            title: check_title(c.id).into(),
                            ok: c.ok,
                            reason: c.reason.map(Bilingual::from),
                        })
                        .collect();
                    let passed = report.ok && made.as_ref().is_some_and(|m| m.valid);
                    let photo = made.and_then(|m| {
                        let rgb = decode_image(&m.jpeg, DecodeLimits::default()).ok()?;
                        Some((m.jpeg, rgb))
                    });
                    Done::Checked {
                        passed,
                        rows,
                        photo,
                        report_json: serde_json::to_string(&report).unwrap_or_else(|_| "{}".into()),
                    }
                }
                Err(e) => Done::Checked {
                    passed: false,
                    rows: vec![CheckLine {
                        title: Bilingual::new("检测", "checks"),
                        ok: false,
                        reason: Some(Bilingual::new(
                            format!("检测失败：{e}"),
                            format!("the check failed: {e}"),
                        )),
                    }],
                    photo: None,
                    report_json: "{}".into(),
                },
            };
            tx.send(done);
        });
    }

    pub(super) fn run_verify(&mut self) {
        let (Some(reference), Some((_, photo))) =
            (self.cand.reference.clone(), self.cand.photo.clone())
        else {
            self.job_sender().send(Done::Verified { distance: None });
            return;
        };
        let (engine, tx) = (self.engine.clone(), self.job_sender());
        std::thread::spawn(move || {
            // the two faces are described side by side, one per core
            let (a, b) = std::thread::scope(|scope| {
                let a = scope.spawn(|| engine.describe(&reference).ok().flatten());
                let b = engine.describe(&photo).ok().flatten();
                (a.join().ok().flatten(), b)
            });
            let distance = match (a, b) {
                (Some(a), Some(b)) => Some(descriptor_distance(&a, &b)),
                _ => None,
            };
            tx.send(Done::Verified { distance });
        });
    }

    /// Hands the confirmed capture to the writer thread; `Done::Stored` brings the outcome.
    pub(super) fn submit(&mut self, manual_review: bool) {
        let Some(jpeg) = self.cand.photo.as_ref().map(|(jpeg, _)| jpeg.clone()) else {
            self.dispatch(Event::SubmitFailed {
                reason: "no photo".into(),
            });
            return;
        };
        let capture = writer::Capture {
            session_id: self.cand.session_id.clone(),
            profile: self.profile.name.clone(),
            batch: self.batch.clone(),
            candidate_key: self.cand.candidate_key.clone(),
            spec: self.spec.name.clone(),
            photo_jpeg: jpeg,
            check_report_json: self.cand.report_json.clone(),
            verification_distance: self.cand.verification_distance,
            manual_review,
            documents: self.cand.documents.clone(),
        };
        let reply = self.job_sender();
        self.writer.write(capture, reply);
    }

    pub(super) fn withdraw(&mut self, record_id: String) {
        let link = crate::upload::stored_link(&self.store).ok().flatten();
        let tx = self.job_sender();
        std::thread::spawn(move || {
            let result = (|| -> Result<(), String> {
                let link = link.ok_or("this kiosk is not linked to a hub")?;
                let client = crate::upload::HubClient::new(&link).map_err(|e| e.to_string())?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(client.withdraw(&record_id))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })();
            tx.send(Done::Withdrawn(result));
        });
    }

    pub(super) fn finished(&mut self, done: Done) {
        match done {
            Done::Checked {
                passed,
                rows,
                photo,
                report_json,
            } => {
                self.cand.check_rows = rows;
                self.cand.report_json = report_json;
                if let (Some((_, rgb)), Some(ui)) = (&photo, self.ui.upgrade()) {
                    ui.global::<crate::kiosk::Kiosk>().set_photo(image_of(rgb));
                }
                self.cand.photo = photo;
                let passed = passed && self.cand.photo.is_some();
                if !passed {
                    self.voice_announce(crate::kiosk::voice::Cue::Retake);
                }
                self.dispatch(Event::Checked { passed });
            }
            Done::Stored(Ok(id)) => {
                if let Some(u) = &self.uploader {
                    u.wake();
                }
                let now = crate::store::now_ms();
                self.cand.receipt_time = beijing_time(now);
                self.dispatch(Event::Submitted {
                    record_id: id,
                    at_ms: now,
                });
            }
            Done::Stored(Err(reason)) => self.dispatch(Event::SubmitFailed { reason }),
            Done::Verified { distance: None } => {
                // nothing was compared (no face in the reference, engine error): not an attempt
                self.dispatch(Event::VerifyUnavailable);
            }
            Done::Verified { distance } => {
                self.cand.verification_distance = distance;
                let passed = distance.is_some_and(|d| d < SAME_PERSON_DISTANCE);
                // an attempt that cannot be recorded does not count as made: the kiosk stops
                if let Err(e) = self.store.record_attempt(
                    &self.profile.name,
                    &self.cand.candidate_key,
                    distance,
                    passed,
                ) {
                    self.store_failed(e);
                    return;
                }
                self.dispatch(Event::Verified { passed });
            }
            Done::Withdrawn(Ok(())) => self.dispatch(Event::Withdrawn),
            Done::Withdrawn(Err(e)) => self.dispatch(Event::WithdrawFailed { reason: e }),
            Done::Printed { record, result } => {
                self.printing = false;
                self.notice_extra = Some(match result {
                    Ok(Printed::Sent { queue, job }) => {
                        self.printer_took(job, record);
                        Bilingual::new(
                            format!("已发送到打印机 {queue}"),
                            format!("sent to the printer {queue}"),
                        )
                    }
                    Ok(Printed::Refused { queue, state }) => {
                        let words = state.words();
                        self.printer_refused(state);
                        Bilingual::new(
                            format!("未打印：打印机 {queue} {}。照片仍保存在本机，处理后可再补打", words.zh),
                            format!("not printed: the printer {queue} is {}. The photo stays on the kiosk; reprint once it is fixed", words.en),
                        )
                    }
                    Ok(Printed::Saved { file }) => Bilingual::new(
                        format!("未设置打印机，照片版面已保存为 {}", file.display()),
                        format!(
                            "no printer is set up; the sheet is saved as {}",
                            file.display()
                        ),
                    ),
                    Err(e) => {
                        Bilingual::new(format!("打印失败：{e}"), format!("printing failed: {e}"))
                    }
                });
                self.refresh();
            }
            Done::PrinterState(answer) => self.printer_answered(answer),
            Done::RosterSynced { batch, rows } => {
                let stored =
                    self.store_roster(&batch, &Bilingual::new("汇总服务器", "the hub"), rows);
                self.audit(
                    if stored.is_ok() {
                        AuditAction::SyncRoster
                    } else {
                        AuditAction::SyncRosterFailed
                    },
                    &format!(
                        "{batch}: {}",
                        stored.as_ref().map(|n| n.to_string()).unwrap_or_default()
                    ),
                );
                self.notice_extra = Some(match stored {
                    Ok(n) => Bilingual::new(
                        format!("批次 {batch} 名单已同步：{n} 人"),
                        format!("batch {batch}: roster synced, {n} candidates"),
                    ),
                    Err(e) => {
                        let why = Bilingual::from_message(&e);
                        Bilingual::new(
                            format!("名单同步失败：{}", why.zh),
                            format!("roster sync failed: {}", why.en),
                        )
                    }
                });
                self.refresh();
            }
            Done::PasswordChecked(entry) => {
                self.cand.password_checking = false;
                match entry {
                    Some(e) if self.session.screen() == Screen::Identify => {
                        self.identified_on_roster(e)
                    }
                    Some(_) => {}
                    None => self.wrong_credentials(),
                }
            }
            Done::PinChecked { ok } => self.pin_checked(ok),
            Done::PinSealed { sealed, changed } => self.pin_sealed(sealed, changed),
            Done::RosterFiles(files) => {
                self.roster_files = files;
                self.notice_extra = None;
                self.refresh();
            }
            Done::RosterRead { batch, file, rows } => {
                let stored =
                    self.store_roster(&batch, &Bilingual::new(file.as_str(), file.as_str()), rows);
                self.notice_extra = Some(match stored {
                    Ok(n) => {
                        if !self.audit(AuditAction::ImportRoster, &format!("{file} → {batch}: {n}"))
                        {
                            return;
                        }
                        Bilingual::new(
                            format!("已导入 {n} 人到批次 {batch}（{file}）"),
                            format!("{n} candidates imported into batch {batch} ({file})"),
                        )
                    }
                    Err(why) => {
                        if !self.audit(AuditAction::ImportRosterRefused, &file) {
                            return;
                        }
                        // the reasons name lines, never personal data (see roster.rs)
                        // the reason itself says nothing was imported, and why
                        let why = Bilingual::from_message(&why);
                        Bilingual::new(format!("{file}：{}", why.zh), format!("{file}: {}", why.en))
                    }
                });
                self.refresh();
            }
        }
    }
}
