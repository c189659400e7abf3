//! The second-generation ID-card reader: its wire protocol (pure codec), the card's text block,
//! the driver that polls a real reader over a serial port, and a simulator that answers like one.

pub mod card;
pub mod driver;
pub mod frame;
pub mod simulator;
pub mod status;
pub mod wlt;
