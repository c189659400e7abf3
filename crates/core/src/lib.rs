//! capture-core: everything the kiosk decides, with no device, window, database or socket.
//!
//! Images and models in, verdicts, photos, prompts and the session's next screen out. Its
//! `Cargo.toml` has none of the I/O crates (slint, nokhwa, serialport, rusqlite, reqwest,
//! tokio, axum), so the boundary is one the compiler keeps; ARCHITECTURE.md is the map.

pub mod catalog;
pub mod checks;
pub mod civil_time;
pub mod engine;
pub mod framing;
pub mod geometry;
pub mod guidance;
pub mod hub_protocol;
pub mod imaging;
pub mod photo;
pub mod queue;
pub mod reader;
pub mod roster;
pub mod session;
pub mod spreadsheet;
pub mod text;
pub mod verification;
