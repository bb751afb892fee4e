//! Report generation at scale (criterion): `cargo bench --bench report` in
//! benches/.
//!
//! A real run of the suite against the embedded reference gives scenarios
//! and pcaps; they are repeated to 1,000 scenarios, each with its own copy of
//! its pcap, and every tenth made a failure quoting the bytes of its first
//! message (with a waiver on a few). Then what `liaison report DIR` does is
//! measured: read report.json, render report.html (reading all 1,000 pcaps
//! for the ladders), junit.xml and summary.txt, and write the four files
//! (scenarios/s as elements/s). Asserts: the slowest of five under 1 s, and
//! report.html under 10 MB.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use liaison::codec::escape_bytes;
use liaison::report::{ladder, Report, ScenarioVerdict, StepOutcome, Waiver};
use liaison::runner::{self, RunOptions};

const SCENARIOS: usize = 1000;

fn report(c: &mut Criterion) {
    let base = liaison_benches::out_dir("bench-report");
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
    let render = || {
        let r = Report::read(&dir).expect("report.json reads back");
        r.write_all(&dir).expect("render");
        assert_eq!(r.scenarios.len(), SCENARIOS);
    };

    // The targets, on five timed renderings: the slowest counts.
    let worst = (0..5)
        .map(|_| {
            let t = Instant::now();
            render();
            t.elapsed()
        })
        .max()
        .unwrap_or_default();
    let html = std::fs::metadata(dir.join("report.html"))
        .expect("html")
        .len();
    let t = Instant::now();
    let l: usize = (0..SCENARIOS)
        .map(|i| {
            ladder::read_file(&dir.join(format!("pcaps/{i:04}.pcap")))
                .map(|l| l.messages.len())
                .unwrap_or(0)
        })
        .sum();
    println!(
        "report of {SCENARIOS} scenarios ({} MB report.json, {:.1} MB of pcaps, {l} messages): \
         worst of five {:.0} ms (pcap reading alone ≈ {:.0} ms); report.html {:.2} MB",
        json / 1_000_000,
        pcaps as f64 / 1e6,
        worst.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1000.0,
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

    let mut g = c.benchmark_group("report");
    g.throughput(Throughput::Elements(SCENARIOS as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    g.bench_function(
        format!("read + render + write, {SCENARIOS} scenarios"),
        |b| b.iter(render),
    );
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = report }
criterion_main!(benches);
