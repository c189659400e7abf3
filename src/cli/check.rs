//! `kiosk check`: every check on each image, as text or one JSON object per line.

use super::{load_engine, parts_map, read_image};
use anyhow::Result;
use capture_kiosk::catalog::Catalog;
use capture_kiosk::checks::{evaluate, CheckReport};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif"];

#[derive(Args)]
pub struct CheckArgs {
    /// Exam profile whose spec and rules apply.
    #[arg(long, default_value = "chsi-graduation")]
    profile: String,
    /// One JSON object per image and line.
    #[arg(long)]
    json: bool,
    /// Also write what the face parsing saw, as IMAGE.parts.png in this folder: skin beige,
    /// hair brown, hat red, eyeglasses blue, mouth interior white, lips pink, brows dark
    /// brown, eyes green, ears orange, earrings and necklaces yellow, neck tan, cloth grey,
    /// background black.
    #[arg(long, value_name = "DIR")]
    parts: Option<PathBuf>,
    /// Image files or folders of images.
    #[arg(required = true, value_name = "IMAGE|DIR")]
    inputs: Vec<PathBuf>,
}

/// What the inputs name: the files to check, with folders expanded to their images (sorted,
/// not recursive), and a message for each folder that gave none, which counts as unreadable:
/// a script must not read "every photo passed" from a folder of nothing.
struct Expanded {
    files: Vec<PathBuf>,
    had_dir: bool,
    /// Each folder that gave no photo, with what to say of it.
    empty_folders: Vec<(PathBuf, String)>,
}

fn expand(inputs: &[PathBuf]) -> Expanded {
    let mut out = Expanded {
        files: Vec::new(),
        had_dir: false,
        empty_folders: Vec::new(),
    };
    for input in inputs {
        if !input.is_dir() {
            out.files.push(input.clone());
            continue;
        }
        out.had_dir = true;
        let mut found: Vec<PathBuf> = match std::fs::read_dir(input) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                out.empty_folders.push((
                    input.clone(),
                    format!(
                        "{}: 无法读取文件夹 / the folder cannot be read: {e}",
                        input.display()
                    ),
                ));
                continue;
            }
        };
        found.retain(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        });
        if found.is_empty() {
            out.empty_folders.push((
                input.clone(),
                format!(
                    "{}: 文件夹中没有照片（{}；不查子文件夹） / the folder holds no photos ({}; subfolders are not searched)",
                    input.display(),
                    IMAGE_EXTENSIONS.join("、"),
                    IMAGE_EXTENSIONS.join(", ")
                ),
            ));
        }
        found.sort();
        out.files.extend(found);
    }
    out
}

pub fn run(args: CheckArgs, catalog: &Catalog) -> Result<ExitCode> {
    let profile = catalog.profile(&args.profile)?;
    let spec = catalog.spec(&profile.spec)?;
    let engine = load_engine()?;
    if let Some(dir) = &args.parts {
        super::make_face_folder(dir)?;
    }
    let Expanded {
        files,
        had_dir,
        empty_folders,
    } = expand(&args.inputs);
    let bar = if had_dir {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut any_failed, mut any_unreadable) = (false, !empty_folders.is_empty());
    let stdout = std::io::stdout();
    for (folder, message) in &empty_folders {
        if args.json {
            let line = serde_json::json!({"file": folder.display().to_string(), "ok": false, "error": message})
                .to_string();
            let _ = writeln!(stdout.lock(), "{line}");
        } else {
            eprintln!("kiosk: {message}");
        }
    }
    for file in &files {
        bar.set_message(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let started = Instant::now();
        let outcome = read_image(file).and_then(|img| {
            let analysis = engine
                .analyze_still(&img)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            if let Some(dir) = &args.parts {
                let parsing = analysis.subject.as_ref().and_then(|s| s.parsing.as_ref());
                if let Some(parsing) = parsing {
                    parts_map::write(dir, file, parsing).map_err(|e| format!("{e:#}"))?;
                }
            }
            Ok(evaluate(&img, &analysis, spec, profile))
        });
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let line = match &outcome {
            Ok(report) => {
                any_failed |= !report.ok;
                render(file, report, ms, args.json)
            }
            Err(message) => {
                any_unreadable = true;
                if args.json {
                    serde_json::json!({"file": file.display().to_string(), "ok": false, "error": message}).to_string()
                } else {
                    bar.suspend(|| eprintln!("kiosk: {message}"));
                    String::new()
                }
            }
        };
        if !line.is_empty() {
            bar.suspend(|| {
                let mut out = stdout.lock();
                // a closed pipe (e.g. `| head`) is not worth a panic
                let _ = writeln!(out, "{line}");
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(ExitCode::from(if any_unreadable {
        2
    } else if any_failed {
        1
    } else {
        0
    }))
}

fn render(file: &Path, report: &CheckReport, ms: f64, json: bool) -> String {
    if json {
        return serde_json::json!({
            "file": file.display().to_string(),
            "ok": report.ok,
            "faces": report.faces,
            "checks": report.checks,
            "ms": (ms * 10.0).round() / 10.0,
        })
        .to_string();
    }
    let mut s = format!(
        "{}: {}",
        file.display(),
        if report.ok {
            "通过 / passed"
        } else {
            "未通过 / failed"
        }
    );
    for c in report.failed() {
        if let Some(r) = &c.reason {
            let value = c.value.map(|v| format!(" ({v})")).unwrap_or_default();
            s.push_str(&format!(
                "\n  ✗ {}{value}: {} / {}",
                c.id.as_str(),
                r.zh,
                r.en
            ));
        }
    }
    s
}
