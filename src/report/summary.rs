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
        "liaison {} — SUT: {} ({}){}",
        r.suite.version,
        r.sut.name,
        r.sut.roles.join(", "),
        if r.sut.network.as_deref() == Some("lab") {
            " on a lab network"
        } else {
            ""
        }
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
    for line in capped_pcaps(r) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{}", timing(r));
    if let Some(line) = slowest(r, 3) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "report: {}", dir.join("report.json").display());
    out
}

/// The run's wall time, the sum of its scenarios' times, and their ratio:
/// how many scenarios ran at a time on average.
pub fn timing(r: &Report) -> String {
    let wall = r.duration_ms as f64 / 1000.0;
    let sum: u64 = r.scenarios.iter().map(|s| s.duration_ms).sum();
    let sum = sum as f64 / 1000.0;
    if wall > 0.0 && sum > 0.0 {
        format!(
            "time: {wall:.2} s (scenarios {sum:.2} s in all, {:.1} at a time)",
            sum / wall
        )
    } else {
        format!("time: {wall:.2} s")
    }
}

/// The pcaps (of scenarios, and run-level) that reached their size cap,
/// a line each, the first few of them.
fn capped_pcaps(r: &Report) -> Vec<String> {
    const SHOWN: usize = 5;
    let capped: Vec<(&str, u64)> = r
        .scenarios
        .iter()
        .filter(|s| s.pcap_frames_dropped > 0)
        .map(|s| (s.pcap.as_deref().unwrap_or(""), s.pcap_frames_dropped))
        .chain(
            r.runs
                .iter()
                .flat_map(|run| &run.pcaps)
                .filter(|p| p.frames_dropped > 0)
                .map(|p| (p.pcap.as_str(), p.frames_dropped)),
        )
        .collect();
    let mut lines: Vec<String> = capped
        .iter()
        .take(SHOWN)
        .map(|(pcap, n)| {
            format!(
                "PCAP CAPPED: {} at {}, {} later frames left out",
                truncate(pcap, 160),
                super::pcap_cap(),
                super::excerpt::count(*n)
            )
        })
        .collect();
    if capped.len() > SHOWN {
        lines.push(format!(
            "PCAP CAPPED: {} more pcaps (report.json lists them)",
            capped.len() - SHOWN
        ));
    }
    lines
}

/// The `n` slowest scenarios, with their times and requirements.
fn slowest(r: &Report, n: usize) -> Option<String> {
    let mut by: Vec<&super::ScenarioResult> =
        r.scenarios.iter().filter(|s| s.duration_ms > 0).collect();
    if by.is_empty() {
        return None;
    }
    by.sort_by_key(|s| std::cmp::Reverse(s.duration_ms));
    let items: Vec<String> = by
        .iter()
        .take(n)
        .map(|s| {
            format!(
                "{:.2} s {} {}",
                s.duration_ms as f64 / 1000.0,
                s.requirements.join(","),
                truncate(&s.name, 60)
            )
        })
        .collect();
    Some(format!("slowest: {}", items.join("; ")))
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
