//! The runner: picks scenarios by tag and by the SUT's declared roles and
//! capabilities, starts the SUT (embedded reference or a launched program),
//! runs the scenarios through cucumber, and turns what happened into a
//! [`Report`] — also when the run is interrupted.
//!
//! Scenario selection by tags:
//! - a role tag (`@im-client`, `@im-server`, …) — the SUT must declare it;
//! - `@transport:tcp` — the SUT must take that SIP transport;
//! - `@if:CAP` / `@unless:CAP` — a declared capability must be true / false;
//! - requirement tags (`@DR-5`) — must name catalogue requirements;
//! - `--tags EXPR` — a cucumber tag expression over all of the above.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cucumber::event::{self, Cucumber as CEvent};
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use cucumber::{parser, writer, Event, World as _, Writer};
use futures::FutureExt as _;

use crate::catalogue::Catalogue;
use crate::net::capture::Capture;
use crate::net::Transport;
use crate::profile::{Profile, SipInterface};
use crate::report::{
    Report, ScenarioResult, ScenarioVerdict, StepOutcome, StepResult, Sut, Waiver,
};
use crate::steps::world::{LiaisonWorld, CONTEXT};
use crate::sut::SutProcess;

/// What the steps of a run see.
#[derive(Debug)]
pub struct RunContext {
    pub profile: Profile,
    /// Per-role SIP addresses (the embedded reference runs each role on its own port).
    pub role_addresses: BTreeMap<String, std::net::SocketAddr>,
    /// sms-im-iwf: the harness SMSC and IMS core, shared by the run's scenarios.
    pub iwf: Option<Arc<IwfHarness>>,
    /// ppg: the harness bearers (SMSC, OTA-HTTP target, SIP device), shared likewise.
    pub push: Option<Arc<PushHarness>>,
    /// push-client: the harness push agent and upper tester, shared likewise.
    pub push_client: Option<Arc<crate::roles::push_agent::PushClientHarness>>,
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
    pub mem_server: Option<Arc<crate::roles::smtp_server::Mm3Harness>>,
    /// The harness IMS core (profile section `ims`), shared likewise.
    pub ims: Option<Arc<ImsHarness>>,
}

impl RunContext {
    /// The SUT's SIP address for a role.
    pub fn sip_address(&self, role: &str) -> Option<std::net::SocketAddr> {
        self.role_addresses
            .get(role)
            .copied()
            .or_else(|| self.profile.sip.as_ref().map(|s| s.address))
    }
}

/// Harness roles that live for the whole run because a real SUT is configured
/// with their addresses (sms-im-iwf: it binds to the SMSC and sends to the IMS
/// core). Their traffic goes into the current scenario's pcap through a
/// switchable capture; scenarios that use them are `@serial`.
pub struct IwfHarness {
    pub smsc: crate::roles::smsc::Smsc,
    pub ims: crate::roles::ims_core::ImsCore,
    pub capture: Capture,
}

impl std::fmt::Debug for IwfHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IwfHarness")
            .field("smsc", &self.smsc.addr())
            .finish_non_exhaustive()
    }
}

impl IwfHarness {
    /// Starts the SMSC and the IMS core at the given loopback addresses (port 0 picks).
    pub async fn start(
        smsc: std::net::SocketAddr,
        ims: std::net::SocketAddr,
        creds: (String, String),
    ) -> Result<IwfHarness, UsageError> {
        let capture = Capture::switchable();
        let smsc = crate::roles::smsc::Smsc::start(smsc, capture.clone(), creds)
            .await
            .map_err(|e| UsageError(format!("iwf.smsc: cannot listen on {smsc} ({e})")))?;
        let ep = crate::net::SipEndpoint::bind_at(ims, ims, capture.clone())
            .await
            .map_err(|e| UsageError(format!("iwf.ims_core: cannot bind {ims} ({e})")))?;
        Ok(IwfHarness {
            smsc,
            ims: crate::roles::ims_core::ImsCore::start(Arc::new(ep)),
            capture,
        })
    }
}

/// The harness IMS core (`roles::cscf`) for the whole run, at the address
/// the SUT is configured with (`ims.core`): its traffic reaches the
/// scenario's pcap through a switchable capture, so the scenarios that use
/// it run one at a time (`@serial`, or every scenario with `route_all`).
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
    pub async fn start(addr: std::net::SocketAddr, expires: u32) -> Result<ImsHarness, UsageError> {
        let capture = Capture::switchable();
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
        Err(UsageError(format!(
            "ims.core: cannot bind {addr} ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Routes the profile's domains and AoR hosts to the SUT's roles and
    /// trusts the SUT's SIP addresses.
    pub fn configure(&self, profile: &Profile, roles: &BTreeMap<String, std::net::SocketAddr>) {
        let core = &self.core;
        let role_addr = |r: &str| {
            roles
                .get(r)
                .copied()
                .or_else(|| profile.sip.as_ref().map(|s| s.address))
        };
        for a in roles
            .values()
            .copied()
            .chain(profile.sip.as_ref().map(|s| s.address))
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
            if let (Some(aor), Some(a)) = (aor, role_addr(role)) {
                if let Some(h) = crate::codec::sip::uri_user_host(&aor).1 {
                    core.route(&h, a);
                }
            }
        }
    }
}

/// A free loopback IP other than 127.0.0.1 for the embedded run's IMS core
/// (trust is judged by source IP, and the harness's own users are on
/// 127.0.0.1).
async fn core_loopback() -> std::net::IpAddr {
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

/// The bearers a PPG pushes to, played by the harness for the whole run (the
/// SUT is configured with their addresses): an SMSC for WSP over SMS, an
/// OTA-HTTP push target, and a SIP device (the IMS core role, which routes by
/// number). Scenarios that use them are `@serial`.
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
    pub async fn start(p: &crate::profile::PpgSection) -> Result<PushHarness, UsageError> {
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
                .map_err(|e| UsageError(format!("ppg.smsc: cannot listen on {a} ({e})")))?,
            ),
            _ => None,
        };
        let ota = match (p.has_bearer("http"), p.ota_http) {
            (true, Some(a)) => Some(
                crate::roles::ota_target::start(a, capture.clone())
                    .await
                    .map_err(|e| UsageError(format!("ppg.ota_http: cannot listen on {a} ({e})")))?,
            ),
            _ => None,
        };
        let sip = match (p.has_bearer("sip"), p.sip_target) {
            (true, Some(a)) => {
                let ep = crate::net::SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| UsageError(format!("ppg.sip_target: cannot bind {a} ({e})")))?;
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

/// The MMS Relay/Server an `mms-client` SUT is configured with (its MMSC
/// URL), played by the harness for the whole run. Pushes go from per-scenario
/// sockets; this server's traffic reaches the scenario's pcap through a
/// switchable capture, so the scenarios that use it are `@serial`.
pub struct MmsClientHarness {
    pub server: crate::roles::mms_server::MmsServer,
    pub capture: Capture,
    /// The upper tester the client reports hand-overs to (`mms_client.upper_tester`).
    pub upper: Option<crate::roles::upper_tester::UpperTester>,
}

impl std::fmt::Debug for MmsClientHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmsClientHarness")
            .field("server", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl MmsClientHarness {
    /// Starts the MMS server at `addr` (port 0 picks).
    pub async fn start(addr: std::net::SocketAddr) -> Result<MmsClientHarness, UsageError> {
        let capture = Capture::switchable();
        let server = crate::roles::mms_server::MmsServer::start(addr, capture.clone())
            .await
            .map_err(|e| {
                UsageError(format!(
                    "mms_client.mmsc_url: cannot listen on {addr} ({e})"
                ))
            })?;
        Ok(MmsClientHarness {
            server,
            capture,
            upper: None,
        })
    }

    /// Also plays the client's upper tester at `addr` (port 0 picks).
    pub async fn with_upper_tester(
        mut self,
        addr: std::net::SocketAddr,
    ) -> Result<MmsClientHarness, UsageError> {
        let upper = crate::roles::upper_tester::start(addr, self.capture.clone())
            .await
            .map_err(|e| {
                UsageError(format!(
                    "mms_client.upper_tester: cannot listen on {addr} ({e})"
                ))
            })?;
        self.upper = Some(upper);
        Ok(self)
    }
}

/// The same bearers for an MMS relay: the SMSC its WSP pushes (notifications,
/// delivery reports) go through and the SIP device its Push over SIP MESSAGEs
/// reach, at the addresses of its `mms_relay` section.
impl PushHarness {
    pub async fn for_mms_relay(
        m: &crate::profile::MmsRelaySection,
    ) -> Result<PushHarness, UsageError> {
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
                .map_err(|e| UsageError(format!("mms_relay.smsc: cannot listen on {a} ({e})")))?,
            ),
            _ => None,
        };
        let sip = match (m.notifies("sip"), m.sip_device) {
            (true, Some(a)) => {
                let ep = crate::net::SipEndpoint::bind_at(a, a, capture.clone())
                    .await
                    .map_err(|e| {
                        UsageError(format!("mms_relay.sip_device: cannot bind {a} ({e})"))
                    })?;
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

/// Options of `liaison run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub sut: Option<PathBuf>,
    pub tags: Option<String>,
    pub out: Option<PathBuf>,
    pub strict: bool,
    pub waivers: Option<PathBuf>,
    /// A reference fault (`ROLE/NAME`), only without `sut`.
    pub fault: Option<String>,
    pub features: Option<PathBuf>,
    /// Print a progress line per scenario.
    pub progress: bool,
}

/// A run that could not start: exit code 2 with one line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the feature files are: `--features`, else `./features`, else the
/// source tree's.
pub fn features_dir(opt: Option<&Path>) -> PathBuf {
    if let Some(p) = opt {
        return p.to_path_buf();
    }
    let local = PathBuf::from("features");
    if local.join("requirements.yaml").exists() {
        local
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/features"))
    }
}

/// A scenario as selection sees it.
#[derive(Debug, Clone)]
pub struct ScenarioInfo {
    pub feature: String,
    pub file: String,
    pub name: String,
    pub line: usize,
    pub tags: Vec<String>,
    /// One example row of a Scenario Outline.
    pub outline: bool,
}

impl ScenarioInfo {
    pub fn requirements(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| Catalogue::looks_like_id(t))
            .cloned()
            .collect()
    }
}

/// Reads every `.feature` file under `dir` (sorted) with the gherkin parser.
pub fn load_features(dir: &Path) -> Result<Vec<cucumber::gherkin::Feature>, String> {
    let mut files = Vec::new();
    collect_features(dir, &mut files).map_err(|e| format!("features {}: {e}", dir.display()))?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let feat =
            cucumber::gherkin::Feature::parse_path(&f, cucumber::gherkin::GherkinEnv::default())
                .map_err(|e| format!("{}: {e}", f.display()))?;
        out.push(feat);
    }
    Ok(out)
}

fn collect_features(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect_features(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "feature") {
            out.push(p);
        }
    }
    Ok(())
}

/// Every scenario (outline examples expanded by row) with its effective tags.
pub fn scenarios(features: &[cucumber::gherkin::Feature]) -> Vec<ScenarioInfo> {
    let mut out = Vec::new();
    for f in features {
        let file = f
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut push = |sc: &cucumber::gherkin::Scenario, extra: &[String]| {
            let mut tags: Vec<String> = f.tags.clone();
            tags.extend(extra.iter().cloned());
            tags.extend(sc.tags.iter().cloned());
            if sc.examples.is_empty() {
                out.push(ScenarioInfo {
                    feature: f.name.clone(),
                    file: file.clone(),
                    name: sc.name.clone(),
                    line: sc.position.line,
                    tags,
                    outline: false,
                });
                return;
            }
            // A Scenario Outline runs once per example row (header row excluded).
            for ex in &sc.examples {
                let Some(t) = &ex.table else { continue };
                for i in 1..t.rows.len() {
                    let mut tags = tags.clone();
                    tags.extend(ex.tags.iter().cloned());
                    out.push(ScenarioInfo {
                        feature: f.name.clone(),
                        file: file.clone(),
                        name: sc.name.clone(),
                        line: t.position.line + i,
                        tags,
                        outline: true,
                    });
                }
            }
        };
        for sc in &f.scenarios {
            push(sc, &[]);
        }
        for r in &f.rules {
            for sc in &r.scenarios {
                push(sc, &r.tags);
            }
        }
    }
    out
}

/// Problems with scenario tags: unknown requirement IDs, no requirement, no role.
pub fn tag_problems(all: &[ScenarioInfo], cat: &Catalogue) -> Vec<String> {
    let mut out = Vec::new();
    for s in all {
        let reqs = s.requirements();
        if reqs.is_empty() {
            out.push(format!(
                "{}:{}: scenario `{}` has no requirement tag",
                s.file, s.line, s.name
            ));
        }
        for r in reqs {
            if cat.get(&r).is_none() {
                out.push(format!(
                    "{}:{}: scenario `{}` tags unknown requirement {r}",
                    s.file, s.line, s.name
                ));
            }
        }
        for t in &s.tags {
            if !Catalogue::looks_like_id(t)
                && !crate::profile::ROLES.contains(&t.as_str())
                && t != "serial"
                && !t.starts_with("transport:")
                && !t.starts_with("if:")
                && !t.starts_with("unless:")
            {
                out.push(format!(
                    "{}:{}: scenario `{}` has unknown tag @{t}",
                    s.file, s.line, s.name
                ));
            }
            if let Some(c) = t.strip_prefix("if:").or_else(|| t.strip_prefix("unless:")) {
                if !crate::profile::CAPABILITIES.contains(&c) {
                    out.push(format!(
                        "{}:{}: scenario `{}` names unknown capability {c}",
                        s.file, s.line, s.name
                    ));
                }
            }
        }
        if !s
            .tags
            .iter()
            .any(|t| crate::profile::ROLES.contains(&t.as_str()))
        {
            out.push(format!(
                "{}:{}: scenario `{}` has no role tag",
                s.file, s.line, s.name
            ));
        }
    }
    out
}

/// Does a scenario with these tags apply to this SUT (and the tag filter)?
pub fn applies(tags: &[String], profile: &Profile, filter: Option<&TagOperation>) -> bool {
    let roles_ok = tags
        .iter()
        .filter(|t| crate::profile::ROLES.contains(&t.as_str()))
        .all(|r| profile.has_role(r));
    let transport_ok = tags
        .iter()
        .filter_map(|t| t.strip_prefix("transport:"))
        .all(|t| match t {
            "udp" => profile.has_transport(Transport::Udp),
            "tcp" => profile.has_transport(Transport::Tcp),
            _ => false,
        });
    let caps_ok = tags.iter().all(|t| {
        if let Some(c) = t.strip_prefix("if:") {
            profile.capability(c)
        } else if let Some(c) = t.strip_prefix("unless:") {
            !profile.capability(c)
        } else {
            true
        }
    });
    roles_ok && transport_ok && caps_ok && filter.is_none_or(|f| f.eval(tags.iter()))
}

/// Marks not applicable, with the reason, each requirement that did not run
/// because every scenario carrying it is left out by a capability tag the
/// profile explains ([`Profile::not_applicable_because`]): e.g. DR-3 for a
/// client whose accept_types take every type. Others keep their note.
pub fn mark_not_applicable(report: &mut Report, all: &[ScenarioInfo], profile: &Profile) {
    for q in report.requirements.iter_mut() {
        if q.verdict != crate::report::ReqVerdict::NotRun || !q.applicable {
            continue;
        }
        let carrying: Vec<&ScenarioInfo> = all.iter().filter(|s| s.tags.contains(&q.id)).collect();
        let reasons: Vec<Option<String>> = carrying
            .iter()
            .map(|s| {
                s.tags
                    .iter()
                    .find_map(|t| profile.not_applicable_because(t))
            })
            .collect();
        if !reasons.is_empty() && reasons.iter().all(Option::is_some) {
            let mut why: Vec<String> = reasons.into_iter().flatten().collect();
            why.dedup();
            q.applicable = false;
            q.note = Some(format!("not applicable: {}", why.join("; ")));
        }
    }
}

/// Parses a `--tags` expression (cucumber tag-expression syntax).
pub fn parse_tags(expr: &str) -> Result<TagOperation, UsageError> {
    // The parser recurses per level: bound the expression before it runs.
    crate::limits::check_tag_expression(expr).map_err(|e| UsageError(format!("--tags: {e}")))?;
    expr.parse::<TagOperation>().map_err(|e| {
        UsageError(format!(
            "--tags: expected a tag expression such as `@DR-1 or @im-server` ({e})"
        ))
    })
}

/// Every tag a tag expression names (without the `@`), in order.
fn expression_tags(op: &TagOperation, out: &mut Vec<String>) {
    match op {
        TagOperation::And(a, b) | TagOperation::Or(a, b) => {
            expression_tags(a, out);
            expression_tags(b, out);
        }
        TagOperation::Not(a) => expression_tags(a, out),
        TagOperation::Tag(t) => {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
}

/// Edit distance (insertions, deletions, substitutions and swaps of two
/// neighbours count one each), case-insensitive, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The (up to) three known tags nearest to `name`, as `@TAG`.
fn nearest_tags(name: &str, known: &std::collections::BTreeSet<String>) -> String {
    let mut by: Vec<(usize, &String)> = known.iter().map(|k| (edit_distance(name, k), k)).collect();
    by.sort();
    by.iter()
        .take(3)
        .map(|(_, k)| format!("@{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that every tag a `--tags` expression names is carried by some
/// scenario, and that a requirement ID is one of the catalogue's: a
/// misspelt tag would otherwise select nothing (or too little) and the
/// run would pass. The error names each unknown tag and the nearest known.
pub fn check_tag_names(
    op: &TagOperation,
    all: &[ScenarioInfo],
    cat: &Catalogue,
) -> Result<(), UsageError> {
    let carried: std::collections::BTreeSet<String> =
        all.iter().flat_map(|s| s.tags.iter().cloned()).collect();
    let mut names = Vec::new();
    expression_tags(op, &mut names);
    let mut problems = Vec::new();
    for n in names {
        if carried.contains(&n) {
            continue;
        }
        let near = nearest_tags(&n, &carried);
        problems.push(match cat.get(&n) {
            Some(r) => format!(
                "@{n} is a requirement no scenario checks{} (nearest tags scenarios carry: {near})",
                r.pending
                    .as_deref()
                    .map(|p| format!("; pending: {p}"))
                    .unwrap_or_default()
            ),
            None if Catalogue::looks_like_id(&n) => {
                format!("@{n} is not a requirement of the catalogue (nearest known: {near})")
            }
            None => format!("unknown tag @{n}: no scenario carries it (nearest known: {near})"),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(UsageError(format!("--tags: {}", problems.join("; "))))
    }
}

/// A run must run something: when the tag filter and the SUT's roles and
/// capabilities leave no scenario, say so (exit 2) rather than pass with
/// nothing checked.
pub fn nothing_to_run(
    all: &[ScenarioInfo],
    profile: &Profile,
    filter: Option<&TagOperation>,
    expr: Option<&str>,
) -> UsageError {
    let by_tags = all
        .iter()
        .filter(|s| filter.is_none_or(|f| f.eval(s.tags.iter())))
        .count();
    let why = match expr {
        Some(e) if by_tags == 0 => format!("--tags `{e}` selects no scenario"),
        Some(e) => format!(
            "--tags `{e}` selects {by_tags} scenario(s), none of which applies to this SUT (roles: {}; see `liaison list --sut`)",
            profile.roles.join(", ")
        ),
        None => format!(
            "no scenario applies to this SUT (roles: {}; see `liaison list --sut`)",
            profile.roles.join(", ")
        ),
    };
    UsageError(format!("nothing to run: {why}"))
}

/// Pcap file name for a scenario.
pub fn pcap_name(file: &str, line: usize, name: &str) -> String {
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("feature");
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    format!("{stem}-L{line}-{slug}.pcap")
}

/// Every step of a scenario with its outcome: the steps that ran (Background
/// first), then those not reached after a failure, as skipped.
fn all_steps(
    feature: &cucumber::gherkin::Feature,
    sc: &cucumber::gherkin::Scenario,
    ran: Vec<StepResult>,
) -> Vec<StepResult> {
    let bg_ran = ran.iter().filter(|s| s.background).count();
    let sc_ran = ran.len() - bg_ran;
    let skipped = |st: &cucumber::gherkin::Step, background: bool| StepResult {
        keyword: st.keyword.trim().to_string(),
        text: st.value.clone(),
        outcome: StepOutcome::Skipped,
        background,
    };
    let mut out = ran;
    if let Some(bg) = &feature.background {
        let missing: Vec<StepResult> = bg
            .steps
            .iter()
            .skip(bg_ran)
            .map(|st| skipped(st, true))
            .collect();
        let at = out.iter().filter(|s| s.background).count();
        for (k, st) in missing.into_iter().enumerate() {
            out.insert(at + k, st);
        }
    }
    out.extend(sc.steps.iter().skip(sc_ran).map(|st| skipped(st, false)));
    out
}

/// A feature file's path relative to the working folder, when it is under it.
fn relative_file(file: &str) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|d| {
            Path::new(file)
                .strip_prefix(&d)
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| file.to_string())
}

/// The addresses a run knows by name, for the ladders' lanes: the SUT's
/// (per role, and per interface of its profile) and the run-level harness
/// roles' (their bound addresses).
pub fn run_elements(ctx: &RunContext) -> Vec<crate::report::Element> {
    use crate::report::{Element, Side};
    let mut out: Vec<Element> = Vec::new();
    let mut add = |a: Option<std::net::SocketAddr>, name: &str, side: Side| {
        if let Some(a) = a {
            let address = a.to_string();
            if !out.iter().any(|e| e.address == address) {
                out.push(Element {
                    address,
                    name: name.to_string(),
                    side,
                });
            }
        }
    };
    let url = |u: &str| -> Option<std::net::SocketAddr> {
        let rest = u.split_once("://").map(|x| x.1).unwrap_or(u);
        rest.split('/').next()?.parse().ok()
    };
    let p = &ctx.profile;
    for (role, a) in &ctx.role_addresses {
        add(Some(*a), &format!("SUT {role}"), Side::Sut);
    }
    if let Some(sip) = &p.sip {
        let roles = p.roles.join(", ");
        add(Some(sip.address), &format!("SUT {roles}"), Side::Sut);
    }
    add(
        p.msrp.as_ref().map(|m| m.address),
        "SUT MSRP relay",
        Side::Sut,
    );
    add(
        p.ppg.as_ref().and_then(|x| url(&x.url)),
        "SUT ppg (PAP)",
        Side::Sut,
    );
    if let Some(m) = &p.mms_client {
        add(m.wap_push, "SUT mms-client (WAP push)", Side::Sut);
        add(m.sip_push, "SUT mms-client (SIP)", Side::Sut);
    }
    add(
        p.mms_relay.as_ref().and_then(|m| url(&m.mm1_url)),
        "SUT mms-relay (MM1)",
        Side::Sut,
    );
    add(
        p.mms_relay.as_ref().and_then(|m| m.mm3),
        "SUT mms-relay (MM3)",
        Side::Sut,
    );
    add(
        p.mem_server.as_ref().and_then(|m| m.inbox),
        "SUT mem-server (inbox)",
        Side::Sut,
    );
    let push = ctx.push.as_deref();
    let pc = ctx.push_client.as_deref();
    let mms = ctx.mms_relay.as_deref();
    let harness = [
        (ctx.iwf.as_ref().map(|h| h.smsc.addr()), "harness SMSC"),
        (
            ctx.iwf.as_ref().map(|h| h.ims.ep.udp_addr()),
            "harness IMS core",
        ),
        (
            push.and_then(|h| h.smsc.as_ref()).map(|x| x.addr()),
            "harness SMSC (push)",
        ),
        (
            push.and_then(|h| h.ota.as_ref()).map(|x| x.addr()),
            "harness OTA-HTTP target",
        ),
        (
            push.and_then(|h| h.sip.as_ref()).map(|x| x.ep.udp_addr()),
            "harness SIP device",
        ),
        (
            pc.and_then(|h| h.agent.as_ref()).map(|x| x.ep.udp_addr()),
            "harness push agent",
        ),
        (
            pc.and_then(|h| h.upper.as_ref()).map(|x| x.addr()),
            "harness upper tester",
        ),
        (
            ctx.mms_client.as_ref().map(|h| h.server.addr()),
            "harness MMS Relay/Server",
        ),
        (
            mms.and_then(|h| h.smsc.as_ref()).map(|x| x.addr()),
            "harness SMSC (MMS)",
        ),
        (
            mms.and_then(|h| h.sip.as_ref()).map(|x| x.ep.udp_addr()),
            "harness SIP device (MMS)",
        ),
        (
            ctx.deferral.as_ref().map(|h| h.server.addr()),
            "harness MMSC (deferral)",
        ),
        (
            ctx.mem_server.as_ref().map(|h| h.server.addr()),
            "harness MMS server (MM3)",
        ),
        (
            ctx.ims.as_ref().map(|h| h.core.addr()),
            "harness IMS core (CSCF)",
        ),
    ];
    for (a, name) in harness {
        add(a, name, Side::Harness);
    }
    out
}

/// Collects scenario results from cucumber events as they come; prints a
/// progress line as each scenario finishes.
struct Collector {
    shared: Arc<Mutex<Collected>>,
    progress: bool,
}

/// A scenario in a run: (feature file, line).
type ScenarioKey = (String, usize);
/// The failing step's text and the failure message.
type StepFailure = (String, String);

#[derive(Default)]
struct Collected {
    results: Vec<ScenarioResult>,
    /// Per running scenario (file, line): start time and first failure.
    running: BTreeMap<ScenarioKey, (Instant, Option<StepFailure>)>,
    parse_errors: Vec<String>,
    total: usize,
    /// Scenario durations measured by the before/after hooks, by (file, line).
    durations: BTreeMap<ScenarioKey, u64>,
    /// Per running scenario, each step that ran, in order, with its outcome.
    steps: BTreeMap<ScenarioKey, Vec<StepResult>>,
}

fn panic_text(info: &cucumber::event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a step panicked with a non-text payload".to_string()
    }
}

impl Collector {
    fn on_scenario(
        &mut self,
        feature: &cucumber::gherkin::Feature,
        rule_tags: &[String],
        sc: &cucumber::gherkin::Scenario,
        ev: &event::Scenario<LiaisonWorld>,
    ) {
        let file = feature
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let key = (file.clone(), sc.position.line);
        let mut c = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match ev {
            event::Scenario::Started => {
                c.steps.insert(key.clone(), Vec::new());
                c.running.insert(key, (Instant::now(), None));
            }
            event::Scenario::Hook(event::HookType::Before, event::Hook::Failed(_, info)) => {
                if let Some((_, f)) = c.running.get_mut(&key) {
                    f.get_or_insert(("(before hook)".into(), panic_text(info)));
                }
            }
            event::Scenario::Step(step, st) | event::Scenario::Background(step, st) => {
                let failure = match st {
                    event::Step::Skipped => Some(format!(
                        "undefined step: no step definition matches `{} {}` — an undefined step is never a pass",
                        step.keyword.trim(),
                        step.value
                    )),
                    event::Step::Failed(_, _, _, err) => Some(match err {
                        event::StepError::Panic(info) => panic_text(info),
                        other => format!("{other}"),
                    }),
                    _ => None,
                };
                let outcome = match st {
                    event::Step::Passed(..) => Some(StepOutcome::Passed),
                    event::Step::Skipped | event::Step::Failed(..) => Some(StepOutcome::Failed),
                    _ => None,
                };
                if let (Some(outcome), Some(list)) = (outcome, c.steps.get_mut(&key)) {
                    list.push(StepResult {
                        keyword: step.keyword.trim().to_string(),
                        text: step.value.clone(),
                        outcome,
                        background: matches!(ev, event::Scenario::Background(..)),
                    });
                }
                if let (Some(text), Some((_, f))) = (failure, c.running.get_mut(&key)) {
                    f.get_or_insert((format!("{} {}", step.keyword.trim(), step.value), text));
                }
            }
            event::Scenario::Finished => {
                let (start, failure) = c.running.remove(&key).unwrap_or((Instant::now(), None));
                let duration_ms = c
                    .durations
                    .remove(&key)
                    .unwrap_or_else(|| start.elapsed().as_millis() as u64);
                let mut tags: Vec<String> = feature.tags.clone();
                tags.extend(rule_tags.iter().cloned());
                tags.extend(sc.tags.iter().cloned());
                let requirements: Vec<String> = tags
                    .iter()
                    .filter(|t| Catalogue::looks_like_id(t))
                    .cloned()
                    .collect();
                let name = if sc.examples.is_empty() && !sc.keyword.contains("Outline") {
                    sc.name.clone()
                } else {
                    format!("{} (example at line {})", sc.name, sc.position.line)
                };
                let verdict = if failure.is_some() {
                    ScenarioVerdict::Failed
                } else {
                    ScenarioVerdict::Passed
                };
                let steps = all_steps(feature, sc, c.steps.remove(&key).unwrap_or_default());
                let res = ScenarioResult {
                    feature: feature.name.clone(),
                    name,
                    tags,
                    requirements,
                    verdict,
                    duration_ms,
                    pcap: Some(format!(
                        "pcaps/{}",
                        pcap_name(&file, sc.position.line, &sc.name)
                    )),
                    step: failure.as_ref().map(|f| f.0.clone()),
                    failure: failure.map(|f| f.1),
                    location: Some(format!("{}:{}", relative_file(&file), sc.position.line)),
                    steps,
                    waived: Vec::new(),
                    run: 0,
                    truncated: None,
                };
                if self.progress {
                    let n = c.results.len() + 1;
                    let mark = if res.verdict == ScenarioVerdict::Passed {
                        "PASS"
                    } else {
                        "FAIL"
                    };
                    let mut line = format!(
                        "[{n:>3}/{}] {mark} {:<12} {} ({} ms)",
                        c.total,
                        res.requirements.join(","),
                        res.name,
                        res.duration_ms
                    );
                    if let Some(f) = &res.failure {
                        let first: String =
                            f.lines().next().unwrap_or("").chars().take(200).collect();
                        line.push_str(&format!("\n             {first}"));
                    }
                    println!("{line}");
                }
                c.results.push(res);
            }
            _ => {}
        }
    }
}

impl Writer<LiaisonWorld> for Collector {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(
        &mut self,
        ev: parser::Result<Event<CEvent<LiaisonWorld>>>,
        _cli: &Self::Cli,
    ) {
        match ev {
            Err(e) => self
                .shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .parse_errors
                .push(e.to_string()),
            Ok(ev) => {
                if let CEvent::Feature(f, fe) = ev.value {
                    match fe {
                        event::Feature::Scenario(sc, rs) => {
                            self.on_scenario(&f, &[], &sc, &rs.event)
                        }
                        event::Feature::Rule(r, event::Rule::Scenario(sc, rs)) => {
                            let tags = r.tags.clone();
                            self.on_scenario(&f, &tags, &sc, &rs.event)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// SIGINT or SIGTERM.
struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Interrupt {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// RFC 3339 UTC timestamp of now (seconds precision).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The T1 of the embedded reference and of the harness facing it, in ms.
const REFERENCE_T1_MS: u64 = 20;

/// The embedded reference as a profile, with its roles started on port 0.
/// `base` carries the per-role configurations (the harness addresses each
/// role is configured with); every role starts with a copy of it, at the
/// reference's T1, with the fault if it is that role's.
pub async fn start_reference(
    fault: Option<&str>,
    base: crate::reference::Settings,
) -> Result<
    (
        Profile,
        BTreeMap<String, std::net::SocketAddr>,
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
    let t1_ms = REFERENCE_T1_MS;
    let crate::reference::Settings {
        iwf,
        ppg,
        push_client,
        mms_client,
        mms_relay,
        deferral,
        mem_server,
        ims,
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
        let r = crate::reference::start(
            role,
            "127.0.0.1:0".parse().expect("literal address"),
            settings,
        )
        .await
        .map_err(|e| {
            UsageError(format!(
                "embedded reference {role}: cannot bind on 127.0.0.1 ({e})"
            ))
        })?;
        addrs.insert(role.to_string(), r.address);
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
        roles: crate::reference::ROLES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        sip: Some(SipInterface {
            address: client_addr,
            transports: vec![Transport::Udp, Transport::Tcp],
            aor: Some(format!("sip:bob@{client_addr}")),
            domain: Some("liaison.test".into()),
        }),
        harness_ip: "127.0.0.1".parse().expect("literal address"),
        t1_ms,
        scenario_timeout_s: 3,
        launch: None,
        msrp: running
            .iter()
            .find_map(|r| r.msrp)
            .map(|address| crate::profile::MsrpSection {
                address,
                failure_timeout_s: Some(1),
                auth: None,
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
            address_domain: None,
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
            subscribe_event: push_client.as_ref().map(|c| c.event.clone()),
            upper_tester: push_client.as_ref().and_then(|c| c.upper_tester),
        }),
        mms_client: mms_client.as_ref().map(|c| {
            let sip = addrs["mms-client"];
            crate::profile::MmsClientSection {
                mmsc_url: c.mmsc_url.clone(),
                wap_push: Some(crate::reference::mms_client::wap_push_address(sip)),
                sip_push: Some(sip),
                sip_uri: Some(format!("sip:mms-client@{}", sip.ip())),
                sip_address_form: None,
                upper_tester: c.upper_tester,
                send_trigger: running.iter().find_map(|r| r.send_trigger),
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
            }),
        ims: ims.as_ref().map(|i| crate::profile::ImsSection {
            core: i.core,
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
            iwf_msrp: Some(true),
            msrp: Some(true),
            msrp_max_size: Some(crate::reference::msrp_receiver::MAX_MESSAGE),
            offline_notification: Some(store),
            offline_notification_app: Some(crate::reference::im_server::OFFLINE_APP.into()),
            sip_push_subscribe: Some(push_client.as_ref().is_some_and(|c| c.agent.is_some())),
        },
    };
    Ok((profile, addrs, running))
}

/// The SUT as report.json names it.
fn sut_of(profile: &Profile) -> Sut {
    Sut {
        name: profile.name.clone(),
        profile: profile.path.clone(),
        roles: profile.roles.clone(),
        capabilities: crate::profile::CAPABILITIES
            .iter()
            .filter(|c| profile.capability(c))
            .map(|c| c.to_string())
            .collect(),
    }
}

/// Waits for a launched SUT to exit on its own (never, without one).
async fn sut_exit(p: Option<&mut SutProcess>) -> String {
    match p {
        Some(p) => p.exited().await,
        None => std::future::pending().await,
    }
}

/// A run that never reached its first scenario because the SUT was not
/// there: writes a report holding the event (status, stderr tail) and
/// gives the one-line error (exit 2).
#[allow(clippy::too_many_arguments)]
fn sut_absent(
    catalogue: &Catalogue,
    profile: &Profile,
    (started, started_at): (&str, Instant),
    waivers: &[Waiver],
    strict: bool,
    out_dir: &Path,
    kind: crate::report::SutEventKind,
    gone: crate::sut::SutGone,
) -> UsageError {
    let at_ms = started_at.elapsed().as_millis() as u64;
    let mut report = Report::build(
        catalogue,
        sut_of(profile),
        started.to_string(),
        at_ms,
        Vec::new(),
        waivers,
        false,
        strict,
    );
    let event = crate::report::SutEvent {
        kind,
        at_ms,
        detail: gone.message.clone(),
        status: gone.status,
        stderr_tail: gone.stderr_tail,
        during: Vec::new(),
        not_run: 0,
    };
    for q in &mut report.requirements {
        if q.verdict == crate::report::ReqVerdict::NotRun && q.applicable && q.note.is_some() {
            q.note = Some(format!("not run: {}", event.headline()));
        }
    }
    if let Some(run) = report.runs.first_mut() {
        run.sut_event = Some(event);
    }
    match report.write_all(out_dir) {
        Ok(()) => UsageError(format!(
            "{} (report: {})",
            gone.message,
            out_dir.join("report.json").display()
        )),
        Err(_) => UsageError(gone.message),
    }
}

/// A launched SUT exited at `at_ms` while the scenarios in `running` ran:
/// every selected scenario without a result is listed as skipped, saying
/// the SUT died (and whether it died during that scenario), not failed
/// one by one. Returns the run-level event.
fn sut_died(
    pcap_dir: &Path,
    selected: &[&ScenarioInfo],
    results: &mut Vec<ScenarioResult>,
    running: &[ScenarioKey],
    at_ms: u64,
    status: String,
    stderr_tail: Vec<String>,
) -> crate::report::SutEvent {
    let at = at_ms as f64 / 1000.0;
    let finished = results.len();
    let mut during = Vec::new();
    let mut not_run = 0;
    for s in selected {
        let location = format!("{}:{}", relative_file(&s.file), s.line);
        if results
            .iter()
            .any(|r| r.location.as_deref() == Some(location.as_str()))
        {
            continue;
        }
        let name = if s.outline {
            format!("{} (example at line {})", s.name, s.line)
        } else {
            s.name.clone()
        };
        // Cucumber's paths may be absolute where the selection's are not.
        let was_running = running
            .iter()
            .any(|(f, l)| *l == s.line && relative_file(f) == relative_file(&s.file));
        let why = if was_running {
            during.push(name.clone());
            format!("not finished: the SUT died at {at:.2} s ({status}) while this scenario ran")
        } else {
            format!("not run: the SUT died at {at:.2} s ({status})")
        };
        not_run += 1;
        // A scenario that was running has its capture (what it sent the
        // SUT before it died, the evidence of a crash).
        let pcap = Some(pcap_name(&s.file, s.line, &s.name))
            .filter(|p| was_running && pcap_dir.join(p).exists())
            .map(|p| format!("pcaps/{p}"));
        results.push(ScenarioResult {
            feature: s.feature.clone(),
            name,
            tags: s.tags.clone(),
            requirements: s.requirements(),
            verdict: ScenarioVerdict::Skipped,
            duration_ms: 0,
            pcap,
            failure: Some(why),
            step: None,
            location: Some(location),
            steps: Vec::new(),
            waived: Vec::new(),
            run: 0,
            truncated: None,
        });
    }
    // No scenario had started: the SUT was never there for one.
    let kind = if finished == 0 && during.is_empty() {
        crate::report::SutEventKind::ExitedBeforeReady
    } else {
        crate::report::SutEventKind::Died
    };
    crate::report::SutEvent {
        kind,
        at_ms,
        detail: format!("the launched SUT exited ({status})"),
        status: Some(status),
        stderr_tail,
        during,
        not_run,
    }
}

/// A requirement whose scenarios the SUT's death kept from running says so.
fn note_not_run_by_sut(report: &mut Report) {
    let Some(e) = report.runs.first().and_then(|r| r.sut_event.clone()) else {
        return;
    };
    let skipped: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == ScenarioVerdict::Skipped)
        .collect();
    for q in &mut report.requirements {
        if q.verdict == crate::report::ReqVerdict::NotRun
            && skipped.iter().any(|s| s.requirements.contains(&q.id))
        {
            q.note = Some(format!("not run: {}", e.headline()));
        }
    }
}

/// Runs the suite. Returns the report and its folder, or a usage error (exit 2).
pub async fn run(opts: RunOptions) -> Result<(Report, PathBuf), UsageError> {
    // Listen for SIGINT/SIGTERM from the start (a signal stream registers at
    // once), so an interruption at any point still ends in a report.
    let mut interrupt =
        Interrupt::new().map_err(|e| UsageError(format!("cannot install signal handlers: {e}")))?;
    let started_at = Instant::now();
    let started = rfc3339_now();
    let catalogue = Catalogue::embedded().map_err(UsageError)?;
    let fdir = features_dir(opts.features.as_deref());
    let features = load_features(&fdir).map_err(UsageError)?;
    let all = scenarios(&features);
    let problems = tag_problems(&all, &catalogue);
    if !problems.is_empty() {
        return Err(UsageError(format!(
            "feature files: {}",
            problems.join("; ")
        )));
    }
    let filter = opts.tags.as_deref().map(parse_tags).transpose()?;
    if let Some(f) = &filter {
        check_tag_names(f, &all, &catalogue)?;
    }
    let waivers: Vec<Waiver> = match &opts.waivers {
        Some(p) => crate::report::load_waivers(p, &catalogue).map_err(UsageError)?,
        None => Vec::new(),
    };
    if opts.sut.is_some() && opts.fault.is_some() {
        return Err(UsageError(
            "--fault applies to the embedded reference only; leave out --sut".into(),
        ));
    }

    // Output folder.
    let out_dir = match &opts.out {
        Some(d) => d.clone(),
        None => PathBuf::from("reports").join(started.replace(':', "-")),
    };
    let pcap_dir = out_dir.join("pcaps");
    std::fs::create_dir_all(&pcap_dir).map_err(|e| {
        UsageError(format!(
            "--out {}: cannot create the folder ({e})",
            out_dir.display()
        ))
    })?;
    if opts.out.is_none() {
        let latest = PathBuf::from("reports/latest");
        let _ = std::fs::remove_file(&latest);
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(out_dir.file_name().unwrap_or_default(), &latest);
    }

    // The SUT.
    let mut _reference = Vec::new();
    let mut sut_proc: Option<SutProcess> = None;
    let mut iwf_harness: Option<Arc<IwfHarness>> = None;
    let mut push_harness: Option<Arc<PushHarness>> = None;
    let mut push_client_harness: Option<Arc<crate::roles::push_agent::PushClientHarness>> = None;
    let harness_timers = |t1_ms| crate::roles::transaction::Timers::from_t1_ms(t1_ms);
    let mut mms_client_harness: Option<Arc<MmsClientHarness>> = None;
    let mut mms_harness: Option<Arc<PushHarness>> = None;
    let mut deferral_harness: Option<Arc<MmsClientHarness>> = None;
    let mut mm3_harness: Option<Arc<crate::roles::smtp_server::Mm3Harness>> = None;
    let mut ims_harness: Option<Arc<ImsHarness>> = None;
    let (profile, role_addresses) = match &opts.sut {
        Some(p) => {
            let profile = Profile::load(p).map_err(|e| UsageError(e.to_string()))?;
            if let (true, Some(i)) = (profile.has_role("sms-im-iwf"), &profile.iwf) {
                iwf_harness = Some(Arc::new(
                    IwfHarness::start(
                        i.smsc,
                        i.ims_core,
                        (i.system_id.clone(), i.password.clone()),
                    )
                    .await?,
                ));
            }
            if let (true, Some(p)) = (profile.has_role("ppg"), &profile.ppg) {
                push_harness = Some(Arc::new(PushHarness::start(p).await?));
            }
            if let (true, Some(p)) = (profile.has_role("push-client"), &profile.push_client) {
                if p.agent.is_some() || p.upper_tester.is_some() {
                    push_client_harness = Some(Arc::new(
                        crate::roles::push_agent::PushClientHarness::start(
                            p.agent,
                            p.upper_tester,
                            harness_timers(profile.t1_ms),
                        )
                        .await
                        .map_err(UsageError)?,
                    ));
                }
            }
            if let (true, Some((a, _))) = (
                profile.has_role("mms-client"),
                profile.mms_client.as_ref().and_then(|m| m.url_parts()),
            ) {
                let mut h = MmsClientHarness::start(a).await?;
                if let Some(u) = profile.mms_client.as_ref().and_then(|m| m.upper_tester) {
                    h = h.with_upper_tester(u).await?;
                }
                mms_client_harness = Some(Arc::new(h));
            }
            if let (true, Some(m)) = (profile.has_role("mem-server"), &profile.mem_server) {
                mm3_harness = Some(Arc::new(
                    crate::roles::smtp_server::Mm3Harness::start(m.mm3)
                        .await
                        .map_err(UsageError)?,
                ));
            }
            if let (true, Some(m)) = (profile.has_role("mms-relay"), &profile.mms_relay) {
                mms_harness = Some(Arc::new(PushHarness::for_mms_relay(m).await?));
            }
            if let Some((a, _)) = profile.deferral.as_ref().and_then(|d| d.url_parts()) {
                deferral_harness =
                    Some(Arc::new(MmsClientHarness::start(a).await.map_err(|e| {
                        UsageError(e.0.replace("mms_client.mmsc_url", "deferral.mmsc_url"))
                    })?));
            }
            if let Some(i) = &profile.ims {
                let h = ImsHarness::start(i.core, i.expires()).await?;
                h.configure(&profile, &BTreeMap::new());
                ims_harness = Some(Arc::new(h));
            }
            (profile, BTreeMap::new())
        }
        None => {
            let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("literal address");
            let h = IwfHarness::start(any, any, ("liaison".into(), "secret".into())).await?;
            let cfg = crate::reference::sms_iwf::IwfConfig {
                smsc: h.smsc.addr(),
                ims_core: h.ims.ep.udp_addr(),
                system_id: "liaison".into(),
                password: "secret".into(),
                domain: "liaison.test".into(),
            };
            iwf_harness = Some(Arc::new(h));
            let push = PushHarness::start(&crate::profile::PpgSection {
                url: String::new(),
                compliance: "wap-2.0".into(),
                bearers: vec!["sms".into(), "http".into(), "sip".into()],
                smsc: Some(any),
                system_id: Some("liaison-ppg".into()),
                password: Some("secret".into()),
                ota_http: Some(any),
                sip_target: Some(any),
                address_domain: None,
            })
            .await?;
            let ppg = crate::reference::ppg::PpgConfig {
                smsc: push.smsc.as_ref().map(|s| s.addr()).unwrap_or(any),
                system_id: "liaison-ppg".into(),
                password: "secret".into(),
                ota_http: push.ota.as_ref().map(|o| o.addr()).unwrap_or(any),
                sip_target: push.sip.as_ref().map(|s| s.ep.udp_addr()).unwrap_or(any),
            };
            push_harness = Some(Arc::new(push));
            // The push client's agent and upper tester, at the reference's T1.
            let pc = crate::roles::push_agent::PushClientHarness::start(
                Some(any),
                Some(any),
                harness_timers(REFERENCE_T1_MS),
            )
            .await
            .map_err(UsageError)?;
            let pc_cfg = crate::reference::push_client::PushClientConfig {
                agent: pc.agent.as_ref().map(|a| a.ep.udp_addr()),
                upper_tester: pc.upper.as_ref().map(|u| u.addr()),
                event: crate::codec::sip_push::PLACEHOLDER_PUSH_EVENT.into(),
            };
            push_client_harness = Some(Arc::new(pc));
            let mmsc = MmsClientHarness::start(any)
                .await?
                .with_upper_tester(any)
                .await?;
            let mmsc_cfg = crate::reference::mms_client::MmsClientConfig {
                mmsc_url: format!("http://{}/mmsc", mmsc.server.addr()),
                upper_tester: mmsc.upper.as_ref().map(|u| u.addr()),
                send_trigger: None,
                escaped_sip: false,
            };
            mms_client_harness = Some(Arc::new(mmsc));
            let mms = PushHarness::for_mms_relay(&crate::profile::MmsRelaySection {
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
            })
            .await?;
            let mms_cfg = crate::reference::mms_relay::MmsRelayConfig {
                smsc: mms.smsc.as_ref().map(|s| s.addr()).unwrap_or(any),
                system_id: "liaison-mms".into(),
                password: "secret".into(),
                sip_device: mms.sip.as_ref().map(|s| s.ep.udp_addr()).unwrap_or(any),
            };
            mms_harness = Some(Arc::new(mms));
            // The MMS Relay/Server the reference IM server defers to.
            let dmmsc = MmsClientHarness::start(any).await?;
            let deferral_cfg = crate::reference::im_server::DeferralConfig {
                mmsc_url: format!("http://{}/mms", dmmsc.server.addr()),
                domain: crate::reference::im_server::MMS_DOMAIN.into(),
                sip_type: None,
            };
            deferral_harness = Some(Arc::new(dmmsc));
            let mm3 = crate::roles::smtp_server::Mm3Harness::start(any)
                .await
                .map_err(UsageError)?;
            let mem_cfg = crate::reference::mem_server::MemServerConfig {
                mm3: mm3.server.addr(),
                mailbox: "bob@mem.liaison.test".into(),
                other_mailbox: "carol@mem.liaison.test".into(),
                notify_to: "+15550006666/TYPE=PLMN@mms.liaison.test".into(),
            };
            mm3_harness = Some(Arc::new(mm3));
            // The IMS core first: the reference client registers through it
            // at start; routes are set once the roles are up.
            let pre = ImsHarness::start(
                std::net::SocketAddr::new(core_loopback().await, 0),
                crate::reference::im_client::IMS_EXPIRES,
            )
            .await?;
            let ims_cfg = crate::reference::ImsConfig {
                core: pre.core.addr(),
            };
            let (p, a, r) = start_reference(
                opts.fault.as_deref(),
                crate::reference::Settings {
                    iwf: Some(cfg),
                    ppg: Some(ppg),
                    push_client: Some(pc_cfg),
                    mms_client: Some(mmsc_cfg),
                    mms_relay: Some(mms_cfg),
                    deferral: Some(deferral_cfg),
                    mem_server: Some(mem_cfg),
                    ims: Some(ims_cfg),
                    ..Default::default()
                },
            )
            .await?;
            _reference = r;
            pre.configure(&p, &a);
            ims_harness = Some(Arc::new(pre));
            (p, a)
        }
    };
    let selected: Vec<&ScenarioInfo> = all
        .iter()
        .filter(|s| applies(&s.tags, &profile, filter.as_ref()))
        .collect();
    if selected.is_empty() {
        return Err(nothing_to_run(
            &all,
            &profile,
            filter.as_ref(),
            opts.tags.as_deref(),
        ));
    }
    let mut interrupted = false;
    // Where the run stops when the SUT is not there: the report says why.
    let absent = |kind, gone: crate::sut::SutGone| {
        sut_absent(
            &catalogue,
            &profile,
            (&started, started_at),
            &waivers,
            opts.strict,
            &out_dir,
            kind,
            gone,
        )
    };
    if opts.sut.is_some() && profile.launch.is_none() {
        let reachable = tokio::select! {
            r = crate::sut::check_reachable(&profile) => Some(r),
            _ = interrupt.recv() => None,
        };
        match reachable {
            None => interrupted = true,
            Some(Ok(())) => {}
            Some(Err(message)) => {
                return Err(absent(
                    crate::report::SutEventKind::Unreachable,
                    crate::sut::SutGone {
                        message,
                        status: None,
                        stderr_tail: Vec::new(),
                    },
                ))
            }
        }
    }
    if let Some(l) = &profile.launch {
        tokio::select! {
            r = SutProcess::start(l, &profile, &out_dir) => match r {
                Ok(p) => sut_proc = Some(p),
                Err(gone) => {
                    let kind = if gone.status.is_some() {
                        crate::report::SutEventKind::ExitedBeforeReady
                    } else {
                        crate::report::SutEventKind::Unreachable
                    };
                    return Err(absent(kind, gone));
                }
            },
            _ = interrupt.recv() => interrupted = true,
        }
    }
    // A launched SUT without a readiness probe may already be gone.
    if let Some(p) = sut_proc.as_mut() {
        if let Some(status) = p.has_exited() {
            p.stop().await;
            let stderr_tail = p.stderr_tail();
            return Err(absent(
                crate::report::SutEventKind::ExitedBeforeReady,
                crate::sut::SutGone {
                    message: format!(
                        "SUT `{}` exited before the first scenario ({status}); stderr: {}",
                        profile.name,
                        crate::sut::one_line(&stderr_tail)
                    ),
                    status: Some(status),
                    stderr_tail,
                },
            ));
        }
    }

    let ctx = Arc::new(RunContext {
        profile: profile.clone(),
        role_addresses,
        iwf: iwf_harness.clone(),
        push: push_harness.clone(),
        push_client: push_client_harness.clone(),
        out_dir: out_dir.clone(),
        pcap_dir: pcap_dir.clone(),
        mms_client: mms_client_harness.clone(),
        mms_relay: mms_harness.clone(),
        deferral: deferral_harness.clone(),
        mem_server: mm3_harness.clone(),
        ims: ims_harness.clone(),
    });
    *CONTEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.clone());

    let shared = Arc::new(Mutex::new(Collected {
        total: selected.len(),
        ..Default::default()
    }));
    let collector = Collector {
        shared: shared.clone(),
        progress: opts.progress,
    };
    let prof = profile.clone();
    let filter2 = filter.clone();
    let pcaps = pcap_dir.clone();
    let timing = shared.clone();
    // Through a run-level IMS core every SIP scenario shares its capture.
    let one_at_a_time = profile.ims.as_ref().is_some_and(|i| i.route_all());
    let cuke = LiaisonWorld::cucumber()
        .max_concurrent_scenarios(Some(if one_at_a_time { 1 } else { 64 }))
        // Not `writer::Normalize`: it holds each feature's events back until
        // the features before it finish, so progress lines stalled and an
        // interrupted run lost scenarios that had finished. The collector
        // keys every event by its scenario, so arrival order is enough.
        .with_writer(writer::AssertNormalized::new(collector))
        .with_default_cli()
        .fail_on_skipped()
        .before(move |feature, rule, sc, world| {
            let file = feature
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let mut tags = feature.tags.clone();
            if let Some(r) = rule {
                tags.extend(r.tags.iter().cloned());
            }
            tags.extend(sc.tags.iter().cloned());
            world.requirements = tags
                .iter()
                .filter(|t| Catalogue::looks_like_id(t))
                .cloned()
                .collect();
            let path = pcaps.join(pcap_name(&file, sc.position.line, &sc.name));
            world.capture = Capture::create(&path).unwrap_or_else(|_| Capture::disabled());
            world.pcap = Some(path.display().to_string());
            world.started = Instant::now();
            async {}.boxed_local()
        })
        .after(move |feature, _, sc, _, world| {
            if let Some(w) = world {
                let file = feature
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                timing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .durations
                    .insert(
                        (file, sc.position.line),
                        w.started.elapsed().as_millis() as u64,
                    );
                let _ = w.capture.flush();
                // Stop this scenario's roles now, so nothing lingers into the next.
                w.recipients.clear();
                w.originators.clear();
                w.push_sip.devices.clear();
            }
            async {}.boxed_local()
        });
    let run_fut = cuke.filter_run(fdir.clone(), move |feature, rule, sc| {
        let mut tags = feature.tags.clone();
        if let Some(r) = rule {
            tags.extend(r.tags.iter().cloned());
        }
        tags.extend(sc.tags.iter().cloned());
        applies(&tags, &prof, filter2.as_ref())
    });

    // A launched SUT that exits ends the run: a run-level event.
    let mut died: Option<(u64, String)> = None;
    if !interrupted {
        tokio::select! {
            _ = run_fut => {}
            _ = interrupt.recv() => interrupted = true,
            status = sut_exit(sut_proc.as_mut()) => {
                died = Some((started_at.elapsed().as_millis() as u64, status));
            }
        }
    }

    *CONTEXT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let stderr_tail = sut_proc.as_ref().map(|p| p.stderr_tail());
    if let Some(mut p) = sut_proc.take() {
        p.stop().await;
    }
    drop(_reference);

    let collected = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
    if !collected.parse_errors.is_empty() {
        return Err(UsageError(format!(
            "feature files: {}",
            collected.parse_errors.join("; ")
        )));
    }
    let mut results = collected.results;
    let sut_event = died.map(|(at_ms, status)| {
        let during: Vec<ScenarioKey> = collected.running.keys().cloned().collect();
        sut_died(
            &pcap_dir,
            &selected,
            &mut results,
            &during,
            at_ms,
            status,
            stderr_tail.unwrap_or_default(),
        )
    });
    results.sort_by(|a, b| (&a.feature, &a.pcap).cmp(&(&b.feature, &b.pcap)));
    let sut = sut_of(&profile);
    let mut report = Report::build(
        &catalogue,
        sut,
        started,
        started_at.elapsed().as_millis() as u64,
        results,
        &waivers,
        interrupted,
        opts.strict,
    );
    mark_not_applicable(&mut report, &all, &profile);
    if let Some(run) = report.runs.first_mut() {
        run.elements = run_elements(&ctx);
        run.sut_event = sut_event;
    }
    note_not_run_by_sut(&mut report);
    report.write_all(&out_dir).map_err(|e| {
        UsageError(format!(
            "cannot write the report into {}: {e}",
            out_dir.display()
        ))
    })?;
    Ok((report, out_dir))
}
