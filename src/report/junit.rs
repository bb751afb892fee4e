//! JUnit XML: one `<testsuite>` per feature, one `<testcase>` per scenario.
//! A failure carries the requirement, what was expected, what came, and the
//! scenario's pcap, so a CI page shows the whole story.

use super::{escape_xml, Report, ScenarioVerdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub fn render(r: &Report) -> String {
    let mut by_feature: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for s in &r.scenarios {
        by_feature.entry(s.feature.as_str()).or_default().push(s);
    }
    let mut out = String::new();
    let total = r.scenarios.len();
    let failures = r.summary.scenarios.failed;
    let skipped = r.summary.scenarios.skipped;
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="liaison: {}" tests="{total}" failures="{failures}" skipped="{skipped}" time="{:.3}">"#,
        escape_xml(&r.sut.name),
        r.duration_ms as f64 / 1000.0
    );
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
                    let msg = s.failure.as_deref().unwrap_or("failed");
                    let first = msg.lines().next().unwrap_or("failed");
                    let _ = writeln!(out, ">");
                    let _ = writeln!(
                        out,
                        r#"      <failure message="{}" type="requirement">{}{}{}{}</failure>"#,
                        escape_xml(first),
                        escape_xml(msg),
                        s.step
                            .as_ref()
                            .map(|st| format!("\nstep: {}", escape_xml(st)))
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
                        escape_xml(s.failure.as_deref().unwrap_or("skipped"))
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
