//! MSRP codec (RFC 4975), sans-IO.
//!
//! As with [`super::sip`], the reader is our own tolerant one: it splits a message
//! into start line, header fields, body and end-line, keeps the bytes unchanged
//! ([`MsrpMessage::raw`]) and offers string views of the parts. It accepts LF-only
//! line ends, unknown methods and any header, and it never judges more than framing
//! needs: a wrong Byte-Range or a missing Message-ID still parses, and
//! [`MsrpMessage::check`] (or the accessors) say what is wrong, so a scenario can
//! look at what a SUT sent before it fails.
//!
//! Framing (RFC 4975 §5.1, §7.1): a message is the start line, header lines, an
//! optional body (after an empty line, followed by a CRLF that is not part of it)
//! and the end-line `-------<tid><flag>` CRLF, where `<tid>` is the transaction
//! identifier of the start line and `<flag>` is `$` (last chunk of the message),
//! `+` (more chunks follow) or `#` (the message is aborted). There is no length
//! field: the end-line alone ends the message, and the sender must keep the end-line
//! out of the body (RFC 4975 §7.1), so `-------<other tid>$` or `-------<tid>x`
//! inside a body does not end it.
//!
//! Writers ([`request`], [`response`], [`response_to`], [`report_for`]) produce
//! exact bytes and never validate, because tests need to send wrong messages too.
//! [`Reassembly`] puts chunks of one message back together (RFC 4975 §7.3.1).

use super::escape_bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 120;

/// The seven hyphens that open an end-line (RFC 4975 §7.1).
const DASHES: &[u8] = b"-------";

/// The continuation flag of an end-line (RFC 4975 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndFlag {
    /// `$`: this chunk holds the end of the message.
    Complete,
    /// `+`: more chunks of the message follow.
    More,
    /// `#`: the sender aborts the message; no more chunks follow.
    Abort,
}

impl EndFlag {
    pub fn from_byte(b: u8) -> Option<EndFlag> {
        match b {
            b'$' => Some(EndFlag::Complete),
            b'+' => Some(EndFlag::More),
            b'#' => Some(EndFlag::Abort),
            _ => None,
        }
    }

    pub fn as_byte(self) -> u8 {
        match self {
            EndFlag::Complete => b'$',
            EndFlag::More => b'+',
            EndFlag::Abort => b'#',
        }
    }
}

impl fmt::Display for EndFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", char::from(self.as_byte()))
    }
}

/// A Byte-Range header value, `range-start "-" range-end "/" total` (RFC 4975
/// §7.1.1, §9): positions are 1-based and inclusive; `*` (None) means unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// None = `*`: the end of the chunk was not known when it was sent.
    pub end: Option<u64>,
    /// None = `*`: the length of the whole message was not known.
    pub total: Option<u64>,
}

impl ByteRange {
    /// `1-*/*`: the whole message in one chunk of unknown length. A SEND without a
    /// Byte-Range is read as this (RFC 4975 §7.1.1, §7.3.1).
    pub const WHOLE: ByteRange = ByteRange {
        start: 1,
        end: None,
        total: None,
    };

    /// Read a Byte-Range value (surrounding whitespace ignored, none inside).
    ///
    /// Beyond the grammar, the values must make sense: `start` ≥ 1, `end` ≥
    /// `start − 1` (`1-0/0` is the empty message) and, where known, `end` ≤ `total`
    /// and `start` ≤ `total + 1`. Numbers larger than `u64` are rejected.
    ///
    /// ```
    /// use liaison::codec::msrp::ByteRange;
    /// let r = ByteRange::parse("1-1024/3000").unwrap();
    /// assert_eq!((r.start, r.end, r.total), (1, Some(1024), Some(3000)));
    /// assert_eq!(ByteRange::parse(" 1-*/* "), Some(ByteRange::WHOLE));
    /// assert_eq!(ByteRange::parse("0-10/10"), None);
    /// assert_eq!(r.to_header(), "1-1024/3000");
    /// ```
    pub fn parse(s: &str) -> Option<ByteRange> {
        let (start, rest) = s.trim().split_once('-')?;
        let (end, total) = rest.split_once('/')?;
        let number = |v: &str| -> Option<u64> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            v.parse().ok()
        };
        let star_or_number = |v: &str| -> Option<Option<u64>> {
            if v == "*" {
                Some(None)
            } else {
                number(v).map(Some)
            }
        };
        let range = ByteRange {
            start: number(start)?,
            end: star_or_number(end)?,
            total: star_or_number(total)?,
        };
        range.is_consistent().then_some(range)
    }

    fn is_consistent(&self) -> bool {
        let before = self.start.wrapping_sub(1);
        self.start >= 1
            && self.end.is_none_or(|e| e >= before)
            && self.total.is_none_or(|t| t >= before)
            && match (self.end, self.total) {
                (Some(e), Some(t)) => e <= t,
                _ => true,
            }
    }

    /// The value as it goes into a header: `1-25/100`, `1-*/*`.
    pub fn to_header(&self) -> String {
        let star = |v: Option<u64>| v.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!("{}-{}/{}", self.start, star(self.end), star(self.total))
    }

    /// How many bytes the range declares (`end − start + 1`), when `end` is known.
    pub fn declared_len(&self) -> Option<u64> {
        self.end
            .map(|e| e.saturating_sub(self.start.saturating_sub(1)))
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header())
    }
}

/// The first line of a message (RFC 4975 §7, §9): `MSRP <tid> <method>` or
/// `MSRP <tid> <code> [<phrase>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsrpStart {
    Request {
        method: String,
    },
    /// `phrase` is None when the code is not followed by a space; an empty phrase
    /// after a space is `Some("")`.
    Response {
        code: u16,
        phrase: Option<String>,
    },
}

impl fmt::Display for MsrpStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsrpStart::Request { method } => f.write_str(method),
            MsrpStart::Response { code, phrase: None } => write!(f, "{code}"),
            MsrpStart::Response {
                code,
                phrase: Some(p),
            } => write!(f, "{code} {p}"),
        }
    }
}

/// Why bytes are not an MSRP message (or not yet a whole one), or why chunks do not
/// go together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsrpError {
    /// No bytes at all.
    Empty,
    /// The first line is not `MSRP <tid> <method>` nor `MSRP <tid> <code> [phrase]`.
    BadStartLine { line: Vec<u8> },
    /// A header line is not `name: value`.
    BadHeader { line: Vec<u8> },
    /// The input ends before an end-line (with its CRLF); `bytes` is the input.
    NoEndLine { bytes: Vec<u8> },
    /// A line that starts with seven hyphens where an end-line must be, but not
    /// `-------<tid>` plus one flag: another transaction's end-line, or a damaged one.
    EndLineMismatch {
        expected_tid: String,
        found: Vec<u8>,
    },
    /// The end-line has the right transaction identifier and a byte other than
    /// `$`, `+` or `#` as its flag.
    BadFlag { flag: u8 },
    /// A Byte-Range value that does not parse (see [`ByteRange::parse`]) or that
    /// does not fit the chunk it came with.
    BadByteRange { value: String },
    /// A chunk's body length differs from what its Byte-Range declares
    /// (`end − start + 1`): different for a `$` chunk, larger for `+` or `#`.
    BodyLengthMismatch { declared: u64, actual: u64 },
    /// [`next_frame`]: no complete message within `limit` bytes.
    TooLarge { limit: usize },
    /// [`Reassembly::push`]: the message is not a SEND request.
    NotAChunk { summary: String },
    /// [`Reassembly::push`]: the chunk's Message-ID (None: it has none) is not the
    /// one being reassembled.
    MessageIdMismatch {
        expected: String,
        found: Option<String>,
    },
    /// [`Reassembly::push`]: bytes `start..=end` of the message arrived before with
    /// different content.
    OverlapConflict { start: u64, end: u64 },
    /// [`Reassembly::push`]: chunks disagree on the length of the message:
    /// `previous` is what earlier chunks established (a total, or the last byte
    /// received), `found` what this chunk implies (its total, where it ends as the
    /// `$` chunk, or where it ends beyond the known total).
    TotalMismatch { previous: u64, found: u64 },
}

fn show(s: &str) -> String {
    escape_bytes(s.as_bytes(), SHOW)
}

impl fmt::Display for MsrpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsrpError::Empty => write!(f, "empty MSRP message: no bytes"),
            MsrpError::BadStartLine { line } => write!(
                f,
                "bad MSRP start line (expected `MSRP <tid> <METHOD>` or `MSRP <tid> <code> [phrase]`): \"{}\"",
                escape_bytes(line, SHOW)
            ),
            MsrpError::BadHeader { line } => write!(
                f,
                "bad MSRP header line (expected `Name: value`): \"{}\"",
                escape_bytes(line, SHOW)
            ),
            MsrpError::NoEndLine { bytes } => write!(
                f,
                "no MSRP end-line (`-------<tid>` + `$`, `+` or `#` + CRLF) ends the message ({} bytes received): \"{}\"",
                bytes.len(),
                escape_bytes(bytes, SHOW)
            ),
            MsrpError::EndLineMismatch {
                expected_tid,
                found,
            } => write!(
                f,
                "MSRP end-line does not match the transaction (expected `-------{}` + `$`, `+` or `#`): \"{}\"",
                show(expected_tid),
                escape_bytes(found, SHOW)
            ),
            MsrpError::BadFlag { flag } => write!(
                f,
                "bad MSRP continuation flag \"{}\" in the end-line (expected `$`, `+` or `#`)",
                escape_bytes(&[*flag], SHOW)
            ),
            MsrpError::BadByteRange { value } => write!(
                f,
                "bad Byte-Range (expected `start-end/total`, 1-based, end and total numbers or `*`, consistent with the chunk): \"{}\"",
                show(value)
            ),
            MsrpError::BodyLengthMismatch { declared, actual } => write!(
                f,
                "MSRP body length does not match Byte-Range: the range declares {declared} bytes, the body has {actual}"
            ),
            MsrpError::TooLarge { limit } => {
                write!(f, "MSRP message too large: no end-line within {limit} bytes")
            }
            MsrpError::NotAChunk { summary } => {
                write!(f, "not an MSRP SEND chunk: \"{}\"", show(summary))
            }
            MsrpError::MessageIdMismatch {
                expected,
                found: Some(found),
            } => write!(
                f,
                "MSRP chunk of another message: Message-ID \"{}\", expected \"{}\"",
                show(found),
                show(expected)
            ),
            MsrpError::MessageIdMismatch {
                expected,
                found: None,
            } => write!(
                f,
                "MSRP chunk without Message-ID (expected \"{}\")",
                show(expected)
            ),
            MsrpError::OverlapConflict { start, end } => write!(
                f,
                "conflicting MSRP chunks: bytes {start}-{end} arrived before with different content"
            ),
            MsrpError::TotalMismatch { previous, found } => write!(
                f,
                "MSRP chunks disagree on the message length: {previous} bytes before, now {found}"
            ),
        }
    }
}

impl std::error::Error for MsrpError {}

/// A parsed MSRP message: its exact bytes plus views of its parts.
#[derive(Clone, Debug)]
pub struct MsrpMessage {
    /// Start line through the end-line's line end.
    raw: Vec<u8>,
    /// Input after the end-line (not part of `raw`).
    trailing: Vec<u8>,
    tid: String,
    start: MsrpStart,
    headers: Vec<(String, String)>,
    /// The body as a range of `raw`; None when no empty line opened one.
    body: Option<(usize, usize)>,
    /// Offset of the end-line in `raw`.
    end_line: usize,
    flag: EndFlag,
}

impl MsrpMessage {
    /// Parse one complete message (start line … end-line and its line end).
    ///
    /// Lines may end in CRLF or a bare LF; the line end before the end-line (not
    /// part of the body) is taken as CRLF when the byte before the LF is a CR, else
    /// as LF. Unknown methods and header fields are accepted. Bytes after the
    /// end-line are not part of the message ([`MsrpMessage::trailing`]). The
    /// transaction identifier may be any non-empty run of `ident` characters (RFC
    /// 4975 §9 asks for 4 to 32, see [`is_valid_ident`]).
    ///
    /// ```
    /// use liaison::codec::msrp::{EndFlag, MsrpMessage};
    /// let raw = b"MSRP a1b2c3d4 SEND\r\nTo-Path: msrp://192.0.2.2:2855/bob;tcp\r\n\
    ///             From-Path: msrp://192.0.2.1:2855/alice;tcp\r\nMessage-ID: m1\r\n\
    ///             Byte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------a1b2c3d4$\r\n";
    /// let m = MsrpMessage::parse(raw).unwrap();
    /// assert_eq!((m.method(), m.tid(), m.body()), (Some("SEND"), "a1b2c3d4", &b"hi"[..]));
    /// assert_eq!(m.flag(), EndFlag::Complete);
    /// assert_eq!(m.raw(), &raw[..]);
    /// assert!(MsrpMessage::parse(b"\x00garbage").is_err());
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<MsrpMessage, MsrpError> {
        if bytes.is_empty() {
            return Err(MsrpError::Empty);
        }
        let Scan::Complete(p) = scan(bytes, usize::MAX, true)? else {
            // With `eof`, scan never answers Incomplete; keep an error anyway.
            return Err(MsrpError::NoEndLine {
                bytes: bytes.to_vec(),
            });
        };
        Ok(MsrpMessage {
            raw: bytes.get(..p.len).unwrap_or_default().to_vec(),
            trailing: bytes.get(p.len..).unwrap_or_default().to_vec(),
            tid: p.tid,
            start: p.start,
            headers: p.headers,
            body: p.body,
            end_line: p.end_line,
            flag: p.flag,
        })
    }

    /// Exactly the message bytes: start line through the end-line's CRLF.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Input bytes after the end-line (usually empty).
    pub fn trailing(&self) -> &[u8] {
        &self.trailing
    }

    /// The transaction identifier of the start line (and end-line).
    pub fn tid(&self) -> &str {
        &self.tid
    }

    pub fn start(&self) -> &MsrpStart {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, MsrpStart::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            MsrpStart::Request { method } => Some(method),
            MsrpStart::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            MsrpStart::Response { code, .. } => Some(*code),
            MsrpStart::Request { .. } => None,
        }
    }

    /// The response phrase (RFC 4975 §9 `comment`), None if absent.
    pub fn phrase(&self) -> Option<&str> {
        match &self.start {
            MsrpStart::Response { phrase, .. } => phrase.as_deref(),
            MsrpStart::Request { .. } => None,
        }
    }

    /// Every header field in order: name as sent, value with surrounding
    /// whitespace trimmed (bytes that are not UTF-8 shown as U+FFFD).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of the first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of every field called `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// To-Path URIs in order (RFC 4975 §7.1: the next hop first, the destination
    /// last); empty if absent.
    pub fn to_path(&self) -> Vec<String> {
        self.path("To-Path")
    }

    /// From-Path URIs in order (the previous hop first, the originator last).
    pub fn from_path(&self) -> Vec<String> {
        self.path("From-Path")
    }

    fn path(&self, name: &str) -> Vec<String> {
        self.header(name)
            .map(|v| v.split_ascii_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn message_id(&self) -> Option<&str> {
        self.header("Message-ID")
    }

    /// The Byte-Range, None if absent (a SEND without one is the whole message in
    /// one chunk, [`ByteRange::WHOLE`]).
    pub fn byte_range(&self) -> Option<Result<ByteRange, MsrpError>> {
        self.header("Byte-Range").map(|v| {
            ByteRange::parse(v).ok_or_else(|| MsrpError::BadByteRange {
                value: v.to_string(),
            })
        })
    }

    /// Success-Report value, lowercased (absent means `no`, RFC 4975).
    pub fn success_report(&self) -> Option<String> {
        self.header("Success-Report").map(str::to_ascii_lowercase)
    }

    /// Failure-Report value, lowercased (absent means `yes`, RFC 4975).
    pub fn failure_report(&self) -> Option<String> {
        self.header("Failure-Report").map(str::to_ascii_lowercase)
    }

    /// The Status header (RFC 4975 §9): `000 200 OK` → `(0, 200, Some("OK"))`.
    /// None if absent or not `3DIGIT SP 3DIGIT [SP text]`.
    pub fn status_header(&self) -> Option<(u16, u16, Option<String>)> {
        let value = self.header("Status")?;
        let three = |s: &str| -> Option<u16> {
            (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (namespace, rest) = value.split_once(' ')?;
        let (code, text) = match rest.split_once(' ') {
            Some((code, text)) => (code, Some(text.to_string())),
            None => (rest, None),
        };
        Some((three(namespace)?, three(code)?, text))
    }

    /// The media type of Content-Type, lowercased, parameters removed.
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("Content-Type")?;
        let media = value.split(';').next().unwrap_or_default().trim();
        (!media.is_empty()).then(|| media.to_ascii_lowercase())
    }

    /// The body bytes, exactly as sent (without the CRLF before the end-line).
    pub fn body(&self) -> &[u8] {
        self.body
            .and_then(|(a, b)| self.raw.get(a..b))
            .unwrap_or_default()
    }

    /// Whether an empty line after the headers opened a body (which may be empty).
    pub fn has_body(&self) -> bool {
        self.body.is_some()
    }

    /// The end-line with its line end, as sent.
    pub fn end_line(&self) -> &[u8] {
        self.raw.get(self.end_line..).unwrap_or_default()
    }

    pub fn flag(&self) -> EndFlag {
        self.flag
    }

    /// One line for logs and failure messages: `SEND tid 1-10/20 +`,
    /// `200 OK (tid …)`, `REPORT 000 200 (tid …)`.
    pub fn summary(&self) -> String {
        match &self.start {
            MsrpStart::Response { .. } => format!("{} (tid {})", self.start, self.tid),
            MsrpStart::Request { method } if method == "REPORT" => match self.status_header() {
                Some((ns, code, _)) => format!("REPORT {ns:03} {code} (tid {})", self.tid),
                None => format!("REPORT (tid {})", self.tid),
            },
            MsrpStart::Request { method } => match self.header("Byte-Range") {
                Some(range) => format!("{method} {} {range} {}", self.tid, self.flag),
                None => format!("{method} {} {}", self.tid, self.flag),
            },
        }
    }

    /// What framing does not judge: a Byte-Range that does not parse and, for a
    /// SEND, a body length its Byte-Range contradicts (RFC 4975 §7.1.1): different
    /// from `end − start + 1` in a `$` chunk, larger in a `+` or `#` chunk (an
    /// interrupted chunk may be shorter). A REPORT's Byte-Range names the range
    /// reported on, not a body, so only its syntax is checked.
    pub fn check(&self) -> Result<(), MsrpError> {
        match self.byte_range() {
            Some(Ok(range)) if self.method() == Some("SEND") => self.body_fits(&range),
            Some(Ok(_)) | None => Ok(()),
            Some(Err(e)) => Err(e),
        }
    }

    fn body_fits(&self, range: &ByteRange) -> Result<(), MsrpError> {
        let actual = self.body().len() as u64;
        match range.declared_len() {
            Some(declared) if self.flag == EndFlag::Complete && declared != actual => {
                Err(MsrpError::BodyLengthMismatch { declared, actual })
            }
            Some(declared) if actual > declared => {
                Err(MsrpError::BodyLengthMismatch { declared, actual })
            }
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------
// The scanner shared by parse and next_frame
// ---------------------------------------------------------------------------

struct Parsed {
    tid: String,
    start: MsrpStart,
    headers: Vec<(String, String)>,
    body: Option<(usize, usize)>,
    end_line: usize,
    flag: EndFlag,
    /// Message length: through the end-line's line end.
    len: usize,
}

enum Scan {
    Complete(Parsed),
    /// Framing only: more bytes are needed.
    Incomplete,
}

/// Read one message from the start of `bytes`, looking at most `limit` bytes far.
/// With `eof` the input is all there is (parse): what is missing is an error.
/// Without (framing) it may still arrive: `Incomplete`, or `TooLarge` once `limit`
/// bytes are in and no message is complete.
fn scan(bytes: &[u8], limit: usize, eof: bool) -> Result<Scan, MsrpError> {
    let window = bytes.get(..limit).unwrap_or(bytes);
    let more = || {
        if bytes.len() >= limit {
            Err(MsrpError::TooLarge { limit })
        } else {
            Ok(Scan::Incomplete)
        }
    };
    let missing = || MsrpError::NoEndLine {
        bytes: bytes.to_vec(),
    };

    // Start line.
    let Some(first_nl) = find_byte(window, b'\n', 0) else {
        if eof {
            parse_start_line(strip_cr(window))?;
            return Err(missing());
        }
        // Reject a stream that cannot become MSRP as soon as its first bytes show it.
        let prefix = window.get(..window.len().min(5)).unwrap_or_default();
        if b"MSRP ".get(..prefix.len()) != Some(prefix) {
            return Err(MsrpError::BadStartLine {
                line: window.to_vec(),
            });
        }
        return more();
    };
    let (tid, start) = parse_start_line(strip_cr(window.get(..first_nl).unwrap_or_default()))?;

    // Header lines, up to an empty line (a body follows) or the end-line.
    let mut headers = Vec::new();
    let mut line_start = first_nl + 1;
    let blank_nl = loop {
        let Some(nl) = find_byte(window, b'\n', line_start) else {
            if !eof {
                return more();
            }
            // A damaged end-line at the very end is named as such; anything else
            // (a header cut short, nothing) is a missing end-line.
            let partial = strip_cr(window.get(line_start..).unwrap_or_default());
            return Err(damaged_end_line(partial, false, &tid).unwrap_or_else(missing));
        };
        let line = strip_cr(window.get(line_start..nl).unwrap_or_default());
        if line.is_empty() {
            break nl;
        }
        if line.starts_with(DASHES) {
            let flag = end_line_flag(line, &tid)?;
            return Ok(Scan::Complete(Parsed {
                tid,
                start,
                headers,
                body: None,
                end_line: line_start,
                flag,
                len: nl + 1,
            }));
        }
        headers.push(parse_header(line)?);
        line_start = nl + 1;
    };

    // Body: up to the first LF + "-------" + tid + flag + line end. The LF that
    // ends the empty line may itself precede the end-line (an empty body without
    // its CRLF, tolerated).
    let body_start = blank_nl + 1;
    let needle: Vec<u8> = [b"\n".as_slice(), DASHES, tid.as_bytes()].concat();
    let mut from = blank_nl;
    while let Some(at) = find(window, &needle, from) {
        let flag_at = at + needle.len();
        let Some(&flag_byte) = window.get(flag_at) else {
            break; // the flag has not arrived yet
        };
        let Some(flag) = EndFlag::from_byte(flag_byte) else {
            from = at + 1; // `-------<tid>x` is body content
            continue;
        };
        let end = match (window.get(flag_at + 1), window.get(flag_at + 2)) {
            (Some(b'\n'), _) => flag_at + 2,
            (Some(b'\r'), Some(b'\n')) => flag_at + 3,
            (None, _) | (Some(b'\r'), None) => break, // the line end has not arrived
            _ => {
                from = at + 1;
                continue;
            }
        };
        let cr = at > body_start && window.get(at - 1) == Some(&b'\r');
        let body_end = if cr { at - 1 } else { at }.max(body_start);
        return Ok(Scan::Complete(Parsed {
            tid,
            start,
            headers,
            body: Some((body_start, body_end)),
            end_line: at + 1,
            flag,
            len: end,
        }));
    }
    if !eof {
        return more();
    }
    // Diagnose a damaged end-line at the very end of the input.
    let terminated = bytes.ends_with(b"\n");
    let trimmed = strip_cr(bytes.strip_suffix(b"\n").unwrap_or(bytes));
    let last_line_at = trimmed
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let last_line = trimmed.get(last_line_at..).unwrap_or_default();
    if last_line_at >= body_start
        && let Some(e) = damaged_end_line(last_line, terminated, &tid)
    {
        return Err(e);
    }
    Err(missing())
}

/// The error for a last line that starts with seven hyphens but is not this
/// transaction's end-line; None when it is not such a line, or when it is
/// unterminated and could still become the end-line (input cut short).
fn damaged_end_line(line: &[u8], terminated: bool, tid: &str) -> Option<MsrpError> {
    if !line.starts_with(DASHES) {
        return None;
    }
    if !terminated {
        let expected = [DASHES, tid.as_bytes()].concat();
        let common = line.len().min(expected.len());
        let prefix_ok = line.get(..common) == expected.get(..common);
        let rest_ok = match line.get(expected.len()..) {
            None | Some([]) => true,
            Some(&[flag]) => EndFlag::from_byte(flag).is_some(),
            Some(_) => false,
        };
        if prefix_ok && rest_ok {
            return None;
        }
    }
    end_line_flag(line, tid).err()
}

/// The flag of a line that starts with seven hyphens, if it is this transaction's
/// end-line (RFC 4975 §7.1).
fn end_line_flag(line: &[u8], tid: &str) -> Result<EndFlag, MsrpError> {
    let mismatch = || MsrpError::EndLineMismatch {
        expected_tid: tid.to_string(),
        found: line.to_vec(),
    };
    let rest = line.get(DASHES.len()..).unwrap_or_default();
    match rest.strip_prefix(tid.as_bytes()) {
        Some(&[flag]) => EndFlag::from_byte(flag).ok_or(MsrpError::BadFlag { flag }),
        _ => Err(mismatch()),
    }
}

/// `MSRP SP transact-id SP method` or `MSRP SP transact-id SP status-code [SP
/// comment]` (RFC 4975 §9; "MSRP" in capitals). Tolerant: the tid may have any
/// length, the method any token characters.
fn parse_start_line(line: &[u8]) -> Result<(String, MsrpStart), MsrpError> {
    let bad = || MsrpError::BadStartLine {
        line: line.to_vec(),
    };
    let rest = line.strip_prefix(b"MSRP ").ok_or_else(bad)?;
    let tid_len = rest.iter().take_while(|&&b| is_ident_byte(b)).count();
    let tid = rest.get(..tid_len).unwrap_or_default();
    let after = rest
        .get(tid_len..)
        .and_then(|r| r.strip_prefix(b" "))
        .ok_or_else(bad)?;
    if tid.is_empty() {
        return Err(bad());
    }
    let tid = String::from_utf8_lossy(tid).into_owned();
    if after.first().is_some_and(u8::is_ascii_digit) {
        // A response: exactly three digits, then optionally SP and a phrase.
        let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits != 3 || !matches!(after.get(3), None | Some(b' ')) {
            return Err(bad());
        }
        let code = std::str::from_utf8(after.get(..3).unwrap_or_default())
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(bad)?;
        let phrase = match after.get(3..) {
            Some([b' ', text @ ..]) => {
                let text = std::str::from_utf8(text).map_err(|_| bad())?;
                if text.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(bad());
                }
                Some(text.to_string())
            }
            _ => None,
        };
        return Ok((tid, MsrpStart::Response { code, phrase }));
    }
    if after.is_empty() || !after.iter().all(|&b| is_token_byte(b)) {
        return Err(bad());
    }
    let method = String::from_utf8_lossy(after).into_owned();
    Ok((tid, MsrpStart::Request { method }))
}

/// `name: value` (RFC 4975 §9 `hname ":" SP hval`; whitespace around the colon
/// and around the value tolerated).
fn parse_header(line: &[u8]) -> Result<(String, String), MsrpError> {
    let bad = || MsrpError::BadHeader {
        line: line.to_vec(),
    };
    let name_len = line.iter().take_while(|&&b| is_token_byte(b)).count();
    if name_len == 0 {
        return Err(bad());
    }
    let after = line.get(name_len..).unwrap_or_default();
    let after = trim_ws(after).strip_prefix(b":").ok_or_else(bad)?;
    let name = String::from_utf8_lossy(line.get(..name_len).unwrap_or_default()).into_owned();
    let value = String::from_utf8_lossy(trim_ws(after)).into_owned();
    Ok((name, value))
}

/// RFC 4975 §9 `ident-char`: ALPHANUM / "." / "-" / "+" / "%" / "=".
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'%' | b'=')
}

/// Whether `s` is an RFC 4975 §9 `ident` (transaction and message identifiers):
/// an alphanumeric character and then 3 to 31 `ident-char`s.
pub fn is_valid_ident(s: &str) -> bool {
    let b = s.as_bytes();
    (4..=32).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|&c| is_ident_byte(c))
}

/// RFC 3261 §25.1 `token` characters (method and header names).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ws(bytes: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn find_byte(hay: &[u8], b: u8, from: usize) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|&x| x == b)
        .map(|i| i + from)
}

/// First occurrence of `needle` (non-empty) in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = from;
    loop {
        let i = find_byte(hay, first, at)?;
        let tail = hay.get(i + 1..i + needle.len())?;
        if tail == rest {
            return Some(i);
        }
        at = i + 1;
    }
}

// ---------------------------------------------------------------------------
// Stream framing
// ---------------------------------------------------------------------------

/// Frame a stream buffer (RFC 4975 §5.1, §7.1): `Ok(Some(n))` when `buf` starts
/// with one complete message of `n` bytes, ending with this transaction's end-line
/// `-------<tid><flag>` and its CRLF (or LF); `Ok(None)` when more bytes are needed.
///
/// Errors: a start line that is not MSRP (judged from the first five bytes on, and
/// fully once its line end arrives), a bad header line or another transaction's
/// end-line in the header block (as soon as the line is complete), and
/// [`MsrpError::TooLarge`] when `max_len` bytes are buffered without a complete
/// message. Nothing else about the message is judged here; [`MsrpMessage::parse`]
/// on the frame gives the same message.
pub fn next_frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, MsrpError> {
    if buf.is_empty() {
        return Ok(None);
    }
    match scan(buf, max_len, false)? {
        Scan::Complete(p) => Ok(Some(p.len)),
        Scan::Incomplete => Ok(None),
    }
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// A request under construction; [`RequestBuilder::build`] gives its exact bytes.
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    method: String,
    tid: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    flag: EndFlag,
}

/// Start a request `MSRP <tid> <method>`. Headers come out in the order given, as
/// `Name: value`; with a body (even an empty one) an empty line precedes it and a
/// CRLF follows it (RFC 4975 §7.1); the end-line carries the flag (default `$`).
/// Nothing is added: Content-Type, Byte-Range and the paths are the caller's.
pub fn request(method: &str, tid: &str) -> RequestBuilder {
    RequestBuilder {
        method: method.to_string(),
        tid: tid.to_string(),
        headers: Vec::new(),
        body: None,
        flag: EndFlag::Complete,
    }
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, bytes: &[u8]) -> Self {
        self.body = Some(bytes.to_vec());
        self
    }

    pub fn flag(mut self, f: EndFlag) -> Self {
        self.flag = f;
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let start = format!("MSRP {} {}", self.tid, self.method);
        render(
            &start,
            &self.tid,
            &self.headers,
            self.body.as_deref(),
            self.flag,
        )
    }
}

/// A response under construction; [`ResponseBuilder::build`] gives its exact bytes.
#[derive(Clone, Debug)]
pub struct ResponseBuilder {
    tid: String,
    code: u16,
    phrase: String,
    headers: Vec<(String, String)>,
}

/// Start a response `MSRP <tid> <code> <phrase>` (no ` <phrase>` when it is
/// empty) with the headers given, in order, and the end-line `$`. Responses carry
/// no body (RFC 4975 §9 `msrp-response`).
pub fn response(tid: &str, code: u16, phrase: &str) -> ResponseBuilder {
    ResponseBuilder {
        tid: tid.to_string(),
        code,
        phrase: phrase.to_string(),
        headers: Vec::new(),
    }
}

impl ResponseBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let start = if self.phrase.is_empty() {
            format!("MSRP {} {:03}", self.tid, self.code)
        } else {
            format!("MSRP {} {:03} {}", self.tid, self.code, self.phrase)
        };
        render(&start, &self.tid, &self.headers, None, EndFlag::Complete)
    }
}

/// The response to `req` (RFC 4975 §7.2): same tid, To-Path = the first URI of the
/// request's From-Path (the previous hop), From-Path = `own_url`; nothing else.
/// Without a From-Path in the request, To-Path is left empty.
pub fn response_to(req: &MsrpMessage, code: u16, phrase: &str, own_url: &str) -> Vec<u8> {
    let previous_hop = req.from_path().into_iter().next().unwrap_or_default();
    response(req.tid(), code, phrase)
        .header("To-Path", &previous_hop)
        .header("From-Path", own_url)
        .build()
}

/// A REPORT for (a range of) the message `send` belongs to (RFC 4975 §7.1.2),
/// with a new transaction `tid`:
///
/// - To-Path = the SEND's From-Path, **every URI in the order received**. A relay
///   forwarding a SEND puts its own URI in front of the From-Path it got (RFC 4976),
///   so the received From-Path already lists the way back nearest hop first,
///   the originator last, which is the order a To-Path needs. Reversing it would
///   send the REPORT to the originator's URI as first hop.
/// - From-Path = `own_url`; Message-ID copied (left out if the SEND has none);
///   Byte-Range = `range`; `Status: 000 <code> <phrase>` (no ` <phrase>` when empty).
/// - No Success-Report or Failure-Report, no body, flag `$`.
pub fn report_for(
    send: &MsrpMessage,
    own_url: &str,
    tid: &str,
    range: ByteRange,
    code: u16,
    phrase: &str,
) -> Vec<u8> {
    let mut b = request("REPORT", tid)
        .header("To-Path", &send.from_path().join(" "))
        .header("From-Path", own_url);
    if let Some(id) = send.message_id() {
        b = b.header("Message-ID", id);
    }
    let status = if phrase.is_empty() {
        format!("000 {code:03}")
    } else {
        format!("000 {code:03} {phrase}")
    };
    b.header("Byte-Range", &range.to_header())
        .header("Status", &status)
        .build()
}

fn render(
    start: &str,
    tid: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    flag: EndFlag,
) -> Vec<u8> {
    let size = 64 + headers.len() * 48 + body.map_or(0, <[u8]>::len);
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(DASHES);
    out.extend_from_slice(tid.as_bytes());
    out.push(flag.as_byte());
    out.extend_from_slice(b"\r\n");
    out
}

/// The chunks for a message of `len` bytes, each at most `chunk` bytes: 1-based
/// inclusive ranges with the known total (RFC 4975 §7.1.1), `+` on every chunk but
/// the last, `$` on the last.
///
/// An empty message is one empty chunk `1-0/0` with `$`: RFC 4975 allows a SEND
/// without body, and `end = start − 1` is the only range that declares zero bytes
/// (implementations such as the dellroad MSRP library use the same `1-0/0`).
/// `chunk` = 0 means no limit (one chunk).
///
/// ```
/// use liaison::codec::msrp::{chunk_plan, EndFlag};
/// let plan: Vec<String> = chunk_plan(3000, 1024)
///     .iter()
///     .map(|(r, f)| format!("{r} {f}"))
///     .collect();
/// assert_eq!(plan, ["1-1024/3000 +", "1025-2048/3000 +", "2049-3000/3000 $"]);
/// assert_eq!(chunk_plan(0, 1024)[0].0.to_header(), "1-0/0");
/// ```
pub fn chunk_plan(len: u64, chunk: u64) -> Vec<(ByteRange, EndFlag)> {
    if len == 0 {
        let empty = ByteRange {
            start: 1,
            end: Some(0),
            total: Some(0),
        };
        return vec![(empty, EndFlag::Complete)];
    }
    let chunk = if chunk == 0 { len } else { chunk };
    let mut plan = Vec::new();
    let mut start = 1u64;
    loop {
        let end = start.saturating_add(chunk - 1).min(len);
        let last = end == len;
        let flag = if last {
            EndFlag::Complete
        } else {
            EndFlag::More
        };
        plan.push((
            ByteRange {
                start,
                end: Some(end),
                total: Some(len),
            },
            flag,
        ));
        if last {
            return plan;
        }
        start = end + 1;
    }
}

// ---------------------------------------------------------------------------
// Reassembly
// ---------------------------------------------------------------------------

/// The chunks of one message (one Message-ID) put back together, RFC 4975 §7.3.1.
///
/// Chunks may come in any order, overlap and repeat: overlapping bytes must agree.
/// A chunk's bytes go at its Byte-Range start (no Byte-Range: `1-*/*`); its length
/// is its body's length, so an interrupted chunk (shorter than declared, `+` or
/// `#`) counts for what it carries. The total length comes from any numeric
/// Byte-Range total, or from where the `$` chunk ends when every total is `*`.
///
/// The message is complete when a `$` chunk has been seen, the total is known and
/// every byte `1..=total` is present; an aborted message (a `#` chunk) never is.
/// [`Reassembly::push`] either takes a whole chunk or, on error, changes nothing.
#[derive(Clone, Debug, Default)]
pub struct Reassembly {
    message_id: Option<String>,
    /// Start position → bytes; disjoint and not adjacent (merged).
    segments: BTreeMap<u64, Vec<u8>>,
    total: Option<u64>,
    last_seen: bool,
    aborted: bool,
    chunks: usize,
}

impl Reassembly {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one SEND chunk. Errors (and the state is unchanged) when it is not a
    /// SEND, belongs to another Message-ID or has none, has a bad Byte-Range,
    /// a body length its range contradicts ([`MsrpMessage::check`]), bytes that
    /// contradict bytes already received, or a length that contradicts the total
    /// known so far.
    pub fn push(&mut self, send: &MsrpMessage) -> Result<(), MsrpError> {
        if send.method() != Some("SEND") {
            return Err(MsrpError::NotAChunk {
                summary: send.summary(),
            });
        }
        let id = send.message_id();
        match (&self.message_id, id) {
            (Some(expected), found) if found != Some(expected.as_str()) => {
                return Err(MsrpError::MessageIdMismatch {
                    expected: expected.clone(),
                    found: found.map(str::to_string),
                })
            }
            (None, None) => {
                return Err(MsrpError::MessageIdMismatch {
                    expected: String::new(),
                    found: None,
                })
            }
            _ => {}
        }
        let range = send.byte_range().unwrap_or(Ok(ByteRange::WHOLE))?;
        send.body_fits(&range)?;
        let body = send.body();
        let bad_range = || MsrpError::BadByteRange {
            value: send.header("Byte-Range").unwrap_or_default().to_string(),
        };
        let len = body.len() as u64;
        // Position of the chunk's last byte (start − 1 for an empty chunk).
        let last = (range.start - 1)
            .checked_add(len)
            .filter(|&l| l < u64::MAX)
            .ok_or_else(bad_range)?;

        // The total after this chunk, and whether everything fits in it.
        let mut total = self.total;
        if let Some(t) = range.total {
            if let Some(previous) = total.filter(|&p| p != t) {
                return Err(MsrpError::TotalMismatch { previous, found: t });
            }
            if last > t {
                return Err(bad_range());
            }
            total = Some(t);
        }
        if send.flag() == EndFlag::Complete {
            if let Some(previous) = total.filter(|&p| p != last) {
                return Err(MsrpError::TotalMismatch {
                    previous,
                    found: last,
                });
            }
            total = Some(last);
        }
        if let Some(t) = total {
            // Bytes received before that lie beyond the (new) end, or this chunk
            // reaching beyond the end known before.
            let furthest = self.furthest();
            if furthest > t {
                return Err(MsrpError::TotalMismatch {
                    previous: furthest,
                    found: t,
                });
            }
            if last > t {
                return Err(MsrpError::TotalMismatch {
                    previous: t,
                    found: last,
                });
            }
        }
        if len > 0 {
            self.check_overlaps(range.start, body)?;
            self.insert(range.start, body);
        }
        self.message_id = id.map(str::to_string);
        self.total = total;
        self.last_seen |= send.flag() == EndFlag::Complete;
        self.aborted |= send.flag() == EndFlag::Abort;
        self.chunks += 1;
        Ok(())
    }

    /// Position of the last byte received (0 when none).
    fn furthest(&self) -> u64 {
        self.segments
            .iter()
            .next_back()
            .map_or(0, |(&s, v)| s - 1 + v.len() as u64)
    }

    /// Segments that overlap or touch `[start, start + len)`, as (start, len).
    fn neighbours(&self, start: u64, len: u64) -> Vec<(u64, u64)> {
        let end_excl = start + len;
        self.segments
            .range(..=end_excl)
            .map(|(&s, v)| (s, v.len() as u64))
            .filter(|&(s, l)| s + l >= start)
            .collect()
    }

    fn check_overlaps(&self, start: u64, body: &[u8]) -> Result<(), MsrpError> {
        let len = body.len() as u64;
        for (s, l) in self.neighbours(start, len) {
            let from = s.max(start);
            let to = (s + l).min(start + len); // exclusive
            if from >= to {
                continue; // only adjacent
            }
            let old = self
                .segments
                .get(&s)
                .and_then(|v| v.get(to_usize(from - s)..to_usize(to - s)));
            let new = body.get(to_usize(from - start)..to_usize(to - start));
            if old != new {
                return Err(MsrpError::OverlapConflict {
                    start: from,
                    end: to - 1,
                });
            }
        }
        Ok(())
    }

    /// Merge `body` at `start` with every segment it overlaps or touches.
    fn insert(&mut self, start: u64, body: &[u8]) {
        let len = body.len() as u64;
        let touched = self.neighbours(start, len);
        let merged_start = touched.first().map_or(start, |&(s, _)| s.min(start));
        // Exclusive end of the merged run.
        let merged_end = touched
            .iter()
            .map(|&(s, l)| s + l)
            .fold(start + len, u64::max);
        // Grow the first segment in place when it starts the merged run (the usual
        // in-order case), so appending does not copy what is there.
        let mut merged = match touched.first() {
            Some(&(s, _)) if s == merged_start => self.segments.remove(&s).unwrap_or_default(),
            _ => Vec::new(),
        };
        merged.resize(to_usize(merged_end - merged_start), 0);
        // The segment taken above is no longer in the map and is skipped here.
        for &(s, _) in &touched {
            if let Some(seg) = self.segments.remove(&s) {
                let at = to_usize(s - merged_start);
                if let Some(dst) = merged.get_mut(at..at + seg.len()) {
                    dst.copy_from_slice(&seg);
                }
            }
        }
        let at = to_usize(start - merged_start);
        if let Some(dst) = merged.get_mut(at..at + body.len()) {
            dst.copy_from_slice(body);
        }
        self.segments.insert(merged_start, merged);
    }

    /// All bytes `1..=total` present, a `$` chunk seen, and not aborted.
    pub fn is_complete(&self) -> bool {
        if self.aborted || !self.last_seen {
            return false;
        }
        match (self.total, self.segments.iter().next()) {
            (Some(0), None) => true,
            (Some(t), Some((&1, v))) => self.segments.len() == 1 && v.len() as u64 == t,
            _ => false,
        }
    }

    /// A `#` chunk was seen: the sender gave up on the message.
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// The whole message, once complete.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        if !self.is_complete() {
            return None;
        }
        Some(self.segments.values().next().cloned().unwrap_or_default())
    }

    /// How many distinct bytes of the message have arrived.
    pub fn received(&self) -> u64 {
        self.segments.values().map(|v| v.len() as u64).sum()
    }

    /// The length of the message, once a chunk said it.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The Message-ID being reassembled (None before the first chunk).
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// How many chunks were accepted.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// Missing byte ranges (inclusive) within `1..=total`, or up to the last byte
    /// received while the total is unknown.
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        let limit = self.total.unwrap_or_else(|| self.furthest());
        let mut gaps = Vec::new();
        let mut next = 1u64;
        for (&s, v) in &self.segments {
            if s > next {
                gaps.push((next, s - 1));
            }
            next = s + v.len() as u64;
        }
        if next <= limit {
            gaps.push((next, limit));
        }
        gaps
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------
// Identifiers and URLs
// ---------------------------------------------------------------------------

/// A fresh transaction or message identifier: 16 hex digits (an RFC 4975 §9
/// `ident`), from [`super::sip::token`], so unique within the process.
pub fn new_tid() -> String {
    super::sip::token()
}

/// A fresh transaction identifier whose end-line does not occur in `body`, as the
/// sender must ensure (RFC 4975 §7.1).
pub fn new_tid_for(body: &[u8]) -> String {
    loop {
        let tid = new_tid();
        let marker = [DASHES, tid.as_bytes()].concat();
        if find(body, &marker, 0).is_none() {
            return tid;
        }
    }
}

/// The MSRP URL of a session (RFC 4975 §6, §9): `msrp://<host>:<port>/<session-id>;tcp`,
/// an IPv6 host in brackets (a scope id is not written).
pub fn msrp_url(addr: SocketAddr, session_id: &str) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("msrp://{ip}:{}/{session_id};tcp", addr.port()),
        IpAddr::V6(ip) => format!("msrp://[{ip}]:{}/{session_id};tcp", addr.port()),
    }
}

/// The MSRP URL of a session over TLS (RFC 4975 §6, §9, §14.2):
/// `msrps://<host>:<port>/<session-id>;tcp`, written as [`msrp_url`] does.
pub fn msrps_url(addr: SocketAddr, session_id: &str) -> String {
    format!("msrps{}", &msrp_url(addr, session_id)["msrp".len()..])
}

/// Whether an MSRP URL has the `msrps` scheme (ASCII case ignored; RFC
/// 4975 §9): the hop it names is reached over TLS (§14.2). False for what
/// is no MSRP URL.
pub fn url_is_secure(url: &str) -> bool {
    MsrpUrl::parse(url).is_some_and(|u| u.secure)
}

/// The address an MSRP URL points at (see [`MsrpUrl`]).
pub fn url_addr(url: &str) -> Option<SocketAddr> {
    MsrpUrl::parse(url)?.socket_addr()
}

/// The session id of an MSRP URL (see [`MsrpUrl`]).
pub fn url_session(url: &str) -> Option<String> {
    MsrpUrl::parse(url)?.session_id
}

/// The parts of an MSRP URL (RFC 4975 §9 `MSRP-URI`), as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsrpUrl {
    /// `msrps` rather than `msrp`.
    pub secure: bool,
    /// The user part before `@`, if any.
    pub user: Option<String>,
    /// Host as sent; an IPv6 reference keeps its brackets.
    pub host: String,
    pub port: Option<u16>,
    pub session_id: Option<String>,
    /// The first parameter (`tcp`, or an extension transport).
    pub transport: String,
}

impl MsrpUrl {
    /// Read `msrp[s]://[user@]host[:port][/session-id];transport[;param…]`; None if
    /// it is not of that shape (scheme case-insensitive).
    ///
    /// ```
    /// use liaison::codec::msrp::MsrpUrl;
    /// let u = MsrpUrl::parse("msrp://[2001:db8::5]:2855/s1;tcp").unwrap();
    /// assert_eq!((u.host.as_str(), u.port, u.session_id.as_deref()), ("[2001:db8::5]", Some(2855), Some("s1")));
    /// assert_eq!(u.socket_addr().unwrap().to_string(), "[2001:db8::5]:2855");
    /// ```
    pub fn parse(url: &str) -> Option<MsrpUrl> {
        let (scheme, rest) = url.trim().split_once("://")?;
        let secure = if scheme.eq_ignore_ascii_case("msrps") {
            true
        } else if scheme.eq_ignore_ascii_case("msrp") {
            false
        } else {
            return None;
        };
        let (before_params, params) = rest.split_once(';')?;
        let transport = params.split(';').next().unwrap_or_default();
        if transport.is_empty() {
            return None;
        }
        let (authority, session_id) = match before_params.split_once('/') {
            Some((a, s)) => (a, Some(s.to_string()).filter(|s| !s.is_empty())),
            None => (before_params, None),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            let host = hostport.get(..=close)?;
            match hostport.get(close + 1..)? {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':')?.parse().ok()?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p.parse().ok()?)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(MsrpUrl {
            secure,
            user,
            host: host.to_string(),
            port,
            session_id,
            transport: transport.to_string(),
        })
    }

    /// The address to connect to, when the host is an IP literal and a port is
    /// given (no name resolution here).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let host = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host);
        Some(SocketAddr::new(host.parse().ok()?, self.port?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// A SEND as it arrives at Bob through one relay: the From-Path lists the
    /// relay first and Alice last.
    fn received_send() -> MsrpMessage {
        let bytes = request("SEND", "f00dcafe")
            .header("To-Path", "msrp://192.0.2.20:2855/b0bS3ss;tcp")
            .header(
                "From-Path",
                "msrp://relay.example.net:2855/rl7x;tcp msrp://192.0.2.10:7654/a1iceS;tcp",
            )
            .header("Message-ID", "m3ss4ge01")
            .header("Success-Report", "yes")
            .header("Byte-Range", "1-11/11")
            .header("Content-Type", "text/plain")
            .body(b"Hello, Bob.")
            .build();
        MsrpMessage::parse(&bytes).expect("test SEND parses")
    }

    /// CRLF everywhere outside the body.
    fn assert_crlf(bytes: &[u8], body: &[u8]) {
        let m = MsrpMessage::parse(bytes).expect("built message parses");
        assert_eq!(m.raw(), bytes);
        assert_eq!(m.body(), body);
        let outside = [
            &bytes[..bytes.len() - m.end_line().len() - body.len()],
            m.end_line(),
        ]
        .concat();
        for (i, &b) in outside.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(
                    outside.get(i.wrapping_sub(1)),
                    Some(&b'\r'),
                    "bare LF at {i}"
                );
            }
        }
    }

    #[test]
    fn build_send_chunk() {
        let body = b"The first chunk of a longer note.";
        let bytes = request("SEND", "c4n1k8Zq")
            .header("To-Path", "msrp://192.0.2.20:2855/b0bS3ss;tcp")
            .header("From-Path", "msrp://192.0.2.10:7654/a1iceS;tcp")
            .header("Message-ID", "m3ss4ge02")
            .header("Success-Report", "yes")
            .header("Byte-Range", "1-33/100")
            .header("Content-Type", "text/plain")
            .body(body)
            .flag(EndFlag::More)
            .build();
        assert_crlf(&bytes, body);
        let m = MsrpMessage::parse(&bytes).unwrap();
        assert_eq!(m.flag(), EndFlag::More);
        assert_eq!(m.check(), Ok(()));
        assert_eq!(m.summary(), "SEND c4n1k8Zq 1-33/100 +");
        insta::assert_snapshot!("send_chunk", text(&bytes));
    }

    #[test]
    fn build_response_to() {
        let bytes = response_to(
            &received_send(),
            200,
            "OK",
            "msrp://192.0.2.20:2855/b0bS3ss;tcp",
        );
        assert_crlf(&bytes, b"");
        let m = MsrpMessage::parse(&bytes).unwrap();
        assert_eq!(m.tid(), "f00dcafe");
        assert_eq!(m.to_path(), ["msrp://relay.example.net:2855/rl7x;tcp"]);
        assert_eq!(m.summary(), "200 OK (tid f00dcafe)");
        assert!(!m.has_body());
        insta::assert_snapshot!("response_to", text(&bytes));
    }

    #[test]
    fn build_report_for() {
        let send = received_send();
        let bytes = report_for(
            &send,
            "msrp://192.0.2.20:2855/b0bS3ss;tcp",
            "r3p0rt77",
            ByteRange::parse("1-11/11").unwrap(),
            200,
            "OK",
        );
        assert_crlf(&bytes, b"");
        let m = MsrpMessage::parse(&bytes).unwrap();
        assert_eq!(m.to_path(), send.from_path(), "the way back, as received");
        assert_eq!(m.status_header(), Some((0, 200, Some("OK".into()))));
        assert_eq!(m.message_id(), Some("m3ss4ge01"));
        assert_eq!(m.success_report(), None);
        assert_eq!(m.summary(), "REPORT 000 200 (tid r3p0rt77)");
        insta::assert_snapshot!("report_for", text(&bytes));
    }

    #[test]
    fn builder_edge_cases() {
        assert_eq!(
            request("SEND", "t1t1").build(),
            b"MSRP t1t1 SEND\r\n-------t1t1$\r\n"
        );
        assert_eq!(
            request("SEND", "t1t1")
                .body(b"")
                .flag(EndFlag::Abort)
                .build(),
            b"MSRP t1t1 SEND\r\n\r\n\r\n-------t1t1#\r\n"
        );
        assert_eq!(
            response("t2t2", 200, "").build(),
            b"MSRP t2t2 200\r\n-------t2t2$\r\n"
        );
        let report = report_for(
            &MsrpMessage::parse(b"MSRP a SEND\r\n-------a$\r\n").unwrap(),
            "msrp://h:1/s;tcp",
            "r1r1",
            ByteRange::WHOLE,
            413,
            "",
        );
        assert_eq!(
            text(&report),
            "MSRP r1r1 REPORT\r\nTo-Path: \r\nFrom-Path: msrp://h:1/s;tcp\r\n\
             Byte-Range: 1-*/*\r\nStatus: 000 413\r\n-------r1r1$\r\n"
        );
    }

    #[test]
    fn tids_are_idents_and_avoid_the_body() {
        for _ in 0..100 {
            assert!(is_valid_ident(&new_tid()));
        }
        let tid = new_tid_for(b"anything");
        assert!(is_valid_ident(&tid));
        assert!(!is_valid_ident("abc"));
        assert!(!is_valid_ident(&"a".repeat(33)));
        assert!(!is_valid_ident("-abc"));
        assert!(is_valid_ident("a.b-c+d%e="));
    }

    #[test]
    fn msrps_urls_are_written_and_read_like_msrp_ones() {
        let v4: SocketAddr = "192.0.2.20:2856".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::20]:2856".parse().unwrap();
        assert_eq!(msrps_url(v4, "s1"), "msrps://192.0.2.20:2856/s1;tcp");
        assert_eq!(msrps_url(v6, "s1"), "msrps://[2001:db8::20]:2856/s1;tcp");
        let u = MsrpUrl::parse("MSRPS://192.0.2.20:2856/s1;tcp").unwrap();
        assert!(u.secure);
        assert_eq!(u.socket_addr(), Some(v4));
        assert!(url_is_secure(&msrps_url(v6, "s1")));
        assert_eq!(url_addr(&msrps_url(v6, "s1")), Some(v6));
        assert_eq!(url_session(&msrps_url(v6, "s1")).as_deref(), Some("s1"));
        assert!(!url_is_secure(&msrp_url(v4, "s1")));
        assert!(!url_is_secure("sips:bob@example.com"));
        // A request over TLS carries msrps paths and frames like any other.
        let bytes = request("SEND", "t1s")
            .header("To-Path", &msrps_url(v4, "b0b"))
            .header("From-Path", &msrps_url(v6, "a1ice"))
            .header("Message-ID", "m1")
            .header("Byte-Range", "1-2/2")
            .header("Content-Type", "text/plain")
            .body(b"hi")
            .build();
        assert_eq!(next_frame(&bytes, 1024), Ok(Some(bytes.len())));
        let m = MsrpMessage::parse(&bytes).unwrap();
        assert_eq!(m.to_path(), ["msrps://192.0.2.20:2856/b0b;tcp"]);
        assert_eq!(m.from_path(), ["msrps://[2001:db8::20]:2856/a1ice;tcp"]);
    }
}
