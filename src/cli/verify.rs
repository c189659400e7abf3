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
    /// Decision threshold on the descriptor distance.
    #[arg(long, default_value_t = SAME_PERSON_DISTANCE)]
    threshold: f32,
    image_a: PathBuf,
    image_b: PathBuf,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let a = match read_image(&args.image_a).and_then(|a| read_image(&args.image_b).map(|b| (a, b)))
    {
        Ok(pair) => pair,
        Err(message) => {
            tracing::error!(reason = %message, "a photo to compare could not be read");
            return Ok(ExitCode::from(2));
        }
    };
    let engine = load_engine()?;
    let describe = |img, path: &PathBuf| -> Result<_> {
        engine
            .describe(img)?
            .ok_or_else(|| anyhow!("{}: no face found", path.display()))
    };
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
