//! `kiosk eval LABELS.csv`: every check on a labelled set of photos; per check, the defects it
//! caught, the photos it failed wrongly and the limit that would balance the two. Photos are
//! analysed on two threads (the kiosk PC has two cores).

use super::table::{Align, Table};
use super::two_threads::map_on_two_threads;
use super::{load_engine, read_csv_text, read_image, say};
use anyhow::{bail, Context, Result};
use capture_kiosk::catalog::Catalog;
use capture_kiosk::checks::calibration::{
    calibrate, parse_labels, Calibration, CheckScore, LabelRow, Labelled, SecondScore,
};
use capture_kiosk::checks::{evaluate, CheckId, CheckLimits, CheckReport};
use capture_kiosk::kiosk::texts::check_title;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    /// Exam profile whose spec and limits apply.
    #[arg(long, default_value = "chsi-graduation")]
    profile: String,
    /// The figures and every photo's values as one JSON object.
    #[arg(long)]
    json: bool,
    /// CSV with a header `file,defects[,variant][,note]`: a photo (relative to the CSV's
    /// folder), the checks it must fail separated by spaces (none: a compliant photo), and a
    /// capture defect to derive from it (`gain:1.7` brighter, `gain:0.4` darker, `side:0.35`
    /// light from one side, `blur:3` out of focus by a 3-pixel Gaussian, `motion:12` moved 12
    /// pixels sideways), or `jpeg:60` to check a copy saved again at JPEG quality 60 (give
    /// it the photo's own defects: its figures beside the originals' show which verdicts
    /// hang on the exact pixels).
    #[arg(value_name = "LABELS.csv")]
    labels: PathBuf,
}

pub fn run(args: EvalArgs, catalog: &Catalog) -> Result<ExitCode> {
    let profile = catalog.profile(&args.profile)?;
    let spec = catalog.spec(&profile.spec)?;
    let text = read_csv_text(&args.labels)?;
    let rows = parse_labels(&text).with_context(|| format!("{}", args.labels.display()))?;
    let base = args.labels.parent().unwrap_or(Path::new("."));
    let engine = load_engine()?;

    let results = map_on_two_threads(
        &rows,
        |row| row.name(),
        |row| {
            let path = base.join(&row.file);
            read_image(&path).and_then(|mut img| {
                if let Some(v) = &row.variant {
                    v.apply(&mut img)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                let analysis = engine
                    .analyze_still(&img)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(evaluate(&img, &analysis, spec, profile))
            })
        },
    )?;

    let mut reports = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (row, outcome) in rows.iter().zip(results) {
        match outcome {
            Some(Ok(report)) => reports.push((row, report)),
            Some(Err(message)) => {
                unreadable.push(format!("第 {0} 行 line {0}: {message}", row.line))
            }
            None => unreadable.push(format!("第 {0} 行 line {0}: 未分析 not analysed", row.line)),
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "{0} 张照片（共 {1} 张）无法读取，请修正标注文件或照片 / {0} of {1} photos could not \
             be read; fix the labels file or the photos:\n{2}",
            unreadable.len(),
            rows.len(),
            unreadable.join("\n")
        );
    }
    let names: Vec<String> = reports.iter().map(|(row, _)| row.name()).collect();
    let set: Vec<Labelled> = reports
        .iter()
        .zip(&names)
        .map(|((row, report), name)| Labelled {
            name,
            defects: &row.defects,
            report,
        })
        .collect();
    let calibration = calibrate(&set);
    if args.json {
        let photos: Vec<serde_json::Value> = reports
            .iter()
            .map(|(row, report)| photo_json(row, report))
            .collect();
        say(serde_json::json!({
            "profile": profile.name,
            "calibration": calibration,
            "photos": photos,
        }));
    } else {
        print_table(&calibration, &reports, &profile.name, &profile.limits);
    }
    Ok(ExitCode::SUCCESS)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// The table a person reads: a headline, the columns headed in Chinese then English, one row
/// per check (and per second measure under it), then the photos each check got wrong.
fn print_table(
    calibration: &Calibration,
    reports: &[(&LabelRow, CheckReport)],
    profile: &str,
    limits: &CheckLimits,
) {
    let passed = percent(
        (calibration.compliant > 0)
            .then(|| ratio(calibration.compliant_passed, calibration.compliant)),
    );
    say(format!(
        "{} 张照片，考试规格 {profile}：合格照片 {} 张，其中 {} 张通过全部检查（{passed}）",
        calibration.photos, calibration.compliant, calibration.compliant_passed,
    ));
    say(format!(
        "{} photos, profile {profile}; {} compliant, {} of them passed every check ({passed})",
        calibration.photos, calibration.compliant, calibration.compliant_passed,
    ));
    // photos gathered for other uses are often framed too tight for the spec's crop: how many
    // of the compliant ones the checks of the person passed tells the two apart
    let subject = percent(
        (calibration.compliant > 0)
            .then(|| ratio(calibration.compliant_subject_passed, calibration.compliant)),
    );
    say(format!(
        "取景之外（人脸大小、人脸位置、分辨率不计），合格照片中 {} 张通过全部检查（{subject}）",
        calibration.compliant_subject_passed,
    ));
    say(format!(
        "framing aside (face_size, face_in_frame, resolution), {} compliant photos passed every check ({subject})",
        calibration.compliant_subject_passed,
    ));
    let mut table = Table::new(&[
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Left,
        Align::Left,
    ]);
    table.row([
        "检查",
        "查出缺陷",
        "检出率",
        "误拒合格",
        "合格通过",
        "现行限值",
        "平衡点",
    ]);
    table.row([
        "check",
        "defects caught",
        "recall",
        "others failed",
        "accepted",
        "limit",
        "balanced at",
    ]);
    for score in &calibration.checks {
        table.row(check_row(score, limit_of(reports, score, limits)));
        for second in &score.second {
            table.row(second_row(score, second));
        }
    }
    table.lines().into_iter().for_each(say);
    for s in &calibration.checks {
        for (what, photos) in [
            ("漏检 missed", &s.missed),
            ("误拒 failed wrongly", &s.wrongly_failed),
        ] {
            if !photos.is_empty() {
                let (id, title) = (s.id.as_str(), check_title(s.id).zh);
                say(format!("{id} {title} {what}: {}", photos.join(" ")));
            }
        }
    }
    // one line for all: a photo with no face is unmeasured by every face check
    let mut unmeasured: Vec<&str> = calibration
        .checks
        .iter()
        .flat_map(|s| s.unmeasured.iter().map(String::as_str))
        .collect();
    unmeasured.sort_unstable();
    unmeasured.dedup();
    if !unmeasured.is_empty() {
        say(format!(
            "未检测到人脸，不计入人脸各项检查（人脸数量检查不通过） / no face found, left out of \
             the face checks' figures (face_count fails them): {}",
            unmeasured.join(" ")
        ));
    }
}

/// The profile's limit as the reports state it; head pose's three, one per axis; a limit that
/// differs by photo otherwise (the face size needed) only as such.
fn limit_of(reports: &[(&LabelRow, CheckReport)], s: &CheckScore, limits: &CheckLimits) -> String {
    if s.id == CheckId::HeadPose && s.applied {
        return format!(
            "<= {}/{:+}±{}/{} 转/俯仰/歪 yaw/pitch/roll",
            limits.max_yaw_deg, limits.pitch_level_deg, limits.max_pitch_deg, limits.max_roll_deg
        );
    }
    if s.limit_differs && s.applied {
        return "因照片而异 differs by photo".into();
    }
    let limit = reports
        .iter()
        .find_map(|(_, r)| r.get(s.id).and_then(|c| c.limit));
    match limit {
        None => "未启用 not applied".into(),
        Some(l) => match (l.min, l.max) {
            (Some(a), Some(b)) => format!("{a} ..= {b}"),
            (Some(a), None) => format!(">= {a}"),
            (None, Some(b)) => format!("<= {b}"),
            (None, None) => "不限 any".into(),
        },
    }
}

/// Where a limit would catch as many defects as it fails compliant photos, and what it does.
fn balanced_text(
    threshold: String,
    caught: usize,
    defects: usize,
    failed: usize,
    others: usize,
) -> String {
    format!("{threshold}（查出 {caught}/{defects}，误拒 {failed}/{others} · catches {caught}/{defects}, fails {failed}/{others}）")
}

/// A check's row: its name and title, what it caught and failed, its limit, its balance.
fn check_row(s: &CheckScore, limit: String) -> [String; 7] {
    let balanced = s
        .balanced
        .as_ref()
        .map(|b| {
            let at = match (b.upper, b.of_limits) {
                (Some(u), _) => format!("{} ..= {}", b.threshold, u),
                (None, true) => format!("{} × 限值 the limits", b.threshold),
                (None, false) => format!("{}", b.threshold),
            };
            balanced_text(at, b.caught, s.defects, b.false_alarms, s.others)
        })
        .unwrap_or_else(|| "–".into());
    [
        format!("{} {}", s.id.as_str(), check_title(s.id).zh),
        format!("{}/{}", s.caught, s.defects),
        percent(s.recall()),
        format!("{}/{}", s.false_alarms, s.others),
        percent(s.accepted()),
        limit,
        balanced,
    ]
}

/// A second measure's limit under its check: where it sits, and where it would balance.
fn second_row(s: &CheckScore, second: &SecondScore) -> [String; 7] {
    let balanced = second
        .balanced
        .as_ref()
        .map(|b| {
            balanced_text(
                b.threshold.to_string(),
                b.caught,
                s.defects,
                b.false_alarms,
                s.others,
            )
        })
        .unwrap_or_else(|| "–".into());
    let sign = if second.measure.high_is_bad() {
        "<="
    } else {
        ">="
    };
    let label = second.measure.label();
    [
        format!("  + {} {}", label.zh, label.en),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{sign} {}", second.limit),
        balanced,
    ]
}

fn photo_json(row: &LabelRow, report: &CheckReport) -> serde_json::Value {
    let checks: serde_json::Map<String, serde_json::Value> = report
        .checks
        .iter()
        .map(|c| {
            (
                c.id.as_str().to_string(),
                serde_json::json!({"value": c.value, "ok": c.ok, "detail": c.detail}),
            )
        })
        .collect();
    serde_json::json!({
        "file": row.name(),
        "defects": row.defects.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "ok": report.ok,
        "checks": checks,
    })
}
