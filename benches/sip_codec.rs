//! SIP codec throughput (criterion): `cargo bench --bench sip_codec` in
//! benches/. Time per operation and the message rate (elements/s = msgs/s)
//! for parsing, parsing with the rsip typed view, building a MESSAGE, and
//! framing a 1 MiB stream of back-to-back messages with keep-alives.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liaison::codec::sip::{next_frame, request, Frame, SipMessage};
use std::hint::black_box;

/// A MESSAGE as an IMS client would send it through a P-CSCF, about 500 bytes.
fn typical_message() -> Vec<u8> {
    request("MESSAGE", "sip:bob@ims.example.net")
        .header(
            "Via",
            "SIP/2.0/UDP pcscf.ims.example.net:5060;branch=z9hG4bK1d0a8f2c3b4e5",
        )
        .header(
            "Via",
            "SIP/2.0/UDP 192.0.2.33:5062;rport=5062;branch=z9hG4bKa7f3c1",
        )
        .header("Max-Forwards", "69")
        .header("From", "\"Alice\" <sip:alice@ims.example.net>;tag=7f3c19a2")
        .header("To", "<sip:bob@ims.example.net>")
        .header("Call-ID", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@192.0.2.33")
        .header("CSeq", "4711 MESSAGE")
        .header("Accept-Contact", "*;+g.oma.sip-im")
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(b"Hello Bob, a typical instant message in pager mode.")
        .build()
}

fn sip(c: &mut Criterion) {
    let msg = typical_message();
    let mut g = c.benchmark_group(format!("sip MESSAGE {} bytes", msg.len()));
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| {
        b.iter(|| SipMessage::parse(black_box(&msg)).map_or(0, |m| m.raw().len()))
    });
    g.bench_function("parse + typed() (rsip)", |b| {
        b.iter(|| {
            SipMessage::parse(black_box(&msg))
                .ok()
                .and_then(|m| m.typed())
                .map_or(0, |t| t.body().len())
        })
    });
    g.bench_function("build MESSAGE", |b| b.iter(|| typical_message().len()));

    // About 1 MB of back-to-back messages with a keep-alive now and then.
    let mut stream = Vec::with_capacity(1 << 20);
    let mut count = 0usize;
    while stream.len() < 1 << 20 {
        stream.extend_from_slice(&msg);
        count += 1;
        if count.is_multiple_of(16) {
            stream.extend_from_slice(b"\r\n\r\n");
        }
    }
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function(
        format!("next_frame over {} KiB stream", stream.len() / 1024),
        |b| {
            b.iter(|| {
                let mut offset = 0;
                let mut frames = 0;
                while let Ok(Some(frame)) = next_frame(black_box(&stream[offset..]), 1 << 16) {
                    offset += match frame {
                        Frame::KeepAlive(n) => n,
                        Frame::Message(n) => {
                            frames += 1;
                            n
                        }
                    };
                }
                assert_eq!(frames, count, "framed every message");
                frames
            })
        },
    );
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = sip }
criterion_main!(benches);
