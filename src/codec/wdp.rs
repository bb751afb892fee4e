//! WDP datagrams over the SMS bearer, sans-IO: the short messages a PPG hands
//! an SMSC, put back together into the datagram they carry.
//!
//! WAP-259 (WDP) §6.5 adapts WDP to SMS with the TS 23.040 user data header:
//! information element 0x05 carries 16-bit destination and originator ports
//! (2948 ← 9200 for connectionless WSP push), and a datagram longer than one
//! short message is split with the concatenation element (0x00 or 0x08), the
//! port element repeated in every segment. The [`Reassembler`] takes segments
//! in any order, keyed by recipient, reference and total, and gives back each
//! datagram when its last segment arrives; anything inconsistent is a
//! [`WdpError`] that says what the sender did wrong.

use std::collections::BTreeMap;
use std::fmt;

use super::smpp::{udh_concat, udh_parse, udh_port16};

/// A whole WDP datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The recipient address of the short messages (SMPP destination_addr).
    pub destination: String,
    pub dest_port: u16,
    pub orig_port: u16,
    pub data: Vec<u8>,
    /// How many short messages carried it.
    pub segments: u8,
}

/// What was wrong with a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WdpError {
    /// The short message has no user data header (esm_class without UDHI).
    NoUdh,
    /// The user data header does not parse.
    BadUdh(String),
    /// No port addressing element: not a WDP datagram.
    NoPorts,
    /// Concatenation element with total 0, sequence 0 or sequence > total.
    BadConcat { reference: u16, total: u8, seq: u8 },
    /// The same segment arrived twice with different bytes.
    ConflictingSegment { reference: u16, seq: u8 },
    /// Segments of one datagram disagree on the ports.
    PortsDiffer {
        reference: u16,
        first: (u16, u16),
        now: (u16, u16),
    },
}

impl fmt::Display for WdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WdpError::NoUdh => write!(f, "short message without a user data header (UDHI not set)"),
            WdpError::BadUdh(e) => write!(f, "user data header: {e}"),
            WdpError::NoPorts => write!(f, "user data header without port addressing (IE 0x05/0x04)"),
            WdpError::BadConcat {
                reference,
                total,
                seq,
            } => write!(
                f,
                "concatenation element reference {reference}: segment {seq} of {total} is impossible"
            ),
            WdpError::ConflictingSegment { reference, seq } => write!(
                f,
                "concatenation reference {reference}: segment {seq} arrived twice with different bytes"
            ),
            WdpError::PortsDiffer {
                reference,
                first,
                now,
            } => write!(
                f,
                "concatenation reference {reference}: ports {}←{} then {}←{}",
                first.0, first.1, now.0, now.1
            ),
        }
    }
}

impl std::error::Error for WdpError {}

type Key = (String, u16, u8);

struct Partial {
    ports: (u16, u16),
    parts: Vec<Option<Vec<u8>>>,
}

/// Puts segmented datagrams back together.
#[derive(Default)]
pub struct Reassembler {
    partial: BTreeMap<Key, Partial>,
}

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Takes one short message (its `short_message` bytes; `udhi` from
    /// esm_class bit 0x40) sent to `destination`. `Ok(Some(_))` when it
    /// completes a datagram.
    pub fn push(
        &mut self,
        destination: &str,
        short_message: &[u8],
        udhi: bool,
    ) -> Result<Option<Datagram>, WdpError> {
        if !udhi {
            return Err(WdpError::NoUdh);
        }
        let (ies, data) = udh_parse(short_message).map_err(|e| WdpError::BadUdh(e.to_string()))?;
        let ports = udh_port16(&ies).ok_or(WdpError::NoPorts)?;
        let Some((reference, total, seq)) = udh_concat(&ies) else {
            return Ok(Some(Datagram {
                destination: destination.to_string(),
                dest_port: ports.0,
                orig_port: ports.1,
                data: data.to_vec(),
                segments: 1,
            }));
        };
        if total == 0 || seq == 0 || seq > total {
            return Err(WdpError::BadConcat {
                reference,
                total,
                seq,
            });
        }
        let key = (destination.to_string(), reference, total);
        let p = self.partial.entry(key.clone()).or_insert_with(|| Partial {
            ports,
            parts: vec![None; usize::from(total)],
        });
        if p.ports != ports {
            return Err(WdpError::PortsDiffer {
                reference,
                first: p.ports,
                now: ports,
            });
        }
        let slot = &mut p.parts[usize::from(seq - 1)];
        match slot {
            Some(old) if old.as_slice() != data => {
                return Err(WdpError::ConflictingSegment { reference, seq })
            }
            _ => *slot = Some(data.to_vec()),
        }
        if p.parts.iter().any(Option::is_none) {
            return Ok(None);
        }
        let Some(p) = self.partial.remove(&key) else {
            return Ok(None);
        };
        Ok(Some(Datagram {
            destination: destination.to_string(),
            dest_port: p.ports.0,
            orig_port: p.ports.1,
            data: p.parts.into_iter().flatten().flatten().collect(),
            segments: total,
        }))
    }

    /// Datagrams still waiting for segments: "reference R to DEST: have [1, 3] of 4".
    pub fn incomplete(&self) -> Vec<String> {
        self.partial
            .iter()
            .map(|((dest, r, total), p)| {
                let have: Vec<usize> = p
                    .parts
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_some())
                    .map(|(i, _)| i + 1)
                    .collect();
                format!("reference {r} to {dest}: have segments {have:?} of {total}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::smpp::udh_split;

    #[test]
    fn single_and_segmented_in_any_order() {
        let mut r = Reassembler::new();
        let one = udh_split(b"\x01\x06short", Some((2948, 9200)), 7).unwrap();
        assert_eq!(one.len(), 1);
        let d = r.push("+1555", &one[0], true).unwrap().unwrap();
        assert_eq!((d.dest_port, d.orig_port, d.segments), (2948, 9200, 1));
        assert_eq!(d.data, b"\x01\x06short");

        let big: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
        let segs = udh_split(&big, Some((2948, 9200)), 9).unwrap();
        assert_eq!(segs.len(), 4);
        assert_eq!(r.push("+1555", &segs[2], true), Ok(None));
        assert_eq!(r.push("+1555", &segs[0], true), Ok(None));
        assert_eq!(
            r.push("+1555", &segs[0], true),
            Ok(None),
            "identical repeat is harmless"
        );
        assert_eq!(r.push("+1555", &segs[3], true), Ok(None));
        assert_eq!(
            r.incomplete(),
            vec!["reference 9 to +1555: have segments [1, 3, 4] of 4".to_string()]
        );
        let d = r.push("+1555", &segs[1], true).unwrap().unwrap();
        assert_eq!(d.data, big);
        assert_eq!(d.segments, 4);
        assert!(r.incomplete().is_empty());
    }

    #[test]
    fn sender_errors_are_named() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.push("a", b"\x06\x05\x04\x0b\x84\x23\xf0x", false),
            Err(WdpError::NoUdh)
        );
        assert!(matches!(
            r.push("a", b"\x09\x05", true),
            Err(WdpError::BadUdh(_))
        ));
        assert_eq!(r.push("a", b"\x00abc", true), Err(WdpError::NoPorts));
        let bad = b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x01\x02\x03x";
        assert_eq!(
            r.push("a", bad, true).unwrap_err().to_string(),
            "concatenation element reference 1: segment 3 of 2 is impossible"
        );
        let s1 = b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x01\x02\x01x";
        let s1b = b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x01\x02\x01y";
        let s2 = b"\x0b\x05\x04\x0b\x85\x23\xf0\x00\x03\x01\x02\x02z";
        assert_eq!(r.push("a", s1, true), Ok(None));
        assert!(matches!(
            r.push("a", s1b, true),
            Err(WdpError::ConflictingSegment { .. })
        ));
        assert!(matches!(
            r.push("a", s2, true),
            Err(WdpError::PortsDiffer { .. })
        ));
    }

    #[test]
    fn no_panic_on_any_input() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let mut r = Reassembler::new();
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8 % 12).collect();
            let _ = r.push("d", &bytes, x & 1 == 0);
        }
    }
}
