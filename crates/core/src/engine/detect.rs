//! Face detection: CenterFace for stills (boxes + 5 points) and the MediaPipe short-range
//! detector for live frames (cheap enough for every frame).

use super::models::{self, FaceModels, ModelError, DETECTOR_SIDE, FAST_DETECTOR_SIDE};
use crate::geometry::{BoundingBox, Point, Similarity};
use crate::imaging::{
    shrink_by_area, warp_into_f32, Border, ChannelOrder, InputLayout, PixelRange,
};
use image::RgbImage;
use serde::Serialize;

/// One detected face in image pixels.
#[derive(Clone, Debug, Serialize)]
pub struct FaceDetection {
    pub bbox: BoundingBox,
    pub score: f32,
    /// Eye on the image's left, eye on the image's right, nose, mouth corner left, mouth corner
    /// right (as seen in the image: the subject's right eye is on the image's left).
    pub points: [Point; 5],
}

impl FaceDetection {
    /// The same face moved by (`dx`, `dy`) pixels, then scaled by `k` about the origin (from
    /// a padded, shrunk copy back to the picture).
    pub fn mapped(mut self, dx: f32, dy: f32, k: f32) -> Self {
        let map = |p: Point| Point::new((p.x + dx) * k, (p.y + dy) * k);
        let (a, b) = (
            map(Point::new(self.bbox.x0, self.bbox.y0)),
            map(Point::new(self.bbox.x1, self.bbox.y1)),
        );
        self.bbox = BoundingBox {
            x0: a.x,
            y0: a.y,
            x1: b.x,
            y1: b.y,
        };
        for p in &mut self.points {
            *p = map(*p);
        }
        self
    }

    /// The tilt of the eye line in radians (positive: the image-right eye is lower).
    pub fn eye_angle(&self) -> f32 {
        let (l, r) = (self.points[0], self.points[1]);
        (r.y - l.y).atan2(r.x - l.x)
    }
}

const SCORE_THRESHOLD: f32 = 0.5;
const NMS_IOU: f32 = 0.3;

/// Detects faces in a still image with CenterFace, letterboxed into the detector's square.
pub fn detect_faces(
    models: &FaceModels,
    img: &RgbImage,
    scratch: &mut Vec<f32>,
) -> Result<Vec<FaceDetection>, ModelError> {
    let side = DETECTOR_SIDE;
    let (w, h) = img.dimensions();
    let scale = side as f32 / w.max(h) as f32;
    let sw = ((w as f32 * scale).round() as u32).clamp(1, side as u32);
    let sh = ((h as f32 * scale).round() as u32).clamp(1, side as u32);
    // the letterbox: the shrunk image, padded only up to a multiple of 32 (the model's stride)
    let (iw, ih) = (
        (sw as usize).div_ceil(32) * 32,
        (sh as usize).div_ceil(32) * 32,
    );
    let (plan, ih, iw) = models.centerface.for_shape(ih, iw)?;
    let small = shrink_by_area(img, sw, sh);
    scratch.clear();
    scratch.resize(3 * iw * ih, 0.0);
    let plane = iw * ih;
    for (x, y, p) in small.enumerate_pixels() {
        let i = y as usize * iw + x as usize;
        for c in 0..3 {
            scratch[c * plane + i] = p.0[c] as f32;
        }
    }
    let out = models::run(&plan, "centerface", &[1, 3, ih, iw], scratch)?;
    let heat = models::output(&out, 0, "centerface")?;
    let scl = models::output(&out, 1, "centerface")?;
    let off = models::output(&out, 2, "centerface")?;
    let lms = models::output(&out, 3, "centerface")?;
    let (gw, gh) = (iw / 4, ih / 4);
    let gp = gw * gh;
    if heat.len() < gp || scl.len() < 2 * gp || off.len() < 2 * gp || lms.len() < 10 * gp {
        return Err(ModelError::Run {
            model: "centerface",
            reason: "outputs smaller than the grid".into(),
        });
    }
    let sx = w as f32 / sw as f32;
    let sy = h as f32 / sh as f32;
    let mut found = Vec::new();
    for gy in 0..gh {
        for gx in 0..gw {
            let i = gy * gw + gx;
            let score = heat[i];
            if score <= SCORE_THRESHOLD {
                continue;
            }
            let s0 = scl[i].exp() * 4.0;
            let s1 = scl[gp + i].exp() * 4.0;
            let x1 = (gx as f32 + off[gp + i] + 0.5) * 4.0 - s1 / 2.0;
            let y1 = (gy as f32 + off[i] + 0.5) * 4.0 - s0 / 2.0;
            let mut points = [Point::default(); 5];
            for (j, p) in points.iter_mut().enumerate() {
                let px = x1 + lms[(2 * j + 1) * gp + i] * s1;
                let py = y1 + lms[2 * j * gp + i] * s0;
                *p = Point::new(px * sx, py * sy);
            }
            found.push(FaceDetection {
                bbox: BoundingBox {
                    x0: x1 * sx,
                    y0: y1 * sy,
                    x1: (x1 + s1) * sx,
                    y1: (y1 + s0) * sy,
                },
                score,
                points,
            });
        }
    }
    Ok(non_max_suppression(found))
}

fn non_max_suppression(mut faces: Vec<FaceDetection>) -> Vec<FaceDetection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<FaceDetection> = Vec::new();
    for f in faces {
        if kept.iter().all(|k| k.bbox.iou(&f.bbox) <= NMS_IOU) {
            kept.push(f);
        }
    }
    kept
}

/// SSD anchors of the short-range detector: 16×16×2 at stride 8, then 8×8×6 at stride 16.
fn fast_anchors() -> Vec<Point> {
    let mut anchors = Vec::with_capacity(896);
    for (grid, per_cell) in [(16usize, 2usize), (8, 6)] {
        for y in 0..grid {
            for x in 0..grid {
                for _ in 0..per_cell {
                    anchors.push(Point::new(
                        (x as f32 + 0.5) / grid as f32,
                        (y as f32 + 0.5) / grid as f32,
                    ));
                }
            }
        }
    }
    anchors
}

/// The live-guidance detector with its anchors and a reusable input buffer.
pub struct FastDetector {
    anchors: Vec<Point>,
    input: Vec<f32>,
}

impl Default for FastDetector {
    fn default() -> Self {
        Self {
            anchors: fast_anchors(),
            input: Vec::new(),
        }
    }
}

impl FastDetector {
    /// Detects faces in a camera frame (letterboxed into 128×128). The detector's six keypoints
    /// are mapped to the CenterFace order for the eyes and nose; mouth corners are estimated
    /// from the mouth centre.
    pub fn detect(
        &mut self,
        models: &FaceModels,
        img: &RgbImage,
    ) -> Result<Vec<FaceDetection>, ModelError> {
        let side = FAST_DETECTOR_SIDE as f32;
        let (w, h) = img.dimensions();
        let long = w.max(h) as f32;
        let scale = side / long;
        // centre the frame in the square so padding is symmetric
        let to_input = Similarity {
            a: scale,
            b: 0.0,
            tx: (side - w as f32 * scale) * 0.5,
            ty: (side - h as f32 * scale) * 0.5,
        };
        let n = FAST_DETECTOR_SIDE;
        warp_into_f32(
            img,
            &to_input,
            n,
            n,
            InputLayout {
                order: ChannelOrder::Hwc,
                range: PixelRange::MinusOneToOne,
                border: Border::Repeat,
            },
            &mut self.input,
        );
        let out = models::run(
            &models.fast_detector,
            "face detector",
            &[1, n, n, 3],
            &self.input,
        )?;
        let regs = models::output(&out, 0, "face detector")?;
        let scores = models::output(&out, 1, "face detector")?;
        let back = to_input.inverse();
        let mut raw = Vec::new();
        for (i, anchor) in self.anchors.iter().enumerate() {
            let logit = scores.get(i).copied().unwrap_or(-80.0).clamp(-80.0, 80.0);
            let score = 1.0 / (1.0 + (-logit).exp());
            if score <= SCORE_THRESHOLD {
                continue;
            }
            let Some(r) = regs.get(i * 16..i * 16 + 16) else {
                break;
            };
            let at = |dx: f32, dy: f32| {
                back.apply(Point::new(
                    (anchor.x + dx / side) * side,
                    (anchor.y + dy / side) * side,
                ))
            };
            let c = at(r[0], r[1]);
            let half_w = r[2] * 0.5 / scale;
            let half_h = r[3] * 0.5 / scale;
            let kp = |k: usize| at(r[4 + 2 * k], r[5 + 2 * k]);
            let (eye_a, eye_b, nose, mouth) = (kp(0), kp(1), kp(2), kp(3));
            let eye_dist = eye_a.distance(eye_b);
            let mouth_half = eye_dist * 0.42;
            let dir = Point::new(
                (eye_b.x - eye_a.x) / eye_dist.max(1e-3),
                (eye_b.y - eye_a.y) / eye_dist.max(1e-3),
            );
            raw.push(FaceDetection {
                bbox: BoundingBox {
                    x0: c.x - half_w,
                    y0: c.y - half_h,
                    x1: c.x + half_w,
                    y1: c.y + half_h,
                },
                score,
                points: [
                    eye_a,
                    eye_b,
                    nose,
                    Point::new(mouth.x - dir.x * mouth_half, mouth.y - dir.y * mouth_half),
                    Point::new(mouth.x + dir.x * mouth_half, mouth.y + dir.y * mouth_half),
                ],
            });
        }
        Ok(weighted_nms(raw))
    }
}

/// Blends overlapping detections (MediaPipe's weighted NMS): steadier boxes across frames.
fn weighted_nms(mut faces: Vec<FaceDetection>) -> Vec<FaceDetection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out: Vec<FaceDetection> = Vec::new();
    let mut used = vec![false; faces.len()];
    for i in 0..faces.len() {
        if used[i] {
            continue;
        }
        let mut total = 0.0;
        let mut bbox = [0.0f32; 4];
        let mut pts = [Point::default(); 5];
        for j in i..faces.len() {
            // the seed always joins its own group: a zero-area box has IoU 0 even with itself
            if used[j] || (j != i && faces[i].bbox.iou(&faces[j].bbox) <= NMS_IOU) {
                continue;
            }
            used[j] = true;
            let f = &faces[j];
            let s = f.score;
            total += s;
            bbox[0] += f.bbox.x0 * s;
            bbox[1] += f.bbox.y0 * s;
            bbox[2] += f.bbox.x1 * s;
            bbox[3] += f.bbox.y1 * s;
            for (p, q) in pts.iter_mut().zip(f.points.iter()) {
                p.x += q.x * s;
                p.y += q.y * s;
            }
        }
        for p in &mut pts {
            p.x /= total;
            p.y /= total;
        }
        out.push(FaceDetection {
            bbox: BoundingBox {
                x0: bbox[0] / total,
                y0: bbox[1] / total,
                x1: bbox[2] / total,
                y1: bbox[3] / total,
            },
            score: faces[i].score,
            points: pts,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_match_the_model_output_count() {
        assert_eq!(fast_anchors().len(), 896);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let f = |x: f32, s: f32| FaceDetection {
            bbox: BoundingBox {
                x0: x,
                y0: 0.0,
                x1: x + 10.0,
                y1: 10.0,
            },
            score: s,
            points: [Point::default(); 5],
        };
        let kept = non_max_suppression(vec![f(0.0, 0.6), f(1.0, 0.9), f(50.0, 0.7)]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
    }
}
