//! The embedded reference SUT as a run sees it: its roles started on port
//! 0, configured with the run-level harness's addresses, and described by
//! a [`Profile`] like any real SUT.

use std::collections::BTreeMap;
use std::time::Duration;

use super::UsageError;
use crate::harness::ims::core_loopback;
use crate::harness::Harnesses;
use crate::net::Transport;
use crate::profile::{Profile, SipInterface};

/// The T1 of the embedded reference and of the harness facing it, in ms.
const REFERENCE_T1_MS: u64 = 20;

/// The embedded reference as a profile, with its roles started on port 0.
/// `base` carries the per-role configurations (the harness addresses each
/// role is configured with); every role starts with a copy of it, at the
/// reference's T1, with the fault if it is that role's.
pub async fn start_reference(
    fault: Option<&str>,
    ip: std::net::IpAddr,
    base: crate::reference::Settings,
) -> Result<
    (
        Profile,
        crate::harness::RoleAddresses,
        Vec<crate::reference::Running>,
    ),
    UsageError,
> {
    let fault = match fault {
        Some(f) => Some(crate::reference::find_fault(f).map_err(UsageError)?),
        None => None,
    };
    let mut running = Vec::new();
    let mut addrs = BTreeMap::new();
    let mut tls_addrs = BTreeMap::new();
    let t1_ms = REFERENCE_T1_MS;
    let reference_tls = base.tls.is_some();
    let crate::reference::Settings {
        iwf,
        ppg,
        push_client,
        mms_client,
        mms_relay,
        deferral,
        mem_server,
        ims,
        xdms,
        presence,
        ..
    } = base.clone();
    for role in crate::reference::ROLES {
        let mut settings = crate::reference::Settings {
            t1: Duration::from_millis(t1_ms),
            ..base.clone()
        };
        if let Some(f) = fault.filter(|f| f.role == *role) {
            settings.fault = Some(f.name);
            settings.store_and_forward = f.store_and_forward;
        }
        let r = crate::reference::start(role, std::net::SocketAddr::new(ip, 0), settings)
            .await
            .map_err(|e| {
                UsageError(format!(
                    "embedded reference {role}: cannot bind on {ip} ({e})"
                ))
            })?;
        addrs.insert(role.to_string(), r.address);
        // Where the role takes SIP over TLS (`RunContext::tls_address`).
        if let Some(t) = r.tls {
            tls_addrs.insert(role.to_string(), t);
        }
        running.push(r);
    }
    let store = fault
        .filter(|f| f.role == "im-server")
        .map(|f| f.store_and_forward)
        .unwrap_or(true);
    let client_addr = addrs["im-client"];
    let push_addr = addrs["push-client"];
    let profile = Profile {
        path: "<embedded reference>".into(),
        name: match fault {
            Some(f) => format!("liaison reference (fault {}/{})", f.role, f.name),
            None => "liaison reference".into(),
        },
        network: crate::profile::Network::Loopback,
        roles: crate::reference::ROLES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        sip: Some(SipInterface {
            address: Some(client_addr),
            // ws: the im-server's WebSocket listener (RFC 7118); tls: its
            // TLS listener, with the certificate the run's lab CA issued.
            transports: {
                let mut t = vec![Transport::Udp, Transport::Tcp, Transport::Ws];
                if running.iter().any(|r| r.tls.is_some()) {
                    t.push(Transport::Tls);
                }
                t
            },
            tls: running
                .iter()
                .find(|r| r.role == "im-server")
                .and_then(|r| r.tls),
            ws: running
                .iter()
                .find_map(|r| r.ws)
                .map(|a| format!("ws://{a}{}", crate::reference::im_server::WS_PATH)),
            aor: Some(format!("sip:bob@{client_addr}")),
            domain: Some("liaison.test".into()),
        }),
        harness_ip: ip,
        t1_ms,
        scenario_timeout_s: 3,
        expires_resolution_ms: REFERENCE_EXPIRES_RESOLUTION_MS,
        launch: None,
        msrp: running
            .iter()
            .find_map(|r| r.msrp)
            .map(|address| crate::profile::MsrpSection {
                address,
                failure_timeout_s: Some(1),
                auth: None,
                // The relay takes TLS on the same port (it tells a TLS
                // connection by its first byte) when it has the run's
                // certificate.
                tls_address: running
                    .iter()
                    .any(|r| r.role == "im-server" && r.tls.is_some())
                    .then_some(address),
            }),
        iwf: iwf.as_ref().map(|c| crate::profile::IwfSection {
            smsc: c.smsc,
            system_id: c.system_id.clone(),
            password: c.password.clone(),
            ims_core: c.ims_core,
            domain: Some(c.domain.clone()),
            // The reference IWF's own timers, declared as a real SUT's profile would.
            t1_ms: Some(t1_ms),
            timer_f_ms: Some(
                crate::reference::sms_iwf::timer_f(
                    Duration::from_millis(t1_ms),
                    fault.filter(|f| f.role == "sms-im-iwf").map(|f| f.name),
                )
                .as_millis() as u64,
            ),
            ims_core_tls: c.ims_core_tls,
            tls_prefix: c.tls_prefix.clone(),
        }),
        ppg: ppg.as_ref().map(|c| crate::profile::PpgSection {
            url: format!("http://{}/wappush", addrs["ppg"]),
            compliance: "wap-2.0".into(),
            bearers: vec!["sms".into(), "http".into(), "sip".into()],
            smsc: Some(c.smsc),
            system_id: Some(c.system_id.clone()),
            password: Some(c.password.clone()),
            ota_http: Some(c.ota_http),
            sip_target: Some(c.sip_target),
            // OTA-HTTP over TLS to the harness's second target (on the IMS
            // core's loopback IP; none on IPv6, where ::1 is the only one).
            ota_https: c.ota_https,
            sip_tls: c.sip_tls,
            address_domain: None,
            https_url: running
                .iter()
                .find_map(|r| r.pap_https)
                .map(|a| format!("https://{a}/wappush")),
        }),
        push_client: Some(crate::profile::PushClientSection {
            apps: crate::reference::push_client::APPS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            content_types: Some(
                crate::reference::push_client::ACCEPT
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            aor: Some(format!(
                "sip:{}@{push_addr}",
                crate::reference::push_client::USER
            )),
            agent: push_client.as_ref().and_then(|c| c.agent),
            agent_tls: push_client.as_ref().and_then(|c| c.agent_tls),
            subscribe_event: push_client.as_ref().map(|c| c.event.clone()),
            upper_tester: push_client.as_ref().and_then(|c| c.upper_tester),
        }),
        mms_client: mms_client.as_ref().map(|c| {
            let sip = addrs["mms-client"];
            crate::profile::MmsClientSection {
                mmsc_url: c.mmsc_url.clone(),
                wap_push: running.iter().find_map(|r| r.wap_push),
                sip_push: Some(sip),
                sip_uri: Some(format!("sip:mms-client@{}", crate::net::uri_host(sip.ip()))),
                sip_address_form: None,
                upper_tester: c.upper_tester,
                send_trigger: running
                    .iter()
                    .find(|r| r.role == "mms-client")
                    .and_then(|r| r.send_trigger),
                // With the run's lab CA it fetches https:// Content-Locations
                // over TLS, and takes Push over SIP over TLS.
                https_retrieval: Some(reference_tls),
                sip_push_tls: running
                    .iter()
                    .find(|r| r.role == "mms-client")
                    .and_then(|r| r.tls),
            }
        }),
        deferral: deferral.as_ref().map(|c| crate::profile::DeferralSection {
            mmsc_url: c.mmsc_url.clone(),
            recipient_domain: Some(c.domain.clone()),
            sip_address_form: None,
            sip_address_type: None,
        }),
        mms_relay: mms_relay.as_ref().map(|c| crate::profile::MmsRelaySection {
            mm1_url: format!(
                "http://{}{}",
                addrs["mms-relay"],
                crate::reference::mms_relay::MM1_PATH
            ),
            notify: vec!["sms".into(), "sip".into()],
            smsc: Some(c.smsc),
            system_id: Some(c.system_id.clone()),
            password: Some(c.password.clone()),
            sip_device: Some(c.sip_device),
            sip_address_form: None,
            sip_address_type: None,
            sip_domain: None,
            mm3: running.iter().find_map(|r| r.mm3),
            mm3_domain: None,
            mm3_max_size: Some(crate::reference::mms_relay::MM3_MAX_MESSAGE as u64),
            mm3_starttls: Some(true),
            mm1_https_url: running
                .iter()
                .find_map(|r| r.mm1_https)
                .map(|a| format!("https://{a}{}", crate::reference::mms_relay::MM1_PATH)),
            sip_device_tls: c.sip_device_tls,
        }),
        mem_server: mem_server
            .as_ref()
            .map(|c| crate::profile::MemServerSection {
                inbox: Some(addrs["mem-server"]),
                deliver_command: None,
                mailbox: c.mailbox.clone(),
                other_mailbox: Some(c.other_mailbox.clone()),
                notify_to: c.notify_to.clone(),
                mm3: c.mm3,
                payload: None,
                starttls: Some(true),
            }),
        ims: ims.as_ref().map(|i| crate::profile::ImsSection {
            core: i.core,
            ws: None,
            wss: None,
            tls: None,
            trust: Some(if i.trust_port {
                crate::profile::Trust::Address
            } else {
                crate::profile::Trust::Ip
            }),
            route_all: Some(false),
            register: Some(true),
            register_expires_s: Some(crate::reference::im_client::IMS_EXPIRES),
            feature_tags: Some(
                crate::reference::im_client::FEATURE_TAGS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            icsi: Some(
                crate::reference::im_client::ICSIS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        }),
        tls: Default::default(),
        // The XDMS's XCAP root and the proxy it trusts (the harness's
        // aggregation proxy sends from that IP).
        xdms: {
            let c = xdms.unwrap_or_else(|| crate::reference::xdms::XdmsConfig::default_for(ip));
            Some(crate::profile::XdmsSection {
                xcap_root: format!("http://{}{}", addrs["xdms"], crate::reference::xdms::ROOT),
                proxy: c.proxy,
                identity_header: Some(c.identity_header),
                domain: Some("liaison.test".into()),
            })
        },
        // Its pres-rules over XCAP on its own listener, from the proxy
        // address the harness's aggregation proxy sends from.
        presence: Some(crate::profile::PresenceSection {
            domain: Some("liaison.test".into()),
            rules: running
                .iter()
                .find_map(|r| r.xcap)
                .zip(presence.as_ref())
                .map(|(a, c)| crate::profile::XdmsSection {
                    xcap_root: format!(
                        "http://{a}{}",
                        crate::reference::presence_server::XCAP_ROOT
                    ),
                    proxy: c.proxy,
                    identity_header: Some(c.identity_header.clone()),
                    domain: Some("liaison.test".into()),
                }),
        }),
        // The PoC server's pre-arranged group (its own domain, apart from
        // the IM server's, whose users the core sends to it).
        poc: base.poc.as_ref().map(|c| crate::profile::PocSection {
            group: c.group.clone(),
            members: c.members.clone(),
            domain: None,
        }),
        presence_client: running
            .iter()
            .find(|r| r.role == "presence-client")
            .and_then(|r| r.send_trigger)
            .map(|trigger| crate::profile::PresenceClientSection {
                aor: crate::reference::presence_client::AOR.into(),
                trigger,
            }),
        capabilities: crate::profile::Capabilities {
            accept_types: Some(
                crate::reference::im_client::ACCEPT
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            store_and_forward: Some(store),
            sme_ack: Some(true),
            msrp_relay: Some(true),
            msrp_tls: Some(true),
            iwf_msrp: Some(true),
            msrp: Some(true),
            msrp_max_size: Some(crate::reference::msrp_receiver::MAX_MESSAGE),
            offline_notification: Some(store),
            offline_notification_app: Some(crate::reference::im_server::OFFLINE_APP.into()),
            sip_push_subscribe: Some(push_client.as_ref().is_some_and(|c| c.agent.is_some())),
            poc_groups: Some(true),
            // Its SIP side (xcap-diff) at its own address, behind the core.
            xcap_diff: Some(true),
        },
    };
    let roles = crate::harness::RoleAddresses {
        sip: addrs,
        tls: tls_addrs,
    };
    Ok((profile, roles, running))
}

/// The harness the embedded reference is configured with, written as a real
/// SUT's profile names it: every harness address on the loopback IP `ip`
/// with port 0 (the harness picks), the IMS core on a loopback IP of its
/// own (on IPv6, where `::1` is the one loopback address, on `::1` too,
/// trusted by IP and port), and the credentials the reference binds with.
/// [`Harnesses::for_profile`] starts it, as it does for any profile; the
/// profile the run reports is the one [`start_reference`] returns, which
/// names the same values.
/// The embedded im-server times a stored message's Expires on its monotonic
/// clock (to the millisecond); 250 ms covers the MESSAGE's transit and a
/// starved scheduler.
const REFERENCE_EXPIRES_RESOLUTION_MS: u64 = 250;

fn harness_profile(ip: std::net::IpAddr, core_ip: std::net::IpAddr) -> Profile {
    let any = std::net::SocketAddr::new(ip, 0);
    let roles = crate::reference::ROLES
        .iter()
        .map(|s| s.to_string())
        .collect();
    Profile {
        path: "<embedded reference>".into(),
        name: "liaison reference".into(),
        roles,
        network: crate::profile::Network::Loopback,
        sip: None,
        harness_ip: any.ip(),
        t1_ms: REFERENCE_T1_MS,
        scenario_timeout_s: 3,
        expires_resolution_ms: REFERENCE_EXPIRES_RESOLUTION_MS,
        launch: None,
        capabilities: Default::default(),
        tls: Default::default(),
        xdms: None,
        presence: None,
        poc: None,
        // Its PUBLISHes go to the harness presence server through the core.
        presence_client: Some(crate::profile::PresenceClientSection {
            aor: crate::reference::presence_client::AOR.into(),
            trigger: any,
        }),
        msrp: None,
        iwf: Some(crate::profile::IwfSection {
            smsc: any,
            system_id: "liaison".into(),
            password: "secret".into(),
            ims_core: any,
            domain: Some("liaison.test".into()),
            t1_ms: None,
            timer_f_ms: None,
            ims_core_tls: None,
            tls_prefix: None,
        }),
        ppg: Some(crate::profile::PpgSection {
            url: String::new(),
            compliance: "wap-2.0".into(),
            bearers: vec!["sms".into(), "http".into(), "sip".into()],
            smsc: Some(any),
            system_id: Some("liaison-ppg".into()),
            password: Some("secret".into()),
            ota_http: Some(any),
            sip_target: Some(any),
            // A terminal the PPG tells apart by its IP: the core's loopback
            // IP (IPv4), none where ::1 is the only one.
            ota_https: (core_ip != ip).then(|| std::net::SocketAddr::new(core_ip, 0)),
            sip_tls: Some(any),
            address_domain: None,
            https_url: None,
        }),
        push_client: Some(crate::profile::PushClientSection {
            apps: Vec::new(),
            content_types: None,
            aor: None,
            agent: Some(any),
            agent_tls: Some(any),
            subscribe_event: None,
            upper_tester: Some(any),
        }),
        mms_client: Some(crate::profile::MmsClientSection {
            mmsc_url: format!("http://{any}/mmsc"),
            wap_push: None,
            sip_push: None,
            sip_uri: None,
            sip_address_form: None,
            upper_tester: Some(any),
            send_trigger: None,
            https_retrieval: None,
            sip_push_tls: None,
        }),
        mms_relay: Some(crate::profile::MmsRelaySection {
            mm1_url: String::new(),
            notify: vec!["sms".into(), "sip".into()],
            smsc: Some(any),
            system_id: Some("liaison-mms".into()),
            password: Some("secret".into()),
            sip_device: Some(any),
            sip_address_form: None,
            sip_address_type: None,
            sip_domain: None,
            mm3: None,
            mm3_domain: None,
            mm3_max_size: None,
            mm3_starttls: None,
            mm1_https_url: None,
            sip_device_tls: None,
        }),
        deferral: Some(crate::profile::DeferralSection {
            mmsc_url: format!("http://{any}/mms"),
            recipient_domain: Some(crate::reference::im_server::MMS_DOMAIN.into()),
            sip_address_form: None,
            sip_address_type: None,
        }),
        mem_server: Some(crate::profile::MemServerSection {
            inbox: None,
            deliver_command: None,
            mailbox: "bob@mem.liaison.test".into(),
            other_mailbox: Some("carol@mem.liaison.test".into()),
            notify_to: "+15550006666/TYPE=PLMN@mms.liaison.test".into(),
            mm3: any,
            payload: None,
            starttls: Some(true),
        }),
        ims: Some(crate::profile::ImsSection {
            core: std::net::SocketAddr::new(core_ip, 0),
            ws: None,
            wss: None,
            tls: None,
            trust: Some(if core_ip == ip {
                crate::profile::Trust::Address
            } else {
                crate::profile::Trust::Ip
            }),
            route_all: Some(false),
            register: Some(true),
            register_expires_s: Some(crate::reference::im_client::IMS_EXPIRES),
            feature_tags: None,
            icsi: None,
        }),
    }
}

/// The loopback IP the harness's aggregation proxy sends from towards the
/// XDMS: on IPv4 one other than the harness's and the core's; on IPv6 `ip`.
async fn proxy_loopback(ip: std::net::IpAddr, core_ip: std::net::IpAddr) -> std::net::IpAddr {
    if ip.is_ipv6() {
        return ip;
    }
    for _ in 0..8 {
        let p = core_loopback().await;
        if p != ip && p != core_ip {
            return p;
        }
    }
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3))
}

/// The embedded reference and the run-level harness it is configured with,
/// through the one start path: the harness from a profile
/// ([`harness_profile`], [`Harnesses::for_profile`]), then each reference
/// role told the addresses the harness got, and the profile that comes back
/// describes the whole (as a real SUT's profile would).
pub async fn start_embedded(
    fault: Option<&str>,
    ip: std::net::IpAddr,
    pcap_dir: &std::path::Path,
) -> Result<
    (
        Profile,
        crate::harness::RoleAddresses,
        Harnesses,
        Vec<crate::reference::Running>,
    ),
    UsageError,
> {
    let core_ip = match ip {
        std::net::IpAddr::V4(_) => core_loopback().await,
        std::net::IpAddr::V6(_) => ip,
    };
    let pre = harness_profile(ip, core_ip);
    let harness = Harnesses::for_profile(&pre, pcap_dir)
        .await
        .map_err(|e| UsageError(format!("embedded reference: {e}")))?;
    let missing = |what: &str| UsageError(format!("embedded reference: no harness {what}"));
    let (iwf, ppg, pc, mmsc, mms, dmmsc, mm3, ims) = (
        harness.iwf.as_ref().ok_or_else(|| missing("iwf"))?,
        harness
            .push
            .as_ref()
            .ok_or_else(|| missing("ppg bearers"))?,
        harness
            .push_client
            .as_ref()
            .ok_or_else(|| missing("push agent"))?,
        harness.mms_client.as_ref().ok_or_else(|| missing("MMSC"))?,
        harness
            .mms_relay
            .as_ref()
            .ok_or_else(|| missing("MMS relay bearers"))?,
        harness
            .deferral
            .as_ref()
            .ok_or_else(|| missing("deferral MMSC"))?,
        harness.mem_server.as_ref().ok_or_else(|| missing("MM3"))?,
        harness.ims.as_ref().ok_or_else(|| missing("IMS core"))?,
    );
    let (pi, pp, pr, pm) = (
        pre.iwf.as_ref().ok_or_else(|| missing("iwf section"))?,
        pre.ppg.as_ref().ok_or_else(|| missing("ppg section"))?,
        pre.mms_relay
            .as_ref()
            .ok_or_else(|| missing("mms_relay section"))?,
        pre.mem_server
            .as_ref()
            .ok_or_else(|| missing("mem_server section"))?,
    );
    let any = std::net::SocketAddr::new(ip, 0);
    // The run's lab CA and the certificate it issues for the reference
    // (loopback addresses), through the same path as for any SUT.
    // (Made already when the harness profile speaks TLS itself: the
    // OTA-HTTP target over TLS.)
    let tls = match harness.tls.clone() {
        Some(t) => t,
        None => std::sync::Arc::new(
            crate::harness::tls::RunTls::new(&pre, &crate::harness::tls_dir(pcap_dir), None)
                .map_err(|e| UsageError(format!("embedded reference: {e}")))?,
        ),
    };
    // The core takes the reference IWF's SIP over TLS too: it sends there
    // the MESSAGEs for the numbers of its TLS prefix (the @if:iwf_sip_tls
    // scenarios'), the rest over UDP, so the other scenarios' SIP stays in
    // their own pcaps.
    let iwf_tls = iwf
        .listen_tls(
            std::net::SocketAddr::new(iwf.ims.ep.udp_addr().ip(), 0),
            tls.server.clone(),
        )
        .await
        .map_err(|e| UsageError(format!("embedded reference: {e}")))?;
    // The harness device takes the relay's SIP over TLS (sips: recipients)
    // with the harness certificate of this run's lab CA.
    let device_tls = match mms.sip.as_ref() {
        Some(s) => Some(
            s.ep.listen_tls(any, tls.server.clone())
                .await
                .map_err(|e| UsageError(format!("embedded reference: SIP device TLS: {e}")))?,
        ),
        None => None,
    };
    let reference_tls = crate::reference::tls::ReferenceTls {
        cert_chain_pem: tls.sut.chain_pem(),
        key_pem: tls.sut.key_pem(),
        ca_pem: tls.lab_ca.pem(),
    };
    let settings = crate::reference::Settings {
        tls: Some(reference_tls),
        iwf: Some(crate::reference::sms_iwf::IwfConfig {
            smsc: iwf.smsc.addr(),
            ims_core: iwf.ims.ep.udp_addr(),
            system_id: pi.system_id.clone(),
            password: pi.password.clone(),
            domain: pi.domain.clone().unwrap_or_default(),
            ims_core_tls: Some(iwf_tls),
            tls_prefix: Some(crate::reference::sms_iwf::TLS_PREFIX.into()),
        }),
        ppg: Some(crate::reference::ppg::PpgConfig {
            smsc: ppg.smsc.as_ref().map_or(any, |s| s.addr()),
            system_id: pp.system_id.clone().unwrap_or_default(),
            password: pp.password.clone().unwrap_or_default(),
            ota_http: ppg.ota.as_ref().map_or(any, |o| o.addr()),
            ota_https: ppg.ota_tls.as_ref().map(|t| t.server.addr()),
            sip_tls: ppg.sip_tls.as_ref().map(|t| t.addr),
            sip_target: ppg.sip.as_ref().map_or(any, |s| s.ep.udp_addr()),
        }),
        push_client: Some(crate::reference::push_client::PushClientConfig {
            agent: pc.agent.as_ref().map(|a| a.ep.udp_addr()),
            agent_tls: pc.agent_tls_addr,
            upper_tester: pc.upper.as_ref().map(|u| u.addr()),
            event: crate::codec::sip_push::PLACEHOLDER_PUSH_EVENT.into(),
        }),
        mms_client: Some(crate::reference::mms_client::MmsClientConfig {
            mmsc_url: format!("http://{}/mmsc", mmsc.server.addr()),
            upper_tester: mmsc.upper.as_ref().map(|u| u.addr()),
            send_trigger: None,
            escaped_sip: false,
        }),
        mms_relay: Some(crate::reference::mms_relay::MmsRelayConfig {
            smsc: mms.smsc.as_ref().map_or(any, |s| s.addr()),
            system_id: pr.system_id.clone().unwrap_or_default(),
            password: pr.password.clone().unwrap_or_default(),
            sip_device: mms.sip.as_ref().map_or(any, |s| s.ep.udp_addr()),
            sip_device_tls: device_tls,
        }),
        deferral: Some(crate::reference::im_server::DeferralConfig {
            mmsc_url: format!("http://{}/mms", dmmsc.server.addr()),
            domain: crate::reference::im_server::MMS_DOMAIN.into(),
            sip_type: None,
        }),
        mem_server: Some(crate::reference::mem_server::MemServerConfig {
            mm3: mm3.server.addr(),
            mailbox: pm.mailbox.clone(),
            other_mailbox: pm.other_mailbox.clone().unwrap_or_default(),
            notify_to: pm.notify_to.clone(),
        }),
        // The XDMS trusts the harness's aggregation proxy by its IP: on
        // IPv4 a loopback IP of its own (neither the harness's nor the
        // core's); on IPv6 ::1, the one there is, which the harness's
        // untrusted client shares (the scenarios that need a client the
        // XDMS can tell apart are then left out: `xdms_untrusted_source`).
        xdms: Some(crate::reference::xdms::XdmsConfig {
            proxy: proxy_loopback(ip, core_ip).await,
            identity_header: crate::reference::xdms::DEFAULT_IDENTITY_HEADER.into(),
        }),
        // The presence server trusts XCAP from the aggregation proxy's
        // address: a loopback IP of its own on IPv4 (the harness's users
        // send from `ip`), `::1` on IPv6 (the one loopback address there).
        presence: Some(crate::reference::presence_server::PresenceConfig {
            proxy: proxy_loopback(ip, core_ip).await,
            identity_header: crate::roles::xcap_client::DEFAULT_IDENTITY_HEADER.into(),
        }),
        // The reference client registers through the core at start; the
        // core's routes are set once the roles are up.
        ims: Some(crate::reference::ImsConfig {
            core: ims.core.addr(),
            trust_port: pre.ims.as_ref().and_then(|i| i.trust)
                == Some(crate::profile::Trust::Address),
        }),
        poc: Some(crate::reference::poc_server::PocConfig::default()),
        ..Default::default()
    };
    let (p, a, r) = start_reference(fault, ip, settings).await?;
    ims.configure(&p, &a.sip);
    let mut harness = harness;
    harness.tls = Some(tls);
    Ok((p, a, harness, r))
}
