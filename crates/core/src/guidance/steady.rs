//! The guide's steadiness rule: the prompt on show must lose `PROMPT_SWITCH_FRAMES` frames in
//! a row before another replaces it, so a prompt that flickers for a frame or two is never
//! shown (nor spoken: the kiosk's voice follows the prompt on show).

use super::Prompt;

/// Frames in a row the prompt on show must lose before another is shown.
pub const PROMPT_SWITCH_FRAMES: u32 = 3;

/// The prompt on show and how many frames in a row it has lost.
#[derive(Clone, Debug, Default)]
pub struct Steadiness {
    shown: Prompt,
    lost_in_a_row: u32,
}

impl Steadiness {
    /// Takes one frame's raw prompt; returns the prompt on show after it. The prompt on show
    /// gives way to the latest one once it has lost `PROMPT_SWITCH_FRAMES` frames in a row,
    /// to one challenger or to several taking turns: a head both bowed and tilted may swap
    /// which is worse from frame to frame, and "hold still" must not stay on show (its frames
    /// counting as good ones for the shutter) while neither wins three times running.
    pub fn settle(&mut self, raw: Prompt) -> Prompt {
        if raw.same_kind(&self.shown) {
            self.lost_in_a_row = 0;
            return self.shown;
        }
        self.lost_in_a_row += 1;
        if self.lost_in_a_row >= PROMPT_SWITCH_FRAMES {
            self.shown = raw;
            self.lost_in_a_row = 0;
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

    #[test]
    fn two_faults_taking_turns_replace_hold_still() {
        let mut s = Steadiness::default();
        for _ in 0..3 {
            s.settle(Prompt::HoldStill);
        }
        assert_eq!(s.shown(), Prompt::HoldStill);
        // bowed and tilted about equally: the worse axis swaps every frame
        assert_eq!(s.settle(Prompt::RaiseChin), Prompt::HoldStill);
        assert_eq!(s.settle(Prompt::StraightenHead), Prompt::HoldStill);
        assert_eq!(s.settle(Prompt::RaiseChin), Prompt::RaiseChin);
        // and the one on show stays while it keeps coming back
        assert_eq!(s.settle(Prompt::StraightenHead), Prompt::RaiseChin);
        assert_eq!(s.settle(Prompt::RaiseChin), Prompt::RaiseChin);
    }
}
