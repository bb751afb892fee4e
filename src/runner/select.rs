//! Which scenarios run: feature files, tags, the SUT's roles and
//! capabilities, and a `--tags` expression that must name known tags.

use std::path::{Path, PathBuf};

use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;

use super::UsageError;
use crate::catalogue::Catalogue;
use crate::net::Transport;
use crate::profile::Profile;
use crate::report::Report;

/// Where the feature files are: `--features`, else `./features` (an
/// author's working copy), else the ones compiled into the binary
/// ([`super::embedded`]), so that the binary needs no source tree.
pub fn features_dir(opt: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = opt {
        return Ok(p.to_path_buf());
    }
    let local = PathBuf::from("features");
    if local.join("requirements.yaml").exists() {
        Ok(local)
    } else {
        super::embedded::materialize()
    }
}

/// The transports a scenario may require (`@transport:NAME`); any other
/// name is an unknown tag, never a scenario silently left out.
pub const TRANSPORT_TAGS: &[&str] = &["udp", "tcp", "tls", "ws"];

/// A scenario as selection sees it.
#[derive(Debug, Clone)]
pub struct ScenarioInfo {
    pub feature: String,
    pub file: String,
    pub name: String,
    pub line: usize,
    pub tags: Vec<String>,
    /// One example row of a Scenario Outline.
    pub outline: bool,
    /// Its steps, Background first (an outline's with the row's values put
    /// in), for the test purposes (`liaison list --format md`).
    pub steps: Vec<ScenarioStep>,
    /// The feature's description (its free text under `Feature:`).
    pub feature_description: String,
    /// An outline row's values by column (empty for a plain scenario).
    pub example: Vec<(String, String)>,
}

/// One step of a scenario as written (a docstring or table left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioStep {
    /// From the feature's (or rule's) Background.
    pub background: bool,
    /// Given, When or Then (`And`/`But` take the type before them).
    pub kind: &'static str,
    pub text: String,
}

fn step_kind(ty: cucumber::gherkin::StepType) -> &'static str {
    match ty {
        cucumber::gherkin::StepType::Given => "Given",
        cucumber::gherkin::StepType::When => "When",
        cucumber::gherkin::StepType::Then => "Then",
    }
}

impl ScenarioInfo {
    pub fn requirements(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| Catalogue::looks_like_id(t))
            .cloned()
            .collect()
    }
}

/// Reads every `.feature` file under `dir` (sorted) with the gherkin parser.
pub fn load_features(dir: &Path) -> Result<Vec<cucumber::gherkin::Feature>, String> {
    let mut files = Vec::new();
    collect_features(dir, &mut files).map_err(|e| format!("features {}: {e}", dir.display()))?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let feat =
            cucumber::gherkin::Feature::parse_path(&f, cucumber::gherkin::GherkinEnv::default())
                .map_err(|e| format!("{}: {e}", f.display()))?;
        out.push(feat);
    }
    Ok(out)
}

fn collect_features(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect_features(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "feature") {
            out.push(p);
        }
    }
    Ok(())
}

/// Every scenario (outline examples expanded by row) with its effective tags.
pub fn scenarios(features: &[cucumber::gherkin::Feature]) -> Vec<ScenarioInfo> {
    let mut out = Vec::new();
    for f in features {
        let file = f
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let description = f.description.clone().unwrap_or_default();
        let mut push = |sc: &cucumber::gherkin::Scenario,
                        extra: &[String],
                        rule_bg: Option<&cucumber::gherkin::Background>| {
            let steps = |row: Option<(&[String], &[String])>| -> Vec<ScenarioStep> {
                let fill = |t: &str| match row {
                    Some((head, vals)) => head
                        .iter()
                        .zip(vals)
                        .fold(t.to_string(), |t, (h, v)| t.replace(&format!("<{h}>"), v)),
                    None => t.to_string(),
                };
                let bg = f.background.iter().chain(rule_bg).flat_map(|b| &b.steps);
                bg.map(|st| (true, st))
                    .chain(sc.steps.iter().map(|st| (false, st)))
                    .map(|(background, st)| ScenarioStep {
                        background,
                        kind: step_kind(st.ty),
                        text: fill(&st.value),
                    })
                    .collect()
            };
            let mut tags: Vec<String> = f.tags.clone();
            tags.extend(extra.iter().cloned());
            tags.extend(sc.tags.iter().cloned());
            if sc.examples.is_empty() {
                out.push(ScenarioInfo {
                    feature: f.name.clone(),
                    file: file.clone(),
                    name: sc.name.clone(),
                    line: sc.position.line,
                    tags,
                    outline: false,
                    steps: steps(None),
                    feature_description: description.clone(),
                    example: Vec::new(),
                });
                return;
            }
            // A Scenario Outline runs once per example row (header row excluded).
            for ex in &sc.examples {
                let Some(t) = &ex.table else { continue };
                for i in 1..t.rows.len() {
                    let mut tags = tags.clone();
                    tags.extend(ex.tags.iter().cloned());
                    out.push(ScenarioInfo {
                        feature: f.name.clone(),
                        file: file.clone(),
                        name: sc.name.clone(),
                        line: t.position.line + i,
                        tags,
                        outline: true,
                        steps: steps(Some((&t.rows[0], &t.rows[i]))),
                        feature_description: description.clone(),
                        example: t.rows[0]
                            .iter()
                            .cloned()
                            .zip(t.rows[i].iter().cloned())
                            .collect(),
                    });
                }
            }
        };
        for sc in &f.scenarios {
            push(sc, &[], None);
        }
        for r in &f.rules {
            for sc in &r.scenarios {
                push(sc, &r.tags, r.background.as_ref());
            }
        }
    }
    out
}

/// Problems with scenario tags: unknown requirement IDs, no requirement, no role.
pub fn tag_problems(all: &[ScenarioInfo], cat: &Catalogue) -> Vec<String> {
    let mut out = Vec::new();
    for s in all {
        let reqs = s.requirements();
        if reqs.is_empty() {
            out.push(format!(
                "{}:{}: scenario `{}` has no requirement tag",
                s.file, s.line, s.name
            ));
        }
        for r in reqs {
            if cat.get(&r).is_none() {
                out.push(format!(
                    "{}:{}: scenario `{}` tags unknown requirement {r}",
                    s.file, s.line, s.name
                ));
            }
        }
        for t in &s.tags {
            if !Catalogue::looks_like_id(t)
                && !crate::profile::ROLES.contains(&t.as_str())
                && !t
                    .strip_prefix("harness:")
                    .is_some_and(|h| crate::harness::EXCLUSIVE.iter().any(|(n, _)| *n == h))
                && t != "alone"
                && !t
                    .strip_prefix("transport:")
                    .is_some_and(|x| TRANSPORT_TAGS.contains(&x))
                && !t.starts_with("if:")
                && !t.starts_with("unless:")
            {
                out.push(format!(
                    "{}:{}: scenario `{}` has unknown tag @{t}",
                    s.file, s.line, s.name
                ));
            }
            if let Some(c) = t.strip_prefix("if:").or_else(|| t.strip_prefix("unless:"))
                && !crate::profile::CAPABILITIES.contains(&c)
            {
                out.push(format!(
                    "{}:{}: scenario `{}` names unknown capability {c}",
                    s.file, s.line, s.name
                ));
            }
        }
        if !s
            .tags
            .iter()
            .any(|t| crate::profile::ROLES.contains(&t.as_str()))
        {
            out.push(format!(
                "{}:{}: scenario `{}` has no role tag",
                s.file, s.line, s.name
            ));
        }
    }
    out
}

/// Does a scenario with these tags apply to this SUT (and the tag filter)?
pub fn applies(tags: &[String], profile: &Profile, filter: Option<&TagOperation>) -> bool {
    exclusions(tags, profile).is_empty() && filter.is_none_or(|f| f.eval(tags.iter()))
}

/// Why a scenario with these tags does not apply to this SUT, one reason per
/// tag that leaves it out (empty: it applies, the tag filter aside). The one
/// rule set [`applies`], the report's not-applicable notes and the
/// conformance statement (`crate::ics`) share:
/// - a role tag: the SUT must declare the role;
/// - `@transport:NAME`: the SUT must take that SIP transport;
/// - `@if:CAP` / `@unless:CAP`: the capability must be declared / not.
pub fn exclusions(tags: &[String], profile: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for t in tags {
        if crate::profile::ROLES.contains(&t.as_str()) {
            if !profile.has_role(t) {
                out.push(format!(
                    "role {t}: the SUT does not play it (it plays {})",
                    profile.roles.join(", ")
                ));
            }
        } else if let Some(x) = t.strip_prefix("transport:") {
            let ok = match x {
                // A client the core reaches over the stream it registered on
                // is not reached over UDP, whatever else it listens on.
                "udp" => {
                    profile.has_transport(Transport::Udp) && !profile.client_behind_stream_edge()
                }
                "tcp" => profile.has_transport(Transport::Tcp),
                "tls" => profile.has_transport(Transport::Tls),
                "ws" => profile.has_transport(Transport::Ws),
                _ => false,
            };
            if !ok {
                out.push(
                    if x == "udp"
                        && profile.has_transport(Transport::Udp)
                        && profile.client_behind_stream_edge()
                    {
                        "SIP transport udp: the core reaches this client over the stream it registered on, not over UDP".to_string()
                    } else {
                        format!("SIP transport {x}: not among the SUT's (sip.transport)")
                    },
                );
            }
        } else if let Some(c) = t.strip_prefix("if:") {
            if !profile.capability(c) {
                out.push(
                    profile
                        .not_applicable_because(t)
                        .unwrap_or_else(|| format!("capability {c}: not declared by the SUT")),
                );
            }
        } else if let Some(c) = t.strip_prefix("unless:")
            && profile.capability(c)
        {
            out.push(
                profile
                    .not_applicable_because(t)
                    .unwrap_or_else(|| format!("capability {c}: declared by the SUT")),
            );
        }
    }
    out
}

/// Marks not applicable, with the reason, each requirement that did not run
/// because every scenario carrying it is left out for this profile by a
/// transport or capability tag ([`exclusions`]: e.g. DR-3 for a client whose
/// accept_types take every type, DR-24 for an IWF that declares no SME
/// acknowledgement): the same rule, and the same words, as the conformance
/// statement's (`crate::ics`). Others keep their note.
pub fn mark_not_applicable(report: &mut Report, all: &[ScenarioInfo], profile: &Profile) {
    for q in report.requirements.iter_mut() {
        if q.verdict != crate::report::ReqVerdict::NotRun || !q.applicable {
            continue;
        }
        let carrying: Vec<&ScenarioInfo> = all.iter().filter(|s| s.tags.contains(&q.id)).collect();
        let reasons: Vec<Vec<String>> = carrying
            .iter()
            .map(|s| exclusions(&s.tags, profile))
            .collect();
        if !reasons.is_empty() && reasons.iter().all(|r| !r.is_empty()) {
            let mut why: Vec<String> = reasons.into_iter().flatten().collect();
            why.sort();
            why.dedup();
            q.applicable = false;
            q.note = Some(format!("not applicable: {}", why.join("; ")));
        }
    }
}

/// Parses a `--tags` expression (cucumber tag-expression syntax).
pub fn parse_tags(expr: &str) -> Result<TagOperation, UsageError> {
    // The parser recurses per level: bound the expression before it runs.
    crate::limits::check_tag_expression(expr).map_err(|e| UsageError(format!("--tags: {e}")))?;
    expr.parse::<TagOperation>().map_err(|e| {
        UsageError(format!(
            "--tags: expected a tag expression such as `@DR-1 or @im-server` ({e})"
        ))
    })
}

/// Every tag a tag expression names (without the `@`), in order.
fn expression_tags(op: &TagOperation, out: &mut Vec<String>) {
    match op {
        TagOperation::And(a, b) | TagOperation::Or(a, b) => {
            expression_tags(a, out);
            expression_tags(b, out);
        }
        TagOperation::Not(a) => expression_tags(a, out),
        TagOperation::Tag(t) => {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
}

/// Edit distance (insertions, deletions, substitutions and swaps of two
/// neighbours count one each), case-insensitive, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The (up to) three known tags nearest to `name`, as `@TAG`.
fn nearest_tags(name: &str, known: &std::collections::BTreeSet<String>) -> String {
    let mut by: Vec<(usize, &String)> = known.iter().map(|k| (edit_distance(name, k), k)).collect();
    by.sort();
    by.iter()
        .take(3)
        .map(|(_, k)| format!("@{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that every tag a `--tags` expression names is carried by some
/// scenario, and that a requirement ID is one of the catalogue's: a
/// misspelt tag would otherwise select nothing (or too little) and the
/// run would pass. The error names each unknown tag and the nearest known.
pub fn check_tag_names(
    op: &TagOperation,
    all: &[ScenarioInfo],
    cat: &Catalogue,
) -> Result<(), UsageError> {
    let carried: std::collections::BTreeSet<String> =
        all.iter().flat_map(|s| s.tags.iter().cloned()).collect();
    let mut names = Vec::new();
    expression_tags(op, &mut names);
    let mut problems = Vec::new();
    for n in names {
        if carried.contains(&n) {
            continue;
        }
        let near = nearest_tags(&n, &carried);
        problems.push(match cat.get(&n) {
            Some(r) => format!(
                "@{n} is a requirement no scenario checks{} (nearest tags scenarios carry: {near})",
                r.pending
                    .as_deref()
                    .map(|p| format!("; pending: {p}"))
                    .unwrap_or_default()
            ),
            None if Catalogue::looks_like_id(&n) => {
                format!("@{n} is not a requirement of the catalogue (nearest known: {near})")
            }
            None => format!("unknown tag @{n}: no scenario carries it (nearest known: {near})"),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(UsageError(format!("--tags: {}", problems.join("; "))))
    }
}

/// A run must run something: when the tag filter and the SUT's roles and
/// capabilities leave no scenario, say so (exit 2) rather than pass with
/// nothing checked.
pub fn nothing_to_run(
    all: &[ScenarioInfo],
    profile: &Profile,
    filter: Option<&TagOperation>,
    expr: Option<&str>,
) -> UsageError {
    let by_tags = all
        .iter()
        .filter(|s| filter.is_none_or(|f| f.eval(s.tags.iter())))
        .count();
    let why = match expr {
        Some(e) if by_tags == 0 => format!("--tags `{e}` selects no scenario"),
        Some(e) => format!(
            "--tags `{e}` selects {by_tags} scenario(s), none of which applies to this SUT (roles: {}; see `liaison list --sut`)",
            profile.roles.join(", ")
        ),
        None => format!(
            "no scenario applies to this SUT (roles: {}; see `liaison list --sut`)",
            profile.roles.join(", ")
        ),
    };
    UsageError(format!("nothing to run: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    /// `@transport:ws` selects a SUT that lists ws (an im-server with
    /// sip.ws), and no other; every transport tag is known to the checks.
    #[test]
    fn transport_ws_selects_by_the_profiles_transports() {
        let ws = Profile::parse(
            "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:15060, transport: [udp, ws], ws: \"ws://127.0.0.1:15062/\", domain: liaison.test }\n",
            "ws.yaml",
        )
        .unwrap();
        let udp = Profile::parse(
            "name: s\nroles: [im-server]\nsip: { address: 127.0.0.1:15060, domain: liaison.test }\n",
            "udp.yaml",
        )
        .unwrap();
        let scenario = tags(&["im-server", "DR-5", "transport:ws"]);
        assert!(applies(&scenario, &ws, None));
        assert!(!applies(&scenario, &udp, None));
        let plain = tags(&["im-server", "DR-5"]);
        assert!(applies(&plain, &ws, None) && applies(&plain, &udp, None));
        let both = tags(&["im-server", "transport:udp", "transport:ws"]);
        assert!(applies(&both, &ws, None) && !applies(&both, &udp, None));
        for t in ["udp", "tcp", "tls", "ws"] {
            assert!(TRANSPORT_TAGS.contains(&t), "{t}");
        }
    }
}
