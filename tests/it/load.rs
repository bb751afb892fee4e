//! `liaison load` against the embedded reference im-client: a clean run,
//! every load fault of every role caught (the load fault-kill test), the
//! conformance faults that matter under load caught too, a hostile SUT,
//! a rate the machine cannot reach, an interrupted run, bad arguments.

use crate::common::*;

#[test]
fn a_clean_reference_im_client_keeps_every_outcome() {
    let (o, j, out) = load_run(
        &["--count", "3000", "--rate", "3000", "--t1-ms", "20"],
        "load-clean",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for k in ["sent", "completed"] {
        assert_eq!(j[k], 3000, "{k}: {j}");
    }
    for k in ["lost", "late", "duplicated", "mismatched", "fabricated"] {
        assert_eq!(j[k], 0, "{k}: {j}");
    }
    assert_eq!(j["codes"]["200"], 3000);
    assert!(j["rate_per_s"].as_f64().unwrap() > 2800.0, "{j}");
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(j["latency_ms"][p].as_f64().unwrap() > 0.0, "{p}: {j}");
    }
    assert!(!j["series"].as_array().unwrap().is_empty());
    assert!(j["cost"]["generator_cpu_us_per_message"].as_f64().unwrap() > 0.0);
    assert!(
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true),
        "{j}"
    );
    // junit: one testcase per check, none failed.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count(),
        j["checks"].as_array().unwrap().len()
    );
    assert!(!junit.contains("<failure"), "{junit}");
    // The ring's pcap opens cleanly and holds every MESSAGE and its 200.
    let fields = tshark(&[
        "-r",
        out.join("load.pcap").to_str().unwrap(),
        "-Y",
        "sip",
        "-T",
        "fields",
        "-e",
        "sip.Method",
        "-e",
        "sip.Status-Code",
    ]);
    let messages = fields.lines().filter(|l| l.starts_with("MESSAGE")).count();
    let oks = fields.lines().filter(|l| l.trim() == "200").count();
    assert!(
        messages >= 3000 && oks >= 3000,
        "{messages} MESSAGE, {oks} 200"
    );
}

/// The load fault-kill test: each fault only load reveals makes `liaison
/// load` fail with the counters it declares, and the same arguments against
/// the clean reference pass.
#[test]
fn every_load_fault_is_caught_and_the_clean_reference_passes_the_same_load() {
    let faults: Vec<_> = liaison::reference::load_faults().copied().collect();
    assert!(!faults.is_empty());
    // Three faults at a time (each run mostly waits on its rate and timers).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(f) = faults.get(i) else {
                    return;
                };
                let found = check_load_fault(f);
                problems.lock().unwrap().extend(found);
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// One load fault: its run fails on its counters with a finding; the clean
/// reference passes the same arguments with none of them.
fn check_load_fault(f: &liaison::reference::LoadFault) -> Vec<String> {
    let mut problems = Vec::new();
    {
        let spec = format!("{}/{}", f.role, f.name);
        let mut args = vec!["--fault", &spec];
        args.extend_from_slice(f.args);
        let (o, j, _) = load_run(&args, &format!("loadfault-{}", f.name));
        if o.status.code() != Some(1) {
            problems.push(format!(
                "{spec}: exit {:?}, expected 1\n{}",
                o.status.code(),
                text(&o)
            ));
        }
        if j["fault"] != spec.as_str() {
            problems.push(format!("{spec}: load.json names fault {}", j["fault"]));
        }
        for t in f.trips {
            if j[t].as_u64().unwrap_or(0) == 0 {
                problems.push(format!("{spec}: {t} is 0\n{}", text(&o)));
            }
            // The first of them kept, with the bytes that showed it (a lost
            // message has none).
            let finding = j["findings"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["kind"] == *t).cloned());
            match finding {
                None => problems.push(format!("{spec}: no {t} finding in load.json")),
                Some(x) if *t != "lost" && x["bytes"].as_str().unwrap_or("").is_empty() => {
                    problems.push(format!("{spec}: the {t} finding has no bytes: {x}"))
                }
                Some(_) => {}
            }
        }
        {
            let (o, j, _) = load_run(f.args, &format!("loadclean-{}", f.name));
            if o.status.code() != Some(0) {
                problems.push(format!("clean {} with {:?}: {}", f.role, f.args, text(&o)));
            }
            for t in f.trips {
                if j[t].as_u64().unwrap_or(1) != 0 {
                    problems.push(format!("clean {} with {:?}: {t} {}", f.role, f.args, j[t]));
                }
            }
        }
    }
    problems
}

/// Conformance faults of the im-client that break delivery reports are
/// caught under load as well, each as the counter it should trip, with the
/// offending bytes kept.
#[test]
fn conformance_faults_show_as_their_integrity_counters_under_load() {
    let cases = [
        ("conflicting-finals", "duplicated"),
        ("wrong-transaction", "mismatched"),
        ("never-answers", "lost"),
        ("garbage-responses", "lost"),
    ];
    std::thread::scope(|scope| {
        for (fault, counter) in cases {
            scope.spawn(move || conformance_fault_under_load(fault, counter));
        }
    });
}

fn conformance_fault_under_load(fault: &str, counter: &str) {
    {
        let spec = format!("im-client/{fault}");
        let started = std::time::Instant::now();
        let (o, j, _) = load_run(
            &[
                "--fault", &spec, "--count", "300", "--rate", "1000", "--t1-ms", "10",
            ],
            &format!("load-{fault}"),
        );
        assert_eq!(o.status.code(), Some(1), "{fault}: {}", text(&o));
        assert!(j[counter].as_u64().unwrap() > 0, "{fault}: {counter}: {j}");
        let finding = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == counter)
            .unwrap_or_else(|| panic!("{fault}: no {counter} finding: {j}"));
        if counter != "lost" {
            assert!(
                finding["bytes"].as_str().unwrap().starts_with("SIP/2.0"),
                "{finding}"
            );
        }
        // Timer F at 64·10 ms, then the linger: bounded.
        assert!(
            started.elapsed().as_secs() < 15,
            "{fault}: {:?}",
            started.elapsed()
        );
        if fault == "garbage-responses" {
            assert!(j["unreadable"].as_u64().unwrap() >= 300, "{j}");
        }
    }
}

#[test]
fn a_rate_the_machine_cannot_reach_is_reported_not_hidden() {
    let (o, j, _) = load_run(
        &[
            "--count",
            "20000",
            "--rate",
            "5000000",
            "--t1-ms",
            "20",
            "--max-lost",
            "20000",
        ],
        "load-unreachable",
    );
    let check = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "the target rate was reached")
        .unwrap_or_else(|| panic!("{j}"))
        .clone();
    assert_eq!(check["passed"], false, "{check}");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("5000000/s"), "{}", text(&o));
}

#[test]
fn an_interrupted_load_writes_what_it_has() {
    let out = tmpdir("load-interrupted");
    let child = std::process::Command::new(bin())
        .args([
            "load",
            "--quiet",
            "--duration",
            "30",
            "--rate",
            "500",
            "--out",
        ])
        .arg(&out)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let j = load_json(&out);
    assert_eq!(j["interrupted"], true);
    let sent = j["sent"].as_u64().unwrap();
    assert!(sent > 100 && sent < 15000, "{sent}");
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    for (args, want) in [
        (
            &["--count", "10", "--mix", "180:5"][..],
            "final status code",
        ),
        (&["--rate", "100"][..], "--count N or --duration S"),
        (&["--count", "10", "--capture", "ring:0"][..], "ring:MB"),
        (&["--count", "10", "--agent", "3/2"][..], "K must be"),
        (&["--count", "10", "--role", "push-client"][..], "drives"),
        (
            &["--count", "10", "--fault", "im-server/ignores-path"][..],
            "not a fault of",
        ),
    ] {
        let (o, _, _) = load_run(args, "load-usage");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
}

/// SIPp's UAS (a third-party peer, launched from its profile) under
/// `liaison load`: every MESSAGE gets its own 200.
#[test]
fn sipp_as_a_load_target_answers_every_message_once() {
    require_program("sipp", "sip-tester");
    let port = free_port("127.0.0.1").to_string();
    let profile = std::fs::read_to_string(root().join("fixtures/sut/sipp-uas.yaml"))
        .unwrap()
        .replace("25090", &port);
    let dir = tmpdir("load-sipp");
    let p = dir.join("sipp-uas.yaml");
    std::fs::write(&p, profile).unwrap();
    let (o, j, _) = load_run(
        &[
            "--sut",
            p.to_str().unwrap(),
            "--count",
            "5000",
            "--rate",
            "5000",
        ],
        "load-sipp-run",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["completed"], 5000, "{j}");
    assert_eq!(j["sut"], "SIPp 3.6 UAS (200 to every request)");
}

/// Without --rate: the stepped search lists its steps and keeps the last
/// clean one; an integrity violation at any step fails the run.
#[test]
fn the_stepped_search_finds_a_clean_rate_and_fails_on_any_violation() {
    let (o, j, _) = load_run(&["--count", "400", "--t1-ms", "20"], "load-search");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let steps = j["search"].as_array().unwrap();
    assert!(steps.len() >= 3, "{j}");
    assert_eq!(steps[0]["target_rate_per_s"], 1000.0);
    assert!(steps.iter().any(|s| s["clean"] == true));
    let best = j["target_rate_per_s"].as_f64().unwrap();
    assert!(best >= 1000.0, "{best}");
    let (o, j, _) = load_run(
        &[
            "--count",
            "400",
            "--t1-ms",
            "20",
            "--fault",
            "im-client/conflicting-finals",
        ],
        "load-search-fault",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(j["duplicated"].as_u64().unwrap() > 0, "{j}");
}
