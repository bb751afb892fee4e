//! Packet capture of what the harness sends and receives over real sockets.
//!
//! The harness talks to the system under test through ordinary kernel sockets, so it
//! never sees link-layer, IP or TCP headers. This module synthesises them: every UDP
//! datagram and every chunk of TCP stream data the harness hands over is written to a
//! classic libpcap file as a complete Ethernet II frame, so that Wireshark and tshark
//! dissect the traffic (SIP, MSRP, HTTP, SMTP, SMPP, ...) and reassemble TCP streams as
//! if it had been captured on the wire.
//!
//! # File format
//!
//! * Global header: pcap 2.4, microsecond timestamps, little-endian, snaplen 262144,
//!   link type 1 (`LINKTYPE_ETHERNET`). It is produced by [`pcap_file::pcap::PcapHeader`].
//! * Each record: the 16-byte pcap record header (seconds, microseconds, captured length,
//!   original length; draft-ietf-opsawg-pcap, "Packet Record") followed by the frame.
//!   Record headers are written here rather than through `pcap_file::pcap::PcapWriter`
//!   because that writer cannot be flushed without being consumed, and because writing
//!   header, protocol headers and payload as separate slices avoids copying each payload
//!   into a frame buffer first.
//!
//! # Frame layout
//!
//! * Ethernet II: destination MAC, source MAC, EtherType 0x0800 (IPv4) or 0x86DD (IPv6).
//!   The MACs are the fixed, locally administered addresses `02:00:00:00:00:01` and
//!   `02:00:00:00:00:02`; of the two endpoints of a frame, the one that sorts lower
//!   (`SocketAddr` order) gets `..:01`, so both directions of a conversation agree.
//! * IPv4 (RFC 791 section 3.1): 20-byte header, no options, TTL 64, DF set, an
//!   identification that increments per frame across the capture, correct header
//!   checksum.
//! * IPv6 (RFC 8200 section 3): 40-byte header, traffic class and flow label 0,
//!   hop limit 64, no extension headers.
//! * UDP (RFC 768): checksum always computed, over the IPv4 pseudo-header (RFC 768) or
//!   the IPv6 pseudo-header (RFC 8200 section 8.1); a computed zero is sent as 0xFFFF.
//! * TCP (RFC 9293 section 3.1, which obsoletes RFC 793): 20-byte header, window 65535,
//!   plus a 4-byte MSS option on SYN and SYN/ACK. Checksums as for UDP.
//!
//! Real sockets never mix address families within one flow. If a caller does (IPv4
//! source, IPv6 destination or the reverse), both addresses are written as IPv6, the
//! IPv4 one as an IPv4-mapped address (`::ffff:a.b.c.d`), instead of failing.
//!
//! # TCP synthesis
//!
//! Each flow (an unordered pair of socket addresses) has, per direction, the next
//! sequence number and the number of bytes sent but not yet acknowledged by a frame
//! from the peer.
//!
//! * [`Capture::tcp_connect`] writes SYN, SYN/ACK and ACK. Initial sequence numbers are
//!   deterministic: a hash (FNV-1a) of the endpoints and of a per-capture connection
//!   counter, so a 4-tuple that is reused within one capture starts a new sequence space
//!   instead of looking like a retransmission.
//! * [`Capture::tcp_data`] cuts data into segments of at most 32000 bytes, flagged
//!   PSH|ACK, each acknowledging everything the peer has sent. Without window scaling
//!   the advertised window is 65535 bytes, so before a segment would push the bytes in
//!   flight above it, a pure ACK from the receiver is written first, so the trace never
//!   shows a sender overrunning the window it was given. The MSS option advertises what
//!   an interface with a 65535-byte MTU would (65495 for IPv4, 65475 for IPv6), so
//!   32000-byte segments are within it. Data and ACKs are written back to back: the
//!   harness cannot see when the kernel really acknowledged, and timing is not what
//!   these captures are for.
//! * [`Capture::tcp_close`] writes FIN|ACK, FIN|ACK, ACK and forgets the flow.
//!
//! # One packet, one frame
//!
//! A packet between two harness sockets (a harness UA and the harness IMS core,
//! say) passes both the sender's tap and the receiver's; writing it at both
//! would show every such packet twice, about 50 µs apart, which Wireshark reads
//! as retransmissions. So the taps say which side they are: a sender's tap
//! ([`Capture::udp_sent`], [`Capture::tcp_sent`], [`Capture::tcp_connect`])
//! always writes, before the bytes leave, and the file remembers what it wrote;
//! a receiver's tap ([`Capture::udp_received`], [`Capture::tcp_received`],
//! [`Capture::tcp_accepted`]) writes only what no harness sender wrote into the
//! same file: a datagram is matched by addresses, ports and payload (each
//! remembered datagram claimed once, so a real retransmission is still written),
//! stream bytes by count per direction (a stream delivers them in order), a
//! connection by its 4-tuple and which end reported it. The bookkeeping lives
//! in the file, so it holds whatever capture objects the two sides write
//! through: a run-level role's switchable capture and a scenario's own capture
//! pointing at one file share it, and two different files each get the packet
//! once. Bytes from the system under test reach only a receiver's tap, and are
//! always written. [`Capture::udp`] and [`Capture::tcp_data`] write
//! unconditionally.
//!
//! # Oversized UDP datagrams
//!
//! IPv4 cannot carry more than 65507 bytes of UDP payload, nor IPv6 more than 65527
//! without jumbograms. Real sockets cannot send more either; if asked to, the frame
//! carries only the payload that fits, its IP and UDP length fields and checksum describe
//! that truncated datagram (so it still dissects cleanly), and the record's original
//! length states the size of the frame the whole payload would have needed.
//!
//! # Behaviour
//!
//! Frames stream through a `BufWriter`; nothing is kept in memory beyond that buffer
//! and the per-flow counters. A file grows to at most [`MAX_PCAP_BYTES`]: the first
//! frame that would take it past that is refused, and so is every frame after it
//! (counted, [`Capture::frames_dropped`]), so the file stays a valid capture of the
//! traffic's beginning, whole records only; the TCP bookkeeping goes on as if the
//! frames had been written. [`Capture`] is a cheap clone around `Arc<Mutex<_>>`; the
//! last clone to be dropped flushes the file. Timestamps are the wall clock at the time
//! of the call, in microseconds, never decreasing within one capture. Nothing here
//! panics: the first I/O error is remembered, every later call becomes a no-op and
//! [`Capture::flush`] reports the error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// Snapshot length declared in the global header.
const SNAPLEN: u32 = 262_144;
/// Largest TCP payload written in one segment.
const MAX_TCP_SEGMENT: usize = 32_000;
/// Receive window advertised in every TCP header (no window scaling).
const TCP_WINDOW: u16 = 65_535;
/// MSS advertised on SYN and SYN/ACK: MTU 65535 minus IP and TCP headers.
const MSS_V4: u16 = 65_535 - 20 - 20;
const MSS_V6: u16 = 65_535 - 40 - 20;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const TTL: u8 = 64;

const ETH_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
const TCP_HEADER_LEN: usize = 20;
const TCP_MSS_OPTION_LEN: usize = 4;
/// The IPv4 total length and the IPv6 payload length are 16-bit fields.
const MAX_IP_LEN: usize = 65_535;

const MAC_LOW: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const MAC_HIGH: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// TCP control bits (RFC 9293 section 3.1).
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

const WRITE_BUFFER: usize = 256 * 1024;
const PCAP_RECORD_HEADER_LEN: usize = 16;
/// The classic pcap global header (draft-ietf-opsawg-pcap, "File Header").
const PCAP_GLOBAL_HEADER_LEN: u64 = 24;

/// The largest a capture file grows: a frame (or a TLS secrets block)
/// that would take the file past it is not written, nor is anything after
/// it, so the file holds whole records, the first ones of its traffic; the
/// frames left out are counted ([`Capture::frames_dropped`]). A SUT that
/// floods cannot fill the disk through it. The same figure as the report's
/// ladder reads at most ([`crate::report::ladder::MAX_PCAP`]), so a capped
/// file is still drawn.
pub const MAX_PCAP_BYTES: u64 = 256 * 1024 * 1024;
const _: () = assert!(MAX_PCAP_BYTES <= crate::report::ladder::MAX_PCAP);

/// The transport header of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        /// Maximum segment size option (RFC 9293 section 3.2, kind 2, length 4).
        mss: Option<u16>,
    },
}

impl Transport {
    fn header_len(&self) -> usize {
        match self {
            Transport::Udp => UDP_HEADER_LEN,
            Transport::Tcp { mss: None, .. } => TCP_HEADER_LEN,
            Transport::Tcp { mss: Some(_), .. } => TCP_HEADER_LEN + TCP_MSS_OPTION_LEN,
        }
    }

    fn protocol(&self) -> u8 {
        match self {
            Transport::Udp => IPPROTO_UDP,
            Transport::Tcp { .. } => IPPROTO_TCP,
        }
    }
}

/// What [`build_headers`] produced besides the header bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// How many leading payload bytes the frame carries (all of them unless truncated).
    payload_len: usize,
    /// Length of the frame had the whole payload fitted, saturated to `u32::MAX`.
    orig_len: u32,
}

/// The network-layer addresses of a frame, after unifying mixed families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IpPair {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

fn ip_pair(src: IpAddr, dst: IpAddr) -> IpPair {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => IpPair::V4(s, d),
        (s, d) => IpPair::V6(as_v6(s), as_v6(d)),
    }
}

fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Source and destination MAC for a frame from `src` to `dst`.
fn macs(src: SocketAddr, dst: SocketAddr) -> ([u8; 6], [u8; 6]) {
    if src <= dst {
        (MAC_LOW, MAC_HIGH)
    } else {
        (MAC_HIGH, MAC_LOW)
    }
}

/// Unfolded one's complement sum of `data` as big-endian 16-bit words, the last odd
/// byte padded with zero (RFC 1071 section 1). Words are added four bytes at a time
/// into a 64-bit accumulator; since 2^16 = 1 modulo 2^16 - 1, folding the result later
/// gives the same 16-bit sum (RFC 1071 section 2, "deferred carries").
fn ones_complement_sum(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut rest = words.remainder().chunks_exact(2);
    for w in &mut rest {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a deferred-carry sum down to 16 bits with end-around carry.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// Internet checksum (RFC 1071) of `data`: the one's complement of its one's
/// complement sum. Over a header whose checksum field holds the correct value it is 0.
fn internet_checksum(data: &[u8]) -> u16 {
    !fold(ones_complement_sum(data))
}

/// IPv4 header checksum (RFC 791 section 3.1, "Header Checksum"), computed over
/// `header` as given, so its checksum field must be zero when computing it.
fn ipv4_checksum(header: &[u8]) -> u16 {
    internet_checksum(header)
}

/// Sum of the pseudo-header that the UDP and TCP checksums cover: RFC 768 / RFC 9293
/// section 3.1 for IPv4 (addresses, zero, protocol, length), RFC 8200 section 8.1 for
/// IPv6 (addresses, 32-bit length, three zero bytes, next header).
fn pseudo_header_sum(ips: IpPair, protocol: u8, l4_len: usize) -> u64 {
    let (addresses, length) = match ips {
        IpPair::V4(s, d) => (
            ones_complement_sum(&s.octets()) + ones_complement_sum(&d.octets()),
            l4_len as u64,
        ),
        IpPair::V6(s, d) => (
            ones_complement_sum(&s.octets()) + ones_complement_sum(&d.octets()),
            // The 32-bit length as two 16-bit words.
            (l4_len as u64 >> 16) + (l4_len as u64 & 0xFFFF),
        ),
    };
    addresses + u64::from(protocol) + length
}

/// Writes into `out` (cleared first) every header of the frame that carries `payload`
/// from `src` to `dst` (Ethernet, IP, UDP or TCP) with all lengths and checksums
/// filled in. The frame is the headers followed by the first `payload_len` bytes of
/// `payload`; that is less than all of it only when the payload cannot fit one IP packet.
fn build_headers(
    out: &mut Vec<u8>,
    src: SocketAddr,
    dst: SocketAddr,
    ip_id: u16,
    transport: Transport,
    payload: &[u8],
) -> Layout {
    out.clear();
    let ips = ip_pair(src.ip(), dst.ip());
    let (ethertype, ip_header_len) = match ips {
        IpPair::V4(..) => (ETHERTYPE_IPV4, IPV4_HEADER_LEN),
        IpPair::V6(..) => (ETHERTYPE_IPV6, IPV6_HEADER_LEN),
    };
    let l4_header_len = transport.header_len();
    // IPv4's total length includes its header; IPv6's payload length does not.
    let max_l4_len = match ips {
        IpPair::V4(..) => MAX_IP_LEN - IPV4_HEADER_LEN,
        IpPair::V6(..) => MAX_IP_LEN,
    };
    let payload_len = payload.len().min(max_l4_len - l4_header_len);
    let l4_len = l4_header_len + payload_len;
    let headers_len = ETH_HEADER_LEN + ip_header_len + l4_header_len;
    let orig_len = u32::try_from(headers_len as u64 + payload.len() as u64).unwrap_or(u32::MAX);

    // Ethernet II: destination, source, EtherType.
    let (src_mac, dst_mac) = macs(src, dst);
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&ethertype.to_be_bytes());

    let protocol = transport.protocol();
    match ips {
        IpPair::V4(s, d) => {
            // RFC 791 section 3.1.
            let start = out.len();
            out.push(0x45); // version 4, IHL 5 words
            out.push(0); // type of service
            out.extend_from_slice(&((IPV4_HEADER_LEN + l4_len) as u16).to_be_bytes());
            out.extend_from_slice(&ip_id.to_be_bytes());
            out.extend_from_slice(&0x4000u16.to_be_bytes()); // flags: DF; fragment offset 0
            out.push(TTL);
            out.push(protocol);
            out.extend_from_slice(&[0, 0]); // checksum, filled below
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let checksum = ipv4_checksum(&out[start..]);
            out[start + 10..start + 12].copy_from_slice(&checksum.to_be_bytes());
        }
        IpPair::V6(s, d) => {
            // RFC 8200 section 3.
            out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow label 0
            out.extend_from_slice(&(l4_len as u16).to_be_bytes());
            out.push(protocol); // next header
            out.push(TTL); // hop limit
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
    }

    let l4_start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    let checksum_offset = match transport {
        Transport::Udp => {
            // RFC 768.
            out.extend_from_slice(&(l4_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            6
        }
        Transport::Tcp {
            seq,
            ack,
            flags,
            mss,
        } => {
            // RFC 9293 section 3.1.
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&ack.to_be_bytes());
            out.push(((l4_header_len / 4) as u8) << 4); // data offset; reserved bits 0
            out.push(flags);
            out.extend_from_slice(&TCP_WINDOW.to_be_bytes());
            out.extend_from_slice(&[0, 0]); // checksum, filled below
            out.extend_from_slice(&[0, 0]); // urgent pointer
            if let Some(mss) = mss {
                // RFC 9293 section 3.2: kind 2, length 4, MSS.
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            16
        }
    };
    // The transport header has even length, so summing it and the payload separately
    // keeps the 16-bit word alignment of the checksum.
    let sum = pseudo_header_sum(ips, protocol, l4_len)
        + ones_complement_sum(&out[l4_start..])
        + ones_complement_sum(&payload[..payload_len]);
    let mut checksum = !fold(sum);
    if transport == Transport::Udp && checksum == 0 {
        // RFC 768: a computed zero is transmitted as all ones (zero means "none").
        checksum = 0xFFFF;
    }
    let at = l4_start + checksum_offset;
    out[at..at + 2].copy_from_slice(&checksum.to_be_bytes());

    Layout {
        payload_len,
        orig_len,
    }
}

/// The complete frame carrying `payload` from `src` to `dst`, and its original length.
/// (The writer uses [`build_headers`] directly to avoid copying the payload.)
#[cfg(test)]
fn build_frame(
    src: SocketAddr,
    dst: SocketAddr,
    ip_id: u16,
    transport: Transport,
    payload: &[u8],
) -> (Vec<u8>, u32) {
    let mut frame = Vec::with_capacity(ETH_HEADER_LEN + IPV6_HEADER_LEN + 24 + payload.len());
    let layout = build_headers(&mut frame, src, dst, ip_id, transport, payload);
    frame.extend_from_slice(&payload[..layout.payload_len]);
    (frame, layout.orig_len)
}

/// The classic pcap global header of every capture: linktype Ethernet,
/// µs timestamps, little-endian, snaplen [`SNAPLEN`].
fn write_pcap_header(out: &mut impl Write) -> io::Result<()> {
    let header = PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: SNAPLEN,
        datalink: DataLink::ETHERNET,
        ts_resolution: TsResolution::MicroSecond,
        endianness: Endianness::Little,
    };
    header.write_to(out).map_err(|e| match e {
        PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    })?;
    Ok(())
}

/// A classic pcap record header.
fn pcap_record_head(
    timestamp: Duration,
    captured: u32,
    orig_len: u32,
) -> [u8; PCAP_RECORD_HEADER_LEN] {
    let seconds = u32::try_from(timestamp.as_secs()).unwrap_or(u32::MAX);
    let mut record = [0u8; PCAP_RECORD_HEADER_LEN];
    record[0..4].copy_from_slice(&seconds.to_le_bytes());
    record[4..8].copy_from_slice(&timestamp.subsec_micros().to_le_bytes());
    record[8..12].copy_from_slice(&captured.to_le_bytes());
    record[12..16].copy_from_slice(&orig_len.to_le_bytes());
    record
}

/// A classic pcap file of UDP datagrams whose timestamps the caller gives
/// (the load recorder's ring and stream, which write after the fact), in
/// the same framing as [`Capture`]: Ethernet, IPv4 or IPv6, UDP, with every
/// length and checksum filled in.
pub struct UdpPcapWriter<W: Write> {
    out: W,
    headers: Vec<u8>,
    ip_id: u16,
    frames: u64,
}

impl<W: Write> UdpPcapWriter<W> {
    /// Writes the global header (linktype Ethernet, µs timestamps).
    pub fn new(mut out: W) -> io::Result<UdpPcapWriter<W>> {
        write_pcap_header(&mut out)?;
        Ok(UdpPcapWriter {
            out,
            headers: Vec::with_capacity(64),
            ip_id: 0,
            frames: 0,
        })
    }

    /// One datagram at `timestamp` (since the Unix epoch).
    pub fn datagram(
        &mut self,
        timestamp: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        let layout = build_headers(
            &mut self.headers,
            src,
            dst,
            self.ip_id,
            Transport::Udp,
            payload,
        );
        self.ip_id = self.ip_id.wrapping_add(1);
        let captured = (self.headers.len() + layout.payload_len) as u32;
        self.out
            .write_all(&pcap_record_head(timestamp, captured, layout.orig_len))?;
        self.out.write_all(&self.headers)?;
        self.out.write_all(&payload[..layout.payload_len])?;
        self.frames += 1;
        Ok(())
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and gives the sink back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Deterministic initial sequence number for a connection from `from` to `to`:
/// 32-bit FNV-1a over both addresses, both ports and the connection counter.
fn initial_sequence_number(from: SocketAddr, to: SocketAddr, connection: u64) -> u32 {
    const FNV_OFFSET: u32 = 0x811C_9DC5;
    const FNV_PRIME: u32 = 0x0100_0193;
    let mut hash = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for addr in [from, to] {
        match addr.ip() {
            IpAddr::V4(ip) => feed(&ip.octets()),
            IpAddr::V6(ip) => feed(&ip.octets()),
        }
        feed(&addr.port().to_be_bytes());
    }
    feed(&connection.to_be_bytes());
    hash
}

/// Key of a TCP flow: its two endpoints, lower first.
fn flow_key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// One direction of a TCP flow.
#[derive(Clone, Copy, Debug)]
struct Direction {
    /// Sequence number of the next byte this side sends.
    next_seq: u32,
    /// Bytes this side sent that no frame from the peer has acknowledged yet.
    unacked: u64,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    client: SocketAddr,
    from_client: Direction,
    from_server: Direction,
    /// The end whose report of this connection is still to come, when both
    /// ends are harness sockets tapping this file: the handshake is written
    /// once, by whichever end reports first.
    awaiting: Option<End>,
}

/// Which end of a TCP connection a tap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The end that connected.
    Connector,
    /// The end that accepted.
    Acceptor,
}

/// Most UDP datagrams remembered as sent by a harness socket and not yet
/// received by one (the oldest are forgotten first).
const MAX_PENDING_DATAGRAMS: usize = 65_536;

/// What harness sockets wrote into this file as senders, so that a harness
/// socket receiving the same packet does not write it a second time: a packet
/// crosses the wire once, and appears once in the capture.
#[derive(Default)]
struct Sent {
    /// Datagrams (source, destination, length, FNV-1a hash of the payload)
    /// written by a sending tap and not yet claimed by a receiving tap, with
    /// how many; `order` lists them oldest first, to bound the memory.
    datagrams: HashMap<(SocketAddr, SocketAddr, usize, u64), u32>,
    order: std::collections::VecDeque<(SocketAddr, SocketAddr, usize, u64)>,
    /// Per TCP direction (source, destination): bytes a sending tap wrote
    /// that no receiving tap has accounted for yet. A stream delivers bytes in
    /// order, so the receiver's first bytes are the sender's first bytes,
    /// however either side cuts them.
    stream_bytes: HashMap<(SocketAddr, SocketAddr), u64>,
    /// Connections closed while the other end's report of the connection
    /// was still to come (an accept that ran after the connector had sent
    /// and closed): (flow key) -> (client, the end awaited).
    closed_awaiting: HashMap<(SocketAddr, SocketAddr), (SocketAddr, End)>,
}

/// 64-bit FNV-1a of a payload (to recognise a datagram without keeping it).
fn payload_hash(payload: &[u8]) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in payload {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
    hash
}

impl Flow {
    /// (direction sent by `src`, direction sent by its peer).
    fn sides(&mut self, src: SocketAddr) -> (&mut Direction, &mut Direction) {
        if src == self.client {
            (&mut self.from_client, &mut self.from_server)
        } else {
            (&mut self.from_server, &mut self.from_client)
        }
    }
}

/// The file's format: classic pcap until a TLS connection's secrets must
/// go in, then pcapng (the file is rewritten as pcapng once, in place).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Pcap,
    PcapNg,
}

/// pcapng block types (draft-ietf-opsawg-pcapng §4.1, §10.1).
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_DSB: u32 = 0x0000_000A;
/// The byte-order magic of a Section Header Block.
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
/// Decryption Secrets Block secrets type: TLS key log (NSS format).
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;
/// `if_tsresol` (§4.2): timestamps in 10^-9 s. Written so that every
/// reader, whatever it assumes, gets the time right (pcap-file 2 reads an
/// EPB's timestamp as nanoseconds whatever the interface says).
const IF_TSRESOL_NANOS: u8 = 9;

/// The length of a pcapng block whose body is `body_len` bytes: type,
/// length, body padded to 32 bits, length again.
fn pcapng_block_len(body_len: usize) -> u64 {
    (12 + body_len + (4 - body_len % 4) % 4) as u64
}

/// A pcapng block: type, length, body padded to 32 bits, length again.
/// Returns the bytes written.
fn pcapng_block(out: &mut impl Write, block_type: u32, body: &[&[u8]]) -> io::Result<u64> {
    let len: usize = body.iter().map(|b| b.len()).sum();
    let pad = (4 - len % 4) % 4;
    let block_len = pcapng_block_len(len);
    let total = u32::try_from(block_len).unwrap_or(u32::MAX);
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    for b in body {
        out.write_all(b)?;
    }
    out.write_all(&[0u8; 3][..pad])?;
    out.write_all(&total.to_le_bytes())?;
    Ok(block_len)
}

/// A little-endian Section Header Block (no options, section length
/// unknown) and the one Interface Description Block (Ethernet, snaplen,
/// nanosecond timestamps). Returns the bytes written.
fn pcapng_header(out: &mut impl Write) -> io::Result<u64> {
    let mut shb = Vec::with_capacity(16);
    shb.extend_from_slice(&PCAPNG_BOM.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes()); // major version
    shb.extend_from_slice(&0u16.to_le_bytes()); // minor version
    shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length: not given
    let shb_len = pcapng_block(out, PCAPNG_SHB, &[&shb])?;
    let mut idb = Vec::with_capacity(20);
    idb.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    idb.extend_from_slice(&0u16.to_le_bytes()); // reserved
    idb.extend_from_slice(&SNAPLEN.to_le_bytes());
    // Option if_tsresol (code 9, length 1, padded), then opt_endofopt.
    idb.extend_from_slice(&[9, 0, 1, 0, IF_TSRESOL_NANOS, 0, 0, 0]);
    idb.extend_from_slice(&[0, 0, 0, 0]);
    Ok(shb_len + pcapng_block(out, PCAPNG_IDB, &[&idb])?)
}

/// The fixed part of an Enhanced Packet Block's body (interface 0).
fn epb_head(timestamp: Duration, captured: u32, orig_len: u32) -> [u8; 20] {
    let ns = u64::try_from(timestamp.as_nanos()).unwrap_or(u64::MAX);
    let mut h = [0u8; 20];
    h[4..8].copy_from_slice(&((ns >> 32) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(ns as u32).to_le_bytes());
    h[12..16].copy_from_slice(&captured.to_le_bytes());
    h[16..20].copy_from_slice(&orig_len.to_le_bytes());
    h
}

/// What [`rewrite_as_pcapng`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rewritten {
    /// Frames it holds.
    frames: u64,
    /// Frames of the classic file it left out: pcapng takes more bytes per
    /// frame, and those that no longer fit under the cap are not copied.
    left_out: u64,
    /// Its size.
    bytes: u64,
}

/// Rewrites the classic pcap at `path` as pcapng, frame for frame (same
/// data, lengths and times), through a temporary file renamed over it; of
/// a file near `max_bytes`, only the frames that still fit are copied.
fn rewrite_as_pcapng(path: &Path, max_bytes: u64) -> io::Result<Rewritten> {
    use pcap_file::pcap::PcapReader;
    let tmp = path.with_extension("pcapng-rewrite");
    let result = (|| {
        let mut reader = PcapReader::new(File::open(path)?).map_err(io::Error::other)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, File::create(&tmp)?);
        let mut done = Rewritten {
            frames: 0,
            left_out: 0,
            bytes: pcapng_header(&mut out)?,
        };
        while let Some(pkt) = reader.next_packet() {
            let pkt = pkt.map_err(io::Error::other)?;
            if done.left_out > 0 || done.bytes + pcapng_block_len(20 + pkt.data.len()) > max_bytes {
                done.left_out += 1;
                continue;
            }
            let head = epb_head(pkt.timestamp, pkt.data.len() as u32, pkt.orig_len);
            done.bytes += pcapng_block(&mut out, PCAPNG_EPB, &[&head, &pkt.data])?;
            done.frames += 1;
        }
        out.flush()?;
        std::fs::rename(&tmp, path)?;
        Ok(done)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file and everything needed to append frames to it.
struct Writer {
    path: PathBuf,
    format: Format,
    out: Option<BufWriter<File>>,
    /// First I/O error, as (kind, message); once set nothing more is written.
    error: Option<(io::ErrorKind, String)>,
    frames: u64,
    /// The file's size, once what is buffered is written.
    bytes: u64,
    /// The size it may not pass ([`MAX_PCAP_BYTES`] unless a test says).
    max_bytes: u64,
    /// A frame or secrets block was refused at the cap: nothing more goes in.
    full: bool,
    /// Frames not written because the file was full.
    dropped: u64,
    last_timestamp: Duration,
    ip_id: u16,
    headers: Vec<u8>,
}

impl Writer {
    fn failed(&self) -> bool {
        self.error.is_some() || self.out.is_none()
    }

    fn record_error(&mut self, error: &io::Error) {
        if self.error.is_none() {
            self.error = Some((
                error.kind(),
                format!("writing capture {}: {error}", self.path.display()),
            ));
        }
    }

    fn error(&self) -> Option<io::Error> {
        self.error
            .as_ref()
            .map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    /// Wall-clock time truncated to microseconds, never earlier than the previous frame.
    fn timestamp(&mut self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let now = Duration::new(now.as_secs(), now.subsec_micros() * 1000);
        if now > self.last_timestamp {
            self.last_timestamp = now;
        }
        self.last_timestamp
    }

    fn frame(&mut self, src: SocketAddr, dst: SocketAddr, transport: Transport, payload: &[u8]) {
        if self.failed() {
            return;
        }
        if self.full {
            self.dropped += 1;
            return;
        }
        let layout = build_headers(&mut self.headers, src, dst, self.ip_id, transport, payload);
        let captured = (self.headers.len() + layout.payload_len) as u32;
        let record_len = match self.format {
            Format::Pcap => (PCAP_RECORD_HEADER_LEN + captured as usize) as u64,
            Format::PcapNg => pcapng_block_len(20 + captured as usize),
        };
        if self.bytes + record_len > self.max_bytes {
            self.full = true;
            self.dropped += 1;
            return;
        }
        let timestamp = self.timestamp();
        self.ip_id = self.ip_id.wrapping_add(1);
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let result = match self.format {
            Format::Pcap => {
                let record = pcap_record_head(timestamp, captured, layout.orig_len);
                out.write_all(&record)
                    .and_then(|()| out.write_all(&self.headers))
                    .and_then(|()| out.write_all(&payload[..layout.payload_len]))
            }
            Format::PcapNg => {
                let head = epb_head(timestamp, captured, layout.orig_len);
                pcapng_block(
                    out,
                    PCAPNG_EPB,
                    &[&head, &self.headers, &payload[..layout.payload_len]],
                )
                .map(|_| ())
            }
        };
        match result {
            Ok(()) => {
                self.frames += 1;
                self.bytes += record_len;
            }
            Err(e) => self.record_error(&e),
        }
    }

    /// Writes TLS key log lines as a Decryption Secrets Block (pcapng
    /// §4.7), turning the file into pcapng first if it is classic pcap.
    /// A full file takes no secrets (the records they would open are not
    /// written either), nor a block that would take it past the cap (it is
    /// then full).
    fn secrets(&mut self, key_log: &[u8]) {
        if self.failed() || self.full || key_log.is_empty() {
            return;
        }
        if self.format == Format::Pcap
            && let Err(e) = self.upgrade()
        {
            self.record_error(&e);
            return;
        }
        let block_len = pcapng_block_len(8 + key_log.len());
        if self.full || self.bytes + block_len > self.max_bytes {
            self.full = true;
            return;
        }
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let mut head = [0u8; 8];
        head[0..4].copy_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
        head[4..8].copy_from_slice(&(key_log.len() as u32).to_le_bytes());
        match pcapng_block(out, PCAPNG_DSB, &[&head, key_log]) {
            Ok(n) => self.bytes += n,
            Err(e) => self.record_error(&e),
        }
    }

    /// Classic pcap cannot carry secrets: the frames written so far are
    /// rewritten as pcapng, and the file goes on as pcapng. pcapng is the
    /// larger: the frames that no longer fit under the cap are left out
    /// (counted as dropped, and the file is full).
    fn upgrade(&mut self) -> io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        let done = rewrite_as_pcapng(&self.path, self.max_bytes)?;
        let file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        self.out = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        self.format = Format::PcapNg;
        self.bytes = done.bytes;
        if done.left_out > 0 {
            self.frames = done.frames;
            self.dropped += done.left_out;
            self.full = true;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(error) = self.error() {
            return Err(error);
        }
        let result = match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        };
        if let Err(e) = result {
            self.record_error(&e);
            return Err(self.error().unwrap_or(e));
        }
        Ok(())
    }
}

struct Inner {
    writer: Writer,
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    /// Per TCP flow, the TLS key log lines already written into this file
    /// (each line once, whichever end's tap brought it).
    tls_keys: HashMap<(SocketAddr, SocketAddr), Vec<String>>,
    /// What each TLS connection in this file negotiated, for the report
    /// (at most [`MAX_TLS_RECORDED`]).
    tls_connections: Vec<super::tls::Negotiated>,
    /// Connections opened so far; feeds the initial sequence numbers.
    connections: u64,
    sent: Sent,
}

impl Inner {
    /// A datagram a harness socket sends: written, and remembered so that a
    /// harness socket receiving it does not write it again.
    fn udp_sent(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        self.writer.frame(src, dst, Transport::Udp, payload);
        let key = (src, dst, payload.len(), payload_hash(payload));
        *self.sent.datagrams.entry(key).or_insert(0) += 1;
        self.sent.order.push_back(key);
        if self.sent.order.len() > MAX_PENDING_DATAGRAMS
            && let Some(old) = self.sent.order.pop_front()
        {
            self.unremember(old);
        }
    }

    fn unremember(&mut self, key: (SocketAddr, SocketAddr, usize, u64)) -> bool {
        match self.sent.datagrams.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.sent.datagrams.remove(&key);
            }
            None => return false,
        }
        true
    }

    /// A datagram a harness socket received: written unless a harness socket
    /// already wrote it as its sender.
    fn udp_received(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let key = (src, dst, payload.len(), payload_hash(payload));
        if self.unremember(key) {
            if let Some(at) = self.sent.order.iter().rposition(|k| *k == key) {
                self.sent.order.remove(at);
            }
            return;
        }
        self.writer.frame(src, dst, Transport::Udp, payload);
    }

    /// A connection reported by one of its ends: the handshake is written
    /// unless the other end, a harness socket tapping this file too, already
    /// reported it.
    fn opened(&mut self, client: SocketAddr, server: SocketAddr, by: End) {
        let key = flow_key(client, server);
        if let Some(flow) = self.flows.get_mut(&key)
            && flow.client == client
            && flow.awaiting == Some(by)
        {
            flow.awaiting = None;
            return;
        }
        if self.sent.closed_awaiting.get(&key) == Some(&(client, by)) {
            self.sent.closed_awaiting.remove(&key);
            return;
        }
        self.connect(client, server);
        // A new connection on this 4-tuple: nothing sent on an older one counts.
        self.sent.stream_bytes.remove(&(client, server));
        self.sent.stream_bytes.remove(&(server, client));
        self.sent.closed_awaiting.remove(&key);
        if let Some(flow) = self.flows.get_mut(&key) {
            flow.awaiting = Some(match by {
                End::Connector => End::Acceptor,
                End::Acceptor => End::Connector,
            });
        }
    }

    /// The key log lines of the TLS connection on this flow that this file
    /// does not hold yet, as one Decryption Secrets Block.
    fn tls_keys(&mut self, a: SocketAddr, b: SocketAddr, key_log: &str) {
        if key_log.is_empty() {
            return;
        }
        let written = self.tls_keys.entry(flow_key(a, b)).or_default();
        let mut new = String::new();
        for line in key_log.lines().filter(|l| !l.trim().is_empty()) {
            if !written.iter().any(|w| w == line) {
                written.push(line.to_string());
                new.push_str(line);
                new.push('\n');
            }
        }
        self.writer.secrets(new.as_bytes());
    }

    /// Stream bytes a harness socket sends: written, and counted so that a
    /// harness socket receiving them does not write them again.
    fn tcp_sent(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        self.data(src, dst, payload);
        *self.sent.stream_bytes.entry((src, dst)).or_insert(0) += payload.len() as u64;
    }

    /// Stream bytes a harness socket received: those a harness socket already
    /// wrote as their sender are skipped, the rest written.
    fn tcp_received(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let known = self
            .sent
            .stream_bytes
            .get(&(src, dst))
            .copied()
            .unwrap_or(0);
        let skip = usize::try_from(known)
            .unwrap_or(usize::MAX)
            .min(payload.len());
        if skip > 0 {
            let left = known - skip as u64;
            if left == 0 {
                self.sent.stream_bytes.remove(&(src, dst));
            } else {
                self.sent.stream_bytes.insert((src, dst), left);
            }
        }
        if skip < payload.len() {
            self.data(src, dst, &payload[skip..]);
        }
    }

    fn connect(&mut self, client: SocketAddr, server: SocketAddr) {
        let connection = self.connections;
        self.connections += 1;
        let client_isn = initial_sequence_number(client, server, connection);
        let server_isn = initial_sequence_number(server, client, connection);
        let mss = match ip_pair(client.ip(), server.ip()) {
            IpPair::V4(..) => MSS_V4,
            IpPair::V6(..) => MSS_V6,
        };
        let w = &mut self.writer;
        let syn = Transport::Tcp {
            seq: client_isn,
            ack: 0,
            flags: TCP_SYN,
            mss: Some(mss),
        };
        w.frame(client, server, syn, &[]);
        let syn_ack = Transport::Tcp {
            seq: server_isn,
            ack: client_isn.wrapping_add(1),
            flags: TCP_SYN | TCP_ACK,
            mss: Some(mss),
        };
        w.frame(server, client, syn_ack, &[]);
        let ack = Transport::Tcp {
            seq: client_isn.wrapping_add(1),
            ack: server_isn.wrapping_add(1),
            flags: TCP_ACK,
            mss: None,
        };
        w.frame(client, server, ack, &[]);
        self.flows.insert(
            flow_key(client, server),
            Flow {
                client,
                from_client: Direction {
                    next_seq: client_isn.wrapping_add(1),
                    unacked: 0,
                },
                from_server: Direction {
                    next_seq: server_isn.wrapping_add(1),
                    unacked: 0,
                },
                awaiting: None,
            },
        );
    }

    fn data(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let key = flow_key(src, dst);
        if !self.flows.contains_key(&key) {
            self.connect(src, dst);
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let (sent, received) = flow.sides(src);
        for segment in payload.chunks(MAX_TCP_SEGMENT) {
            if self.writer.failed() {
                return;
            }
            let len = segment.len() as u64;
            if sent.unacked > 0 && sent.unacked + len > u64::from(TCP_WINDOW) {
                // The peer must acknowledge before the window admits this segment.
                let ack = Transport::Tcp {
                    seq: received.next_seq,
                    ack: sent.next_seq,
                    flags: TCP_ACK,
                    mss: None,
                };
                self.writer.frame(dst, src, ack, &[]);
                sent.unacked = 0;
            }
            let push = Transport::Tcp {
                seq: sent.next_seq,
                ack: received.next_seq,
                flags: TCP_PSH | TCP_ACK,
                mss: None,
            };
            self.writer.frame(src, dst, push, segment);
            sent.next_seq = sent.next_seq.wrapping_add(segment.len() as u32);
            sent.unacked += len;
            received.unacked = 0;
        }
    }

    fn close(&mut self, src: SocketAddr, dst: SocketAddr) {
        let key = flow_key(src, dst);
        self.tls_keys.remove(&key);
        let Some(mut flow) = self.flows.remove(&key) else {
            return;
        };
        if let Some(end) = flow.awaiting {
            self.sent.closed_awaiting.insert(key, (flow.client, end));
        }
        let (sent, received) = flow.sides(src);
        let w = &mut self.writer;
        let fin = Transport::Tcp {
            seq: sent.next_seq,
            ack: received.next_seq,
            flags: TCP_FIN | TCP_ACK,
            mss: None,
        };
        w.frame(src, dst, fin, &[]);
        sent.next_seq = sent.next_seq.wrapping_add(1); // FIN occupies one sequence number
        let peer_fin = Transport::Tcp {
            seq: received.next_seq,
            ack: sent.next_seq,
            flags: TCP_FIN | TCP_ACK,
            mss: None,
        };
        w.frame(dst, src, peer_fin, &[]);
        received.next_seq = received.next_seq.wrapping_add(1);
        let last_ack = Transport::Tcp {
            seq: sent.next_seq,
            ack: received.next_seq,
            flags: TCP_ACK,
            mss: None,
        };
        w.frame(src, dst, last_ack, &[]);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(mut out) = self.writer.out.take() {
            if self.writer.error.is_none() {
                let _ = out.flush();
            } else {
                // After a failed write the file is already incomplete; drop what is
                // buffered rather than appending it after a partial record.
                let _ = out.into_parts();
            }
        }
    }
}

/// A pcap file being written, or a capture that records nothing. Clones share the file.
#[derive(Clone)]
pub struct Capture {
    inner: Option<Arc<Mutex<Inner>>>,
    /// A switchable capture writes wherever it currently points (see
    /// [`Capture::switchable`]): for harness roles that live across scenarios.
    switch: Option<Arc<Switch>>,
    /// A routed capture writes each packet into the capture of the scenario
    /// that owns it (see [`Capture::routed`]).
    route: Option<Arc<Mutex<Routed>>>,
}

/// Where a switchable capture writes now, and where it writes between
/// scenarios.
struct Switch {
    now: Mutex<Capture>,
    home: Capture,
}

/// The scenarios a routed capture serves, and its run-level file.
struct Routed {
    router: super::route::Router,
    run_level: Capture,
    owners: HashMap<super::route::OwnerId, Capture>,
    /// TCP connections opened that carried nothing yet, by their two
    /// addresses in order: (connector, acceptor, which end reported it).
    /// Their handshake goes with their first bytes, into the files those
    /// go to, so that it is written once and beside its traffic (a
    /// connection that closes without bytes goes to the run-level file).
    opened: HashMap<(SocketAddr, SocketAddr), (SocketAddr, SocketAddr, End)>,
}

/// TLS connections a capture records for the report, at most.
pub const MAX_TLS_RECORDED: usize = 256;

/// Connections waiting for their first bytes, at most (past it, a
/// handshake goes to the run-level file at once).
const MAX_OPENED: usize = 4096;

/// A flow's key whichever way a packet goes.
fn flow(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Routed {
    /// The files a packet goes to: its owners', else the run-level one.
    fn targets(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: Option<&[u8]>,
    ) -> Vec<Capture> {
        let owners = payload.map_or_else(Vec::new, |p| self.router.classify(src, dst, p));
        let out: Vec<Capture> = owners
            .iter()
            .filter_map(|o| self.owners.get(o).cloned())
            .collect();
        let out = if out.is_empty() {
            vec![self.run_level.clone()]
        } else {
            out
        };
        // The files' names (each target's own lock, taken after this one's
        // as everywhere), only when someone reads them.
        if tracing::enabled!(tracing::Level::DEBUG) {
            let name = |c: &Capture| {
                c.path()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default()
            };
            let to: Vec<String> = out.iter().map(name).collect();
            tracing::debug!(
                role = %name(&self.run_level),
                %src,
                %dst,
                bytes = payload.map_or(0, <[u8]>::len),
                to = %to.join(","),
                "routing: packet captured into"
            );
        }
        out
    }
}

/// A scenario's claim on the packets of a routed capture that carry its
/// keys ([`Capture::claim`]); they go to the run-level file again once the
/// claim is dropped.
pub struct Claim {
    route: Option<std::sync::Weak<Mutex<Routed>>>,
    id: super::route::OwnerId,
}

impl Claim {
    fn with(&self, f: impl FnOnce(&mut super::route::Router, super::route::OwnerId)) {
        if let Some(r) = self.route.as_ref().and_then(|w| w.upgrade()) {
            f(
                &mut r.lock().unwrap_or_else(|e| e.into_inner()).router,
                self.id,
            );
        }
    }

    /// Packets that carry `key` (and what they lead to: responses, the rest
    /// of a call, an MSRP session) are this claim's from now on; `key` must
    /// be the scenario's own (made up fresh).
    pub fn key(&self, key: impl AsRef<[u8]>) {
        tracing::debug!(owner = self.id, key = %String::from_utf8_lossy(key.as_ref()), "routing: key claimed");
        self.with(|r, id| r.key(id, key.as_ref()));
    }

    /// Packets that carry `key` and no scenario's own key are this claim's
    /// too, and a copy goes to every other claim with the same weak key
    /// (the SUT's own REGISTER, which several scenarios may watch).
    pub fn weak_key(&self, key: impl AsRef<[u8]>) {
        tracing::debug!(owner = self.id, key = %String::from_utf8_lossy(key.as_ref()), "routing: weak key claimed");
        self.with(|r, id| r.weak_key(id, key.as_ref()));
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(r) = self.route.as_ref().and_then(|w| w.upgrade()) {
            let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
            tracing::debug!(
                owner = self.id,
                "routing: claim released, its keys go run-level"
            );
            r.router.release(self.id);
            r.owners.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim").field("id", &self.id).finish()
    }
}

impl Capture {
    /// Creates (truncates) the file and writes the pcap global header (linktype Ethernet, snaplen 262144).
    pub fn create(path: &Path) -> io::Result<Capture> {
        let file = File::create(path)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        write_pcap_header(&mut out)?;
        let writer = Writer {
            path: path.to_path_buf(),
            format: Format::Pcap,
            out: Some(out),
            error: None,
            frames: 0,
            bytes: PCAP_GLOBAL_HEADER_LEN,
            max_bytes: MAX_PCAP_BYTES,
            full: false,
            dropped: 0,
            last_timestamp: Duration::ZERO,
            ip_id: 0,
            headers: Vec::with_capacity(128),
        };
        Ok(Capture {
            inner: Some(Arc::new(Mutex::new(Inner {
                writer,
                flows: HashMap::new(),
                tls_keys: HashMap::new(),
                tls_connections: Vec::new(),
                connections: 0,
                sent: Sent::default(),
            }))),
            switch: None,
            route: None,
        })
    }

    /// A capture that records nothing (for `liaison reference` and tests).
    pub fn disabled() -> Capture {
        Capture {
            inner: None,
            switch: None,
            route: None,
        }
    }

    /// A capture for harness roles shared by several scenarios (a run-level
    /// SMSC, say): it writes into whatever capture it was last pointed at
    /// with [`Capture::point_to`] (nothing at first). Clones share the switch.
    pub fn switchable() -> Capture {
        Capture::switchable_home(Capture::disabled())
    }

    /// A switchable capture that writes into `home` (a run-level file)
    /// until it is pointed elsewhere, and again after [`Capture::point_home`]:
    /// what comes between scenarios, or before the first, is kept there.
    pub fn switchable_home(home: Capture) -> Capture {
        let home = home.resolve();
        Capture {
            inner: None,
            switch: Some(Arc::new(Switch {
                now: Mutex::new(home.clone()),
                home,
            })),
            route: None,
        }
    }

    /// Whether this is a switchable capture.
    pub fn is_switchable(&self) -> bool {
        self.switch.is_some()
    }

    /// Points a switchable capture back at its home (a no-op on others).
    pub fn point_home(&self) {
        if let Some(sw) = &self.switch {
            *sw.now.lock().unwrap_or_else(|e| e.into_inner()) = sw.home.clone();
        }
    }

    /// A switchable capture's home; a routed capture's run-level file.
    pub fn home(&self) -> Option<Capture> {
        match (&self.switch, &self.route) {
            (Some(sw), _) => Some(sw.home.clone()),
            (None, Some(r)) => Some(
                r.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .run_level
                    .clone(),
            ),
            (None, None) => None,
        }
    }

    /// A capture for a run-level role that serves several scenarios at
    /// once: each packet goes to the capture of the scenario whose keys it
    /// carries ([`Capture::claim`]; how, in [`super::route`]), the rest
    /// (binds, keep-alives, what comes after its scenario ended) to
    /// `run_level`. Clones share the routing.
    pub fn routed(run_level: Capture) -> Capture {
        Capture {
            inner: None,
            switch: None,
            route: Some(Arc::new(Mutex::new(Routed {
                router: Default::default(),
                run_level: run_level.resolve(),
                owners: HashMap::new(),
                opened: HashMap::new(),
            }))),
        }
    }

    /// Claims, for `target` (a scenario's capture), the packets of this
    /// routed capture that carry the keys given to the claim. On any other
    /// capture the claim does nothing.
    pub fn claim(&self, target: &Capture) -> Claim {
        let Some(route) = &self.route else {
            return Claim { route: None, id: 0 };
        };
        // Read before the routing lock (the target's own lock comes after it nowhere else).
        let (pcap, role) = if tracing::enabled!(tracing::Level::DEBUG) {
            (target.path(), self.home().and_then(|c| c.path()))
        } else {
            (None, None)
        };
        let mut r = route.lock().unwrap_or_else(|e| e.into_inner());
        let id = r.router.owner();
        tracing::debug!(
            owner = id,
            pcap = %pcap.as_deref().and_then(|p| p.file_name()).unwrap_or_default().to_string_lossy(),
            run_level = %role.as_deref().and_then(|p| p.file_name()).unwrap_or_default().to_string_lossy(),
            "routing: a scenario claims packets of a run-level role"
        );
        r.owners.insert(id, target.resolve());
        Claim {
            route: Some(Arc::downgrade(route)),
            id,
        }
    }

    /// Packets of a routed capture that no claim took (they are in its
    /// run-level file); 0 for other captures.
    pub fn unclaimed(&self) -> u64 {
        self.route.as_ref().map_or(0, |r| {
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .router
                .unclaimed()
        })
    }

    /// Where a packet goes when this capture stands for others (switchable,
    /// routed); `None` when it is a file (or disabled) itself.
    fn target(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: Option<&[u8]>,
    ) -> Option<Vec<Capture>> {
        if self.switch.is_some() {
            return Some(vec![self.resolve()]);
        }
        self.route.as_ref().map(|r| {
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .targets(src, dst, payload)
        })
    }

    /// A routed capture keeps a connection's opening until its first bytes
    /// ([`Routed::opened`]); true when it did.
    fn defer_open(&self, client: SocketAddr, server: SocketAddr, end: End) -> bool {
        let Some(r) = &self.route else {
            return false;
        };
        let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
        let key = flow(client, server);
        if r.opened.contains_key(&key) {
            return true;
        }
        if r.opened.len() >= MAX_OPENED {
            return false;
        }
        r.opened.insert(key, (client, server, end));
        true
    }

    /// Where stream bytes go ([`Capture::target`]); on a routed capture, a
    /// connection's opening kept back goes first into each of those files.
    fn stream_target(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Option<Vec<Capture>> {
        let targets = self.target(src, dst, Some(payload))?;
        if let Some(r) = &self.route {
            let opened = r
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .opened
                .remove(&flow(src, dst));
            if let Some((client, server, end)) = opened {
                for t in &targets {
                    t.open(client, server, end);
                }
            }
        }
        Some(targets)
    }

    /// A connection's opening as the end that reported it saw it.
    fn open(&self, client: SocketAddr, server: SocketAddr, end: End) {
        match end {
            End::Connector => self.tcp_connect(client, server),
            End::Acceptor => self.tcp_accepted(client, server),
        }
    }

    /// Points a switchable capture at `target` (a no-op on other captures).
    pub fn point_to(&self, target: &Capture) {
        if let Some(sw) = &self.switch {
            let plain = target.resolve();
            *sw.now.lock().unwrap_or_else(|e| e.into_inner()) = plain;
        }
    }

    /// The plain capture this one writes to now.
    fn resolve(&self) -> Capture {
        match (&self.switch, &self.route) {
            (Some(sw), _) => sw.now.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            (None, Some(r)) => r
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .run_level
                .clone(),
            (None, None) => self.clone(),
        }
    }

    fn lock(&self) -> Option<MutexGuard<'_, Inner>> {
        self.inner
            .as_ref()
            .map(|inner| inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The file being written, or `None` for a disabled capture.
    pub fn path(&self) -> Option<PathBuf> {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().path();
        }
        self.lock().map(|inner| inner.writer.path.clone())
    }

    /// One UDP datagram, as one Ethernet/IPv4|IPv6/UDP frame (fragmentation not needed; if payload > 65507 for v4, truncate the captured frame but keep orig_len honest).
    pub fn udp(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.target(src, dst, Some(payload)) {
            return ts.iter().for_each(|t| t.udp(src, dst, payload));
        }
        if let Some(mut inner) = self.lock() {
            inner.writer.frame(src, dst, Transport::Udp, payload);
        }
    }

    /// A TCP connection that a harness socket at `client` opened to `server`:
    /// synthesise SYN, SYN/ACK, ACK with consistent ISNs; nothing if the
    /// accepting end, a harness socket tapping this file, reported it first
    /// ([`Capture::tcp_accepted`]).
    pub fn tcp_connect(&self, client: SocketAddr, server: SocketAddr) {
        if self.defer_open(client, server, End::Connector) {
            return;
        }
        if let Some(ts) = self.target(client, server, None) {
            return ts.iter().for_each(|t| t.tcp_connect(client, server));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.opened(client, server, End::Connector);
        }
    }

    /// A TCP connection from `client` that a harness socket at `server`
    /// accepted: like [`Capture::tcp_connect`], but if the connecting end is
    /// a harness socket that already reported the connection to this file,
    /// nothing is written (and the connector's later report is skipped if
    /// this one came first).
    pub fn tcp_accepted(&self, client: SocketAddr, server: SocketAddr) {
        if self.defer_open(client, server, End::Acceptor) {
            return;
        }
        if let Some(ts) = self.target(client, server, None) {
            return ts.iter().for_each(|t| t.tcp_accepted(client, server));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.opened(client, server, End::Acceptor);
        }
    }

    /// A datagram a harness socket sends (tap it before sending): written
    /// as [`Capture::udp`] does, and remembered, so that a harness socket
    /// receiving it into the same file does not write it again.
    pub fn udp_sent(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.target(src, dst, Some(payload)) {
            return ts.iter().for_each(|t| t.udp_sent(src, dst, payload));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.udp_sent(src, dst, payload);
        }
    }

    /// A datagram a harness socket received: written, unless a harness
    /// socket wrote this very datagram (same addresses, ports and payload)
    /// into this file as its sender and no receiver claimed it yet.
    pub fn udp_received(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.target(src, dst, Some(payload)) {
            return ts.iter().for_each(|t| t.udp_received(src, dst, payload));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.udp_received(src, dst, payload);
        }
    }

    /// Stream bytes a harness socket sends (tap them before writing): as
    /// [`Capture::tcp_data`], and counted, so that a harness socket receiving
    /// them into the same file does not write them again.
    pub fn tcp_sent(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.stream_target(src, dst, payload) {
            return ts.iter().for_each(|t| t.tcp_sent(src, dst, payload));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.tcp_sent(src, dst, payload);
        }
    }

    /// Stream bytes a harness socket received from `src`: the first of them
    /// that a harness socket already wrote into this file as their sender
    /// (counted per direction) are skipped, the rest written as
    /// [`Capture::tcp_data`] does.
    pub fn tcp_received(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.stream_target(src, dst, payload) {
            return ts.iter().for_each(|t| t.tcp_received(src, dst, payload));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.tcp_received(src, dst, payload);
        }
    }

    /// TLS records a harness socket sends (tap them before writing), with
    /// the connection's key log so far (NSS format, `KeyLogLines`): the
    /// lines this file does not hold yet go in first, as a Decryption
    /// Secrets Block (the file becomes pcapng, see [`Capture::is_pcapng`]),
    /// then the records as [`Capture::tcp_sent`] writes them.
    pub fn tls_sent(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8], key_log: &str) {
        if let Some(ts) = self.stream_target(src, dst, payload) {
            return ts
                .iter()
                .for_each(|t| t.tls_sent(src, dst, payload, key_log));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.tls_keys(src, dst, key_log);
            inner.tcp_sent(src, dst, payload);
        }
    }

    /// TLS records a harness socket received and rustls processed, with the
    /// connection's key log so far: the new lines first (as
    /// [`Capture::tls_sent`]), then the records as [`Capture::tcp_received`]
    /// writes them.
    pub fn tls_received(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8], key_log: &str) {
        if let Some(ts) = self.stream_target(src, dst, payload) {
            return ts
                .iter()
                .for_each(|t| t.tls_received(src, dst, payload, key_log));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.tls_keys(src, dst, key_log);
            inner.tcp_received(src, dst, payload);
        }
    }

    /// Records what a TLS connection whose records go into this file
    /// negotiated (version, suite, how the peer's certificate was checked),
    /// for the report; past [`MAX_TLS_RECORDED`] connections, no more.
    pub fn tls_negotiated(&self, n: &super::tls::Negotiated) {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().tls_negotiated(n);
        }
        if let Some(mut inner) = self.lock()
            && inner.tls_connections.len() < MAX_TLS_RECORDED
        {
            inner.tls_connections.push(n.clone());
        }
    }

    /// What the TLS connections of this file negotiated, in the order their
    /// handshakes completed.
    pub fn tls_connections(&self) -> Vec<super::tls::Negotiated> {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().tls_connections();
        }
        self.lock()
            .map(|inner| inner.tls_connections.clone())
            .unwrap_or_default()
    }

    /// Whether the file is pcapng now (it became so when the first TLS
    /// secrets went in); false for classic pcap and disabled captures.
    pub fn is_pcapng(&self) -> bool {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().is_pcapng();
        }
        self.lock()
            .is_some_and(|inner| inner.writer.format == Format::PcapNg)
    }

    /// Bytes sent on an established flow from src to dst: segments of at most 32000 bytes payload, PSH|ACK, sequence numbers continuing the flow, ack number = peer's next seq. If the flow is unknown (no tcp_connect seen), synthesise the handshake first (src treated as client).
    pub fn tcp_data(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        if let Some(ts) = self.stream_target(src, dst, payload) {
            return ts.iter().for_each(|t| t.tcp_data(src, dst, payload));
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.data(src, dst, payload);
        }
    }

    /// Orderly close initiated by src: FIN|ACK from src, FIN|ACK from dst, ACK from src; forget the flow. Unknown flow: no-op.
    pub fn tcp_close(&self, src: SocketAddr, dst: SocketAddr) {
        if self.switch.is_some() {
            return self.resolve().tcp_close(src, dst);
        }
        if let Some(r) = &self.route {
            // A connection that carried nothing: its opening and closing
            // go to the run-level file.
            let unused = {
                let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
                r.opened
                    .remove(&flow(src, dst))
                    .map(|o| (o, r.run_level.clone()))
            };
            if let Some(((client, server, end), run_level)) = unused {
                run_level.open(client, server, end);
                return run_level.tcp_close(src, dst);
            }
            // Every file that has seen the flow closes it (a file that has
            // not ignores the close).
            let all: Vec<Capture> = {
                let r = r.lock().unwrap_or_else(|e| e.into_inner());
                std::iter::once(r.run_level.clone())
                    .chain(r.owners.values().cloned())
                    .collect()
            };
            for c in all {
                c.tcp_close(src, dst);
            }
            return;
        }
        if let Some(mut inner) = self.lock()
            && !inner.writer.failed()
        {
            inner.close(src, dst);
        }
    }

    /// At the end of a run: the openings a routed capture still keeps back
    /// (connections that carried nothing and did not close) go to its
    /// run-level file, so that no packet is lost (a no-op on others).
    pub fn write_pending_openings(&self) {
        let Some(r) = &self.route else {
            return;
        };
        let (pending, run_level) = {
            let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
            let mut pending: Vec<_> = r.opened.drain().map(|(_, o)| o).collect();
            pending.sort_by_key(|o| (o.0, o.1));
            (pending, r.run_level.clone())
        };
        for (client, server, end) in pending {
            run_level.open(client, server, end);
        }
    }

    /// Flush buffered frames to disk. Returns the first write error seen so far, if any.
    pub fn flush(&self) -> io::Result<()> {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().flush();
        }
        match self.lock() {
            Some(mut inner) => inner.writer.flush(),
            None => Ok(()),
        }
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().frames();
        }
        self.lock().map_or(0, |inner| inner.writer.frames)
    }

    /// Frames left out because the file reached [`MAX_PCAP_BYTES`] (0
    /// while it has not).
    pub fn frames_dropped(&self) -> u64 {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().frames_dropped();
        }
        self.lock().map_or(0, |inner| inner.writer.dropped)
    }

    /// The file's size limit, in place of [`MAX_PCAP_BYTES`] (so that a
    /// test shows the cap without writing 256 MiB); of a file capture, or
    /// of the file a switchable or routed one writes into now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn set_max_bytes(&self, max_bytes: u64) {
        if self.switch.is_some() || self.route.is_some() {
            return self.resolve().set_max_bytes(max_bytes);
        }
        if let Some(mut inner) = self.lock() {
            inner.writer.max_bytes = max_bytes;
        }
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.route.is_some() {
            return f.write_str("Capture(routed)");
        }
        if self.switch.is_some() {
            return f.write_str("Capture(switchable)");
        }
        let Some(inner) = &self.inner else {
            return f.write_str("Capture(disabled)");
        };
        // try_lock: formatting must not deadlock in a thread that holds the lock.
        let inner = match inner.try_lock() {
            Ok(inner) => inner,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return f.debug_struct("Capture").finish_non_exhaustive();
            }
        };
        f.debug_struct("Capture")
            .field("path", &inner.writer.path)
            .field("frames", &inner.writer.frames)
            .field("frames_dropped", &inner.writer.dropped)
            .field("failed", &inner.writer.error.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;
    use std::collections::BTreeMap;
    use std::process::Command;

    /// A temporary pcap path, removed when the test passes (kept for inspection if not).
    struct TempPcap(PathBuf);

    impl TempPcap {
        fn new(name: &str) -> TempPcap {
            TempPcap(std::env::temp_dir().join(format!(
                "liaison-capture-test-{}-{name}.pcap",
                std::process::id()
            )))
        }
    }

    impl Drop for TempPcap {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn sip_options(local: &str, host: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-liaison-1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=liaison1\r\n\
             To: <sip:bob@example.com>\r\n\
             Call-ID: liaison-capture-test@{host}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Contact: <sip:alice@{local}>\r\n\
             Accept: application/sdp\r\n\
             Content-Length: 0\r\n\
             \r\n"
        )
        .into_bytes()
    }

    /// Checksum computed the slow, obvious way (RFC 1071 section 4.1 style), to check
    /// the optimised sum against.
    fn naive_checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u32::from(data[i]) << 8;
            let lo = data.get(i + 1).map_or(0, |&b| u32::from(b));
            sum += hi | lo;
            if sum > 0xFFFF {
                sum = (sum & 0xFFFF) + 1;
            }
            i += 2;
        }
        !(sum as u16)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
        mss: Option<u16>,
    }

    #[derive(Debug)]
    struct Parsed {
        src: SocketAddr,
        dst: SocketAddr,
        tcp: Option<Tcp>,
        payload: Vec<u8>,
        ipv4_id: Option<u16>,
    }

    fn be16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Parses a frame written by the capture, asserting every header field and every
    /// checksum is as specified. Checksums are re-verified with [`naive_checksum`]
    /// over an independently assembled pseudo-header.
    fn parse(frame: &[u8]) -> Parsed {
        let src_mac = &frame[6..12];
        let dst_mac = &frame[0..6];
        assert_ne!(src_mac, dst_mac, "both ends have the same MAC");
        for mac in [src_mac, dst_mac] {
            assert!(
                mac == MAC_LOW || mac == MAC_HIGH,
                "unexpected MAC {mac:02x?}"
            );
        }
        let ethertype = be16(frame, 12);
        let ip = &frame[14..];
        let (src_ip, dst_ip, protocol, l4, pseudo, ipv4_id): (
            IpAddr,
            IpAddr,
            u8,
            &[u8],
            Vec<u8>,
            _,
        ) = match ethertype {
            0x0800 => {
                assert_eq!(ip[0], 0x45, "IPv4 version/IHL");
                let total = usize::from(be16(ip, 2));
                assert_eq!(total, ip.len(), "IPv4 total length vs captured frame");
                assert_eq!(be16(ip, 6), 0x4000, "DF set, not fragmented");
                assert_eq!(ip[8], 64, "TTL");
                assert_eq!(naive_checksum(&ip[..20]), 0, "IPv4 header checksum");
                assert_eq!(ipv4_checksum(&ip[..20]), 0, "IPv4 header checksum");
                let s: [u8; 4] = ip[12..16].try_into().unwrap();
                let d: [u8; 4] = ip[16..20].try_into().unwrap();
                let l4 = &ip[20..total];
                let mut pseudo = Vec::new();
                pseudo.extend_from_slice(&s);
                pseudo.extend_from_slice(&d);
                pseudo.extend_from_slice(&[0, ip[9]]);
                pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                (
                    IpAddr::from(s),
                    IpAddr::from(d),
                    ip[9],
                    l4,
                    pseudo,
                    Some(be16(ip, 4)),
                )
            }
            0x86DD => {
                assert_eq!(be32(ip, 0), 0x6000_0000, "IPv6 version/class/flow label");
                let len = usize::from(be16(ip, 4));
                assert_eq!(len + 40, ip.len(), "IPv6 payload length vs captured frame");
                assert_eq!(ip[7], 64, "hop limit");
                let s: [u8; 16] = ip[8..24].try_into().unwrap();
                let d: [u8; 16] = ip[24..40].try_into().unwrap();
                let l4 = &ip[40..];
                let mut pseudo = Vec::new();
                pseudo.extend_from_slice(&s);
                pseudo.extend_from_slice(&d);
                pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
                pseudo.extend_from_slice(&[0, 0, 0, ip[6]]);
                (IpAddr::from(s), IpAddr::from(d), ip[6], l4, pseudo, None)
            }
            other => panic!("unexpected EtherType {other:#06x}"),
        };
        let mut whole = pseudo;
        whole.extend_from_slice(l4);
        assert_eq!(naive_checksum(&whole), 0, "transport checksum");
        let src = SocketAddr::new(src_ip, be16(l4, 0));
        let dst = SocketAddr::new(dst_ip, be16(l4, 2));
        let (src_mac_expected, _) = macs(src, dst);
        assert_eq!(src_mac, src_mac_expected, "MAC chosen by direction");
        match protocol {
            IPPROTO_UDP => {
                assert_eq!(usize::from(be16(l4, 4)), l4.len(), "UDP length");
                assert_ne!(be16(l4, 6), 0, "UDP checksum present");
                Parsed {
                    src,
                    dst,
                    tcp: None,
                    payload: l4[8..].to_vec(),
                    ipv4_id,
                }
            }
            IPPROTO_TCP => {
                let offset = usize::from(l4[12] >> 4) * 4;
                let flags = l4[13];
                assert_eq!(be16(l4, 14), 65535, "TCP window");
                assert_eq!(be16(l4, 18), 0, "urgent pointer");
                let mss = match offset {
                    20 => None,
                    24 => {
                        assert_eq!(&l4[20..22], &[2, 4], "MSS option kind/length");
                        Some(be16(l4, 22))
                    }
                    other => panic!("unexpected TCP header length {other}"),
                };
                assert_eq!(
                    mss.is_some(),
                    flags & TCP_SYN != 0,
                    "MSS option exactly on SYN and SYN/ACK"
                );
                Parsed {
                    src,
                    dst,
                    tcp: Some(Tcp {
                        seq: be32(l4, 4),
                        ack: be32(l4, 8),
                        flags,
                        mss,
                    }),
                    payload: l4[offset..].to_vec(),
                    ipv4_id,
                }
            }
            other => panic!("unexpected IP protocol {other}"),
        }
    }

    /// Reads a capture back with `pcap_file`, checking the global header, that every
    /// record is complete and that timestamps never decrease.
    fn read_back(path: &Path) -> Vec<(Vec<u8>, u32)> {
        let file = File::open(path).expect("open capture");
        let mut reader = PcapReader::new(file).expect("pcap global header");
        let header = reader.header();
        assert_eq!(header.datalink, DataLink::ETHERNET);
        assert_eq!(header.snaplen, SNAPLEN);
        assert_eq!(header.ts_resolution, TsResolution::MicroSecond);
        let mut frames = Vec::new();
        let mut last = Duration::ZERO;
        while let Some(packet) = reader.next_packet() {
            let packet = packet.expect("pcap record");
            assert!(packet.timestamp >= last, "timestamps go backwards");
            assert_eq!(packet.timestamp.subsec_nanos() % 1000, 0, "microseconds");
            last = packet.timestamp;
            frames.push((packet.data.into_owned(), packet.orig_len));
        }
        frames
    }

    /// Bytes one TCP connection carried, per direction.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    struct Stream {
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
        from_client: Vec<u8>,
        from_server: Vec<u8>,
    }

    /// What [`write_scenario`] wrote.
    struct Scenario {
        udp: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
        /// In order of connection.
        tcp: Vec<Stream>,
    }

    /// UDP over IPv4 and IPv6 (SIP OPTIONS on 5060), one IPv4 TCP flow with an explicit
    /// connect, data both ways including a payload that needs three segments, and a
    /// client close; one IPv6 TCP flow without connect (implicit handshake) closed by
    /// the server.
    fn write_scenario(path: &Path) -> (Capture, Scenario) {
        let capture = Capture::create(path).expect("create capture");
        let mut scenario = Scenario {
            udp: Vec::new(),
            tcp: Vec::new(),
        };

        let (ua4, proxy4) = (addr("192.0.2.1:5060"), addr("192.0.2.2:5060"));
        let options4 = sip_options("192.0.2.1:5060", "192.0.2.1");
        capture.udp(ua4, proxy4, &options4);
        scenario.udp.push((ua4, proxy4, options4));
        let (ua6, proxy6) = (addr("[2001:db8::1]:5060"), addr("[2001:db8::2]:5060"));
        let options6 = sip_options("[2001:db8::1]:5060", "2001:db8::1");
        capture.udp(ua6, proxy6, &options6);
        scenario.udp.push((ua6, proxy6, options6));

        let (client, server) = (addr("192.0.2.1:40001"), addr("192.0.2.2:40100"));
        let mut stream = Stream {
            client: Some(client),
            server: Some(server),
            ..Stream::default()
        };
        capture.tcp_connect(client, server);
        let sends = [
            (true, pattern(1000, 1)),
            (false, pattern(70_000, 2)),
            (true, pattern(200, 3)),
            (true, pattern(40_000, 4)),
            (false, Vec::new()),
            (false, pattern(5, 5)),
        ];
        for (from_client, bytes) in sends {
            if from_client {
                capture.tcp_data(client, server, &bytes);
                stream.from_client.extend_from_slice(&bytes);
            } else {
                capture.tcp_data(server, client, &bytes);
                stream.from_server.extend_from_slice(&bytes);
            }
        }
        capture.tcp_close(client, server);
        scenario.tcp.push(stream);

        let (client, server) = (addr("[2001:db8::1]:40002"), addr("[2001:db8::2]:40200"));
        let mut stream = Stream {
            client: Some(client),
            server: Some(server),
            ..Stream::default()
        };
        let request = pattern(10, 6);
        capture.tcp_data(client, server, &request);
        stream.from_client.extend_from_slice(&request);
        for bytes in [pattern(MAX_TCP_SEGMENT, 7), pattern(1, 8)] {
            capture.tcp_data(server, client, &bytes);
            stream.from_server.extend_from_slice(&bytes);
        }
        capture.tcp_close(server, client);
        scenario.tcp.push(stream);

        capture.flush().expect("flush");
        (capture, scenario)
    }

    #[derive(Default)]
    struct DirectionCheck {
        next_seq: Option<u32>,
        /// Highest sequence number the peer has acknowledged.
        acked: Option<u32>,
        fin: bool,
    }

    /// Follows every TCP connection in `frames`, asserting sequence and acknowledgement
    /// continuity per direction, segment size, window, and the handshake and close
    /// shapes; returns each connection's reassembled bytes in order of appearance.
    fn check_tcp(frames: &[Parsed]) -> Vec<Stream> {
        let mut open: BTreeMap<(SocketAddr, SocketAddr), usize> = BTreeMap::new();
        let mut streams: Vec<Stream> = Vec::new();
        let mut state: Vec<BTreeMap<SocketAddr, DirectionCheck>> = Vec::new();
        for frame in frames {
            let Some(tcp) = frame.tcp else { continue };
            let key = flow_key(frame.src, frame.dst);
            let len = frame.payload.len() as u32;
            assert!(frame.payload.len() <= MAX_TCP_SEGMENT, "segment too large");
            if tcp.flags == TCP_SYN {
                assert!(!open.contains_key(&key), "SYN on an open flow");
                assert_eq!(tcp.ack, 0);
                assert_eq!(len, 0);
                open.insert(key, streams.len());
                streams.push(Stream {
                    client: Some(frame.src),
                    server: Some(frame.dst),
                    ..Stream::default()
                });
                let mut dirs = BTreeMap::new();
                dirs.insert(
                    frame.src,
                    DirectionCheck {
                        next_seq: Some(tcp.seq.wrapping_add(1)),
                        ..DirectionCheck::default()
                    },
                );
                dirs.insert(frame.dst, DirectionCheck::default());
                state.push(dirs);
                continue;
            }
            let index = *open.get(&key).expect("segment on a flow without SYN");
            let dirs = &mut state[index];
            let peer_next = dirs[&frame.dst].next_seq.expect("peer SYN seen");
            if tcp.flags == TCP_SYN | TCP_ACK {
                assert_eq!(
                    Some(frame.src),
                    streams[index].server,
                    "SYN/ACK from server"
                );
                assert_eq!(tcp.ack, peer_next, "SYN/ACK acknowledges the SYN");
                assert!(dirs[&frame.src].next_seq.is_none(), "second SYN/ACK");
                let me = dirs.get_mut(&frame.src).unwrap();
                me.next_seq = Some(tcp.seq.wrapping_add(1));
                me.acked = Some(tcp.seq.wrapping_add(1));
                dirs.get_mut(&frame.dst).unwrap().acked = Some(tcp.ack);
                continue;
            }
            assert!(tcp.flags & TCP_ACK != 0, "ACK set after the handshake");
            assert_eq!(tcp.flags & !(TCP_ACK | TCP_PSH | TCP_FIN), 0, "flags");
            let me = &dirs[&frame.src];
            let fin = tcp.flags & TCP_FIN != 0;
            assert!(
                !me.fin || (len == 0 && !fin),
                "only a pure ACK may follow a FIN"
            );
            let expected = me.next_seq.expect("own SYN seen");
            assert_eq!(tcp.seq, expected, "sequence continuity {frame:?}");
            assert_eq!(tcp.ack, peer_next, "ack = peer's next sequence number");
            if len > 0 {
                assert_eq!(tcp.flags, TCP_PSH | TCP_ACK, "data segments are PSH|ACK");
                let acked = me.acked.expect("acked");
                let in_flight = tcp.seq.wrapping_add(len).wrapping_sub(acked);
                assert!(in_flight <= 65_535, "bytes in flight exceed the window");
            }
            let me = dirs.get_mut(&frame.src).unwrap();
            me.next_seq = Some(expected.wrapping_add(len).wrapping_add(u32::from(fin)));
            me.fin |= fin;
            dirs.get_mut(&frame.dst).unwrap().acked = Some(tcp.ack);
            let stream = &mut streams[index];
            if Some(frame.src) == stream.client {
                stream.from_client.extend_from_slice(&frame.payload);
            } else {
                stream.from_server.extend_from_slice(&frame.payload);
            }
            // Both FINs sent and this is the final ACK: the connection is over.
            if !fin && len == 0 && dirs.values().all(|d| d.fin) {
                open.remove(&key);
            }
        }
        assert!(open.is_empty(), "connections left open: {open:?}");
        streams
    }

    /// A routed capture writes a connection's opening once, into the file
    /// its first bytes go to; a connection that carried nothing goes to
    /// the run-level file, opening and close.
    #[test]
    fn a_routed_connection_opens_where_its_bytes_go() {
        let (run_path, own_path) = (TempPcap::new("routed-run"), TempPcap::new("routed-own"));
        let run_level = Capture::create(&run_path.0).expect("create");
        let own = Capture::create(&own_path.0).expect("create");
        let routed = Capture::routed(run_level.clone());
        let claim = routed.claim(&own);
        claim.key("T3fa9c0ffee");
        let (client, server) = (addr("127.0.0.1:40000"), addr("127.0.0.1:8080"));
        routed.tcp_accepted(client, server);
        routed.tcp_received(client, server, b"GET /mms/T3fa9c0ffee HTTP/1.1\r\n\r\n");
        routed.tcp_sent(server, client, b"HTTP/1.1 404 Not Found\r\n\r\n");
        routed.tcp_close(client, server);
        let idle = addr("127.0.0.1:40001");
        routed.tcp_accepted(idle, server);
        routed.tcp_close(idle, server);
        // Open and silent when the run ends: its opening is still written.
        let silent = addr("127.0.0.1:40002");
        routed.tcp_accepted(silent, server);
        routed.write_pending_openings();
        own.flush().unwrap();
        run_level.flush().unwrap();
        let flags = |p: &Path| -> Vec<(u16, u8, usize)> {
            read_back(p)
                .iter()
                .map(|(f, _)| parse(f))
                .map(|x| (x.src.port(), x.tcp.map_or(0, |t| t.flags), x.payload.len()))
                .collect()
        };
        let own_frames = flags(&own_path.0);
        assert_eq!(own_frames.len(), 3 + 2 + 3, "{own_frames:?}");
        assert_eq!(own_frames[0], (40000, TCP_SYN, 0));
        let run_frames = flags(&run_path.0);
        assert_eq!(run_frames.len(), 3 + 3 + 3, "{run_frames:?}");
        assert!(run_frames
            .iter()
            .all(|f| f.0 == 40001 || f.0 == 40002 || f.0 == 8080));
        assert_eq!(run_frames[0], (40001, TCP_SYN, 0));
    }

    /// The blocks of a pcapng file: (type, body), little-endian as written.
    fn pcapng_blocks(path: &Path) -> Vec<(u32, Vec<u8>)> {
        let bytes = std::fs::read(path).expect("read capture");
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let ty = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            assert!(
                len >= 12 && len.is_multiple_of(4) && at + len <= bytes.len(),
                "block at {at}"
            );
            let trailer = u32::from_le_bytes(bytes[at + len - 4..at + len].try_into().unwrap());
            assert_eq!(
                trailer as usize, len,
                "trailing length of the block at {at}"
            );
            out.push((ty, bytes[at + 8..at + len - 4].to_vec()));
            at += len;
        }
        out
    }

    /// The frames of a pcapng file (data, original length), with its DSBs'
    /// key logs in order among them as `(secrets, u32::MAX)`.
    fn pcapng_items(path: &Path) -> Vec<(Vec<u8>, u32)> {
        let blocks = pcapng_blocks(path);
        assert_eq!(blocks[0].0, PCAPNG_SHB);
        assert_eq!(&blocks[0].1[..4], &PCAPNG_BOM.to_le_bytes());
        assert_eq!(blocks[1].0, PCAPNG_IDB);
        assert_eq!(&blocks[1].1[..2], &1u16.to_le_bytes(), "Ethernet");
        blocks[2..]
            .iter()
            .map(|(ty, b)| match *ty {
                PCAPNG_EPB => {
                    let cap = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
                    let orig = u32::from_le_bytes(b[16..20].try_into().unwrap());
                    (b[20..20 + cap].to_vec(), orig)
                }
                PCAPNG_DSB => {
                    assert_eq!(&b[..4], &SECRETS_TLS_KEY_LOG.to_le_bytes());
                    let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
                    (b[8..8 + len].to_vec(), u32::MAX)
                }
                other => panic!("unexpected block type {other:#x}"),
            })
            .collect()
    }

    const KEYS_1: &str =
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET 0101 aaaa\nSERVER_HANDSHAKE_TRAFFIC_SECRET 0101 bbbb\n";
    const KEYS_2: &str = "SERVER_HANDSHAKE_TRAFFIC_SECRET 0101 bbbb\nCLIENT_HANDSHAKE_TRAFFIC_SECRET 0101 aaaa\nCLIENT_TRAFFIC_SECRET_0 0101 cccc\n";

    /// A classic capture becomes pcapng at its first TLS secrets: the
    /// frames before are kept as they were, the secrets come before the
    /// records, each key log line goes in once per flow.
    #[test]
    fn tls_secrets_make_the_file_pcapng_before_the_records() {
        let (path, plain) = (TempPcap::new("tls-ng"), TempPcap::new("tls-plain"));
        let (a, b) = (addr("127.0.0.1:5060"), addr("127.0.0.1:5061"));
        let (c, s) = (addr("127.0.0.1:40000"), addr("127.0.0.1:5061"));
        let before = |cap: &Capture| {
            cap.udp(a, b, b"OPTIONS before");
            cap.tcp_connect(c, s);
        };
        let reference = Capture::create(&plain.0).unwrap();
        before(&reference);
        reference.flush().unwrap();
        let cap = Capture::create(&path.0).unwrap();
        before(&cap);
        assert!(!cap.is_pcapng());
        cap.tls_sent(c, s, b"\x16\x03\x01client hello", "");
        assert!(!cap.is_pcapng(), "no secrets yet, still classic pcap");
        cap.tls_received(s, c, b"\x16\x03\x03server flight", KEYS_1);
        assert!(cap.is_pcapng());
        // The same lines from the other end, in another order, and one new.
        cap.tls_sent(c, s, b"\x17\x03\x03finished", KEYS_2);
        cap.tls_sent(c, s, b"\x17\x03\x03data", KEYS_2);
        cap.tcp_close(c, s);
        assert_eq!(cap.frames(), 1 + 3 + 4 + 3);
        cap.flush().unwrap();
        let items = pcapng_items(&path.0);
        let old = read_back(&plain.0);
        assert_eq!(
            items[..old.len()],
            old[..],
            "frames before the upgrade kept"
        );
        let kinds: Vec<String> = items[old.len()..]
            .iter()
            .map(|(d, orig)| {
                if *orig == u32::MAX {
                    String::from_utf8_lossy(d).into_owned()
                } else {
                    format!("frame {}", parse(d).payload.len())
                }
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "frame 15".to_string(),
                KEYS_1.to_string(),
                "frame 16".into(),
                "CLIENT_TRAFFIC_SECRET_0 0101 cccc\n".into(),
                "frame 11".into(),
                "frame 7".into(),
                "frame 0".into(),
                "frame 0".into(),
                "frame 0".into(),
            ]
        );
        // Every frame's TCP checksum and sequence still hold (the reader
        // the other tests use, over the frames).
        let frames: Vec<Parsed> = items
            .iter()
            .filter(|i| i.1 != u32::MAX)
            .map(|(d, _)| parse(d))
            .collect();
        check_tcp(&frames);
        // And tshark reads it.
        let out = Command::new("tshark")
            .args([
                "-r",
                path.0.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "frame.number",
            ])
            .output();
        if let Ok(o) = out {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 11);
        }
    }

    /// Secrets follow the records into whichever file they go: a routed
    /// capture's scenario file, a switchable capture's file of the moment.
    #[test]
    fn tls_secrets_follow_routed_and_switched_records() {
        let (run_path, own_path) = (TempPcap::new("tls-run"), TempPcap::new("tls-own"));
        let run_level = Capture::create(&run_path.0).unwrap();
        let own = Capture::create(&own_path.0).unwrap();
        let routed = Capture::routed(run_level.clone());
        let claim = routed.claim(&own);
        claim.key("K7e11");
        let (c, s) = (addr("127.0.0.1:40010"), addr("127.0.0.1:5061"));
        routed.tcp_accepted(c, s);
        routed.tls_received(c, s, b"record for K7e11", KEYS_1);
        routed.tls_sent(s, c, b"record for nobody", KEYS_1);
        routed.tcp_close(c, s);
        own.flush().unwrap();
        run_level.flush().unwrap();
        for (p, payload) in [
            (&own_path.0, &b"record for K7e11"[..]),
            (&run_path.0, b"record for nobody"),
        ] {
            let items = pcapng_items(p);
            let dsb = items.iter().position(|i| i.1 == u32::MAX).expect("a DSB");
            let rec = items
                .iter()
                .position(|i| i.1 != u32::MAX && parse(&i.0).payload == payload)
                .expect("the record");
            assert!(dsb < rec, "{}: secrets after the record", p.display());
            assert_eq!(items[dsb].0, KEYS_1.as_bytes());
        }
        drop(claim);

        let (home_path, a_path) = (TempPcap::new("tls-home"), TempPcap::new("tls-a"));
        let home = Capture::create(&home_path.0).unwrap();
        let a = Capture::create(&a_path.0).unwrap();
        let sw = Capture::switchable_home(home.clone());
        let (c, s) = (addr("127.0.0.1:40011"), addr("127.0.0.1:5061"));
        sw.point_to(&a);
        sw.tcp_connect(c, s);
        sw.tls_sent(c, s, b"first", KEYS_1);
        sw.point_home();
        sw.tls_received(s, c, b"second", KEYS_1);
        home.flush().unwrap();
        a.flush().unwrap();
        for p in [&home_path.0, &a_path.0] {
            let items = pcapng_items(p);
            assert_eq!(
                items.iter().filter(|i| i.1 == u32::MAX).count(),
                1,
                "{}",
                p.display()
            );
        }
    }

    /// A switchable capture with a home writes there before and between
    /// the scenarios it is pointed at.
    #[test]
    fn a_switchable_capture_goes_home_between_scenarios() {
        let (home_path, own_path) = (TempPcap::new("sw-home"), TempPcap::new("sw-own"));
        let home = Capture::create(&home_path.0).expect("create");
        let own = Capture::create(&own_path.0).expect("create");
        let sw = Capture::switchable_home(home.clone());
        let (a, b) = (addr("127.0.0.1:5060"), addr("127.0.0.1:5070"));
        sw.udp(a, b, b"before");
        sw.point_to(&own);
        sw.udp(a, b, b"during");
        sw.point_home();
        sw.udp(a, b, b"after");
        assert!(sw.is_switchable());
        assert_eq!(sw.home().and_then(|h| h.path()), Some(home_path.0.clone()));
        home.flush().unwrap();
        own.flush().unwrap();
        let payloads = |p: &Path| -> Vec<Vec<u8>> {
            read_back(p).iter().map(|(f, _)| parse(f).payload).collect()
        };
        assert_eq!(
            payloads(&home_path.0),
            [b"before".to_vec(), b"after".to_vec()]
        );
        assert_eq!(payloads(&own_path.0), [b"during".to_vec()]);
    }

    #[test]
    fn ipv4_checksum_known_vector() {
        // A 20-byte IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, length 0x73)
        // whose header checksum is 0xB861.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&header), 0xB861);
        header[10..12].copy_from_slice(&0xB861u16.to_be_bytes());
        assert_eq!(ipv4_checksum(&header), 0);
    }

    #[test]
    fn optimised_sum_matches_naive_checksum() {
        for len in [0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 1499, 65_535] {
            for seed in [0u8, 0x5A, 0xFF] {
                let data = pattern(len, seed);
                assert_eq!(internet_checksum(&data), naive_checksum(&data), "len {len}");
            }
        }
        let ones = vec![0xFFu8; 70_001];
        assert_eq!(internet_checksum(&ones), naive_checksum(&ones));
    }

    #[test]
    fn build_frame_headers_and_checksums() {
        let payload = pattern(333, 9);
        let cases = [
            (addr("192.0.2.1:5060"), addr("192.0.2.2:5062")),
            (addr("192.0.2.2:5062"), addr("192.0.2.1:5060")),
            (addr("[2001:db8::1]:5060"), addr("[2001:db8::2]:5060")),
        ];
        for (src, dst) in cases {
            let (frame, orig_len) = build_frame(src, dst, 7, Transport::Udp, &payload);
            assert_eq!(orig_len as usize, frame.len());
            let parsed = parse(&frame);
            assert_eq!((parsed.src, parsed.dst), (src, dst));
            assert_eq!(parsed.payload, payload);
            assert!(parsed.tcp.is_none());
            let tcp = Transport::Tcp {
                seq: 0xFFFF_FFF0,
                ack: 42,
                flags: TCP_SYN | TCP_ACK,
                mss: Some(1460),
            };
            let (frame, _) = build_frame(src, dst, 8, tcp, &[]);
            let parsed = parse(&frame);
            assert_eq!(
                parsed.tcp,
                Some(Tcp {
                    seq: 0xFFFF_FFF0,
                    ack: 42,
                    flags: TCP_SYN | TCP_ACK,
                    mss: Some(1460)
                })
            );
        }
        let (frame, _) = build_frame(cases[0].0, cases[0].1, 0xBEEF, Transport::Udp, &[]);
        assert_eq!(parse(&frame).ipv4_id, Some(0xBEEF));
    }

    #[test]
    fn mixed_families_become_ipv4_mapped_ipv6() {
        let v4 = addr("192.0.2.1:5060");
        let v6 = addr("[2001:db8::2]:5060");
        for (src, dst) in [(v4, v6), (v6, v4)] {
            let (frame, _) = build_frame(src, dst, 0, Transport::Udp, b"hello");
            assert_eq!(be16(&frame, 12), ETHERTYPE_IPV6);
            let parsed = parse(&frame);
            let mapped = |a: SocketAddr| SocketAddr::new(IpAddr::V6(as_v6(a.ip())), a.port());
            assert_eq!((parsed.src, parsed.dst), (mapped(src), mapped(dst)));
            assert_eq!(parsed.payload, b"hello");
        }
        let path = TempPcap::new("mixed");
        let capture = Capture::create(&path.0).expect("create");
        capture.tcp_data(v4, v6, b"x");
        capture.tcp_close(v6, v4);
        capture.flush().expect("flush");
        let frames: Vec<Parsed> = read_back(&path.0).iter().map(|(f, _)| parse(f)).collect();
        let streams = check_tcp(&frames);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].from_client, b"x");
    }

    #[test]
    fn oversized_udp_is_truncated_with_honest_orig_len() {
        let v4 = (addr("192.0.2.1:5060"), addr("192.0.2.2:5060"));
        let v6 = (addr("[2001:db8::1]:5060"), addr("[2001:db8::2]:5060"));
        for ((src, dst), headers, fits) in [(v4, 42, 65_507), (v6, 62, 65_527)] {
            for len in [fits, fits + 1, 70_000] {
                let payload = pattern(len, 3);
                let (frame, orig_len) = build_frame(src, dst, 1, Transport::Udp, &payload);
                assert_eq!(orig_len as usize, headers + len);
                assert_eq!(frame.len(), headers + len.min(fits));
                let parsed = parse(&frame);
                assert_eq!(parsed.payload, &payload[..len.min(fits)]);
            }
        }
        let path = TempPcap::new("oversized");
        let capture = Capture::create(&path.0).expect("create");
        capture.udp(v4.0, v4.1, &pattern(70_000, 1));
        capture.flush().expect("flush");
        let frames = read_back(&path.0);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0.len(), 42 + 65_507);
        assert_eq!(frames[0].1, 42 + 70_000);
    }

    #[test]
    fn capture_reads_back_with_valid_checksums_and_tcp_continuity() {
        let path = TempPcap::new("roundtrip");
        let (capture, scenario) = write_scenario(&path.0);
        let raw = read_back(&path.0);
        assert_eq!(raw.len() as u64, capture.frames());
        for (data, orig_len) in &raw {
            assert_eq!(*orig_len as usize, data.len(), "nothing truncated");
        }
        let frames: Vec<Parsed> = raw.iter().map(|(data, _)| parse(data)).collect();

        let ids: Vec<u16> = frames.iter().filter_map(|f| f.ipv4_id).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]), "IPv4 ids increase");

        let udp: Vec<_> = frames
            .iter()
            .filter(|f| f.tcp.is_none())
            .map(|f| (f.src, f.dst, f.payload.clone()))
            .collect();
        assert_eq!(udp, scenario.udp);

        let streams = check_tcp(&frames);
        assert_eq!(streams, scenario.tcp);
        assert!(
            frames
                .iter()
                .any(|f| f.tcp.is_some() && f.payload.len() == MAX_TCP_SEGMENT),
            "large payloads were segmented at the maximum size"
        );
        let mss: Vec<u16> = frames.iter().filter_map(|f| f.tcp?.mss).collect();
        assert_eq!(mss, [MSS_V4, MSS_V4, MSS_V6, MSS_V6]);
    }

    /// Runs tshark; a missing tshark fails the test: these checks are never skipped.
    fn tshark(args: &[&str]) -> String {
        let output = match Command::new("tshark").args(args).output() {
            Ok(output) => output,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "tshark is not on PATH: install tshark (Debian/Ubuntu: `apt-get install tshark`) \
                 to run the capture checks; they are never skipped"
            ),
            Err(e) => panic!("cannot run tshark: {e}"),
        };
        assert!(
            output.status.success(),
            "tshark {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn unhex(text: &str) -> Vec<u8> {
        assert!(text.len().is_multiple_of(2), "odd hex length");
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// A `Node n:` address of follow output: `192.0.2.1:40001` or `[2001:db8::1]:40002`
    /// (also accepted without brackets, splitting at the last colon).
    fn node_address(text: &str) -> SocketAddr {
        let text = text.trim();
        text.parse().unwrap_or_else(|_| {
            let (ip, port) = text.rsplit_once(':').expect("address:port");
            SocketAddr::new(
                ip.parse().expect("node ip"),
                port.parse().expect("node port"),
            )
        })
    }

    /// Bytes of TCP stream `index` as tshark reassembles them (`-z follow,tcp,raw`):
    /// lines after the `Node 1:` header, indented ones sent by node 1 (the server).
    fn tshark_follow(file: &str, index: usize) -> Stream {
        let spec = format!("follow,tcp,raw,{index}");
        let output = tshark(&["-n", "-r", file, "-q", "-z", &spec]);
        let mut stream = Stream::default();
        let mut in_data = false;
        for line in output.lines() {
            if let Some(node) = line.strip_prefix("Node 0: ") {
                stream.client = Some(node_address(node));
            } else if let Some(node) = line.strip_prefix("Node 1: ") {
                stream.server = Some(node_address(node));
                in_data = true;
            } else if line.starts_with("====") {
                in_data = false;
            } else if in_data {
                if let Some(hex) = line.strip_prefix('\t') {
                    stream.from_server.extend(unhex(hex.trim()));
                } else {
                    stream.from_client.extend(unhex(line.trim()));
                }
            }
        }
        stream
    }

    #[test]
    fn tshark_dissects_cleanly_and_reassembles() {
        let path = TempPcap::new("tshark");
        let (_capture, scenario) = write_scenario(&path.0);
        let file = path.0.to_str().expect("utf-8 temp path");
        let checksums = [
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ];

        let mut args = vec!["-n", "-r", file];
        args.extend(checksums);
        args.extend([
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 6291456",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ]);
        let bad = tshark(&args);
        assert!(
            bad.trim().is_empty(),
            "tshark reports malformed frames or warnings in frames: {bad}"
        );

        // No TCP analysis findings at all (retransmissions, dup ACKs, window problems),
        // not even at note level.
        let mut args = vec!["-n", "-r", file];
        args.extend([
            "-Y",
            "tcp.analysis.flags",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ]);
        let flagged = tshark(&args);
        assert!(
            flagged.trim().is_empty(),
            "TCP analysis flags frames: {flagged}"
        );

        let methods = tshark(&[
            "-n",
            "-r",
            file,
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "sip.Method",
        ]);
        assert_eq!(methods.lines().collect::<Vec<_>>(), ["OPTIONS", "OPTIONS"]);

        let streams = tshark(&[
            "-n",
            "-r",
            file,
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ]);
        let mut indices: Vec<usize> = streams
            .lines()
            .map(|l| l.trim().parse().expect("stream index"))
            .collect();
        indices.dedup();
        assert_eq!(indices, [0, 1]);
        for (index, expected) in scenario.tcp.iter().enumerate() {
            let followed = tshark_follow(file, index);
            assert_eq!(followed.client, expected.client, "stream {index} client");
            assert_eq!(followed.server, expected.server, "stream {index} server");
            assert!(
                followed.from_client == expected.from_client,
                "stream {index}: client bytes differ ({} vs {} bytes)",
                followed.from_client.len(),
                expected.from_client.len()
            );
            assert!(
                followed.from_server == expected.from_server,
                "stream {index}: server bytes differ ({} vs {} bytes)",
                followed.from_server.len(),
                expected.from_server.len()
            );
        }
    }

    #[test]
    fn tshark_accepts_truncated_oversized_datagram() {
        let path = TempPcap::new("tshark-oversized");
        let capture = Capture::create(&path.0).expect("create");
        capture.udp(
            addr("192.0.2.1:40000"),
            addr("192.0.2.2:40001"),
            &pattern(70_000, 1),
        );
        capture.udp(
            addr("[2001:db8::1]:40000"),
            addr("[2001:db8::2]:40001"),
            &pattern(70_000, 1),
        );
        capture.flush().expect("flush");
        let file = path.0.to_str().expect("utf-8 temp path");
        let bad = tshark(&[
            "-n",
            "-r",
            file,
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 6291456",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ]);
        assert!(bad.trim().is_empty(), "tshark flags: {bad}");
        let lengths = tshark(&[
            "-n",
            "-r",
            file,
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ]);
        assert_eq!(
            lengths.lines().collect::<Vec<_>>(),
            ["70042\t65549", "70062\t65589"]
        );
    }

    /// `/dev/full` accepts `open` and fails every write with ENOSPC.
    #[test]
    #[cfg(target_os = "linux")]
    fn write_error_is_remembered_not_panicked() {
        let full = Path::new("/dev/full");
        assert!(full.exists(), "/dev/full is needed for this test on Linux");
        let capture = Capture::create(full).expect("opening /dev/full succeeds");
        let payload = pattern(1000, 0);
        for _ in 0..1000 {
            capture.udp(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), &payload);
        }
        let frames = capture.frames();
        assert!(frames < 1000, "1 MB cannot have been written to /dev/full");
        capture.tcp_data(addr("192.0.2.1:1"), addr("192.0.2.2:2"), &payload);
        capture.tcp_close(addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        capture.tcp_connect(addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        assert_eq!(capture.frames(), frames, "calls after the error are no-ops");
        let error = capture.flush().expect_err("flush reports the write error");
        assert!(error.to_string().contains("/dev/full"), "{error}");
        assert!(capture.flush().is_err(), "the error stays");
        drop(capture);

        // An error that surfaces only at flush is reported the same way.
        let capture = Capture::create(full).expect("create");
        capture.udp(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), b"x");
        assert_eq!(capture.frames(), 1);
        assert!(capture.flush().is_err());
        capture.udp(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), b"x");
        assert_eq!(capture.frames(), 1);
    }

    /// The frames of a capture file, classic or pcapng (a DSB as its key
    /// log with original length `u32::MAX`, as [`pcapng_items`] gives it).
    fn items(path: &Path) -> Vec<(Vec<u8>, u32)> {
        let magic = std::fs::read(path).expect("read capture")[..4].to_vec();
        if magic == PCAPNG_SHB.to_le_bytes() {
            pcapng_items(path)
        } else {
            read_back(path)
        }
    }

    /// Traffic of every kind a capture writes: datagrams, a connection
    /// with segments that need window ACKs, and a close.
    fn capped_traffic(cap: &Capture) {
        let (a, b) = (addr("127.0.0.1:5060"), addr("127.0.0.1:5070"));
        let (c, s) = (addr("127.0.0.1:40000"), addr("127.0.0.1:5061"));
        for n in 0..5 {
            cap.udp(a, b, &pattern(1000, n));
        }
        cap.tcp_connect(c, s);
        cap.tcp_data(c, s, &pattern(100_000, 9));
        cap.tcp_data(s, c, b"200 OK");
        cap.udp(b, a, b"small");
        cap.tcp_close(c, s);
    }

    /// A file capped at any size holds the first frames of its traffic,
    /// whole, as an uncapped file has them, and never passes the cap; each
    /// frame left out is counted; a later frame small enough to fit is
    /// left out too (no gap in a TCP stream).
    #[test]
    fn a_capped_file_keeps_its_first_frames_and_counts_the_rest() {
        let whole = TempPcap::new("cap-whole");
        let reference = Capture::create(&whole.0).unwrap();
        capped_traffic(&reference);
        reference.flush().unwrap();
        let all = read_back(&whole.0);
        let total = all.len() as u64;
        assert_eq!(reference.frames(), total);
        assert_eq!(reference.frames_dropped(), 0);
        // Each size the file passes frame by frame, and a byte either side.
        let mut sizes = vec![0, PCAP_GLOBAL_HEADER_LEN];
        for (f, _) in &all {
            sizes.push(sizes[sizes.len() - 1] + (PCAP_RECORD_HEADER_LEN + f.len()) as u64);
        }
        let caps = sizes
            .iter()
            .flat_map(|s| [s.saturating_sub(1), *s, *s + 1, *s + 100]);
        let path = TempPcap::new("cap-capped");
        for max in caps {
            let cap = Capture::create(&path.0).unwrap();
            cap.set_max_bytes(max);
            capped_traffic(&cap);
            cap.flush().unwrap();
            let len = std::fs::metadata(&path.0).unwrap().len();
            assert!(len <= max.max(PCAP_GLOBAL_HEADER_LEN), "{len} > cap {max}");
            let kept = read_back(&path.0);
            assert_eq!(kept[..], all[..kept.len()], "cap {max}: the first frames");
            assert_eq!(cap.frames(), kept.len() as u64);
            assert_eq!(cap.frames_dropped(), total - kept.len() as u64, "cap {max}");
            if let Some((next, _)) = all.get(kept.len()) {
                let next = (PCAP_RECORD_HEADER_LEN + next.len()) as u64;
                assert!(len + next > max, "cap {max}: the next frame would have fit");
            }
        }
        // One that refuses a 32000-byte segment, then would take the
        // 54-byte ACKs and the small datagram: tshark reads it cleanly.
        let first_segment = all.iter().position(|(f, _)| f.len() > 30_000).unwrap();
        let upto: u64 = all[..first_segment]
            .iter()
            .map(|(f, _)| (PCAP_RECORD_HEADER_LEN + f.len()) as u64)
            .sum();
        let max = PCAP_GLOBAL_HEADER_LEN + upto + 1000;
        let cap = Capture::create(&path.0).unwrap();
        cap.set_max_bytes(max);
        capped_traffic(&cap);
        cap.flush().unwrap();
        assert_eq!(cap.frames(), first_segment as u64);
        assert_eq!(cap.frames_dropped(), total - first_segment as u64);
        assert_eq!(
            std::fs::metadata(&path.0).unwrap().len(),
            PCAP_GLOBAL_HEADER_LEN + upto
        );
        let file = path.0.to_str().unwrap();
        let listed = tshark(&["-n", "-r", file, "-T", "fields", "-e", "frame.number"]);
        assert_eq!(listed.lines().count(), first_segment);
    }

    /// TLS traffic in a capped file: the secrets and the pcapng it
    /// becomes count against the cap too. Whatever the cap, the file holds
    /// a prefix of what an uncapped one holds (frames and secrets blocks),
    /// within the cap; when the rewrite as pcapng leaves out frames that
    /// fitted as classic pcap, they are counted as left out.
    #[test]
    fn a_capped_tls_file_stays_a_prefix_within_the_cap() {
        let (a, b) = (addr("127.0.0.1:5060"), addr("127.0.0.1:5070"));
        let (c, s) = (addr("127.0.0.1:40000"), addr("127.0.0.1:5061"));
        let traffic = |cap: &Capture| {
            for n in 0..10 {
                cap.udp(a, b, &pattern(100, n));
            }
            cap.tcp_connect(c, s);
            cap.tls_sent(c, s, b"\x16\x03\x01client hello", "");
            cap.tls_received(s, c, b"\x16\x03\x03server flight", KEYS_1);
            cap.tls_sent(c, s, &pattern(5000, 1), KEYS_2);
            cap.tcp_close(c, s);
        };
        let whole = TempPcap::new("cap-tls-whole");
        let reference = Capture::create(&whole.0).unwrap();
        traffic(&reference);
        reference.flush().unwrap();
        let all = pcapng_items(&whole.0);
        let total = reference.frames();
        let size = std::fs::metadata(&whole.0).unwrap().len();
        let path = TempPcap::new("cap-tls");
        // What fits of the frames before the first secrets, as classic pcap.
        let before_keys = all.iter().take_while(|i| i.1 != u32::MAX).count();
        let classic_fit = |max: u64| {
            let mut at = PCAP_GLOBAL_HEADER_LEN;
            all[..before_keys]
                .iter()
                .take_while(|(f, _)| {
                    at += (PCAP_RECORD_HEADER_LEN + f.len()) as u64;
                    at <= max
                })
                .count() as u64
        };
        let mut rewrite_left_out = false;
        for max in (0..=size + 10).step_by(5) {
            let cap = Capture::create(&path.0).unwrap();
            cap.set_max_bytes(max);
            traffic(&cap);
            cap.flush().unwrap();
            let len = std::fs::metadata(&path.0).unwrap().len();
            assert!(len <= max.max(PCAP_GLOBAL_HEADER_LEN), "{len} > cap {max}");
            let kept = items(&path.0);
            assert_eq!(kept[..], all[..kept.len()], "cap {max}: a prefix");
            let frames = kept.iter().filter(|i| i.1 != u32::MAX).count() as u64;
            assert_eq!(cap.frames(), frames, "cap {max}");
            assert_eq!(cap.frames() + cap.frames_dropped(), total, "cap {max}");
            rewrite_left_out |= cap.is_pcapng() && frames < classic_fit(max);
        }
        assert!(
            rewrite_left_out,
            "some cap made the rewrite leave frames out"
        );
        // The 14 frames before the first secrets (10 datagrams of 100
        // bytes, the handshake, the client hello) take 24 + 10 × 158 +
        // 3 × 74 + 85 = 1911 bytes as classic pcap; as pcapng the 10
        // datagrams take 60 + 10 × 176 = 1820, and the SYN's 92 more do
        // not fit: the rewrite keeps the 10 datagrams, and nothing more
        // goes in.
        assert_eq!(classic_fit(1911), 14);
        let cap = Capture::create(&path.0).unwrap();
        cap.set_max_bytes(1911);
        traffic(&cap);
        cap.flush().unwrap();
        assert!(cap.is_pcapng());
        assert_eq!((cap.frames(), cap.frames_dropped()), (10, total - 10));
        assert_eq!(std::fs::metadata(&path.0).unwrap().len(), 60 + 10 * 176);
        tshark(&["-n", "-r", path.0.to_str().unwrap()]);
    }

    #[test]
    fn create_in_missing_directory_fails() {
        let dir =
            std::env::temp_dir().join(format!("liaison-capture-missing-{}", std::process::id()));
        assert!(Capture::create(&dir.join("x.pcap")).is_err());
    }

    #[test]
    fn disabled_capture_records_nothing() {
        let capture = Capture::disabled();
        capture.udp(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), b"x");
        capture.tcp_data(addr("192.0.2.1:1"), addr("192.0.2.2:2"), b"x");
        capture.tcp_close(addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        assert_eq!(capture.frames(), 0);
        assert_eq!(capture.path(), None);
        assert!(capture.flush().is_ok());
        assert_eq!(format!("{capture:?}"), "Capture(disabled)");
    }

    #[test]
    fn last_clone_flushes_on_drop_and_clones_share_the_file() {
        let path = TempPcap::new("drop");
        let capture = Capture::create(&path.0).expect("create");
        assert_eq!(capture.path().as_deref(), Some(path.0.as_path()));
        let clone = capture.clone();
        capture.udp(addr("192.0.2.1:5060"), addr("192.0.2.2:5060"), b"one");
        clone.udp(addr("192.0.2.2:5060"), addr("192.0.2.1:5060"), b"two");
        assert_eq!(capture.frames(), 2);
        // Unknown flow: closing is a no-op.
        clone.tcp_close(addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        assert_eq!(capture.frames(), 2);
        drop(capture);
        drop(clone);
        let frames = read_back(&path.0);
        let payloads: Vec<Vec<u8>> = frames.iter().map(|(f, _)| parse(f).payload).collect();
        assert_eq!(payloads, [b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn concurrent_writers() {
        let path = TempPcap::new("threads");
        let capture = Capture::create(&path.0).expect("create");
        let threads: Vec<_> = (0..4u16)
            .map(|t| {
                let capture = capture.clone();
                std::thread::spawn(move || {
                    let client = SocketAddr::new(IpAddr::from([192, 0, 2, 1]), 41000 + t);
                    let server = addr("192.0.2.2:80");
                    for i in 0..200u32 {
                        capture.tcp_data(client, server, &i.to_be_bytes());
                        capture.udp(client, server, &i.to_be_bytes());
                    }
                    capture.tcp_close(client, server);
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer thread");
        }
        capture.flush().expect("flush");
        let frames: Vec<Parsed> = read_back(&path.0).iter().map(|(f, _)| parse(f)).collect();
        assert_eq!(frames.len() as u64, capture.frames());
        let streams = check_tcp(&frames);
        assert_eq!(streams.len(), 4);
        for stream in streams {
            let expected: Vec<u8> = (0..200u32).flat_map(|i| i.to_be_bytes()).collect();
            assert_eq!(stream.from_client, expected);
        }
    }

    /// Payloads of the frames of a pcap that carry one, with their direction.
    fn payloads(path: &Path) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
        read_back(path)
            .iter()
            .map(|(f, _)| parse(f))
            .filter(|f| !f.payload.is_empty())
            .map(|f| (f.src, f.dst, f.payload))
            .collect()
    }

    #[test]
    fn a_datagram_between_two_harness_sockets_is_written_once() {
        let path = TempPcap::new("udp-once");
        let capture = Capture::create(&path.0).expect("create");
        // The receiver writes through a run-level switchable capture that
        // points at the sender's file: the bookkeeping is the file's.
        let receiver = Capture::switchable();
        receiver.point_to(&capture);
        let (ua, core, sut) = (
            addr("127.0.0.1:5060"),
            addr("127.0.0.1:5070"),
            addr("127.0.0.1:5080"),
        );
        capture.udp_sent(ua, core, b"one");
        receiver.udp_received(ua, core, b"one");
        // A retransmission is a second packet: written again, claimed again.
        capture.udp_sent(ua, core, b"one");
        receiver.udp_received(ua, core, b"one");
        // From the SUT: only a receiver saw it.
        receiver.udp_received(sut, core, b"two");
        // The same bytes from another source are another packet.
        receiver.udp_received(sut, core, b"one");
        // To the SUT: only the sender saw it.
        capture.udp_sent(core, sut, b"three");
        capture.flush().expect("flush");
        assert_eq!(
            payloads(&path.0),
            [
                (ua, core, b"one".to_vec()),
                (ua, core, b"one".to_vec()),
                (sut, core, b"two".to_vec()),
                (sut, core, b"one".to_vec()),
                (core, sut, b"three".to_vec()),
            ]
        );

        // Sender and receiver writing different files: each file has it once.
        let (a, b) = (TempPcap::new("udp-a"), TempPcap::new("udp-b"));
        let (ca, cb) = (
            Capture::create(&a.0).expect("create"),
            Capture::create(&b.0).expect("create"),
        );
        ca.udp_sent(ua, core, b"x");
        cb.udp_received(ua, core, b"x");
        ca.flush().expect("flush");
        cb.flush().expect("flush");
        assert_eq!(payloads(&a.0), [(ua, core, b"x".to_vec())]);
        assert_eq!(payloads(&b.0), [(ua, core, b"x".to_vec())]);
    }

    #[test]
    fn a_connection_between_two_harness_sockets_is_written_once() {
        let (client, server) = (addr("127.0.0.1:40000"), addr("127.0.0.1:5070"));
        // Either end may report the connection first; the accepting end may
        // even report it after the other end sent and closed.
        for order in 0..3 {
            let path = TempPcap::new(&format!("tcp-once-{order}"));
            let capture = Capture::create(&path.0).expect("create");
            let acceptor = Capture::switchable();
            acceptor.point_to(&capture);
            if order == 0 {
                acceptor.tcp_accepted(client, server);
                capture.tcp_connect(client, server);
            } else {
                capture.tcp_connect(client, server);
                if order == 1 {
                    acceptor.tcp_accepted(client, server);
                }
            }
            // Two messages in one write, received in other cuts.
            capture.tcp_sent(client, server, b"AAAABBBB");
            acceptor.tcp_received(client, server, b"AAA");
            acceptor.tcp_received(client, server, b"ABBBB");
            if order < 2 {
                acceptor.tcp_sent(server, client, b"reply");
                capture.tcp_received(server, client, b"reply");
            }
            capture.tcp_sent(client, server, b"last");
            capture.tcp_close(client, server);
            if order == 2 {
                acceptor.tcp_accepted(client, server);
            }
            // The acceptor reads what was sent before the close, then the end.
            acceptor.tcp_received(client, server, b"last");
            acceptor.tcp_close(client, server);
            capture.flush().expect("flush");
            let frames: Vec<Parsed> = read_back(&path.0).iter().map(|(f, _)| parse(f)).collect();
            let syns = frames
                .iter()
                .filter(|f| f.tcp.is_some_and(|t| t.flags & TCP_SYN != 0))
                .count();
            assert_eq!(syns, 2, "order {order}: one SYN, one SYN/ACK");
            let fins = frames
                .iter()
                .filter(|f| f.tcp.is_some_and(|t| t.flags & TCP_FIN != 0))
                .count();
            assert_eq!(fins, 2, "order {order}: one FIN each way");
            let streams = check_tcp(&frames);
            assert_eq!(streams.len(), 1, "order {order}");
            assert_eq!(streams[0].from_client, b"AAAABBBBlast", "order {order}");
            let reply: &[u8] = if order < 2 { b"reply" } else { b"" };
            assert_eq!(streams[0].from_server, reply, "order {order}");
        }
    }

    #[test]
    fn received_stream_bytes_beyond_what_a_harness_sender_wrote_are_written() {
        let path = TempPcap::new("tcp-excess");
        let capture = Capture::create(&path.0).expect("create");
        let (client, server) = (addr("127.0.0.1:40001"), addr("127.0.0.1:5070"));
        // A SUT connected: only the accepting harness socket reports.
        capture.tcp_accepted(client, server);
        capture.tcp_received(client, server, b"from the SUT");
        capture.tcp_sent(server, client, b"ab");
        // Counted bytes skipped, the rest written.
        capture.tcp_received(server, client, b"abc");
        capture.tcp_close(client, server);
        capture.flush().expect("flush");
        let frames: Vec<Parsed> = read_back(&path.0).iter().map(|(f, _)| parse(f)).collect();
        let streams = check_tcp(&frames);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].from_client, b"from the SUT");
        assert_eq!(streams[0].from_server, b"abc");
    }

    #[test]
    fn reused_four_tuple_gets_fresh_sequence_space() {
        let path = TempPcap::new("reuse");
        let capture = Capture::create(&path.0).expect("create");
        let (client, server) = (addr("192.0.2.1:40000"), addr("192.0.2.2:80"));
        for _ in 0..2 {
            capture.tcp_connect(client, server);
            capture.tcp_data(client, server, b"GET");
            capture.tcp_close(client, server);
        }
        capture.flush().expect("flush");
        let frames: Vec<Parsed> = read_back(&path.0).iter().map(|(f, _)| parse(f)).collect();
        assert_eq!(check_tcp(&frames).len(), 2);
        let syns: Vec<u32> = frames
            .iter()
            .filter_map(|f| f.tcp.filter(|t| t.flags == TCP_SYN).map(|t| t.seq))
            .collect();
        assert_eq!(syns.len(), 2);
        assert_ne!(syns[0], syns[1]);
    }
}
