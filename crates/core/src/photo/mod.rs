//! The photo maker: from a capture to the spec's ID photo (crop, background, JPEG), then the
//! output is validated against its own spec by measuring it again.
//!
//! Architecture invariant: pure; bytes and buffers in and out, no files or devices.

pub mod jpeg;
pub mod matte;
pub mod sheet;

use crate::catalog::{ExamProfile, PhotoSpec};
use crate::checks::{measures::delta_e, Limit};
use crate::engine::{FaceEngine, ModelError, StillAnalysis};
use crate::framing::{framing_for, Framing};
use crate::geometry::{Point, Similarity};
use crate::imaging::{decode_image, lab_of, rgb_to_lab, shrink_by_area, warp_rgb, DecodeLimits};
use image::RgbImage;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PhotoError {
    #[error("no face found in the capture")]
    NoFace,
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Jpeg(#[from] jpeg::JpegError),
    #[error("the made photo could not be read back: {0}")]
    Readback(String),
    #[error("the photo maker stopped unexpectedly; take the photo again")]
    Stopped,
}

/// One measured property of the made photo against its spec.
#[derive(Clone, Debug, Serialize)]
pub struct SpecMeasure {
    pub name: &'static str,
    pub ok: bool,
    pub value: f64,
    pub limit: Limit,
}

/// The made photo with its validation.
#[derive(Clone, Debug, Serialize)]
pub struct MadePhoto {
    #[serde(skip)]
    pub jpeg: Vec<u8>,
    pub spec: String,
    pub quality: u8,
    pub bytes: usize,
    pub framing: Framing,
    pub valid: bool,
    pub measures: Vec<SpecMeasure>,
}

/// The crop the framing asks for, resampled without aliasing when it shrinks a lot.
pub fn render_crop(src: &RgbImage, framing: &Framing) -> RgbImage {
    let (w, h) = (framing.out_width, framing.out_height);
    if framing.scale >= 0.6 {
        return warp_rgb(src, &framing.to_output(), w, h);
    }
    // shrink the whole source by area averaging first, then take the (now mild) crop
    let pre = (framing.scale * 1.25).min(1.0);
    let (sw, sh) = (
        ((src.width() as f32) * pre).round().max(1.0) as u32,
        ((src.height() as f32) * pre).round().max(1.0) as u32,
    );
    let small = shrink_by_area(src, sw, sh);
    // the same crop, from a source already `pre` times smaller
    let rest = Similarity {
        a: framing.scale / pre,
        ..framing.to_output()
    };
    warp_rgb(&small, &rest, w, h)
}

/// Makes the spec's photo from a capture the engine has analysed.
pub fn make_photo(
    engine: &FaceEngine,
    src: &RgbImage,
    analysis: &StillAnalysis,
    spec: &PhotoSpec,
    profile: &ExamProfile,
) -> Result<MadePhoto, PhotoError> {
    let framing = framing_for(analysis, spec, profile).ok_or(PhotoError::NoFace)?;
    let mut photo = render_crop(src, &framing);
    if profile.replace_background {
        let (w, h) = photo.dimensions();
        let side = w.max(h) as f32;
        let centre = Point::new(w as f32 / 2.0, h as f32 / 2.0);
        let mask = engine.segment(&photo, centre, side)?;
        let coarse: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| mask.at(Point::new(x as f32 + 0.5, y as f32 + 0.5)))
            .collect();
        let alpha = matte::refine_alpha(&photo, &coarse);
        matte::replace_background(&mut photo, &alpha, spec.background);
    }
    let (jpeg, quality) =
        jpeg::encode_to_window(&photo, spec.jpeg_quality_min, spec.file_bytes(), spec.dpi)?;
    let measures = validate(engine, &jpeg, spec, profile.replace_background)?;
    let valid = measures.iter().all(|m| m.ok);
    Ok(MadePhoto {
        bytes: jpeg.len(),
        jpeg,
        spec: spec.name.clone(),
        quality,
        framing,
        valid,
        measures,
    })
}

fn measure(name: &'static str, value: f32, limit: Limit) -> SpecMeasure {
    SpecMeasure {
        name,
        ok: limit.admits(value),
        value: (value as f64 * 100.0).round() / 100.0,
        limit,
    }
}

/// Reads the JPEG back and measures it against the spec as a checker at the hub would.
pub fn validate(
    engine: &FaceEngine,
    jpeg: &[u8],
    spec: &PhotoSpec,
    background_painted: bool,
) -> Result<Vec<SpecMeasure>, PhotoError> {
    let img = decode_image(jpeg, DecodeLimits::default())
        .map_err(|e| PhotoError::Readback(e.to_string()))?;
    let mut out = vec![
        measure(
            "width",
            img.width() as f32,
            Limit::between(spec.width as f32, spec.width as f32),
        ),
        measure(
            "height",
            img.height() as f32,
            Limit::between(spec.height as f32, spec.height as f32),
        ),
        measure(
            "dpi",
            jpeg::read_jfif_dpi(jpeg).unwrap_or(0) as f32,
            Limit::between(spec.dpi as f32, spec.dpi as f32),
        ),
        measure(
            "file_kb",
            jpeg.len() as f32 / 1024.0,
            Limit::between(spec.file_kb[0] as f32, spec.file_kb[1] as f32),
        ),
    ];
    // the made photo's geometry only: its checks were the source's
    let analysis = engine.locate_still(&img)?;
    out.push(measure(
        "face_count",
        analysis.faces.len() as f32,
        Limit::between(1.0, 1.0),
    ));
    if let Some(s) = &analysis.subject {
        let g = &s.geometry;
        if let Some([a, b]) = spec.crown_window() {
            out.push(measure("crown_from_top", g.crown.y, Limit::between(a, b)));
        }
        if let Some([a, b]) = spec.eyes_from_top {
            out.push(measure("eyes_from_top", g.eye_mid.y, Limit::between(a, b)));
        }
        if let Some([a, b]) = spec.face_width {
            out.push(measure("face_width", g.face_width, Limit::between(a, b)));
        }
        if let Some([a, b]) = spec.head_height_share {
            out.push(measure(
                "head_height_share",
                (g.chin.y - g.crown.y) / img.height() as f32,
                Limit::between(a, b),
            ));
        }
        let centre = (g.eye_mid.x - img.width() as f32 / 2.0).abs() / img.width() as f32;
        out.push(measure(
            "face_off_centre_share",
            centre,
            Limit::at_most(0.05),
        ));
    }
    if background_painted {
        out.push(measure(
            "background_delta_e",
            corner_background_delta_e(&img, spec.background),
            Limit::at_most(6.0),
        ));
    }
    Ok(out)
}

/// Colour distance of the two top corners (always background in an ID photo) to the spec's.
fn corner_background_delta_e(img: &RgbImage, colour: [u8; 3]) -> f32 {
    let target = lab_of(colour);
    let (w, h) = img.dimensions();
    let side = (w.min(h) / 12).max(2);
    let mut worst = 0.0f32;
    for x0 in [0, w.saturating_sub(side)] {
        let mut sum = [0.0f32; 3];
        for y in 0..side {
            for x in x0..x0 + side {
                let p = img.get_pixel(x, y).0;
                for c in 0..3 {
                    sum[c] += p[c] as f32;
                }
            }
        }
        let n = (side * side) as f32;
        let lab = rgb_to_lab([sum[0] / n, sum[1] / n, sum[2] / n]);
        worst = worst.max(delta_e(lab, target));
    }
    worst
}

/// The shutter's work on a capture: the still check's verdict and the photo, sharing one
/// analysis and made side by side (the photo's matte is most of the time; the checks need
/// only the analysis). The kiosk and `kiosk bench` run this same function.
pub fn check_and_make(
    engine: &FaceEngine,
    src: &RgbImage,
    analysis: &StillAnalysis,
    spec: &PhotoSpec,
    profile: &ExamProfile,
) -> (crate::checks::CheckReport, Result<MadePhoto, PhotoError>) {
    std::thread::scope(|scope| {
        let photo = scope.spawn(|| make_photo(engine, src, analysis, spec, profile));
        let report = crate::checks::evaluate(src, analysis, spec, profile);
        let photo = photo.join().unwrap_or(Err(PhotoError::Stopped));
        (report, photo)
    })
}
