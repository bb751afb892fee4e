//! `liaison list`: requirements, their scenarios, and which apply to a SUT.

use std::path::PathBuf;

use crate::catalogue::{Catalogue, Level};
use crate::runner;

use super::{EXIT_PASS, EXIT_USAGE};

/// `liaison list`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// SUT profile (YAML): mark which scenarios apply to it.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// Folder of the feature files (default ./features, else the compiled-in ones).
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
}

pub fn cmd(a: ListArgs) -> i32 {
    list(a.sut, a.features)
}

fn list(sut: Option<PathBuf>, features: Option<PathBuf>) -> i32 {
    let cat = match Catalogue::embedded() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("liaison: {e}");
            return EXIT_USAGE;
        }
    };
    let profile = match sut {
        Some(p) => match crate::profile::Profile::load(&p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let feats =
        match runner::features_dir(features.as_deref()).and_then(|d| runner::load_features(&d)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        };
    let all = runner::scenarios(&feats);
    for r in &cat.requirements {
        println!(
            "{} [{}] {} — {} {}",
            r.id, r.level, r.title, r.source.document, r.source.place
        );
        let mine: Vec<_> = all
            .iter()
            .filter(|s| s.requirements().contains(&r.id))
            .collect();
        if r.level == Level::Informative {
            println!(
                "    informative: {}",
                r.untestable_because.as_deref().unwrap_or("")
            );
        } else if mine.is_empty() {
            println!(
                "    no scenario yet: {}",
                r.pending.as_deref().unwrap_or("(no reason given)")
            );
        }
        for s in mine {
            let applies = match &profile {
                Some(p) if runner::applies(&s.tags, p, None) => " [applies]",
                Some(_) => " [does not apply]",
                None => "",
            };
            println!("    {}:{} {}{applies}", s.file, s.line, s.name);
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
    println!();
    print!(
        "{}",
        crate::traceability::text(&crate::traceability::trace(&cat, &refs))
    );
    EXIT_PASS
}
