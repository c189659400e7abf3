//! The second-generation ID-card reader's adapters: the driver that polls a real reader over a
//! serial port, a simulator that answers like one, and the vendor's licensed chip-photo decoder
//! loaded at run time. The codec and the card's text block are pure, in `capture_core::reader`.

pub mod driver;
pub mod simulator;
pub mod wlt;

use capture_core::reader::{card, frame, status};
