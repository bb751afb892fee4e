//! A plain, self-contained `report.html` (one file, no network fetches): the
//! requirement matrix and the scenarios with their failures and pcaps.

use super::{escape_xml as esc, Report};
use std::fmt::Write as _;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>liaison — {}</title>\n<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}}.passed{{background:#e6f4e6}}.failed{{background:#fbe3e3}}.waived{{background:#fff4d6}}.not-run,.informative,.skipped{{background:#f2f2f2}}pre{{white-space:pre-wrap;margin:0}}</style></head><body>\n",
        esc(&r.sut.name)
    );
    let s = &r.summary;
    let _ = writeln!(
        out,
        "<h1>liaison {} — {}</h1><p>Profile {} · roles {} · started {} · {:.2} s{}</p>",
        esc(&r.suite.version),
        esc(&r.sut.name),
        esc(&r.sut.profile),
        esc(&r.sut.roles.join(", ")),
        esc(&r.started),
        r.duration_ms as f64 / 1000.0,
        if r.interrupted {
            " · <b>interrupted</b>"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "<p>Scenarios: {} passed, {} failed, {} skipped. Requirements: {} passed, {} failed, {} waived, {} not run.</p>",
        s.scenarios.passed,
        s.scenarios.failed,
        s.scenarios.skipped,
        s.requirements.passed,
        s.requirements.failed,
        s.requirements.waived,
        s.requirements.not_run
    );
    let _ = writeln!(out, "<h2>Requirements</h2><table><tr><th>ID</th><th>Level</th><th>Source</th><th>Verdict</th><th>Scenarios / note</th></tr>");
    for q in &r.requirements {
        let extra = q
            .waiver
            .as_ref()
            .map(|w| format!("waived: {w}"))
            .or_else(|| q.note.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr class=\"{v}\"><td id=\"{id}\">{id}</td><td>{}</td><td>{}</td><td>{v}</td><td>{}{}</td></tr>",
            q.level,
            esc(&q.source),
            esc(&q.scenarios.join("; ")),
            if extra.is_empty() { String::new() } else { format!("<br><i>{}</i>", esc(&extra)) },
            v = q.verdict.as_str(),
            id = esc(&q.id)
        );
    }
    let _ = writeln!(out, "</table><h2>Scenarios</h2><table><tr><th>Feature</th><th>Scenario</th><th>Requirements</th><th>Verdict</th><th>ms</th><th>Failure</th><th>pcap</th></tr>");
    for sc in &r.scenarios {
        let v = match sc.verdict {
            super::ScenarioVerdict::Passed => "passed",
            super::ScenarioVerdict::Failed => "failed",
            super::ScenarioVerdict::Skipped => "skipped",
        };
        let _ = writeln!(
            out,
            "<tr class=\"{v}\"><td>{}</td><td>{}</td><td>{}</td><td>{v}</td><td>{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            esc(&sc.feature),
            esc(&sc.name),
            esc(&sc.requirements.join(" ")),
            sc.duration_ms,
            esc(sc.failure.as_deref().unwrap_or("")),
            sc.pcap
                .as_ref()
                .map(|p| format!("<a href=\"{0}\">{0}</a>", esc(p)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "</table></body></html>");
    out
}
