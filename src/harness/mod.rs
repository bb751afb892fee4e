//! The run-level harness: the network elements a SUT is configured with
//! (so they live for the whole run, at addresses in its profile) and the
//! [`RunContext`] the steps of every scenario see.
//!
//! | file | run-level role | SUT roles it serves |
//! |---|---|---|
//! | [`iwf`] | SMSC + IMS core of an SMS/IM interworking function | sms-im-iwf |
//! | [`ims`] | IMS core (P-/S-CSCF, registrar, router) | IMS clients and servers (`ims` section) |
//! | [`bearers`] | SMSC, OTA-HTTP target, SIP device | ppg, mms-relay |
//! | [`mmsc`] | MMS Relay/Server (+ upper tester) | mms-client, im-server with deferral |
//! | [`push_agent`] | push agent + upper tester | push-client |
//! | [`mm3`] | MMS server's MM3 (SMTP) | mem-server |
//! | [`esc`] | presence server (ESC) the core sends PUBLISH to | presence-client |
//!
//! Steps import these from here, never from the runner. Each one starts
//! from the profile alone ([`Harnesses::for_profile`]), so a real SUT and
//! the embedded reference get the same harness.
//!
//! `iwf`, `ims`, the MMSCs (an mms-client's, the one an IM server defers
//! to) and the `bearers` of a PPG and of an MMS relay serve every scenario
//! at once through a routed capture
//! (`Capture::routed`): each scenario claims the keys it made up, and what
//! no scenario claims goes to the role's run-level pcap
//! ([`run_level_capture`]). The others are held by one scenario at a time
//! ([`EXCLUSIVE`]). A scenario tagged `@alone` runs while no other scenario
//! of its SUT role does ([`Held::take`]): one that leaves state in the SUT
//! (a malformed notification it may choke on) that would reach another
//! scenario's traffic.

pub mod bearers;
pub mod esc;
pub mod ims;
pub mod iwf;
pub mod mm3;
pub mod mmsc;
pub mod push_agent;
pub mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use bearers::PushHarness;
pub use esc::EscHarness;
pub use ims::ImsHarness;
pub use iwf::IwfHarness;
pub use mmsc::MmsClientHarness;

use crate::net::capture::Capture;
use crate::profile::Profile;
pub use mm3::Mm3Harness;
pub use push_agent::PushClientHarness;

/// What the steps of a run see.
#[derive(Debug)]
pub struct RunContext {
    pub profile: Profile,
    /// Per-role addresses, when the SUT runs each role on its own port (the
    /// embedded reference); empty for a profile's SUT.
    pub role_addresses: RoleAddresses,
    /// sms-im-iwf: the harness SMSC and IMS core, shared by the run's scenarios.
    pub iwf: Option<Arc<IwfHarness>>,
    /// ppg: the harness bearers (SMSC, OTA-HTTP target, SIP device), shared likewise.
    pub push: Option<Arc<PushHarness>>,
    /// push-client: the harness push agent and upper tester, shared likewise.
    pub push_client: Option<Arc<PushClientHarness>>,
    pub out_dir: PathBuf,
    pub pcap_dir: PathBuf,
    /// mms-client: the harness MMS Relay/Server at the profile's MMSC URL, shared likewise.
    pub mms_client: Option<Arc<MmsClientHarness>>,
    /// mms-relay: the bearers the relay notifies over (SMSC, SIP device).
    pub mms_relay: Option<Arc<PushHarness>>,
    /// im-server with deferral: the harness MMS Relay/Server it defers to
    /// (at the profile's `deferral.mmsc_url`), shared likewise.
    pub deferral: Option<Arc<MmsClientHarness>>,
    /// mem-server: the harness MMS server's MM3 interface (SMTP), shared likewise.
    pub mem_server: Option<Arc<Mm3Harness>>,
    /// The harness IMS core (profile section `ims`), shared likewise.
    pub ims: Option<Arc<ImsHarness>>,
    /// presence-client: the presence server its PUBLISHes reach through the core.
    pub esc: Option<Arc<EscHarness>>,
    /// The run's TLS (lab CA, certificates, checks) when the SUT speaks TLS.
    pub tls: Option<Arc<tls::RunTls>>,
    /// The locks of the [`EXCLUSIVE`] roles and of the SUT's roles (`@alone`).
    pub exclusive: Exclusive,
}

/// A SUT's addresses per role: where it takes SIP, and SIP over TLS.
#[derive(Debug, Clone, Default)]
pub struct RoleAddresses {
    pub sip: BTreeMap<String, std::net::SocketAddr>,
    pub tls: BTreeMap<String, std::net::SocketAddr>,
}

impl RunContext {
    /// The SUT's SIP address for a role.
    pub fn sip_address(&self, role: &str) -> Option<std::net::SocketAddr> {
        self.role_addresses
            .sip
            .get(role)
            .copied()
            .or_else(|| self.profile.sip.as_ref().and_then(|s| s.address))
    }

    /// Where the SUT takes SIP over TLS for a role (`sip.tls`).
    pub fn tls_address(&self, role: &str) -> Option<std::net::SocketAddr> {
        self.role_addresses
            .tls
            .get(role)
            .copied()
            .or_else(|| self.profile.sip.as_ref().and_then(|s| s.tls))
    }
}

/// The run-level roles a scenario may hold for itself while it runs, by the
/// name its feature's `@harness:NAME` tag gives. Each one's traffic reaches
/// the pcap of the scenario that holds it (its capture is switched to that
/// scenario's), so two scenarios that use the same one take turns, while
/// scenarios that use different ones, or none, run side by side. A scenario
/// holds its roles from its start to its end, taken in name order (no two
/// scenarios can wait on each other).
///
/// Why this one is not routed by key:
/// - `mm3`: a MEM server's notification names the mailbox of the profile
///   (`mem_server.mailbox`, `other_mailbox`), the same for every scenario;
///   nothing in it is a scenario's own, so which new mail it announces is
///   known only when one scenario at a time makes new mail.
/// - `ota_tls`: the OTA-HTTP target over TLS (`ppg.ota_https`) receives TLS
///   records, in which a routed capture finds no scenario's key.
/// - `sip_tls`: the SIP device over TLS (`ppg.sip_tls`), likewise.
/// - `esc`: the presence server a presence client publishes to: every
///   PUBLISH names the client's own AoR and carries nothing a scenario
///   made up, and a client refreshes on its own timers.
pub const EXCLUSIVE: &[(&str, &str)] = &[
    ("mm3", "the MMS server's MM3 (SMTP) a MEM server notifies"),
    (
        "ota_tls",
        "the OTA-HTTP push target over TLS a PPG pushes to",
    ),
    ("sip_tls", "the SIP device over TLS a PPG pushes to"),
    (
        "esc",
        "the presence server a presence client publishes to (every PUBLISH names the client's one AoR)",
    ),
];

/// The locks of a run by name: `harness:NAME` for each [`EXCLUSIVE`] role,
/// `role:NAME` for each SUT role (scenarios of a role share it; one tagged
/// `@alone` holds it alone).
pub type Exclusive = BTreeMap<String, Arc<tokio::sync::RwLock<()>>>;

/// The locks of a run, free.
pub fn exclusive() -> Exclusive {
    EXCLUSIVE
        .iter()
        .map(|(n, _)| format!("harness:{n}"))
        .chain(crate::profile::ROLES.iter().map(|r| format!("role:{r}")))
        .map(|n| (n, Arc::new(tokio::sync::RwLock::new(()))))
        .collect()
}

enum Guard {
    Shared(#[allow(dead_code)] tokio::sync::OwnedRwLockReadGuard<()>),
    Alone(#[allow(dead_code)] tokio::sync::OwnedRwLockWriteGuard<()>),
}

/// What a scenario holds: the run-level roles of its `@harness:` tags, and
/// its SUT roles (shared, or alone with `@alone`).
#[derive(Default)]
pub struct Held(Vec<(String, Guard)>, std::sync::Mutex<Vec<Capture>>);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, g)| match g {
                Guard::Shared(_) => format!("{n} (shared)"),
                Guard::Alone(_) => n.clone(),
            }))
            .finish()
    }
}

impl Held {
    /// Waits for what a scenario with `tags` (its feature's, rule's and
    /// own, without `@`) holds, in name order (no two scenarios can wait
    /// on each other), and holds it: each `@harness:NAME` role alone, each
    /// SUT role tag shared, or alone when it is tagged `@alone`. The locks
    /// are fair: a scenario waiting to be alone holds back the ones that
    /// start after it.
    pub async fn take(ctx: &RunContext, tags: &[String]) -> Held {
        let alone = tags.iter().any(|t| t == "alone");
        let mut wanted: Vec<(String, bool)> = tags
            .iter()
            .filter_map(|t| {
                if let Some(h) = t.strip_prefix("harness:") {
                    Some((format!("harness:{h}"), true))
                } else if crate::profile::ROLES.contains(&t.as_str()) {
                    Some((format!("role:{t}"), alone))
                } else {
                    None
                }
            })
            .collect();
        wanted.sort();
        wanted.dedup_by(|a, b| a.0 == b.0);
        let mut held = Vec::new();
        for (n, alone) in wanted {
            if let Some(lock) = ctx.exclusive.get(&n) {
                tracing::debug!(role = %n, alone, "scenario waits for a run-level role");
                let g = if alone {
                    Guard::Alone(lock.clone().write_owned().await)
                } else {
                    Guard::Shared(lock.clone().read_owned().await)
                };
                held.push((n, g));
            }
        }
        Held(held, Default::default())
    }

    /// Whether the scenario holds `name`.
    pub fn holds(&self, name: &str) -> bool {
        let name = format!("harness:{name}");
        self.0
            .iter()
            .any(|(n, g)| *n == name && matches!(g, Guard::Alone(_)))
    }

    /// Switches the shared capture of run-level role `name` to `scenario`'s
    /// pcap, if the scenario holds that role; else says which tag is missing
    /// (a scenario that used it unheld would share its traffic, and its
    /// verdicts, with another).
    pub fn point(&self, name: &str, shared: &Capture, scenario: &Capture) -> Result<(), String> {
        if !self.holds(name) {
            return Err(format!(
                "the scenario uses the run-level harness role `{name}` without holding it: its feature must carry @harness:{name} (a bug of the suite, not of the SUT)"
            ));
        }
        shared.point_to(scenario);
        crate::net::lock(&self.1).push(shared.clone());
        Ok(())
    }

    /// Lets go of everything: what the roles it held carry from now on,
    /// until the next scenario holds them, goes to their run-level pcaps.
    pub fn release(&mut self) {
        for c in crate::net::lock(&self.1).drain(..) {
            c.point_home();
        }
        self.0.clear();
    }
}

/// The pcap of run-level role `name`'s traffic that belongs to no scenario
/// (`pcaps/run-level-NAME.pcap`); disabled when the file cannot be made.
pub fn run_level_capture(pcap_dir: &Path, name: &str) -> Capture {
    Capture::create(&pcap_dir.join(format!("run-level-{name}.pcap")))
        .unwrap_or_else(|_| Capture::disabled())
}

/// The run-level harness roles a profile asks for (each `None` when the
/// SUT does not play the role that needs it).
#[derive(Debug, Default, Clone)]
pub struct Harnesses {
    pub iwf: Option<Arc<IwfHarness>>,
    pub push: Option<Arc<PushHarness>>,
    pub push_client: Option<Arc<PushClientHarness>>,
    pub mms_client: Option<Arc<MmsClientHarness>>,
    pub mms_relay: Option<Arc<PushHarness>>,
    pub deferral: Option<Arc<MmsClientHarness>>,
    pub mem_server: Option<Arc<Mm3Harness>>,
    pub ims: Option<Arc<ImsHarness>>,
    pub esc: Option<Arc<EscHarness>>,
    pub tls: Option<Arc<tls::RunTls>>,
}

/// Where a run's TLS files go: `tls/` beside `pcaps/`.
pub fn tls_dir(pcap_dir: &Path) -> PathBuf {
    pcap_dir.parent().unwrap_or(pcap_dir).join("tls")
}

impl Harnesses {
    /// Starts, at the addresses the profile gives (port 0 picks), every
    /// run-level role its SUT roles need. The error is one line naming the
    /// profile field.
    pub async fn for_profile(profile: &Profile, pcap_dir: &Path) -> Result<Harnesses, String> {
        let timers = crate::roles::transaction::Timers::from_t1_ms(profile.t1_ms);
        let mut h = Harnesses::default();
        if profile.uses_tls() {
            h.tls = Some(Arc::new(tls::RunTls::new(
                profile,
                &tls_dir(pcap_dir),
                None,
            )?));
        }
        if let (true, Some(i)) = (profile.has_role("sms-im-iwf"), &profile.iwf) {
            h.iwf = Some(Arc::new(
                IwfHarness::start(
                    i.smsc,
                    i.ims_core,
                    (i.system_id.clone(), i.password.clone()),
                    run_level_capture(pcap_dir, "iwf"),
                )
                .await?,
            ));
            if let (Some(at), Some(t), Some(h)) = (i.ims_core_tls, &h.tls, &h.iwf) {
                h.listen_tls(at, t.server.clone()).await?;
            }
        }
        if let (true, Some(p)) = (profile.has_role("ppg"), &profile.ppg) {
            h.push = Some(Arc::new(
                PushHarness::start(
                    p,
                    run_level_capture(pcap_dir, "ppg-bearers"),
                    match (p.ota_https, p.sip_tls) {
                        (None, None) => Capture::disabled(),
                        _ => run_level_capture(pcap_dir, "ppg-tls"),
                    },
                    h.tls.as_deref(),
                )
                .await?,
            ));
        }
        if let (true, Some(p)) = (profile.has_role("push-client"), &profile.push_client)
            && (p.agent.is_some() || p.upper_tester.is_some())
        {
            let mut pc = PushClientHarness::start(
                p.agent,
                p.upper_tester,
                timers,
                Capture::routed(run_level_capture(pcap_dir, "push-agent")),
            )
            .await?;
            // The push agent over TLS: one subscription per run, its
            // records in the run-level pcap (no scenario key in ciphertext).
            if let (Some(at), Some(t)) = (p.agent_tls, &h.tls) {
                pc.start_tls(
                    at,
                    t.server.clone(),
                    timers,
                    run_level_capture(pcap_dir, "push-agent-tls"),
                )
                .await?;
            }
            h.push_client = Some(Arc::new(pc));
        }
        if let (true, Some((a, _))) = (
            profile.has_role("mms-client"),
            profile.mms_client.as_ref().and_then(|m| m.url_parts()),
        ) {
            let capture = Capture::routed(run_level_capture(pcap_dir, "mmsc"));
            // An https:// MMSC URL: HTTP over TLS, whose records (in
            // ciphertext, no scenario's key in sight) go to the run-level pcap.
            let https = profile.mms_client.as_ref().is_some_and(|m| m.mmsc_https());
            let mut m = match (https, &h.tls) {
                (true, Some(t)) => {
                    MmsClientHarness::start_tls(a, capture, t.server.clone()).await?
                }
                _ => MmsClientHarness::start(a, capture).await?,
            };
            if let Some(u) = profile.mms_client.as_ref().and_then(|m| m.upper_tester) {
                m = m.with_upper_tester(u).await?;
            }
            h.mms_client = Some(Arc::new(m));
        }
        if let (true, Some(m)) = (profile.has_role("mem-server"), &profile.mem_server) {
            let home = run_level_capture(pcap_dir, "mm3");
            h.mem_server = Some(Arc::new(Mm3Harness::start(m.mm3, home).await?));
        }
        if let (true, Some(m)) = (profile.has_role("mms-relay"), &profile.mms_relay) {
            let relay =
                PushHarness::for_mms_relay(m, run_level_capture(pcap_dir, "mms-relay-bearers"))
                    .await?;
            // The device's SIP over TLS (sips: recipients), with the harness certificate.
            if let (Some(at), Some(t), Some(d)) = (m.sip_device_tls, &h.tls, &relay.sip) {
                d.ep.listen_tls(at, t.server.clone()).await.map_err(|e| {
                    format!("mms_relay.sip_device_tls: cannot listen on {at} ({e})")
                })?;
            }
            h.mms_relay = Some(Arc::new(relay));
        }
        if let Some((a, _)) = profile.deferral.as_ref().and_then(|d| d.url_parts()) {
            let capture = Capture::routed(run_level_capture(pcap_dir, "deferral-mmsc"));
            // An https:// MMSC URL: HTTP over TLS, in the run-level pcap.
            let https = profile.deferral.as_ref().is_some_and(|d| d.mmsc_https());
            let m = match (https, &h.tls) {
                (true, Some(t)) => MmsClientHarness::start_tls(a, capture, t.server.clone()).await,
                _ => MmsClientHarness::start(a, capture).await,
            };
            h.deferral =
                Some(Arc::new(m.map_err(|e| {
                    e.replace("mms_client.mmsc_url", "deferral.mmsc_url")
                })?));
        }
        if let Some(i) = &profile.ims {
            let core =
                ImsHarness::start(i.core, i.expires(), run_level_capture(pcap_dir, "ims-core"))
                    .await?;
            if let Some(ws) = i.ws {
                core.core
                    .listen_ws(ws)
                    .await
                    .map_err(|e| format!("ims.ws: cannot listen on {ws} ({e})"))?;
            }
            if let (Some(at), Some(t)) = (i.tls, &h.tls) {
                core.core
                    .listen_tls(at, t.server.clone())
                    .await
                    .map_err(|e| format!("ims.tls: cannot listen on {at} ({e})"))?;
            }
            if let (Some(wss), Some(t)) = (i.wss, &h.tls) {
                core.core
                    .listen_wss(wss, t.server.clone())
                    .await
                    .map_err(|e| format!("ims.wss: cannot listen on {wss} ({e})"))?;
            }
            core.configure(profile, &BTreeMap::new());
            // A presence client's PUBLISH for its own AoR goes to the
            // harness presence server (the S-CSCF's filter criteria).
            if let (true, Some(pc)) = (
                profile.has_role("presence-client"),
                &profile.presence_client,
            ) {
                let esc = EscHarness::start(profile.harness_ip, run_level_capture(pcap_dir, "esc"))
                    .await?;
                core.core.serve("PUBLISH", &pc.aor, esc.addr());
                h.esc = Some(Arc::new(esc));
            }
            h.ims = Some(Arc::new(core));
        }
        tracing::info!(
            iwf = h.iwf.is_some(),
            ppg = h.push.is_some(),
            push_agent = h.push_client.is_some(),
            mmsc = h.mms_client.is_some(),
            mms_relay = h.mms_relay.is_some(),
            deferral_mmsc = h.deferral.is_some(),
            mm3 = h.mem_server.is_some(),
            ims_core = h.ims.is_some(),
            tls = h.tls.is_some(),
            "run-level harness roles started"
        );
        Ok(h)
    }
}

impl RunContext {
    /// The context of a run: its SUT's profile and addresses, the
    /// run-level harness, and where the report goes.
    pub fn new(
        profile: Profile,
        role_addresses: RoleAddresses,
        h: Harnesses,
        out_dir: PathBuf,
        pcap_dir: PathBuf,
    ) -> RunContext {
        RunContext {
            profile,
            role_addresses,
            iwf: h.iwf,
            push: h.push,
            push_client: h.push_client,
            out_dir,
            pcap_dir,
            mms_client: h.mms_client,
            mms_relay: h.mms_relay,
            deferral: h.deferral,
            mem_server: h.mem_server,
            ims: h.ims,
            esc: h.esc,
            tls: h.tls,
            exclusive: exclusive(),
        }
    }
}
