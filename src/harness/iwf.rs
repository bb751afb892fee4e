//! The sms-im-iwf's run-level peers: the harness SMSC it binds to and the
//! IMS core it sends to.

use std::sync::Arc;

use crate::net::capture::Capture;

/// Harness roles that live for the whole run because a real SUT is configured
/// with their addresses (sms-im-iwf: it binds to the SMSC and sends to the IMS
/// core). They serve every scenario at once: each scenario makes up its own
/// numbers and claims them ([`Capture::claim`]), so a packet that carries
/// one goes to that scenario's pcap; the rest (the bind, enquire_links,
/// what comes after its scenario ended) goes to the run-level pcap.
pub struct IwfHarness {
    pub smsc: crate::roles::smsc::Smsc,
    pub ims: crate::roles::ims_core::ImsCore,
    pub capture: Capture,
}

impl std::fmt::Debug for IwfHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IwfHarness")
            .field("smsc", &self.smsc.addr())
            .finish_non_exhaustive()
    }
}

impl IwfHarness {
    /// Starts the SMSC and the IMS core at the given loopback addresses
    /// (port 0 picks); what no scenario claims goes to `run_level`.
    pub async fn start(
        smsc: std::net::SocketAddr,
        ims: std::net::SocketAddr,
        creds: (String, String),
        run_level: Capture,
    ) -> Result<IwfHarness, String> {
        let capture = Capture::routed(run_level);
        let smsc = crate::roles::smsc::Smsc::start(smsc, capture.clone(), creds)
            .await
            .map_err(|e| format!("iwf.smsc: cannot listen on {smsc} ({e})"))?;
        let ep = crate::net::SipEndpoint::bind_at(ims, ims, capture.clone())
            .await
            .map_err(|e| format!("iwf.ims_core: cannot bind {ims} ({e})"))?;
        Ok(IwfHarness {
            smsc,
            ims: crate::roles::ims_core::ImsCore::start(Arc::new(ep)),
            capture,
        })
    }

    /// The IMS core takes SIP over TLS at `at` too (RFC 3261 §26.2;
    /// `iwf.ims_core_tls`, port 0 picks), presenting the harness's
    /// certificate: what comes over it is served as what comes over UDP
    /// and TCP, each response back over its connection. Its records and
    /// secrets go into the run-level pcap: one connection carries every
    /// scenario's requests, and ciphertext names no scenario's numbers.
    /// A handshake that fails (plaintext where TLS was due) is in the
    /// endpoint's transport events and its plaintext in `unmatched`.
    pub async fn listen_tls(
        &self,
        at: std::net::SocketAddr,
        server: crate::net::tls::TlsServer,
    ) -> Result<std::net::SocketAddr, String> {
        self.ims
            .ep
            .listen_tls(at, server)
            .await
            .map_err(|e| format!("iwf.ims_core_tls: cannot listen on {at} ({e})"))
    }
}
