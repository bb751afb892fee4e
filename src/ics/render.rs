//! The statement for people: Markdown tables, a self-contained HTML page,
//! and the collapsed section report.html shows.

use std::fmt::Write as _;

use super::{Applicability, Item, Statement};
use crate::report::escape_xml as esc;

/// One Markdown table cell: no line breaks, pipes escaped.
fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// The legend of the status column (after the ETSI PICS proformas).
pub const STATUS_LEGEND: &str = "M mandatory (MUST) · O optional (SHOULD, MAY) · C conditional (the condition says when it is M or O) · I informative (out of test)";

fn applies_word(i: &Item) -> &'static str {
    match i.applicability {
        Applicability::Applies => "yes",
        Applicability::NotApplicable => "N/A",
        Applicability::Informative => "informative",
        Applicability::NoScenario => "no scenario",
    }
}

fn scenario_count(i: &Item) -> String {
    if i.scenarios.is_empty() {
        "—".into()
    } else {
        format!(
            "{} of {}",
            i.scenarios.iter().filter(|s| s.applies).count(),
            i.scenarios.len()
        )
    }
}

fn summary_line(s: &Statement) -> String {
    let c = &s.summary;
    format!(
        "{} requirements: {} apply to this SUT, {} not applicable, {} informative (not testable), {} without a scenario yet. {} of {} scenarios apply.",
        c.requirements,
        c.applies,
        c.not_applicable,
        c.informative,
        c.no_scenario,
        c.scenarios_applicable,
        c.scenarios
    )
}

/// The statement as Markdown.
pub fn markdown(s: &Statement) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Implementation conformance statement: {}\n",
        cell(&s.sut.name)
    );
    o.push_str("| | |\n|---|---|\n");
    let _ = writeln!(
        o,
        "| Suite | liaison {} (revision {}) |",
        cell(&s.suite.version),
        cell(&s.suite.revision)
    );
    let _ = writeln!(
        o,
        "| Catalogue digest | {} |",
        cell(&s.suite.catalogue_digest)
    );
    let _ = writeln!(o, "| SUT profile | {} |", cell(&s.sut.profile));
    let _ = writeln!(o, "| Roles | {} |", cell(&s.sut.roles.join(", ")));
    let _ = writeln!(
        o,
        "| Capabilities that hold | {} |",
        cell(&none_dash(&s.sut.capabilities.join(", ")))
    );
    if let Some(t) = &s.run_tags {
        let _ = writeln!(o, "| The run's --tags | `{}` |", cell(t));
    }
    let _ = writeln!(o, "\n{}\n", summary_line(s));
    let _ = writeln!(o, "Status: {STATUS_LEGEND}.\n");

    o.push_str("## Requirements\n\n");
    o.push_str("| ID | Title | Level | Status | Roles | Applies | Why | Scenarios applying |\n|---|---|---|---|---|---|---|---|\n");
    for i in &s.requirements {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&i.id),
            cell(&i.title),
            i.level,
            i.status,
            cell(&none_dash(&i.roles.join(", "))),
            applies_word(i),
            cell(&none_dash(&i.reasons.join("; "))),
            scenario_count(i)
        );
    }

    let conditional: Vec<&Item> = s
        .requirements
        .iter()
        .filter(|i| i.condition.is_some())
        .collect();
    if !conditional.is_empty() {
        o.push_str("\n## Conditions\n\n| ID | Condition |\n|---|---|\n");
        for i in conditional {
            let _ = writeln!(
                o,
                "| {} | {} |",
                cell(&i.id),
                cell(i.condition.as_deref().unwrap_or(""))
            );
        }
    }

    o.push_str("\n## Requirements to scenarios\n\n");
    o.push_str("Each requirement's source (seed document and place, specification clauses) and every scenario that checks it; a scenario that does not apply to this SUT says why.\n");
    for i in &s.requirements {
        let _ = writeln!(
            o,
            "\n### {} — {}\n\n{} · {}, {}{}\n",
            i.id,
            i.title,
            i.level,
            i.document,
            i.place,
            if i.refs.is_empty() {
                String::new()
            } else {
                format!(" · {}", i.refs.join("; "))
            }
        );
        if i.scenarios.is_empty() {
            let _ = writeln!(o, "- no scenario: {}", none_dash(&i.reasons.join("; ")));
        }
        for sc in &i.scenarios {
            let _ = writeln!(
                o,
                "- {} `{}:{}` {}{}",
                if sc.applies { "applies:" } else { "N/A:" },
                sc.file,
                sc.line,
                sc.name,
                if sc.applies {
                    String::new()
                } else {
                    format!(" — {}", sc.reasons.join("; "))
                }
            );
        }
    }

    o.push_str("\n## PIXIT: the profile's fields\n\n| Field | Value |\n|---|---|\n");
    for f in &s.pixit {
        let _ = writeln!(
            o,
            "| `{}` | {} |",
            cell(&f.field),
            cell(&none_dash(&f.value))
        );
    }
    o
}

fn none_dash(s: &str) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s.to_string()
    }
}

/// The requirement and PIXIT tables as HTML (no page around them).
fn tables(s: &Statement, o: &mut String) {
    let _ = write!(
        o,
        "<p>{}</p><p class=\"soft\">Status: {}.</p>",
        esc(&summary_line(s)),
        esc(STATUS_LEGEND)
    );
    o.push_str("<table class=\"ics\"><thead><tr><th>ID</th><th>Title</th><th>Level</th><th>Status</th><th>Roles</th><th>Applies</th><th>Why</th><th>Scenarios</th></tr></thead><tbody>");
    for i in &s.requirements {
        let scen = i
            .scenarios
            .iter()
            .map(|sc| {
                format!(
                    "<li class=\"{}\">{}:{} {}{}</li>",
                    if sc.applies { "ap" } else { "na" },
                    esc(&sc.file),
                    sc.line,
                    esc(&sc.name),
                    if sc.applies {
                        String::new()
                    } else {
                        format!(" <em>(N/A: {})</em>", esc(&sc.reasons.join("; ")))
                    }
                )
            })
            .collect::<String>();
        let _ = write!(
            o,
            "<tr class=\"ics-{}\"><td class=\"id\">{}</td><td>{}</td><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            match i.applicability {
                Applicability::Applies => "ap",
                Applicability::NotApplicable => "na",
                Applicability::Informative => "inf",
                Applicability::NoScenario => "ns",
            },
            esc(&i.id),
            esc(&i.title),
            i.level,
            esc(i.condition.as_deref().unwrap_or("")),
            esc(&i.status),
            esc(&none_dash(&i.roles.join(", "))),
            applies_word(i),
            esc(&none_dash(&i.reasons.join("; "))),
            if scen.is_empty() {
                "—".to_string()
            } else {
                format!(
                    "<details><summary>{}</summary><ul class=\"icsl\">{scen}</ul></details>",
                    esc(&scenario_count(i))
                )
            }
        );
    }
    o.push_str("</tbody></table>");
    let conditional: Vec<&Item> = s
        .requirements
        .iter()
        .filter(|i| i.condition.is_some())
        .collect();
    if !conditional.is_empty() {
        o.push_str("<h3>Conditions</h3><table class=\"ics-cond\"><thead><tr><th>ID</th><th>Condition</th></tr></thead><tbody>");
        for i in conditional {
            let _ = write!(
                o,
                "<tr><td class=\"id\">{}</td><td>{}</td></tr>",
                esc(&i.id),
                esc(i.condition.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("<h3>PIXIT: the profile's fields</h3><table class=\"pixit\"><thead><tr><th>Field</th><th>Value</th></tr></thead><tbody>");
    for f in &s.pixit {
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(&f.field),
            esc(&f.value)
        );
    }
    o.push_str("</tbody></table>");
}

/// report.html's section: collapsed, one per run that has a statement.
pub fn report_section(statements: &[(&str, &Statement)]) -> String {
    if statements.is_empty() {
        return String::new();
    }
    let mut o = String::from("<section id=\"ics\"><h2>Conformance statement</h2>");
    for (label, s) in statements {
        let _ = write!(
            o,
            "<details class=\"ics\"><summary>{}{} — {} of {} requirements apply, {} not applicable (ics.json, ics.md)</summary>",
            esc(&s.sut.name),
            if label.is_empty() {
                String::new()
            } else {
                format!(" <small>{}</small>", esc(label))
            },
            s.summary.applies,
            s.summary.requirements,
            s.summary.not_applicable
        );
        tables(s, &mut o);
        o.push_str("</details>");
    }
    o.push_str("</section>\n");
    o
}

/// The statement as a self-contained HTML page (no script, no outside
/// resource).
pub fn html(s: &Statement) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>{} · implementation conformance statement · liaison</title><style>{PAGE_STYLE}{SECTION_STYLE}</style></head><body><main>",
        esc(&s.sut.name)
    );
    let _ = write!(
        o,
        "<h1>Implementation conformance statement: {}</h1><table class=\"meta\"><tbody>\
<tr><th>Suite</th><td>liaison {} (revision {})</td></tr>\
<tr><th>Catalogue digest</th><td>{}</td></tr>\
<tr><th>SUT profile</th><td>{}</td></tr>\
<tr><th>Roles</th><td>{}</td></tr>\
<tr><th>Capabilities that hold</th><td>{}</td></tr>{}</tbody></table>",
        esc(&s.sut.name),
        esc(&s.suite.version),
        esc(&s.suite.revision),
        esc(&s.suite.catalogue_digest),
        esc(&s.sut.profile),
        esc(&s.sut.roles.join(", ")),
        esc(&none_dash(&s.sut.capabilities.join(", "))),
        s.run_tags
            .as_ref()
            .map(|t| format!(
                "<tr><th>The run's --tags</th><td><code>{}</code></td></tr>",
                esc(t)
            ))
            .unwrap_or_default()
    );
    o.push_str("<h2>Requirements</h2>");
    tables(s, &mut o);
    o.push_str("</main></body></html>\n");
    o
}

const PAGE_STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .45em;text-align:left;vertical-align:top}th{background:#f3f3f3}.meta th{width:14em}";

/// Also used by report.html (which has its own page style).
pub const SECTION_STYLE: &str = ".ics td.id{white-space:nowrap;font-weight:600}.ics tr.ics-na td,.ics li.na{color:#777}.ics tr.ics-inf td{color:#555;font-style:italic}.ics tr.ics-ns td:nth-child(6){color:#a60}ul.icsl{margin:0;padding-left:1.1em;font-size:12px}.soft{color:#666}.pixit td{font-size:12px}";
