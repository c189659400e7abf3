//! The `kiosk` binary end to end: exit codes, JSON lines, and bad input of every kind.

use crate::common;

use common::*;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::process::Output;

fn kiosk(args: &[&str]) -> std::process::Output {
    run_kiosk(args)
}

fn tmp(name: &str) -> PathBuf {
    scratch("cli", name)
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(img)
        .unwrap();
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny PNG that declares 100000×100000 pixels.
fn png_bomb() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    v.extend(13u32.to_be_bytes());
    v.extend(&ihdr);
    v.extend(crc32(&ihdr).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    v.extend(8u32.to_be_bytes());
    v.extend(&idat);
    v.extend(crc32(&idat).to_be_bytes());
    v
}

/// JPEG bytes with an EXIF orientation tag inserted after the SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend(1u16.to_be_bytes()); // one entry
    tiff.extend(0x0112u16.to_be_bytes());
    tiff.extend(3u16.to_be_bytes()); // SHORT
    tiff.extend(1u32.to_be_bytes());
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_be_bytes());
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn check_json_has_the_documented_shape_and_exit_codes() {
    let base = tmp("base.jpg");
    std::fs::write(&base, jpeg(&levelled_base())).unwrap();
    let o = kiosk(&["check", "--json", base.to_str().unwrap()]);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    let v = &lines[0];
    for key in ["file", "ok", "faces", "checks", "ms"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    for c in v["checks"].as_array().unwrap() {
        for key in ["id", "ok", "value", "limit", "reason"] {
            assert!(c.get(key).is_some(), "{key} missing: {c}");
        }
    }
    assert_eq!(
        o.status.code(),
        Some(if v["ok"].as_bool().unwrap() { 0 } else { 1 }),
        "{v}"
    );
    let o = kiosk(&["check", "--json", photo_path("obama.jpg").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "an open mouth fails a check");
    let failed = &json_lines(&o)[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "mouth_closed")
        .unwrap()
        .clone();
    assert_eq!(failed["ok"], false);
    assert!(failed["reason"]["zh"].as_str().unwrap().contains("嘴"));
    assert!(failed["reason"]["en"].as_str().unwrap().contains("mouth"));
}

#[test]
fn check_draws_what_the_face_parsing_saw() {
    // Grace Hopper's uniform cap is drawn as hat (red), her face as skin (beige)
    let dir = tmp("parts");
    let photo = eval_photo_path("grace_hopper.jpg");
    let o = kiosk(&[
        "check",
        "--parts",
        dir.to_str().unwrap(),
        photo.to_str().unwrap(),
    ]);
    assert!(o.status.code() == Some(1), "{o:?}"); // the cap fails the photo
    let map = image::open(dir.join("grace_hopper.jpg.parts.png"))
        .unwrap()
        .to_rgb8();
    let count = |c: [u8; 3]| map.pixels().filter(|p| p.0 == c).count() as f64;
    let all = (map.width() * map.height()) as f64;
    assert!(count([220, 30, 30]) / all > 0.05, "hat");
    assert!(count([230, 200, 170]) / all > 0.1, "skin");
    // a face's outline: only its owner may read it
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir.join("grace_hopper.jpg.parts.png")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // a folder that cannot be made is said, not a panic
    let o = kiosk(&["check", "--parts", "/proc/no/such", photo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/proc/no/such"));
}

#[test]
fn bad_inputs_get_one_clear_line_each_and_do_not_stop_the_folder() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-folder");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = jpeg(&levelled_base());
    std::fs::write(dir.join("a-empty.jpg"), b"").unwrap();
    std::fs::write(dir.join("b-truncated.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(dir.join("c-text.png"), b"this is not a picture").unwrap();
    std::fs::write(dir.join("d-bomb.png"), png_bomb()).unwrap();
    std::fs::write(dir.join("e-good.jpg"), &good).unwrap();
    let o = kiosk(&["check", "--json", dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "unreadable input wins the exit code"
    );
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 5, "every file reported: {lines:?}");
    for v in &lines[..4] {
        let err = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {v}"));
        assert!(
            err.contains(v["file"].as_str().unwrap()),
            "the message names the file: {err}"
        );
        assert!(!err.contains('\n'));
    }
    assert!(lines[0]["error"].as_str().unwrap().contains("empty"));
    assert!(
        lines[3]["error"].as_str().unwrap().contains("100000"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].get("checks").is_some(),
        "the good file after them was checked"
    );
    // and the human form: one line on stderr per bad file, no panic
    let o = kiosk(&["check", dir.join("b-truncated.jpg").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"));
    // a folder with no photo in it (they are in a subfolder) is not "every photo passed"
    let nest = dir.join("f-nested");
    std::fs::create_dir_all(nest.join("inner")).unwrap();
    std::fs::write(nest.join("inner").join("good.jpg"), &good).unwrap();
    let o = kiosk(&["check", nest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds no photos") && err.contains("没有照片"),
        "{err}"
    );
}

#[test]
fn grayscale_sixteen_bit_and_cmyk_images_are_read() {
    let base = levelled_base();
    let gray = image::DynamicImage::ImageRgb8(base.clone()).into_luma16();
    let p16 = tmp("gray16.png");
    gray.save(&p16).unwrap();
    let o = kiosk(&["check", "--json", p16.to_str().unwrap()]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["faces"], 1, "{v}");
    let cmyk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cmyk.jpg");
    let o = kiosk(&["check", "--json", cmyk.to_str().unwrap()]);
    let v = &json_lines(&o)[0];
    assert!(v.get("error").is_none(), "CMYK decodes: {v}");
    assert_eq!(v["faces"], 0);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn exif_orientation_is_applied() {
    // store the portrait lying on its side, with EXIF saying "turn 90° clockwise to view"
    let sideways = image::imageops::rotate270(&levelled_base());
    let path = tmp("exif6.jpg");
    std::fs::write(&path, with_exif_orientation(&jpeg(&sideways), 6)).unwrap();
    let o = kiosk(&["check", "--json", path.to_str().unwrap()]);
    let v = &json_lines(&o)[0];
    let pose = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "head_pose")
        .unwrap();
    let roll = pose["detail"]["roll"].as_f64().unwrap();
    assert!(roll.abs() < 5.0, "upright after EXIF: {pose}");
}

#[test]
fn photo_sheet_and_verify_commands_work_end_to_end() {
    let base = tmp("capture.jpg");
    std::fs::write(&base, jpeg(&levelled_base())).unwrap();
    let out = tmp("chsi.jpg");
    let o = kiosk(&[
        "photo",
        "--spec",
        "chsi",
        "-o",
        out.to_str().unwrap(),
        "--json",
        base.to_str().unwrap(),
    ]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["photo"]["valid"], true, "{v}");
    let size = std::fs::metadata(&out).unwrap().len();
    assert!((20 * 1024..=40 * 1024).contains(&size), "{size}");
    // a JPEG is not written under another format's name
    let png_named = tmp("chsi-photo.png");
    let o = kiosk(&[
        "photo",
        "--spec",
        "chsi",
        "-o",
        png_named.to_str().unwrap(),
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ending in .jpg"));
    assert!(!png_named.exists());
    let sheet_path = tmp("sheet.png");
    let o = kiosk(&[
        "sheet",
        "--layout",
        "1in*8+2in*4",
        "-o",
        sheet_path.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::image_dimensions(&sheet_path).unwrap(), (1800, 1200));
    let o = kiosk(&[
        "sheet",
        "--layout",
        "2in-large*12",
        "-o",
        sheet_path.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not fit"));
    let o = kiosk(&[
        "verify",
        "--json",
        photo_path("obama.jpg").to_str().unwrap(),
        photo_path("obama2.jpg").to_str().unwrap(),
    ]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["same"], true, "{v}");
    assert!(v["distance"].as_f64().unwrap() < v["threshold"].as_f64().unwrap());
}

#[test]
fn staff_set_up_from_a_terminal_pin_printer_and_audit() {
    use std::io::Write;
    let db = scratch("cli-staff", "kiosk.sqlite");
    let _ = std::fs::remove_file(&db);
    let db_arg = db.to_str().unwrap();
    let pin = |pin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["staff", "pin", "--db", db_arg])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pin}").unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = pin("1234");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("too easy"));
    assert!(pin("2580").status.success());
    let store = capture_kiosk::store::Store::open(&db).unwrap();
    // stored sealed (argon2id), never as the PIN or its unsalted digest
    let stored = capture_kiosk::kiosk::staff::StoredPin::read(&store).unwrap();
    assert!(
        stored.matches("2580") && !stored.matches("123456"),
        "{stored:?}"
    );
    assert_eq!(
        store.get_setting("staff_pin_sha256").unwrap().as_deref(),
        Some("")
    );
    let o = kiosk(&[
        "staff", "printer", "--db", db_arg, "--layout", "9in*99", "photo",
    ]);
    assert_eq!(o.status.code(), Some(2), "a layout that does not fit");
    let o = kiosk(&[
        "staff", "printer", "--db", db_arg, "--layout", "2in*8", "photo",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        store.get_setting("printer").unwrap().as_deref(),
        Some("photo")
    );
    assert_eq!(
        store.get_setting("print_layout").unwrap().as_deref(),
        Some("2in*8")
    );
    let o = kiosk(&["staff", "audit", "--db", db_arg]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("修改 PIN · PIN changed"), "{out}");
}

/// `kiosk --headless-demo DIR` from the same folder twice in a row: each run has its own fresh
/// data folder inside DIR, so the second meets its candidate as a new one, not a returning one
/// (it used to stop on the status screen), and the kiosk's real data folder is never touched.
#[test]
fn headless_demo_runs_twice_in_a_row_from_the_same_folder() {
    let cwd = tmp("demo-twice");
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let demo = |dir: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["--headless-demo", dir, "--profile", "gd-chengkao"])
            .current_dir(&cwd)
            .output()
            .expect("kiosk runs")
    };
    for dir in ["first", "second", "first"] {
        let out = demo(dir);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run into {dir}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "demo data (database, outbox) in {dir}/headless-demo-data"
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains("1 sessions, each with its record in the outbox"),
            "{stdout}"
        );
    }
    assert!(
        !cwd.join("kiosk-data").exists(),
        "the demo wrote into the kiosk's real data folder"
    );

    // a folder of that name the demo did not make is never emptied
    let other = cwd.join("mine");
    std::fs::create_dir_all(other.join("headless-demo-data")).unwrap();
    std::fs::write(
        other.join("headless-demo-data/kiosk.sqlite"),
        b"someone's data",
    )
    .unwrap();
    let out = demo("mine");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by the headless demo"));
    assert!(other.join("headless-demo-data/kiosk.sqlite").exists());
    // nor the kiosk's own data folder, whatever it is called
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "--headless-demo",
            "mine",
            "--kiosk-data",
            "mine/headless-demo-data",
        ])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the kiosk's own data folder"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["--headless-demo", "x", "--profile", "no-such-exam"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no exam profile"));
}

#[test]
fn a_site_data_folder_is_read_loudly_missing_clashing_or_replacing() {
    let photo = eval_photo_path("tp_obama3.jpg");
    let photo = photo.to_str().unwrap();
    // a mistyped folder used to be skipped, leaving the site's own limits out unsaid
    let o = kiosk(&["--data-dir", "/no/such/site", "check", photo]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/site"));
    let empty = tmp("site-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = kiosk(&["--data-dir", empty.to_str().unwrap(), "check", photo]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no specs/ or profiles/"));

    // a site's own chsi-graduation replaces the shipped one, and says so beside the JSON
    let site = tmp("site-tuned");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(site.join("profiles")).unwrap();
    let tuned = format!(
        "{}\n[limits]\nmax_yaw_deg = 25.0\n",
        include_str!("../profiles/chsi-graduation.toml")
    );
    std::fs::write(site.join("profiles/tuned.toml"), &tuned).unwrap();
    // a head turned 15.3 degrees: past the shipped 15, inside the site's 25
    let turned = eval_photo_path("facexlib_test2.jpg");
    let pose_ok = |o: &Output| {
        json_lines(o)[0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "head_pose")
            .unwrap()["ok"]
            .clone()
    };
    let args = ["check", "--json", turned.to_str().unwrap()];
    assert_eq!(pose_ok(&kiosk(&args)), false);
    let o = kiosk(&[&["--data-dir", site.to_str().unwrap()], &args[..]].concat());
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("exam profile 'chsi-graduation'") && said.contains("tuned.toml"),
        "{said}"
    );
    assert_eq!(pose_ok(&o), true, "the site's limit applies");

    // two files naming one profile: which won hung on how the files sorted
    std::fs::write(site.join("profiles/tuned-again.toml"), &tuned).unwrap();
    let o = kiosk(&["--data-dir", site.to_str().unwrap(), "check", photo]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("is declared in"), "{said}");
}

#[test]
fn a_threshold_that_cannot_separate_faces_is_refused() {
    // 5 or inf called everyone the same person, NaN no one
    for t in ["5", "inf", "nan", "0", "-0.2", "abc"] {
        for command in ["verify", "eval-verify"] {
            let flag = format!("--threshold={t}");
            let mut args = vec![command, flag.as_str(), "a.jpg"];
            if command == "verify" {
                args.push("b.jpg");
            }
            let o = kiosk(&args);
            assert_eq!(o.status.code(), Some(2), "{command} {t}: {o:?}");
            let said = String::from_utf8_lossy(&o.stderr);
            assert!(said.contains("--threshold"), "{command} {t}: {said}");
        }
    }
}

#[test]
fn label_files_saved_by_a_chinese_excel_are_read_and_a_workbook_is_refused_with_a_hint() {
    let dir = tmp("gbk-labels");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(eval_photo_path("mk_marc.png"), dir.join("马克.png")).unwrap();
    // Excel on a Chinese Windows saves "CSV" as GBK, Chinese names and notes included
    let text = "file,defects,variant,note\n马克.png,light_uniformity,,侧光\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let labels = dir.join("labels.csv");
    std::fs::write(&labels, &gbk).unwrap();
    let out = kiosk(&["eval", "--json", labels.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["photos"][0]["file"], "马克.png");
    // a workbook saved as .xlsx under a .csv name: what to do, in both languages
    let workbook = dir.join("workbook.csv");
    std::fs::write(&workbook, [0x50, 0x4b, 0x03, 0x04, 0xff, 0xff, 0x81]).unwrap();
    let out = kiosk(&["eval", workbook.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("CSV UTF-8") && said.contains("另存为"),
        "{said}"
    );
}

#[test]
fn eval_prints_its_table_in_chinese_then_english_in_straight_columns() {
    use unicode_width::UnicodeWidthStr;
    let dir = tmp("eval-table");
    std::fs::create_dir_all(&dir).unwrap();
    for photo in ["mk_marc.png", "tp_obama3.jpg"] {
        std::fs::copy(eval_photo_path(photo), dir.join(photo)).unwrap();
    }
    // studio light from one side, and an evenly lit face (two teeth tips show between its lips)
    let labels = dir.join("labels.csv");
    std::fs::write(
        &labels,
        "file,defects\nmk_marc.png,light_uniformity\ntp_obama3.jpg,mouth_closed\n",
    )
    .unwrap();
    let out = kiosk(&["eval", labels.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert!(lines[0].starts_with("2 张照片"), "{said}");
    assert!(lines[1].starts_with("2 photos"), "{said}");
    assert!(
        lines[2].starts_with("取景之外") && lines[3].starts_with("framing aside"),
        "{said}"
    );
    let (zh, en) = (lines[4], lines[5]);
    assert!(zh.starts_with("检查") && en.starts_with("check"), "{said}");
    // each heading ends in the same terminal cell in both languages, and so does the figure
    let end_of = |line: &str, cell: &str| line.find(cell).map(|i| line[..i].width() + cell.width());
    let light = lines
        .iter()
        .find(|l| l.starts_with("light_uniformity 光线均匀"))
        .unwrap_or_else(|| panic!("no light row: {said}"));
    assert_eq!(
        end_of(zh, "查出缺陷"),
        end_of(en, "defects caught"),
        "{said}"
    );
    assert_eq!(end_of(zh, "查出缺陷"), end_of(light, "1/1"), "{said}");
    assert_eq!(end_of(zh, "合格通过"), end_of(en, "accepted"), "{said}");
    assert_eq!(end_of(zh, "检出率"), end_of(light, "100.0 %"), "{said}");
    // and so does every check's "caught" figure, after names and limits of every width
    let end_of_caught = |line: &str| {
        let slash = line.find('/')?;
        let end = line[slash + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(line.len(), |i| slash + 1 + i);
        Some(line[..end].width())
    };
    for id in [
        "face_count",
        "head_pose",
        "hair_occlusion",
        "clothing_contrast",
    ] {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} row: {said}"));
        assert_eq!(end_of_caught(row), end_of(zh, "查出缺陷"), "{id}: {said}");
    }
    // the column after the longest limit (head pose's) starts where its heading does
    let start_of = |line: &str, cell: &str| line.rfind(cell).map(|i| line[..i].width());
    let pose = lines
        .iter()
        .find(|l| l.starts_with("head_pose "))
        .unwrap_or_else(|| panic!("{said}"));
    assert_eq!(
        start_of(pose, " –").map(|w| w + 1),
        start_of(en, "balanced at"),
        "{said}"
    );
    // a bad row is refused in both languages, naming its line
    std::fs::write(&labels, "file,defects\nmk_marc.png,hat\n").unwrap();
    let out = kiosk(&["eval", labels.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("第 2 行 line 2") && said.contains("不是检查项 / is not a check"),
        "{said}"
    );
}

#[test]
fn photo_headlines_a_failed_check_and_verify_says_which_file_it_cannot_read() {
    // studio light from one side: a file of the right size, a photo that fails light
    let out_jpg = tmp("photo-headline.jpg");
    let marc = eval_photo_path("mk_marc.png");
    let out = kiosk(&[
        "photo",
        "--spec",
        "chsi",
        "-o",
        out_jpg.to_str().unwrap(),
        marc.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    let headline = said.lines().next().unwrap_or_default();
    assert!(
        headline.contains("fails a check") && !headline.ends_with("meets the spec"),
        "{said}"
    );
    assert!(said.contains("✗ light_uniformity"), "{said}");
    // a thumbnail's face is too small to compare: no verdict
    let thumb = tmp("marc-thumb.png");
    let small = image::open(&marc).unwrap().thumbnail(48, 48);
    small.save(&thumb).unwrap();
    let out = kiosk(&["verify", marc.to_str().unwrap(), thumb.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too small to compare"));
    // a missing photo is named on stderr, not in a log line
    let missing = tmp("no-such-photo.jpg");
    let out = kiosk(&["verify", missing.to_str().unwrap(), marc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("kiosk: ")
            && said.contains("no-such-photo.jpg: 文件不存在 / no such file"),
        "{said}"
    );
}
