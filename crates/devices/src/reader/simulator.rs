//! A simulated reader on a pseudo-terminal: the same wire protocol as a real SAM module, cards
//! from a file, present/lift/unplug on command, and faults on demand. Tests and the demo mode
//! drive the real driver against it.

use super::card::{IdCard, PHOTO_LEN};
use super::frame::{encode_frame, Command, FrameDecoder};
use super::status::Status;
use serde::Deserialize;
use serialport::{SerialPort, TTYPort};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The cards a simulated reader holds (a TOML file with `[[cards]]` tables).
#[derive(Clone, Debug, Deserialize)]
pub struct CardDeck {
    pub cards: Vec<IdCard>,
}

impl CardDeck {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let deck: CardDeck = toml::from_str(text).map_err(|e| e.to_string())?;
        for c in &deck.cards {
            c.encode().map_err(|e| format!("card '{}': {e}", c.name))?;
        }
        if deck.cards.is_empty() {
            return Err("the deck has no [[cards]]".into());
        }
        Ok(deck)
    }
}

/// Misbehaviour to put on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answers dribble out a few bytes at a time.
    pub split: bool,
    /// Noise before every answer.
    pub garbage: bool,
    /// Every n-th answer has a wrong checksum.
    pub bad_checksum_every: Option<u32>,
    /// Every answer waits this long.
    pub slow_ms: Option<u64>,
    /// Every n-th command gets no answer at all.
    pub silent_every: Option<u32>,
    /// The SAM reports a self-test failure until it is reset.
    pub sam_error: bool,
}

impl Faults {
    /// `split,garbage,bad-checksum,slow,silent,sam-error` (any subset).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut f = Faults::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "split" => f.split = true,
                "garbage" => f.garbage = true,
                "bad-checksum" => f.bad_checksum_every = Some(4),
                "slow" => f.slow_ms = Some(300),
                "silent" => f.silent_every = Some(3),
                "sam-error" => f.sam_error = true,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (known: split, garbage, bad-checksum, slow, silent, sam-error)"
                    ))
                }
            }
        }
        Ok(f)
    }
}

/// The reader's behaviour, without the wire: which answer each command gets.
pub struct ReaderModel {
    deck: CardDeck,
    present: Option<usize>,
    /// The present card was read; a real reader wants it lifted before the next read.
    read_done: bool,
    sam_broken: bool,
}

impl ReaderModel {
    pub fn new(deck: CardDeck, sam_error: bool) -> Self {
        Self {
            deck,
            present: None,
            read_done: false,
            sam_broken: sam_error,
        }
    }

    pub fn present(&mut self, index: usize) {
        if index < self.deck.cards.len() {
            self.present = Some(index);
            self.read_done = false;
        }
    }

    pub fn lift(&mut self) {
        self.present = None;
        self.read_done = false;
    }

    /// The payload (SW1 SW2 SW3 DATA) answering `cmd`.
    pub fn answer(&mut self, cmd: Option<Command>) -> Vec<u8> {
        let status = |s: Status| vec![0, 0, s.sw3()];
        let Some(cmd) = cmd else {
            return status(Status::CommandError);
        };
        match cmd {
            Command::ResetSam => {
                self.sam_broken = false;
                status(Status::Success)
            }
            Command::SamStatus if self.sam_broken => status(Status::SamSelfTestFailure),
            Command::SamStatus | Command::SetMaxFrameSize(_) => status(Status::Success),
            Command::ReadSamId => {
                let mut p = status(Status::Success);
                p.extend([
                    0x05, 0x00, 0x01, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11,
                    0x22, 0x33, 0x44,
                ]);
                p
            }
            _ if self.sam_broken => status(Status::SamSelfTestFailure),
            Command::FindCard => match self.present {
                Some(_) if !self.read_done => {
                    let mut p = status(Status::FindCardSuccess);
                    p.extend([0, 0, 0, 0]);
                    p
                }
                _ => status(Status::NoCard),
            },
            Command::SelectCard => match self.present {
                Some(_) if !self.read_done => {
                    let mut p = status(Status::Success);
                    p.extend([0; 8]);
                    p
                }
                _ => status(Status::SelectFailure),
            },
            Command::ReadTextAndPhoto | Command::ReadTextPhotoAndFingerprint => {
                // a selected card can be read again at once (a damaged answer is re-asked); it is
                // find-card that wants the card lifted and presented again
                let Some(card) = self.present.map(|i| &self.deck.cards[i]) else {
                    return status(Status::ReadFailure);
                };
                let Ok(text) = card.encode() else {
                    return status(Status::ReadFailure);
                };
                let mut p = status(Status::Success);
                p.extend(256u16.to_be_bytes());
                p.extend((PHOTO_LEN as u16).to_be_bytes());
                if cmd == Command::ReadTextPhotoAndFingerprint {
                    p.extend(0u16.to_be_bytes());
                }
                p.extend(text);
                p.extend(opaque_photo(&card.id_number));
                self.read_done = true;
                p
            }
        }
    }
}

/// Stand-in chip photo bytes: opaque and deterministic (the real ones are WLT, which only the
/// vendor's library decodes; the simulator neither has nor imitates it).
fn opaque_photo(seed: &str) -> Vec<u8> {
    let mut x = seed
        .bytes()
        .fold(0x9E37_79B9u32, |a, b| a.rotate_left(5) ^ b as u32);
    (0..PHOTO_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The line speed the simulator paces its answers at (8N1: ten bits a byte).
pub const WIRE_BAUD: u64 = 115_200;

fn wire_time(bytes: usize) -> Duration {
    Duration::from_micros(bytes as u64 * 10 * 1_000_000 / WIRE_BAUD)
}

enum Control {
    Present(usize),
    Lift,
    Unplug,
    Replug,
    Stop,
}

/// A running simulated reader.
pub struct SimulatedReader {
    path: PathBuf,
    control: Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

/// The two ends of a fresh pseudo-terminal, with `link` pointing at the device end.
fn plug(link: &Path) -> std::io::Result<(TTYPort, TTYPort)> {
    let (mut master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
    master
        .set_timeout(Duration::from_millis(20))
        .map_err(std::io::Error::other)?;
    let device = slave
        .name()
        .ok_or_else(|| std::io::Error::other("pty without a name"))?;
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(device, link)?;
    Ok((master, slave))
}

impl SimulatedReader {
    /// Starts a reader whose device is reachable at `link` (a symlink, like the stable
    /// `/dev/serial/by-id/…` names; it moves to the new device after an unplug and replug).
    pub fn start(deck: CardDeck, faults: Faults, link: &Path) -> std::io::Result<Self> {
        let (master, slave) = plug(link)?;
        let (tx, rx) = mpsc::channel();
        let link_owned = link.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("reader-sim".into())
            .spawn(move || {
                serve(
                    ReaderModel::new(deck, faults.sam_error),
                    faults,
                    master,
                    slave,
                    rx,
                    link_owned,
                )
            })?;
        Ok(Self {
            path: link.to_path_buf(),
            control: tx,
            thread: Some(thread),
        })
    }

    /// The device path the driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn present(&self, index: usize) {
        let _ = self.control.send(Control::Present(index));
    }
    pub fn lift(&self) {
        let _ = self.control.send(Control::Lift);
    }
    /// The USB-serial adapter is pulled: the device disappears.
    pub fn unplug(&self) {
        let _ = self.control.send(Control::Unplug);
    }
    pub fn replug(&self) {
        let _ = self.control.send(Control::Replug);
    }
}

impl Drop for SimulatedReader {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(
    mut model: ReaderModel,
    faults: Faults,
    master: TTYPort,
    slave: TTYPort,
    rx: Receiver<Control>,
    link: PathBuf,
) {
    // the device end stays open here too, so the master never reads EIO between clients
    let mut ends = Some((master, slave));
    let mut decoder = FrameDecoder::default();
    let mut commands = 0u32;
    let mut answers = 0u32;
    let mut noise = 0x1234_5678u32;
    let mut buf = [0u8; 512];
    loop {
        loop {
            match rx.try_recv() {
                Ok(Control::Present(i)) => model.present(i),
                Ok(Control::Lift) => model.lift(),
                Ok(Control::Unplug) => {
                    ends = None;
                    let _ = std::fs::remove_file(&link);
                }
                Ok(Control::Replug) => {
                    if ends.is_none() {
                        ends = plug(&link).ok();
                        decoder.clear();
                    }
                }
                Ok(Control::Stop) | Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => break,
            }
        }
        let Some((master, _)) = ends.as_mut() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        match master.read(&mut buf) {
            Ok(n) if n > 0 => decoder.push(&buf[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
        while let Some(frame) = decoder.next_frame() {
            let Ok(frame) = frame else { continue };
            commands += 1;
            if faults.silent_every.is_some_and(|n| commands % n == 0) {
                continue;
            }
            let p = &frame.payload;
            let cmd = (p.len() >= 2)
                .then(|| Command::from_code(p[0], p[1], &p[2..]))
                .flatten();
            let mut out = encode_frame(&model.answer(cmd));
            answers += 1;
            if faults.bad_checksum_every.is_some_and(|n| answers % n == 0) {
                if let Some(last) = out.last_mut() {
                    *last ^= 0x5A;
                }
            }
            if faults.garbage {
                let mut junk = Vec::new();
                for _ in 0..(noise % 7 + 1) {
                    noise ^= noise << 13;
                    noise ^= noise >> 17;
                    noise ^= noise << 5;
                    junk.push(noise as u8);
                }
                junk.extend([0xAA, 0xAA]); // a false start of a preamble
                out.splice(0..0, junk);
            }
            if let Some(ms) = faults.slow_ms {
                std::thread::sleep(Duration::from_millis(ms));
            }
            let chunk = if faults.split { 7 } else { 64 };
            for piece in out.chunks(chunk) {
                if master.write_all(piece).is_err() {
                    break;
                }
                // a pty has no line speed: pace the bytes as a 115200 8N1 line would
                std::thread::sleep(wire_time(piece.len()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_unknown_ones_are_named() {
        let f = Faults::parse("split, garbage,sam-error").unwrap();
        assert!(f.split && f.garbage && f.sam_error && f.slow_ms.is_none());
        assert!(Faults::parse("melt").unwrap_err().contains("melt"));
    }
}
