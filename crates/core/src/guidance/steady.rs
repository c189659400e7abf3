//! The guide's steadiness rule: a new prompt must win `PROMPT_SWITCH_FRAMES` frames in a row
//! before it replaces the one on show, so a prompt that flickers for a frame or two is never
//! shown (nor spoken: the kiosk's voice follows the prompt on show).

use super::Prompt;

/// Frames a new prompt must win in a row before it is shown.
pub const PROMPT_SWITCH_FRAMES: u32 = 3;

/// The prompt on show and the one challenging it.
#[derive(Clone, Debug, Default)]
pub struct Steadiness {
    shown: Prompt,
    challenger: Option<(Prompt, u32)>,
}

impl Steadiness {
    /// Takes one frame's raw prompt; returns the prompt on show after it.
    pub fn settle(&mut self, raw: Prompt) -> Prompt {
        if raw.same_kind(&self.shown) {
            self.challenger = None;
            return self.shown;
        }
        let wins = match self.challenger {
            Some((p, n)) if p.same_kind(&raw) => n + 1,
            _ => 1,
        };
        if wins >= PROMPT_SWITCH_FRAMES {
            self.shown = raw;
            self.challenger = None;
        } else {
            self.challenger = Some((raw, wins));
        }
        self.shown
    }

    pub fn shown(&self) -> Prompt {
        self.shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_shows_after_three_frames_in_a_row_and_a_flicker_never_does() {
        let mut s = Steadiness::default();
        assert_eq!(s.settle(Prompt::MoveLeft), Prompt::NoFace);
        assert_eq!(s.settle(Prompt::MoveLeft), Prompt::NoFace);
        assert_eq!(s.settle(Prompt::MoveLeft), Prompt::MoveLeft);
        // two frames of another prompt, then back: nothing changes
        s.settle(Prompt::LookStraight);
        s.settle(Prompt::LookStraight);
        assert_eq!(s.settle(Prompt::MoveLeft), Prompt::MoveLeft);
        assert_eq!(s.settle(Prompt::LookStraight), Prompt::MoveLeft);
    }
}
