//! The controller's view: the session's state and the controller's own shown on the window.

use super::*;
use crate::catalog::Identification;
use crate::engine::SAME_PERSON_DISTANCE;
use crate::kiosk::texts::{guide_items, masked_id};
use crate::kiosk::{ui_screen, Kiosk};
use crate::kiosk::{CheckRow, FieldView, HealthRow, InfoRow, ListRow};
use crate::session::identify::{FieldChars, FieldState};
use crate::session::Screen;
use slint::{ComponentHandle, SharedString};

impl App {
    /// The landscape layout (fewer rows fit).
    pub(super) fn compact(&self) -> bool {
        self.ui
            .upgrade()
            .is_some_and(|ui| ui.global::<crate::kiosk::Metrics>().get_compact())
    }

    // ------------------------------------------------------------------ showing the state

    /// The live screen's changing parts only (prompt, distance, countdown, frame rate): no
    /// lists are rebuilt per frame.
    pub(super) fn refresh_live(&self) {
        let Some(window) = self.ui.upgrade() else {
            return;
        };
        let ui = window.global::<Kiosk>();
        ui.set_prompt(
            self.t(&self.cand.live_prompt.zh, &self.cand.live_prompt.en)
                .into(),
        );
        ui.set_prompt_good(self.cand.live_good);
        let [near, far] = self.profile.distance_cm;
        ui.set_distance_text(
            match self.cand.live_distance {
                Some(d) => self.t(
                    &format!("距离约 {d:.0} 厘米（目标 {near:.0}–{far:.0}）"),
                    &format!("about {d:.0} cm (target {near:.0}–{far:.0})"),
                ),
                None => String::new(),
            }
            .into(),
        );
        ui.set_countdown(
            self.session
                .countdown_until()
                .map(|t| ((t - self.now_ms + 999) / 1000).max(1) as i32)
                .unwrap_or(0),
        );
        ui.set_manual_done(self.session.documents_taken() as i32);
        ui.set_fps_text(
            if self.live_fps > 0.0 {
                format!("{:.0} fps", self.live_fps)
            } else {
                String::new()
            }
            .into(),
        );
    }

    /// Reads what the current screen needs from the store, then draws.
    pub fn refresh(&mut self) {
        let lines = if self.compact() { 14 } else { 18 };
        self.facts = StoreFacts::read(&self.store, &self.batch, self.session.screen(), lines);
        self.render();
    }

    /// The window from the controller's and the session's state (no store query here).
    fn render(&self) {
        let Some(window) = self.ui.upgrade() else {
            return;
        };
        let ui = window.global::<Kiosk>();
        let s = &self.session;
        ui.set_screen(ui_screen(s.screen()));
        ui.set_staff_mode(s.screen().is_staff());
        ui.set_english(self.english);
        ui.set_demo(self.demo);
        if s.screen() == Screen::Idle {
            ui.set_default_pin(self.facts.default_pin);
            ui.set_demo_returning(self.demo && self.facts.has_captures);
        }
        ui.set_collection_open(s.open());
        self.show_voice(&ui);
        ui.set_profile_title(
            if s.open() || !matches!(s.screen(), Screen::Idle) {
                self.t(&self.profile.title.zh, &self.profile.title.en)
            } else {
                String::new()
            }
            .into(),
        );
        ui.set_help_phone(self.profile.help_phone.clone().into());
        ui.set_help_open(s.help_open());
        ui.set_busy(s.busy());
        let notice = s
            .notice()
            .map(|n| self.t(&n.zh, &n.en))
            .or_else(|| self.notice_extra.as_ref().map(|n| self.t(&n.zh, &n.en)))
            .unwrap_or_default();
        ui.set_notice(notice.into());

        // identify
        let keypad = &self.profile.keypad;
        ui.set_accepts_card(
            self.profile
                .identification
                .contains(&Identification::IdCard),
        );
        ui.set_keypad_enabled(!keypad.is_empty());
        let active = keypad.get(self.cand.keypad.active());
        ui.set_keypad_letters(
            active.is_some_and(|f| matches!(f.chars, FieldChars::Alnum | FieldChars::Secret)),
        );
        ui.set_keypad_x(active.is_some_and(|f| f.chars == FieldChars::IdTail));
        ui.set_active_field(self.cand.keypad.active() as i32);
        let fields: Vec<FieldView> = keypad
            .iter()
            .zip(self.cand.keypad.texts())
            .map(|(spec, text)| {
                let state = spec.state(text);
                let (code, hint) = match &state {
                    FieldState::Empty => (
                        0,
                        self.t(
                            &format!("{} 位", spec.length[0]),
                            &format!("{} characters", spec.length[0]),
                        ),
                    ),
                    FieldState::Incomplete => {
                        (1, format!("{}/{}", text.chars().count(), spec.length[0]))
                    }
                    FieldState::Complete => (2, String::new()),
                    FieldState::Bad(why) => (3, self.t(why.zh, why.en)),
                };
                let shown = if spec.chars == FieldChars::Secret {
                    "•".repeat(text.chars().count())
                } else {
                    text.clone()
                };
                FieldView {
                    label: self.t(&spec.label.zh, &spec.label.en).into(),
                    value: shown.into(),
                    state: code,
                    hint: hint.into(),
                }
            })
            .collect();
        ui.set_fields(shared_rows(fields));

        // confirm info
        if let Some(c) = &s.candidate() {
            let state_of = |field: &str| {
                if s.roster().blocked.contains(&field) {
                    2
                } else if s.roster().warned.contains(&field) {
                    1
                } else {
                    0
                }
            };
            let mut rows = vec![
                InfoRow {
                    label: self.t("姓名", "Name").into(),
                    value: c.name.clone().into(),
                    state: state_of("name"),
                },
                InfoRow {
                    label: self.t("证件号码", "ID number").into(),
                    value: masked_id(&c.id_number).into(),
                    state: state_of("id_number"),
                },
            ];
            if c.candidate_key != c.id_number {
                rows.push(InfoRow {
                    label: self.t("考生号", "Candidate number").into(),
                    value: c.candidate_key.clone().into(),
                    state: 0,
                });
            }
            if !c.ethnicity.is_empty() {
                rows.push(InfoRow {
                    label: self.t("民族", "Ethnicity").into(),
                    value: c.ethnicity.clone().into(),
                    state: state_of("ethnicity"),
                });
            }
            if !c.address.is_empty() {
                rows.push(InfoRow {
                    label: self.t("住址", "Address").into(),
                    value: c.address.clone().into(),
                    state: state_of("address"),
                });
            }
            if s.roster().blocked.contains(&"roster") {
                rows.push(InfoRow {
                    label: self.t("报名记录", "Registration").into(),
                    value: self.t("未找到", "not found").into(),
                    state: 2,
                });
            }
            ui.set_info_rows(shared_rows(rows));
        } else {
            ui.set_info_rows(shared_rows(Vec::<InfoRow>::new()));
        }
        ui.set_info_blocked(s.roster().is_blocked());
        ui.set_info_warned(!s.roster().warned.is_empty());

        // consent and guide
        let consent = self
            .profile
            .consent
            .as_ref()
            .map(|c| self.t(&c.zh, &c.en))
            .unwrap_or_default();
        ui.set_consent_text(consent.into());
        ui.set_consent_ticked(s.consent_ticked());
        let guide: Vec<SharedString> = guide_items(&self.profile, &self.spec)
            .iter()
            .map(|item| self.t(&item.zh, &item.en).into())
            .collect();
        ui.set_guide_items(shared_rows(guide));

        // live (also refreshed on its own, per frame)
        self.refresh_live();

        // checks, verify
        let rows: Vec<CheckRow> = self
            .cand
            .check_rows
            .iter()
            .map(|line| CheckRow {
                name: self.t(&line.title.zh, &line.title.en).into(),
                ok: line.ok,
                reason: line
                    .reason
                    .as_ref()
                    .map(|r| self.t(&r.zh, &r.en))
                    .unwrap_or_default()
                    .into(),
            })
            .collect();
        ui.set_check_rows(shared_rows(rows));
        ui.set_checks_passed(s.checks_passed());
        ui.set_verify_passed(s.verified() == Some(true));
        ui.set_verify_text(
            match self.cand.verification_distance {
                Some(d) => self.t(
                    &format!("相似度距离 {d:.2}（小于 {SAME_PERSON_DISTANCE:.2} 为同一人）"),
                    &format!("distance {d:.2} (below {SAME_PERSON_DISTANCE:.2}: same person)"),
                ),
                None if s.verified().is_some() => {
                    self.t("未能比对人脸", "the faces could not be compared")
                }
                None => String::new(),
            }
            .into(),
        );
        ui.set_attempts_text(
            match s.attempts_left() {
                Some(n) if s.verified() == Some(false) => {
                    self.t(&format!("还可尝试 {n} 次"), &format!("{n} attempts left"))
                }
                _ => String::new(),
            }
            .into(),
        );
        let steps: Vec<SharedString> = [
            ("身份证正面", "front of the ID card"),
            ("身份证背面", "back of the ID card"),
            (
                "手持身份证的本人照片（横向）",
                "you holding the card (landscape)",
            ),
        ]
        .iter()
        .map(|(zh, en)| self.t(zh, en).into())
        .collect();
        ui.set_manual_steps(shared_rows(steps));

        // receipt and status
        if let Some((id, _)) = &s.receipt() {
            ui.set_receipt_number(
                id.chars()
                    .rev()
                    .take(12)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
                    .to_uppercase()
                    .into(),
            );
            ui.set_receipt_time(self.cand.receipt_time.clone().into());
            let st = if s.manual_review() {
                self.t(
                    "排队上传，等待人工审核",
                    "queued for upload, then manual review",
                )
            } else {
                self.t("排队上传中，随后审核", "queued for upload, then review")
            };
            ui.set_status_text(st.into());
        } else if let Some(p) = &s.previous() {
            ui.set_status_text(p.status_line.clone().into());
        }
        let review = s.previous().as_ref().and_then(|p| p.review);
        ui.set_can_withdraw(s.can_withdraw());
        ui.set_can_retake(matches!(
            review,
            Some(
                crate::hub_protocol::ReviewState::Rejected
                    | crate::hub_protocol::ReviewState::Withdrawn
            )
        ));

        // staff
        ui.set_pin_dots("●".repeat(self.pin.len()).into());
        let names: Vec<SharedString> = self
            .profile_names
            .iter()
            .filter_map(|n| self.catalog.profile(n).ok())
            .map(|p| self.t(&p.title.zh, &p.title.en).into())
            .collect();
        ui.set_profiles(shared_rows(names));
        ui.set_selected_profile(self.selected as i32);
        ui.set_batch(self.batch.clone().into());
        if s.screen() == Screen::StaffMenu {
            ui.set_health(shared_rows(self.health()));
        }
        if s.screen() == Screen::StaffImport {
            let files: Vec<ListRow> = self
                .roster_files
                .iter()
                .map(|f| ListRow {
                    title: f
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                        .into(),
                    detail: format!(
                        "{} · {:.1} KB",
                        f.path
                            .parent()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        f.bytes as f64 / 1024.0
                    )
                    .into(),
                })
                .collect();
            ui.set_roster_files(shared_rows(files));
            ui.set_import_folders(
                self.import_roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join("  ")
                    .into(),
            );
        }
        if s.screen() == Screen::StaffBatch {
            ui.set_batch_input(self.batch_input.clone().into());
            let rows: Vec<ListRow> = self
                .batch_list
                .iter()
                .map(|(b, n)| ListRow {
                    title: b.clone().into(),
                    detail: self
                        .t(&format!("名单 {n} 人"), &format!("roster of {n}"))
                        .into(),
                })
                .collect();
            ui.set_batch_rows(shared_rows(rows));
        }
        if matches!(s.screen(), Screen::StaffMenu | Screen::StaffReprint) {
            ui.set_printer(self.printer_row());
        }
        if s.screen() == Screen::StaffReprint {
            ui.set_reprint_rows(shared_rows(self.reprint_rows()));
        }
        if s.screen() == Screen::StaffAudit {
            ui.set_audit_rows(shared_rows(self.audit_rows()));
        }
        ui.set_new_pin_step(i32::from(self.new_pin_first.is_some()));
    }

    pub(super) fn health(&self) -> Vec<HealthRow> {
        let q = &self.facts.queue;
        let hub = self.facts.hub_url.clone();
        let roster = self.facts.roster_size;
        vec![
            HealthRow {
                name: self.t("摄像头", "Camera").into(),
                ok: true,
                detail: self.devices.camera.description.clone().into(),
            },
            HealthRow {
                name: self.t("读卡器", "ID reader").into(),
                ok: true,
                detail: format!(
                    "{}{}",
                    self.devices.reader.path.display(),
                    if self.devices.simulated_reader.is_some() {
                        " (simulated)"
                    } else {
                        ""
                    }
                )
                .into(),
            },
            HealthRow {
                name: self.t("中心", "Hub").into(),
                ok: hub.is_some(),
                detail: hub.unwrap_or_else(|| self.t("未连接", "not linked")).into(),
            },
            HealthRow {
                name: self.t("上传队列", "Outbox").into(),
                ok: q.quarantined == 0,
                detail: self
                    .t(
                        &format!(
                            "待上传 {}，已上传 {}，隔离 {}",
                            q.pending, q.sent, q.quarantined
                        ),
                        &format!(
                            "{} pending, {} sent, {} quarantined",
                            q.pending, q.sent, q.quarantined
                        ),
                    )
                    .into(),
            },
            self.printer_row(),
            HealthRow {
                name: self.t("名单", "Roster").into(),
                ok: roster > 0,
                detail: self
                    .t(&format!("{roster} 人"), &format!("{roster} candidates"))
                    .into(),
            },
        ]
    }
}

/// Local time at the collection point (UTC+8), for the receipt.
pub fn beijing_time(ms: i64) -> String {
    use crate::civil_time::{CivilTime, CST_OFFSET_SECS};
    CivilTime::from_unix(ms.div_euclid(1000), CST_OFFSET_SECS).date_time()
}
