//! The kiosk's integration tests, one binary: each file under `tests/` is a module here, so the
//! whole tree is linked once rather than once per file (about twenty links made a clean
//! `cargo test` take most of an hour on a two-core machine).

mod common;

mod camera_sim;
mod cli;
mod cli_camera;
mod cli_reader;
mod dashboard_page;
mod deploy;
mod engine_checks;
mod eval_checks;
mod eval_figures;
mod eval_mouth;
mod hub;
mod hub_attacks;
mod hub_bucket;
mod hub_connections;
mod hub_dashboard;
mod hub_data_at_rest;
mod hub_duplicates;
mod hub_fleet;
mod hub_kiosk_limits;
mod hub_login_guard;
mod hub_logs;
mod hub_postgres;
mod hub_proxy;
mod hub_schema;
mod hub_tls;
mod kiosk_flow;
mod kiosk_screens;
mod kiosk_staff;
mod photo_maker;
mod printer_cups;
mod printer_ipp;
mod reader_fuzz;
mod reader_pty;
mod reader_traces;
mod review_page;
mod store;
mod upload_faults;
mod upload_queue;
mod verification_eval;
mod verify_and_guidance;
mod voice;
