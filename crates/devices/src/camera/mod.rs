//! Camera frames. `FrameSource` is the port the kiosk reads frames from; `v4l` is the adapter
//! for real UVC cameras, `simulated` plays real photographs as scripted scenes. Camera profiles
//! (format, resolution, focal length) are data files under `hardware/cameras/`.

pub mod frame;
pub mod playback;
pub mod profile;
pub mod simulated;
pub mod v4l;

use thiserror::Error;

pub use frame::Frame;
pub use profile::CameraProfile;

#[derive(Debug, Error)]
pub enum CameraError {
    #[error("no camera found at {0}: check the USB cable, or run `kiosk camera list`")]
    Absent(String),
    #[error("the camera at {0} was unplugged")]
    Unplugged(String),
    #[error("the camera cannot deliver {0}")]
    Format(String),
    #[error("camera error: {0}")]
    Device(String),
}

/// Anything that delivers frames: a real camera or a simulated one.
pub trait FrameSource: Send {
    /// The next frame (blocks until one is due).
    fn next_frame(&mut self) -> Result<Frame, CameraError>;
    /// What this source is, for logs and the staff screen.
    fn describe(&self) -> String;
}
