//! The implementation conformance statement (ICS) of a SUT, after the ETSI
//! PICS/PIXIT proformas (ETSI ES 201 873 style tables) and OMA ETS's ICS and
//! IXIT tables with their ICS-to-test mapping: for every requirement of the
//! catalogue, whether it applies to this SUT and why, its status
//! (M/O/C/I), the scenarios that check it; and the profile fields the run
//! uses (the PIXIT). Sans-IO: built from the catalogue, the parsed
//! scenarios and the profile; rendered as Markdown, JSON or HTML.
//!
//! Applicability follows the runner's own rules, never a copy of them:
//! [`Requirement::applies_to_roles`] (the report's requirement rows) and
//! [`runner::exclusions`] (the one rule set behind [`runner::applies`]).
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`Statement`]: the statement built from catalogue, scenarios, profile |
//! | [`render`] | Markdown, HTML page, HTML section of report.html |
//! | [`tp`] | test purposes (`liaison list --format md|json`) |

pub mod render;
pub mod tp;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Level, Requirement};
use crate::profile::Profile;
use crate::runner::{self, ScenarioInfo};

/// The version of the statement's JSON layout (`schema`): a field renamed
/// or removed raises it; a field added does not.
pub const SCHEMA: u32 = 1;

/// The statement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Statement {
    pub schema: u32,
    pub suite: SuiteInfo,
    pub sut: SutInfo,
    /// The `--tags` of the run that wrote it, if any: the statement itself
    /// is about the SUT, whatever a run selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_tags: Option<String>,
    pub summary: Counts,
    /// Every catalogue requirement, once, in the catalogue's order.
    pub requirements: Vec<Item>,
    /// The profile's fields (the PIXIT), credentials redacted.
    pub pixit: Vec<PixitField>,
}

/// The suite that wrote the statement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SuiteInfo {
    pub version: String,
    pub revision: String,
    /// The compiled-in catalogue's digest (as report.json's `catalogue.digest`).
    pub catalogue_digest: String,
}

/// The SUT as its profile declares it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SutInfo {
    pub name: String,
    /// The profile file (`<embedded reference>` for the reference).
    pub profile: String,
    pub roles: Vec<String>,
    /// The capabilities that hold for it (those `@if:`/`@unless:` test).
    pub capabilities: Vec<String>,
}

/// How many requirements are in each state, and how many scenarios apply.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub requirements: usize,
    pub applies: usize,
    pub not_applicable: usize,
    pub informative: usize,
    pub no_scenario: usize,
    pub scenarios: usize,
    pub scenarios_applicable: usize,
}

/// Whether a requirement applies to this SUT.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// At least one of its scenarios applies: the run checks it.
    Applies,
    /// Not for this SUT: `reasons` say why (role, capability, transport).
    NotApplicable,
    /// INFORMATIVE: no scenario can test it (`reasons`: why).
    Informative,
    /// It applies, but no scenario checks it yet (`reasons`: the pending note).
    NoScenario,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Applies => "applies",
            Applicability::NotApplicable => "not applicable",
            Applicability::Informative => "informative",
            Applicability::NoScenario => "no scenario",
        }
    }
}

/// One requirement of the statement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub level: Level,
    /// ETSI PICS status: `M` (MUST), `O` (SHOULD, MAY), `C` (conditional:
    /// every scenario of it has a capability or transport condition, see
    /// `condition`), `I` (informative, out of test).
    pub status: String,
    /// For status `C`: `IF … THEN M|O ELSE N/A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub roles: Vec<String>,
    /// The seed document and the place in it.
    pub document: String,
    pub place: String,
    /// The specifications (RFC/OMA/3GPP clauses) it rests on.
    pub refs: Vec<String>,
    pub applicability: Applicability,
    /// Why it does not apply, why it is informative, or why it has no scenario.
    pub reasons: Vec<String>,
    /// Every scenario that carries it, applying to this SUT or not.
    pub scenarios: Vec<ScenarioEntry>,
}

/// A scenario that checks a requirement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioEntry {
    pub file: String,
    pub line: usize,
    pub name: String,
    /// What the scenario asks of a SUT (its role, transport and capability
    /// tags, in words).
    pub condition: Vec<String>,
    pub applies: bool,
    /// Why it does not apply ([`runner::exclusions`]).
    pub reasons: Vec<String>,
}

/// One profile field (PIXIT entry): its dotted name as the profile spells
/// it, and its value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PixitField {
    pub field: String,
    pub value: String,
}

/// What a tag asks of a SUT, in words (`None` for tags that ask nothing:
/// requirement IDs, `@alone`, `@harness:…`).
pub fn tag_in_words(tag: &str) -> Option<String> {
    if crate::profile::ROLES.contains(&tag) {
        Some(format!("the SUT plays {tag}"))
    } else if let Some(t) = tag.strip_prefix("transport:") {
        Some(format!("the SUT takes SIP over {}", t.to_uppercase()))
    } else if let Some(c) = tag.strip_prefix("if:") {
        Some(format!("capability {c} declared"))
    } else {
        tag.strip_prefix("unless:")
            .map(|c| format!("capability {c} not declared"))
    }
}

/// The conditions (transport, capability) of a scenario's tags, in words:
/// what makes a requirement conditional rather than plain M or O.
fn conditions(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter(|t| !crate::profile::ROLES.contains(&t.as_str()))
        .filter_map(|t| tag_in_words(t))
        .collect()
}

impl Statement {
    /// Builds the statement. `all`: every scenario of the feature files
    /// (not only those a run selects).
    pub fn build(cat: &Catalogue, all: &[ScenarioInfo], profile: &Profile) -> Statement {
        let mut summary = Counts {
            requirements: cat.requirements.len(),
            scenarios: all.len(),
            scenarios_applicable: all
                .iter()
                .filter(|s| runner::exclusions(&s.tags, profile).is_empty())
                .count(),
            ..Counts::default()
        };
        let requirements: Vec<Item> = cat
            .requirements
            .iter()
            .map(|r| item(r, all, profile))
            .collect();
        for i in &requirements {
            match i.applicability {
                Applicability::Applies => summary.applies += 1,
                Applicability::NotApplicable => summary.not_applicable += 1,
                Applicability::Informative => summary.informative += 1,
                Applicability::NoScenario => summary.no_scenario += 1,
            }
        }
        Statement {
            schema: SCHEMA,
            suite: SuiteInfo {
                version: crate::build_info::VERSION.to_string(),
                revision: crate::build_info::REVISION.to_string(),
                catalogue_digest: crate::build_info::catalogue_digest(),
            },
            sut: SutInfo {
                name: profile.name.clone(),
                profile: profile.path.clone(),
                roles: profile.roles.clone(),
                capabilities: profile.declared_capabilities(),
            },
            run_tags: None,
            summary,
            requirements,
            pixit: pixit(profile),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and vectors: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn item(r: &Requirement, all: &[ScenarioInfo], profile: &Profile) -> Item {
    let carrying: Vec<&ScenarioInfo> = all.iter().filter(|s| s.tags.contains(&r.id)).collect();
    let scenarios: Vec<ScenarioEntry> = carrying
        .iter()
        .map(|s| {
            let reasons = runner::exclusions(&s.tags, profile);
            ScenarioEntry {
                file: s.file.clone(),
                line: s.line,
                name: s.name.clone(),
                condition: s.tags.iter().filter_map(|t| tag_in_words(t)).collect(),
                applies: reasons.is_empty(),
                reasons,
            }
        })
        .collect();
    let base = match r.level {
        Level::Must => "M",
        Level::Should | Level::May => "O",
        Level::Informative => "I",
    };
    // Conditional: every scenario of it asks for a transport or capability.
    // (For a requirement on several roles, each alternative names its role.)
    let conds: Vec<Vec<String>> = carrying
        .iter()
        .map(|s| {
            let c = conditions(&s.tags);
            if c.is_empty() || r.roles.len() < 2 {
                return c;
            }
            s.tags
                .iter()
                .filter(|t| crate::profile::ROLES.contains(&t.as_str()))
                .filter_map(|t| tag_in_words(t))
                .chain(c)
                .collect()
        })
        .collect();
    let (status, condition) =
        if base != "I" && !conds.is_empty() && conds.iter().all(|c| !c.is_empty()) {
            // A OR (A AND B) is A: an alternative that asks more than
            // another adds nothing.
            let mut alts: Vec<String> = conds
                .iter()
                .filter(|c| {
                    !conds
                        .iter()
                        .any(|d| d.len() < c.len() && d.iter().all(|x| c.contains(x)))
                })
                .map(|c| c.join(" AND "))
                .collect();
            alts.sort();
            alts.dedup();
            let when = if alts.len() == 1 {
                alts.remove(0)
            } else {
                alts.iter()
                    .map(|a| format!("({a})"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
            ("C", Some(format!("IF {when} THEN {base} ELSE N/A")))
        } else {
            (base, None)
        };
    let (applicability, reasons) = if r.level == Level::Informative {
        (
            Applicability::Informative,
            r.untestable_because.iter().cloned().collect(),
        )
    } else if !r.applies_to_roles(&profile.roles) {
        // The report's own words (Report::build).
        (
            Applicability::NotApplicable,
            vec![format!(
                "a requirement on {}; the SUT plays {}",
                r.roles.join(", "),
                profile.roles.join(", ")
            )],
        )
    } else if scenarios.is_empty() {
        (
            Applicability::NoScenario,
            vec![match &r.pending {
                Some(p) => format!("no scenario yet: {p}"),
                None => "no scenario checks it".to_string(),
            }],
        )
    } else if scenarios.iter().any(|s| s.applies) {
        (Applicability::Applies, Vec::new())
    } else {
        // The reasons of the scenarios for roles the SUT plays (those for
        // its other roles would only say it does not play them), else all.
        let plays = |s: &&ScenarioInfo| {
            s.tags
                .iter()
                .filter(|t| crate::profile::ROLES.contains(&t.as_str()))
                .all(|t| profile.has_role(t))
        };
        let own: Vec<&ScenarioEntry> = scenarios
            .iter()
            .zip(&carrying)
            .filter(|(_, s)| plays(s))
            .map(|(e, _)| e)
            .collect();
        let from: Vec<&ScenarioEntry> = if own.is_empty() {
            scenarios.iter().collect()
        } else {
            own
        };
        let mut why: Vec<String> = Vec::new();
        for s in from {
            for x in &s.reasons {
                if !why.contains(x) {
                    why.push(x.clone());
                }
            }
        }
        (Applicability::NotApplicable, why)
    };
    Item {
        id: r.id.clone(),
        title: r.title.clone(),
        level: r.level,
        status: status.to_string(),
        condition,
        roles: r.roles.clone(),
        document: r.source.document.clone(),
        place: r.source.place.clone(),
        refs: r.refs.clone(),
        applicability,
        reasons,
        scenarios,
    }
}

/// Shows the scenarios' files as `features/…` when they were read from the
/// copy of the compiled-in features in the temporary folder
/// ([`crate::runner::embedded::shown`], as the report names them).
pub fn shown_as_features(all: &mut [ScenarioInfo]) {
    for s in all {
        if let Some(shown) = crate::runner::embedded::shown(Path::new(&s.file)) {
            s.file = shown;
        }
    }
}

/// Field names whose values are credentials: shown as `(redacted)`.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "passphrase",
    "credential",
];

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// `scheme://user:password@host…` with the password replaced.
fn redact_userinfo(v: &str) -> String {
    let Some(at_scheme) = v.find("://") else {
        return v.to_string();
    };
    let rest = &v[at_scheme + 3..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:(redacted){}",
            &v[..at_scheme + 3],
            &authority[..colon],
            &v[at_scheme + 3 + at..]
        ),
        _ => v.to_string(),
    }
}

/// Flattens a JSON value into dotted fields (nulls left out).
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<PixitField>) {
    use serde_json::Value;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| scalar(x).is_some()) => {
            let field = prefix.to_string();
            let value = a.iter().filter_map(scalar).collect::<Vec<_>>().join(", ");
            push_field(out, field, value);
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        v => {
            if let Some(s) = scalar(v) {
                push_field(out, prefix.to_string(), s);
            }
        }
    }
}

fn push_field(out: &mut Vec<PixitField>, field: String, value: String) {
    let last = field.rsplit('.').next().unwrap_or(&field);
    let value = if is_secret_name(last) {
        "(redacted)".to_string()
    } else {
        redact_userinfo(&value)
    };
    out.push(PixitField { field, value });
}

fn section<T: Serialize>(name: &str, v: &T, out: &mut Vec<PixitField>) {
    if let Ok(j) = serde_json::to_value(v) {
        flatten(name, &j, out);
    }
}

/// The PIXIT: every field the profile holds, named as a profile file spells
/// it (`sip.address`, `timers.t1_ms`, `iwf.smsc`, …), values as the run
/// uses them (defaults filled in), credentials redacted.
pub fn pixit(p: &Profile) -> Vec<PixitField> {
    let mut out = Vec::new();
    let mut put = |f: &str, v: String| push_field(&mut out, f.to_string(), v);
    put("name", p.name.clone());
    put("roles", p.roles.join(", "));
    put("network", p.network.as_str().to_string());
    put("harness.address", p.harness_ip.to_string());
    put("timers.t1_ms", p.t1_ms.to_string());
    put(
        "timers.scenario_timeout_s",
        p.scenario_timeout_s.to_string(),
    );
    put(
        "timers.expires_resolution_ms",
        p.expires_resolution_ms.to_string(),
    );
    if let Some(s) = &p.sip {
        if let Some(a) = s.address {
            put("sip.address", a.to_string());
        }
        put(
            "sip.transport",
            s.transports
                .iter()
                .map(|t| {
                    serde_json::to_value(t)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        for (f, v) in [
            ("sip.tls", s.tls.map(|a| a.to_string())),
            ("sip.ws", s.ws.clone()),
            ("sip.aor", s.aor.clone()),
            ("sip.domain", s.domain.clone()),
        ] {
            if let Some(v) = v {
                put(f, v);
            }
        }
    }
    if let Some(l) = &p.launch {
        put("launch.command", l.command.join(" "));
        if let Some(c) = &l.cwd {
            put("launch.cwd", c.display().to_string());
        }
        for (k, v) in &l.env {
            // An environment variable's name says little: any that
            // could hold a key or a password is redacted.
            let lower = k.to_ascii_lowercase();
            let v = if is_secret_name(k) || lower.contains("key") || lower.contains("pass") {
                "(redacted)".to_string()
            } else {
                v.clone()
            };
            put(&format!("launch.env.{k}"), v);
        }
        if let Some(r) = &l.ready {
            section("launch.ready", r, &mut out);
        }
    }
    section("capabilities", &p.capabilities, &mut out);
    macro_rules! opt {
        ($($name:literal => $field:expr),* $(,)?) => {
            $( if let Some(s) = &$field { section($name, s, &mut out); } )*
        };
    }
    opt!(
        "iwf" => p.iwf,
        "msrp" => p.msrp,
        "ppg" => p.ppg,
        "push_client" => p.push_client,
        "mms_client" => p.mms_client,
        "mms_relay" => p.mms_relay,
        "deferral" => p.deferral,
        "mem_server" => p.mem_server,
        "ims" => p.ims,
        "xdms" => p.xdms,
        "presence" => p.presence,
        "poc" => p.poc,
        "presence_client" => p.presence_client,
    );
    if p.tls != crate::profile::TlsSection::default() {
        section("tls", &p.tls, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<ScenarioInfo> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        runner::scenarios(&runner::load_features(&dir).unwrap())
    }

    fn profile(text: &str) -> Profile {
        Profile::parse(text, "p.yaml").unwrap()
    }

    const CLIENT: &str = "name: c\nroles: [im-client]\nsip: { address: 127.0.0.1:15060, aor: \"sip:bob@127.0.0.1\" }\n";

    #[test]
    fn every_requirement_once_in_catalogue_order() {
        let cat = Catalogue::embedded().unwrap();
        let s = Statement::build(&cat, &all(), &profile(CLIENT));
        let ids: Vec<&str> = s.requirements.iter().map(|i| i.id.as_str()).collect();
        let want: Vec<&str> = cat.requirements.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, want);
        let c = &s.summary;
        assert_eq!(
            c.applies + c.not_applicable + c.informative + c.no_scenario,
            c.requirements
        );
    }

    #[test]
    fn a_role_the_sut_does_not_play_is_not_applicable_with_the_reason() {
        let cat = Catalogue::embedded().unwrap();
        let s = Statement::build(&cat, &all(), &profile(CLIENT));
        let push = s
            .requirements
            .iter()
            .find(|i| i.roles == ["ppg"])
            .expect("a ppg requirement");
        assert_eq!(push.applicability, Applicability::NotApplicable);
        assert!(
            push.reasons[0].contains("a requirement on ppg; the SUT plays im-client"),
            "{:?}",
            push.reasons
        );
        let dr1 = s.requirements.iter().find(|i| i.id == "DR-1").unwrap();
        assert_eq!(dr1.applicability, Applicability::Applies);
        assert_eq!(dr1.status, "M");
        // Its TCP scenario does not apply: sip.transport is udp only.
        let tcp = dr1
            .scenarios
            .iter()
            .find(|x| x.name.contains("over TCP"))
            .unwrap();
        assert!(!tcp.applies);
        assert!(tcp.reasons[0].contains("SIP transport tcp"), "{tcp:?}");
    }

    #[test]
    fn an_undeclared_capability_is_named() {
        let cat = Catalogue::embedded().unwrap();
        let all = all();
        let s = Statement::build(&cat, &all, &profile(CLIENT));
        // A requirement whose every scenario needs an `@if:` capability
        // this client does not declare.
        let i = s
            .requirements
            .iter()
            .find(|i| {
                i.applicability == Applicability::NotApplicable
                    && i.roles.contains(&"im-client".to_string())
                    && i.reasons.iter().any(|r| r.starts_with("capability msrp"))
            })
            .expect("an im-client requirement needing msrp");
        assert_eq!(i.status, "C", "{i:?}");
        assert!(i
            .condition
            .as_deref()
            .unwrap()
            .contains("capability msrp declared"));
        assert!(i
            .reasons
            .iter()
            .any(|r| r == "capability msrp: not declared by the SUT"));
    }

    #[test]
    fn pixit_names_fields_and_redacts_credentials() {
        let p = profile(
            "name: i\nroles: [sms-im-iwf]\niwf: { smsc: 127.0.0.1:2775, system_id: liaison, password: s3cret, ims_core: 127.0.0.1:5060 }\ntimers: { t1_ms: 100 }\n",
        );
        let f = pixit(&p);
        let get = |n: &str| f.iter().find(|x| x.field == n).map(|x| x.value.as_str());
        assert_eq!(get("iwf.smsc"), Some("127.0.0.1:2775"));
        assert_eq!(get("iwf.system_id"), Some("liaison"));
        assert_eq!(get("iwf.password"), Some("(redacted)"));
        assert_eq!(get("timers.t1_ms"), Some("100"));
        assert!(f.iter().all(|x| !x.value.contains("s3cret")));
        assert_eq!(
            redact_userinfo("http://u:pw@127.0.0.1:80/x"),
            "http://u:(redacted)@127.0.0.1:80/x"
        );
        assert_eq!(
            redact_userinfo("http://127.0.0.1:80/a@b"),
            "http://127.0.0.1:80/a@b"
        );
    }

    #[test]
    fn pixit_names_the_enabler_sections() {
        let p = profile(
            "name: c\nroles: [presence-client]\nims: { core: 127.0.0.2:15497, register: true }\npresence_client: { aor: \"sip:bob@liaison.test\", trigger: 127.0.0.1:15377 }\n",
        );
        let f = pixit(&p);
        let get = |n: &str| f.iter().find(|x| x.field == n).map(|x| x.value.as_str());
        assert_eq!(get("presence_client.aor"), Some("sip:bob@liaison.test"));
        assert_eq!(get("presence_client.trigger"), Some("127.0.0.1:15377"));
        assert_eq!(get("ims.core"), Some("127.0.0.2:15497"));
    }
}
