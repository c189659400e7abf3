//! The real reader driver against the simulated reader through a real pseudo-terminal: reads,
//! every wire fault, a card swap, a lifted card, an unplug and the recovery after it.

use capture_kiosk::reader::card::CardType;
use capture_kiosk::reader::driver::{IdCardReader, PollOutcome, ReaderConfig, ReaderError};
use capture_kiosk::reader::simulator::{CardDeck, Faults, SimulatedReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn deck() -> CardDeck {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hardware/reader/demo-cards.toml"
    ))
    .unwrap();
    CardDeck::from_toml(&text).unwrap()
}

fn link(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reader");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn config(path: &std::path::Path) -> ReaderConfig {
    let mut c = ReaderConfig::new(path);
    c.command_timeout = Duration::from_millis(800);
    c
}

/// Polls until a card is read or `limit` passes.
fn read_card(
    reader: &mut IdCardReader,
    limit: Duration,
) -> Option<Box<capture_kiosk::reader::driver::CardRead>> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        match reader.poll() {
            Ok(PollOutcome::Card(c)) => return Some(c),
            Ok(_) | Err(ReaderError::Timeout(..)) | Err(ReaderError::Status(..)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn reads_every_card_layout_end_to_end_within_the_time_budget() {
    let sim = SimulatedReader::start(deck(), Faults::default(), &link("plain")).unwrap();
    let mut reader = IdCardReader::open(config(sim.path())).unwrap();
    assert!(matches!(reader.poll().unwrap(), PollOutcome::NoCard));
    let expected = [
        (CardType::Resident, "张𠀀明", true, false),
        (CardType::Resident, "阿依古丽·买买提", true, false),
        (CardType::HkMacaoTaiwanPermit, "陈家乐", true, true),
        (CardType::ForeignPermanent2017, "马克", true, false),
        (CardType::ForeignPermanent2023, "安娜", true, false),
    ];
    for (i, (kind, name, valid, expired)) in expected.into_iter().enumerate() {
        sim.present(i);
        let started = Instant::now();
        let read = read_card(&mut reader, Duration::from_secs(3)).expect("card read");
        let took = started.elapsed();
        assert_eq!(read.card.card_type, kind);
        assert_eq!(read.card.name, name);
        assert_eq!(read.id_number_valid, valid, "{}", read.card.id_number);
        assert_eq!(read.expired, expired);
        assert_eq!(read.photo_wlt.len(), 1024);
        assert!(took < Duration::from_millis(1500), "{took:?}");
        eprintln!("{name}: read in {:.0} ms", took.as_secs_f64() * 1000.0);
        sim.lift();
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(deck().cards[1].valid_to, "长期");
}

#[test]
fn a_card_is_read_once_until_it_is_lifted_and_presented_again() {
    let sim = SimulatedReader::start(deck(), Faults::default(), &link("lift")).unwrap();
    let mut reader = IdCardReader::open(config(sim.path())).unwrap();
    sim.present(0);
    assert!(read_card(&mut reader, Duration::from_secs(3)).is_some());
    for _ in 0..5 {
        let p = reader.poll().unwrap();
        assert!(
            matches!(p, PollOutcome::NoCard | PollOutcome::AwaitingLift),
            "{p:?}"
        );
    }
    // swap: lift the first card, present another
    sim.lift();
    sim.present(1);
    let second = read_card(&mut reader, Duration::from_secs(3)).unwrap();
    assert_eq!(second.card.name, "阿依古丽·买买提");
}

#[test]
fn every_wire_fault_is_survived() {
    for faults in [
        "split",
        "garbage",
        "bad-checksum",
        "slow",
        "silent",
        "sam-error",
        "split,garbage,bad-checksum,silent",
    ] {
        let f = Faults::parse(faults).unwrap();
        let sim = SimulatedReader::start(
            deck(),
            f,
            &link(&format!("fault-{}", faults.replace(',', "-"))),
        )
        .unwrap();
        let mut c = config(sim.path());
        c.sam_check_every = Duration::ZERO;
        let mut reader = IdCardReader::open(c).unwrap();
        sim.present(0);
        let read = read_card(&mut reader, Duration::from_secs(8))
            .unwrap_or_else(|| panic!("{faults}: no read"));
        assert_eq!(read.card.name, "张𠀀明", "{faults}");
        let s = &reader.stats;
        match faults {
            "garbage" => assert!(s.garbage_bytes > 0, "{s:?}"),
            "bad-checksum" => assert!(s.damaged_frames > 0, "{s:?}"),
            "silent" => assert!(s.timeouts > 0, "{s:?}"),
            "sam-error" => assert!(s.sam_resets > 0, "{s:?}"),
            _ => {}
        }
    }
}

#[test]
fn unplug_and_replug_recover_without_a_restart() {
    let sim = SimulatedReader::start(deck(), Faults::default(), &link("unplug")).unwrap();
    let mut reader = IdCardReader::open(config(sim.path())).unwrap();
    assert!(matches!(reader.poll().unwrap(), PollOutcome::NoCard));
    sim.unplug();
    std::thread::sleep(Duration::from_millis(100));
    let mut saw_disconnect = false;
    for _ in 0..20 {
        if matches!(reader.poll(), Ok(PollOutcome::Disconnected)) {
            saw_disconnect = true;
            break;
        }
    }
    assert!(saw_disconnect);
    assert!(!reader.is_connected());
    sim.replug();
    sim.present(3);
    let read = read_card(&mut reader, Duration::from_secs(4)).expect("read after replug");
    assert_eq!(read.card.english_name, "SMITH, MARK JOHN");
    assert_eq!(reader.stats.reconnects, 1);
}

#[test]
fn a_missing_port_is_named() {
    let err = IdCardReader::open(ReaderConfig::new("/dev/serial/by-id/no-such-reader"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("no-such-reader"), "{err}");
}
