//! The harness IMS core (P-/S-CSCF) an IMS SUT registers and sends through.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::net::capture::Capture;
use crate::profile::Profile;

/// The harness IMS core (`roles::cscf`) for the whole run, at the address
/// the SUT is configured with (`ims.core`). It serves every scenario at
/// once: each packet goes to the pcap of the scenario whose harness users
/// (fresh names, claimed by the steps) it names, the SUT's REGISTERs to
/// the scenarios that watch them, the rest to the run-level pcap; with
/// `ims.route_all` too (every SIP scenario through it, side by side).
pub struct ImsHarness {
    pub core: crate::roles::cscf::Cscf,
    pub capture: Capture,
}

impl std::fmt::Debug for ImsHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImsHarness")
            .field("core", &self.core.addr())
            .finish_non_exhaustive()
    }
}

impl ImsHarness {
    /// Starts the core at `addr` granting `expires` seconds; port 0 picks
    /// one port free for both UDP and TCP.
    pub async fn start(
        addr: std::net::SocketAddr,
        expires: u32,
        run_level: Capture,
    ) -> Result<ImsHarness, String> {
        let capture = Capture::routed(run_level);
        let mut last = None;
        for _ in 0..20 {
            let at = if addr.port() == 0 {
                match std::net::UdpSocket::bind(addr).and_then(|s| s.local_addr()) {
                    Ok(a) => a,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            } else {
                addr
            };
            match crate::net::SipEndpoint::bind_at(at, at, capture.clone()).await {
                Ok(ep) => {
                    let core = crate::roles::cscf::Cscf::start(Arc::new(ep), expires);
                    return Ok(ImsHarness { core, capture });
                }
                Err(e) if addr.port() == 0 => last = Some(e),
                Err(e) => last = Some(e),
            }
            if addr.port() != 0 {
                break;
            }
        }
        Err(format!(
            "ims.core: cannot bind {addr} ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        ))
    }

    /// Routes the profile's domains and AoR hosts to the SUT's roles and
    /// trusts the SUT's SIP addresses.
    pub fn configure(&self, profile: &Profile, roles: &BTreeMap<String, std::net::SocketAddr>) {
        let core = &self.core;
        let role_addr = |r: &str| {
            roles
                .get(r)
                .copied()
                .or_else(|| profile.sip.as_ref().and_then(|s| s.address))
        };
        // Trusted by Via sent-by: only the SUT's SIP addresses. A role that
        // listens on TCP alone (SMTP, HTTP) leaves the UDP port of the same
        // number free for a harness socket, which must not be trusted.
        for a in SIP_ROLES
            .iter()
            .filter_map(|r| roles.get(*r).copied())
            .chain(profile.sip.as_ref().and_then(|s| s.address))
        {
            core.trust(a);
        }
        if let Some(a) = role_addr("im-server") {
            if let Some(d) = profile.sip.as_ref().and_then(|s| s.domain.clone()) {
                core.registrar(&d, a);
            }
            if let Some(d) = profile
                .deferral
                .as_ref()
                .and_then(|d| d.recipient_domain.clone())
            {
                core.registrar(&d, a);
            }
            // Telephone numbers (tel: URIs) are the IM server's users.
            core.route("tel", a);
        }
        // The PoC server is the home of its group's URI (its members are
        // harness users the core knows, routed before any domain route).
        if let (Some(p), Some(a)) = (profile.poc.as_ref(), role_addr("poc-server"))
            && let Some(h) = crate::codec::sip::uri_user_host(&p.group).1
        {
            core.route(&h, a);
        }
        let hosts = [
            (
                "im-client",
                profile.sip.as_ref().and_then(|s| s.aor.clone()),
            ),
            (
                "push-client",
                profile.push_client.as_ref().and_then(|p| p.aor.clone()),
            ),
        ];
        for (role, aor) in hosts {
            if let (Some(aor), Some(a)) = (aor, role_addr(role))
                && let Some(h) = crate::codec::sip::uri_user_host(&aor).1
            {
                core.route(&h, a);
            }
        }
    }
}

/// The SUT roles whose address (per role, in the embedded run) is a SIP
/// address on UDP and TCP alike.
const SIP_ROLES: &[&str] = &[
    "im-client",
    "im-server",
    "push-client",
    "mms-client",
    "presence-server",
    "poc-server",
    // Its SIP side (xcap-diff, RFC 5875) on UDP at its HTTP port.
    "xdms",
];

/// A free loopback IP other than 127.0.0.1 for the embedded run's IMS core
/// (trust is judged by source IP, and the harness's own users are on
/// 127.0.0.1).
pub async fn core_loopback() -> std::net::IpAddr {
    for _ in 0..64 {
        let t = crate::codec::sip::token();
        let b = t.as_bytes();
        let octet = |i: usize| 2 + b.get(i).copied().unwrap_or(7) % 250;
        let ip = std::net::Ipv4Addr::new(127, octet(0), octet(1), octet(2));
        if tokio::net::UdpSocket::bind((ip, 0)).await.is_ok() {
            return std::net::IpAddr::V4(ip);
        }
    }
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2))
}
