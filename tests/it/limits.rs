//! Limits on what the harness reads (README "Limits"): profiles, waivers and
//! report.json are read up to a size limit, never whole first; YAML nested
//! deeper than a few dozen levels and `--tags` expressions nested or long
//! enough to exhaust the parser's stack are refused at once with exit 2;
//! `liaison report` reads back only pcaps that are regular files inside the
//! report folder (or a merged run's folder).

use crate::common::*;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `liaison ARGS`, killing it (and failing) after `limit`.
fn liaison_within(args: &[&str], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run liaison");
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("liaison {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_profile_that_is_a_device_or_huge_is_refused_at_the_size_limit() {
    let (o, took) = liaison_within(&["list", "--sut", "/dev/zero"], Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("expected at most 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A valid profile followed by 50 MB of comments: it would load if read
    // whole; it is refused at 1 MB instead.
    let d = tmpdir("limits-big");
    let p = d.join("big.yaml");
    let mut body =
        String::from("name: big\nroles: [im-client]\nsip: { address: 127.0.0.1:5070 }\n");
    let line = format!("# {}\n", "x".repeat(1021));
    body.reserve(50 << 20);
    while body.len() < 50 << 20 {
        body.push_str(&line);
    }
    std::fs::write(&p, body).unwrap();
    let (o, took) = liaison_within(
        &["list", "--sut", p.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains("big.yaml") && e.contains("expected at most 1048576 bytes, came more"),
        "{e}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn waivers_are_size_limited_too() {
    let d = tmpdir("limits-waivers");
    let (o, _) = liaison_within(
        &[
            "run",
            "--quiet",
            "--tags",
            "@DR-1",
            "--waivers",
            "/dev/zero",
            "--out",
            d.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("waivers /dev/zero: expected at most"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn deeply_nested_yaml_is_refused_fast() {
    let d = tmpdir("limits-deep");
    let n = 100_000;
    for (name, body) in [
        (
            "flow.yaml",
            format!("name: deep\nroles: {}{}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "block.yaml",
            format!("name: deep\nroles:\n{}im-client\n", "- ".repeat(n)),
        ),
    ] {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        let (o, took) = liaison_within(
            &["list", "--sut", p.to_str().unwrap()],
            Duration::from_secs(30),
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            stderr(&o).contains("expected YAML nested at most 64 levels"),
            "{name}: {}",
            stderr(&o)
        );
        assert!(took < Duration::from_secs(3), "{name}: {took:?}");
    }
    // Waivers go through the same check.
    let w = d.join("waivers.yaml");
    std::fs::write(&w, format!("{}{}\n", "[".repeat(n), "]".repeat(n))).unwrap();
    let (o, took) = liaison_within(
        &[
            "run",
            "--quiet",
            "--tags",
            "@DR-1",
            "--waivers",
            w.to_str().unwrap(),
            "--out",
            d.join("out").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("nested at most 64 levels"),
        "{}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn deeply_nested_tags_exit_2_not_a_stack_overflow() {
    let d = tmpdir("limits-tags");
    let n = 20_000;
    let deep = format!("{}@DR-1{}", "(".repeat(n), ")".repeat(n));
    let long = vec!["not"; n].join(" ") + " @DR-1";
    for expr in [deep, long] {
        let (o, _) = liaison_within(
            &[
                "run",
                "--quiet",
                "--tags",
                &expr,
                "--out",
                d.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let e = stderr(&o);
        assert!(e.contains("--tags: expected") && e.contains("came"), "{e}");
    }
    // An ordinary expression with parentheses still works.
    let (o, _) = liaison_within(
        &[
            "run",
            "--quiet",
            "--tags",
            "(@DR-1 or (@DR-1 and not @im-server))",
            "--out",
            d.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn report_reads_only_regular_pcaps_inside_the_report_folder() {
    let a = tmpdir("limits-pcap");
    let o = liaison(&[
        "run",
        "--quiet",
        "--tags",
        "@im-client",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A merged report reads its runs' pcaps from their own folders.
    let m = tmpdir("limits-pcap-merged");
    let o = liaison(&[
        "report",
        "--merge",
        a.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(m.join("report.html")).unwrap();
    assert!(
        !html.contains("(not read"),
        "merged report refused its own runs' pcaps"
    );

    let mut r = report(&a);
    let sc = r["scenarios"].as_array_mut().unwrap();
    assert!(sc.len() >= 4, "{}", sc.len());
    std::os::unix::fs::symlink("/dev/zero", a.join("pcaps/zero.pcap")).unwrap();
    sc[0]["pcap"] = "/dev/zero".into();
    sc[1]["pcap"] = "../../../../../../../../../../etc/passwd".into();
    sc[2]["pcap"] = "pcaps/zero.pcap".into();
    let fifo = a.join("pcaps/fifo.pcap");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    sc[3]["pcap"] = "pcaps/fifo.pcap".into();
    std::fs::write(a.join("report.json"), serde_json::to_string(&r).unwrap()).unwrap();
    let (o, took) = liaison_within(&["report", a.to_str().unwrap()], Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert_eq!(
        html.matches("outside it (not read)").count(),
        3,
        "/dev/zero, ../etc/passwd and a symlink to /dev/zero are refused"
    );
    assert_eq!(
        html.matches("which is not (not read)").count(),
        1,
        "a FIFO inside the folder is not a regular file"
    );
    // The other scenarios keep their ladders.
    assert_eq!(html.matches("no ladder: ").count(), 4);
    assert!(!html.contains("root:"), "nothing of /etc/passwd is shown");
}
