//! What a load run keeps of its traffic (`--capture`): nothing, the last
//! N MB (a ring, written to `load.pcap` at the end), or everything streamed
//! to `load.pcap` as it goes. The generator records each datagram with the
//! time it saw it; the pcap's framing is [`crate::net::capture`]'s.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::net::capture::UdpPcapWriter;

/// `--capture off|ring:MB|full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    Off,
    /// Keep the last this many bytes of datagrams.
    Ring(usize),
    Full,
}

impl CaptureMode {
    pub fn parse(text: &str) -> Result<CaptureMode, String> {
        match text {
            "off" => Ok(CaptureMode::Off),
            "full" => Ok(CaptureMode::Full),
            _ => {
                let mb = text
                    .strip_prefix("ring:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| {
                        format!("--capture: `{text}` is not off, full or ring:MB (1–4096)")
                    })?;
                Ok(CaptureMode::Ring(mb << 20))
            }
        }
    }
}

impl std::fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureMode::Off => f.write_str("off"),
            CaptureMode::Ring(b) => write!(f, "ring:{}", b >> 20),
            CaptureMode::Full => f.write_str("full"),
        }
    }
}

/// The ring: datagrams appended to 1 MiB chunks, the oldest chunk let go
/// (and its allocation reused) when the ring holds more than its size. No
/// allocation per datagram, and the memory is the ring's size plus one
/// chunk. A record: time (µs since the epoch, u64), the address pair's
/// index (u16), the length (u16), the bytes.
struct Ring {
    cap: usize,
    chunks: VecDeque<Vec<u8>>,
    held: usize,
    spare: Option<Vec<u8>>,
    /// Address pairs seen, by index (at most [`MAX_PAIRS`]; the last is
    /// reused beyond, so that a SUT answering from every port of the
    /// machine cannot grow the table).
    pairs: Vec<(SocketAddr, SocketAddr)>,
    dropped: u64,
}

const CHUNK: usize = 1 << 20;
const MAX_PAIRS: usize = 4096;
const RECORD_HEAD: usize = 12;

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring {
            cap: cap.max(CHUNK),
            chunks: VecDeque::new(),
            held: 0,
            spare: None,
            pairs: Vec::new(),
            dropped: 0,
        }
    }

    fn pair(&mut self, src: SocketAddr, dst: SocketAddr) -> u16 {
        // The last few pairs are the likely ones: look from the end.
        if let Some(i) = self.pairs.iter().rposition(|p| *p == (src, dst)) {
            return i as u16;
        }
        if self.pairs.len() < MAX_PAIRS {
            self.pairs.push((src, dst));
        } else if let Some(last) = self.pairs.last_mut() {
            *last = (src, dst);
        }
        (self.pairs.len() - 1) as u16
    }

    fn push(&mut self, at_us: u64, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(u16::MAX as usize)];
        let pair = self.pair(src, dst);
        let need = RECORD_HEAD + bytes.len();
        if self
            .chunks
            .back()
            .is_none_or(|c| c.len() + need > CHUNK.max(need))
        {
            let mut c = self.spare.take().unwrap_or_default();
            c.clear();
            c.reserve(CHUNK.max(need));
            self.chunks.push_back(c);
        }
        let Some(c) = self.chunks.back_mut() else {
            return;
        };
        c.extend_from_slice(&at_us.to_le_bytes());
        c.extend_from_slice(&pair.to_le_bytes());
        c.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        c.extend_from_slice(bytes);
        self.held += need;
        while self.held > self.cap && self.chunks.len() > 1 {
            if let Some(old) = self.chunks.pop_front() {
                self.held -= old.len();
                self.dropped += records(&old).count() as u64;
                self.spare = Some(old);
            }
        }
    }
}

/// The records of one chunk: (time µs, pair index, bytes).
fn records(chunk: &[u8]) -> impl Iterator<Item = (u64, u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let head = chunk.get(at..at + RECORD_HEAD)?;
        let t = u64::from_le_bytes(head[0..8].try_into().ok()?);
        let pair = u16::from_le_bytes(head[8..10].try_into().ok()?);
        let len = u16::from_le_bytes(head[10..12].try_into().ok()?) as usize;
        let bytes = chunk.get(at + RECORD_HEAD..at + RECORD_HEAD + len)?;
        at += RECORD_HEAD + len;
        Some((t, pair, bytes))
    })
}

/// The recorder of one generator thread.
pub struct Recorder {
    mode: CaptureMode,
    epoch: Duration,
    ring: Option<Ring>,
    stream: Option<UdpPcapWriter<BufWriter<File>>>,
    path: PathBuf,
    error: Option<String>,
}

impl Recorder {
    /// A recorder writing to `path` (`full`: created now).
    pub fn new(mode: CaptureMode, path: &Path) -> io::Result<Recorder> {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stream = match mode {
            CaptureMode::Full => Some(UdpPcapWriter::new(BufWriter::with_capacity(
                1 << 20,
                File::create(path)?,
            ))?),
            _ => None,
        };
        Ok(Recorder {
            mode,
            epoch,
            ring: match mode {
                CaptureMode::Ring(cap) => Some(Ring::new(cap)),
                _ => None,
            },
            stream,
            path: path.to_path_buf(),
            error: None,
        })
    }

    /// Records a datagram seen `at_us` after the run's start.
    #[inline]
    pub fn datagram(&mut self, at_us: u64, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) {
        match self.mode {
            CaptureMode::Off => {}
            CaptureMode::Full => {
                let at = self.epoch + Duration::from_micros(at_us);
                if let Some(w) = self.stream.as_mut()
                    && let Err(e) = w.datagram(at, src, dst, bytes)
                {
                    self.error = Some(e.to_string());
                    self.stream = None;
                }
            }
            CaptureMode::Ring(_) => {
                if let Some(r) = self.ring.as_mut() {
                    r.push(self.epoch.as_micros() as u64 + at_us, src, dst, bytes);
                }
            }
        }
    }

    /// Writes the pcap (ring) or closes it (full); returns its path and the
    /// datagrams the ring let go, or None when nothing was captured.
    pub fn finish(mut self) -> Result<Option<(PathBuf, u64)>, String> {
        if let Some(e) = self.error {
            return Err(format!("capture {}: {e}", self.path.display()));
        }
        let path = self.path.clone();
        let fail = |e: io::Error| format!("capture {}: {e}", path.display());
        match self.mode {
            CaptureMode::Off => Ok(None),
            CaptureMode::Full => {
                if let Some(w) = self.stream.take() {
                    w.finish().map_err(fail)?;
                }
                Ok(Some((self.path, 0)))
            }
            CaptureMode::Ring(_) => {
                let Some(ring) = self.ring.take() else {
                    return Ok(None);
                };
                let file = File::create(&self.path).map_err(fail)?;
                let mut w =
                    UdpPcapWriter::new(BufWriter::with_capacity(1 << 20, file)).map_err(fail)?;
                for c in &ring.chunks {
                    for (t, pair, bytes) in records(c) {
                        let (src, dst) = ring.pairs[pair as usize];
                        w.datagram(Duration::from_micros(t), src, dst, bytes)
                            .map_err(fail)?;
                    }
                }
                w.finish().map_err(fail)?;
                Ok(Some((self.path, ring.dropped)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_bytes_only() {
        let dir = std::env::temp_dir().join(format!("liaison-ring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("load.pcap");
        let mut r = Recorder::new(CaptureMode::Ring(1 << 20), &path).unwrap();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for i in 0..10_000u64 {
            r.datagram(i, a, a, &[b'x'; 500]);
        }
        let (p, dropped) = r.finish().unwrap().unwrap();
        // At most the ring (2 MiB: one chunk beyond its size) in datagrams.
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size <= (2 << 20) + 10_000 * 60, "{size}");
        assert!(dropped > 5000, "{dropped}");
        // The newest datagram is in it, the oldest is not.
        let pcap = std::fs::read(&p).unwrap();
        assert!(pcap.len() > 500);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modes_parse_and_refuse() {
        assert_eq!(
            CaptureMode::parse("ring:64").unwrap(),
            CaptureMode::Ring(64 << 20)
        );
        assert_eq!(CaptureMode::parse("off").unwrap(), CaptureMode::Off);
        assert!(CaptureMode::parse("ring:0").is_err());
        assert!(CaptureMode::parse("ring").is_err());
        assert_eq!(CaptureMode::Ring(64 << 20).to_string(), "ring:64");
    }
}
