//! The suite's own speed: `cargo bench --bench run` (plain `fn main`,
//! `harness = false`; built with the release profile).
//!
//! Runs the suite against the embedded reference three times and reports
//! the median wall time, the sum of the scenarios' durations and their ratio
//! (how many scenarios ran at a time, on average: the parallelism actually
//! achieved); then the same for a few `--fault` runs, one per area. Prints
//! the three slowest scenarios of the median run. No assertion: the figures
//! are for the issue that asks for them and for anyone changing the harness.

use std::path::PathBuf;
use std::time::Instant;

use liaison::report::Report;
use liaison::runner::{self, RunOptions};

/// One run: (wall seconds, sum of scenario seconds, scenarios, slowest three).
fn once(
    rt: &tokio::runtime::Runtime,
    out: PathBuf,
    fault: Option<&str>,
) -> (f64, f64, usize, Vec<String>) {
    let t = Instant::now();
    let (r, _): (Report, _) = rt
        .block_on(runner::run(RunOptions {
            out: Some(out),
            fault: fault.map(str::to_string),
            ..RunOptions::default()
        }))
        .expect("the suite runs against the embedded reference");
    let wall = t.elapsed().as_secs_f64();
    let sum = r.scenarios.iter().map(|s| s.duration_ms).sum::<u64>() as f64 / 1000.0;
    let mut by: Vec<_> = r.scenarios.iter().collect();
    by.sort_by_key(|s| std::cmp::Reverse(s.duration_ms));
    let slow = by
        .iter()
        .take(3)
        .map(|s| format!("{:.2} s {}", s.duration_ms as f64 / 1000.0, s.name))
        .collect();
    (wall, sum, r.scenarios.len(), slow)
}

fn main() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-run");
    let _ = std::fs::remove_dir_all(&base);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runs: Vec<(f64, f64, usize, Vec<String>)> = (0..3)
        .map(|i| once(&rt, base.join(format!("default-{i}")), None))
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (wall, sum, n, slow) = &runs[1];
    println!(
        "default run: {n} scenarios, wall {wall:.2} s (median of 3; {:.2}–{:.2}), scenarios {sum:.2} s in all, {:.1} at a time",
        runs[0].0,
        runs[2].0,
        sum / wall
    );
    println!("  slowest: {}", slow.join("; "));
    for fault in [
        "im-server/early-200",
        "sms-im-iwf/iwf-ack-before-200",
        "ppg/wrong-app-id",
        "mms-client/ignores-sip-push",
    ] {
        if liaison::reference::find_fault(fault).is_err() {
            println!("--fault {fault}: no such fault (skipped)");
            continue;
        }
        let (wall, sum, n, _) = once(&rt, base.join(fault.replace('/', "-")), Some(fault));
        println!(
            "--fault {fault}: {n} scenarios, wall {wall:.2} s, scenarios {sum:.2} s in all, {:.1} at a time",
            sum / wall
        );
    }
}
