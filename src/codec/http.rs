//! HTTP/1.1 messages, sans-IO: what a Push Initiator POSTs to a PPG, what a
//! PPG answers, and the OTA-HTTP pushes a WAP 2.0 PPG makes to a terminal.
//!
//! Framing follows RFC 9112 §6.3: a body is delimited by `Transfer-Encoding:
//! chunked` (§7.1), else by `Content-Length`, else — for a request — there is
//! none, and — for a response — it runs to the end of the connection (the
//! caller hands the bytes to [`HttpMessage::parse_at_close`]). 1xx, 204 and 304
//! responses have no body (§6.3 rule 1). Conflicting or malformed lengths are
//! errors, as the RFC asks of a recipient (§6.3 rules 3–5).
//!
//! The reader keeps the raw bytes and the header lines as sent; the body is
//! given both raw and de-chunked. It never panics: every problem is an
//! [`HttpError`] naming what the peer sent wrong and where.

use super::escape_bytes;
use std::fmt;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 80;

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: String,
        target: String,
        version: String,
    },
    Response {
        version: String,
        status: u16,
        reason: String,
    },
}

/// One HTTP message as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpMessage {
    raw: Vec<u8>,
    pub start: StartLine,
    /// Header lines as (name, value), in order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking.
    pub body: Vec<u8>,
    /// Was the body chunked on the wire?
    pub chunked: bool,
}

/// What was wrong with the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The header block never ends within the limit.
    HeaderTooLong { limit: usize },
    /// The message (headers and body) is longer than the limit.
    TooLong { length: usize, limit: usize },
    /// The first line is neither `METHOD target HTTP/x.y` nor `HTTP/x.y NNN reason`.
    BadStartLine { line: Vec<u8> },
    /// A header line without a colon or with an empty or invalid name.
    BadHeaderLine { number: usize, line: Vec<u8> },
    /// `Content-Length` that is not a decimal number, or two different values.
    BadContentLength { value: String },
    /// A transfer coding other than (final) chunked.
    UnsupportedTransferEncoding { value: String },
    /// A chunk size line that is not hex, or chunk data not followed by CRLF.
    BadChunk { at: usize, bytes: Vec<u8> },
    /// The message ended before its declared end.
    Truncated { have: usize, need: String },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeaderTooLong { limit } => {
                write!(f, "no end of the header block within {limit} bytes")
            }
            HttpError::TooLong { length, limit } => {
                write!(f, "message of {length} bytes exceeds the limit of {limit}")
            }
            HttpError::BadStartLine { line } => {
                write!(f, "bad start line: {}", escape_bytes(line, SHOW))
            }
            HttpError::BadHeaderLine { number, line } => {
                write!(f, "bad header line {number}: {}", escape_bytes(line, SHOW))
            }
            HttpError::BadContentLength { value } => {
                write!(f, "bad Content-Length `{value}`")
            }
            HttpError::UnsupportedTransferEncoding { value } => {
                write!(f, "unsupported Transfer-Encoding `{value}`")
            }
            HttpError::BadChunk { at, bytes } => write!(
                f,
                "bad chunk at body offset {at}: {}",
                escape_bytes(bytes, SHOW)
            ),
            HttpError::Truncated { have, need } => {
                write!(f, "message ends after {have} bytes, before {need}")
            }
        }
    }
}

impl std::error::Error for HttpError {}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The parsed head: start line, headers, and where the body begins.
struct Head {
    start: StartLine,
    headers: Vec<(String, String)>,
    body_at: usize,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_head(buf: &[u8], limit: usize) -> Result<Option<Head>, HttpError> {
    // Tolerate (and skip) empty lines before the start line (RFC 9112 §2.2).
    let mut from = 0;
    while buf[from..].starts_with(b"\r\n") {
        from += 2;
    }
    let Some(end) = find(buf, b"\r\n\r\n", from) else {
        if buf.len() > limit {
            return Err(HttpError::HeaderTooLong { limit });
        }
        return Ok(None);
    };
    if end > limit {
        return Err(HttpError::HeaderTooLong { limit });
    }
    let head = &buf[from..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let bad_start = || HttpError::BadStartLine {
        line: first.to_vec(),
    };
    let text = std::str::from_utf8(first).map_err(|_| bad_start())?;
    let start = if let Some(rest) = text.strip_prefix("HTTP/") {
        let (ver, rest) = rest.split_once(' ').ok_or_else(bad_start)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) || ver.len() != 3 {
            return Err(bad_start());
        }
        StartLine::Response {
            version: format!("HTTP/{ver}"),
            status: code.parse().map_err(|_| bad_start())?,
            reason: reason.to_string(),
        }
    } else {
        let mut it = text.split(' ');
        let (Some(m), Some(t), Some(v), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad_start());
        };
        if !is_token(m) || t.is_empty() || !v.starts_with("HTTP/") {
            return Err(bad_start());
        }
        StartLine::Request {
            method: m.to_string(),
            target: t.to_string(),
            version: v.to_string(),
        }
    };
    let mut headers = Vec::new();
    for (i, line) in lines.enumerate() {
        let bad = || HttpError::BadHeaderLine {
            number: i + 1,
            line: line.to_vec(),
        };
        let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let name = std::str::from_utf8(&line[..colon]).map_err(|_| bad())?;
        if !is_token(name) {
            return Err(bad());
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_string();
        headers.push((name.to_string(), value));
    }
    Ok(Some(Head {
        start,
        headers,
        body_at: end + 4,
    }))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How the body of a message with this head is delimited.
enum BodyLen {
    None,
    Fixed(usize),
    Chunked,
    UntilClose,
}

fn body_len(head: &Head) -> Result<BodyLen, HttpError> {
    if let StartLine::Response { status, .. } = head.start
        && ((100..200).contains(&status) || status == 204 || status == 304)
    {
        return Ok(BodyLen::None);
    }
    if let Some(te) = header(&head.headers, "transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if last.eq_ignore_ascii_case("chunked") && !te.contains(',') {
            return Ok(BodyLen::Chunked);
        }
        return Err(HttpError::UnsupportedTransferEncoding {
            value: te.to_string(),
        });
    }
    let mut len: Option<usize> = None;
    for (k, v) in &head.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let bad = || HttpError::BadContentLength { value: v.clone() };
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: usize = v.parse().map_err(|_| bad())?;
        if len.is_some_and(|l| l != n) {
            return Err(bad());
        }
        len = Some(n);
    }
    Ok(match (len, &head.start) {
        (Some(n), _) => BodyLen::Fixed(n),
        (None, StartLine::Request { .. }) => BodyLen::None,
        (None, StartLine::Response { .. }) => BodyLen::UntilClose,
    })
}

/// Walks a chunked body starting at `buf[0]`. `Ok(Some((consumed, data)))`
/// when complete (trailers included), `Ok(None)` when more bytes are needed.
fn dechunk(buf: &[u8]) -> Result<Option<(usize, Vec<u8>)>, HttpError> {
    let mut at = 0;
    let mut data = Vec::new();
    loop {
        let Some(eol) = find(buf, b"\r\n", at) else {
            if buf.len() - at > 1024 {
                return Err(HttpError::BadChunk {
                    at,
                    bytes: buf[at..].to_vec(),
                });
            }
            return Ok(None);
        };
        let line = &buf[at..eol];
        let size_txt = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_txt = std::str::from_utf8(size_txt).unwrap_or("").trim();
        let bad = || HttpError::BadChunk {
            at,
            bytes: line.to_vec(),
        };
        if size_txt.is_empty() || size_txt.len() > 8 {
            return Err(bad());
        }
        let size = usize::from_str_radix(size_txt, 16).map_err(|_| bad())?;
        at = eol + 2;
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                let Some(eol) = find(buf, b"\r\n", at) else {
                    return Ok(None);
                };
                let empty = eol == at;
                at = eol + 2;
                if empty {
                    return Ok(Some((at, data)));
                }
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        data.extend_from_slice(&buf[at..at + size]);
        at += size;
        if &buf[at..at + 2] != b"\r\n" {
            return Err(HttpError::BadChunk {
                at,
                bytes: buf[at..(at + 16).min(buf.len())].to_vec(),
            });
        }
        at += 2;
    }
}

/// Cuts one message off the front of `buf`: `Ok(Some(n))` when the first `n`
/// bytes are a whole message, `Ok(None)` when more are needed (including a
/// response delimited by the end of the connection), `Err` when the bytes
/// cannot be HTTP. `max` bounds the message length.
pub fn next_frame(buf: &[u8], max: usize) -> Result<Option<usize>, HttpError> {
    let Some(head) = parse_head(buf, max.min(64 * 1024))? else {
        return Ok(None);
    };
    let at = head.body_at;
    let total = match body_len(&head)? {
        BodyLen::None => at,
        BodyLen::Fixed(n) => at.saturating_add(n),
        BodyLen::UntilClose => return Ok(None),
        BodyLen::Chunked => match dechunk(&buf[at..])? {
            Some((n, _)) => at + n,
            None => {
                if buf.len() > max {
                    return Err(HttpError::TooLong {
                        length: buf.len(),
                        limit: max,
                    });
                }
                return Ok(None);
            }
        },
    };
    if total > max {
        return Err(HttpError::TooLong {
            length: total,
            limit: max,
        });
    }
    Ok((buf.len() >= total).then_some(total))
}

impl HttpMessage {
    /// Parses one whole message (as cut by [`next_frame`]); trailing bytes
    /// beyond the declared end are an error.
    pub fn parse(bytes: &[u8]) -> Result<HttpMessage, HttpError> {
        HttpMessage::parse_inner(bytes, false)
    }

    /// Parses what arrived before the peer closed the connection: a response
    /// without a length ends here; a message with a length must be complete.
    pub fn parse_at_close(bytes: &[u8]) -> Result<HttpMessage, HttpError> {
        HttpMessage::parse_inner(bytes, true)
    }

    fn parse_inner(bytes: &[u8], closed: bool) -> Result<HttpMessage, HttpError> {
        let head = parse_head(bytes, bytes.len().max(64 * 1024))?.ok_or(HttpError::Truncated {
            have: bytes.len(),
            need: "the end of the header block (CRLF CRLF)".into(),
        })?;
        let at = head.body_at;
        let rest = &bytes[at..];
        let (body, chunked, end) = match body_len(&head)? {
            BodyLen::None => (Vec::new(), false, at),
            BodyLen::UntilClose if closed => (rest.to_vec(), false, bytes.len()),
            BodyLen::UntilClose => {
                return Err(HttpError::Truncated {
                    have: bytes.len(),
                    need: "the end of the connection (no Content-Length)".into(),
                })
            }
            BodyLen::Fixed(n) => {
                if rest.len() < n {
                    return Err(HttpError::Truncated {
                        have: bytes.len(),
                        need: format!("the {n} body bytes its Content-Length declares"),
                    });
                }
                (rest[..n].to_vec(), false, at + n)
            }
            BodyLen::Chunked => match dechunk(rest)? {
                Some((n, data)) => (data, true, at + n),
                None => {
                    return Err(HttpError::Truncated {
                        have: bytes.len(),
                        need: "the last chunk".into(),
                    })
                }
            },
        };
        if end != bytes.len() {
            return Err(HttpError::TooLong {
                length: bytes.len(),
                limit: end,
            });
        }
        Ok(HttpMessage {
            raw: bytes.to_vec(),
            start: head.start,
            headers: head.headers,
            body,
            chunked,
        })
    }

    /// The message exactly as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every value of that header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response status, for a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// The method, for a request.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request target, for a request.
    pub fn target(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { target, .. } => Some(target),
            StartLine::Response { .. } => None,
        }
    }

    /// The start line and headers as text, for failure messages.
    pub fn head_text(&self) -> String {
        let mut s = match &self.start {
            StartLine::Request {
                method,
                target,
                version,
            } => format!("{method} {target} {version}"),
            StartLine::Response {
                version,
                status,
                reason,
            } => format!("{version} {status} {reason}"),
        };
        for (k, v) in &self.headers {
            s.push_str(&format!("\n{k}: {v}"));
        }
        s
    }
}

fn build(first: &str, headers: &[(&str, &str)], body: &[u8], with_length: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(first.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if with_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// `http://IP:PORT/PATH` (or `https://`) → (address, path). Only numeric
/// hosts (IPv4, or IPv6 in brackets): the suite never resolves names. A URL
/// without a path has the path `/`.
pub fn url_parts(url: &str) -> Option<(std::net::SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some((host.parse().ok()?, format!("/{path}")))
}

/// Is this an `https://` URL (HTTP over TLS, RFC 2818)?
pub fn url_is_https(url: &str) -> bool {
    url.starts_with("https://")
}

/// A request: start line, `Host`, the given headers, `Content-Length` (when
/// there is a body or the method is POST/PUT) and the body.
pub fn request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut all = vec![("Host", host)];
    all.extend_from_slice(headers);
    let with_length = !body.is_empty() || method == "POST" || method == "PUT";
    build(
        &format!("{method} {target} HTTP/1.1"),
        &all,
        body,
        with_length,
    )
}

/// A response with `Content-Length` (none for 1xx, 204, 304).
pub fn response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    build(
        &format!("HTTP/1.1 {status} {reason}"),
        headers,
        if no_body { &[] } else { body },
        !no_body,
    )
}

/// The usual reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_numeric_hosts_only() {
        assert_eq!(
            url_parts("http://127.0.0.1:8002/mms/a?b"),
            Some(("127.0.0.1:8002".parse().unwrap(), "/mms/a?b".into()))
        );
        assert_eq!(
            url_parts("http://[::1]:80"),
            Some(("[::1]:80".parse().unwrap(), "/".into()))
        );
        assert_eq!(url_parts("http://localhost:80/x"), None);
        assert_eq!(
            url_parts("https://127.0.0.1:443/x"),
            Some(("127.0.0.1:443".parse().unwrap(), "/x".into()))
        );
        assert!(url_is_https("https://127.0.0.1:443/x") && !url_is_https("http://127.0.0.1:80/"));
        assert_eq!(url_parts("ftp://127.0.0.1:21/x"), None);
        assert_eq!(url_parts("http://127.0.0.1/x"), None);
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
    fn post_request_snapshot() {
        let req = request(
            "POST",
            "/wappush",
            "127.0.0.1:8080",
            &[(
                "Content-Type",
                "multipart/related; boundary=b; type=\"application/xml\"",
            )],
            b"--b\r\n\r\nx\r\n--b--\r\n",
        );
        insta::assert_snapshot!("post_request", view(&req));
    }

    #[test]
    fn response_snapshots() {
        let r = response(
            202,
            "Accepted",
            &[("Content-Type", "application/xml")],
            b"<pap/>",
        );
        insta::assert_snapshot!("response_202", view(&r));
        let r = response(
            204,
            "No Content",
            &[("X-Wap-Push-Status", "400 Accepted")],
            b"x",
        );
        insta::assert_snapshot!("response_204", view(&r));
    }

    #[test]
    fn framing_by_length_chunks_and_close() {
        let req = request("POST", "/p", "h", &[], b"hello");
        assert_eq!(next_frame(&req, 1 << 20), Ok(Some(req.len())));
        assert_eq!(next_frame(&req[..req.len() - 1], 1 << 20), Ok(None));
        let mut two = req.clone();
        two.extend_from_slice(&req);
        assert_eq!(next_frame(&two, 1 << 20), Ok(Some(req.len())));

        let get = request("GET", "/m", "h", &[], b"");
        assert!(!escape_bytes(&get, 999).contains("Content-Length"));
        assert_eq!(next_frame(&get, 1 << 20), Ok(Some(get.len())));

        let ch = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n";
        assert_eq!(next_frame(ch, 1 << 20), Ok(Some(ch.len())));
        let m = HttpMessage::parse(ch).unwrap();
        assert_eq!(m.body, b"hello world");
        assert!(m.chunked);
        for cut in 0..ch.len() {
            assert_eq!(next_frame(&ch[..cut], 1 << 20), Ok(None), "cut {cut}");
        }

        let close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
        assert_eq!(next_frame(close, 1 << 20), Ok(None));
        assert!(HttpMessage::parse(close).is_err());
        assert_eq!(
            HttpMessage::parse_at_close(close).unwrap().body,
            b"until the end"
        );

        let no_body = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(next_frame(no_body, 100), Ok(Some(no_body.len())));
    }

    #[test]
    fn peer_errors_are_named() {
        let e = next_frame(b"HELLO\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, HttpError::BadStartLine { .. }), "{e}");
        let e = next_frame(b"HTTP/1.1 2x0 OK\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, HttpError::BadStartLine { .. }), "{e}");
        let e = next_frame(b"POST / HTTP/1.1\r\nno colon\r\n\r\n", 100).unwrap_err();
        assert_eq!(e.to_string(), "bad header line 1: no colon");
        let e = next_frame(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            100,
        )
        .unwrap_err();
        assert!(matches!(e, HttpError::BadContentLength { .. }), "{e}");
        let e = next_frame(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, HttpError::BadContentLength { .. }), "{e}");
        let e = next_frame(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 100).unwrap_err();
        assert!(
            matches!(e, HttpError::UnsupportedTransferEncoding { .. }),
            "{e}"
        );
        let e = next_frame(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            100,
        )
        .unwrap_err();
        assert!(matches!(e, HttpError::BadChunk { .. }), "{e}");
        let e = next_frame(b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, HttpError::TooLong { .. }), "{e}");
        let e = next_frame(&[b'a'; 200], 100).unwrap_err();
        assert!(matches!(e, HttpError::HeaderTooLong { .. }), "{e}");
        let e =
            HttpMessage::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").unwrap_err();
        assert_eq!(
            e.to_string(),
            "message ends after 43 bytes, before the 9 body bytes its Content-Length declares"
        );
    }

    #[test]
    fn no_panic_on_any_input() {
        let seeds: [&[u8]; 3] = [
            b"POST /wappush HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.0 202 Accepted\r\n\r\nbody",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..100_000 {
            let mut b = seeds[i % seeds.len()].to_vec();
            for _ in 0..(next() % 6) {
                let pos = (next() as usize) % (b.len() + 1);
                match next() % 3 {
                    0 if pos < b.len() => b[pos] = next() as u8,
                    1 => b.insert(pos, b"\r\n:0;"[(next() % 5) as usize]),
                    _ => b.truncate(pos),
                }
            }
            let _ = next_frame(&b, 4096);
            let _ = HttpMessage::parse(&b);
            let _ = HttpMessage::parse_at_close(&b);
        }
    }
}
