//! Throughput of the pcap capture writer (`cargo bench --bench capture`).
//!
//! Plain `fn main` (the bench target needs `harness = false`): writes 200 000 UDP
//! frames of 500 bytes, then a 100 MB TCP flow, to a temporary file and prints one
//! line per case with frames/s and payload MB/s (1 MB = 10^6 bytes). Times include
//! the final flush to the operating system.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use liaison::net::capture::Capture;

const UDP_FRAMES: usize = 200_000;
const UDP_PAYLOAD: usize = 500;
const TCP_BYTES: usize = 100_000_000;
/// Size of each `tcp_data` call, like one large socket read; the writer segments it.
const TCP_CHUNK: usize = 1 << 20;

fn temp_pcap(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "liaison-capture-bench-{}-{name}.pcap",
        std::process::id()
    ))
}

fn report(name: &str, frames: u64, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "capture {name}: {:.0} frames/s ({:.1} MB/s)",
        frames as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn bench_udp() {
    let path = temp_pcap("udp");
    let capture = Capture::create(&path).expect("create capture file");
    let client: SocketAddr = "192.0.2.1:5060".parse().expect("address");
    let server: SocketAddr = "192.0.2.2:5060".parse().expect("address");
    let payload: Vec<u8> = (0..UDP_PAYLOAD).map(|i| (i % 251) as u8).collect();

    let start = Instant::now();
    for i in 0..UDP_FRAMES {
        if i % 2 == 0 {
            capture.udp(client, server, &payload);
        } else {
            capture.udp(server, client, &payload);
        }
    }
    capture.flush().expect("flush capture");
    let elapsed = start.elapsed();

    assert_eq!(capture.frames(), UDP_FRAMES as u64);
    report(
        &format!("udp {UDP_PAYLOAD}B"),
        capture.frames(),
        UDP_FRAMES * UDP_PAYLOAD,
        elapsed,
    );
    drop(capture);
    let _ = std::fs::remove_file(&path);
}

fn bench_tcp() {
    let path = temp_pcap("tcp");
    let capture = Capture::create(&path).expect("create capture file");
    let client: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let server: SocketAddr = "192.0.2.2:2855".parse().expect("address");
    let chunk: Vec<u8> = (0..TCP_CHUNK).map(|i| (i % 251) as u8).collect();

    let start = Instant::now();
    capture.tcp_connect(client, server);
    let mut written = 0;
    while written < TCP_BYTES {
        let n = chunk.len().min(TCP_BYTES - written);
        capture.tcp_data(client, server, &chunk[..n]);
        written += n;
    }
    capture.tcp_close(client, server);
    capture.flush().expect("flush capture");
    let elapsed = start.elapsed();

    report(
        &format!("tcp {}MB", TCP_BYTES / 1_000_000),
        capture.frames(),
        TCP_BYTES,
        elapsed,
    );
    drop(capture);
    let _ = std::fs::remove_file(&path);
}

fn main() {
    bench_udp();
    bench_tcp();
}
