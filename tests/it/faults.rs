//! The fault-kill test: the suite, run against every named fault of the
//! embedded reference, fails exactly the requirements that fault declares —
//! and the clean reference passes everything. This is what shows that each
//! scenario can fail.

use crate::common::*;
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
    // LIAISON_FAULT_FILTER=TEXT runs only the faults whose ROLE/NAME contains
    // TEXT (for working on one role's faults; CI runs them all).
    let filter = std::env::var("LIAISON_FAULT_FILTER").unwrap_or_default();
    let faults: Vec<liaison::reference::Fault> = liaison::reference::faults()
        .filter(|f| format!("{}/{}", f.role, f.name).contains(&filter))
        .copied()
        .collect();
    // A small work queue. Each run mostly waits, on protocol timers and on
    // the harness roles its scenarios take turns with (a whole run of 183
    // faults used 54 s of CPU in 161 s of wall time with six at a time on
    // two cores). What starves the reference's 20 ms T1 is many runs of
    // the roles whose scenarios all run at once (im-server: 43 side by
    // side, im-client: 23): so at most a third of the jobs run faults of
    // one role (four of 12: eight runs of those two hold fewer scenarios
    // than the six im-server runs once measured safe), and the queue takes
    // the roles in turn, so that the runs of the other roles fill the
    // rest. Six at a time: with 12 (and the other tests of the binary
    // beside them) a clean-clone run on two cores failed im-server and
    // im-client faults on their timers twice in a row (load average 14).
    // Eight: the same 45 s of CPU as six, in 60 s of wall time alone rather
    // than 87 (three clean-clone runs of the whole suite with eight passed;
    // the one failure seen with eight was a scenario's race, since fixed,
    // not a timer). LIAISON_FAULT_JOBS overrides the 8.
    let jobs: usize = std::env::var("LIAISON_FAULT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(8);
    let per_role = jobs.div_ceil(3);
    let mut roles: Vec<&str> = Vec::new();
    let mut order: Vec<(usize, usize, usize)> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        if !roles.contains(&f.role) {
            roles.push(f.role);
        }
        let role = roles.iter().position(|r| *r == f.role).unwrap();
        let nth = order.iter().filter(|o| o.1 == role).count();
        order.push((nth, role, i));
    }
    order.sort();
    // (faults not started, in turn by role; runs going per role)
    let queue = std::sync::Mutex::new((
        order.into_iter().map(|o| o.2).collect::<Vec<usize>>(),
        std::collections::HashMap::<&str, usize>::new(),
    ));
    let freed = std::sync::Condvar::new();
    let done = std::sync::Mutex::new(Vec::new());
    // The tshark tests' runs wait (common::quiet).
    let _flood = flood();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = {
                    let mut q = queue.lock().unwrap();
                    loop {
                        let (pending, going) = &mut *q;
                        if pending.is_empty() {
                            return;
                        }
                        let free =
                            |i: &usize| going.get(faults[*i].role).copied().unwrap_or(0) < per_role;
                        if let Some(at) = pending.iter().position(free) {
                            let i = pending.remove(at);
                            *going.entry(faults[i].role).or_default() += 1;
                            break i;
                        }
                        q = freed.wait(q).unwrap();
                    }
                };
                let f = &faults[i];
                let spec = format!("{}/{}", f.role, f.name);
                // A fault lives in one reference role, which only that role's
                // scenarios reach: run those (the clean run covers the rest).
                let tags = format!("@{}", f.role);
                // (The role's place is given back even if this panics.)
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let out = tmpdir(&format!("fault-{}", spec.replace('/', "-")));
                    // --strict: a fault that breaks only SHOULDs must still fail the run.
                    let mut args = vec![
                        "run",
                        "--quiet",
                        "--strict",
                        "--tags",
                        &tags,
                        "--fault",
                        &spec,
                        "--out",
                        out.to_str().unwrap(),
                    ];
                    // A fault that shows only where the IMS core shares the
                    // harness's IP runs on IPv6 loopback.
                    if f.on_ipv6 {
                        args.extend(["--address", "::1"]);
                    }
                    let o = liaison(&args);
                    (out, o)
                }));
                *queue.lock().unwrap().1.get_mut(f.role).unwrap() -= 1;
                freed.notify_all();
                let (out, o) = run.unwrap_or_else(|e| std::panic::resume_unwind(e));
                done.lock().unwrap().push((i, spec, out, o));
            });
        }
    });
    let mut results = done.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let mut problems = Vec::new();
    {
        for (i, spec, out, o) in results {
            let f = &faults[i];
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
            // Run with --strict: any failed requirement gates the exit code.
            let want = if declared.is_empty() { 0 } else { 1 };
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
    let broken: BTreeSet<&str> = liaison::reference::faults()
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
