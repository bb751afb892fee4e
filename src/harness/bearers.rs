//! The bearers a PPG or an MMS relay pushes over, played by the harness:
//! an SMSC (WSP over SMS), an OTA-HTTP push target, a SIP device.

use std::sync::Arc;

use crate::net::capture::Capture;

/// The bearers a PPG pushes to, played by the harness for the whole run (the
/// SUT is configured with their addresses): an SMSC for WSP over SMS, an
/// OTA-HTTP push target, and a SIP device (the IMS core role, which routes by
/// number). Scenarios that use them hold it (`@harness:NAME`: one scenario at a time per run-level role).
pub struct PushHarness {
    pub smsc: Option<crate::roles::smsc::Smsc>,
    pub ota: Option<crate::roles::ota_target::OtaTarget>,
    pub sip: Option<crate::roles::ims_core::ImsCore>,
    pub capture: Capture,
}

impl std::fmt::Debug for PushHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushHarness")
            .field("smsc", &self.smsc.as_ref().map(|s| s.addr()))
            .field("ota", &self.ota.as_ref().map(|s| s.addr()))
            .finish_non_exhaustive()
    }
}

impl PushHarness {
    /// Starts the bearers the PPG declares, at its addresses (port 0 picks).
    pub async fn start(p: &crate::profile::PpgSection) -> Result<PushHarness, String> {
        let capture = Capture::switchable();
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
        let sip = match (p.has_bearer("sip"), p.sip_target) {
            (true, Some(a)) => {
                let ep = crate::net::SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| format!("ppg.sip_target: cannot bind {a} ({e})"))?;
                Some(crate::roles::ims_core::ImsCore::start(Arc::new(ep)))
            }
            _ => None,
        };
        Ok(PushHarness {
            smsc,
            ota,
            sip,
            capture,
        })
    }
}

/// The same bearers for an MMS relay: the SMSC its WSP pushes (notifications,
/// delivery reports) go through and the SIP device its Push over SIP MESSAGEs
/// reach, at the addresses of its `mms_relay` section.
impl PushHarness {
    pub async fn for_mms_relay(m: &crate::profile::MmsRelaySection) -> Result<PushHarness, String> {
        let capture = Capture::switchable();
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
            sip,
            capture,
        })
    }
}
