//! The voice that guides (issue 16): a simulated session's audio is rendered to a WAV file
//! through the kiosk's own narrator and mixer, fed frame by frame with raw prompts through the
//! live guide's steadiness rule; the WAV is read back and every clip in it is found by its
//! samples, so a clip cut short or two clips overlapping cannot pass.

use capture_kiosk::guidance::{Prompt, Steadiness};
use capture_kiosk::kiosk::voice::{
    self, mixer, ClipBank, Cue, Lang, Mixer, Moment, Narrator, Sink, Voice, VoiceSettings, WavSink,
    RATE,
};
use capture_kiosk::session::Screen;
use std::sync::Arc;

const FRAME_MS: u64 = 33;

fn bank() -> Arc<ClipBank> {
    Arc::new(ClipBank::load(&voice::clips_dir()).expect("the shipped clips load"))
}

/// A kiosk session in simulated time: 30 frames a second, the audio rendered as it goes.
struct Sim {
    mixer: Mixer,
    narrator: Narrator,
    steady: Steadiness,
    sink: Box<dyn Sink>,
    screen: Screen,
    now_ms: u64,
}

impl Sim {
    fn new(bank: Arc<ClipBank>, lang: Lang, volume: u8, wav: &std::path::Path) -> Sim {
        let mut mixer = Mixer::new(bank);
        mixer.set_lang(lang);
        mixer.set_volume(volume);
        Sim {
            mixer,
            narrator: Narrator::default(),
            steady: Steadiness::default(),
            sink: Box::new(WavSink::create(wav).expect("the WAV file is created")),
            screen: Screen::Idle,
            now_ms: 0,
        }
    }

    /// `n` frames on `screen`; `raw(i)` is frame i's raw prompt from the guide (before its
    /// steadiness rule), on the live screen.
    fn frames(&mut self, n: usize, screen: Screen, countdown: bool, raw: impl Fn(usize) -> Prompt) {
        if screen == Screen::Live && self.screen != Screen::Live {
            // the camera starts: the guide forgets the last candidate (LiveGuide::reset)
            self.steady = Steadiness::default();
        }
        self.screen = screen;
        for i in 0..n {
            let prompt = (screen == Screen::Live).then(|| self.steady.settle(raw(i)));
            self.narrator.observe(
                Moment {
                    screen,
                    prompt,
                    countdown,
                },
                &mut self.mixer,
            );
            self.now_ms += FRAME_MS;
            let due = (mixer::ms_to_samples(self.now_ms) - self.mixer.clock()) as usize;
            let mut buf = vec![0i16; due];
            self.mixer.render(&mut buf);
            self.sink
                .write(&buf)
                .expect("the WAV file takes the samples");
        }
    }

    fn quiet(&mut self, n: usize, screen: Screen) {
        self.frames(n, screen, false, |_| Prompt::NoFace);
    }

    fn finish(self) -> Mixer {
        self.sink.finish().expect("the WAV file is written");
        self.mixer
    }
}

/// A clip found in the audio: which, and its first and last sample.
#[derive(Debug)]
struct Found {
    cue: Cue,
    start: usize,
    end: usize,
}

/// Finds every clip in `wav` by its samples at `volume`: each stretch of sound must be one
/// whole clip, sample for sample, or this fails naming where.
fn find_clips(wav: &[i16], bank: &ClipBank, lang: Lang, volume: u8) -> Result<Vec<Found>, String> {
    let scaled: Vec<(Cue, Vec<i16>, usize)> = Cue::ALL
        .iter()
        .map(|&cue| {
            let s: Vec<i16> = bank
                .samples(cue, lang)
                .iter()
                .map(|&x| (i32::from(x) * i32::from(volume) / 100) as i16)
                .collect();
            let lead = s.iter().position(|&x| x != 0).unwrap_or(0);
            (cue, s, lead)
        })
        .collect();
    let mut found = Vec::new();
    let mut p = 0;
    while p < wav.len() {
        if wav[p] == 0 {
            p += 1;
            continue;
        }
        let hit = scaled
            .iter()
            .filter(|(_, s, lead)| {
                p >= *lead
                    && p - lead + s.len() <= wav.len()
                    && wav[p - lead..p - lead + s.len()] == s[..]
            })
            .max_by_key(|(_, s, _)| s.len());
        let Some((cue, s, lead)) = hit else {
            return Err(format!(
                "the sound at {:.3} s is no whole clip (a clip cut short, or two overlapping)",
                p as f64 / f64::from(RATE)
            ));
        };
        found.push(Found {
            cue: *cue,
            start: p - lead,
            end: p - lead + s.len(),
        });
        p = p - lead + s.len();
    }
    Ok(found)
}

fn read_wav(path: &std::path::Path) -> Vec<i16> {
    let reader = hound::WavReader::open(path).expect("the WAV file reads back");
    assert_eq!(reader.spec().sample_rate, RATE);
    assert_eq!(reader.spec().channels, 1);
    reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples")
}

/// One candidate: the live screen with flickering prompts, a prompt that comes and goes while
/// another clip plays, the countdown, the shutter and the result screens.
fn session(lang: Lang, volume: u8, wav: &std::path::Path) -> Mixer {
    let mut sim = Sim::new(bank(), lang, volume, wav);
    sim.quiet(30, Screen::Identify);
    // 2 s of "come closer", with a single-frame "look straight" every 7th frame and a
    // two-frame "glasses" at frame 40: the steadiness rule shows neither
    sim.frames(60, Screen::Live, false, |i| match i {
        40 | 41 => Prompt::TakeOffGlasses,
        i if i % 7 == 3 => Prompt::LookStraight,
        _ => Prompt::MoveCloser { cm: 20 },
    });
    // "move left" on show for about 0.4 s, over while "come closer" is still being said
    sim.frames(15, Screen::Live, false, |_| Prompt::MoveLeft);
    // 5 s of "take off your glasses", flickering "close your lips" on single frames
    sim.frames(150, Screen::Live, false, |i| {
        if i % 9 == 4 {
            Prompt::CloseLips
        } else {
            Prompt::TakeOffGlasses
        }
    });
    // all is well: quiet, then the countdown (3 s) says "hold still, 3, 2, 1"
    sim.frames(40, Screen::Live, false, |_| Prompt::HoldStill);
    sim.frames(91, Screen::Live, true, |_| Prompt::HoldStill);
    sim.quiet(45, Screen::Checks);
    sim.quiet(120, Screen::Confirm);
    sim.quiet(120, Screen::Receipt);
    sim.quiet(150, Screen::Idle);
    sim.finish()
}

fn check_session(lang: Lang) {
    let volume = 70;
    let wav = common_scratch(&format!("session-{}.wav", lang.folder()));
    let mixer = session(lang, volume, &wav);
    let audio = read_wav(&wav);
    assert_eq!(
        audio.len() as u64,
        mixer.clock(),
        "every rendered sample is in the file"
    );

    let found = find_clips(&audio, &bank(), lang, volume).unwrap_or_else(|e| panic!("{e}"));
    let said: Vec<Cue> = found.iter().map(|f| f.cue).collect();
    assert_eq!(
        said,
        vec![
            Cue::LookAtCamera,
            Cue::MoveCloser,
            Cue::TakeOffGlasses,
            Cue::Countdown,
            Cue::PhotoTaken,
            Cue::ConfirmPhoto,
            Cue::AllDone,
        ],
        "{lang:?}: the clips heard, in order (no flicker, no stale \"move left\")"
    );
    // one at a time, a gap between two
    for pair in found.windows(2) {
        let gap = pair[1].start - pair[0].end;
        assert!(
            gap as u64 >= mixer::ms_to_samples(mixer::GAP_MS),
            "{:?} follows {:?} after only {gap} samples",
            pair[1].cue,
            pair[0].cue
        );
    }
    // the mixer's own log agrees with what the file holds
    let logged: Vec<(Cue, u64, u64)> = mixer.played().map(|p| (p.cue, p.start, p.end)).collect();
    let heard: Vec<(Cue, u64, u64)> = found
        .iter()
        .map(|f| (f.cue, f.start as u64, f.end as u64))
        .collect();
    assert_eq!(logged, heard);
    let seconds = |s: usize| s as f64 / f64::from(RATE);
    eprintln!(
        "{lang:?}: {}",
        found
            .iter()
            .map(|f| format!(
                "{} {:.2}–{:.2} s",
                f.cue.name(),
                seconds(f.start),
                seconds(f.end)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn common_scratch(name: &str) -> std::path::PathBuf {
    crate::common::scratch("voice", name)
}

#[test]
fn a_simulated_session_says_each_prompt_whole_once_and_in_order_in_mandarin() {
    check_session(Lang::Zh);
}

#[test]
fn a_simulated_session_speaks_english_when_the_kiosk_is_in_english() {
    check_session(Lang::En);
}

#[test]
fn a_prompt_on_show_is_said_again_only_after_a_pause() {
    let wav = common_scratch("repeat.wav");
    let mut sim = Sim::new(bank(), Lang::Zh, 100, &wav);
    // 14 s of "too dark"
    sim.frames(420, Screen::Live, false, |_| Prompt::TooDark);
    // the candidate leaves: the clip playing ends as it would
    sim.quiet(200, Screen::Idle);
    sim.finish();
    let found =
        find_clips(&read_wav(&wav), &bank(), Lang::Zh, 100).unwrap_or_else(|e| panic!("{e}"));
    let starts: Vec<usize> = found
        .iter()
        .filter(|f| f.cue == Cue::TooDark)
        .map(|f| f.start)
        .collect();
    assert!(starts.len() >= 2, "said once in 14 s: {starts:?}");
    for pair in found.windows(2) {
        let pause = (pair[1].start - pair[0].end) as u64;
        assert!(
            pause >= mixer::ms_to_samples(mixer::REPEAT_AFTER_MS) || pair[0].cue != pair[1].cue,
            "{:?} said again after {pause} samples",
            pair[1].cue
        );
    }
}

#[test]
fn muting_silences_the_clip_playing_and_starts_no_other() {
    let wav = common_scratch("mute.wav");
    let mut sim = Sim::new(bank(), Lang::Zh, 100, &wav);
    sim.frames(20, Screen::Live, false, |_| Prompt::MoveBack { cm: 10 });
    sim.mixer.set_muted(true);
    sim.frames(300, Screen::Live, false, |_| Prompt::MoveBack { cm: 10 });
    sim.frames(91, Screen::Live, true, |_| Prompt::HoldStill);
    let mixer = sim.finish();
    let audio = read_wav(&wav);
    // what is heard is the start of "step back" only, then silence
    let first_silent = audio.iter().rposition(|&s| s != 0).map_or(0, |p| p + 1);
    let clip = bank().samples(Cue::MoveBack, Lang::Zh).len();
    assert!(
        first_silent > 0 && first_silent < clip,
        "{first_silent} of {clip}"
    );
    assert_eq!(mixer.played().count(), 1, "no clip starts while muted");
}

#[test]
fn the_shipped_clips_are_the_vocabulary_in_both_languages() {
    let dir = voice::clips_dir();
    let bank = bank();
    // the rendering script's list and the kiosk's cues name the same clips, in one order
    let tsv = std::fs::read_to_string(dir.join("../vocabulary.tsv")).expect("vocabulary.tsv");
    let names: Vec<&str> = tsv
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect();
    let cues: Vec<&str> = Cue::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, cues);
    let mut bytes = 0;
    for lang in [Lang::Zh, Lang::En] {
        for cue in Cue::ALL {
            let s = bank.samples(cue, lang);
            let secs = s.len() as f64 / f64::from(RATE);
            assert!((0.4..7.0).contains(&secs), "{lang:?} {cue:?}: {secs:.2} s");
            let rms =
                (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
            assert!(
                rms > 500.0,
                "{lang:?} {cue:?} is nearly silent (rms {rms:.0})"
            );
            bytes += std::fs::metadata(dir.join(lang.folder()).join(format!("{}.wav", cue.name())))
                .expect("clip")
                .len();
        }
    }
    assert!(bytes < 5_000_000, "the clips take {bytes} bytes");
    // the countdown's clip lasts about as long as the countdown (3 s)
    let countdown = bank.samples(Cue::Countdown, Lang::Zh).len() as f64 / f64::from(RATE);
    assert!((2.0..4.0).contains(&countdown), "{countdown:.2} s");
}

#[test]
fn without_an_audio_device_or_clips_the_kiosk_carries_on_silent() {
    let mut v = Voice::start(
        &voice::clips_dir(),
        "no-such-alsa-device",
        VoiceSettings::default(),
    );
    assert!(!v.speaking());
    v.observe(Moment {
        screen: Screen::Live,
        prompt: Some(Prompt::MoveLeft),
        countdown: false,
    });
    v.announce(Cue::PhotoTaken);
    let v = Voice::start(
        std::path::Path::new("/nonexistent/clips"),
        voice::DEVICE,
        VoiceSettings::default(),
    );
    assert!(!v.speaking());
}

/// Staff set the volume and mute on the staff menu; the choice is kept in the database, like
/// the printer's, and the menu shows it.
#[test]
fn staff_change_the_volume_and_mute_on_the_staff_menu() {
    use capture_kiosk::kiosk::demo::{headless_kiosk, Driver};
    use capture_kiosk::kiosk::{Kiosk, KioskOptions};
    use capture_kiosk::store::Store;
    use slint::ComponentHandle;

    let data = crate::common::hubs::fresh_dir("voice-staff", "data");
    Store::open(&data.join("kiosk.sqlite"))
        .unwrap()
        .set_setting(voice::VOLUME_KEY, "40")
        .unwrap();
    let shots = crate::common::hubs::fresh_dir("voice-staff", "screens");
    let opts = KioskOptions::new(data.clone());
    let catalog = capture_kiosk::catalog::Catalog::shipped().unwrap();
    let (ui, app) = headless_kiosk(&opts, catalog, false).unwrap();
    let mut d = Driver::new(&ui, app.clone(), &shots, "voice");
    d.tap_id("Header::staff-corner").unwrap();
    d.type_keys("123456").unwrap();
    d.wait_for("the staff menu", 5, |a| a.screen() == Screen::StaffMenu)
        .unwrap();
    let shown = |app: &capture_kiosk::kiosk::app::App| {
        let w = app.ui.upgrade().expect("the window");
        let k = w.global::<Kiosk>();
        (k.get_voice_volume(), k.get_voice_muted())
    };
    assert_eq!(shown(&app.borrow()), (40, false), "the stored volume shows");
    // each tap the next setting: 40 → 20 → muted → 100
    d.tap_id("StaffMenuScreen::voice-btn").unwrap();
    assert_eq!(shown(&app.borrow()), (20, false));
    d.tap_id("StaffMenuScreen::voice-btn").unwrap();
    d.save("staff-menu").unwrap();
    assert_eq!(shown(&app.borrow()), (20, true));
    let stored = VoiceSettings::from_store(&app.borrow().store).unwrap();
    assert_eq!((stored.volume, stored.muted), (20, true));
    d.tap_id("StaffMenuScreen::voice-btn").unwrap();
    assert_eq!(shown(&app.borrow()), (100, false));
}

/// A countdown that stops (the candidate moved) before its turn to be said is not said late.
#[test]
fn a_countdown_that_stopped_before_its_turn_is_not_said() {
    let wav = common_scratch("stopped-countdown.wav");
    let mut sim = Sim::new(bank(), Lang::Zh, 100, &wav);
    // the live screen opens: "look at the camera" plays for about 1.5 s; meanwhile the
    // countdown starts and stops again
    sim.frames(6, Screen::Live, false, |_| Prompt::HoldStill);
    sim.frames(12, Screen::Live, true, |_| Prompt::HoldStill);
    sim.frames(120, Screen::Live, false, |_| Prompt::MoveBack { cm: 10 });
    sim.quiet(100, Screen::Idle);
    sim.finish();
    let found =
        find_clips(&read_wav(&wav), &bank(), Lang::Zh, 100).unwrap_or_else(|e| panic!("{e}"));
    let said: Vec<Cue> = found.iter().map(|f| f.cue).collect();
    assert_eq!(said, vec![Cue::LookAtCamera, Cue::MoveBack]);
}

/// The real device path: the player thread writes through ALSA (its `file` plugin stands in
/// for a sound card: this machine has none), and the clip comes out whole at 16 kHz.
#[test]
fn the_player_speaks_a_whole_clip_through_alsa() {
    let raw = common_scratch("alsa-device.raw");
    let _ = std::fs::remove_file(&raw);
    let device = format!("file:FILE={},FORMAT=raw", raw.display());
    let mut v = Voice::start(
        &voice::clips_dir(),
        &device,
        VoiceSettings {
            volume: 100,
            muted: false,
        },
    );
    assert!(v.speaking(), "ALSA's file device opens at 16 kHz mono");
    v.announce(Cue::PhotoTaken);
    let clip = bank().samples(Cue::PhotoTaken, Lang::Zh).len() as u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let written = || std::fs::metadata(&raw).map_or(0, |m| m.len());
    // the clip and half a second after it
    while written() < (clip + u64::from(RATE) / 2) * 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(v);
    let bytes = std::fs::read(&raw).expect("ALSA wrote the file");
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // ALSA's null device behind the file takes samples as fast as they come: megabytes
    let _ = std::fs::remove_file(&raw);
    let found = find_clips(&samples, &bank(), Lang::Zh, 100).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found.first().map(|f| f.cue),
        Some(Cue::PhotoTaken),
        "{found:?}"
    );
}

/// `kiosk staff voice` sets what the staff menu's button sets, in the same database.
#[test]
fn kiosk_staff_voice_sets_the_volume_and_mute_from_a_terminal() {
    use capture_kiosk::store::Store;
    let dir = crate::common::hubs::fresh_dir("voice-cli", "data");
    let db = dir.join("kiosk.sqlite");
    drop(Store::open(&db).unwrap());
    let db_arg = db.to_str().unwrap();
    let out =
        crate::common::run_kiosk(&["staff", "voice", "--db", db_arg, "--volume", "30", "--mute"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = VoiceSettings::from_store(&Store::open(&db).unwrap()).unwrap();
    assert_eq!((s.volume, s.muted), (30, true));
    let out = crate::common::run_kiosk(&["staff", "voice", "--db", db_arg, "--unmute"]);
    assert!(out.status.success());
    let s = VoiceSettings::from_store(&Store::open(&db).unwrap()).unwrap();
    assert_eq!((s.volume, s.muted), (30, false));
    let out = crate::common::run_kiosk(&["staff", "voice", "--db", db_arg, "--volume", "101"]);
    assert_eq!(out.status.code(), Some(2), "a volume over 100 is refused");
}
