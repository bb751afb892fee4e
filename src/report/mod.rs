//! Run results: the `report.json` model (design.md, "report.json") and its
//! renderings — JUnit XML for CI, a one-screen text summary, and a plain
//! self-contained HTML page. `liaison report DIR` renders again from the JSON.

pub mod html;
pub mod junit;
pub mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Level};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sut {
    pub name: String,
    pub profile: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioCounts {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
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
}

/// A scenario's verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioVerdict {
    Passed,
    Failed,
    Skipped,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The step that failed, as written in the feature file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
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
}

/// A waiver: a requirement a SUT is known to fail, with the written reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub requirement: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// Reads a waiver file (a YAML list of [`Waiver`]); a waiver without a reason
/// or for an unknown requirement is an error.
pub fn load_waivers(path: &Path, catalogue: &Catalogue) -> Result<Vec<Waiver>, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("waivers {file}: cannot read the file ({e})"))?;
    let ws: Vec<Waiver> =
        serde_yaml::from_str(&text).map_err(|e| format!("waivers {file}: {e}"))?;
    for (i, w) in ws.iter().enumerate() {
        if w.reason.trim().len() < 10 {
            return Err(format!(
                "waivers {file}: [{i}].reason: expected a written reason (found `{}`)",
                w.reason
            ));
        }
        if catalogue.get(&w.requirement).is_none() {
            return Err(format!(
                "waivers {file}: [{i}].requirement: unknown requirement `{}`",
                w.requirement
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
        let mut by_req: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
        for s in &scenarios {
            for r in &s.requirements {
                by_req.entry(r.as_str()).or_default().push(s);
            }
        }
        let mut requirements = Vec::new();
        let mut rc = RequirementCounts::default();
        for req in &catalogue.requirements {
            let ran: Vec<&ScenarioResult> =
                by_req.get(req.id.as_str()).cloned().unwrap_or_default();
            let names: Vec<String> = ran.iter().map(|s| s.name.clone()).collect();
            let mut waiver = None;
            let mut note = None;
            let verdict = if req.level == Level::Informative {
                note = req.untestable_because.clone();
                ReqVerdict::Informative
            } else if ran.iter().any(|s| s.verdict == ScenarioVerdict::Failed) {
                match waivers.iter().find(|w| w.requirement == req.id) {
                    Some(w) => {
                        waiver = Some(w.reason.clone());
                        ReqVerdict::Waived
                    }
                    None => ReqVerdict::Failed,
                }
            } else if ran.iter().any(|s| s.verdict == ScenarioVerdict::Passed) {
                ReqVerdict::Passed
            } else {
                note = Some(match &req.pending {
                    Some(p) => format!("no scenario yet: {p}"),
                    None if interrupted => "run interrupted before its scenarios".to_string(),
                    None => "no applicable scenario for this SUT's roles, capabilities or --tags"
                        .to_string(),
                });
                ReqVerdict::NotRun
            };
            match verdict {
                ReqVerdict::Passed => rc.passed += 1,
                ReqVerdict::Failed => rc.failed += 1,
                ReqVerdict::NotRun => rc.not_run += 1,
                ReqVerdict::Waived => rc.waived += 1,
                ReqVerdict::Informative => {}
            }
            requirements.push(RequirementResult {
                id: req.id.clone(),
                source: req.source.document.clone(),
                level: req.level,
                verdict,
                scenarios: names,
                waiver,
                note,
            });
        }
        let mut sc = ScenarioCounts::default();
        for s in &scenarios {
            match s.verdict {
                ScenarioVerdict::Passed => sc.passed += 1,
                ScenarioVerdict::Failed => sc.failed += 1,
                ScenarioVerdict::Skipped => sc.skipped += 1,
            }
        }
        Report {
            suite: Suite {
                name: "liaison".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            sut,
            started,
            duration_ms,
            summary: Summary {
                scenarios: sc,
                requirements: rc,
            },
            requirements,
            scenarios,
            interrupted,
            strict,
        }
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

    /// Exit code per design.md: 0 pass, 1 a requirement failed, 3 interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            3
        } else if self.gating_failures().is_empty() {
            0
        } else {
            1
        }
    }

    /// Writes `report.json`, `junit.xml`, `report.html` and `summary.txt` into `dir`.
    pub fn write_all(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&dir.join("report.json"), json.as_bytes())?;
        write_atomic(&dir.join("junit.xml"), junit::render(self).as_bytes())?;
        write_atomic(&dir.join("report.html"), html::render(self).as_bytes())?;
        write_atomic(
            &dir.join("summary.txt"),
            summary::render(self, dir).as_bytes(),
        )?;
        Ok(())
    }

    /// Reads a `report.json`.
    pub fn read(dir: &Path) -> Result<Report, String> {
        let path = dir.join("report.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Joins several runs (e.g. CI shards) into one report: scenarios are
    /// concatenated (pcap paths made relative to `out`), requirement verdicts
    /// recomputed — failed wins over waived over passed over not-run.
    pub fn merge(reports: &[(std::path::PathBuf, Report)], out: &Path) -> Result<Report, String> {
        let first = &reports.first().ok_or("nothing to merge")?.1;
        let mut scenarios = Vec::new();
        let mut duration = 0;
        let mut interrupted = false;
        let mut names = Vec::new();
        let mut roles = Vec::new();
        for (dir, r) in reports {
            duration += r.duration_ms;
            interrupted |= r.interrupted;
            if !names.contains(&r.sut.name) {
                names.push(r.sut.name.clone());
            }
            for role in &r.sut.roles {
                if !roles.contains(role) {
                    roles.push(role.clone());
                }
            }
            for s in &r.scenarios {
                let mut s = s.clone();
                if let Some(p) = &s.pcap {
                    let abs = dir.join(p);
                    s.pcap = Some(relative_to(&abs, out));
                }
                scenarios.push(s);
            }
        }
        let mut merged = first.clone();
        merged.sut.name = names.join(" + ");
        merged.sut.roles = roles;
        merged.duration_ms = duration;
        merged.interrupted = interrupted;
        merged.scenarios = scenarios.clone();
        // Recompute requirement verdicts from all scenarios, keeping waivers.
        for req in merged.requirements.iter_mut() {
            let verdicts: Vec<ReqVerdict> = reports
                .iter()
                .filter_map(|(_, r)| r.requirements.iter().find(|x| x.id == req.id))
                .map(|x| x.verdict)
                .collect();
            req.verdict = [
                ReqVerdict::Failed,
                ReqVerdict::Waived,
                ReqVerdict::Passed,
                ReqVerdict::Informative,
                ReqVerdict::NotRun,
            ]
            .into_iter()
            .find(|v| verdicts.contains(v))
            .unwrap_or(ReqVerdict::NotRun);
            req.scenarios = scenarios
                .iter()
                .filter(|s| s.requirements.contains(&req.id))
                .map(|s| s.name.clone())
                .collect();
            if req.verdict != ReqVerdict::Waived {
                req.waiver = None;
            }
        }
        let mut rc = RequirementCounts::default();
        for r in &merged.requirements {
            match r.verdict {
                ReqVerdict::Passed => rc.passed += 1,
                ReqVerdict::Failed => rc.failed += 1,
                ReqVerdict::NotRun => rc.not_run += 1,
                ReqVerdict::Waived => rc.waived += 1,
                ReqVerdict::Informative => {}
            }
        }
        let mut sc = ScenarioCounts::default();
        for s in &merged.scenarios {
            match s.verdict {
                ScenarioVerdict::Passed => sc.passed += 1,
                ScenarioVerdict::Failed => sc.failed += 1,
                ScenarioVerdict::Skipped => sc.skipped += 1,
            }
        }
        merged.summary = Summary {
            scenarios: sc,
            requirements: rc,
        };
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
            failure: failure.map(str::to_string),
            step: failure.map(|_| "Then the final response is 200".to_string()),
        };
        Report::build(
            &cat,
            Sut { name: "SUT & co".into(), profile: "p.yaml".into(), roles: vec!["im-client".into()] },
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

    #[test]
    fn a_waiver_turns_failed_into_waived_not_passed() {
        let plain = sample();
        let waiver = Waiver {
            requirement: "DR-2".into(),
            reason: "known deviation, with evidence".into(),
            evidence: None,
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

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(junit::render(&sample()));
    }

    #[test]
    fn summary_snapshot() {
        insta::assert_snapshot!(summary::render(&sample(), Path::new("reports/x")));
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
