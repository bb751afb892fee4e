//! Network elements the harness plays, as state machines over [`crate::net`].
//!
//! - [`transaction`]: RFC 3261 non-INVITE client transaction (Timers E, F, K)
//! - [`ua`]: originating UA and recipient UA (server transactions that absorb
//!   retransmissions)
//! - [`cscf`]: the harness IMS core (P-CSCF and S-CSCF in one): registrar,
//!   Path/Service-Route, loose routing, asserted identity at the edge
//! - [`ims_core`]: the recipient side of an IMS network (MESSAGE routed by
//!   number, Large Message sessions); also the device for SIP pushes
//! - [`msrp`]: an MSRP peer (RFC 4975)
//! - [`smsc`]: an SMPP 3.4 SMSC that ESMEs (IWF, PPG) bind to
//! - [`push_initiator`]: PAP over HTTP to a PPG
//! - [`http_server`]: an HTTP listener that logs raw requests (the base of
//!   [`ota_target`], a WAP 2.0 terminal's OTA-HTTP push listener, and
//!   [`upper_tester`])
//! - [`push_agent`]: a SIP push agent facing a push client (MESSAGE with the
//!   application feature tag; SUBSCRIBE/NOTIFY), with its run-level harness
//! - [`upper_tester`]: stands in for the push client's applications
//! - [`ota_target`]: a WAP 2.0 terminal's OTA-HTTP push listener
//! - [`mms_server`]: an MMS Relay/Server for `mms-client` SUTs (serves MMs,
//!   takes M-NotifyResp.ind/M-Acknowledge.ind; WSP push over UDP, Push over SIP)
//! - [`mms_ua`]: an MMS client on MM1 (HTTP to an MMS relay) and what the
//!   relay pushed to terminals
//! - [`smtp_client`]: an SMTP client (a MEM server on an MMS relay's MM3, a
//!   mail sender towards a MEM server's mailbox)
//! - [`esc`]: the presence server (event state compositor, RFC 3903) a
//!   presence-client SUT publishes to through the core, with its run-level
//!   harness
//! - [`smtp_server`]: an SMTP server (the MMS server's MM3 interface a MEM
//!   server notifies), with its run-level harness

pub mod cscf;
pub mod esc;
pub mod http_server;
pub mod ims_core;
pub mod mms_server;
pub mod mms_ua;
pub mod msrp;
pub mod ota_target;
pub mod presence;
pub mod push_agent;
pub mod push_initiator;
pub mod smsc;
pub mod smtp_client;
pub mod smtp_server;
pub mod transaction;
pub mod ua;
pub mod upper_tester;
pub mod xcap_client;

use std::time::{Duration, Instant};

/// What a bounded wait on a role's log concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The awaited thing happened.
    Done,
    /// It cannot happen any more (say, the connection ended).
    Over,
    /// Not yet.
    Wait,
}

/// Waits, woken by `notify` (and at most every 100 ms), until `check` says
/// Done (true) or Over (false), or `deadline` passes (false). Every wait in
/// the roles goes through here, so none is unbounded.
pub async fn wait_until(
    notify: &tokio::sync::Notify,
    deadline: Instant,
    check: impl Fn() -> Check,
) -> bool {
    loop {
        // Registered before the check, so a wake-up between the two is not lost.
        let notified = notify.notified();
        match check() {
            Check::Done => return true,
            Check::Over => return false,
            Check::Wait => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let _ =
            tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), notified).await;
    }
}
