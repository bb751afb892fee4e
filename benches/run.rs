//! The suite's own speed (criterion): `cargo bench --bench run` in benches/.
//!
//! Criterion times the default run against the embedded reference (ten
//! runs; scenarios/s as elements/s). Then one more run gives what criterion
//! does not: the sum of the scenarios' durations and its ratio to the wall
//! time (how many scenarios ran at a time, on average: the parallelism
//! actually achieved) and the three slowest scenarios; then the same for a
//! few `--fault` runs, one per area. No assertion: the figures are for
//! anyone changing the harness.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use liaison::report::Report;
use liaison::runner::{self, RunOptions};

/// One run: (wall seconds, sum of scenario seconds, scenarios, slowest three).
fn once(
    rt: &tokio::runtime::Runtime,
    out: PathBuf,
    fault: Option<&str>,
) -> (f64, f64, usize, Vec<String>) {
    let _ = std::fs::remove_dir_all(&out);
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

fn run(c: &mut Criterion) {
    let base = liaison_benches::out_dir("bench-run");
    let _ = std::fs::remove_dir_all(&base);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (wall, sum, n, slow) = once(&rt, base.join("default"), None);
    println!(
        "default run: {n} scenarios, wall {wall:.2} s, scenarios {sum:.2} s in all, {:.1} at a time",
        sum / wall
    );
    println!("  slowest: {}", slow.join("; "));

    let mut g = c.benchmark_group("run");
    g.throughput(Throughput::Elements(n as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(25));
    g.bench_function("default run, embedded reference", |b| {
        b.iter(|| once(&rt, base.join("default"), None).2)
    });
    g.finish();

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

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = run }
criterion_main!(benches);
