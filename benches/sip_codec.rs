//! SIP codec throughput: `cargo bench --bench sip_codec` (needs `harness = false`
//! for this bench in Cargo.toml; plain `fn main`, no criterion).
//!
//! Each case runs for a fixed wall-clock budget and prints one line with the time
//! per operation and the message rate it implies.

// Built as a libtest harness (when Cargo.toml lacks `harness = false`), `main` is
// never called; keep that build warning-free.
#![cfg_attr(test, allow(dead_code))]

use liaison::codec::sip::{next_frame, request, Frame, SipMessage};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_millis(1500);

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

/// Run `op` repeatedly for the budget; return nanoseconds per call.
fn measure(mut op: impl FnMut() -> usize) -> f64 {
    let warm_up = Instant::now();
    while warm_up.elapsed() < BUDGET / 8 {
        black_box(op());
    }
    // Batches grow so that slow operations are not run far past the budget and
    // fast ones are not dominated by reading the clock.
    let start = Instant::now();
    let mut calls: u64 = 0;
    let mut batch: u64 = 1;
    while start.elapsed() < BUDGET {
        for _ in 0..batch {
            black_box(op());
        }
        calls += batch;
        batch = (batch * 2).min(1024);
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn report(name: &str, ns_per_op: f64, msgs_per_op: f64) {
    let rate = msgs_per_op * 1e9 / ns_per_op;
    println!("{name:<32} {ns_per_op:>12.0} ns/op {rate:>14.0} msgs/s");
}

fn main() {
    let msg = typical_message();
    println!("typical MESSAGE: {} bytes", msg.len());

    let ns = measure(|| SipMessage::parse(black_box(&msg)).map_or(0, |m| m.raw().len()));
    report("parse", ns, 1.0);

    let ns = measure(|| {
        SipMessage::parse(black_box(&msg))
            .ok()
            .and_then(|m| m.typed())
            .map_or(0, |t| t.body().len())
    });
    report("parse + typed() (rsip)", ns, 1.0);

    let ns = measure(|| typical_message().len());
    report("build MESSAGE", ns, 1.0);

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
    let ns = measure(|| {
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
    });
    report(
        &format!("next_frame over {} KiB stream", stream.len() / 1024),
        ns,
        count as f64,
    );
}
