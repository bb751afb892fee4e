//! `liaison load --role im-server`: originators and registered recipients
//! on both sides of the embedded reference im-server (and of a fake one
//! that refuses registrations).

use crate::common::{liaison, text, tmpdir};
use std::net::UdpSocket;
use std::time::Duration;

fn load(args: &[&str], tag: &str) -> (std::process::Output, serde_json::Value) {
    let out = tmpdir(tag);
    let mut all = vec![
        "load",
        "--role",
        "im-server",
        "--quiet",
        "--capture",
        "off",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = liaison(&all);
    let json = std::fs::read_to_string(out.join("load.json"))
        .unwrap_or_else(|_| panic!("load.json written: {}", text(&o)));
    (o, serde_json::from_str(&json).expect("load.json is JSON"))
}

fn n(r: &serde_json::Value, k: &str) -> u64 {
    r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"))
}

#[test]
fn the_reference_keeps_every_report_right_with_a_mix() {
    let mix = "200:80,486:10,silent:10";
    let (o, r) = load(
        &[
            "--rate", "1000", "--count", "3000", "--mix", mix, "--t1-ms", "20",
        ],
        "load-ims-clean",
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{r:#}", text(&o));
    for (k, v) in [
        ("sent", 3000),
        ("completed", 3000),
        ("lost", 0),
        ("late", 0),
        ("pending", 0),
        ("duplicated", 0),
        ("mismatched", 0),
        ("fabricated", 0),
        ("stale", 0),
        ("unreadable", 0),
    ] {
        assert_eq!(n(&r, k), v, "{k}: {r:#}");
    }
    // Each message's answer is a function of its identity (0..3000 for
    // agent 1/1): the codes are exactly the recipients' answers, relayed,
    // the silent ones ended by the originators' own Timer F (RFC 4320 §4.2:
    // the reference sends no 408 for a non-INVITE).
    let m = liaison::load::mix::Mix::parse(mix).unwrap();
    let count = |a| (0..3000u64).filter(|id| m.answer(*id) == a).count() as u64;
    use liaison::load::mix::Answer;
    let codes = &r["codes"];
    let code = |c: &str| codes[c].as_u64().unwrap_or(0);
    assert_eq!(code("200"), count(Answer::Code(200)), "{codes}");
    assert_eq!(code("486"), count(Answer::Code(486)), "{codes}");
    assert_eq!(
        code("408 (originator's Timer F)"),
        count(Answer::Silent),
        "{codes}"
    );
    assert_eq!(r["role"], "im-server");
    assert!(r["passed"].as_bool().unwrap());
}

#[test]
fn a_refused_registration_ends_the_run_before_a_message() {
    // A fake im-server that refuses every REGISTER (403).
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let fake = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut registers = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if !req.starts_with("REGISTER ") {
                continue;
            }
            registers += 1;
            let keep: Vec<&str> = req
                .split("\r\n")
                .filter(|l| {
                    ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
                        .iter()
                        .any(|h| l.starts_with(h))
                })
                .collect();
            let resp = format!(
                "SIP/2.0 403 Forbidden\r\n{}\r\nContent-Length: 0\r\n\r\n",
                keep.join("\r\n")
            );
            let _ = sock.send_to(resp.as_bytes(), from);
        }
        registers
    });
    let d = tmpdir("load-ims-refused");
    let profile = d.join("sut.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: refuses every REGISTER\nroles: [im-server]\n\
             sip: {{ address: \"{addr}\", domain: liaison.test }}\n"
        ),
    )
    .unwrap();
    let out = d.join("out");
    let o = liaison(&[
        "load",
        "--sut",
        profile.to_str().unwrap(),
        "--rate",
        "100",
        "--count",
        "10",
        "--t1-ms",
        "20",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let registers = fake.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused the REGISTER") && err.contains("403"),
        "{err}"
    );
    assert!(registers > 0);
    assert!(!out.join("load.json").exists(), "no load was run");
}
