//! `kiosk photo`: make the spec's ID photo from a capture, write it, print its validation.

use super::{load_engine, read_image, say};
use anyhow::{Context, Result};
use capture_kiosk::catalog::{Catalog, ExamProfile, IdentityCheck};
use capture_kiosk::checks::evaluate;
use capture_kiosk::photo::make_photo;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PhotoArgs {
    /// Photo spec to make (chsi, chsi-upload, gd-exam, bj-degree, degree-legacy, id-card).
    #[arg(long)]
    spec: String,
    /// Apply this exam profile's rules (glasses, background kept or replaced) to the checks.
    #[arg(long)]
    profile: Option<String>,
    /// Where to write the JPEG.
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
    image: PathBuf,
}

/// Without a profile the maker paints the spec's background and applies the spec's own rules.
fn spec_only_profile(spec: &str, glasses_allowed: bool) -> ExamProfile {
    ExamProfile {
        name: format!("spec:{spec}"),
        title: capture_kiosk::catalog::Bilingual {
            zh: spec.into(),
            en: spec.into(),
        },
        spec: spec.into(),
        identification: Vec::new(),
        identity_check: IdentityCheck::ManualReview,
        attempt_limit: 0,
        after_attempts: capture_kiosk::catalog::AfterAttempts::ManualReview,
        replace_background: true,
        glasses_allowed,
        help_phone: String::new(),
        distance_cm: [80.0, 100.0],
        limits: Default::default(),
        consent: None,
        consent_pre_ticked: false,
        clothing_hint: None,
        keypad: Vec::new(),
        withdraw_allowed: true,
    }
}

/// Whether two paths name one existing file (through links, `.` and `..`).
pub(super) fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

pub fn run(args: PhotoArgs, catalog: &Catalog) -> Result<ExitCode> {
    let spec = catalog.spec(&args.spec)?;
    let profile = match &args.profile {
        Some(name) => catalog.profile(name)?.clone(),
        None => spec_only_profile(&spec.name, spec.glasses_allowed),
    };
    // every spec's photo is a JPEG: a name that says otherwise would mislead whoever opens it
    let named_jpeg = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
    if !named_jpeg {
        eprintln!(
            "kiosk: {0}: 证件照是 JPEG 文件，请用 .jpg 结尾的文件名 / the ID photo is a JPEG: give \
             -o a name ending in .jpg",
            args.out.display()
        );
        return Ok(ExitCode::from(2));
    }
    // the capture is the evidence the photo was made from: never written over by its own result
    if same_file(&args.out, &args.image) {
        eprintln!(
            "kiosk: {0}: 输出会覆盖原照片，请用 -o 指定另一个文件 / the output would overwrite the \
             capture it is made from: give -o another file",
            args.out.display()
        );
        return Ok(ExitCode::from(2));
    }
    let img = match read_image(&args.image) {
        Ok(img) => img,
        Err(message) => {
            eprintln!("kiosk: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let engine = load_engine()?;
    let analysis = engine.analyze_still(&img)?;
    let report = evaluate(&img, &analysis, spec, &profile);
    let made = match make_photo(&engine, &img, &analysis, spec, &profile) {
        Ok(m) => m,
        Err(e) => {
            eprintln!(
                "kiosk: {}: 无法制作 {} 照片 / cannot make the {} photo: {e}",
                args.image.display(),
                spec.name,
                spec.name
            );
            return Ok(ExitCode::from(1));
        }
    };
    std::fs::write(&args.out, &made.jpeg)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        say(format!(
            "{}",
            serde_json::json!({
                "file": args.image.display().to_string(),
                "out": args.out.display().to_string(),
                "ok": made.valid && report.ok,
                "photo": made,
                "checks": report.checks,
            })
        ));
    } else {
        say(format!(
            "{} → {} ({}×{}, {:.1} KB, quality {}): {}",
            args.image.display(),
            args.out.display(),
            spec.width,
            spec.height,
            made.bytes as f64 / 1024.0,
            made.quality,
            // the file's measures and the checks of the face in it, each with its ✓/✗ below:
            // a file of the right size is no accepted photo while a check fails
            match (made.valid, report.ok) {
                (true, true) => "符合规格 / meets the spec",
                (true, false) => {
                    "文件符合规格，照片未通过检查 / the file meets the spec, the photo fails a check"
                }
                (false, _) => "不符合规格 / does not meet the spec",
            }
        ));
        for m in &made.measures {
            say(format!(
                "  {} {:<22} {:>9} {}",
                if m.ok { "✓" } else { "✗" },
                m.name,
                m.value,
                serde_json::to_string(&m.limit).unwrap_or_default()
            ));
        }
        for c in report.failed() {
            if let Some(r) = &c.reason {
                say(format!("  ✗ {}: {} / {}", c.id.as_str(), r.zh, r.en));
            }
        }
    }
    Ok(ExitCode::from(if made.valid && report.ok { 0 } else { 1 }))
}
