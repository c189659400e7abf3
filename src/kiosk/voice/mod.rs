//! The voice that guides: while candidates look into the lens they cannot read the screen, so
//! the kiosk says the live prompt on show and the key steps (the countdown, "photo taken"…),
//! in Mandarin or English as the screen is.
//!
//! The clips are a fixed vocabulary rendered offline (voice/tools/render, see voice/README.md)
//! and shipped in the package; nothing is synthesised at run time. `narrator` decides what to
//! say from what the kiosk shows, `mixer` plays one clip at a time without ever cutting one,
//! `sink` takes the samples to the sound card (ALSA) or a WAV file. Without clips or a sound
//! card the kiosk logs it once and carries on silent.

pub mod clips;
pub mod cue;
pub mod mixer;
pub mod narrator;
pub mod sink;

pub use clips::{ClipBank, ClipError, RATE};
pub use cue::{Cue, CueKind, Lang};
pub use mixer::{Mixer, Played};
pub use narrator::{Moment, Narrator};
pub use sink::{AlsaSink, Sink, SinkError, WavSink};

use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// The database settings staff and kiosk.toml write.
pub const VOLUME_KEY: &str = "voice_volume";
pub const MUTE_KEY: &str = "voice_mute";
/// The ALSA device the kiosk plays to: the system's default (PipeWire or PulseAudio when they
/// run, else the first sound card).
pub const DEVICE: &str = "default";
/// The player renders this many samples at a time (20 ms).
const CHUNK: usize = 320;

/// Volume (0..=100) and mute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoiceSettings {
    pub volume: u8,
    pub muted: bool,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        VoiceSettings {
            volume: 80,
            muted: false,
        }
    }
}

impl VoiceSettings {
    /// The stored settings; a value that does not parse (hand-edited database) is logged and
    /// the default used, as a kiosk must still speak.
    pub fn from_store(store: &Store) -> anyhow::Result<VoiceSettings> {
        let mut s = VoiceSettings::default();
        if let Some(v) = store.get_setting(VOLUME_KEY)? {
            match v.trim().parse::<u8>() {
                Ok(n) if n <= 100 => s.volume = n,
                _ => {
                    tracing::warn!(value = %v, "stored voice volume is not 0..100; using {}", s.volume)
                }
            }
        }
        if let Some(v) = store.get_setting(MUTE_KEY)? {
            match v.trim() {
                "true" => s.muted = true,
                "false" => s.muted = false,
                _ => {
                    tracing::warn!(value = %v, "stored voice mute is not true or false; not muted")
                }
            }
        }
        Ok(s)
    }

    pub fn save(&self, store: &Store) -> anyhow::Result<()> {
        store.set_settings(&[
            (VOLUME_KEY, self.volume.to_string().as_str()),
            (MUTE_KEY, if self.muted { "true" } else { "false" }),
        ])?;
        Ok(())
    }

    /// Staff's button: each tap the next of 100, 80, 60, 40, 20, muted, then 100 again (a
    /// volume set in kiosk.toml between two steps goes to the step below it).
    pub fn next(self) -> VoiceSettings {
        if self.muted {
            return VoiceSettings {
                volume: 100,
                muted: false,
            };
        }
        match self.volume {
            0..=20 => VoiceSettings {
                muted: true,
                ..self
            },
            v => VoiceSettings {
                volume: (v - 1) / 20 * 20,
                muted: false,
            },
        }
    }
}

/// The shipped clips: `$KIOSK_VOICE_DIR`, an installed kiosk's
/// `/usr/share/capture-kiosk/voice/clips`, or the source tree's `voice/clips`.
pub fn clips_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KIOSK_VOICE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(share) = super::installed_share_dir() {
        return share.join("voice/clips");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("voice/clips")
}

/// The controller's handle: what the kiosk shows goes in, the player thread speaks it.
pub struct Voice {
    /// None: silent (no clips or no sound card).
    mixer: Option<Arc<Mutex<Mixer>>>,
    narrator: Narrator,
    settings: VoiceSettings,
    lang: Lang,
}

impl Voice {
    pub fn silent(settings: VoiceSettings) -> Voice {
        Voice {
            mixer: None,
            narrator: Narrator::default(),
            settings,
            lang: Lang::Zh,
        }
    }

    /// Speaks through the ALSA `device` with the clips in `dir`. Never fails: without clips or
    /// a device it says why once in the log and the kiosk carries on silent.
    pub fn start(dir: &Path, device: &str, settings: VoiceSettings) -> Voice {
        let bank = match ClipBank::load(dir) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                tracing::warn!(error = %e, "the voice's clips cannot be read; the kiosk carries on silent");
                return Voice::silent(settings);
            }
        };
        let sink = match AlsaSink::open(device) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no audio device; the kiosk carries on silent");
                return Voice::silent(settings);
            }
        };
        tracing::info!(device, "the voice speaks");
        Voice::with_sink(bank, Box::new(sink), settings)
    }

    /// Speaks into `sink` (paced by it) from a player thread of its own, which ends when the
    /// `Voice` is dropped or the sink fails.
    pub fn with_sink(bank: Arc<ClipBank>, sink: Box<dyn Sink>, settings: VoiceSettings) -> Voice {
        let mut mixer = Mixer::new(bank);
        mixer.set_volume(settings.volume);
        mixer.set_muted(settings.muted);
        let mixer = Arc::new(Mutex::new(mixer));
        let weak = Arc::downgrade(&mixer);
        let spawned = std::thread::Builder::new()
            .name("voice".into())
            .spawn(move || play(weak, sink));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the voice's player thread cannot start; the kiosk carries on silent");
            return Voice::silent(settings);
        }
        Voice {
            mixer: Some(mixer),
            narrator: Narrator::default(),
            settings,
            lang: Lang::Zh,
        }
    }

    pub fn speaking(&self) -> bool {
        self.mixer.is_some()
    }

    fn mixer(&self) -> Option<MutexGuard<'_, Mixer>> {
        // the mixer's state stays whole whatever panicked while holding it (plain fields)
        self.mixer
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// What the kiosk shows now (each tick).
    pub fn observe(&mut self, moment: Moment) {
        if let Some(mixer) = self.mixer.clone() {
            let mut m = mixer.lock().unwrap_or_else(|p| p.into_inner());
            self.narrator.observe(moment, &mut m);
        }
    }

    /// A step the screens do not show by themselves (the checks' verdict).
    pub fn announce(&mut self, cue: Cue) {
        if let Some(mut m) = self.mixer() {
            m.announce(cue);
        }
    }

    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
        if let Some(mut m) = self.mixer() {
            m.set_lang(lang);
        }
    }

    pub fn settings(&self) -> VoiceSettings {
        self.settings
    }

    pub fn set_settings(&mut self, settings: VoiceSettings) {
        self.settings = settings;
        if let Some(mut m) = self.mixer() {
            m.set_volume(settings.volume);
            m.set_muted(settings.muted);
        }
    }
}

/// The player thread: renders 20 ms at a time into the sink, which blocks while the device is
/// full. A failing device (unplugged) is logged once and the kiosk goes on silent.
fn play(mixer: Weak<Mutex<Mixer>>, mut sink: Box<dyn Sink>) {
    let mut buf = [0i16; CHUNK];
    while let Some(m) = mixer.upgrade() {
        m.lock().unwrap_or_else(|p| p.into_inner()).render(&mut buf);
        drop(m);
        if let Err(e) = sink.write(&buf) {
            tracing::warn!(error = %e, "the audio device failed; the kiosk carries on silent");
            return;
        }
    }
    if let Err(e) = sink.finish() {
        tracing::warn!(error = %e, "the audio device failed while closing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_button_steps_down_to_mute_and_back_to_full() {
        let mut s = VoiceSettings {
            volume: 90,
            muted: false,
        };
        let mut seen = Vec::new();
        for _ in 0..7 {
            s = s.next();
            seen.push((s.volume, s.muted));
        }
        assert_eq!(
            seen,
            vec![
                (80, false),
                (60, false),
                (40, false),
                (20, false),
                (20, true),
                (100, false),
                (80, false)
            ]
        );
    }
}
