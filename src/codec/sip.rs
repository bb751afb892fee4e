//! SIP message codec (RFC 3261 §7, §18.3, §20, §25), sans-IO.
//!
//! The harness must judge exactly the bytes a SUT sent and send exactly the bytes a
//! scenario asks for. So the primary reader here is our own tolerant one: it splits a
//! message into start line, header fields and body, keeps the message bytes
//! unchanged ([`SipMessage::raw`]) and offers string views of the parts. It accepts
//! everything RFC 3261's grammar accepts at the framing level (line folding, odd
//! whitespace around colons, extension methods, any URI text, binary bodies) plus LF
//! line ends, and never interprets more than it must.
//!
//! `rsip` 0.4 is available as an optional typed view ([`SipMessage::typed`]); it
//! rejects several valid messages (extension methods, folded or oddly spaced
//! headers, `%`-escapes, bracketed IPv6 hosts, `tel:` URIs), so nothing depends on it.
//!
//! Writers ([`request`], [`response_to`]) produce exact bytes; they never validate,
//! because tests need to send wrong messages too.

use super::escape_bytes;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Largest header block (start line, header fields and the empty line) that
/// [`SipMessage::parse`] accepts.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 120;

/// The first line of a message (RFC 3261 §7.1, §7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        method: String,
        uri: String,
        version: String,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`; the reason is kept as sent
    /// (it may be empty, RFC 4475 §3.1.1.13).
    Response {
        version: String,
        code: u16,
        reason: String,
    },
}

impl fmt::Display for StartLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartLine::Request {
                method,
                uri,
                version,
            } => write!(f, "{method} {uri} {version}"),
            StartLine::Response {
                version,
                code,
                reason,
            } => write!(f, "{version} {code} {reason}"),
        }
    }
}

/// One header field as it appeared in the message.
///
/// `name` is exactly as sent (compact or long, any case). `value` has every line fold
/// (CRLF or LF followed by spaces or tabs, RFC 3261 §7.3.1) replaced by one space and
/// leading and trailing whitespace trimmed; bytes that are not UTF-8 are shown as
/// U+FFFD here, while [`SipMessage::raw`] keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Why bytes are not a SIP message (or not yet a whole one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SipError {
    /// No bytes, or only the CRLFs that may precede a message (RFC 3261 §7.5).
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line.
    BadStartLine { line: Vec<u8> },
    /// A header line has no `token HCOLON`, or is a continuation with nothing to
    /// continue.
    BadHeader { line: Vec<u8> },
    /// No empty line ends the header block; `bytes` is what was received.
    NoHeaderEnd { bytes: Vec<u8> },
    /// Content-Length is not `1*DIGIT`, or several Content-Length fields disagree.
    BadContentLength { value: String },
    /// The body is shorter than Content-Length says.
    Truncated { expected: usize, got: usize },
    /// A message on a stream transport lacks Content-Length (RFC 3261 §18.3).
    MissingContentLength,
    /// The header block (or, for streams, the message) exceeds `limit` bytes.
    TooLarge { limit: usize },
    /// A stream reader stopped reading at its size limit: `limit` bytes is
    /// the most it buffers for one message (RFC 3261 §18.3 frames by
    /// Content-Length, which `declared` gives when the header block ended;
    /// `None`: no empty line ended the header block within the limit).
    /// `start` is the first bytes that arrived (the reader keeps 200),
    /// `have` how many arrived.
    StreamLimit {
        limit: usize,
        declared: Option<usize>,
        have: usize,
        start: Vec<u8>,
    },
}

impl fmt::Display for SipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SipError::Empty => write!(f, "empty SIP message: no bytes but CRLFs"),
            SipError::BadStartLine { line } => write!(
                f,
                "bad SIP start line (neither Request-Line nor Status-Line): \"{}\"",
                escape_bytes(line, SHOW)
            ),
            SipError::BadHeader { line } => write!(
                f,
                "bad SIP header line (expected `name: value` or a folded continuation): \"{}\"",
                escape_bytes(line, SHOW)
            ),
            SipError::NoHeaderEnd { bytes } => write!(
                f,
                "no empty line ends the SIP header block ({} bytes received): \"{}\"",
                bytes.len(),
                escape_bytes(bytes, SHOW)
            ),
            SipError::BadContentLength { value } => write!(
                f,
                "bad Content-Length (expected one decimal number): \"{}\"",
                escape_bytes(value.as_bytes(), SHOW)
            ),
            SipError::Truncated { expected, got } => write!(
                f,
                "truncated SIP body: Content-Length is {expected} but only {got} bytes follow the header block"
            ),
            SipError::MissingContentLength => write!(
                f,
                "SIP message on a stream transport has no Content-Length (RFC 3261 §18.3 makes it mandatory)"
            ),
            SipError::TooLarge { limit } => {
                write!(f, "SIP message too large: header block exceeds {limit} bytes")
            }
            SipError::StreamLimit {
                limit,
                declared: Some(n),
                have,
                start,
            } => write!(
                f,
                "SIP message over the harness's stream limit: Content-Length {n} would take the message past the {limit} bytes the harness buffers for one message, so it stopped reading after {have} bytes: \"{}\"",
                escape_bytes(start, start.len())
            ),
            SipError::StreamLimit {
                limit,
                declared: None,
                have,
                start,
            } => write!(
                f,
                "no empty line ends the SIP header block within the {limit} bytes the harness buffers for one message; it stopped reading after {have} bytes: \"{}\"",
                escape_bytes(start, start.len())
            ),
        }
    }
}

impl std::error::Error for SipError {}

/// A parsed SIP message: its exact bytes plus views of its parts.
#[derive(Clone, Debug)]
pub struct SipMessage {
    /// The message bytes: start line through the end of the body.
    raw: Vec<u8>,
    /// CRLFs that preceded the start line in the input (not part of `raw`).
    leading: usize,
    /// Bytes after the end given by Content-Length (not part of `raw`).
    trailing: Vec<u8>,
    start: StartLine,
    headers: Vec<Header>,
    /// Offset of the body in `raw`.
    body_start: usize,
}

impl SipMessage {
    /// Parse one whole message, e.g. a UDP datagram.
    ///
    /// CRLFs (or LFs) before the start line are skipped (RFC 3261 §7.5). Lines may
    /// end in CRLF or in a bare LF. With a Content-Length, bytes beyond it are not
    /// part of the message (RFC 3261 §18.3; they are kept in [`SipMessage::trailing`])
    /// and fewer bytes than it are [`SipError::Truncated`]; without one, the body is
    /// the rest of the input. A header block over [`MAX_HEADER_BLOCK`] bytes is
    /// [`SipError::TooLarge`].
    ///
    /// ```
    /// use liaison::codec::sip::SipMessage;
    /// let raw = b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
    ///             CSeq: 2 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    /// let m = SipMessage::parse(raw).unwrap();
    /// assert_eq!(m.status(), Some(486));
    /// assert_eq!(m.top_via_branch().as_deref(), Some("z9hG4bK1"));
    /// assert_eq!(m.raw(), &raw[..]);
    /// assert!(SipMessage::parse(b"\x00garbage").is_err());
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<SipMessage, SipError> {
        let start = skip_crlfs(bytes);
        let rest = bytes.get(start..).unwrap_or_default();
        if rest.is_empty() {
            return Err(SipError::Empty);
        }
        // Judge the start line first, so that garbage is reported as such rather
        // than as a missing header end.
        let first_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        if first_end > MAX_HEADER_BLOCK {
            return Err(SipError::TooLarge {
                limit: MAX_HEADER_BLOCK,
            });
        }
        parse_start_line(strip_cr(rest.get(..first_end).unwrap_or_default()))?;

        let head_end = match find_head_end(rest, MAX_HEADER_BLOCK) {
            Some(end) => end,
            None if rest.len() > MAX_HEADER_BLOCK => {
                return Err(SipError::TooLarge {
                    limit: MAX_HEADER_BLOCK,
                })
            }
            None => {
                return Err(SipError::NoHeaderEnd {
                    bytes: rest.to_vec(),
                })
            }
        };
        let head = parse_head(rest.get(..head_end).unwrap_or_default())?;
        let available = rest.len().saturating_sub(head_end);
        let end = match content_length_of(&head.1)? {
            Some(len) if len > available => {
                return Err(SipError::Truncated {
                    expected: len,
                    got: available,
                })
            }
            Some(len) => head_end + len,
            None => rest.len(),
        };
        Ok(SipMessage {
            raw: rest.get(..end).unwrap_or_default().to_vec(),
            leading: start,
            trailing: rest.get(end..).unwrap_or_default().to_vec(),
            start: head.0,
            headers: head.1,
            body_start: head_end,
        })
    }

    /// Exactly the message bytes, unchanged: start line through the end of the body
    /// (leading CRLFs and bytes beyond Content-Length excluded).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The header block as sent: start line, header lines and the empty line.
    pub fn head(&self) -> &[u8] {
        self.raw.get(..self.body_start).unwrap_or_default()
    }

    /// Bytes of the input after the end that Content-Length gives (RFC 3261 §18.3
    /// says to discard them; RFC 4475 §3.1.1.8). Usually empty.
    pub fn trailing(&self) -> &[u8] {
        &self.trailing
    }

    /// How many CR/LF bytes preceded the start line in the input.
    pub fn leading_crlf(&self) -> usize {
        self.leading
    }

    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The SIP-Version as sent (`SIP/2.0`).
    pub fn version(&self) -> &str {
        match &self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
        }
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header field in order of appearance.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first field called `name`: case-insensitive, and a compact
    /// form equals its long name (RFC 3261 §7.3.3 and the extensions that define
    /// the other letters).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| same_header_name(&h.name, name))
            .map(|h| h.value.as_str())
    }

    /// The value of every field called `name`, in order, not split at commas.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|h| same_header_name(&h.name, name))
            .map(|h| h.value.as_str())
            .collect()
    }

    /// Every value of every field called `name`, split at commas that are outside
    /// quoted strings and `<…>` (RFC 3261 §7.3.1), trimmed, empty ones dropped.
    /// Fields whose grammar holds one value (From, To, CSeq, Date, the
    /// authentication fields, …: [`is_single_valued`]) are never split, so a
    /// comma inside one (an unquoted display name, a date) stays in its value.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let split = !is_single_valued(name);
        self.headers
            .iter()
            .filter(|h| same_header_name(&h.name, name))
            .flat_map(|h| {
                if split {
                    split_values(&h.value)
                } else {
                    vec![h.value.trim()]
                }
            })
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| same_header_name(&h.name, name))
    }

    /// The body bytes, exactly as sent.
    pub fn body(&self) -> &[u8] {
        self.raw.get(self.body_start..).unwrap_or_default()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// CSeq number and method (RFC 3261 §20.16); None if absent or malformed.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let mut parts = self.header("CSeq")?.split_ascii_whitespace();
        let number = parts.next()?;
        let method = parts.next()?;
        if parts.next().is_some() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((number.parse().ok()?, method.to_string()))
    }

    /// The media type of Content-Type, lowercased, parameters removed.
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("Content-Type")?;
        let media = value.split(';').next().unwrap_or_default().trim();
        (!media.is_empty()).then(|| media.to_ascii_lowercase())
    }

    /// The first Content-Length, if present and a number.
    pub fn content_length(&self) -> Option<usize> {
        parse_decimal(self.header("Content-Length")?)
    }

    /// Every Via value, comma-split, topmost first, as sent (for copying into
    /// responses and logs). Empty elements are dropped and nothing is checked;
    /// [`SipMessage::via_list`] is the checked reading.
    pub fn vias(&self) -> Vec<String> {
        self.header_values("Via")
    }

    /// Every Via value read by its grammar (RFC 3261 §20.42, §25.1), topmost
    /// first; an error names the first value that is not a via-parm, including
    /// an empty element between commas or an empty parameter (`;;`), so a
    /// malformed Via never yields a phantom value.
    pub fn via_list(&self) -> Result<Vec<Via>, ViewError> {
        let mut out = Vec::new();
        for field in self.header_all("Via") {
            for element in top_level_segments(field, b',', None) {
                out.push(parse_via(element)?);
            }
        }
        if out.is_empty() {
            return Err(ViewError::Missing { field: "Via" });
        }
        Ok(out)
    }

    /// The From value read as name-addr or addr-spec (RFC 3261 §20.20).
    pub fn from_addr(&self) -> Result<NameAddr, ViewError> {
        parse_name_addr(
            self.header("From")
                .ok_or(ViewError::Missing { field: "From" })?,
        )
    }

    /// The To value read as name-addr or addr-spec (RFC 3261 §20.39).
    pub fn to_addr(&self) -> Result<NameAddr, ViewError> {
        parse_name_addr(
            self.header("To")
                .ok_or(ViewError::Missing { field: "To" })?,
        )
    }

    /// The Request-URI, checked ([`check_request_uri`]): a request whose
    /// Request-URI is not an absolute URI (e.g. enclosed in `<…>`) gives an
    /// error, so nothing routes by it.
    pub fn request_uri_checked(&self) -> Result<&str, ViewError> {
        let uri = self.request_uri().ok_or(ViewError::Missing {
            field: "Request-URI",
        })?;
        check_request_uri(uri)?;
        Ok(uri)
    }

    /// What makes this message one the suite must not act on, though it
    /// frames and parses: a SIP-Version other than `SIP/2.0` (RFC 3261 §7.1,
    /// §8.2.2 has a UAS refuse it with 505), a request whose CSeq method is not
    /// its own method (§8.1.1.5, §20.16), a Request-URI that is not an
    /// absolute URI (§7.1, §19.1.1: `<…>` belongs to header fields, never to
    /// the Request-Line). None for a message without these defects.
    pub fn defect(&self) -> Option<String> {
        let version = self.version();
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Some(format!(
                "SIP-Version `{version}` where SIP/2.0 is the only version (RFC 3261 §7.1)"
            ));
        }
        let method = self.method()?;
        if let Some((_, cseq_method)) = self.cseq()
            && cseq_method != method
        {
            return Some(format!(
                    "CSeq method `{cseq_method}` differs from the request's method `{method}` (RFC 3261 §8.1.1.5, §20.16)"
                ));
        }
        if let Err(e) = self.request_uri_checked() {
            return Some(e.to_string());
        }
        None
    }

    /// The `branch` parameter of the topmost Via.
    pub fn top_via_branch(&self) -> Option<String> {
        let first = self.header("Via")?;
        let top = split_values(first).into_iter().next()?;
        header_param(top, "branch")
    }

    /// The `tag` of From; None without one, or when From is not a valid
    /// name-addr/addr-spec ([`SipMessage::from_addr`] says why).
    pub fn from_tag(&self) -> Option<String> {
        self.from_addr().ok()?.param("tag")
    }

    /// The `tag` of To; None as for [`SipMessage::from_tag`].
    pub fn to_tag(&self) -> Option<String> {
        self.to_addr().ok()?.param("tag")
    }

    /// One line for logs and failure messages: `MESSAGE sip:bob@example.net` or
    /// `200 OK`.
    pub fn summary(&self) -> String {
        match &self.start {
            StartLine::Request { method, uri, .. } => format!("{method} {uri}"),
            StartLine::Response { code, reason, .. } if reason.is_empty() => code.to_string(),
            StartLine::Response { code, reason, .. } => format!("{code} {reason}"),
        }
    }

    /// rsip's typed view of [`SipMessage::raw`], or None where rsip rejects the
    /// message (or panics on it).
    pub fn typed(&self) -> Option<rsip::SipMessage> {
        let raw: &[u8] = &self.raw;
        std::panic::catch_unwind(|| rsip::SipMessage::try_from(raw).ok())
            .ok()
            .flatten()
    }
}

/// A parameter of a header value (`;tag=`, `;branch=`, `;expires=`), looked up by
/// case-insensitive name among the parameters that follow the value (outside
/// `<…>` and quoted strings, and before any comma that starts a next value).
/// A flag parameter gives `Some("")`; a quoted value is unquoted.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    let mut segments = top_level_segments(value, b';', Some(b','));
    segments.next()?; // the value itself
    for segment in segments {
        let (pname, pvalue) = match segment.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (segment.trim(), ""),
        };
        if pname.eq_ignore_ascii_case(name) {
            return Some(unquote(pvalue));
        }
    }
    None
}

/// The URI inside a From/To/Contact (name-addr or addr-spec) value: what is inside
/// `<…>` if present, else everything up to the first `;`. None when the value
/// is not a name-addr or addr-spec ([`parse_name_addr`] says why): an
/// unterminated quoted display name never yields the quoted text as a URI.
pub fn uri_of(value: &str) -> Option<String> {
    parse_name_addr(value).ok().map(|n| n.uri)
}

/// Why a view of a header field or the Request-URI could not read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewError {
    /// The field (or the Request-URI) is absent or empty.
    Missing { field: &'static str },
    /// A quoted display name has no closing quote.
    UnterminatedQuote { value: String },
    /// A display name outside quotes holds characters other than tokens and
    /// spaces (a comma, say); RFC 3261 §25.1 has such a name quoted.
    UnquotedDisplayName { display: String },
    /// `<` without its `>`, or text between `>` and the parameters.
    BadNameAddr { value: String, why: &'static str },
    /// A Via value that is not `sent-protocol LWS sent-by *(SEMI via-params)`.
    BadVia { value: String, why: String },
    /// A Request-URI that is not an absolute URI.
    BadRequestUri { uri: String, why: &'static str },
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |s: &str| escape_bytes(s.as_bytes(), SHOW);
        match self {
            ViewError::Missing { field } => write!(f, "no {field}"),
            ViewError::UnterminatedQuote { value } => write!(
                f,
                "quoted display name without its closing quote: \"{}\" (RFC 3261 §25.1 quoted-string)",
                show(value)
            ),
            ViewError::UnquotedDisplayName { display } => write!(
                f,
                "display name \"{}\" has characters that only a quoted display name may hold (RFC 3261 §25.1)",
                show(display)
            ),
            ViewError::BadNameAddr { value, why } => {
                write!(f, "not a name-addr or addr-spec ({why}): \"{}\"", show(value))
            }
            ViewError::BadVia { value, why } => write!(
                f,
                "malformed Via value ({why}): \"{}\" (RFC 3261 §20.42)",
                show(value)
            ),
            ViewError::BadRequestUri { uri, why } => write!(
                f,
                "Request-URI \"{}\" is not an absolute URI ({why}; RFC 3261 §7.1, §19.1.1)",
                show(uri)
            ),
        }
    }
}

impl std::error::Error for ViewError {}

/// A From/To/Contact value read as name-addr or addr-spec (RFC 3261 §20.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted; None when there is none.
    pub display: Option<String>,
    /// The URI: inside `<…>`, or the addr-spec up to the first `;`.
    pub uri: String,
    /// The header parameters after the URI, as sent, from the first `;`
    /// (empty when there are none).
    pub params: String,
}

impl NameAddr {
    /// A header parameter (`tag`, `expires`, …), case-insensitive name; a
    /// flag gives `Some("")`, a quoted value is unquoted.
    pub fn param(&self, name: &str) -> Option<String> {
        header_param(&format!("x{}", self.params), name)
    }
}

/// Reads a From/To/Contact value (RFC 3261 §20.10, §25.1): `[display-name]
/// <URI> *(;param)` or `addr-spec *(;param)`. A display name is a quoted
/// string or tokens separated by whitespace; anything else is an error
/// naming what is wrong, never a guess.
pub fn parse_name_addr(value: &str) -> Result<NameAddr, ViewError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ViewError::Missing { field: "name-addr" });
    }
    let bytes = v.as_bytes();
    // Where the `<` of a name-addr is, outside a leading quoted string.
    let display: Option<String>;
    let mut i;
    if bytes.first() == Some(&b'"') {
        i = 1;
        let mut text = String::new();
        let mut closed = false;
        let mut chars = v.get(1..).unwrap_or_default().char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        text.push(n);
                    }
                }
                '"' => {
                    i = 1 + k + 1;
                    closed = true;
                    break;
                }
                _ => text.push(c),
            }
        }
        if !closed {
            return Err(ViewError::UnterminatedQuote {
                value: v.to_string(),
            });
        }
        display = Some(text);
        let rest = v.get(i..).unwrap_or_default();
        if !rest.trim_start().starts_with('<') {
            return Err(ViewError::BadNameAddr {
                value: v.to_string(),
                why: "a quoted display name must be followed by <URI>",
            });
        }
        i += rest.len() - rest.trim_start().len();
    } else if let Some(lt) = v.find('<') {
        let name = v.get(..lt).unwrap_or_default().trim();
        if !name
            .split_ascii_whitespace()
            .all(|t| t.bytes().all(is_token_byte))
        {
            return Err(ViewError::UnquotedDisplayName {
                display: name.to_string(),
            });
        }
        display = (!name.is_empty()).then(|| name.to_string());
        i = lt;
    } else {
        // addr-spec: the URI runs to the first `;` (RFC 3261 §20.10: its
        // parameters are header parameters).
        let (uri, params) = match v.find(';') {
            Some(semi) => (
                v.get(..semi).unwrap_or_default(),
                v.get(semi..).unwrap_or_default(),
            ),
            None => (v, ""),
        };
        let uri = uri.trim();
        if uri.is_empty() || uri.contains(['>', '"', ',']) || uri.contains(char::is_whitespace) {
            return Err(ViewError::BadNameAddr {
                value: v.to_string(),
                why: "an addr-spec is one URI without spaces, quotes, commas or `>`",
            });
        }
        return Ok(NameAddr {
            display: None,
            uri: uri.to_string(),
            params: params.trim().to_string(),
        });
    }
    // bytes[i] is `<`.
    let inner = v.get(i + 1..).unwrap_or_default();
    let Some(close) = inner.find('>') else {
        return Err(ViewError::BadNameAddr {
            value: v.to_string(),
            why: "`<` without `>`",
        });
    };
    let uri = inner.get(..close).unwrap_or_default().trim();
    if uri.is_empty() || uri.contains('<') {
        return Err(ViewError::BadNameAddr {
            value: v.to_string(),
            why: "no URI between `<` and `>`",
        });
    }
    let params = inner.get(close + 1..).unwrap_or_default().trim();
    if !params.is_empty() && !params.starts_with(';') {
        return Err(ViewError::BadNameAddr {
            value: v.to_string(),
            why: "text after `>` that is not a `;` parameter",
        });
    }
    Ok(NameAddr {
        display,
        uri: uri.to_string(),
        params: params.to_string(),
    })
}

/// Checks that a Request-URI is an absolute URI (RFC 3261 §7.1, §19.1.1,
/// §25.1): a scheme (a letter, then letters, digits, `+`, `-`, `.`), a colon,
/// and no character a URI may not hold unescaped (`<`, `>`, `"`, space,
/// controls). `<sip:…>` is a name-addr, which belongs in header fields only.
pub fn check_request_uri(uri: &str) -> Result<(), ViewError> {
    let bad = |why| {
        Err(ViewError::BadRequestUri {
            uri: uri.to_string(),
            why,
        })
    };
    if uri.starts_with('<') || uri.ends_with('>') {
        return bad("enclosed in `<…>`");
    }
    if uri
        .bytes()
        .any(|b| matches!(b, b'<' | b'>' | b'"') || b <= 0x20 || b == 0x7f)
    {
        return bad("a character no URI holds unescaped");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return bad("no scheme");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return bad("not a scheme before the colon");
    }
    if rest.is_empty() {
        return bad("nothing after the scheme");
    }
    Ok(())
}

/// One Via value (RFC 3261 §20.42): `SIP / 2.0 / UDP host[:port];params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Protocol name and version, e.g. `SIP/2.0` (whitespace around `/` removed).
    pub protocol: String,
    /// The transport as sent, e.g. `UDP`.
    pub transport: String,
    /// The sent-by host as sent; an IPv6 reference keeps its brackets.
    pub host: String,
    /// The sent-by port, if one was given.
    pub port: Option<u16>,
    /// Parameters in order: name and value (None for a flag such as `rport`).
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// A parameter's value: `Some(Some(v))`, `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The sent-by port, or the transport's default (RFC 3261 §18.2.2,
    /// §19.1.2: 5061 for TLS, 5060 otherwise).
    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.transport.eq_ignore_ascii_case("TLS") {
                5061
            } else {
                5060
            })
    }

    /// The host without IPv6 brackets, as an IP address if it is one.
    pub fn host_ip(&self) -> Option<std::net::IpAddr> {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.parse().ok()
    }
}

/// Reads one Via value ([`Via`]); LWS is allowed around `/`, `;` and `=`
/// (RFC 3261 §25.1 SLASH, SEMI, EQUAL). An error says which part is wrong.
pub fn parse_via(value: &str) -> Result<Via, ViewError> {
    let v = value.trim();
    let bad = |why: &str| ViewError::BadVia {
        value: v.to_string(),
        why: why.to_string(),
    };
    if v.is_empty() {
        return Err(bad("an empty value between commas"));
    }
    // sent-protocol: three tokens joined by `/`, whitespace allowed around it.
    let mut parts: Vec<String> = Vec::new();
    let mut rest = v;
    for k in 0..3 {
        let t = rest.trim_start();
        let len = t.bytes().take_while(|&b| is_token_byte(b)).count();
        if len == 0 {
            return Err(bad("sent-protocol is not name/version/transport"));
        }
        parts.push(t.get(..len).unwrap_or_default().to_string());
        rest = t.get(len..).unwrap_or_default();
        if k < 2 {
            let after = rest.trim_start();
            let Some(r) = after.strip_prefix('/') else {
                return Err(bad("sent-protocol is not name/version/transport"));
            };
            rest = r;
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(bad("no whitespace between sent-protocol and sent-by"));
    }
    let rest = rest.trim_start();
    let (sent_by, params) = match rest.find(';') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let sent_by = sent_by.trim();
    let (host, port) = if let Some(v6) = sent_by.strip_prefix('[') {
        let close = v6
            .find(']')
            .ok_or_else(|| bad("IPv6 reference without `]`"))?;
        let host = sent_by.get(..close + 2).unwrap_or_default();
        let after = v6.get(close + 1..).unwrap_or_default().trim_start();
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.trim()),
            None if after.is_empty() => None,
            None => return Err(bad("text after the IPv6 reference")),
        };
        if host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_err()
        {
            return Err(bad("not an IPv6 address inside `[…]`"));
        }
        (host, port)
    } else {
        match sent_by.split_once(':') {
            Some((h, p)) => (h.trim(), Some(p.trim())),
            None => (sent_by, None),
        }
    };
    if host.is_empty()
        || !host.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        return Err(bad("sent-by host is not a hostname or IP address"));
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(
            p.parse::<u16>()
                .map_err(|_| bad("sent-by port out of range"))?,
        ),
        Some(_) => return Err(bad("sent-by port is not a number")),
    };
    let mut out = Vec::new();
    if !params.is_empty() {
        for p in params.split(';').skip(1) {
            let (name, val) = match p.split_once('=') {
                Some((n, x)) => (n.trim(), Some(x.trim())),
                None => (p.trim(), None),
            };
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(bad("an empty or malformed parameter"));
            }
            if val.is_some_and(|x| x.is_empty()) {
                return Err(bad("a parameter with `=` and no value"));
            }
            // gen-value: token, host (an IPv6 reference too) or quoted-string.
            let gen_value = |x: &str| {
                let quoted = x.len() >= 2 && x.starts_with('"') && x.ends_with('"');
                quoted
                    || x.bytes()
                        .all(|b| is_token_byte(b) || matches!(b, b':' | b'[' | b']'))
            };
            if val.is_some_and(|x| !gen_value(x)) {
                return Err(bad(
                    "a parameter value that is no token, host or quoted string",
                ));
            }
            out.push((name.to_string(), val.map(unquote)));
        }
    }
    Ok(Via {
        protocol: format!("{}/{}", parts[0], parts[1]),
        transport: parts[2].clone(),
        host: host.to_string(),
        port,
        params: out,
    })
}

/// The event package of an `Event` header value (RFC 6665 §8.2.1): the
/// token before any parameter, lower-cased (`presence`, `presence.winfo`,
/// `xcap-diff`).
///
/// ```
/// use liaison::codec::sip::event_package;
/// assert_eq!(event_package("Push ;id=1"), "push");
/// ```
pub fn event_package(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The user part and host of a `sip:`, `sips:` or `tel:` URI, as sent.
///
/// `tel:` gives the number as user and no host (RFC 3966). For SIP URIs (RFC 3261
/// §19.1.1) the user part is everything before the first `@` up to any `:password`,
/// so `%`-escapes and `;` in it stay as sent (RFC 4475 §3.1.1.3, §3.1.1.9); a
/// bracketed IPv6 host keeps its brackets (RFC 5118). Other schemes with an `@`
/// (`im:`, `pres:`, `mailto:`) are read the same way. Surrounding `<…>` is ignored.
pub fn uri_user_host(uri: &str) -> (Option<String>, Option<String>) {
    let mut uri = uri.trim();
    if let Some(inner) = uri.strip_prefix('<') {
        uri = inner.strip_suffix('>').unwrap_or(inner).trim();
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return (None, None);
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return (None, None);
    }
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    if scheme.eq_ignore_ascii_case("tel") {
        let number = rest.split(';').next().unwrap_or_default().trim();
        return (non_empty(number), None);
    }
    let is_sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
    let (user, hostport) = match rest.split_once('@') {
        Some((userinfo, hostport)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            (non_empty(user), hostport)
        }
        None if is_sip => (None, rest),
        None => return (None, None),
    };
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.find(']')
            .and_then(|close| hostport.get(..close + 2))
            .map(str::to_string)
    } else {
        let end = hostport
            .find(|c: char| matches!(c, ':' | ';' | '?' | '>' | ',') || c.is_whitespace())
            .unwrap_or(hostport.len());
        hostport.get(..end).and_then(non_empty)
    };
    (user, host)
}

/// What [`next_frame`] found at the start of a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// This many CR/LF bytes (a keep-alive, RFC 5626 §3.5.1, or CRLFs before a
    /// message, RFC 3261 §7.5) to skip.
    KeepAlive(usize),
    /// The first this-many bytes are one complete message.
    Message(usize),
}

/// Frame a stream (TCP, TLS) buffer, RFC 3261 §18.3: a message ends after the
/// header block plus Content-Length bytes, and Content-Length is mandatory.
///
/// `Ok(None)` means more bytes are needed. Errors when the start line or header
/// block is malformed, when the message would exceed `max_len` bytes, or when the
/// header block lacks Content-Length.
pub fn next_frame(buf: &[u8], max_len: usize) -> Result<Option<Frame>, SipError> {
    let crlfs = skip_crlfs(buf);
    if crlfs > 0 {
        return Ok(Some(Frame::KeepAlive(crlfs)));
    }
    if buf.is_empty() || buf == b"\r" {
        return Ok(None);
    }
    let window = buf.get(..max_len).unwrap_or(buf);
    // A complete first line can be judged before the rest arrives.
    if let Some(nl) = window.iter().position(|&b| b == b'\n') {
        parse_start_line(strip_cr(window.get(..nl).unwrap_or_default()))?;
    }
    let Some(head_end) = find_head_end(window, max_len) else {
        return if buf.len() >= max_len {
            Err(SipError::TooLarge { limit: max_len })
        } else {
            Ok(None)
        };
    };
    let (_, headers) = parse_head(window.get(..head_end).unwrap_or_default())?;
    let body_len = content_length_of(&headers)?.ok_or(SipError::MissingContentLength)?;
    let total = head_end
        .checked_add(body_len)
        .filter(|&t| t <= max_len)
        .ok_or(SipError::TooLarge { limit: max_len })?;
    Ok((buf.len() >= total).then_some(Frame::Message(total)))
}

/// A request under construction; [`RequestBuilder::build`] gives its exact bytes.
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Start a request: `METHOD uri SIP/2.0`. Headers come out in the order given;
/// Content-Length is added after them unless one was given (then it is kept as
/// given, even if wrong).
pub fn request(method: &str, uri: &str) -> RequestBuilder {
    RequestBuilder {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, bytes: &[u8]) -> Self {
        self.body = bytes.to_vec();
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        render(&start, self.headers.iter(), &self.body)
    }
}

/// A response under construction; [`ResponseBuilder::build`] gives its exact bytes.
#[derive(Clone, Debug)]
pub struct ResponseBuilder {
    code: u16,
    reason: String,
    /// Via, From, To, Call-ID, CSeq taken from the request, in that order.
    copied: Vec<(String, String)>,
    to_tag: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Start a response to `req`, RFC 3261 §8.2.6.2: every Via (in order, one field per
/// Via field received, values as received), From, To, Call-ID and CSeq are copied;
/// the long header names are used. [`ResponseBuilder::to_tag`] adds `;tag=` to To
/// when the request's To has none.
pub fn response_to(req: &SipMessage, code: u16, reason: &str) -> ResponseBuilder {
    let mut copied: Vec<(String, String)> = req
        .header_all("Via")
        .into_iter()
        .map(|v| ("Via".to_string(), v.to_string()))
        .collect();
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if let Some(value) = req.header(name) {
            copied.push((name.to_string(), value.to_string()));
        }
    }
    ResponseBuilder {
        code,
        reason: reason.to_string(),
        copied,
        to_tag: None,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Start a response that copies nothing from a request (for tests that need a
/// response with missing or foreign fields).
pub fn response(code: u16, reason: &str) -> ResponseBuilder {
    ResponseBuilder {
        code,
        reason: reason.to_string(),
        copied: Vec::new(),
        to_tag: None,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl ResponseBuilder {
    /// Tag to add to To if the request's To has none (RFC 3261 §8.2.6.2).
    pub fn to_tag(mut self, tag: &str) -> Self {
        self.to_tag = Some(tag.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, bytes: &[u8]) -> Self {
        self.body = bytes.to_vec();
        self
    }

    /// Records where the request came from in the copied top Via, as the
    /// server that answers it must: with `rport` in it (a flag or a value),
    /// `rport=<source port>` and `received=<source IP>` (RFC 3581 §4, which
    /// asks for `received` even when it equals the sent-by); without it,
    /// `received` when the sent-by host is not the source IP (RFC 3261
    /// §18.2.1). A top Via the codec cannot read is left as it came.
    pub fn received_from(mut self, source: std::net::SocketAddr) -> Self {
        let Some(via) = self.copied.iter_mut().find(|(n, _)| n == "Via") else {
            return self;
        };
        let first_end = top_level_segments(&via.1, b',', None)
            .next()
            .map(str::len)
            .unwrap_or(via.1.len());
        let (top, rest) = via.1.split_at(first_end);
        let Ok(parsed) = parse_via(top) else {
            return self;
        };
        let ip = source.ip();
        let with_rport = parsed.param("rport").is_some();
        if !with_rport && parsed.host_ip() == Some(ip) {
            return self;
        }
        // Keep every parameter but rport and received, as written.
        let mut kept: Vec<&str> = Vec::new();
        for (k, seg) in top_level_segments(top, b';', None).enumerate() {
            let name = seg.split('=').next().unwrap_or("").trim();
            if k > 0
                && (name.eq_ignore_ascii_case("rport") || name.eq_ignore_ascii_case("received"))
            {
                continue;
            }
            kept.push(seg.trim_end());
        }
        let mut top = kept.join(";");
        top.push_str(&format!(";received={ip}"));
        if with_rport {
            top.push_str(&format!(";rport={}", source.port()));
        }
        via.1 = format!("{top}{rest}");
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let start = format!("SIP/2.0 {} {}", self.code, self.reason);
        let copied = self
            .copied
            .iter()
            .map(|(name, value)| match (&self.to_tag, name == "To") {
                (Some(tag), true) if header_param(value, "tag").is_none() => {
                    (name.clone(), format!("{value};tag={tag}"))
                }
                _ => (name.clone(), value.clone()),
            });
        let all: Vec<(String, String)> = copied.chain(self.headers.iter().cloned()).collect();
        render(&start, all.iter(), &self.body)
    }
}

fn render<'a>(
    start: &str,
    headers: impl Iterator<Item = &'a (String, String)>,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_length = false;
    for (name, value) in headers {
        has_length |= same_header_name(name, "Content-Length");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A fresh random-looking token for tags, branches (the caller prefixes
/// `z9hG4bK`) and Call-IDs: 16 lowercase hex digits. Unique within the process
/// (a counter through a bijective mix), unpredictable enough across processes
/// (seeded once from the clock, the process id and an address).
pub fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let local = 0u8;
        let addr = std::ptr::addr_of!(local) as usize as u64;
        mix64(nanos ^ (u64::from(std::process::id()) << 32) ^ addr.rotate_left(17))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Adding an odd multiple of the counter keeps inputs distinct; mix64 is a
    // bijection, so outputs are distinct too.
    format!(
        "{:016x}",
        mix64(seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
    )
}

/// A 64-bit finaliser (xor-shift and odd multiplications, each invertible).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// Reading helpers
// ---------------------------------------------------------------------------

/// Number of leading bytes that are CRLF pairs or bare LFs.
fn skip_crlfs(bytes: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'\r'), Some(b'\n')) => i += 2,
            (Some(b'\n'), _) => i += 1,
            _ => return i,
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Offset just past the empty line that ends the header block, searching at most
/// `limit` bytes; the block starts with the start line, so the first line is never
/// taken as the empty one.
fn find_head_end(bytes: &[u8], limit: usize) -> Option<usize> {
    let window = bytes.get(..limit).unwrap_or(bytes);
    let mut line_start = 0;
    for (i, &b) in window.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = window.get(line_start..i).unwrap_or_default();
        if line_start > 0 && (line.is_empty() || line == b"\r") {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

/// Lines of a header block without their terminators (CRLF or LF); the final
/// empty line is dropped.
fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(strip_cr)
        .take_while(|line| !line.is_empty())
}

/// Start line and header fields of a complete header block.
fn parse_head(head: &[u8]) -> Result<(StartLine, Vec<Header>), SipError> {
    let mut lines = head_lines(head);
    let start = parse_start_line(lines.next().unwrap_or_default())?;
    let mut headers: Vec<Header> = Vec::new();
    // The field being read: its name and its value so far.
    let mut current: Option<(&[u8], Vec<u8>)> = None;
    for line in lines {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // RFC 3261 §7.3.1: a line starting with whitespace continues the
            // previous field; the fold counts as one space.
            match current.as_mut() {
                Some((_, value)) => append_piece(value, line),
                None => {
                    return Err(SipError::BadHeader {
                        line: line.to_vec(),
                    })
                }
            }
            continue;
        }
        if let Some((name, value)) = current.take() {
            headers.push(make_header(name, value));
        }
        let name_len = line.iter().take_while(|&&b| is_token_byte(b)).count();
        let after_name = line.get(name_len..).unwrap_or_default();
        let ws = after_name
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        match after_name.get(ws..).and_then(|r| r.split_first()) {
            Some((b':', first)) if name_len > 0 => {
                let mut value = Vec::with_capacity(first.len());
                append_piece(&mut value, first);
                current = Some((line.get(..name_len).unwrap_or_default(), value));
            }
            _ => {
                return Err(SipError::BadHeader {
                    line: line.to_vec(),
                })
            }
        }
    }
    if let Some((name, value)) = current {
        headers.push(make_header(name, value));
    }
    Ok((start, headers))
}

/// Add one line's part of a field value, trimmed, joined to what is there by
/// one space.
fn append_piece(value: &mut Vec<u8>, piece: &[u8]) {
    let piece = trim_ws(piece);
    if piece.is_empty() {
        return;
    }
    if !value.is_empty() {
        value.push(b' ');
    }
    value.extend_from_slice(piece);
}

fn make_header(name: &[u8], value: Vec<u8>) -> Header {
    Header {
        name: String::from_utf8_lossy(name).into_owned(),
        value: String::from_utf8(value)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
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

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `SIP/` 1*DIGIT `.` 1*DIGIT (RFC 3261 §7.1; "SIP" matched case-insensitively as
/// ABNF literals are).
fn is_sip_version(v: &[u8]) -> bool {
    let Some(prefix) = v.get(..4) else {
        return false;
    };
    if !prefix.eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let numbers = v.get(4..).unwrap_or_default();
    let mut parts = numbers.split(|&b| b == b'.');
    let good =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    good(parts.next()) && good(parts.next()) && parts.next().is_none()
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, SipError> {
    let bad = || SipError::BadStartLine {
        line: line.to_vec(),
    };
    let is_response = line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
    if is_response {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2).
        let sp = line.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let version = line.get(..sp).unwrap_or_default();
        if !is_sip_version(version) {
            return Err(bad());
        }
        let rest = line.get(sp + 1..).unwrap_or_default();
        let digits = rest.get(..3).ok_or_else(bad)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let code = digits
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err(bad());
        }
        // Tolerate a missing SP before an empty reason.
        let reason = match rest.get(3..).unwrap_or_default() {
            [] => &[][..],
            [b' ', reason @ ..] => reason,
            _ => return Err(bad()),
        };
        if reason.iter().any(|&b| b == b'\r' || b == 0) {
            return Err(bad());
        }
        return Ok(StartLine::Response {
            version: String::from_utf8_lossy(version).into_owned(),
            code,
            reason: String::from_utf8_lossy(reason).into_owned(),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1).
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if method.is_empty() || !method.iter().all(|&b| is_token_byte(b)) {
        return Err(bad());
    }
    if uri.is_empty() || uri.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err(bad());
    }
    let uri = std::str::from_utf8(uri).map_err(|_| bad())?;
    if !is_sip_version(version) {
        return Err(bad());
    }
    Ok(StartLine::Request {
        method: String::from_utf8_lossy(method).into_owned(),
        uri: uri.to_string(),
        version: String::from_utf8_lossy(version).into_owned(),
    })
}

/// `1*DIGIT`, surrounding whitespace allowed.
fn parse_decimal(value: &str) -> Option<usize> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The Content-Length of a header list: None if absent; an error if one is not a
/// number or several disagree.
fn content_length_of(headers: &[Header]) -> Result<Option<usize>, SipError> {
    let mut found: Option<usize> = None;
    let mut seen: Vec<&str> = Vec::new();
    for h in headers
        .iter()
        .filter(|h| same_header_name(&h.name, "Content-Length"))
    {
        seen.push(&h.value);
        let Some(n) = parse_decimal(&h.value) else {
            return Err(SipError::BadContentLength {
                value: h.value.clone(),
            });
        };
        match found {
            Some(previous) if previous != n => {
                return Err(SipError::BadContentLength {
                    value: seen.join(", "),
                })
            }
            _ => found = Some(n),
        }
    }
    Ok(found)
}

/// Compact forms: RFC 3261 §7.3.3 (i m e l c f s k t v), RFC 6665 (o u),
/// RFC 3515 (r), RFC 3892 (b), RFC 4028 (x), RFC 3841 (a j d), RFC 8224 (y),
/// RFC 4474 (n).
fn long_name(name: &str) -> &str {
    let [letter] = name.as_bytes() else {
        return name;
    };
    match letter.to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'u' => "Allow-Events",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'x' => "Session-Expires",
        b'a' => "Accept-Contact",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        b'y' => "Identity",
        b'n' => "Identity-Info",
        _ => name,
    }
}

/// Header fields whose grammar allows one value only, so a comma inside one
/// is part of it (RFC 3261 §7.3.1, §20; the authentication fields are the
/// section's named exception).
fn is_single_valued(name: &str) -> bool {
    const SINGLE: &[&str] = &[
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Content-Length",
        "Content-Type",
        "Content-Disposition",
        "Max-Forwards",
        "Date",
        "Expires",
        "Min-Expires",
        "MIME-Version",
        "Organization",
        "Priority",
        "Reply-To",
        "Retry-After",
        "Server",
        "Subject",
        "Timestamp",
        "User-Agent",
        "Authorization",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Refer-To",
        "Referred-By",
        "Event",
        "Session-Expires",
        "Identity",
        "Identity-Info",
    ];
    SINGLE.iter().any(|s| same_header_name(s, name))
}

fn same_header_name(a: &str, b: &str) -> bool {
    long_name(a).eq_ignore_ascii_case(long_name(b))
}

/// Split `s` at `sep` where it is outside quoted strings and `<…>`, stopping at
/// `stop` (also outside them). Quoted-pairs inside quotes are skipped.
fn top_level_segments(s: &str, sep: u8, stop: Option<u8>) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut cuts: Vec<usize> = Vec::new();
    let mut end = bytes.len();
    let mut in_quotes = false;
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => depth += 1,
            b'>' if !in_quotes => depth = depth.saturating_sub(1),
            _ if in_quotes || depth > 0 => {}
            _ if b == sep => cuts.push(i),
            _ if Some(b) == stop => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let mut bounds = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for cut in cuts {
        bounds.push((from, cut));
        from = cut + 1;
    }
    bounds.push((from, end));
    // The separators are ASCII, so every bound is a char boundary.
    bounds
        .into_iter()
        .map(move |(a, b)| s.get(a..b).unwrap_or_default())
}

/// Comma-separated values of one field, trimmed, empty ones dropped.
fn split_values(value: &str) -> Vec<&str> {
    top_level_segments(value, b',', None)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Remove surrounding double quotes and quoted-pair backslashes.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The usual reason phrase for a status code (RFC 3261 §21; RFC 3428 for 202).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        603 => "Decline",
        _ => "Response",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as a UA would send it, with two Via fields (the second carrying
    /// two values) and a To without tag.
    fn incoming() -> SipMessage {
        let bytes = b"MESSAGE sip:bob@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy.example.net;branch=z9hG4bKpx1\r\n\
v: SIP/2.0/UDP relay.example.com;branch=z9hG4bKrl1, SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKua1;received=192.0.2.10\r\n\
Max-Forwards: 68\r\n\
f: \"Alice\" <sip:alice@example.com>;tag=al1ce\r\n\
t: <sip:bob@example.net>\r\n\
i: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314 MESSAGE\r\n\
Content-Type: text/plain\r\n\
Content-Length: 12\r\n\
\r\n\
Hello, Bob.\n";
        SipMessage::parse(bytes).expect("test request parses")
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// Every line of the header block ends in CRLF, and the body follows the
    /// empty line unchanged.
    fn assert_crlf_framing(bytes: &[u8], body: &[u8]) {
        let msg = SipMessage::parse(bytes).expect("built message parses");
        for (i, &b) in msg.head().iter().enumerate() {
            if b == b'\n' {
                assert_eq!(
                    msg.head().get(i.wrapping_sub(1)),
                    Some(&b'\r'),
                    "bare LF at {i}"
                );
            }
        }
        assert!(msg.head().ends_with(b"\r\n\r\n"));
        assert_eq!(msg.body(), body);
        assert_eq!(msg.raw(), bytes);
        assert_eq!(msg.content_length(), Some(body.len()));
    }

    #[test]
    fn build_message_request() {
        let body = b"Hello, Bob. Lunch at noon?";
        let bytes = request("MESSAGE", "sip:bob@example.net")
            .header("Via", "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK776asdhds")
            .header("Max-Forwards", "70")
            .header("From", "<sip:alice@example.com>;tag=49583")
            .header("To", "<sip:bob@example.net>")
            .header("Call-ID", "asd88asd77a@127.0.0.1")
            .header("CSeq", "1 MESSAGE")
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(body)
            .build();
        assert_crlf_framing(&bytes, body);
        insta::assert_snapshot!("message_request", text(&bytes));
    }

    #[test]
    fn build_200_to_parsed_request() {
        let bytes = response_to(&incoming(), 200, "OK").to_tag("b0b").build();
        assert_crlf_framing(&bytes, b"");
        let resp = SipMessage::parse(&bytes).expect("parses");
        assert_eq!(resp.to_tag().as_deref(), Some("b0b"));
        assert_eq!(resp.vias().len(), 3);
        assert_eq!(
            resp.header_all("Via").len(),
            2,
            "one Via field per field received"
        );
        insta::assert_snapshot!("response_200", text(&bytes));
    }

    #[test]
    fn build_415_with_accept() {
        let bytes = response_to(&incoming(), 415, "Unsupported Media Type")
            .to_tag("b0b")
            .header("Accept", "text/plain, message/cpim")
            .build();
        assert_crlf_framing(&bytes, b"");
        insta::assert_snapshot!("response_415", text(&bytes));
    }

    #[test]
    fn build_486() {
        let bytes = response_to(&incoming(), 486, "Busy Here")
            .to_tag("b0b")
            .header("Retry-After", "120")
            .build();
        assert_crlf_framing(&bytes, b"");
        insta::assert_snapshot!("response_486", text(&bytes));
    }

    #[test]
    fn response_keeps_existing_to_tag_and_skips_absent_fields() {
        let req = SipMessage::parse(
            b"MESSAGE sip:b@x SIP/2.0\r\nTo: <sip:b@x>;tag=already\r\nCSeq: 2 MESSAGE\r\n\r\n",
        )
        .expect("parses");
        let bytes = response_to(&req, 200, "OK").to_tag("other").build();
        assert_eq!(
            bytes,
            b"SIP/2.0 200 OK\r\nTo: <sip:b@x>;tag=already\r\nCSeq: 2 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        );
        // Without to_tag nothing is added.
        let req =
            SipMessage::parse(b"MESSAGE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n\r\n").expect("parses");
        let bytes = response_to(&req, 202, "Accepted").build();
        assert_eq!(
            bytes,
            b"SIP/2.0 202 Accepted\r\nTo: <sip:b@x>\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn builder_keeps_a_given_content_length_even_if_wrong() {
        let bytes = request("MESSAGE", "sip:b@x")
            .header("Content-Length", "99")
            .header("X-After", "1")
            .body(b"abc")
            .build();
        assert_eq!(
            bytes,
            b"MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 99\r\nX-After: 1\r\n\r\nabc"
        );
        let compact = request("MESSAGE", "sip:b@x").header("l", "7").build();
        assert_eq!(compact, b"MESSAGE sip:b@x SIP/2.0\r\nl: 7\r\n\r\n");
        let bare = response(500, "Server Internal Error")
            .body(&[0, 0xff])
            .build();
        assert_eq!(
            bare,
            b"SIP/2.0 500 Server Internal Error\r\nContent-Length: 2\r\n\r\n\x00\xff"
        );
    }

    #[test]
    fn a_server_fills_in_rport_and_received() {
        let req = |via: &str| {
            let raw = format!(
                "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:b@x>;tag=1\r\n\
                 To: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            SipMessage::parse(raw.as_bytes()).unwrap()
        };
        let via_of = |m: &SipMessage, src: &str| {
            let bytes = response_to(m, 200, "OK")
                .received_from(src.parse().unwrap())
                .build();
            SipMessage::parse(&bytes)
                .unwrap()
                .header("Via")
                .unwrap()
                .to_string()
        };
        // RFC 3581 §4: rport gets the source port, received the source IP,
        // even when it equals the sent-by.
        assert_eq!(
            via_of(
                &req("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport"),
                "127.0.0.1:40000"
            ),
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;received=127.0.0.1;rport=40000"
        );
        // Only the top Via of the field changes.
        assert_eq!(
            via_of(
                &req("SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK0;rport"),
                "127.0.0.3:4000"
            ),
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;received=127.0.0.3;rport=4000, SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK0;rport"
        );
        // Without rport: received only when the sent-by is not the source.
        assert_eq!(
            via_of(
                &req("SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1"),
                "127.0.0.1:5070"
            ),
            "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1"
        );
        assert_eq!(
            via_of(
                &req("SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1"),
                "127.0.0.2:5070"
            ),
            "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1;received=127.0.0.2"
        );
        assert_eq!(
            via_of(
                &req("SIP/2.0/UDP [::1]:5070;branch=z9hG4bK1;rport"),
                "[::1]:5071"
            ),
            "SIP/2.0/UDP [::1]:5070;branch=z9hG4bK1;received=::1;rport=5071"
        );
        // A Via the codec cannot read is left as it came.
        assert_eq!(
            via_of(
                &req("SIP/2.0/UDP 127.0.0.1:5070;;branch=z9hG4bK1;rport"),
                "127.0.0.1:1"
            ),
            "SIP/2.0/UDP 127.0.0.1:5070;;branch=z9hG4bK1;rport"
        );
    }

    #[test]
    fn header_param_forms() {
        let from = "\"A;tag=no\" <sip:a@x;tag=uri-param>;tag=yes;lr; expires = 60 ;q=\"0.5\"";
        assert_eq!(header_param(from, "tag").as_deref(), Some("yes"));
        assert_eq!(header_param(from, "TAG").as_deref(), Some("yes"));
        assert_eq!(header_param(from, "lr").as_deref(), Some(""));
        assert_eq!(header_param(from, "expires").as_deref(), Some("60"));
        assert_eq!(header_param(from, "q").as_deref(), Some("0.5"));
        assert_eq!(header_param(from, "missing"), None);
        let via =
            "SIP/2.0/UDP [2001:db8::10]:5070;branch=z9hG4bK1;rport, SIP/2.0/UDP b;branch=z9hG4bK2";
        assert_eq!(header_param(via, "branch").as_deref(), Some("z9hG4bK1"));
        assert_eq!(header_param(via, "rport").as_deref(), Some(""));
        assert_eq!(
            header_param("sip:a@x;tag=addr-spec", "tag").as_deref(),
            Some("addr-spec")
        );
        let feature = "*;+g.oma.pusheventapp=\"mms.ua\";require;explicit";
        assert_eq!(
            header_param(feature, "+g.oma.pusheventapp").as_deref(),
            Some("mms.ua")
        );
        assert_eq!(header_param("", "tag"), None);
        assert_eq!(header_param("\"unterminated;tag=1", "tag"), None);
    }

    #[test]
    fn uri_of_forms() {
        assert_eq!(
            uri_of("\"Bob <x>\" <sip:bob@b.example>;tag=1").as_deref(),
            Some("sip:bob@b.example")
        );
        assert_eq!(
            uri_of("Eve<sip:eve@example.org>").as_deref(),
            Some("sip:eve@example.org")
        );
        assert_eq!(
            uri_of("sip:bob@b.example;tag=1").as_deref(),
            Some("sip:bob@b.example")
        );
        assert_eq!(
            uri_of(" <tel:+15551234567> ").as_deref(),
            Some("tel:+15551234567")
        );
        assert_eq!(uri_of("*").as_deref(), Some("*"));
        assert_eq!(uri_of("<sip:unclosed@x"), None);
        assert_eq!(uri_of(""), None);
        assert_eq!(uri_of("<>"), None);
    }

    #[test]
    fn uri_user_host_forms() {
        let uh = |u: &str| {
            let (a, b) = uri_user_host(u);
            (a.unwrap_or_default(), b.unwrap_or_default())
        };
        assert_eq!(
            uh("sip:alice@[2001:db8::10]:5070"),
            ("alice".into(), "[2001:db8::10]".into())
        );
        assert_eq!(
            uh("sip:[2001:db8::10];transport=udp"),
            ("".into(), "[2001:db8::10]".into())
        );
        assert_eq!(
            uh("tel:+15551234567;phone-context=x"),
            ("+15551234567".into(), "".into())
        );
        assert_eq!(uri_user_host("tel:+15551234567").1, None);
        assert_eq!(
            uh("sip:sips%3Abob%40b.example@gw.example"),
            ("sips%3Abob%40b.example".into(), "gw.example".into())
        );
        assert_eq!(
            uh("sip:frank;svc=chat@example.org;maddr=x"),
            ("frank;svc=chat".into(), "example.org".into())
        );
        assert_eq!(
            uh("SIPS:carol:secret@Chicago.example.com:5061"),
            ("carol".into(), "Chicago.example.com".into())
        );
        assert_eq!(
            uh("<sip:bob@b.example>"),
            ("bob".into(), "b.example".into())
        );
        assert_eq!(
            uh("im:fred@example.com"),
            ("fred".into(), "example.com".into())
        );
        assert_eq!(uri_user_host("urn:service:sos"), (None, None));
        assert_eq!(uri_user_host("bob@example.com"), (None, None));
        assert_eq!(uri_user_host("sip:@"), (None, None));
        assert_eq!(
            uri_user_host("sip:a@[2001:db8::1"),
            (Some("a".into()), None)
        );
        assert_eq!(uri_user_host(""), (None, None));
    }

    #[test]
    fn compact_names_and_lookup() {
        let m = incoming();
        assert_eq!(m.header("call-id"), Some("a84b4c76e66710@192.0.2.10"));
        assert_eq!(m.call_id(), m.header("I"));
        assert_eq!(m.header("FROM"), m.header("f"));
        assert!(m.has_header("t") && m.has_header("To"));
        assert_eq!(m.header_all("Via").len(), 2);
        assert_eq!(m.header_all("v").len(), 2);
        assert_eq!(m.top_via_branch().as_deref(), Some("z9hG4bKpx1"));
        assert_eq!(m.from_tag().as_deref(), Some("al1ce"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.cseq(), Some((314, "MESSAGE".to_string())));
        assert_eq!(m.summary(), "MESSAGE sip:bob@example.net");
        for (short, long) in [
            ("i", "Call-ID"),
            ("m", "Contact"),
            ("e", "Content-Encoding"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("f", "From"),
            ("s", "Subject"),
            ("k", "Supported"),
            ("t", "To"),
            ("v", "Via"),
            ("o", "Event"),
            ("u", "Allow-Events"),
            ("r", "Refer-To"),
            ("b", "Referred-By"),
            ("x", "Session-Expires"),
            ("a", "Accept-Contact"),
            ("j", "Reject-Contact"),
            ("d", "Request-Disposition"),
            ("y", "Identity"),
            ("n", "Identity-Info"),
        ] {
            assert!(same_header_name(short, long), "{short} = {long}");
            assert!(same_header_name(
                &short.to_uppercase(),
                &long.to_lowercase()
            ));
        }
        assert!(!same_header_name("q", "Call-ID"));
    }

    /// Item 30 vectors, written for this project in the manner of RFC 4475's
    /// `quotbal`, `ltgtruri`, `baddn` and `badinv01` (not copies of them).
    fn vector(head: &str) -> SipMessage {
        let bytes = format!("{head}\r\nContent-Length: 0\r\n\r\n");
        SipMessage::parse(bytes.as_bytes()).expect("the vector frames and parses")
    }

    #[test]
    fn unterminated_quoted_display_name_is_an_error_not_a_uri() {
        let m = vector(
            "MESSAGE sip:ravi@example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.40;branch=z9hG4bKq1\r\n\
To: \"Ravi K. <sip:ravi@example.org>\r\n\
From: <sip:mina@example.com>;tag=m1\r\n\
Call-ID: q1@192.0.2.40\r\nCSeq: 7 MESSAGE",
        );
        let to = m.header("To").expect("To");
        assert!(matches!(
            m.to_addr(),
            Err(ViewError::UnterminatedQuote { .. })
        ));
        assert_eq!(uri_of(to), None, "the quoted text is no URI");
        assert_eq!(m.to_tag(), None);
        assert!(m
            .to_addr()
            .unwrap_err()
            .to_string()
            .contains("closing quote"));
        // A balanced quoted name holding `<sip:…>` reads right.
        let ok = parse_name_addr("\"Ravi <sip:ravi@x.example>\" <sip:ravi@example.org>;tag=9")
            .expect("valid name-addr");
        assert_eq!(ok.uri, "sip:ravi@example.org");
        assert_eq!(ok.display.as_deref(), Some("Ravi <sip:ravi@x.example>"));
        assert_eq!(ok.param("tag").as_deref(), Some("9"));
    }

    #[test]
    fn request_uri_in_angle_brackets_is_a_defect() {
        let m = vector(
            "MESSAGE <sip:ravi@example.org> SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.40;branch=z9hG4bKq2\r\n\
To: <sip:ravi@example.org>\r\nFrom: <sip:mina@example.com>;tag=m2\r\n\
Call-ID: q2@192.0.2.40\r\nCSeq: 8 MESSAGE",
        );
        assert_eq!(
            m.request_uri(),
            Some("<sip:ravi@example.org>"),
            "kept as sent"
        );
        let e = m.request_uri_checked().expect_err("not an absolute URI");
        assert!(e.to_string().contains("enclosed in `<…>`"), "{e}");
        assert!(m.defect().is_some_and(|d| d.contains("Request-URI")));
        for good in [
            "sip:ravi@example.org",
            "tel:+15550100",
            "sips:[2001:db8::1]:5061",
        ] {
            assert_eq!(check_request_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "ravi@example.org",
            "sip:",
            "1sip:x",
            "sip:a\"b@x",
            "<sip:x>",
        ] {
            assert!(check_request_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unquoted_display_name_with_comma_is_one_value_and_an_error() {
        let m = vector(
            "MESSAGE sip:ravi@example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.40;branch=z9hG4bKq3\r\n\
To: <sip:ravi@example.org>\r\n\
From: Kumar, Ravi <sip:ravi.k@example.com>;tag=rk3\r\n\
Call-ID: q3@192.0.2.40\r\nCSeq: 9 MESSAGE",
        );
        assert_eq!(
            m.header_values("From"),
            vec!["Kumar, Ravi <sip:ravi.k@example.com>;tag=rk3".to_string()],
            "From holds one value"
        );
        assert_eq!(
            m.from_addr(),
            Err(ViewError::UnquotedDisplayName {
                display: "Kumar, Ravi".into()
            })
        );
        assert_eq!(m.from_tag(), None, "no tag guessed from a misread value");
        // Quoted, the same name reads right.
        let ok = parse_name_addr("\"Kumar, Ravi\" <sip:ravi.k@example.com>;tag=rk3").expect("ok");
        assert_eq!(ok.param("tag").as_deref(), Some("rk3"));
        // Token display names need no quotes.
        assert_eq!(
            uri_of("Ravi  Kumar <sip:rk@example.com>").as_deref(),
            Some("sip:rk@example.com")
        );
        // A Date keeps its comma too.
        let d = vector("OPTIONS sip:x@example.org SIP/2.0\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(d.header_values("Date").len(), 1);
    }

    #[test]
    fn via_with_empty_parameters_and_elements_is_an_error_not_two_values() {
        let m = vector(
            "OPTIONS sip:ravi@example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.41;;,;,,\r\n\
To: <sip:ravi@example.org>\r\nFrom: <sip:mina@example.com>;tag=m4\r\n\
Call-ID: q4@192.0.2.41\r\nCSeq: 10 OPTIONS",
        );
        let e = m.via_list().expect_err("malformed Via");
        assert!(matches!(e, ViewError::BadVia { .. }), "{e}");
        assert!(e.to_string().contains("parameter"), "{e}");
        assert!(parse_via("SIP/2.0/UDP h.example;branch=z9hG4bK1,").is_err());
        let trailing = vector(
            "OPTIONS sip:ravi@example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.41;branch=z9hG4bKt1, \r\nCSeq: 1 OPTIONS",
        );
        assert!(
            trailing.via_list().is_err(),
            "an empty element after the comma"
        );
        assert!(parse_via("").is_err());
        assert!(parse_via("SIP/2.0/UDP h.example;branch=").is_err());
    }

    #[test]
    fn via_readings() {
        // Whitespace around the slashes and a fold (valid, RFC 3261 §25.1).
        let m = vector(
            "OPTIONS sip:ravi@example.org SIP/2.0\r\n\
Via : SIP  /   2.0\r\n /UDP\r\n    192.0.2.42;rport ; branch = z9hG4bKws\r\n\
To: <sip:ravi@example.org>\r\nFrom: <sip:mina@example.com>;tag=m5\r\n\
Call-ID: q5@192.0.2.42\r\nCSeq: 11 OPTIONS",
        );
        let vias = m.via_list().expect("valid Via");
        let v = &vias[0];
        assert_eq!(v.protocol, "SIP/2.0");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "192.0.2.42");
        assert_eq!(v.port, None);
        assert_eq!(v.port_or_default(), 5060);
        assert_eq!(v.param("rport"), Some(None));
        assert_eq!(v.branch(), Some("z9hG4bKws"));
        let v6 = parse_via("SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bK6;received=2001:db8::1")
            .expect("IPv6 sent-by");
        assert_eq!(v6.host, "[2001:db8::9]");
        assert_eq!(v6.port, Some(5070));
        assert_eq!(v6.host_ip(), "2001:db8::9".parse().ok());
        assert_eq!(v6.param("received"), Some(Some("2001:db8::1")));
        let tls = parse_via("SIP/2.0/TLS proxy.example.com").expect("no params");
        assert_eq!(tls.port_or_default(), 5061);
        assert!(parse_via("SIP/2.0/UDP 192.0.2.1:99999").is_err());
        assert!(parse_via("SIP/2.0/UDP [2001:db8::1").is_err());
        assert!(parse_via("SIP/2.0 192.0.2.1").is_err());
    }

    #[test]
    fn defects_version_and_cseq_method() {
        let v = vector(
            "OPTIONS sip:ravi@example.org SIP/3.1\r\n\
Via: SIP/2.0/UDP 192.0.2.43;branch=z9hG4bKv1\r\n\
To: <sip:ravi@example.org>\r\nFrom: <sip:mina@example.com>;tag=m6\r\n\
Call-ID: q6@192.0.2.43\r\nCSeq: 12 OPTIONS",
        );
        assert!(v.defect().is_some_and(|d| d.contains("SIP/3.1")));
        let r = vector(
            "SIP/2.5 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.43;branch=z9hG4bKv1\r\nCSeq: 12 OPTIONS",
        );
        assert!(r.defect().is_some_and(|d| d.contains("SIP/2.5")));
        let mm = vector(
            "MESSAGE sip:ravi@example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.43;branch=z9hG4bKv2\r\n\
To: <sip:ravi@example.org>\r\nFrom: <sip:mina@example.com>;tag=m7\r\n\
Call-ID: q7@192.0.2.43\r\nCSeq: 13 INVITE",
        );
        assert!(mm
            .defect()
            .is_some_and(|d| d.contains("`INVITE`") && d.contains("`MESSAGE`")));
        assert_eq!(incoming().defect(), None);
        let fine = vector("sip/2.0 200 OK\r\nCSeq: 1 MESSAGE");
        assert_eq!(fine.defect(), None, "ABNF literals are case-insensitive");
    }

    /// Every prefix and every one-byte cut of tricky values gives a reading
    /// or an error from the checked views, never a panic.
    #[test]
    fn checked_views_never_panic() {
        let seeds = [
            "SIP / 2.0 / UDP [2001:db8::9]:5070 ;branch = z9hG4bK1;received=\"x\";rport",
            "\"A \\\"q\\\" <sip:x>\" <sip:a@[::1]:5060;transport=tcp>;tag=1;q=\"0,5\"",
            "Kumar, Ravi <sip:r@x>;tag=1, <sip:b@y>",
            "<sip:a@b>x;tag=1",
            "sips:é@[::1]:99999;;,;\u{e9}",
        ];
        for seed in seeds {
            for (i, _) in seed.char_indices().chain([(seed.len(), ' ')]) {
                let prefix = &seed[..i];
                let _ = (
                    parse_via(prefix),
                    parse_name_addr(prefix),
                    check_request_uri(prefix),
                );
                let cut: String = seed[..i].chars().chain(seed[i..].chars().skip(1)).collect();
                let _ = (
                    parse_via(&cut),
                    parse_name_addr(&cut),
                    check_request_uri(&cut),
                );
            }
        }
    }

    #[test]
    fn tokens_are_distinct_hex() {
        let tokens: std::collections::HashSet<String> = (0..10_000).map(|_| token()).collect();
        assert_eq!(tokens.len(), 10_000);
        for t in tokens.iter().take(50) {
            assert_eq!(t.len(), 16);
            assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(t.bytes().all(is_token_byte), "usable as a SIP token");
        }
    }
}
