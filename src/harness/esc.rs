//! The presence server (ESC) a presence-client SUT publishes to, for the
//! whole run.

use std::net::IpAddr;
use std::sync::Arc;

use crate::net::capture::Capture;
use crate::net::SipEndpoint;
use crate::roles::esc::Esc;

/// The harness presence server for a `presence-client` SUT: the IMS core
/// sends it the SUT's PUBLISH for its own AoR (`presence_client.aor`,
/// [`crate::roles::cscf::Cscf::serve`]). Every PUBLISH names the same AoR,
/// whatever the scenario, so scenarios hold it one at a time
/// (`@harness:esc`); its traffic goes to the holder's pcap, and between
/// holders (the SUT's own refreshes) to `run-level-esc.pcap`.
pub struct EscHarness {
    pub esc: Esc,
    pub capture: Capture,
}

impl std::fmt::Debug for EscHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscHarness")
            .field("addr", &self.esc.ep.udp_addr())
            .finish_non_exhaustive()
    }
}

impl EscHarness {
    /// Binds on the harness IP (a port the system picks: only the core
    /// sends to it).
    pub async fn start(ip: IpAddr, home: Capture) -> Result<EscHarness, String> {
        let capture = Capture::switchable_home(home);
        let ep = SipEndpoint::bind(ip, capture.clone()).await.map_err(|e| {
            format!("presence_client: cannot bind the harness presence server on {ip} ({e})")
        })?;
        Ok(EscHarness {
            esc: Esc::start(Arc::new(ep)),
            capture,
        })
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.esc.ep.udp_addr()
    }
}
