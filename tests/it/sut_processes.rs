//! Nothing a launched SUT started is left running after the run (issue 13
//! item 6): the SUT (the reference im-client as its own process) is wrapped
//! in fixtures/hostile/escapes.sh, which first starts processes that leave
//! its session (setsid), its group (setpgid), its tree (a parent that exits
//! at once, or later) and its environment (env -i). After `liaison run` ends, normally
//! or by SIGINT, none of them may be alive.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The escapees of fixtures/hostile/escapes.sh.
const ESCAPEES: [&str; 5] = ["setsid", "daemon", "bare", "group", "late"];

/// `extra`: more arguments for the reference (", --fault, NAME").
fn profile(dir: &Path, port: u16, extra: &str) -> String {
    let p = dir.join("escapes.yaml");
    std::fs::write(
        &p,
        format!(
            "name: reference im-client behind a script whose children escape\nroles: [im-client]\nsip: {{ address: 127.0.0.1:{port}, transport: [udp, tcp], aor: \"sip:bob@127.0.0.1:{port}\" }}\ntimers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\nlaunch:\n  command: [/bin/sh, fixtures/hostile/escapes.sh, {}, reference, --role, im-client, --listen, \"127.0.0.1:{port}\", --t1-ms, \"50\"{extra}]\n  ready: {{ sip_options: 127.0.0.1:{port}, timeout_s: 5 }}\ncapabilities: {{ accept_types: [text/plain] }}\n",
            bin()
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// Field 22 (start time) of /proc/PID/stat, if PID is alive (a zombie is
/// not: it runs nothing, but one of liaison's would be reaped by init when
/// liaison exits, so it is reported too).
fn proc_start(pid: i32) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(19)?.parse().ok()?, f.first()?.chars().next()?))
}

/// Reads the escapees' "PID START" files; asserts that every one was
/// started, and gives those still alive (same pid and start time). Kills
/// them, so a failing test leaves nothing behind either.
fn survivors(workdir: &Path) -> Vec<String> {
    let mut alive = Vec::new();
    for name in ESCAPEES {
        let f = workdir.join(format!("{name}.pid"));
        let text = std::fs::read_to_string(&f)
            .unwrap_or_else(|e| panic!("{}: the escapee did not start ({e})", f.display()));
        let mut it = text.split_whitespace();
        let pid: i32 = it.next().unwrap().parse().unwrap();
        let start: u64 = it.next().unwrap().parse().unwrap();
        if let Some((s, state)) = proc_start(pid)
            && s == start
        {
            alive.push(format!("{name} (pid {pid}, state {state})"));
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
    alive
}

#[test]
fn a_run_leaves_nothing_its_launched_sut_started() {
    let d = tmpdir("reap");
    let port = free_port("127.0.0.1");
    let p = profile(&d, port, "");
    let out = d.join("out");
    let t = Instant::now();
    let o = liaison(&[
        "run",
        "--quiet",
        "--sut",
        &p,
        "--tags",
        "@DR-1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let left = survivors(&out.join("sut-workdir"));
    assert!(
        left.is_empty(),
        "expected nothing the launched SUT started to outlive the run; came: still running {left:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}

#[test]
fn an_interrupted_run_leaves_nothing_its_launched_sut_started() {
    let d = tmpdir("reap-int");
    let port = free_port("127.0.0.1");
    // A client that never answers keeps the run going until the interrupt
    // (a healthy one can finish the run first on a busy machine).
    let p = profile(&d, port, ", --fault, never-answers");
    let out = d.join("out");
    let workdir = out.join("sut-workdir");
    let child = Command::new(bin())
        .args([
            "run",
            "--quiet",
            "--sut",
            &p,
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until every escapee is there and the parent of the last one has
    // exited (only the harness's record of it then ties it to the SUT).
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until
        && !(ESCAPEES
            .iter()
            .all(|n| workdir.join(format!("{n}.pid")).exists())
            && workdir.join("late.orphaned").exists())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let left = survivors(&workdir);
    assert!(
        left.is_empty(),
        "expected nothing the launched SUT started to outlive the interrupted run; came: still running {left:?}"
    );
}
