//! `kiosk reader read` and `kiosk reader simulate`.

use super::say;
use anyhow::{anyhow, Context, Result};
use capture_kiosk::reader::driver::{IdCardReader, PollOutcome, ReaderConfig, ReaderError};
use capture_kiosk::reader::simulator::{CardDeck, Faults, SimulatedReader};
use capture_kiosk::reader::wlt::{chip_photo, ChipPhoto, UnpackOrder, WltDecoder};
use clap::{Args, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum ReaderCommand {
    /// Wait for a card on a reader and print what it says.
    Read(ReadArgs),
    /// Run a simulated reader on a pseudo-terminal and print its device path.
    Simulate(SimulateArgs),
}

#[derive(Args)]
pub struct ReadArgs {
    /// Serial port, best a stable /dev/serial/by-id/... name.
    #[arg(long)]
    port: PathBuf,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Seconds to wait for a card.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    #[arg(long)]
    json: bool,
    /// The reader vendor's licensed chip-photo decoder (e.g. /opt/vendor/libwlt.so).
    #[arg(long)]
    wlt_lib: Option<PathBuf>,
    /// Its decoding function.
    #[arg(long, default_value = "unpack")]
    wlt_symbol: String,
    /// Whether that function takes the destination buffer first.
    #[arg(long)]
    wlt_destination_first: bool,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// Cards to hold (TOML with [[cards]]); default: the shipped demo cards.
    #[arg(long)]
    card: Option<PathBuf>,
    /// Faults to put on the wire: split, garbage, bad-checksum, slow, silent, sam-error.
    #[arg(long, default_value = "")]
    faults: String,
    /// Where the device appears (a symlink to the pseudo-terminal).
    #[arg(long, default_value = "/tmp/kiosk-reader")]
    link: PathBuf,
    /// Seconds each card lies on the reader, and the pause before the next one.
    #[arg(long, default_value_t = 3.0)]
    hold: f64,
    #[arg(long, default_value_t = 2.0)]
    gap: f64,
    /// No schedule: take `present N`, `lift`, `unplug`, `replug`, `quit` lines on stdin.
    #[arg(long)]
    manual: bool,
}

pub fn run(cmd: ReaderCommand) -> Result<ExitCode> {
    match cmd {
        ReaderCommand::Read(a) => read(a),
        ReaderCommand::Simulate(a) => simulate(a),
    }
}

fn read(a: ReadArgs) -> Result<ExitCode> {
    let mut config = ReaderConfig::new(&a.port);
    config.baud = a.baud;
    let mut reader = match IdCardReader::open(config) {
        Ok(r) => r,
        Err(e @ (ReaderError::PortMissing(_) | ReaderError::Open { .. })) => {
            eprintln!("kiosk: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let order = if a.wlt_destination_first {
        UnpackOrder::DestinationFirst
    } else {
        UnpackOrder::SourceFirst
    };
    let decoder = match &a.wlt_lib {
        Some(path) => match WltDecoder::load(path, &a.wlt_symbol, order) {
            Ok(d) => Some(d),
            Err(e) => {
                // the card is still worth reading: the chip photo is just not available
                eprintln!("kiosk: {e}; the chip photo will be unavailable");
                None
            }
        },
        None => None,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout.max(0.0));
    let mut last_problem = None;
    while Instant::now() < deadline {
        match reader.poll() {
            Ok(PollOutcome::Card(c)) => {
                let card = &c.card;
                let photo = match chip_photo(decoder.as_ref(), &c.photo_wlt) {
                    ChipPhoto::Decoded(img) => format!("decoded {}×{}", img.width(), img.height()),
                    ChipPhoto::Unavailable(why) => format!("unavailable: {why}"),
                };
                if a.json {
                    let mut v = serde_json::to_value(card)?;
                    v["id_number_valid"] = c.id_number_valid.into();
                    v["expired"] = c.expired.into();
                    v["photo_wlt_bytes"] = c.photo_wlt.len().into();
                    v["chip_photo"] = photo.into();
                    say(v);
                } else {
                    say(format!(
                        "{} {} {} {}",
                        card.name, card.sex, card.ethnicity, card.birth_date
                    ));
                    say(format!(
                        "  证件号码 {} ({})",
                        card.id_number,
                        if c.id_number_valid {
                            "校验通过"
                        } else {
                            "校验位错误 / bad check character"
                        }
                    ));
                    say(format!("  住址 {}", card.address));
                    say(format!(
                        "  签发机关 {}  有效期 {}–{}{}",
                        card.authority,
                        card.valid_from,
                        card.valid_to,
                        if c.expired {
                            "（已过期 / expired）"
                        } else {
                            ""
                        }
                    ));
                    say(format!("  芯片照片 / chip photo: {photo}"));
                }
                return Ok(ExitCode::SUCCESS);
            }
            Ok(PollOutcome::Disconnected) => {
                last_problem = Some("the reader was unplugged".to_string())
            }
            Ok(_) => {}
            Err(e) => last_problem = Some(e.to_string()),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let why = last_problem
        .map(|p| format!(" (last problem: {p})"))
        .unwrap_or_default();
    eprintln!(
        "kiosk: no card within {} s{why}: place the ID card flat on the reader",
        a.timeout
    );
    Ok(ExitCode::from(1))
}

const DEMO_CARDS: &str = include_str!("../../hardware/reader/demo-cards.toml");

fn simulate(a: SimulateArgs) -> Result<ExitCode> {
    let text = match &a.card {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => DEMO_CARDS.to_string(),
    };
    let deck = CardDeck::from_toml(&text).map_err(|e| anyhow!("card file: {e}"))?;
    let count = deck.cards.len();
    let faults = Faults::parse(&a.faults).map_err(|e| anyhow!(e))?;
    let sim = SimulatedReader::start(deck, faults, &a.link)
        .with_context(|| format!("creating {}", a.link.display()))?;
    say(sim.path().display());
    if a.manual {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let mut words = line.split_whitespace();
            match (words.next(), words.next().map(str::parse::<usize>)) {
                (Some("present"), Some(Ok(n))) if n < count => sim.present(n),
                (Some("lift"), None) => sim.lift(),
                (Some("unplug"), None) => sim.unplug(),
                (Some("replug"), None) => sim.replug(),
                (Some("quit"), None) => break,
                (None, _) => {}
                _ => eprintln!(
                    "kiosk: say present N (0..{}), lift, unplug, replug or quit",
                    count.saturating_sub(1)
                ),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // on a schedule: each card in turn, until interrupted
    let (hold, gap) = (
        Duration::from_secs_f64(a.hold.max(0.1)),
        Duration::from_secs_f64(a.gap.max(0.1)),
    );
    for i in (0..count).cycle() {
        sim.present(i);
        std::thread::sleep(hold);
        sim.lift();
        std::thread::sleep(gap);
    }
    Ok(ExitCode::SUCCESS)
}
