//! `liaison list`: requirements, their scenarios, and which apply to a SUT;
//! or the test purposes (`--format md|json`, crate::ics::tp).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::catalogue::{Catalogue, Level};
use crate::profile::Profile;
use crate::runner::{self, ScenarioInfo};

use super::EXIT_USAGE;

/// How `liaison list` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListFormat {
    /// Requirements, their scenarios, traceability (the overview).
    #[default]
    Text,
    /// The test purposes as a Markdown document.
    Md,
    /// The test purposes as JSON.
    Json,
}

/// `liaison list`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// SUT profile (YAML): mark which scenarios apply to it.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// Folder of the feature files (default ./features, else the compiled-in ones).
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
    /// `text`: requirements and scenarios; `md`, `json`: the test purposes
    /// (ID, objective, reference, applicability, pre-conditions, steps,
    /// pass criteria).
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

pub fn cmd(a: ListArgs) -> i32 {
    let (cat, all) = match super::ics::catalogue_and_scenarios(a.features.as_deref(), false) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("liaison: {e}");
            return EXIT_USAGE;
        }
    };
    let profile = match &a.sut {
        Some(p) => match Profile::load(p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let text = match a.format {
        ListFormat::Text => text(&cat, &all, profile.as_ref()),
        ListFormat::Md => {
            crate::ics::tp::markdown(&crate::ics::tp::build(&cat, &all, profile.as_ref()))
        }
        ListFormat::Json => {
            serde_json::to_string_pretty(&crate::ics::tp::build(&cat, &all, profile.as_ref()))
                .unwrap_or_default()
                + "\n"
        }
    };
    super::ics::emit(&text, None)
}

/// The overview: each requirement with its scenarios (and whether each
/// applies to the SUT), then the traceability per enabler.
fn text(cat: &Catalogue, all: &[ScenarioInfo], profile: Option<&Profile>) -> String {
    let mut o = String::new();
    for r in &cat.requirements {
        let _ = writeln!(
            o,
            "{} [{}] {} — {} {}",
            r.id, r.level, r.title, r.source.document, r.source.place
        );
        let mine: Vec<_> = all
            .iter()
            .filter(|s| s.requirements().contains(&r.id))
            .collect();
        if r.level == Level::Informative {
            let _ = writeln!(
                o,
                "    informative: {}",
                r.untestable_because.as_deref().unwrap_or("")
            );
        } else if mine.is_empty() {
            let _ = writeln!(
                o,
                "    no scenario yet: {}",
                r.pending.as_deref().unwrap_or("(no reason given)")
            );
        }
        for s in mine {
            let applies = match profile {
                Some(p) if runner::applies(&s.tags, p, None) => " [applies]",
                Some(_) => " [does not apply]",
                None => "",
            };
            let _ = writeln!(o, "    {}:{} {}{applies}", s.file, s.line, s.name);
        }
    }
    let refs: Vec<crate::traceability::ScenarioRef> = all
        .iter()
        .map(|s| crate::traceability::ScenarioRef {
            name: format!("{}:{} {}", s.file, s.line, s.name),
            requirements: s.requirements(),
            verdict: None,
        })
        .collect();
    o.push('\n');
    o.push_str(&crate::traceability::text(&crate::traceability::trace(
        cat, &refs,
    )));
    o
}
