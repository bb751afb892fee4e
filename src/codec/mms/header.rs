//! MMS header fields (OMA-MMS-ENC 1.2 and 1.3 §7.4 Table "Field Name
//! Assignments") and typed header values.
//!
//! A well-known field is one octet, `0x80 | code`; an application header is a
//! Token-text name and a Text-string value. Unknown codes, and known codes whose
//! value has a form this module does not model, are kept as their value octets
//! ([`Header::Unknown`]). Values in a valid but not canonical form (a Value-length
//! of 31 and a uintvar below 31, a Long-integer with leading zeros, a superfluous
//! Quote) are typed all the same; the [`super::Pdu`] keeps the octets they came
//! in, so `encode(parse(x)) == x` always holds.

use super::body::ContentType;
use super::error::MmsError;
use super::value::*;

/// How a field's value is encoded (OMA-MMS-ENC §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Encoded-string-value (§7.2.9).
    Encoded,
    /// Text-string (or Uri-value, which is one).
    Text,
    /// Long-integer.
    Long,
    /// Integer-value (Short-integer or Long-integer).
    Integer,
    /// One token octet (0x80..=0xFF).
    Token,
    /// Value-length, Absolute- or Relative-token, Long-integer.
    Time,
    From,
    MessageClass,
    MessageType,
    Version,
    ContentType,
    /// A structured value this module keeps as octets.
    Raw,
}

/// A well-known field code, without the 0x80 bit (`Field::TO.0 == 0x17`, sent as
/// 0x97).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Field(pub u8);

macro_rules! fields {
    ($($konst:ident = $code:literal, $name:literal, $kind:ident;)*) => {
        impl Field {
            $(#[doc = $name] pub const $konst: Field = Field($code);)*
        }

        /// Every field of MMS 1.2 and 1.3: code, name, value kind.
        pub const FIELDS: &[(u8, &str, Kind)] = &[$(($code, $name, Kind::$kind),)*];
    };
}

fields! {
    BCC = 0x01, "Bcc", Encoded;
    CC = 0x02, "Cc", Encoded;
    CONTENT_LOCATION = 0x03, "X-Mms-Content-Location", Text;
    CONTENT_TYPE = 0x04, "Content-Type", ContentType;
    DATE = 0x05, "Date", Long;
    DELIVERY_REPORT = 0x06, "X-Mms-Delivery-Report", Token;
    DELIVERY_TIME = 0x07, "X-Mms-Delivery-Time", Time;
    EXPIRY = 0x08, "X-Mms-Expiry", Time;
    FROM = 0x09, "From", From;
    MESSAGE_CLASS = 0x0A, "X-Mms-Message-Class", MessageClass;
    MESSAGE_ID = 0x0B, "Message-ID", Text;
    MESSAGE_TYPE = 0x0C, "X-Mms-Message-Type", MessageType;
    MMS_VERSION = 0x0D, "X-Mms-MMS-Version", Version;
    MESSAGE_SIZE = 0x0E, "X-Mms-Message-Size", Long;
    PRIORITY = 0x0F, "X-Mms-Priority", Token;
    READ_REPORT = 0x10, "X-Mms-Read-Report", Token;
    REPORT_ALLOWED = 0x11, "X-Mms-Report-Allowed", Token;
    RESPONSE_STATUS = 0x12, "X-Mms-Response-Status", Token;
    RESPONSE_TEXT = 0x13, "X-Mms-Response-Text", Encoded;
    SENDER_VISIBILITY = 0x14, "X-Mms-Sender-Visibility", Token;
    STATUS = 0x15, "X-Mms-Status", Token;
    SUBJECT = 0x16, "Subject", Encoded;
    TO = 0x17, "To", Encoded;
    TRANSACTION_ID = 0x18, "X-Mms-Transaction-ID", Text;
    RETRIEVE_STATUS = 0x19, "X-Mms-Retrieve-Status", Token;
    RETRIEVE_TEXT = 0x1A, "X-Mms-Retrieve-Text", Encoded;
    READ_STATUS = 0x1B, "X-Mms-Read-Status", Token;
    REPLY_CHARGING = 0x1C, "X-Mms-Reply-Charging", Token;
    REPLY_CHARGING_DEADLINE = 0x1D, "X-Mms-Reply-Charging-Deadline", Time;
    REPLY_CHARGING_ID = 0x1E, "X-Mms-Reply-Charging-ID", Text;
    REPLY_CHARGING_SIZE = 0x1F, "X-Mms-Reply-Charging-Size", Long;
    PREVIOUSLY_SENT_BY = 0x20, "X-Mms-Previously-Sent-By", Raw;
    PREVIOUSLY_SENT_DATE = 0x21, "X-Mms-Previously-Sent-Date", Raw;
    STORE = 0x22, "X-Mms-Store", Token;
    MM_STATE = 0x23, "X-Mms-MM-State", Token;
    MM_FLAGS = 0x24, "X-Mms-MM-Flags", Raw;
    STORE_STATUS = 0x25, "X-Mms-Store-Status", Token;
    STORE_STATUS_TEXT = 0x26, "X-Mms-Store-Status-Text", Encoded;
    STORED = 0x27, "X-Mms-Stored", Token;
    ATTRIBUTES = 0x28, "X-Mms-Attributes", Token;
    TOTALS = 0x29, "X-Mms-Totals", Raw;
    MBOX_TOTALS = 0x2A, "X-Mms-Mbox-Totals", Raw;
    QUOTAS = 0x2B, "X-Mms-Quotas", Raw;
    MBOX_QUOTAS = 0x2C, "X-Mms-Mbox-Quotas", Raw;
    MESSAGE_COUNT = 0x2D, "X-Mms-Message-Count", Integer;
    CONTENT = 0x2E, "Content", Raw;
    START = 0x2F, "X-Mms-Start", Integer;
    ADDITIONAL_HEADERS = 0x30, "Additional-headers", Raw;
    DISTRIBUTION_INDICATOR = 0x31, "X-Mms-Distribution-Indicator", Token;
    ELEMENT_DESCRIPTOR = 0x32, "X-Mms-Element-Descriptor", Raw;
    LIMIT = 0x33, "X-Mms-Limit", Integer;
    RECOMMENDED_RETRIEVAL_MODE = 0x34, "X-Mms-Recommended-Retrieval-Mode", Token;
    RECOMMENDED_RETRIEVAL_MODE_TEXT = 0x35, "X-Mms-Recommended-Retrieval-Mode-Text", Encoded;
    STATUS_TEXT = 0x36, "X-Mms-Status-Text", Encoded;
    APPLIC_ID = 0x37, "X-Mms-Applic-ID", Text;
    REPLY_APPLIC_ID = 0x38, "X-Mms-Reply-Applic-ID", Text;
    AUX_APPLIC_INFO = 0x39, "X-Mms-Aux-Applic-Info", Text;
    CONTENT_CLASS = 0x3A, "X-Mms-Content-Class", Token;
    DRM_CONTENT = 0x3B, "X-Mms-DRM-Content", Token;
    ADAPTATION_ALLOWED = 0x3C, "X-Mms-Adaptation-Allowed", Token;
    REPLACE_ID = 0x3D, "X-Mms-Replace-ID", Text;
    CANCEL_ID = 0x3E, "X-Mms-Cancel-ID", Text;
    CANCEL_STATUS = 0x3F, "X-Mms-Cancel-Status", Token;
}

impl Field {
    /// The field's name, or `None` for a code no MMS version assigns.
    pub fn name(&self) -> Option<&'static str> {
        FIELDS.iter().find(|f| f.0 == self.0).map(|f| f.1)
    }

    /// The name, or `"field 0xNN"` for an unassigned code.
    pub fn label(&self) -> String {
        self.name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("field {:#04x}", self.0))
    }

    pub fn kind(&self) -> Kind {
        FIELDS
            .iter()
            .find(|f| f.0 == self.0)
            .map_or(Kind::Raw, |f| f.2)
    }

    /// The field whose name is `name` (case-insensitive), with or without the
    /// `X-Mms-` prefix (MM3 writes e.g. `Applic-ID` where MM1 and MM4 write
    /// `X-Mms-Applic-ID`).
    pub fn by_name(name: &str) -> Option<Field> {
        let bare = |n: &str| {
            let l = n.to_ascii_lowercase();
            l.strip_prefix("x-mms-").map(str::to_string).unwrap_or(l)
        };
        FIELDS
            .iter()
            .find(|f| f.1.eq_ignore_ascii_case(name))
            .or_else(|| FIELDS.iter().find(|f| bare(f.1) == bare(name)))
            .map(|f| Field(f.0))
    }

    /// The octet sent on the wire.
    pub fn wire(&self) -> u8 {
        0x80 | self.0
    }
}

fn static_name(code: u8) -> &'static str {
    Field(code).name().unwrap_or("unassigned header field")
}

/// One header of an MMS PDU, with its value typed by the field's [`Kind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    MessageType(MessageType),
    Version(Version),
    ContentType(ContentType),
    From(FromValue),
    MessageClass(MessageClass),
    /// A Text-string field: Transaction-ID, Message-ID, Content-Location,
    /// Applic-ID, Reply-Applic-ID, Aux-Applic-Info, Replace-ID, Cancel-ID, …
    Text(Field, String),
    /// An Encoded-string-value field: To, Cc, Bcc, Subject, Response-Text, …
    Encoded(Field, EncodedString),
    /// A Long-integer (Date, Message-Size, …) or Integer-value (Message-Count,
    /// Start, Limit) field.
    Integer(Field, u64),
    /// A one-octet token field (Yes/No, Priority, Status, Response-Status, …),
    /// the octet as sent (0x80 set).
    Token(Field, u8),
    /// Expiry, Delivery-Time, Reply-Charging-Deadline.
    Time(Field, TimeValue),
    /// An unassigned well-known code, or a value in a form not modelled: the
    /// value's octets as sent (field octet excluded).
    Unknown {
        field: Field,
        value: Vec<u8>,
    },
    /// Application-header (WAP-230 §8.4.2.6): Token-text name, Text-string value.
    Application {
        name: String,
        value: String,
    },
    /// An application header that is not UTF-8: its octets as sent.
    Opaque(Vec<u8>),
}

impl Header {
    /// The field, for well-known headers.
    pub fn field(&self) -> Option<Field> {
        Some(match self {
            Header::MessageType(_) => Field::MESSAGE_TYPE,
            Header::Version(_) => Field::MMS_VERSION,
            Header::ContentType(_) => Field::CONTENT_TYPE,
            Header::From(_) => Field::FROM,
            Header::MessageClass(_) => Field::MESSAGE_CLASS,
            Header::Text(f, _)
            | Header::Encoded(f, _)
            | Header::Integer(f, _)
            | Header::Token(f, _)
            | Header::Time(f, _)
            | Header::Unknown { field: f, .. } => *f,
            Header::Application { .. } | Header::Opaque(_) => return None,
        })
    }

    /// The header's name as text.
    pub fn name(&self) -> String {
        match self {
            Header::Application { name, .. } => name.clone(),
            Header::Opaque(b) => {
                String::from_utf8_lossy(b.split(|&x| x == 0).next().unwrap_or(b)).into_owned()
            }
            h => h.field().map(|f| f.label()).unwrap_or_default(),
        }
    }

    /// Appends the header (field and value) in its canonical form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(f) = self.field() {
            out.push(f.wire());
        }
        match self {
            Header::MessageType(t) => out.push(t.0 | 0x80),
            Header::Version(v) => out.push(v.0 | 0x80),
            Header::ContentType(ct) => ct.encode(out),
            Header::From(v) => v.encode(out),
            Header::MessageClass(c) => c.encode(out),
            Header::Text(_, t) => put_text(out, t.as_bytes()),
            Header::Encoded(_, e) => e.encode(out),
            Header::Integer(f, n) => match f.kind() {
                Kind::Integer => put_integer(out, *n),
                _ => put_long(out, *n),
            },
            Header::Token(_, t) => out.push(*t | 0x80),
            Header::Time(_, t) => t.encode(out),
            Header::Unknown { value, .. } => out.extend_from_slice(value),
            Header::Application { name, value } => {
                put_text(out, name.as_bytes());
                put_text(out, value.as_bytes());
            }
            Header::Opaque(b) => out.extend_from_slice(b),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// The value rendered for people (decoded views, failure messages).
    pub fn value_text(&self) -> String {
        match self {
            Header::MessageType(t) => t.to_string(),
            Header::Version(v) => v.to_string(),
            Header::ContentType(ct) => ct.to_string(),
            Header::From(FromValue::Address(a)) => a.to_string(),
            Header::From(FromValue::InsertAddress) => "<insert-address>".into(),
            Header::MessageClass(c) => c.name().to_string(),
            Header::Text(_, t) => format!("{t:?}"),
            Header::Encoded(_, e) => e.to_string(),
            Header::Integer(_, n) => n.to_string(),
            Header::Token(f, t) => token_text(*f, *t),
            Header::Time(_, TimeValue::Absolute(t)) => format!("absolute {t}"),
            Header::Time(_, TimeValue::Relative(s)) => format!("relative {s} s"),
            Header::Unknown { value, .. } => {
                format!("raw [{}]", crate::codec::escape_bytes(value, 48))
            }
            Header::Application { value, .. } => format!("{value:?}"),
            Header::Opaque(b) => format!("raw [{}]", crate::codec::escape_bytes(b, 48)),
        }
    }
}

fn token_text(f: Field, t: u8) -> String {
    let named = match f {
        Field::STATUS => Status(t).name(),
        Field::RESPONSE_STATUS => ResponseStatus(t).name(),
        Field::RETRIEVE_STATUS => RetrieveStatus(t).name(),
        Field::PRIORITY => Priority(t).name(),
        Field::DELIVERY_REPORT
        | Field::READ_REPORT
        | Field::REPORT_ALLOWED
        | Field::STORE
        | Field::STORED
        | Field::DISTRIBUTION_INDICATOR
        | Field::DRM_CONTENT
        | Field::ADAPTATION_ALLOWED => YesNo(t).name(),
        _ => None,
    };
    match named {
        Some(n) => format!("{n} ({t:#04x})"),
        None => format!("{t:#04x}"),
    }
}

/// Reads one header at the cursor. Structural problems (a value running past the
/// end, a bad field octet, an undefined message type, text invalid in its
/// declared charset) are errors; a well-delimited value in a form this module
/// does not model becomes [`Header::Unknown`]; a value in a non-canonical form
/// of a modelled type is typed (the caller keeps its octets).
pub(crate) fn read_header(c: &mut Cursor<'_>) -> Result<Header, MmsError> {
    let start = c.pos;
    let first = c.byte("header")?;
    match first {
        0x80..=0xFF => {
            let field = Field(first & 0x7F);
            let what = static_name(field.0);
            let vat = c.pos;
            let n = c.extent(what)?;
            let v = c.take(n, what, vat)?;
            let typed = typed_value(field, v, vat)?;
            let header = match typed {
                Some(h) => h,
                _ => Header::Unknown {
                    field,
                    value: v.to_vec(),
                },
            };
            Ok(header)
        }
        0x20..=0x7F => {
            c.pos = start;
            let name = c.cstr("application header name")?;
            let vat = c.pos;
            let n = c.extent("application header value")?;
            c.take(n, "application header value", vat)?;
            let all = c.since(start);
            let value = text_of(&all[name.len() + 1..]);
            let h = match (std::str::from_utf8(name), value.map(std::str::from_utf8)) {
                (Ok(n), Some(Ok(v))) => Header::Application {
                    name: n.to_string(),
                    value: v.to_string(),
                },
                _ => Header::Opaque(all.to_vec()),
            };
            Ok(if h.to_bytes() == all {
                h
            } else {
                Header::Opaque(all.to_vec())
            })
        }
        _ => Err(MmsError::BadValue {
            what: "header field name",
            at: start,
            reason:
                "octet 0x00..=0x1F is neither a well-known field (0x80 | code) nor a Token-text",
        }),
    }
}

fn typed_value(field: Field, v: &[u8], at: usize) -> Result<Option<Header>, MmsError> {
    Ok(match field.kind() {
        Kind::MessageType => match v {
            [t @ 0x80..=0x97] => Some(Header::MessageType(MessageType(*t))),
            _ => {
                return Err(MmsError::UnknownMessageType {
                    at,
                    value: v.first().copied().unwrap_or(0),
                })
            }
        },
        Kind::Version => match v {
            [x] if *x >= 0x80 => Some(Header::Version(Version(*x))),
            _ => None,
        },
        Kind::ContentType => ContentType::decode(v).map(Header::ContentType),
        Kind::From => FromValue::decode(v, at)?.map(Header::From),
        Kind::MessageClass => MessageClass::decode(v).map(Header::MessageClass),
        Kind::Text => match v.first() {
            Some(0x20..=0x7F) | Some(0) => text_of(v)
                .and_then(|t| std::str::from_utf8(t).ok())
                .map(|s| Header::Text(field, s.to_string())),
            _ => None,
        },
        Kind::Encoded => {
            EncodedString::decode(v, at, static_name(field.0))?.map(|e| Header::Encoded(field, e))
        }
        // A Short-integer where a Long-integer belongs is read too (the PDU
        // keeps the octets it came in).
        Kind::Long | Kind::Integer => integer_of(v).map(|n| Header::Integer(field, n)),
        Kind::Token => match v {
            [t] if *t >= 0x80 => Some(Header::Token(field, *t)),
            _ => None,
        },
        Kind::Time => TimeValue::decode(v).map(|t| Header::Time(field, t)),
        Kind::Raw => None,
    })
}
