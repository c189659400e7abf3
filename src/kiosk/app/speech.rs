//! The voice's side of the controller: what the kiosk shows goes to the narrator each tick,
//! and staff's volume and mute buttons (kept in the database like the printer, so they last
//! until staff or kiosk.toml change them).

use super::*;
use crate::kiosk::voice::{Cue, Lang, Moment, Voice, VoiceSettings};
use crate::kiosk::Kiosk;

impl App {
    /// Starts speaking through the ALSA `device` with the staff's stored settings; without
    /// clips or a device the kiosk carries on silent (logged once).
    pub fn start_voice(&mut self, clips: &std::path::Path, device: &str) {
        let settings = match VoiceSettings::from_store(&self.store) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "the voice settings cannot be read; using the defaults");
                VoiceSettings::default()
            }
        };
        self.voice = Voice::start(clips, device, settings);
        self.voice
            .set_lang(if self.english { Lang::En } else { Lang::Zh });
        self.refresh();
    }

    /// Each tick: the screen, the live prompt on show and the countdown, for the narrator.
    pub(super) fn speak(&mut self) {
        let screen = self.session.screen();
        self.voice.observe(Moment {
            screen,
            prompt: self.cand.live_shown.filter(|_| screen == Screen::Live),
            countdown: self.session.countdown_until().is_some(),
        });
    }

    pub(super) fn voice_announce(&mut self, cue: Cue) {
        self.voice.announce(cue);
    }

    /// Staff: the volume a step louder or softer.
    pub fn voice_step(&mut self, louder: bool) {
        let next = self.voice.settings().stepped(louder);
        self.save_voice(next);
    }

    /// Staff: mute or unmute.
    pub fn voice_toggle_mute(&mut self) {
        let now = self.voice.settings();
        self.save_voice(VoiceSettings {
            muted: !now.muted,
            ..now
        });
    }

    pub fn voice_settings(&self) -> VoiceSettings {
        self.voice.settings()
    }

    fn save_voice(&mut self, settings: VoiceSettings) {
        if self.session.screen() != Screen::StaffMenu {
            // the buttons are on the staff menu only; a stray callback changes nothing
            return;
        }
        if let Err(e) = settings.save(&self.store) {
            self.store_failed(e);
            return;
        }
        tracing::info!(
            volume = settings.volume,
            muted = settings.muted,
            "staff changed the voice"
        );
        self.voice.set_settings(settings);
        self.refresh();
    }

    pub(super) fn show_voice(&self, ui: &Kiosk<'_>) {
        let s = self.voice.settings();
        ui.set_voice_volume(i32::from(s.volume));
        ui.set_voice_muted(s.muted);
    }
}
