//! Test purposes, in the manner of ETSI TPLan (ES 202 553) and OMA ETS
//! test-case descriptions: one per scenario (per example row of an
//! outline), drawn from the catalogue and the feature files, so that what
//! is tested can be read without reading Rust.
//!
//! The ID is `TP/<REQ>/<nn>`: `REQ` the scenario's first requirement tag,
//! `nn` its place (from 01) among the scenarios with that first tag, in
//! the order files are read (sorted paths, then line): stable while the
//! feature files do not change, unique by construction.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Level};
use crate::profile::Profile;
use crate::runner::{self, ScenarioInfo};

/// One test purpose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestPurpose {
    pub id: String,
    /// The scenario's name: what it shows (an outline row's values put in).
    pub objective: String,
    /// An outline row's values (`column=value`), empty for a plain scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub example: Vec<String>,
    /// Feature and place of the scenario (`file:line`).
    pub feature: String,
    pub file: String,
    pub line: usize,
    /// The requirements it checks, each with its source.
    pub references: Vec<Reference>,
    /// What a SUT must be for it to apply (roles, transports, capabilities).
    pub applicability: Vec<String>,
    /// Background and Given steps.
    pub preconditions: Vec<String>,
    /// When steps: what the tester does.
    pub steps: Vec<String>,
    /// Then steps: what must be observed for a pass.
    pub pass_criteria: Vec<String>,
    /// With `--sut`: whether it applies to that SUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<bool>,
    /// With `--sut`: why not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable_because: Vec<String>,
}

/// A requirement a test purpose checks, with its source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reference {
    pub requirement: String,
    pub title: String,
    pub level: Level,
    /// Seed document and the place in it.
    pub document: String,
    pub place: String,
    /// Specification clauses (RFC, OMA, 3GPP).
    pub refs: Vec<String>,
    /// The requirement's text: what the pass criterion stands for.
    pub statement: String,
}

/// The test purposes document (`liaison list --format json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestPurposes {
    pub schema: u32,
    pub suite_version: String,
    pub catalogue_digest: String,
    /// The SUT's name, with `--sut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sut: Option<String>,
    /// Each feature file once: its name and description (the context its
    /// test purposes share, often with the specification clauses).
    pub features: Vec<FeatureInfo>,
    pub test_purposes: Vec<TestPurpose>,
}

/// A feature file as its test purposes' context.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeatureInfo {
    pub file: String,
    pub name: String,
    pub description: String,
}

/// Builds every test purpose, in file order.
pub fn build(cat: &Catalogue, all: &[ScenarioInfo], profile: Option<&Profile>) -> TestPurposes {
    let mut next: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut features: Vec<FeatureInfo> = Vec::new();
    for s in all {
        if features.last().is_none_or(|f| f.file != s.file) {
            features.push(FeatureInfo {
                file: s.file.clone(),
                name: s.feature.clone(),
                description: s
                    .feature_description
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        let reqs = s.requirements();
        let first = reqs.first().cloned().unwrap_or_else(|| "NONE".into());
        let n = next.entry(first.clone()).or_insert(0);
        *n += 1;
        let id = format!("TP/{first}/{:02}", *n);
        let references = reqs
            .iter()
            .filter_map(|r| cat.get(r))
            .map(|r| Reference {
                requirement: r.id.clone(),
                title: r.title.clone(),
                level: r.level,
                document: r.source.document.clone(),
                place: r.source.place.clone(),
                refs: r.refs.clone(),
                statement: r.statement.split_whitespace().collect::<Vec<_>>().join(" "),
            })
            .collect();
        let mut pre = Vec::new();
        let mut steps = Vec::new();
        let mut pass = Vec::new();
        for st in &s.steps {
            let line = st.text.clone();
            match st.kind {
                _ if st.background => pre.push(line),
                "Given" => pre.push(line),
                "When" => steps.push(line),
                _ => pass.push(line),
            }
        }
        let (applies, why) = match profile {
            Some(p) => {
                let why = runner::exclusions(&s.tags, p);
                (Some(why.is_empty()), why)
            }
            None => (None, Vec::new()),
        };
        let objective = s
            .example
            .iter()
            .fold(s.name.clone(), |n, (h, v)| n.replace(&format!("<{h}>"), v));
        out.push(TestPurpose {
            id,
            objective,
            example: s.example.iter().map(|(h, v)| format!("{h}={v}")).collect(),
            feature: s.feature.clone(),
            file: s.file.clone(),
            line: s.line,
            references,
            applicability: s
                .tags
                .iter()
                .filter_map(|t| super::tag_in_words(t))
                .collect(),
            preconditions: pre,
            steps,
            pass_criteria: pass,
            applies,
            not_applicable_because: why,
        });
    }
    TestPurposes {
        schema: super::SCHEMA,
        suite_version: crate::build_info::VERSION.to_string(),
        catalogue_digest: crate::build_info::catalogue_digest(),
        sut: profile.map(|p| p.name.clone()),
        features,
        test_purposes: out,
    }
}

/// The test purposes as Markdown: per feature, its description once, then
/// one table per test purpose.
pub fn markdown(t: &TestPurposes) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Test purposes\n\nliaison {} · catalogue digest {}{}\n",
        t.suite_version,
        t.catalogue_digest,
        t.sut
            .as_ref()
            .map(|s| format!(" · applicability to the SUT {s}"))
            .unwrap_or_default()
    );
    o.push_str("Each test purpose is one scenario of the feature files (one example row of an outline). Pre-conditions are the Background and Given steps, the test steps the When steps, the pass criteria the Then steps; the reference is the requirement of the catalogue it checks, with its source.\n");
    // The index: one line per test purpose.
    let with_sut = t.sut.is_some();
    o.push_str("\n## Index\n\n| ID | Objective | Checks |");
    o.push_str(if with_sut {
        " Applies |\n|---|---|---|---|\n"
    } else {
        "\n|---|---|---|\n"
    });
    for tp in &t.test_purposes {
        let _ = write!(
            o,
            "| [{}](#{}) | {} | {} |",
            tp.id,
            anchor(&tp.id),
            tp.objective.replace('|', "\\|"),
            tp.references
                .iter()
                .map(|r| r.requirement.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if with_sut {
            let _ = write!(
                o,
                " {} |",
                if tp.applies == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            );
        }
        o.push('\n');
    }
    let mut feature = "";
    for tp in &t.test_purposes {
        if tp.file != feature {
            feature = &tp.file;
            let _ = writeln!(o, "\n## {} (`{}`)\n", tp.feature, tp.file);
            if let Some(f) = t.features.iter().find(|f| f.file == tp.file)
                && !f.description.is_empty()
            {
                let _ = writeln!(o, "{}\n", f.description);
            }
        }
        let _ = writeln!(o, "### {}\n", tp.id);
        o.push_str("| | |\n|---|---|\n");
        let row = |o: &mut String, k: &str, v: &str| {
            let _ = writeln!(
                o,
                "| {k} | {} |",
                v.replace(['\n', '\r'], " ").replace('|', "\\|")
            );
        };
        row(&mut o, "Objective", &tp.objective);
        row(&mut o, "Scenario", &format!("`{}:{}`", tp.file, tp.line));
        if !tp.example.is_empty() {
            row(&mut o, "Example row", &tp.example.join(", "));
        }
        for r in &tp.references {
            row(
                &mut o,
                "Reference",
                &format!(
                    "{} ({}) — {}, {}{}",
                    r.requirement,
                    r.level,
                    r.document,
                    r.place,
                    if r.refs.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", r.refs.join("; "))
                    }
                ),
            );
        }
        row(&mut o, "Applicability", &tp.applicability.join(" AND "));
        if let Some(a) = tp.applies {
            row(
                &mut o,
                "Applies to the SUT",
                &if a {
                    "yes".to_string()
                } else {
                    format!("no — {}", tp.not_applicable_because.join("; "))
                },
            );
        }
        row(&mut o, "Pre-conditions", &list(&tp.preconditions));
        row(&mut o, "Test steps", &list(&tp.steps));
        row(&mut o, "Pass criteria", &list(&tp.pass_criteria));
        for r in &tp.references {
            row(&mut o, &format!("{} requires", r.requirement), &r.statement);
        }
        o.push('\n');
    }
    o
}

/// The anchor a Markdown renderer gives the heading `### TP/DR-1/01`
/// (GitHub's rule: lower case, punctuation but `-` dropped).
fn anchor(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ')
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "—".into();
    }
    items
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect::<Vec<_>>()
        .join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_cover_every_scenario() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let all = runner::scenarios(&runner::load_features(&dir).unwrap());
        let cat = Catalogue::embedded().unwrap();
        let t = build(&cat, &all, None);
        assert_eq!(t.test_purposes.len(), all.len());
        let ids: std::collections::BTreeSet<&str> =
            t.test_purposes.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids.len(), all.len(), "duplicate TP IDs");
        let dr1 = &t
            .test_purposes
            .iter()
            .find(|x| x.id == "TP/DR-1/01")
            .unwrap();
        assert_eq!(dr1.objective, "A text/plain MESSAGE is answered 200 OK");
        assert_eq!(dr1.preconditions, ["the SUT plays the role \"im-client\""]);
        assert_eq!(dr1.pass_criteria, ["the final response is 200"]);
        assert!(dr1.references[0]
            .refs
            .iter()
            .any(|r| r.starts_with("RFC 3428")));
        // Outline rows: their placeholders are filled in.
        let rows: Vec<&TestPurpose> = t
            .test_purposes
            .iter()
            .filter(|x| !x.example.is_empty())
            .collect();
        assert!(!rows.is_empty());
        for x in rows {
            for (h, _) in all
                .iter()
                .find(|s| s.file == x.file && s.line == x.line)
                .unwrap()
                .example
                .iter()
            {
                let p = format!("<{h}>");
                assert!(!x.objective.contains(&p), "{x:?}");
                assert!(
                    x.preconditions
                        .iter()
                        .chain(&x.steps)
                        .chain(&x.pass_criteria)
                        .all(|s| !s.contains(&p)),
                    "{x:?}"
                );
            }
        }
    }
}
