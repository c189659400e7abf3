//! Measuring 1:1 verification on labelled pairs: the pairs file, the ID card chip's photo made
//! from a portrait, and the error rates (equal error rate, false accepts and rejects at a
//! threshold). Pure: the command line reads the files and runs the engine.

use crate::engine::FaceDetection;
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use thiserror::Error;

/// The photo in the ID card's chip: 102×126 pixels.
pub const CHIP_WIDTH: u32 = 102;
pub const CHIP_HEIGHT: u32 = 126;

/// Second-generation ID card photos (GA 461) frame the head at about 58 % of the width; the
/// eye centres are then about a quarter of the width apart.
const CHIP_EYES_SHARE_OF_WIDTH: f32 = 0.26;
/// and sit a little above the middle of the height.
const CHIP_EYE_LINE_FROM_TOP: f32 = 0.45;

/// Same person or not, as labelled by eye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairLabel {
    Same,
    Different,
}

/// One labelled pair; paths are as written in the file (relative to its folder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledPair {
    pub a: String,
    pub b: String,
    pub label: PairLabel,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PairsError {
    #[error(
        "第 {line} 行 line {line}: 应为 / expected `a,b,same|different[,note]`, found {found} \
         field(s)"
    )]
    Fields { line: usize, found: usize },
    #[error(
        "第 {line} 行 line {line}: 标注须为 same 或 different / the label must be `same` or \
         `different`, not `{label}`"
    )]
    Label { line: usize, label: String },
    #[error("表头须以 a,b,label 开头 / the header must start with `a,b,label`")]
    Header,
    #[error(
        "第 {line} 行 line {line}: 这对照片在第 {first} 行标为另一种 / this pair is labelled the \
         other way on line {first}"
    )]
    Contradicted { line: usize, first: usize },
    #[error("文件中没有照片对 / no pairs in the file")]
    Empty,
    #[error(
        "同一人与不同人的照片对都需要，才能算错误率 / no `same` pair and no `different` pair: \
         both are needed for error rates"
    )]
    OneSided,
}

/// Reads a pairs CSV: `#` comments, a header `a,b,label[,note]`, then one pair per line
/// (fields may be quoted; anything after the note is ignored).
pub fn parse_pairs(text: &str) -> Result<Vec<LabelledPair>, PairsError> {
    let mut reader = crate::spreadsheet::commented_csv_reader(text);
    let headers = reader.headers().map_err(|_| PairsError::Header)?;
    if headers.iter().take(3).ne(["a", "b", "label"]) {
        return Err(PairsError::Header);
    }
    let mut pairs = Vec::new();
    let mut labelled = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| PairsError::Fields {
            line: e.position().map_or(0, |p| p.line() as usize),
            found: 0,
        })?;
        if crate::spreadsheet::is_comment(&record) {
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let (Some(a), Some(b), Some(label)) = (record.get(0), record.get(1), record.get(2)) else {
            return Err(PairsError::Fields {
                line,
                found: record.len(),
            });
        };
        if a.is_empty() || b.is_empty() {
            return Err(PairsError::Fields {
                line,
                found: record.len(),
            });
        }
        let label = match label {
            "same" => PairLabel::Same,
            "different" => PairLabel::Different,
            other => {
                return Err(PairsError::Label {
                    line,
                    label: other.to_string(),
                })
            }
        };
        // a pair labelled both ways would count as an error whatever the kiosk decided
        let key = if a <= b { (a, b) } else { (b, a) };
        let key = (key.0.to_string(), key.1.to_string());
        match labelled.get(&key) {
            Some(&(first, earlier)) if earlier != label => {
                return Err(PairsError::Contradicted { line, first })
            }
            Some(_) => {}
            None => {
                labelled.insert(key, (line, label));
            }
        }
        pairs.push(LabelledPair {
            a: a.to_string(),
            b: b.to_string(),
            label,
        });
    }
    if pairs.is_empty() {
        return Err(PairsError::Empty);
    }
    let same = pairs.iter().filter(|p| p.label == PairLabel::Same).count();
    if same == 0 || same == pairs.len() {
        return Err(PairsError::OneSided);
    }
    Ok(pairs)
}

/// The portrait as the ID card's chip holds it: cut at the card's framing around `face`
/// (white where the cut reaches past the photo, as the card's backdrop is), then shrunk to
/// 102×126 with a Lanczos filter, as a photo studio's software shrinks it.
pub fn id_card_chip(img: &RgbImage, face: &FaceDetection) -> RgbImage {
    let (l, r) = (face.points[0], face.points[1]);
    let eyes = l.distance(r).max(1.0);
    let mid = l.midpoint(r);
    let cut_w = (eyes / CHIP_EYES_SHARE_OF_WIDTH).round().max(1.0) as u32;
    let cut_h = (cut_w as f32 * CHIP_HEIGHT as f32 / CHIP_WIDTH as f32).round() as u32;
    let x0 = (mid.x - cut_w as f32 * 0.5).round() as i64;
    let y0 = (mid.y - cut_h as f32 * CHIP_EYE_LINE_FROM_TOP).round() as i64;
    let mut cut = RgbImage::from_pixel(cut_w, cut_h, Rgb([255, 255, 255]));
    imageops::replace(&mut cut, img, -x0, -y0);
    imageops::resize(&cut, CHIP_WIDTH, CHIP_HEIGHT, FilterType::Lanczos3)
}

/// The chip photo as stored on the card: at most `max_bytes` of image data (the card holds
/// 1024). The card's codec (WLT, a wavelet codec only the reader vendor's library decodes) is
/// not available, so JPEG at the best quality whose data fits stands in for it: both lose the
/// fine detail first. JPEG's fixed tables and headers (about 600 bytes, which a wavelet
/// codec does not carry) are not counted. `None` if even the lowest quality does not fit.
pub fn compressed_chip(chip: &RgbImage, max_bytes: usize) -> Option<RgbImage> {
    let encode = |img: &RgbImage, quality: u8| -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
        img.write_with_encoder(encoder).ok()?;
        Some(bytes)
    };
    let flat = RgbImage::from_pixel(8, 8, Rgb([128, 128, 128]));
    (1..=19u8).rev().map(|q| q * 5).find_map(|quality| {
        let bytes = encode(chip, quality)?;
        let overhead = encode(&flat, quality)?.len();
        if bytes.len().saturating_sub(overhead) > max_bytes {
            return None;
        }
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .ok()
            .map(|i| i.to_rgb8())
    })
}

/// False accepts and false rejects at one threshold (a pair is "same" below it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub threshold: f32,
    /// Share of different-person pairs accepted.
    pub false_accept: f64,
    /// Share of same-person pairs refused.
    pub false_reject: f64,
}

/// Error rates at `threshold`. A pair that could not be compared (no face: `None`) is refused.
pub fn rates_at(same: &[Option<f32>], different: &[Option<f32>], threshold: f32) -> Rates {
    let accepted = |d: &&Option<f32>| d.is_some_and(|d| d < threshold);
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    Rates {
        threshold,
        false_accept: share(different.iter().filter(accepted).count(), different.len()),
        false_reject: share(
            same.len() - same.iter().filter(accepted).count(),
            same.len(),
        ),
    }
}

/// The equal error rate and its threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EqualError {
    /// The mean of the false accept and false reject rates where they are closest.
    pub rate: f64,
    pub at: Rates,
}

/// Sweeps every threshold that changes a decision (halfway between neighbouring distances)
/// and keeps the one where the larger of the two error rates is smallest; where a range of
/// thresholds ties (separable sets), its middle.
pub fn equal_error(same: &[Option<f32>], different: &[Option<f32>]) -> EqualError {
    let mut values: Vec<f32> = same.iter().chain(different).flatten().copied().collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let mut candidates = Vec::with_capacity(values.len() + 1);
    match (values.first(), values.last()) {
        (Some(&lo), Some(&hi)) => {
            candidates.push(lo - 1e-3);
            candidates.extend(values.windows(2).map(|w| (w[0] + w[1]) * 0.5));
            candidates.push(hi + 1e-3);
        }
        _ => candidates.push(0.0),
    }
    let score = |r: &Rates| {
        (
            r.false_accept.max(r.false_reject),
            (r.false_accept - r.false_reject).abs(),
        )
    };
    let rates: Vec<Rates> = candidates
        .iter()
        .map(|&t| rates_at(same, different, t))
        .collect();
    let best = rates
        .iter()
        .map(score)
        .min_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
        .unwrap_or((1.0, 0.0));
    let tied: Vec<&Rates> = rates.iter().filter(|r| score(r) == best).collect();
    let at = match (tied.first(), tied.last()) {
        (Some(first), Some(last)) => {
            rates_at(same, different, (first.threshold + last.threshold) * 0.5)
        }
        _ => rates_at(same, different, 0.0),
    };
    EqualError {
        rate: (at.false_accept + at.false_reject) * 0.5,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &[f32]) -> Vec<Option<f32>> {
        v.iter().copied().map(Some).collect()
    }

    #[test]
    fn separable_sets_have_no_error_and_a_threshold_in_the_gap() {
        let e = equal_error(&some(&[0.2, 0.3, 0.4]), &some(&[0.7, 0.8]));
        assert_eq!(e.rate, 0.0);
        assert!(e.at.threshold > 0.4 && e.at.threshold < 0.7, "{e:?}");
    }

    #[test]
    fn one_overlap_in_each_set_is_counted_on_both_sides() {
        // 10 same, 10 different; one same pair at 0.65 and one different pair at 0.55
        let mut same = vec![0.3; 9];
        same.push(0.65);
        let mut different = vec![0.8; 9];
        different.push(0.55);
        let e = equal_error(&some(&same), &some(&different));
        // between 0.3 and 0.55: 1/10 refused, none accepted; between 0.55 and 0.65: 1/10 of
        // each. The larger rate is 0.1 either way; the balanced range wins.
        assert!((e.rate - 0.1).abs() < 1e-9, "{e:?}");
        assert!(e.at.threshold > 0.55 && e.at.threshold < 0.65, "{e:?}");
        assert!((e.at.false_accept - 0.1).abs() < 1e-9);
        assert!((e.at.false_reject - 0.1).abs() < 1e-9);
    }

    #[test]
    fn a_pair_without_a_face_is_a_refusal() {
        let same = vec![Some(0.3), None];
        let different = some(&[0.8, 0.9]);
        let r = rates_at(&same, &different, 0.6);
        assert_eq!(r.false_reject, 0.5);
        assert_eq!(r.false_accept, 0.0);
        let e = equal_error(&same, &different);
        assert_eq!(
            e.at.false_reject, 0.5,
            "no threshold accepts a missing face"
        );
    }

    #[test]
    fn rates_count_below_the_threshold_as_accepted() {
        let r = rates_at(&some(&[0.5, 0.6, 0.7]), &some(&[0.55, 0.9]), 0.6);
        assert!(
            (r.false_reject - 2.0 / 3.0).abs() < 1e-9,
            "0.6 and 0.7 refused"
        );
        assert!((r.false_accept - 0.5).abs() < 1e-9, "0.55 accepted");
    }

    #[test]
    fn pairs_file_parses_labels_notes_and_comments() {
        let text =
            "# c\na,b,label,note\nphotos/x.png,photos/y.png,same,\"far apart, 400 frames\"\n\
                    photos/x.png,photos/z.png,different\n";
        let p = parse_pairs(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].label, PairLabel::Same);
        assert_eq!(p[1].b, "photos/z.png");
        assert_eq!(
            parse_pairs("a,b,label\nx,y,maybe\nx,z,same\n"),
            Err(PairsError::Label {
                line: 2,
                label: "maybe".into()
            })
        );
        assert_eq!(
            parse_pairs("a,b,label\nx,y,same\n"),
            Err(PairsError::OneSided)
        );
        assert_eq!(parse_pairs("x,y,same\n"), Err(PairsError::Header));
        // the same two photos, either way round, labelled both ways
        assert_eq!(
            parse_pairs("a,b,label\nx,y,same\nx,z,different\ny,x,different\n"),
            Err(PairsError::Contradicted { line: 4, first: 2 })
        );
    }
}
