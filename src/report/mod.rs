//! Run results: the `report.json` model (design.md, "report.json") and its
//! renderings — JUnit XML for CI, a one-screen text summary, and the
//! self-contained `report.html` people read (requirement matrix, per-scenario
//! steps, failures with their bytes, message ladders read back from the
//! pcaps, waivers). `liaison report DIR` renders again from the JSON and the
//! pcaps.
//!
//! report.json only grows: every field added since the first shape is
//! optional on reading, so older reports still load, re-render and merge.

pub mod excerpt;
pub mod html;
pub mod junit;
pub mod ladder;
pub mod summary;
pub mod tls;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Level};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    pub version: String,
    /// The source revision the suite was built from (build.rs); absent in
    /// reports written before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sut {
    pub name: String,
    pub profile: String,
    pub roles: Vec<String>,
    /// The capabilities the profile declares that select scenarios
    /// (`msrp`, `push_sms`, …): those that hold for this SUT.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// `lab` when the profile opted in to a SUT on a lab network
    /// (`network: lab`); absent for loopback, the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioCounts {
    pub passed: u32,
    /// Every failed scenario, waived or not (the raw verdicts).
    pub failed: u32,
    pub skipped: u32,
    /// Of the failed scenarios, those whose failure waivers cover for every
    /// requirement they check.
    #[serde(default)]
    pub waived: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequirementCounts {
    pub passed: u32,
    pub failed: u32,
    pub not_run: u32,
    pub waived: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub scenarios: ScenarioCounts,
    pub requirements: RequirementCounts,
}

/// A requirement's verdict in one run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ReqVerdict {
    Passed,
    Failed,
    NotRun,
    Waived,
    Informative,
}

impl ReqVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReqVerdict::Passed => "passed",
            ReqVerdict::Failed => "failed",
            ReqVerdict::NotRun => "not-run",
            ReqVerdict::Waived => "waived",
            ReqVerdict::Informative => "informative",
        }
    }
}

fn yes() -> bool {
    true
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequirementResult {
    pub id: String,
    pub source: String,
    pub level: Level,
    pub verdict: ReqVerdict,
    pub scenarios: Vec<String>,
    /// Why it was waived (from the waiver file), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
    /// Why it did not run, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// From the catalogue: title, section of the source, statement, roles.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, rename = "where", skip_serializing_if = "String::is_empty")]
    pub place: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub statement: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// False when none of the requirement's roles is a role of the SUT
    /// (its verdict is then `not-run`; the HTML says "not applicable").
    #[serde(default = "yes")]
    pub applicable: bool,
}

/// A scenario's verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioVerdict {
    Passed,
    Failed,
    Skipped,
}

impl ScenarioVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioVerdict::Passed => "passed",
            ScenarioVerdict::Failed => "failed",
            ScenarioVerdict::Skipped => "skipped",
        }
    }
}

/// What happened to one Gherkin step.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Passed,
    /// Failed, or undefined (an undefined step is never a pass).
    Failed,
    /// Not run: an earlier step failed (or the run was interrupted).
    Skipped,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Passed => "passed",
            StepOutcome::Failed => "failed",
            StepOutcome::Skipped => "skipped",
        }
    }
}

/// One Gherkin step of a scenario, as written, with its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepResult {
    /// `Given`, `When`, `Then`, `And`, `But`, `*`.
    pub keyword: String,
    pub text: String,
    pub outcome: StepOutcome,
    /// A step of the feature's Background.
    #[serde(default, skip_serializing_if = "is_false")]
    pub background: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioResult {
    pub feature: String,
    pub name: String,
    pub tags: Vec<String>,
    pub requirements: Vec<String>,
    pub verdict: ScenarioVerdict,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
    /// Frames the pcap left out once it reached its size cap
    /// ([`crate::net::capture::MAX_PCAP_BYTES`]); absent when none.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub pcap_frames_dropped: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The step that failed, as written in the feature file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Feature file and line (`features/push/ppg.feature:12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Every step (Background first) with its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepResult>,
    /// The requirements for which a waiver covers this scenario's failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<String>,
    /// Which of `runs` the scenario belongs to (after a merge).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub run: usize,
    /// What the reports leave out of this scenario (the caps of
    /// [`excerpt`]); absent when nothing was cut. Written with the reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncated>,
    /// The TLS connections of the scenario (its pcap's), as negotiated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsConnection>,
}

/// One TLS connection, as the harness negotiated it with the SUT.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TlsConnection {
    /// The harness's end and the SUT's (`ip:port`).
    pub local: String,
    pub peer: String,
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The cipher suite's IANA name.
    pub suite: String,
    /// The server name the client indicated (SNI), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// What was checked of the peer's certificate, in words (says plainly
    /// when it was not checked).
    pub peer_certificate: String,
}

impl From<&crate::net::tls::Negotiated> for TlsConnection {
    fn from(n: &crate::net::tls::Negotiated) -> TlsConnection {
        TlsConnection {
            local: n.local.to_string(),
            peer: n.peer.to_string(),
            version: n.version.clone(),
            suite: n.suite.clone(),
            sni: n.sni.clone(),
            alpn: n.alpn.clone(),
            peer_certificate: n.peer_certificate.to_string(),
        }
    }
}

/// What the reports cut of one scenario: the ladder report.html shows of
/// its pcap, and its failure text. The pcap holds everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Truncated {
    /// Frames of the pcap the ladder was read from (the reading stops at
    /// the caps), of the frames in the pcap.
    pub frames_shown: u32,
    pub frames_total: u32,
    /// Messages the ladder draws and shows.
    pub messages_shown: u32,
    /// Message bytes report.html shows, of the transport payload bytes in
    /// the pcap.
    pub bytes_shown: u64,
    pub bytes_total: u64,
    /// Bytes cut from the failure text, which ends `… (N bytes cut)` in
    /// report.json, junit.xml and report.html.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub failure_bytes_cut: u64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// How the reports say that a pcap reached its size cap and left out
/// `dropped` later frames (`capped at 256 MiB: 1,234 later frames left out`).
pub fn pcap_capped(dropped: u64) -> String {
    format!(
        "capped at {}: {} later frames left out",
        pcap_cap(),
        excerpt::count(dropped)
    )
}

/// The pcaps' size cap, in words (`256 MiB`).
pub fn pcap_cap() -> String {
    let cap = crate::net::capture::MAX_PCAP_BYTES;
    if cap.is_multiple_of(1 << 20) {
        format!("{} MiB", cap >> 20)
    } else {
        excerpt::size(cap)
    }
}

impl ScenarioResult {
    /// Failed, and a waiver covers each requirement it checks.
    pub fn fully_waived(&self) -> bool {
        self.verdict == ScenarioVerdict::Failed
            && !self.waived.is_empty()
            && self.requirements.iter().all(|r| self.waived.contains(r))
    }

    /// The verdict a reader sees: `waived` for a fully waived failure.
    pub fn shown_verdict(&self) -> &'static str {
        if self.fully_waived() {
            "waived"
        } else {
            self.verdict.as_str()
        }
    }
}

/// Which side of the wire a network element is on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Sut,
    Harness,
}

/// An address the run knows by name: one of the SUT's, or a harness role's.
/// The message ladders name their lanes by these.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Element {
    /// `IP:port`.
    pub address: String,
    pub name: String,
    pub side: Side,
}

/// What became of the SUT itself, when it was not there for the whole run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SutEventKind {
    /// Nothing listened at its addresses before the first scenario (no
    /// `launch`), or a launched SUT's readiness probe never answered.
    Unreachable,
    /// A launched SUT exited before it was ready (or before the first scenario).
    ExitedBeforeReady,
    /// A launched SUT exited while the scenarios ran.
    Died,
}

/// A run-level event about the SUT: the run stops there, and the scenarios
/// it kept from running are listed as skipped with the reason (never failed
/// one by one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SutEvent {
    pub kind: SutEventKind,
    /// When, in ms since the run started.
    pub at_ms: u64,
    /// One line: what happened.
    pub detail: String,
    /// Its exit status as the OS gave it (`exit status: 3`, `signal: 9 (SIGKILL)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The last lines of its stderr (`sut-stderr.log`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
    /// The scenarios that were running when it died.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub during: Vec<String>,
    /// How many selected scenarios did not run (or finish) because of it.
    #[serde(default)]
    pub not_run: usize,
}

impl SutEvent {
    /// One line for the summary, junit and the page.
    pub fn headline(&self) -> String {
        let at = self.at_ms as f64 / 1000.0;
        let status = self
            .status
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        match self.kind {
            SutEventKind::Unreachable => {
                format!(
                    "the SUT was unreachable before the first scenario: {}",
                    self.detail
                )
            }
            SutEventKind::ExitedBeforeReady => {
                format!("the SUT exited before the first scenario, at {at:.2} s{status}")
            }
            SutEventKind::Died => {
                let mut during: Vec<String> = self
                    .during
                    .iter()
                    .take(3)
                    .map(|n| format!("“{n}”"))
                    .collect();
                if self.during.len() > 3 {
                    during.push(format!("{} more", self.during.len() - 3));
                }
                let during = if during.is_empty() {
                    String::new()
                } else {
                    format!(" during {}", during.join(", "))
                };
                format!(
                    "the SUT died at {at:.2} s{status}{during}; {} scenario{} not run",
                    self.not_run,
                    if self.not_run == 1 { "" } else { "s" }
                )
            }
        }
    }

    /// Exit code 2: the SUT was never there for a scenario.
    pub fn before_first_scenario(&self) -> bool {
        self.kind != SutEventKind::Died
    }
}

/// One run: `liaison run` writes one; a merged report lists each joined run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Run {
    pub sut: Sut,
    pub started: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub interrupted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<Element>,
    /// Where the run's report was, relative to this report (merged reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// The SUT was unreachable, or a launched SUT exited: a run-level event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sut_event: Option<SutEvent>,
    /// The pcaps of run-level harness roles that serve scenarios side by
    /// side: the traffic that belonged to no scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pcaps: Vec<RunPcap>,
    /// The run's TLS setup, when the SUT speaks TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RunTlsInfo>,
    /// The SUT's conformance statement (crate::ics): kept per run, so that
    /// `liaison report` renders it again and a merged report keeps each
    /// run's; ics.json and ics.md beside a one-run report hold the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ics: Option<Box<crate::ics::Statement>>,
}

/// How a run met the SUT over TLS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunTlsInfo {
    /// The lab CA's certificate, relative to the report (`tls/lab-ca.pem`).
    pub lab_ca: String,
    /// How the SUT's certificate is checked, in words.
    pub sut_certificate_check: String,
}

/// A run-level harness role's own pcap: what it exchanged with the SUT that
/// belonged to no scenario (a bind, keep-alives, a packet that came after
/// its scenario ended, one that named nobody's keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunPcap {
    /// The role, as `@harness:` and `EXCLUSIVE` name run-level roles (`iwf`).
    pub harness: String,
    /// The file, relative to the report (`pcaps/run-level-iwf.pcap`).
    pub pcap: String,
    /// Frames written into it.
    pub frames: u64,
    /// Frames left out once it reached its size cap
    /// ([`crate::net::capture::MAX_PCAP_BYTES`]); absent when none.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub frames_dropped: u64,
    /// Packets no scenario claimed (they are the file's content besides
    /// synthesised TCP handshakes and acknowledgements).
    pub unclaimed: u64,
    /// The TLS connections whose records are in this file, as negotiated
    /// (a client's connection to the core's TLS edge, which serves every
    /// scenario, is one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsConnection>,
}

/// Which requirement catalogue the verdicts refer to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CatalogueInfo {
    pub file: String,
    /// MD5 of the catalogue's entries (first 12 hex digits): its version.
    pub digest: String,
    pub requirements: usize,
}

impl CatalogueInfo {
    pub fn of(c: &Catalogue) -> CatalogueInfo {
        use md5::{Digest, Md5};
        let canon = serde_json::to_string(&c.requirements).unwrap_or_default();
        let d = Md5::digest(canon.as_bytes());
        let hex: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
        CatalogueInfo {
            file: "features/requirements.yaml".into(),
            digest: hex,
            requirements: c.requirements.len(),
        }
    }
}

/// A waiver: a requirement (or a scenario) a SUT is known to fail, with the
/// written reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// A catalogue requirement ID: every failure of it is covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// A scenario name (an outline's name covers all its examples): its
    /// failure is covered (for `requirement` only, when both are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The last day (YYYY-MM-DD) the waiver applies; after it, the failure
    /// counts again and the waiver is reported as expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Waiver {
    /// What it names, for people: `DR-4`, `scenario "…"`, or both.
    pub fn subject(&self) -> String {
        match (&self.requirement, &self.scenario) {
            (Some(r), Some(s)) => format!("{r} in scenario \"{s}\""),
            (Some(r), None) => r.clone(),
            (None, Some(s)) => format!("scenario \"{s}\""),
            (None, None) => "(nothing)".into(),
        }
    }

    fn covers(&self, s: &ScenarioResult, requirement: &str) -> bool {
        self.requirement.as_deref().is_none_or(|r| r == requirement)
            && self.scenario.as_deref().is_none_or(|n| {
                s.name == n
                    || s.name
                        .strip_prefix(n)
                        .is_some_and(|rest| rest.starts_with(" (example at line "))
            })
    }
}

/// What became of a waiver in a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WaiverStatus {
    /// It covers at least one failure.
    Applied,
    /// Its date has passed: it covers nothing, the failures it names count.
    Expired,
    /// It matches no failing scenario or requirement (fixed, renamed, or not run).
    Stale,
}

impl WaiverStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaiverStatus::Applied => "applied",
            WaiverStatus::Expired => "expired",
            WaiverStatus::Stale => "stale",
        }
    }
}

/// A waiver and what it did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaiverOutcome {
    pub waiver: Waiver,
    pub status: WaiverStatus,
    /// The failing scenarios it matched (covered, unless expired).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<String>,
    /// Which of `runs` it was applied to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub run: usize,
}

/// The whole `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub suite: Suite,
    pub sut: Sut,
    pub started: String,
    pub duration_ms: u64,
    pub summary: Summary,
    pub requirements: Vec<RequirementResult>,
    pub scenarios: Vec<ScenarioResult>,
    /// True when the run was interrupted before all scenarios finished.
    #[serde(default)]
    pub interrupted: bool,
    /// Whether SHOULD-level requirements gate the exit code.
    #[serde(default)]
    pub strict: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<CatalogueInfo>,
    /// The runs this report holds: one, or several after a merge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    /// Every waiver given, with what became of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<WaiverOutcome>,
}

/// Is `s` a date written YYYY-MM-DD?
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && {
            // A calendar date: the day exists in that month (2027-02-30 and
            // 2026-04-31 do not; 29 February only in a leap year).
            let year = s[..4].parse::<u32>().unwrap_or(0);
            let month = s[5..7].parse::<u32>().unwrap_or(0);
            let day = s[8..10].parse::<u32>().unwrap_or(0);
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let days = match month {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 0,
            };
            (1..=days).contains(&day)
        }
}

/// Reads a waiver file (a YAML list of [`Waiver`]). Each names a known
/// requirement or a scenario, has a written reason, and a valid expiry date
/// if any; anything else is an error naming the entry.
pub fn load_waivers(path: &Path, catalogue: &Catalogue) -> Result<Vec<Waiver>, String> {
    let file = path.display();
    let text = crate::limits::read_text(path, crate::limits::MAX_YAML_FILE)
        .and_then(|t| crate::limits::check_yaml_depth(&t).map(|()| t))
        .map_err(|e| format!("waivers {file}: {e}"))?;
    let ws: Vec<Waiver> =
        serde_yaml::from_str(&text).map_err(|e| format!("waivers {file}: {e}"))?;
    for (i, w) in ws.iter().enumerate() {
        if w.reason.trim().len() < 10 {
            return Err(format!(
                "waivers {file}: [{i}].reason: expected a written reason (found `{}`)",
                w.reason
            ));
        }
        match (&w.requirement, &w.scenario) {
            (None, None) => {
                return Err(format!(
                    "waivers {file}: [{i}]: expected `requirement` (an ID) or `scenario` (a scenario name)"
                ))
            }
            (Some(r), _) if catalogue.get(r).is_none() => {
                return Err(format!(
                    "waivers {file}: [{i}].requirement: unknown requirement `{r}`"
                ))
            }
            (_, Some(s)) if s.trim().is_empty() => {
                return Err(format!(
                    "waivers {file}: [{i}].scenario: expected a scenario name"
                ))
            }
            _ => {}
        }
        if let Some(e) = &w.expires
            && !is_date(e)
        {
            return Err(format!(
                "waivers {file}: [{i}].expires: expected a date YYYY-MM-DD (found `{e}`)"
            ));
        }
    }
    Ok(ws)
}

impl Report {
    /// Computes requirement verdicts and the summary from scenario results.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        catalogue: &Catalogue,
        sut: Sut,
        started: String,
        duration_ms: u64,
        scenarios: Vec<ScenarioResult>,
        waivers: &[Waiver],
        interrupted: bool,
        strict: bool,
    ) -> Report {
        let requirements = catalogue
            .requirements
            .iter()
            .map(|req| {
                let applicable = req.applies_to_roles(&sut.roles);
                let (verdict, note) = if req.level == Level::Informative {
                    (ReqVerdict::Informative, req.untestable_because.clone())
                } else {
                    // The note stays only if no scenario of it runs.
                    let note = if !applicable {
                        format!(
                            "not applicable: a requirement on {}; the SUT plays {}",
                            req.roles.join(", "),
                            sut.roles.join(", ")
                        )
                    } else if let Some(p) = &req.pending {
                        format!("no scenario yet: {p}")
                    } else if interrupted {
                        "run interrupted before its scenarios".to_string()
                    } else {
                        "no applicable scenario for this SUT's roles, capabilities or --tags"
                            .to_string()
                    };
                    (ReqVerdict::NotRun, Some(note))
                };
                RequirementResult {
                    id: req.id.clone(),
                    source: req.source.document.clone(),
                    level: req.level,
                    verdict,
                    scenarios: Vec::new(),
                    waiver: None,
                    note,
                    title: req.title.clone(),
                    place: req.source.place.clone(),
                    statement: req.statement.clone(),
                    roles: req.roles.clone(),
                    applicable,
                }
            })
            .collect();
        let run = Run {
            sut: sut.clone(),
            started: started.clone(),
            duration_ms,
            interrupted,
            elements: Vec::new(),
            dir: None,
            sut_event: None,
            pcaps: Vec::new(),
            tls: None,
            ics: None,
        };
        let mut r = Report {
            suite: Suite {
                name: "liaison".into(),
                version: crate::build_info::VERSION.into(),
                revision: crate::build_info::REVISION.into(),
            },
            sut,
            started,
            duration_ms,
            summary: Summary::default(),
            requirements,
            scenarios,
            interrupted,
            strict,
            catalogue: Some(CatalogueInfo::of(catalogue)),
            runs: vec![run],
            waivers: Vec::new(),
        };
        r.apply_waivers(waivers);
        r
    }

    /// Applies `waivers` (replacing any applied before) and recomputes the
    /// verdicts. A waiver whose `expires` is before the run's date covers
    /// nothing; one that matches no failure is stale.
    pub fn apply_waivers(&mut self, waivers: &[Waiver]) {
        let today = self.started.get(..10).unwrap_or(&self.started).to_string();
        for s in &mut self.scenarios {
            s.waived.clear();
        }
        self.waivers.clear();
        for w in waivers {
            let expired = w.expires.as_deref().is_some_and(|e| e < today.as_str());
            let mut matched = Vec::new();
            for s in &mut self.scenarios {
                if s.verdict != ScenarioVerdict::Failed {
                    continue;
                }
                let reqs: Vec<String> = s
                    .requirements
                    .iter()
                    .filter(|r| w.covers(s, r))
                    .cloned()
                    .collect();
                if reqs.is_empty() {
                    continue;
                }
                if !matched.contains(&s.name) {
                    matched.push(s.name.clone());
                }
                if !expired {
                    for r in reqs {
                        if !s.waived.contains(&r) {
                            s.waived.push(r);
                        }
                    }
                }
            }
            self.waivers.push(WaiverOutcome {
                waiver: w.clone(),
                status: if expired {
                    WaiverStatus::Expired
                } else if matched.is_empty() {
                    WaiverStatus::Stale
                } else {
                    WaiverStatus::Applied
                },
                scenarios: matched,
                run: 0,
            });
        }
        self.recompute();
    }

    /// Requirement verdicts and the summary, from the scenarios (and what
    /// waivers cover in them): failed if a failure is not covered, waived if
    /// every failure is, passed if one passed, else not run.
    pub fn recompute(&mut self) {
        let mut by_req: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
        for s in &self.scenarios {
            for r in &s.requirements {
                by_req.entry(r.as_str()).or_default().push(s);
            }
        }
        let mut rc = RequirementCounts::default();
        for q in &mut self.requirements {
            let ran = by_req.get(q.id.as_str()).cloned().unwrap_or_default();
            q.scenarios = ran.iter().map(|s| s.name.clone()).collect();
            q.waiver = None;
            if q.level == Level::Informative {
                q.verdict = ReqVerdict::Informative;
                continue;
            }
            let failing: Vec<&&ScenarioResult> = ran
                .iter()
                .filter(|s| s.verdict == ScenarioVerdict::Failed)
                .collect();
            q.verdict = if failing.iter().any(|s| !s.waived.contains(&q.id)) {
                ReqVerdict::Failed
            } else if !failing.is_empty() {
                let reasons: Vec<String> = self
                    .waivers
                    .iter()
                    .filter(|w| w.status == WaiverStatus::Applied)
                    .filter(|w| {
                        w.waiver.requirement.as_deref().is_none_or(|r| r == q.id)
                            && failing.iter().any(|s| w.scenarios.contains(&s.name))
                    })
                    .map(|w| w.waiver.reason.clone())
                    .collect();
                q.waiver = Some(if reasons.is_empty() {
                    "waived".to_string()
                } else {
                    reasons.join(" / ")
                });
                ReqVerdict::Waived
            } else if ran.iter().any(|s| s.verdict == ScenarioVerdict::Passed) {
                ReqVerdict::Passed
            } else {
                ReqVerdict::NotRun
            };
            if q.verdict != ReqVerdict::NotRun {
                q.note = None;
            }
            match q.verdict {
                ReqVerdict::Passed => rc.passed += 1,
                ReqVerdict::Failed => rc.failed += 1,
                ReqVerdict::NotRun => rc.not_run += 1,
                ReqVerdict::Waived => rc.waived += 1,
                ReqVerdict::Informative => {}
            }
        }
        let mut sc = ScenarioCounts::default();
        for s in &self.scenarios {
            match s.verdict {
                ScenarioVerdict::Passed => sc.passed += 1,
                ScenarioVerdict::Failed => sc.failed += 1,
                ScenarioVerdict::Skipped => sc.skipped += 1,
            }
            if s.fully_waived() {
                sc.waived += 1;
            }
        }
        self.summary = Summary {
            scenarios: sc,
            requirements: rc,
        };
    }

    /// A report.json written before scenarios recorded what waivers cover:
    /// a waived requirement covers each of its failed scenarios.
    fn upgrade(&mut self) {
        if self.runs.is_empty() {
            self.runs.push(Run {
                sut: self.sut.clone(),
                started: self.started.clone(),
                duration_ms: self.duration_ms,
                interrupted: self.interrupted,
                elements: Vec::new(),
                dir: None,
                sut_event: None,
                pcaps: Vec::new(),
                tls: None,
                ics: None,
            });
        }
        if self.scenarios.iter().any(|s| !s.waived.is_empty()) {
            return;
        }
        for q in &self.requirements {
            if q.verdict == ReqVerdict::Waived {
                for s in &mut self.scenarios {
                    if s.verdict == ScenarioVerdict::Failed && s.requirements.contains(&q.id) {
                        s.waived.push(q.id.clone());
                    }
                }
            }
        }
    }

    /// The run a scenario belongs to.
    pub fn run_of(&self, s: &ScenarioResult) -> Option<&Run> {
        self.runs.get(s.run)
    }

    /// Requirements that gate the exit code: failed MUST; with `strict`, every
    /// failed requirement (a MAY is only run when the SUT declares the
    /// capability, so its failure is a claim the SUT does not keep).
    pub fn gating_failures(&self) -> Vec<&RequirementResult> {
        self.requirements
            .iter()
            .filter(|r| r.verdict == ReqVerdict::Failed)
            .filter(|r| r.level == Level::Must || self.strict)
            .collect()
    }

    /// The SUT events of its runs (with the run's index).
    pub fn sut_events(&self) -> Vec<(usize, &SutEvent)> {
        self.runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.sut_event.as_ref().map(|e| (i, e)))
            .collect()
    }

    /// Exit code per design.md: 0 pass, 1 a requirement failed (or the SUT
    /// died during the run), 2 the SUT was unreachable before the first
    /// scenario, 3 interrupted.
    pub fn exit_code(&self) -> i32 {
        let events = self.sut_events();
        if self.interrupted {
            3
        } else if events.iter().any(|(_, e)| e.before_first_scenario()) {
            2
        } else if !events.is_empty() {
            1
        } else if self.gating_failures().is_empty() {
            0
        } else {
            1
        }
    }

    /// Writes `report.json`, `junit.xml`, `report.html` and `summary.txt` into
    /// `dir` (the HTML reads the scenarios' pcaps, relative to `dir`).
    ///
    /// Every report gets the same excerpts: failure and step texts capped
    /// ([`excerpt`]), and each scenario's `truncated` saying what report.html
    /// and the texts leave out (rendered first for that reason).
    pub fn write_all(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut r = self.clone();
        r.cap_excerpts();
        let (page, cuts) = html::render_cut(&r, dir);
        for (s, c) in r.scenarios.iter_mut().zip(cuts) {
            s.truncated = c;
        }
        let json = serde_json::to_string_pretty(&r).map_err(std::io::Error::other)?;
        write_atomic(&dir.join("report.json"), json.as_bytes())?;
        write_atomic(&dir.join("junit.xml"), junit::render(&r).as_bytes())?;
        write_atomic(&dir.join("report.html"), page.as_bytes())?;
        // A one-run report's conformance statement beside it (a merged
        // report shows each run's in report.html; each run's folder has its own).
        if let [run] = &r.runs[..]
            && let Some(ics) = &run.ics
        {
            write_atomic(&dir.join("ics.json"), (ics.to_json() + "\n").as_bytes())?;
            write_atomic(
                &dir.join("ics.md"),
                crate::ics::render::markdown(ics).as_bytes(),
            )?;
        }
        write_atomic(
            &dir.join("summary.txt"),
            summary::render(&r, dir).as_bytes(),
        )?;
        Ok(())
    }

    /// Caps each scenario's failure and step texts ([`excerpt::cap`]; a
    /// text capped before stays as it is).
    pub fn cap_excerpts(&mut self) {
        use excerpt::{cap, FAILURE_BYTES, STEP_BYTES};
        let capped = |s: &mut String, max| {
            if let std::borrow::Cow::Owned(c) = cap(s, max) {
                *s = c;
            }
        };
        for s in &mut self.scenarios {
            if let Some(f) = &mut s.failure {
                capped(f, FAILURE_BYTES);
            }
            if let Some(st) = &mut s.step {
                capped(st, STEP_BYTES);
            }
            for st in &mut s.steps {
                capped(&mut st.text, STEP_BYTES);
            }
        }
        // A launched SUT's stderr: the run keeps its last lines, each short
        // (`sut::stderr_tail`); a report.json read back is held to the same.
        for e in self.runs.iter_mut().filter_map(|r| r.sut_event.as_mut()) {
            capped(&mut e.detail, FAILURE_BYTES);
            let extra = e.stderr_tail.len().saturating_sub(excerpt::STDERR_LINES);
            e.stderr_tail.drain(..extra);
            for l in &mut e.stderr_tail {
                capped(l, STEP_BYTES);
            }
        }
    }

    /// Reads a `report.json` (of any earlier shape).
    pub fn read(dir: &Path) -> Result<Report, String> {
        let path = dir.join("report.json");
        let text = crate::limits::read_text(&path, crate::limits::MAX_REPORT_JSON)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut r: Report =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        r.upgrade();
        Ok(r)
    }

    /// Joins several runs (CI shards, other profiles, other machines) into
    /// one report: runs, scenarios and waivers are concatenated (pcap paths
    /// made relative to `out`), requirement verdicts recomputed from all
    /// scenarios — a failure no waiver of its own run covers fails the
    /// requirement.
    pub fn merge(reports: &[(std::path::PathBuf, Report)], out: &Path) -> Result<Report, String> {
        let first = &reports.first().ok_or("nothing to merge")?.1;
        let mut merged = first.clone();
        merged.scenarios.clear();
        merged.runs.clear();
        merged.waivers.clear();
        merged.duration_ms = 0;
        merged.interrupted = false;
        let mut names: Vec<String> = Vec::new();
        let mut roles: Vec<String> = Vec::new();
        let mut caps: Vec<String> = Vec::new();
        for (dir, r) in reports {
            let mut r = r.clone();
            r.upgrade();
            let base = merged.runs.len();
            merged.duration_ms += r.duration_ms;
            merged.interrupted |= r.interrupted;
            merged.strict |= r.strict;
            if r.started < merged.started {
                merged.started = r.started.clone();
            }
            for run in &r.runs {
                let mut run = run.clone();
                let at = match &run.dir {
                    Some(d) => dir.join(d),
                    None => dir.clone(),
                };
                run.dir = Some(relative_to(&at, out));
                for n in [&run.sut.name] {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
                for x in &run.sut.roles {
                    if !roles.contains(x) {
                        roles.push(x.clone());
                    }
                }
                for x in &run.sut.capabilities {
                    if !caps.contains(x) {
                        caps.push(x.clone());
                    }
                }
                merged.runs.push(run);
            }
            for s in &r.scenarios {
                let mut s = s.clone();
                s.run += base;
                if let Some(p) = &s.pcap {
                    s.pcap = Some(relative_to(&dir.join(p), out));
                }
                merged.scenarios.push(s);
            }
            for w in &r.waivers {
                let mut w = w.clone();
                w.run += base;
                merged.waivers.push(w);
            }
            for q in &r.requirements {
                match merged.requirements.iter_mut().find(|x| x.id == q.id) {
                    Some(x) => {
                        if q.applicable && !x.applicable {
                            x.applicable = true;
                            x.note = q.note.clone();
                        }
                        if x.verdict == ReqVerdict::NotRun && x.note.is_none() {
                            x.note = q.note.clone();
                        }
                    }
                    None => merged.requirements.push(q.clone()),
                }
            }
        }
        merged.sut.name = names.join(" + ");
        merged.sut.roles = roles;
        merged.sut.capabilities = caps;
        if reports.len() > 1 {
            merged.sut.profile = merged
                .runs
                .iter()
                .map(|r| r.sut.profile.clone())
                .collect::<Vec<_>>()
                .join(" + ");
        }
        merged.recompute();
        Ok(merged)
    }
}
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `path` relative to `base` when both are under a common ancestor; else absolute.
fn relative_to(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (p, b) = (abs(path), abs(base));
    let pc: Vec<_> = p.components().collect();
    let bc: Vec<_> = b.components().collect();
    let common = pc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return p.display().to_string();
    }
    let mut out = std::path::PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &pc[common..] {
        out.push(c);
    }
    out.display().to_string()
}

/// XML/HTML text escaping.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even as references.
            c if (c as u32) < 0x20 && c != '\n' && c != '\r' && c != '\t' => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small fixed report: one passed, one failed (with bytes in the
    /// failure), one not-run requirement, one informative.
    fn sample() -> Report {
        let cat = Catalogue::parse(
            r#"
- id: DR-1
  title: t1
  source: { document: 001_x.txt, where: "2" }
  level: MUST
  roles: [im-client]
  statement: s
- id: DR-2
  title: t2
  source: { document: 001_x.txt, where: "2" }
  level: MUST
  roles: [im-client]
  statement: s
- id: DR-3
  title: t3
  source: { document: 001_x.txt, where: "2" }
  level: SHOULD
  roles: [im-server]
  statement: s
  pending: "issue 3"
- id: DR-4
  title: t4
  source: { document: 001_x.txt, where: "2" }
  level: INFORMATIVE
  statement: s
  untestable_because: "no behaviour can fail"
"#,
            "sample",
        )
        .unwrap();
        let sc = |name: &str, req: &str, failure: Option<&str>| ScenarioResult {
            feature: "Pager <im-client>".into(),
            name: name.into(),
            tags: vec!["im-client".into(), req.into()],
            requirements: vec![req.into()],
            verdict: if failure.is_some() {
                ScenarioVerdict::Failed
            } else {
                ScenarioVerdict::Passed
            },
            duration_ms: 12,
            pcap: Some(format!("pcaps/{name}.pcap")),
            // The failing one flooded: its pcap reached the cap.
            pcap_frames_dropped: if failure.is_some() { 1234 } else { 0 },
            failure: failure.map(str::to_string),
            step: failure.map(|_| "Then the final response is 200".to_string()),
            location: Some(format!("features/x.feature:{}", name.len())),
            steps: vec![
                StepResult {
                    keyword: "Given".into(),
                    text: "the SUT plays the role \"im-client\"".into(),
                    outcome: StepOutcome::Passed,
                    background: true,
                },
                StepResult {
                    keyword: "Then".into(),
                    text: "the final response is 200".into(),
                    outcome: if failure.is_some() {
                        StepOutcome::Failed
                    } else {
                        StepOutcome::Passed
                    },
                    background: false,
                },
            ],
            waived: vec![],
            run: 0,
            truncated: None,
            tls: Vec::new(),
        };
        Report::build(
            &cat,
            Sut {
                name: "SUT & co".into(),
                profile: "p.yaml".into(),
                roles: vec!["im-client".into()],
                capabilities: vec!["msrp".into()],
                network: None,
            },
            "2026-11-21T10:00:00Z".into(),
            1234,
            vec![
                sc("ok", "DR-1", None),
                sc("bad", "DR-2", Some("DR-2: expected 200; came 486 Busy Here — bytes: SIP/2.0 486 Busy Here\\r\\n<x>")),
            ],
            &[],
            false,
            false,
        )
    }

    #[test]
    fn verdicts_and_exit_code() {
        let r = sample();
        let v: Vec<(&str, ReqVerdict)> = r
            .requirements
            .iter()
            .map(|q| (q.id.as_str(), q.verdict))
            .collect();
        assert_eq!(
            v,
            vec![
                ("DR-1", ReqVerdict::Passed),
                ("DR-2", ReqVerdict::Failed),
                ("DR-3", ReqVerdict::NotRun),
                ("DR-4", ReqVerdict::Informative)
            ]
        );
        assert_eq!(r.exit_code(), 1);
    }

    /// Issue 13 item 4: a report.json read back with huge texts (an older
    /// liaison, or written by hand) renders with the same caps as a run.
    #[test]
    fn every_text_a_report_quotes_is_capped() {
        let mut r = sample();
        let huge = format!(
            "DR-2: expected 200; came bytes: {}",
            "\\x00".repeat(100_000)
        );
        r.scenarios[1].failure = Some(huge.clone());
        r.scenarios[1].steps[1].text = "w".repeat(50_000);
        r.runs[0].sut_event = Some(SutEvent {
            kind: SutEventKind::Died,
            at_ms: 1,
            detail: "d".repeat(100_000),
            status: None,
            stderr_tail: (0..50)
                .map(|i| format!("{i} {}", "e".repeat(5_000)))
                .collect(),
            during: vec![],
            not_run: 0,
        });
        // The renderers cap on their own …
        let junit = junit::render(&r);
        assert!(junit.len() < 100_000, "{}", junit.len());
        assert!(junit.contains(" bytes cut)</failure>") || junit.contains(" bytes cut)\nstep:"));
        let text = summary::render(&r, Path::new("x"));
        assert!(text.len() < 10_000, "{}", text.len());
        assert!(text.contains("stderr| 30 ") && !text.contains("stderr| 29 "));
        // … and a report is written capped.
        r.cap_excerpts();
        let f = r.scenarios[1].failure.as_deref().unwrap();
        assert!(f.len() <= excerpt::FAILURE_BYTES);
        let n = excerpt::cut_of(f).unwrap();
        assert_eq!(excerpt::split_cut(f).0.len() + n, huge.len());
        assert!(huge.starts_with(excerpt::split_cut(f).0));
        assert!(r.scenarios[1].steps[1].text.len() <= excerpt::STEP_BYTES);
        let e = r.runs[0].sut_event.as_ref().unwrap();
        assert_eq!(e.stderr_tail.len(), excerpt::STDERR_LINES);
        assert!(e.stderr_tail[0].starts_with("30 "));
        assert!(e.stderr_tail.iter().all(|l| l.len() <= excerpt::STEP_BYTES));
        assert!(e.detail.len() <= excerpt::FAILURE_BYTES);
        let html = html::render(&r, Path::new("reports/x"));
        assert!(html.contains("the failure text is cut here"));
        assert!(html.len() < 200_000, "{}", html.len());
    }

    #[test]
    fn a_sut_event_sets_the_exit_code_and_renders_everywhere() {
        let mut r = sample();
        r.scenarios.retain(|s| s.verdict == ScenarioVerdict::Passed);
        r.recompute();
        assert_eq!(r.exit_code(), 0);
        let event = |kind| SutEvent {
            kind,
            at_ms: 1500,
            detail: "d".into(),
            status: Some("exit status: 9".into()),
            stderr_tail: vec!["boom <&> \u{1}".into()],
            during: vec!["a scenario".into()],
            not_run: 2,
        };
        r.runs[0].sut_event = Some(event(SutEventKind::Died));
        assert_eq!(r.exit_code(), 1, "died during the run: the run failed");
        let junit = junit::render(&r);
        assert!(
            junit.contains(r#"<property name="sut" value="died"/>"#),
            "{junit}"
        );
        assert!(
            junit.contains("<system-err>boom &lt;&amp;&gt; \\x01</system-err>"),
            "{junit}"
        );
        assert!(junit.contains(r#"errors="1""#), "{junit}");
        let text = summary::render(&r, Path::new("out"));
        assert!(
            text.contains("SUT DIED: the SUT died at 1.50 s (exit status: 9) during “a scenario”; 2 scenarios not run"),
            "{text}"
        );
        r.runs[0].sut_event = Some(event(SutEventKind::Unreachable));
        assert_eq!(r.exit_code(), 2, "never reached: as a usage error");
        r.runs[0].sut_event = Some(event(SutEventKind::ExitedBeforeReady));
        assert_eq!(r.exit_code(), 2);
        r.interrupted = true;
        assert_eq!(r.exit_code(), 3);
        let junit = junit::render(&r);
        assert!(
            junit.contains(r#"<property name="interrupted" value="true"/>"#)
                && junit.contains(r#"name="run interrupted""#),
            "{junit}"
        );
        // Round trip; a report without the field still reads.
        let json = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_waiver_turns_failed_into_waived_not_passed() {
        let plain = sample();
        let waiver = Waiver {
            requirement: Some("DR-2".into()),
            reason: "known deviation, with evidence".into(),
            ..Default::default()
        };
        let cat = Catalogue {
            requirements: plain
                .requirements
                .iter()
                .map(|q| crate::catalogue::Requirement {
                    id: q.id.clone(),
                    title: "t".into(),
                    source: crate::catalogue::Source {
                        document: q.source.clone(),
                        place: "2".into(),
                    },
                    refs: vec![],
                    level: q.level,
                    roles: vec!["im-client".into()],
                    statement: "s".into(),
                    untestable_because: q.note.clone().filter(|_| q.level == Level::Informative),
                    pending: None,
                    enabler: None,
                })
                .collect(),
        };
        let r = Report::build(
            &cat,
            plain.sut.clone(),
            plain.started.clone(),
            0,
            plain.scenarios.clone(),
            &[waiver],
            false,
            false,
        );
        let dr2 = r.requirements.iter().find(|q| q.id == "DR-2").unwrap();
        assert_eq!(dr2.verdict, ReqVerdict::Waived);
        assert_eq!(
            dr2.waiver.as_deref(),
            Some("known deviation, with evidence")
        );
        assert_eq!(r.summary.requirements.waived, 1);
        assert_eq!(r.exit_code(), 0);
    }

    fn rebuilt(waivers: &[Waiver]) -> Report {
        let mut r = sample();
        r.apply_waivers(waivers);
        r
    }

    fn verdict_of(r: &Report, id: &str) -> ReqVerdict {
        r.requirements.iter().find(|q| q.id == id).unwrap().verdict
    }

    #[test]
    fn a_scenario_waiver_covers_its_failure_and_counts_as_waived() {
        let r = rebuilt(&[Waiver {
            scenario: Some("bad".into()),
            reason: "the SUT answers 486 by design, see its notes".into(),
            ..Default::default()
        }]);
        assert_eq!(verdict_of(&r, "DR-2"), ReqVerdict::Waived);
        assert_eq!(verdict_of(&r, "DR-1"), ReqVerdict::Passed);
        assert_eq!(r.summary.scenarios.failed, 1, "raw verdicts stay");
        assert_eq!(r.summary.scenarios.waived, 1);
        assert_eq!(r.summary.requirements.waived, 1);
        assert_eq!(
            r.summary.requirements.passed, 1,
            "a waived failure never passes"
        );
        assert_eq!(r.waivers[0].status, WaiverStatus::Applied);
        assert_eq!(r.waivers[0].scenarios, vec!["bad".to_string()]);
        assert_eq!(r.scenarios[1].shown_verdict(), "waived");
        assert_eq!(r.exit_code(), 0);
        assert!(junit::render(&r).contains("waived for: DR-2"));
    }

    #[test]
    fn an_expired_waiver_no_longer_applies() {
        let w = |expires: &str| Waiver {
            requirement: Some("DR-2".into()),
            reason: "known deviation, with evidence".into(),
            expires: Some(expires.into()),
            ..Default::default()
        };
        // The run started 2026-11-21: the last valid day is still valid.
        let r = rebuilt(&[w("2026-11-21")]);
        assert_eq!(verdict_of(&r, "DR-2"), ReqVerdict::Waived);
        let r = rebuilt(&[w("2026-11-20")]);
        assert_eq!(verdict_of(&r, "DR-2"), ReqVerdict::Failed);
        assert_eq!(r.waivers[0].status, WaiverStatus::Expired);
        assert_eq!(r.waivers[0].scenarios, vec!["bad".to_string()]);
        assert_eq!(r.exit_code(), 1);
        let text = summary::render(&r, Path::new("x"));
        assert!(
            text.contains("EXPIRED WAIVER  DR-2 (expired 2026-11-20)"),
            "{text}"
        );
    }

    #[test]
    fn a_waiver_that_matches_no_failure_is_stale() {
        let r = rebuilt(&[
            Waiver {
                requirement: Some("DR-1".into()),
                reason: "it used to fail, it passes now".into(),
                ..Default::default()
            },
            Waiver {
                scenario: Some("no such scenario".into()),
                reason: "a renamed scenario, say".into(),
                ..Default::default()
            },
            Waiver {
                requirement: Some("DR-1".into()),
                scenario: Some("bad".into()),
                reason: "bad does not check DR-1".into(),
                ..Default::default()
            },
        ]);
        assert!(r.waivers.iter().all(|w| w.status == WaiverStatus::Stale));
        assert_eq!(verdict_of(&r, "DR-2"), ReqVerdict::Failed);
        let text = summary::render(&r, Path::new("x"));
        assert!(
            text.contains("STALE WAIVER  scenario \"no such scenario\""),
            "{text}"
        );
    }

    #[test]
    fn waiver_files_load_and_bad_ones_are_refused() {
        let cat = Catalogue::embedded().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/waivers");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let ws = load_waivers(&p, &cat).unwrap_or_else(|e| panic!("{e}"));
            assert!(!ws.is_empty());
            n += 1;
        }
        assert!(n >= 3);
        let tmp = std::env::temp_dir().join(format!("liaison-waivers-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let f = tmp.join("w.yaml");
        let bad = |text: &str| {
            std::fs::write(&f, text).unwrap();
            load_waivers(&f, &cat).unwrap_err()
        };
        assert!(bad("- reason: a reason long enough\n").contains("expected `requirement`"));
        assert!(bad(
            "- requirement: DR-1\n  reason: a reason long enough\n  expires: 2026-13-01\n"
        )
        .contains("[0].expires: expected a date YYYY-MM-DD"));
        for not_a_day in [
            "2027-02-30",
            "2026-04-31",
            "2027-02-29",
            "2100-02-29",
            "2026-00-10",
        ] {
            assert!(
                bad(&format!(
                    "- requirement: DR-1\n  reason: a reason long enough\n  expires: {not_a_day}\n"
                ))
                .contains("[0].expires: expected a date YYYY-MM-DD"),
                "{not_a_day}"
            );
        }
        for day in ["2028-02-29", "2000-02-29", "2026-12-31", "2026-04-30"] {
            assert!(is_date(day), "{day}");
        }
        assert!(bad("- requirement: DR-1\n  reason: short\n").contains("written reason"));
        assert!(
            bad("- requirement: DR-1\n  reason: a reason long enough\n  until: x\n")
                .contains("unknown field")
        );
        std::fs::write(
            &f,
            "- scenario: A text/plain MESSAGE is answered 200 OK\n  reason: a reason long enough\n  expires: 2027-01-31\n",
        )
        .unwrap();
        assert_eq!(
            load_waivers(&f, &cat).unwrap()[0].expires.as_deref(),
            Some("2027-01-31")
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn a_report_json_of_the_first_shape_still_reads_renders_and_merges() {
        // The shape of README "The report" before steps, runs and waivers.
        let old = r#"{ "suite": {"name": "liaison", "version": "0.1.0"},
          "sut": {"name": "old", "profile": "p.yaml", "roles": ["im-client"]},
          "started": "2026-01-01T00:00:00Z", "duration_ms": 5,
          "summary": {"scenarios": {"passed": 0, "failed": 1, "skipped": 0},
                      "requirements": {"passed": 0, "failed": 0, "not_run": 0, "waived": 1}},
          "requirements": [{"id": "DR-4", "source": "001_5c0edfb8210bb1ac.txt", "level": "MUST",
                            "verdict": "waived", "scenarios": ["s"], "waiver": "why"}],
          "scenarios": [{"feature": "f", "name": "s", "tags": ["DR-4"], "requirements": ["DR-4"],
                         "verdict": "failed", "duration_ms": 1, "pcap": "pcaps/none.pcap",
                         "failure": "DR-4: expected e; came c"}],
          "interrupted": false, "strict": false }"#;
        let tmp = std::env::temp_dir().join(format!("liaison-old-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("report.json"), old).unwrap();
        let r = Report::read(&tmp).unwrap();
        assert_eq!(r.scenarios[0].waived, vec!["DR-4".to_string()]);
        assert_eq!(r.runs.len(), 1);
        let html = html::render(&r, &tmp);
        assert!(html.contains("no ladder: "), "a missing pcap is said so");
        let m = Report::merge(&[(tmp.clone(), r.clone()), (tmp.clone(), r)], &tmp).unwrap();
        assert_eq!(
            m.requirements[0].verdict,
            ReqVerdict::Waived,
            "still waived after a merge"
        );
        assert_eq!(m.runs.len(), 2);
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn merged_runs_keep_their_suts_and_their_own_waivers() {
        let a = rebuilt(&[Waiver {
            requirement: Some("DR-2".into()),
            reason: "SUT A is known to answer 486".into(),
            ..Default::default()
        }]);
        let mut b = sample();
        b.sut.name = "Other SUT".into();
        b.sut.profile = "other.yaml".into();
        b.runs[0].sut = b.sut.clone();
        let out = Path::new("merged");
        let m = Report::merge(&[("a".into(), a.clone()), ("b".into(), b.clone())], out).unwrap();
        assert_eq!(m.runs.len(), 2);
        assert_eq!(m.sut.name, "SUT & co + Other SUT");
        assert_eq!(m.scenarios.len(), 4);
        assert_eq!(m.scenarios[3].run, 1);
        // A's waiver does not cover B's failure of the same requirement.
        assert_eq!(verdict_of(&m, "DR-2"), ReqVerdict::Failed);
        assert_eq!(m.waivers.len(), 1);
        let only_a = Report::merge(&[("a".into(), a.clone()), ("a2".into(), a)], out).unwrap();
        assert_eq!(verdict_of(&only_a, "DR-2"), ReqVerdict::Waived);
        let html = html::render(&m, out);
        assert!(html.contains("<th>Runs joined</th><td>2</td>"));
        assert!(html.contains("<b>SUT &amp; co</b>") && html.contains("<b>Other SUT</b>"));
        assert!(html.contains("bad [Other SUT]"), "scenarios name their SUT");
    }

    #[test]
    fn html_main_snapshot() {
        let mut r = sample();
        r.apply_waivers(&[Waiver {
            requirement: Some("DR-1".into()),
            reason: "a stale waiver, for the snapshot".into(),
            ..Default::default()
        }]);
        let html = html::render(&r, Path::new("reports/x"));
        let main = &html[html.find("<main>").unwrap()..html.find("</main>").unwrap()];
        insta::assert_snapshot!(main);
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(junit::render(&sample()));
    }

    #[test]
    fn summary_snapshot() {
        insta::assert_snapshot!(summary::render(&sample(), Path::new("reports/x")));
    }

    /// A pcap that reached its size cap says so in report.json (and only
    /// then), in report.html beside the file, and in the summary.
    #[test]
    fn a_capped_pcap_is_said_where_people_look() {
        let mut r = sample();
        let pcap = |frames_dropped| RunPcap {
            harness: "iwf".into(),
            pcap: "pcaps/run-level-iwf.pcap".into(),
            frames: 10,
            frames_dropped,
            unclaimed: 3,
            tls: Vec::new(),
        };
        r.runs[0].pcaps = vec![pcap(0)];
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["runs"][0]["pcaps"][0].get("frames_dropped").is_none());
        assert!(json["scenarios"][0].get("pcap_frames_dropped").is_none());
        assert_eq!(json["scenarios"][1]["pcap_frames_dropped"], 1234);
        r.runs[0].pcaps = vec![pcap(7)];
        let json = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.runs[0].pcaps[0].frames_dropped, 7);
        assert_eq!(back.scenarios[1].pcap_frames_dropped, 1234);
        let html = html::render(&r, Path::new("reports/x"));
        assert!(
            html.contains("(10 frames; 3 packets no scenario claimed; capped at 256 MiB: 7 later frames left out)"),
            "{html}"
        );
        let text = summary::render(&r, Path::new("reports/x"));
        assert!(
            text.contains("PCAP CAPPED: pcaps/bad.pcap at 256 MiB, 1,234 later frames left out\n")
        );
        assert!(text.contains(
            "PCAP CAPPED: pcaps/run-level-iwf.pcap at 256 MiB, 7 later frames left out\n"
        ));
    }

    #[test]
    fn json_round_trips() {
        let r = sample();
        let text = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(r, back);
        assert!(text.contains("\"not-run\""));
    }
}
