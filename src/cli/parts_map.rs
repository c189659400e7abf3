//! `kiosk check --parts`: the face parsing's map as a picture, one colour per part, so a
//! person can see why a hat, a fringe or teeth were (or were not) found.

use anyhow::Result;
use capture_kiosk::engine::{FaceParsing, FacePart};
use image::{Rgb, RgbImage};
use std::path::Path;

/// One colour per part, in `FacePart` order (the help of `--parts` names them).
const PALETTE: [[u8; 3]; 19] = [
    [0, 0, 0],       // background
    [230, 200, 170], // skin
    [90, 50, 20],    // left brow
    [90, 50, 20],    // right brow
    [40, 200, 60],   // left eye
    [40, 200, 60],   // right eye
    [40, 90, 240],   // eyeglasses
    [240, 140, 30],  // left ear
    [240, 140, 30],  // right ear
    [250, 230, 40],  // earring
    [200, 160, 130], // nose
    [255, 255, 255], // mouth interior
    [230, 110, 150], // upper lip
    [230, 110, 150], // lower lip
    [180, 150, 110], // neck
    [250, 230, 40],  // necklace
    [128, 128, 128], // cloth
    [130, 70, 30],   // hair
    [220, 30, 30],   // hat
];

/// Writes `DIR/NAME.parts.png`, the map scaled up 2× so a 512-cell map reads at a glance.
pub fn write(dir: &Path, image: &Path, parsing: &FaceParsing) -> Result<()> {
    const SCALE: u32 = 2;
    let side = parsing.side as u32;
    let labels = parsing.labels();
    let mut out = RgbImage::new(side * SCALE, side * SCALE);
    for (i, &label) in labels.iter().enumerate() {
        let colour = PALETTE
            .get(label as usize)
            .copied()
            .unwrap_or(PALETTE[FacePart::Background as usize]);
        let (x, y) = (i as u32 % side, i as u32 / side);
        for dy in 0..SCALE {
            for dx in 0..SCALE {
                out.put_pixel(x * SCALE + dx, y * SCALE + dy, Rgb(colour));
            }
        }
    }
    let name = image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let path = dir.join(format!("{name}.parts.png"));
    // a parsing map is a face's outline: private like the photo it came from
    super::write_face_png(&path, &out)
}
