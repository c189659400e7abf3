//! The labels file `kiosk eval` reads: a photo, the checks it must fail, and an optional
//! capture defect (light, exposure, blur) or a re-saved copy made from it. Parsed with line
//! numbers, so a mistake names its line.

use super::CheckId;
use std::collections::BTreeSet;

/// One row of a labels file: a photo (relative to the file's folder) and the checks it must
/// fail. No defects: a compliant photo that must pass every check.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRow {
    pub file: String,
    pub defects: BTreeSet<CheckId>,
    /// A capture defect made from the photo before checking it (derived defects are fair for
    /// light, exposure and blur; a subject's defects need real photos), or a re-saved copy.
    pub variant: Option<Variant>,
    pub line: usize,
}

impl LabelRow {
    /// How the photo is named in reports: the file, and the variant if any.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}@{}", self.file, v.spec()),
            None => self.file.clone(),
        }
    }
}

/// A capture defect applied to a photo in memory: a change of light or a blur; or the photo
/// saved again as a JPEG.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Variant {
    /// Every channel times this factor, clipped: over- (>1) or under-exposure (<1).
    Gain(f32),
    /// Light falling off across the middle third of the image (where a framed face is) from
    /// full on the right to this factor on the left: half the face in shadow.
    SideLight(f32),
    /// Out of focus: a Gaussian blur of this standard deviation, in the photo's pixels.
    Blur(f32),
    /// The candidate moved: every pixel averaged with its neighbours along a horizontal line
    /// this many of the photo's pixels long.
    Motion(u32),
    /// Saved again as a JPEG of this quality (1–100), as a phone, a website or a batch
    /// export does: the same face with compression's blocks and ringing. Not a defect; a
    /// limit whose verdicts change under it sits on the exact pixels of the photos it was
    /// set on.
    Jpeg(u8),
}

impl Variant {
    pub fn parse(text: &str) -> Option<Variant> {
        let (kind, value) = text.split_once(':')?;
        // a smear is whole pixels long: a fraction would be rounded away unseen
        if kind == "motion" {
            let length: u32 = value.parse().ok()?;
            return (2..=200)
                .contains(&length)
                .then_some(Variant::Motion(length));
        }
        if kind == "jpeg" {
            let quality: u8 = value.parse().ok()?;
            return (1..=100)
                .contains(&quality)
                .then_some(Variant::Jpeg(quality));
        }
        // normal: not zero, not so small that a blur's kernel cannot be built from it
        let v: f32 = value
            .parse()
            .ok()
            .filter(|v: &f32| v.is_normal() && *v > 0.0)?;
        match kind {
            "gain" if v <= 8.0 => Some(Variant::Gain(v)),
            "side" if v <= 1.0 => Some(Variant::SideLight(v)),
            "blur" if (0.1..=50.0).contains(&v) => Some(Variant::Blur(v)),
            _ => None,
        }
    }

    pub fn spec(&self) -> String {
        match self {
            Variant::Gain(g) => format!("gain:{g}"),
            Variant::SideLight(f) => format!("side:{f}"),
            Variant::Blur(s) => format!("blur:{s}"),
            Variant::Motion(l) => format!("motion:{l}"),
            Variant::Jpeg(q) => format!("jpeg:{q}"),
        }
    }

    /// Makes the variant from the photo in place. Only a re-save can fail, and only by a bug
    /// in the codec: the error then says so rather than the variant's figures being quietly
    /// the original's.
    pub fn apply(&self, img: &mut image::RgbImage) -> Result<(), String> {
        match *self {
            Variant::Gain(g) => scale_light(img, |_| g),
            Variant::SideLight(f) => {
                let w = img.width().max(2) as f32;
                scale_light(img, |x| {
                    let t = ((x as f32 / (w - 1.0) - 1.0 / 3.0) * 3.0).clamp(0.0, 1.0);
                    f + (1.0 - f) * t
                })
            }
            Variant::Blur(sigma) => *img = image::imageops::blur(img, sigma),
            Variant::Motion(length) => smear_rows(img, length as usize),
            Variant::Jpeg(quality) => return recompress(img, quality),
        }
        Ok(())
    }
}

/// The image encoded as a baseline JPEG of `quality` and decoded again, in memory.
fn recompress(img: &mut image::RgbImage, quality: u8) -> Result<(), String> {
    let failed = |e: image::ImageError| {
        format!("jpeg:{quality} 无法重新保存 / could not be saved again: {e}")
    };
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    img.write_with_encoder(encoder).map_err(failed)?;
    *img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(failed)?
        .to_rgb8();
    Ok(())
}

/// Every channel of every pixel times the gain for its column, clipped.
fn scale_light(img: &mut image::RgbImage, gain_at: impl Fn(u32) -> f32) {
    for (x, _, p) in img.enumerate_pixels_mut() {
        let gain = gain_at(x);
        for c in &mut p.0 {
            *c = (*c as f32 * gain).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Each pixel becomes the mean of the `length` pixels of its row from `length / 2` before it
/// (centred on it for an odd length, half a pixel behind for an even one), the row's end
/// pixels repeated past the edges: a straight horizontal movement during the exposure.
fn smear_rows(img: &mut image::RgbImage, length: usize) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if length < 2 || w == 0 {
        return;
    }
    let back = length / 2;
    let mut row = vec![[0u32; 3]; w];
    for y in 0..h as u32 {
        for (x, px) in row.iter_mut().enumerate() {
            *px = img.get_pixel(x as u32, y).0.map(u32::from);
        }
        // a running sum over the window, clamping the index at both edges
        let at = |i: isize| row[i.clamp(0, w as isize - 1) as usize];
        let mut sum = [0u32; 3];
        for i in 0..length as isize {
            let p = at(i - back as isize);
            (0..3).for_each(|c| sum[c] += p[c]);
        }
        for x in 0..w {
            let mean = sum.map(|s| ((s as f32) / length as f32).round() as u8);
            img.put_pixel(x as u32, y, image::Rgb(mean));
            let (out, inc) = (
                at(x as isize - back as isize),
                at(x as isize - back as isize + length as isize),
            );
            (0..3).for_each(|c| sum[c] = sum[c] + inc[c] - out[c]);
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelError {
    #[error(
        "标注文件需要含 file 和 defects 列的表头（可加 variant 和 note 列） / the labels file needs a \
         header with the columns file and defects (and may have variant and note)"
    )]
    NoHeader,
    #[error("第 {line} 行 line {line}: {problem}")]
    BadRow { line: usize, problem: String },
    #[error("文件中没有照片 / no photos listed")]
    Empty,
}

/// Parses a labels CSV: a header naming `file` and `defects`; defects are check names
/// separated by spaces, `;` or `|` (`glasses`, `mouth_closed`, …); an optional `variant`
/// column derives a capture defect (`gain:1.7`, `side:0.35`, `blur:3`, `motion:12`) or a
/// re-saved copy (`jpeg:60`); other
/// columns are notes.
pub fn parse_labels(text: &str) -> Result<Vec<LabelRow>, LabelError> {
    let mut reader = crate::spreadsheet::commented_csv_reader(text);
    let headers = reader.headers().map_err(|_| LabelError::NoHeader)?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(file_col), Some(defects_col)) = (col("file"), col("defects")) else {
        return Err(LabelError::NoHeader);
    };
    let variant_col = col("variant");
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| LabelError::BadRow {
            line: e.position().map_or(0, |p| p.line() as usize),
            problem: e.to_string(),
        })?;
        if crate::spreadsheet::is_comment(&record) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() <= defects_col.max(file_col) {
            return Err(LabelError::BadRow {
                line,
                problem: format!(
                    "{0} 个字段，表头有 {1} 个；合格照片也要留空的 defects 字段（\"photo.jpg,\"） / \
                     {0} fields where the header has {1}; a compliant photo still needs its \
                     empty defects field (\"photo.jpg,\")",
                    record.len(),
                    headers.len()
                ),
            });
        }
        // a field beyond the header's is text nobody reads: a defect written after a comma
        // (file,defects with "a.jpg,glasses,eyes_open") would be dropped without a word
        if record.len() > headers.len() {
            return Err(LabelError::BadRow {
                line,
                problem: format!(
                    "{0} 个字段，表头只有 {1} 个：多个缺陷用空格、; 或 | 分隔，含逗号的备注加引号 / \
                     {0} fields where the header has {1}: separate defects with spaces, ; or |, \
                     and quote a note that holds a comma",
                    record.len(),
                    headers.len()
                ),
            });
        }
        let file = record.get(file_col).unwrap_or("").to_string();
        if file.is_empty() {
            return Err(LabelError::BadRow {
                line,
                problem: "没有文件名 / no file named".into(),
            });
        }
        let mut defects = BTreeSet::new();
        let names: Vec<&str> = record
            .get(defects_col)
            .unwrap_or("")
            .split([' ', ';', '|'])
            .filter(|n| !n.is_empty())
            .collect();
        // "none" says in words what an empty field says: a compliant photo
        let said_none = names.iter().any(|n| n.eq_ignore_ascii_case("none"));
        if said_none && names.len() > 1 {
            return Err(LabelError::BadRow {
                line,
                problem: "none 表示合格照片，不能与检查项同列 / none marks a compliant photo; it \
                          cannot go with checks"
                    .into(),
            });
        }
        for name in names.into_iter().filter(|_| !said_none) {
            let id = CheckId::parse(name).ok_or_else(|| LabelError::BadRow {
                line,
                problem: format!(
                    "{name:?} 不是检查项 / is not a check; use {}",
                    CheckId::ALL.map(|c| c.as_str()).join(", ")
                ),
            })?;
            defects.insert(id);
        }
        let variant = match variant_col.and_then(|c| record.get(c)).unwrap_or("") {
            "" => None,
            text => Some(Variant::parse(text).ok_or_else(|| LabelError::BadRow {
                line,
                problem: if CheckId::parse(text).is_some() {
                    format!(
                        "{text:?} 是检查项，却写在 variant 列：多个缺陷用空格、; 或 | 分隔，不要用逗号 / \
                         is a check, in the variant column: separate defects with spaces, ; or \
                         |, not commas"
                    )
                } else {
                    format!(
                        "{text:?} 不是可用的派生缺陷 / is not a variant; use gain:F (0 < F <= 8), \
                         side:F (0 < F <= 1), blur:S (0.1 <= S <= 50), motion:L (whole \
                         pixels, 2 to 200) or jpeg:Q (quality 1 to 100)"
                    )
                },
            })?),
        };
        // the same photo twice would be counted twice, and labelled two ways it would be
        // both a defect and a compliant photo: the figures would lie either way
        let spec = variant.map(|v| v.spec()).unwrap_or_default();
        if let Some(first) = seen.insert((file.clone(), spec), line) {
            return Err(LabelError::BadRow {
                line,
                problem: format!(
                    "与第 {first} 行是同一张照片（同一派生），每张只列一次 / the same photo (and \
                     variant) as line {first}: list each once"
                ),
            });
        }
        rows.push(LabelRow {
            file,
            defects,
            variant,
            line,
        });
    }
    if rows.is_empty() {
        return Err(LabelError::Empty);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_a_compliant_photo_and_a_photo_listed_twice_is_refused() {
        let rows =
            parse_labels("file,defects,variant\na.jpg,none,\nb.jpg,NONE,gain:1.6\n").unwrap();
        assert!(rows.iter().all(|r| r.defects.is_empty()));
        let err = parse_labels("file,defects\na.jpg,none glasses\n").unwrap_err();
        assert!(err.to_string().contains("cannot go with checks"), "{err}");
        // the same photo again, however labelled, is refused with both lines; another
        // variant of it is another photo
        let text = "file,defects,variant\na.jpg,,\na.jpg,,gain:1.6\nb.jpg,,\na.jpg,mouth_closed,\n";
        let err = parse_labels(text).unwrap_err();
        assert_eq!(
            err,
            LabelError::BadRow {
                line: 5,
                problem: "与第 2 行是同一张照片（同一派生），每张只列一次 / the same photo (and \
                          variant) as line 2: list each once"
                    .into()
            }
        );
    }

    #[test]
    fn labels_parse_with_line_numbers_and_refuse_unknown_checks() {
        let rows = parse_labels(
            "file,defects,note\n# a comment\na.jpg,,studio\nb.jpg,glasses;mouth_closed,teeth\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].defects.is_empty());
        assert_eq!(
            rows[1].defects,
            [CheckId::Glasses, CheckId::MouthClosed].into()
        );
        assert_eq!(
            parse_labels("photo,label\na.jpg,\n"),
            Err(LabelError::NoHeader)
        );
        let Err(LabelError::BadRow { line, problem }) =
            parse_labels("file,defects\na.jpg,\nb.jpg,hat\n")
        else {
            panic!("an unknown check is refused");
        };
        assert_eq!(line, 3);
        // Chinese first, then English: an exam office's staff read either
        assert!(problem.starts_with("\"hat\" 不是检查项"), "{problem}");
        assert!(problem.contains("is not a check"), "{problem}");
        assert_eq!(parse_labels("file,defects\n"), Err(LabelError::Empty));
        let rows = parse_labels("file,defects,variant\na.jpg,exposure,gain:1.7\n").unwrap();
        assert_eq!(rows[0].variant, Some(Variant::Gain(1.7)));
        assert_eq!(rows[0].name(), "a.jpg@gain:1.7");
        assert!(parse_labels("file,defects,variant\na.jpg,exposure,gain:-1\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,blur:0\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,motion:1\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,motion:2.4\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,blur:1e-40\n").is_err());
        assert!(parse_labels("file,defects,variant\na.jpg,,focus:3\n").is_err());
        let rows = parse_labels("file,defects,variant\na.jpg,sharpness,motion:12\n").unwrap();
        assert_eq!(rows[0].name(), "a.jpg@motion:12");
        let Err(LabelError::BadRow { problem, .. }) =
            parse_labels("file,defects,variant\na.jpg,glasses,mouth_closed\n")
        else {
            panic!("a defect in the variant column is refused");
        };
        assert!(problem.contains("not commas"), "{problem}");
        assert!(parse_labels("file,defects\na.jpg\n").is_err());
        // a second defect after a comma would be read as nothing at all
        let Err(LabelError::BadRow { problem, .. }) =
            parse_labels("file,defects\na.jpg,glasses,eyes_open\n")
        else {
            panic!("a field beyond the header is refused");
        };
        assert!(
            problem.contains("3 fields where the header has 2"),
            "{problem}"
        );
        let rows = parse_labels("file,defects,note\na.jpg,,\"studio, north light\"\n").unwrap();
        assert!(rows[0].defects.is_empty(), "a quoted note may hold a comma");
    }

    #[test]
    fn variants_change_the_light_as_they_say() {
        let mut img = image::RgbImage::from_pixel(3, 1, image::Rgb([100, 200, 10]));
        Variant::Gain(1.5).apply(&mut img).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [150, 255, 15]);
        let mut img = image::RgbImage::from_pixel(7, 1, image::Rgb([100, 100, 100]));
        Variant::SideLight(0.5).apply(&mut img).unwrap();
        let row: Vec<u8> = (0..7).map(|x| img.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [50, 50, 50, 75, 100, 100, 100]);
    }

    #[test]
    fn a_jpeg_variant_saves_the_photo_again_at_its_quality() {
        assert_eq!(Variant::parse("jpeg:60"), Some(Variant::Jpeg(60)));
        assert_eq!(Variant::Jpeg(60).spec(), "jpeg:60");
        for bad in ["jpeg:0", "jpeg:101", "jpeg:60.5", "jpeg:"] {
            assert_eq!(Variant::parse(bad), None, "{bad}");
        }
        // fine stripes: blocks and ringing at a low quality, near the original at a high one
        let stripes = || {
            image::RgbImage::from_fn(32, 16, |x, y| {
                image::Rgb(if (x / 2 + y) % 2 == 0 {
                    [30, 60, 90]
                } else {
                    [220, 200, 180]
                })
            })
        };
        let error = |quality: u8| {
            let (original, mut copy) = (stripes(), stripes());
            Variant::Jpeg(quality).apply(&mut copy).unwrap();
            assert_eq!(copy.dimensions(), original.dimensions());
            original
                .pixels()
                .zip(copy.pixels())
                .map(|(a, b)| (0..3).map(|c| a[c].abs_diff(b[c]) as u32).sum::<u32>())
                .sum::<u32>()
        };
        let (low, high) = (error(10), error(95));
        assert!(high > 0, "a JPEG is lossy even at 95");
        assert!(low > 3 * high, "quality 10 {low}, 95 {high}");
    }

    #[test]
    fn blur_variants_spread_an_edge_as_they_say() {
        let edge = || {
            image::RgbImage::from_fn(9, 3, |x, _| {
                image::Rgb(if x < 4 { [0; 3] } else { [240; 3] })
            })
        };
        let mut img = edge();
        Variant::Motion(4).apply(&mut img).unwrap();
        let row: Vec<u8> = (0..9).map(|x| img.get_pixel(x, 1).0[0]).collect();
        // a 4-pixel window: two behind, one ahead of each pixel
        assert_eq!(row, [0, 0, 0, 60, 120, 180, 240, 240, 240]);
        let column: Vec<u8> = (0..3).map(|y| img.get_pixel(3, y).0[1]).collect();
        assert_eq!(column, [60; 3], "a horizontal smear leaves columns alone");
        let mut img = edge();
        Variant::Blur(1.0).apply(&mut img).unwrap();
        let (dark, light) = (img.get_pixel(3, 1).0[0], img.get_pixel(4, 1).0[0]);
        assert!(dark > 0 && light < 240 && dark < light, "{dark} {light}");
    }
}
