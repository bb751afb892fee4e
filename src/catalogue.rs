//! The requirement catalogue (`features/requirements.yaml`): every requirement
//! of every liaison statement, with its source, and how scenarios tag them.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Requirement level, from the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, PartialOrd, Ord)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "MAY")]
    May,
    #[serde(rename = "INFORMATIVE")]
    Informative,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Informative => "INFORMATIVE",
        })
    }
}

/// Where in a seed a requirement comes from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub document: String,
    #[serde(rename = "where")]
    pub place: String,
}

/// One catalogue entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    pub source: Source,
    #[serde(default)]
    pub refs: Vec<String>,
    pub level: Level,
    #[serde(default)]
    pub roles: Vec<String>,
    pub statement: String,
    /// Only for INFORMATIVE items: why no scenario can test it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untestable_because: Option<String>,
    /// Only for testable items without scenarios yet: which issue adds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// The OMA enabler over the IMS it belongs to (one of [`ENABLERS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabler: Option<String>,
}

impl Requirement {
    /// Does it apply to a SUT playing `roles`? (One of its roles is among
    /// them; an item without roles, INFORMATIVE, applies to every SUT.) The
    /// report and the conformance statement (`crate::ics`) ask this.
    pub fn applies_to_roles(&self, roles: &[String]) -> bool {
        self.roles.is_empty() || self.roles.iter().any(|r| roles.contains(r))
    }
}

/// The OMA enablers seed 003 names for alignment with the IMS (§3 "3)"), in
/// its order of priority; traceability (`liaison list`, the report) is per
/// enabler, "not covered" for those no requirement names.
pub const ENABLERS: &[&str] = &[
    "PoC",
    "Group Management",
    "Presence",
    "IM",
    "SIP Push",
    "STI",
];

/// The whole catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub requirements: Vec<Requirement>,
}

/// A source liaison statement (the seeds table of shared/seeds/README.md):
/// the report groups the requirement matrix by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liaison {
    /// The seed file name that `source.document` cites.
    pub document: &'static str,
    pub from_to: &'static str,
    pub subject: &'static str,
}

/// The five source liaison statements, in the catalogue's order of areas.
pub const LIAISONS: &[Liaison] = &[
    Liaison {
        document: "001_5c0edfb8210bb1ac.txt",
        from_to: "OMA MWG → 3GPP SA2",
        subject: "Delivery-report integrity in SMS–IM interworking",
    },
    Liaison {
        document: "000_a43502171f5bf4e4.txt",
        from_to: "3GPP SA2 → T2, OMA MAG Push",
        subject: "MMS as the deferred mode of IMS Messaging",
    },
    Liaison {
        document: "002_f568d11ccc2ed69c.txt",
        from_to: "OMA BAC Push ↔ MWG IM",
        subject: "Push over SIP and IM offline notification",
    },
    Liaison {
        document: "003_17486658723ebefe.txt",
        from_to: "OMA IMS task force → ARC WG",
        subject: "Aligning the enablers with the IMS architecture",
    },
    Liaison {
        document: "004_ad3293d126cf5b23.txt",
        from_to: "change request to the OMA MEM TS",
        subject: "MEM outband notification over MMS",
    },
];

/// The source liaison a document name belongs to.
pub fn liaison(document: &str) -> Option<&'static Liaison> {
    LIAISONS.iter().find(|l| l.document == document)
}

/// The catalogue, compiled in, so `liaison` carries it wherever it runs.
pub const EMBEDDED: &str = include_str!("../features/requirements.yaml");

/// ID prefixes by area (design.md).
pub const PREFIXES: &[&str] = &[
    "DR", "ADDR", "DEFER", "PUSH", "IMS", "MEM", "GM", "PRES", "POC",
];

impl Catalogue {
    /// The catalogue compiled into the binary.
    pub fn embedded() -> Result<Catalogue, String> {
        Catalogue::parse(EMBEDDED, "features/requirements.yaml")
    }

    /// Reads a catalogue file.
    pub fn load(path: &Path) -> Result<Catalogue, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("catalogue {}: cannot read ({e})", path.display()))?;
        Catalogue::parse(&text, &path.display().to_string())
    }

    /// Parses and checks the catalogue's own consistency.
    pub fn parse(text: &str, file: &str) -> Result<Catalogue, String> {
        let requirements: Vec<Requirement> =
            serde_yaml::from_str(text).map_err(|e| format!("catalogue {file}: {e}"))?;
        let c = Catalogue { requirements };
        let problems = c.problems();
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(format!("catalogue {file}: {}", problems.join("; ")))
        }
    }

    /// Consistency problems of the catalogue itself (not of its scenarios).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &self.requirements {
            if !seen.insert(r.id.clone()) {
                out.push(format!("{}: duplicate id", r.id));
            }
            let prefix = r.id.split('-').next().unwrap_or("");
            if !PREFIXES.contains(&prefix)
                || r.id
                    .split('-')
                    .nth(1)
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_none()
            {
                out.push(format!(
                    "{}: id must be PREFIX-N with PREFIX one of {}",
                    r.id,
                    PREFIXES.join(", ")
                ));
            }
            if !r.source.document.starts_with("00") {
                out.push(format!("{}: source.document must name a seed file", r.id));
            }
            for role in &r.roles {
                if !crate::profile::ROLES.contains(&role.as_str()) {
                    out.push(format!("{}: unknown role `{role}`", r.id));
                }
            }
            match (r.level, &r.untestable_because) {
                (Level::Informative, None) => {
                    out.push(format!("{}: INFORMATIVE needs untestable_because", r.id))
                }
                (Level::Informative, Some(_)) if r.pending.is_some() => {
                    out.push(format!("{}: INFORMATIVE cannot be pending", r.id))
                }
                (l, Some(_)) if l != Level::Informative => out.push(format!(
                    "{}: untestable_because is only for INFORMATIVE",
                    r.id
                )),
                _ => {}
            }
            if let Some(e) = &r.enabler
                && !ENABLERS.contains(&e.as_str())
            {
                out.push(format!(
                    "{}: enabler `{e}` is not one of {}",
                    r.id,
                    ENABLERS.join(", ")
                ));
            }
            if r.level != Level::Informative && r.roles.is_empty() {
                out.push(format!("{}: a testable requirement needs roles", r.id));
            }
            if r.statement.trim().is_empty() || r.title.trim().is_empty() {
                out.push(format!("{}: empty title or statement", r.id));
            }
        }
        out
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Is a scenario tag a requirement ID (by its shape)?
    pub fn looks_like_id(tag: &str) -> bool {
        let mut parts = tag.splitn(2, '-');
        let prefix = parts.next().unwrap_or("");
        let num = parts.next().unwrap_or("");
        PREFIXES.contains(&prefix) && !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_is_consistent() {
        let c = Catalogue::embedded().unwrap();
        assert!(c.requirements.len() >= 20, "catalogue too small");
        for p in PREFIXES {
            assert!(
                c.requirements
                    .iter()
                    .any(|r| r.id.starts_with(&format!("{p}-"))),
                "no requirement with prefix {p}"
            );
        }
    }

    #[test]
    fn id_shape() {
        assert!(Catalogue::looks_like_id("DR-1"));
        assert!(Catalogue::looks_like_id("MEM-12"));
        assert!(!Catalogue::looks_like_id("im-client"));
        assert!(!Catalogue::looks_like_id("DR-x"));
    }

    #[test]
    fn informative_needs_reason() {
        let text = "- id: DR-1\n  title: t\n  source: {document: 001_x.txt, where: here}\n  level: INFORMATIVE\n  statement: s\n";
        let e = Catalogue::parse(text, "c.yaml").unwrap_err();
        assert!(
            e.contains("DR-1: INFORMATIVE needs untestable_because"),
            "{e}"
        );
    }
}
