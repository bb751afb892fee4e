//! The WebSocket protocol (RFC 6455), sans-IO: the opening handshake over
//! HTTP/1.1 (§4), frames (§5), the messages they carry and the Close frame's
//! status codes (§7.4); and what SIP over WebSocket (RFC 7118) and MSRP over
//! WebSocket (RFC 7977) add: the subprotocol names and which data frame a SIP
//! message goes in.
//!
//! The handshake is HTTP: [`super::http`] cuts and reads it, this module
//! checks what RFC 6455 asks of each side's half. The frame decoder works
//! over a byte buffer: a frame and the bytes it took, or "need more", or an
//! error; it never buffers beyond its size limit (the declared length is
//! checked before the payload arrives). Reading is in two steps so that a
//! harness can look at whatever came: [`read_frame`] takes any frame whose
//! length field is readable, [`Frame::check`] then names the rule of RFC 6455
//! the sender broke ([`decode`] does both). The encoder writes exactly the
//! bytes asked for, bad ones included (an unmasked client frame, reserved bits,
//! a length field longer than needed), so tests can send them to a system
//! under test. Every error is a [`FrameError`] or [`HandshakeError`] named after
//! what the peer did.

use std::fmt;

use sha1::{Digest, Sha1};

use super::escape_bytes;
use super::http::{self, HttpError, HttpMessage, StartLine};

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 80;

/// The string a server appends to the client's key before hashing it into
/// `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.2.2).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines (§4.1, `Sec-WebSocket-Version`).
pub const VERSION: &str = "13";

/// The subprotocol of SIP over WebSocket (RFC 7118 §4.1; IANA registers it).
pub const SUBPROTOCOL_SIP: &str = "sip";

/// The subprotocol of MSRP over WebSocket (RFC 7977 §4.1).
pub const SUBPROTOCOL_MSRP: &str = "msrp";

/// The most a handshake's HTTP head may take, for [`http::next_frame`].
pub const HANDSHAKE_MAX: usize = 16 * 1024;

/// The largest payload a control frame may have (RFC 6455 §5.5).
pub const CONTROL_MAX: usize = 125;

// ---------------------------------------------------------------------------
// base64 (RFC 4648 §4, the standard alphabet with padding)
// ---------------------------------------------------------------------------

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of a base64 text: the standard alphabet, a length that is a
/// multiple of 4, `=` only as the last one or two characters. `None` for
/// anything else (no whitespace allowed).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(4) {
        return None;
    }
    let pad = t.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    let quads = t.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (q, quad) in t.chunks(4).enumerate() {
        // Only the last quad may end in padding (the trailing `=` counted above).
        let p = if q + 1 == quads { pad } else { 0 };
        let mut n: u32 = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = if i >= 4 - p { 0 } else { sextet(c)? };
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - p]);
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The opening handshake (RFC 6455 §4)
// ---------------------------------------------------------------------------

/// A `Sec-WebSocket-Key` from 16 bytes the caller drew at random (§4.1: a
/// fresh nonce per connection, base64-encoded).
pub fn key_from_nonce(nonce: [u8; 16]) -> String {
    base64_encode(&nonce)
}

/// The `Sec-WebSocket-Accept` value that answers `key`: base64 of the SHA-1
/// of the key followed by [`GUID`] (§4.2.2, step 5 of the server's answer).
pub fn accept_value(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64_encode(&h.finalize())
}

/// A client's opening handshake (§4.1): `GET target HTTP/1.1`, `Host`,
/// `Upgrade: websocket`, `Connection: Upgrade`, the key, version 13, the
/// subprotocols offered in order (no `Sec-WebSocket-Protocol` when none),
/// then `extra` as given.
pub fn client_request(
    target: &str,
    host: &str,
    key: &str,
    protocols: &[&str],
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let offered = protocols.join(", ");
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", VERSION),
    ];
    if !protocols.is_empty() {
        headers.push(("Sec-WebSocket-Protocol", &offered));
    }
    headers.extend_from_slice(extra);
    http::request("GET", target, host, &headers, b"")
}

/// A server's acceptance (§4.2.2): `101 Switching Protocols` with `Upgrade`,
/// `Connection`, the accept value of `key` and the chosen subprotocol, if any.
pub fn accept_response(key: &str, protocol: Option<&str>) -> Vec<u8> {
    let accept = accept_value(key);
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept.as_str()),
    ];
    if let Some(p) = protocol {
        headers.push(("Sec-WebSocket-Protocol", p));
    }
    http::response(101, "Switching Protocols", &headers, b"")
}

/// A server's refusal: `status` with `why` as a text/plain body; a 426
/// carries `Sec-WebSocket-Version: 13`, the version the server speaks
/// (§4.2.2 step 4, §4.4).
pub fn refusal(status: u16, reason: &str, why: &str) -> Vec<u8> {
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    if status == 426 {
        headers.push(("Sec-WebSocket-Version", VERSION));
    }
    http::response(status, reason, &headers, why.as_bytes())
}

/// What was wrong with a handshake, named after what the peer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The bytes are not an HTTP message.
    Http(HttpError),
    /// A response came where a client's request was expected.
    NotARequest,
    /// A request came where the server's answer was expected.
    NotAResponse,
    /// The client's request is not a GET (§4.1: "The method of the request MUST be GET").
    MethodNotGet { method: String },
    /// The request's HTTP version is below 1.1 (§4.1).
    HttpVersion { version: String },
    /// The request has no `Host` (§4.1, item 4 of the client's requirements).
    HostMissing,
    /// A field that must appear at most once appeared `count` times (§11.3).
    Repeated { field: &'static str, count: usize },
    /// The request's `Upgrade` lacks `websocket`, or the response's is not
    /// exactly `websocket` (case-insensitive; §4.1, §4.2.1).
    UpgradeMissing { value: Option<String> },
    /// `Connection` lacks the `Upgrade` token (case-insensitive; §4.1, §4.2.1).
    ConnectionMissing { value: Option<String> },
    /// The request has no `Sec-WebSocket-Key`.
    KeyMissing,
    /// The key is not base64 of 16 bytes (§4.1, §4.2.1 item 5).
    KeyInvalid { value: String },
    /// `Sec-WebSocket-Version` is missing or not 13 (§4.1, §4.2.1 item 6).
    VersionUnsupported { value: Option<String> },
    /// The subprotocols offered are not distinct non-empty tokens (§4.1).
    ProtocolsInvalid { value: String },
    /// The server answered with another status than 101 (§4.1: anything but
    /// 101 is handled as HTTP, so the connection is not a WebSocket one).
    Refused { status: u16, reason: String },
    /// The server's answer has no `Sec-WebSocket-Accept`.
    AcceptMissing,
    /// The server's `Sec-WebSocket-Accept` does not answer the key sent.
    AcceptWrong { got: String, expected: String },
    /// The server named an extension the client did not offer (§4.1).
    ExtensionNotOffered { value: String },
    /// The server chose a subprotocol the client did not offer (§4.1).
    ProtocolNotOffered {
        chosen: String,
        offered: Vec<String>,
    },
    /// The client did not offer the subprotocol the server needs (RFC 7118
    /// §4.1 for `sip`, RFC 7977 §4.1 for `msrp`). See [`UpgradeRequest::require`].
    ProtocolNotRequested {
        wanted: String,
        offered: Vec<String>,
    },
    /// The server chose no subprotocol where the client needs one (RFC 7118
    /// §4.1 for `sip`, RFC 7977 §4.1 for `msrp`). See [`require_protocol`].
    ProtocolMissing {
        wanted: String,
        offered: Vec<String>,
    },
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| match v {
            Some(v) => format!("`{}`", escape_bytes(v.as_bytes(), SHOW)),
            None => "none".to_string(),
        };
        match self {
            HandshakeError::Http(e) => write!(f, "not an HTTP message: {e}"),
            HandshakeError::NotARequest => {
                write!(f, "an HTTP response came where the opening handshake's GET was expected")
            }
            HandshakeError::NotAResponse => {
                write!(f, "an HTTP request came where the server's answer to the opening handshake was expected")
            }
            HandshakeError::MethodNotGet { method } => write!(
                f,
                "the opening handshake's method is `{}`, not GET (RFC 6455 §4.1)",
                escape_bytes(method.as_bytes(), SHOW)
            ),
            HandshakeError::HttpVersion { version } => write!(
                f,
                "the opening handshake is `{}`, below HTTP/1.1 (RFC 6455 §4.1)",
                escape_bytes(version.as_bytes(), SHOW)
            ),
            HandshakeError::HostMissing => {
                write!(f, "the opening handshake has no Host (RFC 6455 §4.1)")
            }
            HandshakeError::Repeated { field, count } => write!(
                f,
                "{field} appears {count} times where it may appear once (RFC 6455 §11.3)"
            ),
            HandshakeError::UpgradeMissing { value } => write!(
                f,
                "Upgrade is {} where `websocket` is required (RFC 6455 §4.1, §4.2.1)",
                opt(value)
            ),
            HandshakeError::ConnectionMissing { value } => write!(
                f,
                "Connection is {} where the token `Upgrade` is required (RFC 6455 §4.1, §4.2.1)",
                opt(value)
            ),
            HandshakeError::KeyMissing => {
                write!(f, "the opening handshake has no Sec-WebSocket-Key (RFC 6455 §4.1)")
            }
            HandshakeError::KeyInvalid { value } => write!(
                f,
                "Sec-WebSocket-Key `{}` is not the base64 of 16 bytes (RFC 6455 §4.1)",
                escape_bytes(value.as_bytes(), SHOW)
            ),
            HandshakeError::VersionUnsupported { value } => write!(
                f,
                "Sec-WebSocket-Version is {} where 13 is required (RFC 6455 §4.1, §4.2.1)",
                opt(value)
            ),
            HandshakeError::ProtocolsInvalid { value } => write!(
                f,
                "Sec-WebSocket-Protocol `{}` is not a list of distinct non-empty tokens (RFC 6455 §4.1)",
                escape_bytes(value.as_bytes(), SHOW)
            ),
            HandshakeError::Refused { status, reason } => write!(
                f,
                "the server refused the WebSocket upgrade: HTTP {status} {}",
                escape_bytes(reason.as_bytes(), SHOW)
            ),
            HandshakeError::AcceptMissing => {
                write!(f, "the 101 response has no Sec-WebSocket-Accept (RFC 6455 §4.1)")
            }
            HandshakeError::AcceptWrong { got, expected } => write!(
                f,
                "Sec-WebSocket-Accept is `{}`, expected `{expected}` for the key sent (RFC 6455 §4.1)",
                escape_bytes(got.as_bytes(), SHOW)
            ),
            HandshakeError::ExtensionNotOffered { value } => write!(
                f,
                "the server names extensions `{}` the client did not offer (RFC 6455 §4.1)",
                escape_bytes(value.as_bytes(), SHOW)
            ),
            HandshakeError::ProtocolNotOffered { chosen, offered } => write!(
                f,
                "the server chose subprotocol `{}`, not one offered ({}) (RFC 6455 §4.1)",
                escape_bytes(chosen.as_bytes(), SHOW),
                offered.join(", ")
            ),
            HandshakeError::ProtocolNotRequested { wanted, offered } => write!(
                f,
                "the client did not offer subprotocol `{wanted}` (offered: {})",
                if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(", ")
                }
            ),
            HandshakeError::ProtocolMissing { wanted, offered } => write!(
                f,
                "the server chose no subprotocol; `{wanted}` was required (offered: {})",
                offered.join(", ")
            ),
        }
    }
}

impl std::error::Error for HandshakeError {}

impl From<HttpError> for HandshakeError {
    fn from(e: HttpError) -> Self {
        HandshakeError::Http(e)
    }
}

/// Does a comma-separated header list (every field of that name) hold
/// `token`, compared case-insensitively?
fn list_has(m: &HttpMessage, name: &str, token: &str) -> bool {
    m.headers_named(name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Every field of that name joined by ", ", or None when there is none.
fn joined(m: &HttpMessage, name: &str) -> Option<String> {
    let all: Vec<&str> = m.headers_named(name).collect();
    (!all.is_empty()).then(|| all.join(", "))
}

/// The one value of a field that may appear once: Ok(None) when absent.
fn at_most_once<'a>(
    m: &'a HttpMessage,
    name: &'static str,
) -> Result<Option<&'a str>, HandshakeError> {
    let all: Vec<&str> = m.headers_named(name).collect();
    match all.len() {
        0 => Ok(None),
        1 => Ok(Some(all[0])),
        count => Err(HandshakeError::Repeated { field: name, count }),
    }
}

/// A subprotocol name: printable ASCII without HTTP separators (§4.1, RFC 2616 §2.2).
fn is_protocol_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// A client's opening handshake as the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target (`/` or a path).
    pub target: String,
    /// `Sec-WebSocket-Key`, as sent (valid: base64 of 16 bytes).
    pub key: String,
    /// The subprotocols offered, in order (every `Sec-WebSocket-Protocol` field).
    pub protocols: Vec<String>,
    /// Every `Sec-WebSocket-Extensions` value, unparsed.
    pub extensions: Vec<String>,
    /// `Origin`, when sent.
    pub origin: Option<String>,
    /// The whole HTTP request.
    pub message: HttpMessage,
}

impl UpgradeRequest {
    /// Did the client offer this subprotocol?
    pub fn offers(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p == protocol)
    }

    /// RFC 7118 §4.1 (RFC 7977 §4.1): a client of SIP (MSRP) over WebSocket
    /// offers `sip` (`msrp`); a server that needs it refuses a request
    /// without it ([`refusal_status`]: 400).
    pub fn require(&self, protocol: &str) -> Result<(), HandshakeError> {
        if self.offers(protocol) {
            Ok(())
        } else {
            Err(HandshakeError::ProtocolNotRequested {
                wanted: protocol.to_string(),
                offered: self.protocols.clone(),
            })
        }
    }
}

/// Reads a client's opening handshake: one whole HTTP request, as cut by
/// [`http::next_frame`]. Checks what §4.2.1 asks the server to check, in the
/// order of that list.
pub fn read_request(bytes: &[u8]) -> Result<UpgradeRequest, HandshakeError> {
    let m = HttpMessage::parse(bytes)?;
    let StartLine::Request {
        method,
        target,
        version,
    } = &m.start
    else {
        return Err(HandshakeError::NotARequest);
    };
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet {
            method: method.clone(),
        });
    }
    if !at_least_http_11(version) {
        return Err(HandshakeError::HttpVersion {
            version: version.clone(),
        });
    }
    if at_most_once(&m, "Host")?.is_none() {
        return Err(HandshakeError::HostMissing);
    }
    if !list_has(&m, "Upgrade", "websocket") {
        return Err(HandshakeError::UpgradeMissing {
            value: joined(&m, "Upgrade"),
        });
    }
    if !list_has(&m, "Connection", "upgrade") {
        return Err(HandshakeError::ConnectionMissing {
            value: joined(&m, "Connection"),
        });
    }
    let key = at_most_once(&m, "Sec-WebSocket-Key")?
        .ok_or(HandshakeError::KeyMissing)?
        .to_string();
    if base64_decode(&key).map(|b| b.len()) != Some(16) {
        return Err(HandshakeError::KeyInvalid { value: key });
    }
    match at_most_once(&m, "Sec-WebSocket-Version")? {
        Some(VERSION) => {}
        other => {
            return Err(HandshakeError::VersionUnsupported {
                value: other.map(str::to_string),
            })
        }
    }
    let mut protocols: Vec<String> = Vec::new();
    if let Some(all) = joined(&m, "Sec-WebSocket-Protocol") {
        for p in all.split(',').map(str::trim) {
            if !is_protocol_token(p) || protocols.iter().any(|q| q == p) {
                return Err(HandshakeError::ProtocolsInvalid { value: all });
            }
            protocols.push(p.to_string());
        }
    }
    Ok(UpgradeRequest {
        target: target.clone(),
        key,
        protocols,
        extensions: m
            .headers_named("Sec-WebSocket-Extensions")
            .map(str::to_string)
            .collect(),
        origin: m.header("Origin").map(str::to_string),
        message: m,
    })
}

fn at_least_http_11(version: &str) -> bool {
    let Some((major, minor)) = version
        .strip_prefix("HTTP/")
        .and_then(|v| v.split_once('.'))
    else {
        return false;
    };
    match (major.parse::<u32>(), minor.parse::<u32>()) {
        (Ok(a), Ok(b)) => (a, b) >= (1, 1),
        _ => false,
    }
}

/// The status a server answers a bad opening handshake with: 426 Upgrade
/// Required for a version it does not speak (§4.2.2 step 4), 400 Bad
/// Request for the rest (§4.2.1).
pub fn refusal_status(e: &HandshakeError) -> (u16, &'static str) {
    match e {
        HandshakeError::VersionUnsupported { .. } => (426, "Upgrade Required"),
        _ => (400, "Bad Request"),
    }
}

/// The server's acceptance as the client read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// The whole 101 response.
    pub message: HttpMessage,
}

/// Reads the server's answer to a handshake that sent `key` and offered
/// `offered`: one whole HTTP response, as cut by [`http::next_frame`] (a
/// 101 has no body; the bytes after it are frames). Checks §4.1's list: the
/// status, `Upgrade`, `Connection`, the accept value, extensions, the
/// subprotocol. Any status but 101 is [`HandshakeError::Refused`].
pub fn read_response(
    bytes: &[u8],
    key: &str,
    offered: &[&str],
) -> Result<Accepted, HandshakeError> {
    let m = HttpMessage::parse(bytes)?;
    let StartLine::Response { status, reason, .. } = &m.start else {
        return Err(HandshakeError::NotAResponse);
    };
    if *status != 101 {
        return Err(HandshakeError::Refused {
            status: *status,
            reason: reason.clone(),
        });
    }
    let upgrade = at_most_once(&m, "Upgrade")?;
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeError::UpgradeMissing {
            value: upgrade.map(str::to_string),
        });
    }
    if !list_has(&m, "Connection", "upgrade") {
        return Err(HandshakeError::ConnectionMissing {
            value: joined(&m, "Connection"),
        });
    }
    let expected = accept_value(key);
    match at_most_once(&m, "Sec-WebSocket-Accept")? {
        None => return Err(HandshakeError::AcceptMissing),
        Some(got) if got != expected => {
            return Err(HandshakeError::AcceptWrong {
                got: got.to_string(),
                expected,
            })
        }
        Some(_) => {}
    }
    if let Some(ext) = joined(&m, "Sec-WebSocket-Extensions") {
        return Err(HandshakeError::ExtensionNotOffered { value: ext });
    }
    let protocol = at_most_once(&m, "Sec-WebSocket-Protocol")?.map(str::to_string);
    if let Some(p) = &protocol
        && !offered.contains(&p.as_str())
    {
        return Err(HandshakeError::ProtocolNotOffered {
            chosen: p.clone(),
            offered: offered.iter().map(|s| s.to_string()).collect(),
        });
    }
    Ok(Accepted {
        protocol,
        message: m,
    })
}

/// RFC 7118 §4.1 (and RFC 7977 §4.1 for MSRP): the connection carries the
/// protocol only if the server chose its subprotocol; a 101 without it is
/// not a SIP (MSRP) WebSocket connection.
pub fn require_protocol(
    accepted: &Accepted,
    wanted: &str,
    offered: &[&str],
) -> Result<(), HandshakeError> {
    match &accepted.protocol {
        Some(p) if p == wanted => Ok(()),
        Some(p) => Err(HandshakeError::ProtocolNotOffered {
            chosen: p.clone(),
            offered: offered.iter().map(|s| s.to_string()).collect(),
        }),
        None => Err(HandshakeError::ProtocolMissing {
            wanted: wanted.to_string(),
            offered: offered.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// The status line of an HTTP response whose head is complete in `buf`,
/// before its body (if any) has arrived: lets a client report a refusal
/// without waiting for a body delimited by the end of the connection.
/// `None` while the head is incomplete or the first line is not a status line.
pub fn response_status(buf: &[u8]) -> Option<(u16, String)> {
    // Empty lines before the status line are skipped, as the HTTP reader does.
    let mut buf = buf;
    while let Some(rest) = buf.strip_prefix(b"\r\n") {
        buf = rest;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let first = buf[..end].split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first.strip_suffix(b"\r").unwrap_or(first)).ok()?;
    let rest = first.strip_prefix("HTTP/")?;
    let (_, rest) = rest.split_once(' ')?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((code.parse().ok()?, reason.to_string()))
}

/// Can the bytes received so far no longer be the start of an HTTP response
/// (`response`) or request? Lets a reader name garbage at once instead of
/// waiting for a header block that will never end: a response must begin
/// with `HTTP/`, a request with a method token (at most 32 bytes) and a
/// space. Empty lines before the start line are allowed, as the HTTP reader
/// allows them.
pub fn cannot_be_http(buf: &[u8], response: bool) -> bool {
    let mut b = buf;
    while let Some(rest) = b.strip_prefix(b"\r\n") {
        b = rest;
    }
    if b == b"\r" {
        return false;
    }
    if response {
        let n = b.len().min(5);
        return b[..n] != b"HTTP/"[..n];
    }
    let tchar = |c: &u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c);
    match b.iter().position(|&c| c == b' ') {
        Some(i) => i == 0 || i > 32 || !b[..i].iter().all(tchar),
        None => b.len() > 32 || !b.iter().all(tchar),
    }
}

// ---------------------------------------------------------------------------
// Frames (RFC 6455 §5)
// ---------------------------------------------------------------------------

/// A frame's opcode (§5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 3–7 (non-control) and 11–15 (control): reserved; a sender uses them
    /// only under an extension. Values above 15 are cut to 4 bits when encoded.
    Reserved(u8),
}

impl Opcode {
    /// The 4-bit value on the wire.
    pub fn code(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
            Opcode::Reserved(n) => n & 0x0f,
        }
    }

    /// The opcode of a 4-bit value.
    pub fn from_code(code: u8) -> Opcode {
        match code & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            n => Opcode::Reserved(n),
        }
    }

    /// Close, Ping, Pong and the reserved 11–15 (§5.5: the high bit set).
    pub fn is_control(self) -> bool {
        self.code() & 0x08 != 0
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opcode::Continuation => write!(f, "continuation (0)"),
            Opcode::Text => write!(f, "text (1)"),
            Opcode::Binary => write!(f, "binary (2)"),
            Opcode::Close => write!(f, "close (8)"),
            Opcode::Ping => write!(f, "ping (9)"),
            Opcode::Pong => write!(f, "pong (10)"),
            Opcode::Reserved(n) => write!(f, "reserved opcode {}", n & 0x0f),
        }
    }
}

/// Which endpoint sent a frame: a client must mask, a server must not (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// How the payload length is written (§5.2): in the 7 bits of the second
/// byte, or 126 and 16 bits, or 127 and 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    /// The shortest form for the length (what §5.2 requires of a sender).
    Minimal,
    /// 7 bits (0–125).
    Short,
    /// 126, then 16 bits.
    U16,
    /// 127, then 64 bits.
    U64,
}

impl LengthForm {
    /// The form §5.2 requires for a length.
    pub fn minimal_for(length: u64) -> LengthForm {
        match length {
            0..=125 => LengthForm::Short,
            126..=0xffff => LengthForm::U16,
            _ => LengthForm::U64,
        }
    }
}

/// What to encode: every header bit as asked, so bad frames can be sent on
/// purpose. [`FrameSpec::new`] gives a final, unmasked frame with the minimal
/// length form; the builder methods change one thing each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (RSV1 = 0b100).
    pub rsv: u8,
    pub opcode: Opcode,
    /// The masking key; the payload is masked with it (§5.3).
    pub mask: Option<[u8; 4]>,
    pub form: LengthForm,
    /// A length to write instead of the payload's (the frame then lies).
    pub declared: Option<u64>,
}

impl FrameSpec {
    pub fn new(opcode: Opcode) -> FrameSpec {
        FrameSpec {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            form: LengthForm::Minimal,
            declared: None,
        }
    }

    pub fn fin(self, fin: bool) -> FrameSpec {
        FrameSpec { fin, ..self }
    }

    pub fn rsv(self, rsv: u8) -> FrameSpec {
        FrameSpec { rsv, ..self }
    }

    pub fn mask(self, key: Option<[u8; 4]>) -> FrameSpec {
        FrameSpec { mask: key, ..self }
    }

    pub fn form(self, form: LengthForm) -> FrameSpec {
        FrameSpec { form, ..self }
    }

    pub fn declare(self, length: u64) -> FrameSpec {
        FrameSpec {
            declared: Some(length),
            ..self
        }
    }

    /// The frame's bytes: the header as specified, the payload masked when a
    /// key is given. The length written is `declared` or the payload's, in
    /// `form` (cut to the field's width: `Short` writes its low 7 bits, so
    /// 126 or 127 there announce an extended length that does not follow).
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let length = self.declared.unwrap_or(payload.len() as u64);
        let mut out = Vec::with_capacity(payload.len() + 14);
        out.push((u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.code());
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let form = match self.form {
            LengthForm::Minimal => LengthForm::minimal_for(length),
            f => f,
        };
        match form {
            LengthForm::Short | LengthForm::Minimal => out.push(mask_bit | (length as u8 & 0x7f)),
            LengthForm::U16 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(length as u16).to_be_bytes());
            }
            LengthForm::U64 => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&length.to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }
}

/// A final frame with the minimal length form, masked when `mask` is given
/// (a client's frame, §5.3): what a conforming endpoint sends.
pub fn encode_frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    FrameSpec::new(opcode).mask(mask).encode(payload)
}

/// Unmasks (or masks: the operation is its own inverse) `data` in place
/// with `key`, the first byte of `data` being byte 0 of the payload (§5.3).
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// One frame as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits.
    pub rsv: u8,
    pub opcode: Opcode,
    /// The masking key, when the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// How the length was written.
    pub form: LengthForm,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The spec that encodes this frame back to the bytes it was read from.
    pub fn spec(&self) -> FrameSpec {
        FrameSpec {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            mask: self.mask,
            form: self.form,
            declared: None,
        }
    }

    /// The frame's bytes as they were on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.spec().encode(&self.payload)
    }

    /// The rules of RFC 6455 a frame sent by `from` must keep, checked in
    /// this order: masking by the sender's side (§5.1, §5.3), reserved bits
    /// with no extension negotiated (§5.2), a reserved opcode (§5.2), a
    /// control frame fragmented or over 125 bytes (§5.5), a length not in
    /// its shortest form (§5.2), a Close payload (§5.5.1, §7.4).
    pub fn check(&self, from: Side) -> Result<(), FrameError> {
        match (from, self.mask) {
            (Side::Server, Some(_)) => return Err(FrameError::ServerFrameMasked),
            (Side::Client, None) => return Err(FrameError::ClientFrameUnmasked),
            _ => {}
        }
        if self.rsv != 0 {
            return Err(FrameError::ReservedBits { rsv: self.rsv });
        }
        if let Opcode::Reserved(n) = self.opcode {
            return Err(FrameError::ReservedOpcode { opcode: n & 0x0f });
        }
        if self.opcode.is_control() {
            if !self.fin {
                return Err(FrameError::ControlFragmented {
                    opcode: self.opcode,
                });
            }
            if self.payload.len() > CONTROL_MAX {
                return Err(FrameError::ControlTooLong {
                    opcode: self.opcode,
                    length: self.payload.len(),
                });
            }
        }
        let length = self.payload.len() as u64;
        if self.form != LengthForm::minimal_for(length) {
            return Err(FrameError::LengthNotMinimal {
                length,
                form: self.form,
            });
        }
        if self.opcode == Opcode::Close {
            parse_close(&self.payload)?;
        }
        Ok(())
    }
}

/// What was wrong with a frame or a message, named after what the peer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The declared payload length exceeds the reader's limit.
    TooLong { length: u64, limit: usize },
    /// A 64-bit length with its most significant bit set (§5.2).
    LengthMsbSet { length: u64 },
    /// The length is written in a longer form than needed (§5.2: "the
    /// minimal number of bytes MUST be used").
    LengthNotMinimal { length: u64, form: LengthForm },
    /// A server masked its frame (§5.1).
    ServerFrameMasked,
    /// A client sent an unmasked frame (§5.1).
    ClientFrameUnmasked,
    /// RSV1–3 set with no extension negotiated (§5.2).
    ReservedBits { rsv: u8 },
    /// An opcode RFC 6455 reserves (§5.2).
    ReservedOpcode { opcode: u8 },
    /// A control frame without FIN (§5.5).
    ControlFragmented { opcode: Opcode },
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlTooLong { opcode: Opcode, length: usize },
    /// A Close frame with a payload of 1 byte (§5.5.1: a body starts with a
    /// 2-byte status code).
    CloseOneByte,
    /// A Close status code that may not be sent (§7.4).
    CloseCode { code: u16, problem: &'static str },
    /// A Close reason that is not UTF-8 (§5.5.1); `at` is the payload offset.
    CloseReasonNotUtf8 { at: usize },
    /// A continuation frame with no fragmented message begun (§5.4).
    ContinuationWithoutStart,
    /// A text or binary frame while a fragmented message was still open (§5.4).
    DataFrameInterleaved { opcode: Opcode },
    /// A message whose fragments add up past the assembler's limit.
    MessageTooLong { length: usize, limit: usize },
    /// A whole text message that is not UTF-8 (§5.6, §8.1); `at` is the
    /// offset of the first bad byte in the message.
    TextNotUtf8 { at: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { length, limit } => write!(
                f,
                "frame declares {length} bytes of payload, over the limit of {limit}"
            ),
            FrameError::LengthMsbSet { length } => write!(
                f,
                "64-bit payload length {length:#018x} has its most significant bit set (RFC 6455 §5.2)"
            ),
            FrameError::LengthNotMinimal { length, form } => write!(
                f,
                "payload length {length} written in the {} form, not the shortest (RFC 6455 §5.2)",
                match form {
                    LengthForm::U16 => "16-bit",
                    LengthForm::U64 => "64-bit",
                    _ => "7-bit",
                }
            ),
            FrameError::ServerFrameMasked => {
                write!(f, "the server masked a frame (RFC 6455 §5.1)")
            }
            FrameError::ClientFrameUnmasked => {
                write!(f, "the client sent an unmasked frame (RFC 6455 §5.1)")
            }
            FrameError::ReservedBits { rsv } => write!(
                f,
                "reserved bits RSV1-3 = {rsv:03b} with no extension negotiated (RFC 6455 §5.2)"
            ),
            FrameError::ReservedOpcode { opcode } => {
                write!(f, "reserved opcode {opcode} (RFC 6455 §5.2)")
            }
            FrameError::ControlFragmented { opcode } => {
                write!(f, "{opcode} frame without FIN: control frames are not fragmented (RFC 6455 §5.5)")
            }
            FrameError::ControlTooLong { opcode, length } => write!(
                f,
                "{opcode} frame with {length} bytes of payload, over 125 (RFC 6455 §5.5)"
            ),
            FrameError::CloseOneByte => write!(
                f,
                "Close frame with a 1-byte payload: a body starts with a 2-byte status code (RFC 6455 §5.5.1)"
            ),
            FrameError::CloseCode { code, problem } => {
                write!(f, "Close status code {code}: {problem}")
            }
            FrameError::CloseReasonNotUtf8 { at } => write!(
                f,
                "Close reason is not UTF-8 (payload byte {at}) (RFC 6455 §5.5.1)"
            ),
            FrameError::ContinuationWithoutStart => write!(
                f,
                "continuation frame with no fragmented message begun (RFC 6455 §5.4)"
            ),
            FrameError::DataFrameInterleaved { opcode } => write!(
                f,
                "{opcode} frame while a fragmented message was still open (RFC 6455 §5.4)"
            ),
            FrameError::MessageTooLong { length, limit } => write!(
                f,
                "message of at least {length} bytes, over the limit of {limit}"
            ),
            FrameError::TextNotUtf8 { at } => write!(
                f,
                "text message is not UTF-8 (byte {at}) (RFC 6455 §5.6, §8.1)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads one frame off the front of `buf`: `Ok(Some((frame, n)))` when the
/// first `n` bytes are a whole frame, `Ok(None)` when more are needed, `Err`
/// when its length field is unusable (over `max_payload`, or the 64-bit MSB
/// set) — known from the header alone, before any payload is buffered. No
/// other rule is checked: see [`Frame::check`].
pub fn read_frame(buf: &[u8], max_payload: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    let (length, form, mut at) = match b1 & 0x7f {
        126 => {
            let Some(x) = buf.get(2..4) else {
                return Ok(None);
            };
            (
                u64::from(u16::from_be_bytes([x[0], x[1]])),
                LengthForm::U16,
                4,
            )
        }
        127 => {
            let Some(x) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(x);
            let length = u64::from_be_bytes(b);
            if length >> 63 != 0 {
                return Err(FrameError::LengthMsbSet { length });
            }
            (length, LengthForm::U64, 10)
        }
        n => (u64::from(n), LengthForm::Short, 2),
    };
    if length > max_payload as u64 {
        return Err(FrameError::TooLong {
            length,
            limit: max_payload,
        });
    }
    let len = length as usize;
    let mask = if b1 & 0x80 != 0 {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let Some(data) = at.checked_add(len).and_then(|end| buf.get(at..end)) else {
        return Ok(None);
    };
    let mut payload = data.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    Ok(Some((
        Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode: Opcode::from_code(b0),
            mask,
            form,
            payload,
        },
        at + len,
    )))
}

/// [`read_frame`], then [`Frame::check`] for a frame `from` that side.
pub fn decode(
    buf: &[u8],
    from: Side,
    max_payload: usize,
) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some((frame, n)) = read_frame(buf, max_payload)? else {
        return Ok(None);
    };
    frame.check(from)?;
    Ok(Some((frame, n)))
}

// ---------------------------------------------------------------------------
// Close status codes (RFC 6455 §7.4)
// ---------------------------------------------------------------------------

/// 1000: the purpose of the connection is fulfilled.
pub const CLOSE_NORMAL: u16 = 1000;
/// 1001: the endpoint is going away.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// 1003: a kind of data the endpoint cannot take.
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// 1007: data inconsistent with the message type (text not UTF-8).
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message against the endpoint's policy.
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// 1010: the client expected an extension the server did not negotiate.
pub const CLOSE_MANDATORY_EXTENSION: u16 = 1010;
/// 1011: the server met an unexpected condition.
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// Why a status code may not travel in a Close frame, or `None` when it
/// may: 1000–1003 and 1007–1011 (§7.4.1), 1012–1014 (registered later in
/// IANA's WebSocket Close Code Number registry, §11.7), 3000–4999 (§7.4.2).
pub fn close_code_problem(code: u16) -> Option<&'static str> {
    match code {
        0..=999 => Some("codes 0-999 are not used (RFC 6455 §7.4.2)"),
        1004 => Some("1004 is reserved (RFC 6455 §7.4.1)"),
        1005 | 1006 | 1015 => {
            Some("this code stands for a missing status and must not be sent in a Close frame (RFC 6455 §7.4.1)")
        }
        1016..=2999 => {
            Some("a code of the range 1000-2999 that no specification defines (RFC 6455 §7.4.2)")
        }
        5000.. => Some("above the ranges RFC 6455 §7.4.2 defines (up to 4999)"),
        _ => None,
    }
}

/// The status code and reason of a Close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseBody {
    pub code: u16,
    pub reason: String,
}

/// Reads a Close payload (§5.5.1): empty (no status), or a status code that
/// may be sent and a UTF-8 reason.
pub fn parse_close(payload: &[u8]) -> Result<Option<CloseBody>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseOneByte),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if let Some(problem) = close_code_problem(code) {
                return Err(FrameError::CloseCode { code, problem });
            }
            let reason =
                std::str::from_utf8(reason).map_err(|e| FrameError::CloseReasonNotUtf8 {
                    at: 2 + e.valid_up_to(),
                })?;
            Ok(Some(CloseBody {
                code,
                reason: reason.to_string(),
            }))
        }
    }
}

/// A Close payload: the code (network byte order) and the reason, or
/// nothing when `code` is `None`. Any code is written, as asked.
pub fn close_payload(code: Option<u16>, reason: &str) -> Vec<u8> {
    match code {
        Some(c) => [&c.to_be_bytes()[..], reason.as_bytes()].concat(),
        None => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Messages (RFC 6455 §5.4, §5.6)
// ---------------------------------------------------------------------------

/// A whole message, or a control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (checked UTF-8).
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A Close frame, with its status when it has one.
    Close(Option<CloseBody>),
}

/// Joins fragmented messages (§5.4): frames in, whole messages out; control
/// frames pass through between fragments. The total of one message's
/// fragments is bounded by `limit`.
#[derive(Clone, Debug)]
pub struct Assembler {
    limit: usize,
    open: Option<(Opcode, Vec<u8>)>,
}

impl Assembler {
    pub fn new(limit: usize) -> Assembler {
        Assembler { limit, open: None }
    }

    /// Bytes of a fragmented message received so far (0 when none is open).
    pub fn pending(&self) -> usize {
        self.open.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// Takes the next frame: `Ok(Some(message))` when it completes a message
    /// or is a control frame, `Ok(None)` for a fragment that leaves a
    /// message open. Frames are expected checked ([`Frame::check`]); the
    /// assembler checks what only the sequence shows: continuation without
    /// a start, a data frame inside an open message, the size, UTF-8.
    pub fn push(&mut self, frame: &Frame) -> Result<Option<Message>, FrameError> {
        match frame.opcode {
            Opcode::Close => Ok(Some(Message::Close(parse_close(&frame.payload)?))),
            Opcode::Ping => Ok(Some(Message::Ping(frame.payload.clone()))),
            Opcode::Pong => Ok(Some(Message::Pong(frame.payload.clone()))),
            Opcode::Reserved(n) => Err(FrameError::ReservedOpcode { opcode: n & 0x0f }),
            Opcode::Continuation => {
                let limit = self.limit;
                let Some((_, data)) = self.open.as_mut() else {
                    return Err(FrameError::ContinuationWithoutStart);
                };
                let length = data.len().saturating_add(frame.payload.len());
                if length > limit {
                    return Err(FrameError::MessageTooLong { length, limit });
                }
                data.extend_from_slice(&frame.payload);
                if !frame.fin {
                    return Ok(None);
                }
                let (op, data) = self.open.take().unwrap_or((Opcode::Binary, Vec::new()));
                finish(op, data).map(Some)
            }
            op @ (Opcode::Text | Opcode::Binary) => {
                if self.open.is_some() {
                    return Err(FrameError::DataFrameInterleaved { opcode: op });
                }
                if frame.payload.len() > self.limit {
                    return Err(FrameError::MessageTooLong {
                        length: frame.payload.len(),
                        limit: self.limit,
                    });
                }
                if frame.fin {
                    finish(op, frame.payload.clone()).map(Some)
                } else {
                    self.open = Some((op, frame.payload.clone()));
                    Ok(None)
                }
            }
        }
    }
}

fn finish(op: Opcode, data: Vec<u8>) -> Result<Message, FrameError> {
    if op == Opcode::Text {
        String::from_utf8(data)
            .map(Message::Text)
            .map_err(|e| FrameError::TextNotUtf8 {
                at: e.utf8_error().valid_up_to(),
            })
    } else {
        Ok(Message::Binary(data))
    }
}

// ---------------------------------------------------------------------------
// SIP over WebSocket (RFC 7118 §4.2, §5)
// ---------------------------------------------------------------------------

/// The data frame a SIP message travels in (RFC 7118 §4.2): a text frame
/// when every byte of it (start line, header fields, body) is UTF-8, else
/// a binary frame. Either way the message is one WebSocket message, and one
/// WebSocket message carries one SIP message (RFC 7118 §5). A receiver
/// takes both kinds (§4.2).
pub fn sip_opcode(message: &[u8]) -> Opcode {
    if std::str::from_utf8(message).is_ok() {
        Opcode::Text
    } else {
        Opcode::Binary
    }
}

/// `ws://IP:PORT/PATH` → (address, request target) (RFC 6455 §3): a
/// numeric host (IPv4, or IPv6 in brackets; the suite never resolves
/// names) and an explicit port; no path is `/`; a fragment is refused
/// (§3: fragments mean nothing in a WebSocket URI). `wss:` is not taken
/// (the harness opens no TLS under WebSocket yet).
pub fn url_parts(url: &str) -> Option<(std::net::SocketAddr, String)> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))?;
    if rest.contains('#') {
        return None;
    }
    let at = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, target) = rest.split_at(at);
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    if target.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return None;
    }
    Some((host.parse().ok()?, target))
}

/// Is this a secure WebSocket URL (`wss://`, RFC 6455 §3: WebSocket over TLS)?
pub fn url_is_secure(url: &str) -> bool {
    url.starts_with("wss://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::smpp::hex_dump;

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn base64_round_trips_and_refuses_junk() {
        for (plain, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain), text);
            assert_eq!(base64_decode(text).as_deref(), Some(plain), "{text}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Some(all));
        for bad in [
            "Zg=", "Zg===", "Z===", "=Zg=", "Zm9v\n", "Zm 9", "Zg=a", "Zm9v!A==", "Zg==Zm9v",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc_6455_handshake_example() {
        // §1.3: the sample nonce and its accept value.
        assert_eq!(base64_decode(RFC_KEY).unwrap(), b"the sample nonce");
        assert_eq!(key_from_nonce(*b"the sample nonce"), RFC_KEY);
        assert_eq!(accept_value(RFC_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    fn view(bytes: &[u8]) -> String {
        let m = HttpMessage::parse(bytes).expect("own output parses");
        format!(
            "{}\n---- wire ----\n{}",
            m.head_text(),
            escape_bytes(bytes, 4096).replace("\\r\\n", "\\r\\n\n")
        )
    }

    #[test]
    fn handshake_snapshots() {
        let req = client_request(
            "/",
            "127.0.0.1:10080",
            RFC_KEY,
            &[SUBPROTOCOL_SIP],
            &[("Origin", "http://127.0.0.1")],
        );
        insta::assert_snapshot!("client_request_sip", view(&req));
        let ok = accept_response(RFC_KEY, Some(SUBPROTOCOL_SIP));
        insta::assert_snapshot!("accept_response_sip", view(&ok));
        let no = refusal(426, "Upgrade Required", "version 8 is not spoken here");
        insta::assert_snapshot!("refusal_426", view(&no));
    }

    #[test]
    fn request_and_response_read_back() {
        let req = client_request("/ws", "h:1", RFC_KEY, &["msrp", "sip"], &[]);
        assert_eq!(http::next_frame(&req, HANDSHAKE_MAX), Ok(Some(req.len())));
        let r = read_request(&req).unwrap();
        assert_eq!(r.target, "/ws");
        assert_eq!(r.key, RFC_KEY);
        assert_eq!(r.protocols, ["msrp", "sip"]);
        assert!(r.offers("sip") && !r.offers("SIP"));
        assert_eq!(r.require("sip"), Ok(()));
        assert_eq!(
            r.require("ws-other"),
            Err(HandshakeError::ProtocolNotRequested {
                wanted: "ws-other".into(),
                offered: vec!["msrp".into(), "sip".into()]
            })
        );
        assert_eq!(r.origin, None);

        let mut ok = accept_response(&r.key, Some("sip"));
        let n = ok.len();
        ok.extend_from_slice(&encode_frame(Opcode::Text, b"x", None));
        // The 101 ends at its head; the frames after it are not HTTP.
        assert_eq!(http::next_frame(&ok, HANDSHAKE_MAX), Ok(Some(n)));
        let a = read_response(&ok[..n], RFC_KEY, &["msrp", "sip"]).unwrap();
        assert_eq!(a.protocol.as_deref(), Some("sip"));
        assert_eq!(require_protocol(&a, "sip", &["msrp", "sip"]), Ok(()));
        assert_eq!(
            response_status(&ok),
            Some((101, "Switching Protocols".into()))
        );
    }

    fn req_with(edit: impl Fn(&str) -> String) -> Vec<u8> {
        let base = String::from_utf8(client_request("/", "h", RFC_KEY, &["sip"], &[])).unwrap();
        edit(&base).into_bytes()
    }

    #[test]
    fn a_bad_request_is_named() {
        use HandshakeError as E;
        let cases: Vec<(Vec<u8>, E)> = vec![
            (
                req_with(|s| s.replacen("GET", "POST", 1)),
                E::MethodNotGet {
                    method: "POST".into(),
                },
            ),
            (
                req_with(|s| s.replacen("HTTP/1.1", "HTTP/1.0", 1)),
                E::HttpVersion {
                    version: "HTTP/1.0".into(),
                },
            ),
            (
                req_with(|s| s.replacen("Host: h\r\n", "", 1)),
                E::HostMissing,
            ),
            (
                req_with(|s| s.replacen("Host: h\r\n", "Host: h\r\nHost: i\r\n", 1)),
                E::Repeated {
                    field: "Host",
                    count: 2,
                },
            ),
            (
                req_with(|s| s.replacen("Upgrade: websocket", "Upgrade: h2c", 1)),
                E::UpgradeMissing {
                    value: Some("h2c".into()),
                },
            ),
            (
                req_with(|s| s.replacen("Connection: Upgrade", "Connection: keep-alive", 1)),
                E::ConnectionMissing {
                    value: Some("keep-alive".into()),
                },
            ),
            (
                req_with(|s| s.replacen(&format!("Sec-WebSocket-Key: {RFC_KEY}\r\n"), "", 1)),
                E::KeyMissing,
            ),
            (
                req_with(|s| s.replacen(RFC_KEY, "c2hvcnQ=", 1)),
                E::KeyInvalid {
                    value: "c2hvcnQ=".into(),
                },
            ),
            (
                req_with(|s| s.replacen("Version: 13", "Version: 8", 1)),
                E::VersionUnsupported {
                    value: Some("8".into()),
                },
            ),
            (
                req_with(|s| s.replacen("Protocol: sip", "Protocol: sip, sip", 1)),
                E::ProtocolsInvalid {
                    value: "sip, sip".into(),
                },
            ),
            (
                req_with(|s| s.replacen("Protocol: sip", "Protocol: sip,,msrp", 1)),
                E::ProtocolsInvalid {
                    value: "sip,,msrp".into(),
                },
            ),
            (accept_response(RFC_KEY, None), E::NotARequest),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                read_request(&bytes),
                Err(want.clone()),
                "{}",
                escape_bytes(&bytes, 999)
            );
            assert!(!want.to_string().contains('\n'));
        }
        assert!(matches!(
            read_request(b"\x16\x03\x01garbage\r\n\r\n"),
            Err(E::Http(_))
        ));
        let v8 = req_with(|s| s.replacen("Version: 13", "Version: 8", 1));
        assert_eq!(
            refusal_status(&read_request(&v8).unwrap_err()),
            (426, "Upgrade Required")
        );
        // Case-insensitive tokens, in lists.
        let ok = req_with(|s| {
            s.replacen("Upgrade: websocket", "Upgrade: foo/1, WebSocket", 1)
                .replacen("Connection: Upgrade", "Connection: keep-alive, UPGRADE", 1)
        });
        assert!(read_request(&ok).is_ok());
    }

    fn resp_with(edit: impl Fn(&str) -> String) -> Vec<u8> {
        let base = String::from_utf8(accept_response(RFC_KEY, Some("sip"))).unwrap();
        edit(&base).into_bytes()
    }

    #[test]
    fn a_bad_response_is_named() {
        use HandshakeError as E;
        let accept = accept_value(RFC_KEY);
        let offered = ["sip"];
        let cases: Vec<(Vec<u8>, E)> = vec![
            (
                http::response(403, "Forbidden", &[], b"no"),
                E::Refused {
                    status: 403,
                    reason: "Forbidden".into(),
                },
            ),
            (
                resp_with(|s| s.replacen("Upgrade: websocket", "Upgrade: websocket, h2c", 1)),
                E::UpgradeMissing {
                    value: Some("websocket, h2c".into()),
                },
            ),
            (
                resp_with(|s| s.replacen("Upgrade: websocket\r\n", "", 1)),
                E::UpgradeMissing { value: None },
            ),
            (
                resp_with(|s| s.replacen("Connection: Upgrade", "Connection: close", 1)),
                E::ConnectionMissing {
                    value: Some("close".into()),
                },
            ),
            (
                resp_with(|s| s.replacen(&format!("Sec-WebSocket-Accept: {accept}\r\n"), "", 1)),
                E::AcceptMissing,
            ),
            (
                resp_with(|s| s.replacen(&accept, &accept.to_lowercase(), 1)),
                E::AcceptWrong {
                    got: accept.to_lowercase(),
                    expected: accept.clone(),
                },
            ),
            (
                resp_with(|s| {
                    s.replacen(
                        "\r\n\r\n",
                        "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                        1,
                    )
                }),
                E::ExtensionNotOffered {
                    value: "permessage-deflate".into(),
                },
            ),
            (
                resp_with(|s| s.replacen("Protocol: sip", "Protocol: msrp", 1)),
                E::ProtocolNotOffered {
                    chosen: "msrp".into(),
                    offered: vec!["sip".into()],
                },
            ),
            (
                resp_with(|s| {
                    s.replacen(
                        "Protocol: sip",
                        "Protocol: sip\r\nSec-WebSocket-Protocol: sip",
                        1,
                    )
                }),
                E::Repeated {
                    field: "Sec-WebSocket-Protocol",
                    count: 2,
                },
            ),
            (client_request("/", "h", RFC_KEY, &[], &[]), E::NotAResponse),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                read_response(&bytes, RFC_KEY, &offered),
                Err(want.clone()),
                "{}",
                escape_bytes(&bytes, 999)
            );
            assert!(!want.to_string().contains('\n'));
        }
        // Accepted without a subprotocol: fine for RFC 6455, not for RFC 7118.
        let bare = accept_response(RFC_KEY, None);
        let a = read_response(&bare, RFC_KEY, &offered).unwrap();
        assert_eq!(
            require_protocol(&a, "sip", &offered),
            Err(E::ProtocolMissing {
                wanted: "sip".into(),
                offered: vec!["sip".into()]
            })
        );
        let e = read_response(
            &http::response(404, "Not Found", &[], b""),
            RFC_KEY,
            &offered,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the server refused the WebSocket upgrade: HTTP 404 Not Found"
        );
        // The status of a refusal whose body runs to the end of the connection.
        assert_eq!(
            response_status(b"HTTP/1.0 503 Busy now\r\nServer: x\r\n\r\npartial bo"),
            Some((503, "Busy now".into()))
        );
        assert_eq!(response_status(b"HTTP/1.1 503 Busy\r\nServer: x\r\n"), None);
        assert_eq!(response_status(b"SIP/2.0 200 OK\r\n\r\n"), None);
        for (bytes, response, garbage) in [
            (&b""[..], true, false),
            (b"\r", true, false),
            (b"\r\nHTT", true, false),
            (b"HTTP/1.1 101", true, false),
            (b"\x16\x03\x01\x02\x00", true, true),
            (b"SIP/2.0 200 OK", true, true),
            (b"GE", false, false),
            (b"GET / HTTP/1.1", false, false),
            (b"\x16\x03\x01", false, true),
            (b" GET", false, true),
            (b"MESSAGE sip:a@b SIP/2.0", false, false),
        ] {
            assert_eq!(
                cannot_be_http(bytes, response),
                garbage,
                "{}",
                escape_bytes(bytes, 99)
            );
        }
        assert_eq!(
            response_status(b"\r\n\r\nHTTP/1.1 101 S\r\n\r\n"),
            Some((101, "S".into()))
        );
    }

    #[test]
    fn rfc_6455_section_5_7_examples() {
        let hello = b"Hello";
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let unmasked_text = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let masked_text = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let frag1 = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let frag2 = [0x80, 0x02, 0x6c, 0x6f];
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let masked_pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(encode_frame(Opcode::Text, hello, None), unmasked_text);
        assert_eq!(encode_frame(Opcode::Text, hello, Some(key)), masked_text);
        assert_eq!(
            FrameSpec::new(Opcode::Text).fin(false).encode(b"Hel"),
            frag1
        );
        assert_eq!(FrameSpec::new(Opcode::Continuation).encode(b"lo"), frag2);
        assert_eq!(encode_frame(Opcode::Ping, hello, None), ping);
        assert_eq!(encode_frame(Opcode::Pong, hello, Some(key)), masked_pong);
        let b256 = encode_frame(Opcode::Binary, &[0xaa; 256], None);
        assert_eq!(&b256[..4], [0x82, 0x7e, 0x01, 0x00]);
        let b64k = encode_frame(Opcode::Binary, &vec![0x55; 65536], None);
        assert_eq!(&b64k[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);

        let (f, n) = decode(&masked_text, Side::Client, 1024).unwrap().unwrap();
        assert_eq!(
            (n, f.payload.as_slice(), f.mask),
            (11, &hello[..], Some(key))
        );
        let (f, n) = decode(&unmasked_text, Side::Server, 1024).unwrap().unwrap();
        assert_eq!((n, f.opcode, f.fin), (7, Opcode::Text, true));
        for bytes in [&b256[..], &b64k[..]] {
            let (f, n) = decode(bytes, Side::Server, 1 << 20).unwrap().unwrap();
            assert_eq!(n, bytes.len());
            assert_eq!(f.to_bytes(), bytes);
        }

        // A fragmented message with a ping between its fragments.
        let mut stream = [&frag1[..], &ping, &frag2].concat();
        let mut asm = Assembler::new(1024);
        let mut got = Vec::new();
        while let Some((f, n)) = decode(&stream, Side::Server, 1024).unwrap() {
            stream.drain(..n);
            if let Some(m) = asm.push(&f).unwrap() {
                got.push(m);
            }
        }
        assert!(stream.is_empty());
        assert_eq!(
            got,
            [Message::Ping(hello.to_vec()), Message::Text("Hello".into())]
        );
    }

    #[test]
    fn every_cut_needs_more() {
        let frames = [
            encode_frame(Opcode::Text, b"Hello", Some([1, 2, 3, 4])),
            encode_frame(Opcode::Binary, &[7; 300], Some([9, 9, 9, 9])),
            FrameSpec::new(Opcode::Binary)
                .form(LengthForm::U64)
                .encode(b"abc"),
        ];
        for f in &frames {
            for cut in 0..f.len() {
                assert_eq!(read_frame(&f[..cut], 1 << 20), Ok(None), "cut {cut}");
            }
            let (fr, n) = read_frame(f, 1 << 20).unwrap().unwrap();
            assert_eq!(n, f.len());
            assert_eq!(&fr.to_bytes(), f);
        }
    }

    #[test]
    fn frame_rules_are_named() {
        use FrameError as E;
        let key = Some([1, 2, 3, 4]);
        let check = |bytes: Vec<u8>, from| match read_frame(&bytes, 1 << 20) {
            Ok(Some((f, n))) => {
                assert_eq!(n, bytes.len());
                f.check(from)
            }
            other => panic!("{other:?}"),
        };
        let cases: Vec<(Vec<u8>, Side, E)> = vec![
            (
                encode_frame(Opcode::Text, b"x", key),
                Side::Server,
                E::ServerFrameMasked,
            ),
            (
                encode_frame(Opcode::Text, b"x", None),
                Side::Client,
                E::ClientFrameUnmasked,
            ),
            (
                FrameSpec::new(Opcode::Text)
                    .rsv(0b100)
                    .mask(key)
                    .encode(b"x"),
                Side::Client,
                E::ReservedBits { rsv: 4 },
            ),
            (
                FrameSpec::new(Opcode::Reserved(3)).encode(b"x"),
                Side::Server,
                E::ReservedOpcode { opcode: 3 },
            ),
            (
                FrameSpec::new(Opcode::Reserved(0xb)).encode(b""),
                Side::Server,
                E::ReservedOpcode { opcode: 11 },
            ),
            (
                FrameSpec::new(Opcode::Ping).fin(false).encode(b""),
                Side::Server,
                E::ControlFragmented {
                    opcode: Opcode::Ping,
                },
            ),
            (
                encode_frame(Opcode::Pong, &[0; 126], None),
                Side::Server,
                E::ControlTooLong {
                    opcode: Opcode::Pong,
                    length: 126,
                },
            ),
            (
                FrameSpec::new(Opcode::Text)
                    .form(LengthForm::U16)
                    .encode(b"abc"),
                Side::Server,
                E::LengthNotMinimal {
                    length: 3,
                    form: LengthForm::U16,
                },
            ),
            (
                FrameSpec::new(Opcode::Binary)
                    .form(LengthForm::U64)
                    .encode(&[0; 200]),
                Side::Server,
                E::LengthNotMinimal {
                    length: 200,
                    form: LengthForm::U64,
                },
            ),
            (
                encode_frame(Opcode::Close, &[3], None),
                Side::Server,
                E::CloseOneByte,
            ),
            (
                encode_frame(Opcode::Close, &close_payload(Some(1005), ""), None),
                Side::Server,
                E::CloseCode {
                    code: 1005,
                    problem: close_code_problem(1005).unwrap(),
                },
            ),
            (
                encode_frame(Opcode::Close, &[0x03, 0xe8, b'o', 0xff], key),
                Side::Client,
                E::CloseReasonNotUtf8 { at: 3 },
            ),
        ];
        for (bytes, from, want) in cases {
            assert_eq!(
                check(bytes.clone(), from),
                Err(want.clone()),
                "{}",
                hex_dump(&bytes)
            );
            assert_eq!(decode(&bytes, from, 1 << 20), Err(want.clone()));
            assert!(!want.to_string().contains('\n'), "{want}");
        }
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 4999,
        ] {
            assert_eq!(close_code_problem(code), None, "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(close_code_problem(code).is_some(), "{code}");
        }
        assert_eq!(
            parse_close(&close_payload(Some(1000), "bye")),
            Ok(Some(CloseBody {
                code: 1000,
                reason: "bye".into()
            }))
        );
        assert_eq!(parse_close(b""), Ok(None));
    }

    #[test]
    fn lengths_are_bounded_before_the_payload() {
        // 2^63 exactly: the MSB a sender must leave clear.
        let mut msb = vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            read_frame(&msb, 1024),
            Err(FrameError::LengthMsbSet { length: 1 << 63 })
        );
        msb[2] = 0x00;
        msb[3] = 0x01;
        // 2^48 bytes declared, nothing sent: refused from the header alone.
        assert_eq!(
            read_frame(&msb, 1024),
            Err(FrameError::TooLong {
                length: 1 << 48,
                limit: 1024
            })
        );
        let big = FrameSpec::new(Opcode::Binary).declare(1025).encode(b"");
        assert_eq!(
            read_frame(&big, 1024),
            Err(FrameError::TooLong {
                length: 1025,
                limit: 1024
            })
        );
        assert_eq!(read_frame(&big, 1025), Ok(None));
    }

    #[test]
    fn assembler_sequences_and_limits() {
        use FrameError as E;
        let frame = |op, fin, data: &[u8]| Frame {
            fin,
            rsv: 0,
            opcode: op,
            mask: None,
            form: LengthForm::minimal_for(data.len() as u64),
            payload: data.to_vec(),
        };
        let mut a = Assembler::new(8);
        assert_eq!(
            a.push(&frame(Opcode::Continuation, true, b"x")),
            Err(E::ContinuationWithoutStart)
        );
        assert_eq!(a.push(&frame(Opcode::Binary, false, b"abcd")), Ok(None));
        assert_eq!(a.pending(), 4);
        assert_eq!(
            a.push(&frame(Opcode::Text, true, b"x")),
            Err(E::DataFrameInterleaved {
                opcode: Opcode::Text
            })
        );
        assert_eq!(
            a.push(&frame(Opcode::Close, true, &close_payload(Some(1001), ""))),
            Ok(Some(Message::Close(Some(CloseBody {
                code: 1001,
                reason: String::new()
            }))))
        );
        assert_eq!(
            a.push(&frame(Opcode::Continuation, false, b"efghi")),
            Err(E::MessageTooLong {
                length: 9,
                limit: 8
            })
        );
        let mut a = Assembler::new(8);
        assert_eq!(
            a.push(&frame(Opcode::Binary, true, b"123456789")),
            Err(E::MessageTooLong {
                length: 9,
                limit: 8
            })
        );
        // UTF-8 is judged on the whole message: a code point split across
        // fragments is fine, an invalid one is named at its offset.
        let snow = "a☃".as_bytes();
        assert_eq!(a.push(&frame(Opcode::Text, false, &snow[..2])), Ok(None));
        assert_eq!(
            a.push(&frame(Opcode::Continuation, true, &snow[2..])),
            Ok(Some(Message::Text("a☃".into())))
        );
        assert_eq!(
            a.push(&frame(Opcode::Text, true, b"ab\xffc")),
            Err(E::TextNotUtf8 { at: 2 })
        );
        assert_eq!(
            a.push(&frame(Opcode::Text, true, b"ab\xe2\x98")),
            Err(E::TextNotUtf8 { at: 2 })
        );
        assert_eq!(
            a.push(&frame(Opcode::Binary, true, b"\xff")),
            Ok(Some(Message::Binary(vec![0xff])))
        );
    }

    #[test]
    fn sip_messages_pick_their_frame() {
        assert_eq!(
            sip_opcode(b"MESSAGE sip:a@b SIP/2.0\r\n\r\nh\xc3\xa9"),
            Opcode::Text
        );
        assert_eq!(
            sip_opcode(b"MESSAGE sip:a@b SIP/2.0\r\n\r\n\xff\x00"),
            Opcode::Binary
        );
    }

    fn frame_view(label: &str, bytes: &[u8]) -> String {
        format!("{label}\n{}", hex_dump(bytes))
    }

    #[test]
    fn frame_snapshots() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let sip = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        let all = [
            frame_view(
                "text, masked (client)",
                &encode_frame(sip_opcode(sip), sip, Some(key)),
            ),
            frame_view(
                "binary, 126 bytes, 16-bit length, unmasked (server)",
                &encode_frame(Opcode::Binary, &[0x42; 126], None),
            ),
            frame_view(
                "close 1000 \"bye\", masked",
                &encode_frame(
                    Opcode::Close,
                    &close_payload(Some(CLOSE_NORMAL), "bye"),
                    Some(key),
                ),
            ),
            frame_view(
                "BAD: text, RSV1 set, 64-bit length for 2 bytes",
                &FrameSpec::new(Opcode::Text)
                    .rsv(0b100)
                    .form(LengthForm::U64)
                    .encode(b"hi"),
            ),
            frame_view(
                "BAD: ping without FIN, 7-bit length 126 with no extended length after it",
                &FrameSpec::new(Opcode::Ping)
                    .fin(false)
                    .declare(126)
                    .form(LengthForm::Short)
                    .encode(b""),
            ),
        ]
        .join("\n\n");
        insta::assert_snapshot!("frames", all);
    }

    #[test]
    fn no_panic_on_any_input() {
        let seeds: [Vec<u8>; 4] = [
            encode_frame(Opcode::Text, b"Hello", Some([1, 2, 3, 4])),
            [
                encode_frame(Opcode::Binary, &[1; 130], None),
                encode_frame(Opcode::Close, &[3, 232, b'x'], None),
            ]
            .concat(),
            client_request("/", "h", RFC_KEY, &["sip"], &[]),
            accept_response(RFC_KEY, Some("sip")),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..50_000 {
            let mut b = seeds[i % seeds.len()].clone();
            for _ in 0..(next() % 6) {
                let pos = (next() as usize) % (b.len() + 1);
                match next() % 3 {
                    0 if pos < b.len() => b[pos] = next() as u8,
                    1 => b.insert(pos, [0x7e, 0x7f, 0x80, b',', b'\r'][(next() % 5) as usize]),
                    _ => b.truncate(pos),
                }
            }
            let mut asm = Assembler::new(256);
            let mut buf = &b[..];
            while let Ok(Some((f, n))) = read_frame(buf, 256) {
                assert!(n > 0 && n <= buf.len());
                assert_eq!(f.to_bytes(), &buf[..n]);
                let _ = f.check(Side::Client);
                let _ = asm.push(&f);
                buf = &buf[n..];
            }
            let _ = read_request(&b);
            let _ = read_response(&b, RFC_KEY, &["sip"]);
            let _ = response_status(&b);
            let _ = base64_decode(&String::from_utf8_lossy(&b));
        }
    }

    #[test]
    fn ws_urls_numeric_hosts_explicit_ports() {
        let a = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        assert_eq!(
            url_parts("ws://127.0.0.1:5062/sip"),
            Some((a("127.0.0.1:5062"), "/sip".into()))
        );
        assert_eq!(
            url_parts("ws://[::1]:5062"),
            Some((a("[::1]:5062"), "/".into()))
        );
        assert_eq!(
            url_parts("ws://127.0.0.1:80?x=1"),
            Some((a("127.0.0.1:80"), "/?x=1".into()))
        );
        assert_eq!(
            url_parts("wss://127.0.0.1:443/"),
            Some((a("127.0.0.1:443"), "/".into()))
        );
        assert!(url_is_secure("wss://127.0.0.1:443/") && !url_is_secure("ws://127.0.0.1:80/"));
        for bad in [
            "wss://localhost:443/",
            "http://127.0.0.1:80/",
            "ws://localhost:80/",
            "ws://127.0.0.1/",
            "ws://127.0.0.1:80/#frag",
            "ws://127.0.0.1:80/a b",
            "ws://",
        ] {
            assert_eq!(url_parts(bad), None, "{bad}");
        }
    }
}
