//! A scenario's messages, read back from its pcap with the project's codecs:
//! the data of the report's message ladder (and of the tshark cross-check).
//!
//! Frames are Ethernet II with IPv4 or IPv6 and UDP or TCP, as
//! `net::capture` writes them. TCP payloads are joined per direction and cut
//! into messages by the protocol the connection speaks (SIP, MSRP, SMPP,
//! HTTP or SMTP); UDP datagrams are SIP, or WSP pushes on port 2948.
//!
//! Which TCP ports carry HTTP and SMTP is found first, over the whole
//! capture (a stream that starts with an HTTP request or status line; a
//! server that greets with `220`, RFC 5321 §4.2, §3.1), so that a connection
//! whose start lies in an earlier capture — a run-level role's late answer —
//! is read as what it is; other connections are recognised from their first
//! bytes. An SMTP connection is cut by its dialogue: command lines, replies,
//! and after a 354 to DATA the content up to `CRLF.CRLF` as one message (the
//! Internet message, whose Subject and Applic-ID the label shows; MMS PDUs
//! in it are not looked for).
//!
//! WSP pushes carried in SMPP short messages (WDP over SMS) are reassembled,
//! and MMS PDUs in SIP, HTTP, WSP and PAP bodies are named by their
//! X-Mms-Message-Type. Bytes that frame as nothing are kept as a message of
//! their own, so a hostile SUT's garbage is shown, not lost.
//!
//! Nothing here panics on any input: a cut or corrupt capture ends the
//! reading with a note in [`Ladder::problems`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::codec::http::{self, HttpMessage};
use crate::codec::mail::Mail;
use crate::codec::msrp::{self, MsrpMessage};
use crate::codec::sip::{self, SipMessage};
use crate::codec::smpp::{self, Pdu};
use crate::codec::smtp;
use crate::codec::wdp::Reassembler;
use crate::codec::wsp::PushPdu;

use super::excerpt;
use super::tls;

/// The largest message the reader frames (larger ones are cut as unframed bytes).
const MAX_MESSAGE: usize = 1 << 22;
/// The WAP connectionless push port (WDP over IP and over SMS).
const WSP_PORT: u16 = 2948;
/// The longest SMTP command line or reply the reader frames.
const MAX_SMTP_LINE: usize = 1 << 16;

/// The protocol of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Sip,
    Msrp,
    Smpp,
    Http,
    Wsp,
    /// SMTP commands, replies and the DATA content.
    Smtp,
    /// What a TLS connection showed of itself: an alert, records that were
    /// not decrypted (the note says why).
    Tls,
    /// Bytes that frame as none of the above.
    Other,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sip => "SIP",
            Protocol::Msrp => "MSRP",
            Protocol::Smpp => "SMPP",
            Protocol::Http => "HTTP",
            Protocol::Wsp => "WSP",
            Protocol::Smtp => "SMTP",
            Protocol::Tls => "TLS",
            Protocol::Other => "bytes",
        }
    }
}

/// A WSP push found in a message (a UDP datagram, or reassembled from SMPP
/// short messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WspPush {
    pub pdu_type: u8,
    pub app_id: Option<String>,
    pub content_type: Option<String>,
}

/// The Internet message (RFC 5322) an SMTP DATA carried: what its label shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailHead {
    /// The Subject, RFC 2047 words decoded.
    pub subject: Option<String>,
    /// The first `Applic-ID` or `X-Mms-Applic-ID` field, as (name as
    /// spelled, value).
    pub applic_id: Option<(String, String)>,
}

/// One message of a capture.
#[derive(Debug, Clone)]
pub struct Message {
    /// The pcap frame (1-based) that completes the message.
    pub frame: u32,
    /// Microseconds since the capture's first frame.
    pub time_us: u64,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub tcp: bool,
    pub protocol: Protocol,
    /// Request method (SIP, MSRP, HTTP) when a request.
    pub method: Option<String>,
    /// Status code (SIP, MSRP, HTTP) when a response.
    pub status: Option<u16>,
    /// Reason phrase of a response, as sent.
    pub reason: Option<String>,
    /// SMPP command_id and command_status.
    pub smpp: Option<(u32, u32)>,
    /// WSP pushes this message carries or completes.
    pub wsp: Vec<WspPush>,
    /// X-Mms-Message-Type of each MMS PDU in the body (or in its parts).
    pub mms: Vec<u8>,
    /// The body claims to be an MMS PDU that does not decode.
    pub malformed_mms: bool,
    /// The message of an SMTP DATA (the message's bytes are the content as
    /// on the wire: dot-stuffed, with the terminating line).
    pub mail: Option<MailHead>,
    /// The message's bytes as they were on the wire; for a report's ladder
    /// ([`read_named`]) only the first [`excerpt::MESSAGE_BYTES`] of them.
    pub bytes: Vec<u8>,
    /// The message's length on the wire (more than `bytes` holds when cut).
    pub len: usize,
    /// Why the bytes are `Other` (the decoder's error), when they are; for
    /// an SMTP line that is not a command, why not.
    pub note: Option<String>,
    /// The TLS version and cipher suite of the connection it was decrypted
    /// from (`TLS 1.3 TLS_AES_128_GCM_SHA256`), when it came over TLS.
    pub tls: Option<String>,
}

impl Message {
    fn new(
        p: &Packet,
        from: SocketAddr,
        to: SocketAddr,
        protocol: Protocol,
        bytes: Vec<u8>,
    ) -> Message {
        Message {
            frame: p.frame,
            time_us: p.time_us,
            from,
            to,
            tcp: p.tcp,
            protocol,
            method: None,
            status: None,
            reason: None,
            smpp: None,
            wsp: Vec::new(),
            mms: Vec::new(),
            malformed_mms: false,
            mail: None,
            len: bytes.len(),
            bytes,
            note: None,
            tls: None,
        }
    }

    /// The arrow's label: method or status (with reason), SMPP command, WSP
    /// push, and the MMS message types carried.
    pub fn label(&self) -> String {
        let mut l = match self.protocol {
            Protocol::Sip | Protocol::Msrp | Protocol::Http => {
                let prefix = match self.protocol {
                    Protocol::Msrp => "MSRP ",
                    Protocol::Http if self.status.is_some() => "HTTP ",
                    _ => "",
                };
                match (&self.method, self.status) {
                    (Some(m), _) => format!("{prefix}{m}"),
                    (None, Some(s)) => match self.reason.as_deref().filter(|r| !r.is_empty()) {
                        Some(r) => format!("{prefix}{s} {r}"),
                        None => format!("{prefix}{s}"),
                    },
                    (None, None) => prefix.trim().to_string(),
                }
            }
            Protocol::Smpp => match self.smpp {
                Some((id, status)) => {
                    let name = smpp::command::name(id);
                    let name = if name == "unknown" {
                        format!("SMPP 0x{id:08x}")
                    } else {
                        name.to_string()
                    };
                    if status != 0 && id & 0x8000_0000 != 0 {
                        format!("{name} {}", smpp::status::name(status))
                    } else {
                        name
                    }
                }
                None => "SMPP".into(),
            },
            Protocol::Smtp => match (&self.method, self.status, &self.mail) {
                (Some(v), _, _) if !v.is_empty() => v.clone(),
                (_, Some(s), _) => match self.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => format!("SMTP {s} {r}"),
                    None => format!("SMTP {s}"),
                },
                (_, _, Some(mail)) => {
                    let mut l = String::from("DATA message");
                    if let Some(s) = &mail.subject {
                        l.push_str(" · Subject: ");
                        l.push_str(s);
                    }
                    if let Some((n, v)) = &mail.applic_id {
                        l.push_str(&format!(" · {n}: {v}"));
                    }
                    l
                }
                _ => "SMTP line".into(),
            },
            Protocol::Wsp => String::new(),
            Protocol::Tls => self.reason.clone().unwrap_or_else(|| "TLS".into()),
            Protocol::Other => format!(
                "{} bytes ({})",
                self.bytes.len(),
                if self.tcp { "TCP" } else { "UDP" }
            ),
        };
        for w in &self.wsp {
            if !l.is_empty() {
                l.push_str(" · ");
            }
            l.push_str(if w.pdu_type == 0x06 {
                "WSP Push"
            } else if w.pdu_type == 0x07 {
                "WSP ConfirmedPush"
            } else {
                "WSP PDU"
            });
        }
        for t in &self.mms {
            l.push_str(" · ");
            l.push_str(&mms_type_name(*t));
        }
        l
    }
}

/// `M-Notification.ind` for 0x82 (the form OMA-MMS-ENC writes), else `MMS 0xNN`.
pub fn mms_type_name(t: u8) -> String {
    match crate::codec::mms::MessageType(t).name() {
        Some(n) => {
            // "m-notification-ind" → "M-Notification.ind"
            let parts: Vec<&str> = n.split('-').collect();
            let (last, head) = parts.split_last().unwrap_or((&"", &[]));
            let head: Vec<String> = head
                .iter()
                .map(|p| {
                    let mut c = p.chars();
                    match c.next() {
                        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect();
            format!("{}.{last}", head.join("-"))
        }
        None => format!("MMS 0x{t:02x}"),
    }
}

/// The messages of one capture, in the order they completed.
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    pub messages: Vec<Message>,
    /// What stopped or disturbed the reading (a cut capture, a bad frame):
    /// the first [`excerpt::LADDER_PROBLEMS`] of them …
    pub problems: Vec<String>,
    /// … and how many more there were.
    pub problems_more: u32,
    /// Frames read.
    pub frames: u32,
    /// Frames in the capture, and the transport payload bytes they carry
    /// (also those of frames not read).
    pub frames_total: u32,
    pub payload_total: u64,
    /// The reading stopped at a cap before the end of the capture: why
    /// ("after 300 messages (…)"); the messages are those complete by then.
    pub stopped: Option<String>,
    /// TCP ports found to carry HTTP (the server's) and SMTP (the server's,
    /// that greeted with 220), over the whole capture.
    pub http_ports: Vec<u16>,
    pub smtp_ports: Vec<u16>,
}

/// One item of a capture file, in file order: a frame (its time in
/// microseconds, its bytes), or TLS secrets (a pcapng Decryption Secrets
/// Block's key log lines).
enum Item<'a> {
    Frame(u64, std::borrow::Cow<'a, [u8]>),
    Secrets(Vec<u8>),
}

/// The pcapng Section Header Block's type, which a pcapng file starts with.
const PCAPNG_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];

/// What a pcapng block gives: (block type, body) → item, with the
/// interface's link type and time resolution learnt from its IDB.
#[derive(Default)]
struct NgState {
    /// Per interface: (link type, units per second).
    interfaces: Vec<(u16, u64)>,
}

impl NgState {
    fn block<'a>(
        &mut self,
        big: bool,
        ty: u32,
        body: std::borrow::Cow<'a, [u8]>,
    ) -> Result<Option<Item<'a>>, String> {
        let u16_at = |b: &[u8], at: usize| -> Option<u16> {
            let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
            Some(if big {
                u16::from_be_bytes(x)
            } else {
                u16::from_le_bytes(x)
            })
        };
        let u32_at = |b: &[u8], at: usize| -> Option<u32> {
            let x: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
            Some(if big {
                u32::from_be_bytes(x)
            } else {
                u32::from_le_bytes(x)
            })
        };
        match ty {
            // Section Header Block: a new section, new interfaces.
            0x0A0D_0D0A => self.interfaces.clear(),
            // Interface Description Block: link type, and if_tsresol (code 9).
            1 => {
                let link = u16_at(&body, 0).ok_or("a short interface description")?;
                let mut per_second = 1_000_000u64;
                let mut at = 8;
                while let (Some(code), Some(len)) = (u16_at(&body, at), u16_at(&body, at + 2)) {
                    if code == 0 {
                        break;
                    }
                    if code == 9
                        && len == 1
                        && let Some(&r) = body.get(at + 4)
                    {
                        per_second = if r & 0x80 == 0 {
                            10u64.checked_pow(u32::from(r)).unwrap_or(0)
                        } else {
                            1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(0)
                        };
                    }
                    at += 4 + usize::from(len).div_ceil(4) * 4;
                }
                self.interfaces.push((link, per_second.max(1)));
            }
            // Enhanced Packet Block.
            6 => {
                let (Some(iface), Some(hi), Some(lo), Some(caplen)) = (
                    u32_at(&body, 0),
                    u32_at(&body, 4),
                    u32_at(&body, 8),
                    u32_at(&body, 12),
                ) else {
                    return Err("a short packet block".into());
                };
                let &(link, per_second) = self.interfaces.get(iface as usize).ok_or(format!(
                    "a packet of interface {iface}, which no block described"
                ))?;
                if link != 1 {
                    return Err(format!("link type {link}, not Ethernet"));
                }
                let units = (u64::from(hi) << 32) | u64::from(lo);
                let us = (u128::from(units) * 1_000_000 / u128::from(per_second)) as u64;
                let end = 20usize
                    .checked_add(caplen as usize)
                    .filter(|&e| e <= body.len())
                    .ok_or("a packet longer than its block")?;
                let data = match body {
                    std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(&b[20..end]),
                    std::borrow::Cow::Owned(b) => std::borrow::Cow::Owned(b[20..end].to_vec()),
                };
                return Ok(Some(Item::Frame(us, data)));
            }
            // Decryption Secrets Block: TLS key log secrets only.
            0x0A => {
                if let (Some(0x544c_534b), Some(len)) = (u32_at(&body, 0), u32_at(&body, 4)) {
                    let end = (8 + len as usize).min(body.len());
                    return Ok(Some(Item::Secrets(body[8.min(end)..end].to_vec())));
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

/// The items of a capture held in memory (classic pcap or pcapng), and why
/// the reading stopped early if it did; `Err` when it is neither format or
/// not Ethernet.
fn items(bytes: &[u8]) -> Result<(Vec<Item<'_>>, Option<String>), String> {
    let mut out = Vec::new();
    let cut = |n: usize, e: &dyn std::fmt::Display| {
        format!("the capture ends inside frame {n} ({e}): it was cut, e.g. by an interrupted run")
    };
    if bytes.starts_with(&PCAPNG_MAGIC) {
        let (mut rest, mut parser) = pcap_file::pcapng::PcapNgParser::new(bytes)
            .map_err(|e| format!("not a pcapng file: {e}"))?;
        let big = parser.section().endianness == pcap_file::Endianness::Big;
        let mut ng = NgState::default();
        ng.interfaces.clear();
        while !rest.is_empty() {
            let frames = out.iter().filter(|i| matches!(i, Item::Frame(..))).count();
            match parser.next_raw_block(rest) {
                Ok((next, raw)) => {
                    rest = next;
                    match ng.block(big, raw.type_, raw.body) {
                        Ok(Some(item)) => out.push(item),
                        Ok(None) => {}
                        Err(e) if frames == 0 && e.starts_with("link type") => return Err(e),
                        Err(e) => {
                            return Ok((out, Some(format!("block after frame {frames}: {e}"))))
                        }
                    }
                }
                Err(e) => return Ok((out, Some(cut(frames + 1, &e)))),
            }
        }
        return Ok((out, None));
    }
    let (mut rest, parser) =
        pcap_file::pcap::PcapParser::new(bytes).map_err(|e| format!("not a pcap file: {e}"))?;
    if parser.header().datalink != pcap_file::DataLink::ETHERNET {
        return Err(format!(
            "link type {:?}, not Ethernet",
            parser.header().datalink
        ));
    }
    while !rest.is_empty() {
        match parser.next_packet(rest) {
            Ok((next, pkt)) => {
                rest = next;
                out.push(Item::Frame(pkt.timestamp.as_micros() as u64, pkt.data));
            }
            Err(e) => {
                let n = out.len() + 1;
                return Ok((out, Some(cut(n, &e))));
            }
        }
    }
    Ok((out, None))
}

/// A capture file read item by item without holding it (classic pcap or
/// pcapng).
enum FileItems {
    Pcap(pcap_file::pcap::PcapReader<std::fs::File>),
    PcapNg(
        pcap_file::pcapng::PcapNgReader<std::fs::File>,
        NgState,
        bool,
    ),
}

impl FileItems {
    fn open(path: &Path) -> Result<FileItems, String> {
        use std::io::Read;
        let mut magic = [0u8; 4];
        let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let n = f.read(&mut magic).map_err(|e| e.to_string())?;
        let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        if n == 4 && magic == PCAPNG_MAGIC {
            let r = pcap_file::pcapng::PcapNgReader::new(f)
                .map_err(|e| format!("not a pcapng file: {e}"))?;
            let big = r.section().endianness == pcap_file::Endianness::Big;
            return Ok(FileItems::PcapNg(r, NgState::default(), big));
        }
        let r = pcap_file::pcap::PcapReader::new(f).map_err(|e| format!("not a pcap file: {e}"))?;
        if r.header().datalink != pcap_file::DataLink::ETHERNET {
            return Err(format!("link type {:?}, not Ethernet", r.header().datalink));
        }
        Ok(FileItems::Pcap(r))
    }

    /// The next item; a classic pcap's frame is borrowed from the reader's
    /// buffer (no copy per frame, as before pcapng was read).
    fn next(&mut self) -> Option<Result<Item<'_>, String>> {
        match self {
            FileItems::Pcap(r) => Some(match r.next_packet()? {
                Ok(p) => Ok(Item::Frame(p.timestamp.as_micros() as u64, p.data)),
                Err(e) => Err(e.to_string()),
            }),
            FileItems::PcapNg(r, ng, big) => loop {
                let raw = match r.next_raw_block()? {
                    Ok(raw) => raw,
                    Err(e) => return Some(Err(e.to_string())),
                };
                let body = std::borrow::Cow::Owned(raw.body.into_owned());
                match ng.block(*big, raw.type_, body) {
                    Ok(Some(item)) => return Some(Ok(item)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            },
        }
    }
}

/// Reads a pcap file.
pub fn read_file(path: &Path) -> Result<Ladder, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(read(&bytes))
}

/// Largest pcap `liaison report` reads back (bytes).
pub const MAX_PCAP: u64 = 256 * 1024 * 1024;

/// Reads the pcap a report names (`name`, relative to the report folder
/// `dir`), only when it is a regular file inside that folder or inside the
/// folder of one of the report's merged runs (`run_dirs`, relative to `dir`,
/// each a folder holding a `report.json`), and at most [`MAX_PCAP`] bytes.
/// A report.json naming `/dev/zero` or `../../etc/passwd` is refused, not
/// followed.
pub fn read_named(dir: &Path, run_dirs: &[&str], name: &str) -> Result<Ladder, String> {
    let joined = dir.join(name);
    let target =
        std::fs::canonicalize(&joined).map_err(|e| format!("{}: {e}", joined.display()))?;
    let base = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut roots = vec![base.clone()];
    for d in run_dirs {
        if let Ok(r) = std::fs::canonicalize(base.join(d))
            && r.join("report.json").is_file()
        {
            roots.push(r);
        }
    }
    if !roots.iter().any(|r| target.starts_with(r)) {
        return Err(format!(
            "expected a pcap inside the report folder, came `{name}`, outside it (not read)"
        ));
    }
    let meta = std::fs::metadata(&target).map_err(|e| format!("pcap `{name}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "expected a pcap that is a regular file, came `{name}`, which is not (not read)"
        ));
    }
    if meta.len() > MAX_PCAP {
        return Err(format!(
            "expected a pcap of at most {MAX_PCAP} bytes, came `{name}` of {} (not read; open it in Wireshark)",
            meta.len()
        ));
    }
    read_excerpt(&target).map_err(|e| format!("pcap `{name}`: {e}"))
}

/// Frames a port scan follows connections of at once (the first pass).
const MAX_SCAN_DIRS: usize = 1 << 16;

/// Reads a pcap file for a report's ladder without holding it: frame by
/// frame, twice (the totals and the HTTP and SMTP server ports over the
/// whole file; then the messages), and the second pass stops at the caps —
/// [`excerpt::LADDER_MESSAGES`] messages complete, or
/// [`excerpt::LADDER_READ_BYTES`] held (unframed TCP bytes and the messages
/// kept, each cut to [`excerpt::MESSAGE_BYTES`]). [`Ladder::stopped`] says
/// when it stopped early, [`Ladder::frames_total`] and
/// [`Ladder::payload_total`] what the whole file holds.
pub fn read_excerpt(path: &Path) -> Result<Ladder, String> {
    let mut r = Reader {
        excerpt: true,
        ..Reader::default()
    };
    let mut pass1 = match FileItems::open(path) {
        Ok(p) => p,
        Err(e) => {
            r.problem(e);
            return Ok(r.out);
        }
    };
    let mut scan = PortScan::default();
    let mut t0 = None;
    while let Some(Ok(item)) = pass1.next() {
        if let Item::Frame(ts, data) = item {
            t0.get_or_insert(ts);
            r.out.frames_total += 1;
            r.out.payload_total += payload_len(&data) as u64;
            scan.frame(&data);
        }
    }
    drop(pass1);
    (r.out.http_ports, r.out.smtp_ports) = (scan.http, scan.smtp);
    let t0 = t0.unwrap_or(0);
    let mut pass2 = FileItems::open(path)?;
    while let Some(item) = pass2.next() {
        let (ts, data) = match item {
            Ok(Item::Frame(ts, data)) => (ts, data),
            Ok(Item::Secrets(s)) => {
                r.secrets.add_key_log(&s);
                continue;
            }
            Err(e) => {
                r.problem(format!(
                    "the capture ends inside frame {} ({e}): it was cut, e.g. by an interrupted run",
                    r.out.frames + 1
                ));
                break;
            }
        };
        r.out.frames += 1;
        r.frame(r.out.frames, ts.saturating_sub(t0), &data);
        if r.out.messages.len() >= excerpt::LADDER_MESSAGES {
            r.out.stopped = Some(format!(
                "after {} messages (the most a ladder shows)",
                excerpt::LADDER_MESSAGES
            ));
        } else if r.out.frames.is_multiple_of(64) && r.held() > excerpt::LADDER_READ_BYTES {
            r.out.stopped = Some(format!(
                "with {} held (the most a ladder's reading holds)",
                excerpt::size(excerpt::LADDER_READ_BYTES as u64)
            ));
        }
        if r.out.stopped.is_some() && r.out.frames < r.out.frames_total {
            break;
        }
        r.out.stopped = None;
    }
    if r.out.stopped.is_some() {
        // What is still unframed was cut off by the stop, not by the
        // connection's end: not shown as garbage.
        r.out.messages.sort_by_key(|m| (m.frame, m.time_us));
        r.out.messages.truncate(excerpt::LADDER_MESSAGES);
    } else {
        r.finish();
    }
    Ok(r.out)
}

/// The transport payload's length of an Ethernet frame (0 when none).
fn payload_len(d: &[u8]) -> usize {
    match ip(d) {
        Some((17, _, _, l4)) => l4.len().saturating_sub(8),
        Some((6, src, dst, l4)) => tcp_segment(src, dst, l4).map_or(0, |s| s.3.len()),
        _ => 0,
    }
}

/// Reads the bytes of a capture file (classic libpcap or pcapng, Ethernet
/// link type; TLS connections decrypted with the secrets it carries).
pub fn read(pcap: &[u8]) -> Ladder {
    let mut r = Reader::default();
    let (items, cut) = match items(pcap) {
        Ok(x) => x,
        Err(e) => {
            r.problem(e);
            return r.out;
        }
    };
    if let Some(c) = cut {
        r.problem(c);
    }
    let frames = || {
        items.iter().filter_map(|i| match i {
            Item::Frame(t, d) => Some((*t, &d[..])),
            Item::Secrets(_) => None,
        })
    };
    (r.out.http_ports, r.out.smtp_ports) = tcp_ports(frames().map(|f| f.1));
    r.out.frames_total = frames().count() as u32;
    r.out.payload_total = frames().map(|f| payload_len(f.1) as u64).sum();
    let t0 = frames().next().map_or(0, |f| f.0);
    for item in &items {
        match item {
            Item::Frame(ts, data) => {
                r.out.frames += 1;
                r.frame(r.out.frames, ts.saturating_sub(t0), data);
            }
            Item::Secrets(s) => r.secrets.add_key_log(s),
        }
    }
    r.finish();
    r.out
}

/// Two frames closer than this (in microseconds) that carry the same bytes
/// between the same addresses and ports are one packet captured twice.
pub const DUPLICATE_WINDOW_US: u64 = 1_000;

/// A frame that repeats an earlier one: same IP addresses, same ports, same
/// transport protocol and the same transport payload, at most
/// [`DUPLICATE_WINDOW_US`] later. A packet crosses the wire once, so one
/// between two harness sockets must be written once, not by the sender and
/// again by the receiver (the copies then differ only in the IPv4
/// identification). Nothing a correct harness sends repeats that fast: SIP
/// retransmissions wait T1 (RFC 3261 §17.1.1.2), and a TCP stream never
/// resends what was acknowledged. A TCP data segment is a copy only with the
/// same sequence number too: the same bytes further on in the stream (two
/// SMTP "250 OK" replies, say) are new data. TCP segments without payload
/// count only when they open or close a connection (SYN or FIN, whatever
/// their sequence number): pure ACKs legitimately repeat. Nor does a SIP response over UDP sent again because its request
/// came again: a server transaction answers each retransmission of the
/// request with its latest response (RFC 3261 §17.2.1, §17.2.2), and a slow
/// SUT may send both answers back to back; it is exempt while the capture
/// holds at least as many copies of the request (same top Via branch and
/// CSeq, in the other direction) as of the response. Nor, likewise, does a
/// SIP request over UDP a proxy sends again because it came to the proxy
/// again (a stalled proxy forwards the original and the retransmission
/// back to back, RFC 3261 §16.11): it is exempt while the capture holds at
/// least as many copies of the request (same Call-ID and CSeq) arriving at
/// its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Frame numbers (from 1) of the first copy and of the repetition.
    pub first: u32,
    pub again: u32,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub tcp: bool,
    /// Microseconds between the two.
    pub gap_us: u64,
    /// The repeated transport payload.
    pub payload: Vec<u8>,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = String::from_utf8_lossy(&self.payload[..self.payload.len().min(60)]);
        write!(
            f,
            "frame {} repeats frame {} {} µs later: {} {} -> {}, {} payload bytes {:?}",
            self.again,
            self.first,
            self.gap_us,
            if self.tcp { "TCP" } else { "UDP" },
            self.from,
            self.to,
            self.payload.len(),
            shown
        )
    }
}

/// The frames of a pcap (its bytes) that repeat an earlier frame, as
/// [`Duplicate`] defines it. A file that is not a readable Ethernet pcap has
/// none (the ladder reports it); a cut file is checked up to the cut.
pub fn duplicates(pcap: &[u8]) -> Vec<Duplicate> {
    let Ok((items, _)) = items(pcap) else {
        return Vec::new();
    };
    let frames: Vec<(u64, std::borrow::Cow<[u8]>)> = items
        .into_iter()
        .filter_map(|i| match i {
            Item::Frame(t, d) => Some((t, d)),
            Item::Secrets(_) => None,
        })
        .collect();
    // Key: (TCP?, source, destination, TCP flags, TCP sequence number of a
    // data segment, payload) -> (frame, time). The sequence number tells a
    // segment written twice (same place in the stream) from the same bytes
    // sent again further on, such as two SMTP "250 OK" replies.
    type Key<'a> = (bool, SocketAddr, SocketAddr, u8, u32, &'a [u8]);
    let mut last: HashMap<Key, (u32, u64)> = HashMap::new();
    let mut copies: HashMap<Key, u32> = HashMap::new();
    // SIP requests over UDP seen: (from, to, top Via branch, CSeq) -> copies.
    type Txn = (
        SocketAddr,
        SocketAddr,
        Option<String>,
        Option<(u32, String)>,
    );
    let mut requests: HashMap<Txn, u32> = HashMap::new();
    // SIP requests over UDP arriving at an address: (to, Call-ID, CSeq) -> copies.
    type Arrival = (SocketAddr, Option<String>, Option<(u32, String)>);
    let mut arrivals: HashMap<Arrival, u32> = HashMap::new();
    let mut out = Vec::new();
    for (i, (t, data)) in frames.iter().enumerate() {
        let n = i as u32 + 1;
        let key = match ip(data) {
            Some((17, src, dst, l4)) if l4.len() >= 8 => {
                let from = SocketAddr::new(src, u16::from_be_bytes([l4[0], l4[1]]));
                let to = SocketAddr::new(dst, u16::from_be_bytes([l4[2], l4[3]]));
                (false, from, to, 0, 0, &l4[8..])
            }
            Some((6, src, dst, l4)) => match tcp_segment(src, dst, l4) {
                // SYN (0x02) or FIN (0x01), or data.
                Some((from, to, flags, payload)) if !payload.is_empty() || flags & 0x03 != 0 => {
                    // A SYN or FIN again within 1 ms is a copy whatever its
                    // sequence number (no port pair opens or closes twice that
                    // fast); data is a copy only at the same place in the stream.
                    let seq = if payload.is_empty() {
                        0
                    } else {
                        u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]])
                    };
                    (true, from, to, flags, seq, payload)
                }
                _ => continue,
            },
            _ => continue,
        };
        let seen = copies.entry(key).or_insert(0);
        *seen += 1;
        let seen = *seen;
        // A SIP response over UDP answering as many copies of its request.
        let mut answers_a_repeat = false;
        if !key.0
            && let Ok(m) = SipMessage::parse(key.5)
        {
            let txn = |from, to| (from, to, m.top_via_branch(), m.cseq());
            if m.is_request() {
                *requests.entry(txn(key.1, key.2)).or_insert(0) += 1;
                let call = m.call_id().map(str::to_string);
                *arrivals.entry((key.2, call.clone(), m.cseq())).or_insert(0) += 1;
                let came = arrivals.get(&(key.1, call, m.cseq())).copied().unwrap_or(0);
                answers_a_repeat = came >= seen;
            } else {
                let asked = requests.get(&txn(key.2, key.1)).copied().unwrap_or(0);
                answers_a_repeat = asked >= seen;
            }
        }
        if let Some(&(first, at)) = last.get(&key) {
            let gap_us = t.abs_diff(at);
            if gap_us <= DUPLICATE_WINDOW_US && !answers_a_repeat {
                out.push(Duplicate {
                    first,
                    again: n,
                    from: key.1,
                    to: key.2,
                    tcp: key.0,
                    gap_us,
                    payload: key.5.to_vec(),
                });
            }
        }
        last.insert(key, (n, *t));
    }
    out
}

/// The first pass: the server ports of HTTP (a stream that starts with a
/// request or a status line) and of SMTP (a server's first bytes are its
/// `220` greeting, RFC 5321 §3.1), over the whole capture.
fn tcp_ports<'a>(frames: impl Iterator<Item = &'a [u8]>) -> (Vec<u16>, Vec<u16>) {
    let mut scan = PortScan::default();
    for d in frames {
        scan.frame(d);
    }
    (scan.http, scan.smtp)
}

/// [`tcp_ports`] one frame at a time. It follows at most
/// [`MAX_SCAN_DIRS`] directions at once (a capture of more connections than
/// that learns no port from the rest: its connections are recognised from
/// their first bytes).
#[derive(Default)]
struct PortScan {
    http: Vec<u16>,
    smtp: Vec<u16>,
    started: std::collections::HashSet<Dir>,
}

impl PortScan {
    fn frame(&mut self, d: &[u8]) {
        let add = |v: &mut Vec<u16>, p: u16| {
            if !v.contains(&p) {
                v.push(p);
            }
        };
        let Some((from, to, flags, payload)) = tcp(d) else {
            return;
        };
        if flags & 0x02 != 0 {
            self.started.remove(&(from, to));
            self.started.remove(&(to, from));
        }
        if payload.is_empty()
            || self.started.len() >= MAX_SCAN_DIRS && !self.started.contains(&(from, to))
            || !self.started.insert((from, to))
        {
            return;
        }
        if payload.starts_with(b"220 ") || payload.starts_with(b"220-") {
            add(&mut self.smtp, from.port());
        } else if payload.starts_with(b"HTTP/") {
            add(&mut self.http, from.port());
        } else if HTTP_METHODS.iter().any(|m| payload.starts_with(m)) {
            add(&mut self.http, to.port());
        }
    }
}

/// (source, destination, flags, payload) of a TCP segment in an Ethernet frame.
fn tcp(d: &[u8]) -> Option<(SocketAddr, SocketAddr, u8, &[u8])> {
    match ip(d)? {
        (6, src, dst, l4) => tcp_segment(src, dst, l4),
        _ => None,
    }
}

/// (source, destination, flags, payload) of a TCP segment.
fn tcp_segment(src: IpAddr, dst: IpAddr, l4: &[u8]) -> Option<(SocketAddr, SocketAddr, u8, &[u8])> {
    if l4.len() < 20 {
        return None;
    }
    let from = SocketAddr::new(src, u16::from_be_bytes([l4[0], l4[1]]));
    let to = SocketAddr::new(dst, u16::from_be_bytes([l4[2], l4[3]]));
    let off = ((l4[12] >> 4) as usize * 4).clamp(20, l4.len());
    Some((from, to, l4[13], &l4[off..]))
}

/// A frame's transport-level view.
struct Packet {
    frame: u32,
    time_us: u64,
    tcp: bool,
}

/// What a TCP connection carries, decided from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Undecided,
    SipOrMsrp,
    Smpp,
    Http,
    /// SMTP, with the server's address.
    Smtp(SocketAddr),
    Unknown,
}

/// Where an SMTP dialogue is (RFC 5321 §3.3): a DATA sent and not yet
/// answered; the content expected (the 354 came); a STARTTLS sent and not
/// yet answered; TLS records expected next (its 220 came, RFC 3207 §4).
#[derive(Debug, Clone, Copy, Default)]
struct SmtpState {
    data_sent: bool,
    content: bool,
    starttls_sent: bool,
    tls_next: bool,
}

/// One direction of a TCP connection.
type Dir = (SocketAddr, SocketAddr);

#[derive(Default)]
struct Reader {
    out: Ladder,
    /// Reading for a report ([`read_excerpt`]): messages keep their first
    /// [`excerpt::MESSAGE_BYTES`].
    excerpt: bool,
    /// Bytes not yet framed, per direction.
    streams: HashMap<Dir, Vec<u8>>,
    /// Per connection (the lower-sorting endpoint first).
    kinds: HashMap<Dir, Kind>,
    /// SMTP dialogues, per connection.
    smtp: HashMap<Dir, SmtpState>,
    wdp: Reassembler,
    /// Last frame seen per direction (for what is flushed at the end).
    last: HashMap<Dir, (u32, u64)>,
    /// TLS secrets the capture carried so far (Decryption Secrets Blocks).
    secrets: tls::Secrets,
    /// TLS connections (by connection): the client's address, the records'
    /// state, and what they negotiated (`TLS 1.3 <suite>`).
    tls: HashMap<Dir, (SocketAddr, tls::Connection, Option<String>)>,
}

/// A message as a reading keeps it: for a report, its first
/// [`excerpt::MESSAGE_BYTES`] (its `len` says how long it was).
fn kept(excerpt: bool, mut m: Message) -> Message {
    if excerpt && m.bytes.len() > excerpt::MESSAGE_BYTES {
        m.bytes.truncate(excerpt::MESSAGE_BYTES);
        m.bytes.shrink_to_fit();
    }
    m
}

fn conn(a: SocketAddr, b: SocketAddr) -> Dir {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Reader {
    fn push(&mut self, m: Message) {
        self.out.messages.push(kept(self.excerpt, m));
    }

    fn problem(&mut self, p: String) {
        if self.out.problems.len() < excerpt::LADDER_PROBLEMS {
            self.out.problems.push(p);
        } else {
            self.out.problems_more += 1;
        }
    }

    /// Bytes held: unframed TCP bytes, TLS records and handshakes not yet
    /// complete, and the messages' bytes.
    fn held(&self) -> usize {
        self.streams.values().map(Vec::len).sum::<usize>()
            + self.tls.values().map(|t| t.1.held()).sum::<usize>()
            + self
                .out
                .messages
                .iter()
                .map(|m| m.bytes.len())
                .sum::<usize>()
    }

    fn frame(&mut self, n: u32, t: u64, d: &[u8]) {
        let Some((proto, src, dst, l4)) = ip(d) else {
            self.problem(format!("frame {n}: not Ethernet/IPv4|IPv6 with UDP or TCP"));
            return;
        };
        match proto {
            17 if l4.len() >= 8 => {
                let from = SocketAddr::new(src, u16::from_be_bytes([l4[0], l4[1]]));
                let to = SocketAddr::new(dst, u16::from_be_bytes([l4[2], l4[3]]));
                let p = Packet {
                    frame: n,
                    time_us: t,
                    tcp: false,
                };
                let m = udp_message(&p, from, to, &l4[8..]);
                self.push(m);
            }
            6 if l4.len() >= 20 => {
                let Some((from, to, flags, payload)) = tcp_segment(src, dst, l4) else {
                    return;
                };
                let p = Packet {
                    frame: n,
                    time_us: t,
                    tcp: true,
                };
                if flags & 0x02 != 0 {
                    // SYN: a new connection on this 4-tuple.
                    self.flush(from, to, &p);
                    self.flush(to, from, &p);
                    self.kinds.remove(&conn(from, to));
                    self.smtp.remove(&conn(from, to));
                    self.tls.remove(&conn(from, to));
                }
                if !payload.is_empty() {
                    self.last.insert((from, to), (n, t));
                    let plain = self.tls_records(from, to, payload, &p);
                    self.streams
                        .entry((from, to))
                        .or_default()
                        .extend_from_slice(plain.as_deref().unwrap_or(payload));
                    self.drain(from, to, &p, false);
                }
                if flags & 0x01 != 0 {
                    // FIN: what this direction still holds ends here.
                    self.drain(from, to, &p, true);
                    self.flush(from, to, &p);
                }
            }
            _ => self.problem(format!("frame {n}: IP protocol {proto} or a short header")),
        }
    }

    /// A TCP payload of a TLS connection (one whose first bytes are a TLS
    /// handshake record): the plaintext its records give, with the
    /// alerts and what could not be decrypted as messages of their own;
    /// `None` for a connection that is not TLS.
    fn tls_records(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        payload: &[u8],
        p: &Packet,
    ) -> Option<Vec<u8>> {
        let c = conn(from, to);
        if !self.tls.contains_key(&c) {
            let drained = self.streams.get(&(from, to)).is_none_or(Vec::is_empty)
                && self.streams.get(&(to, from)).is_none_or(Vec::is_empty);
            let fresh = !self.kinds.contains_key(&c) && drained;
            // SMTP after the 220 to STARTTLS: the handshake on the same
            // connection (RFC 3207 §4), the dialogue going on inside.
            let starttls = drained && self.smtp.get(&c).is_some_and(|s| s.tls_next);
            if !(fresh || starttls) || !tls::starts_tls(payload) {
                return None;
            }
            if let Some(s) = self.smtp.get_mut(&c) {
                s.tls_next = false;
            }
            self.tls.insert(c, (from, tls::Connection::new(), None));
        }
        let (client, state, named) = self.tls.get_mut(&c)?;
        let events = state.feed(from == *client, payload, &self.secrets);
        let mut plain = Vec::new();
        let mut shown = Vec::new();
        for e in events {
            match e {
                tls::Event::Plain(b) => plain.extend_from_slice(&b),
                tls::Event::Negotiated { version, suite } => {
                    let v = match version {
                        0x0304 => "TLS 1.3".to_string(),
                        0x0303 => "TLS 1.2".to_string(),
                        v => format!("TLS version 0x{v:04x}"),
                    };
                    let name = tls::suite_name(suite);
                    *named = Some(format!("{v} {name}"));
                }
                tls::Event::Alert(level, desc) => shown.push((
                    Vec::new(),
                    format!(
                        "TLS alert: {}{}",
                        tls::alert_name(desc),
                        if level == 2 { " (fatal)" } else { "" }
                    ),
                    None,
                )),
                tls::Event::NotDecrypted(n, why) => shown.push((
                    Vec::new(),
                    "TLS records not decrypted".into(),
                    Some(format!("{n} bytes and what follows: {why}")),
                )),
                tls::Event::NotTls(why) => shown.push((
                    payload.to_vec(),
                    "not TLS".into(),
                    Some(format!("expected TLS records, came {why}")),
                )),
            }
        }
        let named = named.clone();
        for (bytes, label, note) in shown {
            let mut m = Message::new(p, from, to, Protocol::Tls, bytes);
            m.reason = Some(label);
            m.note = note;
            m.tls = named.clone();
            self.push(m);
        }
        Some(plain)
    }

    /// Cuts whole messages off the direction's buffer; `closed`: the sender
    /// closed, so a message delimited by the close is complete.
    fn drain(&mut self, from: SocketAddr, to: SocketAddr, p: &Packet, closed: bool) {
        let c = conn(from, to);
        let mut kind = *self.kinds.get(&c).unwrap_or(&Kind::Undecided);
        let by_port = match kind {
            Kind::Undecided => self.by_port(from, to),
            _ => None,
        };
        let tls_name = self.tls.get(&c).and_then(|t| t.2.clone());
        let Some(buf) = self.streams.get_mut(&(from, to)) else {
            return;
        };
        if kind == Kind::Undecided {
            kind = by_port.unwrap_or_else(|| classify(buf));
            if kind != Kind::Undecided {
                self.kinds.insert(c, kind);
            }
        }
        loop {
            if buf.is_empty() {
                return;
            }
            let cut: Result<Option<usize>, String> = match kind {
                // Bytes of no known protocol: in pieces of the largest
                // message, so that no buffer grows with the stream.
                Kind::Unknown if buf.len() >= MAX_MESSAGE => Err(format!(
                    "{MAX_MESSAGE} bytes of a connection that frames as no protocol the reader knows"
                )),
                Kind::Undecided | Kind::Unknown => Ok(None),
                Kind::Smtp(server) => {
                    let st = self.smtp.entry(c).or_default();
                    if from == server {
                        smtp::next_reply(buf, MAX_SMTP_LINE)
                    } else if st.content {
                        smtp::next_data(buf, MAX_MESSAGE)
                    } else {
                        smtp::next_line(buf, MAX_SMTP_LINE)
                    }
                    .map_err(|e| e.to_string())
                }
                Kind::Smpp => smpp::next_frame(buf, MAX_MESSAGE as u32).map_err(|e| e.to_string()),
                Kind::Http => match http::next_frame(buf, MAX_MESSAGE) {
                    Ok(None) if closed => Ok(Some(buf.len())),
                    r => r.map_err(|e| e.to_string()),
                },
                Kind::SipOrMsrp if buf.starts_with(b"MSRP ") => {
                    msrp::next_frame(buf, MAX_MESSAGE).map_err(|e| e.to_string())
                }
                Kind::SipOrMsrp => match sip::next_frame(buf, MAX_MESSAGE) {
                    Ok(Some(sip::Frame::KeepAlive(k))) => {
                        buf.drain(..k);
                        continue;
                    }
                    Ok(Some(sip::Frame::Message(len))) => Ok(Some(len)),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e.to_string()),
                },
            };
            match cut {
                Ok(Some(len)) if len > 0 && len <= buf.len() => {
                    let raw: Vec<u8> = buf.drain(..len).collect();
                    let mut m = match kind {
                        Kind::Smtp(server) => {
                            let st = self.smtp.entry(c).or_default();
                            smtp_message(st, p, from, to, from == server, raw)
                        }
                        _ => tcp_message(&mut self.wdp, p, from, to, kind, raw, closed),
                    };
                    m.tls = tls_name.clone();
                    self.out.messages.push(kept(self.excerpt, m));
                }
                Ok(_) => return,
                Err(e) => {
                    // Bytes that cannot be this protocol: show them as they are.
                    let raw = std::mem::take(buf);
                    let mut m = Message::new(p, from, to, Protocol::Other, raw);
                    m.note = Some(e);
                    m.tls = tls_name.clone();
                    self.out.messages.push(kept(self.excerpt, m));
                    return;
                }
            }
        }
    }

    /// What the ports found in the first pass say a connection carries.
    fn by_port(&self, a: SocketAddr, b: SocketAddr) -> Option<Kind> {
        let has = |ports: &[u16], x: SocketAddr| ports.contains(&x.port());
        if has(&self.out.smtp_ports, a) {
            Some(Kind::Smtp(a))
        } else if has(&self.out.smtp_ports, b) {
            Some(Kind::Smtp(b))
        } else if has(&self.out.http_ports, a) || has(&self.out.http_ports, b) {
            Some(Kind::Http)
        } else {
            None
        }
    }

    /// Whatever a direction holds that never framed becomes one message.
    fn flush(&mut self, from: SocketAddr, to: SocketAddr, p: &Packet) {
        if let Some(buf) = self.streams.remove(&(from, to))
            && !buf.is_empty()
        {
            let (frame, time_us) = self
                .last
                .get(&(from, to))
                .copied()
                .unwrap_or((p.frame, p.time_us));
            let at = Packet {
                frame,
                time_us,
                tcp: true,
            };
            let c = conn(from, to);
            let in_content = matches!(self.kinds.get(&c), Some(Kind::Smtp(s)) if *s != from)
                && self.smtp.get(&c).is_some_and(|st| st.content);
            let mut m = Message::new(&at, from, to, Protocol::Other, buf);
            m.note = Some(if in_content {
                "SMTP DATA content without its terminating line (CRLF.CRLF, RFC 5321 §4.1.1.4) before the connection ended".into()
            } else {
                "bytes that never made a whole message before the connection ended".into()
            });
            self.out.messages.push(kept(self.excerpt, m));
        }
    }

    fn finish(&mut self) {
        let mut dirs: Vec<Dir> = self.streams.keys().copied().collect();
        dirs.sort();
        for (from, to) in dirs {
            let (frame, time_us) = self.last.get(&(from, to)).copied().unwrap_or((0, 0));
            let p = Packet {
                frame,
                time_us,
                tcp: true,
            };
            // An HTTP message delimited by a close that the capture never shows.
            self.drain(from, to, &p, true);
            self.flush(from, to, &p);
        }
        self.out.messages.sort_by_key(|m| (m.frame, m.time_us));
    }
}

/// (IP protocol, source, destination, layer-4 bytes) of an Ethernet frame.
fn ip(d: &[u8]) -> Option<(u8, IpAddr, IpAddr, &[u8])> {
    let ethertype = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
    match ethertype {
        0x0800 => {
            let ihl = (*d.get(14)? & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([*d.get(16)?, *d.get(17)?]) as usize;
            let src: [u8; 4] = d.get(26..30)?.try_into().ok()?;
            let dst: [u8; 4] = d.get(30..34)?.try_into().ok()?;
            let end = (14 + total).min(d.len());
            let l4 = d.get(14 + ihl.max(20)..end)?;
            Some((
                *d.get(23)?,
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                l4,
            ))
        }
        0x86DD => {
            let plen = u16::from_be_bytes([*d.get(18)?, *d.get(19)?]) as usize;
            let src: [u8; 16] = d.get(22..38)?.try_into().ok()?;
            let dst: [u8; 16] = d.get(38..54)?.try_into().ok()?;
            let end = (54 + plen).min(d.len());
            Some((
                *d.get(20)?,
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                d.get(54..end)?,
            ))
        }
        _ => None,
    }
}

/// The starts of the HTTP requests the reader recognises.
const HTTP_METHODS: [&[u8]; 7] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
];

/// What a connection carries, from the first bytes one side sent.
fn classify(buf: &[u8]) -> Kind {
    if buf.starts_with(b"MSRP ") {
        return Kind::SipOrMsrp;
    }
    if buf.starts_with(b"HTTP/") || HTTP_METHODS.iter().any(|m| buf.starts_with(m)) {
        return Kind::Http;
    }
    if buf.len() >= 16 {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let id = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if (16..=1 << 16).contains(&len) && smpp::command::name(id) != "unknown" {
            return Kind::Smpp;
        }
    }
    match sip::next_frame(buf, MAX_MESSAGE) {
        Ok(Some(_)) => Kind::SipOrMsrp,
        Ok(None) if buf.len() < 16 || buf.contains(&b' ') && buf.is_ascii() => {
            // A SIP head still arriving (or too little to tell).
            if buf.len() > 64 * 1024 {
                Kind::Unknown
            } else {
                Kind::Undecided
            }
        }
        _ => Kind::Unknown,
    }
}

fn udp_message(p: &Packet, from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Message {
    if from.port() == WSP_PORT || to.port() == WSP_PORT {
        match PushPdu::parse(payload) {
            Ok(pdu) => {
                let mut m = Message::new(p, from, to, Protocol::Wsp, payload.to_vec());
                wsp_into(&mut m, &pdu);
                return m;
            }
            Err(e) => {
                let mut m = Message::new(p, from, to, Protocol::Other, payload.to_vec());
                m.note = Some(format!("not a WSP push: {e}"));
                return m;
            }
        }
    }
    match SipMessage::parse(payload) {
        Ok(s) => sip_message(p, from, to, &s),
        Err(e) => {
            let mut m = Message::new(p, from, to, Protocol::Other, payload.to_vec());
            m.note = Some(format!("not SIP: {e}"));
            m
        }
    }
}

fn sip_message(p: &Packet, from: SocketAddr, to: SocketAddr, s: &SipMessage) -> Message {
    let mut m = Message::new(p, from, to, Protocol::Sip, s.raw().to_vec());
    m.method = s.method().map(str::to_string);
    m.status = s.status();
    m.reason = s.reason().map(str::to_string);
    mms_into(&mut m, s.header("Content-Type"), s.body());
    m
}

fn wsp_into(m: &mut Message, pdu: &PushPdu) {
    let ct = pdu.content_type.name().map(str::to_string);
    m.wsp.push(WspPush {
        pdu_type: pdu.pdu_type,
        app_id: pdu
            .application_id()
            .and_then(|a| a.name())
            .map(str::to_string),
        content_type: ct.clone(),
    });
    mms_into(m, ct.as_deref(), &pdu.body);
}

fn mms_into(m: &mut Message, content_type: Option<&str>, body: &[u8]) {
    let (types, malformed) = mms_types(content_type, body);
    m.mms.extend(types);
    m.malformed_mms |= malformed;
}

/// The X-Mms-Message-Type of a body of type `content_type` (an MMS PDU), of
/// the MMS parts of a multipart body (a PAP submission), or of the content of
/// an embedded HTTP message (OTA-HTTP); and whether an MMS body failed to
/// decode.
pub fn mms_types(content_type: Option<&str>, body: &[u8]) -> (Vec<u8>, bool) {
    let Some(ct) = content_type else {
        return (Vec::new(), false);
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/vnd.wap.mms-message" {
        return match crate::codec::mms::Pdu::parse(body) {
            Ok(p) => (p.message_type().map(|t| t.0).into_iter().collect(), false),
            Err(_) => (Vec::new(), true),
        };
    }
    if media.starts_with("multipart/") {
        let mut out = (Vec::new(), false);
        if let Ok(parts) = crate::codec::pap::parse_multipart(ct, body) {
            for p in &parts {
                let (t, bad) = mms_types(p.header("Content-Type"), &p.body);
                out.0.extend(t);
                out.1 |= bad;
            }
        }
        return out;
    }
    if media == "application/http" {
        return HttpMessage::parse(body)
            .or_else(|_| HttpMessage::parse_at_close(body))
            .map(|h| mms_types(h.header("Content-Type"), &h.body))
            .unwrap_or_default();
    }
    (Vec::new(), false)
}

fn tcp_message(
    wdp: &mut Reassembler,
    p: &Packet,
    from: SocketAddr,
    to: SocketAddr,
    kind: Kind,
    raw: Vec<u8>,
    closed: bool,
) -> Message {
    match kind {
        Kind::Smpp => match Pdu::parse(&raw) {
            Ok(pdu) => {
                let mut m = Message::new(p, from, to, Protocol::Smpp, raw);
                m.smpp = Some((pdu.header.command_id, pdu.header.command_status));
                // WDP over SMS: the WSP push, once its last segment is in.
                if let Some(sm) = pdu.sm().filter(|sm| sm.udhi())
                    && let Ok(Some(d)) = wdp.push(&sm.destination_addr, sm.payload(), true)
                    && d.dest_port == WSP_PORT
                    && let Ok(w) = PushPdu::parse(&d.data)
                {
                    wsp_into(&mut m, &w);
                }
                m
            }
            Err(e) => other(p, from, to, raw, format!("not an SMPP PDU: {e}")),
        },
        Kind::Http => {
            let parsed = if closed {
                HttpMessage::parse(&raw).or_else(|_| HttpMessage::parse_at_close(&raw))
            } else {
                HttpMessage::parse(&raw)
            };
            match parsed {
                Ok(h) => {
                    let mut m = Message::new(p, from, to, Protocol::Http, raw.clone());
                    m.method = h.method().map(|x| match h.target() {
                        Some(t) => format!("{x} {t}"),
                        None => x.to_string(),
                    });
                    m.status = h.status();
                    m.reason = h.status().and_then(|_| {
                        let line = h.head_text();
                        let first = line.lines().next()?.to_string();
                        Some(first.splitn(3, ' ').nth(2).unwrap_or("").to_string())
                    });
                    mms_into(&mut m, h.header("Content-Type"), &h.body);
                    m
                }
                Err(e) => other(p, from, to, raw, format!("not HTTP: {e}")),
            }
        }
        _ if raw.starts_with(b"MSRP ") => match MsrpMessage::parse(&raw) {
            Ok(x) => {
                let mut m = Message::new(p, from, to, Protocol::Msrp, raw);
                m.method = x.method().map(str::to_string);
                m.status = x.status();
                m.reason = x.phrase().map(str::to_string);
                m
            }
            Err(e) => other(p, from, to, raw, format!("not MSRP: {e}")),
        },
        _ => match SipMessage::parse(&raw) {
            Ok(s) => sip_message(p, from, to, &s),
            Err(e) => other(p, from, to, raw, format!("not SIP: {e}")),
        },
    }
}

/// One SMTP unit as framed by the dialogue's state: a reply (from the
/// server), the DATA content (after a 354), or a command line.
fn smtp_message(
    st: &mut SmtpState,
    p: &Packet,
    from: SocketAddr,
    to: SocketAddr,
    from_server: bool,
    raw: Vec<u8>,
) -> Message {
    if from_server {
        return match smtp::Reply::parse(&raw) {
            Ok(r) => {
                if st.data_sent {
                    st.data_sent = false;
                    st.content = r.code == 354;
                }
                if st.starttls_sent {
                    st.starttls_sent = false;
                    st.tls_next = r.code == 220;
                }
                let mut m = Message::new(p, from, to, Protocol::Smtp, raw);
                m.status = Some(r.code);
                m.reason = r.lines.first().cloned();
                m
            }
            Err(e) => other(p, from, to, raw, format!("not an SMTP reply: {e}")),
        };
    }
    if st.content {
        st.content = false;
        let mail = Mail::parse(&smtp::dot_unstuff(&raw));
        let short = |s: &str| -> String {
            let mut t: String = s.chars().take(200).collect();
            if t.len() < s.len() {
                t.push('…');
            }
            t
        };
        let head = MailHead {
            subject: mail.subject().map(|s| short(&s)),
            applic_id: mail
                .fields
                .iter()
                .find(|f| {
                    f.name.eq_ignore_ascii_case("Applic-ID")
                        || f.name.eq_ignore_ascii_case("X-Mms-Applic-ID")
                })
                .map(|f| (short(&f.name), short(&f.value))),
        };
        let mut m = Message::new(p, from, to, Protocol::Smtp, raw);
        m.mail = Some(head);
        return m;
    }
    // The verb as sent (its case too); a line that is not a command is shown
    // as the line it is, with why.
    let verb = raw
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let mut m = Message::new(p, from, to, Protocol::Smtp, raw.clone());
    m.method = Some(String::from_utf8_lossy(verb).into_owned());
    match smtp::Command::parse(&raw) {
        Ok(c) => {
            st.data_sent |= c.verb == "DATA";
            st.starttls_sent = c.verb == "STARTTLS";
        }
        Err(e) => m.note = Some(format!("not an SMTP command: {e}")),
    }
    m
}

fn other(p: &Packet, from: SocketAddr, to: SocketAddr, raw: Vec<u8>, note: String) -> Message {
    let mut m = Message::new(p, from, to, Protocol::Other, raw);
    m.note = Some(note);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::capture::Capture;

    fn capture(f: impl FnOnce(&Capture)) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!(
            "liaison-ladder-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("t.pcap");
        let c = Capture::create(&path).unwrap();
        f(&c);
        c.flush().unwrap();
        drop(c);
        let b = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        b
    }

    #[test]
    fn sip_over_udp_and_tcp_smpp_and_garbage() {
        let ua: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let sut: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let smsc: SocketAddr = "127.0.0.1:2775".parse().unwrap();
        let esme: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let req = b"MESSAGE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nCall-ID: a\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi";
        let resp = b"SIP/2.0 415 <script>x</script>\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nCall-ID: a\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let bind = smpp::Pdu::new(smpp::command::ENQUIRE_LINK, 0, 7, smpp::Body::Empty).encode();
        let pcap = capture(|c| {
            c.udp(ua, sut, req);
            c.udp(sut, ua, resp);
            c.udp(sut, ua, b"\x00\x01garbage");
            c.tcp_connect(esme, smsc);
            // Split across two segments: framed once whole.
            c.tcp_data(esme, smsc, &bind[..5]);
            c.tcp_data(esme, smsc, &bind[5..]);
            c.tcp_data(smsc, esme, b"half a PDU");
            c.tcp_close(esme, smsc);
        });
        let l = read(&pcap);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let labels: Vec<String> = l.messages.iter().map(|m| m.label()).collect();
        assert_eq!(
            labels,
            vec![
                "MESSAGE",
                "415 <script>x</script>",
                "9 bytes (UDP)",
                "enquire_link",
                "10 bytes (TCP)"
            ]
        );
        assert_eq!(l.messages[0].from, ua);
        assert_eq!(l.messages[1].to, ua);
        assert_eq!(l.messages[3].bytes, bind);
        assert!(l.messages[2]
            .note
            .as_deref()
            .unwrap()
            .starts_with("not SIP"));
    }

    /// Moves frame `index` (from 0) of a pcap `by_us` microseconds later.
    fn delay(pcap: &mut [u8], index: usize, by_us: u64) {
        let mut at = 24;
        for _ in 0..index {
            let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap());
            at += 16 + caplen as usize;
        }
        let secs = u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap()) as u64;
        let micros = u32::from_le_bytes(pcap[at + 4..at + 8].try_into().unwrap()) as u64;
        let t = secs * 1_000_000 + micros + by_us;
        pcap[at..at + 4].copy_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        pcap[at + 4..at + 8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
    }

    #[test]
    fn a_packet_captured_twice_is_a_duplicate() {
        let ua: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let core: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let req = b"MESSAGE sip:bob@x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        // What the harness wrote before the fix: the sender's copy, then the
        // receiver's (another IPv4 identification). For TCP, the same segment
        // (same sequence number) written twice: frame 7 copied as frame 8.
        let mut pcap = capture(|c| {
            c.udp(ua, core, req);
            c.udp(ua, core, req);
            c.udp(core, ua, req);
            c.tcp_connect(peer, core);
            c.tcp_data(peer, core, req);
        });
        repeat_record(&mut pcap, 7);
        let d = duplicates(&pcap);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].first, d[0].again, d[0].tcp), (1, 2, false));
        assert_eq!((d[0].from, d[0].to), (ua, core));
        assert_eq!(d[0].payload, req);
        assert!(d[0].gap_us <= DUPLICATE_WINDOW_US);
        assert_eq!((d[1].first, d[1].again, d[1].tcp), (7, 8, true));
        let text = d[0].to_string();
        assert!(text.contains("frame 2 repeats frame 1"), "{text}");
        assert!(text.contains("127.0.0.1:5060 -> 127.0.0.1:5070"), "{text}");

        // A connection opened twice: the SYN and the SYN/ACK repeat.
        let pcap = capture(|c| {
            c.tcp_connect(peer, core);
            c.tcp_connect(peer, core);
        });
        let d = duplicates(&pcap);
        assert_eq!(
            d.iter().map(|x| (x.first, x.again)).collect::<Vec<_>>(),
            [(1, 4), (2, 5)],
            "{d:?}"
        );
    }

    /// Appends a copy of record `n` (1-based) of a pcap, 1 µs later.
    fn repeat_record(pcap: &mut Vec<u8>, n: usize) {
        let mut at = 24;
        for _ in 1..n {
            let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap());
            at += 16 + caplen as usize;
        }
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let record = pcap[at..at + 16 + caplen].to_vec();
        pcap.extend_from_slice(&record);
        let last = pcap.len() - record.len();
        let micros = u32::from_le_bytes(pcap[last + 4..last + 8].try_into().unwrap());
        pcap[last + 4..last + 8].copy_from_slice(&(micros + 1).to_le_bytes());
    }

    /// The same bytes sent twice in one TCP stream (two SMTP "250 OK"
    /// replies 0.5 ms apart, as aiosmtpd sends them) are two segments at
    /// two places in the stream, not one packet captured twice.
    #[test]
    fn the_same_bytes_further_on_in_a_stream_are_no_duplicate() {
        let server: SocketAddr = "127.0.0.1:12525".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:42152".parse().unwrap();
        let pcap = capture(|c| {
            c.tcp_connect(client, server);
            c.tcp_data(server, client, b"250 OK\r\n");
            c.tcp_data(server, client, b"250 OK\r\n");
        });
        assert_eq!(duplicates(&pcap), []);
    }

    #[test]
    fn a_repetition_after_a_millisecond_or_a_pure_ack_is_no_duplicate() {
        let a: SocketAddr = "[::1]:5060".parse().unwrap();
        let b: SocketAddr = "[::1]:5070".parse().unwrap();
        let req = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let mut pcap = capture(|c| {
            c.udp(a, b, req);
            c.udp(a, b, req);
            // Handshake, data both ways, close: ACKs without payload repeat.
            c.tcp_connect(a, b);
            c.tcp_data(a, b, b"x");
            c.tcp_data(b, a, b"y");
            c.tcp_close(a, b);
        });
        // A retransmission: the second copy 1.001 ms after the first.
        delay(&mut pcap, 1, DUPLICATE_WINDOW_US + 1);
        for i in 2..10 {
            delay(&mut pcap, i, DUPLICATE_WINDOW_US + 1);
        }
        assert_eq!(duplicates(&pcap), []);
        assert_eq!(read(&pcap).messages.len(), 4);

        // A request retransmitted, and a slow SUT answering both copies back
        // to back (RFC 3261 §17.2.2): two packets, no duplicate. A third
        // copy of the answer has no request copy to answer.
        let req = b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK7\r\nCSeq: 4 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let resp = b"SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK7\r\nCSeq: 4 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let mut pcap = capture(|c| {
            c.udp(a, b, req);
            c.udp(a, b, req);
            c.udp(b, a, resp);
            c.udp(b, a, resp);
            c.udp(b, a, resp);
        });
        delay(&mut pcap, 1, DUPLICATE_WINDOW_US + 1);
        for i in 2..5 {
            delay(&mut pcap, i, DUPLICATE_WINDOW_US + 1);
        }
        let d = duplicates(&pcap);
        assert_eq!(
            d.iter().map(|x| (x.first, x.again)).collect::<Vec<_>>(),
            [(4, 5)],
            "{d:?}"
        );
        // A proxy (b) that received the request twice and, stalled, forwards
        // both copies to c back to back: two packets. A third forwarded copy
        // has no third arrival behind it.
        let c: SocketAddr = "[::1]:5080".parse().unwrap();
        let call = b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK7\r\nCall-ID: c1@x\r\nCSeq: 4 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let fwd = b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:5070;branch=z9hG4bK8\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK7\r\nCall-ID: c1@x\r\nCSeq: 4 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let mut pcap = capture(|cap| {
            cap.udp(a, b, call);
            cap.udp(a, b, call);
            cap.udp(b, c, fwd);
            cap.udp(b, c, fwd);
            cap.udp(b, c, fwd);
        });
        delay(&mut pcap, 1, DUPLICATE_WINDOW_US + 1);
        let d = duplicates(&pcap);
        assert_eq!(
            d.iter().map(|x| (x.first, x.again)).collect::<Vec<_>>(),
            [(4, 5)],
            "{d:?}"
        );
        // Not a pcap, or cut: no panic, nothing found.
        assert_eq!(duplicates(b"not a pcap"), []);
        assert_eq!(duplicates(&pcap[..pcap.len() - 3]), []);
    }

    #[test]
    fn a_cut_capture_keeps_what_came_before() {
        let a: SocketAddr = "[::1]:5060".parse().unwrap();
        let b: SocketAddr = "[::1]:5070".parse().unwrap();
        let req = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let mut pcap = capture(|c| {
            c.udp(a, b, req);
            c.udp(b, a, req);
        });
        pcap.truncate(pcap.len() - 10);
        let l = read(&pcap);
        assert_eq!(l.messages.len(), 1);
        assert_eq!(l.messages[0].from, a);
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert!(read(b"not a pcap").problems[0].starts_with("not a pcap"));
        no_panic_on_mutations(&pcap, 0, 200);
    }

    /// A report's reading of a pcap file ([`read_excerpt`]) gives what
    /// [`read`] gives for a small one, and on a large one stops at the caps:
    /// bytes held across connections, or the ladder's messages.
    #[test]
    fn a_reports_reading_stops_at_its_caps() {
        let dir = std::env::temp_dir().join(format!("liaison-ladder-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, f: &dyn Fn(&Capture)| {
            let path = dir.join(name);
            let c = Capture::create(&path).unwrap();
            f(&c);
            c.flush().unwrap();
            path
        };
        let ua: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let sut: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let req = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        // Small: the same as a whole reading.
        let small = write("small.pcap", &|c| {
            c.udp(ua, sut, req);
            c.tcp_connect(ua, sut);
            c.tcp_data(ua, sut, req);
            c.tcp_data(sut, ua, b"\x00never a message");
            c.tcp_close(ua, sut);
        });
        let whole = read(&std::fs::read(&small).unwrap());
        let l = read_excerpt(&small).unwrap();
        assert_eq!(l.stopped, None);
        assert_eq!((l.frames, l.frames_total), (whole.frames, whole.frames));
        assert_eq!(l.payload_total, whole.payload_total);
        let bytes = |l: &Ladder| {
            l.messages
                .iter()
                .map(|m| m.bytes.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&l), bytes(&whole));
        // Three connections sending bytes of no protocol at once: the
        // reading stops once 8 MiB are held, long before the end.
        let garbage = write("garbage.pcap", &|c| {
            let chunk = vec![0u8; 32_000];
            let peers: Vec<SocketAddr> = (0..3)
                .map(|i| format!("127.0.0.1:{}", 41000 + i).parse().unwrap())
                .collect();
            for p in &peers {
                c.tcp_connect(*p, sut);
            }
            for _ in 0..120 {
                for p in &peers {
                    c.tcp_data(sut, *p, &chunk);
                }
            }
        });
        let l = read_excerpt(&garbage).unwrap();
        let why = l.stopped.as_deref().unwrap_or("");
        assert!(why.starts_with("with 8.4 MB held"), "{why}");
        assert!(
            l.frames < l.frames_total,
            "{} of {}",
            l.frames,
            l.frames_total
        );
        assert_eq!(l.payload_total, 3 * 120 * 32_000);
        // A flood of datagrams: the reading stops at the ladder's messages.
        let flood = write("flood.pcap", &|c| {
            for _ in 0..excerpt::LADDER_MESSAGES + 50 {
                c.udp(sut, ua, req);
            }
        });
        let l = read_excerpt(&flood).unwrap();
        assert_eq!(l.messages.len(), excerpt::LADDER_MESSAGES);
        assert_eq!(l.frames as usize, excerpt::LADDER_MESSAGES);
        assert_eq!(l.frames_total as usize, excerpt::LADDER_MESSAGES + 50);
        assert!(l
            .stopped
            .as_deref()
            .unwrap()
            .starts_with("after 300 messages"));
        // Not a pcap: said, not an error.
        let junk = dir.join("junk.pcap");
        std::fs::write(&junk, b"not a pcap at all, not even close").unwrap();
        assert!(read_excerpt(&junk).unwrap().problems[0].starts_with("not a pcap"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A SIP MESSAGE and its 200 over TLS (the version `offer` allows)
    /// between a harness TLS client and server on loopback, captured into
    /// one file: its bytes.
    fn tls_capture(
        offer: crate::net::tls::Offer,
        server_offer: crate::net::tls::Offer,
    ) -> (Vec<u8>, bool) {
        use crate::net::tls::{LabCa, TlsClient, TlsServer};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ca = LabCa::new().unwrap();
        let leaf = ca.issue(&[], &["127.0.0.1".parse().unwrap()]).unwrap();
        let t = std::time::Duration::from_secs(5);
        let msg = b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        let updated = std::cell::Cell::new(false);
        let pcap = capture(|cap| {
            rt.block_on(async {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = l.local_addr().unwrap();
                let server = TlsServer::new(&leaf, &server_offer).unwrap();
                let sc = cap.clone();
                let h = tokio::spawn(async move {
                    let (tcp, _) = l.accept().await.unwrap();
                    let mut s = server.accept(tcp, sc, t).await.unwrap();
                    // Two requests, the second after the client's KeyUpdate
                    // (TLS 1.3), which asks the server to update too.
                    for _ in 0..2 {
                        let mut got = vec![0u8; msg.len()];
                        s.read_exact(&mut got).await.unwrap();
                        s.write_all(ok).await.unwrap();
                    }
                    let mut rest = Vec::new();
                    let _ = s.read_to_end(&mut rest).await;
                    s.shutdown().await.unwrap();
                });
                let client = TlsClient::new(ca.peer_check().unwrap(), &offer, None).unwrap();
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut c = client
                    .connect(tcp, "127.0.0.1", cap.clone(), t)
                    .await
                    .unwrap();
                for round in 0..2 {
                    if round == 1 {
                        // TLS 1.3 only.
                        updated.set(c.refresh_traffic_keys().is_ok());
                    }
                    c.write_all(msg).await.unwrap();
                    let mut got = vec![0u8; ok.len()];
                    c.read_exact(&mut got).await.unwrap();
                }
                c.shutdown().await.unwrap();
                h.await.unwrap();
            })
        });
        (pcap, updated.get())
    }

    /// A pcapng capture's TLS connection is read decrypted, from memory
    /// and from the file alike; without its secrets it says so; hostile
    /// bytes anywhere in it make no panic.
    #[test]
    fn tls_connections_are_read_decrypted() {
        use crate::net::tls::Offer;
        // The client's key share (X25519, the first group) is not the
        // server's group: a HelloRetryRequest first.
        let p256 = || {
            Offer::tls13()
                .only_groups(&[rustls::NamedGroup::secp256r1])
                .unwrap()
        };
        for (offer, server_offer, name, hrr_expected) in [
            (
                Offer::tls13(),
                Offer::tls13(),
                "TLS 1.3 TLS_AES_256_GCM_SHA384",
                false,
            ),
            (
                Offer::tls13(),
                p256(),
                "TLS 1.3 TLS_AES_256_GCM_SHA384",
                true,
            ),
            (
                Offer::tls12(),
                Offer::tls12(),
                "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                false,
            ),
        ] {
            let (pcap, updated) = tls_capture(offer, server_offer);
            assert_eq!(
                updated,
                name.starts_with("TLS 1.3"),
                "{name}: KeyUpdate sent"
            );
            assert!(pcap.starts_with(&PCAPNG_MAGIC));
            assert_eq!(
                pcap.windows(32).any(|w| w == tls::HRR_RANDOM),
                hrr_expected,
                "{name}: a HelloRetryRequest in the capture"
            );
            let l = read(&pcap);
            assert!(l.problems.is_empty(), "{:?}", l.problems);
            let sip: Vec<(String, Option<&str>)> = l
                .messages
                .iter()
                .filter(|m| m.protocol == Protocol::Sip)
                .map(|m| (m.label(), m.tls.as_deref()))
                .collect();
            assert_eq!(
                sip,
                [
                    ("MESSAGE".into(), Some(name)),
                    ("200 OK".into(), Some(name)),
                    ("MESSAGE".into(), Some(name)),
                    ("200 OK".into(), Some(name))
                ]
            );
            // Nothing but the closes beside them: the records after the
            // KeyUpdates (TLS 1.3, both ways) decrypted with the next keys.
            assert!(l
                .messages
                .iter()
                .all(|m| m.protocol != Protocol::Tls || m.label().contains("close_notify")));
            // The file read for a report gives the same.
            let dir =
                std::env::temp_dir().join(format!("liaison-ladder-tls-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let f = dir.join("tls.pcap");
            std::fs::write(&f, &pcap).unwrap();
            let e = read_excerpt(&f).unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            assert_eq!(
                e.messages.iter().map(Message::label).collect::<Vec<_>>(),
                l.messages.iter().map(Message::label).collect::<Vec<_>>()
            );
            assert_eq!((e.frames, e.frames_total), (l.frames, l.frames_total));
            // Without the Decryption Secrets Blocks: said, not guessed.
            let stripped = strip_dsbs(&pcap);
            let l = read(&stripped);
            assert!(l.messages.iter().all(|m| m.protocol != Protocol::Sip));
            let notes: Vec<String> = l
                .messages
                .iter()
                .map(|m| format!("{}: {}", m.label(), m.note.as_deref().unwrap_or("")))
                .collect();
            assert!(
                notes
                    .iter()
                    .any(|n| n.starts_with("TLS records not decrypted") && n.contains("no secret")),
                "{notes:?}"
            );
            no_panic_on_mutations(&pcap, 28, 300);
        }
    }

    /// SMTP with STARTTLS (RFC 3207) at the harness MM3 server: the
    /// dialogue in the clear up to the 220, the TLS handshake on the same
    /// connection, then the dialogue read decrypted, as SMTP still.
    #[test]
    fn smtp_after_starttls_is_read_decrypted() {
        use crate::net::tls::{LabCa, Offer, TlsClient, TlsServer};
        use crate::roles::smtp_server::SmtpServer;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ca = LabCa::new().unwrap();
        let leaf = ca.issue(&[], &["127.0.0.1".parse().unwrap()]).unwrap();
        let t = std::time::Duration::from_secs(5);
        async fn upto(s: &mut (impl AsyncReadExt + Unpin), end: &[u8]) -> Vec<u8> {
            let mut got = Vec::new();
            let mut b = [0u8; 1];
            while !got.ends_with(end) && s.read(&mut b).await.unwrap() == 1 {
                got.push(b[0]);
            }
            got
        }
        let pcap = capture(|cap| {
            rt.block_on(async {
                let server = SmtpServer::start("127.0.0.1:0".parse().unwrap(), cap.clone())
                    .await
                    .unwrap();
                server.offer_starttls(Some(TlsServer::new(&leaf, &Offer::all()).unwrap()));
                let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
                upto(&mut tcp, b"ESMTP\r\n").await;
                tcp.write_all(b"EHLO c\r\n").await.unwrap();
                assert!(upto(&mut tcp, b"250 STARTTLS\r\n")
                    .await
                    .ends_with(b"STARTTLS\r\n"));
                tcp.write_all(b"STARTTLS\r\n").await.unwrap();
                assert!(upto(&mut tcp, b"TLS\r\n").await.starts_with(b"220 "));
                let client = TlsClient::new(ca.peer_check().unwrap(), &Offer::all(), None).unwrap();
                let mut c = client
                    .connect_upgraded(tcp, "127.0.0.1", Capture::disabled(), t)
                    .await
                    .unwrap();
                for (line, reply) in [
                    (&b"EHLO c\r\n"[..], &b"250 HELP\r\n"[..]),
                    (b"MAIL FROM:<a@x>\r\n", b"Ok\r\n"),
                    (b"RCPT TO:<b@y>\r\n", b"Ok\r\n"),
                    (b"DATA\r\n", b"<LF>\r\n"),
                    (b"Subject: s\r\n\r\nhi\r\n.\r\n", b"queued\r\n"),
                    (b"QUIT\r\n", b"Bye\r\n"),
                ] {
                    c.write_all(line).await.unwrap();
                    c.flush().await.unwrap();
                    assert!(upto(&mut c, reply).await.ends_with(reply));
                }
                let mut rest = Vec::new();
                let _ = c.read_to_end(&mut rest).await;
                assert_eq!(server.log().len(), 1);
                assert!(server.log()[0].tls.is_some());
            })
        });
        let l = read(&pcap);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let smtp: Vec<(String, bool)> = l
            .messages
            .iter()
            .filter(|m| m.protocol == Protocol::Smtp)
            .map(|m| (m.label(), m.tls.is_some()))
            .collect();
        let labels: Vec<&str> = smtp.iter().map(|(l, _)| l.as_str()).collect();
        let all: Vec<(Protocol, String)> =
            l.messages.iter().map(|m| (m.protocol, m.label())).collect();
        let at = labels
            .iter()
            .position(|l| l.starts_with("SMTP 220 2.0.0"))
            .unwrap_or_else(|| panic!("{all:?}"));
        assert_eq!(labels[at - 1], "STARTTLS", "{labels:?}");
        assert!(smtp[..=at].iter().all(|(_, tls)| !tls), "{smtp:?}");
        let inside = &smtp[at + 1..];
        assert_eq!(inside.len(), 12, "{smtp:?}");
        assert!(inside.iter().all(|(_, tls)| *tls), "{smtp:?}");
        assert_eq!(inside[0].0, "EHLO");
        assert_eq!(inside[2].0, "MAIL");
    }

    /// A pcapng file without its Decryption Secrets Blocks.
    fn strip_dsbs(pcap: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= pcap.len() {
            let ty = u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(pcap[at + 4..at + 8].try_into().unwrap()) as usize;
            if ty != 0x0A {
                out.extend_from_slice(&pcap[at..at + len]);
            }
            at += len;
        }
        out
    }

    /// Any bytes at all: no panic. `rounds` copies of `pcap`, each with a few
    /// bytes past `keep` changed (seeded xorshift, repeatable).
    fn no_panic_on_mutations(pcap: &[u8], keep: usize, rounds: usize) {
        let mut x = 1u64;
        for n in 0..rounds {
            let mut junk = pcap.to_vec();
            for _ in 0..(n % 7 + 1) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = keep + (x as usize) % (junk.len() - keep);
                junk[i] = (x >> 24) as u8;
            }
            let _ = read(&junk);
        }
    }

    #[test]
    fn smtp_dialogues_refused_data_and_a_cut_message() {
        let mta: SocketAddr = "127.0.0.1:2525".parse().unwrap();
        let mem: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        let late: SocketAddr = "127.0.0.1:40999".parse().unwrap();
        let cut: SocketAddr = "127.0.0.1:41001".parse().unwrap();
        let mail = b"Subject: New mail\r\nApplic-ID: MEM\r\n\r\n.dot\r\n";
        let pcap = capture(|c| {
            // The late answer of a connection that began in an earlier
            // capture: SMTP, since the port greets with 220 further on.
            c.tcp_data(mta, late, b"221 bye\r\n");
            c.tcp_connect(mem, mta);
            c.tcp_data(mta, mem, b"220 mm3 ESMTP\r\n");
            c.tcp_data(mem, mta, b"ehlo mem\r\n");
            c.tcp_data(mta, mem, b"250-mm3\r\n250 SIZE 1000\r\n");
            c.tcp_data(mem, mta, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
            c.tcp_data(mta, mem, b"250 OK\r\n250 OK\r\n");
            c.tcp_data(mem, mta, b"DATA\r\n");
            c.tcp_data(mta, mem, b"354 go on\r\n");
            // The content in two segments, dot-stuffed: one message.
            let d = smtp::dot_stuff(mail);
            c.tcp_data(mem, mta, &d[..10]);
            c.tcp_data(mem, mta, &d[10..]);
            c.tcp_data(mta, mem, b"250 queued\r\n");
            // A refused DATA: what follows is read as command lines.
            c.tcp_data(mem, mta, b"DATA\r\n");
            c.tcp_data(mta, mem, b"554 no valid recipients\r\n");
            c.tcp_data(mem, mta, b"Subject: x\r\nQUIT\r\n");
            c.tcp_data(mta, mem, b"221 bye\r\n");
            c.tcp_close(mem, mta);
            // A message cut by the close.
            c.tcp_connect(cut, mta);
            c.tcp_data(mta, cut, b"220 mm3\r\n");
            c.tcp_data(cut, mta, b"DATA\r\n");
            c.tcp_data(mta, cut, b"354 go on\r\n");
            c.tcp_data(cut, mta, b"Subject: cut\r\n\r\nhalf");
            c.tcp_close(cut, mta);
        });
        let l = read(&pcap);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.smtp_ports, [2525]);
        assert!(l.http_ports.is_empty());
        let labels: Vec<String> = l.messages.iter().map(|m| m.label()).collect();
        assert_eq!(
            labels,
            vec![
                "SMTP 221 bye",
                "SMTP 220 mm3 ESMTP",
                "ehlo",
                "SMTP 250 mm3",
                "MAIL",
                "RCPT",
                "SMTP 250 OK",
                "SMTP 250 OK",
                "DATA",
                "SMTP 354 go on",
                "DATA message · Subject: New mail · Applic-ID: MEM",
                "SMTP 250 queued",
                "DATA",
                "SMTP 554 no valid recipients",
                "Subject:",
                "QUIT",
                "SMTP 221 bye",
                "SMTP 220 mm3",
                "DATA",
                "SMTP 354 go on",
                "20 bytes (TCP)",
            ]
        );
        let m = &l.messages;
        assert!(m
            .iter()
            .all(|x| x.protocol == Protocol::Smtp || x.frame == m[20].frame));
        // The content as on the wire, in the frame that completed it.
        assert_eq!(m[10].bytes, smtp::dot_stuff(mail));
        assert_eq!(m[10].from, mem);
        assert_eq!(m[10].frame, m[9].frame + 2);
        assert_eq!(m[4].frame, m[5].frame);
        assert_eq!(m[3].status, Some(250));
        assert!(m[14]
            .note
            .as_deref()
            .unwrap()
            .starts_with("not an SMTP command"));
        assert!(m[15].note.is_none());
        assert_eq!(m[20].protocol, Protocol::Other);
        assert!(m[20].note.as_deref().unwrap().contains("DATA content"));
        // The pcap header kept, so that the frames are read.
        no_panic_on_mutations(&pcap, 24, 300);
    }

    #[test]
    fn mms_type_names() {
        assert_eq!(mms_type_name(0x82), "M-Notification.ind");
        assert_eq!(mms_type_name(0x8B), "M-Mbox-Store.req");
        assert_eq!(mms_type_name(0x20), "MMS 0x20");
    }
}
