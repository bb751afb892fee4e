//! The report people read, opened in a real browser (Debian's headless
//! Chromium): a run with a failure whose SUT answers `<script>` in a reason
//! phrase and HTML in a header (reference fault `im-client/415-hostile-text`).
//! The page must show the requirement matrix, the failed scenario's message
//! ladder and its offending bytes as text and hex, fill a message's hex view
//! with its own script, and never run what the SUT sent. A screenshot stays
//! in target/test-out/ for a person to look at.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs headless Chromium with a fresh profile; a hang fails after 90 s.
pub(crate) fn chromium(profile: &Path, args: &[&str]) -> String {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium {args:?}: {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("chromium output")
}

#[test]
fn the_report_reads_in_a_browser_and_runs_nothing_the_sut_sent() {
    if !program_or_skip(
        "chromium",
        "chromium",
        "the_report_reads_in_a_browser_and_runs_nothing_the_sut_sent",
    ) {
        return;
    }
    let out = tmpdir("report-browser");
    let o = liaison(&[
        "run",
        "--quiet",
        "--tags",
        "@im-client",
        "--fault",
        "im-client/415-hostile-text",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Chromium is CPU-bound: it yields to the tests whose reference keeps
    // 20 ms timers.
    let _cpu = low_priority();
    let r = report(&out);
    let scenarios = r["scenarios"].as_array().unwrap();
    let (idx, failed) = scenarios
        .iter()
        .enumerate()
        .find(|(_, s)| s["verdict"] == "failed")
        .expect("a failed scenario");
    assert!(
        failed["failure"].as_str().unwrap().contains("<img src=x"),
        "the failure quotes the hostile header: {}",
        failed["failure"]
    );
    // The 415 in the ladder: its index among the pcap's messages.
    let pcap = out.join(failed["pcap"].as_str().unwrap());
    let ladder = liaison::report::ladder::read_file(&pcap).unwrap();
    let k = ladder
        .messages
        .iter()
        .position(|m| m.status == Some(415))
        .expect("the 415 is in the pcap");
    assert!(ladder.messages[k].label().contains("<script>"));

    let html = out.join("report.html");
    let url = |frag: &str| format!("file://{}#{frag}", html.display());
    let profile = out.join("chromium-profile");

    // What a reader sees: the key parts have a box on screen.
    let dom = chromium(&profile, &["--dump-dom", &url("check")]);
    let visible = dom
        .split("data-visible=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "the page's script did not run: no data-visible\n{}",
                &dom[..dom.len().min(2000)]
            )
        });
    for part in ["matrix", "ladder", "failure-text", "failure-hex"] {
        assert!(
            visible.split(' ').any(|p| p == part),
            "{part} is not visible (visible: {visible:?})"
        );
    }
    assert!(dom.contains("id=\"r-DR-3\""), "the matrix row of DR-3");
    // The failure's bytes in hex: "SIP/2.0 415 <scr".
    assert!(
        dom.contains("0000  53 49 50 2f 32 2e 30 20  34 31 35 20 3c 73 63 72  SIP/2.0 415 &lt;scr"),
        "the offending bytes in hex"
    );

    // A ladder arrow, clicked: the message opens and the page's script
    // fills its hex view.
    let dom = chromium(&profile, &["--dump-dom", &url(&format!("s{idx}m{k}"))]);
    let panel = dom
        .split(&format!("id=\"s{idx}m{k}\""))
        .nth(1)
        .expect("the message panel");
    let panel = &panel[..panel.find("<div class=\"msg\"").unwrap_or(panel.len())];
    assert!(
        panel.contains("<pre class=\"hex\">0000  53 49 50 2f 32 2e 30 20  34 31 35 20 3c 73 63 72"),
        "the hex view of the 415 was not filled:\n{panel}"
    );
    assert!(
        dom.contains(&format!("href=\"#s{idx}m{k}\"")),
        "the arrow links to it"
    );

    // Nothing the SUT sent ran or became markup: one script (the page's),
    // no <img>, the title and body as written, the text shown as text.
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!dom.contains("<img"), "the SUT's <img> became an element");
    assert!(
        !dom.contains("pwned</title>") && dom.contains("FAIL · liaison compliance report</title>")
    );
    assert!(
        !dom.contains("data-pwned=\""),
        "the SUT's onerror handler ran"
    );
    assert!(
        dom.contains("415 &lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "the reason phrase is shown as text"
    );
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the header is shown as text"
    );
    // File names derived from scenario names are plain.
    for href in dom
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        if let Some(name) = href.strip_prefix("pcaps/") {
            assert!(
                name.ends_with(".pcap")
                    && name.chars().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || c == '.'
                        || c == 'L'),
                "pcap link {href:?}"
            );
            assert!(out.join(href).is_file(), "{href} exists");
        }
    }

    // A screenshot of the failures-only view, for a person.
    let png = out.join("report.png");
    chromium(
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,2400",
            &url("only-failed"),
        ],
    );
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000);
    let keep = root().join("target/test-out/report-browser.png");
    std::fs::copy(&png, &keep).expect("keep the screenshot");
    eprintln!("screenshot: {}", keep.display());
    let _ = std::fs::remove_dir_all(&profile);
}
