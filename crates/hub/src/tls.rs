//! https for the hub: the certificate and key (rustls with ring). Handshakes are done by
//! [`super::server`], each on its own task with a time limit.

use anyhow::{anyhow, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Reads a PEM certificate chain and private key into a server configuration.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    // a certificate chain or a key is a few KB
    let cert_pem = capture_store::read_at_most(cert, 1 << 20)
        .with_context(|| format!("reading {}", cert.display()))?;
    let key_pem = capture_store::read_at_most(key, 1 << 20)
        .with_context(|| format!("reading {}", key.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(anyhow!("{}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow!("{}: not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| anyhow!("the certificate and key do not go together: {e}"))?;
    Ok(Arc::new(config))
}
