//! The controller's identification: the card reader, the keypad, the collection code on the
//! camera and the roster match, each turned into session events.

use super::*;
use crate::catalog::FieldKey;
use crate::hub_protocol::RosterEntry;
use crate::imaging::{decode_image, DecodeLimits};
use crate::kiosk::staff::{seal_pin, StoredPin, PIN_DIGITS};
use crate::reader::card::CardType;
use crate::session::identify::{
    collection_code, id_tail, match_roster, FieldChars, FieldState, RosterCheck,
};
use crate::session::keypad::{type_batch_key, type_pin_key};
use crate::session::{Candidate, Event, PreviousRecord, Screen};
use crate::store::AuditAction;

impl App {
    // ------------------------------------------------------------------ identification

    /// A card was read while the identify screen is up.
    pub(super) fn card_read(&mut self, read: crate::reader::driver::CardRead) {
        if let Some(sim) = &self.devices.simulated_reader {
            // the demo candidate takes the card back once it was read
            sim.lift();
        }
        if self.session.screen() != Screen::Identify {
            return;
        }
        let card = read.card;
        if read.expired {
            self.dispatch(Event::IdentifyFailed(Bilingual::new(
                "身份证已过期，请使用有效证件",
                "this ID card has expired; please use a valid document",
            )));
            return;
        }
        // the roster decides who may be photographed: unreadable, the kiosk stops rather
        // than read it as empty or the candidate as absent
        let looked_up = self.store.roster_size(&self.batch).and_then(|size| {
            Ok((
                size,
                self.store
                    .roster_by_id_number(&self.batch, &card.id_number)?,
            ))
        });
        let (roster_size, entry) = match looked_up {
            Ok(found) => found,
            Err(e) => {
                self.store_failed(e);
                return;
            }
        };
        let roster = if roster_size == 0 {
            // no roster for this batch yet: nobody can be matched (R-ID-2); staff sees it
            RosterCheck {
                blocked: vec!["roster"],
                warned: Vec::new(),
                on_roster: false,
            }
        } else {
            match_roster(
                &card.name,
                &card.id_number,
                &card.ethnicity,
                &card.address,
                entry.as_ref(),
            )
        };
        let key = entry
            .as_ref()
            .map(|e| e.candidate_key.clone())
            .unwrap_or_else(|| card.id_number.clone());
        let candidate = Candidate {
            candidate_key: key,
            name: card.name.clone(),
            id_number: card.id_number.clone(),
            ethnicity: card.ethnicity.clone(),
            address: card.address.clone(),
            resident_card: card.card_type == CardType::Resident,
            other_document: card.card_type != CardType::Resident,
            has_reference_face: false,
        };
        self.identified(candidate, roster);
    }

    /// Identification succeeded: roster photo, earlier records and attempts, then the session.
    pub(super) fn identified(&mut self, mut candidate: Candidate, roster: RosterCheck) {
        self.cand.candidate_key = candidate.candidate_key.clone();
        self.cand.reference = self
            .store
            .roster_photo(&self.batch, &candidate.candidate_key)
            .ok()
            .flatten()
            .and_then(|b| decode_image(&b, DecodeLimits::default()).ok());
        candidate.has_reference_face = self.cand.reference.is_some();
        let previous = self
            .store
            .candidate_captures(&self.profile.name, &candidate.candidate_key)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|c| PreviousRecord {
                record_id: c.id.clone(),
                review: c.review_state,
                status_line: c.status_line(),
            });
        // the attempt limit rests on this count: unreadable, the kiosk stops (never 0)
        let failures = match self
            .store
            .consecutive_failures(&self.profile.name, &candidate.candidate_key)
        {
            Ok(n) => n as u32,
            Err(e) => {
                self.store_failed(e);
                return;
            }
        };
        // a session row that could not be made here is made by the capture writer before the
        // capture itself, which reports its own failure
        self.cand.session_id = self
            .store
            .start_session(&self.profile.name, &self.batch)
            .ok();
        self.dispatch(Event::Identified {
            candidate,
            roster,
            previous,
            failures_so_far: failures,
        });
    }

    pub(super) fn wrong_credentials(&mut self) {
        let phone = self.profile.help_phone.clone();
        self.dispatch(Event::IdentifyFailed(Bilingual::new(
            format!("号码或密码不正确。忘记密码请联系工作人员或当地招生考试机构：{phone}"),
            format!("The number or password is wrong. To reset the password ask the staff or the local exam office: {phone}"),
        )));
    }

    /// The keypad's OK: check every field, then look the candidate up.
    pub fn submit_keypad(&mut self) {
        for (spec, text) in self.profile.keypad.iter().zip(self.cand.keypad.texts()) {
            if spec.state(text) != FieldState::Complete {
                let (zh, en) = (spec.label.zh.clone(), spec.label.en.clone());
                self.dispatch(Event::IdentifyFailed(Bilingual::new(
                    format!("请完整填写：{zh}"),
                    format!("please complete: {en}"),
                )));
                return;
            }
        }
        let value = |key: FieldKey| self.cand.keypad.value(&self.profile.keypad, key);
        if self
            .profile
            .keypad
            .iter()
            .any(|f| f.key == FieldKey::BatchCode)
        {
            // CHSI: the batch's feature code and the last four of the ID number, then the
            // candidate's collection QR code to the camera
            if !value(FieldKey::BatchCode).eq_ignore_ascii_case(&self.batch) {
                self.dispatch(Event::IdentifyFailed(Bilingual::new(
                    "批次特征码不正确，请核对",
                    "the batch feature code is wrong; please check it",
                )));
                return;
            }
            self.cand.scan_tail = id_tail(&value(FieldKey::IdTail));
            self.dispatch(Event::CodeNeeded);
            return;
        }
        let key = value(FieldKey::CandidateKey);
        // an unreadable roster is not an unknown candidate: read as "not found" it would
        // count a wrong attempt against someone who typed their number right
        let found = match self.store.roster_entry(&self.batch, &key) {
            Ok(found) => found,
            Err(e) => {
                self.store_failed(e);
                return;
            }
        };
        if self
            .profile
            .keypad
            .iter()
            .any(|f| f.chars == FieldChars::Secret)
        {
            // a second OK while the first is being checked changes nothing
            if self.cand.password_checking {
                return;
            }
            self.cand.password_checking = true;
            let password = value(FieldKey::Password);
            let tx = self.job_sender();
            std::thread::spawn(move || {
                // a wrong password and an unknown number read the same, and take as long
                // (R-ID-1)
                let right = crate::roster::secret_matches(
                    found.as_ref().map(|e| e.secret.as_str()),
                    &key,
                    &password,
                );
                tx.send(Done::PasswordChecked(found.filter(|_| right)));
            });
            return;
        }
        let Some(e) = found else {
            self.wrong_credentials();
            return;
        };
        self.identified_on_roster(e);
    }

    /// The keypad (or the collection code) found the candidate's roster row.
    pub(super) fn identified_on_roster(&mut self, e: RosterEntry) {
        let candidate = Candidate {
            candidate_key: e.candidate_key.clone(),
            name: e.name.clone(),
            id_number: e.id_number.clone(),
            ethnicity: e.ethnicity.clone(),
            address: e.address.clone(),
            resident_card: false,
            other_document: false,
            has_reference_face: false,
        };
        let roster = RosterCheck {
            on_roster: true,
            ..RosterCheck::default()
        };
        self.identified(candidate, roster);
    }

    /// A QR code the session asked to judge (CHSI; the session skips the same code seen again
    /// at once): its collection code must end with the typed ID tail and be on the roster.
    pub(super) fn code_scanned(&mut self, text: String) {
        let code = match collection_code(&text, &self.cand.scan_tail) {
            Ok(code) => code,
            Err(problem) => {
                self.dispatch(Event::IdentifyFailed(problem.message().into()));
                return;
            }
        };
        if let Some(held) = &self.devices.held_up {
            // the demo candidate lowers the phone once the code was read
            held.put_away();
        }
        let entry = self
            .store
            .roster_entry(&self.batch, &code)
            .ok()
            .flatten()
            .filter(|e| id_tail(&e.id_number) == self.cand.scan_tail);
        match entry {
            Some(e) => self.identified_on_roster(e),
            None => {
                let phone = self.profile.help_phone.clone();
                self.dispatch(Event::IdentifyFailed(Bilingual::new(
                    format!("本批次名单中没有这个采集码，请联系工作人员：{phone}"),
                    format!("this collection code is not on this batch's roster; please ask the staff: {phone}"),
                )));
            }
        }
    }

    pub fn key(&mut self, k: &str) {
        match self.session.screen() {
            Screen::StaffBatch => type_batch_key(&mut self.batch_input, k),
            Screen::StaffNewPin => {
                type_pin_key(&mut self.pin, k);
            }
            Screen::StaffPin => {
                let open = self.session.pin_keypad_open(self.now_ms);
                if open && !self.pin_checking && type_pin_key(&mut self.pin, k) {
                    self.pin_typed();
                }
            }
            _ => self.cand.keypad.type_key(&self.profile.keypad, k),
        }
        self.refresh();
    }

    /// A digit of the staff PIN was typed: checked once the PIN is as long as the stored one
    /// (sealed: on a worker thread), refused at 8 digits. An older kiosk's unsalted PIN, whose
    /// length is not stored, is checked from the fourth digit and sealed once typed right.
    fn pin_typed(&mut self) {
        let stored = match StoredPin::read(&self.store) {
            Ok(p) => p,
            Err(e) => {
                // never the default PIN because the setting could not be read
                self.pin.clear();
                self.store_failed(e);
                return;
            }
        };
        let n = self.pin.len();
        match stored {
            StoredPin::Legacy { .. } => {
                let ok = n >= *PIN_DIGITS.start() && stored.matches(&self.pin);
                if ok {
                    let (typed, tx) = (self.pin.clone(), self.job_sender());
                    std::thread::spawn(move || {
                        let sealed = seal_pin(&typed).map_err(|e| format!("{e:#}"));
                        tx.send(Done::PinSealed {
                            sealed,
                            changed: false,
                        });
                    });
                }
                if ok || n >= *PIN_DIGITS.end() {
                    self.pin.clear();
                    self.pin_checked(ok);
                }
            }
            StoredPin::Default | StoredPin::Sealed { .. } => {
                let (shortest, longest) = (*PIN_DIGITS.start(), *PIN_DIGITS.end());
                if n < stored.length().unwrap_or(longest).clamp(shortest, longest) {
                    return;
                }
                let typed = std::mem::take(&mut self.pin);
                if matches!(stored, StoredPin::Default) {
                    self.pin_checked(stored.matches(&typed));
                    return;
                }
                self.pin_checking = true;
                let tx = self.job_sender();
                std::thread::spawn(move || {
                    tx.send(Done::PinChecked {
                        ok: stored.matches(&typed),
                    })
                });
            }
        }
    }

    /// The staff PIN's verdict: recorded first (staff mode is not opened unrecorded).
    pub(super) fn pin_checked(&mut self, ok: bool) {
        self.pin_checking = false;
        if self.session.screen() != Screen::StaffPin {
            // staff left, or the screen locked itself, before the answer came back
            return;
        }
        if self.audit(
            if ok {
                AuditAction::Unlock
            } else {
                AuditAction::WrongPin
            },
            "",
        ) {
            self.dispatch(Event::PinChecked { ok });
        }
    }

    pub fn backspace(&mut self) {
        if self.session.screen() == Screen::StaffBatch {
            self.batch_input.pop();
        } else if matches!(
            self.session.screen(),
            Screen::StaffPin | Screen::StaffNewPin
        ) {
            self.pin.pop();
        } else {
            self.cand.keypad.backspace();
        }
        self.refresh();
    }

    pub fn select_field(&mut self, i: usize) {
        self.cand.keypad.select(i);
        self.refresh();
    }

    /// Demo mode: put the simulated reader's long-term resident card on the reader; the real
    /// driver reads it through the pseudo-terminal.
    pub fn present_demo_card(&mut self) {
        if let Some(sim) = &self.devices.simulated_reader {
            sim.present(self.demo_card);
        }
    }

    /// The shutter button: a visible countdown, then the capture.
    pub fn shutter(&mut self) {
        self.dispatch(Event::ShutterPressed {
            now_ms: self.now_ms,
        });
    }

    /// Demo mode: the simulated candidate holds the phone with the collection code up.
    pub fn show_demo_code(&mut self) {
        let Some(held) = &self.devices.held_up else {
            return;
        };
        if let Some(phone) = crate::camera::simulated::phone_showing_qr(
            &crate::kiosk::demo_people::demo_collection_code(),
            9,
        ) {
            held.show(phone);
        }
    }
}
