//! `-v`/`-vv`/`RUST_LOG` (issue 17, item 7): the log goes to stderr and to
//! liaison.log in the report folder; without them, stderr and the report
//! folder are as they were (no log file).

use crate::common::*;
use std::process::{Command, Output};

fn run(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut c = Command::new(bin());
    c.args(args).current_dir(root()).env_remove("RUST_LOG");
    if let Some(v) = rust_log {
        c.env("RUST_LOG", v);
    }
    c.output().expect("run liaison")
}

#[test]
fn vv_writes_transactions_timers_and_routing_to_the_report_folder() {
    let out = tmpdir("log-vv");
    let o = run(
        &[
            "-vv",
            "run",
            "--tags",
            "@DR-1",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_to_string(out.join("liaison.log")).expect("liaison.log written");
    let has = |what: &str| log.lines().any(|l| l.contains(what));
    // A client transaction, with its branch and method.
    assert!(
        log.lines().any(|l| l.contains("client transaction created")
            && l.contains("branch=z9hG4bK")
            && l.contains("method=MESSAGE")),
        "{log}"
    );
    // How it ended (the Timer K watch after the final response), and routing.
    assert!(has("(Timer K) ran out"), "{log}");
    assert!(has("routing: "), "{log}");
    // The -v events too, the first ones from before the folder existed.
    assert!(has("feature files read") && has("run started"), "{log}");
    assert_eq!(log.matches("scenario ended").count(), 3, "{log}");
    assert!(has("run ended passed=3 failed=0"), "{log}");
    // The same lines on stderr; the summary on stdout as without -vv.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("client transaction created"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("report.json"));
}

#[test]
fn without_flags_no_log_file_and_stderr_unchanged_with_v_info_only() {
    let quiet = tmpdir("log-none");
    let o = run(
        &["run", "--tags", "@DR-1", "--out", quiet.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!quiet.join("liaison.log").exists());
    assert!(quiet.join("report.json").is_file());

    // -v: info, no debug.
    let v = tmpdir("log-v");
    let o = run(
        &["run", "-v", "--tags", "@DR-1", "--out", v.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_to_string(v.join("liaison.log")).expect("liaison.log written");
    assert!(
        log.contains(" INFO ") && log.contains("scenario ended"),
        "{log}"
    );
    assert!(!log.contains(" DEBUG "), "{log}");

    // RUST_LOG alone asks for a level (here: debug for the transactions only).
    let r = tmpdir("log-rust-log");
    let o = run(
        &["run", "--tags", "@DR-1", "--out", r.to_str().unwrap()],
        Some("liaison::roles::transaction=debug"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = std::fs::read_to_string(r.join("liaison.log")).expect("liaison.log written");
    assert!(log.contains("client transaction created"), "{log}");
    assert!(
        log.lines()
            .all(|l| l.contains("liaison::roles::transaction")),
        "{log}"
    );

    // A RUST_LOG that does not parse: exit 2, one line, nothing written.
    let bad = tmpdir("log-bad").join("out");
    let o = run(
        &["run", "--tags", "@DR-1", "--out", bad.to_str().unwrap()],
        Some("liaison=loud"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("RUST_LOG=liaison=loud"), "{err}");
    assert!(!bad.exists());
}
