//! TLS for the reference roles: rustls configurations built from the PEM
//! text the run hands over ([`ReferenceTls`]: the certificate the lab CA
//! issued for the SUT, its key, and the lab CA the harness's certificate
//! chains to). Nothing of the harness's TLS layer is shared: the reference
//! drives rustls itself, as any implementation would.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A reference role's TLS material, as PEM.
#[derive(Clone)]
pub struct ReferenceTls {
    /// Its certificate chain, leaf first.
    pub cert_chain_pem: String,
    pub key_pem: String,
    /// The CA whose certificates it trusts (the peer's, as TLS client).
    pub ca_pem: String,
}

impl std::fmt::Debug for ReferenceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceTls").finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reference TLS certificates: {e}"))
}

impl ReferenceTls {
    /// As TLS server: presents its certificate, asks none of the client.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| format!("reference TLS key: {e}"))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs(&self.cert_chain_pem)?, key)
            .map_err(|e| format!("reference TLS certificate: {e}"))?;
        Ok(Arc::new(config))
    }

    /// As TLS client: checks the server's certificate against its CA.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&self.ca_pem)? {
            roots.add(c).map_err(|e| format!("reference TLS CA: {e}"))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}
