//! The driver for a real reader on a serial port: find card → select → read, the SAM's health,
//! timeouts, and unplug/replug. Everything a reader does wrong is an outcome to log and carry on
//! from, never a crash.

use super::card::{CardError, IdCard, PHOTO_LEN, TEXT_LEN};
use super::frame::{Command, Frame, FrameDecoder};
use super::status::Status;
use serialport::SerialPort;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Tries per command before the poll gives up on it.
const ATTEMPTS: u32 = 3;

/// How to reach the reader.
#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// Best a stable `/dev/serial/by-id/...` name.
    pub path: PathBuf,
    pub baud: u32,
    pub command_timeout: Duration,
    /// How often the SAM's health is asked while idle.
    pub sam_check_every: Duration,
}

impl ReaderConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            baud: 115_200,
            command_timeout: Duration::from_secs(5),
            sam_check_every: Duration::from_secs(5),
        }
    }
}

/// A card that was read.
#[derive(Clone, Debug)]
pub struct CardRead {
    pub card: IdCard,
    pub id_number_valid: bool,
    pub expired: bool,
    /// The chip photo, still WLT-compressed (decoding needs the vendor's licensed library).
    pub photo_wlt: Vec<u8>,
}

/// What one poll saw.
#[derive(Debug)]
pub enum PollOutcome {
    NoCard,
    /// The card that was just read is still on the reader; lift it to read again.
    AwaitingLift,
    Card(Box<CardRead>),
    /// The port went away; the driver is trying to reopen it.
    Disconnected,
}

#[derive(Debug, Error)]
pub enum ReaderError {
    #[error("no reader at {0}: check the cable and the port name in the kiosk's config")]
    PortMissing(PathBuf),
    #[error("cannot open the reader at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("the reader did not answer {0:?} within {1:?}")]
    Timeout(Command, Duration),
    #[error("the reader answered {0:?} with {1:?} ({desc})", desc = .1.describe())]
    Status(Command, Status),
    #[error("the reader's answer was malformed: {0}")]
    Malformed(String),
    #[error("the card's text could not be read: {0}")]
    Card(#[from] CardError),
    #[error("the reader was unplugged")]
    Disconnected,
}

fn open_port(config: &ReaderConfig) -> Result<Box<dyn SerialPort>, ReaderError> {
    if !Path::new(&config.path).exists() {
        return Err(ReaderError::PortMissing(config.path.clone()));
    }
    serialport::new(config.path.to_string_lossy(), config.baud)
        .timeout(Duration::from_millis(100))
        .open()
        .map_err(|e| ReaderError::Open {
            path: config.path.clone(),
            reason: e.to_string(),
        })
}

/// Counters for staff's device health screen and the log.
#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    pub damaged_frames: u64,
    pub garbage_bytes: u64,
    pub timeouts: u64,
    pub reconnects: u64,
    pub sam_resets: u64,
}

pub struct IdCardReader {
    config: ReaderConfig,
    port: Option<Box<dyn SerialPort>>,
    decoder: FrameDecoder,
    /// A card was read and has not been lifted since.
    awaiting_lift: bool,
    last_sam_check: Instant,
    pub stats: LinkStats,
}

impl IdCardReader {
    /// Opens the port; a missing port is an error here (at start-up staff must know).
    pub fn open(config: ReaderConfig) -> Result<Self, ReaderError> {
        let port = open_port(&config)?;
        Ok(Self {
            config,
            port: Some(port),
            decoder: FrameDecoder::default(),
            awaiting_lift: false,
            last_sam_check: Instant::now(),
            stats: LinkStats::default(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.port.is_some()
    }

    /// One round: find, select and read a card if one is newly on the reader.
    pub fn poll(&mut self) -> Result<PollOutcome, ReaderError> {
        if self.port.is_none() {
            match open_port(&self.config) {
                Ok(p) => {
                    self.port = Some(p);
                    self.decoder.clear();
                    self.stats.reconnects += 1;
                }
                Err(_) => return Ok(PollOutcome::Disconnected),
            }
        }
        match self.poll_connected() {
            Err(ReaderError::Disconnected) => {
                self.port = None;
                Ok(PollOutcome::Disconnected)
            }
            other => other,
        }
    }

    fn poll_connected(&mut self) -> Result<PollOutcome, ReaderError> {
        if self.last_sam_check.elapsed() >= self.config.sam_check_every {
            self.last_sam_check = Instant::now();
            self.check_sam()?;
        }
        let found = self.transact(Command::FindCard)?;
        match self.status(&found) {
            Status::FindCardSuccess | Status::Success => {}
            Status::NoCard => {
                self.awaiting_lift = false;
                return Ok(PollOutcome::NoCard);
            }
            s if s.needs_sam_reset() => {
                self.reset_sam()?;
                return Ok(PollOutcome::NoCard);
            }
            s => return Err(ReaderError::Status(Command::FindCard, s)),
        }
        if self.awaiting_lift {
            return Ok(PollOutcome::AwaitingLift);
        }
        let selected = self.transact(Command::SelectCard)?;
        match self.status(&selected) {
            Status::Success => {}
            // the card moved away between find and select: a normal event
            Status::SelectFailure | Status::NoCard => return Ok(PollOutcome::NoCard),
            s => return Err(ReaderError::Status(Command::SelectCard, s)),
        }
        let read = self.transact(Command::ReadTextAndPhoto)?;
        match self.status(&read) {
            Status::Success => {}
            s if s.needs_sam_reset() => {
                self.reset_sam()?;
                return Err(ReaderError::Status(Command::ReadTextAndPhoto, s));
            }
            s => return Err(ReaderError::Status(Command::ReadTextAndPhoto, s)),
        }
        let (text, photo) = split_text_and_photo(read.data())?;
        let card = IdCard::parse(text)?;
        self.awaiting_lift = true;
        Ok(PollOutcome::Card(Box::new(CardRead {
            id_number_valid: card.id_number_valid(),
            expired: card.expired_on(&today_yyyymmdd()),
            card,
            photo_wlt: photo.to_vec(),
        })))
    }

    fn status(&self, f: &Frame) -> Status {
        Status::from_sw3(f.status().unwrap_or(0))
    }

    fn check_sam(&mut self) -> Result<(), ReaderError> {
        let s = self.transact(Command::SamStatus)?;
        if self.status(&s).needs_sam_reset() {
            self.reset_sam()?;
        }
        Ok(())
    }

    fn reset_sam(&mut self) -> Result<(), ReaderError> {
        self.stats.sam_resets += 1;
        self.transact(Command::ResetSam).map(|_| ())
    }

    /// Sends a command and waits for its answer, asking again after a timeout or a damaged
    /// answer: a reader that lost one frame usually answers the next, and a card whose read
    /// answer is lost for good must be lifted and presented again.
    fn transact(&mut self, cmd: Command) -> Result<Frame, ReaderError> {
        let mut attempt = 1;
        loop {
            match self.transact_once(cmd) {
                Err(ReaderError::Timeout(..)) | Err(ReaderError::Malformed(_))
                    if attempt < ATTEMPTS =>
                {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    fn transact_once(&mut self, cmd: Command) -> Result<Frame, ReaderError> {
        let port = self.port.as_mut().ok_or(ReaderError::Disconnected)?;
        self.decoder.clear();
        port.write_all(&cmd.encode()).map_err(|e| io_fault(&e))?;
        let deadline = Instant::now() + self.config.command_timeout;
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            match port.read(&mut buf) {
                Ok(0) => return Err(ReaderError::Disconnected),
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::Interrupted => {
                }
                Err(e) => return Err(io_fault(&e)),
            }
            if let Some(frame) = self.decoder.next_frame() {
                match frame {
                    Ok(f) => {
                        self.stats.garbage_bytes +=
                            std::mem::take(&mut self.decoder.skipped) as u64;
                        return Ok(f);
                    }
                    Err(e) => {
                        // the answer to this command was damaged: ask again rather than wait
                        self.stats.damaged_frames += 1;
                        return Err(ReaderError::Malformed(e.to_string()));
                    }
                }
            }
        }
        self.stats.timeouts += 1;
        Err(ReaderError::Timeout(cmd, self.config.command_timeout))
    }
}

/// A write or read error that is not a timeout: the device is gone (EIO, broken pipe, no device).
fn io_fault(_e: &std::io::Error) -> ReaderError {
    ReaderError::Disconnected
}

/// Today's date as `YYYYMMDD` in China Standard Time (UTC+8), where the cards are issued and
/// the kiosks stand: a card that ran out yesterday counts as expired from midnight there, not
/// from 08:00. Reading the clock is the driver's business, not the card codec's.
pub fn today_yyyymmdd() -> String {
    use capture_core::civil_time::{unix_now_secs, CivilTime, CST_OFFSET_SECS};
    CivilTime::from_unix(unix_now_secs(), CST_OFFSET_SECS).yyyymmdd()
}

/// `text_len(2) photo_len(2) [fp_len(2)] text photo [fp]` → (text, photo).
pub fn split_text_and_photo(data: &[u8]) -> Result<(&[u8], &[u8]), ReaderError> {
    if data.len() < 4 {
        return Err(ReaderError::Malformed(format!(
            "{} bytes of card data",
            data.len()
        )));
    }
    let text_len = u16::from_be_bytes([data[0], data[1]]) as usize;
    let photo_len = u16::from_be_bytes([data[2], data[3]]) as usize;
    if text_len != TEXT_LEN || photo_len > PHOTO_LEN {
        return Err(ReaderError::Malformed(format!(
            "text {text_len} bytes, photo {photo_len} bytes"
        )));
    }
    // with fingerprints a third length follows; the total tells which layout this is
    let header = if data.len() >= 6 + text_len + photo_len && data.len() != 4 + text_len + photo_len
    {
        6
    } else {
        4
    };
    let text = data
        .get(header..header + text_len)
        .ok_or_else(|| ReaderError::Malformed("text cut short".into()))?;
    let photo = data
        .get(header + text_len..header + text_len + photo_len)
        .ok_or_else(|| ReaderError::Malformed("photo cut short".into()))?;
    Ok((text, photo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_a_plausible_date() {
        let t = today_yyyymmdd();
        assert_eq!(t.len(), 8);
        assert!(t.as_str() > "20240101", "{t}");
    }
}
