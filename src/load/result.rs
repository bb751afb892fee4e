//! The result of a load run: counters, latency, the time series, the
//! integrity checks and the first findings with their bytes. Written as
//! `load.json` (the record), `junit.xml` (one testcase per check) and
//! `report.html` ([`super::html`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ledger::{Counters, Finding, Latency, Point, Summary};
use crate::report::escape_xml;

/// One integrity or gating check of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// Does a failure fail the run?
    pub gating: bool,
    pub expected: String,
    pub came: String,
}

/// One step of the stepped search for the highest clean rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub target_rate_per_s: f64,
    pub rate_per_s: f64,
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub violations: u64,
    pub p99_ms: f64,
    pub clean: bool,
}

/// The generator's own cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// CPU time (user + system) of the generator's threads, s.
    pub generator_cpu_s: f64,
    /// … per message sent (µs).
    pub generator_cpu_us_per_message: f64,
    /// CPU time of the whole liaison process (with an embedded reference SUT in it), s.
    pub process_cpu_s: f64,
    /// Peak resident set of the process, MB.
    pub max_rss_mb: f64,
}

/// The counters of one kind of report (SIP final responses,
/// deliver_sm_resp, receipts …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportKind {
    pub name: String,
    #[serde(flatten)]
    pub counters: Counters,
    pub codes: BTreeMap<String, u64>,
}

/// The whole result (`load.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    pub liaison_version: String,
    pub role: String,
    pub sut: String,
    pub fault: Option<String>,
    /// `K/N`: this agent's share of the identities (1/1 alone).
    pub agent: String,
    pub mix: String,
    pub transport: String,
    pub target_rate_per_s: Option<f64>,
    /// Messages sent per second while sending.
    pub rate_per_s: f64,
    /// Final outcomes per second, first send to last outcome.
    pub completed_per_s: f64,
    pub duration_s: f64,
    /// Wall-clock time the sending began, ms since the Unix epoch: how
    /// `liaison report --merge` lines up the series of several agents.
    #[serde(default)]
    pub started_unix_ms: Option<u64>,
    pub deadline_ms: u64,
    #[serde(flatten)]
    pub counters: Counters,
    /// Datagrams that could not be read as a response or request.
    pub unreadable: u64,
    pub codes: BTreeMap<String, u64>,
    pub latency_ms: Latency,
    /// The latency histogram, (upper bound µs, count) per recorded bucket,
    /// for merging results of several agents.
    pub histogram_us: Vec<(u64, u64)>,
    pub interval_ms: u64,
    pub series: Vec<Point>,
    pub reports: Vec<ReportKind>,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    pub search: Vec<Step>,
    pub cost: Cost,
    pub capture: Option<String>,
    pub interrupted: bool,
    pub passed: bool,
    pub exit_code: i32,
    /// The thresholds the run was judged by (a merge judges again by them).
    #[serde(default)]
    pub gates: Option<Gates>,
}

/// When a step sent and heard, and what it cost (µs since its start).
#[derive(Debug, Clone, Copy)]
pub struct StepTiming {
    pub rate: f64,
    /// The messages the step was to send (its count, or rate × duration).
    pub planned: u64,
    pub last_send_us: u64,
    pub last_outcome_us: u64,
    pub end_us: u64,
    /// CPU time of the generator's threads.
    pub cpu: std::time::Duration,
}

/// The thresholds a run is gated by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    pub max_lost: u64,
    pub min_rate: Option<f64>,
    pub max_p99_ms: Option<f64>,
}

impl LoadResult {
    /// A result from the primary ledger's summary (other report kinds are
    /// added with [`Self::add_report`]).
    pub fn from_summary(s: &Summary, name: &str) -> LoadResult {
        let codes: BTreeMap<String, u64> =
            s.codes.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        LoadResult {
            liaison_version: env!("CARGO_PKG_VERSION").into(),
            role: String::new(),
            sut: String::new(),
            fault: None,
            agent: "1/1".into(),
            mix: String::new(),
            transport: "udp".into(),
            target_rate_per_s: None,
            rate_per_s: 0.0,
            completed_per_s: 0.0,
            duration_s: 0.0,
            started_unix_ms: None,
            deadline_ms: 0,
            counters: s.counters.clone(),
            unreadable: 0,
            codes: codes.clone(),
            latency_ms: s.latency.clone(),
            histogram_us: s
                .histogram
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
                .collect(),
            interval_ms: s.interval_ms,
            series: s.series.clone(),
            reports: vec![ReportKind {
                name: name.into(),
                counters: s.counters.clone(),
                codes,
            }],
            checks: Vec::new(),
            findings: s.findings.clone(),
            search: Vec::new(),
            cost: Cost::default(),
            capture: None,
            interrupted: false,
            passed: false,
            exit_code: 0,
            gates: None,
        }
    }

    /// Fills in a step's rates, duration and generator cost, the same way
    /// for every driver. Paced from t = 0, message k leaves at k/rate, so n
    /// messages span at least n/rate: the sent rate is never overstated
    /// by a short step. A step that stopped sending early (the SUT's
    /// connection ended, Ctrl-C) is measured over the span its plan called
    /// for: 1 of 300 sent at 1 000/s is 3/s, not 1 000/s.
    pub fn timing(&mut self, t: StepTiming) {
        let sent = self.counters.sent;
        let planned_s = if sent < t.planned {
            t.planned as f64 / t.rate
        } else {
            0.0
        };
        let send_s = (t.last_send_us as f64 / 1e6)
            .max(sent as f64 / t.rate)
            .max(planned_s);
        self.rate_per_s = sent as f64 / send_s.max(1e-6);
        self.completed_per_s =
            self.counters.completed as f64 / (t.last_outcome_us.max(1) as f64 / 1e6);
        self.duration_s = t.end_us as f64 / 1e6;
        self.target_rate_per_s = Some(t.rate);
        self.cost.generator_cpu_s = t.cpu.as_secs_f64();
        self.cost.generator_cpu_us_per_message = t.cpu.as_secs_f64() * 1e6 / sent.max(1) as f64;
    }

    /// Records where the step's capture went ([`super::record::Recorder::finish`]).
    pub fn captured(&mut self, finished: Option<(std::path::PathBuf, u64)>) {
        self.capture = finished.map(|(p, dropped)| {
            if dropped > 0 {
                format!(
                    "{} (the last datagrams; {dropped} earlier ones let go)",
                    p.display()
                )
            } else {
                p.display().to_string()
            }
        });
    }

    /// Adds a further kind of report: its violations count in the totals
    /// (the message counts stay the primary kind's).
    pub fn add_report(&mut self, s: &Summary, name: &str) {
        let c = &s.counters;
        self.counters.duplicated += c.duplicated;
        self.counters.mismatched += c.mismatched;
        self.counters.fabricated += c.fabricated;
        self.counters.lost += c.lost;
        self.counters.late += c.late;
        self.findings.extend(s.findings.iter().cloned());
        self.reports.push(ReportKind {
            name: name.into(),
            counters: c.clone(),
            codes: s.codes.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        });
    }

    /// Fills in the checks, `passed` and the exit code.
    pub fn judge(&mut self, gates: &Gates) {
        let c = &self.counters;
        let mut checks = vec![
            Check {
                name: "no report names another message (mismatched)".into(),
                passed: c.mismatched == 0,
                gating: true,
                expected: "0 mismatched".into(),
                came: format!("{} mismatched", c.mismatched),
            },
            Check {
                name: "no acceptance the recipient did not give (fabricated)".into(),
                passed: c.fabricated == 0,
                gating: true,
                expected: "0 fabricated".into(),
                came: format!("{} fabricated", c.fabricated),
            },
            Check {
                name: "no second delivery or final outcome (duplicated)".into(),
                passed: c.duplicated == 0,
                gating: true,
                expected: "0 duplicated".into(),
                came: format!("{} duplicated", c.duplicated),
            },
            Check {
                name: format!(
                    "every message has its outcome within {} ms (lost, late)",
                    self.deadline_ms
                ),
                passed: c.lost + c.late <= gates.max_lost,
                gating: true,
                expected: format!("at most {} lost or late (--max-lost)", gates.max_lost),
                came: format!("{} lost, {} late", c.lost, c.late),
            },
        ];
        if let Some(t) = self.target_rate_per_s {
            let met = self.rate_per_s >= t * 0.95;
            checks.push(Check {
                name: "the target rate was reached".into(),
                passed: met,
                gating: gates.min_rate.is_none(),
                expected: format!("{t:.0}/s sent (within 5 %)"),
                came: format!("{:.0}/s sent", self.rate_per_s),
            });
        }
        if let Some(m) = gates.min_rate {
            checks.push(Check {
                name: "the SUT sustained the minimum rate".into(),
                passed: self.completed_per_s >= m,
                gating: true,
                expected: format!("at least {m:.0} outcomes/s (--min-rate)"),
                came: format!("{:.0}/s", self.completed_per_s),
            });
        }
        if let Some(m) = gates.max_p99_ms {
            checks.push(Check {
                name: "p99 latency within the bound".into(),
                passed: self.latency_ms.p99 <= m,
                gating: true,
                expected: format!("p99 ≤ {m} ms (--max-p99)"),
                came: format!("p99 {} ms", self.latency_ms.p99),
            });
        }
        if self.counters.sent == 0 {
            checks.push(Check {
                name: "messages were sent".into(),
                passed: false,
                gating: true,
                expected: "at least one message".into(),
                came: "none".into(),
            });
        }
        self.passed = checks.iter().all(|c| c.passed || !c.gating);
        self.checks = checks;
        self.gates = Some(gates.clone());
        self.exit_code = if self.interrupted {
            crate::cli::EXIT_INTERRUPTED
        } else if self.passed {
            crate::cli::EXIT_PASS
        } else {
            crate::cli::EXIT_FAIL
        };
    }

    /// The violations (all kinds).
    pub fn violations(&self) -> u64 {
        self.counters.mismatched + self.counters.fabricated + self.counters.duplicated
    }

    /// Writes `load.json`, `junit.xml` and `report.html` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let p = dir.join("load.json");
        std::fs::write(&p, json).map_err(|e| format!("{}: {e}", p.display()))?;
        let p = dir.join("junit.xml");
        std::fs::write(&p, self.junit()).map_err(|e| format!("{}: {e}", p.display()))?;
        let p = dir.join("report.html");
        std::fs::write(&p, super::html::render(self))
            .map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(())
    }

    /// One testcase per check; a failed check carries the first findings.
    pub fn junit(&self) -> String {
        let failures = self.checks.iter().filter(|c| !c.passed && c.gating).count();
        let mut x = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"liaison load\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"load {} ({})\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
            self.checks.len(),
            escape_xml(&self.role),
            escape_xml(&self.sut),
            self.checks.len(),
            self.duration_s
        );
        for c in &self.checks {
            x.push_str(&format!(
                "    <testcase classname=\"load.{}\" name=\"{}\">\n",
                escape_xml(&self.role),
                escape_xml(&c.name)
            ));
            if !c.passed {
                let tag = if c.gating { "failure" } else { "skipped" };
                let mut detail = format!("expected {}; came {}", c.expected, c.came);
                let kind = ["mismatched", "fabricated", "duplicated", "lost"]
                    .into_iter()
                    .find(|k| c.name.contains(k));
                if let Some(k) = kind {
                    for f in self.findings.iter().filter(|f| f.kind == k).take(3) {
                        detail.push_str(&format!(
                            "\nmessage {}: expected {}; came {}\n{}",
                            f.message, f.expected, f.came, f.bytes
                        ));
                    }
                }
                x.push_str(&format!(
                    "      <{tag} message=\"{}\">{}</{tag}>\n",
                    escape_xml(&format!("expected {}; came {}", c.expected, c.came)),
                    escape_xml(&detail)
                ));
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n</testsuites>\n");
        x
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let c = &self.counters;
        let mut s = format!(
            "liaison load: {} ({}), {} sent at {:.0}/s{}, {} completed, {} lost, {} late, {} duplicated, {} mismatched, {} fabricated\n  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}; generator CPU {:.2} µs/message\n",
            self.role,
            self.sut,
            c.sent,
            self.rate_per_s,
            self.target_rate_per_s
                .map(|t| format!(" (target {t:.0}/s)"))
                .unwrap_or_default(),
            c.completed,
            c.lost,
            c.late,
            c.duplicated,
            c.mismatched,
            c.fabricated,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.p999,
            self.latency_ms.max,
            self.cost.generator_cpu_us_per_message,
        );
        for c in self.checks.iter().filter(|c| !c.passed) {
            s.push_str(&format!(
                "  {}: {} — expected {}; came {}\n",
                if c.gating { "FAILED" } else { "not met" },
                c.name,
                c.expected,
                c.came
            ));
        }
        for f in self.findings.iter().take(3) {
            let first = f.bytes.lines().next().unwrap_or("");
            s.push_str(&format!(
                "  {} message {}: expected {}; came {} ({first})\n",
                f.kind, f.message, f.expected, f.came
            ));
        }
        s.push_str(&format!(
            "  verdict: {}\n",
            if self.interrupted {
                "interrupted"
            } else if self.passed {
                "passed"
            } else {
                "failed"
            }
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ledger::{Expect, Ledger};

    fn sent(n: u64, timing: StepTiming) -> LoadResult {
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        for i in 0..n {
            l.sent(i * 1000, Expect::Any);
        }
        let mut r = LoadResult::from_summary(&l.finish(), "test");
        r.timing(timing);
        r.judge(&Gates::default());
        r
    }

    fn rate_check(r: &LoadResult) -> &Check {
        r.checks
            .iter()
            .find(|c| c.name == "the target rate was reached")
            .unwrap()
    }

    #[test]
    fn a_step_that_stopped_sending_early_did_not_reach_its_rate() {
        let t = |planned, last_send_us| StepTiming {
            rate: 1000.0,
            planned,
            last_send_us,
            last_outcome_us: 0,
            end_us: 2_000_000,
            cpu: std::time::Duration::ZERO,
        };
        // 300 of 300 at 1 000/s: reached.
        let r = sent(300, t(300, 299_000));
        assert!((r.rate_per_s - 1000.0).abs() < 1.0, "{}", r.rate_per_s);
        assert!(rate_check(&r).passed);
        // 1 of 300 (the connection ended at once): 3/s over the plan's 0.3 s.
        let r = sent(1, t(300, 0));
        assert!(r.rate_per_s < 4.0, "{}", r.rate_per_s);
        assert!(!rate_check(&r).passed, "{:?}", rate_check(&r));
    }
}
