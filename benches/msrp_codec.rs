//! MSRP codec throughput (criterion): `cargo bench --bench msrp_codec` in
//! benches/. A 1 MiB message as 16 chunks of 64 KiB (RFC 4975 §7.1.1):
//! encode builds the 16 SEND requests; decode frames the stream of them,
//! parses each chunk and reassembles the message. Time per message and
//! the payload rate in MB/s (10^6 bytes per second: BytesDecimal).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liaison::codec::msrp::{chunk_plan, next_frame, request, MsrpMessage, Reassembly};
use std::hint::black_box;
use std::time::Duration;

const MESSAGE_LEN: usize = 1 << 20;
const CHUNK_LEN: u64 = 64 * 1024;

/// A 1 MiB payload with every byte value, CRLFs and hyphens in it.
fn payload() -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..MESSAGE_LEN)
        .map(|i| {
            if i % 97 == 0 {
                b'-'
            } else if i % 89 == 0 {
                b'\n'
            } else {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            }
        })
        .collect()
}

/// The SEND chunks of `msg`, as one stream of bytes.
fn encode(msg: &[u8]) -> Vec<u8> {
    let mut stream = Vec::with_capacity(msg.len() + 4096);
    for (i, (range, flag)) in chunk_plan(msg.len() as u64, CHUNK_LEN)
        .into_iter()
        .enumerate()
    {
        let from = (range.start - 1) as usize;
        let to = range.end.unwrap_or(range.start - 1) as usize;
        let tid = format!("bench{i:04}x");
        let chunk = request("SEND", &tid)
            .header("To-Path", "msrp://192.0.2.20:2855/b0bS3ss9;tcp")
            .header("From-Path", "msrp://192.0.2.10:7654/a1iceS3ss;tcp")
            .header("Message-ID", "b3nchM3ssage")
            .header("Byte-Range", &range.to_header())
            .header("Content-Type", "application/octet-stream")
            .body(&msg[from..to])
            .flag(flag)
            .build();
        stream.extend_from_slice(&chunk);
    }
    stream
}

/// Frame, parse and reassemble the stream; the message.
fn decode(stream: &[u8]) -> Vec<u8> {
    let mut r = Reassembly::new();
    let mut at = 0;
    while let Ok(Some(n)) = next_frame(&stream[at..], 1 << 20) {
        let chunk = MsrpMessage::parse(&stream[at..at + n]).expect("chunk parses");
        r.push(&chunk).expect("chunk fits");
        at += n;
    }
    assert_eq!(at, stream.len(), "every chunk framed");
    r.bytes().expect("complete")
}

fn msrp(c: &mut Criterion) {
    let msg = payload();
    let stream = encode(&msg);
    // Correctness once, outside the clock.
    assert_eq!(decode(&stream), msg, "round trip");
    let mut g = c.benchmark_group(format!(
        "msrp 1 MiB message as {} chunks of 64 KiB ({} bytes on the wire)",
        chunk_plan(MESSAGE_LEN as u64, CHUNK_LEN).len(),
        stream.len()
    ));
    g.throughput(Throughput::BytesDecimal(MESSAGE_LEN as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    g.bench_function("encode (16 SEND chunks)", |b| {
        b.iter(|| encode(black_box(&msg)).len())
    });
    g.bench_function("decode (next_frame + parse + reassemble)", |b| {
        b.iter(|| decode(black_box(&stream)).len())
    });
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = msrp }
criterion_main!(benches);
