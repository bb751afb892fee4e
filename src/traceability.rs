//! Traceability per enabler (seed 003): for each OMA enabler the IMS task
//! force names (PoC, Group Management, Presence, IM, SIP Push, STI), the
//! catalogue requirements that belong to it (their `enabler` field), the
//! scenarios that check them, and the IMS references they rest on (the refs
//! of its requirements in the IMS-alignment areas, [`IMS_AREAS`]: IMS-*,
//! and GM-*, PRES-*, POC-* of the enablers seed 003 puts first; not the
//! DR-* or PUSH-* refs of IM and SIP Push, which are their own protocols'
//! clauses); an enabler no requirement names is "not
//! covered", with the reason ([`uncovered_because`]). `liaison list` prints
//! [`text`]; the report shows [`html`].
//!
//! Plain data in, text out: no I/O here, so both the command line and the
//! report can use it.

use std::collections::BTreeSet;

use crate::catalogue::{Catalogue, Level, ENABLERS};

/// The catalogue areas whose refs are an enabler's IMS references: seed
/// 003's alignment of the enablers with the IMS (IMS-*), and the enablers it
/// puts first (GM-*, PRES-*, POC-*).
pub const IMS_AREAS: &[&str] = &["IMS", "GM", "PRES", "POC"];

/// A scenario as traceability sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioRef {
    pub name: String,
    pub requirements: Vec<String>,
    /// Its verdict in a run (`passed`, `failed`, `skipped`), None for a listing.
    pub verdict: Option<String>,
}

/// One requirement of an enabler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementTrace {
    pub id: String,
    pub level: Level,
    pub title: String,
    /// Names of the scenarios that check it (with verdicts in a run).
    pub scenarios: Vec<(String, Option<String>)>,
    /// Why it has none yet (its `pending` or `untestable_because`).
    pub reason: Option<String>,
}

/// One enabler's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnablerTrace {
    pub enabler: &'static str,
    pub requirements: Vec<RequirementTrace>,
    /// The IMS references (3GPP, IETF) its requirements of [`IMS_AREAS`] rest on.
    pub ims_refs: Vec<String>,
}

impl EnablerTrace {
    /// Not covered: no requirement names the enabler.
    pub fn covered(&self) -> bool {
        !self.requirements.is_empty()
    }
}

/// The trace of every enabler of seed 003, in the seed's order.
pub fn trace(cat: &Catalogue, scenarios: &[ScenarioRef]) -> Vec<EnablerTrace> {
    ENABLERS
        .iter()
        .map(|&enabler| {
            let reqs: Vec<_> = cat
                .requirements
                .iter()
                .filter(|r| r.enabler.as_deref() == Some(enabler))
                .collect();
            let mut refs = BTreeSet::new();
            let in_ims_area = |id: &str| IMS_AREAS.iter().any(|a| id.split('-').next() == Some(*a));
            for r in reqs.iter().filter(|r| in_ims_area(&r.id)) {
                refs.extend(r.refs.iter().cloned());
            }
            EnablerTrace {
                enabler,
                requirements: reqs
                    .iter()
                    .map(|r| RequirementTrace {
                        id: r.id.clone(),
                        level: r.level,
                        title: r.title.clone(),
                        scenarios: scenarios
                            .iter()
                            .filter(|s| s.requirements.contains(&r.id))
                            .map(|s| (s.name.clone(), s.verdict.clone()))
                            .collect(),
                        reason: r.pending.clone().or_else(|| r.untestable_because.clone()),
                    })
                    .collect(),
                ims_refs: refs.into_iter().collect(),
            }
        })
        .collect()
}

/// Why an enabler no requirement names is not covered (seed 003, "3)
/// Areas that need further investigation" lists each): said wherever
/// "not covered" is, so that an absence is never silent.
pub fn uncovered_because(enabler: &str) -> &'static str {
    match enabler {
        "STI" => {
            "the Standard Transcoding Interface (OMA BAC) is a request/response interface between an application and a transcoding server, with no SIP or IMS signalling of its own: the seed lists it for study, with nothing on the IMS's use to check on the wire"
        }
        _ => {
            "no requirement yet: its IMS signalling (through the core, identity asserted by the network) is a later issue's work"
        }
    }
}

/// The per-enabler section of `liaison list`.
pub fn text(traces: &[EnablerTrace]) -> String {
    let mut out = String::from("Per enabler (seed 003: enablers over the IMS)\n");
    for t in traces {
        if !t.covered() {
            out.push_str(&format!(
                "{}: not covered: {}\n",
                t.enabler,
                uncovered_because(t.enabler)
            ));
            continue;
        }
        let checked = t
            .requirements
            .iter()
            .filter(|r| !r.scenarios.is_empty())
            .count();
        out.push_str(&format!(
            "{}: {} requirements, {checked} with scenarios\n",
            t.enabler,
            t.requirements.len()
        ));
        out.push_str(&format!(
            "    IMS references: {}\n",
            if t.ims_refs.is_empty() {
                "none".to_string()
            } else {
                t.ims_refs.join("; ")
            }
        ));
        for r in &t.requirements {
            // Every requirement without a scenario has a reason (the
            // catalogue test); none here means its scenarios did not run.
            let what = if r.scenarios.is_empty() {
                match r.reason.as_deref() {
                    Some(why) => format!("no scenario ({why})"),
                    None => "not run (not this SUT's roles or capabilities)".to_string(),
                }
            } else {
                format!("{} scenario(s)", r.scenarios.len())
            };
            out.push_str(&format!(
                "    {} [{}] {} — {what}\n",
                r.id, r.level, r.title
            ));
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The per-enabler section of the HTML report: one self-contained
/// `<section id="enablers">` (no scripts, no external styles) to place in
/// the report body.
pub fn html(traces: &[EnablerTrace]) -> String {
    let mut out = String::from(
        "<section id=\"enablers\">\n<h2>Per enabler (seed 003: OMA enablers over the IMS)</h2>\n",
    );
    for t in traces {
        out.push_str(&format!("<h3>{}</h3>\n", esc(t.enabler)));
        if !t.covered() {
            out.push_str(&format!(
                "<p class=\"not-covered\"><strong>Not covered</strong>: {}.</p>\n",
                esc(uncovered_because(t.enabler))
            ));
            continue;
        }
        out.push_str(&format!(
            "<p>IMS references: {}</p>\n",
            if t.ims_refs.is_empty() {
                "none".to_string()
            } else {
                esc(&t.ims_refs.join("; "))
            }
        ));
        out.push_str("<table>\n<tr><th>requirement</th><th>level</th><th>title</th><th>scenarios</th></tr>\n");
        for r in &t.requirements {
            let cell = if r.scenarios.is_empty() {
                match r.reason.as_deref() {
                    Some(why) => format!("no scenario: {}", esc(why)),
                    None => "not run (not this SUT's roles or capabilities)".to_string(),
                }
            } else {
                r.scenarios
                    .iter()
                    .map(|(n, v)| match v {
                        Some(v) => format!("{} ({})", esc(n), esc(v)),
                        None => esc(n),
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{cell}</td></tr>\n",
                esc(&r.id),
                r.level,
                esc(&r.title)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
    out
}

/// The scenarios of a run's report, for [`trace`].
pub fn from_report(report: &crate::report::Report) -> Vec<ScenarioRef> {
    report
        .scenarios
        .iter()
        .map(|s| ScenarioRef {
            name: s.name.clone(),
            requirements: s.requirements.clone(),
            verdict: Some(
                serde_json::to_value(s.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enabler_is_traced_and_the_uncovered_say_so() {
        let cat = Catalogue::embedded().unwrap();
        let sc = vec![ScenarioRef {
            name: "s".into(),
            requirements: vec!["IMS-9".into()],
            verdict: Some("passed".into()),
        }];
        let t = trace(&cat, &sc);
        assert_eq!(t.len(), 6);
        let im = t.iter().find(|e| e.enabler == "IM").unwrap();
        assert!(im.covered());
        assert!(im.ims_refs.iter().any(|r| r.contains("RFC 3325")));
        let ims9 = im.requirements.iter().find(|r| r.id == "IMS-9").unwrap();
        assert_eq!(
            ims9.scenarios,
            vec![("s".to_string(), Some("passed".into()))]
        );
        // The enablers seed 003 puts first are covered, with the IMS
        // references of their own areas (GM-*, PRES-*, POC-*).
        for (e, area, r) in [
            ("PoC", "POC-", "RFC 3325"),
            ("Group Management", "GM-", "RFC 4825"),
            ("Presence", "PRES-", "RFC 3903"),
        ] {
            let x = t.iter().find(|x| x.enabler == e).unwrap();
            assert!(x.covered(), "{e}");
            assert!(x.requirements.iter().all(|q| q.id.starts_with(area)), "{e}");
            assert!(
                x.ims_refs.iter().any(|x| x.contains(r)),
                "{e}: {:?}",
                x.ims_refs
            );
        }
        // IM's IMS references are the IMS-* ones, not its DR-* clauses.
        assert!(
            !im.ims_refs.iter().any(|r| r.contains("RFC 4975")),
            "{:?}",
            im.ims_refs
        );
        assert!(!t.iter().find(|x| x.enabler == "STI").unwrap().covered());
        let txt = text(&t);
        assert!(
            txt.contains("STI: not covered: the Standard Transcoding Interface"),
            "{txt}"
        );
        assert!(txt.contains("SIP Push: "), "{txt}");
        let h = html(&t);
        assert!(h.starts_with("<section id=\"enablers\">"));
        assert!(h.contains("<h3>STI</h3>\n<p class=\"not-covered\">"));
        assert!(!h.contains("<script"));
    }
}
