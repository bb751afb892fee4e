//! The conformance statement (`liaison ics`, and in a run's report) and
//! the test purposes (`liaison list --format md|json`), through the binary.

use crate::common::*;
use std::io::Read as _;
use std::process::{Command, Stdio};

use liaison::catalogue::Catalogue;

/// An IWF whose password must never show, without `sme_ack`.
const IWF: &str = "name: test iwf\nroles: [sms-im-iwf]\niwf: { smsc: 127.0.0.1:2775, system_id: liaison, password: pw-never-shown, ims_core: 127.0.0.1:5060 }\ntimers: { t1_ms: 100 }\n";

fn json(o: &std::process::Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

fn item<'a>(s: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    s["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn a_profile_makes_other_roles_and_undeclared_capabilities_not_applicable_with_the_reason() {
    let d = tmpdir("ics-iwf");
    let p = d.join("iwf.yaml");
    std::fs::write(&p, IWF).unwrap();
    let s = json(&liaison(&[
        "ics",
        "--sut",
        p.to_str().unwrap(),
        "--format",
        "json",
    ]));
    // Every catalogue requirement once, in its order.
    let cat = Catalogue::embedded().unwrap();
    let ids: Vec<&str> = s["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = cat.requirements.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, want);
    // A requirement on a role the SUT does not play: N/A, saying so.
    let push1 = item(&s, "PUSH-1");
    assert_eq!(push1["applicability"], "not-applicable");
    assert_eq!(
        push1["reasons"][0],
        "a requirement on ppg; the SUT plays sms-im-iwf"
    );
    // Its own role, but an `@if:` capability it does not declare.
    let dr24 = item(&s, "DR-24");
    assert_eq!(dr24["applicability"], "not-applicable");
    assert_eq!(dr24["status"], "C");
    assert!(
        dr24["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "capability sme_ack: not declared by the SUT"),
        "{dr24}"
    );
    let dr21 = item(&s, "DR-21");
    assert_eq!(dr21["applicability"], "applies");
    assert_eq!(dr21["status"], "M");
    let sc = &dr21["scenarios"][0];
    assert!(sc["file"]
        .as_str()
        .unwrap()
        .starts_with("features/delivery-reports/"));
    // Informative ones are listed with their reason.
    let dr8 = item(&s, "DR-8");
    assert_eq!(dr8["applicability"], "informative");
    assert_eq!(dr8["status"], "I");
    assert!(!dr8["reasons"][0].as_str().unwrap().is_empty());
    // The PIXIT: the profile's fields by name, the password redacted.
    let pixit = s["pixit"].as_array().unwrap();
    let field = |n: &str| {
        pixit
            .iter()
            .find(|f| f["field"] == n)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(field("iwf.smsc").as_deref(), Some("127.0.0.1:2775"));
    assert_eq!(field("timers.t1_ms").as_deref(), Some("100"));
    assert_eq!(field("iwf.password").as_deref(), Some("(redacted)"));
    assert!(!s.to_string().contains("pw-never-shown"));
    let c = &s["summary"];
    assert_eq!(
        c["applies"].as_u64().unwrap()
            + c["not_applicable"].as_u64().unwrap()
            + c["informative"].as_u64().unwrap()
            + c["no_scenario"].as_u64().unwrap(),
        cat.requirements.len() as u64
    );

    // Markdown and HTML say the same for people; --out writes a file.
    let md = d.join("ics.md");
    let o = liaison(&[
        "ics",
        "--sut",
        p.to_str().unwrap(),
        "--out",
        md.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| PUSH-1 |") && md.contains("a requirement on ppg; the SUT plays sms-im-iwf")
    );
    assert!(md.contains("| `iwf.password` | (redacted) |"));
    let o = liaison(&["ics", "--sut", p.to_str().unwrap(), "--format", "html"]);
    assert_eq!(o.status.code(), Some(0));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script") && !html.contains("pw-never-shown"));
    assert!(html.contains("<td class=\"id\">DR-24</td>"));
}

#[test]
fn the_reference_statement_has_every_role() {
    let s = json(&liaison(&["ics", "--format", "json"]));
    assert_eq!(s["sut"]["profile"], "<embedded reference>");
    assert_eq!(
        s["sut"]["roles"].as_array().unwrap().len(),
        liaison::profile::ROLES.len()
    );
    let by_role = s["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("a requirement on"))
        })
        .count();
    assert_eq!(by_role, 0, "the reference plays every role");
}

#[test]
fn a_run_writes_the_statement_into_its_report() {
    let d = tmpdir("ics-run");
    let out = d.join("r");
    let o = liaison(&[
        "run",
        "--tags",
        "@DR-1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ics.json")).unwrap()).unwrap();
    assert_eq!(ics["run_tags"], "@DR-1");
    assert_eq!(item(&ics, "DR-1")["applicability"], "applies");
    assert!(std::fs::read_to_string(out.join("ics.md"))
        .unwrap()
        .contains("# Implementation conformance statement: liaison reference"));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("<section id=\"ics\">") && page.contains("<details class=\"ics\">"));
    // report.json keeps it, so `liaison report` renders it again.
    assert_eq!(report(&out)["runs"][0]["ics"], ics);
    std::fs::remove_file(out.join("ics.md")).unwrap();
    std::fs::write(out.join("report.html"), "").unwrap();
    let o = liaison(&["report", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.join("ics.md").exists());
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("<section id=\"ics\">"));
}

#[test]
fn test_purposes_have_unique_ids_for_every_scenario() {
    let all = liaison::runner::scenarios(
        &liaison::runner::load_features(&root().join("features")).unwrap(),
    );
    let t = json(&liaison(&["list", "--format", "json"]));
    let tps = t["test_purposes"].as_array().unwrap();
    assert_eq!(tps.len(), all.len());
    let ids: std::collections::BTreeSet<&str> =
        tps.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "TP IDs are unique");
    for (tp, s) in tps.iter().zip(&all) {
        assert_eq!(tp["line"].as_u64().unwrap() as usize, s.line);
        let id = tp["id"].as_str().unwrap();
        assert!(
            id.starts_with(&format!("TP/{}/", s.requirements()[0])),
            "{id}"
        );
        for k in ["objective", "references", "applicability", "pass_criteria"] {
            assert!(!tp[k].is_null(), "{id}: {k}");
        }
        assert!(tp.get("applies").is_none());
    }
    // Stable: the same again.
    assert_eq!(json(&liaison(&["list", "--format", "json"])), t);
    // With --sut each says whether it applies, and why not.
    let d = tmpdir("tp-sut");
    let p = d.join("iwf.yaml");
    std::fs::write(&p, IWF).unwrap();
    let t = json(&liaison(&[
        "list",
        "--format",
        "json",
        "--sut",
        p.to_str().unwrap(),
    ]));
    let tps = t["test_purposes"].as_array().unwrap();
    assert!(tps.iter().all(|x| x["applies"].is_boolean()));
    let ppg = tps
        .iter()
        .find(|x| x["id"] == "TP/PUSH-1/01")
        .expect("TP/PUSH-1/01");
    assert_eq!(ppg["applies"], false);
    assert!(ppg["not_applicable_because"][0]
        .as_str()
        .unwrap()
        .starts_with("role ppg"));
    let o = liaison(&["list", "--format", "md"]);
    assert_eq!(o.status.code(), Some(0));
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(
        md.contains("### TP/DR-1/01\n")
            && md.contains("| Pass criteria | 1. the final response is 200 |")
    );
}

/// `liaison list | head`: the reader goes away; the writer stops quietly.
#[test]
fn list_into_a_closed_pipe_stops_quietly() {
    for format in ["text", "md"] {
        let mut c = Command::new(bin())
            .args(["list", "--format", format])
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        c.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(c.stdout.take());
        let o = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{format}: {err}");
        assert_eq!(o.status.code(), Some(0), "{format}: {err}");
    }
}

#[test]
fn bad_input_exits_2() {
    let d = tmpdir("ics-bad");
    let corrupt = d.join("corrupt.yaml");
    std::fs::write(&corrupt, "name: [unclosed\n").unwrap();
    let out = d.join("never.md");
    for args in [
        vec!["ics", "--sut", "/nonexistent/p.yaml"],
        vec!["ics", "--sut", corrupt.to_str().unwrap()],
        vec!["ics", "--format", "pdf"],
        vec!["list", "--format", "pdf"],
        vec!["list", "--sut", "/nonexistent/p.yaml", "--format", "md"],
        vec!["ics", "--features", "/nonexistent/features"],
        vec![
            "ics",
            "--sut",
            "/nonexistent/p.yaml",
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let o = liaison(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(
        !out.exists(),
        "nothing written for a profile that cannot be read"
    );
    // A folder for --out: exit 2, one line naming it.
    let o = liaison(&[
        "ics",
        "--sut",
        "fixtures/sut/kannel.yaml",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
}

/// With the compiled-in features (no ./features where it runs), files are
/// shown as `features/…`, not under the temporary folder they are read from.
#[test]
fn compiled_in_features_are_shown_as_features() {
    let d = tmpdir("tp-embedded");
    let o = Command::new(bin())
        .args(["list", "--format", "json"])
        .current_dir(&d)
        .output()
        .unwrap();
    let t = json(&o);
    for tp in t["test_purposes"].as_array().unwrap() {
        let f = tp["file"].as_str().unwrap();
        assert!(f.starts_with("features/") && f.ends_with(".feature"), "{f}");
    }
    let o = Command::new(bin())
        .args(["list"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    let tmp = std::env::temp_dir().display().to_string();
    assert!(!out.contains(&tmp), "a temporary path in the list");
    assert!(out.contains("    features/delivery-reports/pager-im-client.feature:13 "));
}
