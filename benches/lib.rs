//! What the benchmarks share: criterion's settings for this 2-core machine
//! and the folder they write into.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

/// Criterion with short warm-up and measurement (the figures are stable
/// enough on a 2-core machine; `--measurement-time` overrides).
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// `target/NAME` of the main package: where a benchmark writes its runs.
pub fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(name)
}
