//! The prompts the live guide shows, most urgent first, in Chinese and English.

use crate::checks::Reason;
use serde::Serialize;

/// What the candidate should do now, most urgent first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "prompt")]
pub enum Prompt {
    #[default]
    NoFace,
    SeveralFaces,
    MoveCloser {
        cm: u32,
    },
    MoveBack {
        cm: u32,
    },
    MoveLeft,
    MoveRight,
    MoveUp,
    MoveDown,
    /// Turned to one side.
    LookStraight,
    /// Bowed, chin down.
    RaiseChin,
    /// Raised, chin up.
    LowerChin,
    /// Tilted towards a shoulder.
    StraightenHead,
    TakeOffGlasses,
    HairOffBrows,
    TakeOffHat,
    CloseLips,
    TooDark,
    TooBright,
    Backlit,
    UnevenLight,
    HoldStill,
}

impl Prompt {
    /// Same kind of prompt (distance changes do not count as a new prompt).
    pub(super) fn same_kind(&self, other: &Prompt) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    pub fn text(&self) -> Reason {
        let r = |zh, en| Reason { zh, en };
        match self {
            Prompt::NoFace => r("请站到镜头正前方", "please stand in front of the camera"),
            Prompt::SeveralFaces => r(
                "请保持画面中只有您一人",
                "only you should be in the picture",
            ),
            Prompt::MoveCloser { .. } => r("请靠近一些", "please come closer"),
            Prompt::MoveBack { .. } => r("请后退一些", "please step back"),
            Prompt::MoveLeft => r("请向您的左侧移动", "please move to your left"),
            Prompt::MoveRight => r("请向您的右侧移动", "please move to your right"),
            Prompt::MoveUp => r("请抬高一些（站直或调高座椅）", "please come up a little"),
            Prompt::MoveDown => r("请降低一些", "please come down a little"),
            Prompt::LookStraight => r("请正视镜头", "please look straight at the camera"),
            Prompt::RaiseChin => r("请稍微抬头，平视镜头", "please raise your chin a little"),
            Prompt::LowerChin => r("请稍微低头，平视镜头", "please lower your chin a little"),
            Prompt::StraightenHead => r("请摆正头部", "please hold your head upright"),
            Prompt::TakeOffGlasses => r("请摘下眼镜", "please take off your glasses"),
            Prompt::HairOffBrows => r(
                "请整理头发，露出眉毛和眼睛",
                "please move your hair off your brows and eyes",
            ),
            Prompt::TakeOffHat => r("请摘下帽子或头饰", "please take off your hat or headwear"),
            Prompt::CloseLips => r("请自然闭合双唇", "please close your lips"),
            Prompt::TooDark => r("光线太暗", "too dark"),
            Prompt::TooBright => r("光线太亮", "too bright"),
            Prompt::Backlit => r("背后光线太强，请调整位置", "too much light behind you"),
            Prompt::UnevenLight => r("脸部光线不均，请正对光源", "uneven light on your face"),
            Prompt::HoldStill => r("很好，请保持不动", "good, hold still"),
        }
    }
}
