//! The fault-kill test: the suite, run against every named fault of the
//! embedded reference, fails exactly the requirements that fault declares —
//! and the clean reference passes everything. This is what shows that each
//! scenario can fail.

mod common;

use common::*;
use std::collections::BTreeSet;

#[test]
fn clean_reference_passes_everything() {
    let out = tmpdir("clean");
    let o = liaison(&["run", "--quiet", "--out", out.to_str().unwrap()]);
    let r = report(&out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(requirements_with(&r, "failed").is_empty(), "{}", text(&o));
    assert_eq!(r["summary"]["scenarios"]["failed"], 0);
    assert!(r["summary"]["scenarios"]["passed"].as_u64().unwrap() >= 10);
}

#[test]
fn every_fault_fails_exactly_its_declared_requirements() {
    let faults = liaison::reference::FAULTS;
    // Two at a time: the machines have two cores.
    let mut problems = Vec::new();
    for pair in faults.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|f| {
                let spec = format!("{}/{}", f.role, f.name);
                // A fault lives in one reference role, which only that role's
                // scenarios reach: run those (the clean run covers the rest).
                let tags = format!("@{}", f.role);
                std::thread::spawn(move || {
                    let out = tmpdir(&format!("fault-{}", spec.replace('/', "-")));
                    let o = liaison(&[
                        "run",
                        "--quiet",
                        "--strict",
                        "--tags",
                        &tags,
                        "--fault",
                        &spec,
                        "--out",
                        out.to_str().unwrap(),
                    ]);
                    (spec, out, o)
                })
            })
            .collect();
        for (h, f) in handles.into_iter().zip(pair) {
            let (spec, out, o) = h.join().unwrap();
            let r = report(&out);
            let failed: BTreeSet<String> = requirements_with(&r, "failed").into_iter().collect();
            let declared: BTreeSet<String> = f.breaks.iter().map(|s| s.to_string()).collect();
            if failed != declared {
                problems.push(format!(
                    "fault {spec}: declared {:?}, failed {:?}\n{}",
                    declared,
                    failed,
                    std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default()
                ));
            }
            // Run with --strict: a broken MUST or SHOULD gates (exit 1); a
            // fault that breaks only MAY requirements leaves the exit at 0.
            let cat = liaison::catalogue::Catalogue::embedded().unwrap();
            let gates = declared.iter().any(|id| {
                cat.get(id).is_some_and(|q| {
                    matches!(
                        q.level,
                        liaison::catalogue::Level::Must | liaison::catalogue::Level::Should
                    )
                })
            });
            let want = if gates { 1 } else { 0 };
            if o.status.code() != Some(want) {
                problems.push(format!(
                    "fault {spec}: exit {:?}, expected {want}\n{}",
                    o.status.code(),
                    text(&o)
                ));
            }
            // Every failure names its requirement, what was expected and what came.
            for s in r["scenarios"].as_array().unwrap() {
                if s["verdict"] == "failed" {
                    let msg = s["failure"].as_str().unwrap_or("");
                    let reqs: Vec<&str> = s["requirements"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap())
                        .collect();
                    if !(reqs.iter().any(|id| msg.contains(id))
                        && msg.contains("expected")
                        && msg.contains("came"))
                    {
                        problems.push(format!(
                            "fault {spec}: scenario {} has an unclear failure: {msg}",
                            s["name"]
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_testable_requirement_with_scenarios_is_broken_by_some_fault() {
    let cat = liaison::catalogue::Catalogue::embedded().unwrap();
    let feats = liaison::runner::load_features(&root().join("features")).unwrap();
    let all = liaison::runner::scenarios(&feats);
    let broken: BTreeSet<&str> = liaison::reference::FAULTS
        .iter()
        .flat_map(|f| f.breaks.iter().copied())
        .collect();
    let mut missing = Vec::new();
    for r in &cat.requirements {
        let has_scenario = all.iter().any(|s| s.requirements().contains(&r.id));
        if has_scenario && !broken.contains(r.id.as_str()) {
            missing.push(r.id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "requirements no reference fault breaks (their scenarios are unproven): {missing:?}"
    );
}
