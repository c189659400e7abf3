//! The mixer: plays one clip at a time into a sink, by the sample.
//!
//! Its rules are why the voice can follow a live guide without babbling:
//! - a clip is never cut: a new prompt waits for the clip playing to end;
//! - a prompt is said only if it is still on show when its turn comes (the latest wins, one
//!   that came and went while another clip played is dropped);
//! - steps (countdown, photo taken…) queue and go before prompts, each said once;
//! - the same prompt is said again only after `REPEAT_AFTER_MS` of not saying it;
//! - a short gap separates two clips.
//!
//! Time is the number of samples rendered, so a simulated session renders exactly as a real
//! one plays (the player thread renders as fast as the device takes samples).

use super::clips::{ClipBank, RATE};
use super::cue::{Cue, CueKind, Lang};
use std::collections::VecDeque;
use std::sync::Arc;

/// The same prompt is said again at most this long after it last ended.
pub const REPEAT_AFTER_MS: u64 = 4000;
/// Silence between two clips.
pub const GAP_MS: u64 = 250;
/// Steps waiting beyond this many are dropped (the newest kept): a step said late is wrong.
const MAX_STEPS: usize = 3;
/// The played log keeps this many entries (tests and the debug log read it).
const LOG_LEN: usize = 256;

pub fn ms_to_samples(ms: u64) -> u64 {
    ms * u64::from(RATE) / 1000
}

/// One clip the mixer played: where it starts and ends in the output, in samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Played {
    pub cue: Cue,
    pub lang: Lang,
    pub start: u64,
    pub end: u64,
}

struct Playing {
    cue: Cue,
    lang: Lang,
    pos: usize,
}

pub struct Mixer {
    clips: Arc<ClipBank>,
    lang: Lang,
    /// 0..=100, a share of the clip's own level.
    volume: u8,
    muted: bool,
    playing: Option<Playing>,
    /// The prompt on show, said when the mixer is free.
    prompt: Option<Cue>,
    steps: VecDeque<Cue>,
    /// When each cue last ended (samples), for the repeat rule.
    last_end: Vec<Option<u64>>,
    /// Nothing starts before this sample (the gap after a clip).
    quiet_until: u64,
    clock: u64,
    log: VecDeque<Played>,
}

impl Mixer {
    pub fn new(clips: Arc<ClipBank>) -> Mixer {
        Mixer {
            clips,
            lang: Lang::Zh,
            volume: 80,
            muted: false,
            playing: None,
            prompt: None,
            steps: VecDeque::new(),
            last_end: vec![None; Cue::ALL.len()],
            quiet_until: 0,
            clock: 0,
            log: VecDeque::new(),
        }
    }

    /// The prompt on show now (None: no prompt, or one that is not spoken).
    pub fn show(&mut self, prompt: Option<Cue>) {
        self.prompt = prompt.filter(|c| c.kind() == CueKind::Prompt);
    }

    /// A step to say once, after the clip playing and the steps before it.
    pub fn announce(&mut self, step: Cue) {
        if self.muted {
            return;
        }
        if self.steps.len() >= MAX_STEPS {
            self.steps.pop_front();
        }
        self.steps.push_back(step);
    }

    /// Takes back a step not yet started (a countdown that stopped before its turn came).
    pub fn withdraw(&mut self, step: Cue) {
        self.steps.retain(|s| *s != step);
    }

    /// Forgets what waits (the candidate left); the clip playing ends as it would.
    pub fn hush(&mut self) {
        self.steps.clear();
        self.prompt = None;
    }

    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
    }

    pub fn set_volume(&mut self, volume: u8) {
        self.volume = volume.min(100);
    }

    /// Muted, the clip playing goes on silently (so unmuting never starts mid-word) and no
    /// new clip starts.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
        if muted {
            self.steps.clear();
        }
    }

    pub fn volume(&self) -> u8 {
        self.volume
    }

    pub fn muted(&self) -> bool {
        self.muted
    }

    /// Samples rendered so far.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Whether a clip is playing.
    pub fn busy(&self) -> bool {
        self.playing.is_some()
    }

    /// The clips started, oldest first (the last `LOG_LEN`).
    pub fn played(&self) -> impl Iterator<Item = &Played> {
        self.log.iter()
    }

    /// Renders the next `out.len()` samples.
    pub fn render(&mut self, out: &mut [i16]) {
        let mut done = 0;
        while done < out.len() {
            if self.playing.is_none() && !self.start_next() {
                // nothing can start before the gap ends, or nothing waits: silence until then
                let until = if self.clock < self.quiet_until {
                    (self.quiet_until - self.clock).min((out.len() - done) as u64) as usize
                } else {
                    out.len() - done
                };
                out[done..done + until].fill(0);
                done += until;
                self.clock += until as u64;
                continue;
            }
            let Some(playing) = self.playing.as_mut() else {
                continue;
            };
            let clip = self.clips.samples(playing.cue, playing.lang);
            let n = (clip.len() - playing.pos).min(out.len() - done);
            let gain = if self.muted {
                0
            } else {
                i32::from(self.volume)
            };
            for (o, s) in out[done..done + n]
                .iter_mut()
                .zip(&clip[playing.pos..playing.pos + n])
            {
                *o = (i32::from(*s) * gain / 100) as i16;
            }
            playing.pos += n;
            done += n;
            self.clock += n as u64;
            if playing.pos >= clip.len() {
                let cue = playing.cue;
                self.playing = None;
                self.last_end[cue.index()] = Some(self.clock);
                self.quiet_until = self.clock + ms_to_samples(GAP_MS);
            }
        }
    }

    /// Starts the next clip if one waits and the gap is over; whether one started.
    fn start_next(&mut self) -> bool {
        if self.clock < self.quiet_until || self.muted {
            return false;
        }
        let next = match self.steps.pop_front() {
            Some(step) => Some(step),
            None => self.prompt.filter(|p| self.may_repeat(*p)),
        };
        let Some(cue) = next else {
            return false;
        };
        let len = self.clips.samples(cue, self.lang).len();
        if len == 0 {
            return false;
        }
        if self.log.len() >= LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(Played {
            cue,
            lang: self.lang,
            start: self.clock,
            end: self.clock + len as u64,
        });
        tracing::debug!(clip = cue.name(), lang = self.lang.folder(), "speaking");
        self.playing = Some(Playing {
            cue,
            lang: self.lang,
            pos: 0,
        });
        true
    }

    fn may_repeat(&self, cue: Cue) -> bool {
        match self.last_end[cue.index()] {
            Some(end) => self.clock >= end + ms_to_samples(REPEAT_AFTER_MS),
            None => true,
        }
    }
}
