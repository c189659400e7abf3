//! The uploader (an adapter): sends the outbox to the hub and brings review results back.
//! `client` speaks HTTP; `worker` applies the queue policy to the store's rows.

pub mod client;
mod progress;
pub mod worker;

pub use capture_core::hub_protocol::KioskIdentity;
pub use client::{HubClient, HubError, HubLink, DEFAULT_PATIENCE};
pub use worker::{spawn_uploader, DrainReport, Step, UploadPolicy, UploaderHandle, Worker};

/// Settings keys in the kiosk's database.
pub mod settings {
    pub const HUB_URL: &str = "hub_url";
    pub const HUB_TOKEN: &str = "hub_token";
    pub const HUB_CA_PEM: &str = "hub_ca_pem";
    pub const RETENTION_HOURS: &str = "retention_hours";
}

/// The hub link stored in the kiosk's settings, if the kiosk was linked.
pub fn stored_link(
    store: &capture_store::Store,
) -> Result<Option<HubLink>, capture_store::StoreError> {
    let (Some(url), Some(token)) = (
        store.get_setting(settings::HUB_URL)?,
        store.get_setting(settings::HUB_TOKEN)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(HubLink {
        url,
        token,
        ca_pem: store
            .get_setting(settings::HUB_CA_PEM)?
            .map(String::into_bytes),
    }))
}

/// The retention configured in the kiosk's settings (default 7 days).
pub fn stored_retention(
    store: &capture_store::Store,
) -> Result<std::time::Duration, capture_store::StoreError> {
    let hours = store
        .get_setting(settings::RETENTION_HOURS)?
        .and_then(|h| h.parse::<u64>().ok())
        .unwrap_or(7 * 24);
    Ok(std::time::Duration::from_secs(hours * 3600))
}
