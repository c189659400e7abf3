//! Every kiosk screen rendered with Slint's software renderer (no display), in Chinese and in
//! English, portrait 1080×1920 and landscape 1920×1080, to target/tmp/screens/ to look at.
//! Checked here: each screen draws something, English differs from Chinese on every screen
//! (the translation is applied), and every @tr string has its English translation.

use crate::common;

use capture_kiosk::kiosk::demo::{install_headless_platform, save_png};
use capture_kiosk::kiosk::{
    ui_screen, CheckRow, FieldView, HealthRow, InfoRow, Kiosk, KioskWindow, ListRow, Metrics,
};
use capture_kiosk::session::Screen;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

fn rows<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

fn image(img: &image::RgbImage) -> slint::Image {
    slint::Image::from_rgb8(slint::SharedPixelBuffer::clone_from_slice(
        img.as_raw(),
        img.width(),
        img.height(),
    ))
}

fn fill(window: &KioskWindow) {
    let ui = window.global::<Kiosk>();
    let s = |t: &str| SharedString::from(t);
    ui.set_demo(true);
    ui.set_collection_open(true);
    // a demo whose candidates were photographed before: the idle screen says how to start afresh
    ui.set_demo_returning(true);
    ui.set_profile_title(s("广东省成人高考报名照片采集"));
    ui.set_help_phone(s("020-00000000"));
    ui.set_fields(rows(vec![
        FieldView {
            label: s("预报名号"),
            value: s("2026123"),
            state: 1,
            hint: s("7/8"),
        },
        FieldView {
            label: s("密码"),
            value: s("••••"),
            state: 0,
            hint: s("6 位"),
        },
    ]));
    ui.set_keypad_enabled(true);
    ui.set_keypad_letters(true);
    ui.set_info_rows(rows(vec![
        InfoRow {
            label: s("姓名"),
            value: s("张𠀀明"),
            state: 0,
        },
        InfoRow {
            label: s("证件号码"),
            value: s("4401**********0015"),
            state: 0,
        },
        InfoRow {
            label: s("民族"),
            value: s("汉"),
            state: 1,
        },
        InfoRow {
            label: s("住址"),
            value: s("广东省广州市天河区五山路483号华南理工大学学生宿舍十二栋"),
            state: 2,
        },
    ]));
    ui.set_info_blocked(true);
    ui.set_consent_text(s("本人同意采集点按照考试机构的要求采集本人的现场照片和身份证信息，仅用于本次考试报名的照片审核；照片上传后由审核员审核，保留期满后从采集设备中删除。本人保证所提供的信息真实有效。"));
    ui.set_guide_items(rows(vec![
        s("请摘下眼镜"),
        s("露出双耳和额头"),
        s("头发不要遮挡眉毛和眼睛"),
        s("光线均匀，脸上不要有阴影"),
        s("距离镜头 80–100 厘米，正视镜头"),
    ]));
    let face = common::photo("biden.jpg");
    let preview = image::imageops::flip_horizontal(&image::imageops::thumbnail(
        &face,
        720,
        720 * face.height() / face.width(),
    ));
    ui.set_preview(image(&preview));
    ui.set_prompt(s("请靠近一些"));
    ui.set_distance_text(s("距离约 132 厘米（目标 80–100）"));
    ui.set_countdown(2);
    ui.set_fps_text(s("12 fps"));
    let id_photo = image::imageops::thumbnail(&face, 480, 640);
    ui.set_photo(image(&id_photo));
    ui.set_check_rows(rows(vec![
        CheckRow {
            name: s("人脸数量"),
            ok: true,
            reason: s(""),
        },
        CheckRow {
            name: s("正视镜头"),
            ok: false,
            reason: s("头部向一侧倾斜，请保持头部端正"),
        },
        CheckRow {
            name: s("光线均匀"),
            ok: true,
            reason: s(""),
        },
        CheckRow {
            name: s("照片清晰"),
            ok: true,
            reason: s(""),
        },
    ]));
    ui.set_verify_text(s("相似度距离 0.31（小于 0.60 为同一人）"));
    ui.set_attempts_text(s("还可尝试 2 次"));
    ui.set_manual_steps(rows(vec![
        s("身份证正面"),
        s("身份证背面"),
        s("手持身份证的本人照片（横向）"),
    ]));
    ui.set_manual_done(1);
    ui.set_receipt_number(s("7C41A9E05B12"));
    ui.set_receipt_time(s("2026-11-21 10:30:12"));
    ui.set_status_text(s(
        "审核未通过：头发遮挡眉毛或眼睛 · rejected: hair over the eyebrows or eyes",
    ));
    ui.set_can_withdraw(true);
    ui.set_notice(s(""));
    ui.set_pin_dots(s("●●●"));
    ui.set_profiles(rows(vec![
        s("广东省成人高考报名照片采集"),
        s("广东省普通高考报名照片采集"),
        s("北京市成人高考报名照片采集"),
        s("北京市自学考试学士学位照片采集"),
        s("学信网毕业生图像集中采集"),
    ]));
    ui.set_batch(s("Z3K8F7"));
    ui.set_roster_files(rows(vec![
        ListRow {
            title: s("2026届毕业生名单.csv"),
            detail: s("/media/kiosk/KINGSTON/名单 · 312.4 KB"),
        },
        ListRow {
            title: s("roster-backup.csv"),
            detail: s("/media/kiosk/KINGSTON · 298.0 KB"),
        },
    ]));
    ui.set_import_folders(s("/var/lib/capture-kiosk/import  /media  /run/media  /mnt"));
    let audit = [
        ("2026-11-21 08:02:11  解锁工作人员菜单", ""),
        (
            "2026-11-21 08:03:40  导入名单",
            "2026届毕业生名单.csv → Z3K8F7: 1204",
        ),
        ("2026-11-21 08:04:02  开始采集", "chsi-graduation Z3K8F7"),
        ("2026-11-21 11:30:55  PIN 错误", ""),
        (
            "2026-11-21 17:10:09  结束采集",
            "chsi-graduation Z3K8F7: 412 captures, 3 waiting for upload",
        ),
    ];
    ui.set_batch_input(s("Z3K8F7"));
    ui.set_batch_rows(rows(vec![
        ListRow {
            title: s("Z3K8F7"),
            detail: s("名单 1204 人"),
        },
        ListRow {
            title: s("GD2026CK01"),
            detail: s("名单 388 人"),
        },
    ]));
    ui.set_reprint_rows(rows(vec![ListRow {
        title: s("2026-11-21 10:30:12  学信网毕业生图像集中采集"),
        detail: s("2026**********002X · 已上传 · uploaded"),
    }]));
    ui.set_audit_rows(rows(
        audit
            .iter()
            .map(|(t, d)| ListRow {
                title: s(t),
                detail: s(d),
            })
            .collect(),
    ));
    ui.set_health(rows(vec![
        HealthRow {
            name: s("摄像头"),
            ok: true,
            detail: s("simulated 1920×1080"),
        },
        HealthRow {
            name: s("读卡器"),
            ok: true,
            detail: s("/dev/ttyUSB0"),
        },
        HealthRow {
            name: s("中心"),
            ok: false,
            detail: s("未连接"),
        },
        HealthRow {
            name: s("打印机"),
            ok: false,
            detail: s("卡纸，请打开打印机取出卡纸"),
        },
    ]));
    ui.set_printer(HealthRow {
        name: s("打印机"),
        ok: false,
        detail: s("打印任务 7 已等待 10 分钟，请检查打印机；照片仍可补打（记录 …3f9a2c）"),
    });
}

fn distinct_colours(path: &std::path::Path) -> usize {
    let img = image::open(path).unwrap().to_rgb8();
    let mut seen = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        seen.insert(p.0);
    }
    seen.len()
}

#[test]
fn every_screen_renders_in_both_languages_and_orientations() {
    install_headless_platform().unwrap();
    let ui = KioskWindow::new().unwrap();
    fill(&ui);
    ui.show().unwrap();
    let out = common::hubs::fresh_dir("screens", "all");
    for (w, h, orient) in [(1080, 1920, "portrait"), (1920, 1080, "landscape")] {
        ui.window().set_size(slint::PhysicalSize::new(w, h));
        ui.global::<Metrics>().set_compact(w > h);
        for english in [false, true] {
            slint::select_bundled_translation(if english { "en" } else { "" }).unwrap();
            ui.global::<Kiosk>().set_english(english);
            let lang = if english { "en" } else { "zh" };
            for screen in Screen::ALL {
                ui.global::<Kiosk>().set_screen(ui_screen(screen));
                ui.global::<Kiosk>().set_staff_mode(screen.is_staff());
                let screen = screen.name();
                let path = out.join(format!("{orient}-{lang}-{screen}.png"));
                save_png(&ui, &path).unwrap();
                assert!(
                    distinct_colours(&path) > 8,
                    "{} looks blank",
                    path.display()
                );
            }
            ui.global::<Kiosk>().set_screen(ui_screen(Screen::Receipt));
            ui.global::<Kiosk>().set_help_open(true);
            save_png(&ui, &out.join(format!("{orient}-{lang}-help.png"))).unwrap();
            ui.global::<Kiosk>().set_help_open(false);
        }
        for screen in Screen::ALL.map(Screen::name) {
            let zh = std::fs::read(out.join(format!("{orient}-zh-{screen}.png"))).unwrap();
            let en = std::fs::read(out.join(format!("{orient}-en-{screen}.png"))).unwrap();
            assert_ne!(
                zh, en,
                "{orient} {screen}: English looks the same as Chinese"
            );
        }
    }
    println!("screens in {}", out.display());
}

#[test]
fn every_translatable_string_has_its_english() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let po = std::fs::read_to_string(root.join("ui/translations/en/LC_MESSAGES/capture-kiosk.po"))
        .unwrap();
    let mut missing = Vec::new();
    for file in [
        "ui/kiosk.slint",
        "ui/widgets.slint",
        "ui/screens/staff.slint",
        "ui/screens/identify.slint",
        "ui/screens/capture.slint",
        "ui/screens/finish.slint",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for part in text.split("@tr(\"").skip(1) {
            let msgid = &part[..part.find('"').unwrap()];
            if !po.contains(&format!("msgid \"{msgid}\"\nmsgstr \""))
                || po.contains(&format!("msgid \"{msgid}\"\nmsgstr \"\""))
            {
                missing.push(msgid.to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "no English for: {missing:?}");
}
