//! `liaison reference`: one embedded reference SUT role on its own.

use super::{EXIT_PASS, EXIT_USAGE};

/// `liaison reference`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ReferenceArgs {
    /// im-client or im-server.
    #[arg(long)]
    pub role: Option<String>,
    /// A named fault of that role.
    #[arg(long)]
    pub fault: Option<String>,
    /// Address to listen on (UDP and TCP; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// RFC 3261 T1 of the reference, in ms.
    #[arg(long, default_value_t = 500)]
    t1_ms: u64,
    /// im-server: domain served.
    #[arg(long, default_value = "liaison.test")]
    pub domain: String,
    /// im-server: turn store-and-forward off.
    #[arg(long)]
    pub no_store: bool,
    /// Print the faults of every role and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// sms-im-iwf, ppg, mms-relay: the SMSC to bind to.
    #[arg(long, value_name = "ADDR")]
    pub smsc: Option<std::net::SocketAddr>,
    /// ppg: the OTA-HTTP push target (for IPv4 client addresses).
    #[arg(long, value_name = "ADDR")]
    pub ota_http: Option<std::net::SocketAddr>,
    /// ppg: where SIP pushes go; mms-relay: the SIP device it notifies.
    #[arg(long, value_name = "ADDR")]
    pub sip_target: Option<std::net::SocketAddr>,
    /// sms-im-iwf: where to send SIP MESSAGEs; im-client: the IMS core to
    /// register through; im-server: the IMS core whose IP it trusts for
    /// P-Asserted-Identity.
    #[arg(long, value_name = "ADDR")]
    pub ims_core: Option<std::net::SocketAddr>,
    /// sms-im-iwf: bind credentials.
    #[arg(long, default_value = "liaison")]
    pub system_id: String,
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// mms-client: the MMSC URL it posts to (http://IP:PORT/PATH).
    #[arg(long, value_name = "URL")]
    pub mmsc: Option<String>,
    #[command(flatten)]
    pub roles: Box<RoleArgs>,
}

pub fn cmd(a: ReferenceArgs, rt: &tokio::runtime::Runtime) -> i32 {
    let ReferenceArgs {
        role,
        fault,
        listen,
        t1_ms,
        domain,
        no_store,
        list_faults,
        smsc,
        ota_http,
        sip_target,
        ims_core,
        system_id,
        password,
        mmsc,
        roles,
    } = a;
    if list_faults {
        for f in crate::reference::faults() {
            println!(
                "{}/{}: {} — breaks [{}]",
                f.role,
                f.name,
                f.description,
                f.breaks.join(", ")
            );
        }
        for f in crate::reference::load_faults() {
            println!(
                "{}/{}: {} — under load (liaison load {}): {}",
                f.role,
                f.name,
                f.description,
                f.args.join(" "),
                f.trips.join(", ")
            );
        }
        return EXIT_PASS;
    }
    let Some(role) = role else {
        eprintln!(
            "liaison: reference: --role is required (one of {})",
            crate::reference::ROLES.join(", ")
        );
        return EXIT_USAGE;
    };
    let iwf = IwfArgs {
        smsc,
        ota_http,
        sip_target,
        ims_core,
        system_id,
        password,
        mmsc,
        deferral: roles.defer_to.clone().map(|mmsc_url| {
            crate::reference::im_server::DeferralConfig {
                mmsc_url,
                domain: roles.mms_domain.clone(),
                sip_type: roles.defer_sip_type.clone(),
            }
        }),
        send_trigger_at: roles.send_trigger,
        escaped_sip: roles.escaped_sip,
        trust_core_port: roles.trust_core_port,
        ims_core_tls: roles.ims_core_tls,
        tls_prefix: roles.tls_prefix.clone(),
    };
    rt.block_on(reference(role, fault, listen, t1_ms, domain, no_store, iwf))
}

/// `liaison reference --role sms-im-iwf` / `--role ppg` arguments.
struct IwfArgs {
    smsc: Option<std::net::SocketAddr>,
    ota_http: Option<std::net::SocketAddr>,
    sip_target: Option<std::net::SocketAddr>,
    ims_core: Option<std::net::SocketAddr>,
    system_id: String,
    password: String,
    mmsc: Option<String>,
    deferral: Option<crate::reference::im_server::DeferralConfig>,
    send_trigger_at: Option<std::net::SocketAddr>,
    escaped_sip: bool,
    trust_core_port: bool,
    ims_core_tls: Option<std::net::SocketAddr>,
    tls_prefix: Option<String>,
}

/// `liaison reference`: options of single roles (im-server deferral,
/// mms-client sending).
#[derive(clap::Args, Debug)]
pub struct RoleArgs {
    /// im-server: defer messages for MMS users to the MMS Relay/Server at
    /// this MM1 URL (http://IP:PORT/PATH).
    #[arg(long, value_name = "URL")]
    defer_to: Option<String>,
    /// im-server with --defer-to: the domain of its MMS users.
    #[arg(long, value_name = "DOMAIN", default_value = crate::reference::im_server::MMS_DOMAIN)]
    mms_domain: String,
    /// im-server with --defer-to: write SIP URIs in the MM as
    /// escaped-value/TYPE=NAME instead of the bare URI.
    #[arg(long, value_name = "NAME")]
    defer_sip_type: Option<String>,
    /// mms-client: where it takes send triggers (HTTP `POST /mms/send`;
    /// default: port 0 on its own IP, printed at start).
    #[arg(long, value_name = "ADDR")]
    send_trigger: Option<std::net::SocketAddr>,
    /// mms-client: write the SIP URIs it sends to as escaped-value/TYPE=SIP.
    #[arg(long)]
    escaped_sip: bool,
    /// im-server with --ims-core: trust the core's IP and port, not its IP
    /// alone (a profile's `ims.trust: address`).
    #[arg(long)]
    trust_core_port: bool,
    /// sms-im-iwf: the core's SIP-over-TLS address (a profile's
    /// `iwf.ims_core_tls`); its TLS material from LIAISON_TLS_CA,
    /// LIAISON_TLS_CERT and LIAISON_TLS_KEY (a launched SUT's).
    #[arg(long, value_name = "ADDR")]
    ims_core_tls: Option<std::net::SocketAddr>,
    /// sms-im-iwf with --ims-core-tls: only the numbers with this prefix
    /// go there (a profile's `iwf.tls_prefix`).
    #[arg(long, value_name = "DIGITS")]
    tls_prefix: Option<String>,
}

async fn reference(
    role: String,
    fault: Option<String>,
    listen: std::net::SocketAddr,
    t1_ms: u64,
    domain: String,
    no_store: bool,
    iwf: IwfArgs,
) -> i32 {
    let IwfArgs {
        smsc,
        ota_http,
        sip_target,
        ims_core,
        system_id,
        password,
        mmsc,
        deferral,
        send_trigger_at,
        escaped_sip,
        trust_core_port,
        ims_core_tls,
        tls_prefix,
    } = iwf;
    if !listen.ip().is_loopback() {
        eprintln!(
            "liaison: reference: --listen: expected a loopback address (found {})",
            listen.ip()
        );
        return EXIT_USAGE;
    }
    let fault = match fault {
        Some(f) => match crate::reference::find_fault(&format!("{role}/{f}")) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("liaison: reference: --fault: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let iwf = match (smsc, ims_core) {
        (Some(smsc), Some(ims_core)) => Some(crate::reference::sms_iwf::IwfConfig {
            smsc,
            ims_core,
            system_id: system_id.clone(),
            password: password.clone(),
            domain: domain.clone(),
            ims_core_tls,
            tls_prefix,
        }),
        _ if role == "sms-im-iwf" => {
            eprintln!("liaison: reference --role sms-im-iwf: --smsc ADDR and --ims-core ADDR are required");
            return EXIT_USAGE;
        }
        _ => None,
    };
    let ppg = match (smsc, ota_http, sip_target) {
        (Some(smsc), Some(ota_http), Some(sip_target)) => Some(crate::reference::ppg::PpgConfig {
            smsc,
            system_id: system_id.clone(),
            password: password.clone(),
            ota_http,
            ota_https: None,
            sip_target,
            sip_tls: None,
        }),
        _ if role == "ppg" => {
            eprintln!("liaison: reference --role ppg: --smsc ADDR, --ota-http ADDR and --sip-target ADDR are required");
            return EXIT_USAGE;
        }
        _ => None,
    };
    let mms_relay = match (smsc, sip_target) {
        (Some(smsc), Some(sip_device)) => Some(crate::reference::mms_relay::MmsRelayConfig {
            smsc,
            system_id: system_id.clone(),
            password: password.clone(),
            sip_device,
            sip_device_tls: None,
        }),
        _ if role == "mms-relay" => {
            eprintln!("liaison: reference --role mms-relay: --smsc ADDR and --sip-target ADDR are required");
            return EXIT_USAGE;
        }
        _ => None,
    };
    let iwf_tls = match iwf.as_ref().and_then(|c| c.ims_core_tls) {
        Some(_) => crate::reference::tls::ReferenceTls::from_env().map(Some),
        None => Ok(None),
    };
    let takes_tls = role == "mms-client" || (role == "im-server" && deferral.is_some());
    let settings = crate::reference::Settings {
        fault: fault.map(|f| f.name),
        t1: std::time::Duration::from_millis(t1_ms.max(1)),
        domain,
        store_and_forward: fault.map(|f| f.store_and_forward).unwrap_or(!no_store),
        iwf,
        ppg,
        push_client: Some(crate::reference::push_client::PushClientConfig {
            event: crate::codec::sip_push::PLACEHOLDER_PUSH_EVENT.into(),
            ..Default::default()
        }),
        mms_client: mmsc.map(|mmsc_url| crate::reference::mms_client::MmsClientConfig {
            mmsc_url,
            upper_tester: None,
            send_trigger: send_trigger_at,
            escaped_sip,
        }),
        mms_relay,
        deferral,
        mem_server: None,
        // xdms: the proxy at 127.0.0.3 (IPv4) or the listener's IP.
        xdms: None,
        // Standalone, the presence server takes no XCAP (no proxy to trust).
        presence: None,
        poc: None,
        ims: ims_core
            .filter(|_| {
                matches!(
                    role.as_str(),
                    "im-client" | "im-server" | "presence-server" | "poc-server"
                )
            })
            .map(|core| crate::reference::ImsConfig {
                core,
                trust_port: trust_core_port,
            }),
        // Standalone, the reference speaks no TLS (it has no certificate),
        // but with the material a launched SUT is given (LIAISON_TLS_*): an
        // sms-im-iwf told the core's TLS address (required then), a
        // launched mms-client (https:// Content-Locations, SIP over TLS)
        // and an im-server deferring to an https:// MMSC URL (if given).
        tls: match iwf_tls {
            Ok(Some(t)) => Some(t),
            Ok(None) => takes_tls
                .then(|| crate::reference::tls::ReferenceTls::from_env().ok())
                .flatten(),
            Err(e) => {
                eprintln!("liaison: reference --role sms-im-iwf --ims-core-tls: {e}");
                return EXIT_USAGE;
            }
        },
    };
    if role == "mms-client" && settings.mms_client.is_none() {
        eprintln!("liaison: reference --role mms-client: --mmsc URL is required");
        return EXIT_USAGE;
    }
    let running = match crate::reference::start(&role, listen, settings).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("liaison: reference {role}: {e}");
            return EXIT_USAGE;
        }
    };
    println!(
        "liaison reference {role} listening on {} (udp+tcp){}",
        running.address,
        fault
            .map(|f| format!(" with fault {}", f.name))
            .unwrap_or_default()
    );
    if let Some(ws) = running.ws {
        println!(
            "liaison reference {role} takes SIP over WebSocket at ws://{ws}{}",
            crate::reference::im_server::WS_PATH
        );
    }
    if let Some(mm3) = running.mm3 {
        println!("liaison reference {role} takes MM3 (SMTP) on {mm3} (tcp)");
    }
    if let Some(w) = running.wap_push {
        println!("liaison reference mms-client takes WSP pushes on {w} (udp)");
    }
    if let Some(t) = running.send_trigger {
        println!("liaison reference {role} takes send triggers on http://{t}/mms/send");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    drop(running);
    EXIT_PASS
}
