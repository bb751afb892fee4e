//! `liaison load`'s report.html, and `liaison report --merge` of load
//! results: two agents (`--agent 1/2`, `--agent 2/2`) load one SUT (the
//! reference im-client as its own process) at the same time and their
//! results merge into the sums; a cut or edited load.json, or results of
//! different roles, are refused with exit 2 and nothing written.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A short run against the embedded reference; its verdict (a machine
/// shared with other tests may miss the rate) is not what these tests
/// judge, the files are.
fn short_run(out: &Path, count: &str) -> i32 {
    let o = liaison(&[
        "load",
        "--count",
        count,
        "--rate",
        "2000",
        "--t1-ms",
        "20",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let code = o.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "{}", text(&o));
    code
}

#[test]
fn a_load_run_writes_a_page_with_the_three_plots() {
    let d = tmpdir("load-report");
    let started = Instant::now();
    let code = short_run(&d, "2000");
    let html = std::fs::read_to_string(d.join("report.html")).expect("report.html written");
    for plot in [
        "<svg class=\"plot rate\"",
        "<svg class=\"plot latency\"",
        "<svg class=\"plot distribution\"",
    ] {
        assert!(html.contains(plot), "{plot} missing");
    }
    // Labelled axes with units; the target rate drawn; the percentiles marked.
    for label in [
        "messages per second",
        "time since the start of sending (s)",
        "latency (ms",
        "percentile of the final outcomes",
        "class=\"target\"",
        "p99.9 ",
        "max ",
    ] {
        assert!(html.contains(label), "{label} missing");
    }
    assert!(html.contains(if code == 0 {
        "verdict v-passed"
    } else {
        "verdict v-failed"
    }));
    assert!(!html.contains("<script"), "no script in a load report");
    assert!(html.contains("default-src 'none'"));
    eprintln!("load report test: {:?}", started.elapsed());
}

/// `liaison reference --role im-client --listen 127.0.0.1:0` as its own
/// process, and the address it took.
fn reference_process() -> (Child, String) {
    let mut child = Command::new(bin())
        .args([
            "reference",
            "--role",
            "im-client",
            "--listen",
            "127.0.0.1:0",
            "--t1-ms",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reference");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the reference did not say where it listens within 10 s");
        }
    };
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

/// Stops the reference process when the test ends, passed or not.
struct Stop(Child);
impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_agents_against_one_sut_merge_into_the_sums() {
    let started = Instant::now();
    let d = tmpdir("load-agents");
    let (child, addr) = reference_process();
    let _stop = Stop(child);
    let profile = d.join("sut.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: reference im-client loaded by two agents\nroles: [im-client]\nsip: {{ address: {addr}, transport: [udp], aor: \"sip:bob@{addr}\" }}\ntimers: {{ t1_ms: 20, scenario_timeout_s: 5 }}\ncapabilities: {{ accept_types: [text/plain] }}\n"
        ),
    )
    .unwrap();
    let dirs: Vec<PathBuf> = (1..=2).map(|k| d.join(format!("agent{k}"))).collect();
    let agents: Vec<Child> = (1..=2)
        .map(|k| {
            Command::new(bin())
                .args(["load", "--sut"])
                .arg(&profile)
                .args(["--agent", &format!("{k}/2")])
                // T1 100 ms: a reference starved by a test beside it
                // (Chromium) is not flooded by retransmissions.
                .args(["--count", "1000", "--rate", "1000", "--t1-ms", "100"])
                // A shared machine may hold an agent below its target rate:
                // --min-rate makes that check not gating; integrity gates.
                .args(["--min-rate", "1"])
                .args(["--capture", "off", "--quiet", "--out"])
                .arg(&dirs[k - 1])
                .current_dir(root())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start an agent")
        })
        .collect();
    for a in agents {
        let o = a.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let (a, b) = (load_json(&dirs[0]), load_json(&dirs[1]));
    assert_eq!(a["agent"], "1/2");
    assert_eq!(b["agent"], "2/2");
    // They ran side by side.
    let (sa, sb) = (
        a["started_unix_ms"].as_u64().unwrap(),
        b["started_unix_ms"].as_u64().unwrap(),
    );
    assert!(sa.abs_diff(sb) < 800, "starts {sa} and {sb}");

    let out = d.join("merged");
    let o = liaison(&[
        "report",
        "--merge",
        dirs[0].to_str().unwrap(),
        dirs[1].to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = load_json(&out);
    assert_eq!(m["agent"], "1+2/2");
    for k in [
        "sent",
        "completed",
        "lost",
        "late",
        "duplicated",
        "mismatched",
        "fabricated",
    ] {
        assert_eq!(
            m[k].as_u64().unwrap(),
            a[k].as_u64().unwrap() + b[k].as_u64().unwrap(),
            "{k}"
        );
    }
    assert_eq!(m["sent"], 2000);
    assert_eq!(m["completed"], 2000);
    assert_eq!(m["codes"]["200"], 2000);
    assert_eq!(m["target_rate_per_s"], 2000.0);
    let rate = m["rate_per_s"].as_f64().unwrap();
    assert!(
        (rate - a["rate_per_s"].as_f64().unwrap() - b["rate_per_s"].as_f64().unwrap()).abs() < 1e-6
    );
    let hist: u64 = m["histogram_us"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[1].as_u64().unwrap())
        .sum();
    assert_eq!(hist, 2000, "one latency per completed message");
    let series: u64 = m["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sent"].as_u64().unwrap())
        .sum();
    assert_eq!(series, 2000);
    // The merged max is the larger agent's, p50 between theirs.
    let lat = |r: &serde_json::Value, k: &str| r["latency_ms"][k].as_f64().unwrap();
    assert_eq!(lat(&m, "max"), lat(&a, "max").max(lat(&b, "max")));
    let (lo, hi) = (
        lat(&a, "p50").min(lat(&b, "p50")),
        lat(&a, "p50").max(lat(&b, "p50")),
    );
    assert!(lat(&m, "p50") >= lo * 0.99 && lat(&m, "p50") <= hi * 1.01);
    assert_eq!(m["passed"], true);
    assert_eq!(
        m["gates"]["min_rate"], 2.0,
        "each agent's --min-rate adds up"
    );
    assert!(out.join("junit.xml").is_file());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("agent 1+2/2") && html.contains("<svg class=\"plot rate\""));
    eprintln!("two agents and merge: {:?}", started.elapsed());
}

/// Writes `v` as DIR/load.json.
fn put(dir: &Path, v: &serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("load.json"), serde_json::to_string(v).unwrap()).unwrap();
    dir.to_path_buf()
}

#[test]
fn a_cut_edited_or_mixed_merge_is_exit_2_and_writes_nothing() {
    let started = Instant::now();
    let d = tmpdir("load-merge-refused");
    let one = d.join("one");
    let code = short_run(&one, "200");
    let a = load_json(&one);
    let as_two = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = a.clone();
        v["agent"] = "2/2".into();
        f(&mut v);
        v
    };
    let first = put(&d.join("first"), &{
        let mut v = a.clone();
        v["agent"] = "1/2".into();
        v
    });
    let merge = |other: &Path, tag: &str| {
        let out = d.join(format!("out-{tag}"));
        let o = liaison(&[
            "report",
            "--merge",
            first.to_str().unwrap(),
            other.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, out)
    };
    // The control: the second agent as it came merges.
    let (o, out) = merge(&put(&d.join("second"), &as_two(&|_| {})), "control");
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    assert!(out.join("load.json").is_file());

    let cut = d.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let full = serde_json::to_string(&as_two(&|_| {})).unwrap();
    std::fs::write(cut.join("load.json"), &full[..full.len() / 2]).unwrap();
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        ("cut", cut, "not a load result"),
        (
            "edited",
            put(
                &d.join("edited"),
                &as_two(&|v| v["completed"] = (v["completed"].as_u64().unwrap() - 1).into()),
            ),
            "does not add up",
        ),
        (
            "role",
            put(
                &d.join("role"),
                &as_two(&|v| v["role"] = "im-server".into()),
            ),
            "the role is im-server",
        ),
        (
            "same-agent",
            put(&d.join("same"), &as_two(&|v| v["agent"] = "1/2".into())),
            "agent 1 is merged twice",
        ),
        (
            "conformance",
            {
                let c = d.join("conformance");
                std::fs::create_dir_all(&c).unwrap();
                std::fs::write(c.join("report.json"), "{}").unwrap();
                c
            },
            "holds no load.json",
        ),
    ];
    // --out one of the agents' folders: refused, the agent's result kept.
    let before = std::fs::read(first.join("load.json")).unwrap();
    let o = liaison(&[
        "report",
        "--merge",
        first.to_str().unwrap(),
        d.join("second").to_str().unwrap(),
        "--out",
        first.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("would be overwritten"), "{}", text(&o));
    assert_eq!(std::fs::read(first.join("load.json")).unwrap(), before);
    for (tag, dir, says) in cases {
        let (o, out) = merge(&dir, tag);
        assert_eq!(o.status.code(), Some(2), "{tag}: {}", text(&o));
        assert!(text(&o).contains(says), "{tag}: {}", text(&o));
        assert!(!out.exists(), "{tag}: nothing written");
    }
    eprintln!("refused merges: {:?}", started.elapsed());
}

#[test]
fn the_load_report_in_a_browser_fetches_nothing_and_runs_nothing() {
    if !program_or_skip(
        "chromium",
        "chromium",
        "the_load_report_in_a_browser_fetches_nothing_and_runs_nothing",
    ) {
        return;
    }
    let started = Instant::now();
    let d = tmpdir("load-report-browser");
    let run = d.join("run");
    let code = short_run(&run, "200");
    // Whatever a SUT sends reaches the page through findings; and a
    // load.json on disk may say anything.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let at = trap.local_addr().unwrap();
    let mut v = load_json(&run);
    v["sut"] = "</title><script>document.title='pwned'</script>".into();
    v["findings"] = serde_json::json!([{
        "kind": "mismatched",
        "message": 7,
        "expected": "<b onmouseover=\"x()\">200</b>",
        "came": "'486' </dd></dl>",
        "bytes": format!("SIP/2.0 200 <script>document.title='pwned'</script>\r\nX: </pre><img src=\"http://{at}/img\" onerror=\"document.body.setAttribute('data-pwned',1)\"><link rel=stylesheet href=http://{at}/css><iframe src=http://{at}/frame></iframe>\r\n\r\n"),
    }]);
    put(&run, &v);
    // A merge of the one agent renders the page again from load.json.
    let out = d.join("page");
    let o = liaison(&[
        "report",
        "--merge",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    let _cpu = low_priority();
    let dom = crate::report_browser::chromium(
        &d.join("chromium-profile"),
        &[
            "--dump-dom",
            &format!("file://{}", out.join("report.html").display()),
        ],
    );
    assert!(
        dom.contains("<svg class=\"plot rate\""),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert_eq!(dom.matches("<svg class=\"plot ").count(), 3);
    for tag in ["<script", "<img", "<link", "<iframe"] {
        assert!(!dom.contains(tag), "{tag} became an element");
    }
    assert!(!dom.contains("data-pwned=\""), "a handler ran");
    assert!(dom.contains("· liaison load report</title>") && !dom.contains("<title>pwned"));
    assert!(dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"));
    assert!(dom.contains("&lt;/pre&gt;&lt;img src=\"http://"));
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the page fetched from {at}: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(d.join("chromium-profile"));
    eprintln!("load report in chromium: {:?}", started.elapsed());
}
