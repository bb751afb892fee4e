//! The command line (design.md, "Command line"):
//! `liaison run | list | reference | report`, exit codes 0/1/2/3.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::catalogue::{Catalogue, Level};
use crate::report::Report;
use crate::runner::{self, RunOptions};

/// Exit codes.
pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "liaison",
    version,
    about = "Conformance suite for IMS and OMA messaging interworking"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the scenarios against a SUT (default: the embedded reference) and write the report.
    Run {
        /// SUT profile (YAML). Without it, the embedded reference SUT, all roles.
        #[arg(long, value_name = "PROFILE")]
        sut: Option<PathBuf>,
        /// Tag expression selecting scenarios, e.g. `@DR-5 or @im-client`.
        #[arg(long, value_name = "EXPR")]
        tags: Option<String>,
        /// Report folder (default reports/<timestamp>, with reports/latest pointing at it).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Every failed requirement gates the exit code (SHOULD and MAY, not only MUST).
        #[arg(long)]
        strict: bool,
        /// Waiver file: requirements a SUT is known to fail, each with a written reason.
        #[arg(long, value_name = "FILE")]
        waivers: Option<PathBuf>,
        /// Run against the embedded reference with this fault (ROLE/NAME; see `liaison reference --list-faults`).
        #[arg(long, value_name = "ROLE/NAME")]
        fault: Option<String>,
        /// The loopback IP the embedded reference and its harness bind
        /// (default 127.0.0.1; `::1` runs every role on IPv6).
        #[arg(long, value_name = "IP")]
        address: Option<std::net::IpAddr>,
        /// Folder of the feature files (default ./features).
        #[arg(long, value_name = "DIR")]
        features: Option<PathBuf>,
        /// No progress lines, only the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// List requirements, their scenarios, and which apply to a SUT.
    List {
        #[arg(long, value_name = "PROFILE")]
        sut: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        features: Option<PathBuf>,
    },
    /// Run one embedded reference SUT role on its own until interrupted.
    Reference {
        /// im-client or im-server.
        #[arg(long)]
        role: Option<String>,
        /// A named fault of that role.
        #[arg(long)]
        fault: Option<String>,
        /// Address to listen on (UDP and TCP; port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// RFC 3261 T1 of the reference, in ms.
        #[arg(long, default_value_t = 500)]
        t1_ms: u64,
        /// im-server: domain served.
        #[arg(long, default_value = "liaison.test")]
        domain: String,
        /// im-server: turn store-and-forward off.
        #[arg(long)]
        no_store: bool,
        /// Print the faults of every role and exit.
        #[arg(long)]
        list_faults: bool,
        /// sms-im-iwf, ppg, mms-relay: the SMSC to bind to.
        #[arg(long, value_name = "ADDR")]
        smsc: Option<std::net::SocketAddr>,
        /// ppg: the OTA-HTTP push target (for IPv4 client addresses).
        #[arg(long, value_name = "ADDR")]
        ota_http: Option<std::net::SocketAddr>,
        /// ppg: where SIP pushes go; mms-relay: the SIP device it notifies.
        #[arg(long, value_name = "ADDR")]
        sip_target: Option<std::net::SocketAddr>,
        /// sms-im-iwf: where to send SIP MESSAGEs; im-client: the IMS core to
        /// register through; im-server: the IMS core whose IP it trusts for
        /// P-Asserted-Identity.
        #[arg(long, value_name = "ADDR")]
        ims_core: Option<std::net::SocketAddr>,
        /// sms-im-iwf: bind credentials.
        #[arg(long, default_value = "liaison")]
        system_id: String,
        #[arg(long, default_value = "secret")]
        password: String,
        /// mms-client: the MMSC URL it posts to (http://IP:PORT/PATH).
        #[arg(long, value_name = "URL")]
        mmsc: Option<String>,
        #[command(flatten)]
        roles: Box<RoleArgs>,
    },
    /// Delivery-report integrity under load: send at a rate, correlate every
    /// outcome with its message, write load.json, junit.xml and report.html.
    Load(Box<LoadArgs>),
    /// Render junit.xml, report.html and summary.txt again from DIR/report.json,
    /// or merge several runs into one report (or several load agents' load.json
    /// into one load result).
    Report {
        /// The report folder(s).
        dirs: Vec<PathBuf>,
        /// Merge the given folders into --out.
        #[arg(long)]
        merge: bool,
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Apply this waiver file instead of the run's (to every scenario).
        #[arg(long, value_name = "FILE")]
        waivers: Option<PathBuf>,
    },
}

/// `liaison load`'s arguments.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// SUT profile (YAML). Without it, the embedded reference of the role.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// The role to load (default: the profile's first loadable role; im-client without a profile).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Messages per second. Without it, a stepped search for the highest rate kept with integrity.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Messages to send (per search step without --rate).
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Seconds to send for (per search step without --rate).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// How the recipients the harness plays answer: ANSWER:WEIGHT,… (codes 200–699 or `silent`).
    #[arg(long, value_name = "MIX", default_value = "200:100")]
    pub mix: String,
    /// What to keep of the traffic in load.pcap: off, ring:MB (the last MB) or full.
    #[arg(long, value_name = "MODE", default_value = "ring:64")]
    pub capture: String,
    /// Result folder (default reports/load-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run as agent K of N: a disjoint share of the identities (merge with `liaison report --merge`).
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    pub agent: String,
    /// Lost or late outcomes allowed before the run fails.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_lost: u64,
    /// Fail unless the SUT completes at least this many outcomes per second.
    #[arg(long, value_name = "R")]
    pub min_rate: Option<f64>,
    /// Fail if the p99 latency exceeds this (ms).
    #[arg(long, value_name = "MS")]
    pub max_p99: Option<f64>,
    /// Against the embedded reference with this fault (ROLE/NAME).
    #[arg(long, value_name = "ROLE/NAME")]
    pub fault: Option<String>,
    /// The loopback IP the harness (and the embedded reference) bind.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
    /// RFC 3261 T1 (ms): Timer E starts there, Timer F (the deadline) is 64·T1.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub t1_ms: u64,
    /// Watch this long (ms) after the last outcome for late and duplicate ones (default 4·T1, 200–2000).
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

fn load_cmd(a: LoadArgs) -> i32 {
    let usage = |e: String| {
        eprintln!("liaison load: {e}");
        EXIT_USAGE
    };
    let mix = match crate::load::mix::Mix::parse(&a.mix) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    let capture = match crate::load::record::CaptureMode::parse(&a.capture) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let agent = match a
        .agent
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
    {
        Some(kn) => kn,
        None => return usage(format!("--agent {}: not K/N", a.agent)),
    };
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0 && r <= 10_000_000.0)
    {
        return usage(format!(
            "--rate {r}: a rate above 0 and at most 10 000 000/s"
        ));
    }
    let duration = match a.duration {
        Some(d) if d.is_finite() && d > 0.0 && d <= 86_400.0 => {
            Some(std::time::Duration::from_secs_f64(d))
        }
        Some(d) => return usage(format!("--duration {d}: seconds above 0, at most a day")),
        None => None,
    };
    if a.count == Some(0) {
        return usage("--count 0: nothing to send".into());
    }
    if !(1..=60_000).contains(&a.t1_ms) {
        return usage(format!("--t1-ms {}: 1–60000", a.t1_ms));
    }
    let opts = crate::load::LoadOptions {
        sut: a.sut,
        role: a.role,
        rate: a.rate,
        count: a.count,
        duration,
        mix,
        capture,
        out: a.out,
        agent,
        gates: crate::load::result::Gates {
            max_lost: a.max_lost,
            min_rate: a.min_rate,
            max_p99_ms: a.max_p99,
        },
        fault: a.fault,
        address: a.address,
        t1: std::time::Duration::from_millis(a.t1_ms),
        linger: a.linger_ms.map(std::time::Duration::from_millis),
        progress: !a.quiet,
    };
    match crate::load::run(opts) {
        Ok((r, dir)) => {
            // A closed stdout (`| head`) loses the summary, not the result.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", r.summary());
            let _ = writeln!(out, "  {}", dir.join("load.json").display());
            r.exit_code
        }
        Err(e) => usage(e),
    }
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("liaison: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Run {
            sut,
            tags,
            out,
            strict,
            waivers,
            fault,
            address,
            features,
            quiet,
        } => {
            quiet_step_panics();
            let opts = RunOptions {
                sut,
                tags,
                out,
                strict,
                waivers,
                fault,
                address,
                features,
                progress: !quiet,
            };
            match rt.block_on(runner::run(opts)) {
                Ok((report, dir)) => {
                    print!("{}", crate::report::summary::render(&report, &dir));
                    for (_, e) in report.sut_events() {
                        eprintln!("liaison: {}", e.headline());
                    }
                    report.exit_code()
                }
                Err(e) => {
                    eprintln!("liaison: {e}");
                    EXIT_USAGE
                }
            }
        }
        Command::List { sut, features } => list(sut, features),
        Command::Reference {
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
        } => {
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
        Command::Load(a) => load_cmd(*a),
        Command::Report {
            dirs,
            merge,
            out,
            waivers,
        } => report_cmd(dirs, merge, out, waivers),
    }
}

/// Step failures are panics inside cucumber (which catches them and reports
/// them as failed steps); keep them off stderr — they are in the report.
fn quiet_step_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        // Verdicts start with a requirement ID list followed by ": expected".
        if !msg.contains(": expected ") {
            default(info);
        }
    }));
}

fn list(sut: Option<PathBuf>, features: Option<PathBuf>) -> i32 {
    let cat = match Catalogue::embedded() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("liaison: {e}");
            return EXIT_USAGE;
        }
    };
    let profile = match sut {
        Some(p) => match crate::profile::Profile::load(&p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let feats =
        match runner::features_dir(features.as_deref()).and_then(|d| runner::load_features(&d)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        };
    let all = runner::scenarios(&feats);
    for r in &cat.requirements {
        println!(
            "{} [{}] {} — {} {}",
            r.id, r.level, r.title, r.source.document, r.source.place
        );
        let mine: Vec<_> = all
            .iter()
            .filter(|s| s.requirements().contains(&r.id))
            .collect();
        if r.level == Level::Informative {
            println!(
                "    informative: {}",
                r.untestable_because.as_deref().unwrap_or("")
            );
        } else if mine.is_empty() {
            println!(
                "    no scenario yet: {}",
                r.pending.as_deref().unwrap_or("(no reason given)")
            );
        }
        for s in mine {
            let applies = match &profile {
                Some(p) if runner::applies(&s.tags, p, None) => " [applies]",
                Some(_) => " [does not apply]",
                None => "",
            };
            println!("    {}:{} {}{applies}", s.file, s.line, s.name);
        }
    }
    let refs: Vec<crate::traceability::ScenarioRef> = all
        .iter()
        .map(|s| crate::traceability::ScenarioRef {
            name: format!("{}:{} {}", s.file, s.line, s.name),
            requirements: s.requirements(),
            verdict: None,
        })
        .collect();
    println!();
    print!(
        "{}",
        crate::traceability::text(&crate::traceability::trace(&cat, &refs))
    );
    EXIT_PASS
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
        ims: ims_core
            .filter(|_| role == "im-client" || role == "im-server")
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

fn report_cmd(
    dirs: Vec<PathBuf>,
    merge: bool,
    out: Option<PathBuf>,
    waivers: Option<PathBuf>,
) -> i32 {
    if dirs.is_empty() {
        eprintln!("liaison: report: expected a report folder");
        return EXIT_USAGE;
    }
    // Load results of several agents (`liaison load --agent K/N`).
    if merge && dirs.iter().any(|d| d.join("load.json").is_file()) {
        let Some(out) = out else {
            eprintln!("liaison: report --merge: --out DIR is required");
            return EXIT_USAGE;
        };
        if waivers.is_some() {
            eprintln!("liaison: report --merge: --waivers applies to conformance reports, not to load results");
            return EXIT_USAGE;
        }
        return match crate::load::merge::merge_dirs(&dirs, &out) {
            Ok(r) => {
                print!("{}", r.summary());
                println!("  {}", out.join("load.json").display());
                r.exit_code
            }
            Err(e) => {
                eprintln!("liaison: report --merge: {e}");
                EXIT_USAGE
            }
        };
    }
    let mut reports = Vec::new();
    for d in &dirs {
        match Report::read(d) {
            Ok(r) => reports.push((d.clone(), r)),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let waivers = match waivers {
        Some(p) => match Catalogue::embedded().and_then(|c| crate::report::load_waivers(&p, &c)) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let (mut report, dir) = if merge {
        let Some(out) = out else {
            eprintln!("liaison: report --merge: --out DIR is required");
            return EXIT_USAGE;
        };
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("liaison: report: cannot create {}: {e}", out.display());
            return EXIT_USAGE;
        }
        match Report::merge(&reports, &out) {
            Ok(r) => (r, out),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        if dirs.len() > 1 {
            eprintln!("liaison: report: one folder, or --merge");
            return EXIT_USAGE;
        }
        let (d, r) = reports.remove(0);
        (r, out.unwrap_or(d))
    };
    if let Some(w) = &waivers {
        report.apply_waivers(w);
    }
    if let Err(e) = report.write_all(&dir) {
        eprintln!("liaison: report: cannot write into {}: {e}", dir.display());
        return EXIT_USAGE;
    }
    print!("{}", crate::report::summary::render(&report, &dir));
    report.exit_code()
}
