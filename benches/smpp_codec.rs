//! SMPP codec throughput (criterion): `cargo bench --bench smpp_codec` in
//! benches/. A submit_sm with a 160-octet short_message encoded, parsed,
//! both, and a 2 MB stream of them framed: PDUs/s (elements/s) and the
//! time per PDU.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liaison::codec::smpp::{next_frame, registered, submit_sm, Body, Pdu, Sm, Tlv};
use std::hint::black_box;

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

fn smpp(c: &mut Criterion) {
    let sm = typical_sm();
    let one = submit_sm(1, &sm);
    let mut g = c.benchmark_group(format!("smpp submit_sm {} bytes", one.len()));
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u32;
    g.bench_function("encode + parse", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let bytes = submit_sm(black_box(seq), black_box(&sm));
            let pdu = Pdu::parse(black_box(&bytes)).expect("parses");
            match &pdu.body {
                Body::SubmitSm(s) => s.short_message.len(),
                other => panic!("not a submit_sm: {other:?}"),
            }
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            submit_sm(black_box(seq), black_box(&sm))
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| Pdu::parse(black_box(&one)).expect("parses"))
    });

    // About 2 MB of back-to-back PDUs.
    let n = 10_000u32;
    let stream: Vec<u8> = (0..n).flat_map(|seq| submit_sm(seq, &sm)).collect();
    g.throughput(Throughput::Elements(u64::from(n)));
    g.bench_function(
        format!("next_frame over {} KiB stream", stream.len() / 1024),
        |b| {
            b.iter(|| {
                let mut offset = 0;
                let mut frames = 0u32;
                while let Ok(Some(k)) = next_frame(black_box(&stream[offset..]), 1 << 16) {
                    offset += k;
                    frames += 1;
                }
                assert_eq!(frames, n, "framed every PDU");
                frames
            })
        },
    );
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = smpp }
criterion_main!(benches);
