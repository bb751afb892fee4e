//! The runner's verdicts about the run itself (issue 12, items 2–4): a tag
//! expression that selects nothing by mistake, a SUT that is not there or
//! dies, and an interrupted run. Each is an exit code CI gates on and a
//! report that says what happened.

use crate::common::*;
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn file(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_mistyped_tag_is_exit_2_naming_it_and_the_nearest_known() {
    let out = tmpdir("tags-typo");
    for (expr, unknown, nearest) in [
        ("@DR1", "@DR1", "@DR-1"),
        ("@im-clinet", "@im-clinet", "@im-client"),
        ("@DR-999", "@DR-999", "@DR-9"),
        ("@DR-1 or @im-clinet", "@im-clinet", "@im-client"),
        ("not @DR1", "@DR1", "@DR-1"),
    ] {
        let o = liaison(&[
            "run",
            "--quiet",
            "--tags",
            expr,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{expr}: {}", text(&o));
        let err = stderr_of(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{expr}: one line: {err}");
        assert!(err.contains(unknown), "{expr}: names {unknown}: {err}");
        assert!(err.contains(nearest), "{expr}: suggests {nearest}: {err}");
    }
    // @DR-999 looks like a requirement: the error says it is not one.
    let o = liaison(&["run", "--quiet", "--tags", "@DR-999"]);
    assert!(
        stderr_of(&o).contains("not a requirement of the catalogue"),
        "{}",
        text(&o)
    );
    // A catalogue requirement no scenario checks selects nothing either.
    let cat = liaison::catalogue::Catalogue::embedded().unwrap();
    let feats = liaison::runner::load_features(&root().join("features")).unwrap();
    let all = liaison::runner::scenarios(&feats);
    if let Some(r) = cat
        .requirements
        .iter()
        .find(|r| !all.iter().any(|s| s.tags.contains(&r.id)))
    {
        let tag = format!("@{}", r.id);
        let o = liaison(&["run", "--quiet", "--tags", &tag]);
        assert_eq!(o.status.code(), Some(2), "{tag}: {}", text(&o));
        assert!(stderr_of(&o).contains("no scenario checks"), "{}", text(&o));
    }
}

#[test]
fn a_run_that_selects_no_scenario_is_exit_2_nothing_to_run() {
    let out = tmpdir("tags-nothing");
    let o = liaison(&[
        "run",
        "--quiet",
        "--tags",
        "@DR-1 and not @DR-1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr_of(&o).contains("nothing to run"), "{}", text(&o));
    // Known tags, but none of the scenarios applies to this SUT's roles
    // (refused before the SUT is launched: baresip need not be installed).
    let o = liaison(&[
        "run",
        "--quiet",
        "--sut",
        "fixtures/sut/baresip.yaml",
        "--tags",
        "@im-server",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains("nothing to run") && err.contains("none of which applies"),
        "{}",
        text(&o)
    );
    assert!(
        !out.join("sut-stderr.log").exists(),
        "nothing was launched for nothing to run"
    );
}

/// The SUT's run-level event in report.json.
fn sut_event(r: &serde_json::Value) -> serde_json::Value {
    r["runs"][0]["sut_event"].clone()
}

#[test]
fn nothing_listening_is_exit_2_before_the_first_scenario() {
    for transport in ["udp", "tcp"] {
        let d = tmpdir(&format!("absent-{transport}"));
        let port = free_port("127.0.0.1");
        let p = write(
            &d,
            "p.yaml",
            &format!("name: nobody home\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, transport: [{transport}], aor: \"sip:bob@127.0.0.1:{port}\" }}\ntimers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n"),
        );
        let out = d.join("out");
        let t = Instant::now();
        let o = liaison(&["run", "--sut", &p, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{transport}: {}", text(&o));
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let err = stderr_of(&o);
        assert!(
            err.contains("unreachable before the first scenario")
                && err.contains(&format!("127.0.0.1:{port}")),
            "{transport}: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("no final response"),
            "{}",
            text(&o)
        );
        let r = report(&out);
        assert_eq!(sut_event(&r)["kind"], "unreachable", "{r}");
        assert_eq!(r["scenarios"].as_array().unwrap().len(), 0);
        assert!(file(&out, "summary.txt").contains("SUT UNREACHABLE"));
        assert!(file(&out, "junit.xml").contains(r#"<property name="sut" value="unreachable"/>"#));
        // `liaison report` gives the same exit code from the stored run.
        let o = liaison(&["report", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
}

fn hostile_profile(dir: &std::path::Path, port: u16, args: &str, ready: bool) -> String {
    let ready = if ready {
        format!("\n  ready: {{ sip_options: 127.0.0.1:{port}, timeout_s: 5 }}")
    } else {
        String::new()
    };
    write(
        dir,
        "hostile.yaml",
        &format!(
            "name: hostile SUT\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, aor: \"sip:bob@127.0.0.1:{port}\" }}\ntimers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\nlaunch:\n  command: [/usr/bin/python3, fixtures/hostile/sip_dies.py, --listen, \"127.0.0.1:{port}\"{args}]{ready}\ncapabilities: {{ accept_types: [text/plain] }}\n"
        ),
    )
}

#[test]
fn a_sut_that_exits_before_the_first_scenario_is_exit_2_with_its_stderr_in_the_report() {
    for ready in [true, false] {
        let d = tmpdir("dies-early");
        let port = free_port("127.0.0.1");
        let p = if ready {
            hostile_profile(&d, port, ", --before-ready", true)
        } else {
            // Without a readiness probe, a program that fails at once (a
            // shell, faster than any scenario starts).
            write(
                &d,
                "hostile.yaml",
                &format!("name: hostile SUT\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, aor: \"sip:bob@127.0.0.1:{port}\" }}\nlaunch:\n  command: [/bin/sh, fixtures/hostile/exits_at_once.sh]\n"),
            )
        };
        let out = d.join("out");
        let o = liaison(&["run", "--sut", &p, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "ready {ready}: {}", text(&o));
        let all = text(&o);
        assert!(
            stderr_of(&o).contains("exited before")
                && all.contains("cannot open its configuration"),
            "ready {ready}: {all}"
        );
        let r = report(&out);
        let e = sut_event(&r);
        assert_eq!(e["kind"], "exited-before-ready", "{r}");
        assert!(e["status"].as_str().unwrap().contains('3'), "{e}");
        assert!(
            e["stderr_tail"][0]
                .as_str()
                .unwrap()
                .contains("cannot open its configuration"),
            "{e}"
        );
        let junit = file(&out, "junit.xml");
        assert!(
            junit.contains("<system-err>hostile SUT: cannot open its configuration"),
            "{junit}"
        );
        assert!(file(&out, "summary.txt").contains("SUT EXITED"));
        assert!(file(&out, "report.html").contains("cannot open its configuration"));
    }
}

#[test]
fn a_sut_that_dies_during_the_run_is_a_run_level_event_not_failures() {
    let d = tmpdir("dies-mid");
    let port = free_port("127.0.0.1");
    let p = hostile_profile(&d, port, ", --on-message, \"1\"", true);
    let out = d.join("out");
    let t = Instant::now();
    let o = liaison(&[
        "run",
        "--sut",
        &p,
        "--tags",
        "@im-client",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The SUT's death fails the run, and the run stops at once rather than
    // waiting out every scenario's timeout.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let r = report(&out);
    let e = sut_event(&r);
    assert_eq!(e["kind"], "died", "{r}");
    assert!(e["status"].as_str().unwrap().contains('9'), "{e}");
    assert!(e["at_ms"].as_u64().unwrap() > 0, "{e}");
    let tail: Vec<&str> = e["stderr_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(tail.iter().any(|l| l.contains("is too much, dying")), "{e}");
    // Not failed one by one: the scenarios it kept from finishing are not
    // run, each saying why.
    let scenarios = r["scenarios"].as_array().unwrap();
    assert!(
        scenarios.iter().all(|s| s["verdict"] != "failed"),
        "{}",
        file(&out, "summary.txt")
    );
    let skipped: Vec<&serde_json::Value> = scenarios
        .iter()
        .filter(|s| s["verdict"] == "skipped")
        .collect();
    assert!(!skipped.is_empty(), "{r}");
    for s in &skipped {
        assert!(
            s["failure"].as_str().unwrap().contains("the SUT died at"),
            "{s}"
        );
    }
    assert_eq!(e["not_run"].as_u64().unwrap() as usize, skipped.len());
    assert!(!e["during"].as_array().unwrap().is_empty(), "{e}");
    // Those that were running keep their capture: what the SUT got before
    // it died (here, the MESSAGE it died on).
    let with_pcap: Vec<&&serde_json::Value> = skipped
        .iter()
        .filter(|s| {
            s["failure"]
                .as_str()
                .unwrap()
                .contains("while this scenario ran")
        })
        .collect();
    assert!(!with_pcap.is_empty(), "{r}");
    for s in with_pcap {
        let p = out.join(s["pcap"].as_str().unwrap_or_else(|| panic!("pcap: {s}")));
        assert!(p.exists(), "{}", p.display());
    }
    assert!(requirements_with(&r, "failed").is_empty());
    let summary = file(&out, "summary.txt");
    assert!(
        summary.contains("SUT DIED: the SUT died at") && summary.contains("is too much, dying"),
        "{summary}"
    );
    let junit = file(&out, "junit.xml");
    assert!(
        junit.contains(r#"<property name="sut" value="died"/>"#)
            && junit.contains("<system-err>")
            && junit.contains("is too much, dying"),
        "{junit}"
    );
    let html = file(&out, "report.html");
    assert!(
        html.contains("SUT DIED") && html.contains("is too much, dying"),
        "report.html names the death"
    );
}

#[test]
fn an_interrupted_run_keeps_every_finished_scenario_and_prints_them_as_they_finish() {
    // DR-20's scenario (msrp-relay.feature) takes over a second; DR-5's
    // (pager-im-server.feature, later in feature order) take a few hundred
    // ms. Held back in feature order, no line would come before DR-20's.
    let out = tmpdir("interrupt-finished");
    let mut child = Command::new(bin())
        .args([
            "run",
            "--tags",
            "@DR-20 or @DR-5",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let dr5 = l.contains("PASS DR-5") || l.contains("FAIL DR-5");
                lines.push(l);
                if dr5 {
                    break;
                }
            }
            Err(_) => panic!("no DR-5 progress line within 30 s: {lines:?}"),
        }
    }
    assert!(
        !lines.iter().any(|l| l.contains(" DR-20 ")),
        "progress lines came in feature order, not as scenarios finished: {lines:?}"
    );
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    assert_eq!(status.code(), Some(3), "{lines:?}");
    // Every scenario whose progress line was printed is in the report.
    let progress: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with('[') && (l.contains("] PASS ") || l.contains("] FAIL ")))
        .collect();
    assert!(!progress.is_empty());
    let r = report(&out);
    assert_eq!(r["interrupted"], true);
    let names: Vec<String> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), progress.len(), "{names:?} vs {progress:?}");
    for l in &progress {
        assert!(
            names.iter().any(|n| l.contains(n.as_str())),
            "finished, not in report.json: {l}"
        );
    }
    // junit.xml too, and it says the run was interrupted.
    let junit = file(&out, "junit.xml");
    let cases = junit.matches("<testcase classname=\"DR-").count();
    assert_eq!(cases, progress.len(), "{junit}");
    assert!(
        junit.contains(r#"<property name="interrupted" value="true"/>"#)
            && junit.contains(r#"type="interrupted""#),
        "{junit}"
    );
}

/// Issue 14, item 2: the PPG and MMS relay scenarios run side by side
/// through the run-level bearers (SMSC, OTA-HTTP target, SIP device), and
/// each pcap holds its own traffic only: no number of one scenario in
/// another's pcap, the binds in the run-level pcaps the report names and in
/// no scenario's.
#[test]
fn ppg_and_mms_relay_scenarios_share_the_bearers_and_keep_their_own_traffic() {
    let out = tmpdir("routed-bearers");
    let o = liaison(&[
        "run",
        "--quiet",
        "--tags",
        "@ppg or @mms-relay",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let r: serde_json::Value = serde_json::from_str(&file(&out, "report.json")).unwrap();
    let pcaps = &r["runs"][0]["pcaps"];
    let mut binds = Vec::new();
    for (harness, bind) in [
        ("ppg-bearers", &b"liaison-ppg\0secret\0"[..]),
        ("mms-relay-bearers", &b"liaison-mms\0secret\0"[..]),
    ] {
        let p = pcaps
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["harness"] == harness)
            .unwrap_or_else(|| panic!("no run-level pcap for {harness}: {pcaps}"));
        assert_eq!(p["pcap"], format!("pcaps/run-level-{harness}.pcap"));
        let run_level = std::fs::read(out.join(p["pcap"].as_str().unwrap())).unwrap();
        assert!(
            run_level.windows(bind.len()).any(|w| w == bind),
            "{harness}"
        );
        assert!(
            numbers_in(&run_level).is_empty(),
            "{harness}: {:?}",
            numbers_in(&run_level)
        );
        binds.push(bind);
    }
    // The From of the M-Notification.ind every PPG scenario submits.
    let shared = "15550000001";
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    let scenarios = r["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 30);
    for s in scenarios {
        let name = s["pcap"].as_str().unwrap();
        let bytes = std::fs::read(out.join(name)).unwrap();
        for bind in &binds {
            assert!(
                !bytes.windows(bind.len()).any(|w| w == *bind),
                "{name} holds a bind"
            );
        }
        for n in numbers_in(&bytes).into_iter().filter(|n| n != shared) {
            if let Some(other) = owner.insert(n.clone(), name.to_string()) {
                panic!("+{n} is in {other} and in {name}");
            }
        }
    }
}

/// The numbers (`1555` and seven digits) written in a pcap's bytes.
fn numbers_in(bytes: &[u8]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for (i, w) in bytes.windows(11).enumerate() {
        if w.starts_with(b"1555")
            && w.iter().all(u8::is_ascii_digit)
            && !bytes.get(i + 11).is_some_and(u8::is_ascii_digit)
            && !(i > 0 && bytes[i - 1].is_ascii_digit())
        {
            out.insert(String::from_utf8_lossy(w).into_owned());
        }
    }
    out
}

/// Issue 14, item 2: the IWF scenarios run side by side through one
/// harness SMSC and IMS core, and each pcap holds its own traffic only: no
/// number of one scenario in another's pcap, the bind in the run-level pcap
/// the report names and in no scenario's.
#[test]
fn scenarios_sharing_a_run_level_role_each_get_their_own_traffic() {
    let out = tmpdir("routed");
    let o = liaison(&[
        "run",
        "--quiet",
        "--tags",
        "@sms-im-iwf",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let r: serde_json::Value = serde_json::from_str(&file(&out, "report.json")).unwrap();
    let pcaps = &r["runs"][0]["pcaps"];
    let iwf = pcaps
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["harness"] == "iwf")
        .unwrap_or_else(|| panic!("no run-level pcap for iwf: {pcaps}"));
    assert_eq!(iwf["pcap"], "pcaps/run-level-iwf.pcap");
    let run_level = std::fs::read(out.join(iwf["pcap"].as_str().unwrap())).unwrap();
    assert!(iwf["frames"].as_u64().unwrap() > 0 && iwf["unclaimed"].as_u64().unwrap() >= 2);
    // The bind (system_id and password) is run-level traffic.
    let bind = b"liaison\0secret\0";
    assert!(run_level.windows(bind.len()).any(|w| w == bind));
    assert!(
        numbers_in(&run_level).is_empty(),
        "{:?}",
        numbers_in(&run_level)
    );
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    let scenarios = r["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 10);
    for s in scenarios {
        let name = s["pcap"].as_str().unwrap();
        let bytes = std::fs::read(out.join(name)).unwrap();
        assert!(
            !bytes.windows(bind.len()).any(|w| w == bind),
            "{name} holds the bind"
        );
        let numbers = numbers_in(&bytes);
        assert!(!numbers.is_empty(), "{name}: no traffic of its own");
        for n in numbers {
            if let Some(other) = owner.insert(n.clone(), name.to_string()) {
                panic!("+{n} is in {other} and in {name}");
            }
        }
    }
}
