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

struct Datagram {
    at: Duration,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Box<[u8]>,
}

/// Per-datagram bookkeeping counted against the ring's size.
const OVERHEAD: usize = 64;

/// The recorder of one generator thread.
pub struct Recorder {
    mode: CaptureMode,
    epoch: Duration,
    ring: VecDeque<Datagram>,
    held: usize,
    dropped: u64,
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
            ring: VecDeque::new(),
            held: 0,
            dropped: 0,
            stream,
            path: path.to_path_buf(),
            error: None,
        })
    }

    /// Records a datagram seen `at_us` after the run's start.
    #[inline]
    pub fn datagram(&mut self, at_us: u64, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) {
        let at = self.epoch + Duration::from_micros(at_us);
        match self.mode {
            CaptureMode::Off => {}
            CaptureMode::Full => {
                if let Some(w) = self.stream.as_mut() {
                    if let Err(e) = w.datagram(at, src, dst, bytes) {
                        self.error = Some(e.to_string());
                        self.stream = None;
                    }
                }
            }
            CaptureMode::Ring(cap) => {
                self.held += bytes.len() + OVERHEAD;
                self.ring.push_back(Datagram {
                    at,
                    src,
                    dst,
                    bytes: bytes.into(),
                });
                while self.held > cap {
                    let Some(old) = self.ring.pop_front() else {
                        break;
                    };
                    self.held -= old.bytes.len() + OVERHEAD;
                    self.dropped += 1;
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
                let file = File::create(&self.path).map_err(fail)?;
                let mut w =
                    UdpPcapWriter::new(BufWriter::with_capacity(1 << 20, file)).map_err(fail)?;
                for d in self.ring.drain(..) {
                    w.datagram(d.at, d.src, d.dst, &d.bytes).map_err(fail)?;
                }
                w.finish().map_err(fail)?;
                Ok(Some((self.path, self.dropped)))
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
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size <= (1 << 20), "{size}");
        assert!(dropped > 7000, "{dropped}");
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
