//! The push agent and upper tester a push-client SUT talks to, for the
//! whole run.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::net::capture::Capture;
use crate::net::SipEndpoint;
use crate::roles::push_agent::PushAgent;
use crate::roles::transaction::Timers;
use crate::roles::upper_tester::UpperTester;

/// The harness roles a push-client SUT talks to on its own: the push agent it
/// subscribes to and the upper tester it reports hand-overs to. They live for
/// the whole run and serve scenarios side by side through a routed capture:
/// a scenario claims the token in the content it pushes, so its NOTIFY (in
/// the client's one subscription dialog), the 200 to it (by its Via
/// branch) and the hand-over at the upper tester go to its pcap; the
/// SUBSCRIBE and the initial NOTIFY go to the run-level pcap.
pub struct PushClientHarness {
    pub agent: Option<PushAgent>,
    /// The push agent taking SIP over TLS at `push_client.agent_tls` with
    /// the run's harness certificate (RFC 3261 §26): the SUT subscribes
    /// once per run, so its records (and the secrets that decrypt them) go
    /// to the run-level `push-agent-tls.pcap`, never a scenario's.
    pub agent_tls: Option<PushAgent>,
    /// The address it takes TLS at.
    pub agent_tls_addr: Option<SocketAddr>,
    pub upper: Option<UpperTester>,
    pub capture: Capture,
}

impl std::fmt::Debug for PushClientHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushClientHarness")
            .field("agent", &self.agent.as_ref().map(|a| a.ep.udp_addr()))
            .field("upper", &self.upper.as_ref().map(|u| u.addr()))
            .finish()
    }
}

impl PushClientHarness {
    /// Starts the agent and the upper tester at the given loopback addresses
    /// (port 0 picks). An error names the address that could not be used.
    pub async fn start(
        agent: Option<SocketAddr>,
        upper: Option<SocketAddr>,
        timers: Timers,
        capture: Capture,
    ) -> Result<PushClientHarness, String> {
        let agent = match agent {
            Some(a) => {
                let ep = SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| format!("push_client.agent: cannot bind {a} ({e})"))?;
                Some(PushAgent::start(Arc::new(ep), timers))
            }
            None => None,
        };
        let upper = match upper {
            Some(a) => Some(
                crate::roles::upper_tester::start(a, capture.clone())
                    .await
                    .map_err(|e| format!("push_client.upper_tester: cannot listen on {a} ({e})"))?,
            ),
            None => None,
        };
        Ok(PushClientHarness {
            agent,
            agent_tls: None,
            agent_tls_addr: None,
            upper,
            capture,
        })
    }

    /// Starts the push agent over TLS at `at` (port 0 picks) with the run's
    /// harness certificate, its capture `capture`. An error names the field.
    pub async fn start_tls(
        &mut self,
        at: SocketAddr,
        server: crate::net::tls::TlsServer,
        timers: Timers,
        capture: Capture,
    ) -> Result<(), String> {
        let ep = SipEndpoint::bind(at.ip(), capture)
            .await
            .map_err(|e| format!("push_client.agent_tls: cannot bind on {} ({e})", at.ip()))?;
        let local = ep
            .listen_tls(at, server)
            .await
            .map_err(|e| format!("push_client.agent_tls: cannot listen on {at} ({e})"))?;
        self.agent_tls = Some(PushAgent::start(Arc::new(ep), timers));
        self.agent_tls_addr = Some(local);
        Ok(())
    }
}
