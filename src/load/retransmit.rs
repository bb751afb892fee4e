//! Timer E of a non-INVITE client transaction over UDP (RFC 3261
//! §17.1.2.2): a copy at T1, then at doubling intervals up to T2, until
//! Timer F. Sans-IO: one queue per interval, each in due order, so arming
//! and taking what is due cost the same at any rate.

use std::collections::VecDeque;
use std::time::Duration;

/// RFC 3261 T2.
pub const T2: Duration = Duration::from_secs(4);

/// Timer E's levels: level i waits min(T1·2^i, T2); the last repeats.
pub struct Retransmits {
    levels: Vec<(Duration, VecDeque<(u64, u64)>)>,
}

impl Retransmits {
    pub fn new(t1: Duration) -> Retransmits {
        let mut levels = Vec::new();
        let mut d = t1;
        loop {
            let d2 = d.min(T2);
            levels.push((d2, VecDeque::new()));
            if d2 >= T2 {
                break;
            }
            d *= 2;
        }
        Retransmits { levels }
    }

    pub fn arm(&mut self, level: usize, now_us: u64, id: u64) {
        let l = level.min(self.levels.len() - 1);
        let due = now_us + self.levels[l].0.as_micros() as u64;
        self.levels[l].1.push_back((due, id));
    }

    /// The copies due by `now_us`: (id, the level to arm next).
    pub fn due(&mut self, now_us: u64, out: &mut Vec<(u64, usize)>) {
        for (i, (_, q)) in self.levels.iter_mut().enumerate() {
            while let Some(&(due, id)) = q.front() {
                if due > now_us {
                    break;
                }
                q.pop_front();
                out.push((id, i + 1));
            }
        }
    }

    pub fn next_due(&self) -> Option<u64> {
        self.levels
            .iter()
            .filter_map(|(_, q)| q.front().map(|e| e.0))
            .min()
    }
}
