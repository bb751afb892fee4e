//! What happened, as results: cucumber events become scenario results;
//! a SUT that was absent or died becomes a run-level event.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cucumber::event::{self, Cucumber as CEvent};
use cucumber::{parser, Event, Writer};

use super::select::ScenarioInfo;
use super::UsageError;
use crate::catalogue::Catalogue;
use crate::harness::RunContext;
use crate::profile::Profile;
use crate::report::{
    Report, ScenarioResult, ScenarioVerdict, StepOutcome, StepResult, Sut, Waiver,
};
use crate::steps::world::LiaisonWorld;
use crate::sut::SutProcess;

pub(super) use super::select::mark_not_applicable;

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
pub(super) fn relative_file(file: &str) -> String {
    if let Some(shown) = super::embedded::shown(Path::new(file)) {
        return shown;
    }
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

/// Collects scenario results from cucumber events as they come; prints a
/// progress line as each scenario finishes.
pub(super) struct Collector {
    pub(super) shared: Arc<Mutex<Collected>>,
    pub(super) progress: bool,
}

/// A scenario in a run: (feature file, line).
pub(super) type ScenarioKey = (String, usize);
/// The failing step's text and the failure message.
type StepFailure = (String, String);

#[derive(Default)]
pub(super) struct Collected {
    pub(super) results: Vec<ScenarioResult>,
    /// Per running scenario (file, line): start time and first failure.
    pub(super) running: BTreeMap<ScenarioKey, (Instant, Option<StepFailure>)>,
    pub(super) parse_errors: Vec<String>,
    pub(super) total: usize,
    /// Scenario durations measured by the before/after hooks, by (file, line).
    pub(super) durations: BTreeMap<ScenarioKey, u64>,
    /// What the scenario's TLS connections negotiated, by (file, line).
    pub(super) tls: BTreeMap<ScenarioKey, Vec<crate::net::tls::Negotiated>>,
    /// Frames its pcap left out at the size cap, by (file, line) (none: 0).
    pub(super) pcap_frames_dropped: BTreeMap<ScenarioKey, u64>,
    /// Per running scenario, each step that ran, in order, with its outcome.
    pub(super) steps: BTreeMap<ScenarioKey, Vec<StepResult>>,
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
                tracing::info!(
                    scenario = %sc.name,
                    at = %format_args!("{}:{}", relative_file(&file), sc.position.line),
                    "scenario started"
                );
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
                let tls = c
                    .tls
                    .remove(&key)
                    .unwrap_or_default()
                    .iter()
                    .map(crate::report::TlsConnection::from)
                    .collect();
                let pcap_frames_dropped = c.pcap_frames_dropped.remove(&key).unwrap_or(0);
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
                    pcap_frames_dropped,
                    step: failure.as_ref().map(|f| f.0.clone()),
                    failure: failure.map(|f| f.1),
                    location: Some(format!("{}:{}", relative_file(&file), sc.position.line)),
                    steps,
                    waived: Vec::new(),
                    run: 0,
                    truncated: None,
                    tls,
                };
                tracing::info!(
                    scenario = %res.name,
                    verdict = res.verdict.as_str(),
                    requirements = res.requirements.join(","),
                    duration_ms = res.duration_ms,
                    step = res.step.as_deref().unwrap_or(""),
                    "scenario ended"
                );
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

/// The SUT as report.json names it.
pub(super) fn sut_of(profile: &Profile) -> Sut {
    Sut {
        name: profile.name.clone(),
        profile: profile.path.clone(),
        roles: profile.roles.clone(),
        capabilities: profile.declared_capabilities(),
        network: (profile.network != crate::profile::Network::Loopback)
            .then(|| profile.network.as_str().to_string()),
    }
}

/// Waits for a launched SUT to exit on its own (never, without one).
pub(super) async fn sut_exit(p: Option<&mut SutProcess>) -> String {
    match p {
        Some(p) => p.exited().await,
        None => std::future::pending().await,
    }
}

/// A run that never reached its first scenario because the SUT was not
/// there: writes a report holding the event (status, stderr tail) and
/// gives the one-line error (exit 2).
#[allow(clippy::too_many_arguments)]
pub(super) fn sut_absent(
    catalogue: &Catalogue,
    profile: &Profile,
    statement: &crate::ics::Statement,
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
        run.ics = Some(Box::new(statement.clone()));
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
pub(super) fn sut_died(
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
            pcap_frames_dropped: 0,
            failure: Some(why),
            step: None,
            location: Some(location),
            steps: Vec::new(),
            waived: Vec::new(),
            run: 0,
            truncated: None,
            tls: Vec::new(),
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
pub(super) fn note_not_run_by_sut(report: &mut Report) {
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

/// The run-level pcaps: of the roles that serve scenarios side by side,
/// and of the one held by a scenario at a time (what came between holders).
pub fn run_pcaps(ctx: &RunContext) -> Vec<crate::report::RunPcap> {
    let routed = [
        ("iwf", ctx.iwf.as_ref().map(|h| &h.capture)),
        ("ims-core", ctx.ims.as_ref().map(|h| &h.capture)),
        ("mmsc", ctx.mms_client.as_ref().map(|h| &h.capture)),
        ("deferral-mmsc", ctx.deferral.as_ref().map(|h| &h.capture)),
        ("ppg-bearers", ctx.push.as_ref().map(|h| &h.capture)),
        (
            "mms-relay-bearers",
            ctx.mms_relay.as_ref().map(|h| &h.capture),
        ),
        ("push-agent", ctx.push_client.as_ref().map(|h| &h.capture)),
        // Held by one scenario at a time: what came between them.
        ("mm3", ctx.mem_server.as_ref().map(|h| &h.capture)),
        (
            "ppg-tls",
            ctx.push.as_ref().and_then(|h| {
                h.ota_tls
                    .as_ref()
                    .map(|t| &t.capture)
                    .or(h.sip_tls.as_ref().map(|t| &t.capture))
            }),
        ),
    ];
    let mut out = Vec::new();
    for (name, capture) in routed {
        let Some((orig, c)) = capture.and_then(|o| Some((o, o.home()?))) else {
            continue;
        };
        // A switchable role's run-level file holds only what no scenario
        // held it for.
        let unclaimed = if orig.is_switchable() {
            c.frames()
        } else {
            orig.unclaimed()
        };
        orig.write_pending_openings();
        let _ = c.flush();
        if let Some(path) = c.path() {
            out.push(crate::report::RunPcap {
                harness: name.into(),
                pcap: format!(
                    "pcaps/{}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
                frames: c.frames(),
                frames_dropped: c.frames_dropped(),
                unclaimed,
                tls: c
                    .tls_connections()
                    .iter()
                    .map(crate::report::TlsConnection::from)
                    .collect(),
            });
        }
    }
    out
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
    for (role, a) in &ctx.role_addresses.sip {
        add(Some(*a), &format!("SUT {role}"), Side::Sut);
    }
    for (role, a) in &ctx.role_addresses.tls {
        add(Some(*a), &format!("SUT {role} (TLS)"), Side::Sut);
    }
    if let Some(sip) = &p.sip {
        let roles = p.roles.join(", ");
        add(sip.address, &format!("SUT {roles}"), Side::Sut);
        add(
            sip.ws_parts().map(|(a, _)| a),
            "SUT im-server (WebSocket)",
            Side::Sut,
        );
        add(sip.tls, &format!("SUT {roles} (TLS)"), Side::Sut);
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
        p.mms_relay
            .as_ref()
            .and_then(|m| m.mm1_https_url.as_deref())
            .and_then(url),
        "SUT mms-relay (MM1 over TLS)",
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
            ctx.iwf
                .as_ref()
                .filter(|_| p.capability("iwf_sip_tls"))
                .map(|h| h.ims.ep.addr(crate::net::Transport::Tls)),
            "harness IMS core (TLS)",
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
            push.and_then(|h| h.ota_tls.as_ref())
                .map(|x| x.server.addr()),
            "harness OTA-HTTP target (TLS)",
        ),
        (
            push.and_then(|h| h.sip_tls.as_ref()).map(|x| x.addr),
            "harness SIP device (TLS)",
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
            p.mms_relay.as_ref().and_then(|m| m.sip_device_tls),
            "harness SIP device (MMS, TLS)",
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
