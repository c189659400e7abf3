//! Demo mode's people: made up, with valid check characters, on the simulated roster with the
//! simulator's portrait as their registration photo; and the simulated candidate's portrait.

use crate::camera::simulated::Portrait;
use crate::engine::FaceEngine;
use crate::hub_protocol::RosterEntry;
use crate::imaging::{decode_image, DecodeLimits};
use crate::reader::card::id_check_char;
use crate::session::identify::{id_tail, password_digest};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};

/// The demo batch; also its CHSI feature code (seed 004's example).
pub const DEMO_BATCH: &str = "Z3K8F7";
/// The demo candidates' password on the keypad profiles.
pub const DEMO_PASSWORD: &str = "123456";

fn with_check(first17: &str) -> String {
    format!("{first17}{}", id_check_char(first17).unwrap_or('0'))
}

/// The CHSI demo candidate's ID number.
pub fn chsi_demo_id() -> String {
    with_check("11010820010404246")
}

/// The CHSI demo candidate's image-collection code (their key on the roster), which ends with
/// the ID tail as CHSI's codes do; the demo candidate holds it up to the camera as a QR code.
pub fn demo_collection_code() -> String {
    format!("2026CHSIZ3K8F7{}", id_tail(&chsi_demo_id()))
}

/// The demo roster: (candidate key, name, ID number) — keypad candidates for each profile,
/// and the demo cards' holders keyed by their ID numbers.
pub fn demo_people() -> Vec<RosterEntry> {
    let person = |key: &str, name: &str, id: String, ethnicity: &str, address: &str| RosterEntry {
        candidate_key: key.into(),
        name: name.into(),
        secret: password_digest(key, DEMO_PASSWORD),
        id_number: id,
        ethnicity: ethnicity.into(),
        address: address.into(),
        phone: String::new(),
    };
    vec![
        person(
            "20261234",
            "王小明",
            with_check("44010619990101123"),
            "汉",
            "广东省广州市越秀区东风中路1号",
        ),
        person(
            "26440101234567",
            "李华",
            with_check("44030420000202456"),
            "汉",
            "广东省深圳市福田区福中三路2号",
        ),
        person(
            "012345678901",
            "张伟",
            with_check("11010519980303789"),
            "汉",
            "北京市朝阳区建国路3号",
        ),
        person(
            &demo_collection_code(),
            "刘洋",
            chsi_demo_id(),
            "汉",
            "北京市海淀区中关村大街4号",
        ),
        // the simulated reader's first card: a name with a character outside the BMP (R-ID-3)
        person(
            "440106199903070015",
            "张𠀀明",
            "440106199903070015".into(),
            "汉",
            "广东省广州市天河区五山路483号",
        ),
        // the simulated reader's second card (resident, long-term validity)
        person(
            "110108200106150022",
            "阿依古丽·买买提",
            "110108200106150022".into(),
            "维吾尔",
            "北京市海淀区学院路37号",
        ),
    ]
}

/// Puts the demo people on the batch's roster (once), each with the simulator's portrait as
/// the registration photo, so verification has a reference face without a chip decoder.
pub fn seed_roster(store: &mut Store, batch: &str) -> Result<()> {
    if store.roster_size(batch)? > 0 {
        return Ok(());
    }
    let photo = std::fs::read(super::hardware_dir().join("cameras/sim/subject.jpg"))
        .context("reading the demo portrait")?;
    // sealed as a real roster's passwords are before they are stored
    let mut people = demo_people();
    crate::roster::seal_secrets(&mut people)?;
    store.replace_roster(batch, &people)?;
    for p in people {
        store.set_roster_photo(batch, &p.candidate_key, &photo)?;
    }
    Ok(())
}

/// The simulated candidate: the shipped portrait standing in front of the collection point's
/// white backdrop (its own background painted out through the person mask), measured once.
pub fn demo_portrait(engine: &FaceEngine) -> Result<Portrait> {
    let path = super::hardware_dir().join("cameras/sim/subject.jpg");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut img = decode_image(&bytes, DecodeLimits::default())?;
    let analysis = engine.locate_still(&img)?;
    let subject = analysis
        .subject
        .ok_or_else(|| anyhow!("no face in {}", path.display()))?;
    let (w, h) = img.dimensions();
    let coarse: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| {
            subject
                .mask
                .at(crate::geometry::Point::new(x as f32 + 0.5, y as f32 + 0.5))
        })
        .collect();
    let alpha = crate::photo::matte::refine_alpha(&img, &coarse);
    let backdrop = [250, 250, 250];
    crate::photo::matte::replace_background(&mut img, &alpha, backdrop);
    // more backdrop above and beside, so the camera never looks past the edge of the picture
    let (pad_x, pad_top) = (w / 2, h / 2);
    let mut framed = image::RgbImage::from_pixel(w + 2 * pad_x, h + pad_top, image::Rgb(backdrop));
    image::imageops::replace(&mut framed, &img, i64::from(pad_x), i64::from(pad_top));
    Portrait::measure(engine, framed)?.ok_or_else(|| anyhow!("no face in {}", path.display()))
}
