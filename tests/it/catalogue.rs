//! The catalogue stays honest: every requirement has a scenario or a written
//! reason, and every scenario tag names a known requirement.

use crate::common::root;
use liaison::catalogue::{Catalogue, Level};
use liaison::runner::{load_features, scenarios, tag_problems};

#[test]
fn every_requirement_has_a_scenario_or_a_reason() {
    let cat = Catalogue::embedded().unwrap();
    let all = scenarios(&load_features(&root().join("features")).unwrap());
    let mut problems = Vec::new();
    for r in &cat.requirements {
        let n = all
            .iter()
            .filter(|s| s.requirements().contains(&r.id))
            .count();
        match (r.level, n, &r.pending) {
            (Level::Informative, 0, _) => {}
            (Level::Informative, _, _) => problems.push(format!(
                "{}: informative but tagged by {n} scenario(s)",
                r.id
            )),
            (_, 0, None) => problems.push(format!("{}: no scenario and no reason (pending)", r.id)),
            (_, 0, Some(_)) => {}
            (_, _, Some(p)) => problems.push(format!(
                "{}: has scenarios but still says pending ({p})",
                r.id
            )),
            (_, _, None) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_scenario_tag_names_a_known_requirement() {
    let cat = Catalogue::embedded().unwrap();
    let all = scenarios(&load_features(&root().join("features")).unwrap());
    assert!(!all.is_empty());
    let problems = tag_problems(&all, &cat);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_unknown_tag_is_caught() {
    let cat = Catalogue::embedded().unwrap();
    let mut all = scenarios(&load_features(&root().join("features")).unwrap());
    all[0].tags.push("DR-999".into());
    let problems = tag_problems(&all, &cat);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown requirement DR-999")),
        "{problems:?}"
    );
}

#[test]
fn the_catalogue_covers_all_five_seeds() {
    let cat = Catalogue::embedded().unwrap();
    let seeds = std::fs::read_dir(root().join("../shared/seeds"));
    let docs: std::collections::BTreeSet<&str> = cat
        .requirements
        .iter()
        .map(|r| r.source.document.as_str())
        .collect();
    for d in [
        "000_a43502171f5bf4e4.txt",
        "001_5c0edfb8210bb1ac.txt",
        "002_f568d11ccc2ed69c.txt",
        "003_17486658723ebefe.txt",
        "004_ad3293d126cf5b23.txt",
    ] {
        assert!(docs.contains(d), "no requirement cites {d}");
    }
    // Where the seeds are at hand, every cited document exists.
    if let Ok(rd) = seeds {
        let files: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for d in docs {
            assert!(files.iter().any(|f| f == d), "{d} is not a seed file");
        }
    }
}
