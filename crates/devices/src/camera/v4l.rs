//! The adapter for real UVC cameras through V4L2 (nokhwa): format, resolution and frame rate
//! from the camera's profile, exposure and white balance where the camera allows, and recovery
//! after the camera is unplugged and plugged back in.

use super::profile::{CameraProfile, PixelFormat};
use super::{CameraError, Frame, FrameSource};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, ControlValueSetter, FrameFormat, KnownCameraControl,
    RequestedFormat, RequestedFormatType, Resolution,
};
use nokhwa::Camera;
use std::path::Path;
use std::time::{Duration, Instant};

/// V4L2 control ids UVC cameras use (nokhwa names only the generic ones).
const AUTO_EXPOSURE: u32 = 0x009a_0901;
const EXPOSURE_ABSOLUTE: u32 = 0x009a_0902;
const AUTO_WHITE_BALANCE: u32 = 0x0098_090c;

/// Cameras V4L2 knows: (index, name), in index order.
pub fn list_cameras() -> Result<Vec<(u32, String)>, CameraError> {
    let found =
        nokhwa::query(ApiBackend::Video4Linux).map_err(|e| CameraError::Device(e.to_string()))?;
    let mut out: Vec<(u32, String)> = found
        .into_iter()
        .filter_map(|c| match c.index() {
            CameraIndex::Index(i) => Some((*i, c.human_name())),
            CameraIndex::String(s) => s.parse().ok().map(|i| (i, c.human_name())),
        })
        .collect();
    out.sort();
    Ok(out)
}

pub struct V4lCamera {
    index: u32,
    profile: CameraProfile,
    camera: Option<Camera>,
    last_attempt: Instant,
    /// Times the camera was reopened after an unplug.
    pub reopened: u64,
}

fn device_path(index: u32) -> String {
    format!("/dev/video{index}")
}

fn open(index: u32, profile: &CameraProfile) -> Result<Camera, CameraError> {
    let path = device_path(index);
    if !Path::new(&path).exists() {
        return Err(CameraError::Absent(path));
    }
    let fourcc = match profile.format {
        PixelFormat::Mjpeg => FrameFormat::MJPEG,
        PixelFormat::Yuyv => FrameFormat::YUYV,
    };
    let format = CameraFormat::new(
        Resolution::new(profile.width, profile.height),
        fourcc,
        profile.fps,
    );
    let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Exact(format));
    let mut camera =
        Camera::with_backend(CameraIndex::Index(index), request, ApiBackend::Video4Linux).map_err(
            |e| {
                CameraError::Format(format!(
                    "{:?} {}×{} at {} fps on {path} ({e}); pick a mode the camera lists",
                    profile.format, profile.width, profile.height, profile.fps
                ))
            },
        )?;
    // controls are best effort: many cameras lack one or the other
    if let Some(exposure) = profile.exposure {
        let _ = camera.set_camera_control(
            KnownCameraControl::Other(AUTO_EXPOSURE as u128),
            ControlValueSetter::Integer(1),
        );
        let _ = camera.set_camera_control(
            KnownCameraControl::Other(EXPOSURE_ABSOLUTE as u128),
            ControlValueSetter::Integer(exposure),
        );
    }
    if let Some(kelvin) = profile.white_balance_k {
        let _ = camera.set_camera_control(
            KnownCameraControl::Other(AUTO_WHITE_BALANCE as u128),
            ControlValueSetter::Boolean(false),
        );
        let _ = camera.set_camera_control(
            KnownCameraControl::WhiteBalance,
            ControlValueSetter::Integer(kelvin),
        );
    }
    camera
        .open_stream()
        .map_err(|e| CameraError::Device(format!("{path}: {e}")))?;
    Ok(camera)
}

impl V4lCamera {
    /// Opens `/dev/video<index>` as the profile says; an absent camera is a clear error.
    pub fn open(index: u32, profile: CameraProfile) -> Result<Self, CameraError> {
        let camera = open(index, &profile)?;
        Ok(Self {
            index,
            profile,
            camera: Some(camera),
            last_attempt: Instant::now(),
            reopened: 0,
        })
    }
}

impl FrameSource for V4lCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.camera.is_none() {
            // after an unplug, try to reopen at most once a second
            if self.last_attempt.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(100));
                return Err(CameraError::Unplugged(device_path(self.index)));
            }
            self.last_attempt = Instant::now();
            self.camera = Some(open(self.index, &self.profile)?);
            self.reopened += 1;
        }
        let Some(camera) = self.camera.as_mut() else {
            return Err(CameraError::Unplugged(device_path(self.index)));
        };
        // MJPEG stays compressed: the live screen decodes it at the size it needs
        let frame = camera.frame().and_then(|buffer| {
            if buffer.source_frame_format() == FrameFormat::MJPEG {
                Ok(Frame::Jpeg(buffer.buffer().into()))
            } else {
                buffer.decode_image::<RgbFormat>().map(Frame::from)
            }
        });
        match frame {
            Ok(frame) => Ok(frame),
            Err(e) => {
                // a read error is almost always the device going away: drop it and reopen later
                self.camera = None;
                self.last_attempt = Instant::now();
                Err(CameraError::Unplugged(format!(
                    "{} ({e})",
                    device_path(self.index)
                )))
            }
        }
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.profile.name, device_path(self.index))
    }
}
