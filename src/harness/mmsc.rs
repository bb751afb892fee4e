//! The MMS Relay/Server an mms-client SUT (or an IM server that defers to
//! MMS) is configured with, and the client's upper tester.

use crate::net::capture::Capture;

/// The MMS Relay/Server an `mms-client` SUT is configured with (its MMSC
/// URL), played by the harness for the whole run, or the one an IM server
/// defers to. Pushes go from per-scenario sockets. It serves scenarios side
/// by side through a routed capture: each scenario takes a claim
/// ([`crate::roles::mms_server::MmsServer::claim`]) and gives it the keys
/// it makes up (Content-Location tokens, Transaction-IDs, texts, its users'
/// names), so a request that carries one is in that scenario's log and
/// pcap, and its answer follows it; the upper tester's reports carry the
/// MM they hand over, and so its keys, too.
pub struct MmsClientHarness {
    pub server: crate::roles::mms_server::MmsServer,
    pub capture: Capture,
    /// The upper tester the client reports hand-overs to (`mms_client.upper_tester`).
    pub upper: Option<crate::roles::upper_tester::UpperTester>,
}

impl std::fmt::Debug for MmsClientHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmsClientHarness")
            .field("server", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl MmsClientHarness {
    /// Starts the MMS server at `addr` (port 0 picks), writing through
    /// `capture` (switchable or routed).
    pub async fn start(
        addr: std::net::SocketAddr,
        capture: Capture,
    ) -> Result<MmsClientHarness, String> {
        let server = crate::roles::mms_server::MmsServer::start(addr, capture.clone())
            .await
            .map_err(|e| format!("mms_client.mmsc_url: cannot listen on {addr} ({e})"))?;
        Ok(MmsClientHarness {
            server,
            capture,
            upper: None,
        })
    }

    /// [`MmsClientHarness::start`] for an `https://` MMSC URL: the server
    /// takes HTTP over TLS only, presenting `tls`'s certificate.
    pub async fn start_tls(
        addr: std::net::SocketAddr,
        capture: Capture,
        tls: crate::net::tls::TlsServer,
    ) -> Result<MmsClientHarness, String> {
        let server = crate::roles::mms_server::MmsServer::start_tls(addr, capture.clone(), tls)
            .await
            .map_err(|e| format!("mms_client.mmsc_url: cannot listen on {addr} ({e})"))?;
        Ok(MmsClientHarness {
            server,
            capture,
            upper: None,
        })
    }

    /// Also plays the client's upper tester at `addr` (port 0 picks).
    pub async fn with_upper_tester(
        mut self,
        addr: std::net::SocketAddr,
    ) -> Result<MmsClientHarness, String> {
        let upper = crate::roles::upper_tester::start(addr, self.capture.clone())
            .await
            .map_err(|e| format!("mms_client.upper_tester: cannot listen on {addr} ({e})"))?;
        self.upper = Some(upper);
        Ok(self)
    }
}
