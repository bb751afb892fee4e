//! SMPP codec throughput: `cargo bench --bench smpp_codec` (needs `harness = false`
//! for this bench in Cargo.toml; plain `fn main`, no criterion).
//!
//! Encodes and parses one million submit_sm PDUs carrying a 160-octet short_message,
//! then frames a stream of them, and prints the PDU rates. Well under 20 s.

// Built as a libtest harness (when Cargo.toml lacks `harness = false`), `main` is
// never called; keep that build warning-free.
#![cfg_attr(test, allow(dead_code))]

use liaison::codec::smpp::{next_frame, registered, submit_sm, Body, Pdu, Sm, Tlv};
use std::hint::black_box;
use std::time::Instant;

const N: u32 = 1_000_000;

/// An IM turned into an SMS, as the interworking function would submit it: 160
/// octets of text, a receipt requested, one TLV.
fn typical_sm() -> Sm {
    let text: Vec<u8> = b"Hello Alice, this instant message became a short message. "
        .iter()
        .copied()
        .cycle()
        .take(160)
        .collect();
    Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "447700900456".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "447700900123".into(),
        registered_delivery: registered::RECEIPT_ALWAYS,
        short_message: text,
        tlvs: vec![Tlv::new(0x0204, &[0x00, 0x2A])],
        ..Sm::default()
    }
}

fn report(name: &str, pdus: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<36} {pdus:>9} PDUs in {secs:>6.3} s  {:>10.0} PDUs/s  {:>7.0} ns/PDU",
        pdus as f64 / secs,
        secs * 1e9 / pdus as f64
    );
}

fn main() {
    let sm = typical_sm();
    let one = submit_sm(1, &sm);
    println!("submit_sm: {} bytes, short_message 160 octets", one.len());

    let started = Instant::now();
    let mut bytes_total = 0usize;
    for seq in 0..N {
        let bytes = submit_sm(black_box(seq), black_box(&sm));
        let pdu = Pdu::parse(black_box(&bytes)).expect("parses");
        match &pdu.body {
            Body::SubmitSm(s) => bytes_total += s.short_message.len(),
            other => panic!("not a submit_sm: {other:?}"),
        }
    }
    assert_eq!(bytes_total, 160 * N as usize);
    report("encode + parse submit_sm", u64::from(N), started);

    let started = Instant::now();
    for seq in 0..N {
        black_box(submit_sm(black_box(seq), black_box(&sm)));
    }
    report("encode submit_sm", u64::from(N), started);

    let started = Instant::now();
    for _ in 0..N {
        black_box(Pdu::parse(black_box(&one)).expect("parses"));
    }
    report("parse submit_sm", u64::from(N), started);

    // About 2 MB of back-to-back PDUs, framed 16 times.
    let stream: Vec<u8> = (0..10_000).flat_map(|seq| submit_sm(seq, &sm)).collect();
    let started = Instant::now();
    let mut frames = 0u64;
    for _ in 0..16 {
        let mut offset = 0;
        while let Ok(Some(n)) = next_frame(black_box(&stream[offset..]), 1 << 16) {
            offset += n;
            frames += 1;
        }
        assert_eq!(offset, stream.len(), "framed every PDU");
    }
    report(
        &format!("next_frame over {} KiB stream", stream.len() / 1024),
        frames,
        started,
    );
}
