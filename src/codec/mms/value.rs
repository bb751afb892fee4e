//! The value encodings of MMS headers (OMA-MMS-ENC §7.2, which borrows WAP-230
//! §8.4.2's basic rules) and the token types of the MMS fields.
//!
//! Readers work on a [`Cursor`] over the whole PDU so that every error carries an
//! offset from the PDU's first octet. Writers append to a `Vec<u8>` and always use
//! the canonical (shortest) form.

use super::error::MmsError;
use crate::codec::wsp::{decode_uintvar, encode_uintvar};

// ---------------------------------------------------------------------------
// Cursor
// ---------------------------------------------------------------------------

/// A read position in a bounded window of the PDU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// The same buffer, limited to `pos..end` (absolute offsets).
    pub(crate) fn window(&self, pos: usize, end: usize) -> Cursor<'a> {
        Cursor {
            buf: self.buf,
            pos,
            end: end.min(self.buf.len()),
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.buf[self.pos])
    }

    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, MmsError> {
        let b = self.peek().ok_or(MmsError::Truncated {
            what,
            at: self.pos,
            need: 1,
        })?;
        self.pos += 1;
        Ok(b)
    }

    /// `n` octets; a shortfall is reported from `start` (where the value began).
    pub(crate) fn take(
        &mut self,
        n: usize,
        what: &'static str,
        start: usize,
    ) -> Result<&'a [u8], MmsError> {
        if n > self.remaining() {
            return Err(MmsError::Truncated {
                what,
                at: start,
                need: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The octets from `from` to the current position.
    pub(crate) fn since(&self, from: usize) -> &'a [u8] {
        &self.buf[from..self.pos]
    }

    /// The rest of the window, consumed.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.end)..self.end];
        self.pos = self.end;
        s
    }

    /// A uintvar (WAP-230 §8.1.2).
    pub(crate) fn uintvar(&mut self, what: &'static str) -> Result<u32, MmsError> {
        let start = self.pos;
        let window = &self.buf[self.pos.min(self.end)..self.end];
        match decode_uintvar(window) {
            Ok((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            Err(crate::codec::wsp::WspError::UintvarOverflow { .. }) => {
                Err(MmsError::UintvarOverflow { what, at: start })
            }
            Err(_) => Err(MmsError::Truncated {
                what,
                at: start,
                need: 1,
            }),
        }
    }

    /// A uintvar in its minimal form (no leading 0x80 octet), so that the value
    /// written back is the octets read.
    pub(crate) fn uintvar_minimal(&mut self, what: &'static str) -> Result<u32, MmsError> {
        if self.peek() == Some(0x80) {
            return Err(MmsError::BadValue {
                what,
                at: self.pos,
                reason: "uintvar starts with 0x80 (not minimal)",
            });
        }
        self.uintvar(what)
    }

    /// A Value-length (WAP-230 §8.4.2.2): Short-length 0..=30, or 31 and a
    /// uintvar; checked against what remains of the window.
    pub(crate) fn value_length(&mut self, what: &'static str) -> Result<usize, MmsError> {
        let start = self.pos;
        let n = match self.byte(what)? {
            n @ 0..=30 => usize::from(n),
            31 => usize::try_from(self.uintvar(what)?).unwrap_or(usize::MAX),
            _ => {
                return Err(MmsError::BadValue {
                    what,
                    at: start,
                    reason: "expected a value length (0..=31)",
                })
            }
        };
        if n > self.remaining() {
            return Err(MmsError::BadValueLength {
                what,
                at: start,
                declared: n,
                available: self.remaining(),
            });
        }
        Ok(n)
    }

    /// A NUL-terminated string's octets (NUL excluded, NUL consumed).
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<&'a [u8], MmsError> {
        let start = self.pos;
        let window = &self.buf[self.pos.min(self.end)..self.end];
        let nul = window
            .iter()
            .position(|&b| b == 0)
            .ok_or(MmsError::Truncated {
                what,
                at: start,
                need: 1,
            })?;
        self.pos += nul + 1;
        Ok(&window[..nul])
    }

    /// How many octets the value at the cursor takes, by its first octet
    /// (WAP-230 §8.4.1.2): 0..=30 a Short-length and that many octets, 31 a
    /// uintvar length, 32..=127 a text up to its NUL, 128..=255 one octet.
    /// The cursor does not move.
    pub(crate) fn extent(&self, what: &'static str) -> Result<usize, MmsError> {
        let mut c = *self;
        match c.peek() {
            None => Err(MmsError::Truncated {
                what,
                at: self.pos,
                need: 1,
            }),
            Some(0x80..=0xFF) => Ok(1),
            Some(0x20..=0x7F) => {
                c.cstr(what)?;
                Ok(c.pos - self.pos)
            }
            Some(_) => {
                let n = c.value_length(what)?;
                Ok(c.pos - self.pos + n)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Primitive writers
// ---------------------------------------------------------------------------

/// Short-integer (WAP-230 §8.4.2.1): `v | 0x80`, v < 128.
pub fn put_short(out: &mut Vec<u8>, v: u8) {
    out.push(0x80 | (v & 0x7F));
}

/// Long-integer (WAP-230 §8.4.2.1): Short-length then big-endian octets, minimal
/// (zero is one 0x00 octet).
pub fn put_long(out: &mut Vec<u8>, v: u64) {
    let be = v.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count().min(7);
    out.push((8 - skip) as u8);
    out.extend_from_slice(&be[skip..]);
}

/// Integer-value (WAP-230 §8.4.2.3): a Short-integer below 128, else a
/// Long-integer.
pub fn put_integer(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        put_short(out, v as u8);
    } else {
        put_long(out, v);
    }
}

/// Value-length (WAP-230 §8.4.2.2).
pub fn put_value_length(out: &mut Vec<u8>, n: usize) {
    if n <= 30 {
        out.push(n as u8);
    } else {
        out.push(31);
        out.extend(encode_uintvar(u32::try_from(n).unwrap_or(u32::MAX)));
    }
}

/// Uintvar (WAP-230 §8.1.2), from the WSP codec.
pub fn put_uintvar(out: &mut Vec<u8>, v: u32) {
    out.extend(encode_uintvar(v));
}

/// Text-string (WAP-230 §8.4.2.1): a Quote (0x7F) first when the first octet is
/// 128 or more, then the text and a NUL. A text that starts with an octet
/// that is not TEXT (the decoder keeps what came after a Quote) gets the Quote
/// too: without it a control octet below 32 would read as a Value-length, and a
/// 0x7F as the Quote.
pub fn put_text(out: &mut Vec<u8>, t: &[u8]) {
    if t.first().is_some_and(|&b| !(0x20..0x7F).contains(&b)) {
        out.push(0x7F);
    }
    out.extend_from_slice(t);
    out.push(0);
}

/// Quoted-string (WAP-230 §8.4.2.1): 0x22, the text, a NUL.
pub fn put_quoted(out: &mut Vec<u8>, t: &[u8]) {
    out.push(0x22);
    out.extend_from_slice(t);
    out.push(0);
}

/// A value wrapped in its Value-length.
pub fn put_with_length(out: &mut Vec<u8>, inner: &[u8]) {
    put_value_length(out, inner.len());
    out.extend_from_slice(inner);
}

// ---------------------------------------------------------------------------
// Primitive readers over a complete value (the octets `extent` delimited)
// ---------------------------------------------------------------------------

/// A Long-integer filling `v` exactly; `None` when it is not one or exceeds 64
/// bits.
pub(crate) fn long_of(v: &[u8]) -> Option<u64> {
    let (&n, digits) = v.split_first()?;
    if !(1..=8).contains(&n) || digits.len() != usize::from(n) {
        return None;
    }
    Some(digits.iter().fold(0u64, |a, &d| (a << 8) | u64::from(d)))
}

/// An Integer-value filling `v` exactly.
pub(crate) fn integer_of(v: &[u8]) -> Option<u64> {
    match v {
        [s] if *s >= 0x80 => Some(u64::from(s & 0x7F)),
        _ => long_of(v),
    }
}

/// A Text-string filling `v` exactly (NUL included): its octets, Quote dropped.
pub(crate) fn text_of(v: &[u8]) -> Option<&[u8]> {
    let body = v.strip_suffix(&[0])?;
    if body.contains(&0) {
        return None;
    }
    Some(body.strip_prefix(&[0x7F]).unwrap_or(body))
}

/// The value of a Value-length-prefixed form filling `v` exactly.
pub(crate) fn inner_of(v: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(v);
    let n = c.value_length("value").ok()?;
    (c.remaining() == n).then(|| c.rest())
}

// ---------------------------------------------------------------------------
// Token types (one octet, 0x80 set): OMA-MMS-ENC §7.3
// ---------------------------------------------------------------------------

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident { $($(#[$cdoc:meta])* $konst:ident = $val:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$cdoc])* pub const $konst: $name = $name($val);)*

            /// The name the specification gives this value, if it defines it.
            pub fn name(&self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($text),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{n} ({:#04x})", self.0),
                    None => write!(f, "{:#04x}", self.0),
                }
            }
        }
    };
}

token_type! {
    /// X-Mms-Message-Type (OMA-MMS-ENC §7.3.30; 1.3 adds the mbox, delete and
    /// cancel PDUs up to 0x97).
    MessageType {
        SEND_REQ = 0x80, "m-send-req";
        SEND_CONF = 0x81, "m-send-conf";
        NOTIFICATION_IND = 0x82, "m-notification-ind";
        NOTIFYRESP_IND = 0x83, "m-notifyresp-ind";
        RETRIEVE_CONF = 0x84, "m-retrieve-conf";
        ACKNOWLEDGE_IND = 0x85, "m-acknowledge-ind";
        DELIVERY_IND = 0x86, "m-delivery-ind";
        READ_REC_IND = 0x87, "m-read-rec-ind";
        READ_ORIG_IND = 0x88, "m-read-orig-ind";
        FORWARD_REQ = 0x89, "m-forward-req";
        FORWARD_CONF = 0x8A, "m-forward-conf";
        MBOX_STORE_REQ = 0x8B, "m-mbox-store-req";
        MBOX_STORE_CONF = 0x8C, "m-mbox-store-conf";
        MBOX_VIEW_REQ = 0x8D, "m-mbox-view-req";
        MBOX_VIEW_CONF = 0x8E, "m-mbox-view-conf";
        MBOX_UPLOAD_REQ = 0x8F, "m-mbox-upload-req";
        MBOX_UPLOAD_CONF = 0x90, "m-mbox-upload-conf";
        MBOX_DELETE_REQ = 0x91, "m-mbox-delete-req";
        MBOX_DELETE_CONF = 0x92, "m-mbox-delete-conf";
        MBOX_DESCR = 0x93, "m-mbox-descr";
        DELETE_REQ = 0x94, "m-delete-req";
        DELETE_CONF = 0x95, "m-delete-conf";
        CANCEL_REQ = 0x96, "m-cancel-req";
        CANCEL_CONF = 0x97, "m-cancel-conf";
    }
}

impl MessageType {
    /// Whether the PDU carries an X-Mms-Transaction-ID (OMA-MMS-ENC §6: all but
    /// M-Delivery.ind, M-Read-Orig.ind, M-Read-Rec.ind and M-Mbox-Descr; optional
    /// in M-Retrieve.conf).
    pub fn has_transaction_id(&self) -> bool {
        !matches!(self.0, 0x86 | 0x87 | 0x88 | 0x93)
    }

    /// Whether a message body follows the headers (M-Send.req, M-Retrieve.conf,
    /// M-Mbox-Store… and the multipart-carrying mbox PDUs).
    pub fn has_body(&self) -> bool {
        matches!(self.0, 0x80 | 0x84 | 0x8E | 0x8F | 0x93)
    }
}

token_type! {
    /// X-Mms-Status (OMA-MMS-ENC §7.3.54).
    Status {
        EXPIRED = 0x80, "Expired";
        RETRIEVED = 0x81, "Retrieved";
        REJECTED = 0x82, "Rejected";
        DEFERRED = 0x83, "Deferred";
        UNRECOGNISED = 0x84, "Unrecognised";
        INDETERMINATE = 0x85, "Indeterminate";
        FORWARDED = 0x86, "Forwarded";
        UNREACHABLE = 0x87, "Unreachable";
    }
}

token_type! {
    /// X-Mms-Response-Status (OMA-MMS-ENC §7.3.48): 0x80 Ok, 0x81..0x88 the
    /// obsolete 1.0 codes, 0xC0.. transient and 0xE0.. permanent failures.
    ResponseStatus {
        OK = 0x80, "Ok";
        ERROR_UNSPECIFIED = 0x81, "Error-unspecified";
        ERROR_SERVICE_DENIED = 0x82, "Error-service-denied";
        ERROR_MESSAGE_FORMAT_CORRUPT = 0x83, "Error-message-format-corrupt";
        ERROR_SENDING_ADDRESS_UNRESOLVED = 0x84, "Error-sending-address-unresolved";
        ERROR_MESSAGE_NOT_FOUND = 0x85, "Error-message-not-found";
        ERROR_NETWORK_PROBLEM = 0x86, "Error-network-problem";
        ERROR_CONTENT_NOT_ACCEPTED = 0x87, "Error-content-not-accepted";
        ERROR_UNSUPPORTED_MESSAGE = 0x88, "Error-unsupported-message";
        TRANSIENT_FAILURE = 0xC0, "Error-transient-failure";
        TRANSIENT_SENDING_ADDRESS_UNRESOLVED = 0xC1, "Error-transient-sending-address-unresolved";
        TRANSIENT_MESSAGE_NOT_FOUND = 0xC2, "Error-transient-message-not-found";
        TRANSIENT_NETWORK_PROBLEM = 0xC3, "Error-transient-network-problem";
        TRANSIENT_PARTIAL_SUCCESS = 0xC4, "Error-transient-partial-success";
        PERMANENT_FAILURE = 0xE0, "Error-permanent-failure";
        PERMANENT_SERVICE_DENIED = 0xE1, "Error-permanent-service-denied";
        PERMANENT_MESSAGE_FORMAT_CORRUPT = 0xE2, "Error-permanent-message-format-corrupt";
        PERMANENT_SENDING_ADDRESS_UNRESOLVED = 0xE3, "Error-permanent-sending-address-unresolved";
        PERMANENT_MESSAGE_NOT_FOUND = 0xE4, "Error-permanent-message-not-found";
        PERMANENT_CONTENT_NOT_ACCEPTED = 0xE5, "Error-permanent-content-not-accepted";
        PERMANENT_REPLY_CHARGING_LIMITATIONS_NOT_MET = 0xE6, "Error-permanent-reply-charging-limitations-not-met";
        PERMANENT_REPLY_CHARGING_REQUEST_NOT_ACCEPTED = 0xE7, "Error-permanent-reply-charging-request-not-accepted";
        PERMANENT_REPLY_CHARGING_FORWARDING_DENIED = 0xE8, "Error-permanent-reply-charging-forwarding-denied";
        PERMANENT_REPLY_CHARGING_NOT_SUPPORTED = 0xE9, "Error-permanent-reply-charging-not-supported";
        PERMANENT_ADDRESS_HIDING_NOT_SUPPORTED = 0xEA, "Error-permanent-address-hiding-not-supported";
        PERMANENT_LACK_OF_PREPAID = 0xEB, "Error-permanent-lack-of-prepaid";
    }
}

impl ResponseStatus {
    /// The class of a status: "ok", "transient", "permanent", or "obsolete"
    /// (the 1.0 codes 0x81..=0x88; §7.3.48 maps unknown 0xC0..0xDF to transient
    /// and 0xE0..0xFF to permanent failure).
    pub fn class(&self) -> &'static str {
        match self.0 {
            0x80 => "ok",
            0xC0..=0xDF => "transient",
            0xE0..=0xFF => "permanent",
            _ => "obsolete",
        }
    }
}

token_type! {
    /// X-Mms-Retrieve-Status (OMA-MMS-ENC §7.3.50).
    RetrieveStatus {
        OK = 0x80, "Ok";
        TRANSIENT_FAILURE = 0xC0, "Error-transient-failure";
        TRANSIENT_MESSAGE_NOT_FOUND = 0xC1, "Error-transient-message-not-found";
        TRANSIENT_NETWORK_PROBLEM = 0xC2, "Error-transient-network-problem";
        PERMANENT_FAILURE = 0xE0, "Error-permanent-failure";
        PERMANENT_SERVICE_DENIED = 0xE1, "Error-permanent-service-denied";
        PERMANENT_MESSAGE_NOT_FOUND = 0xE2, "Error-permanent-message-not-found";
        PERMANENT_CONTENT_UNSUPPORTED = 0xE3, "Error-permanent-content-unsupported";
    }
}

token_type! {
    /// X-Mms-Priority (OMA-MMS-ENC §7.3.35).
    Priority {
        LOW = 0x80, "Low";
        NORMAL = 0x81, "Normal";
        HIGH = 0x82, "High";
    }
}

token_type! {
    /// Yes/No fields such as X-Mms-Delivery-Report (OMA-MMS-ENC §7.3.13).
    YesNo {
        YES = 0x80, "Yes";
        NO = 0x81, "No";
    }
}

/// X-Mms-MMS-Version (OMA-MMS-ENC §7.3.34): a Short-integer whose three high bits
/// are the major and four low bits the minor version (0x0F: no minor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version(pub u8);

impl Version {
    pub const V1_0: Version = Version(0x90);
    pub const V1_1: Version = Version(0x91);
    pub const V1_2: Version = Version(0x92);
    pub const V1_3: Version = Version(0x93);

    pub fn major(&self) -> u8 {
        (self.0 >> 4) & 0x07
    }

    pub fn minor(&self) -> Option<u8> {
        let m = self.0 & 0x0F;
        (m != 0x0F).then_some(m)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.minor() {
            Some(m) => write!(f, "{}.{m}", self.major()),
            None => write!(f, "{}", self.major()),
        }
    }
}

// ---------------------------------------------------------------------------
// Composite values
// ---------------------------------------------------------------------------

/// The IANA MIBenum of UTF-8, the charset of every Encoded-string this crate
/// builds with [`EncodedString::utf8`].
pub const CHARSET_UTF8: u32 = 106;
/// The IANA MIBenum of US-ASCII.
pub const CHARSET_US_ASCII: u32 = 3;

/// The IANA MIBenum of a MIME charset name (case-insensitive), for the
/// charsets a text body of a SIP or SMTP message commonly names (IANA
/// "Character Sets" registry: US-ASCII 3, ISO-8859-1 4, UTF-8 106,
/// UTF-16 1015). `None` for a name this table does not know.
pub fn charset_from_name(name: &str) -> Option<u32> {
    let n = name.trim().trim_matches('"').to_ascii_lowercase();
    Some(match n.as_str() {
        "us-ascii" | "ascii" => CHARSET_US_ASCII,
        "iso-8859-1" | "latin1" => 4,
        "utf-8" | "utf8" => CHARSET_UTF8,
        "utf-16" => 1015,
        _ => return None,
    })
}

/// Encoded-string-value (OMA-MMS-ENC §7.2.9): a Text-string, or Value-length,
/// Char-set (a Well-known-charset as Integer-value, IANA MIBenum) and a
/// Text-string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncodedString {
    /// `None`: the plain Text-string form.
    pub charset: Option<u32>,
    pub text: String,
}

impl EncodedString {
    /// The plain Text-string form (no charset).
    pub fn plain(text: &str) -> EncodedString {
        EncodedString {
            charset: None,
            text: text.to_string(),
        }
    }

    /// The charset form with UTF-8 (106, sent as the Short-integer 0xEA).
    pub fn utf8(text: &str) -> EncodedString {
        EncodedString {
            charset: Some(CHARSET_UTF8),
            text: text.to_string(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.charset {
            None => put_text(out, self.text.as_bytes()),
            Some(cs) => {
                let mut inner = Vec::with_capacity(self.text.len() + 4);
                put_integer(&mut inner, u64::from(cs));
                put_text(&mut inner, self.text.as_bytes());
                put_with_length(out, &inner);
            }
        }
    }

    /// Reads the value `v` (exactly the octets of one value starting at offset
    /// `at`). `Ok(None)`: a form this type does not hold (a textual charset, a
    /// text in a charset other than US-ASCII or UTF-8 that is not UTF-8).
    pub(crate) fn decode(
        v: &[u8],
        at: usize,
        what: &'static str,
    ) -> Result<Option<EncodedString>, MmsError> {
        match v.first() {
            Some(0x01..=0x1F) => {}
            _ => {
                return Ok(text_of(v)
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .map(EncodedString::plain))
            }
        }
        let Some(inner) = inner_of(v) else {
            return Ok(None);
        };
        let cs_len = match inner.first() {
            Some(&b) if b >= 0x80 => 1,
            Some(&n @ 1..=8) => 1 + usize::from(n),
            _ => return Ok(None),
        };
        let Some(charset) = inner.get(..cs_len).and_then(integer_of) else {
            return Ok(None);
        };
        let Some(text) = text_of(&inner[cs_len..]) else {
            return Ok(None);
        };
        let charset = u32::try_from(charset).unwrap_or(u32::MAX);
        let bad = MmsError::BadCharset { what, at, charset };
        let s = match (charset, std::str::from_utf8(text)) {
            (CHARSET_UTF8, Err(_)) => return Err(bad),
            (CHARSET_US_ASCII, _) if !text.is_ascii() => return Err(bad),
            (_, Ok(s)) => s,
            (_, Err(_)) => return Ok(None),
        };
        Ok(Some(EncodedString {
            charset: Some(charset),
            text: s.to_string(),
        }))
    }
}

impl std::fmt::Display for EncodedString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.charset {
            None => write!(f, "{:?}", self.text),
            Some(cs) => write!(f, "{:?} (charset {cs})", self.text),
        }
    }
}

/// Expiry, Delivery-Time, Reply-Charging-Deadline (OMA-MMS-ENC §7.3.12,
/// §7.3.20, §7.3.44): Value-length, then Absolute-token (0x80) and a Date-value,
/// or Relative-token (0x81) and Delta-seconds; both carried as Long-integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeValue {
    /// Seconds since 1970-01-01T00:00:00Z.
    Absolute(u64),
    /// Seconds from now.
    Relative(u64),
}

impl TimeValue {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut inner = Vec::with_capacity(10);
        match self {
            TimeValue::Absolute(t) => {
                inner.push(0x80);
                put_long(&mut inner, *t);
            }
            TimeValue::Relative(s) => {
                inner.push(0x81);
                put_long(&mut inner, *s);
            }
        }
        put_with_length(out, &inner);
    }

    pub(crate) fn decode(v: &[u8]) -> Option<TimeValue> {
        let inner = inner_of(v)?;
        let (&token, rest) = inner.split_first()?;
        let n = integer_of(rest)?;
        match token {
            0x80 => Some(TimeValue::Absolute(n)),
            0x81 => Some(TimeValue::Relative(n)),
            _ => None,
        }
    }
}

/// From (OMA-MMS-ENC §7.3.21): Value-length, then Address-present-token (0x80)
/// and an Encoded-string-value, or Insert-address-token (0x81), which asks the
/// relay to insert the sender's address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FromValue {
    Address(EncodedString),
    InsertAddress,
}

impl FromValue {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut inner = Vec::new();
        match self {
            FromValue::Address(a) => {
                inner.push(0x80);
                a.encode(&mut inner);
            }
            FromValue::InsertAddress => inner.push(0x81),
        }
        put_with_length(out, &inner);
    }

    pub(crate) fn decode(v: &[u8], at: usize) -> Result<Option<FromValue>, MmsError> {
        let Some(inner) = inner_of(v) else {
            return Ok(None);
        };
        let hdr = v.len() - inner.len();
        match inner {
            [0x81] => Ok(Some(FromValue::InsertAddress)),
            [0x80, rest @ ..] => {
                Ok(EncodedString::decode(rest, at + hdr + 1, "From")?.map(FromValue::Address))
            }
            _ => Ok(None),
        }
    }

    /// The address, unless the relay is asked to insert it.
    pub fn address(&self) -> Option<&EncodedString> {
        match self {
            FromValue::Address(a) => Some(a),
            FromValue::InsertAddress => None,
        }
    }
}

/// X-Mms-Message-Class (OMA-MMS-ENC §7.3.27): a Class-identifier token or a
/// Token-text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageClass {
    Personal,
    Advertisement,
    Informational,
    Auto,
    Text(String),
}

impl MessageClass {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MessageClass::Personal => out.push(0x80),
            MessageClass::Advertisement => out.push(0x81),
            MessageClass::Informational => out.push(0x82),
            MessageClass::Auto => out.push(0x83),
            MessageClass::Text(t) => put_text(out, t.as_bytes()),
        }
    }

    pub(crate) fn decode(v: &[u8]) -> Option<MessageClass> {
        match v {
            [0x80] => Some(MessageClass::Personal),
            [0x81] => Some(MessageClass::Advertisement),
            [0x82] => Some(MessageClass::Informational),
            [0x83] => Some(MessageClass::Auto),
            // A Token-text is never empty (and `7F 00`'s canonical form, a lone
            // NUL, is no class): an empty one is kept as octets.
            [b, ..] if *b >= 0x20 && *b < 0x80 => text_of(v)
                .and_then(|t| std::str::from_utf8(t).ok())
                .filter(|s| !s.is_empty())
                .map(|s| MessageClass::Text(s.to_string())),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            MessageClass::Personal => "Personal",
            MessageClass::Advertisement => "Advertisement",
            MessageClass::Informational => "Informational",
            MessageClass::Auto => "Auto",
            MessageClass::Text(t) => t,
        }
    }
}
