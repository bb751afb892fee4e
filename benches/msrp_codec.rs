//! MSRP codec throughput: `cargo bench --bench msrp_codec` (needs `harness = false`
//! for this bench in Cargo.toml; plain `fn main`, no criterion).
//!
//! A 1 MiB message is sent as 16 chunks of 64 KiB (RFC 4975 §7.1.1). Encode builds
//! the 16 SEND requests; decode frames the stream of them, parses each chunk and
//! reassembles the message. Each case runs for a fixed wall-clock budget and prints
//! the time per message and the payload rate in MB/s (10^6 bytes per second).

// Built as a libtest harness (when Cargo.toml lacks `harness = false`), `main` is
// never called; keep that build warning-free.
#![cfg_attr(test, allow(dead_code))]

use liaison::codec::msrp::{chunk_plan, next_frame, request, MsrpMessage, Reassembly};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_millis(2000);
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

/// Frame, parse and reassemble the stream; the message length.
fn decode(stream: &[u8]) -> usize {
    let mut r = Reassembly::new();
    let mut at = 0;
    while let Ok(Some(n)) = next_frame(&stream[at..], 1 << 20) {
        let chunk = MsrpMessage::parse(&stream[at..at + n]).expect("chunk parses");
        r.push(&chunk).expect("chunk fits");
        at += n;
    }
    assert_eq!(at, stream.len(), "every chunk framed");
    r.bytes().expect("complete").len()
}

/// Run `op` repeatedly for the budget; nanoseconds per call.
fn measure(mut op: impl FnMut() -> usize) -> f64 {
    let warm_up = Instant::now();
    while warm_up.elapsed() < BUDGET / 8 {
        black_box(op());
    }
    let start = Instant::now();
    let mut calls: u64 = 0;
    while start.elapsed() < BUDGET {
        black_box(op());
        calls += 1;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn report(name: &str, ns_per_op: f64) {
    let mb_s = MESSAGE_LEN as f64 * 1e3 / ns_per_op;
    println!(
        "{name:<40} {:>9.3} ms/message {mb_s:>9.1} MB/s",
        ns_per_op / 1e6
    );
}

fn main() {
    let msg = payload();
    let stream = encode(&msg);
    println!(
        "1 MiB message as {} chunks of 64 KiB: {} bytes on the wire",
        chunk_plan(MESSAGE_LEN as u64, CHUNK_LEN).len(),
        stream.len()
    );
    // Correctness once, outside the clock.
    let mut r = Reassembly::new();
    let mut at = 0;
    while let Ok(Some(n)) = next_frame(&stream[at..], 1 << 20) {
        r.push(&MsrpMessage::parse(&stream[at..at + n]).expect("parses"))
            .expect("fits");
        at += n;
    }
    assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()), "round trip");

    report(
        "encode (16 SEND chunks)",
        measure(|| encode(black_box(&msg)).len()),
    );
    report(
        "decode (next_frame + parse + reassemble)",
        measure(|| decode(black_box(&stream))),
    );
}
