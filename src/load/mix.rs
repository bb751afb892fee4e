//! `--mix 200:90,486:5,silent:5`: how the recipients the harness plays
//! answer, as shares of the messages. Each message's answer is a pure
//! function of its identity, so every agent, every recipient and the
//! ledger agree on it without talking to each other (sans-IO).

use std::fmt;

/// What a recipient does with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    /// A final response with this status code (200–699).
    Code(u16),
    /// No response at all: the sender's transaction must time out.
    Silent,
}

impl Answer {
    /// Did the recipient accept the message (a 2xx)?
    pub fn accepted(self) -> bool {
        matches!(self, Answer::Code(c) if (200..300).contains(&c))
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Code(c) => write!(f, "{c}"),
            Answer::Silent => f.write_str("silent"),
        }
    }
}

/// Shares of the answers, in parts per 10 000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// (answer, cumulative upper bound in 0..10_000), in the order given.
    parts: Vec<(Answer, u32)>,
}

/// The buckets a message's identity is spread over.
const SCALE: u32 = 10_000;

impl Default for Mix {
    /// Every recipient accepts.
    fn default() -> Mix {
        Mix {
            parts: vec![(Answer::Code(200), SCALE)],
        }
    }
}

impl Mix {
    /// Parses `200:90,486:5,silent:5`. Weights are relative (they need not
    /// add up to 100); a code must be a final one (200–699).
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut raw = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (what, weight) = item
                .split_once(':')
                .ok_or_else(|| format!("--mix: `{item}` is not ANSWER:WEIGHT"))?;
            let answer = match what.trim() {
                "silent" => Answer::Silent,
                code => match code.parse::<u16>() {
                    Ok(c) if (200..700).contains(&c) => Answer::Code(c),
                    _ => {
                        return Err(format!(
                            "--mix: `{code}` is neither a final status code (200–699) nor `silent`"
                        ))
                    }
                },
            };
            let weight: f64 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| {
                    format!("--mix: weight `{weight}` of `{what}` is not a number ≥ 0")
                })?;
            if raw.iter().any(|(a, _)| *a == answer) {
                return Err(format!("--mix: `{what}` is given twice"));
            }
            raw.push((answer, weight));
        }
        let total: f64 = raw.iter().map(|(_, w)| w).sum();
        if raw.is_empty() || total <= 0.0 {
            return Err("--mix: no answer has a weight above 0".into());
        }
        let mut parts = Vec::new();
        let mut acc = 0.0;
        for (a, w) in raw {
            acc += w;
            let bound = ((acc / total) * f64::from(SCALE)).round() as u32;
            parts.push((a, bound.min(SCALE)));
        }
        if let Some(last) = parts.last_mut() {
            last.1 = SCALE;
        }
        Ok(Mix { parts })
    }

    /// The answer for the message with this identity.
    pub fn answer(&self, id: u64) -> Answer {
        let bucket = (spread(id) % u64::from(SCALE)) as u32;
        self.parts
            .iter()
            .find(|(_, bound)| bucket < *bound)
            .map(|(a, _)| *a)
            .unwrap_or(Answer::Code(200))
    }

    /// The answers of the mix, with their shares in percent.
    pub fn shares(&self) -> Vec<(Answer, f64)> {
        let mut prev = 0;
        self.parts
            .iter()
            .map(|&(a, bound)| {
                let share = f64::from(bound - prev) / f64::from(SCALE) * 100.0;
                prev = bound;
                (a, share)
            })
            .collect()
    }

    /// Does any answer leave the sender without a response?
    pub fn has_silent(&self) -> bool {
        self.parts.iter().any(|(a, _)| *a == Answer::Silent)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .shares()
            .iter()
            .map(|(a, s)| format!("{a}:{}", (s * 100.0).round() / 100.0))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// SplitMix64's finaliser: consecutive identities land in unrelated buckets.
fn spread(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_come_out_as_asked() {
        let mix = Mix::parse("200:90,486:5,silent:5").unwrap();
        let mut counts = std::collections::HashMap::new();
        for id in 0..100_000u64 {
            *counts.entry(mix.answer(id)).or_insert(0u32) += 1;
        }
        let share = |a| f64::from(counts[&a]) / 1000.0;
        assert!((share(Answer::Code(200)) - 90.0).abs() < 0.5);
        assert!((share(Answer::Code(486)) - 5.0).abs() < 0.5);
        assert!((share(Answer::Silent) - 5.0).abs() < 0.5);
        assert_eq!(mix.to_string(), "200:90,486:5,silent:5");
        assert!(mix.has_silent());
    }

    #[test]
    fn bad_mixes_are_refused_with_the_reason() {
        for (text, want) in [
            ("", "no answer"),
            ("200", "ANSWER:WEIGHT"),
            ("180:5", "final status code"),
            ("200:x", "not a number"),
            ("200:1,200:2", "twice"),
            ("200:0", "no answer"),
        ] {
            let e = Mix::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn the_default_accepts_everything() {
        let mix = Mix::default();
        assert!((0..1000).all(|id| mix.answer(id) == Answer::Code(200)));
    }
}
