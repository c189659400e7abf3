//! capture-devices: the kiosk's hardware ports and adapters, each with a simulator that speaks
//! the real wire protocol: the camera (V4L2 UVC, simulated scenes, paced MJPEG playback) and the
//! ID-card reader (serial driver, simulator, the vendor's chip-photo decoder).

pub mod camera;
pub mod reader;
