//! Report generation at scale: `cargo bench --bench report` (plain `fn main`,
//! `harness = false`).
//!
//! A real run of the suite against the embedded reference gives scenarios
//! and pcaps; they are repeated to 1,000 scenarios, each with its own copy of
//! its pcap, and every tenth made a failure quoting the bytes of its first
//! message (with a waiver on a few). Then what `liaison report DIR` does is
//! timed: read report.json, render report.html (reading all 1,000 pcaps for
//! the ladders), junit.xml and summary.txt, and write the four files.
//! Asserts: under 1 s, and report.html under 10 MB.

#![cfg_attr(test, allow(dead_code))]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use liaison::codec::escape_bytes;
use liaison::report::{ladder, Report, ScenarioVerdict, StepOutcome, Waiver};
use liaison::runner::{self, RunOptions};

const SCENARIOS: usize = 1000;

fn main() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-report");
    let _ = std::fs::remove_dir_all(&base);
    let run_dir = base.join("run");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let (run, _) = rt
        .block_on(runner::run(RunOptions {
            out: Some(run_dir.clone()),
            ..RunOptions::default()
        }))
        .expect("the suite runs against the embedded reference");
    println!(
        "source run: {} scenarios in {:.1} s",
        run.scenarios.len(),
        t.elapsed().as_secs_f64()
    );
    drop(rt);

    // 1,000 scenarios with their own pcaps.
    let dir = base.join("big");
    std::fs::create_dir_all(dir.join("pcaps")).expect("folder");
    let mut big = run.clone();
    big.scenarios.clear();
    let mut waivers = Vec::new();
    for i in 0..SCENARIOS {
        let mut s = run.scenarios[i % run.scenarios.len()].clone();
        s.name = format!("{} #{i}", s.name);
        let src = run_dir.join(s.pcap.as_deref().expect("pcap"));
        let name = format!("pcaps/{i:04}.pcap");
        std::fs::copy(&src, dir.join(&name)).expect("copy pcap");
        s.pcap = Some(name);
        if i % 10 == 3 {
            let first = ladder::read_file(&src)
                .ok()
                .and_then(|l| l.messages.first().map(|m| m.bytes.clone()))
                .unwrap_or_default();
            s.verdict = ScenarioVerdict::Failed;
            s.failure = Some(format!(
                "{}: expected what the requirement says; came something else — bytes: {}",
                s.requirements.join(", "),
                escape_bytes(&first, 400)
            ));
            if let Some(st) = s.steps.last_mut() {
                st.outcome = StepOutcome::Failed;
            }
            if i % 30 == 3 {
                waivers.push(Waiver {
                    scenario: Some(s.name.clone()),
                    reason: "a known deviation, for the benchmark".into(),
                    ..Waiver::default()
                });
            }
        }
        big.scenarios.push(s);
    }
    big.apply_waivers(&waivers);
    big.write_all(&dir).expect("write the big report");
    let json = std::fs::metadata(dir.join("report.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    let pcaps: u64 = std::fs::read_dir(dir.join("pcaps"))
        .expect("pcaps")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    // What `liaison report DIR` does, five times; the worst counts.
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = Report::read(&dir).expect("report.json reads back");
        r.write_all(&dir).expect("render");
        times.push(t.elapsed());
        assert_eq!(r.scenarios.len(), SCENARIOS);
    }
    let html = std::fs::metadata(dir.join("report.html"))
        .expect("html")
        .len();
    let worst = times.iter().max().copied().unwrap_or_default();
    let best = times.iter().min().copied().unwrap_or_default();
    let t = Instant::now();
    let l: usize = (0..SCENARIOS)
        .map(|i| {
            ladder::read_file(&dir.join(format!("pcaps/{i:04}.pcap")))
                .map(|l| l.messages.len())
                .unwrap_or(0)
        })
        .sum();
    let ladders = t.elapsed();
    println!(
        "report of {SCENARIOS} scenarios ({} MB report.json, {:.1} MB of pcaps, {l} messages): \
         read + render + write best {:.0} ms, worst {:.0} ms (of which pcap reading ≈ {:.0} ms); \
         report.html {:.2} MB",
        json / 1_000_000,
        pcaps as f64 / 1e6,
        ms(best),
        ms(worst),
        ms(ladders),
        html as f64 / 1e6
    );
    assert!(
        worst < Duration::from_secs(1),
        "report generation took {worst:?} (target: under 1 s)"
    );
    assert!(
        html < 10_000_000,
        "report.html is {html} bytes (target: under 10 MB)"
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
