//! capture-kiosk: the kiosk application. The touchscreen controller (`kiosk`) wires the
//! libraries together: the pure core (`capture-core`), the device adapters and simulators
//! (`capture-devices`), the local store (`capture-store`), the uploader (`capture-upload`) and
//! the hub (`capture-hub`), each its own crate so that what each knows is checked by Cargo; see
//! ARCHITECTURE.md for the map.
//!
//! The libraries are re-exported under the names they had as modules of one crate, so the
//! command line and the tests address them one way.

pub mod kiosk;

pub use capture_core::{
    catalog, checks, civil_time, engine, geometry, guidance, hub_protocol, imaging, photo, queue,
    roster, session, spreadsheet, text, verification,
};
pub use capture_devices::camera;
pub use capture_hub as hub;
pub use capture_store as store;
pub use capture_upload as upload;

/// The ID-card reader: the pure codec and card text from the core, the serial driver, the
/// simulator and the chip-photo decoder from the device adapters.
pub mod reader {
    pub use capture_core::reader::*;
    pub use capture_devices::reader::*;
}
