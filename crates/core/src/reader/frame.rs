//! The SAM module's wire frames: `AA AA AA 96 69 | LEN(2, BE) | payload | CHK`, where LEN counts
//! the payload and the checksum, and CHK is the XOR of every byte from LEN to the payload's end.
//! Commands carry `CMD PARA [DATA]`; responses carry `SW1 SW2 SW3 DATA`.
//!
//! Architecture invariant: pure; bytes in, frames out. The decoder is fed whatever the port
//! delivers (split reads, garbage, bad checksums) and never trusts a length it has not checked.

use thiserror::Error;

pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// The largest LEN a reader sends (text + photo + 1024 bytes of fingerprints is 2314); anything
/// larger is noise that happened to follow a preamble.
pub const MAX_LEN: usize = 4096;

/// The commands the kiosk sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    ResetSam,
    SamStatus,
    ReadSamId,
    FindCard,
    SelectCard,
    ReadTextAndPhoto,
    ReadTextPhotoAndFingerprint,
    SetMaxFrameSize(u8),
}

impl Command {
    /// (CMD, PARA)
    pub fn code(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::ReadSamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadTextAndPhoto => (0x30, 0x01),
            Command::ReadTextPhotoAndFingerprint => (0x30, 0x10),
            Command::SetMaxFrameSize(_) => (0x61, 0xFF),
        }
    }

    pub fn from_code(cmd: u8, para: u8, data: &[u8]) -> Option<Command> {
        Some(match (cmd, para) {
            (0x10, 0xFF) => Command::ResetSam,
            (0x11, 0xFF) => Command::SamStatus,
            (0x12, 0xFF) => Command::ReadSamId,
            (0x20, 0x01) => Command::FindCard,
            (0x20, 0x02) => Command::SelectCard,
            (0x30, 0x01) => Command::ReadTextAndPhoto,
            (0x30, 0x10) => Command::ReadTextPhotoAndFingerprint,
            (0x61, 0xFF) => Command::SetMaxFrameSize(*data.first()?),
            _ => return None,
        })
    }

    pub fn encode(self) -> Vec<u8> {
        let (cmd, para) = self.code();
        let mut payload = vec![cmd, para];
        if let Command::SetMaxFrameSize(n) = self {
            payload.push(n);
        }
        encode_frame(&payload)
    }
}

/// Wraps a payload in preamble, length and checksum.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + 1) as u16;
    let mut out = Vec::with_capacity(PREAMBLE.len() + 2 + payload.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.push(checksum(&out[PREAMBLE.len()..]));
    out
}

pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// A frame's payload, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub payload: Vec<u8>,
}

impl Frame {
    /// SW3 of a response frame.
    pub fn status(&self) -> Option<u8> {
        self.payload.get(2).copied()
    }
    /// What follows SW1 SW2 SW3 in a response.
    pub fn data(&self) -> &[u8] {
        self.payload.get(3..).unwrap_or(&[])
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("bad checksum (expected {expected:02X}, got {got:02X}); skipped")]
    Checksum { expected: u8, got: u8 },
    #[error("implausible length {0}; skipped")]
    Length(usize),
}

/// Reassembles frames from a byte stream.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Garbage bytes dropped while hunting for a preamble (for the log).
    pub skipped: usize,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops everything buffered (after a timeout, a half frame will never be completed).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The next complete frame, an error for a damaged one (already skipped), or `None` when
    /// more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        match find(&self.buf, &PREAMBLE) {
            None => {
                // keep a tail that may be the start of a preamble
                let keep = (0..PREAMBLE.len().min(self.buf.len() + 1))
                    .rev()
                    .find(|&k| self.buf.ends_with(&PREAMBLE[..k]))
                    .unwrap_or(0);
                self.skipped += self.buf.len() - keep;
                self.buf.drain(..self.buf.len() - keep);
                return None;
            }
            Some(s) => {
                self.skipped += s;
                self.buf.drain(..s);
            }
        }
        let head = PREAMBLE.len();
        if self.buf.len() < head + 2 {
            return None;
        }
        let len = u16::from_be_bytes([self.buf[head], self.buf[head + 1]]) as usize;
        if !(2..=MAX_LEN).contains(&len) {
            // not a real frame: skip this preamble's first byte and hunt again
            self.buf.drain(..1);
            return Some(Err(FrameError::Length(len)));
        }
        let total = head + 2 + len;
        if self.buf.len() < total {
            return None;
        }
        let expected = checksum(&self.buf[head..total - 1]);
        let got = self.buf[total - 1];
        if expected != got {
            self.buf.drain(..1);
            return Some(Err(FrameError::Checksum { expected, got }));
        }
        let payload = self.buf[head + 2..total - 1].to_vec();
        self.buf.drain(..total);
        Some(Ok(Frame { payload }))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn commands_match_the_published_frames() {
        let cases = [
            (Command::ResetSam, "AA AA AA 96 69 00 03 10 FF EC"),
            (Command::SamStatus, "AA AA AA 96 69 00 03 11 FF ED"),
            (Command::ReadSamId, "AA AA AA 96 69 00 03 12 FF EE"),
            (Command::FindCard, "AA AA AA 96 69 00 03 20 01 22"),
            (Command::SelectCard, "AA AA AA 96 69 00 03 20 02 21"),
            (Command::ReadTextAndPhoto, "AA AA AA 96 69 00 03 30 01 32"),
            (
                Command::ReadTextPhotoAndFingerprint,
                "AA AA AA 96 69 00 03 30 10 23",
            ),
            (
                Command::SetMaxFrameSize(0x50),
                "AA AA AA 96 69 00 04 61 FF 50 CA",
            ),
        ];
        for (cmd, frame) in cases {
            assert_eq!(cmd.encode(), hex(frame), "{cmd:?}");
        }
    }

    #[test]
    fn the_published_find_card_answer_decodes() {
        let mut d = FrameDecoder::default();
        d.push(&hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"));
        let f = d.next_frame().unwrap().unwrap();
        assert_eq!(f.status(), Some(0x9F));
        assert_eq!(f.data(), &[0, 0, 0, 0]);
        assert!(d.next_frame().is_none());
    }

    #[test]
    fn split_reads_garbage_and_bad_checksums_resynchronise() {
        let good = encode_frame(&[0, 0, 0x90, 1, 2, 3]);
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        let mut stream = vec![0x13, 0xAA, 0x00, 0xAA, 0xAA];
        stream.extend(&bad);
        stream.extend([0x55, 0xAA]);
        stream.extend(&good);
        let mut d = FrameDecoder::default();
        let mut frames = Vec::new();
        let mut errors = 0;
        for chunk in stream.chunks(3) {
            d.push(chunk);
            while let Some(r) = d.next_frame() {
                match r {
                    Ok(f) => frames.push(f),
                    Err(_) => errors += 1,
                }
            }
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].data(), &[1, 2, 3]);
        assert!(errors >= 1);
    }

    #[test]
    fn an_absurd_length_is_not_waited_for() {
        let mut d = FrameDecoder::default();
        let mut s = PREAMBLE.to_vec();
        s.extend([0xFF, 0xFF]);
        s.extend(encode_frame(&[0, 0, 0x90]));
        d.push(&s);
        assert!(matches!(
            d.next_frame(),
            Some(Err(FrameError::Length(0xFFFF)))
        ));
        assert_eq!(d.next_frame().unwrap().unwrap().status(), Some(0x90));
    }
}
