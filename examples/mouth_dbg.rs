use capture_kiosk::engine::{mesh_idx as idx, FaceEngine};
fn main() {
    let engine = FaceEngine::load_default().unwrap();
    for path in std::env::args().skip(1) {
        let img = image::open(&path).unwrap().to_rgb8();
        let a = engine.analyze_still(&img).unwrap();
        let Some(s) = a.subject.as_ref() else {
            continue;
        };
        let m = &s.mesh;
        let l = m.point(idx::MOUTH_RIGHT);
        let r = m.point(idx::MOUTH_LEFT);
        let w = l.distance(r);
        let cx = (l.x + r.x) / 2.0;
        let cy = (l.y + r.y) / 2.0;
        let x0 = (cx - w * 0.8).max(0.0) as u32;
        let y0 = (cy - w * 0.5).max(0.0) as u32;
        let cw = ((w * 1.6) as u32).min(img.width() - x0);
        let ch = ((w * 1.0) as u32).min(img.height() - y0);
        let mut crop = image::imageops::crop_imm(&img, x0, y0, cw, ch).to_image();
        for (u, d) in idx::LIPS_OPENING {
            for (i, c) in [(u, [255u8, 0, 0]), (d, [0, 255, 0])] {
                let p = m.point(i);
                let (px, py) = (p.x as i64 - x0 as i64, p.y as i64 - y0 as i64);
                if px >= 0 && py >= 0 && (px as u32) < cw && (py as u32) < ch {
                    crop.put_pixel(px as u32, py as u32, image::Rgb(c));
                }
            }
        }
        {
            use capture_kiosk::imaging::lab_of;
            let mut lips = vec![];
            for (o, i) in idx::LIP_THICKNESS {
                let c = m.point(o).midpoint(m.point(i));
                lips.push(lab_of(img.get_pixel(c.x as u32, c.y as u32).0));
            }
            let ml: Vec<String> = lips
                .iter()
                .map(|c| format!("{:.0},{:.0},{:.0}", c[0], c[1], c[2]))
                .collect();
            println!("{path} lips {}", ml.join(" "));
            for (u, d) in idx::LIPS_OPENING {
                let (u, d) = (m.point(u), m.point(d));
                let x = ((u.x + d.x) / 2.0).round() as u32;
                let reach = (w * 0.03).max(1.0);
                let (ya, yb) = ((u.y.min(d.y) - reach) as u32, (u.y.max(d.y) + reach) as u32);
                let col: Vec<String> = (ya..=yb)
                    .map(|y| {
                        let c = lab_of(img.get_pixel(x, y).0);
                        format!("{:.0},{:.0},{:.0}", c[0], c[1], c[2])
                    })
                    .collect();
                println!("   col {}", col.join(" "));
            }
        }
        let big = image::imageops::resize(
            &crop,
            cw * 300 / ch.max(1),
            300,
            image::imageops::FilterType::Nearest,
        );
        let name = std::path::Path::new(&path)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        big.save(format!("/tmp/mouth_{name}.png")).unwrap();
    }
}
