//! Issue 13 item 4: every per-scenario excerpt in every report has a cap,
//! the same for failed and passed scenarios, and the report says what was
//! cut. A failed scenario with 64 MB of traffic (a SIP flood over UDP; a
//! TCP stream of bytes that frame as nothing) and a 5 MB failure text gives
//! a report.html of a few MB, a capped failure in report.json and
//! junit.xml, `scenarios[].truncated` saying what was left out; the
//! reading of the pcap stops at the cap and its peak memory does not grow
//! with the pcap. `liaison report` renders again with the same caps.
//!
//! One test in its own binary: the peak-memory figure is this process's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use liaison::catalogue::Catalogue;
use liaison::codec::escape_bytes;
use liaison::net::capture::Capture;
use liaison::report::excerpt;
use liaison::report::{
    ladder, Report, ScenarioResult, ScenarioVerdict, StepOutcome, StepResult, Sut,
};

const MB: usize = 1_000_000;

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("liaison-excerpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("pcaps")).unwrap();
    d
}

/// A SIP MESSAGE flood over UDP from the SUT: `total` bytes in datagrams of
/// about 16 kB, binary bodies (each byte `\xHH` on the page: the widest
/// text). Returns the frames written.
fn flood(path: &Path, total: usize) -> u64 {
    let sut: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let ua: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let c = Capture::create(path).unwrap();
    let body: Vec<u8> = (0..16_000u32).map(|i| (i % 256) as u8).collect();
    let mut sent = 0;
    let mut n = 0u64;
    while sent < total {
        n += 1;
        let mut m = format!(
            "MESSAGE sip:alice@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{n}\r\nCall-ID: flood\r\nCSeq: {n} MESSAGE\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(&body);
        c.udp(sut, ua, &m);
        sent += m.len();
    }
    c.flush().unwrap();
    c.frames()
}

/// A TCP connection on which the SUT sends `total` bytes that frame as no
/// protocol.
fn garbage_stream(path: &Path, total: usize) -> u64 {
    let sut: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let ua: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let c = Capture::create(path).unwrap();
    c.tcp_connect(ua, sut);
    let chunk: Vec<u8> = (0..32_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    while sent < total {
        c.tcp_data(sut, ua, &chunk);
        sent += chunk.len();
    }
    c.tcp_close(sut, ua);
    c.flush().unwrap();
    c.frames()
}

fn failed(name: &str, failure: String) -> ScenarioResult {
    ScenarioResult {
        feature: "Flood <im-client>".into(),
        name: name.into(),
        tags: vec!["im-client".into(), "DR-2".into()],
        requirements: vec!["DR-2".into()],
        verdict: ScenarioVerdict::Failed,
        duration_ms: 1000,
        pcap: Some(format!("pcaps/{name}.pcap")),
        pcap_frames_dropped: 0,
        failure: Some(failure),
        step: Some("Then the final response is 200".into()),
        location: Some("features/x.feature:3".into()),
        steps: vec![StepResult {
            keyword: "Then".into(),
            text: "the final response is 200".into(),
            outcome: StepOutcome::Failed,
            background: false,
        }],
        waived: vec![],
        run: 0,
        truncated: None,
        tls: Vec::new(),
    }
}

/// This process's peak resident set (VmHWM), in bytes, and a reset of it
/// (false when the kernel does not allow it).
fn peak_rss() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_failed_scenario_with_64_mb_of_traffic_gives_reports_of_a_few_mb_that_say_what_was_cut() {
    let dir = tmp();
    let flood_frames = flood(&dir.join("pcaps/flood.pcap"), 40 * MB);
    let stream_frames = garbage_stream(&dir.join("pcaps/stream.pcap"), 24 * MB);
    let pcap_bytes: u64 = ["flood", "stream"]
        .iter()
        .map(|n| {
            std::fs::metadata(dir.join(format!("pcaps/{n}.pcap")))
                .unwrap()
                .len()
        })
        .sum();
    assert!(pcap_bytes > 64 * MB as u64, "{pcap_bytes}");

    // A failure quoting 5 MB of bytes, as a check that forgot its cap would.
    let huge: Vec<u8> = (0..5 * MB).map(|i| b"ab\r\n\x00"[i % 5]).collect();
    let failure = format!(
        "DR-2: expected a 200; came 5 MB of this — bytes: {}",
        escape_bytes(&huge, huge.len())
    );
    let failure_len = failure.len();
    let catalogue = Catalogue::embedded().unwrap();
    let report = Report::build(
        &catalogue,
        Sut {
            name: "flooding SUT".into(),
            profile: "p.yaml".into(),
            roles: vec!["im-client".into()],
            capabilities: vec![],
            network: None,
        },
        "2026-12-03T14:00:00Z".into(),
        2000,
        vec![
            failed("flood", failure),
            failed("stream", "DR-2: expected a 200; came bytes".into()),
        ],
        &[],
        false,
        false,
    );

    // The reading stops at the cap: the flood's 300th message comes long
    // before its last frame.
    let l = ladder::read_named(&dir, &[], "pcaps/flood.pcap").unwrap();
    assert_eq!(l.messages.len(), excerpt::LADDER_MESSAGES);
    assert!(l.stopped.is_some());
    assert_eq!(u64::from(l.frames_total), flood_frames);
    assert!(u64::from(l.frames) <= flood_frames / 5, "{}", l.frames);
    // A stream of garbage is read to its end in pieces, each kept short.
    let l = ladder::read_named(&dir, &[], "pcaps/stream.pcap").unwrap();
    assert!(l.stopped.is_none(), "{:?}", l.stopped);
    assert_eq!(u64::from(l.frames), stream_frames);
    assert!(l.messages.len() >= 5, "{}", l.messages.len());
    assert!(l
        .messages
        .iter()
        .all(|m| m.bytes.len() <= excerpt::MESSAGE_BYTES && m.len > m.bytes.len()));
    assert_eq!(l.messages.iter().map(|m| m.len).sum::<usize>(), 24 * MB);
    drop(l);

    // Peak memory while writing the reports stays far below the pcaps'
    // 64 MB (reading them whole took more than their size).
    let measured = reset_peak_rss();
    let before = peak_rss();
    let t = std::time::Instant::now();
    report.write_all(&dir).unwrap();
    let took = t.elapsed();
    if let (true, Some(before), Some(after)) = (measured, before, peak_rss()) {
        eprintln!(
            "peak RSS while writing the reports: {} MB (at the start {} MB); {took:?}",
            after / MB,
            before / MB
        );
        assert!(
            after < before + 40 * MB,
            "peak RSS grew by {} MB reading 64 MB of pcaps",
            (after - before) / MB
        );
    } else {
        eprintln!("peak RSS not measurable here (/proc/self/clear_refs); {took:?}");
    }

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let json_len = std::fs::metadata(dir.join("report.json")).unwrap().len();
    eprintln!(
        "pcaps {pcap_bytes} bytes → report.html {} bytes, junit.xml {}, report.json {json_len}",
        html.len(),
        junit.len()
    );
    assert!(html.len() < 5 * MB, "report.html is {} bytes", html.len());
    assert!(
        html.contains("ladder: the first 300 messages, read from the first 300 of"),
        "the page says what of the flood it shows"
    );
    assert!(html.contains("all in pcaps/flood.pcap"));
    assert!(html.contains(&format!(
        "messages, read from all {} frames",
        excerpt::count(stream_frames)
    )));
    assert!(html.contains("all in pcaps/stream.pcap"));
    assert!(html.contains("the reading stopped after 300 messages"));
    assert!(html.contains("the failure text is cut here"));

    let j = json(&dir);
    let sc = &j["scenarios"];
    let by = |n: &str| {
        sc.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    let f = by("flood");
    let t = &f["truncated"];
    assert_eq!(t["frames_total"].as_u64(), Some(flood_frames), "{t}");
    assert_eq!(t["frames_shown"].as_u64(), Some(300), "{t}");
    assert_eq!(t["messages_shown"].as_u64(), Some(300), "{t}");
    assert!(t["bytes_total"].as_u64().unwrap() >= 40 * MB as u64, "{t}");
    assert!(t["bytes_shown"].as_u64().unwrap() <= 2 * MB as u64, "{t}");
    let text = f["failure"].as_str().unwrap();
    assert!(text.len() <= excerpt::FAILURE_BYTES, "{}", text.len());
    let cut = excerpt::cut_of(text).expect("the failure ends with '… (N bytes cut)'");
    assert_eq!(t["failure_bytes_cut"].as_u64(), Some(cut as u64));
    assert_eq!(
        text.len() - format!("… ({cut} bytes cut)").len() + cut,
        failure_len
    );
    let s = by("stream");
    let t = &s["truncated"];
    assert_eq!(t["frames_shown"].as_u64(), Some(stream_frames), "{t}");
    assert_eq!(t["frames_total"].as_u64(), Some(stream_frames), "{t}");
    assert!(t["bytes_shown"].as_u64().unwrap() < MB as u64, "{t}");
    assert!(t.get("failure_bytes_cut").is_none(), "{t}");

    assert!(junit.len() < 200_000, "junit.xml is {} bytes", junit.len());
    assert!(junit.contains(&format!("… ({cut} bytes cut)")));
    assert!(junit.contains("pcap: pcaps/flood.pcap"));

    // `liaison report DIR` renders again with the same caps and says the same.
    let again = Report::read(&dir).unwrap();
    again.write_all(&dir).unwrap();
    let j2 = json(&dir);
    assert_eq!(j2["scenarios"], j["scenarios"]);
    let html2 = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html2.len(), html.len());

    // A report.json written without caps (an older liaison, or by hand) is
    // capped when rendered again.
    let mut raw = j.clone();
    raw["scenarios"][0]["failure"] = serde_json::Value::String("y".repeat(3 * MB));
    raw["scenarios"][0]["steps"][0]["text"] = serde_json::Value::String("z".repeat(MB));
    std::fs::write(dir.join("report.json"), raw.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liaison"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{out:?}");
    let j3 = json(&dir);
    let f3 = j3["scenarios"][0]["failure"].as_str().unwrap();
    assert!(f3.len() <= excerpt::FAILURE_BYTES && f3.ends_with(" bytes cut)"));
    let st3 = j3["scenarios"][0]["steps"][0]["text"].as_str().unwrap();
    assert!(st3.len() <= excerpt::STEP_BYTES && st3.ends_with(" bytes cut)"));
    let html3 = std::fs::metadata(dir.join("report.html")).unwrap().len();
    assert!(html3 < 5 * MB as u64, "{html3}");

    // LIAISON_KEEP_EXCERPT=1 keeps the folder (to compare with another build).
    if std::env::var_os("LIAISON_KEEP_EXCERPT").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
