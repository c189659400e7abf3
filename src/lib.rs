//! capture-kiosk: a touchscreen kiosk that takes exam-registration ID photos on site.
//!
//! The crate is a pure core (engine, checks, photo maker, specs) with the command line as its
//! edge; see ARCHITECTURE.md for the map.

pub mod camera;
pub mod catalog;
pub mod checks;
pub mod civil_time;
pub mod engine;
pub mod geometry;
pub mod guidance;
pub mod hub;
pub mod hub_protocol;
pub mod imaging;
pub mod kiosk;
pub mod photo;
pub mod queue;
pub mod reader;
pub mod roster;
pub mod session;
pub mod store;
pub mod upload;
pub mod verification;
