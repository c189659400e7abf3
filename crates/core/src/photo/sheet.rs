//! Print sheets: ID photos laid out on photo paper at a print resolution, with cut marks.
//! Sizes are millimetres; a layout that does not fit is refused, never shrunk.

use image::{Rgb, RgbImage};
use thiserror::Error;

/// A print size in millimetres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrintSize {
    pub name: &'static str,
    pub mm: (f32, f32),
}

pub const PRINT_SIZES: &[PrintSize] = &[
    PrintSize {
        name: "1in",
        mm: (25.0, 35.0),
    },
    PrintSize {
        name: "1in-small",
        mm: (22.0, 32.0),
    },
    PrintSize {
        name: "1in-large",
        mm: (33.0, 48.0),
    },
    PrintSize {
        name: "2in",
        mm: (35.0, 49.0),
    },
    PrintSize {
        name: "2in-large",
        mm: (35.0, 53.0),
    },
    PrintSize {
        name: "2in-small",
        mm: (35.0, 45.0),
    },
];

/// Photo paper, landscape, in inches (the trade names are inch sizes).
pub const PAPERS: &[(&str, f32, f32)] = &[("6in", 6.0, 4.0), ("5in", 5.0, 3.5)];

/// Thinnest gap between prints that still leaves room for a cut.
const MIN_GAP_PX: u32 = 4;

#[derive(Debug, Error, PartialEq)]
pub enum SheetError {
    #[error("cannot read layout '{0}': write it like \"1in*8+2in*4\" (sizes: {1})")]
    Syntax(String, String),
    #[error("unknown paper '{0}' (known: 6in, 5in)")]
    Paper(String),
    #[error("dpi must be 300 or 254, not {0}")]
    Dpi(u32),
    #[error("layout '{layout}' does not fit on {paper} paper at {dpi} dpi ({need} px needed, {have} px available); photos are never shrunk")]
    DoesNotFit {
        layout: String,
        paper: String,
        dpi: u32,
        need: u32,
        have: u32,
    },
}

fn mm_to_px(mm: f32, dpi: u32) -> u32 {
    (mm / 25.4 * dpi as f32).round() as u32
}

/// One photo's place on the sheet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Printed turned a quarter (the photo itself is unchanged).
    pub turned: bool,
}

/// One size group laid out in whole rows.
struct Rows {
    w: u32,
    h: u32,
    turned: bool,
    per_row: u32,
    count: u32,
}

/// A planned sheet.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetPlan {
    pub width: u32,
    pub height: u32,
    pub placements: Vec<Placement>,
}

fn parse_layout(layout: &str) -> Result<Vec<(PrintSize, u32)>, SheetError> {
    let known = || {
        PRINT_SIZES
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = || SheetError::Syntax(layout.to_owned(), known());
    let mut groups = Vec::new();
    for part in layout.split('+') {
        let (name, count) = part.trim().split_once(['*', 'x', '×']).ok_or_else(bad)?;
        let size = PRINT_SIZES
            .iter()
            .find(|s| s.name == name.trim())
            .ok_or_else(bad)?;
        let n: u32 = count.trim().parse().map_err(|_| bad())?;
        if n == 0 || n > 64 {
            return Err(bad());
        }
        groups.push((*size, n));
    }
    if groups.is_empty() {
        return Err(bad());
    }
    Ok(groups)
}

/// Shelf packing: each size group fills whole rows, upright or turned; every combination of
/// orientations is tried and the lowest stack that fits wins. Spare height is shared out as gaps.
pub fn plan_sheet(layout: &str, paper: &str, dpi: u32) -> Result<SheetPlan, SheetError> {
    if dpi != 300 && dpi != 254 {
        return Err(SheetError::Dpi(dpi));
    }
    let &(_, pw, ph) = PAPERS
        .iter()
        .find(|p| p.0 == paper)
        .ok_or_else(|| SheetError::Paper(paper.to_owned()))?;
    let (width, height) = (
        (pw * dpi as f32).round() as u32,
        (ph * dpi as f32).round() as u32,
    );
    let groups = parse_layout(layout)?;
    let mut best: Option<(u32, Vec<Rows>)> = None;
    for mask in 0..(1u32 << groups.len()) {
        let mut rows = Vec::new();
        let mut total = 0u32;
        let mut fits = true;
        for (i, (size, n)) in groups.iter().enumerate() {
            let turned = mask & (1 << i) != 0;
            let (mut w, mut h) = (mm_to_px(size.mm.0, dpi), mm_to_px(size.mm.1, dpi));
            if turned {
                std::mem::swap(&mut w, &mut h);
            }
            let per_row = (width + MIN_GAP_PX) / (w + MIN_GAP_PX);
            if per_row == 0 {
                fits = false;
                break;
            }
            let row_count = n.div_ceil(per_row);
            total += row_count * h;
            rows.push(Rows {
                w,
                h,
                turned,
                per_row: per_row.min(*n),
                count: row_count,
            });
        }
        let row_total: u32 = rows.iter().map(|r| r.count).sum();
        let need = total + (row_total + 1) * MIN_GAP_PX;
        if fits && best.as_ref().is_none_or(|(b, _)| need < *b) {
            best = Some((need, rows));
        }
    }
    let (need, rows) = best.ok_or_else(|| SheetError::DoesNotFit {
        layout: layout.to_owned(),
        paper: paper.to_owned(),
        dpi,
        need: u32::MAX,
        have: height,
    })?;
    if need > height {
        return Err(SheetError::DoesNotFit {
            layout: layout.to_owned(),
            paper: paper.to_owned(),
            dpi,
            need,
            have: height,
        });
    }
    let row_total: u32 = rows.iter().map(|r| r.count).sum();
    let stacked: u32 = rows.iter().map(|r| r.h * r.count).sum();
    let gap_y = (height - stacked) / (row_total + 1);
    let mut placements = Vec::new();
    let mut y = gap_y;
    for (r, (_, n)) in rows.iter().zip(groups.iter()) {
        let mut left = *n;
        for _ in 0..r.count {
            let in_row = left.min(r.per_row);
            let gap_x = (width - in_row * r.w) / (in_row + 1);
            for k in 0..in_row {
                placements.push(Placement {
                    x: gap_x + k * (r.w + gap_x),
                    y,
                    w: r.w,
                    h: r.h,
                    turned: r.turned,
                });
            }
            left -= in_row;
            y += r.h + gap_y;
        }
    }
    Ok(SheetPlan {
        width,
        height,
        placements,
    })
}

/// Renders the plan with `photo` in every place (scaled to cover the print size, centred) and
/// cut marks at every corner.
pub fn render_sheet(plan: &SheetPlan, photo: &RgbImage) -> RgbImage {
    let mut sheet = RgbImage::from_pixel(plan.width, plan.height, Rgb([255, 255, 255]));
    for p in &plan.placements {
        let (pw, ph) = if p.turned { (p.h, p.w) } else { (p.w, p.h) };
        let print = cover(photo, pw, ph);
        let print = if p.turned {
            image::imageops::rotate90(&print)
        } else {
            print
        };
        image::imageops::replace(&mut sheet, &print, p.x as i64, p.y as i64);
    }
    for p in &plan.placements {
        draw_cut_marks(&mut sheet, p);
    }
    sheet
}

fn cover(photo: &RgbImage, w: u32, h: u32) -> RgbImage {
    let s = (w as f32 / photo.width() as f32).max(h as f32 / photo.height() as f32);
    let (sw, sh) = (
        ((photo.width() as f32) * s).ceil() as u32,
        ((photo.height() as f32) * s).ceil() as u32,
    );
    let scaled = image::imageops::resize(
        photo,
        sw.max(w),
        sh.max(h),
        image::imageops::FilterType::CatmullRom,
    );
    image::imageops::crop_imm(
        &scaled,
        (scaled.width() - w) / 2,
        (scaled.height() - h) / 2,
        w,
        h,
    )
    .to_image()
}

/// Short grey ticks continuing each edge past each corner, into the gap.
fn draw_cut_marks(sheet: &mut RgbImage, p: &Placement) {
    let len = 18i64;
    let grey = Rgb([90, 90, 90]);
    let (x0, y0, x1, y1) = (
        p.x as i64,
        p.y as i64,
        (p.x + p.w) as i64 - 1,
        (p.y + p.h) as i64 - 1,
    );
    let mut put = |x: i64, y: i64| {
        if x >= 0 && y >= 0 && (x as u32) < sheet.width() && (y as u32) < sheet.height() {
            // never draw over a photo: marks live in the gaps
            let px = sheet.get_pixel_mut(x as u32, y as u32);
            if px.0 == [255, 255, 255] || px.0 == grey.0 {
                *px = grey;
            }
        }
    };
    for d in 2..len {
        for (cx, cy, sx, sy) in [
            (x0, y0, -1, -1),
            (x1, y0, 1, -1),
            (x0, y1, -1, 1),
            (x1, y1, 1, 1),
        ] {
            put(cx + sx * d, cy); // horizontal tick along the top/bottom edge
            put(cx, cy + sy * d); // vertical tick along the left/right edge
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_layout_fits_six_inch_paper_with_thin_gaps() {
        let plan = plan_sheet("1in*8+2in*4", "6in", 300).unwrap();
        assert_eq!((plan.width, plan.height), (1800, 1200));
        assert_eq!(plan.placements.len(), 12);
        for (i, a) in plan.placements.iter().enumerate() {
            assert!(a.x + a.w <= 1800 && a.y + a.h <= 1200, "{a:?}");
            for b in &plan.placements[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        // the 2-inch prints keep their full 413×579 size
        assert_eq!(
            plan.placements
                .iter()
                .filter(|p| p.w * p.h == 413 * 579)
                .count(),
            4
        );
    }

    #[test]
    fn eight_two_inch_fit_and_too_many_are_refused() {
        assert_eq!(plan_sheet("2in*8", "6in", 300).unwrap().placements.len(), 8);
        let err = plan_sheet("2in-large*8+1in*8", "6in", 300).unwrap_err();
        assert!(matches!(err, SheetError::DoesNotFit { .. }), "{err}");
        assert!(err.to_string().contains("never shrunk"));
    }

    #[test]
    fn bad_layouts_say_how_to_write_one() {
        let err = plan_sheet("3in*2", "6in", 300).unwrap_err().to_string();
        assert!(
            err.contains("1in*8+2in*4") && err.contains("2in-large"),
            "{err}"
        );
        assert!(plan_sheet("1in*8", "a4", 300).is_err());
        assert!(plan_sheet("1in*8", "6in", 200).is_err());
    }

    #[test]
    fn sizes_match_the_published_pixels() {
        assert_eq!((mm_to_px(25.0, 300), mm_to_px(35.0, 300)), (295, 413));
        assert_eq!((mm_to_px(35.0, 300), mm_to_px(49.0, 300)), (413, 579));
    }
}
