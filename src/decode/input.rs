//! What an input is: a capture (by its magic number), a hex dump, or raw
//! bytes.
//!
//! Hex is accepted in two forms. Plain hex: hex digits with any whitespace
//! and colons between them, `#` starting a comment to the end of the line
//! (the form of the suite's own vectors under `fixtures/messages/`). A dump
//! with offsets, as `xxd` (`00000010: 8c82 9841  ..A`) and `tshark -x` /
//! Wireshark (`0010  8c 82 98 41   ..A`) write it: each line an offset, the
//! octets, an ASCII column; it is taken for a dump only when every line's
//! offset is the count of octets before it, so an ASCII column is never
//! read as octets.

use super::{guess, InputError};

/// The kinds of capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureKind {
    Pcap,
    PcapNg,
}

impl CaptureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureKind::Pcap => "pcap",
            CaptureKind::PcapNg => "pcapng",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Capture(CaptureKind),
    /// The octets a hex text spelled.
    Hex(Vec<u8>),
    Raw,
}

/// Which kind of input `bytes` is; an error for no bytes and for text that
/// is hex with a fault (an odd digit, a stray character).
pub fn detect(bytes: &[u8]) -> Result<Input, InputError> {
    if bytes.is_empty() {
        return Err(InputError(
            "expected a PDU, a hex dump or a capture, came no bytes".into(),
        ));
    }
    if let Some(m) = bytes.get(..4) {
        match m {
            [0xA1, 0xB2, 0xC3, 0xD4]
            | [0xD4, 0xC3, 0xB2, 0xA1]
            | [0xA1, 0xB2, 0x3C, 0x4D]
            | [0x4D, 0x3C, 0xB2, 0xA1] => return Ok(Input::Capture(CaptureKind::Pcap)),
            [0x0A, 0x0D, 0x0D, 0x0A] => return Ok(Input::Capture(CaptureKind::PcapNg)),
            _ => {}
        }
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(Input::Raw);
    };
    if let Some(data) = dump(text) {
        return Ok(Input::Hex(data));
    }
    match plain_hex(text) {
        PlainHex::Octets(data) => {
            // "250 " is an SMTP reply before it is the octet 0x25 and a half.
            if guess(bytes).is_some_and(|(p, _)| p == super::Proto::Smtp) {
                return Ok(Input::Raw);
            }
            Ok(Input::Hex(data))
        }
        PlainHex::Odd { digits, line, col } => {
            if guess(bytes).is_some() {
                return Ok(Input::Raw);
            }
            Err(InputError(format!(
                "hex input: expected an even number of hex digits, came {digits}: the last, at line {line} column {col}, has no pair"
            )))
        }
        PlainHex::Not { line, col, c } => {
            // Hex with a stray character: the first token a pair of digits,
            // and not the start of a PDU.
            let first = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .find(|l| !l.is_empty())
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_default();
            let hexy = first.len() == 2 && first.bytes().all(|b| b.is_ascii_hexdigit());
            if hexy && guess(bytes).is_none() {
                return Err(InputError(format!(
                    "hex input: expected hex digits, whitespace or `#` comments, came {c:?} at line {line} column {col}"
                )));
            }
            Ok(Input::Raw)
        }
    }
}

enum PlainHex {
    Octets(Vec<u8>),
    Odd {
        digits: usize,
        line: usize,
        col: usize,
    },
    Not {
        line: usize,
        col: usize,
        c: char,
    },
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

fn plain_hex(text: &str) -> PlainHex {
    let mut out = Vec::new();
    let mut half: Option<u8> = None;
    let mut digits = 0;
    let mut last = (0, 0);
    for (ln, line) in text.lines().enumerate() {
        let data = line.split('#').next().unwrap_or_default();
        for (col, c) in data.char_indices() {
            if c.is_ascii_hexdigit() {
                digits += 1;
                last = (ln + 1, col + 1);
                let n = nibble(c as u8);
                match half.take() {
                    Some(h) => out.push(h << 4 | n),
                    None => half = Some(n),
                }
            } else if !(c.is_whitespace() || c == ':') {
                return PlainHex::Not {
                    line: ln + 1,
                    col: col + 1,
                    c,
                };
            }
        }
    }
    if digits == 0 {
        return PlainHex::Not {
            line: 1,
            col: 1,
            c: text.chars().next().unwrap_or(' '),
        };
    }
    if half.is_some() {
        return PlainHex::Odd {
            digits,
            line: last.0,
            col: last.1,
        };
    }
    PlainHex::Octets(out)
}

/// An `xxd` or `tshark -x` dump's octets, when every line is one.
fn dump(text: &str) -> Option<Vec<u8>> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let line = line.trim_start();
        let tok_end = line.find(|c: char| c.is_whitespace())?;
        let tok = &line[..tok_end];
        let (digits, colon) = match tok.strip_suffix(':') {
            Some(d) => (d, true),
            None => (tok, false),
        };
        if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // tshark puts two or more spaces after the offset, xxd a colon.
        if !colon && !line[tok_end..].starts_with("  ") {
            return None;
        }
        let offset = usize::from_str_radix(digits, 16).ok()?;
        lines.push((offset, line[tok_end..].trim_start()));
    }
    if lines.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, &(offset, rest)) in lines.iter().enumerate() {
        if offset != out.len() {
            return None;
        }
        match lines.get(i + 1) {
            // The next offset says how many octets this line holds.
            Some(&(next, _)) => {
                let want = next.checked_sub(offset).filter(|&w| w > 0 && w <= 64)?;
                let start = out.len();
                for tok in rest.split_whitespace() {
                    if out.len() - start == want {
                        break;
                    }
                    octets(tok, &mut out)?;
                }
                if out.len() - start != want {
                    return None;
                }
            }
            // The last line: its octets end where the ASCII column's gap
            // (two spaces) starts.
            None => {
                let region = rest.split("  ").next().unwrap_or_default();
                for tok in region.split_whitespace() {
                    octets(tok, &mut out)?;
                }
            }
        }
    }
    Some(out)
}

/// Appends one hex group (`8c`, `8c82`, `8c829841`).
fn octets(tok: &str, out: &mut Vec<u8>) -> Option<()> {
    let b = tok.as_bytes();
    if b.is_empty()
        || !b.len().is_multiple_of(2)
        || b.len() > 8
        || !b.iter().all(u8::is_ascii_hexdigit)
    {
        return None;
    }
    for p in b.chunks(2) {
        out.push(nibble(p[0]) << 4 | nibble(p[1]));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_name_captures() {
        assert_eq!(
            detect(&[0xD4, 0xC3, 0xB2, 0xA1, 2, 0]).unwrap(),
            Input::Capture(CaptureKind::Pcap)
        );
        assert_eq!(
            detect(&[0x0A, 0x0D, 0x0D, 0x0A]).unwrap(),
            Input::Capture(CaptureKind::PcapNg)
        );
        assert!(detect(b"").is_err());
    }

    #[test]
    fn plain_hex_with_comments_and_colons() {
        let t = "# title\n00 00 00 10  # length\n00:00:00:15\n0000000000000001\n";
        assert_eq!(
            detect(t.as_bytes()).unwrap(),
            Input::Hex(vec![0, 0, 0, 0x10, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        let e = detect(b"8c 82 9\n").unwrap_err();
        assert!(
            e.0.contains("came 5") && e.0.contains("line 1 column 7"),
            "{e}"
        );
        let e = detect(b"8c 82 zz\n").unwrap_err();
        assert!(e.0.contains("'z' at line 1 column 7"), "{e}");
    }

    #[test]
    fn dumps_of_xxd_and_tshark() {
        let xxd = "00000000: 8c82 9841 6263 6465 6667 6869 008d 9289  ...Abcdefghi....\n\
                   00000010: 1880 2b34                                ..+4\n";
        let Input::Hex(d) = detect(xxd.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(d.len(), 20);
        assert_eq!(&d[16..], &[0x18, 0x80, 0x2b, 0x34]);
        // An ASCII column that looks like hex is not read as octets.
        let ts = "0000  de ad be ef 00 11 22 33 44 55 66 77 88 99 aa bb   cafe............\n\
                  0010  cc dd                                             ..\n";
        let Input::Hex(d) = detect(ts.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(d.len(), 18);
        assert_eq!(d[0], 0xde);
        assert_eq!(&d[16..], &[0xcc, 0xdd]);
    }

    #[test]
    fn text_pdus_are_raw() {
        assert_eq!(detect(b"250 OK\r\n").unwrap(), Input::Raw);
        assert_eq!(detect(b"MSRP a SEND\r\n").unwrap(), Input::Raw);
        assert_eq!(detect(&[0x00, 0x06, 0xff]).unwrap(), Input::Raw);
    }
}
