//! The bearers a PPG or an MMS relay pushes over, played by the harness:
//! an SMSC (WSP over SMS), an OTA-HTTP target, a SIP device.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::codec::smpp::command;
use crate::net::capture::{Capture, Claim};
use crate::net::route::{carries, MAX_KEYS_PER_OWNER};

/// Keys the scenarios of a run gave the bearers, at most (the oldest stay;
/// past it, a new key still routes its scenario's packets but no longer
/// tells a message apart as somebody's in a failure text).
const MAX_LEDGER: usize = 1 << 16;

/// The bearers a PPG pushes to, played by the harness for the whole run (the
/// SUT is configured with their addresses): an SMSC for WSP over SMS, an
/// OTA-HTTP push target, and a SIP device (the IMS core role, which routes by
/// number). They serve every scenario at once: each scenario claims the keys
/// it makes up ([`PushHarness::claim`]: the numbers and SIP URIs it pushes
/// to, its push-ids, its message ids), a packet that carries one goes to that
/// scenario's pcap, and the rest (the SMPP bind and enquire_links, what comes
/// after its scenario ended or names no scenario) to the run-level pcap. The
/// roles' logs are the run's; the steps judge only what carries their keys.
pub struct PushHarness {
    pub smsc: Option<crate::roles::smsc::Smsc>,
    pub ota: Option<crate::roles::ota_target::OtaTarget>,
    /// The OTA-HTTP target over TLS (`ppg.ota_https`), held by one scenario
    /// at a time (`@harness:ota_tls`): TLS records carry no key a routed
    /// capture could read, so its capture is switched to the holder's pcap.
    pub ota_tls: Option<OtaTlsTarget>,
    pub sip: Option<crate::roles::ims_core::ImsCore>,
    /// The SIP device over TLS (`ppg.sip_tls`), held by one scenario at a
    /// time (`@harness:sip_tls`), for the same reason as `ota_tls`.
    pub sip_tls: Option<SipTlsDevice>,
    pub capture: Capture,
    /// Every key a scenario of the run claimed, kept after it ended.
    ledger: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl std::fmt::Debug for PushHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushHarness")
            .field("smsc", &self.smsc.as_ref().map(|s| s.addr()))
            .field("ota", &self.ota.as_ref().map(|s| s.addr()))
            .finish_non_exhaustive()
    }
}

/// The harness OTA-HTTP push target over TLS (HTTPS, RFC 2818), for the
/// whole run at the address the PPG is configured with; a scenario that
/// holds it (`@harness:ota_tls`) gives it the run's TLS server and points
/// its capture at the scenario's pcap.
pub struct OtaTlsTarget {
    pub server: crate::roles::ota_target::OtaTarget,
    /// Switchable: the holder's pcap, else the run-level one.
    pub capture: Capture,
    tls: Arc<Mutex<Option<crate::net::tls::TlsServer>>>,
}

impl OtaTlsTarget {
    /// Listens at `addr`; its traffic goes to `home` until a scenario holds it.
    pub async fn start(addr: std::net::SocketAddr, home: Capture) -> std::io::Result<Self> {
        let capture = Capture::switchable_home(home);
        let tls: Arc<Mutex<Option<crate::net::tls::TlsServer>>> = Arc::default();
        let server =
            crate::roles::ota_target::start_tls(addr, capture.clone(), tls.clone()).await?;
        Ok(OtaTlsTarget {
            server,
            capture,
            tls,
        })
    }

    /// The TLS server (the run's certificate) its handshakes use from now on.
    pub fn serve_with(&self, server: crate::net::tls::TlsServer) {
        *crate::net::lock(&self.tls) = Some(server);
    }
}

/// The harness SIP device over TLS (RFC 3261 §26) a PPG sends its pushes
/// for `sips:` addresses to, for the whole run at the address it is
/// configured with; its capture is switched to the pcap of the scenario
/// that holds it (`@harness:sip_tls`).
pub struct SipTlsDevice {
    pub device: crate::roles::ims_core::ImsCore,
    /// Where it takes TLS.
    pub addr: std::net::SocketAddr,
    /// Switchable: the holder's pcap, else the run-level one.
    pub capture: Capture,
}

impl SipTlsDevice {
    /// Takes SIP over TLS at `at` with `server` (the run's harness
    /// certificate); its traffic goes to `home` until a scenario holds it.
    pub async fn start(
        at: std::net::SocketAddr,
        server: crate::net::tls::TlsServer,
        home: Capture,
    ) -> std::io::Result<Self> {
        let capture = Capture::switchable_home(home);
        let any = std::net::SocketAddr::new(at.ip(), 0);
        let ep = crate::net::SipEndpoint::bind_at(any, any, capture.clone()).await?;
        let addr = ep.listen_tls(at, server).await?;
        Ok(SipTlsDevice {
            device: crate::roles::ims_core::ImsCore::start(Arc::new(ep)),
            addr,
            capture,
        })
    }
}

/// A scenario's claim on the bearers' traffic: the packets that carry its
/// keys go to its pcap, and its steps tell its messages by them.
pub struct BearerClaim {
    claim: Claim,
    ledger: Arc<Mutex<Vec<Vec<u8>>>>,
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for BearerClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerClaim")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl BearerClaim {
    /// `key` (made up by the scenario, or given to it alone by the SUT) is
    /// this scenario's: a packet that carries it goes to its pcap, and a
    /// message that carries it is judged by it.
    pub fn key(&mut self, key: &str) {
        let k = key.as_bytes();
        if k.is_empty() || self.keys.len() >= MAX_KEYS_PER_OWNER || self.keys.iter().any(|x| x == k)
        {
            return;
        }
        self.claim.key(k);
        self.keys.push(k.to_vec());
        let mut l = crate::net::lock(&self.ledger);
        if l.len() < MAX_LEDGER {
            l.push(k.to_vec());
        }
    }

    /// Whether `bytes` carry one of this scenario's keys (whole: a number
    /// is not found inside a longer one).
    pub fn owns(&self, bytes: &[u8]) -> bool {
        self.keys.iter().any(|k| carries(bytes, k))
    }
}

impl PushHarness {
    /// A claim, for `scenario` (its capture), on the bearers' packets that
    /// carry the keys it will give.
    pub fn claim(&self, scenario: &Capture) -> BearerClaim {
        BearerClaim {
            claim: self.capture.claim(scenario),
            ledger: self.ledger.clone(),
            keys: Vec::new(),
        }
    }

    /// Whether `bytes` carry a key that some scenario of the run claimed.
    pub fn anybodys(&self, bytes: &[u8]) -> bool {
        crate::net::lock(&self.ledger)
            .iter()
            .any(|k| carries(bytes, k))
    }

    /// What the SUT pushed since `since` (short messages at the SMSC,
    /// requests at the OTA-HTTP target and the SIP device) that carries no
    /// scenario's key: nobody's to judge, so a failure names it (a SUT that
    /// mangled the address it pushed to, say). One line each.
    pub fn unclaimed_since(&self, since: Instant) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(smsc) = &self.smsc {
            out.extend(
                smsc.log()
                    .iter()
                    .filter(|a| a.at >= since && !self.anybodys(&a.bytes))
                    .filter(|a| {
                        a.pdu.as_ref().map_or(true, |p| {
                            matches!(
                                p.header.command_id,
                                command::SUBMIT_SM | command::SUBMIT_MULTI | command::DATA_SM
                            )
                        })
                    })
                    .map(|a| format!("at the SMSC: {}", a.describe())),
            );
        }
        if let Some(ota) = &self.ota {
            out.extend(
                ota.log()
                    .iter()
                    .filter(|a| a.at >= since && !self.anybodys(&a.bytes))
                    .map(|a| format!("at the OTA-HTTP target: {}", a.describe())),
            );
        }
        if let Some(sip) = &self.sip {
            out.extend(
                sip.log()
                    .iter()
                    .filter(|d| d.incoming.at >= since && !d.retransmission)
                    .filter(|d| {
                        d.incoming
                            .msg
                            .as_ref()
                            .map_or(true, |m| m.method() != Some("ACK"))
                    })
                    .filter(|d| !self.anybodys(&d.incoming.bytes))
                    .map(|d| {
                        format!(
                            "at the SIP device: {} — bytes: {}",
                            d.incoming.describe(),
                            crate::codec::escape_bytes(&d.incoming.bytes, 400)
                        )
                    }),
            );
        }
        out
    }

    /// What reached the SMSC about the binding (binds, unbinds, bytes that
    /// are no SMPP), for a failure to bind: the run-level part of its log,
    /// none of any scenario's pushes.
    pub fn binding_log(&self) -> String {
        let Some(smsc) = &self.smsc else {
            return "no harness SMSC".into();
        };
        let lines: Vec<String> = smsc
            .log()
            .iter()
            .filter(|a| {
                a.pdu.as_ref().map_or(true, |p| {
                    matches!(
                        p.header.command_id,
                        command::BIND_TRANSCEIVER
                            | command::BIND_TRANSMITTER
                            | command::BIND_RECEIVER
                            | command::UNBIND
                            | command::GENERIC_NACK
                    )
                })
            })
            .map(crate::roles::smsc::SmppArrival::describe)
            .collect();
        if lines.is_empty() {
            "nothing about a bind".into()
        } else {
            lines.join(" | ")
        }
    }

    /// Starts the bearers the PPG declares, at its addresses (port 0
    /// picks); what no scenario claims goes to `run_level`, and what the
    /// OTA-HTTP target over TLS takes while no scenario holds it to
    /// `tls_home`.
    pub async fn start(
        p: &crate::profile::PpgSection,
        run_level: Capture,
        tls_home: Capture,
        tls: Option<&crate::harness::tls::RunTls>,
    ) -> Result<PushHarness, String> {
        let capture = Capture::routed(run_level);
        let smsc = match (p.has_bearer("sms"), p.smsc) {
            (true, Some(a)) => Some(
                crate::roles::smsc::Smsc::start(
                    a,
                    capture.clone(),
                    (
                        p.system_id.clone().unwrap_or_default(),
                        p.password.clone().unwrap_or_default(),
                    ),
                )
                .await
                .map_err(|e| format!("ppg.smsc: cannot listen on {a} ({e})"))?,
            ),
            _ => None,
        };
        let ota = match (p.has_bearer("http"), p.ota_http) {
            (true, Some(a)) => Some(
                crate::roles::ota_target::start(a, capture.clone())
                    .await
                    .map_err(|e| format!("ppg.ota_http: cannot listen on {a} ({e})"))?,
            ),
            _ => None,
        };
        let ota_tls = match (p.has_bearer("http"), p.ota_https) {
            (true, Some(a)) => Some(
                OtaTlsTarget::start(a, tls_home.clone())
                    .await
                    .map_err(|e| format!("ppg.ota_https: cannot listen on {a} ({e})"))?,
            ),
            _ => None,
        };
        let sip = match (p.has_bearer("sip"), p.sip_target) {
            (true, Some(a)) => {
                let ep = crate::net::SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| format!("ppg.sip_target: cannot bind {a} ({e})"))?;
                Some(crate::roles::ims_core::ImsCore::start(Arc::new(ep)))
            }
            _ => None,
        };
        let sip_tls = match (p.has_bearer("sip"), p.sip_tls, tls) {
            (true, Some(a), Some(t)) => Some(
                SipTlsDevice::start(a, t.server.clone(), tls_home)
                    .await
                    .map_err(|e| format!("ppg.sip_tls: cannot listen on {a} ({e})"))?,
            ),
            _ => None,
        };
        Ok(PushHarness {
            smsc,
            ota,
            ota_tls,
            sip,
            sip_tls,
            capture,
            ledger: Arc::default(),
        })
    }
}

/// The same bearers for an MMS relay: the SMSC its WSP pushes (notifications,
/// delivery reports) go through and the SIP device its Push over SIP MESSAGEs
/// reach, at the addresses of its `mms_relay` section, routed likewise.
impl PushHarness {
    pub async fn for_mms_relay(
        m: &crate::profile::MmsRelaySection,
        run_level: Capture,
    ) -> Result<PushHarness, String> {
        let capture = Capture::routed(run_level);
        let smsc = match (m.notifies("sms"), m.smsc) {
            (true, Some(a)) => Some(
                crate::roles::smsc::Smsc::start(
                    a,
                    capture.clone(),
                    (
                        m.system_id.clone().unwrap_or_default(),
                        m.password.clone().unwrap_or_default(),
                    ),
                )
                .await
                .map_err(|e| format!("mms_relay.smsc: cannot listen on {a} ({e})"))?,
            ),
            _ => None,
        };
        let sip = match (m.notifies("sip"), m.sip_device) {
            (true, Some(a)) => {
                let ep = crate::net::SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| format!("mms_relay.sip_device: cannot bind {a} ({e})"))?;
                Some(crate::roles::ims_core::ImsCore::start(Arc::new(ep)))
            }
            _ => None,
        };
        Ok(PushHarness {
            smsc,
            ota: None,
            ota_tls: None,
            sip,
            sip_tls: None,
            capture,
            ledger: Arc::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pcap(name: &str) -> (std::path::PathBuf, Capture) {
        let p = std::env::temp_dir().join(format!(
            "liaison-bearers-{name}-{}-{}.pcap",
            std::process::id(),
            crate::codec::sip::token()
        ));
        let c = Capture::create(&p).unwrap();
        (p, c)
    }

    /// One OTA-HTTP push of `body`, answered.
    async fn push(to: std::net::SocketAddr, body: &str) {
        let mut s = tokio::net::TcpStream::connect(to).await.unwrap();
        let req = crate::codec::http::request(
            "POST",
            "/wappush",
            &to.to_string(),
            &[("Content-Type", "text/plain")],
            body.as_bytes(),
        );
        s.write_all(&req).await.unwrap();
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf).await.unwrap();
    }

    /// Two scenarios at once: each one's pushes go to its pcap and are its
    /// own; one that carries nobody's key goes to the run-level pcap and is
    /// named as nobody's.
    #[tokio::test]
    async fn each_claim_owns_its_keys_and_the_rest_is_nobodys() {
        let (p0, run_level) = pcap("run-level");
        let (p1, one) = pcap("one");
        let (p2, two) = pcap("two");
        let section = crate::profile::PpgSection {
            url: "http://127.0.0.1:1/wappush".into(),
            compliance: "wap-2.0".into(),
            bearers: vec!["http".into()],
            smsc: None,
            system_id: None,
            password: None,
            ota_http: Some("127.0.0.1:0".parse().unwrap()),
            sip_target: None,
            address_domain: None,
            https_url: None,
            ota_https: None,
            sip_tls: None,
        };
        let h = PushHarness::start(&section, run_level.clone(), Capture::disabled(), None)
            .await
            .unwrap();
        let began = Instant::now();
        let (mut a, mut b) = (h.claim(&one), h.claim(&two));
        a.key("liaison-aaaa1111");
        b.key("15550001234");
        let ota = h.ota.as_ref().unwrap().addr();
        push(ota, "liaison push liaison-aaaa1111 ").await;
        push(ota, "to +15550001234").await;
        push(ota, "to +155500012345, push-id liaison-zzzz").await;
        let log = h.ota.as_ref().unwrap().log();
        assert_eq!(log.len(), 3);
        assert!(a.owns(&log[0].bytes) && !b.owns(&log[0].bytes));
        assert!(b.owns(&log[1].bytes) && !a.owns(&log[1].bytes));
        // A longer number is not the claimed one.
        assert!(!a.owns(&log[2].bytes) && !b.owns(&log[2].bytes));
        let nobodys = h.unclaimed_since(began);
        assert_eq!(nobodys.len(), 1, "{nobodys:?}");
        assert!(nobodys[0].contains("liaison-zzzz"), "{nobodys:?}");
        // A scenario that ended still owns what carried its keys.
        drop(a);
        assert_eq!(h.unclaimed_since(began).len(), 1);
        for c in [&run_level, &one, &two] {
            c.flush().unwrap();
        }
        let read = |p: &std::path::Path| std::fs::read(p).unwrap();
        let has =
            |p: &std::path::Path, k: &str| read(p).windows(k.len()).any(|w| w == k.as_bytes());
        assert!(has(&p1, "liaison-aaaa1111") && !has(&p1, "15550001234"));
        assert!(has(&p2, "15550001234") && !has(&p2, "liaison-aaaa1111"));
        assert!(has(&p0, "liaison-zzzz") && !has(&p0, "liaison-aaaa1111"));
        for p in [p0, p1, p2] {
            let _ = std::fs::remove_file(p);
        }
    }
}
