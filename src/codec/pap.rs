//! PAP 2.0 (WAP-247-PAP) messages and the multipart/related envelope a Push
//! Initiator POSTs to a PPG, sans-IO.
//!
//! The XML is read with `quick-xml`; the reader looks at the element and attribute
//! names of WAP-247 §9 (push-message §9.2, push-response §9.3, badmessage-response
//! §9.13, resultnotification-message §9.5) and ignores anything else (the DOCTYPE,
//! other elements, unknown attributes). Malformed XML is a [`PapError::Xml`] with
//! the byte offset and the bytes there; it never panics.
//!
//! The envelope (WAP-247 §8, RFC 2387 multipart/related, RFC 2046 §5.1.1 for the
//! delimiters): part 1 the PAP control entity, part 2 the content, optionally
//! part 3 capabilities. [`parse_multipart`] keeps part bodies byte for byte: a
//! body ends only at CRLF `--boundary`, so binary content may hold CRLF and `--`.

use super::escape_bytes;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 80;

/// PAP result codes (WAP-247 §9.14, Table "Status codes").
pub mod code {
    pub const OK: u16 = 1000;
    pub const ACCEPTED_FOR_PROCESSING: u16 = 1001;
    pub const BAD_REQUEST: u16 = 2000;
    pub const FORBIDDEN: u16 = 2001;
    pub const ADDRESS_ERROR: u16 = 2002;
    pub const CAPABILITIES_MISMATCH: u16 = 2005;
    pub const DUPLICATE_PUSH_ID: u16 = 2007;
    pub const INTERNAL_SERVER_ERROR: u16 = 3000;
    pub const TRANSFORMATION_FAILURE: u16 = 3006;
    pub const REQUIRED_BEARER_NOT_AVAILABLE: u16 = 3010;
    pub const SERVICE_FAILURE: u16 = 4000;
}

/// The name of a result code, when it is one of [`code`].
pub fn code_name(c: u16) -> Option<&'static str> {
    Some(match c {
        code::OK => "OK",
        code::ACCEPTED_FOR_PROCESSING => "Accepted for processing",
        code::BAD_REQUEST => "Bad request",
        code::FORBIDDEN => "Forbidden",
        code::ADDRESS_ERROR => "Address error",
        code::CAPABILITIES_MISMATCH => "Capabilities mismatch",
        code::DUPLICATE_PUSH_ID => "Duplicate push-id",
        code::INTERNAL_SERVER_ERROR => "Internal server error",
        code::TRANSFORMATION_FAILURE => "Transformation failure",
        code::REQUIRED_BEARER_NOT_AVAILABLE => "Required bearer not available",
        code::SERVICE_FAILURE => "Service failure",
        _ => return None,
    })
}

/// The DOCTYPE line the builders write (WAP-247 §9.1).
pub const DOCTYPE: &str = r#"<!DOCTYPE pap PUBLIC "-//WAPFORUM//DTD PAP 2.0//EN" "http://www.wapforum.org/DTD/pap_2.0.dtd">"#;

/// `<quality-of-service>` (WAP-247 §9.2.3): its attributes as sent, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QualityOfService {
    pub attributes: Vec<(String, String)>,
}

/// `<push-message>` (WAP-247 §9.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushMessage {
    pub push_id: String,
    pub deliver_before: Option<String>,
    pub deliver_after: Option<String>,
    pub ppg_notify_requested_to: Option<String>,
    /// The `address-value` of each `<address>`, e.g.
    /// `WAPPUSH=+15551234567/TYPE=PLMN@ppg.example`.
    pub addresses: Vec<String>,
    pub quality_of_service: Option<QualityOfService>,
}

/// `<push-response>` (WAP-247 §9.3) with its `<response-result>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushResponse {
    pub push_id: String,
    pub sender_address: Option<String>,
    pub sender_name: Option<String>,
    pub reply_time: Option<String>,
    pub code: u16,
    pub desc: Option<String>,
}

/// `<badmessage-response>` (WAP-247 §9.13).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BadMessageResponse {
    pub code: u16,
    pub desc: Option<String>,
    pub bad_message_fragment: Option<String>,
}

/// `<resultnotification-message>` (WAP-247 §9.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultNotification {
    pub push_id: String,
    pub message_state: String,
    pub code: u16,
    pub desc: Option<String>,
    pub event_time: Option<String>,
    pub addresses: Vec<String>,
}

/// A PAP control entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PapMessage {
    PushMessage(PushMessage),
    PushResponse(PushResponse),
    BadMessageResponse(BadMessageResponse),
    ResultNotification(ResultNotification),
}

/// Why bytes are not a PAP message or a multipart/related envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PapError {
    /// Not UTF-8 (WAP-247 documents are UTF-8 XML); `at` is the first bad byte.
    NotUtf8 { at: usize, bytes: Vec<u8> },
    /// The XML reader failed at byte `at`: `message` says why, `bytes` are those
    /// from `at` on.
    Xml {
        at: usize,
        message: String,
        bytes: Vec<u8>,
    },
    /// The document has no `<pap>` root element.
    NoPapRoot,
    /// `<pap>` holds no element this module knows; `found` names the first one.
    UnknownMessage { found: Option<String> },
    /// A required attribute is absent.
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    /// A required child element is absent.
    MissingElement {
        parent: &'static str,
        element: &'static str,
    },
    /// A `code` attribute that is not a number.
    BadCode {
        element: &'static str,
        value: String,
    },
    /// The Content-Type is not multipart, or has no boundary parameter.
    NoBoundary { content_type: String },
    /// The body has no `--boundary` line.
    NoOpeningDelimiter { bytes: Vec<u8> },
    /// A part is not followed by a delimiter, or the last one is not `--boundary--`.
    NoClosingDelimiter { part: usize, bytes: Vec<u8> },
    /// A part has a header line that is not `name: value`, or no empty line
    /// after its headers.
    BadPartHeader { part: usize, bytes: Vec<u8> },
}

impl fmt::Display for PapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PapError::NotUtf8 { at, bytes } => write!(
                f,
                "PAP: not UTF-8 at byte {at}: {}",
                escape_bytes(bytes, SHOW)
            ),
            PapError::Xml { at, message, bytes } => write!(
                f,
                "PAP: malformed XML at byte {at} ({message}): {}",
                escape_bytes(bytes, SHOW)
            ),
            PapError::NoPapRoot => f.write_str("PAP: no <pap> root element"),
            PapError::UnknownMessage { found: Some(n) } => {
                write!(f, "PAP: <pap> holds <{n}>, not a known PAP message")
            }
            PapError::UnknownMessage { found: None } => {
                f.write_str("PAP: <pap> holds no message element")
            }
            PapError::MissingAttribute { element, attribute } => {
                write!(
                    f,
                    "PAP: <{element}> lacks the required {attribute} attribute"
                )
            }
            PapError::MissingElement { parent, element } => {
                write!(f, "PAP: <{parent}> lacks the required <{element}>")
            }
            PapError::BadCode { element, value } => {
                write!(f, "PAP: <{element}> code {value:?} is not a number")
            }
            PapError::NoBoundary { content_type } => write!(
                f,
                "multipart: Content-Type {content_type:?} is not multipart with a boundary"
            ),
            PapError::NoOpeningDelimiter { bytes } => write!(
                f,
                "multipart: no opening --boundary line in: {}",
                escape_bytes(bytes, SHOW)
            ),
            PapError::NoClosingDelimiter { part, bytes } => write!(
                f,
                "multipart: part {part} is not closed by a delimiter: {}",
                escape_bytes(bytes, SHOW)
            ),
            PapError::BadPartHeader { part, bytes } => write!(
                f,
                "multipart: part {part} has a malformed header block: {}",
                escape_bytes(bytes, SHOW)
            ),
        }
    }
}

impl std::error::Error for PapError {}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Attributes of one start tag, unescaped.
struct Attrs(Vec<(String, String)>);

impl Attrs {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn need(&self, element: &'static str, attribute: &'static str) -> Result<String, PapError> {
        self.get(attribute)
            .ok_or(PapError::MissingAttribute { element, attribute })
    }

    fn code(&self, element: &'static str) -> Result<u16, PapError> {
        let v = self.need(element, "code")?;
        v.trim()
            .parse()
            .map_err(|_| PapError::BadCode { element, value: v })
    }
}

fn xml_error(input: &[u8], at: u64, message: String) -> PapError {
    let at = usize::try_from(at).unwrap_or(usize::MAX).min(input.len());
    PapError::Xml {
        at,
        message,
        bytes: input[at..].to_vec(),
    }
}

fn attrs_of(input: &[u8], pos: u64, e: &BytesStart) -> Result<Attrs, PapError> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| xml_error(input, pos, err.to_string()))?;
        let value = a
            .unescape_value()
            .map_err(|err| xml_error(input, pos, err.to_string()))?;
        out.push((
            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(Attrs(out))
}

/// The elements of a document as (depth, name, attributes), in order, start and
/// empty tags alike; text is ignored. Checks that the XML is well formed.
fn elements(input: &[u8]) -> Result<Vec<(usize, String, Attrs)>, PapError> {
    let text = std::str::from_utf8(input).map_err(|e| PapError::NotUtf8 {
        at: e.valid_up_to(),
        bytes: input[e.valid_up_to()..].to_vec(),
    })?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = Vec::new();
    let mut depth = 0usize;
    loop {
        let pos = reader.buffer_position();
        match reader.read_event() {
            Err(e) => return Err(xml_error(input, reader.error_position(), e.to_string())),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                out.push((depth, name, attrs_of(input, pos, &e)?));
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                out.push((depth, name, attrs_of(input, pos, &e)?));
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
    if depth != 0 {
        return Err(xml_error(
            input,
            input.len() as u64,
            format!("{depth} element(s) not closed"),
        ));
    }
    Ok(out)
}

impl PapMessage {
    /// Read a PAP document (UTF-8 XML with a `<pap>` root).
    pub fn parse(input: &[u8]) -> Result<PapMessage, PapError> {
        let els = elements(input)?;
        let (root, rest) = els.split_first().ok_or(PapError::NoPapRoot)?;
        if root.0 != 0 || root.1 != "pap" {
            return Err(PapError::NoPapRoot);
        }
        let (_, name, a) = rest
            .first()
            .ok_or(PapError::UnknownMessage { found: None })?;
        // The children of the message element (depth 2).
        let children = || {
            rest[1..]
                .iter()
                .take_while(|(d, _, _)| *d >= 2)
                .filter(|(d, _, _)| *d == 2)
        };
        let addresses = |element: &'static str| -> Result<Vec<String>, PapError> {
            children()
                .filter(|(_, n, _)| n == "address")
                .map(|(_, _, a)| a.need(element, "address-value"))
                .collect()
        };
        match name.as_str() {
            "push-message" => {
                const E: &str = "push-message";
                let addresses = addresses("address")?;
                if addresses.is_empty() {
                    return Err(PapError::MissingElement {
                        parent: E,
                        element: "address",
                    });
                }
                Ok(PapMessage::PushMessage(PushMessage {
                    push_id: a.need(E, "push-id")?,
                    deliver_before: a.get("deliver-before-timestamp"),
                    deliver_after: a.get("deliver-after-timestamp"),
                    ppg_notify_requested_to: a.get("ppg-notify-requested-to"),
                    addresses,
                    quality_of_service: children().find(|(_, n, _)| n == "quality-of-service").map(
                        |(_, _, q)| QualityOfService {
                            attributes: q.0.clone(),
                        },
                    ),
                }))
            }
            "push-response" => {
                const E: &str = "push-response";
                let (_, _, r) = children().find(|(_, n, _)| n == "response-result").ok_or(
                    PapError::MissingElement {
                        parent: E,
                        element: "response-result",
                    },
                )?;
                Ok(PapMessage::PushResponse(PushResponse {
                    push_id: a.need(E, "push-id")?,
                    sender_address: a.get("sender-address"),
                    sender_name: a.get("sender-name"),
                    reply_time: a.get("reply-time"),
                    code: r.code("response-result")?,
                    desc: r.get("desc"),
                }))
            }
            "badmessage-response" => Ok(PapMessage::BadMessageResponse(BadMessageResponse {
                code: a.code("badmessage-response")?,
                desc: a.get("desc"),
                bad_message_fragment: a.get("bad-message-fragment"),
            })),
            "resultnotification-message" => {
                const E: &str = "resultnotification-message";
                Ok(PapMessage::ResultNotification(ResultNotification {
                    push_id: a.need(E, "push-id")?,
                    message_state: a.need(E, "message-state")?,
                    code: a.code(E)?,
                    desc: a.get("desc"),
                    event_time: a.get("event-time"),
                    addresses: addresses("address")?,
                }))
            }
            other => Err(PapError::UnknownMessage {
                found: Some(other.to_string()),
            }),
        }
    }

    /// The document, as the builders write it.
    pub fn to_xml(&self) -> String {
        match self {
            PapMessage::PushMessage(m) => m.to_xml(),
            PapMessage::PushResponse(m) => m.to_xml(),
            PapMessage::BadMessageResponse(m) => m.to_xml(),
            PapMessage::ResultNotification(m) => m.to_xml(),
        }
    }
}

// ---------------------------------------------------------------------------
// Writing (exact text: a declaration, the DOCTYPE, `<pap>`, two-space indent,
// attributes in the order of WAP-247's DTD, optional ones only when present)
// ---------------------------------------------------------------------------

fn esc(v: &str) -> String {
    quick_xml::escape::escape(v).into_owned()
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(&format!(" {name}=\"{}\"", esc(v)));
    }
}

fn document(body: &str) -> String {
    format!("<?xml version=\"1.0\"?>\n{DOCTYPE}\n<pap>\n{body}</pap>\n")
}

impl PushMessage {
    pub fn to_xml(&self) -> String {
        let mut s = String::from("  <push-message");
        attr(&mut s, "push-id", Some(&self.push_id));
        attr(
            &mut s,
            "deliver-before-timestamp",
            self.deliver_before.as_deref(),
        );
        attr(
            &mut s,
            "deliver-after-timestamp",
            self.deliver_after.as_deref(),
        );
        attr(
            &mut s,
            "ppg-notify-requested-to",
            self.ppg_notify_requested_to.as_deref(),
        );
        s.push_str(">\n");
        for a in &self.addresses {
            s.push_str("    <address");
            attr(&mut s, "address-value", Some(a));
            s.push_str("/>\n");
        }
        if let Some(q) = &self.quality_of_service {
            s.push_str("    <quality-of-service");
            for (k, v) in &q.attributes {
                attr(&mut s, k, Some(v));
            }
            s.push_str("/>\n");
        }
        s.push_str("  </push-message>\n");
        document(&s)
    }
}

impl PushResponse {
    pub fn to_xml(&self) -> String {
        let mut s = String::from("  <push-response");
        attr(&mut s, "push-id", Some(&self.push_id));
        attr(&mut s, "sender-address", self.sender_address.as_deref());
        attr(&mut s, "sender-name", self.sender_name.as_deref());
        attr(&mut s, "reply-time", self.reply_time.as_deref());
        s.push_str(">\n    <response-result");
        attr(&mut s, "code", Some(&self.code.to_string()));
        attr(&mut s, "desc", self.desc.as_deref());
        s.push_str("/>\n  </push-response>\n");
        document(&s)
    }
}

impl BadMessageResponse {
    pub fn to_xml(&self) -> String {
        let mut s = String::from("  <badmessage-response");
        attr(&mut s, "code", Some(&self.code.to_string()));
        attr(&mut s, "desc", self.desc.as_deref());
        attr(
            &mut s,
            "bad-message-fragment",
            self.bad_message_fragment.as_deref(),
        );
        s.push_str("/>\n");
        document(&s)
    }
}

impl ResultNotification {
    pub fn to_xml(&self) -> String {
        let mut s = String::from("  <resultnotification-message");
        attr(&mut s, "push-id", Some(&self.push_id));
        attr(&mut s, "event-time", self.event_time.as_deref());
        attr(&mut s, "message-state", Some(&self.message_state));
        attr(&mut s, "code", Some(&self.code.to_string()));
        attr(&mut s, "desc", self.desc.as_deref());
        s.push_str(">\n");
        for a in &self.addresses {
            s.push_str("    <address");
            attr(&mut s, "address-value", Some(a));
            s.push_str("/>\n");
        }
        s.push_str("  </resultnotification-message>\n");
        document(&s)
    }
}

// ---------------------------------------------------------------------------
// multipart/related (RFC 2387, RFC 2046 §5.1.1)
// ---------------------------------------------------------------------------

/// One body part: its header lines as (name, value) and its body as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Build the envelope: the Content-Type header value
/// (`multipart/related; boundary="…"; type="application/xml"`) and the body, each
/// part with a `Content-Type` header, CRLF line ends, closed by `--boundary--`.
pub fn multipart_related(boundary: &str, parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let header = format!("multipart/related; boundary=\"{boundary}\"; type=\"application/xml\"");
    let mut body = Vec::new();
    for (ct, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Type: {ct}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (header, body)
}

/// A parameter of a header value such as a Content-Type (`;`-separated,
/// `name=value` or `name="value"`), name case-insensitive.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    let mut rest = value.split_once(';')?.1;
    loop {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            let tail = &q[end + 1..];
            (&q[..end], tail.split_once(';').map_or("", |(_, t)| t))
        } else {
            match after.split_once(';') {
                Some((v, t)) => (v, t),
                None => (after, ""),
            }
        };
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(v.trim().to_string());
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Split a multipart body into its parts. The preamble and epilogue are
/// dropped; each part's body is exactly the bytes between its header block and
/// the CRLF that opens the next delimiter.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, PapError> {
    let no_boundary = || PapError::NoBoundary {
        content_type: content_type.to_string(),
    };
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return Err(no_boundary());
    }
    let boundary = header_param(content_type, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(no_boundary)?;
    let dash = format!("--{boundary}").into_bytes();
    // The first delimiter may be at the very start (no preamble).
    let first = if body.starts_with(&dash) {
        0
    } else {
        let mut crlf = b"\r\n".to_vec();
        crlf.extend_from_slice(&dash);
        find(body, &crlf, 0)
            .map(|p| p + 2)
            .ok_or_else(|| PapError::NoOpeningDelimiter {
                bytes: body.to_vec(),
            })?
    };
    let mut delim = b"\r\n".to_vec();
    delim.extend_from_slice(&dash);
    let mut parts = Vec::new();
    let mut pos = first + dash.len();
    loop {
        let number = parts.len() + 1;
        // After a delimiter: `--` closes, else transport padding then CRLF.
        let tail = &body[pos..];
        if tail.starts_with(b"--") {
            if parts.is_empty() {
                return Err(PapError::NoClosingDelimiter {
                    part: 0,
                    bytes: tail.to_vec(),
                });
            }
            return Ok(parts);
        }
        let line_end = find(body, b"\r\n", pos).ok_or_else(|| PapError::NoClosingDelimiter {
            part: number,
            bytes: tail.to_vec(),
        })?;
        let start = line_end + 2;
        let end = find(body, &delim, start).ok_or_else(|| PapError::NoClosingDelimiter {
            part: number,
            bytes: body[start.min(body.len())..].to_vec(),
        })?;
        let entity = &body[start..end];
        parts.push(parse_part(number, entity)?);
        pos = end + delim.len();
    }
}

fn parse_part(number: usize, entity: &[u8]) -> Result<Part, PapError> {
    let bad = || PapError::BadPartHeader {
        part: number,
        bytes: entity.to_vec(),
    };
    // No headers at all: the entity starts with the empty line.
    let (head, body) = if let Some(b) = entity.strip_prefix(b"\r\n") {
        (&entity[..0], b)
    } else {
        let split = find(entity, b"\r\n\r\n", 0).ok_or_else(bad)?;
        (&entity[..split], &entity[split + 4..])
    };
    let mut headers = Vec::new();
    if !head.is_empty() {
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = std::str::from_utf8(line).map_err(|_| bad())?;
            let (k, v) = text.split_once(':').ok_or_else(bad)?;
            if k.is_empty() || k.contains(char::is_whitespace) {
                return Err(bad());
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
    }
    Ok(Part {
        headers,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_message_two_addresses_qos() {
        let m = PushMessage {
            push_id: "liaison-0001@pi.example".into(),
            deliver_before: Some("2026-12-01T00:00:00Z".into()),
            deliver_after: None,
            ppg_notify_requested_to: Some("http://pi.example/notify".into()),
            addresses: vec![
                "WAPPUSH=+15551234567/TYPE=PLMN@ppg.example".into(),
                "WAPPUSH=+15557654321/TYPE=PLMN@ppg.example".into(),
            ],
            quality_of_service: Some(QualityOfService {
                attributes: vec![("delivery-method".into(), "unconfirmed".into())],
            }),
        };
        let xml = m.to_xml();
        insta::assert_snapshot!(xml);
        assert_eq!(
            PapMessage::parse(xml.as_bytes()),
            Ok(PapMessage::PushMessage(m))
        );
    }

    #[test]
    fn push_response_1001() {
        let m = PushResponse {
            push_id: "liaison-0001@pi.example".into(),
            sender_address: Some("http://ppg.example/wappush".into()),
            sender_name: None,
            reply_time: Some("2026-11-21T12:00:00Z".into()),
            code: code::ACCEPTED_FOR_PROCESSING,
            desc: Some("Accepted for processing".into()),
        };
        let xml = m.to_xml();
        insta::assert_snapshot!(xml);
        assert_eq!(
            PapMessage::parse(xml.as_bytes()),
            Ok(PapMessage::PushResponse(m))
        );
    }

    #[test]
    fn badmessage_response_2000() {
        let m = BadMessageResponse {
            code: code::BAD_REQUEST,
            desc: Some("not well formed".into()),
            bad_message_fragment: Some("<push-message push-id=\"x\"".into()),
        };
        let xml = m.to_xml();
        insta::assert_snapshot!(xml);
        assert_eq!(
            PapMessage::parse(xml.as_bytes()),
            Ok(PapMessage::BadMessageResponse(m))
        );
    }

    #[test]
    fn result_notification_delivered() {
        let m = ResultNotification {
            push_id: "liaison-0001@pi.example".into(),
            message_state: "delivered".into(),
            code: code::OK,
            desc: None,
            event_time: Some("2026-11-21T12:00:05Z".into()),
            addresses: vec!["WAPPUSH=+15551234567/TYPE=PLMN@ppg.example".into()],
        };
        let xml = m.to_xml();
        insta::assert_snapshot!(xml);
        assert_eq!(
            PapMessage::parse(xml.as_bytes()),
            Ok(PapMessage::ResultNotification(m))
        );
    }

    #[test]
    fn multipart_builder() {
        let (ct, body) = multipart_related(
            "liaison-boundary",
            &[
                ("application/xml", b"<pap/>".as_slice()),
                ("text/plain", b"a\r\n--b".as_slice()),
            ],
        );
        insta::assert_snapshot!(format!(
            "Content-Type: {ct}\n\n{}",
            escape_bytes(&body, 1000)
        ));
        let parts = parse_multipart(&ct, &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].body, b"a\r\n--b");
    }

    #[test]
    fn params() {
        let ct = "multipart/related; type=\"application/xml\"; boundary=abc";
        assert_eq!(header_param(ct, "boundary").as_deref(), Some("abc"));
        assert_eq!(header_param(ct, "TYPE").as_deref(), Some("application/xml"));
        assert_eq!(header_param(ct, "start"), None);
        assert_eq!(header_param("text/plain", "x"), None);
    }
}
