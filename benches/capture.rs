//! Throughput of the pcap capture writer (criterion): `cargo bench --bench
//! capture` in benches/. UDP frames of 500 bytes, and a TCP flow written in
//! 1 MiB calls (like one large socket read; the writer segments it): frames/s
//! for UDP, payload MB/s for TCP (criterion reports one throughput per
//! case; the other follows from the payload per frame given in the name). The file is /dev/null, so that criterion's
//! many iterations do not fill the disk: the figures include the writer's
//! work and its write calls to the operating system, not the disk's.

use std::net::SocketAddr;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liaison::net::capture::Capture;

const UDP_PAYLOAD: usize = 500;
const TCP_CHUNK: usize = 1 << 20;

fn capture(c: &mut Criterion) {
    let sink = Path::new("/dev/null");
    let client: SocketAddr = "192.0.2.1:5060".parse().expect("address");
    let server: SocketAddr = "192.0.2.2:5060".parse().expect("address");
    let payload: Vec<u8> = (0..UDP_PAYLOAD).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("capture");

    // One datagram each way per iteration, as a request and its answer.
    let cap = Capture::create(sink).expect("capture to /dev/null");
    // Frames/s; payload MB/s is that times the payload.
    g.throughput(Throughput::Elements(2));
    g.bench_function(format!("udp {UDP_PAYLOAD}B payload, two frames"), |b| {
        b.iter(|| {
            cap.udp(client, server, &payload);
            cap.udp(server, client, &payload);
        })
    });
    cap.flush().expect("flush");

    // TCP: 1 MiB per call, segmented by the writer; frames per call counted once.
    let client: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let server: SocketAddr = "192.0.2.2:2855".parse().expect("address");
    let chunk: Vec<u8> = (0..TCP_CHUNK).map(|i| (i % 251) as u8).collect();
    let cap = Capture::create(sink).expect("capture to /dev/null");
    cap.tcp_connect(client, server);
    let before = cap.frames();
    cap.tcp_data(client, server, &chunk);
    let frames_per_call = cap.frames() - before;
    // Payload MB/s (10^6); frames/s is that over the bytes per frame.
    g.throughput(Throughput::BytesDecimal(TCP_CHUNK as u64));
    g.bench_function(format!("tcp 1 MiB call ({frames_per_call} frames)"), |b| {
        b.iter(|| cap.tcp_data(client, server, &chunk))
    });
    cap.tcp_close(client, server);
    cap.flush().expect("flush");
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = capture }
criterion_main!(benches);
