//! A camera's profile: how to open it and its geometry (the focal length that turns eye
//! distance in pixels into centimetres).

use capture_core::guidance::CameraModel;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    Mjpeg,
    Yuyv,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CameraProfile {
    pub name: String,
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Focal length in pixels at `width`; `kiosk camera calibrate` measures it.
    pub focal_px: f32,
    /// Absolute exposure (V4L2 units, 100 µs) or none for the camera's automatic exposure.
    #[serde(default)]
    pub exposure: Option<i64>,
    /// White balance in kelvin, or none for automatic.
    #[serde(default)]
    pub white_balance_k: Option<i64>,
}

impl CameraProfile {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let p: CameraProfile = toml::from_str(text).map_err(|e| e.to_string())?;
        if p.width == 0 || p.height == 0 || p.fps == 0 || p.focal_px <= 0.0 {
            return Err("width, height, fps and focal_px must be positive".into());
        }
        Ok(p)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The camera model for frames `frame_width` wide (the focal length scales with the width).
    pub fn model_for(&self, frame_width: u32) -> CameraModel {
        CameraModel {
            focal_px: self.focal_px * frame_width as f32 / self.width as f32,
            width: frame_width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profile_parses_and_scales() {
        let p = CameraProfile::parse(include_str!(
            "../../../../hardware/cameras/generic-uvc-1080p.toml"
        ))
        .unwrap();
        assert_eq!(
            (p.width, p.height, p.format),
            (1920, 1080, PixelFormat::Mjpeg)
        );
        let half = p.model_for(960);
        assert!((half.focal_px - p.focal_px / 2.0).abs() < 1e-3);
        assert!(CameraProfile::parse(&p.to_toml()).is_ok());
        assert!(CameraProfile::parse("name = \"x\"").is_err());
    }
}
