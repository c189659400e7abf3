//! The development set's figures (tests/eval, `kiosk eval`) as a floor the tuned checks must
//! not fall below. Photos: `scripts/fetch-eval-photos`.

use crate::common::run_kiosk;

/// `kiosk eval` on the whole development set: what each tuned check catches and accepts
/// must not fall below what this commit measured (see the figures in the closing note).
#[test]
fn the_development_set_figures_hold() {
    let labels = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/labels.csv");
    let out = run_kiosk(&["eval", "--json", labels.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["calibration"]["checks"].as_array().unwrap();
    let figures = |id: &str| {
        let c = checks.iter().find(|c| c["id"] == id).unwrap();
        let n = |k: &str| c[k].as_f64().unwrap();
        (
            n("caught") / n("defects"),
            1.0 - n("false_alarms") / n("others"),
        )
    };
    // floors at the figures of 595 photos (the 30 party, TV and stock photos added in
    // session 6 brought laughing squints, flash-lit faces and caps the first 248 lacked; the
    // 54 blurred ones of session 13 bring their 18 photos' other results again, and a few
    // that the blur itself changes; the 25 stock portraits of session 14, labelled before any
    // check ran on them, brought hats, beanies, fringes and smiles at 400-800 px; the 46 of
    // session 15, labelled the same way, brought glasses of every kind, eyes cast down, and
    // low-key and black-and-white portraits, and lowered most figures; the 22 of session 16,
    // mostly 128-200 px avatars, brought caps, a headscarf, fringes and eyes cast down; the
    // 48 of session 24, labelled blind and measured held out before they were added, brought
    // 11 glasses, 22 smiles with teeth, 18 turned or tilted heads and laughing squints: 473;
    // the 60 of session 25, labelled and measured the same way, 16 glasses, 25 open mouths
    // and smiles with teeth, 28 turned or tilted heads, mostly stock avatars: 533; the 62 of
    // session 26, the same way, 39 turned or tilted heads, 22 glasses, 18 open mouths, 12
    // hats, mostly styled stock photos and 100-250 px avatars, none compliant: 595; the 31 of
    // session 27, the same way, mostly faces cut out of party, family and press photos at
    // 45-120 px, 13 turned or tilted heads, 11 open mouths, 4 hats and a bow, none
    // compliant: 626; the 53 of session 33, a helper's held-out set of Tabler's avatars and
    // three new packages' portraits with four derived variants: 683)
    for (id, recall, accepted) in [
        // a cap in profile, the face almost dark under coloured light, is no face found
        ("face_count", 1.0, 0.99),
        // the iris shown catches laughing squints the lid opening passed (18 → 20 of 22)
        // session 15's portraits: none of 5 eyes cast down or squeezed in laughter caught; the
        // iris model reads their lids open (0.23-0.30, iris shown 0.59-0.76). Session 16's
        // 22 avatars: 2 of 3 caught (a wink, a head bowed; a 65 px face looking down missed).
        // The attention mesh's refined lids in place of the iris model's share (session 19):
        // 26 -> 32 of 34 caught, 387 -> 386 of 391 accepted. Session 24's 48: 3 of 5 caught
        // (two laughing squints at 0.39 and 0.44 of the iris shown missed): 35/39. Session
        // 25's 60: 3 of 5 caught (a laughing squint, and eyes hidden behind two coins the mesh
        // draws open): 38/44. Session 26's 62: 4 of 8 caught (eyes cast down at a laptop or
        // below the camera, refined iris shown 0.35-0.64; a laugh with the eyes shut, 0.44):
        // 42/52. Session 27's 31: 2 of 4 caught (a grimace with the eyes squeezed to slits and
        // a laugh, refined iris shown 0.54-0.58), 1 of 27 failed wrongly (a profile): 44/56 &
        // 559/568
        ("eyes_open", 0.78, 0.98),
        // teeth no redder than the skin: lip highlights no longer read as teeth (175 → 178 of
        // 182 accepted), and one tinted smile is lost (89 → 88 of 96). The stock portraits:
        // 8 of 9 smiles caught, 3 of 16 others failed (a head turned and tilted away, a finger
        // at the mouth's corner, a black-and-white beard). The mouth's width taken back to face
        // on for a turned head: 9 → 7 of 240 failed wrongly, none caught lost. Session 15's
        // portraits: 17 of 19 caught, 7 of 27 others failed (teeth read in
        // black-and-white mouths, below heavy frames, in a profile). A light run counts as
        // teeth only where it ends within a tenth of the mouth's width past the lips' opening
        // (session 16): 14 → 11 of 267 failed wrongly (skin above two closed mouths, a
        // black-and-white moustache's edge), none caught lost. The blind audit found teeth on 3 mouths labelled closed:
        // one caught, two of grey shadowed teeth missed (126/139 & 254/264). Session 16's 22
        // avatars: 7 of 7 caught, 3 of 15 failed wrongly (a pale pressed lower lip, a 31 px
        // mouth's corners, a chin raised under a cap). The attention mesh's refined inner lips
        // (session 19): 133 -> 138 of 146 caught, 266 of 279 accepted as before. Where they
        // are together the plain gap no longer fails, and teeth are looked for between them
        // (session 20): 266 -> 273 accepted, none caught lost. Session 24's 48: 19 of 22
        // caught (lips barely parted over teeth, refined gaps 0.07-0.12): 157/168. Session
        // 25's 60: 22 of 25 caught (a mouth barely open in speech, a bite of pizza and a shout
        // on heads turned 30-40 degrees, where the mesh draws the lips shut), 2 of 34 failed
        // wrongly (black-and-white: closed lips the parsing calls open, a beard's seam read as
        // teeth): 179/193 & 330/338. Session 26's 62: 17 of 18 caught, 11 of 44 failed
        // wrongly, most of them styled portraits with the lips just parted, which the blind
        // labeller called closed: 196/211 & 363/382. Session 27's 31: 10 of 11 caught (a
        // fingertip between the teeth in profile missed), 2 of 20 failed wrongly (a pout, a
        // 45 px moustache): 206/222 & 381/402. Session 33 looked at every mouth labelled
        // closed again, enlarged: 24 show teeth (some two tips only), relabelled with their
        // variants, which the measures then caught at 215/270 & 342/354; teeth told by their
        // colour between the refined lips: 231/270 & 342/354 (the rest mostly 52 px video
        // mouths and teeth in deep shade). Session 37: the parsing's mouth-interior limit
        // follows the relabelled set (0.05 → 0.02; closed mouths no other rule fails read
        // ≤ 0.018, slivers of teeth 0.021-0.044): 247 -> 256 of 286 caught, 380 of 397
        // accepted as before
        ("mouth_closed", 0.88, 0.96),
        // blurred, three bare faces read as frames to the parsing (two out of focus, one moved)
        // a dim crop brightened before parsing (session 24): 377 -> 379 of 385 accepted.
        // Session 24's 48: 10 of 11 caught (tortoiseshell frames on a head turned 30 degrees
        // missed), 2 of 37 failed wrongly by frame lines (a frown's fold at the bridge).
        // Session 25's 60: 15 of 16 caught (thin frames on a 40 px face missed), 3 of 43
        // failed wrongly by frame lines the parsing does not see (hair across a profile, a
        // smile's folds beside a phone, a frown): 64/66 & 454/465. Session 26's 62: 21 of 22
        // caught, 4 of 40 failed wrongly (frame lines on bare faces the parsing does not see
        // as glasses, and one it does): 85/88 & 490/505. Where the parsing read a face 110 px
        // wide or more and saw no glasses, the frame lines' limit is 13.5 (session 26): 7 bare
        // faces pass (folds, a hat's shadow, hair across a profile), none caught lost:
        // 85/88 & 497/505
        ("glasses", 0.96, 0.98),
        // fair faces exposed right at a mean of 200-218 pass where their red is not burnt
        // out (session 24): 372 -> 375 of 382 accepted, none caught lost. Session 25's 60: a
        // warm glow at a mean of 185 missed, 3 of 58 failed wrongly (high-key portraits at
        // 202-230 with their highlights clipped): 40/43 & 477/488. Skin burnt to white counted
        // on what the parsing calls skin (session 26): a white backdrop, a brim and a glint on
        // sunglasses inside the face's outline no longer fail a face exposed right (a fair,
        // bright face burnt at the nose does), and a small face brightened 1.4x, caught only
        // by its backdrop, is lost: 40/43 & 477/488 -> 39/43 & 478/488. Session 26's 62: no
        // exposure defect, 4 failed wrongly: 39/43 & 536/550
        ("exposure", 0.9, 0.97),
        // the light of every real photo judged blind (session 15): 3 half-shadowed faces, of
        // which the two turned past the yaw limit are not judged (the pose fails them); a turned
        // head's sides are not compared, so 38 → 26 of 346 fail wrongly, most of them lit from
        // one side more gently than a reviewer rejects, and come back blurred or dimmed.
        // Session 15's portraits: 2 of their 3 half-shadowed faces are turned past the yaw
        // limit, where the light is not judged: missed by design, the pose fails them. A
        // photo with no face found (a cap in profile under coloured light) is left out of
        // every face check's figures since session 21, no longer "caught" by them: 10/14 ->
        // 9/13. Read on the skin the parsing finds in the boxes (session 22): hair down one
        // cheek or across one side of the forehead is no longer shadow, 377 -> 385 of 411
        // accepted, none caught lost. Session 24's 48: 4 of 48 failed wrongly (a beard the
        // parsing calls skin, faces lit softly from a window): 429/459. Session 26's 62: 1 of
        // 4 caught (the other three on heads turned past the limit, not judged), 8 of 58
        // failed wrongly (side light at 0.28-0.71 the blind labeller called even): 11/18 &
        // 533/575
        // Session 33's 53 (a helper's blind held-out set, mostly Tabler's avatars): 1 of 1
        // caught (a derived side light), 9 of 56 failed wrongly (one cheek darker under a
        // studio light the blind eye called even): 12/19 & 608/662
        ("light_uniformity", 0.61, 0.91),
        // session 16's blind audit moved head pose off 4 video frames under the limits and
        // onto 2 heads tilted about 14 degrees (82/94 & 283/309 -> 84/92 & 287/311). Session
        // 16's 22 avatars: 7 of 9 caught, 3 of 13 failed wrongly (two at pitch 21-22 on faces
        // by eye straight, as tp_audrey; one turned 20 degrees, by eye not). Pitch judged
        // from the +4 degrees the mesh reads on level heads (session 17): 91/101 & 297/324 ->
        // 92/101 & 309/324 (tp_audrey and its 9 variants, 3 more level portraits pass; two
        // raised chins caught, one bowed head and one webcam frame at -18.9 lost)
        // Session 24's 48: 15 of 18 caught (two heads bowed over a tablet, one turned 15
        // degrees), 4 of 30 failed wrongly (rolls of 10-11 degrees a blind eye called
        // "unsure"): 106/118 & 335/354. Session 26's 62: 29 of 39 caught (rolls of 4-10 and
        // pitches of 9-16 degrees a blind eye called tilted; tighter limits fail more
        // compliant heads of the set than they catch), 1 of 23 failed wrongly: 161/185 &
        // 386/408. Session 27's 31: 12 of 13 caught (a press photo turned about 15 degrees,
        // read 5), 4 of 18 failed wrongly (rolls of 12-13 and a yaw of 16-18 degrees in party
        // snapshots the blind eye called straight or unsure): 173/198 & 400/426
        // Session 33's 53: 10 of 14 caught (a wink's tilt, heads turned 20-25 degrees that
        // read 12-14), 9 of 43 failed wrongly (rolls of 12-19 and pitches of 22-28 degrees
        // on faces the blind eye called near-frontal or slightly tilted): 183/212 & 434/469
        ("head_pose", 0.86, 0.92),
        // the parsing alone decides: dark hair no longer reads as a hat (7 → 1 wrong failures);
        // a sun hat that reads 0.21 against 0.2 is lost when softened (0.14 at 0.5 px; of the
        // head, 0.34 and 0.24 against 0.21, caught since session 18). With
        // the crop mirrored past the picture's edge, hair cut off at the top is no longer a
        // hat (1 → 0), and a brim that is a sliver along the top edge is not one either (8 → 7
        // of 13: it was caught only because the stripes drawn out of it read as a hat). The
        // stock portraits: 8 of 8 hats, beanies and a hood caught, no other photo failed.
        // The hat's share taken of the head, not of the crop (session 18): a side cap on a
        // head in profile and a softened wide brim caught (23 → 25 of 32), no other photo failed.
        // Judged on a face whose highlights read as washed out (session 21): a trilby caught;
        // the cap in profile with no face found left out of the figures: 25/31. Session 26's
        // 62: 10 of 12 caught (a cap on a 100 px avatar, a hood pushed back on the crown
        // missed), 1 of 50 failed wrongly (a wig's blunt bangs): 42/50 & 542/543. Session
        // 27's 31: 1 of 4 caught (a paper party hat on a 70 px face, a bow, which the parsing
        // has no class for, and sunglasses pushed up on the head missed), 1 of 27 failed
        // wrongly (dark hair against a dark backdrop on a 40 px face): 43/54 & 568/570
        // Session 33's 53: 2 of 4 caught (a flower crown and a fedora on 128 px faces, a
        // black-and-white one turned 30 degrees, missed; the parsing reads neither), none
        // failed wrongly: 45/58 & 621/623
        ("headwear", 0.77, 0.995),
        // the face parsing: 10 of 11 fringes (1 of 11 before it); two hats and curls it fails
        // wrongly come back blurred, and a portrait with glasses fails once blurred. The stock
        // portraits: 2 of 4 fringes caught; a brim over the brows under a hat the parsing
        // sees is the hat's, not hair (a cap, a beanie and a felt hat failed it wrongly before).
        // Where the parsing sees next to no hair over the brows and the face itself around
        // them, the colour measures do not fail them (session 22): 383 -> 385 of 401 accepted
        // (dark brows, a face in close-up), none caught lost
        // Session 24's 48: 4 of 4 fringes caught, 1 of 44 failed wrongly. Session 25's 60: 4
        // of 5 caught (hair over a brow on a head turned away missed), 3 of 54 failed wrongly:
        // 28/32 & 479/499. Clear lenses (as light as the skin) count with the face where the
        // parsing sees the brows bare (session 25): 479 -> 482 of 499 accepted, none caught
        // lost; a dark band across the eyes, which the parsing calls frames too, still fails.
        // Session 26's 62: 5 of 6 caught, 10 of 56 failed wrongly by the colour measures,
        // nearly all on heads turned or tilted away, hands at the brow, coloured light: 33/38 &
        // 528/555. The brows are bare to the parsing with the face itself over 0.28 of the
        // band (0.5 before) and no hair there: a head thrown back, a near profile, heavy
        // frames and a blurred turned head pass, none caught lost: 528 -> 533 of 555
        ("hair_occlusion", 0.86, 0.96),
        // the weakest direction above the noise, on a grid no face leaves empty: 42 of 43
        // blurred or moved faces caught (14 before: none moved, no small face), 1 of 289
        // others failed (0). Session 25's 60: a soft, grainy grey photo missed: 43/45.
        // Session 27's 31: 4 of 5 soft party-photo crops caught (one read 10.6), 1 of 26
        // failed wrongly (a dim one): 47/50
        ("sharpness", 0.94, 0.99),
    ] {
        let (r, a) = figures(id);
        assert!(r >= recall, "{id}: caught {r:.3}, below {recall}");
        assert!(a >= accepted, "{id}: accepted {a:.3}, below {accepted}");
    }
    // the compliant photos that pass every check of the person, framing aside (session 43:
    // 29 of 45; light_uniformity fails 8 of the 16 others, head_pose 4)
    let calibration = &v["calibration"];
    let (passed, compliant) = (
        calibration["compliant_subject_passed"].as_u64().unwrap(),
        calibration["compliant"].as_u64().unwrap(),
    );
    assert!(
        passed * 45 >= 29 * compliant,
        "compliant photos passing the person's checks: {passed} of {compliant}, below 29 of 45"
    );
}
