//! SUT profiles: which system is under test, which roles it plays, where it
//! listens, and (optionally) how the harness starts, probes and stops it.
//!
//! Profiles are YAML (read with the `serde_yaml` API of `serde_norway`). A
//! profile that cannot be used is a usage error (exit 2) with one line naming
//! the file, the field and what was expected; see [`ProfileError`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Every SUT role the suite knows (design.md, "SUT profile").
pub const ROLES: &[&str] = &[
    "im-client",
    "im-server",
    "sms-im-iwf",
    "ppg",
    "push-client",
    "mms-relay",
    "mms-client",
    "mem-server",
    "xdms",
    "presence-server",
    "poc-server",
    "presence-client",
];

pub use crate::net::Transport;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    roles: Vec<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    sip: Option<RawSip>,
    #[serde(default)]
    harness: Option<RawHarness>,
    #[serde(default)]
    timers: Option<RawTimers>,
    #[serde(default)]
    launch: Option<RawLaunch>,
    #[serde(default)]
    capabilities: Option<Capabilities>,
    #[serde(default)]
    iwf: Option<IwfSection>,
    #[serde(default)]
    msrp: Option<MsrpSection>,
    #[serde(default)]
    ppg: Option<PpgSection>,
    #[serde(default)]
    push_client: Option<PushClientSection>,
    #[serde(default)]
    mms_client: Option<MmsClientSection>,
    #[serde(default)]
    mms_relay: Option<MmsRelaySection>,
    #[serde(default)]
    deferral: Option<DeferralSection>,
    mem_server: Option<MemServerSection>,
    #[serde(default)]
    ims: Option<ImsSection>,
    #[serde(default)]
    tls: Option<TlsSection>,
    #[serde(default)]
    xdms: Option<XdmsSection>,
    #[serde(default)]
    presence: Option<PresenceSection>,
    #[serde(default)]
    poc: Option<PocSection>,
    #[serde(default)]
    presence_client: Option<PresenceClientSection>,
}

/// xdms: an XCAP server (RFC 4825) holding group and resource-list
/// documents, reached on the Ut reference point through an aggregation
/// proxy the harness plays: the proxy asserts the authenticated user's
/// identity in a header, and the SUT trusts that header from the proxy's
/// address only (issue 18, GM-*).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct XdmsSection {
    /// The XCAP root URI (`http://IP:PORT/PATH`), the SUT's HTTP listener.
    pub xcap_root: String,
    /// The address the harness's aggregation proxy sends from: the one
    /// source the SUT trusts for the asserted identity (on IPv4 loopback a
    /// loopback IP of its own, such as 127.0.0.3).
    pub proxy: IpAddr,
    /// The header the proxy asserts the identity in (default
    /// `X-XCAP-Asserted-Identity`, OMA XDM; 3GPP TS 33.222 names
    /// `X-3GPP-Asserted-Identity`).
    #[serde(default)]
    pub identity_header: Option<String>,
    /// The users' domain (their XUIs are `sip:USER@DOMAIN`); default
    /// `sip.domain`, else `liaison.test`.
    #[serde(default)]
    pub domain: Option<String>,
}

/// presence: a presence server (RFC 3856, 3GPP TS 24.141) behind the
/// harness IMS core (`ims.core`, the source it trusts for
/// P-Asserted-Identity), at `sip.address` (issue 18, PRES-*).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PresenceSection {
    /// The presentities' domain; default `sip.domain`, else `liaison.test`.
    #[serde(default)]
    pub domain: Option<String>,
    /// Where the server takes its users' pres-rules (RFC 5025) over XCAP:
    /// the XCAP root the harness PUTs `pres-rules/users/XUI/index` under,
    /// the aggregation proxy's address it trusts and the identity header
    /// (the same fields as the `xdms` section; for a server with an
    /// integrated XDMS, such as Kamailio's presence_xml with xcap_server,
    /// the same values). Without it the scenarios that set rules
    /// (`@if:pres_rules`) are not applicable.
    #[serde(default)]
    pub rules: Option<XdmsSection>,
}

/// poc: a PoC server's signalling (OMA PoC control plane) behind the
/// harness IMS core, at `sip.address` (issue 18, POC-*): the pre-arranged
/// group it is configured with (its PIXIT). The core routes the group
/// URI's host to the SUT and trusts it; the harness plays every member
/// (known to the core by AoR, so the SUT reaches them through it) and the
/// non-members. The group's host must not be a domain the core sends to a
/// registrar SUT (`sip.domain` of an im-server): its members would go there.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PocSection {
    /// The pre-arranged group's URI (its PoC group identity), e.g.
    /// `sip:poc-group@poc.liaison.test`: the Request-URI of the INVITE
    /// that sets up a group session.
    pub group: String,
    /// The group's members' AoRs (`sip:` URIs, at least three, distinct):
    /// the first one originates, every other one must be invited.
    pub members: Vec<String>,
    /// The domain of the harness users who are no members (POC-2's
    /// caller); default the group URI's host.
    #[serde(default)]
    pub domain: Option<String>,
}

impl PocSection {
    /// The non-members' domain.
    pub fn outsiders_domain(&self) -> String {
        self.domain.clone().unwrap_or_else(|| {
            crate::codec::sip::uri_user_host(&self.group)
                .1
                .unwrap_or_else(|| "liaison.test".into())
        })
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let user_host = |u: &str| match crate::codec::sip::uri_user_host(u) {
            (Some(user), Some(host)) if u.starts_with("sip:") => {
                Some(format!("{user}@{}", host.to_ascii_lowercase()))
            }
            _ => None,
        };
        let group = user_host(&self.group).ok_or_else(|| {
            (
                "poc.group".to_string(),
                format!("expected a sip:USER@HOST URI, got `{}`", self.group),
            )
        })?;
        let mut seen = vec![group];
        for m in &self.members {
            let key = user_host(m).ok_or_else(|| {
                (
                    "poc.members".to_string(),
                    format!("expected sip:USER@HOST URIs, got `{m}`"),
                )
            })?;
            if seen.contains(&key) {
                return Err((
                    "poc.members".into(),
                    format!("expected members distinct from each other and from the group, got `{m}` twice"),
                ));
            }
            seen.push(key);
        }
        if self.members.len() < 3 {
            return Err((
                "poc.members".into(),
                "expected at least three members: an originator and two others to invite".into(),
            ));
        }
        Ok(())
    }
}

/// presence_client: a presence user agent (a presentity, RFC 3903 event
/// publication agent) registered through the harness IMS core, which sends
/// its PUBLISH for its own AoR to the presence server the harness plays
/// (the S-CSCF's filter criteria), issue 18, PRES-11 and PRES-12.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PresenceClientSection {
    /// The user's public identity, `sip:USER@HOST`: the Request-URI and To
    /// of its PUBLISH.
    pub aor: String,
    /// Where the client takes the user's presence changes (the suite's own
    /// interface, as `mms_client.send_trigger`): the harness, standing for
    /// the user, sends `POST /presence/status` with a text/plain body
    /// `open` or `closed`; the client answers 2xx and publishes that basic
    /// status. A fixed loopback address.
    pub trigger: SocketAddr,
}

/// tls: how the harness meets a SUT over TLS (SIP over TLS, issue 15): the
/// certificates it checks the SUT's against, whether it checks them at
/// all, and the certificate it presents. Paths are read relative to the
/// folder the suite runs in, as `launch.command` is. Without this section a
/// SUT that speaks TLS is checked against the run's lab CA (whose
/// certificate, and a certificate and key it issued for the SUT, the run
/// writes into `tls/` of the report folder).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// `ca` (the default): the SUT's certificate must chain to `ca_files`
    /// (or to the run's lab CA when none are named) and name the address
    /// or `server_name` the harness connected to; `none`: it is not
    /// checked, and the report says so on every connection.
    #[serde(default)]
    pub verify: Option<Verify>,
    /// PEM files of the CA certificates the SUT's certificate is checked against.
    #[serde(default)]
    pub ca_files: Option<Vec<PathBuf>>,
    /// The harness's certificate chain and key (PEM), presented when the
    /// SUT connects to the harness (and to a SUT that asks for a client
    /// certificate). Default: issued for the run by the lab CA.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The name the harness asks for (SNI, RFC 6066 §3) and checks the
    /// SUT's certificate for. Default: the IP address it connects to,
    /// checked against the certificate's IP addresses.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// How the harness checks the SUT's certificate (`tls.verify`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    #[default]
    Ca,
    None,
}

impl TlsSection {
    pub fn verify(&self) -> Verify {
        self.verify.unwrap_or_default()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        match (&self.cert, &self.key) {
            (Some(_), None) => {
                return Err((
                    "tls.key".into(),
                    "expected the key (PEM) of tls.cert as well".into(),
                ))
            }
            (None, Some(_)) => {
                return Err((
                    "tls.cert".into(),
                    "expected the certificate chain (PEM) that tls.key is the key of".into(),
                ))
            }
            _ => {}
        }
        if self.verify() == Verify::None && self.ca_files.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err((
                "tls.ca_files".into(),
                "expected no CA files with verify: none (nothing is checked against them)".into(),
            ));
        }
        if let Some(n) = &self.server_name {
            let ok = !n.is_empty()
                && n.len() <= 253
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err((
                    "tls.server_name".into(),
                    format!("expected a DNS name such as sut.lab.example (found `{n}`)"),
                ));
            }
        }
        Ok(())
    }
}

/// ims: the harness plays an IMS core (P-CSCF and S-CSCF in one,
/// `roles::cscf`) at a fixed address the SUT is configured with: as its
/// outbound proxy (a client that registers) or as the one source it trusts
/// for P-Asserted-Identity (a server).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImsSection {
    /// Where the core listens (UDP and TCP on one port). With `trust: ip`
    /// (the default) its IP must differ from `harness.address`: the SUT
    /// judges trust by source IP, and the harness's untrusted senders use
    /// `harness.address`.
    pub core: SocketAddr,
    /// How the SUT recognises the core as its trust domain (RFC 3325 §2.3):
    /// `ip` (the core's IP, the default) or `address` (the core's IP and
    /// port, so the core may share `harness.address`, as on IPv6 loopback,
    /// where `::1` is the one address). With `address` the core sends from
    /// its own port over UDP, the transport the IMS scenarios use.
    #[serde(default)]
    pub trust: Option<Trust>,
    /// im-client over WebSocket: where the core takes SIP over WebSocket
    /// (RFC 7118, `ws://` at this address), the edge the client connects
    /// to and registers through.
    #[serde(default)]
    pub ws: Option<SocketAddr>,
    /// im-client over secure WebSocket: where the core takes SIP over
    /// WebSocket on TLS (`wss://` at this address, RFC 7118 §5 `WSS`),
    /// presenting the harness certificate (the run's lab CA's by default).
    #[serde(default)]
    pub wss: Option<SocketAddr>,
    /// im-client over TLS: where the core takes SIP over TLS (RFC 3261
    /// §26.2), the edge a client registers through with a `sips:` or
    /// `transport=tls` outbound proxy; requests for it go back over the
    /// connection it registered from.
    #[serde(default)]
    pub tls: Option<SocketAddr>,
    /// Run the other areas' SIP scenarios (im-client, im-server,
    /// push-client) through the core too. Those scenarios then run one at a
    /// time. Default false: only the IMS scenarios use the core.
    #[serde(default)]
    pub route_all: Option<bool>,
    /// im-client: the SUT registers through the core itself (REGISTER to
    /// `core`); the core routes requests for its AoR to the registered
    /// contact. Default false: the core routes to `sip.address`.
    #[serde(default)]
    pub register: Option<bool>,
    /// The registration expiry the core grants (seconds, default 4): the
    /// registration scenarios wait for one refresh.
    #[serde(default)]
    pub register_expires_s: Option<u32>,
    /// im-client: the feature tags the SUT claims in its Contact
    /// (`+g.oma.sip-im`, `+g.oma.sip-im.large-message`, …).
    #[serde(default)]
    pub feature_tags: Option<Vec<String>>,
    /// im-client: the ICSIs it claims in `+g.3gpp.icsi-ref`
    /// (`urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg`, …), not encoded.
    #[serde(default)]
    pub icsi: Option<Vec<String>>,
}

/// What identifies the IMS core to a SUT that trusts it (`ims.trust`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// The core's IP.
    #[default]
    Ip,
    /// The core's IP and port.
    Address,
}

impl ImsSection {
    /// Is `src` the core, as the SUT judges it (`trust`)?
    pub fn is_core(&self, src: SocketAddr) -> bool {
        match self.trust.unwrap_or_default() {
            Trust::Ip => src.ip() == self.core.ip(),
            Trust::Address => src == self.core,
        }
    }

    pub fn route_all(&self) -> bool {
        self.route_all.unwrap_or(false)
    }

    pub fn registers(&self) -> bool {
        self.register.unwrap_or(false)
    }

    pub fn expires(&self) -> u32 {
        self.register_expires_s.unwrap_or(4).max(1)
    }

    fn validate(
        &self,
        lab: bool,
        harness_ip: IpAddr,
        roles: &[String],
    ) -> Result<(), (String, String)> {
        check_address(lab, self.core.ip()).map_err(|m| ("ims.core".to_string(), m))?;
        for (field, edge) in [
            ("ims.ws", self.ws),
            ("ims.wss", self.wss),
            ("ims.tls", self.tls),
        ] {
            let Some(ws) = edge else { continue };
            check_address(lab, ws.ip()).map_err(|m| (field.to_string(), m))?;
            if ws.port() == 0 {
                return Err((
                    field.into(),
                    "expected a port other than 0: the SUT is configured with the edge's address"
                        .into(),
                ));
            }
        }
        if self.core.port() == 0 {
            return Err((
                "ims.core".into(),
                "expected a port other than 0: the SUT is configured with the core's address"
                    .into(),
            ));
        }
        if self.core.ip() == harness_ip && self.trust.unwrap_or_default() == Trust::Ip {
            return Err((
                "ims.core".into(),
                format!(
                    "expected an IP other than harness.address {harness_ip} (for instance 127.0.0.2): trust is judged by source IP; or `trust: address` when the SUT trusts the core's IP and port"
                ),
            ));
        }
        if self.registers()
            && !roles
                .iter()
                .any(|r| r == "im-client" || r == "presence-client")
        {
            return Err((
                "ims.register".into(),
                "expected role im-client or presence-client: only a client SUT registers through the core".into(),
            ));
        }
        for t in self.feature_tags.iter().flatten() {
            if !t.starts_with('+') || t.contains(['=', ';', '"']) {
                return Err((
                    "ims.feature_tags".into(),
                    format!(
                        "expected tag names such as +g.oma.sip-im, without values (found `{t}`)"
                    ),
                ));
            }
        }
        for i in self.icsi.iter().flatten() {
            if !i.starts_with("urn:") || i.contains('%') {
                return Err((
                    "ims.icsi".into(),
                    format!("expected URNs as urn:urn-7:…, not percent-encoded (found `{i}`)"),
                ));
            }
        }
        Ok(())
    }
}

/// push-client: what the terminal serves and where the harness meets it
/// besides its SIP address (`sip.address`, where pushes and OPTIONS go).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PushClientSection {
    /// The push application IDs it serves (`+g.oma.pusheventapp` values),
    /// e.g. `[mms.ua]`. The harness pushes to the first.
    pub apps: Vec<String>,
    /// The content types it takes for them (default
    /// `[application/vnd.wap.mms-message]`); the harness pushes the first.
    #[serde(default)]
    pub content_types: Option<Vec<String>>,
    /// The device's address of record: the Request-URI of the harness's
    /// pushes. Default `sip.aor`, else `sip:push@<sip.address>`.
    #[serde(default)]
    pub aor: Option<String>,
    /// With `capabilities.sip_push_subscribe`: the harness push agent the
    /// SUT is configured to SUBSCRIBE to (a loopback address; port 0 is not
    /// allowed, the SUT must know it).
    #[serde(default)]
    pub agent: Option<SocketAddr>,
    /// The harness push agent's TLS address (RFC 3261 §26): the SUT, given
    /// the run's lab CA (`tls/lab-ca.pem`), SUBSCRIBEs over TLS there too
    /// and takes the NOTIFYs back on that connection (`@if:sip_push_subscribe_tls`;
    /// a loopback address with a fixed port, the SUT must know it).
    #[serde(default)]
    pub agent_tls: Option<SocketAddr>,
    /// The event package it subscribes to. Default: a placeholder
    /// (`x-liaison-push-unverified`), the draft's name being unverified.
    #[serde(default)]
    pub subscribe_event: Option<String>,
    /// The upper tester the SUT reports each hand-over to an application to
    /// (HTTP POST /push/<app>, see the README); enables the checks that the
    /// content reaches the application unchanged.
    #[serde(default)]
    pub upper_tester: Option<SocketAddr>,
}

impl PushClientSection {
    /// The content types it declares (the MMS notification type if none).
    pub fn content_types(&self) -> Vec<String> {
        self.content_types
            .clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec!["application/vnd.wap.mms-message".to_string()])
    }

    /// The event package of the SUBSCRIBE/NOTIFY variant.
    pub fn event(&self) -> String {
        self.subscribe_event
            .clone()
            .unwrap_or_else(|| crate::codec::sip_push::PLACEHOLDER_PUSH_EVENT.to_string())
    }
}

/// ppg: where the PPG takes PAP submissions, what it claims, and where the
/// harness plays the bearers it pushes to (the SUT is configured with those
/// addresses, as for `iwf`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PpgSection {
    /// The PAP push-submission URL, `http://127.0.0.1:PORT/PATH`.
    pub url: String,
    /// `wap-1.2.1` (WSP push only) or `wap-2.0` (WSP and OTA-HTTP push).
    pub compliance: String,
    /// The bearers the PPG pushes over: `sms` (WSP over SMS through the harness
    /// SMSC), `http` (OTA-HTTP to the harness push target), `sip` (Push over SIP
    /// to the harness device).
    pub bearers: Vec<String>,
    /// sms: where the harness SMSC listens (the PPG binds here as an ESME) and
    /// the credentials it binds with.
    #[serde(default)]
    pub smsc: Option<SocketAddr>,
    #[serde(default)]
    pub system_id: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// http: where the harness OTA-HTTP push target listens; the PPG pushes to
    /// it for `WAPPUSH=<its IP address>/TYPE=IPv4` (or `TYPE=IPv6`, written
    /// as eight groups of four hex digits) client addresses.
    #[serde(default)]
    pub ota_http: Option<SocketAddr>,
    /// sip: where the harness device (and IMS core) takes SIP pushes.
    #[serde(default)]
    pub sip_target: Option<SocketAddr>,
    /// http: where a second harness OTA-HTTP push target takes pushes over
    /// TLS (HTTPS, RFC 2818), presenting the run's harness certificate (the
    /// lab CA, `tls/lab-ca.pem`, issued it: the PPG must trust that CA).
    /// The PPG is configured to push over TLS to this address for client
    /// addresses naming its IP (`WAPPUSH=<its IP>/TYPE=IPv4`), so its IP
    /// must differ from `ota_http`'s: the `@if:ota_https` scenarios push
    /// there.
    #[serde(default)]
    pub ota_https: Option<SocketAddr>,
    /// sip: where the harness device takes SIP over TLS (RFC 3261 §26),
    /// presenting the run's harness certificate (the PPG must trust
    /// `tls/lab-ca.pem`): the PPG is configured to send its pushes for
    /// `sips:` addresses there, over TLS and never in the clear (RFC 5630);
    /// the `@if:ppg_sip_tls` scenarios push to a `sips:` address.
    #[serde(default)]
    pub sip_tls: Option<SocketAddr>,
    /// The PPG part after `@` in PAP client addresses. Default `ppg.liaison.test`.
    #[serde(default)]
    pub address_domain: Option<String>,
    /// A PPG that also takes PAP over TLS (RFC 2818) at a second URL,
    /// `https://IP:PORT/PATH`: the `@if:pap_https` scenarios submit there.
    /// (A `url` that is itself `https://` sends every submission over TLS.)
    #[serde(default)]
    pub https_url: Option<String>,
}

impl PpgSection {
    /// Where PAP goes over TLS: `https_url`, or `url` when it is `https://`.
    pub fn https(&self) -> Option<&str> {
        self.https_url
            .as_deref()
            .or(Some(self.url.as_str()).filter(|u| crate::codec::http::url_is_https(u)))
    }

    pub fn has_bearer(&self, b: &str) -> bool {
        self.bearers.iter().any(|x| x == b)
    }

    /// (host:port, path) of the PAP URL.
    pub fn url_parts(&self) -> Option<(SocketAddr, String)> {
        crate::codec::http::url_parts(&self.url)
    }

    pub fn domain(&self) -> &str {
        self.address_domain.as_deref().unwrap_or("ppg.liaison.test")
    }
}

/// mms-client: where the client takes pushes, the MMSC URL it is configured
/// with (the harness MMS Relay/Server, a fixed harness address as for `iwf`
/// and `ppg`), and how SIP URIs are written in MMS address fields.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MmsClientSection {
    /// The MMSC URL the client fetches from and posts to, `http://IP:PORT/PATH`
    /// or `https://IP:PORT/PATH` (HTTP over TLS, RFC 2818: the client trusts
    /// the run's lab CA, `tls/lab-ca.pem`): the harness MMS Relay/Server
    /// listens there.
    pub mmsc_url: String,
    /// Where the client takes connectionless WSP pushes as UDP datagrams (WDP
    /// over the IP bearer; port 2948 in WAP-259), `IP:PORT`.
    #[serde(default)]
    pub wap_push: Option<SocketAddr>,
    /// Where the client takes Push over SIP (SIP MESSAGE over UDP), `IP:PORT`.
    #[serde(default)]
    pub sip_push: Option<SocketAddr>,
    /// The user's SIP URI: the Request-URI of SIP pushes and the recipient of
    /// the MMs addressed to a SIP URI. Default `sip:mms-client@<sip_push or
    /// wap_push IP>`.
    #[serde(default)]
    pub sip_uri: Option<String>,
    /// How a SIP URI is written in MMS address fields (From, To): `raw`
    /// (`sip:user@host`, what Android sends and Mbuni passes) or `escaped`
    /// (`sip%3Auser%40host/TYPE=SIP`, the ENC device-address form). Default raw.
    #[serde(default)]
    pub sip_address_form: Option<String>,
    /// Where the client reports what it hands to the terminal's applications
    /// (HTTP `POST /mms/<X-Mms-Applic-ID>`, or `POST /mms` for an MM shown to
    /// the user; see the README): the suite's own interface, as for
    /// `push_client.upper_tester`.
    #[serde(default)]
    pub upper_tester: Option<SocketAddr>,
    /// Where the client takes send triggers: the harness, standing for the
    /// user, POSTs `/mms/send` with `X-Liaison-To: <address>` and a text/plain
    /// body, and the client sends that MM (the suite's own interface, as the
    /// upper tester is).
    #[serde(default)]
    pub send_trigger: Option<SocketAddr>,
    /// The client fetches an `https://` Content-Location over TLS (RFC 2818),
    /// trusting the run's lab CA (`tls/lab-ca.pem`, LIAISON_TLS_CA): the
    /// `@if:mms_https_retrieval` scenario notifies it with one, served by
    /// the harness on a TLS listener of that scenario. Default false.
    #[serde(default)]
    pub https_retrieval: Option<bool>,
    /// Where the client takes Push over SIP over TLS (RFC 3261 §26.2),
    /// `IP:PORT`, with a certificate the harness checks as the `tls`
    /// section says (the run issues `tls/sut-cert.pem` for it): the
    /// `@if:mms_sip_push_tls` scenario pushes there.
    #[serde(default)]
    pub sip_push_tls: Option<SocketAddr>,
}

impl MmsClientSection {
    /// (host:port, path) of the MMSC URL.
    pub fn url_parts(&self) -> Option<(SocketAddr, String)> {
        crate::codec::http::url_parts(&self.mmsc_url)
    }

    /// An `https://` MMSC URL: the harness MMSC takes HTTP over TLS there
    /// (RFC 2818). It serves the run's scenarios side by side, so the TLS
    /// records are in the run-level pcap (`run-level-mmsc.pcap`), not in
    /// each scenario's; the verdicts are the same.
    pub fn mmsc_https(&self) -> bool {
        crate::codec::http::url_is_https(&self.mmsc_url)
    }

    /// The user's SIP URI (declared, or the default).
    pub fn sip_uri(&self) -> String {
        match (&self.sip_uri, self.sip_push.or(self.wap_push)) {
            (Some(u), _) => u.clone(),
            (None, Some(a)) => format!("sip:mms-client@{}", crate::net::uri_host(a.ip())),
            (None, None) => "sip:mms-client@127.0.0.1".into(),
        }
    }

    /// `raw` or `escaped`.
    pub fn address_form(&self) -> &str {
        self.sip_address_form.as_deref().unwrap_or("raw")
    }
}

/// im-server with an MSRP relay (RFC 4976): where the relay listens.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MsrpSection {
    /// The relay's MSRP (TCP) address.
    pub address: SocketAddr,
    /// How long the relay waits for a downstream answer before its 408
    /// failure REPORT (RFC 4976: 30 s). Default 30.
    #[serde(default)]
    pub failure_timeout_s: Option<u64>,
    /// Digest credentials for AUTH (RFC 4976 §5), when the relay asks for them.
    #[serde(default)]
    pub auth: Option<MsrpAuth>,
    /// Where the relay takes MSRP over TLS (its `msrps:` URI, RFC 4975
    /// §14.2), when it does; it may be `address` itself for a relay that
    /// tells a TLS connection by its first byte. Selects the
    /// `@if:msrp_relay_tls` scenarios and makes the run's TLS.
    #[serde(default)]
    pub tls_address: Option<SocketAddr>,
}

/// Digest credentials for an MSRP relay.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MsrpAuth {
    pub user: String,
    pub password: String,
}

/// sms-im-iwf: where the harness plays the SMSC and the IMS core (the SUT is
/// configured to bind to the one and send its SIP MESSAGEs to the other).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IwfSection {
    /// The harness SMSC's SMPP address; the SUT binds here as an ESME.
    pub smsc: SocketAddr,
    /// The system_id and password the SUT binds with.
    pub system_id: String,
    pub password: String,
    /// The harness's SIP address standing for the IMS core; the SUT sends its MESSAGEs here.
    pub ims_core: SocketAddr,
    /// The domain in the SUT's Request-URIs (informative; the number is what routes).
    #[serde(default)]
    pub domain: Option<String>,
    /// The SUT's own SIP T1 in ms (RFC 3261 §17.1.1.1; default 500, the
    /// RFC's). Not the harness's `timers.t1_ms`: the SUT's Timer F and the
    /// watch windows of "never …" checks derive from it.
    #[serde(default)]
    pub t1_ms: Option<u64>,
    /// The SUT's own Timer F in ms, when it is not 64 × `t1_ms`.
    #[serde(default)]
    pub timer_f_ms: Option<u64>,
    /// The harness IMS core's SIP-over-TLS address (RFC 3261 §26.2, RFC
    /// 5630 §3): the SUT is configured to send its requests there over TLS
    /// (Via SIP/2.0/TLS), checking the harness's certificate against the
    /// run's lab CA (`tls/lab-ca.pem` in the report folder). Selects the
    /// `@if:iwf_sip_tls` scenarios and makes the run's TLS.
    #[serde(default)]
    pub ims_core_tls: Option<SocketAddr>,
    /// With `ims_core_tls`: the recipients' number prefix (digits, no `+`)
    /// the SUT routes to `ims_core_tls`, the rest going to `ims_core`;
    /// absent, it sends every request there. The `@if:iwf_sip_tls`
    /// scenarios use numbers with this prefix.
    #[serde(default)]
    pub tls_prefix: Option<String>,
}

impl IwfSection {
    /// The SUT's T1 (default 500 ms, RFC 3261 §17.1.1.1).
    pub fn sut_t1(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.t1_ms.unwrap_or(500))
    }

    /// The SUT's Timer F: declared, else 64 × its T1 (RFC 3261 §17.1.2.2).
    pub fn sut_timer_f(&self) -> std::time::Duration {
        self.timer_f_ms
            .map(std::time::Duration::from_millis)
            .unwrap_or(self.sut_t1() * 64)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSip {
    address: Option<SocketAddr>,
    /// `udp`, `tcp`, `tls`, or a list of them (checked after parsing, for a precise error).
    #[serde(default)]
    transport: Option<serde_yaml::Value>,
    /// Where the SUT takes SIP over TLS (RFC 3261 §26.2; required with `tls`).
    #[serde(default)]
    tls: Option<SocketAddr>,
    /// im-server: where it takes SIP over WebSocket (RFC 7118), `ws://IP:PORT/PATH`.
    #[serde(default)]
    ws: Option<String>,
    #[serde(default)]
    aor: Option<String>,
    #[serde(default)]
    domain: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHarness {
    address: IpAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    #[serde(default)]
    t1_ms: Option<u64>,
    #[serde(default)]
    scenario_timeout_s: Option<u64>,
    #[serde(default)]
    expires_resolution_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaunch {
    command: Vec<String>,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    ready: Option<Ready>,
}

/// How the harness knows a launched SUT is ready.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// Poll with SIP OPTIONS over UDP until any SIP response comes.
    #[serde(default)]
    pub sip_options: Option<SocketAddr>,
    /// Poll with a TCP connect until it succeeds (as well as the OPTIONS
    /// probe when both are given).
    #[serde(default)]
    pub tcp: Option<SocketAddr>,
    /// Wait until the SUT has registered `sip.aor` through the harness IMS
    /// core (a client that takes no connections: a WebSocket client).
    #[serde(default)]
    pub registered: Option<bool>,
    /// Give up (exit 2) after this long. Default 10 s.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// Options the SUT declares; they select scenarios (`@if:` / `@unless:` tags).
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// im-client: the body types the client accepts (text/plain at least).
    #[serde(default)]
    pub accept_types: Option<Vec<String>>,
    /// im-server: stores MESSAGEs for unregistered users (202) and delivers
    /// them when the user registers.
    #[serde(default)]
    pub store_and_forward: Option<bool>,
    /// im-client: takes Large Messages over MSRP sessions set up by INVITE.
    #[serde(default)]
    pub msrp: Option<bool>,
    /// im-client: the largest MSRP message it takes (bytes); a larger one must get 413.
    #[serde(default)]
    pub msrp_max_size: Option<u64>,
    /// sms-im-iwf: sends a long SMS (over 1300 bytes) as a Large Message (MSRP).
    #[serde(default)]
    pub iwf_msrp: Option<bool>,
    /// im-server: relays MSRP (RFC 4976) at the profile's msrp.address.
    #[serde(default)]
    pub msrp_relay: Option<bool>,
    /// im-client, sms-im-iwf: takes (im-client) or offers (sms-im-iwf) MSRP
    /// over TLS: `msrps:` paths and `TCP/TLS/MSRP` in SDP (RFC 4975 §8.1,
    /// §14.2); selects the `@if:msrp_tls` scenarios and makes the run's TLS.
    #[serde(default)]
    pub msrp_tls: Option<bool>,
    /// sms-im-iwf: sends an SME delivery acknowledgement (submit_sm, esm_class
    /// 0x08) with the IM outcome when the SMS asks for one.
    #[serde(default)]
    pub sme_ack: Option<bool>,
    /// im-server: when it stores a MESSAGE for a user whose device registered
    /// only a push contact (`+g.oma.pusheventapp`), it pushes an offline
    /// notification to that contact by SIP MESSAGE.
    #[serde(default)]
    pub offline_notification: Option<bool>,
    /// im-server with offline_notification: the push application ID of its
    /// notifications (the harness device registers for it).
    #[serde(default)]
    pub offline_notification_app: Option<String>,
    /// push-client: also takes pushes by SUBSCRIBE/NOTIFY: it subscribes to
    /// push_client.agent and answers NOTIFYs.
    #[serde(default)]
    pub sip_push_subscribe: Option<bool>,
    /// xdms: stores OMA PoC group documents (AUID
    /// `org.openmobilealliance.groups`, `application/vnd.oma.poc.groups+xml`).
    #[serde(default)]
    pub poc_groups: Option<bool>,
    /// xdms: notifies changes to a user's documents over SIP (RFC 5875
    /// `xcap-diff`): it takes SUBSCRIBE `Event: xcap-diff` at its SIP
    /// address (`sip.address`) from the harness IMS core (`ims`), asserted
    /// as the user, and sends NOTIFYs with application/xcap-diff+xml
    /// through the recorded route. Selects `@if:xcap_diff` (with an `ims`
    /// section and a `sip.address`).
    #[serde(default)]
    pub xcap_diff: Option<bool>,
}

/// The SIP interface of the SUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipInterface {
    /// Where it takes SIP over UDP and TCP; None for a client that speaks
    /// only WebSocket (`sip.transport: [ws]`), which takes no connections.
    pub address: Option<SocketAddr>,
    pub transports: Vec<Transport>,
    /// Where it takes SIP over TLS (`sip.tls`), when `transports` has TLS.
    pub tls: Option<SocketAddr>,
    /// im-server: the URL where it takes SIP over WebSocket (`sip.ws`,
    /// `ws://IP:PORT/PATH`, RFC 7118), when `transports` has WS: the
    /// harness opens its connections there. An im-client over WebSocket
    /// names none: it connects to the harness edge (`ims.ws`).
    pub ws: Option<String>,
    /// im-client: the AoR the harness addresses MESSAGEs to.
    pub aor: Option<String>,
    /// im-server: the domain it serves.
    pub domain: Option<String>,
}

impl SipInterface {
    /// (address, request target) of `sip.ws`.
    pub fn ws_parts(&self) -> Option<(SocketAddr, String)> {
        self.ws.as_deref().and_then(crate::codec::ws::url_parts)
    }

    /// Is `sip.ws` a secure WebSocket URL (`wss://`)?
    pub fn ws_secure(&self) -> bool {
        self.ws
            .as_deref()
            .is_some_and(crate::codec::ws::url_is_secure)
    }
}

/// How to start the SUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub command: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub ready: Option<Ready>,
}

impl Launch {
    /// The program to start and the folder to start it in. Relative paths in
    /// `launch.command` are relative to the folder the suite runs in (the
    /// repository root, for the fixtures). When `launch.cwd` is not given and
    /// the command's first relative path (the program or an argument such as
    /// a script: one with a `/` in it) is not found there, but is found
    /// relative to a folder that holds the profile (its own, or one above),
    /// the SUT is started in that folder, the program named by its path
    /// there: `liaison run --sut /usr/share/liaison/fixtures/sut/kamailio.yaml`
    /// works from any folder, as do the fixtures of a checkout elsewhere.
    pub fn resolve(&self, profile_path: &Path) -> (PathBuf, Option<PathBuf>) {
        let program = PathBuf::from(self.command.first().map_or("", String::as_str));
        if self.cwd.is_some() {
            return (program, self.cwd.clone());
        }
        let path_like = |p: &&Path| p.is_relative() && p.components().count() > 1;
        let Some(rel) = self.command.iter().map(Path::new).find(path_like) else {
            return (program, None);
        };
        if rel.exists() {
            return (program, None);
        }
        let Some(dir) = profile_path.parent() else {
            return (program, None);
        };
        for a in dir.ancestors() {
            let a = if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            };
            if a.join(rel).exists() {
                let program = if path_like(&program.as_path()) {
                    a.join(&program)
                } else {
                    program
                };
                return (program, Some(a.to_path_buf()));
            }
        }
        (program, None)
    }
}

/// A validated SUT profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Where it was read from (`<reference>` for the embedded SUT).
    pub path: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Where the SUT may be: loopback (the default) or a lab network.
    pub network: Network,
    pub sip: Option<SipInterface>,
    pub harness_ip: IpAddr,
    pub t1_ms: u64,
    pub scenario_timeout_s: u64,
    /// How finely the SUT times a message's lifetime (`timers.
    /// expires_resolution_ms`, 1 to 1000, default 1000: whole seconds, as
    /// Expires is written, RFC 3261 §20.19). A check that an expired
    /// message is not delivered waits Expires and this much.
    pub expires_resolution_ms: u64,
    pub launch: Option<Launch>,
    pub capabilities: Capabilities,
    pub iwf: Option<IwfSection>,
    pub msrp: Option<MsrpSection>,
    pub ppg: Option<PpgSection>,
    pub push_client: Option<PushClientSection>,
    pub mms_client: Option<MmsClientSection>,
    pub mms_relay: Option<MmsRelaySection>,
    /// im-server: the MMS Relay/Server it defers messages to (MMS as the
    /// deferred mode of IMS messaging).
    pub deferral: Option<DeferralSection>,
    pub mem_server: Option<MemServerSection>,
    /// The harness IMS core (`ims` section).
    pub ims: Option<ImsSection>,
    /// How the harness meets the SUT over TLS (`tls` section; defaults
    /// when absent).
    pub tls: TlsSection,
    /// xdms: its XCAP root and the proxy it trusts.
    pub xdms: Option<XdmsSection>,
    /// presence-server: its presentities' domain and where its pres-rules go (XCAP).
    pub presence: Option<PresenceSection>,
    /// poc-server: its groups.
    pub poc: Option<PocSection>,
    /// presence-client: its user and trigger.
    pub presence_client: Option<PresenceClientSection>,
}

/// Where a SUT may be. The default keeps every address on this host's
/// loopback; `network: lab` is the explicit opt-in that lets a profile name
/// a SUT (and a harness interface) on a lab network, so that a mistyped
/// address never sends test traffic, malformed messages included, to a
/// production network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    #[default]
    Loopback,
    Lab,
}

impl Network {
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Loopback => "loopback",
            Network::Lab => "lab",
        }
    }
}

/// Why a profile cannot be used. Displayed as one line:
/// `profile FILE: FIELD: what was expected (what was found)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "profile {}: {}", self.file, self.message)
        } else {
            write!(f, "profile {}: {}: {}", self.file, self.field, self.message)
        }
    }
}

impl std::error::Error for ProfileError {}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        // Bounded read: `--sut /dev/zero` or a huge file is refused at the
        // limit, not read whole (README "Limits").
        let text =
            crate::limits::read_text(path, crate::limits::MAX_YAML_FILE).map_err(|message| {
                ProfileError {
                    file: file.clone(),
                    field: String::new(),
                    message,
                }
            })?;
        Profile::parse(&text, &file)
    }

    /// Parses and validates profile text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let err = |field: &str, message: String| ProfileError {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        crate::limits::check_yaml_depth(text).map_err(|m| err("", m))?;
        let raw: RawProfile = serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e))?;

        if raw.name.trim().is_empty() {
            return Err(err("name", "expected a non-empty name".into()));
        }
        if raw.roles.is_empty() {
            return Err(err(
                "roles",
                format!("expected at least one of: {}", ROLES.join(", ")),
            ));
        }
        for (i, r) in raw.roles.iter().enumerate() {
            if !ROLES.contains(&r.as_str()) {
                return Err(err(
                    &format!("roles[{i}]"),
                    format!("expected one of {} (found `{r}`)", ROLES.join(", ")),
                ));
            }
        }
        let network = match raw.network.as_deref().map(str::trim) {
            None | Some("loopback") => Network::Loopback,
            Some("lab") => Network::Lab,
            Some(other) => {
                return Err(err(
                    "network",
                    format!("expected loopback (the default) or lab (found `{other}`)"),
                ))
            }
        };
        let lab = network == Network::Lab;
        // An im-server that is only an MSRP relay has no SIP interface.
        let needs_sip = raw
            .roles
            .iter()
            .any(|r| r == "im-client" || r == "push-client")
            || (raw.roles.iter().any(|r| r == "im-server") && raw.msrp.is_none());
        let sip = match raw.sip {
            None if needs_sip => return Err(err(
                "sip.address",
                "expected the SUT's SIP address (ip:port); roles im-client, im-server and push-client need it"
                    .into(),
            )),
            None => None,
            Some(s) => {
                let transports = match &s.transport {
                    None => vec![Transport::Udp],
                    Some(v) => parse_transports(v).ok_or_else(|| {
                        err(
                            "sip.transport",
                            format!(
                                "expected udp, tcp, tls, ws or a list of them (found {})",
                                yaml_brief(v)
                            ),
                        )
                    })?,
                };
                // A WebSocket client (RFC 7118 §5) takes no connections: it
                // opens one to the harness edge and registers over it. A
                // WebSocket server names the URL the harness connects to.
                let only_client = raw.roles.iter().all(|r| r == "im-client");
                let server = raw.roles.iter().any(|r| r == "im-server");
                let ws_only = transports == [Transport::Ws] && only_client;
                if transports.contains(&Transport::Ws) {
                    let edge = raw
                        .ims
                        .as_ref()
                        .is_some_and(|i| (i.ws.is_some() || i.wss.is_some()) && i.registers());
                    let client_ok = only_client && edge;
                    if !client_ok && !server {
                        return Err(err(
                            "sip.transport",
                            "expected ws only for role im-client with ims.ws (the harness edge it connects to) and ims.register: true, or for role im-server with sip.ws".into(),
                        ));
                    }
                }
                match (&s.ws, transports.contains(&Transport::Ws)) {
                    (Some(_), _) if only_client => {
                        return Err(err(
                            "sip.ws",
                            "expected no sip.ws for role im-client: a WebSocket client takes no connections and connects to the harness edge, ims.ws".into(),
                        ))
                    }
                    (None, true) if server => {
                        return Err(err(
                            "sip.ws",
                            "expected the URL where the SUT takes SIP over WebSocket (ws://IP:PORT/PATH, e.g. ws://127.0.0.1:5062/): sip.transport lists ws".into(),
                        ))
                    }
                    (Some(_), false) => {
                        return Err(err(
                            "sip.transport",
                            "expected ws in the list: sip.ws names a WebSocket URL".into(),
                        ))
                    }
                    (Some(url), true) => {
                        let (a, _) = crate::codec::ws::url_parts(url).ok_or_else(|| {
                            err(
                                "sip.ws",
                                format!("expected ws://IP:PORT/PATH or wss://IP:PORT/PATH (a numeric host and a port), got `{url}`"),
                            )
                        })?;
                        check_fixed(lab, a).map_err(|m| err("sip.ws", m))?;
                    }
                    _ => {}
                }
                let address = match s.address {
                    Some(a) => {
                        check_fixed(lab, a).map_err(|m| err("sip.address", m))?;
                        Some(a)
                    }
                    None if ws_only => None,
                    None => {
                        return Err(err(
                            "sip.address",
                            "expected the SUT's SIP address (ip:port), e.g. 127.0.0.1:5060".into(),
                        ))
                    }
                };
                match (transports.contains(&Transport::Tls), s.tls) {
                    (true, None) => {
                        return Err(err(
                            "sip.tls",
                            "expected the address where the SUT takes SIP over TLS (ip:port, e.g. 127.0.0.1:5061): sip.transport lists tls".into(),
                        ))
                    }
                    (false, Some(_)) => {
                        return Err(err(
                            "sip.transport",
                            "expected tls in the list: sip.tls names a TLS address".into(),
                        ))
                    }
                    (_, Some(a)) => check_fixed(lab, a).map_err(|m| err("sip.tls", m))?,
                    (false, None) => {}
                }
                if raw.roles.iter().any(|r| r == "im-client") && s.aor.is_none() {
                    return Err(err(
                        "sip.aor",
                        "expected the SUT user's address of record (role im-client), e.g. sip:bob@127.0.0.1".into(),
                    ));
                }
                if raw.roles.iter().any(|r| r == "im-server") && s.domain.is_none() {
                    return Err(err(
                        "sip.domain",
                        "expected the domain the server serves (role im-server), e.g. liaison.test"
                            .into(),
                    ));
                }
                Some(SipInterface {
                    address,
                    transports,
                    tls: s.tls,
                    ws: s.ws,
                    aor: s.aor,
                    domain: s.domain,
                })
            }
        };
        let harness_ip = match raw.harness {
            Some(h) => {
                check_address(lab, h.address).map_err(|m| err("harness.address", m))?;
                h.address
            }
            None => IpAddr::from([127, 0, 0, 1]),
        };
        let timers = raw.timers.unwrap_or(RawTimers {
            t1_ms: None,
            scenario_timeout_s: None,
            expires_resolution_ms: None,
        });
        let expires_resolution_ms = timers.expires_resolution_ms.unwrap_or(1000);
        if !(1..=1000).contains(&expires_resolution_ms) {
            return Err(err(
                "timers.expires_resolution_ms",
                format!("expected 1..=1000 milliseconds (found {expires_resolution_ms})"),
            ));
        }
        let t1_ms = timers.t1_ms.unwrap_or(500);
        if t1_ms == 0 || t1_ms > 10_000 {
            return Err(err(
                "timers.t1_ms",
                format!("expected 1..=10000 milliseconds (found {t1_ms})"),
            ));
        }
        let scenario_timeout_s = timers.scenario_timeout_s.unwrap_or(10);
        if scenario_timeout_s == 0 || scenario_timeout_s > 3600 {
            return Err(err(
                "timers.scenario_timeout_s",
                format!("expected 1..=3600 seconds (found {scenario_timeout_s})"),
            ));
        }
        let launch = match raw.launch {
            None => None,
            Some(l) => {
                if l.command.is_empty() || l.command[0].trim().is_empty() {
                    return Err(err(
                        "launch.command",
                        "expected a non-empty list: program and arguments".into(),
                    ));
                }
                if let Some(r) = &l.ready {
                    let registered = r.registered == Some(true);
                    if r.sip_options.is_none() && r.tcp.is_none() && !registered {
                        return Err(err(
                            "launch.ready",
                            "expected `sip_options: ADDR`, `tcp: ADDR` or `registered: true`"
                                .into(),
                        ));
                    }
                    let registers = raw.ims.as_ref().is_some_and(|i| i.registers());
                    if registered && !registers {
                        return Err(err(
                            "launch.ready.registered",
                            "expected ims.register: true (the SUT registers through the harness IMS core)".into(),
                        ));
                    }
                    for a in r.sip_options.iter().chain(r.tcp.iter()) {
                        check_fixed(lab, *a).map_err(|m| err("launch.ready", m))?;
                    }
                }
                Some(Launch {
                    command: l.command,
                    cwd: l.cwd,
                    env: l.env,
                    ready: l.ready,
                })
            }
        };
        if raw.roles.iter().any(|r| r == "sms-im-iwf") && raw.iwf.is_none() {
            return Err(err(
                "iwf",
                "expected the harness SMSC and IMS core addresses for role sms-im-iwf (iwf: { smsc, system_id, password, ims_core })".into(),
            ));
        }
        if let Some(m) = &raw.msrp {
            check_fixed(lab, m.address).map_err(|e| err("msrp.address", e))?;
            if let Some(t) = m.tls_address {
                check_fixed(lab, t).map_err(|e| err("msrp.tls_address", e))?;
            }
        }
        if raw
            .capabilities
            .as_ref()
            .and_then(|c| c.msrp_relay)
            .unwrap_or(false)
            && raw.msrp.is_none()
        {
            return Err(err(
                "msrp",
                "expected the relay's address (msrp: { address }) for capabilities.msrp_relay"
                    .into(),
            ));
        }
        if raw.roles.iter().any(|r| r == "ppg") && raw.ppg.is_none() {
            return Err(err(
                "ppg",
                "expected the PPG's PAP URL, compliance and bearers for role ppg (ppg: { url, compliance, bearers, … })".into(),
            ));
        }
        if let Some(p) = &raw.ppg {
            let (addr, _) = p.url_parts().ok_or_else(|| {
                err(
                    "ppg.url",
                    format!(
                        "expected http://IP:PORT/PATH or https://IP:PORT/PATH, got `{}`",
                        p.url
                    ),
                )
            })?;
            check_fixed(lab, addr).map_err(|m| err("ppg.url", m))?;
            if let Some(u) = &p.https_url {
                let ok = crate::codec::http::url_is_https(u);
                let (addr, _) =
                    crate::codec::http::url_parts(u)
                        .filter(|_| ok)
                        .ok_or_else(|| {
                            err(
                                "ppg.https_url",
                                format!("expected https://IP:PORT/PATH, got `{u}`"),
                            )
                        })?;
                check_fixed(lab, addr).map_err(|m| err("ppg.https_url", m))?;
            }
            if !matches!(p.compliance.as_str(), "wap-1.2.1" | "wap-2.0") {
                return Err(err(
                    "ppg.compliance",
                    format!("expected wap-1.2.1 or wap-2.0, got `{}`", p.compliance),
                ));
            }
            if let Some(b) = p
                .bearers
                .iter()
                .find(|b| !matches!(b.as_str(), "sms" | "http" | "sip"))
            {
                return Err(err(
                    "ppg.bearers",
                    format!("expected sms, http or sip, got `{b}`"),
                ));
            }
            let need = |bearer: &str, field: &str, have: bool| {
                if p.has_bearer(bearer) && !have {
                    Err(err(
                        &format!("ppg.{field}"),
                        format!("expected for bearer {bearer}"),
                    ))
                } else {
                    Ok(())
                }
            };
            need("sms", "smsc", p.smsc.is_some())?;
            need("sms", "system_id", p.system_id.is_some())?;
            need("sms", "password", p.password.is_some())?;
            need("http", "ota_http", p.ota_http.is_some())?;
            need("sip", "sip_target", p.sip_target.is_some())?;
            if p.sip_tls.is_some() && !p.has_bearer("sip") {
                return Err(err(
                    "ppg.sip_tls",
                    "expected sip among the bearers (Push over SIP over TLS is the sip bearer)"
                        .into(),
                ));
            }
            if let Some(t) = p.ota_https {
                if !p.has_bearer("http") {
                    return Err(err(
                        "ppg.ota_https",
                        "expected http among the bearers (OTA-HTTP over TLS is the http bearer)"
                            .into(),
                    ));
                }
                if p.ota_http.is_some_and(|a| a.ip() == t.ip()) {
                    return Err(err(
                        "ppg.ota_https",
                        format!("expected an IP other than ota_http's: the PPG tells the terminal it pushes to over TLS by the IP a client address names (found {t})"),
                    ));
                }
            }
            if p.compliance == "wap-2.0" && !p.has_bearer("http") {
                return Err(err(
                    "ppg.bearers",
                    "expected http among the bearers of a wap-2.0 PPG (WAP 2.0 pushes over WSP and HTTP)".into(),
                ));
            }
            for (f, a) in [
                ("smsc", p.smsc),
                ("ota_http", p.ota_http),
                ("sip_target", p.sip_target),
                ("ota_https", p.ota_https),
                ("sip_tls", p.sip_tls),
            ] {
                if let Some(a) = a {
                    check_fixed(lab, a).map_err(|m| err(&format!("ppg.{f}"), m))?;
                }
            }
        }
        if raw.roles.iter().any(|r| r == "mms-client") && raw.mms_client.is_none() {
            return Err(err(
                "mms_client",
                "expected the client's push addresses and the MMSC URL it is configured with for role mms-client (mms_client: { mmsc_url, wap_push and/or sip_push })".into(),
            ));
        }
        if let Some(m) = &raw.mms_client {
            let (addr, _) = m.url_parts().ok_or_else(|| {
                err(
                    "mms_client.mmsc_url",
                    format!(
                        "expected http://IP:PORT/PATH or https://IP:PORT/PATH, got `{}`",
                        m.mmsc_url
                    ),
                )
            })?;
            check_fixed(lab, addr).map_err(|e| err("mms_client.mmsc_url", e))?;
            if m.wap_push.is_none() && m.sip_push.is_none() {
                return Err(err(
                    "mms_client",
                    "expected wap_push (UDP address for WSP pushes) or sip_push (SIP address for Push over SIP), or both".into(),
                ));
            }
            for (f, a) in [
                ("wap_push", m.wap_push),
                ("sip_push", m.sip_push),
                ("sip_push_tls", m.sip_push_tls),
            ] {
                if let Some(a) = a {
                    check_fixed(lab, a).map_err(|e| err(&format!("mms_client.{f}"), e))?;
                }
            }
            if let Some(u) = &m.sip_uri {
                let rest = u.strip_prefix("sip:").or_else(|| u.strip_prefix("sips:"));
                let ok = rest
                    .and_then(|r| r.split_once('@'))
                    .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty());
                if !ok {
                    return Err(err(
                        "mms_client.sip_uri",
                        format!("expected a SIP URI sip:user@host, got `{u}`"),
                    ));
                }
            }
            if !matches!(m.address_form(), "raw" | "escaped") {
                return Err(err(
                    "mms_client.sip_address_form",
                    format!("expected raw or escaped, got `{}`", m.address_form()),
                ));
            }
        }
        if let Some(i) = &raw.iwf {
            check_fixed(lab, i.smsc).map_err(|m| err("iwf.smsc", m))?;
            check_fixed(lab, i.ims_core).map_err(|m| err("iwf.ims_core", m))?;
            if let Some(t) = i.t1_ms.filter(|t| !(1..=10_000).contains(t)) {
                return Err(err(
                    "iwf.t1_ms",
                    format!("expected 1..=10000 milliseconds (found {t})"),
                ));
            }
            if let Some(t) = i.timer_f_ms.filter(|t| !(1..=600_000).contains(t)) {
                return Err(err(
                    "iwf.timer_f_ms",
                    format!("expected 1..=600000 milliseconds (found {t})"),
                ));
            }
            if let Some(a) = i.ims_core_tls {
                check_fixed(lab, a).map_err(|m| err("iwf.ims_core_tls", m))?;
            }
            if let Some(p) = &i.tls_prefix {
                if i.ims_core_tls.is_none() {
                    return Err(err(
                        "iwf.tls_prefix",
                        "expected iwf.ims_core_tls beside it (the address the SUT routes these numbers to)".into(),
                    ));
                }
                if !(1..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(
                        "iwf.tls_prefix",
                        format!("expected 1 to 8 digits without `+` (found `{p}`)"),
                    ));
                }
            }
        }
        let caps = raw.capabilities.clone().unwrap_or_default();
        if raw.roles.iter().any(|r| r == "push-client") && raw.push_client.is_none() {
            return Err(err(
                "push_client",
                "expected the push applications it serves for role push-client (push_client: { apps: [mms.ua] })".into(),
            ));
        }
        if let Some(p) = &raw.push_client {
            if p.apps.is_empty() || p.apps.iter().any(|a| a.trim().is_empty()) {
                return Err(err(
                    "push_client.apps",
                    "expected at least one push application ID, e.g. [mms.ua]".into(),
                ));
            }
            for (f, a) in [
                ("agent", p.agent),
                ("agent_tls", p.agent_tls),
                ("upper_tester", p.upper_tester),
            ] {
                if let Some(a) = a {
                    check_fixed(lab, a).map_err(|m| err(&format!("push_client.{f}"), m))?;
                }
            }
            if caps.sip_push_subscribe.unwrap_or(false) && p.agent.is_none() {
                return Err(err(
                    "push_client.agent",
                    "expected the harness push agent's address (the SUT subscribes there) for capabilities.sip_push_subscribe".into(),
                ));
            }
        } else if caps.sip_push_subscribe.unwrap_or(false) {
            return Err(err(
                "push_client",
                "expected a push_client section with agent for capabilities.sip_push_subscribe"
                    .into(),
            ));
        }
        if caps.offline_notification.unwrap_or(false)
            && caps
                .offline_notification_app
                .as_deref()
                .is_none_or(|a| a.trim().is_empty())
        {
            return Err(err(
                "capabilities.offline_notification_app",
                "expected the push application ID of the server's offline notifications for capabilities.offline_notification".into(),
            ));
        }
        if raw.roles.iter().any(|r| r == "mms-relay") && raw.mms_relay.is_none() {
            return Err(err(
                "mms_relay",
                "expected the relay's MM1 URL and the bearers it notifies over for role mms-relay (mms_relay: { mm1_url, notify, … })".into(),
            ));
        }
        if let Some(m) = &raw.mms_relay {
            m.validate(lab).map_err(|(f, m)| err(&f, m))?;
        }
        if let Some(d) = &raw.deferral {
            if !raw.roles.iter().any(|r| r == "im-server") {
                return Err(err(
                    "deferral",
                    "expected role im-server: deferral is how an IM server hands messages to MMS"
                        .into(),
                ));
            }
            d.validate(lab).map_err(|(f, m)| err(&f, m))?;
            let served = sip.as_ref().and_then(|s| s.domain.clone());
            let deferred = d.recipient_domain.clone().or(served.clone());
            if caps.store_and_forward.unwrap_or(false)
                && deferred.is_some()
                && deferred.as_deref().map(str::to_ascii_lowercase)
                    == served.as_deref().map(str::to_ascii_lowercase)
            {
                return Err(err(
                    "deferral.recipient_domain",
                    "expected a domain other than sip.domain with capabilities.store_and_forward: a message for an offline user cannot be both stored for its REGISTER and deferred to MMS".into(),
                ));
            }
        }
        if let Some(a) = raw.mms_client.as_ref().and_then(|m| m.upper_tester) {
            check_fixed(lab, a).map_err(|m| err("mms_client.upper_tester", m))?;
        }
        if let Some(a) = raw.mms_client.as_ref().and_then(|m| m.send_trigger) {
            check_fixed(lab, a).map_err(|m| err("mms_client.send_trigger", m))?;
        }
        if raw.roles.iter().any(|r| r == "mem-server") && raw.mem_server.is_none() {
            return Err(err(
                "mem_server",
                "expected how new mail reaches the server and where it notifies for role mem-server (mem_server: { inbox or deliver_command, mailbox, notify_to, mm3 })".into(),
            ));
        }
        if let Some(m) = &raw.mem_server {
            m.validate(lab).map_err(|(f, m)| err(&f, m))?;
        }
        if let Some(i) = &raw.ims {
            i.validate(lab, harness_ip, &raw.roles)
                .map_err(|(f, m)| err(&f, m))?;
        }
        if raw.roles.iter().any(|r| r == "poc-server") && (raw.poc.is_none() || raw.ims.is_none()) {
            return Err(err(
                "poc",
                "expected the pre-arranged group (poc: { group, members }) and the ims section of the core in front of it for role poc-server".into(),
            ));
        }
        if let Some(p) = &raw.poc {
            p.validate().map_err(|(f, m)| err(&f, m))?;
        }
        if raw.roles.iter().any(|r| r == "presence-client")
            && (raw.presence_client.is_none() || raw.ims.is_none())
        {
            return Err(err(
                "presence_client",
                "expected the user and its trigger (presence_client: { aor, trigger }) and the ims section of the core it publishes through for role presence-client".into(),
            ));
        }
        if let Some(c) = &raw.presence_client {
            if !matches!(crate::codec::sip::uri_user_host(&c.aor), (Some(_), Some(_)) if c.aor.starts_with("sip:"))
            {
                return Err(err(
                    "presence_client.aor",
                    format!("expected a sip:USER@HOST URI, got `{}`", c.aor),
                ));
            }
            check_fixed(lab, c.trigger).map_err(|m| err("presence_client.trigger", m))?;
        }
        let tls = raw.tls.unwrap_or_default();
        tls.validate().map_err(|(f, m)| err(&f, m))?;
        Ok(Profile {
            path: file.to_string(),
            name: raw.name,
            roles: raw.roles,
            network,
            sip,
            harness_ip,
            t1_ms,
            scenario_timeout_s,
            expires_resolution_ms,
            launch,
            capabilities: raw.capabilities.unwrap_or_default(),
            iwf: raw.iwf,
            msrp: raw.msrp,
            ppg: raw.ppg,
            push_client: raw.push_client,
            mms_client: raw.mms_client,
            mms_relay: raw.mms_relay,
            deferral: raw.deferral,
            mem_server: raw.mem_server,
            ims: raw.ims,
            tls,
            xdms: raw.xdms,
            presence: raw.presence,
            poc: raw.poc,
            presence_client: raw.presence_client,
        })
    }

    /// Does the harness meet this SUT over TLS anywhere (SIP over TLS, MSRP
    /// over TLS)?
    /// The run then makes its lab CA and certificates.
    pub fn uses_tls(&self) -> bool {
        self.has_transport(Transport::Tls)
            || self.capability("msrp_tls")
            || self.capability("mem_starttls")
            || self.capability("mms_mm3_starttls")
            || self.capability("pap_https")
            || self.capability("mm1_https")
            || self.capability("mms_notify_sips")
            || self.capability("mms_https_retrieval")
            || self.mms_client.as_ref().is_some_and(|m| m.mmsc_https())
            || self.deferral.as_ref().is_some_and(|d| d.mmsc_https())
            || self.capability("mms_sip_push_tls")
            || self.capability("ota_https")
            || self.capability("ppg_sip_tls")
            || self.capability("sip_push_subscribe_tls")
            || self.capability("msrp_relay_tls")
            || self.capability("iwf_sip_tls")
            || self.sip.as_ref().is_some_and(|s| s.ws_secure())
            || self
                .ims
                .as_ref()
                .is_some_and(|i| i.wss.is_some() || i.tls.is_some())
    }

    /// An im-client that registers through the core's TLS or WebSocket
    /// edge and takes every scenario through the core (`ims.register`,
    /// `ims.route_all`, `ims.tls`/`ws`/`wss`): the core reaches it over the
    /// connection it registered on, never over UDP.
    pub fn client_behind_stream_edge(&self) -> bool {
        self.has_role("im-client")
            && self.ims.as_ref().is_some_and(|i| {
                i.registers()
                    && i.route_all()
                    && (i.tls.is_some() || i.ws.is_some() || i.wss.is_some())
            })
    }

    /// Does the SUT play this role?
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The capabilities of [`CAPABILITIES`] that hold for this SUT, in that
    /// order (report.json's `sut.capabilities`, the conformance statement's).
    pub fn declared_capabilities(&self) -> Vec<String> {
        CAPABILITIES
            .iter()
            .filter(|c| self.capability(c))
            .map(|c| c.to_string())
            .collect()
    }

    /// Is a declared capability true? (`accept_types` counts as declared when present.)
    pub fn capability(&self, name: &str) -> bool {
        match name {
            "store_and_forward" => self.capabilities.store_and_forward.unwrap_or(false),
            "accept_types" => self.capabilities.accept_types.is_some(),
            "accepts_any_type" => self.takes_type(UNSUPPORTED_PROBE_TYPE),
            "msrp" => self.capabilities.msrp.unwrap_or(false),
            "msrp_max_size" => self.capabilities.msrp_max_size.is_some(),
            "sme_ack" => self.capabilities.sme_ack.unwrap_or(false),
            "msrp_relay" => self.capabilities.msrp_relay.unwrap_or(false),
            "msrp_tls" => self.capabilities.msrp_tls.unwrap_or(false),
            "msrp_relay_tls" => {
                self.capability("msrp_relay")
                    && self.msrp.as_ref().is_some_and(|m| m.tls_address.is_some())
            }
            "sip" => self.sip.is_some(),
            "iwf_msrp" => self.capabilities.iwf_msrp.unwrap_or(false),
            "iwf_sip_tls" => self.iwf.as_ref().is_some_and(|i| i.ims_core_tls.is_some()),
            "wap_2_0" => self.ppg.as_ref().is_some_and(|p| p.compliance == "wap-2.0"),
            "push_sms" => self.ppg.as_ref().is_some_and(|p| p.has_bearer("sms")),
            "push_http" => self.ppg.as_ref().is_some_and(|p| p.has_bearer("http")),
            "push_sip" => self.ppg.as_ref().is_some_and(|p| p.has_bearer("sip")),
            "pap_https" => self.ppg.as_ref().is_some_and(|p| p.https().is_some()),
            "ota_https" => self.ppg.as_ref().is_some_and(|p| p.ota_https.is_some()),
            "ppg_sip_tls" => self.ppg.as_ref().is_some_and(|p| p.sip_tls.is_some()),
            "offline_notification" => self.capabilities.offline_notification.unwrap_or(false),
            "sip_push_subscribe" => self.capabilities.sip_push_subscribe.unwrap_or(false),
            "sip_push_subscribe_tls" => {
                self.capabilities.sip_push_subscribe.unwrap_or(false)
                    && self
                        .push_client
                        .as_ref()
                        .is_some_and(|p| p.agent_tls.is_some())
            }
            "push_upper_tester" => self
                .push_client
                .as_ref()
                .is_some_and(|p| p.upper_tester.is_some()),
            "mms_wap_push" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.wap_push.is_some()),
            "mms_sip_push" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.sip_push.is_some()),
            "mms_https_retrieval" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.https_retrieval == Some(true)),
            "mms_sip_push_tls" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.sip_push_tls.is_some()),
            "mms_notify_sms" => self.mms_relay.as_ref().is_some_and(|m| m.notifies("sms")),
            "mms_notify_sip" => self.mms_relay.as_ref().is_some_and(|m| m.notifies("sip")),
            "mm1_https" => self.mms_relay.as_ref().is_some_and(|m| m.https().is_some()),
            "mms_notify_sips" => self
                .mms_relay
                .as_ref()
                .is_some_and(|m| m.notifies("sip") && m.sip_device_tls.is_some()),
            "deferral" => self.deferral.is_some(),
            "ims" => self.ims.is_some(),
            "ims_register" => self.ims.as_ref().is_some_and(|i| i.registers()),
            "ims_feature_tags" => self
                .ims
                .as_ref()
                .is_some_and(|i| i.feature_tags.as_ref().is_some_and(|t| !t.is_empty())),
            "ims_icsi" => self
                .ims
                .as_ref()
                .is_some_and(|i| i.icsi.as_ref().is_some_and(|t| !t.is_empty())),
            "defers_own_users" => self.deferral.as_ref().is_some_and(|d| {
                let served = self.sip.as_ref().and_then(|s| s.domain.as_deref());
                match (&d.recipient_domain, served) {
                    (None, _) => true,
                    (Some(r), Some(s)) => r.eq_ignore_ascii_case(s),
                    (Some(_), None) => false,
                }
            }),
            "mms_mm3" => self.mms_relay.as_ref().is_some_and(|m| m.mm3.is_some()),
            "mms_mm3_max_size" => self
                .mms_relay
                .as_ref()
                .is_some_and(|m| m.mm3.is_some() && m.mm3_max_size.is_some()),
            "mms_mm3_starttls" => self
                .mms_relay
                .as_ref()
                .is_some_and(|m| m.mm3.is_some() && m.mm3_starttls == Some(true)),
            "mms_send" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.send_trigger.is_some()),
            "mms_upper_tester" => self
                .mms_client
                .as_ref()
                .is_some_and(|m| m.upper_tester.is_some()),
            "mem_payload_emn" => self
                .mem_server
                .as_ref()
                .is_some_and(|m| m.payload() == "emn"),
            "mem_other_mailbox" => self
                .mem_server
                .as_ref()
                .is_some_and(|m| m.other_mailbox.is_some()),
            "pres_rules" => self.presence.as_ref().is_some_and(|p| p.rules.is_some()),
            "mem_starttls" => self
                .mem_server
                .as_ref()
                .is_some_and(|m| m.starttls == Some(true)),
            "poc_groups" => self.xdms.is_some() && self.capabilities.poc_groups.unwrap_or(false),
            "xcap_diff" => {
                self.xdms.is_some()
                    && self.ims.is_some()
                    && self.sip.as_ref().is_some_and(|s| s.address.is_some())
                    && self.capabilities.xcap_diff.unwrap_or(false)
            }
            // The harness can send as a client the XDMS does not trust only
            // from an address other than the proxy's (not on IPv6 loopback,
            // where ::1 is the only one).
            "xdms_untrusted_source" => self
                .xdms
                .as_ref()
                .is_some_and(|x| x.proxy != self.harness_ip),
            _ => false,
        }
    }

    /// Does the SUT take this SIP transport?
    pub fn has_transport(&self, t: Transport) -> bool {
        self.sip.as_ref().is_some_and(|s| s.transports.contains(&t))
    }

    /// Does an im-client that declares `accept_types` take `media` (a
    /// `type/subtype`)? An entry matches itself, `type/*` its whole type and
    /// `*/*` everything (RFC 3261 §20.1: Accept uses the media ranges of
    /// HTTP), letters compared without case, parameters ignored.
    pub fn takes_type(&self, media: &str) -> bool {
        let (ty, sub) = media.split_once('/').unwrap_or((media, ""));
        self.accept_types().iter().any(|range| {
            let range = range.split(';').next().unwrap_or_default().trim();
            let (rt, rs) = range.split_once('/').unwrap_or((range, ""));
            (rt == "*" && rs == "*")
                || (rt.eq_ignore_ascii_case(ty) && (rs == "*" || rs.eq_ignore_ascii_case(sub)))
        })
    }

    /// Why a scenario with `tag` does not apply to this SUT, when the tag is
    /// one whose absence of a check is itself a finding worth stating (the
    /// report then marks requirements with no other scenario not applicable,
    /// with this reason).
    pub fn not_applicable_because(&self, tag: &str) -> Option<String> {
        match tag {
            "unless:accepts_any_type" if self.capability("accepts_any_type") => Some(format!(
                "the SUT declares accept_types [{}], which take {UNSUPPORTED_PROBE_TYPE} too: it has no body type it does not support, and RFC 3261 §8.2.3 asks for 415 only for such a type",
                self.accept_types().join(", ")
            )),
            _ => None,
        }
    }

    /// The body types an im-client declares it accepts (text/plain if none declared).
    pub fn accept_types(&self) -> Vec<String> {
        self.capabilities
            .accept_types
            .clone()
            .unwrap_or_else(|| vec!["text/plain".to_string()])
    }
}

/// The body type the harness sends as one an im-client does not support
/// (DR-3, DR-9, DR-15): a private `x-` subtype no client should know.
pub const UNSUPPORTED_PROBE_TYPE: &str = "application/x-liaison-unsupported";

/// Capability names a profile may declare (for `@if:`/`@unless:` tags).
pub const CAPABILITIES: &[&str] = &[
    "store_and_forward",
    "accept_types",
    "accepts_any_type",
    "msrp",
    "msrp_max_size",
    "sme_ack",
    "msrp_relay",
    "msrp_tls",
    "msrp_relay_tls",
    "sip",
    "iwf_msrp",
    "iwf_sip_tls",
    "wap_2_0",
    "push_sms",
    "push_http",
    "push_sip",
    "offline_notification",
    "sip_push_subscribe",
    "sip_push_subscribe_tls",
    "push_upper_tester",
    "mms_wap_push",
    "mms_sip_push",
    "mms_https_retrieval",
    "mms_sip_push_tls",
    "mms_notify_sms",
    "mms_notify_sip",
    "deferral",
    "defers_own_users",
    "mms_mm3",
    "mms_mm3_max_size",
    "mms_mm3_starttls",
    "mms_upper_tester",
    "mms_send",
    "mem_payload_emn",
    "mem_other_mailbox",
    "mem_starttls",
    "pap_https",
    "mm1_https",
    "mms_notify_sips",
    "ota_https",
    "ppg_sip_tls",
    "ims",
    "ims_register",
    "ims_feature_tags",
    "ims_icsi",
    "poc_groups",
    "xcap_diff",
    "xdms_untrusted_source",
    "pres_rules",
];

/// The problem with a declared SIP URI form in MMS addresses (`uri`, the bare
/// `sip:user@host`, or `typed`, `escaped-value/TYPE=<ty>`), as (field, what
/// was expected).
fn sip_form_problem(form: Option<&str>, ty: &str) -> Option<(&'static str, String)> {
    if let Some(f) = form.filter(|f| !matches!(*f, "uri" | "typed")) {
        return Some((
            "sip_address_form",
            format!("expected uri (sip:user@host) or typed (escaped-value/TYPE=SIP), got `{f}`"),
        ));
    }
    if ty.is_empty() || !ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Some((
            "sip_address_type",
            format!("expected letters, digits and _ (OMA MMS ENC §8), got `{ty}`"),
        ));
    }
    None
}

/// im-server with deferral (seed 000: MMS as the deferred mode of IMS
/// messaging): where the server submits the messages it defers, and whom it
/// defers for. The harness plays that MMS Relay/Server for the run.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeferralSection {
    /// `http://IP:PORT/PATH`: the MM1 URL the server POSTs M-Send.req to.
    pub mmsc_url: String,
    /// The domain of the users the server knows as MMS users (those it
    /// defers for); default `sip.domain`.
    #[serde(default)]
    pub recipient_domain: Option<String>,
    /// How the server writes SIP URIs in the MM's From and To: `uri` (the
    /// bare `sip:user@host`, the default) or `typed` (`escaped-value/TYPE=SIP`).
    #[serde(default)]
    pub sip_address_form: Option<String>,
    /// typed: the name after `/TYPE=` (default `SIP`).
    #[serde(default)]
    pub sip_address_type: Option<String>,
}

impl DeferralSection {
    /// (host:port, path) of the MMSC URL.
    pub fn url_parts(&self) -> Option<(SocketAddr, String)> {
        crate::codec::http::url_parts(&self.mmsc_url)
    }

    /// An `https://` MMSC URL: the harness MMSC takes HTTP over TLS there
    /// (RFC 2818); its records are in `run-level-deferral-mmsc.pcap`, not
    /// in each scenario's (it serves the run's scenarios side by side).
    pub fn mmsc_https(&self) -> bool {
        crate::codec::http::url_is_https(&self.mmsc_url)
    }

    /// A SIP URI as the server is declared to write it in an MMS address.
    pub fn wire(&self, uri: &str) -> String {
        if self.sip_address_form.as_deref() == Some("typed") {
            crate::codec::mms::Address::typed(
                self.sip_address_type.as_deref().unwrap_or("SIP"),
                uri,
            )
            .to_string()
        } else {
            uri.to_string()
        }
    }

    fn validate(&self, lab: bool) -> Result<(), (String, String)> {
        let e = |f: &str, m: String| Err((format!("deferral.{f}"), m));
        let Some((addr, _)) = self.url_parts() else {
            return e(
                "mmsc_url",
                format!(
                    "expected http://IP:PORT/PATH or https://IP:PORT/PATH, got `{}`",
                    self.mmsc_url
                ),
            );
        };
        if let Err(m) = check_fixed(lab, addr) {
            return e("mmsc_url", m);
        }
        if let Some((f, m)) = sip_form_problem(
            self.sip_address_form.as_deref(),
            self.sip_address_type.as_deref().unwrap_or("SIP"),
        ) {
            return e(f, m);
        }
        if let Some(d) = &self.recipient_domain
            && (d.is_empty()
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        {
            return e(
                "recipient_domain",
                format!("expected a host name (letters, digits, - and .), got `{d}`"),
            );
        }
        Ok(())
    }
}

fn parse_transports(v: &serde_yaml::Value) -> Option<Vec<Transport>> {
    let one = |v: &serde_yaml::Value| match v.as_str()?.to_ascii_lowercase().as_str() {
        "udp" => Some(Transport::Udp),
        "tcp" => Some(Transport::Tcp),
        "tls" => Some(Transport::Tls),
        "ws" => Some(Transport::Ws),
        _ => None,
    };
    match v {
        serde_yaml::Value::Sequence(items) if !items.is_empty() => items.iter().map(one).collect(),
        serde_yaml::Value::Sequence(_) => None,
        v => one(v).map(|t| vec![t]),
    }
}

fn yaml_brief(v: &serde_yaml::Value) -> String {
    serde_yaml::to_string(v)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ")
}

/// An address the harness may use: loopback, or with `network: lab` any
/// unicast address (`net::permitted_in`).
fn check_address(lab: bool, ip: IpAddr) -> Result<(), String> {
    if crate::net::permitted_in(lab, ip) {
        Ok(())
    } else if lab {
        Err(format!(
            "expected a unicast address of the lab network or a loopback address (found {ip})"
        ))
    } else {
        Err(format!(
            "expected a loopback address (127.0.0.1 or ::1); the suite sends to no other address unless the profile opts in with `network: lab` at its top (found {ip})"
        ))
    }
}

/// An address the harness may use ([`check_address`]) with a fixed port:
/// every address in a profile is one the SUT listens on or is configured
/// with, so port 0 (any port) names no place to send to (binding or sending
/// to it fails only later, as an I/O error mid-run).
fn check_fixed(lab: bool, a: SocketAddr) -> Result<(), String> {
    check_address(lab, a.ip())?;
    if a.port() == 0 {
        return Err(
            "expected a fixed port: the SUT is configured with this address (found port 0)"
                .to_string(),
        );
    }
    Ok(())
}

/// Turns a YAML/serde error into a one-line [`ProfileError`] naming the field.
fn yaml_error(file: &str, e: &serde_yaml::Error) -> ProfileError {
    let text = e.to_string();
    let text = text.lines().next().unwrap_or("").to_string();
    // serde_norway prefixes nested errors with `path.to.field: `.
    let (field, rest) = match text.split_once(": ") {
        Some((f, r)) if !f.contains(' ') && !f.is_empty() => (f.to_string(), r.to_string()),
        _ => (String::new(), text.clone()),
    };
    let mut message = rest
        .replace("invalid type: ", "wrong type: found ")
        .replace(
            "data did not match any variant of untagged enum OneOrMany",
            "expected udp, tcp or a list of them",
        );
    // Where the location is not in the message already, add it.
    if let Some(loc) = e.location()
        && !message.contains("line ")
    {
        message = format!("{message} (line {}, column {})", loc.line(), loc.column());
    }
    // A missing top-level field (`missing field `name``) names the field itself.
    let field = if field.is_empty() {
        message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("missing field") || message.starts_with("unknown field")
            })
            .map(str::to_string)
            .unwrap_or_default()
    } else {
        field
    };
    ProfileError {
        file: file.to_string(),
        field,
        message,
    }
}

/// mms-relay: where the relay takes MM1 requests, how it notifies recipients
/// (the harness plays those bearers, at addresses the relay is configured
/// with), and the wire form it uses for SIP URI addresses.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MmsRelaySection {
    /// `http://IP:PORT/PATH`: M-Send.req, M-NotifyResp.ind and
    /// M-Acknowledge.ind are POSTed here (the MMS Proxy-Relay URL of MM1).
    /// An `https://` URL sends every MM1 request over TLS (RFC 2818).
    pub mm1_url: String,
    /// The bearers its notifications and delivery reports reach terminals
    /// over: `sms` (WSP push in WDP over SMS, through the harness SMSC) for
    /// MSISDN addresses, `sip` (Push over SIP MESSAGE to the harness device)
    /// for SIP URI addresses.
    pub notify: Vec<String>,
    /// sms: where the harness SMSC listens (the relay binds as an ESME) and
    /// the credentials it binds with.
    #[serde(default)]
    pub smsc: Option<SocketAddr>,
    #[serde(default)]
    pub system_id: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// sip: where the harness device (the IMS core towards the recipients)
    /// takes the relay's SIP MESSAGEs (UDP).
    #[serde(default)]
    pub sip_device: Option<SocketAddr>,
    /// How the relay writes a SIP URI in From/To/Cc/Bcc: `uri` (the bare
    /// `sip:user@host`, the default) or `typed` (`escaped-value/TYPE=SIP`).
    #[serde(default)]
    pub sip_address_form: Option<String>,
    /// typed: the name after `/TYPE=` (default `SIP`).
    #[serde(default)]
    pub sip_address_type: Option<String>,
    /// The host part of the SIP URIs the harness makes up (default `ims.liaison.test`).
    #[serde(default)]
    pub sip_domain: Option<String>,
    /// MM3: where the relay takes SMTP from external servers (a MEM server),
    /// `IP:PORT`; enables the MEM outband notification scenarios.
    #[serde(default)]
    pub mm3: Option<SocketAddr>,
    /// MM3: the domain of the MMS recipients' mail addresses
    /// (`+number/TYPE=PLMN@<domain>`). Default `mms.liaison.test`.
    #[serde(default)]
    pub mm3_domain: Option<String>,
    /// MM3: the largest message it takes (octets); a larger one must get an
    /// SMTP error reply. Enables the oversized-message scenario.
    #[serde(default)]
    pub mm3_max_size: Option<u64>,
    /// MM3: the relay offers STARTTLS (RFC 3207) after EHLO, with the
    /// certificate the tls section checks (@if:mms_mm3_starttls, MEM-19).
    #[serde(default)]
    pub mm3_starttls: Option<bool>,
    /// A relay that also takes MM1 over TLS (RFC 2818) at a second URL,
    /// `https://IP:PORT/PATH`, with the certificate the tls section checks:
    /// the `@if:mm1_https` scenarios send their MM1 requests there.
    #[serde(default)]
    pub mm1_https_url: Option<String>,
    /// sip: where the harness device takes the relay's SIP over TLS
    /// (RFC 3261 §26.2.2), `IP:PORT`: the MESSAGEs for `sips:` recipients
    /// go there, the harness presenting its certificate (from the run's lab
    /// CA). Enables `@if:mms_notify_sips`.
    #[serde(default)]
    pub sip_device_tls: Option<SocketAddr>,
}

impl MmsRelaySection {
    pub fn notifies(&self, bearer: &str) -> bool {
        self.notify.iter().any(|b| b == bearer)
    }

    /// (host:port, path) of the MM1 URL (`http://` or `https://`).
    pub fn url_parts(&self) -> Option<(SocketAddr, String)> {
        crate::codec::http::url_parts(&self.mm1_url)
    }

    /// Where MM1 goes over TLS: `mm1_https_url`, or `mm1_url` when it is
    /// `https://`.
    pub fn https(&self) -> Option<&str> {
        self.mm1_https_url
            .as_deref()
            .or(Some(self.mm1_url.as_str()).filter(|u| crate::codec::http::url_is_https(u)))
    }

    /// True when SIP URIs go in the `escaped-value/TYPE=` form.
    pub fn typed_sip(&self) -> bool {
        self.sip_address_form.as_deref() == Some("typed")
    }

    pub fn sip_type(&self) -> &str {
        self.sip_address_type.as_deref().unwrap_or("SIP")
    }

    pub fn sip_domain(&self) -> &str {
        self.sip_domain.as_deref().unwrap_or("ims.liaison.test")
    }

    pub fn mm3_domain(&self) -> &str {
        self.mm3_domain.as_deref().unwrap_or("mms.liaison.test")
    }

    /// The first problem, as (field, what was expected).
    fn validate(&self, lab: bool) -> Result<(), (String, String)> {
        let e = |f: &str, m: String| Err((format!("mms_relay.{f}"), m));
        let Some((addr, _)) = self.url_parts() else {
            return e(
                "mm1_url",
                format!(
                    "expected http://IP:PORT/PATH or https://IP:PORT/PATH, got `{}`",
                    self.mm1_url
                ),
            );
        };
        if let Err(m) = check_fixed(lab, addr) {
            return e("mm1_url", m);
        }
        if let Some(u) = &self.mm1_https_url {
            let Some((addr, _)) =
                crate::codec::http::url_parts(u).filter(|_| crate::codec::http::url_is_https(u))
            else {
                return e(
                    "mm1_https_url",
                    format!("expected https://IP:PORT/PATH, got `{u}`"),
                );
            };
            if let Err(m) = check_fixed(lab, addr) {
                return e("mm1_https_url", m);
            }
        }
        if self.notify.is_empty() {
            return e("notify", "expected at least one of sms, sip".into());
        }
        if let Some(b) = self
            .notify
            .iter()
            .find(|b| !matches!(b.as_str(), "sms" | "sip"))
        {
            return e("notify", format!("expected sms or sip, got `{b}`"));
        }
        for (bearer, field, have) in [
            ("sms", "smsc", self.smsc.is_some()),
            ("sms", "system_id", self.system_id.is_some()),
            ("sms", "password", self.password.is_some()),
            ("sip", "sip_device", self.sip_device.is_some()),
        ] {
            if self.notifies(bearer) && !have {
                return e(field, format!("expected for notify {bearer}"));
            }
        }
        if self.sip_device_tls.is_some() && !self.notifies("sip") {
            return e("sip_device_tls", "expected only with notify sip".into());
        }
        for (f, a) in [
            ("smsc", self.smsc),
            ("sip_device", self.sip_device),
            ("sip_device_tls", self.sip_device_tls),
        ] {
            if let Some(Err(m)) = a.map(|a| check_fixed(lab, a)) {
                return e(f, m);
            }
        }
        if let Some((f, m)) = sip_form_problem(self.sip_address_form.as_deref(), self.sip_type()) {
            return e(f, m);
        }
        if let Some(a) = self.mm3
            && let Err(m) = check_fixed(lab, a)
        {
            return e("mm3", m);
        }
        if self.mm3_max_size == Some(0) {
            return e("mm3_max_size", "expected a size in octets above 0".into());
        }
        let d = self.sip_domain();
        if d.is_empty()
            || !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return e(
                "sip_domain",
                format!("expected a host name (letters, digits, - and .), got `{d}`"),
            );
        }
        Ok(())
    }
}

/// mem-server: how the harness makes new mail arrive in the user's mailbox,
/// and where the server sends its outband notifications (the harness MMS
/// server's MM3 interface, an address the SUT is configured with).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MemServerSection {
    /// Where the server takes incoming mail by SMTP (`IP:PORT`): the harness
    /// delivers each new message here.
    #[serde(default)]
    pub inbox: Option<SocketAddr>,
    /// Instead of `inbox`: a program the harness runs per new message, the
    /// message on its standard input and the mailbox in `LIAISON_MAILBOX`.
    #[serde(default)]
    pub deliver_command: Option<Vec<String>>,
    /// The user's mailbox (the new mail is addressed to it).
    pub mailbox: String,
    /// Another mailbox on the server, not the user's (mail to it must not
    /// notify the user); enables that scenario.
    #[serde(default)]
    pub other_mailbox: Option<String>,
    /// The recipient the server notifies at the MMS server: the user's MMS
    /// address as a mail address, e.g. `+15550001111/TYPE=PLMN@mms.liaison.test`.
    pub notify_to: String,
    /// Where the harness MM3 SMTP server listens (fixed port).
    pub mm3: SocketAddr,
    /// The declared payload format: `emn` (OMA EMN XML, checked) or `other`
    /// (not checked beyond being there). Default emn.
    #[serde(default)]
    pub payload: Option<String>,
    /// The server uses STARTTLS (RFC 3207) on MM3 when the MMS server
    /// offers it: the MEM-18 scenario's MM3 interface offers it (its
    /// certificate from the run's TLS, `tls` section). Default false.
    #[serde(default)]
    pub starttls: Option<bool>,
}

impl MemServerSection {
    pub fn payload(&self) -> &str {
        self.payload.as_deref().unwrap_or("emn")
    }

    fn validate(&self, lab: bool) -> Result<(), (String, String)> {
        let e = |f: &str, m: String| Err((format!("mem_server.{f}"), m));
        match (&self.inbox, &self.deliver_command) {
            (None, None) => {
                return e(
                    "inbox",
                    "expected inbox (the SMTP address new mail is delivered to) or deliver_command"
                        .into(),
                )
            }
            (Some(_), Some(_)) => {
                return e(
                    "deliver_command",
                    "expected inbox or deliver_command, not both".into(),
                )
            }
            (None, Some(c)) if c.is_empty() => {
                return e(
                    "deliver_command",
                    "expected a program and its arguments".into(),
                )
            }
            _ => {}
        }
        for (f, a) in [("inbox", self.inbox), ("mm3", Some(self.mm3))] {
            if let Some(a) = a
                && let Err(m) = check_fixed(lab, a)
            {
                return e(f, m);
            }
        }
        if self.mm3.port() == 0 {
            return e(
                "mm3",
                "expected a fixed port: the SUT is configured with this address (found port 0)"
                    .into(),
            );
        }
        let mailbox_ok = |m: &str| {
            m.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && !d.is_empty() && !m.contains(['<', '>', ' '])
            })
        };
        for (f, v) in [
            ("mailbox", Some(&self.mailbox)),
            ("other_mailbox", self.other_mailbox.as_ref()),
            ("notify_to", Some(&self.notify_to)),
        ] {
            if let Some(v) = v
                && !mailbox_ok(v)
            {
                return e(
                    f,
                    format!("expected a mail address local@domain, got `{v}`"),
                );
            }
        }
        if !matches!(self.payload(), "emn" | "other") {
            return e(
                "payload",
                format!("expected emn or other, got `{}`", self.payload()),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: Example IM client 1.0
roles: [im-client]
sip:  { address: 127.0.0.1:5070, transport: udp, aor: "sip:bob@example.net" }
harness: { address: 127.0.0.1 }
timers: { t1_ms: 100, scenario_timeout_s: 10 }
launch:
  command: [baresip, -f, fixtures/sut/baresip]
  ready: { sip_options: 127.0.0.1:5070 }
capabilities: { accept_types: [text/plain] }
"#;

    #[test]
    fn launch_paths_are_found_from_the_profile_folder_when_not_here() {
        let launch = |command: &[&str], cwd: Option<&str>| Launch {
            command: command.iter().map(|s| s.to_string()).collect(),
            cwd: cwd.map(PathBuf::from),
            env: BTreeMap::new(),
            ready: None,
        };
        // As installed: /usr/share/liaison/fixtures/sut/{x.yaml,x/run.sh}.
        let root = std::env::temp_dir().join(format!("liaison-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("fixtures/sut/zz-x")).unwrap();
        std::fs::write(root.join("fixtures/sut/zz-x/run.sh"), "").unwrap();
        let profile = root.join("fixtures/sut/zz-x.yaml");
        let l = launch(&["fixtures/sut/zz-x/run.sh"], None);
        assert_eq!(
            l.resolve(&profile),
            (root.join("fixtures/sut/zz-x/run.sh"), Some(root.clone()))
        );
        // A program from PATH with a script argument: the folder only.
        let l = launch(&["python3", "fixtures/sut/zz-x/run.sh", "-p", "1"], None);
        assert_eq!(l.resolve(&profile), ("python3".into(), Some(root.clone())));
        // An explicit cwd is kept; a path found nowhere changes nothing.
        let l = launch(&["fixtures/sut/zz-x/run.sh"], Some("/tmp"));
        assert_eq!(
            l.resolve(&profile),
            ("fixtures/sut/zz-x/run.sh".into(), Some("/tmp".into()))
        );
        let l = launch(&["fixtures/sut/zz-y/run.sh"], None);
        assert_eq!(
            l.resolve(&profile),
            ("fixtures/sut/zz-y/run.sh".into(), None)
        );
        // Found relative to the folder the suite runs in (the tests run in the
        // repository root): as before, unchanged.
        let l = launch(&["fixtures/sut/kamailio/run.sh"], None);
        assert_eq!(
            l.resolve(&root.join("fixtures/sut/kamailio.yaml")),
            ("fixtures/sut/kamailio/run.sh".into(), None)
        );
        let l = launch(&["sipp", "-p", "5060"], None);
        assert_eq!(l.resolve(&profile), ("sipp".into(), None));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_client_taking_every_type_has_no_unsupported_type() {
        let with = |types: &str| {
            Profile::parse(
                &GOOD.replace(
                    "accept_types: [text/plain]",
                    &format!("accept_types: {types}"),
                ),
                "x.yaml",
            )
            .unwrap()
        };
        for all in [
            "[\"*/*\"]",
            "[text/plain, \"application/*\"]",
            "[\"APPLICATION/X-Liaison-Unsupported; q=1\"]",
        ] {
            let p = with(all);
            assert!(p.capability("accepts_any_type"), "{all}");
            let why = p.not_applicable_because("unless:accepts_any_type").unwrap();
            assert!(why.contains("RFC 3261 §8.2.3"), "{why}");
        }
        for some in ["[text/plain]", "[text/plain, \"text/*\", message/cpim]"] {
            let p = with(some);
            assert!(!p.capability("accepts_any_type"), "{some}");
            assert_eq!(p.not_applicable_because("unless:accepts_any_type"), None);
            assert!(p.takes_type("text/plain"));
        }
        assert!(!with("[text/plain]").takes_type("text/html"));
    }

    #[test]
    fn design_example_parses() {
        let p = Profile::parse(GOOD, "x.yaml").unwrap();
        assert_eq!(p.name, "Example IM client 1.0");
        assert_eq!(p.t1_ms, 100);
        assert_eq!(p.sip.as_ref().unwrap().transports, vec![Transport::Udp]);
        assert!(p.launch.is_some());
    }

    fn err_of(text: &str) -> String {
        Profile::parse(text, "bad.yaml").unwrap_err().to_string()
    }

    #[test]
    fn unknown_field_is_named() {
        let e = err_of(&GOOD.replace("aor:", "aro:"));
        assert!(
            e.starts_with("profile bad.yaml: sip: unknown field `aro`"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn wrong_type_is_named() {
        let e = err_of(&GOOD.replace("t1_ms: 100", "t1_ms: fast"));
        assert!(
            e.starts_with("profile bad.yaml: timers.t1_ms: wrong type"),
            "{e}"
        );
        assert!(e.contains("expected u64"), "{e}");
    }

    #[test]
    fn missing_address_is_named() {
        let e = err_of(&GOOD.replace("address: 127.0.0.1:5070, ", ""));
        assert_eq!(
            e,
            "profile bad.yaml: sip.address: expected the SUT's SIP address (ip:port), e.g. 127.0.0.1:5060"
        );
    }

    #[test]
    fn non_loopback_is_refused() {
        let e = err_of(&GOOD.replace("address: 127.0.0.1:5070", "address: 10.0.0.1:5070"));
        assert!(
            e.starts_with("profile bad.yaml: sip.address: expected a loopback"),
            "{e}"
        );
        // The refusal tells how to opt in.
        assert!(
            e.contains("`network: lab`") && e.contains("10.0.0.1"),
            "{e}"
        );
        let e = err_of(&GOOD.replace("address: 127.0.0.1 }", "address: 192.0.2.1 }"));
        assert!(
            e.starts_with("profile bad.yaml: harness.address: expected a loopback"),
            "{e}"
        );
        let e = err_of(&GOOD.replace("launch:", "ims: { core: \"192.0.2.9:5099\" }\nlaunch:"));
        assert!(
            e.starts_with("profile bad.yaml: ims.core: expected a loopback"),
            "{e}"
        );
    }

    /// A lab profile (validated only: nothing is sent to these addresses).
    fn lab(text: &str) -> String {
        format!("network: lab\n{}", text.trim_start())
            .replace("address: 127.0.0.1:5070", "address: 192.0.2.10:5070")
            .replace("address: 127.0.0.1 }", "address: 192.0.2.1 }")
            .replace(
                "sip_options: 127.0.0.1:5070",
                "sip_options: 192.0.2.10:5070",
            )
    }

    /// A WebSocket client (RFC 7118) takes no connections: it names no
    /// sip.address, only the harness edge it connects to, and registers
    /// through the core, which the readiness check waits for.
    #[test]
    fn a_websocket_client_names_the_edge_and_no_address() {
        let ok = "name: j\nroles: [im-client]\nsip: { transport: [ws], aor: \"sip:bob@liaison.test\" }\nims: { core: 127.0.0.2:5099, ws: 127.0.0.2:5090, register: true, route_all: true }\nlaunch: { command: [x], ready: { registered: true } }\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        assert_eq!(p.sip.as_ref().unwrap().address, None);
        assert!(p.has_transport(Transport::Ws) && !p.has_transport(Transport::Udp));
        assert_eq!(
            p.ims.as_ref().unwrap().ws,
            Some("127.0.0.2:5090".parse().unwrap())
        );
        let bad = |from: &str, to: &str| {
            Profile::parse(&ok.replace(from, to), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(bad(" ws: 127.0.0.2:5090,", "")
            .starts_with("profile bad.yaml: sip.transport: expected ws only"));
        assert!(bad(" register: true,", "")
            .starts_with("profile bad.yaml: sip.transport: expected ws only"));
        assert!(bad("[ws]", "[udp]").starts_with("profile bad.yaml: sip.address: expected"));
        assert!(
            bad("5090", "0").starts_with("profile bad.yaml: ims.ws: expected a port other than 0")
        );
        assert!(bad("127.0.0.2:5090", "192.0.2.1:5090").starts_with("profile bad.yaml: ims.ws:"));
    }

    /// A WebSocket server (RFC 7118) names the URL the harness connects
    /// to: required with ws in the transports of an im-server, refused for
    /// an im-client (which connects to ims.ws), checked like any address.
    #[test]
    fn the_tls_section_says_how_the_sut_is_checked() {
        let tls = GOOD.replace(
            "transport: udp",
            "transport: [udp, tls], tls: 127.0.0.1:5071",
        );
        let p = Profile::parse(&tls, "p.yaml").unwrap();
        assert!(p.uses_tls());
        assert_eq!(p.tls.verify(), Verify::Ca);
        let with = |section: &str| Profile::parse(&format!("{tls}{section}\n"), "bad.yaml");
        let p = with("tls: { verify: none, server_name: sut.lab.example }").unwrap();
        assert_eq!(p.tls.verify(), Verify::None);
        for (section, want) in [
            ("tls: { cert: c.pem }", "tls.key: expected the key"),
            (
                "tls: { key: k.pem }",
                "tls.cert: expected the certificate chain",
            ),
            (
                "tls: { verify: none, ca_files: [ca.pem] }",
                "tls.ca_files: expected no CA files",
            ),
            (
                "tls: { server_name: \"a b\" }",
                "tls.server_name: expected a DNS name",
            ),
        ] {
            let e = with(section).unwrap_err().to_string();
            assert!(e.contains(want), "{section}: {e}");
        }
        let e = with("tls: { verify: maybe }").unwrap_err().to_string();
        assert!(e.contains("tls"), "{e}");
        // Without TLS anywhere, no lab CA is made.
        assert!(!Profile::parse(GOOD, "p.yaml").unwrap().uses_tls());
    }

    #[test]
    fn a_websocket_server_names_its_url() {
        let ok = "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:15060, transport: [udp, ws], ws: \"ws://127.0.0.1:15062/sip\", domain: liaison.test }\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        assert!(p.has_transport(Transport::Ws) && p.has_transport(Transport::Udp));
        let sip = p.sip.as_ref().unwrap();
        assert_eq!(
            sip.ws_parts(),
            Some(("127.0.0.1:15062".parse().unwrap(), "/sip".into()))
        );
        let v6 = ok
            .replace("127.0.0.1:15060", "\"[::1]:15060\"")
            .replace("ws://127.0.0.1:15062/sip", "ws://[::1]:15062/");
        let p = Profile::parse(&v6, "p.yaml").unwrap();
        assert_eq!(
            p.sip.unwrap().ws_parts(),
            Some(("[::1]:15062".parse().unwrap(), "/".into()))
        );
        let bad = |from: &str, to: &str| {
            Profile::parse(&ok.replace(from, to), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        let e = bad(" ws: \"ws://127.0.0.1:15062/sip\",", "");
        assert!(
            e.starts_with(
                "profile bad.yaml: sip.ws: expected the URL where the SUT takes SIP over WebSocket"
            ),
            "{e}"
        );
        let e = bad("[udp, ws]", "[udp]");
        assert!(
            e.starts_with("profile bad.yaml: sip.transport: expected ws in the list"),
            "{e}"
        );
        for (url, want) in [
            ("ws://localhost:15062/", "expected ws://IP:PORT/PATH"),
            ("wss://localhost:15062/", "expected ws://IP:PORT/PATH"),
            ("ws://127.0.0.1/", "expected ws://IP:PORT/PATH"),
            ("ws://127.0.0.1:0/", "expected a fixed port"),
            ("ws://192.0.2.1:15062/", "expected a loopback address"),
        ] {
            let e = bad("ws://127.0.0.1:15062/sip", url);
            assert!(e.starts_with("profile bad.yaml: sip.ws: "), "{url}: {e}");
            assert!(e.contains(want), "{url}: {e}");
        }
        // wss://: secure WebSocket, and the run then makes its TLS.
        let p = Profile::parse(
            &ok.replace("ws://127.0.0.1:15062/sip", "wss://127.0.0.1:15062/sip"),
            "p.yaml",
        )
        .unwrap();
        assert!(p.sip.as_ref().unwrap().ws_secure() && p.uses_tls());
        // On a lab network, any unicast address.
        let lab = format!(
            "network: lab\n{}",
            ok.replace("ws://127.0.0.1:15062", "ws://192.0.2.1:15062")
        );
        assert!(Profile::parse(&lab, "lab.yaml").is_ok());
        // An im-client over WebSocket names the edge, never sip.ws.
        let client = "name: j\nroles: [im-client]\nsip: { transport: [ws], ws: \"ws://127.0.0.1:15062/\", aor: \"sip:bob@liaison.test\" }\nims: { core: 127.0.0.2:5099, ws: 127.0.0.2:5090, register: true, route_all: true }\n";
        let e = Profile::parse(client, "bad.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("profile bad.yaml: sip.ws: expected no sip.ws for role im-client"),
            "{e}"
        );
        // Neither a client at the edge nor a server: no ws.
        let push = "name: d\nroles: [push-client]\nsip: { address: 127.0.0.1:15070, transport: [udp, ws], ws: \"ws://127.0.0.1:15062/\" }\npush_client: { apps: [x.ua] }\n";
        let e = Profile::parse(push, "bad.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("profile bad.yaml: sip.transport: expected ws only"),
            "{e}"
        );
    }

    #[test]
    fn a_lab_network_is_an_explicit_opt_in() {
        let p = Profile::parse(&lab(GOOD), "lab.yaml").unwrap();
        assert_eq!(p.network, Network::Lab);
        assert_eq!(
            p.sip.as_ref().unwrap().address,
            Some("192.0.2.10:5070".parse().unwrap())
        );
        assert_eq!(p.harness_ip, "192.0.2.1".parse::<IpAddr>().unwrap());
        // The default, said or not, is loopback.
        assert_eq!(
            Profile::parse(GOOD, "p.yaml").unwrap().network,
            Network::Loopback
        );
        let said = format!("network: loopback\n{}", GOOD.trim_start());
        assert_eq!(
            Profile::parse(&said, "p.yaml").unwrap().network,
            Network::Loopback
        );
        // Loopback addresses stay allowed in a lab profile, and so does an
        // IMS core on the lab network.
        let mixed = lab(GOOD).replace("address: 192.0.2.1 }", "address: 127.0.0.1 }");
        assert!(Profile::parse(&mixed, "lab.yaml").is_ok());
        let core = lab(GOOD).replace("launch:", "ims: { core: \"192.0.2.9:5099\" }\nlaunch:");
        assert!(Profile::parse(&core, "lab.yaml").is_ok());
    }

    #[test]
    fn a_lab_network_still_needs_one_unicast_peer() {
        for bad in ["0.0.0.0", "224.0.0.1", "255.255.255.255"] {
            let e = err_of(&lab(GOOD).replace("192.0.2.10:5070, ", &format!("{bad}:5070, ")));
            assert!(
                e.starts_with(
                    "profile bad.yaml: sip.address: expected a unicast address of the lab network"
                ),
                "{bad}: {e}"
            );
        }
        let e = err_of(&lab(GOOD).replace("address: 192.0.2.1 }", "address: \"::\" }"));
        assert!(
            e.starts_with("profile bad.yaml: harness.address: expected a unicast"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_network_is_named() {
        let e = err_of(&format!("network: labs\n{}", GOOD.trim_start()));
        assert_eq!(
            e,
            "profile bad.yaml: network: expected loopback (the default) or lab (found `labs`)"
        );
    }

    #[test]
    fn a_sut_address_with_port_0_is_refused_at_load() {
        // Port 0 names no place to send to; before, the run started and
        // ended in exit 1 with an I/O error ("os error 22").
        for (from, to, field) in [
            (
                "address: 127.0.0.1:5070",
                "address: 127.0.0.1:0",
                "sip.address",
            ),
            (
                "sip_options: 127.0.0.1:5070",
                "sip_options: \"[::1]:0\"",
                "launch.ready",
            ),
        ] {
            let e = err_of(&GOOD.replace(from, to));
            assert_eq!(
                e,
                format!("profile bad.yaml: {field}: expected a fixed port: the SUT is configured with this address (found port 0)")
            );
        }
        let e = err_of(&PPG.replace("127.0.0.1:18080", "127.0.0.1:0"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.url: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&format!("{DEFER}msrp: {{ address: 127.0.0.1:0 }}\n"));
        assert!(
            e.starts_with("profile bad.yaml: msrp.address: expected a fixed port"),
            "{e}"
        );
    }

    #[test]
    fn unknown_role_is_named() {
        let e = err_of(&GOOD.replace("[im-client]", "[im-klient]"));
        assert!(
            e.starts_with("profile bad.yaml: roles[0]: expected one of"),
            "{e}"
        );
    }

    #[test]
    fn unreadable_file() {
        let e = Profile::load(Path::new("/nonexistent/p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("profile /nonexistent/p.yaml: cannot read the file"),
            "{e}"
        );
    }

    const PUSH_CLIENT: &str = r#"
name: Example push client
roles: [push-client]
sip: { address: 127.0.0.1:5072 }
push_client: { apps: [mms.ua], agent: 127.0.0.1:5098, upper_tester: 127.0.0.1:5099 }
capabilities: { sip_push_subscribe: true }
"#;

    #[test]
    fn push_client_agent_tls() {
        let p = Profile::parse(PUSH_CLIENT, "x").unwrap();
        assert!(!p.capability("sip_push_subscribe_tls") && !p.uses_tls());
        let y = PUSH_CLIENT.replace(
            "agent: 127.0.0.1:5098,",
            "agent: 127.0.0.1:5098, agent_tls: 127.0.0.1:5097,",
        );
        let p = Profile::parse(&y, "x").unwrap();
        let pc = p.push_client.as_ref().unwrap();
        assert_eq!(pc.agent_tls, Some("127.0.0.1:5097".parse().unwrap()));
        assert!(p.capability("sip_push_subscribe_tls") && p.uses_tls());
        let e = err_of(&y.replace("127.0.0.1:5097", "127.0.0.1:0"));
        assert!(
            e.starts_with("profile bad.yaml: push_client.agent_tls: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&y.replace("127.0.0.1:5097", "10.1.1.1:5097"));
        assert!(
            e.starts_with("profile bad.yaml: push_client.agent_tls: expected a loopback"),
            "{e}"
        );
        let p = Profile::parse(
            &y.replace("sip_push_subscribe: true", "sip_push_subscribe: false"),
            "x",
        )
        .unwrap();
        assert!(!p.capability("sip_push_subscribe_tls"));
    }

    #[test]
    fn push_client_section() {
        let p = Profile::parse(PUSH_CLIENT, "x").unwrap();
        let pc = p.push_client.as_ref().unwrap();
        assert_eq!(pc.apps, vec!["mms.ua".to_string()]);
        assert_eq!(pc.content_types(), vec!["application/vnd.wap.mms-message"]);
        assert_eq!(pc.event(), crate::codec::sip_push::PLACEHOLDER_PUSH_EVENT);
        assert!(p.capability("sip_push_subscribe") && p.capability("push_upper_tester"));
        assert!(!p.capability("offline_notification"));
        let e = err_of(&PUSH_CLIENT.replace("push_client: { apps: [mms.ua], agent: 127.0.0.1:5098, upper_tester: 127.0.0.1:5099 }\n", ""));
        assert!(
            e.starts_with("profile bad.yaml: push_client: expected"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
        let e = err_of(&PUSH_CLIENT.replace("apps: [mms.ua]", "apps: []"));
        assert!(
            e.starts_with("profile bad.yaml: push_client.apps: expected"),
            "{e}"
        );
        let e = err_of(&PUSH_CLIENT.replace("agent: 127.0.0.1:5098, ", ""));
        assert!(
            e.starts_with("profile bad.yaml: push_client.agent: expected the harness push agent"),
            "{e}"
        );
        let e = err_of(&PUSH_CLIENT.replace("127.0.0.1:5099", "10.1.1.1:5099"));
        assert!(
            e.starts_with("profile bad.yaml: push_client.upper_tester: expected a loopback"),
            "{e}"
        );
        let e = err_of(&PUSH_CLIENT.replace("127.0.0.1:5098", "127.0.0.1:0"));
        assert!(
            e.starts_with("profile bad.yaml: push_client.agent: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&PUSH_CLIENT.replace("apps:", "aps:"));
        assert!(
            e.starts_with("profile bad.yaml: push_client: unknown field `aps`"),
            "{e}"
        );
    }

    #[test]
    fn offline_notification_needs_its_app() {
        let server = "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:5080, domain: liaison.test }\ncapabilities: { store_and_forward: true, offline_notification: true }\n";
        let e = err_of(server);
        assert!(
            e.starts_with("profile bad.yaml: capabilities.offline_notification_app: expected"),
            "{e}"
        );
        let p = Profile::parse(
            &server.replace("true }", "true, offline_notification_app: x.ua }"),
            "x",
        )
        .unwrap();
        assert!(p.capability("offline_notification"));
    }

    #[test]
    fn transport_list() {
        let p = Profile::parse(
            &GOOD.replace("transport: udp", "transport: [udp, tcp]"),
            "x",
        )
        .unwrap();
        assert!(p.has_transport(Transport::Tcp));
        let e = err_of(&GOOD.replace("transport: udp", "transport: sctp"));
        assert!(e.contains("sip.transport"), "{e}");
        // TLS needs the address the SUT takes it on, and the other way round.
        let e = err_of(&GOOD.replace("transport: udp", "transport: [udp, tls]"));
        assert!(e.contains("sip.tls: expected the address"), "{e}");
        let e = err_of(&GOOD.replace("transport: udp", "transport: udp, tls: 127.0.0.1:5061"));
        assert!(e.contains("sip.transport: expected tls"), "{e}");
        let p = Profile::parse(
            &GOOD.replace(
                "transport: udp",
                "transport: [udp, tls], tls: 127.0.0.1:5061",
            ),
            "x",
        )
        .unwrap();
        assert!(p.has_transport(Transport::Tls));
        assert_eq!(p.sip.unwrap().tls, Some("127.0.0.1:5061".parse().unwrap()));
    }

    const PPG: &str = "name: k\nroles: [ppg]\nppg:\n  url: http://127.0.0.1:18080/wappush\n  compliance: wap-1.2.1\n  bearers: [sms]\n  smsc: 127.0.0.1:18775\n  system_id: a\n  password: b\n";

    #[test]
    fn ppg_section() {
        let p = Profile::parse(PPG, "k.yaml").unwrap();
        let s = p.ppg.as_ref().unwrap();
        assert_eq!(
            s.url_parts(),
            Some(("127.0.0.1:18080".parse().unwrap(), "/wappush".to_string()))
        );
        assert!(p.capability("push_sms") && !p.capability("wap_2_0") && !p.capability("push_http"));
        assert_eq!(
            err_of("name: k\nroles: [ppg]\n"),
            "profile bad.yaml: ppg: expected the PPG's PAP URL, compliance and bearers for role ppg (ppg: { url, compliance, bearers, … })"
        );
        let e = err_of(&PPG.replace("wap-1.2.1", "wap-3"));
        assert_eq!(
            e,
            "profile bad.yaml: ppg.compliance: expected wap-1.2.1 or wap-2.0, got `wap-3`"
        );
        let e = err_of(&PPG.replace("wap-1.2.1", "wap-2.0"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.bearers: expected http among"),
            "{e}"
        );
        let e = err_of(&PPG.replace("[sms]", "[sms, http]"));
        assert_eq!(
            e,
            "profile bad.yaml: ppg.ota_http: expected for bearer http"
        );
        let e = err_of(&PPG.replace("[sms]", "[fax]"));
        assert_eq!(
            e,
            "profile bad.yaml: ppg.bearers: expected sms, http or sip, got `fax`"
        );
        let e = err_of(&PPG.replace("http://127.0.0.1:18080", "http://10.1.1.1:80"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.url: expected a loopback"),
            "{e}"
        );
        let e = err_of(&PPG.replace("http://", "ftp://"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.url: expected http://IP:PORT/PATH"),
            "{e}"
        );
        // https://: PAP over TLS, and the run makes its TLS.
        let p = Profile::parse(&PPG.replace("http://", "https://"), "p.yaml").unwrap();
        assert!(p.capability("pap_https") && p.uses_tls());
    }

    #[test]
    fn ppg_ota_https() {
        let http = PPG.replace("[sms]", "[sms, http]") + "  ota_http: 127.0.0.1:14035\n";
        let p = Profile::parse(&http, "k.yaml").unwrap();
        assert!(!p.capability("ota_https") && !p.uses_tls());
        let p =
            Profile::parse(&(http.clone() + "  ota_https: 127.0.0.2:14036\n"), "k.yaml").unwrap();
        assert!(p.capability("ota_https") && p.uses_tls());
        assert_eq!(
            p.ppg.unwrap().ota_https,
            Some("127.0.0.2:14036".parse().unwrap())
        );
        // The same IP as ota_http: the PPG could not tell the terminals apart.
        let e = err_of(&(http.clone() + "  ota_https: 127.0.0.1:14036\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.ota_https: expected an IP other than ota_http's"),
            "{e}"
        );
        let e = err_of(&(http.clone() + "  ota_https: 127.0.0.2:0\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.ota_https: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&(http + "  ota_https: 10.1.1.1:4036\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.ota_https: expected a loopback"),
            "{e}"
        );
        // Push over SIP over TLS: the sip bearer, a fixed loopback port.
        let sip = PPG.replace("[sms]", "[sms, sip]") + "  sip_target: 127.0.0.1:15060\n";
        let p = Profile::parse(&(sip.clone() + "  sip_tls: 127.0.0.1:15061\n"), "k.yaml").unwrap();
        assert!(p.capability("ppg_sip_tls") && p.uses_tls());
        let e = err_of(&(sip + "  sip_tls: 127.0.0.1:0\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.sip_tls: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&(PPG.to_string() + "  sip_tls: 127.0.0.1:15061\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.sip_tls: expected sip among the bearers"),
            "{e}"
        );
        let e = err_of(&(PPG.to_string() + "  ota_https: 127.0.0.2:14036\n"));
        assert!(
            e.starts_with("profile bad.yaml: ppg.ota_https: expected http among the bearers"),
            "{e}"
        );
    }

    const MMSC: &str = "name: c\nroles: [mms-client]\nmms_client:\n  mmsc_url: http://127.0.0.1:18002/mmsc\n  wap_push: 127.0.0.1:2948\n";

    #[test]
    fn mms_client_section() {
        let p = Profile::parse(MMSC, "c.yaml").unwrap();
        let m = p.mms_client.as_ref().unwrap();
        assert_eq!(
            m.url_parts(),
            Some(("127.0.0.1:18002".parse().unwrap(), "/mmsc".to_string()))
        );
        assert_eq!(m.sip_uri(), "sip:mms-client@127.0.0.1");
        assert_eq!(m.address_form(), "raw");
        assert!(p.capability("mms_wap_push") && !p.capability("mms_sip_push"));
        assert_eq!(
            err_of("name: c\nroles: [mms-client]\n"),
            "profile bad.yaml: mms_client: expected the client's push addresses and the MMSC URL it is configured with for role mms-client (mms_client: { mmsc_url, wap_push and/or sip_push })"
        );
        assert_eq!(
            err_of(&MMSC.replace("  wap_push: 127.0.0.1:2948\n", "")),
            "profile bad.yaml: mms_client: expected wap_push (UDP address for WSP pushes) or sip_push (SIP address for Push over SIP), or both"
        );
        let e = err_of(&MMSC.replace("http://127.0.0.1:18002", "http://10.0.0.1:80"));
        assert!(
            e.starts_with("profile bad.yaml: mms_client.mmsc_url: expected a loopback"),
            "{e}"
        );
        let e = err_of(&MMSC.replace("http://", "ftp://"));
        assert!(
            e.starts_with("profile bad.yaml: mms_client.mmsc_url: expected http://IP:PORT/PATH"),
            "{e}"
        );
        let e = err_of(&format!("{MMSC}  sip_push: 10.0.0.2:5060\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_client.sip_push: expected a loopback"),
            "{e}"
        );
        assert_eq!(
            err_of(&format!("{MMSC}  sip_uri: bob@example.net\n")),
            "profile bad.yaml: mms_client.sip_uri: expected a SIP URI sip:user@host, got `bob@example.net`"
        );
        assert_eq!(
            err_of(&format!("{MMSC}  sip_address_form: typed\n")),
            "profile bad.yaml: mms_client.sip_address_form: expected raw or escaped, got `typed`"
        );
        let e = err_of(&format!("{MMSC}  mmsc: x\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_client: unknown field `mmsc`"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
        let p = Profile::parse(
            &format!("{MMSC}  sip_push: 127.0.0.1:5075\n  sip_uri: sip:bob@ims.test\n  sip_address_form: escaped\n"),
            "c.yaml",
        )
        .unwrap();
        let m = p.mms_client.as_ref().unwrap();
        assert_eq!(
            (m.sip_uri().as_str(), m.address_form()),
            ("sip:bob@ims.test", "escaped")
        );
        assert!(p.capability("mms_sip_push"));
        assert!(!p.capability("mms_https_retrieval") && !p.uses_tls());
    }

    /// Issue 15: fetches over TLS and SIP pushes over TLS are declared; an
    /// https:// MMSC URL is taken.
    #[test]
    fn mms_client_tls() {
        let p = Profile::parse(
            &format!(
                "{MMSC}  https_retrieval: true
  sip_push_tls: 127.0.0.1:5061
"
            ),
            "c.yaml",
        )
        .unwrap();
        assert!(p.capability("mms_https_retrieval") && p.capability("mms_sip_push_tls"));
        assert!(p.uses_tls());
        let p = Profile::parse(
            &format!(
                "{MMSC}  https_retrieval: false
"
            ),
            "c.yaml",
        )
        .unwrap();
        assert!(!p.capability("mms_https_retrieval") && !p.uses_tls());
        let e = err_of(&format!(
            "{MMSC}  sip_push_tls: 10.0.0.2:5061
"
        ));
        assert!(
            e.starts_with("profile bad.yaml: mms_client.sip_push_tls: expected a loopback"),
            "{e}"
        );
        // https:// MMSC URL: the harness MMSC takes TLS, and the run makes its TLS.
        let p = Profile::parse(&MMSC.replace("http://", "https://"), "c.yaml").unwrap();
        let m = p.mms_client.as_ref().unwrap();
        assert!(m.mmsc_https() && p.uses_tls());
        assert_eq!(
            m.url_parts(),
            Some(("127.0.0.1:18002".parse().unwrap(), "/mmsc".to_string()))
        );
    }
    const MMS: &str = "name: r\nroles: [mms-relay]\nmms_relay:\n  mm1_url: http://127.0.0.1:18002/mms\n  notify: [sms, sip]\n  smsc: 127.0.0.1:18776\n  system_id: a\n  password: b\n  sip_device: 127.0.0.1:15097\n";

    #[test]
    fn mms_relay_section() {
        let p = Profile::parse(MMS, "r.yaml").unwrap();
        let m = p.mms_relay.as_ref().unwrap();
        assert_eq!(
            m.url_parts(),
            Some(("127.0.0.1:18002".parse().unwrap(), "/mms".to_string()))
        );
        assert!(p.capability("mms_notify_sms") && p.capability("mms_notify_sip"));
        assert!(!m.typed_sip() && m.sip_type() == "SIP");
        let typed = Profile::parse(&format!("{MMS}  sip_address_form: typed\n"), "r").unwrap();
        assert!(typed.mms_relay.unwrap().typed_sip());
        assert_eq!(
            err_of("name: r\nroles: [mms-relay]\n"),
            "profile bad.yaml: mms_relay: expected the relay's MM1 URL and the bearers it notifies over for role mms-relay (mms_relay: { mm1_url, notify, … })"
        );
        assert_eq!(
            err_of(&MMS.replace("[sms, sip]", "[sms, fax]")),
            "profile bad.yaml: mms_relay.notify: expected sms or sip, got `fax`"
        );
        assert_eq!(
            err_of(&MMS.replace("  sip_device: 127.0.0.1:15097\n", "")),
            "profile bad.yaml: mms_relay.sip_device: expected for notify sip"
        );
        let e = err_of(&format!("{MMS}  sip_address_form: raw\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.sip_address_form: expected uri"),
            "{e}"
        );
        let e = err_of(&format!("{MMS}  sip_address_type: S-I-P\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.sip_address_type:"),
            "{e}"
        );
        let e = err_of(&MMS.replace("http://127.0.0.1:18002", "http://10.0.0.1:80"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.mm1_url: expected a loopback"),
            "{e}"
        );
        let e = err_of(&format!("{MMS}  mmsc: x\n"));
        assert!(e.contains("unknown field `mmsc`"), "{e}");
        // MM1 over TLS (RFC 2818): a second https:// URL, or an https:// mm1_url.
        assert!(!p.capability("mm1_https") && m.https().is_none());
        let both = Profile::parse(
            &format!("{MMS}  mm1_https_url: https://127.0.0.1:18003/mms\n"),
            "r",
        )
        .unwrap();
        assert!(both.capability("mm1_https") && both.uses_tls());
        assert_eq!(
            both.mms_relay.as_ref().unwrap().https(),
            Some("https://127.0.0.1:18003/mms")
        );
        let only = Profile::parse(&MMS.replace("http://", "https://"), "r").unwrap();
        assert!(only.capability("mm1_https") && only.uses_tls());
        let e = err_of(&format!(
            "{MMS}  mm1_https_url: http://127.0.0.1:18003/mms\n"
        ));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.mm1_https_url: expected https://"),
            "{e}"
        );
        let e = err_of(&format!("{MMS}  mm1_https_url: https://10.0.0.1:443/mms\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.mm1_https_url: expected a loopback"),
            "{e}"
        );
        // Push over SIP over TLS for sips: recipients (RFC 3261 §26.2.2).
        assert!(!p.capability("mms_notify_sips"));
        let sips =
            Profile::parse(&format!("{MMS}  sip_device_tls: 127.0.0.1:15098\n"), "r").unwrap();
        assert!(sips.capability("mms_notify_sips") && sips.uses_tls());
        let e = err_of(&format!("{MMS}  sip_device_tls: 10.0.0.1:5061\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.sip_device_tls: expected a loopback"),
            "{e}"
        );
        let e = err_of(&format!(
            "{}  sip_device_tls: 127.0.0.1:15098\n",
            MMS.replace("[sms, sip]", "[sms]")
        ));
        assert_eq!(
            e,
            "profile bad.yaml: mms_relay.sip_device_tls: expected only with notify sip"
        );
        assert_eq!(e.lines().count(), 1);
    }

    const DEFER: &str = "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:15060, domain: liaison.test }\ndeferral:\n  mmsc_url: http://127.0.0.1:18003/mm1\n";

    #[test]
    fn msrp_tls_address_selects_the_relay_tls_scenarios() {
        let relay = "name: r\nroles: [im-server]\ncapabilities: { msrp_relay: true }\nmsrp: { address: 127.0.0.1:15085 }\n";
        let p = Profile::parse(relay, "r.yaml").unwrap();
        assert!(!p.capability("msrp_relay_tls") && !p.uses_tls());
        let tls = relay.replace("15085 }", "15085, tls_address: 127.0.0.1:15086 }");
        let p = Profile::parse(&tls, "r.yaml").unwrap();
        assert!(p.capability("msrp_relay_tls") && p.uses_tls());
        let e = err_of(&relay.replace("15085 }", "15085, tls_address: 127.0.0.1:0 }"));
        assert!(
            e.starts_with("profile bad.yaml: msrp.tls_address: expected a fixed port"),
            "{e}"
        );
    }

    #[test]
    fn deferral_section() {
        let p = Profile::parse(DEFER, "s.yaml").unwrap();
        let d = p.deferral.as_ref().unwrap();
        assert_eq!(
            d.url_parts(),
            Some(("127.0.0.1:18003".parse().unwrap(), "/mm1".to_string()))
        );
        assert!(p.capability("deferral") && p.capability("defers_own_users"));
        assert!(!d.mmsc_https() && !p.uses_tls());
        // https:// (issue 15): the harness MMSC takes TLS; the run makes its TLS.
        let p = Profile::parse(&DEFER.replace("http://", "https://"), "s.yaml").unwrap();
        assert!(p.deferral.as_ref().unwrap().mmsc_https() && p.uses_tls());
        assert_eq!(d.wire("sip:a@b"), "sip:a@b");
        let typed = Profile::parse(&format!("{DEFER}  sip_address_form: typed\n"), "s").unwrap();
        assert_eq!(
            typed.deferral.unwrap().wire("sip:a@b"),
            "sip%3Aa%40b/TYPE=SIP"
        );
        let other = Profile::parse(&format!("{DEFER}  recipient_domain: mms.test\n"), "s").unwrap();
        assert!(other.capability("deferral") && !other.capability("defers_own_users"));
        // Storing and deferring the same offline users is a contradiction.
        assert_eq!(
            err_of(&format!("{DEFER}capabilities: {{ store_and_forward: true }}\n")),
            "profile bad.yaml: deferral.recipient_domain: expected a domain other than sip.domain with capabilities.store_and_forward: a message for an offline user cannot be both stored for its REGISTER and deferred to MMS"
        );
        assert!(Profile::parse(
            &format!("{DEFER}  recipient_domain: mms.test\ncapabilities: {{ store_and_forward: true }}\n"),
            "s"
        )
        .is_ok());
        let e = err_of(
            &DEFER
                .replace("[im-server]", "[im-client]")
                .replace("domain: liaison.test }", "aor: \"sip:a@127.0.0.1\" }"),
        );
        assert!(
            e.starts_with("profile bad.yaml: deferral: expected role im-server"),
            "{e}"
        );
        let e = err_of(&DEFER.replace("http://127.0.0.1:18003", "http://10.0.0.1:80"));
        assert!(
            e.starts_with("profile bad.yaml: deferral.mmsc_url: expected a loopback"),
            "{e}"
        );
        let e = err_of(&format!("{DEFER}  sip_address_form: escaped\n"));
        assert!(
            e.starts_with("profile bad.yaml: deferral.sip_address_form: expected uri"),
            "{e}"
        );
        let e = err_of(&format!("{DEFER}  recipient_domain: \"a b\"\n"));
        assert!(
            e.starts_with("profile bad.yaml: deferral.recipient_domain: expected a host name"),
            "{e}"
        );
        let e = err_of(&format!("{DEFER}  mm1: x\n"));
        assert!(e.contains("unknown field `mm1`"), "{e}");
    }

    const MEM: &str = "name: m\nroles: [mem-server]\nmem_server:\n  inbox: 127.0.0.1:12525\n  mailbox: bob@mem.liaison.test\n  other_mailbox: carol@mem.liaison.test\n  notify_to: \"+15550007777/TYPE=PLMN@mms.liaison.test\"\n  mm3: 127.0.0.1:12526\n";

    #[test]
    fn mem_server_section_and_mm3() {
        let p = Profile::parse(MEM, "m.yaml").unwrap();
        let m = p.mem_server.as_ref().unwrap();
        assert_eq!(m.payload(), "emn");
        assert!(p.capability("mem_payload_emn") && p.capability("mem_other_mailbox"));
        // STARTTLS on MM3 is declared, and gives the run its TLS.
        assert!(!p.capability("mem_starttls") && !p.uses_tls());
        let tls = Profile::parse(&format!("{MEM}  starttls: true\n"), "m.yaml").unwrap();
        assert!(tls.capability("mem_starttls") && tls.uses_tls());
        assert_eq!(
            err_of("name: m\nroles: [mem-server]\n"),
            "profile bad.yaml: mem_server: expected how new mail reaches the server and where it notifies for role mem-server (mem_server: { inbox or deliver_command, mailbox, notify_to, mm3 })"
        );
        assert_eq!(
            err_of(&MEM.replace("  inbox: 127.0.0.1:12525\n", "")),
            "profile bad.yaml: mem_server.inbox: expected inbox (the SMTP address new mail is delivered to) or deliver_command"
        );
        assert_eq!(
            err_of(&MEM.replace("127.0.0.1:12526", "127.0.0.1:0")),
            "profile bad.yaml: mem_server.mm3: expected a fixed port: the SUT is configured with this address (found port 0)"
        );
        assert_eq!(
            err_of(&MEM.replace("bob@mem.liaison.test", "bob")),
            "profile bad.yaml: mem_server.mailbox: expected a mail address local@domain, got `bob`"
        );
        assert_eq!(
            err_of(&format!("{MEM}  payload: wbxml\n")),
            "profile bad.yaml: mem_server.payload: expected emn or other, got `wbxml`"
        );
        let other = Profile::parse(&format!("{MEM}  payload: other\n"), "m").unwrap();
        assert!(!other.capability("mem_payload_emn"));
        // The relay's MM3 address and size limit.
        let r = Profile::parse(
            &format!("{MMS}  mm3: 127.0.0.1:12527\n  mm3_max_size: 65536\n"),
            "r",
        )
        .unwrap();
        assert!(r.capability("mms_mm3") && r.capability("mms_mm3_max_size"));
        assert!(!r.capability("mms_mm3_starttls") && !r.uses_tls());
        let t = Profile::parse(
            &format!("{MMS}  mm3: 127.0.0.1:12527\n  mm3_starttls: true\n"),
            "t",
        )
        .unwrap();
        assert!(t.capability("mms_mm3_starttls") && t.uses_tls());
        assert_eq!(r.mms_relay.unwrap().mm3_domain(), "mms.liaison.test");
        let e = err_of(&format!("{MMS}  mm3: 10.0.0.1:25\n"));
        assert!(
            e.starts_with("profile bad.yaml: mms_relay.mm3: expected a loopback"),
            "{e}"
        );
        // The MMS client's upper tester.
        let c = Profile::parse(&format!("{MMSC}  upper_tester: 127.0.0.1:15099\n"), "c").unwrap();
        assert!(c.capability("mms_upper_tester"));
        let e = err_of(&format!("{MMSC}  upper_tester: 127.0.0.1:0\n"));
        assert!(
            e.contains("mms_client.upper_tester: expected a fixed port"),
            "{e}"
        );
        // Its send trigger.
        let c = Profile::parse(&format!("{MMSC}  send_trigger: 127.0.0.1:15095\n"), "c").unwrap();
        assert!(c.capability("mms_send") && !c.capability("mms_upper_tester"));
        let e = err_of(&format!("{MMSC}  send_trigger: 127.0.0.1:0\n"));
        assert!(
            e.contains("mms_client.send_trigger: expected a fixed port"),
            "{e}"
        );
        let e = err_of(&format!("{MMSC}  send_trigger: 10.1.1.1:80\n"));
        assert!(
            e.contains("mms_client.send_trigger: expected a loopback"),
            "{e}"
        );
    }

    #[test]
    fn poc_section() {
        let ok = "name: s\nroles: [poc-server]\nsip: { address: 127.0.0.1:15070 }\nims: { core: 127.0.0.2:5099 }\npoc:\n  group: sip:g@poc.test\n  members: [sip:a@poc.test, sip:b@poc.test, sip:c@poc.test]\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        let g = p.poc.as_ref().unwrap();
        assert_eq!(
            (g.members.len(), g.outsiders_domain().as_str()),
            (3, "poc.test")
        );
        let bad = |from: &str, to: &str| {
            Profile::parse(&ok.replace(from, to), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(bad(", sip:c@poc.test", "")
            .starts_with("profile bad.yaml: poc.members: expected at least three"));
        assert!(bad("sip:c@poc.test", "sip:a@POC.test")
            .starts_with("profile bad.yaml: poc.members: expected members distinct"));
        assert!(bad("sip:g@poc.test", "tel:+1555")
            .starts_with("profile bad.yaml: poc.group: expected a sip:USER@HOST URI"));
        assert!(bad("ims: { core: 127.0.0.2:5099 }\n", "")
            .starts_with("profile bad.yaml: poc: expected the pre-arranged group"));
    }

    #[test]
    fn presence_client_section() {
        let ok = "name: s\nroles: [presence-client]\nims: { core: 127.0.0.2:15497, register: true }\npresence_client: { aor: \"sip:bob@liaison.test\", trigger: 127.0.0.1:15377 }\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        assert_eq!(
            p.presence_client.as_ref().map(|c| c.trigger.port()),
            Some(15377)
        );
        let bad = |from: &str, to: &str| {
            Profile::parse(&ok.replace(from, to), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(bad("127.0.0.1:15377", "10.1.1.1:15377")
            .starts_with("profile bad.yaml: presence_client.trigger: expected a loopback"));
        assert!(bad("127.0.0.1:15377", "127.0.0.1:0")
            .starts_with("profile bad.yaml: presence_client.trigger: expected a fixed port"));
        assert!(bad("sip:bob@liaison.test", "tel:+1555")
            .starts_with("profile bad.yaml: presence_client.aor: expected a sip:USER@HOST URI"));
        assert!(bad("ims: { core: 127.0.0.2:15497, register: true }\n", "")
            .starts_with("profile bad.yaml: presence_client: expected the user and its trigger"));
    }

    #[test]
    fn ims_section() {
        let ok = "name: s\nroles: [im-client]\nsip: { address: 127.0.0.1:15070, aor: \"sip:bob@ims.test\" }\nims:\n  core: 127.0.0.2:5099\n  register: true\n  feature_tags: [+g.oma.sip-im]\n  icsi: [urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg]\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        let i = p.ims.as_ref().unwrap();
        assert!(i.registers() && !i.route_all());
        assert_eq!(i.expires(), 4);
        for c in ["ims", "ims_register", "ims_feature_tags", "ims_icsi"] {
            assert!(p.capability(c), "{c}");
        }
        let bad = |from: &str, to: &str| {
            Profile::parse(&ok.replace(from, to), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(bad("127.0.0.2:5099", "127.0.0.1:5099")
            .starts_with("profile bad.yaml: ims.core: expected an IP other than harness.address"));
        assert!(bad("127.0.0.2:5099", "127.0.0.2:0")
            .starts_with("profile bad.yaml: ims.core: expected a port other than 0"));
        // Trusted by IP and port, the core may share the harness's IP (as
        // on IPv6 loopback); then only its own port is the core.
        let shared = ok.replace("127.0.0.2:5099\n", "127.0.0.1:5099\n  trust: address\n");
        let p = Profile::parse(&shared, "p.yaml").unwrap();
        let i = p.ims.as_ref().unwrap();
        assert_eq!(i.trust, Some(Trust::Address));
        assert!(i.is_core("127.0.0.1:5099".parse().unwrap()));
        assert!(!i.is_core("127.0.0.1:5098".parse().unwrap()));
        let by_ip = Profile::parse(ok, "p.yaml").unwrap();
        assert!(by_ip
            .ims
            .unwrap()
            .is_core("127.0.0.2:40000".parse().unwrap()));
        assert!(
            bad("  register: true\n", "  trust: port\n  register: true\n")
                .contains("unknown variant")
        );
        assert!(bad("+g.oma.sip-im]", "g.oma.sip-im]")
            .starts_with("profile bad.yaml: ims.feature_tags: expected tag names"));
        assert!(bad("urn:urn-7:3gpp", "urn%3Aurn-7%3A3gpp")
            .starts_with("profile bad.yaml: ims.icsi: expected URNs"));
        let server = "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:15060, domain: ims.test }\nims: { core: 127.0.0.2:5099, register: true }\n";
        let e = Profile::parse(server, "bad.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("profile bad.yaml: ims.register: expected role im-client"),
            "{e}"
        );
        assert!(bad("  register: true\n", "  regster: true\n").contains("unknown field"));
    }

    #[test]
    fn iwf_declares_the_suts_own_timers() {
        let ok = "name: s\nroles: [sms-im-iwf]\niwf: { smsc: 127.0.0.1:2775, system_id: l, password: p, ims_core: 127.0.0.1:5099 }\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        let i = p.iwf.as_ref().unwrap();
        // RFC 3261 defaults, whatever the harness's own T1.
        assert_eq!(i.sut_t1(), std::time::Duration::from_millis(500));
        assert_eq!(i.sut_timer_f(), std::time::Duration::from_secs(32));
        let with = |extra: &str| ok.replace(" }\n", &format!(", {extra} }}\n"));
        let p = Profile::parse(&with("t1_ms: 100"), "p.yaml").unwrap();
        assert_eq!(
            p.iwf.unwrap().sut_timer_f(),
            std::time::Duration::from_millis(6400)
        );
        let p = Profile::parse(&with("t1_ms: 100, timer_f_ms: 9000"), "p.yaml").unwrap();
        assert_eq!(
            p.iwf.unwrap().sut_timer_f(),
            std::time::Duration::from_secs(9)
        );
        let e = Profile::parse(&with("timer_f_ms: 0"), "bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("profile bad.yaml: iwf.timer_f_ms: expected 1..=600000"),
            "{e}"
        );
        let e = Profile::parse(&with("t1_ms: 20000"), "bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("profile bad.yaml: iwf.t1_ms: expected 1..=10000"),
            "{e}"
        );
    }

    /// iwf.ims_core_tls selects @if:iwf_sip_tls and makes the run's TLS;
    /// a port 0, or a tls_prefix without it or not digits, is refused.
    #[test]
    fn iwf_ims_core_tls_selects_sip_over_tls() {
        let ok = "name: s\nroles: [sms-im-iwf]\niwf: { smsc: 127.0.0.1:2775, system_id: l, password: p, ims_core: 127.0.0.1:5099 }\n";
        let p = Profile::parse(ok, "p.yaml").unwrap();
        assert!(!p.capability("iwf_sip_tls") && !p.uses_tls());
        let with = |extra: &str| ok.replace(" }\n", &format!(", {extra} }}\n"));
        let p = Profile::parse(&with("ims_core_tls: 127.0.0.1:5061"), "p.yaml").unwrap();
        assert!(p.capability("iwf_sip_tls") && p.uses_tls());
        let p = Profile::parse(
            &with("ims_core_tls: 127.0.0.1:5061, tls_prefix: \"1556\""),
            "p.yaml",
        )
        .unwrap();
        assert_eq!(p.iwf.unwrap().tls_prefix.as_deref(), Some("1556"));
        let err = |extra: &str| {
            Profile::parse(&with(extra), "bad.yaml")
                .unwrap_err()
                .to_string()
        };
        let e = err("ims_core_tls: 127.0.0.1:0");
        assert!(
            e.starts_with("profile bad.yaml: iwf.ims_core_tls: expected a fixed port"),
            "{e}"
        );
        let e = err("tls_prefix: \"1556\"");
        assert!(
            e.starts_with("profile bad.yaml: iwf.tls_prefix: expected iwf.ims_core_tls"),
            "{e}"
        );
        let e = err("ims_core_tls: 127.0.0.1:5061, tls_prefix: \"+1556\"");
        assert!(
            e.starts_with("profile bad.yaml: iwf.tls_prefix: expected 1 to 8 digits"),
            "{e}"
        );
    }
}
