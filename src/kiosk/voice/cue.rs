//! The fixed vocabulary the kiosk speaks: one clip per live prompt and per key step, in
//! Mandarin and English (voice/vocabulary.tsv holds the words; the clips are rendered from it).

use crate::guidance::Prompt;

/// One clip of the vocabulary. Closed: the clips are rendered offline, so the kiosk can say
/// nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cue {
    NoFace,
    SeveralFaces,
    MoveCloser,
    MoveBack,
    MoveLeft,
    MoveRight,
    MoveUp,
    MoveDown,
    LookStraight,
    RaiseChin,
    LowerChin,
    StraightenHead,
    TakeOffGlasses,
    HairOffBrows,
    TakeOffHat,
    CloseLips,
    TooDark,
    TooBright,
    Backlit,
    UnevenLight,
    /// The live screen opens.
    LookAtCamera,
    /// The shutter's countdown starts: "请保持不动，三，二，一" (about as long as the countdown).
    Countdown,
    /// The shutter went.
    PhotoTaken,
    /// The photo failed its checks.
    Retake,
    /// The photo is shown for the candidate to confirm.
    ConfirmPhoto,
    /// The manual path: the ID card is photographed.
    HoldUpCard,
    /// The receipt: the candidate is done.
    AllDone,
}

/// Whether the clip says the prompt on show (dropped when the prompt changes) or a step
/// (said once, after the clip playing ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CueKind {
    Prompt,
    Step,
}

impl Cue {
    /// Every clip, in the vocabulary file's order.
    pub const ALL: [Cue; 27] = [
        Cue::NoFace,
        Cue::SeveralFaces,
        Cue::MoveCloser,
        Cue::MoveBack,
        Cue::MoveLeft,
        Cue::MoveRight,
        Cue::MoveUp,
        Cue::MoveDown,
        Cue::LookStraight,
        Cue::RaiseChin,
        Cue::LowerChin,
        Cue::StraightenHead,
        Cue::TakeOffGlasses,
        Cue::HairOffBrows,
        Cue::TakeOffHat,
        Cue::CloseLips,
        Cue::TooDark,
        Cue::TooBright,
        Cue::Backlit,
        Cue::UnevenLight,
        Cue::LookAtCamera,
        Cue::Countdown,
        Cue::PhotoTaken,
        Cue::Retake,
        Cue::ConfirmPhoto,
        Cue::HoldUpCard,
        Cue::AllDone,
    ];

    /// The clip's file name without `.wav` (voice/clips/<lang>/<name>.wav).
    pub fn name(self) -> &'static str {
        match self {
            Cue::NoFace => "no_face",
            Cue::SeveralFaces => "several_faces",
            Cue::MoveCloser => "move_closer",
            Cue::MoveBack => "move_back",
            Cue::MoveLeft => "move_left",
            Cue::MoveRight => "move_right",
            Cue::MoveUp => "move_up",
            Cue::MoveDown => "move_down",
            Cue::LookStraight => "look_straight",
            Cue::RaiseChin => "raise_chin",
            Cue::LowerChin => "lower_chin",
            Cue::StraightenHead => "straighten_head",
            Cue::TakeOffGlasses => "take_off_glasses",
            Cue::HairOffBrows => "hair_off_brows",
            Cue::TakeOffHat => "take_off_hat",
            Cue::CloseLips => "close_lips",
            Cue::TooDark => "too_dark",
            Cue::TooBright => "too_bright",
            Cue::Backlit => "backlit",
            Cue::UnevenLight => "uneven_light",
            Cue::LookAtCamera => "look_at_camera",
            Cue::Countdown => "countdown",
            Cue::PhotoTaken => "photo_taken",
            Cue::Retake => "retake",
            Cue::ConfirmPhoto => "confirm_photo",
            Cue::HoldUpCard => "hold_up_card",
            Cue::AllDone => "all_done",
        }
    }

    pub fn kind(self) -> CueKind {
        match self {
            Cue::LookAtCamera
            | Cue::Countdown
            | Cue::PhotoTaken
            | Cue::Retake
            | Cue::ConfirmPhoto
            | Cue::HoldUpCard
            | Cue::AllDone => CueKind::Step,
            _ => CueKind::Prompt,
        }
    }

    /// The clip that says a live prompt. "Hold still" has none: when all is well the kiosk is
    /// quiet until the countdown, which says it.
    pub fn for_prompt(prompt: Prompt) -> Option<Cue> {
        Some(match prompt {
            Prompt::NoFace => Cue::NoFace,
            Prompt::SeveralFaces => Cue::SeveralFaces,
            Prompt::MoveCloser { .. } => Cue::MoveCloser,
            Prompt::MoveBack { .. } => Cue::MoveBack,
            Prompt::MoveLeft => Cue::MoveLeft,
            Prompt::MoveRight => Cue::MoveRight,
            Prompt::MoveUp => Cue::MoveUp,
            Prompt::MoveDown => Cue::MoveDown,
            Prompt::LookStraight => Cue::LookStraight,
            Prompt::RaiseChin => Cue::RaiseChin,
            Prompt::LowerChin => Cue::LowerChin,
            Prompt::StraightenHead => Cue::StraightenHead,
            Prompt::TakeOffGlasses => Cue::TakeOffGlasses,
            Prompt::HairOffBrows => Cue::HairOffBrows,
            Prompt::TakeOffHat => Cue::TakeOffHat,
            Prompt::CloseLips => Cue::CloseLips,
            Prompt::TooDark => Cue::TooDark,
            Prompt::TooBright => Cue::TooBright,
            Prompt::Backlit => Cue::Backlit,
            Prompt::UnevenLight => Cue::UnevenLight,
            Prompt::HoldStill => return None,
        })
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// The language a clip is in: the kiosk's screen language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn folder(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}
