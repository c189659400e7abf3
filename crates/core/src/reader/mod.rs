//! The second-generation ID-card reader's pure side: the wire protocol's codec, the status
//! words and the card's text block. The serial-port driver, the simulator and the vendor's chip
//! photo decoder are device adapters in `capture-devices`.

pub mod card;
pub mod frame;
pub mod status;
