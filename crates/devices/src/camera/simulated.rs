//! A simulated camera that plays real photographs as scripted scenes at a frame rate: a face
//! coming closer, light turning uneven, a second person stepping in, glasses on and off. Each
//! frame is placed so the face appears exactly as big as it would at the scene's distance
//! through the camera model, so distance estimates can be checked against the truth.

use super::{CameraError, Frame, FrameSource};
use capture_core::engine::{FaceEngine, ModelError};
use capture_core::geometry::Point;
use capture_core::guidance::{CameraModel, MEAN_EYE_DISTANCE_CM};
use image::{imageops, Rgb, RgbImage};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A photograph with its eyes measured once.
#[derive(Clone)]
pub struct Portrait {
    pub image: RgbImage,
    pub eye_mid: Point,
    pub eye_distance: f32,
}

impl Portrait {
    pub fn measure(engine: &FaceEngine, image: RgbImage) -> Result<Option<Self>, ModelError> {
        let a = engine.locate_still(&image)?;
        Ok(a.subject.map(|s| Portrait {
            eye_mid: s.geometry.eye_mid,
            eye_distance: s.geometry.right_eye.distance(s.geometry.left_eye),
            image,
        }))
    }
}

/// What the camera sees over time.
pub enum Scene {
    /// The candidate walks from `from_cm` to `to_cm` over `frames` frames.
    Approach {
        who: Portrait,
        from_cm: f32,
        to_cm: f32,
        frames: u64,
    },
    /// At `at_cm`, light falls off across the face more and more over `frames` frames.
    UnevenLight {
        who: Portrait,
        at_cm: f32,
        frames: u64,
    },
    /// A second person steps in beside the candidate at frame `enter`.
    SecondPerson {
        who: Portrait,
        other: Portrait,
        at_cm: f32,
        enter: u64,
    },
    /// Glasses on and off: the two photographs alternate every `every` frames.
    Glasses {
        with: Portrait,
        without: Portrait,
        at_cm: f32,
        every: u64,
    },
    /// Photographs as they are, in turn.
    Playlist(Vec<RgbImage>),
}

pub struct SimulatedCamera {
    scene: Scene,
    camera: CameraModel,
    width: u32,
    height: u32,
    frame: u64,
    interval: Duration,
    next_due: Option<Instant>,
    /// Pace frames in real time (demo) or hand them out at once (tests).
    pub realtime: bool,
    held: HeldUp,
    /// The last frame drawn and what it showed: a scene standing still is not drawn again
    /// (a 1080p frame costs more to draw than a camera at 30 fps allows).
    drawn: Option<(DrawnKey, Arc<RgbImage>)>,
}

/// What a frame shows: the scene's moment (frames showing the same are the same) and the
/// address of what is held up.
#[derive(Clone, Copy, PartialEq)]
struct DrawnKey {
    moment: u64,
    held: usize,
}

/// Something the simulated candidate holds up to the camera (a phone showing the collection
/// QR code), shared with whoever plays the candidate: the demo button, a test.
#[derive(Clone, Default)]
pub struct HeldUp(Arc<Mutex<Option<Arc<RgbImage>>>>);

impl HeldUp {
    pub fn show(&self, item: RgbImage) {
        if let Ok(mut h) = self.0.lock() {
            *h = Some(Arc::new(item));
        }
    }

    pub fn put_away(&self) {
        if let Ok(mut h) = self.0.lock() {
            *h = None;
        }
    }

    pub fn is_shown(&self) -> bool {
        self.0.lock().map(|h| h.is_some()).unwrap_or(false)
    }
}

/// A phone screen showing `text` as a QR code: `module_px` pixels a module, a white quiet zone
/// of four modules and a dark bezel. None if the text is too long for a QR code.
pub fn phone_showing_qr(text: &str, module_px: u32) -> Option<RgbImage> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let m = module_px.max(1);
    let quiet = 4 * m;
    let bezel = 3 * m;
    let side = modules * m + 2 * quiet;
    let (w, h) = (side + 2 * bezel, side + 2 * bezel + 8 * m);
    let mut phone = RgbImage::from_pixel(w, h, Rgb([30, 32, 36]));
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x.wrapping_sub(quiet) / m, y.wrapping_sub(quiet) / m);
            let dark = x >= quiet
                && y >= quiet
                && mx < modules
                && my < modules
                && colors[(my * modules + mx) as usize] == qrcode::Color::Dark;
            let v = if dark { 20 } else { 245 };
            phone.put_pixel(bezel + x, bezel + 4 * m + y, Rgb([v, v, v]));
        }
    }
    Some(phone)
}

impl SimulatedCamera {
    pub fn new(scene: Scene, camera: CameraModel, width: u32, height: u32, fps: u32) -> Self {
        Self {
            scene,
            camera,
            width,
            height,
            frame: 0,
            interval: Duration::from_secs_f64(1.0 / fps.max(1) as f64),
            next_due: None,
            realtime: false,
            held: HeldUp::default(),
            drawn: None,
        }
    }

    /// The handle that makes the simulated candidate hold something up to the camera.
    pub fn held_up(&self) -> HeldUp {
        self.held.clone()
    }

    /// The true distance of the candidate in the frame about to be delivered.
    pub fn truth_cm(&self) -> Option<f32> {
        let t = self.frame;
        match &self.scene {
            Scene::Approach {
                from_cm,
                to_cm,
                frames,
                ..
            } => {
                let k = (t as f32 / (*frames).max(1) as f32).min(1.0);
                Some(from_cm + (to_cm - from_cm) * k)
            }
            Scene::UnevenLight { at_cm, .. }
            | Scene::SecondPerson { at_cm, .. }
            | Scene::Glasses { at_cm, .. } => Some(*at_cm),
            Scene::Playlist(_) => None,
        }
    }

    fn canvas(&self) -> RgbImage {
        RgbImage::from_pixel(self.width, self.height, Rgb([196, 200, 204]))
    }

    /// Pastes `who` scaled for `cm`, eyes at `eyes` (fractions of the frame).
    fn place(&self, canvas: &mut RgbImage, who: &Portrait, cm: f32, eyes: (f32, f32)) {
        let want = self.camera.focal_px * MEAN_EYE_DISTANCE_CM / cm.max(1.0);
        let k = want / who.eye_distance.max(1.0);
        // cut the head and shoulders first so the resize stays cheap
        let half = who.eye_distance * 4.0;
        let (x0, y0) = (
            (who.eye_mid.x - half).max(0.0) as u32,
            (who.eye_mid.y - half).max(0.0) as u32,
        );
        let x1 = ((who.eye_mid.x + half) as u32).min(who.image.width());
        let y1 = ((who.eye_mid.y + half * 1.6) as u32).min(who.image.height());
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        let cut = imageops::crop_imm(&who.image, x0, y0, x1 - x0, y1 - y0).to_image();
        let (w, h) = (
            ((x1 - x0) as f32 * k).max(1.0) as u32,
            ((y1 - y0) as f32 * k).max(1.0) as u32,
        );
        let scaled = imageops::resize(&cut, w, h, imageops::FilterType::Triangle);
        let ex = (who.eye_mid.x - x0 as f32) * k;
        let ey = (who.eye_mid.y - y0 as f32) * k;
        let x = (eyes.0 * self.width as f32 - ex) as i64;
        let y = (eyes.1 * self.height as f32 - ey) as i64;
        imageops::replace(canvas, &scaled, x, y);
    }

    fn render(&self) -> RgbImage {
        let t = self.frame;
        let mut c = self.canvas();
        match &self.scene {
            Scene::Approach { who, .. } => {
                let cm = self.truth_cm().unwrap_or(90.0);
                self.place(&mut c, who, cm, (0.5, 0.4));
            }
            Scene::UnevenLight { who, at_cm, frames } => {
                self.place(&mut c, who, *at_cm, (0.5, 0.4));
                // side light: the face darkens from one cheek to the other, more every frame
                let strength = (t as f32 / (*frames).max(1) as f32).min(1.0) * 0.7;
                let eyes = self.camera.focal_px * MEAN_EYE_DISTANCE_CM / at_cm.max(1.0);
                let (cx, span) = (c.width() as f32 * 0.5, eyes * 3.0);
                for (x, _, p) in c.enumerate_pixels_mut() {
                    let shade = ((cx + span / 2.0 - x as f32) / span).clamp(0.0, 1.0);
                    let gain = 1.0 - strength * shade;
                    p.0 = p.0.map(|v| (v as f32 * gain) as u8);
                }
            }
            Scene::SecondPerson {
                who,
                other,
                at_cm,
                enter,
            } => {
                self.place(&mut c, who, *at_cm, (0.5, 0.4));
                if t >= *enter {
                    self.place(&mut c, other, at_cm * 1.1, (0.85, 0.42));
                }
            }
            Scene::Glasses {
                with,
                without,
                at_cm,
                every,
            } => {
                let on = (t / (*every).max(1)) % 2 == 0;
                self.place(&mut c, if on { with } else { without }, *at_cm, (0.5, 0.4));
            }
            Scene::Playlist(images) => {
                if let Some(img) = images.get((t as usize) % images.len().max(1)) {
                    c = imageops::resize(
                        img,
                        self.width,
                        self.height,
                        imageops::FilterType::Triangle,
                    );
                }
            }
        }
        // held up to the middle of the picture, where the scan screen's frame shows
        if let Some(item) = self.held.0.lock().ok().and_then(|h| h.clone()) {
            let x = (c.width() as i64 - item.width() as i64) / 2;
            let y = (c.height() as i64 - item.height() as i64) / 2;
            imageops::replace(&mut c, item.as_ref(), x, y);
        }
        c
    }
}

impl SimulatedCamera {
    /// The scene's moment at frame `t`: frames with the same moment look the same.
    fn moment(&self, t: u64) -> u64 {
        match &self.scene {
            Scene::Approach { frames, .. } | Scene::UnevenLight { frames, .. } => t.min(*frames),
            Scene::SecondPerson { enter, .. } => u64::from(t >= *enter),
            Scene::Glasses { every, .. } => (t / (*every).max(1)) % 2,
            Scene::Playlist(images) => t % images.len().max(1) as u64,
        }
    }

    /// The next frame, shared (paced like the camera when `realtime` is set).
    fn next_shared(&mut self) -> Arc<RgbImage> {
        if self.realtime {
            let due = self.next_due.unwrap_or_else(Instant::now);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            self.next_due = Some(due.max(Instant::now() - self.interval) + self.interval);
        }
        let held = self
            .held
            .0
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(|i| Arc::as_ptr(i) as usize))
            .unwrap_or(0);
        let key = DrawnKey {
            moment: self.moment(self.frame),
            held,
        };
        let frame = match &self.drawn {
            Some((k, img)) if *k == key => img.clone(),
            _ => {
                let img = Arc::new(self.render());
                self.drawn = Some((key, img.clone()));
                img
            }
        };
        self.frame += 1;
        frame
    }

    /// The next frame's pixels, paced like the camera when `realtime` is set.
    pub fn next_image(&mut self) -> RgbImage {
        self.next_shared().as_ref().clone()
    }
}

impl FrameSource for SimulatedCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        Ok(Frame::Rgb(self.next_shared()))
    }

    fn describe(&self) -> String {
        format!("simulated camera {}×{}", self.width, self.height)
    }
}
