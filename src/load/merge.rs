//! `liaison report --merge DIR…` for load results: the `load.json` of
//! several agents (`liaison load --agent K/N`, each with its own share of
//! the identities) joined into one result, judged again, and written as
//! `load.json`, `junit.xml` and `report.html`.
//!
//! [`merge`] is sans-IO, on [`LoadResult`] values; [`merge_dirs`] reads the
//! folders and writes the merged one (nothing at all when it refuses).
//!
//! ## Rules
//!
//! - **Refused** (exit 2, nothing written): results of different roles,
//!   SUTs, faults, mixes, transports, deadlines, series intervals or
//!   liaison versions; agents with different N or the same K; a stepped
//!   search (each agent's steps are its own, their sum is no rate); agents
//!   that did not send at the same time (their starts further apart than
//!   the shortest run); different `--max-p99` or one with `--rate`/
//!   `--min-rate` and another without; and a result that does not add up
//!   (its messages' partition, its series or its histogram disagree with
//!   its counters: a hand-edited or cut file).
//! - **Summed**: every counter, the status codes, the counters of each kind
//!   of report, the rates (sent, completed and target: the agents send side
//!   by side), the generator's CPU time (µs per message recomputed).
//! - **Histograms** are merged bucket by bucket into one HDR histogram
//!   (same bounds as the ledger's) and the percentiles read from it again.
//! - **Series** are aligned by each agent's wall-clock start
//!   (`started_unix_ms`; its hosts' clocks are trusted, NTP keeps them
//!   within a few ms): a point moves by its agent's offset from the
//!   earliest start, rounded down to the interval. Counts are summed, the
//!   mean latency is weighted by the outcomes, the max is the max, and the
//!   p99 is the largest of the agents' (an upper bound: a mixture's
//!   quantile never exceeds its largest component's).
//! - **Findings** are concatenated in agent order; peak RSS is the largest
//!   agent's; the capture stays in each agent's folder.
//! - **Checks** are judged again with the agents' gates: `--max-lost` and
//!   `--min-rate` add up (each agent was given its own allowance),
//!   `--max-p99` stays. A merge of fewer than all N agents fails its own
//!   gating check (the run is not all there); merged results can be merged
//!   again (`agent` becomes `1+2/4`).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::ledger::{Counters, Latency, Point};
use super::result::{Check, Cost, Gates, LoadResult, ReportKind};

/// The largest load.json read (a day at 100 ms intervals is about 30 MB).
pub const MAX_LOAD_JSON: u64 = 256 << 20;

/// Why results are not merged.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// No folder given.
    Nothing,
    /// A folder holds no load.json.
    NoLoadJson(String),
    /// A load.json cannot be read or is not a load result.
    Unreadable { which: String, why: String },
    /// An `agent` field that is not `K/N` (or `K+K…/N`) with 1 ≤ K ≤ N.
    BadAgent { which: String, agent: String },
    /// Agents of different N.
    AgentCount { which: String, n: u64, other: u64 },
    /// The same agent twice: their identities overlap.
    Overlap { which: String, k: u64 },
    /// A setting that differs: the sum would mean nothing.
    Differs {
        which: String,
        what: &'static str,
        this: String,
        first: String,
    },
    /// A stepped search (no --rate).
    Search(String),
    /// The agents did not send at the same time.
    NotTogether { spread_ms: u64, shortest_ms: u64 },
    /// A result whose parts disagree with its counters.
    Inconsistent { which: String, what: String },
    /// --out is one of the agents' folders (it would overwrite its result).
    OutIsInput(String),
    /// The merged folder cannot be written.
    Write(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Nothing => write!(f, "nothing to merge: give the agents' folders"),
            Refused::NoLoadJson(d) => write!(
                f,
                "{d} holds no load.json (conformance reports and load results are merged separately)"
            ),
            Refused::Unreadable { which, why } => write!(f, "{which}: not a load result: {why}"),
            Refused::BadAgent { which, agent } => {
                write!(f, "{which}: agent {agent:?} is not K/N with 1 ≤ K ≤ N")
            }
            Refused::AgentCount { which, n, other } => write!(
                f,
                "{which}: agent of {n}, the first folder's of {other}: results of different runs"
            ),
            Refused::Overlap { which, k } => write!(
                f,
                "{which}: agent {k} is merged twice: the same identities, counted twice"
            ),
            Refused::Differs {
                which,
                what,
                this,
                first,
            } => write!(
                f,
                "{which}: {what} is {this}, the first folder's is {first}: the sum would mean nothing"
            ),
            Refused::Search(which) => write!(
                f,
                "{which}: a stepped search (no --rate): each agent's steps are its own; run the agents with --rate"
            ),
            Refused::NotTogether {
                spread_ms,
                shortest_ms,
            } => write!(
                f,
                "the agents did not send at the same time: their starts are {spread_ms} ms apart, the shortest run lasted {shortest_ms} ms"
            ),
            Refused::Inconsistent { which, what } => {
                write!(f, "{which}: the result does not add up ({what}): edited or cut?")
            }
            Refused::OutIsInput(d) => write!(
                f,
                "--out {d} is one of the folders merged: its load.json would be overwritten"
            ),
            Refused::Write(e) => write!(f, "cannot write the merged result: {e}"),
        }
    }
}

/// `K/N` or `K+K+…/N` → (the Ks, N).
fn parse_agent(s: &str) -> Option<(BTreeSet<u64>, u64)> {
    let (ks, n) = s.split_once('/')?;
    let n: u64 = n.trim().parse().ok()?;
    let mut set = BTreeSet::new();
    for k in ks.split('+') {
        let k: u64 = k.trim().parse().ok()?;
        if k == 0 || k > n || !set.insert(k) {
            return None;
        }
    }
    (n > 0).then_some((set, n))
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

/// Does the result add up? (a hand-edited or cut file does not)
fn consistent(which: &str, r: &LoadResult) -> Result<(), Refused> {
    let bad = |what: String| Refused::Inconsistent {
        which: which.into(),
        what,
    };
    let primary = r
        .reports
        .first()
        .ok_or_else(|| bad("no kind of report".into()))?;
    let p = &primary.counters;
    let settled = [p.completed, p.lost, p.late, p.pending]
        .iter()
        .try_fold(0u64, |a, n| a.checked_add(*n));
    if settled != Some(p.sent) || p.sent != r.counters.sent || p.completed != r.counters.completed {
        return Err(bad(format!(
            "{} sent, but {} completed + {} lost + {} late + {} pending",
            r.counters.sent, p.completed, p.lost, p.late, p.pending
        )));
    }
    let series_sent = r.series.iter().try_fold(0u64, |a, q| a.checked_add(q.sent));
    if series_sent != Some(r.counters.sent) {
        return Err(bad(format!(
            "the series sends {}, the counters {}",
            series_sent.map_or("more than 2^64".into(), |n| n.to_string()),
            r.counters.sent
        )));
    }
    let series_completed = r
        .series
        .iter()
        .try_fold(0u64, |a, q| a.checked_add(q.completed));
    if series_completed != Some(r.counters.completed) {
        return Err(bad(format!(
            "the series completes {}, the counters {}",
            series_completed.map_or("more than 2^64".into(), |n| n.to_string()),
            r.counters.completed
        )));
    }
    let hist = r
        .histogram_us
        .iter()
        .try_fold(0u64, |a, (_, n)| a.checked_add(*n));
    if hist.is_none_or(|h| h > r.counters.completed) {
        return Err(bad(format!(
            "the histogram holds more latencies than the {} messages completed",
            r.counters.completed
        )));
    }
    let floats = [
        r.rate_per_s,
        r.completed_per_s,
        r.duration_s,
        r.target_rate_per_s.unwrap_or(0.0),
        r.cost.generator_cpu_s,
        r.cost.process_cpu_s,
        r.cost.max_rss_mb,
    ];
    if floats.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(bad("a rate, duration or cost that is no number".into()));
    }
    if r.interval_ms == 0 {
        return Err(bad("a series interval of 0 ms".into()));
    }
    Ok(())
}

/// Merges the results of agents of one run; `which` names each (its folder).
pub fn merge(results: &[(String, LoadResult)]) -> Result<LoadResult, Refused> {
    let Some((first_name, first)) = results.first() else {
        return Err(Refused::Nothing);
    };
    let (_, n) = parse_agent(&first.agent).ok_or_else(|| Refused::BadAgent {
        which: first_name.clone(),
        agent: first.agent.clone(),
    })?;
    let mut agents = BTreeSet::new();
    let first_gates = first.gates.clone().unwrap_or_default();
    for (which, r) in results {
        consistent(which, r)?;
        let (ks, rn) = parse_agent(&r.agent).ok_or_else(|| Refused::BadAgent {
            which: which.clone(),
            agent: r.agent.clone(),
        })?;
        if rn != n {
            return Err(Refused::AgentCount {
                which: which.clone(),
                n: rn,
                other: n,
            });
        }
        for k in ks {
            if !agents.insert(k) {
                return Err(Refused::Overlap {
                    which: which.clone(),
                    k,
                });
            }
        }
        if !r.search.is_empty() {
            return Err(Refused::Search(which.clone()));
        }
        let differs = |what: &'static str, this: String, first: String| {
            if this == first {
                Ok(())
            } else {
                Err(Refused::Differs {
                    which: which.clone(),
                    what,
                    this,
                    first,
                })
            }
        };
        differs("the role", r.role.clone(), first.role.clone())?;
        differs("the SUT", r.sut.clone(), first.sut.clone())?;
        differs(
            "the fault",
            format!("{:?}", r.fault),
            format!("{:?}", first.fault),
        )?;
        differs("the mix", r.mix.clone(), first.mix.clone())?;
        differs(
            "the transport",
            r.transport.clone(),
            first.transport.clone(),
        )?;
        differs(
            "the deadline (ms)",
            r.deadline_ms.to_string(),
            first.deadline_ms.to_string(),
        )?;
        differs(
            "the series interval (ms)",
            r.interval_ms.to_string(),
            first.interval_ms.to_string(),
        )?;
        differs(
            "the liaison version",
            r.liaison_version.clone(),
            first.liaison_version.clone(),
        )?;
        differs(
            "--rate",
            if r.target_rate_per_s.is_some() {
                "given"
            } else {
                "not given"
            }
            .into(),
            if first.target_rate_per_s.is_some() {
                "given"
            } else {
                "not given"
            }
            .into(),
        )?;
        let g = r.gates.clone().unwrap_or_default();
        differs(
            "--max-p99",
            format!("{:?}", g.max_p99_ms),
            format!("{:?}", first_gates.max_p99_ms),
        )?;
        differs(
            "--min-rate",
            if g.min_rate.is_some() {
                "given"
            } else {
                "not given"
            }
            .into(),
            if first_gates.min_rate.is_some() {
                "given"
            } else {
                "not given"
            }
            .into(),
        )?;
    }

    // Clocks: each agent's offset from the earliest start (0 for all when
    // a result does not say when it started).
    let starts: Option<Vec<u64>> = results.iter().map(|(_, r)| r.started_unix_ms).collect();
    let t0 = starts.as_ref().and_then(|s| s.iter().min().copied());
    let offsets: Vec<u64> = match (&starts, t0) {
        (Some(s), Some(t0)) => s.iter().map(|t| t - t0).collect(),
        _ => vec![0; results.len()],
    };
    let spread = offsets.iter().max().copied().unwrap_or(0);
    let shortest = results
        .iter()
        .map(|(_, r)| (r.duration_s * 1000.0) as u64)
        .min()
        .unwrap_or(0);
    if results.len() > 1 && spread > shortest {
        return Err(Refused::NotTogether {
            spread_ms: spread,
            shortest_ms: shortest,
        });
    }

    let mut m = first.clone();
    m.counters = Counters::default();
    m.unreadable = 0;
    m.codes.clear();
    m.reports = Vec::new();
    m.findings = Vec::new();
    m.rate_per_s = 0.0;
    m.completed_per_s = 0.0;
    m.target_rate_per_s = first.target_rate_per_s.map(|_| 0.0);
    m.duration_s = 0.0;
    m.started_unix_ms = t0;
    m.cost = Cost::default();
    m.capture = None;
    m.interrupted = false;
    let mut hist = new_histogram();
    let iv = first.interval_ms;
    // Per merged interval: (point, Σ mean·completed).
    let mut series: Vec<(Point, f64)> = Vec::new();
    let mut gates = Gates {
        max_lost: 0,
        min_rate: first_gates.min_rate.map(|_| 0.0),
        max_p99_ms: first_gates.max_p99_ms,
    };
    for ((which, r), off) in results.iter().zip(&offsets) {
        m.counters.add(&r.counters);
        m.unreadable = m.unreadable.saturating_add(r.unreadable);
        for (c, k) in &r.codes {
            *m.codes.entry(c.clone()).or_default() += k;
        }
        for k in &r.reports {
            match m.reports.iter_mut().find(|x| x.name == k.name) {
                Some(x) => {
                    x.counters.add(&k.counters);
                    for (c, n) in &k.codes {
                        *x.codes.entry(c.clone()).or_default() += n;
                    }
                }
                None => m.reports.push(ReportKind {
                    name: k.name.clone(),
                    counters: k.counters.clone(),
                    codes: k.codes.clone(),
                }),
            }
        }
        m.findings.extend(r.findings.iter().cloned());
        m.rate_per_s += r.rate_per_s;
        m.completed_per_s += r.completed_per_s;
        if let (Some(t), Some(a)) = (m.target_rate_per_s.as_mut(), r.target_rate_per_s) {
            *t += a;
        }
        m.duration_s = m.duration_s.max(*off as f64 / 1000.0 + r.duration_s);
        m.cost.generator_cpu_s += r.cost.generator_cpu_s;
        m.cost.process_cpu_s += r.cost.process_cpu_s;
        m.cost.max_rss_mb = m.cost.max_rss_mb.max(r.cost.max_rss_mb);
        m.interrupted |= r.interrupted;
        for &(v, c) in &r.histogram_us {
            hist.record_n(v, c).map_err(|_| Refused::Inconsistent {
                which: which.clone(),
                what: format!("a latency of {v} µs is outside 1 µs – 1 h"),
            })?;
        }
        for p in &r.series {
            let t = p.t_ms.saturating_add(*off);
            let i = ((t / iv) as usize).min(200_000);
            if series.len() <= i {
                series.resize_with(i + 1, Default::default);
            }
            let (q, sum) = &mut series[i];
            q.sent += p.sent;
            q.completed += p.completed;
            q.violations += p.violations;
            *sum += p.latency_mean_ms * p.completed as f64;
            q.latency_p99_ms = q.latency_p99_ms.max(p.latency_p99_ms);
            q.latency_max_ms = q.latency_max_ms.max(p.latency_max_ms);
        }
        let g = r.gates.clone().unwrap_or_default();
        gates.max_lost = gates.max_lost.saturating_add(g.max_lost);
        if let (Some(t), Some(a)) = (gates.min_rate.as_mut(), g.min_rate) {
            *t += a;
        }
    }
    m.series = series
        .into_iter()
        .enumerate()
        .map(|(i, (mut q, sum))| {
            q.t_ms = i as u64 * iv;
            q.latency_mean_ms = if q.completed > 0 {
                sum / q.completed as f64
            } else {
                0.0
            };
            q
        })
        .collect();
    m.histogram_us = hist
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .collect();
    m.latency_ms = if hist.is_empty() {
        Latency::default()
    } else {
        let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
        Latency {
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: hist.max() as f64 / 1000.0,
            mean: hist.mean() / 1000.0,
        }
    };
    m.cost.generator_cpu_us_per_message = if m.counters.sent > 0 {
        m.cost.generator_cpu_s * 1e6 / m.counters.sent as f64
    } else {
        0.0
    };
    let ks: Vec<String> = agents.iter().map(u64::to_string).collect();
    m.agent = format!("{}/{n}", ks.join("+"));
    m.judge(&gates);
    let missing: Vec<String> = (1..=n)
        .filter(|k| !agents.contains(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        m.checks.push(Check {
            name: "every agent's result is merged".into(),
            passed: false,
            gating: true,
            expected: format!("agents 1 to {n}"),
            came: format!("agents {}; missing {}", ks.join(", "), missing.join(", ")),
        });
        m.passed = false;
        if !m.interrupted {
            m.exit_code = crate::cli::EXIT_FAIL;
        }
    }
    Ok(m)
}

/// Reads one agent's folder.
pub fn read(dir: &Path) -> Result<LoadResult, Refused> {
    let which = dir.display().to_string();
    let p = dir.join("load.json");
    if !p.is_file() {
        return Err(Refused::NoLoadJson(which));
    }
    let unreadable = |why: String| Refused::Unreadable {
        which: which.clone(),
        why,
    };
    let len = std::fs::metadata(&p)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if len > MAX_LOAD_JSON {
        return Err(unreadable(format!(
            "{len} bytes, more than {MAX_LOAD_JSON}"
        )));
    }
    let text = std::fs::read(&p).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| unreadable(e.to_string()))
}

/// Reads the folders, merges them and writes `out` (nothing when refused).
pub fn merge_dirs(dirs: &[PathBuf], out: &Path) -> Result<LoadResult, Refused> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(d) = dirs.iter().find(|d| same(d, out)) {
        return Err(Refused::OutIsInput(d.display().to_string()));
    }
    let mut results = Vec::with_capacity(dirs.len());
    for d in dirs {
        results.push((d.display().to_string(), read(d)?));
    }
    let merged = merge(&results)?;
    merged.write(out).map_err(Refused::Write)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ledger::{Expect, Ledger, Outcome};

    /// An agent's result: `n` messages from `first`, one every 1 ms, each
    /// answered 200 after `lat_us`.
    fn agent(k: u64, n_agents: u64, n: u64, lat_us: u64, started: u64) -> LoadResult {
        let mut l = Ledger::new((k - 1) * super::super::AGENT_SPAN, 1_000_000, 100_000);
        for i in 0..n {
            let id = l.sent(i * 1000, Expect::Any);
            l.outcome(
                i * 1000 + lat_us,
                Outcome {
                    id,
                    code: 200,
                    accepts: true,
                    names: Some(id),
                    bytes: b"SIP/2.0 200 OK\r\n\r\n",
                },
            );
        }
        let mut r = LoadResult::from_summary(&l.finish(), "SIP final responses");
        r.role = "im-client".into();
        r.sut = "s".into();
        r.mix = "200:100".into();
        r.agent = format!("{k}/{n_agents}");
        r.deadline_ms = 1000;
        r.target_rate_per_s = Some(1000.0);
        r.rate_per_s = 1000.0;
        r.completed_per_s = 1000.0;
        r.duration_s = n as f64 / 1000.0;
        r.started_unix_ms = Some(started);
        r.cost.generator_cpu_s = 0.001 * n as f64;
        r.judge(&Gates {
            max_lost: 1,
            ..Default::default()
        });
        r
    }

    fn named(rs: Vec<LoadResult>) -> Vec<(String, LoadResult)> {
        rs.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("a{i}"), r))
            .collect()
    }

    #[test]
    fn sums_counters_merges_histograms_and_aligns_series() {
        let a = agent(1, 2, 500, 1000, 10_000);
        let b = agent(2, 2, 300, 9000, 10_150);
        let m = merge(&named(vec![a, b])).unwrap();
        assert_eq!(m.counters.sent, 800);
        assert_eq!(m.counters.completed, 800);
        assert_eq!(m.codes["200"], 800);
        assert_eq!(m.reports.len(), 1);
        assert_eq!(m.reports[0].counters.sent, 800);
        assert_eq!(m.agent, "1+2/2");
        assert_eq!(m.rate_per_s, 2000.0);
        assert_eq!(m.target_rate_per_s, Some(2000.0));
        assert_eq!(m.started_unix_ms, Some(10_000));
        // 500 at 1 ms and 300 at 9 ms: p50 is 1 ms, p99 9 ms.
        assert!((m.latency_ms.p50 - 1.0).abs() < 0.01, "{:?}", m.latency_ms);
        assert!((m.latency_ms.p99 - 9.0).abs() < 0.01, "{:?}", m.latency_ms);
        let total: u64 = m.histogram_us.iter().map(|x| x.1).sum();
        assert_eq!(total, 800);
        // B started 150 ms later: its first 100 ms land in the interval at 100 ms.
        let sent: u64 = m.series.iter().map(|p| p.sent).sum();
        assert_eq!(sent, 800);
        assert_eq!(m.series[0].sent, 100);
        assert_eq!(m.series[1].sent, 200);
        let p = &m.series[1];
        // Outcomes count where they come: A's 100 at 1 ms, B's first 91
        // (sent before 91 ms, answered 9 ms later).
        assert_eq!(p.completed, 191);
        assert!((p.latency_mean_ms - (100.0 * 1.0 + 91.0 * 9.0) / 191.0).abs() < 0.01);
        assert_eq!(p.latency_max_ms, 9.0);
        // Gates add up: each agent allowed 1 lost.
        assert_eq!(m.gates.as_ref().unwrap().max_lost, 2);
        assert!(m.passed && m.exit_code == 0, "{:?}", m.checks);
        assert!((m.cost.generator_cpu_us_per_message - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let a = agent(1, 2, 100, 1000, 0);
        let refuse = |b: LoadResult| merge(&named(vec![a.clone(), b])).unwrap_err();
        assert!(matches!(
            refuse(agent(1, 2, 100, 1000, 0)),
            Refused::Overlap { k: 1, .. }
        ));
        assert!(matches!(
            refuse(agent(2, 3, 100, 1000, 0)),
            Refused::AgentCount { n: 3, other: 2, .. }
        ));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.role = "im-server".into();
        assert!(matches!(
            refuse(b),
            Refused::Differs {
                what: "the role",
                ..
            }
        ));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.mix = "200:50,486:50".into();
        assert!(matches!(
            refuse(b),
            Refused::Differs {
                what: "the mix",
                ..
            }
        ));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.counters.sent += 1;
        assert!(matches!(refuse(b), Refused::Inconsistent { .. }));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.counters.completed -= 1;
        assert!(matches!(refuse(b), Refused::Inconsistent { .. }));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.series[0].completed += 1;
        assert!(matches!(refuse(b), Refused::Inconsistent { .. }));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.histogram_us.push((1000, 5000));
        assert!(matches!(refuse(b), Refused::Inconsistent { .. }));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.agent = "3/2".into();
        assert!(matches!(refuse(b), Refused::BadAgent { .. }));
        let mut b = agent(2, 2, 100, 1000, 0);
        b.search.push(crate::load::result::Step {
            target_rate_per_s: 1.0,
            rate_per_s: 1.0,
            sent: 1,
            completed: 1,
            lost: 0,
            violations: 0,
            p99_ms: 1.0,
            clean: true,
        });
        assert!(matches!(refuse(b), Refused::Search(_)));
        // 100 ms runs started 5 s apart did not load the SUT together.
        assert!(matches!(
            refuse(agent(2, 2, 100, 1000, 5000)),
            Refused::NotTogether { .. }
        ));
        assert_eq!(merge(&[]).unwrap_err(), Refused::Nothing);
    }

    #[test]
    fn a_missing_agent_fails_and_violations_fail_the_merge() {
        let m = merge(&named(vec![
            agent(1, 3, 100, 1000, 0),
            agent(3, 3, 100, 1000, 0),
        ]))
        .unwrap();
        assert_eq!(m.agent, "1+3/3");
        assert!(!m.passed);
        assert_eq!(m.exit_code, crate::cli::EXIT_FAIL);
        let c = m.checks.last().unwrap();
        assert!(c.came.contains("missing 2"), "{c:?}");
        // Merged again with the missing one: whole, and it passes.
        let whole = merge(&named(vec![m, agent(2, 3, 100, 1000, 0)])).unwrap();
        assert_eq!(whole.agent, "1+2+3/3");
        assert!(whole.passed, "{:?}", whole.checks);
        assert_eq!(whole.counters.sent, 300);

        let mut b = agent(2, 2, 100, 1000, 0);
        b.counters.mismatched = 1;
        b.reports[0].counters.mismatched = 1;
        let m = merge(&named(vec![agent(1, 2, 100, 1000, 0), b])).unwrap();
        assert_eq!(m.counters.mismatched, 1);
        assert!(!m.passed && m.exit_code == crate::cli::EXIT_FAIL);
    }
}
