//! `liaison decode`'s core, sans-IO: bytes in, field lists with offsets out.
//!
//! The input is raw bytes, a hex dump or a capture ([`input`]); a capture is
//! read back into messages by the report's reader
//! ([`crate::report::ladder::read`]: frames, TCP streams joined, messages
//! framed per protocol) and each message is decoded on its own. A PDU is
//! decoded into a flat list of [`Field`]s — offset (from the PDU's first
//! byte), length, name, value, nesting depth — by walking its bytes beside
//! the suite's codecs (`src/codec`), which stay the judges: where a codec
//! refuses the bytes, the walk's fields so far are kept and the error names
//! the offset ([`DecodeError`]). Nothing here reads files or panics on any
//! input; [`render`] turns the result into text or JSON.

pub mod binary;
pub mod capture;
pub mod input;
pub mod pap;
pub mod render;
pub mod text;

use serde::Serialize;

/// Largest input `liaison decode` reads (file or stdin), in bytes.
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;
/// Most PDUs decoded from one input (a capture's messages, or PDUs one after
/// the other in raw bytes); the rest are counted, not shown.
pub const MAX_PDUS: usize = 1000;
/// Most fields listed for one PDU (a hostile PDU of 10 000 headers).
pub const MAX_FIELDS: usize = 2000;
/// Most fields listed for a whole input: the decoding stops at the PDU that
/// reaches it (the output of a large capture stays a few megabytes).
pub const MAX_TOTAL_FIELDS: usize = 100_000;
/// Most input bytes shown in one field's value.
pub const VALUE_BYTES: usize = 96;

/// The protocols the decoder knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Sip,
    Msrp,
    Mms,
    Wsp,
    Pap,
    Smpp,
    Smtp,
    Http,
    Sdp,
}

impl Proto {
    pub const ALL: [Proto; 9] = [
        Proto::Sip,
        Proto::Msrp,
        Proto::Mms,
        Proto::Wsp,
        Proto::Pap,
        Proto::Smpp,
        Proto::Smtp,
        Proto::Http,
        Proto::Sdp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Sip => "sip",
            Proto::Msrp => "msrp",
            Proto::Mms => "mms",
            Proto::Wsp => "wsp",
            Proto::Pap => "pap",
            Proto::Smpp => "smpp",
            Proto::Smtp => "smtp",
            Proto::Http => "http",
            Proto::Sdp => "sdp",
        }
    }

    /// `sip`, `msrp`, … (case-insensitive); `None` for `auto` or an unknown name.
    pub fn from_name(s: &str) -> Option<Proto> {
        Proto::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// One field of a PDU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Field {
    /// From the first byte of the PDU.
    pub offset: usize,
    pub len: usize,
    pub name: String,
    pub value: String,
    /// 0 for the PDU's own fields, 1 for those of what its body carries, …
    pub depth: usize,
}

/// Where and why the bytes stop being the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    /// From the first byte of the PDU.
    pub offset: usize,
    pub message: String,
}

/// One decoded PDU.
#[derive(Clone, Debug, Serialize)]
pub struct Pdu {
    pub proto: Proto,
    /// `--proto auto`: why this protocol was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guessed: Option<String>,
    /// The PDU's bytes (input-relative offset of its first byte in `start`).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Offset of the PDU's first byte in the decoded input (raw or hex
    /// input; 0 for a capture's messages).
    pub start: usize,
    pub len: usize,
    pub fields: Vec<Field>,
    /// More fields than [`MAX_FIELDS`] were found: how many were not listed.
    pub fields_more: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DecodeError>,
}

/// Collects fields at an offset base and a depth (nested bodies).
pub(crate) struct Out<'a> {
    fields: &'a mut Vec<Field>,
    more: &'a mut usize,
    base: usize,
    depth: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(fields: &'a mut Vec<Field>, more: &'a mut usize) -> Out<'a> {
        Out {
            fields,
            more,
            base: 0,
            depth: 0,
        }
    }

    pub(crate) fn add(&mut self, offset: usize, len: usize, name: &str, value: impl Into<String>) {
        if self.fields.len() >= MAX_FIELDS {
            *self.more += 1;
            return;
        }
        self.fields.push(Field {
            offset: self.base + offset,
            len,
            name: name.to_string(),
            value: value.into(),
            depth: self.depth,
        });
    }

    /// The fields of what starts at `offset` (a body), one level deeper.
    pub(crate) fn nested(&mut self, offset: usize) -> Out<'_> {
        Out {
            fields: self.fields,
            more: self.more,
            base: self.base + offset,
            depth: self.depth + 1,
        }
    }

    /// An error at `offset` of what this `Out` lists (made PDU-relative).
    pub(crate) fn err(&self, offset: usize, message: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.base + offset,
            message: message.into(),
        }
    }
}

/// Bytes shown as a field value: printable ASCII as is, the rest escaped,
/// at most [`VALUE_BYTES`].
pub(crate) fn show(b: &[u8]) -> String {
    crate::codec::escape_bytes(b, VALUE_BYTES)
}

/// Text shown as a field value: UTF-8 as is (people read names and
/// messages in their script), controls escaped (`\r`, `\n`, `\t`,
/// `\u{1b}`), at most [`VALUE_BYTES`] characters; bytes that are not UTF-8
/// as [`show`] shows them.
pub(crate) fn show_text(b: &[u8]) -> String {
    let Ok(t) = std::str::from_utf8(b) else {
        return show(b);
    };
    let mut out = String::new();
    for (n, c) in t.chars().enumerate() {
        if n == VALUE_BYTES {
            out.push_str(&format!("… ({} more characters)", t.chars().count() - n));
            break;
        }
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Bytes shown as hex octets (`0a 41 42`), at most `max`.
pub fn hex(b: &[u8], max: usize) -> String {
    let mut s: String = b
        .iter()
        .take(max)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if b.len() > max {
        s.push_str(&format!(" … ({} more)", b.len() - max));
    }
    s
}

/// Decodes one PDU of `proto` at the start of `bytes`; returns it and how
/// many bytes it took (at least 1 when `bytes` is not empty, so that a caller
/// reading PDUs one after the other always moves on).
pub fn decode_one(proto: Proto, bytes: &[u8]) -> (Pdu, usize) {
    let mut fields = Vec::new();
    let mut more = 0;
    let mut out = Out::new(&mut fields, &mut more);
    let (used, error) = match proto {
        Proto::Sip => text::sip(bytes, &mut out),
        Proto::Msrp => text::msrp(bytes, &mut out),
        Proto::Http => text::http(bytes, &mut out),
        Proto::Smtp => text::smtp(bytes, &mut out),
        Proto::Smpp => binary::smpp(bytes, &mut out),
        Proto::Wsp => binary::wsp(bytes, &mut out),
        Proto::Mms => binary::mms(bytes, &mut out),
        Proto::Pap => pap::pap(bytes, &mut out),
        Proto::Sdp => text::sdp_body(bytes, &mut out),
    };
    let used = used.clamp(bytes.len().min(1), bytes.len());
    let pdu = Pdu {
        proto,
        guessed: None,
        bytes: bytes[..used].to_vec(),
        start: 0,
        len: used,
        fields,
        fields_more: more,
        error,
    };
    (pdu, used)
}

/// The protocol `bytes` look like, and why; `None` when none fits.
pub fn guess(bytes: &[u8]) -> Option<(Proto, String)> {
    let b = bytes;
    let trimmed = {
        let t = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        let ws = t
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(t.len());
        &t[ws..]
    };
    if b.starts_with(b"MSRP ") {
        return Some((Proto::Msrp, "starts with `MSRP `".into()));
    }
    let first_line = {
        let s = b.iter().skip_while(|&&c| c == b'\r' || c == b'\n');
        let line: Vec<u8> = s.take_while(|&&c| c != b'\n').copied().take(4096).collect();
        line.strip_suffix(b"\r").map(<[u8]>::to_vec).unwrap_or(line)
    };
    if first_line.starts_with(b"SIP/2.0 ") || first_line.ends_with(b" SIP/2.0") {
        return Some((Proto::Sip, "a SIP start line".into()));
    }
    if first_line == b"v=0" {
        return Some((Proto::Sdp, "an SDP version line `v=0`".into()));
    }
    if first_line.starts_with(b"HTTP/1.") || first_line.windows(7).any(|w| w == b" HTTP/1") {
        return Some((Proto::Http, "an HTTP start line".into()));
    }
    if (trimmed.starts_with(b"<?xml")
        || trimmed.starts_with(b"<pap")
        || trimmed.starts_with(b"<!DOCTYPE"))
        && memchr::memmem::find(trimmed, b"<pap").is_some()
    {
        return Some((Proto::Pap, "XML with a <pap> element".into()));
    }
    if b.len() >= 16 {
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let id = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        // A command_length beyond the input is a cut PDU, decoded as far as it goes.
        if (16..=1 << 16).contains(&len) && crate::codec::smpp::command::name(id) != "unknown" {
            return Some((
                Proto::Smpp,
                format!(
                    "an SMPP header: command_length {len}, command_id 0x{id:08x} ({})",
                    crate::codec::smpp::command::name(id)
                ),
            ));
        }
    }
    if b.len() >= 2 && b[0] == 0x8C && crate::codec::mms::MessageType(b[1]).name().is_some() {
        return Some((
            Proto::Mms,
            format!("X-Mms-Message-Type (0x8c) {:#04x} first", b[1]),
        ));
    }
    if b.len() >= 3 && (b[1] == 0x06 || b[1] == 0x07) {
        return Some((
            Proto::Wsp,
            format!("WSP PDU type {:#04x} (Push/ConfirmedPush) second", b[1]),
        ));
    }
    if first_line.len() >= 3
        && first_line[..3].iter().all(u8::is_ascii_digit)
        && matches!(first_line.get(3), None | Some(b' ') | Some(b'-'))
    {
        return Some((Proto::Smtp, "an SMTP reply code".into()));
    }
    const VERBS: [&str; 14] = [
        "EHLO", "HELO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP", "STARTTLS", "VRFY", "AUTH",
        "BDAT", "EXPN", "HELP",
    ];
    let verb: Vec<u8> = first_line
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .copied()
        .collect();
    if VERBS
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(&verb))
        && matches!(first_line.get(verb.len()), None | Some(b' '))
    {
        return Some((Proto::Smtp, "an SMTP command".into()));
    }
    None
}

/// What a whole input decoded to.
#[derive(Debug, Default, Serialize)]
pub struct Decoded {
    /// What the input was: `raw`, `hex`, `pcap`, `pcapng`.
    pub input: String,
    /// A capture's frames read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<u32>,
    pub pdus: Vec<PduEntry>,
    /// The decoding stopped at [`MAX_PDUS`]: what was left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Frames or messages that were not decoded, and problems of the
    /// capture (each names its frame).
    pub skipped: Vec<String>,
    /// Events of a capture that carry no PDU (TLS alerts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A PDU with, for a capture, where it came from.
#[derive(Debug, Serialize)]
pub struct PduEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<capture::FrameInfo>,
    #[serde(flatten)]
    pub pdu: Pdu,
}

impl Decoded {
    /// Why no more PDUs are decoded ([`MAX_PDUS`], [`MAX_TOTAL_FIELDS`]).
    pub(crate) fn full(&self) -> Option<String> {
        if self.pdus.len() >= MAX_PDUS {
            return Some(format!(
                "after {MAX_PDUS} PDUs (the most decoded from one input)"
            ));
        }
        let fields: usize = self.pdus.iter().map(|p| p.pdu.fields.len()).sum();
        (fields >= MAX_TOTAL_FIELDS).then(|| {
            format!(
                "after {} PDUs, at {MAX_TOTAL_FIELDS} fields (the most listed for one input)",
                self.pdus.len()
            )
        })
    }

    /// Bad input somewhere: a PDU that did not decode, a frame skipped.
    pub fn has_errors(&self) -> bool {
        !self.skipped.is_empty() || self.pdus.iter().any(|p| p.pdu.error.is_some())
    }
}

/// Why an input cannot be decoded at all (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes a whole input: `proto` `None` is `auto`.
pub fn decode_input(bytes: &[u8], proto: Option<Proto>) -> Result<Decoded, InputError> {
    match input::detect(bytes)? {
        input::Input::Capture(kind) => capture::decode(bytes, kind, proto),
        input::Input::Hex(data) => {
            let mut d = decode_pdus(&data, proto)?;
            d.input = "hex".into();
            Ok(d)
        }
        input::Input::Raw => {
            let mut d = decode_pdus(bytes, proto)?;
            d.input = "raw".into();
            Ok(d)
        }
    }
}

/// PDUs one after the other in `bytes` (raw or from hex): the protocol is
/// chosen once, from the first bytes.
pub fn decode_pdus(bytes: &[u8], proto: Option<Proto>) -> Result<Decoded, InputError> {
    if bytes.is_empty() {
        return Err(InputError("expected a PDU, came no bytes".into()));
    }
    let (proto, why) = match proto {
        Some(p) => (p, None),
        None => match guess(bytes) {
            Some((p, why)) => (p, Some(why)),
            None => {
                return Err(InputError(format!(
                    "unknown PDU: expected the start of a SIP, SDP, MSRP, HTTP, SMTP, PAP, SMPP, WSP or MMS PDU, came {} (give --proto to decode it as one)",
                    hex(bytes, 16)
                )))
            }
        },
    };
    let mut d = Decoded {
        input: "raw".into(),
        ..Decoded::default()
    };
    let mut at = 0;
    while at < bytes.len() {
        // Only CRLFs between text PDUs (SIP keep-alives, a file's last newline).
        let rest = &bytes[at..];
        if !matches!(proto, Proto::Smpp | Proto::Wsp | Proto::Mms)
            && rest.iter().all(|c| c.is_ascii_whitespace())
        {
            break;
        }
        if let Some(why) = d.full() {
            d.stopped = Some(format!(
                "{why}: the last {} bytes were not decoded",
                rest.len()
            ));
            break;
        }
        let (mut pdu, used) = decode_one(proto, rest);
        pdu.start = at;
        if d.pdus.is_empty() {
            pdu.guessed = why.clone();
        }
        let stop = pdu.error.is_some();
        d.pdus.push(PduEntry { frame: None, pdu });
        at += used;
        if stop {
            break;
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
