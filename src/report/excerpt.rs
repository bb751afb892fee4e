//! What a report shows of a scenario is an excerpt with a cap; the whole
//! traffic stays in the scenario's pcap, which every report names. One set
//! of caps, the same for failed and passed scenarios, for report.json,
//! junit.xml, report.html and `liaison report` (which renders again from
//! report.json with the same caps). Each cut is said where it happens
//! (`… (N bytes cut)` in a text, a note under a ladder) and in report.json
//! (`scenarios[].truncated`).

use std::borrow::Cow;

/// A failure message (what was expected, what came, the bytes it quotes) in
/// report.json, junit.xml and report.html, marker included.
pub const FAILURE_BYTES: usize = 16 * 1024;
/// A step's text (and the failing step's) in every report, marker included.
pub const STEP_BYTES: usize = 1024;
/// TLS connections report.html lists per scenario (report.json has every one).
pub const TLS_SHOWN: usize = 8;
/// Messages drawn in a scenario's ladder and shown below it: the pcap is
/// read up to the frame that completes the last of them, and no further.
pub const LADDER_MESSAGES: usize = 300;
/// While a pcap is read back for a ladder, the bytes it holds at once
/// (TCP bytes not yet framed, plus the messages kept): past it the reading
/// stops, whatever the pcap's size.
pub const LADDER_READ_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of one message kept from the pcap and shown in report.html.
pub const MESSAGE_BYTES: usize = 64 * 1024;
/// Message text (as rendered into the page) one scenario shows in full; past
/// it each further message shows its first [`MESSAGE_BYTES_PAST_BUDGET`]
/// bytes. The same for failed and passed scenarios.
pub const SCENARIO_TEXT: usize = 1024 * 1024;
/// Message text the whole page shows in full for scenarios that did not
/// fail (keeps a report of thousands of scenarios small) …
pub const PAGE_TEXT_PASSED: usize = 2 * 1024 * 1024;
/// … and for failed scenarios together.
pub const PAGE_TEXT_FAILED: usize = 16 * 1024 * 1024;
/// Bytes of a message shown once a budget above is spent.
pub const MESSAGE_BYTES_PAST_BUDGET: usize = 256;
/// Lines of a launched SUT's stderr a report keeps (the last ones; as many
/// as `sut::TAIL_LINES` gives), each capped at [`STEP_BYTES`].
pub const STDERR_LINES: usize = 20;
/// Problems of a capture's reading listed (bad frames, say); the rest counted.
pub const LADDER_PROBLEMS: usize = 20;

/// The last [`STDERR_LINES`] lines of a launched SUT's stderr, each capped
/// at [`STEP_BYTES`], joined by newlines.
pub fn stderr_tail(lines: &[String]) -> String {
    let skip = lines.len().saturating_sub(STDERR_LINES);
    lines[skip..]
        .iter()
        .map(|l| cap(l, STEP_BYTES))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `s` cut to at most `max` bytes, marker included: the start, then
/// `… (N bytes cut)` saying how many bytes of `s` are not there. A text
/// already within `max` comes back as it is, so capping twice changes
/// nothing. The cut falls on a character boundary and before a `\`
/// escape (`\xHH`, `\r`) it would split.
pub fn cap(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    // The marker's length depends on N; N is at most s.len().
    let room = max.saturating_sub(marker(s.len()).len());
    let mut at = room.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    let lo = at.saturating_sub(3);
    if let Some(b) = s.as_bytes()[lo..at].iter().rposition(|&c| c == b'\\') {
        at = lo + b;
    }
    let mut out = String::with_capacity(max);
    out.push_str(&s[..at]);
    out.push_str(&marker(s.len() - at));
    Cow::Owned(out)
}

fn marker(n: usize) -> String {
    format!("… ({n} bytes cut)")
}

/// How many bytes [`cap`] cut from `s`, if it ends with its marker.
pub fn cut_of(s: &str) -> Option<usize> {
    let rest = s.strip_suffix(" bytes cut)")?;
    let at = rest.rfind("… (")?;
    rest[at + "… (".len()..].parse().ok()
}

/// `s` without [`cap`]'s marker, and the count the marker gave.
pub fn split_cut(s: &str) -> (&str, Option<usize>) {
    match cut_of(s) {
        Some(n) => {
            let at = s.rfind("… (").unwrap_or(s.len());
            (&s[..at], Some(n))
        }
        None => (s, None),
    }
}

/// Bytes as a person reads a size: `812 bytes`, `1.9 MB`, `52 MB`.
pub fn size(n: u64) -> String {
    if n < 1_000 {
        format!("{n} bytes")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 10_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{} MB", n / 1_000_000)
    }
}

/// `181402` as `181,402`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_short_text_and_says_what_it_cut() {
        assert_eq!(cap("abc", 10), "abc");
        let long = "x".repeat(10_000);
        let c = cap(&long, 100);
        assert!(c.len() <= 100, "{}", c.len());
        let n = cut_of(&c).unwrap();
        assert_eq!(c.len() - marker(n).len() + n, 10_000);
        assert!(c.ends_with(" bytes cut)"));
        // Twice is once.
        assert_eq!(cap(&c, 100), c);
        assert_eq!(split_cut(&c).0, &long[..c.len() - marker(n).len()]);
        assert_eq!(split_cut("plain"), ("plain", None));
    }

    #[test]
    fn cap_cuts_on_a_char_and_before_an_escape() {
        let s = "é".repeat(100);
        let c = cap(&s, 51);
        assert!(c.len() <= 51);
        let (kept, n) = split_cut(&c);
        assert_eq!(kept.len() + n.unwrap(), s.len());
        let s = format!("{}\\x0D\\x0A{}", "a".repeat(40), "b".repeat(100));
        for max in 40..70 {
            let c = cap(&s, max);
            let (kept, _) = split_cut(&c);
            // Never a lone `\`, `\x` or `\xH` at the end.
            let tail = &kept[kept.len().saturating_sub(3)..];
            assert!(!tail.contains('\\'), "{max}: {kept}");
        }
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(size(812), "812 bytes");
        assert_eq!(size(1_900_000), "1.9 MB");
        assert_eq!(size(52_428_800), "52 MB");
        assert_eq!(count(181_402), "181,402");
        assert_eq!(count(2_000), "2,000");
        assert_eq!(count(12), "12");
    }
}
