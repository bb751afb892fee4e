//! The ledger: every message of a load run, what its recipient did, and
//! what came back for it. Sans-IO: the drivers feed it events with the time
//! (µs since the run's start) and it keeps the integrity counters, the
//! latency histogram and the time series.
//!
//! Each message is counted once, in exactly one of:
//! - `completed`: a final outcome came within the deadline (Timer F or the
//!   profile's timeout) — whether right or wrong;
//! - `late`: the first final outcome came after the deadline;
//! - `lost`: none came at all;
//! - `pending`: the run was interrupted before its deadline.
//!
//! and the integrity violations are counted on top (a message can be
//! `completed` and `mismatched`):
//! - `mismatched`: an outcome that names another message (its identity in
//!   the response is not the transaction's), or one that is not what the
//!   recipient gave (486 given, 480 received), or a response naming a
//!   message that was never sent;
//! - `fabricated`: an acceptance (2xx, ESME_ROK, DELIVRD) for a message
//!   whose recipient did not accept it (it answered non-2xx, or never saw
//!   it, or stayed silent);
//! - `duplicated`: a second final outcome for one message (beyond one per
//!   copy sent, for answers to retransmissions; or a different one), or a
//!   second delivery of one message to its recipient.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// What the harness knows the right outcome of a message to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any final outcome is right (the SUT is the recipient).
    Any,
    /// Exactly this status code (the one the recipient gave).
    Exact(u16),
    /// An acceptance (2xx and the like).
    Accepted,
    /// Anything but an acceptance (the recipient refused or was silent).
    NotAccepted,
}

impl Expect {
    fn describe(self) -> String {
        match self {
            Expect::Any => "any final outcome".into(),
            Expect::Exact(c) => format!("{c} (what the recipient answered)"),
            Expect::Accepted => "an acceptance (the recipient accepted)".into(),
            Expect::NotAccepted => "no acceptance (the recipient did not accept)".into(),
        }
    }
}

/// An integrity violation a driver reports with [`Ledger::violated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Mismatched,
    Fabricated,
    Duplicated,
}

/// One final outcome the SUT gave for a message.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The message whose transaction this outcome ends (by the transaction's
    /// own key: Via branch, SMPP sequence number, receipted message id).
    pub id: u64,
    /// Its status code (a SIP code; drivers map other protocols onto one:
    /// 200 for ESME_ROK or DELIVRD, and so on).
    pub code: u16,
    /// Does the outcome say the message was accepted?
    pub accepts: bool,
    /// The message the outcome's content names (Call-ID, To tag, receipt
    /// text), when it names one.
    pub names: Option<u64>,
    /// The bytes it came in (kept for the first findings).
    pub bytes: &'a [u8],
}

/// Counters of a ledger (and of a whole load result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub late: u64,
    pub pending: u64,
    pub duplicated: u64,
    pub mismatched: u64,
    pub fabricated: u64,
    /// Request copies sent again (RFC 3261 Timer E, over UDP).
    pub retransmissions: u64,
    /// Outcomes for messages older than the ledger keeps (not judged).
    pub stale: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.sent += o.sent;
        self.completed += o.completed;
        self.lost += o.lost;
        self.late += o.late;
        self.pending += o.pending;
        self.duplicated += o.duplicated;
        self.mismatched += o.mismatched;
        self.fabricated += o.fabricated;
        self.retransmissions += o.retransmissions;
        self.stale += o.stale;
    }
}

/// One integrity violation, kept with its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `mismatched`, `fabricated`, `duplicated`, `lost`, …
    pub kind: String,
    /// The message it concerns.
    pub message: u64,
    pub expected: String,
    pub came: String,
    /// The offending bytes (lossy UTF-8, at most 2 KiB).
    pub bytes: String,
}

/// The first findings of each kind that are kept.
pub const FINDINGS_PER_KIND: usize = 10;
const FINDING_BYTES: usize = 2048;

/// One point of the time series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Start of the interval, ms since the run began.
    pub t_ms: u64,
    pub sent: u64,
    pub completed: u64,
    pub violations: u64,
    pub latency_mean_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

/// Latency on a coarse log scale (2^(i/4) µs), enough for a per-interval p99.
const COARSE: usize = 112;

#[derive(Clone)]
struct Bucket {
    sent: u64,
    completed: u64,
    violations: u64,
    sum_us: u64,
    max_us: u64,
    coarse: [u32; COARSE],
}

impl Default for Bucket {
    fn default() -> Bucket {
        Bucket {
            sent: 0,
            completed: 0,
            violations: 0,
            sum_us: 0,
            max_us: 0,
            coarse: [0; COARSE],
        }
    }
}

fn coarse_index(us: u64) -> usize {
    let x = (us.max(1) as f64).log2() * 4.0;
    (x as usize).min(COARSE - 1)
}

fn coarse_value(i: usize) -> f64 {
    2f64.powf((i as f64 + 1.0) / 4.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Done,
    Lost,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    sent_us: u64,
    expect: Expect,
    state: State,
    code: u16,
    copies: u8,
    finals: u8,
    delivered: u8,
}

/// The ledger of one agent: identities `first..first+count` in order sent.
pub struct Ledger {
    first: u64,
    /// Slots of messages `first + base ..`, oldest first.
    slots: std::collections::VecDeque<Slot>,
    base: u64,
    /// The next message's offset (all below were sent).
    next: u64,
    /// The oldest offset not yet past its deadline or final.
    cursor: u64,
    deadline_us: u64,
    counters: Counters,
    codes: BTreeMap<u16, u64>,
    hist: Histogram<u64>,
    bucket_us: u64,
    buckets: Vec<Bucket>,
    findings: Vec<Finding>,
    kept: BTreeMap<String, usize>,
}

impl Ledger {
    /// A ledger for identities from `first`, whose outcomes are due within
    /// `deadline_us`, with the time series in intervals of `bucket_us`.
    pub fn new(first: u64, deadline_us: u64, bucket_us: u64) -> Ledger {
        Ledger {
            first,
            slots: Default::default(),
            base: 0,
            next: 0,
            cursor: 0,
            deadline_us,
            counters: Counters::default(),
            codes: BTreeMap::new(),
            // 1 µs .. 1 hour, three significant figures.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
            bucket_us: bucket_us.max(1000),
            buckets: Vec::new(),
            findings: Vec::new(),
            kept: BTreeMap::new(),
        }
    }

    /// The identity the next message will have.
    pub fn next_id(&self) -> u64 {
        self.first + self.next
    }

    fn bucket(&mut self, now_us: u64) -> &mut Bucket {
        let i = (now_us / self.bucket_us) as usize;
        // A bound: one hundred thousand intervals (about 3 h at 100 ms).
        let i = i.min(100_000);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, Bucket::default());
        }
        &mut self.buckets[i]
    }

    /// A new message was sent; returns its identity.
    pub fn sent(&mut self, now_us: u64, expect: Expect) -> u64 {
        let id = self.next_id();
        self.slots.push_back(Slot {
            sent_us: now_us,
            expect,
            state: State::Pending,
            code: 0,
            copies: 1,
            finals: 0,
            delivered: 0,
        });
        self.next += 1;
        self.counters.sent += 1;
        self.bucket(now_us).sent += 1;
        id
    }

    /// When the message was sent (µs), if the ledger still holds it.
    pub fn sent_at(&self, id: u64) -> Option<u64> {
        self.slot(id).map(|s| s.sent_us)
    }

    /// Is the message still waiting for its outcome?
    pub fn is_pending(&self, id: u64) -> bool {
        self.slot(id).is_some_and(|s| s.state == State::Pending)
    }

    fn index(&self, id: u64) -> Option<usize> {
        let off = id.checked_sub(self.first)?;
        if off < self.base || off >= self.next {
            return None;
        }
        Some((off - self.base) as usize)
    }

    fn slot(&self, id: u64) -> Option<&Slot> {
        self.index(id).map(|i| &self.slots[i])
    }

    /// The harness learnt what the right outcome of a message without one
    /// yet is (e.g. its recipient never got it, so a refusal the SUT gives
    /// itself is right and an acceptance is fabricated): its outcome, in
    /// time or late, is judged by `expect` from now on.
    pub fn expect(&mut self, id: u64, expect: Expect) {
        if let Some(i) = self.index(id)
            && self.slots[i].state != State::Done
        {
            self.slots[i].expect = expect;
        }
    }

    /// A copy of the message was sent again.
    pub fn retransmitted(&mut self, id: u64) {
        if let Some(i) = self.index(id) {
            let s = &mut self.slots[i];
            s.copies = s.copies.saturating_add(1);
            self.counters.retransmissions += 1;
        }
    }

    fn find(&mut self, kind: &str, message: u64, expected: String, came: String, bytes: &[u8]) {
        let n = self.kept.entry(kind.to_string()).or_default();
        if *n >= FINDINGS_PER_KIND {
            return;
        }
        *n += 1;
        let cut = &bytes[..bytes.len().min(FINDING_BYTES)];
        self.findings.push(Finding {
            kind: kind.into(),
            message,
            expected,
            came,
            bytes: String::from_utf8_lossy(cut).into_owned(),
        });
    }

    fn violation(&mut self, now_us: u64) {
        self.bucket(now_us).violations += 1;
    }

    /// The recipient the harness plays received the message (a new
    /// transaction, not a retransmission): a second delivery is a duplicate.
    pub fn delivered(&mut self, now_us: u64, id: u64, bytes: &[u8]) {
        let Some(i) = self.index(id) else {
            return;
        };
        let s = &mut self.slots[i];
        s.delivered = s.delivered.saturating_add(1);
        let delivered = s.delivered;
        if delivered > 1 {
            self.counters.duplicated += 1;
            self.violation(now_us);
            self.find(
                "duplicated",
                id,
                "one delivery of the message to its recipient".into(),
                format!("delivery number {delivered} (a new transaction)"),
                bytes,
            );
        }
    }

    /// A violation the driver established itself (a delivered content that
    /// is not the message's byte for byte; a delivery of a message its
    /// recipient's side refused): counted and kept like the ledger's own.
    pub fn violated(
        &mut self,
        now_us: u64,
        kind: Violation,
        id: u64,
        expected: String,
        came: String,
        bytes: &[u8],
    ) {
        let name = match kind {
            Violation::Mismatched => {
                self.counters.mismatched += 1;
                "mismatched"
            }
            Violation::Fabricated => {
                self.counters.fabricated += 1;
                "fabricated"
            }
            Violation::Duplicated => {
                self.counters.duplicated += 1;
                "duplicated"
            }
        };
        self.violation(now_us);
        self.find(name, id, expected, came, bytes);
    }

    /// A response that names no message of this run (no identity of ours
    /// in its branch or Call-ID): an outcome for a message never sent.
    pub fn stray(&mut self, now_us: u64, code: u16, bytes: &[u8]) {
        self.counters.mismatched += 1;
        self.violation(now_us);
        self.find(
            "mismatched",
            0,
            "a response naming a message of this run (Via branch or Call-ID)".into(),
            format!("{code} naming none"),
            bytes,
        );
    }

    /// Bytes that read as no response at all.
    pub fn unreadable(&mut self, _now_us: u64, bytes: &[u8]) {
        self.find(
            "unreadable",
            0,
            "a SIP response".into(),
            "bytes that are not one".into(),
            bytes,
        );
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A final outcome came.
    pub fn outcome(&mut self, now_us: u64, o: Outcome<'_>) {
        let Some(i) = self.index(o.id) else {
            let off = o.id.wrapping_sub(self.first);
            if o.id >= self.first && off < self.base {
                self.counters.stale += 1;
            } else {
                self.counters.mismatched += 1;
                self.violation(now_us);
                self.find(
                    "mismatched",
                    o.id,
                    "an outcome for a message that was sent".into(),
                    format!("{} for message {}, never sent in this run", o.code, o.id),
                    o.bytes,
                );
            }
            return;
        };
        let slot = self.slots[i];
        // Its content names another message.
        if let Some(n) = o.names.filter(|n| *n != o.id) {
            if slot.state != State::Done {
                self.settle(now_us, i, o.code);
            }
            self.counters.mismatched += 1;
            self.violation(now_us);
            self.find(
                "mismatched",
                o.id,
                format!("an outcome naming message {}", o.id),
                format!("{} naming message {n}", o.code),
                o.bytes,
            );
            return;
        }
        match slot.state {
            State::Done => {
                let s = &mut self.slots[i];
                s.finals = s.finals.saturating_add(1);
                if o.code == s.code && s.finals <= s.copies {
                    return; // the answer to a retransmitted copy
                }
                let (first, copies, finals) = (s.code, s.copies, s.finals);
                self.counters.duplicated += 1;
                self.violation(now_us);
                self.find(
                    "duplicated",
                    o.id,
                    format!("one final outcome ({first}) per copy sent ({copies})"),
                    format!("final outcome number {finals}: {}", o.code),
                    o.bytes,
                );
                return;
            }
            State::Lost => {
                self.counters.lost -= 1;
                self.counters.late += 1;
                self.slots[i].state = State::Done;
                self.slots[i].code = o.code;
                self.slots[i].finals = 1;
                self.record_code(o.code);
            }
            State::Pending => {
                self.settle(now_us, i, o.code);
                self.counters.completed += 1;
                let b = self.bucket(now_us);
                b.completed += 1;
                let latency = now_us.saturating_sub(slot.sent_us);
                let _ = self.hist.record(latency.max(1));
                let b = self.bucket(now_us);
                b.sum_us += latency;
                b.max_us = b.max_us.max(latency);
                b.coarse[coarse_index(latency)] += 1;
            }
        }
        self.judge(now_us, slot.expect, o);
    }

    fn record_code(&mut self, code: u16) {
        *self.codes.entry(code).or_default() += 1;
    }

    fn settle(&mut self, _now_us: u64, i: usize, code: u16) {
        let s = &mut self.slots[i];
        s.state = State::Done;
        s.code = code;
        s.finals = 1;
        self.record_code(code);
    }

    fn judge(&mut self, now_us: u64, expect: Expect, o: Outcome<'_>) {
        let fabricated = o.accepts
            && match expect {
                Expect::NotAccepted => true,
                Expect::Exact(c) => !(200..300).contains(&c),
                _ => false,
            };
        let wrong = match expect {
            Expect::Any => false,
            Expect::Exact(c) => c != o.code,
            Expect::Accepted => !o.accepts,
            Expect::NotAccepted => o.accepts,
        };
        if fabricated {
            self.counters.fabricated += 1;
            self.violation(now_us);
            self.find(
                "fabricated",
                o.id,
                expect.describe(),
                format!("{} (an acceptance)", o.code),
                o.bytes,
            );
        } else if wrong {
            self.counters.mismatched += 1;
            self.violation(now_us);
            self.find(
                "mismatched",
                o.id,
                expect.describe(),
                format!("{}", o.code),
                o.bytes,
            );
        }
    }

    /// Marks as lost the messages past their deadline, and forgets the
    /// settled ones long past it (their later outcomes count as stale).
    pub fn expire(&mut self, now_us: u64) {
        while self.cursor < self.next {
            let i = (self.cursor - self.base) as usize;
            let s = self.slots[i];
            if s.state == State::Pending {
                if now_us.saturating_sub(s.sent_us) < self.deadline_us {
                    break;
                }
                self.slots[i].state = State::Lost;
                self.counters.lost += 1;
                let id = self.first + self.cursor;
                self.violation(now_us);
                self.find(
                    "lost",
                    id,
                    format!(
                        "a final outcome within {} ms",
                        self.deadline_us.div_ceil(1000)
                    ),
                    "nothing".into(),
                    b"",
                );
            }
            self.cursor += 1;
        }
        // Keep twice the deadline after sending, for late and duplicate outcomes.
        while self.base < self.cursor {
            let s = self.slots[0];
            if now_us.saturating_sub(s.sent_us) < 2 * self.deadline_us {
                break;
            }
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Messages still waiting for their outcome.
    pub fn outstanding(&self) -> u64 {
        self.slots
            .iter()
            .skip((self.cursor - self.base) as usize)
            .filter(|s| s.state == State::Pending)
            .count() as u64
    }

    /// The deadline of the newest pending message (µs), if any is pending.
    pub fn last_deadline(&self) -> Option<u64> {
        self.slots
            .iter()
            .rev()
            .find(|s| s.state == State::Pending)
            .map(|s| s.sent_us + self.deadline_us)
    }

    /// Ends the ledger (interrupted runs: what is still waiting is pending).
    pub fn finish(&mut self) -> Summary {
        let mut c = self.counters.clone();
        c.pending = self.outstanding();
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1000.0;
        let latency = if self.hist.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: q(0.50),
                p90: q(0.90),
                p99: q(0.99),
                p999: q(0.999),
                max: self.hist.max() as f64 / 1000.0,
                mean: self.hist.mean() / 1000.0,
            }
        };
        let width_ms = self.bucket_us / 1000;
        let series = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut p99 = 0.0;
                let total: u64 = b.coarse.iter().map(|&n| u64::from(n)).sum();
                if total > 0 {
                    let want = (total as f64 * 0.99).ceil() as u64;
                    let mut acc = 0;
                    for (j, &n) in b.coarse.iter().enumerate() {
                        acc += u64::from(n);
                        if acc >= want {
                            p99 = (coarse_value(j) / 1000.0).min(b.max_us as f64 / 1000.0);
                            break;
                        }
                    }
                }
                Point {
                    t_ms: i as u64 * width_ms,
                    sent: b.sent,
                    completed: b.completed,
                    violations: b.violations,
                    latency_mean_ms: if b.completed > 0 {
                        b.sum_us as f64 / b.completed as f64 / 1000.0
                    } else {
                        0.0
                    },
                    latency_p99_ms: p99,
                    latency_max_ms: b.max_us as f64 / 1000.0,
                }
            })
            .collect();
        Summary {
            counters: c,
            codes: self.codes.clone(),
            latency,
            histogram: self.hist.clone(),
            series,
            interval_ms: width_ms,
            findings: self.findings.clone(),
        }
    }
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// What a ledger holds at the end.
pub struct Summary {
    pub counters: Counters,
    pub codes: BTreeMap<u16, u64>,
    pub latency: Latency,
    pub histogram: Histogram<u64>,
    pub series: Vec<Point>,
    pub interval_ms: u64,
    pub findings: Vec<Finding>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: u64, code: u16) -> Outcome<'static> {
        Outcome {
            id,
            code,
            accepts: (200..300).contains(&code),
            names: Some(id),
            bytes: b"SIP/2.0 ...",
        }
    }

    #[test]
    fn each_message_is_counted_once() {
        let mut l = Ledger::new(1000, 10_000, 100_000);
        let a = l.sent(0, Expect::Exact(200));
        let b = l.sent(10, Expect::Exact(486));
        let c = l.sent(20, Expect::NotAccepted);
        assert_eq!((a, b, c), (1000, 1001, 1002));
        l.outcome(500, ok(a, 200));
        l.outcome(600, ok(b, 486));
        l.expire(9_000);
        assert_eq!(l.outstanding(), 1);
        l.expire(20_000);
        l.outcome(25_000, ok(c, 408)); // late, not fabricated
        let s = l.finish();
        let c = s.counters;
        assert_eq!((c.sent, c.completed, c.late, c.lost), (3, 2, 1, 0));
        assert_eq!((c.mismatched, c.fabricated, c.duplicated), (0, 0, 0));
        assert_eq!(s.codes[&200], 1);
        assert!(s.latency.max > 0.0);
    }

    #[test]
    fn violations_are_named_with_their_bytes() {
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        for _ in 0..5 {
            l.sent(0, Expect::Exact(486));
        }
        l.outcome(10, ok(0, 200)); // fabricated
        l.outcome(10, ok(1, 480)); // mismatched: another code
        l.outcome(
            10,
            Outcome {
                names: Some(3),
                ..ok(2, 486)
            },
        ); // names another message
        l.outcome(10, ok(4, 486));
        l.outcome(11, ok(4, 486)); // a second final without a second copy
        l.outcome(12, ok(99, 486)); // never sent
        let s = l.finish();
        let c = s.counters;
        assert_eq!(c.fabricated, 1);
        assert_eq!(c.mismatched, 3);
        assert_eq!(c.duplicated, 1);
        assert!(s.findings.iter().all(|f| f.bytes.starts_with("SIP/2.0")));
        assert!(s
            .findings
            .iter()
            .any(|f| f.came.contains("naming message 3")));
    }

    #[test]
    fn answers_to_retransmissions_are_not_duplicates() {
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        let id = l.sent(0, Expect::Any);
        l.retransmitted(id);
        l.outcome(10, ok(id, 200));
        l.outcome(11, ok(id, 200));
        assert_eq!(l.finish().counters.duplicated, 0);
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        let id = l.sent(0, Expect::Any);
        l.retransmitted(id);
        l.outcome(10, ok(id, 200));
        l.outcome(11, ok(id, 500)); // a different one is a duplicate
        assert_eq!(l.finish().counters.duplicated, 1);
    }

    #[test]
    fn an_amended_expectation_judges_the_outcome() {
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        let a = l.sent(0, Expect::Exact(486));
        let b = l.sent(0, Expect::Exact(486));
        l.expect(a, Expect::NotAccepted);
        l.expect(b, Expect::NotAccepted);
        l.outcome(10, ok(a, 503)); // the SUT's own refusal: right
        l.outcome(10, ok(b, 200)); // an acceptance nobody gave
        let late = l.sent(20, Expect::Exact(200));
        l.expire(2_000_000);
        l.expect(late, Expect::NotAccepted);
        l.outcome(2_000_001, ok(late, 503)); // late, but right
        let c = l.finish().counters;
        assert_eq!((c.mismatched, c.fabricated, c.late), (0, 1, 1));
    }

    #[test]
    fn a_second_delivery_is_a_duplicate() {
        let mut l = Ledger::new(0, 1_000_000, 100_000);
        let id = l.sent(0, Expect::Any);
        l.delivered(1, id, b"MESSAGE");
        l.delivered(2, id, b"MESSAGE");
        assert_eq!(l.finish().counters.duplicated, 1);
    }

    #[test]
    fn old_messages_are_forgotten_and_their_outcomes_are_stale() {
        let mut l = Ledger::new(0, 1000, 100_000);
        let id = l.sent(0, Expect::Any);
        l.outcome(10, ok(id, 200));
        l.expire(5000);
        l.outcome(5001, ok(id, 200));
        let c = l.finish().counters;
        assert_eq!((c.stale, c.duplicated, c.mismatched), (1, 0, 0));
    }
}
