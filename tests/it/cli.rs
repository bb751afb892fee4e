//! The command line as users and scripts rely on it: exit codes, one-line
//! errors, launching a real SUT process, interruption, report re-rendering.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn bad_profiles_exit_2_with_one_line_naming_file_and_field() {
    let d = tmpdir("badprof");
    let cases = [
        ("unknown.yaml", "name: x\nroles: [im-client]\nsip: { address: 127.0.0.1:5070, aor: \"sip:b@x\", colour: red }\n", "sip: unknown field `colour`"),
        ("type.yaml", "name: x\nroles: [im-client]\nsip: { address: 127.0.0.1:5070, aor: \"sip:b@x\" }\ntimers: { t1_ms: soon }\n", "timers.t1_ms: wrong type"),
        ("noaddr.yaml", "name: x\nroles: [im-server]\nsip: { domain: liaison.test }\n", "sip.address: expected"),
        ("noroles.yaml", "name: x\nsip: { address: 127.0.0.1:5070 }\n", "roles"),
        ("port0.yaml", "name: x\nroles: [im-client]\nsip: { address: 127.0.0.1:0, aor: \"sip:b@x\" }\n", "sip.address: expected a fixed port"),
    ];
    for (file, body, want) in cases {
        let p = write(&d, file, body);
        let o = liaison(&["run", "--sut", &p, "--out", d.join("out").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{file}: one line expected: {err}"
        );
        assert!(err.contains(&p), "{file}: names the file: {err}");
        assert!(err.contains(want), "{file}: expected `{want}` in: {err}");
    }
    // Refused before anything is written: no report folder.
    let never = tmpdir("profile-unreadable").join("out");
    let o = liaison(&[
        "run",
        "--sut",
        "/nonexistent/profile.yaml",
        "--out",
        never.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("/nonexistent/profile.yaml: cannot read the file"));
    assert!(
        !never.exists(),
        "a report folder for a profile that cannot be read"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["run", "--fault", "im-client/no-such-fault"],
        vec!["run", "--tags", "@DR-1 and and"],
        vec!["run", "--waivers", "/nonexistent/w.yaml"],
        vec!["frobnicate"],
        vec![
            "reference",
            "--role",
            "im-client",
            "--listen",
            "10.0.0.1:5060",
        ],
    ] {
        let o = liaison(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}

#[test]
fn tags_select_scenarios_and_progress_lines_are_printed() {
    let out = tmpdir("tags");
    let o = liaison(&["run", "--tags", "@DR-3", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    let names: Vec<String> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("[  1/1] PASS DR-3"), "{stdout}");
    for line in [
        "scenarios: 1 passed, 0 failed",
        "requirements: 1 passed",
        "time: ",
        "report: ",
    ] {
        assert!(stdout.contains(line), "summary lacks `{line}`: {stdout}");
    }
    assert!(out.join("junit.xml").exists() && out.join("report.html").exists());
}

#[test]
fn list_shows_requirements_and_what_applies() {
    let o = liaison(&["list", "--sut", "fixtures/sut/baresip.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("DR-1 [MUST]"), "{s}");
    assert!(
        s.contains("[applies]") && s.contains("[does not apply]"),
        "{s}"
    );
    // Every requirement still pending says so, with what will add it.
    let cat = liaison::catalogue::Catalogue::embedded().unwrap();
    for r in cat.requirements.iter() {
        if let Some(p) = &r.pending {
            assert!(
                s.contains(&format!("no scenario yet: {p}")),
                "{}: {s}",
                r.id
            );
        }
    }
    assert!(s.contains("informative: "), "{s}");
}

#[test]
fn report_rerenders_and_merges() {
    let a = tmpdir("rep-a");
    let b = tmpdir("rep-b");
    assert_eq!(
        liaison(&[
            "run",
            "--quiet",
            "--tags",
            "@im-client",
            "--out",
            a.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        liaison(&[
            "run",
            "--quiet",
            "--tags",
            "@im-server",
            "--out",
            b.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    std::fs::remove_file(a.join("junit.xml")).unwrap();
    let o = liaison(&["report", a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(a.join("junit.xml").exists());
    let m = tmpdir("rep-m");
    let o = liaison(&[
        "report",
        "--merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&m);
    let ra = report(&a);
    let rb = report(&b);
    assert_eq!(
        r["scenarios"].as_array().unwrap().len(),
        ra["scenarios"].as_array().unwrap().len() + rb["scenarios"].as_array().unwrap().len()
    );
    // Pcap paths are rewritten relative to the merged folder and still exist.
    for s in r["scenarios"].as_array().unwrap() {
        let p = m.join(s["pcap"].as_str().unwrap());
        assert!(p.exists(), "{}", p.display());
    }
    assert!(requirements_with(&r, "passed").contains(&"DR-1".to_string()));
    assert!(requirements_with(&r, "passed").contains(&"DR-5".to_string()));
}

fn reference_profile(dir: &std::path::Path, port: u16, fault: Option<&str>) -> String {
    // A faulty reference may not answer OPTIONS: probe it by TCP then.
    let ready = if fault.is_some() {
        "tcp"
    } else {
        "sip_options"
    };
    let fault = fault.map(|f| format!(", --fault, {f}")).unwrap_or_default();
    write(
        dir,
        "ref.yaml",
        &format!(
            "name: reference im-client as its own process\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, transport: [udp, tcp], aor: \"sip:bob@127.0.0.1:{port}\" }}\ntimers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\nlaunch:\n  command: [{}, reference, --role, im-client, --listen, \"127.0.0.1:{port}\", --t1-ms, \"50\"{fault}]\n  ready: {{ {ready}: 127.0.0.1:{port}, timeout_s: 5 }}\ncapabilities: {{ accept_types: [text/plain] }}\n",
            bin()
        ),
    )
}

fn port_is_free(port: u16) -> bool {
    std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn launch_starts_probes_logs_and_stops_the_sut() {
    let d = tmpdir("launch");
    let port = free_port("127.0.0.1");
    let p = reference_profile(&d, port, None);
    let out = d.join("out");
    let o = liaison(&["run", "--sut", &p, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_to_string(out.join("sut-stdout.log")).unwrap();
    assert!(log.contains("listening on"), "SUT stdout kept: {log}");
    assert!(out.join("sut-stderr.log").exists());
    assert!(
        port_is_free(port),
        "the SUT was stopped and released its port"
    );
    // The report's requirement rows and the run's conformance statement
    // agree on what does not apply to this SUT (no TLS, no WebSocket, an
    // im-client only), and give the same reasons.
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let ics = &r["runs"][0]["ics"];
    let mut na = 0;
    for q in r["requirements"].as_array().unwrap() {
        let id = q["id"].as_str().unwrap();
        let s = ics["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in the statement"));
        if q["verdict"] == "informative" {
            assert_eq!(s["applicability"], "informative", "{id}");
            continue;
        }
        let stated_na = s["applicability"] == "not-applicable";
        assert_eq!(
            q["applicable"] == false,
            stated_na,
            "{id}: report {q} / statement {s}"
        );
        if stated_na && q["applicable"] == false && q["note"].is_string() {
            na += 1;
            let note = q["note"].as_str().unwrap();
            for why in s["reasons"].as_array().unwrap() {
                assert!(note.contains(why.as_str().unwrap()), "{id}: {note} / {why}");
            }
        }
    }
    assert!(na > 0, "some requirement is not applicable to an im-client");
}

#[test]
fn a_sut_that_never_gets_ready_is_exit_2() {
    let d = tmpdir("notready");
    let port = free_port("127.0.0.1");
    let p = write(
        &d,
        "p.yaml",
        &format!("name: sleeper\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, aor: \"sip:b@x\" }}\nlaunch:\n  command: [sleep, \"30\"]\n  ready: {{ sip_options: 127.0.0.1:{port}, timeout_s: 1 }}\n"),
    );
    let t = Instant::now();
    let o = liaison(&["run", "--sut", &p, "--out", d.join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unreachable"),
        "{}",
        text(&o)
    );
    assert!(t.elapsed() < Duration::from_secs(8));
}

#[test]
fn interrupt_exits_3_writes_the_partial_report_and_stops_the_sut() {
    let d = tmpdir("interrupt");
    let port = free_port("127.0.0.1");
    let p = reference_profile(&d, port, Some("never-answers"));
    let out = d.join("out");
    let child = Command::new(bin())
        .args(["run", "--sut", &p, "--out", out.to_str().unwrap()])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let r = report(&out);
    assert_eq!(r["interrupted"], true);
    assert!(port_is_free(port), "the SUT was stopped");
}

#[test]
fn every_shipped_profile_loads() {
    let dir = root().join("fixtures/sut");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            liaison::profile::Profile::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2, "expected the shipped profiles in {}", dir.display());
}
