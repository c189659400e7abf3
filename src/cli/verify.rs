//! `kiosk verify`: are the largest faces in two photos the same person?

use super::{load_engine, read_image, say};
use anyhow::{anyhow, Result};
use capture_kiosk::engine::{descriptor_distance, SAME_PERSON_DISTANCE};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    json: bool,
    /// Decision threshold on the descriptor distance (above 0, at most 1.5).
    #[arg(long, default_value_t = SAME_PERSON_DISTANCE, value_parser = parse_threshold)]
    threshold: f32,
    image_a: PathBuf,
    image_b: PathBuf,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let a = match read_image(&args.image_a).and_then(|a| read_image(&args.image_b).map(|b| (a, b)))
    {
        Ok(pair) => pair,
        Err(message) => {
            // said to the person at the terminal, as `check` and `photo` say it
            eprintln!("kiosk: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let engine = load_engine()?;
    let describe = |img, path: &PathBuf| -> Result<_> {
        engine.describe(img)?.ok_or_else(|| {
            anyhow!(
                "{}: 照片中没有找到人脸，无法比对 / no face found, so nothing to compare",
                path.display()
            )
        })
    };
    // a face a few pixels across gives a descriptor of noise: no verdict rather than a wrong one
    for (img, path) in [(&a.0, &args.image_a), (&a.1, &args.image_b)] {
        let eyes = engine
            .detect(img)?
            .first()
            .map(|f| f.points[0].distance(f.points[1]));
        if let Some(eyes) = eyes.filter(|&e| e < MIN_EYES_APART_PX) {
            eprintln!(
                "kiosk: {}: 人脸太小（两眼相距 {eyes:.0} 像素，至少 {MIN_EYES_APART_PX:.0}），无法比对 / the \
                 face is too small to compare (eyes {eyes:.0} px apart, at least \
                 {MIN_EYES_APART_PX:.0})",
                path.display()
            );
            return Ok(ExitCode::from(2));
        }
    }
    let da = describe(&a.0, &args.image_a)?;
    let db = describe(&a.1, &args.image_b)?;
    let distance = descriptor_distance(&da, &db);
    let same = distance < args.threshold;
    if args.json {
        say(format!(
            "{}",
            serde_json::json!({"distance": (distance * 1e4).round() / 1e4, "same": same, "threshold": (args.threshold as f64 * 1e4).round() / 1e4})
        ));
    } else {
        say(format!(
            "distance {distance:.4} (threshold {}): {}",
            args.threshold,
            if same {
                "同一人 / same person"
            } else {
                "不是同一人 / different people"
            }
        ));
    }
    Ok(ExitCode::from(if same { 0 } else { 1 }))
}

/// The fewest pixels between the eyes a face needs to be compared: well under the ID card
/// chip's (about 26 in its 102×126), well over a thumbnail's.
const MIN_EYES_APART_PX: f32 = 12.0;

/// A decision distance a pair of faces can fall either side of: the descriptors' distances run
/// from 0 to about 1.2, so 5, inf or NaN would call everyone the same person, or no one.
pub(crate) fn parse_threshold(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(t) if t > 0.0 && t <= 1.5 => Ok(t),
        Ok(t) => Err(format!(
            "{t} cannot separate faces: give a distance above 0, at most 1.5 (the kiosk's is {SAME_PERSON_DISTANCE})"
        )),
        Err(e) => Err(format!("{text:?} is not a number: {e}")),
    }
}
