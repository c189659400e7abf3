//! What the kiosk says, from what it shows: the prompt on the live screen, and the steps a
//! candidate cannot see while looking into the lens (the countdown, the shutter, the result).
//! Fed once per tick with the moment's screen; pure, so a simulated session speaks as a real
//! one does.

use super::cue::Cue;
use super::mixer::Mixer;
use crate::guidance::Prompt;
use crate::session::Screen;

/// What the kiosk shows at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    pub screen: Screen,
    /// The live guide's prompt on show (after its steadiness rule), on a camera screen.
    pub prompt: Option<Prompt>,
    /// The shutter's (or a document's) countdown is running.
    pub countdown: bool,
}

/// Turns moments into the mixer's prompts and steps.
#[derive(Debug, Default)]
pub struct Narrator {
    last: Option<Moment>,
}

impl Narrator {
    pub fn observe(&mut self, now: Moment, mixer: &mut Mixer) {
        let before = self.last.replace(now);
        let entered = before.is_none_or(|b| b.screen != now.screen);
        if entered {
            if let Some(step) = step_on_entering(before.map(|b| b.screen), now.screen) {
                mixer.announce(step);
            }
            if matches!(now.screen, Screen::Idle | Screen::Failsafe) {
                mixer.hush();
            }
        }
        let counting = matches!(now.screen, Screen::Live | Screen::Manual) && now.countdown;
        let was_counting = before.is_some_and(|b| b.countdown && b.screen == now.screen);
        if counting && !was_counting {
            mixer.announce(Cue::Countdown);
        } else if !counting && was_counting {
            // the candidate moved and the countdown stopped: a countdown not yet said is not
            // said late (one already playing ends, as every clip does)
            mixer.withdraw(Cue::Countdown);
        }
        // during a countdown the clip says "hold still": no prompt over it
        let prompt = match now.screen {
            Screen::Live if !counting => now.prompt.and_then(Cue::for_prompt),
            _ => None,
        };
        mixer.show(prompt);
    }
}

/// The step said when `to` opens (coming from `from`).
fn step_on_entering(from: Option<Screen>, to: Screen) -> Option<Cue> {
    match (from, to) {
        (_, Screen::Live) => Some(Cue::LookAtCamera),
        (Some(Screen::Live), Screen::Checks) => Some(Cue::PhotoTaken),
        (_, Screen::Confirm) => Some(Cue::ConfirmPhoto),
        (_, Screen::Manual) => Some(Cue::HoldUpCard),
        (_, Screen::Receipt) => Some(Cue::AllDone),
        _ => None,
    }
}
