//! What a failed check says to the candidate: the problem and the fix, in Chinese first.

use super::CheckId;

/// The problem and its fix, in both languages.
pub type Reason = crate::text::StaticText;

const fn r(zh: &'static str, en: &'static str) -> Reason {
    Reason { zh, en }
}

/// The reason for a failed check; `direction` says which way it failed.
pub fn reason(id: CheckId, direction: &str) -> Reason {
    use CheckId::*;
    if direction == "unmeasured" {
        return r("未检测到人脸，无法检查此项", "not checked: no face found");
    }
    match (id, direction) {
        (FaceCount, "none") => r(
            "未检测到人脸，请正对镜头",
            "no face found: please face the camera",
        ),
        (FaceCount, _) => r(
            "画面中有多人，请保持只有您一人",
            "several faces: only you should be in the picture",
        ),
        (FaceSize, _) => r("人脸太小，请靠近镜头", "face too small: please move closer"),
        (FaceInFrame, "geometry") => r(
            "头部位置无法裁成标准照片，请调整位置后重拍",
            "the head cannot be framed to the spec: please adjust and retake",
        ),
        (FaceInFrame, _) => r(
            "头部或肩部超出画面，请移到取景框中间",
            "head or shoulders cut off: please move into the middle of the frame",
        ),
        (HeadPose, "turned") => r(
            "头部左右偏转，请正视镜头",
            "head turned sideways: please look straight at the camera",
        ),
        (HeadPose, "raised") => r(
            "头部上仰，请平视镜头",
            "head raised: please lower your chin and look level at the camera",
        ),
        (HeadPose, "bowed") => r(
            "头部下低，请平视镜头",
            "head bowed: please raise your chin and look level at the camera",
        ),
        (HeadPose, "tilted") | (HeadPose, _) => r(
            "头部歪斜，请摆正头部、双肩放平",
            "head tilted: please hold your head upright",
        ),
        (EyesOpen, _) => r(
            "眼睛未睁开，请自然睁眼",
            "eyes closed: please open your eyes",
        ),
        (MouthClosed, "teeth") => r(
            "露出牙齿，请自然闭合双唇",
            "teeth showing: please close your lips",
        ),
        (MouthClosed, _) => r(
            "嘴巴张开或露齿，请自然闭嘴",
            "mouth open or teeth showing: please close your mouth",
        ),
        (Glasses, _) => r(
            "检测到眼镜，请摘下眼镜",
            "glasses found: please take off your glasses",
        ),
        (Glare, _) => r(
            "脸部或镜片反光，请调整角度或摘下眼镜",
            "glare on face or lenses: please tilt your glasses or take them off",
        ),
        (HairOcclusion, _) => r(
            "头发或物品遮挡眉毛、眼睛，请整理头发露出眉眼",
            "hair or an object covers brows or eyes: please move it away",
        ),
        (Headwear, _) => r(
            "额头被遮挡，请摘下帽子或头饰，露出额头",
            "forehead covered: please take off hats or headwear",
        ),
        (LightUniformity, _) => r(
            "脸部光线不均（阴阳脸），请正对光源",
            "uneven light on the face: please face the light",
        ),
        (Exposure, "dark") => r(
            "照片太暗，请到光线充足处",
            "too dark: please move to better light",
        ),
        (Exposure, "clipped") => r(
            "脸部过曝失去细节，请避开强光",
            "face washed out: please avoid strong light",
        ),
        (Exposure, _) => r(
            "照片太亮，请避开强光",
            "too bright: please avoid strong light",
        ),
        (Sharpness, _) => r("照片模糊，请保持不动", "blurred: please hold still"),
        (Background, "busy") => r(
            "背景不是纯色，请站在纯色背景前",
            "background not plain: please stand before the plain backdrop",
        ),
        (Background, _) => r(
            "背景颜色不符合要求，请站在指定背景前",
            "wrong background colour: please stand before the backdrop",
        ),
        (ClothingContrast, _) => r(
            "衣服颜色与背景太接近，请换其他颜色的上衣",
            "clothing too close to the background colour: please wear another colour",
        ),
        (Resolution, _) => r("图像分辨率不足", "image resolution too low"),
    }
}
