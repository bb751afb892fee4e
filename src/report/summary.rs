//! The one-screen text summary printed at the end of a run (and kept as
//! `summary.txt`).

use super::{Report, ReqVerdict, ScenarioVerdict, WaiverStatus};
use std::fmt::Write as _;
use std::path::Path;

pub fn render(r: &Report, dir: &Path) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let _ = writeln!(
        out,
        "liaison {} — SUT: {} ({})",
        r.suite.version,
        r.sut.name,
        r.sut.roles.join(", ")
    );
    let _ = writeln!(
        out,
        "scenarios: {} passed, {} failed{}, {} skipped",
        s.scenarios.passed,
        s.scenarios.failed,
        if s.scenarios.waived > 0 {
            format!(" ({} waived)", s.scenarios.waived)
        } else {
            String::new()
        },
        s.scenarios.skipped
    );
    let informative = r
        .requirements
        .iter()
        .filter(|x| x.verdict == ReqVerdict::Informative)
        .count();
    let _ = writeln!(
        out,
        "requirements: {} passed, {} failed, {} waived, {} not run, {} informative{}",
        s.requirements.passed,
        s.requirements.failed,
        s.requirements.waived,
        s.requirements.not_run,
        informative,
        if r.strict {
            " (strict: every failure counts)"
        } else {
            ""
        }
    );
    for req in r
        .requirements
        .iter()
        .filter(|x| x.verdict == ReqVerdict::Failed)
    {
        let _ = writeln!(out, "  FAILED  {} ({})", req.id, req.level);
        for sc in r
            .scenarios
            .iter()
            .filter(|sc| sc.verdict == ScenarioVerdict::Failed && sc.requirements.contains(&req.id))
        {
            let first = sc
                .failure
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let _ = writeln!(out, "          {}: {}", sc.name, truncate(first, 160));
        }
    }
    for req in r
        .requirements
        .iter()
        .filter(|x| x.verdict == ReqVerdict::Waived)
    {
        let _ = writeln!(
            out,
            "  WAIVED  {}: {}",
            req.id,
            truncate(req.waiver.as_deref().unwrap_or(""), 120)
        );
    }
    for w in &r.waivers {
        match w.status {
            WaiverStatus::Applied => {}
            WaiverStatus::Expired => {
                let _ = writeln!(
                    out,
                    "  EXPIRED WAIVER  {} (expired {}): not applied, its failures count",
                    w.waiver.subject(),
                    w.waiver.expires.as_deref().unwrap_or("?")
                );
            }
            WaiverStatus::Stale => {
                let _ = writeln!(
                    out,
                    "  STALE WAIVER  {}: matches no failing scenario (remove it, or check the name)",
                    w.waiver.subject()
                );
            }
        }
    }
    if r.interrupted {
        let _ = writeln!(
            out,
            "INTERRUPTED: the report holds the scenarios that finished"
        );
    }
    for (_, e) in r.sut_events() {
        let word = match e.kind {
            super::SutEventKind::Died => "SUT DIED",
            super::SutEventKind::ExitedBeforeReady => "SUT EXITED",
            super::SutEventKind::Unreachable => "SUT UNREACHABLE",
        };
        let _ = writeln!(out, "{word}: {}", truncate(&e.headline(), 400));
        let skip = e
            .stderr_tail
            .len()
            .saturating_sub(super::excerpt::STDERR_LINES);
        for l in &e.stderr_tail[skip..] {
            let _ = writeln!(out, "  stderr| {}", truncate(l, 300));
        }
    }
    let _ = writeln!(out, "time: {:.2} s", r.duration_ms as f64 / 1000.0);
    let _ = writeln!(out, "report: {}", dir.join("report.json").display());
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}
