//! `kiosk eval-verify PAIRS.csv`: 1:1 verification on labelled same/different pairs, on the
//! full photos and with the first photo of each pair shrunk to the ID card chip's 102×126
//! (as the kiosk gets the card's photo): the equal error rate and its threshold, and the
//! false accepts and rejects at the threshold the kiosk uses. An exam office checks its
//! threshold with it. Photos are described on two threads (the kiosk PC has two cores).

use super::table::{Align, Table};
use super::two_threads::map_on_two_threads;
use super::{load_engine, read_csv_text, read_image, say};
use anyhow::{bail, Context, Result};
use capture_kiosk::engine::{
    descriptor_distance, Alignment, DescribeOptions, FaceDescriptor, FaceEngine,
    SAME_PERSON_DISTANCE,
};
use capture_kiosk::verification::{
    compressed_chip, equal_error, id_card_chip, parse_pairs, rates_at, EqualError, LabelledPair,
    PairLabel, Rates,
};
use clap::{Args, ValueEnum};
use image::RgbImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalVerifyArgs {
    /// The figures and every pair's distances as one JSON object.
    #[arg(long)]
    json: bool,
    /// The decision threshold to report false accepts and rejects at (above 0, at most 1.5).
    #[arg(long, default_value_t = SAME_PERSON_DISTANCE, value_parser = super::verify::parse_threshold)]
    threshold: f32,
    /// Landmarks that align the face (to compare with earlier versions).
    #[arg(long, value_enum, default_value_t = AlignmentArg::Detector5)]
    alignment: AlignmentArg,
    /// Landmark and cut the chip on the photo as it is, without resampling the face to the
    /// chip's scale first (the earlier way).
    #[arg(long)]
    no_resample: bool,
    /// One descriptor per face, without averaging the mirrored chip's (the earlier way).
    #[arg(long)]
    no_mirror: bool,
    /// Only the chip at its own scale, without averaging the zoomed chips' (the earlier way,
    /// whose decision distance was 0.6: give `--threshold 0.6` to compare at it).
    #[arg(long)]
    no_zoom: bool,
    /// Also write the 150×150 chips the descriptor saw (at their own scale, unmirrored) into
    /// this folder, to look at the alignment (they are faces: keep the folder private and
    /// delete it after).
    #[arg(long, value_name = "DIR")]
    save_chips: Option<PathBuf>,
    /// CSV with a header `a,b,label[,note]`: two photos (relative to the CSV's folder) and
    /// `same` or `different`. In the chip condition `a` is shrunk to the chip's size.
    #[arg(value_name = "PAIRS.csv")]
    pairs: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum AlignmentArg {
    Detector5,
    Mesh5,
    Mesh68,
}

impl From<AlignmentArg> for Alignment {
    fn from(a: AlignmentArg) -> Self {
        match a {
            AlignmentArg::Detector5 => Alignment::Detector5,
            AlignmentArg::Mesh5 => Alignment::Mesh5,
            AlignmentArg::Mesh68 => Alignment::Mesh68,
        }
    }
}

/// One photo's descriptors: as it is, and as the card's chip would hold it (`None`: no face).
#[derive(Clone, Default)]
struct Described {
    full: Option<FaceDescriptor>,
    chip: Option<FaceDescriptor>,
    /// The chip squeezed into the card's 1024 bytes.
    card: Option<FaceDescriptor>,
}

/// The distances of every pair in one condition, split by label.
struct Condition {
    same: Vec<Option<f32>>,
    different: Vec<Option<f32>>,
    eer: EqualError,
    at_threshold: Rates,
}

impl Condition {
    fn new(pairs: &[LabelledPair], distances: &[Option<f32>], threshold: f32) -> Self {
        let pick = |label| {
            pairs
                .iter()
                .zip(distances)
                .filter(|(p, _)| p.label == label)
                .map(|(_, d)| *d)
                .collect::<Vec<_>>()
        };
        let (same, different) = (pick(PairLabel::Same), pick(PairLabel::Different));
        let eer = equal_error(&same, &different);
        let at_threshold = rates_at(&same, &different, threshold);
        Self {
            same,
            different,
            eer,
            at_threshold,
        }
    }

    fn json(&self) -> serde_json::Value {
        let failed = |v: &[Option<f32>]| v.iter().filter(|d| d.is_none()).count();
        serde_json::json!({
            "equal_error_rate": round(self.eer.rate),
            "threshold_at_equal_error": round(self.eer.at.threshold as f64),
            "false_accept_at_equal_error": round(self.eer.at.false_accept),
            "false_reject_at_equal_error": round(self.eer.at.false_reject),
            "threshold": round(self.at_threshold.threshold as f64),
            "false_accept": round(self.at_threshold.false_accept),
            "false_reject": round(self.at_threshold.false_reject),
            "same_without_face": failed(&self.same),
            "different_without_face": failed(&self.different),
        })
    }
}

fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

pub fn run(args: EvalVerifyArgs) -> Result<ExitCode> {
    let text = read_csv_text(&args.pairs)?;
    let pairs = parse_pairs(&text).with_context(|| format!("{}", args.pairs.display()))?;
    let base = args.pairs.parent().unwrap_or(Path::new("."));
    let options = DescribeOptions {
        alignment: args.alignment.into(),
        resample: !args.no_resample,
        mirror: !args.no_mirror,
        zoom: !args.no_zoom,
    };
    let engine = load_engine()?;

    // every photo once, whichever pairs it is in; the chip only for photos on the `a` side
    let mut wanted: BTreeMap<&str, bool> = BTreeMap::new();
    for p in &pairs {
        *wanted.entry(&p.a).or_default() = true;
        wanted.entry(&p.b).or_default();
    }
    let photos: Vec<(&str, bool)> = wanted.into_iter().collect();
    if let Some(dir) = &args.save_chips {
        super::make_face_folder(dir)?;
    }
    let described = describe_all(&engine, base, &photos, &options, args.save_chips.as_deref())?;
    let of = |name: &str| described.get(name).cloned().unwrap_or_default();
    let distance = |a: Option<FaceDescriptor>, b: Option<FaceDescriptor>| match (a, b) {
        (Some(a), Some(b)) => Some(descriptor_distance(&a, &b)),
        _ => None,
    };
    let full: Vec<Option<f32>> = pairs
        .iter()
        .map(|p| distance(of(&p.a).full, of(&p.b).full))
        .collect();
    let chip: Vec<Option<f32>> = pairs
        .iter()
        .map(|p| distance(of(&p.a).chip, of(&p.b).full))
        .collect();
    let card: Vec<Option<f32>> = pairs
        .iter()
        .map(|p| distance(of(&p.a).card, of(&p.b).full))
        .collect();
    let conditions = [
        (
            "完整照片 full photos",
            Condition::new(&pairs, &full, args.threshold),
        ),
        (
            "芯片照对照片 chip 102×126 vs photo",
            Condition::new(&pairs, &chip, args.threshold),
        ),
        (
            "1 KB 芯片照对照片 chip in 1 KB vs photo",
            Condition::new(&pairs, &card, args.threshold),
        ),
    ];
    let same = pairs.iter().filter(|p| p.label == PairLabel::Same).count();
    if args.json {
        let rows: Vec<serde_json::Value> = pairs
            .iter()
            .zip(full.iter().zip(&chip).zip(&card))
            .map(|(p, ((f, c), k))| {
                serde_json::json!({
                    "a": p.a, "b": p.b,
                    "same": p.label == PairLabel::Same,
                    "full": f.map(|d| round(d as f64)),
                    "chip": c.map(|d| round(d as f64)),
                    "chip_1kb": k.map(|d| round(d as f64)),
                })
            })
            .collect();
        say(serde_json::json!({
            "same_pairs": same,
            "different_pairs": pairs.len() - same,
            "photos": photos.len(),
            "full": conditions[0].1.json(),
            "chip": conditions[1].1.json(),
            "chip_1kb": conditions[2].1.json(),
            "pairs": rows,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    let different = pairs.len() - same;
    say(format!(
        "{} 对照片（同一人 {same} 对，不同人 {different} 对），共 {} 张照片",
        pairs.len(),
        photos.len()
    ));
    say(format!(
        "{} pairs ({same} same person, {different} different) over {} photos",
        pairs.len(),
        photos.len()
    ));
    // a photo without a face cannot be compared: its pairs are counted as not matched, which
    // a reader of the figures must know rather than take for the descriptor's error
    let faceless: Vec<&str> = photos
        .iter()
        .map(|&(name, _)| name)
        .filter(|name| of(name).full.is_none())
        .collect();
    if !faceless.is_empty() {
        say(format!(
            "{0} 张照片中没有找到人脸，含它们的照片对按不匹配计 / no face found in {0} photos: \
             their pairs count as not matched: {1}",
            faceless.len(),
            faceless.join(", ")
        ));
    }
    let at = format!("{:.3}", args.threshold);
    let mut table = Table::new(&[
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
    ]);
    table.row([
        "条件".to_owned(),
        "等错误率".to_owned(),
        "其阈值".to_owned(),
        format!("阈值 {at} 时：误认"),
        "误拒".to_owned(),
    ]);
    table.row([
        "condition".to_owned(),
        "EER".to_owned(),
        "EER threshold".to_owned(),
        format!("at threshold {at}: false accept"),
        "false reject".to_owned(),
    ]);
    for (name, c) in &conditions {
        table.row([
            name.to_string(),
            format!("{:.2}%", c.eer.rate * 100.0),
            format!("{:.3}", c.eer.at.threshold),
            format!("{:.2}%", c.at_threshold.false_accept * 100.0),
            format!("{:.2}%", c.at_threshold.false_reject * 100.0),
        ]);
    }
    table.lines().into_iter().for_each(say);
    for ((name, _), distances) in conditions.iter().zip([&full, &chip, &card]) {
        hardest(name, &pairs, distances, args.threshold);
    }
    Ok(ExitCode::SUCCESS)
}

/// The pairs decided wrongly at `threshold`, worst first (at most five of each kind).
fn hardest(condition: &str, pairs: &[LabelledPair], distances: &[Option<f32>], threshold: f32) {
    let mut wrong: Vec<(f32, &LabelledPair)> = pairs
        .iter()
        .zip(distances)
        .filter_map(|(p, d)| {
            let d = d.unwrap_or(f32::INFINITY);
            let accepted = d < threshold;
            match (p.label, accepted) {
                (PairLabel::Same, false) => Some((d - threshold, p)),
                (PairLabel::Different, true) => Some((threshold - d, p)),
                _ => None,
            }
        })
        .collect();
    wrong.sort_by(|a, b| b.0.total_cmp(&a.0));
    for label in [PairLabel::Same, PairLabel::Different] {
        let list: Vec<String> = wrong
            .iter()
            .filter(|(_, p)| p.label == label)
            .take(5)
            .map(|(m, p)| format!("{} ~ {} ({:+.3})", p.a, p.b, m))
            .collect();
        if !list.is_empty() {
            say(format!(
                "{condition}: {} wrongly: {}",
                match label {
                    PairLabel::Same => "同一人被拒 same person refused",
                    PairLabel::Different => "不同人被认作同一人 different people accepted",
                },
                list.join(", ")
            ));
        }
    }
}

/// Describes every photo (and its chip where asked) on two threads.
fn describe_all(
    engine: &FaceEngine,
    base: &Path,
    photos: &[(&str, bool)],
    options: &DescribeOptions,
    save_chips: Option<&Path>,
) -> Result<BTreeMap<String, Described>> {
    let results = map_on_two_threads(
        photos,
        |&(name, _)| name.to_string(),
        |&(name, with_chip)| {
            let path = base.join(name);
            read_image(&path)
                .and_then(|img| {
                    let save = save_chips.map(|d| d.join(name.replace(['/', '\\'], "_")));
                    describe_one(engine, &img, with_chip, options, save.as_deref())
                })
                .map_err(|e| format!("{}: {e}", path.display()))
        },
    )?;
    let mut out = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (&(name, _), outcome) in photos.iter().zip(results) {
        match outcome {
            Some(Ok(d)) => {
                out.insert(name.to_string(), d);
            }
            Some(Err(message)) => unreadable.push(message),
            None => unreadable.push(format!("{name}: 未分析 not analysed")),
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "{0} 张照片（共 {1} 张）无法读取，请修正配对文件或照片 / {0} of {1} photos could not \
             be read; fix the pairs file or the photos:\n{2}",
            unreadable.len(),
            photos.len(),
            unreadable.join("\n")
        );
    }
    Ok(out)
}

fn describe_one(
    engine: &FaceEngine,
    img: &RgbImage,
    with_chip: bool,
    options: &DescribeOptions,
    save: Option<&Path>,
) -> Result<Described, String> {
    let full = engine
        .describe_with(img, options)
        .map_err(|e| e.to_string())?;
    let card = if with_chip {
        let faces = engine.detect(img).map_err(|e| e.to_string())?;
        faces.first().map(|face| id_card_chip(img, face))
    } else {
        None
    };
    let describe = |img: Option<&RgbImage>| match img {
        Some(img) => engine
            .describe_with(img, options)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    };
    let chip = describe(card.as_ref())?;
    let squeezed = card
        .as_ref()
        .and_then(|c| compressed_chip(c, capture_kiosk::reader::card::PHOTO_LEN));
    let in_card = describe(squeezed.as_ref())?;
    if let Some(stem) = save {
        let mut shots = vec![("full", Some(img))];
        shots.push(("card", card.as_ref()));
        for (kind, source) in shots {
            let Some(source) = source else { continue };
            if let Some(chip) = engine
                .descriptor_chip(source, options)
                .map_err(|e| e.to_string())?
            {
                let path = stem.with_extension(format!("{kind}.png"));
                super::write_face_png(&path, &chip).map_err(|e| format!("{e:#}"))?;
            }
        }
        for (kind, img) in [("card102", &card), ("card1kb", &squeezed)] {
            if let Some(img) = img {
                let path = stem.with_extension(format!("{kind}.png"));
                super::write_face_png(&path, img).map_err(|e| format!("{e:#}"))?;
            }
        }
    }
    Ok(Described {
        full,
        chip,
        card: in_card,
    })
}
