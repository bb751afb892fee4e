//! `liaison load --role ppg`: the harness is the push initiator and the
//! SMSC; every push is checked at both ends (src/load/ppg.rs). The clean
//! reference, a reference that accepts and never delivers, a reference that
//! alters every content, and Kannel 1.4.5 under a short load.

use crate::common::*;
use std::path::Path;

fn load(args: &[&str], tag: &str) -> (std::process::Output, serde_json::Value) {
    let (o, j, _) = load_run(args, tag);
    (o, j)
}

/// The delivery report kind's counters.
fn at_smsc(j: &serde_json::Value) -> &serde_json::Value {
    j["reports"]
        .as_array()
        .and_then(|r| r.iter().find(|k| k["name"] == "WSP pushes at the SMSC"))
        .unwrap_or_else(|| panic!("no delivery report kind: {j}"))
}

#[test]
fn the_clean_reference_ppg_delivers_every_accepted_push_once() {
    let (o, j) = load(
        &[
            "--role", "ppg", "--count", "1000", "--rate", "1000", "--t1-ms", "20",
        ],
        "load-ppg-clean",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["sent"], 1000, "{j}");
    assert_eq!(j["completed"], 1000, "{j}");
    assert_eq!(j["codes"]["1001"], 1000, "{j}");
    for k in ["lost", "late", "duplicated", "mismatched", "fabricated"] {
        assert_eq!(j[k], 0, "{k}: {j}");
    }
    let d = at_smsc(&j);
    assert_eq!(d["completed"], 1000, "every push delivered: {j}");
    assert_eq!(d["codes"]["200"], 1000, "{j}");
    assert_eq!(j["transport"], "tcp");
    assert!(j["cost"]["generator_cpu_us_per_message"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_reference_ppg_that_accepts_and_never_delivers_is_caught_as_lost() {
    let (o, j) = load(
        &[
            "--role",
            "ppg",
            "--fault",
            "ppg/accept-never-deliver",
            "--count",
            "200",
            "--rate",
            "1000",
            "--t1-ms",
            "10",
        ],
        "load-ppg-never",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Every PAP answer came (1001), none of the pushes reached the SMSC.
    assert_eq!(j["codes"]["1001"], 200, "{j}");
    assert_eq!(at_smsc(&j)["lost"], 200, "{j}");
    assert_eq!(j["lost"], 200, "{j}");
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "lost"));
}

#[test]
fn a_reference_ppg_that_alters_contents_is_caught_as_mismatched() {
    let (o, j) = load(
        &[
            "--role",
            "ppg",
            "--fault",
            "ppg/body-altered",
            "--count",
            "200",
            "--rate",
            "1000",
            "--t1-ms",
            "10",
        ],
        "load-ppg-altered",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(at_smsc(&j)["mismatched"], 200, "{j}");
    assert_eq!(j["lost"], 0, "{j}");
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "mismatched")
        .unwrap_or_else(|| panic!("no mismatched finding: {j}"));
    assert!(
        f["expected"].as_str().unwrap().contains("byte for byte"),
        "{f}"
    );
}

#[test]
fn kannel_keeps_every_push_under_a_short_load() {
    assert!(
        Path::new("/usr/sbin/bearerbox").is_file() && Path::new("/usr/sbin/wapbox").is_file(),
        "Kannel's bearerbox and wapbox are not installed: apt-get install kannel; .ci/run does. A missing tool is a failure, never a skip."
    );
    let _ports = hold(&KANNEL);
    let (o, j) = load(
        &[
            "--sut",
            "fixtures/sut/kannel.yaml",
            "--count",
            "300",
            "--rate",
            "200",
            "--t1-ms",
            "100",
        ],
        "load-ppg-kannel",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["role"], "ppg");
    assert_eq!(j["codes"]["1001"], 300, "{j}");
    assert_eq!(at_smsc(&j)["completed"], 300, "{j}");
    for k in ["lost", "late", "duplicated", "mismatched", "fabricated"] {
        assert_eq!(j[k], 0, "{k}: {j}");
    }
}
