//! `liaison verify`'s judgement of a bundle, over its bytes: the archive is
//! read with limits ([`super::tar`]), every file is held against the
//! MANIFEST (missing, extra, modified — each named), the signature against
//! the given key, and report.json's verdicts against what the report model
//! itself computes ([`Report::recompute`], [`Report::apply_waivers`],
//! [`Report::exit_code`]) from the recorded scenario results and the bundled
//! waiver file.
//!
//! Two kinds of failure: [`Unreadable`] (the archive cannot be read as a
//! bundle at all: `liaison verify` exits 2) and [`Finding`]s (the bundle
//! reads but does not hold: a file, the signature or a verdict is not what it
//! should be: exit 1).

use std::collections::BTreeMap;
use std::fmt;

use crate::catalogue::Catalogue;
use crate::report::{
    Report, ScenarioVerdict, StepOutcome, Suite, Summary, Sut, Waiver, WaiverOutcome,
};

use super::key::PublicKey;
use super::{tar, Meta, MANIFEST, META, PROFILE, REPORT, SIGNATURE, WAIVERS};

/// The archive is not a readable bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Not a tar archive, truncated, corrupt, or hostile ([`tar::TarError`]).
    Tar(tar::TarError),
    /// Entries not under one folder, or no MANIFEST.
    Layout(String),
    /// The MANIFEST does not parse.
    Manifest(String),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Tar(e) => write!(f, "{e}"),
            Unreadable::Layout(w) => write!(f, "not a liaison bundle: {w}"),
            Unreadable::Manifest(w) => write!(f, "MANIFEST: {w}"),
        }
    }
}

impl std::error::Error for Unreadable {}

/// Something in a readable bundle that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Listed in the MANIFEST, absent from the archive.
    Missing(String),
    /// In the archive, not listed in the MANIFEST.
    Extra(String),
    /// Its size or SHA-256 is not the MANIFEST's.
    Modified { path: String, why: String },
    /// The signature does not hold (or there is none and a key was given).
    Signature(String),
    /// A file the check needs does not parse.
    Unreadable { path: String, why: String },
    /// A recorded verdict (or count, or waiver outcome) that is not what the
    /// scenario results and the waivers give.
    Verdict {
        what: String,
        recorded: String,
        recomputed: String,
    },
    /// report.json contradicts itself, its catalogue or its profile.
    Inconsistent(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Missing(p) => {
                write!(f, "missing: {p} (listed in MANIFEST, not in the archive)")
            }
            Finding::Extra(p) => write!(f, "extra: {p} (in the archive, not listed in MANIFEST)"),
            Finding::Modified { path, why } => write!(f, "modified: {path} ({why})"),
            Finding::Signature(w) => write!(f, "signature: {w}"),
            Finding::Unreadable { path, why } => write!(f, "unreadable: {path}: {why}"),
            Finding::Verdict {
                what,
                recorded,
                recomputed,
            } => write!(
                f,
                "verdict: {what}: report.json says {recorded}, recomputed {recomputed}"
            ),
            Finding::Inconsistent(w) => write!(f, "inconsistent: {w}"),
        }
    }
}

/// What became of the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// No MANIFEST.sig (and no key given).
    NotSigned,
    /// Signed, no key given: not checked.
    NotChecked { fingerprint: String },
    /// Signed by the given key, and the signature holds.
    Good { fingerprint: String },
    /// A finding says why.
    Failed,
}

/// What report.json says, for the summary.
#[derive(Debug, Clone)]
pub struct ReportFacts {
    pub suite: Suite,
    pub sut: Sut,
    pub summary: Summary,
    pub catalogue: Option<String>,
    pub requirements: usize,
    pub scenarios: usize,
    pub waivers: usize,
    pub runs: usize,
    /// Whether every failed requirement gates the exit code.
    pub strict: bool,
    /// The exit code `liaison run` gave (or would give), recomputed:
    /// report.json does not record it.
    pub exit_code: i32,
}

/// The whole judgement.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The bundle's folder.
    pub top: String,
    /// Files listed in the MANIFEST, and their bytes.
    pub files: usize,
    pub bytes: u64,
    pub signature: SignatureStatus,
    pub meta: Option<Meta>,
    pub report: Option<ReportFacts>,
    pub findings: Vec<Finding>,
    /// What was not checked, and why.
    pub notes: Vec<String>,
}

impl Verification {
    /// Nothing found.
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Judges a bundle's bytes. `key`: the public key it must be signed with;
/// `catalogue`: this liaison's (requirement set and levels are checked
/// against it when report.json names the same catalogue digest).
pub fn verify(
    archive: &[u8],
    key: Option<&PublicKey>,
    catalogue: Option<&Catalogue>,
) -> Result<Verification, Unreadable> {
    let entries = tar::read(archive, super::LIMITS).map_err(Unreadable::Tar)?;
    let first = entries
        .first()
        .ok_or_else(|| Unreadable::Layout("the archive is empty".into()))?;
    let top = first
        .name
        .split_once('/')
        .map(|(t, _)| t.to_string())
        .ok_or_else(|| Unreadable::Layout(format!("`{}` is not under a folder", first.name)))?;
    let mut files: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for e in &entries {
        let rel = e
            .name
            .strip_prefix(&top)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| {
                Unreadable::Layout(format!(
                    "expected every entry under `{top}/`, came `{}`",
                    e.name
                ))
            })?;
        files.insert(rel, e.data);
    }
    let manifest_bytes = *files
        .get(MANIFEST)
        .ok_or_else(|| Unreadable::Layout(format!("no `{top}/{MANIFEST}`")))?;
    let listed = super::parse_manifest(manifest_bytes).map_err(Unreadable::Manifest)?;
    let mut v = Verification {
        top: top.clone(),
        files: listed.len(),
        bytes: listed.iter().map(|l| l.size).sum(),
        signature: SignatureStatus::NotSigned,
        meta: None,
        report: None,
        findings: Vec::new(),
        notes: Vec::new(),
    };

    // Every file against the MANIFEST.
    let mut good: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for l in &listed {
        match files.get(l.path.as_str()) {
            None => v.findings.push(Finding::Missing(l.path.clone())),
            Some(d) if d.len() as u64 != l.size => v.findings.push(Finding::Modified {
                path: l.path.clone(),
                why: format!("{} bytes, MANIFEST says {}", d.len(), l.size),
            }),
            Some(d) if super::sha256(d) != l.sha256 => v.findings.push(Finding::Modified {
                path: l.path.clone(),
                why: "SHA-256 differs from MANIFEST".into(),
            }),
            Some(d) => {
                good.insert(l.path.as_str(), d);
            }
        }
    }
    for p in files.keys() {
        if *p != MANIFEST && *p != SIGNATURE && !listed.iter().any(|l| l.path == *p) {
            v.findings.push(Finding::Extra(p.to_string()));
        }
    }

    // The signature.
    v.signature = match (files.get(SIGNATURE), key) {
        (None, None) => SignatureStatus::NotSigned,
        (None, Some(k)) => {
            v.findings.push(Finding::Signature(format!(
                "not signed, but --key {} was given",
                k.fingerprint()
            )));
            SignatureStatus::Failed
        }
        (Some(s), k) => match super::parse_signature(s) {
            Err(e) => {
                v.findings
                    .push(Finding::Signature(format!("{SIGNATURE}: {e}")));
                SignatureStatus::Failed
            }
            Ok(sig) => match k {
                None => SignatureStatus::NotChecked {
                    fingerprint: sig.fingerprint,
                },
                Some(k) if *k != sig.public => {
                    v.findings.push(Finding::Signature(format!(
                        "signed by key {}, not by the given key {}",
                        sig.fingerprint,
                        k.fingerprint()
                    )));
                    SignatureStatus::Failed
                }
                Some(k) if !k.verifies(manifest_bytes, &sig.signature) => {
                    v.findings.push(Finding::Signature(format!(
                        "the signature of key {} does not hold for this MANIFEST (MANIFEST or {SIGNATURE} modified)",
                        sig.fingerprint
                    )));
                    SignatureStatus::Failed
                }
                Some(_) => SignatureStatus::Good {
                    fingerprint: sig.fingerprint,
                },
            },
        },
    };

    // meta.json.
    if let Some(m) = files.get(META) {
        match serde_json::from_slice::<Meta>(m) {
            Ok(m) => v.meta = Some(m),
            Err(e) => v.findings.push(Finding::Unreadable {
                path: META.into(),
                why: e.to_string(),
            }),
        }
    }

    // The verdicts, from the files as they are in the archive (a modified
    // one is already named above; its content is still judged).
    let report_path = format!("{REPORT}report.json");
    let Some(report_bytes) = files.get(report_path.as_str()) else {
        if !v.findings.contains(&Finding::Missing(report_path.clone())) {
            v.findings.push(Finding::Missing(report_path));
        }
        return Ok(v);
    };
    if report_bytes.len() as u64 > crate::limits::MAX_REPORT_JSON {
        v.findings.push(Finding::Unreadable {
            path: report_path,
            why: format!(
                "{} bytes; a report.json is read up to {}",
                report_bytes.len(),
                crate::limits::MAX_REPORT_JSON
            ),
        });
        return Ok(v);
    }
    let recorded: Report = match serde_json::from_slice(report_bytes) {
        Ok(r) => r,
        Err(e) => {
            v.findings.push(Finding::Unreadable {
                path: report_path,
                why: format!("not a report ({e})"),
            });
            return Ok(v);
        }
    };
    let waivers = match files.get(WAIVERS) {
        None => None,
        Some(w) => match parse_waivers(w) {
            Ok(w) => Some(w),
            Err(why) => {
                v.findings.push(Finding::Unreadable {
                    path: WAIVERS.into(),
                    why,
                });
                return Ok(v);
            }
        },
    };
    let (findings, notes, exit_code) = check_report(&recorded, waivers.as_deref(), catalogue);
    v.findings.extend(findings);
    v.notes.extend(notes);
    if let Some(p) = files.get(PROFILE) {
        check_profile(p, &recorded, &mut v);
    }
    check_captures(&recorded, &files, &mut v);
    v.report = Some(ReportFacts {
        suite: recorded.suite.clone(),
        sut: recorded.sut.clone(),
        summary: recorded.summary.clone(),
        catalogue: recorded.catalogue.as_ref().map(|c| c.digest.clone()),
        requirements: recorded.requirements.len(),
        scenarios: recorded.scenarios.len(),
        waivers: recorded.waivers.len(),
        runs: recorded.runs.len().max(1),
        strict: recorded.strict,
        exit_code,
    });
    // The same finding from two checks once.
    let mut seen = std::collections::BTreeSet::new();
    v.findings.retain(|f| seen.insert(f.to_string()));
    Ok(v)
}

/// Every capture report.json names (of a scenario that ran, and each
/// run-level role's) is in the bundle. A merged report's captures are in
/// the folders of its runs, outside its own: not checked.
fn check_captures(recorded: &Report, files: &BTreeMap<&str, &[u8]>, v: &mut Verification) {
    if recorded.runs.len() > 1 {
        v.notes.push(
            "merged report: its captures are in its runs' folders, not checked to be in the bundle"
                .into(),
        );
        return;
    }
    let ran = recorded
        .scenarios
        .iter()
        .filter(|s| s.verdict != ScenarioVerdict::Skipped)
        .filter_map(|s| Some((s.pcap.as_deref()?, format!("scenario \"{}\"", s.name))));
    let run_level = recorded
        .runs
        .iter()
        .flat_map(|r| &r.pcaps)
        .map(|p| (p.pcap.as_str(), format!("run-level role {}", p.harness)));
    for (pcap, whose) in ran.chain(run_level) {
        let path = format!("{REPORT}{pcap}");
        if !files.contains_key(path.as_str()) {
            v.findings.push(Finding::Inconsistent(format!(
                "report.json names {path} as the capture of {whose}; the bundle does not hold it"
            )));
        }
    }
}

/// A waiver file's text (a YAML list of waivers), bounded like `--waivers`.
fn parse_waivers(bytes: &[u8]) -> Result<Vec<Waiver>, String> {
    if bytes.len() as u64 > crate::limits::MAX_YAML_FILE {
        return Err(format!(
            "expected at most {} bytes, came {}",
            crate::limits::MAX_YAML_FILE,
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "expected UTF-8 text, came a byte that is not at offset {}",
            e.valid_up_to()
        )
    })?;
    crate::limits::check_yaml_depth(text)?;
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// The bundled profile names the SUT report.json names.
fn check_profile(bytes: &[u8], recorded: &Report, v: &mut Verification) {
    if recorded.runs.len() > 1 {
        v.notes
            .push("merged report: the bundled profile is not compared with its SUTs".into());
        return;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            v.findings.push(Finding::Unreadable {
                path: PROFILE.into(),
                why: "not UTF-8 text".into(),
            });
            return;
        }
    };
    let p = match crate::profile::Profile::parse(text, PROFILE) {
        Ok(p) => p,
        Err(e) => {
            v.notes.push(format!(
                "{PROFILE} is not a profile this liaison reads ({e}): not compared with report.json's SUT"
            ));
            return;
        }
    };
    if p.name != recorded.sut.name {
        v.findings.push(Finding::Inconsistent(format!(
            "{PROFILE} names the SUT `{}`, report.json `{}`",
            p.name, recorded.sut.name
        )));
    }
    if p.roles != recorded.sut.roles {
        v.findings.push(Finding::Inconsistent(format!(
            "{PROFILE} gives the roles {}, report.json {}",
            p.roles.join(", "),
            recorded.sut.roles.join(", ")
        )));
    }
}

/// Checks report.json against itself: its scenarios' verdicts against their
/// steps and tags, its requirement verdicts and counts against what
/// [`Report::recompute`] gives from its scenario results, its waiver
/// outcomes and verdicts against [`Report::apply_waivers`] of the waiver
/// file, and its requirement set and levels against `catalogue` (when the
/// digests match). Returns the findings, notes on what was not checked, and
/// the exit code recomputed.
pub fn check_report(
    recorded: &Report,
    waivers: Option<&[Waiver]>,
    catalogue: Option<&Catalogue>,
) -> (Vec<Finding>, Vec<String>, i32) {
    let mut findings = Vec::new();
    let mut notes = Vec::new();

    // Each scenario's verdict follows from its steps and its tags.
    for s in &recorded.scenarios {
        let failed_step = s
            .steps
            .iter()
            .position(|st| st.outcome == StepOutcome::Failed);
        match s.verdict {
            ScenarioVerdict::Passed if s.failure.is_some() || failed_step.is_some() => findings
                .push(Finding::Inconsistent(format!(
                    "scenario \"{}\" is passed but records {}",
                    s.name,
                    if s.failure.is_some() {
                        "a failure".to_string()
                    } else {
                        format!("a failed step ({})", failed_step.unwrap_or(0) + 1)
                    }
                ))),
            ScenarioVerdict::Failed if s.failure.is_none() => findings.push(Finding::Inconsistent(
                format!("scenario \"{}\" is failed without a failure", s.name),
            )),
            _ => {}
        }
        let tagged: Vec<&String> = s
            .tags
            .iter()
            .filter(|t| Catalogue::looks_like_id(t))
            .collect();
        if tagged != s.requirements.iter().collect::<Vec<_>>() {
            findings.push(Finding::Inconsistent(format!(
                "scenario \"{}\" checks [{}] but is tagged [{}]",
                s.name,
                s.requirements.join(", "),
                tagged
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }

    // The requirement set and levels are the catalogue's.
    match (catalogue, &recorded.catalogue) {
        (Some(c), Some(info)) if crate::report::CatalogueInfo::of(c).digest == info.digest => {
            for q in &c.requirements {
                match recorded.requirements.iter().find(|r| r.id == q.id) {
                    None => findings.push(Finding::Inconsistent(format!(
                        "requirement {} of catalogue {} is not in report.json",
                        q.id, info.digest
                    ))),
                    Some(r) if r.level != q.level => findings.push(Finding::Verdict {
                        what: format!("requirement {}'s level", q.id),
                        recorded: r.level.to_string(),
                        recomputed: format!("{} (catalogue {})", q.level, info.digest),
                    }),
                    Some(_) => {}
                }
            }
            for r in &recorded.requirements {
                if c.get(&r.id).is_none() {
                    findings.push(Finding::Inconsistent(format!(
                        "requirement {} is not in catalogue {}",
                        r.id, info.digest
                    )));
                }
            }
        }
        (_, Some(info)) => notes.push(format!(
            "report.json's catalogue {} is not this liaison's ({}): requirement set and levels not checked",
            info.digest,
            crate::build_info::catalogue_digest()
        )),
        (_, None) => notes.push(
            "report.json names no catalogue: requirement set and levels not checked".into(),
        ),
    }

    // Verdicts and counts from the scenarios as recorded (with what the
    // recorded waivers cover in them).
    let mut from_scenarios = recorded.clone();
    upgrade(&mut from_scenarios);
    from_scenarios.recompute();
    compare(recorded, &from_scenarios, &mut findings);

    // From scratch: the waiver file applied to the scenario results.
    let single = recorded.runs.len() <= 1;
    let applied = match waivers {
        None if !recorded.waivers.is_empty() && single => {
            findings.push(Finding::Inconsistent(format!(
                "report.json records {} waiver(s); the bundle has no waiver file ({WAIVERS})",
                recorded.waivers.len()
            )));
            None
        }
        None if !single => {
            notes.push(
                "merged report without a waiver file: waivers checked as each run recorded them"
                    .into(),
            );
            None
        }
        w => {
            let mut r = recorded.clone();
            r.apply_waivers(w.unwrap_or_default());
            compare(recorded, &r, &mut findings);
            compare_waivers(recorded, &r, &mut findings);
            Some(r)
        }
    };
    let exit = applied.as_ref().unwrap_or(&from_scenarios).exit_code();
    (findings, notes, exit)
}

/// A report.json written before scenarios recorded what waivers cover
/// (`Report::read` does the same): a waived requirement covers each of its
/// failed scenarios.
fn upgrade(r: &mut Report) {
    if r.scenarios.iter().any(|s| !s.waived.is_empty()) {
        return;
    }
    let waived: Vec<String> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == crate::report::ReqVerdict::Waived)
        .map(|q| q.id.clone())
        .collect();
    for s in &mut r.scenarios {
        if s.verdict == ScenarioVerdict::Failed {
            for id in s.requirements.iter().filter(|id| waived.contains(id)) {
                s.waived.push(id.clone());
            }
        }
    }
}

/// Requirement verdicts (and waiver reasons) and the summary's counts.
fn compare(recorded: &Report, recomputed: &Report, out: &mut Vec<Finding>) {
    for (a, b) in recorded.requirements.iter().zip(&recomputed.requirements) {
        if a.verdict != b.verdict {
            out.push(Finding::Verdict {
                what: format!("requirement {}", a.id),
                recorded: a.verdict.as_str().into(),
                recomputed: b.verdict.as_str().into(),
            });
        } else if a.waiver != b.waiver {
            out.push(Finding::Verdict {
                what: format!("requirement {}'s waiver", a.id),
                recorded: format!("{:?}", a.waiver.as_deref().unwrap_or("none")),
                recomputed: format!("{:?}", b.waiver.as_deref().unwrap_or("none")),
            });
        }
    }
    let (a, b) = (&recorded.summary, &recomputed.summary);
    let counts = [
        ("scenarios passed", a.scenarios.passed, b.scenarios.passed),
        ("scenarios failed", a.scenarios.failed, b.scenarios.failed),
        (
            "scenarios skipped",
            a.scenarios.skipped,
            b.scenarios.skipped,
        ),
        ("scenarios waived", a.scenarios.waived, b.scenarios.waived),
        (
            "requirements passed",
            a.requirements.passed,
            b.requirements.passed,
        ),
        (
            "requirements failed",
            a.requirements.failed,
            b.requirements.failed,
        ),
        (
            "requirements not run",
            a.requirements.not_run,
            b.requirements.not_run,
        ),
        (
            "requirements waived",
            a.requirements.waived,
            b.requirements.waived,
        ),
    ];
    for (what, x, y) in counts {
        if x != y {
            out.push(Finding::Verdict {
                what: format!("summary: {what}"),
                recorded: x.to_string(),
                recomputed: y.to_string(),
            });
        }
    }
}

/// What each scenario's waivers cover, and each waiver's outcome.
fn compare_waivers(recorded: &Report, recomputed: &Report, out: &mut Vec<Finding>) {
    for (a, b) in recorded.scenarios.iter().zip(&recomputed.scenarios) {
        let (mut x, mut y) = (a.waived.clone(), b.waived.clone());
        x.sort();
        y.sort();
        if x != y {
            out.push(Finding::Verdict {
                what: format!("scenario \"{}\": requirements waived", a.name),
                recorded: format!("[{}]", x.join(", ")),
                recomputed: format!("[{}]", y.join(", ")),
            });
        }
    }
    if recorded.waivers.len() != recomputed.waivers.len() {
        out.push(Finding::Verdict {
            what: format!("waivers (the waiver file {WAIVERS})"),
            recorded: format!("{} waiver(s)", recorded.waivers.len()),
            recomputed: format!("{} in the file", recomputed.waivers.len()),
        });
        return;
    }
    let show = |o: &WaiverOutcome| {
        format!(
            "{} {} (reason {:?}{}){}",
            o.status.as_str(),
            o.waiver.subject(),
            o.waiver.reason,
            o.waiver
                .expires
                .as_deref()
                .map(|e| format!(", expires {e}"))
                .unwrap_or_default(),
            if o.scenarios.is_empty() {
                String::new()
            } else {
                format!(" for {} scenario(s)", o.scenarios.len())
            }
        )
    };
    for (i, (a, b)) in recorded.waivers.iter().zip(&recomputed.waivers).enumerate() {
        if a.waiver != b.waiver || a.status != b.status || a.scenarios != b.scenarios {
            out.push(Finding::Verdict {
                what: format!("waiver {} ({WAIVERS})", i + 1),
                recorded: show(a),
                recomputed: show(b),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let f: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect();
        tar::write(&f).unwrap()
    }

    #[test]
    fn archives_that_are_not_bundles_are_unreadable() {
        let e = verify(&tar(&[]), None, None).unwrap_err();
        assert!(matches!(e, Unreadable::Layout(_)), "{e}");
        let e = verify(&tar(&[("MANIFEST", b"")]), None, None).unwrap_err();
        assert!(e.to_string().contains("is not under a folder"), "{e}");
        let e = verify(&tar(&[("a/x", b""), ("b/MANIFEST", b"")]), None, None).unwrap_err();
        assert!(e.to_string().contains("under `a/`"), "{e}");
        let e = verify(&tar(&[("a/x", b"")]), None, None).unwrap_err();
        assert!(e.to_string().contains("no `a/MANIFEST`"), "{e}");
        let e = verify(&tar(&[("a/MANIFEST", b"hello\n")]), None, None).unwrap_err();
        assert!(matches!(e, Unreadable::Manifest(_)), "{e}");
    }

    #[test]
    fn a_bundle_without_a_report_is_named() {
        let meta = super::super::Meta::of_this_build(None, None);
        let b = super::super::build("t", vec![], &meta, None).unwrap();
        let v = verify(&b, None, None).unwrap();
        assert_eq!(
            v.findings,
            vec![Finding::Missing("report/report.json".into())]
        );
        let files = vec![("report/report.json".to_string(), b"{\"x\":1}".to_vec())];
        let b = super::super::build("t", files, &meta, None).unwrap();
        let v = verify(&b, None, None).unwrap();
        assert!(
            matches!(&v.findings[..], [Finding::Unreadable { path, .. }] if path == "report/report.json"),
            "{:?}",
            v.findings
        );
    }
}
