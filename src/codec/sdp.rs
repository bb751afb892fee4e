//! SDP (RFC 4566), sans-IO: just what MSRP sessions need (RFC 4975 §8).
//!
//! The reader keeps the text and its `<type>=<value>` lines in order, accepts CRLF
//! or LF line ends, and judges little: the first line must be `v=`, every line must
//! be `<letter>=…`, and every `m=` line must have a media type, a port and a proto.
//! [`Sdp::check`] reports what RFC 4566 §5 makes mandatory on top (`o=`, `s=`,
//! `t=`, a `c=` for every media). Attribute names are matched ignoring ASCII case
//! (as sent in [`Media::attributes`]).
//!
//! The writer [`msrp_session`] (and [`SessionBuilder`]) produces the exact bytes of
//! an MSRP offer or answer.

use std::fmt;
use std::net::IpAddr;

/// How many characters of an offending line an error's `Display` shows.
const SHOW: usize = 120;

/// Why bytes are not an SDP session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdpError {
    /// No bytes, or only whitespace.
    Empty,
    /// A line that is not `<letter>=<value>`, an empty line inside the description,
    /// or an `m=` line without `<media> <port> <proto>`.
    BadLine { line: String },
    /// A line the description must have (`v=` first; from [`Sdp::check`] also `o=`,
    /// `s=`, `t=`, `c=`).
    MissingLine { kind: char },
    /// The bytes are not UTF-8 (RFC 4566 §5: the default character set is UTF-8).
    NotUtf8,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::Empty => write!(f, "empty SDP: no lines"),
            SdpError::BadLine { line } => write!(
                f,
                "bad SDP line (expected `<type>=<value>`, `m=<media> <port> <proto> <fmt>…`): \"{}\"",
                super::escape_bytes(line.as_bytes(), SHOW)
            ),
            SdpError::MissingLine { kind } => {
                write!(f, "SDP lacks a mandatory `{kind}=` line (RFC 4566 §5)")
            }
            SdpError::NotUtf8 => write!(f, "SDP is not UTF-8 text"),
        }
    }
}

impl std::error::Error for SdpError {}

/// A parsed session description: its text plus its lines in order.
#[derive(Clone, Debug)]
pub struct Sdp {
    raw: String,
    lines: Vec<(char, String)>,
}

/// One media description (`m=` line and the lines up to the next `m=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// `message`, `audio`, …
    pub media: String,
    pub port: u16,
    /// `TCP/MSRP`, `TCP/TLS/MSRP`, `RTP/AVP`, …
    pub proto: String,
    /// `*` for MSRP (RFC 4975 §8.1).
    pub formats: Vec<String>,
    /// `a=` lines in order: name as sent, value (None for a flag attribute).
    pub attributes: Vec<(String, Option<String>)>,
}

impl Media {
    /// The value of the first attribute called `name` (ASCII case ignored); a
    /// flag attribute gives `Some("")`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// `a=path` URIs in order (RFC 4975 §8.2): the first hop first.
    pub fn msrp_path(&self) -> Vec<String> {
        self.words("path")
    }

    /// `a=accept-types` (RFC 4975 §8.6), in order.
    pub fn accept_types(&self) -> Vec<String> {
        self.words("accept-types")
    }

    /// `a=accept-wrapped-types` (RFC 4975 §8.6), in order.
    pub fn accept_wrapped_types(&self) -> Vec<String> {
        self.words("accept-wrapped-types")
    }

    /// Whether the `m=` line names MSRP over TLS, `TCP/TLS/MSRP` (RFC 4975
    /// §8.1; the protocol name compared ignoring ASCII case).
    pub fn is_msrp_tls(&self) -> bool {
        self.proto.eq_ignore_ascii_case(MSRP_TLS_PROTO)
    }

    /// `a=setup` (RFC 6135, with the RFC 4145 values), lowercased.
    pub fn setup(&self) -> Option<String> {
        self.attr("setup").map(|v| v.trim().to_ascii_lowercase())
    }

    fn words(&self, name: &str) -> Vec<String> {
        self.attr(name)
            .map(|v| v.split_ascii_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

impl Sdp {
    /// Parse a session description.
    ///
    /// Lines end in CRLF or LF; empty lines at the end are ignored. Each line must
    /// be `<type>=<value>` with an ASCII letter as type (RFC 4566 §5), the first
    /// one `v=`. `m=` lines must read `<media> <port>[/<count>] <proto> [<fmt>…]`.
    ///
    /// ```
    /// use liaison::codec::sdp::Sdp;
    /// let sdp = Sdp::parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
    ///     t=0 0\r\nm=message 2855 TCP/MSRP *\r\na=accept-types:text/plain\r\n\
    ///     a=path:msrp://192.0.2.1:2855/x1;tcp\r\n").unwrap();
    /// let m = &sdp.media()[0];
    /// assert_eq!((m.media.as_str(), m.port, m.proto.as_str()), ("message", 2855, "TCP/MSRP"));
    /// assert_eq!(m.msrp_path(), ["msrp://192.0.2.1:2855/x1;tcp"]);
    /// assert_eq!(sdp.connection_address().as_deref(), Some("192.0.2.1"));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Sdp, SdpError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(SdpError::Empty);
        }
        let raw = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        let mut texts: Vec<&str> = raw
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        while texts.last().is_some_and(|l| l.trim().is_empty()) {
            texts.pop();
        }
        let mut lines = Vec::with_capacity(texts.len());
        for text in texts {
            let bad = || SdpError::BadLine {
                line: text.to_string(),
            };
            let mut chars = text.chars();
            let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
                return Err(bad());
            };
            if !kind.is_ascii_alphabetic() {
                return Err(bad());
            }
            let value = chars.as_str();
            if kind == 'm' && parse_media_line(value).is_none() {
                return Err(bad());
            }
            lines.push((kind, value.to_string()));
        }
        if lines.first().map(|(k, _)| *k) != Some('v') {
            return Err(SdpError::MissingLine { kind: 'v' });
        }
        Ok(Sdp {
            raw: raw.to_string(),
            lines,
        })
    }

    /// The text as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Every line as (type, value), in order.
    pub fn lines(&self) -> &[(char, String)] {
        &self.lines
    }

    /// Session-level lines: those before the first `m=`.
    fn session_lines(&self) -> impl Iterator<Item = &(char, String)> {
        self.lines.iter().take_while(|(k, _)| *k != 'm')
    }

    /// The value of the first session-level line of type `kind` (`o`, `s`, `c`, …).
    pub fn session_value(&self, kind: char) -> Option<&str> {
        self.session_lines()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_str())
    }

    /// Every media description, in order.
    pub fn media(&self) -> Vec<Media> {
        let mut out: Vec<Media> = Vec::new();
        for (kind, value) in &self.lines {
            match (kind, out.last_mut()) {
                ('m', _) => {
                    if let Some(m) = parse_media_line(value) {
                        out.push(m);
                    }
                }
                ('a', Some(m)) => m.attributes.push(split_attribute(value)),
                _ => {}
            }
        }
        out
    }

    /// The value of attribute `name` (ASCII case ignored): session level first,
    /// else the first media description that has it. A flag attribute gives
    /// `Some("")`.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let session = self
            .session_lines()
            .filter(|(k, _)| *k == 'a')
            .map(|(_, v)| split_attribute(v))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.unwrap_or_default());
        session.or_else(|| {
            self.media()
                .iter()
                .find_map(|m| m.attr(name).map(str::to_string))
        })
    }

    /// The address of the session-level `c=` line, else of the first media-level
    /// one (`IN IP4 192.0.2.1` → `192.0.2.1`; a `/ttl` suffix removed).
    pub fn connection_address(&self) -> Option<String> {
        self.session_value('c')
            .or_else(|| {
                self.lines
                    .iter()
                    .find(|(k, _)| *k == 'c')
                    .map(|(_, v)| v.as_str())
            })
            .and_then(connection_of)
    }

    /// What RFC 4566 §5 makes mandatory beyond what [`Sdp::parse`] checks: `o=`,
    /// `s=` and `t=` at session level, and a `c=` at session level or in every
    /// media description.
    pub fn check(&self) -> Result<(), SdpError> {
        for kind in ['o', 's', 't'] {
            if self.session_value(kind).is_none() {
                return Err(SdpError::MissingLine { kind });
            }
        }
        if self.session_value('c').is_none() {
            // For each media description: whether it has a c= line.
            let mut media_has_c: Vec<bool> = Vec::new();
            for (kind, _) in &self.lines {
                match (kind, media_has_c.last_mut()) {
                    ('m', _) => media_has_c.push(false),
                    ('c', Some(has)) => *has = true,
                    _ => {}
                }
            }
            if media_has_c.is_empty() || media_has_c.contains(&false) {
                return Err(SdpError::MissingLine { kind: 'c' });
            }
        }
        Ok(())
    }
}

/// `<media> <port>[/<count>] <proto> <fmt>…` (RFC 4566 §5.14).
fn parse_media_line(value: &str) -> Option<Media> {
    let mut words = value.split_ascii_whitespace();
    let media = words.next()?.to_string();
    let port_text = words.next()?;
    let port_only = port_text.split_once('/').map_or(port_text, |(p, _)| p);
    if port_only.is_empty() || !port_only.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = port_only.parse().ok()?;
    let proto = words.next()?.to_string();
    Some(Media {
        media,
        port,
        proto,
        formats: words.map(str::to_string).collect(),
        attributes: Vec::new(),
    })
}

/// `name` or `name:value` (RFC 4566 §5.13).
fn split_attribute(value: &str) -> (String, Option<String>) {
    match value.split_once(':') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (value.to_string(), None),
    }
}

/// The address of a `c=` value, `<nettype> <addrtype> <address>[/…]`.
fn connection_of(value: &str) -> Option<String> {
    let address = value.split_ascii_whitespace().nth(2)?;
    let address = address.split('/').next().unwrap_or_default();
    (!address.is_empty()).then(|| address.to_string())
}

/// The `m=` protocol of MSRP over TCP (RFC 4975 §8.1).
pub const MSRP_PROTO: &str = "TCP/MSRP";
/// The `m=` protocol of MSRP over TLS (RFC 4975 §8.1); its URIs are `msrps:`
/// (§6, §14.2).
pub const MSRP_TLS_PROTO: &str = "TCP/TLS/MSRP";

/// An MSRP session description under construction ([`SessionBuilder::build`]).
#[derive(Clone, Debug)]
pub struct SessionBuilder {
    addr: IpAddr,
    port: u16,
    path: String,
    proto: Option<String>,
    accept_types: Vec<String>,
    accept_wrapped_types: Vec<String>,
    setup: Option<String>,
    origin: Option<(u64, u64)>,
}

impl SessionBuilder {
    /// An offer or answer for one MSRP media stream at `addr`/`port` whose own URL
    /// (the last, or only, URI of `a=path`, RFC 4975 §8.2) is `path`.
    pub fn new(addr: IpAddr, port: u16, path: &str) -> Self {
        SessionBuilder {
            addr,
            port,
            path: path.to_string(),
            proto: None,
            accept_types: Vec::new(),
            accept_wrapped_types: Vec::new(),
            setup: None,
            origin: None,
        }
    }

    /// `a=accept-types` (RFC 4975 §8.6; written even when empty, since it is
    /// mandatory).
    pub fn accept_types(mut self, types: &[&str]) -> Self {
        self.accept_types = types.iter().map(|t| t.to_string()).collect();
        self
    }

    /// `a=accept-wrapped-types` (RFC 4975 §8.6; left out when empty).
    pub fn accept_wrapped_types(mut self, types: &[&str]) -> Self {
        self.accept_wrapped_types = types.iter().map(|t| t.to_string()).collect();
        self
    }

    /// The `m=` protocol as given, whatever the path's scheme (for input that
    /// must disagree with itself). By default it follows the path:
    /// `TCP/TLS/MSRP` for an `msrps:` URL, `TCP/MSRP` otherwise.
    pub fn proto(mut self, proto: &str) -> Self {
        self.proto = Some(proto.to_string());
        self
    }

    /// `a=setup:<role>` (RFC 6135: `active`, `passive` or `actpass`, as in RFC 4145).
    pub fn setup(mut self, role: &str) -> Self {
        self.setup = Some(role.to_string());
        self
    }

    /// The `o=` sess-id and sess-version (RFC 4566 §5.2). By default both are a
    /// 32-bit FNV-1a hash of the path, written in decimal: stable for one session,
    /// different between sessions (their paths carry random session ids).
    pub fn origin(mut self, session_id: u64, version: u64) -> Self {
        self.origin = Some((session_id, version));
        self
    }

    /// The `m=` protocol written: the one given, else the path's.
    fn proto_name(&self) -> &str {
        match &self.proto {
            Some(p) => p,
            None if super::msrp::MsrpUrl::parse(&self.path).is_some_and(|u| u.secure) => {
                MSRP_TLS_PROTO
            }
            None => MSRP_PROTO,
        }
    }

    /// The exact bytes, CRLF line ends, lines in the order RFC 4566 §5 gives:
    /// `v o s c t m`, then `a=accept-types`, `a=accept-wrapped-types`, `a=path`,
    /// `a=setup` at media level.
    pub fn build(&self) -> Vec<u8> {
        let (family, host) = match self.addr {
            IpAddr::V4(a) => ("IP4", a.to_string()),
            IpAddr::V6(a) => ("IP6", a.to_string()),
        };
        let (id, version) = self.origin.unwrap_or_else(|| {
            let h = u64::from(fnv1a32(self.path.as_bytes()));
            (h, h)
        });
        let mut lines = vec![
            "v=0".to_string(),
            format!("o=- {id} {version} IN {family} {host}"),
            "s=-".to_string(),
            format!("c=IN {family} {host}"),
            "t=0 0".to_string(),
            format!("m=message {} {} *", self.port, self.proto_name()),
            format!("a=accept-types:{}", self.accept_types.join(" ")),
        ];
        if !self.accept_wrapped_types.is_empty() {
            lines.push(format!(
                "a=accept-wrapped-types:{}",
                self.accept_wrapped_types.join(" ")
            ));
        }
        lines.push(format!("a=path:{}", self.path));
        if let Some(setup) = &self.setup {
            lines.push(format!("a=setup:{setup}"));
        }
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// An MSRP offer/answer body (RFC 4975 §8): `v=0`, `o=`, `s=-`,
/// `c=IN IP4|IP6 <addr>`, `t=0 0`, `m=message <port> TCP/MSRP *` (or
/// `TCP/TLS/MSRP` for an `msrps:` path),
/// `a=accept-types:…`, `a=path:<path>`, and `a=setup:<setup>` (RFC 6135) when
/// given. See [`SessionBuilder`] for `a=accept-wrapped-types` and the `o=` values.
pub fn msrp_session(
    addr: IpAddr,
    port: u16,
    path: &str,
    accept_types: &[&str],
    setup: Option<&str>,
) -> Vec<u8> {
    let mut b = SessionBuilder::new(addr, port, path).accept_types(accept_types);
    if let Some(s) = setup {
        b = b.setup(s);
    }
    b.build()
}

/// The MSRP URL for a session; see [`super::msrp::msrp_url`].
pub fn msrp_url(addr: std::net::SocketAddr, session_id: &str) -> String {
    super::msrp::msrp_url(addr, session_id)
}

/// The MSRP URL for a session over TLS; see [`super::msrp::msrps_url`].
pub fn msrps_url(addr: std::net::SocketAddr, session_id: &str) -> String {
    super::msrp::msrps_url(addr, session_id)
}

/// 32-bit FNV-1a: a fixed, documented hash (std's hashers may change between Rust
/// releases, which would change the bytes we write).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    #[test]
    fn build_msrp_offer() {
        let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        let path = msrp_url(SocketAddr::new(addr, 7654), "a1iceS3ss");
        let bytes = msrp_session(
            addr,
            7654,
            &path,
            &["message/cpim", "text/plain"],
            Some("active"),
        );
        let sdp = Sdp::parse(&bytes).expect("offer parses");
        assert_eq!(sdp.check(), Ok(()));
        let m = &sdp.media()[0];
        assert_eq!(m.msrp_path(), [path.as_str()]);
        assert_eq!(m.accept_types(), ["message/cpim", "text/plain"]);
        assert_eq!(m.setup().as_deref(), Some("active"));
        assert_eq!(sdp.connection_address().as_deref(), Some("192.0.2.10"));
        insta::assert_snapshot!("msrp_offer", String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn build_ipv6_answer_with_wrapped_types() {
        let addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20));
        let path = msrp_url(SocketAddr::new(addr, 2855), "b0b");
        assert_eq!(path, "msrp://[2001:db8::20]:2855/b0b;tcp");
        let bytes = SessionBuilder::new(addr, 2855, &path)
            .accept_types(&["message/cpim"])
            .accept_wrapped_types(&["*"])
            .setup("passive")
            .origin(7, 8)
            .build();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "v=0\r\no=- 7 8 IN IP6 2001:db8::20\r\ns=-\r\nc=IN IP6 2001:db8::20\r\n\
             t=0 0\r\nm=message 2855 TCP/MSRP *\r\na=accept-types:message/cpim\r\n\
             a=accept-wrapped-types:*\r\na=path:msrp://[2001:db8::20]:2855/b0b;tcp\r\n\
             a=setup:passive\r\n"
        );
    }

    #[test]
    fn build_msrp_over_tls_offer() {
        let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        let path = msrps_url(SocketAddr::new(addr, 7655), "a1iceTls");
        assert_eq!(path, "msrps://192.0.2.10:7655/a1iceTls;tcp");
        let bytes = msrp_session(addr, 7655, &path, &["text/plain"], Some("active"));
        let sdp = Sdp::parse(&bytes).expect("offer parses");
        assert_eq!(sdp.check(), Ok(()));
        let m = &sdp.media()[0];
        assert_eq!(m.proto, "TCP/TLS/MSRP");
        assert!(m.is_msrp_tls());
        assert_eq!(m.msrp_path(), [path.as_str()]);
        insta::assert_snapshot!("msrp_tls_offer", String::from_utf8_lossy(&bytes));
        // The plain offer is not TLS; the protocol name is read ignoring case;
        // a protocol given on purpose disagrees with the path as asked.
        let plain = msrp_session(addr, 7654, "msrp://192.0.2.10:7654/x;tcp", &["*"], None);
        assert!(!Sdp::parse(&plain).unwrap().media()[0].is_msrp_tls());
        let lower =
            Sdp::parse(b"v=0\r\nm=message 1 tcp/tls/msrp *\r\na=path:msrps://h:1/s;tcp\r\n")
                .unwrap();
        assert!(lower.media()[0].is_msrp_tls());
        let mismatched = SessionBuilder::new(addr, 7655, &path)
            .accept_types(&["text/plain"])
            .proto(MSRP_PROTO)
            .build();
        let text = String::from_utf8(mismatched).unwrap();
        assert!(text.contains("m=message 7655 TCP/MSRP *\r\n"), "{text}");
        assert!(text.contains("a=path:msrps://"), "{text}");
    }

    #[test]
    fn fnv_is_the_published_one() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    }
}
