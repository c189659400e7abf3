//! `kiosk sheet`: a print sheet of one photo (PNG, or JPEG with its dpi).

use super::read_image;
use super::say;
use anyhow::{anyhow, Context, Result};
use capture_kiosk::photo::{jpeg, sheet};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct SheetArgs {
    /// Photos per sheet, e.g. "1in*8+2in*4" or "2in*8".
    #[arg(long, default_value = "1in*8+2in*4")]
    layout: String,
    /// Paper: 6in (152×102 mm) or 5in (127×89 mm).
    #[arg(long, default_value = "6in")]
    paper: String,
    /// Print resolution: 300 or 254.
    #[arg(long, default_value_t = 300)]
    dpi: u32,
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    photo: PathBuf,
}

pub fn run(args: SheetArgs) -> Result<ExitCode> {
    let plan = sheet::plan_sheet(&args.layout, &args.paper, args.dpi)?;
    // the ID photo is the candidate's: never written over by a sheet of it
    if super::photo::same_file(&args.out, &args.photo) {
        eprintln!(
            "kiosk: {0}: 输出会覆盖证件照，请用 -o 指定另一个文件 / the output would overwrite the \
             ID photo it is laid out from: give -o another file",
            args.out.display()
        );
        return Ok(ExitCode::from(2));
    }
    let photo = read_image(&args.photo).map_err(|m| anyhow!(m))?;
    let rendered = sheet::render_sheet(&plan, &photo);
    let is_jpeg = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
    if is_jpeg {
        let bytes = jpeg::encode(&rendered, 95, args.dpi as u16)?;
        std::fs::write(&args.out, bytes)
    } else {
        rendered.save(&args.out).map_err(std::io::Error::other)
    }
    .with_context(|| format!("writing {}", args.out.display()))?;
    say(format!(
        "{}: {} photos on {} paper, {}×{} px at {} dpi",
        args.out.display(),
        plan.placements.len(),
        args.paper,
        plan.width,
        plan.height,
        args.dpi
    ));
    Ok(ExitCode::SUCCESS)
}
