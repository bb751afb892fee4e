//! JUnit XML: one `<testsuite>` per feature, one `<testcase>` per scenario.
//! A failure carries the requirement, what was expected, what came, and the
//! scenario's pcap, so a CI page shows the whole story. Failure and step
//! texts are capped as in every report (`excerpt`): a cut text ends
//! `… (N bytes cut)`, and the pcap named beside it holds the traffic.

use super::excerpt::{cap, FAILURE_BYTES, STEP_BYTES};
use super::{escape_xml, Report, ScenarioVerdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub fn render(r: &Report) -> String {
    let mut by_feature: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for s in &r.scenarios {
        by_feature.entry(s.feature.as_str()).or_default().push(s);
    }
    let mut out = String::new();
    let run_level = run_level_cases(r);
    let total = r.scenarios.len() + run_level.len();
    let failures = r.summary.scenarios.failed;
    let skipped = r.summary.scenarios.skipped;
    let errors = if run_level.is_empty() {
        String::new()
    } else {
        format!(r#" errors="{}""#, run_level.len())
    };
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="liaison: {}" tests="{total}" failures="{failures}"{errors} skipped="{skipped}" time="{:.3}">"#,
        escape_xml(&r.sut.name),
        r.duration_ms as f64 / 1000.0
    );
    run_level_suite(&mut out, r, &run_level);
    for (feature, scenarios) in by_feature {
        let f = scenarios
            .iter()
            .filter(|s| s.verdict == ScenarioVerdict::Failed)
            .count();
        let sk = scenarios
            .iter()
            .filter(|s| s.verdict == ScenarioVerdict::Skipped)
            .count();
        let t: u64 = scenarios.iter().map(|s| s.duration_ms).sum();
        let _ = writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{f}" skipped="{sk}" time="{:.3}">"#,
            escape_xml(feature),
            scenarios.len(),
            t as f64 / 1000.0
        );
        for s in scenarios {
            let _ = write!(
                out,
                r#"    <testcase classname="{}" name="{}" time="{:.3}""#,
                escape_xml(&s.requirements.join(" ")),
                escape_xml(&s.name),
                s.duration_ms as f64 / 1000.0
            );
            match s.verdict {
                ScenarioVerdict::Passed => {
                    let _ = writeln!(out, ">");
                }
                ScenarioVerdict::Failed => {
                    let msg = cap(s.failure.as_deref().unwrap_or("failed"), FAILURE_BYTES);
                    let first = msg.lines().next().unwrap_or("failed");
                    let _ = writeln!(out, ">");
                    let _ = writeln!(
                        out,
                        r#"      <failure message="{}" type="requirement">{}{}{}{}</failure>"#,
                        escape_xml(first),
                        escape_xml(&msg),
                        s.step
                            .as_ref()
                            .map(|st| format!("\nstep: {}", escape_xml(&cap(st, STEP_BYTES))))
                            .unwrap_or_default(),
                        if s.waived.is_empty() {
                            String::new()
                        } else {
                            format!("\nwaived for: {}", escape_xml(&s.waived.join(", ")))
                        },
                        s.pcap
                            .as_ref()
                            .map(|p| format!("\npcap: {}", escape_xml(p)))
                            .unwrap_or_default()
                    );
                }
                ScenarioVerdict::Skipped => {
                    let _ = writeln!(out, ">");
                    let _ = writeln!(
                        out,
                        r#"      <skipped message="{}"/>"#,
                        escape_xml(&cap(
                            s.failure.as_deref().unwrap_or("skipped"),
                            FAILURE_BYTES
                        ))
                    );
                }
            }
            if let Some(p) = &s.pcap {
                let _ = writeln!(
                    out,
                    "      <system-out>pcap: {}</system-out>",
                    escape_xml(p)
                );
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    let _ = writeln!(out, "</testsuites>");
    out
}

/// A run-level error: (test case name, message, error type, stderr lines).
type RunCase = (String, String, &'static str, Vec<String>);

/// What went wrong with the run itself, as error test cases: an
/// interruption (the report holds only the scenarios that finished) and
/// the SUT's death or unreachability (with the tail of its stderr).
fn run_level_cases(r: &Report) -> Vec<RunCase> {
    let mut out = Vec::new();
    if r.interrupted {
        out.push((
            "run interrupted".to_string(),
            "the run was interrupted: this report holds only the scenarios that finished"
                .to_string(),
            "interrupted",
            Vec::new(),
        ));
    }
    for (i, e) in r.sut_events() {
        let name = match e.kind {
            super::SutEventKind::Died => "SUT died",
            super::SutEventKind::ExitedBeforeReady => "SUT exited before the first scenario",
            super::SutEventKind::Unreachable => "SUT unreachable",
        };
        let name = if r.runs.len() > 1 {
            format!("{name} (run {i})")
        } else {
            name.to_string()
        };
        let tail = super::excerpt::stderr_tail(&e.stderr_tail);
        let tail = if tail.is_empty() { vec![] } else { vec![tail] };
        out.push((
            name,
            cap(&e.headline(), FAILURE_BYTES).into_owned(),
            "sut",
            tail,
        ));
    }
    out
}

/// The `<testsuite name="liaison run">` holding [`run_level_cases`], with
/// `interrupted` and `sut` properties a CI job can read.
fn run_level_suite(out: &mut String, r: &Report, cases: &[RunCase]) {
    if cases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        r#"  <testsuite name="liaison run" tests="{n}" failures="0" errors="{n}" skipped="0" time="0.000">"#,
        n = cases.len()
    );
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(
        out,
        r#"      <property name="interrupted" value="{}"/>"#,
        r.interrupted
    );
    for (_, e) in r.sut_events() {
        let kind = match e.kind {
            super::SutEventKind::Died => "died",
            super::SutEventKind::ExitedBeforeReady => "exited-before-ready",
            super::SutEventKind::Unreachable => "unreachable",
        };
        let _ = writeln!(out, r#"      <property name="sut" value="{kind}"/>"#);
    }
    let _ = writeln!(out, "    </properties>");
    for (name, msg, kind, stderr) in cases {
        let _ = writeln!(
            out,
            r#"    <testcase classname="liaison" name="{}" time="0.000">"#,
            escape_xml(name)
        );
        let _ = writeln!(
            out,
            r#"      <error message="{}" type="{kind}">{}</error>"#,
            escape_xml(msg),
            escape_xml(msg)
        );
        if !stderr.is_empty() {
            let _ = writeln!(
                out,
                "      <system-err>{}</system-err>",
                escape_xml(&stderr.join("\n"))
            );
        }
        let _ = writeln!(out, "    </testcase>");
    }
    let _ = writeln!(out, "  </testsuite>");
}
