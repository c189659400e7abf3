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
        self.voice = Voice::start(clips, device, stored_settings(&self.store));
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

    /// Staff: the voice's button, each tap the next setting (100 → 80 → … → 20 → muted → 100):
    /// one button, as the staff menu has no room for more.
    pub fn voice_next(&mut self) {
        let next = self.voice.settings().next();
        self.save_voice(next);
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

/// Staff's stored volume and mute; the defaults (logged) if the database cannot say.
pub(super) fn stored_settings(store: &crate::store::Store) -> VoiceSettings {
    VoiceSettings::from_store(store).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the voice settings cannot be read; using the defaults");
        VoiceSettings::default()
    })
}
