//! WDP-over-SMS reassembly (src/codec/wdp): any sequence of short messages gives
//! datagrams or named errors, never a panic; and a datagram split by
//! `smpp::udh_split` comes back whole from its segments in any order.
//!
//! Input, first byte even: a sequence of short messages, each `len flags
//! bytes[len]` (flags bit 0: which of two recipients, bit 1: UDHI). First byte
//! odd: `dest_port(2) orig_port(2) reference order_seed data…` for the split and
//! reassembly round trip.

#![no_main]

use liaison::codec::smpp::udh_split;
use liaison::codec::wdp::Reassembler;
use libfuzzer_sys::fuzz_target;

fn free_form(mut rest: &[u8]) {
    let mut r = Reassembler::new();
    while let [len, flags, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (sm, next) = tail.split_at(n);
        rest = next;
        let destination = if flags & 1 == 0 {
            "+15550001"
        } else {
            "+15550002"
        };
        match r.push(destination, sm, flags & 2 != 0) {
            Ok(Some(d)) => {
                assert!(d.segments >= 1);
                assert_eq!(d.destination, destination);
                // A datagram is never longer than the segments that carried it.
                assert!(d.data.len() <= usize::from(d.segments) * 255);
            }
            Ok(None) => {}
            Err(e) => assert!(!e.to_string().contains('\n')),
        }
    }
    for line in r.incomplete() {
        assert!(!line.contains('\n'));
    }
}

fn round_trip(rest: &[u8]) {
    let [d0, d1, o0, o1, reference, seed, data @ ..] = rest else {
        return;
    };
    let ports = (
        u16::from_be_bytes([*d0, *d1]),
        u16::from_be_bytes([*o0, *o1]),
    );
    let Ok(mut segments) = udh_split(data, Some(ports), *reference) else {
        return;
    };
    // A permutation driven by the seed octet.
    let n = segments.len();
    let mut x = u32::from(*seed) | 1;
    for i in (1..n).rev() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        segments.swap(i, (x as usize >> 8) % (i + 1));
    }
    let mut r = Reassembler::new();
    let mut got = None;
    for (i, sm) in segments.iter().enumerate() {
        match r.push("+15550001", sm, true) {
            Ok(Some(d)) => {
                assert_eq!(i, n - 1, "datagram complete before its last segment");
                got = Some(d);
            }
            Ok(None) => assert!(i < n - 1, "last segment did not complete the datagram"),
            Err(e) => panic!("segment {i} of a well-formed split refused: {e}"),
        }
    }
    let d = got.expect("datagram reassembled");
    assert_eq!(d.data, data);
    assert_eq!((d.dest_port, d.orig_port), ports);
    assert_eq!(usize::from(d.segments), n);
    assert!(r.incomplete().is_empty());
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode & 1 == 0 => free_form(rest),
        Some((_, rest)) => round_trip(rest),
        None => {}
    }
});
