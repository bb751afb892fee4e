//! WSP connectionless push (WAP-230 §8.2.4.1), sans-IO.
//!
//! A push PDU is `TID, PDU type, HeadersLen (uintvar), ContentType, Headers, Data`:
//! the TID is one octet in connectionless mode (§8.2.1), the type 0x06 (Push) or
//! 0x07 (ConfirmedPush, §8.2.4.1), and HeadersLen counts the content type *and* the
//! headers. The decoder is tolerant: it keeps the input ([`PushPdu::raw`]), accepts
//! any TID, any header it can delimit (well-known headers it does not model and
//! shift sequences come back as [`WspHeader::Unknown`] with their bytes), and it
//! never panics. [`PushPdu::encode`] writes every field in its canonical form, so
//! `encode(parse(x)) == x` when `x` was written canonically.
//!
//! Over SMS the PDU follows the 16-bit port UDH (WAP-259 WDP, see
//! [`super::smpp::udh_port16`]); over UDP it goes to port 2948.

use super::escape_bytes;
use std::fmt;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 64;

/// PDU type Push (WAP-230 Table 34).
pub const PDU_PUSH: u8 = 0x06;
/// PDU type ConfirmedPush (WAP-230 Table 34).
pub const PDU_CONFIRMED_PUSH: u8 = 0x07;

/// Well-known header field names (WAP-230 Table 39), without the 0x80 bit.
pub mod field {
    /// Content-Length.
    pub const CONTENT_LENGTH: u8 = 0x0D;
    /// X-Wap-Application-Id (encoding version 1.2).
    pub const X_WAP_APPLICATION_ID: u8 = 0x2F;
    /// Encoding-Version (encoding version 1.4).
    pub const ENCODING_VERSION: u8 = 0x43;
}

/// Well-known content types (WAP-230 Table 40, as assigned by WINA/OMNA), without
/// the 0x80 bit.
pub mod media {
    /// application/vnd.wap.sic
    pub const SIC: u8 = 0x2E;
    /// application/vnd.wap.slc
    pub const SLC: u8 = 0x30;
    /// application/vnd.wap.mms-message
    pub const MMS_MESSAGE: u8 = 0x3E;
}

/// Names of the well-known content types this crate meets in push traffic.
pub fn media_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x03 => "text/plain",
        0x2D => "text/vnd.wap.si",
        0x2E => "application/vnd.wap.sic",
        0x2F => "text/vnd.wap.sl",
        0x30 => "application/vnd.wap.slc",
        0x3E => "application/vnd.wap.mms-message",
        _ => return None,
    })
}

/// Well-known push application ids (the WINA/OMNA "Push Application ID" registry
/// referred to by WAP-230 §8.4.2.54 X-Wap-Application-Id). The same table is in
/// Wireshark's WSP dissector (`epan/dissectors/packet-wsp.c`, the
/// `x-wap-application:*` value string table): 0 `*`, 1 push.sia, 2 wml.ua,
/// 3 wta.ua, 4 mms.ua, 5 push.syncml, 6 loc.ua, 7 syncml.dm, 8 drm.ua, 9 emn.ua,
/// 10 wv.ua.
pub const APP_IDS: &[(u32, &str)] = &[
    (0x00, "x-wap-application:*"),
    (0x01, "x-wap-application:push.sia"),
    (0x02, "x-wap-application:wml.ua"),
    (0x03, "x-wap-application:wta.ua"),
    (0x04, "x-wap-application:mms.ua"),
    (0x05, "x-wap-application:push.syncml"),
    (0x06, "x-wap-application:loc.ua"),
    (0x07, "x-wap-application:syncml.dm"),
    (0x08, "x-wap-application:drm.ua"),
    (0x09, "x-wap-application:emn.ua"),
    (0x0A, "x-wap-application:wv.ua"),
];

/// An X-Wap-Application-Id value (WAP-230 §8.4.2.54): an app-assigned code
/// (Integer-value) or a URI (Text-string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppId {
    Code(u32),
    Text(String),
}

impl AppId {
    pub const MMS_UA: AppId = AppId::Code(4);
    pub const EMN_UA: AppId = AppId::Code(9);

    /// The URI form: the registry name of a code, or the text itself.
    pub fn name(&self) -> Option<&str> {
        match self {
            AppId::Code(c) => APP_IDS.iter().find(|(k, _)| k == c).map(|(_, n)| *n),
            AppId::Text(t) => Some(t),
        }
    }

    /// The code for a URI from the registry (`x-wap-application:mms.ua` → 4).
    pub fn code_of(uri: &str) -> Option<u32> {
        APP_IDS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(uri))
            .map(|(c, _)| *c)
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.name()) {
            (AppId::Code(c), Some(n)) => write!(f, "{n} ({c:#x})"),
            (AppId::Code(c), None) => write!(f, "{c:#x}"),
            (AppId::Text(t), _) => f.write_str(t),
        }
    }
}

/// The media of a Content-general-form (WAP-230 §8.4.2.24): a well-known code
/// (Integer-value) or an extension media type (Text-string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Media {
    Code(u32),
    Text(String),
}

/// The Content-Type of a push (WAP-230 §8.4.2.24).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// Constrained-media as a Short-integer: `0x3E` is sent as `0xBE`.
    WellKnown(u8),
    /// Constrained-media as an Extension-media Text-string (NUL-terminated).
    Text(String),
    /// Content-general-form: Value-length, media, then the parameters, kept as the
    /// bytes that were sent (§8.4.2.4 Parameter).
    General { media: Media, params: Vec<u8> },
}

impl ContentType {
    /// The media type as text, when known (`application/vnd.wap.mms-message`).
    pub fn name(&self) -> Option<&str> {
        match self {
            ContentType::WellKnown(c) => media_name(u32::from(*c)),
            ContentType::Text(t) => Some(t),
            ContentType::General { media, .. } => match media {
                Media::Code(c) => media_name(*c),
                Media::Text(t) => Some(t),
            },
        }
    }

    /// The encoded field.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ContentType::WellKnown(c) => vec![0x80 | c],
            ContentType::Text(t) => encode_text(t),
            ContentType::General { media, params } => {
                let mut inner = match media {
                    Media::Code(c) => encode_integer(*c),
                    Media::Text(t) => encode_text(t),
                };
                inner.extend_from_slice(params);
                let mut out = encode_value_length(inner.len());
                out.extend(inner);
                out
            }
        }
    }
}

/// One header of the push (WAP-230 §8.4.2.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WspHeader {
    /// X-Wap-Application-Id (0x2F, §8.4.2.54).
    ApplicationId(AppId),
    /// Content-Length (0x0D, §8.4.2.21), an Integer-value.
    ContentLength(u32),
    /// Encoding-Version (0x43, §8.4.2.70) in its Short-integer form: three bits
    /// of major and four of minor version; minor 15 (None) means "no minor".
    EncodingVersion { major: u8, minor: Option<u8> },
    /// Application-header: Token-text name and Text-string value.
    Text { name: String, value: String },
    /// Any other well-known header, a shift sequence, or a modelled header whose
    /// value has a form not modelled: the bytes as sent, field name included.
    Unknown { bytes: Vec<u8> },
}

impl WspHeader {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            WspHeader::ApplicationId(id) => {
                let mut out = vec![0x80 | field::X_WAP_APPLICATION_ID];
                match id {
                    AppId::Code(c) => out.extend(encode_integer(*c)),
                    AppId::Text(t) => out.extend(encode_text(t)),
                }
                out
            }
            WspHeader::ContentLength(n) => {
                let mut out = vec![0x80 | field::CONTENT_LENGTH];
                out.extend(encode_integer(*n));
                out
            }
            WspHeader::EncodingVersion { major, minor } => vec![
                0x80 | field::ENCODING_VERSION,
                0x80 | ((major & 0x07) << 4) | minor.map_or(0x0F, |m| m & 0x0F),
            ],
            WspHeader::Text { name, value } => {
                let mut out = encode_text(name);
                out.extend(encode_text(value));
                out
            }
            WspHeader::Unknown { bytes } => bytes.clone(),
        }
    }
}

/// Why bytes are not a WSP push PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WspError {
    /// No bytes at all.
    Empty,
    /// The input ends inside `what`, which started at offset `at`.
    Truncated {
        what: &'static str,
        at: usize,
        bytes: Vec<u8>,
    },
    /// A uintvar (§8.1.2) longer than five octets or above `u32::MAX`.
    UintvarOverflow { at: usize, bytes: Vec<u8> },
    /// The PDU type is neither Push (0x06) nor ConfirmedPush (0x07).
    NotPush { pdu_type: u8 },
    /// HeadersLen says more than the PDU holds.
    HeadersTooLong { declared: u32, available: usize },
    /// A value inside the headers is malformed (a length running past its
    /// container, an integer too long for u32, …).
    BadValue {
        what: &'static str,
        at: usize,
        bytes: Vec<u8>,
    },
}

impl fmt::Display for WspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WspError::Empty => f.write_str("WSP push: no bytes"),
            WspError::Truncated { what, at, bytes } => write!(
                f,
                "WSP push: input ends inside the {what} at offset {at}: {}",
                escape_bytes(bytes, SHOW)
            ),
            WspError::UintvarOverflow { at, bytes } => write!(
                f,
                "WSP push: uintvar at offset {at} exceeds 32 bits or 5 octets: {}",
                escape_bytes(bytes, SHOW)
            ),
            WspError::NotPush { pdu_type } => write!(
                f,
                "WSP push: PDU type {pdu_type:#04x} is neither Push (0x06) nor ConfirmedPush (0x07)"
            ),
            WspError::HeadersTooLong {
                declared,
                available,
            } => write!(
                f,
                "WSP push: HeadersLen {declared} but only {available} octets follow"
            ),
            WspError::BadValue { what, at, bytes } => write!(
                f,
                "WSP push: malformed {what} at offset {at}: {}",
                escape_bytes(bytes, SHOW)
            ),
        }
    }
}

impl std::error::Error for WspError {}

/// A connectionless WSP Push or ConfirmedPush PDU (WAP-230 §8.2.4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPdu {
    pub tid: u8,
    /// 0x06 Push, 0x07 ConfirmedPush.
    pub pdu_type: u8,
    pub content_type: ContentType,
    pub headers: Vec<WspHeader>,
    pub body: Vec<u8>,
    raw: Vec<u8>,
}

impl PushPdu {
    /// A PDU from its fields; [`PushPdu::raw`] is then its encoding.
    pub fn new(
        tid: u8,
        pdu_type: u8,
        content_type: ContentType,
        headers: Vec<WspHeader>,
        body: Vec<u8>,
    ) -> PushPdu {
        let mut pdu = PushPdu {
            tid,
            pdu_type,
            content_type,
            headers,
            body,
            raw: Vec::new(),
        };
        pdu.raw = pdu.encode();
        pdu
    }

    /// Read one push PDU; everything after the headers is the body.
    pub fn parse(bytes: &[u8]) -> Result<PushPdu, WspError> {
        let (&tid, rest) = bytes.split_first().ok_or(WspError::Empty)?;
        let &pdu_type = rest.first().ok_or_else(|| WspError::Truncated {
            what: "PDU type",
            at: 1,
            bytes: bytes.to_vec(),
        })?;
        if pdu_type != PDU_PUSH && pdu_type != PDU_CONFIRMED_PUSH {
            return Err(WspError::NotPush { pdu_type });
        }
        let (hlen, n) = decode_uintvar(&bytes[2..]).map_err(|e| shift_error(e, 2))?;
        let start = 2 + n;
        let available = bytes.len() - start;
        let end = usize::try_from(hlen)
            .ok()
            .filter(|&h| h <= available)
            .map(|h| start + h)
            .ok_or(WspError::HeadersTooLong {
                declared: hlen,
                available,
            })?;
        let block = &bytes[start..end];
        if block.is_empty() {
            return Err(WspError::Truncated {
                what: "content type",
                at: start,
                bytes: bytes[start..].to_vec(),
            });
        }
        let (content_type, used) = parse_content_type(block).map_err(|e| shift_error(e, start))?;
        let mut headers = Vec::new();
        let mut pos = used;
        while pos < block.len() {
            let (header, used) =
                parse_header(&block[pos..]).map_err(|e| shift_error(e, start + pos))?;
            headers.push(header);
            pos += used;
        }
        Ok(PushPdu {
            tid,
            pdu_type,
            content_type,
            headers,
            body: bytes[end..].to_vec(),
            raw: bytes.to_vec(),
        })
    }

    /// The bytes this PDU was read from (or built as).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The fields, encoded canonically.
    pub fn encode(&self) -> Vec<u8> {
        let mut block = self.content_type.encode();
        for h in &self.headers {
            block.extend(h.encode());
        }
        let mut out = vec![self.tid, self.pdu_type];
        out.extend(encode_uintvar(
            u32::try_from(block.len()).unwrap_or(u32::MAX),
        ));
        out.extend(block);
        out.extend_from_slice(&self.body);
        out
    }

    /// The first X-Wap-Application-Id, if any.
    pub fn application_id(&self) -> Option<&AppId> {
        self.headers.iter().find_map(|h| match h {
            WspHeader::ApplicationId(id) => Some(id),
            _ => None,
        })
    }

    /// The first Content-Length, if any.
    pub fn content_length(&self) -> Option<u32> {
        self.headers.iter().find_map(|h| match h {
            WspHeader::ContentLength(n) => Some(*n),
            _ => None,
        })
    }

    pub fn is_confirmed(&self) -> bool {
        self.pdu_type == PDU_CONFIRMED_PUSH
    }
}

/// Build a Push (0x06) with a content type, one X-Wap-Application-Id and a body.
pub fn push_pdu(tid: u8, content_type: ContentType, app_id: AppId, body: &[u8]) -> Vec<u8> {
    PushPdu::new(
        tid,
        PDU_PUSH,
        content_type,
        vec![WspHeader::ApplicationId(app_id)],
        body.to_vec(),
    )
    .encode()
}

fn shift_error(e: WspError, by: usize) -> WspError {
    match e {
        WspError::Truncated { what, at, bytes } => WspError::Truncated {
            what,
            at: at + by,
            bytes,
        },
        WspError::UintvarOverflow { at, bytes } => WspError::UintvarOverflow { at: at + by, bytes },
        WspError::BadValue { what, at, bytes } => WspError::BadValue {
            what,
            at: at + by,
            bytes,
        },
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Primitive encodings (WAP-230 §8.1.2, §8.4.2.1)
// ---------------------------------------------------------------------------

/// Encode a uintvar (WAP-230 §8.1.2): 7 bits an octet, most significant first,
/// the continue bit (0x80) on all but the last.
pub fn encode_uintvar(mut v: u32) -> Vec<u8> {
    let mut out = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        out.push(0x80 | (v & 0x7F) as u8);
        v >>= 7;
    }
    out.reverse();
    out
}

/// Decode a uintvar at the start of `bytes`: the value and how many octets it
/// took. At most five octets (§8.1.2: "32-bit integer"); leading 0x80 octets
/// (non-minimal) are accepted.
pub fn decode_uintvar(bytes: &[u8]) -> Result<(u32, usize), WspError> {
    let mut v: u32 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i == 5 || v > (u32::MAX >> 7) {
            return Err(WspError::UintvarOverflow {
                at: 0,
                bytes: bytes[..=i].to_vec(),
            });
        }
        v = (v << 7) | u32::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(WspError::Truncated {
        what: "uintvar",
        at: 0,
        bytes: bytes.to_vec(),
    })
}

/// Text-string (§8.4.2.1): a Quote (0x7F) first when the text starts with an
/// octet ≥ 128, then the text and a NUL. A text that starts with an octet that
/// is not TEXT (the decoder keeps what came after a Quote) gets the Quote too:
/// without it a control octet would read as a length, and a 0x7F as the Quote.
fn encode_text(t: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.len() + 2);
    if t.as_bytes()
        .first()
        .is_some_and(|&b| !(0x20..0x7F).contains(&b))
    {
        out.push(0x7F);
    }
    out.extend_from_slice(t.as_bytes());
    out.push(0);
    out
}

/// Integer-value (§8.4.2.3): a Short-integer below 128, else a Long-integer
/// (Short-length then big-endian octets, minimal).
fn encode_integer(v: u32) -> Vec<u8> {
    if v < 0x80 {
        return vec![0x80 | v as u8];
    }
    let be = v.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    let mut out = vec![(4 - skip) as u8];
    out.extend_from_slice(&be[skip..]);
    out
}

/// Value-length (§8.4.2.2): a Short-length up to 30, else 31 and a uintvar.
fn encode_value_length(n: usize) -> Vec<u8> {
    if n <= 30 {
        vec![n as u8]
    } else {
        let mut out = vec![31];
        out.extend(encode_uintvar(u32::try_from(n).unwrap_or(u32::MAX)));
        out
    }
}

/// A Text-string at the start of `b`: the text (lossy UTF-8, Quote dropped) and
/// the octets taken, NUL included.
fn read_text(b: &[u8], what: &'static str) -> Result<(String, usize), WspError> {
    let nul = b.iter().position(|&x| x == 0).ok_or(WspError::Truncated {
        what,
        at: 0,
        bytes: b.to_vec(),
    })?;
    let text = b[..nul].strip_prefix(&[0x7F]).unwrap_or(&b[..nul]);
    Ok((String::from_utf8_lossy(text).into_owned(), nul + 1))
}

/// A media type or application id as Text-string: [`read_text`], refusing the
/// empty text (`7F 00`, named `empty` in the error), which is none and whose
/// canonical form, a lone NUL, reads as a zero Value-length.
fn read_name_text(
    b: &[u8],
    what: &'static str,
    empty: &'static str,
) -> Result<(String, usize), WspError> {
    let (t, used) = read_text(b, what)?;
    if t.is_empty() {
        return Err(WspError::BadValue {
            what: empty,
            at: 0,
            bytes: b.to_vec(),
        });
    }
    Ok((t, used))
}

/// A Value-length at the start of `b`: the length and the octets it took.
fn read_value_length(b: &[u8]) -> Result<(usize, usize), WspError> {
    match b.first() {
        Some(&n) if n <= 30 => Ok((usize::from(n), 1)),
        Some(31) => {
            let (n, used) = decode_uintvar(&b[1..]).map_err(|e| shift_error(e, 1))?;
            Ok((usize::try_from(n).unwrap_or(usize::MAX), 1 + used))
        }
        _ => Err(WspError::BadValue {
            what: "value length",
            at: 0,
            bytes: b.to_vec(),
        }),
    }
}

/// An Integer-value at the start of `b`: Short-integer or Long-integer up to 4
/// octets.
fn read_integer(b: &[u8], what: &'static str) -> Result<(u32, usize), WspError> {
    match b.first() {
        None => Err(WspError::Truncated {
            what,
            at: 0,
            bytes: Vec::new(),
        }),
        Some(&s) if s >= 0x80 => Ok((u32::from(s & 0x7F), 1)),
        Some(&n) if (1..=30).contains(&n) => {
            let n = usize::from(n);
            let digits = b.get(1..=n).ok_or(WspError::Truncated {
                what,
                at: 0,
                bytes: b.to_vec(),
            })?;
            let significant = &digits[digits.iter().take_while(|&&d| d == 0).count()..];
            if significant.len() > 4 {
                return Err(WspError::BadValue {
                    what,
                    at: 0,
                    bytes: b[..=n].to_vec(),
                });
            }
            let v = significant
                .iter()
                .fold(0u32, |acc, &d| (acc << 8) | u32::from(d));
            Ok((v, 1 + n))
        }
        Some(_) => Err(WspError::BadValue {
            what,
            at: 0,
            bytes: b.to_vec(),
        }),
    }
}

/// The content type at the start of the header block (and the octets it
/// took; `b` must not be empty).
pub(crate) fn parse_content_type(b: &[u8]) -> Result<(ContentType, usize), WspError> {
    match b[0] {
        0x80..=0xFF => Ok((ContentType::WellKnown(b[0] & 0x7F), 1)),
        0x20..=0x7F => {
            let (t, used) = read_name_text(b, "content type", "content type (empty text)")?;
            Ok((ContentType::Text(t), used))
        }
        _ => {
            let (len, lused) = read_value_length(b).map_err(|e| match e {
                WspError::BadValue { at, bytes, .. } => WspError::BadValue {
                    what: "content type",
                    at,
                    bytes,
                },
                other => other,
            })?;
            let inner = b
                .get(lused..)
                .and_then(|r| r.get(..len))
                .ok_or(WspError::Truncated {
                    what: "content type",
                    at: 0,
                    bytes: b.to_vec(),
                })?;
            let (media, mused) = match inner.first() {
                None => {
                    return Err(WspError::BadValue {
                        what: "content type (empty general form)",
                        at: 0,
                        bytes: b[..lused].to_vec(),
                    })
                }
                Some(&c) if (0x20..0x80).contains(&c) => {
                    let (t, u) = read_name_text(
                        inner,
                        "content type media",
                        "content type media (empty text)",
                    )
                    .map_err(|e| shift_error(e, lused))?;
                    (Media::Text(t), u)
                }
                Some(_) => {
                    let (c, u) = read_integer(inner, "content type media")
                        .map_err(|e| shift_error(e, lused))?;
                    (Media::Code(c), u)
                }
            };
            Ok((
                ContentType::General {
                    media,
                    params: inner[mused..].to_vec(),
                },
                lused + len,
            ))
        }
    }
}

/// How many octets the value at the start of `b` takes (§8.4.1.2: the first
/// octet tells the form), without reading it.
fn value_extent(b: &[u8]) -> Result<usize, WspError> {
    match b.first() {
        None => Err(WspError::Truncated {
            what: "header value",
            at: 0,
            bytes: Vec::new(),
        }),
        Some(&x) if x >= 0x80 => Ok(1),
        Some(&x) if x >= 0x20 => {
            b.iter()
                .position(|&c| c == 0)
                .map(|p| p + 1)
                .ok_or(WspError::Truncated {
                    what: "header value",
                    at: 0,
                    bytes: b.to_vec(),
                })
        }
        Some(_) => {
            let (len, used) = read_value_length(b)?;
            used.checked_add(len)
                .filter(|&end| end <= b.len())
                .ok_or(WspError::Truncated {
                    what: "header value",
                    at: 0,
                    bytes: b.to_vec(),
                })
        }
    }
}

/// One header at the start of `b` and the octets it took (`b` must not be
/// empty).
pub(crate) fn parse_header(b: &[u8]) -> Result<(WspHeader, usize), WspError> {
    let first = b[0];
    match first {
        // Shift-delimiter and page, or Short-cut-shift-delimiter (§8.4.2.6).
        0x7F => {
            let page = b.get(..2).ok_or(WspError::Truncated {
                what: "shift sequence",
                at: 0,
                bytes: b.to_vec(),
            })?;
            Ok((
                WspHeader::Unknown {
                    bytes: page.to_vec(),
                },
                2,
            ))
        }
        0x01..=0x1F => Ok((WspHeader::Unknown { bytes: vec![first] }, 1)),
        0x00 => Err(WspError::BadValue {
            what: "header field name",
            at: 0,
            bytes: b.to_vec(),
        }),
        0x20..=0x7E => {
            let (name, nused) = read_text(b, "header name")?;
            let (value, vused) =
                read_text(&b[nused..], "header value").map_err(|e| shift_error(e, nused))?;
            Ok((WspHeader::Text { name, value }, nused + vused))
        }
        0x80..=0xFF => {
            let vlen = value_extent(&b[1..]).map_err(|e| shift_error(e, 1))?;
            let all = &b[..1 + vlen];
            let value = &all[1..];
            let code = first & 0x7F;
            let unknown = || WspHeader::Unknown {
                bytes: all.to_vec(),
            };
            let header = match code {
                field::X_WAP_APPLICATION_ID => {
                    if (0x20..0x80).contains(&value[0]) {
                        match read_name_text(value, "application id", "application id") {
                            Ok((t, _)) => WspHeader::ApplicationId(AppId::Text(t)),
                            Err(_) => unknown(),
                        }
                    } else {
                        match read_integer(value, "application id") {
                            Ok((c, _)) => WspHeader::ApplicationId(AppId::Code(c)),
                            Err(_) => unknown(),
                        }
                    }
                }
                field::CONTENT_LENGTH => match read_integer(value, "content length") {
                    Ok((n, _)) => WspHeader::ContentLength(n),
                    Err(_) => unknown(),
                },
                field::ENCODING_VERSION if value[0] >= 0x80 => {
                    let v = value[0] & 0x7F;
                    WspHeader::EncodingVersion {
                        major: v >> 4,
                        minor: (v & 0x0F != 0x0F).then_some(v & 0x0F),
                    }
                }
                _ => unknown(),
            };
            Ok((header, 1 + vlen))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn uintvar_round_trip_and_limits() {
        for (v, enc) in [
            (0u32, vec![0x00]),
            (0x7F, vec![0x7F]),
            (0x80, vec![0x81, 0x00]),
            (0x3FFF, vec![0xFF, 0x7F]),
            (u32::MAX, vec![0x8F, 0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            assert_eq!(encode_uintvar(v), enc, "{v}");
            assert_eq!(decode_uintvar(&enc), Ok((v, enc.len())));
        }
        assert!(matches!(
            decode_uintvar(&[0x90, 0x80, 0x80, 0x80, 0x00]),
            Err(WspError::UintvarOverflow { .. })
        ));
        assert!(matches!(
            decode_uintvar(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(WspError::UintvarOverflow { .. })
        ));
        assert!(matches!(
            decode_uintvar(&[0x81]),
            Err(WspError::Truncated {
                what: "uintvar",
                ..
            })
        ));
        // Non-minimal but in range.
        assert_eq!(decode_uintvar(&[0x80, 0x05]), Ok((5, 2)));
    }

    #[test]
    fn integers_and_lengths() {
        assert_eq!(encode_integer(4), vec![0x84]);
        assert_eq!(encode_integer(0x8002), vec![0x02, 0x80, 0x02]);
        assert_eq!(read_integer(&[0x02, 0x80, 0x02], "x"), Ok((0x8002, 3)));
        assert_eq!(encode_value_length(30), vec![30]);
        assert_eq!(encode_value_length(31), vec![31, 31]);
        assert_eq!(encode_text("\u{e9}"), vec![0x7F, 0xC3, 0xA9, 0]);
    }

    #[test]
    fn push_pdu_mms() {
        let pdu = push_pdu(
            0x01,
            ContentType::WellKnown(media::MMS_MESSAGE),
            AppId::MMS_UA,
            &[0x8C, 0x82],
        );
        insta::assert_snapshot!(hex(&pdu));
    }

    #[test]
    fn push_pdu_emn_text() {
        let pdu = push_pdu(
            0x2A,
            ContentType::Text("application/vnd.wap.emn+wbxml".into()),
            AppId::EMN_UA,
            b"\x03\x0d\x6a\x00",
        );
        insta::assert_snapshot!(hex(&pdu));
    }

    #[test]
    fn push_pdu_text_app_id() {
        let pdu = PushPdu::new(
            0x07,
            PDU_CONFIRMED_PUSH,
            ContentType::General {
                media: Media::Text("text/plain".into()),
                params: vec![0x81, 0xEA],
            },
            vec![
                WspHeader::ApplicationId(AppId::Text("x-oma-application:liaison.ua".into())),
                WspHeader::ContentLength(300),
                WspHeader::EncodingVersion {
                    major: 1,
                    minor: Some(3),
                },
            ],
            b"hi".to_vec(),
        );
        insta::assert_snapshot!(hex(pdu.raw()));
        assert_eq!(PushPdu::parse(pdu.raw()).unwrap(), pdu);
    }

    /// Inputs the fuzz target (`fuzz/fuzz_targets/wsp.rs`) found: the canonical
    /// encoding of each parsed PDU must read back to the same fields.
    #[test]
    fn fuzz_findings_read_back_canonically() {
        let fields = |p: &PushPdu| {
            (
                p.tid,
                p.pdu_type,
                p.content_type.clone(),
                p.headers.clone(),
                p.body.clone(),
            )
        };
        let cases: &[&[u8]] = &[
            // Texts after a Quote that start with a control octet or 0x7F: in a
            // content type, a media, an application id, a header value.
            b"\x01\x06\x03\x7F\x01\x00",
            b"\x01\x06\x04\x03\x7F\x01\x00",
            b"\x01\x06\x05\x84\xAF\x7F\x01\x00",
            b"\x01\x06\x06\x84\xAF\x7F\x7Fa\x00",
            b"\x01\x06\x07\x84a\x00\x7F\x7Fb\x00",
        ];
        for &b in cases {
            let p = PushPdu::parse(b).unwrap_or_else(|e| panic!("{}: {e}", hex(b)));
            let canon = p.encode();
            let back = PushPdu::parse(&canon)
                .unwrap_or_else(|e| panic!("canonical {} of {}: {e}", hex(&canon), hex(b)));
            assert_eq!(fields(&back), fields(&p), "{} as {}", hex(b), hex(&canon));
        }
        // An empty media text is no content type (its canonical form, a lone
        // NUL, is a zero Value-length): the fuzzer's input, a general form
        // whose media is Quote + empty text, and the constrained form.
        let found = b"\x03\x06\x26\x0A\x7F\x00\xFF\xFF\xFF*\x03\x0Dapp\x06\x03\x0Dapp\x06&appm&appmae\x00\xAF\x8D\xA0\xC3*\x00\xC3\x93\x8C\x82\x98k$\x00\x00\x00ae\x00)";
        let e = PushPdu::parse(found).unwrap_err();
        assert!(matches!(e, WspError::BadValue { at: 4, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "WSP push: malformed content type media (empty text) at offset 4: \\x7F\\x00\\xFF\\xFF\\xFF*\\x03\\rap"
        );
        assert!(matches!(
            PushPdu::parse(b"\x01\x06\x02\x7F\x00"),
            Err(WspError::BadValue { at: 3, .. })
        ));
        // An empty application id is kept as bytes.
        let p = PushPdu::parse(b"\x01\x06\x04\x84\xAF\x7F\x00").unwrap();
        assert_eq!(
            p.headers,
            [WspHeader::Unknown {
                bytes: vec![0xAF, 0x7F, 0x00]
            }]
        );
    }

    #[test]
    fn app_id_names() {
        assert_eq!(AppId::Code(4).name(), Some("x-wap-application:mms.ua"));
        assert_eq!(AppId::Code(1).name(), Some("x-wap-application:push.sia"));
        assert_eq!(AppId::code_of("x-wap-application:emn.ua"), Some(9));
        assert_eq!(AppId::Code(0x8002).name(), None);
        assert_eq!(AppId::Code(4).to_string(), "x-wap-application:mms.ua (0x4)");
    }
}
