//! Words the kiosk shows that come from Rust rather than the .slint files: check titles, the
//! photo guide built from the profile's rules, and masked ID numbers.

use crate::catalog::{Bilingual, ExamProfile, PhotoSpec};
use crate::checks::CheckId;
use crate::text::StaticText;

/// A check's title as the candidate reads it.
pub fn check_title(id: CheckId) -> StaticText {
    let t = StaticText::new;
    match id {
        CheckId::FaceCount => t("人脸数量", "one face"),
        CheckId::FaceSize => t("人像大小", "head size"),
        CheckId::FaceInFrame => t("人像完整", "whole head in frame"),
        CheckId::HeadPose => t("正视镜头", "facing the camera"),
        CheckId::EyesOpen => t("双眼睁开", "eyes open"),
        CheckId::MouthClosed => t("嘴巴闭合", "mouth closed"),
        CheckId::Glasses => t("不戴眼镜", "no glasses"),
        CheckId::Glare => t("镜片无反光", "no glare"),
        CheckId::HairOcclusion => t("头发不遮挡眉眼", "hair off brows and eyes"),
        CheckId::Headwear => t("不戴帽子", "no headwear"),
        CheckId::LightUniformity => t("光线均匀", "even light"),
        CheckId::Exposure => t("亮度合适", "exposure"),
        CheckId::Sharpness => t("照片清晰", "sharpness"),
        CheckId::Background => t("背景", "background"),
        CheckId::ClothingContrast => t("服装与背景区分", "clothing vs background"),
        CheckId::Resolution => t("分辨率", "resolution"),
    }
}

/// The photo guide (R-GUIDE), from the profile's and spec's rules.
pub fn guide_items(profile: &ExamProfile, spec: &PhotoSpec) -> Vec<Bilingual> {
    let mut items: Vec<Bilingual> = Vec::new();
    let mut add = |zh: &str, en: &str| items.push(Bilingual::new(zh, en));
    if profile.forbids_glasses(spec) {
        add("请摘下眼镜", "take off your glasses");
    } else {
        add(
            "可以戴眼镜，镜片不能反光",
            "glasses are allowed if they do not reflect",
        );
    }
    add("露出双耳和额头", "both ears and the forehead visible");
    add("头发不要遮挡眉毛和眼睛", "hair off the eyebrows and eyes");
    if profile.replace_background {
        add(
            "背景将自动替换为规定颜色",
            "the background is replaced automatically",
        );
    } else {
        add("站在纯色背景前", "stand in front of the plain background");
    }
    if let Some(hint) = &profile.clothing_hint {
        add(&hint.zh, &hint.en);
    } else {
        add(
            "衣服颜色不要与背景相近",
            "clothes of a different colour from the background",
        );
    }
    add(
        "光线均匀，脸上不要有阴影",
        "even light, no shadow across the face",
    );
    add(
        "表情自然，闭上嘴巴，双肩放平",
        "natural expression, mouth closed, shoulders level",
    );
    let [near, far] = profile.distance_cm;
    items.push(Bilingual::new(
        format!("距离镜头 {near:.0}–{far:.0} 厘米，正视镜头"),
        format!("{near:.0}–{far:.0} cm from the camera, look straight at it"),
    ));
    items
}

/// An ID number as shown in a queue: the first four and last four characters.
pub fn masked_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return id.to_owned();
    }
    let hidden = "*".repeat(chars.len() - 8);
    format!(
        "{}{hidden}{}",
        chars[..4].iter().collect::<String>(),
        chars[chars.len() - 4..].iter().collect::<String>()
    )
}
