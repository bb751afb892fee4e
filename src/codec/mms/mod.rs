//! The MMS encapsulation (OMA-MMS-ENC 1.2 and 1.3), sans-IO.
//!
//! An MMS PDU is a sequence of headers — a well-known field octet (`0x80 | code`,
//! [`header::Field`]) and its value, or an application header in text — and, for
//! the PDUs that carry a message (M-Send.req, M-Retrieve.conf), the message body
//! after the Content-Type header, usually a WSP multipart ([`body::Body`]).
//!
//! [`Pdu::parse`] keeps the input ([`Pdu::raw`]), types every header it knows,
//! keeps the others as octets, and never panics: any input gives a [`Pdu`] or a
//! precise [`MmsError`] naming the offset. It does not reject a PDU whose headers
//! break the order rules (X-Mms-Message-Type first, X-Mms-Transaction-ID next
//! where the PDU has one, X-Mms-MMS-Version after them, Content-Type last: ENC
//! §6 and its per-PDU tables); it records them in [`Pdu::order_violations`].
//! [`Pdu::encode`] writes each header and the body as it was received while it is
//! unchanged (so `encode(parse(x)) == x` for every `x` that parses, even a value
//! in a valid but not canonical form) and anything new or changed in its
//! canonical form; [`Pdu::encode_canonical`] writes everything canonically.
//! [`PduBuilder`] writes the
//! headers in the required order by construction, and [`Pdu::new`] refuses
//! headers out of order.

pub mod address;
pub mod body;
mod builder;
pub mod error;
pub mod header;
pub mod value;
mod view;

#[cfg(test)]
mod tests;

pub use address::Address;
pub use body::{Body, ContentType, MediaType, Param, Part, PartHeader};
pub use builder::PduBuilder;
pub use error::MmsError;
pub use header::{Field, Header};
pub use value::{
    EncodedString, FromValue, MessageClass, MessageType, Priority, ResponseStatus, RetrieveStatus,
    Status, TimeValue, Version, YesNo,
};

use value::Cursor;

/// One MMS PDU. Two PDUs are equal when their headers and bodies are.
#[derive(Clone, Debug)]
pub struct Pdu {
    raw: Vec<u8>,
    pub headers: Vec<Header>,
    /// The body after Content-Type; `None` when the PDU has no Content-Type.
    pub body: Option<Body>,
    order_violations: Vec<MmsError>,
    /// Each parsed header with the octets it came in.
    received: Vec<(Header, Vec<u8>)>,
    /// The parsed body with its octets.
    received_body: Option<(Body, Vec<u8>)>,
}

impl PartialEq for Pdu {
    fn eq(&self, other: &Pdu) -> bool {
        self.headers == other.headers && self.body == other.body
    }
}

impl Eq for Pdu {}

impl Pdu {
    /// Decodes a PDU. See the module documentation for what is an error and what
    /// is only recorded.
    pub fn parse(bytes: &[u8]) -> Result<Pdu, MmsError> {
        if bytes.is_empty() {
            return Err(MmsError::Empty);
        }
        let mut c = Cursor::new(bytes);
        let mut headers = Vec::new();
        let mut offsets = Vec::new();
        let mut received = Vec::new();
        let mut body = None;
        let mut received_body = None;
        while !c.at_end() {
            let at = c.pos;
            offsets.push(at);
            let h = header::read_header(&mut c)?;
            received.push((h.clone(), bytes[at..c.pos].to_vec()));
            let is_ct = h.field() == Some(Field::CONTENT_TYPE);
            let ct = match &h {
                Header::ContentType(ct) => Some(ct.clone()),
                _ => None,
            };
            headers.push(h);
            if is_ct {
                let at = c.pos;
                let b = Body::read(&mut c, ct.as_ref())?;
                received_body = Some((b.clone(), bytes[at..].to_vec()));
                body = Some(b);
                break;
            }
        }
        if !headers.iter().any(|h| matches!(h, Header::MessageType(_))) {
            return Err(MmsError::MissingMessageType);
        }
        let order_violations = order_problems(&headers, &offsets);
        Ok(Pdu {
            raw: bytes.to_vec(),
            headers,
            body,
            order_violations,
            received,
            received_body,
        })
    }

    /// A PDU from headers and a body, refused with [`MmsError::HeaderOrder`]
    /// when the headers break the order rules, or when a body comes without a
    /// Content-Type last (or a Content-Type without a body).
    pub fn new(headers: Vec<Header>, body: Option<Body>) -> Result<Pdu, MmsError> {
        if !headers.iter().any(|h| matches!(h, Header::MessageType(_))) {
            return Err(MmsError::MissingMessageType);
        }
        let mut offsets = Vec::with_capacity(headers.len());
        let mut at = 0;
        for h in &headers {
            offsets.push(at);
            at += h.to_bytes().len();
        }
        let ct_last = headers.last().and_then(Header::field) == Some(Field::CONTENT_TYPE);
        if body.is_some() != ct_last {
            return Err(MmsError::HeaderOrder {
                at,
                field: "Content-Type",
                rule: if body.is_some() {
                    "a PDU with a body must end its headers with Content-Type"
                } else {
                    "Content-Type as last header announces a body, and there is none"
                },
            });
        }
        if let Some(e) = order_problems(&headers, &offsets).into_iter().next() {
            return Err(e);
        }
        let mut pdu = Pdu {
            raw: Vec::new(),
            headers,
            body,
            order_violations: Vec::new(),
            received: Vec::new(),
            received_body: None,
        };
        pdu.raw = pdu.encode();
        Ok(pdu)
    }

    /// The bytes this PDU was parsed from (or, when built, its encoding).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Each header as parsed, with the octets it came in (field octet
    /// included), in order; empty for a PDU that was built.
    pub fn received_headers(&self) -> &[(Header, Vec<u8>)] {
        &self.received
    }

    /// The headers and the body: each as received while unchanged, else in its
    /// canonical form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len());
        for (i, h) in self.headers.iter().enumerate() {
            match self.received.get(i) {
                Some((r, octets)) if r == h => out.extend_from_slice(octets),
                _ => h.encode(&mut out),
            }
        }
        match (&self.body, &self.received_body) {
            (Some(b), Some((r, octets))) if r == b => out.extend_from_slice(octets),
            (Some(b), _) => b.encode(&mut out),
            (None, _) => {}
        }
        out
    }

    /// The headers and the body, everything in its canonical form.
    pub fn encode_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len());
        for h in &self.headers {
            h.encode(&mut out);
        }
        if let Some(b) = &self.body {
            b.encode(&mut out);
        }
        out
    }

    /// The order rules the parsed headers break, each with the offset of the
    /// offending header (empty for a well-formed PDU).
    pub fn order_violations(&self) -> &[MmsError] {
        &self.order_violations
    }
}

/// The order rules `headers` break (ENC §6: Message-Type, then Transaction-ID
/// when present, then MMS-Version; each at most once; Content-Type last, which
/// the parser guarantees by reading the body after it).
fn order_problems(headers: &[Header], offsets: &[usize]) -> Vec<MmsError> {
    let mut out = Vec::new();
    let pos = |f: Field| headers.iter().position(|h| h.field() == Some(f));
    let name = |i: usize| {
        headers[i]
            .field()
            .and_then(|f| f.name())
            .unwrap_or("application header")
    };
    if pos(Field::MESSAGE_TYPE) != Some(0) {
        out.push(MmsError::HeaderOrder {
            at: offsets[0],
            field: name(0),
            rule: "X-Mms-Message-Type must be the first header",
        });
    }
    let tid = pos(Field::TRANSACTION_ID);
    if let Some(i) = tid.filter(|&i| i != 1) {
        out.push(MmsError::HeaderOrder {
            at: offsets[i],
            field: "X-Mms-Transaction-ID",
            rule: "X-Mms-Transaction-ID must immediately follow X-Mms-Message-Type",
        });
    }
    let want = if tid.is_some() { 2 } else { 1 };
    match pos(Field::MMS_VERSION) {
        Some(i) if i != want => out.push(MmsError::HeaderOrder {
            at: offsets[i],
            field: "X-Mms-MMS-Version",
            rule: "X-Mms-MMS-Version must follow X-Mms-Message-Type and X-Mms-Transaction-ID",
        }),
        None if headers.len() > want => out.push(MmsError::HeaderOrder {
            at: offsets[want],
            field: name(want),
            rule: "X-Mms-MMS-Version missing where it must stand",
        }),
        _ => {}
    }
    for f in [
        Field::MESSAGE_TYPE,
        Field::TRANSACTION_ID,
        Field::MMS_VERSION,
        Field::CONTENT_TYPE,
    ] {
        if let Some(i) = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.field() == Some(f))
            .map(|(i, _)| i)
            .nth(1)
        {
            out.push(MmsError::HeaderOrder {
                at: offsets[i],
                field: f.name().unwrap_or("?"),
                rule: "this header may appear only once",
            });
        }
    }
    if let Some(i) = pos(Field::CONTENT_TYPE)
        && i + 1 != headers.len()
    {
        out.push(MmsError::HeaderOrder {
            at: offsets[i],
            field: "Content-Type",
            rule: "Content-Type must be the last header",
        });
    }
    out
}

/// Typed accessors: the first header of the field, when its value is in the
/// typed form.
impl Pdu {
    /// The first header with this field.
    pub fn get(&self, f: Field) -> Option<&Header> {
        self.headers.iter().find(|h| h.field() == Some(f))
    }

    /// Every header with this field, in order.
    pub fn all(&self, f: Field) -> impl Iterator<Item = &Header> {
        self.headers.iter().filter(move |h| h.field() == Some(f))
    }

    fn text(&self, f: Field) -> Option<&str> {
        match self.get(f)? {
            Header::Text(_, t) => Some(t),
            _ => None,
        }
    }

    fn encoded(&self, f: Field) -> Option<&EncodedString> {
        match self.get(f)? {
            Header::Encoded(_, e) => Some(e),
            _ => None,
        }
    }

    fn encoded_all(&self, f: Field) -> Vec<&EncodedString> {
        self.all(f)
            .filter_map(|h| match h {
                Header::Encoded(_, e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn integer(&self, f: Field) -> Option<u64> {
        match self.get(f)? {
            Header::Integer(_, n) => Some(*n),
            _ => None,
        }
    }

    fn token(&self, f: Field) -> Option<u8> {
        match self.get(f)? {
            Header::Token(_, t) => Some(*t),
            _ => None,
        }
    }

    fn time(&self, f: Field) -> Option<TimeValue> {
        match self.get(f)? {
            Header::Time(_, t) => Some(*t),
            _ => None,
        }
    }

    pub fn message_type(&self) -> Option<MessageType> {
        self.headers.iter().find_map(|h| match h {
            Header::MessageType(t) => Some(*t),
            _ => None,
        })
    }

    pub fn transaction_id(&self) -> Option<&str> {
        self.text(Field::TRANSACTION_ID)
    }

    pub fn version(&self) -> Option<Version> {
        self.headers.iter().find_map(|h| match h {
            Header::Version(v) => Some(*v),
            _ => None,
        })
    }

    pub fn from(&self) -> Option<&FromValue> {
        self.headers.iter().find_map(|h| match h {
            Header::From(f) => Some(f),
            _ => None,
        })
    }

    pub fn to(&self) -> Vec<&EncodedString> {
        self.encoded_all(Field::TO)
    }

    pub fn cc(&self) -> Vec<&EncodedString> {
        self.encoded_all(Field::CC)
    }

    pub fn bcc(&self) -> Vec<&EncodedString> {
        self.encoded_all(Field::BCC)
    }

    pub fn subject(&self) -> Option<&EncodedString> {
        self.encoded(Field::SUBJECT)
    }

    pub fn content_location(&self) -> Option<&str> {
        self.text(Field::CONTENT_LOCATION)
    }

    pub fn message_size(&self) -> Option<u64> {
        self.integer(Field::MESSAGE_SIZE)
    }

    pub fn expiry(&self) -> Option<TimeValue> {
        self.time(Field::EXPIRY)
    }

    pub fn delivery_time(&self) -> Option<TimeValue> {
        self.time(Field::DELIVERY_TIME)
    }

    pub fn status(&self) -> Option<Status> {
        self.token(Field::STATUS).map(Status)
    }

    pub fn response_status(&self) -> Option<ResponseStatus> {
        self.token(Field::RESPONSE_STATUS).map(ResponseStatus)
    }

    pub fn response_text(&self) -> Option<&EncodedString> {
        self.encoded(Field::RESPONSE_TEXT)
    }

    pub fn retrieve_status(&self) -> Option<RetrieveStatus> {
        self.token(Field::RETRIEVE_STATUS).map(RetrieveStatus)
    }

    pub fn message_id(&self) -> Option<&str> {
        self.text(Field::MESSAGE_ID)
    }

    /// Date, seconds since 1970-01-01T00:00:00Z.
    pub fn date(&self) -> Option<u64> {
        self.integer(Field::DATE)
    }

    pub fn message_class(&self) -> Option<&MessageClass> {
        self.headers.iter().find_map(|h| match h {
            Header::MessageClass(c) => Some(c),
            _ => None,
        })
    }

    pub fn priority(&self) -> Option<Priority> {
        self.token(Field::PRIORITY).map(Priority)
    }

    pub fn delivery_report(&self) -> Option<YesNo> {
        self.token(Field::DELIVERY_REPORT).map(YesNo)
    }

    pub fn read_report(&self) -> Option<YesNo> {
        self.token(Field::READ_REPORT).map(YesNo)
    }

    pub fn applic_id(&self) -> Option<&str> {
        self.text(Field::APPLIC_ID)
    }

    pub fn reply_applic_id(&self) -> Option<&str> {
        self.text(Field::REPLY_APPLIC_ID)
    }

    pub fn aux_applic_info(&self) -> Option<&str> {
        self.text(Field::AUX_APPLIC_INFO)
    }

    pub fn content_type(&self) -> Option<&ContentType> {
        self.headers.iter().find_map(|h| match h {
            Header::ContentType(c) => Some(c),
            _ => None,
        })
    }

    /// The value of an application header (case-insensitive name).
    pub fn application(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| match h {
            Header::Application { name: n, value } if n.eq_ignore_ascii_case(name) => {
                Some(value.as_str())
            }
            _ => None,
        })
    }

    /// The parts of a multipart body (empty otherwise).
    pub fn parts(&self) -> &[Part] {
        self.body.as_ref().map_or(&[], Body::parts)
    }
}
