//! Content types and message bodies: the WSP Content-type encoding (WAP-230
//! §8.4.2.24) with its parameters (§8.4.2.4, Table 38), and the WSP multipart
//! (WAP-230 §8.5) that carries an MM's parts (OMA-MMS-ENC §6.1.1, §6.1.2).

use super::error::MmsError;
use super::value::*;
use std::fmt;

/// Names of the well-known media (WAP-230 Table 40 as kept by OMNA).
pub const MEDIA: &[(u32, &str)] = &[
    (0x00, "*/*"),
    (0x01, "text/*"),
    (0x02, "text/html"),
    (0x03, "text/plain"),
    (0x06, "text/x-vCalendar"),
    (0x07, "text/x-vCard"),
    (0x08, "text/vnd.wap.wml"),
    (0x0B, "multipart/*"),
    (0x0C, "multipart/mixed"),
    (0x0F, "multipart/alternative"),
    (0x10, "application/*"),
    (0x1C, "image/*"),
    (0x1D, "image/gif"),
    (0x1E, "image/jpeg"),
    (0x1F, "image/tiff"),
    (0x20, "image/png"),
    (0x21, "image/vnd.wap.wbmp"),
    (0x22, "application/vnd.wap.multipart.*"),
    (0x23, "application/vnd.wap.multipart.mixed"),
    (0x24, "application/vnd.wap.multipart.form-data"),
    (0x25, "application/vnd.wap.multipart.byteranges"),
    (0x26, "application/vnd.wap.multipart.alternative"),
    (0x27, "application/xml"),
    (0x28, "text/xml"),
    (0x29, "application/vnd.wap.wbxml"),
    (0x2D, "text/vnd.wap.si"),
    (0x2E, "application/vnd.wap.sic"),
    (0x2F, "text/vnd.wap.sl"),
    (0x30, "application/vnd.wap.slc"),
    (0x33, "application/vnd.wap.multipart.related"),
    (0x3B, "application/xhtml+xml"),
    (0x3D, "text/css"),
    (0x3E, "application/vnd.wap.mms-message"),
];

/// Multipart mixed (0x23), the usual body of an MM without presentation.
pub const MULTIPART_MIXED: u32 = 0x23;
/// Multipart related (0x33), an MM with a SMIL presentation (`type`, `start`).
pub const MULTIPART_RELATED: u32 = 0x33;
/// text/plain (0x03).
pub const TEXT_PLAIN: u32 = 0x03;

/// A media type: a well-known code or an extension media text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    WellKnown(u32),
    Text(String),
}

impl MediaType {
    pub fn name(&self) -> Option<&str> {
        match self {
            MediaType::WellKnown(c) => MEDIA.iter().find(|m| m.0 == *c).map(|m| m.1),
            MediaType::Text(t) => Some(t),
        }
    }

    /// The media as text; a well-known code without a name as `0xNN`.
    pub fn label(&self) -> String {
        match self {
            MediaType::WellKnown(c) => self
                .name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{c:#04x}")),
            MediaType::Text(t) => t.clone(),
        }
    }

    /// The well-known code of a media name, when it has one.
    pub fn from_name(name: &str) -> MediaType {
        MEDIA
            .iter()
            .find(|m| m.1.eq_ignore_ascii_case(name))
            .map_or_else(
                || MediaType::Text(name.to_string()),
                |m| MediaType::WellKnown(m.0),
            )
    }

    /// Whether this is one of the WSP multipart types.
    pub fn is_multipart(&self) -> bool {
        match self {
            MediaType::WellKnown(c) => matches!(c, 0x22..=0x26 | 0x33),
            MediaType::Text(t) => t
                .to_ascii_lowercase()
                .starts_with("application/vnd.wap.multipart."),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MediaType::WellKnown(c) => put_integer(out, u64::from(*c)),
            MediaType::Text(t) => put_text(out, t.as_bytes()),
        }
    }
}

/// A value of an untyped parameter: Integer-value or Text-value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamValue {
    Integer(u64),
    /// A Token-text or Quoted-string (kept with its leading `"`); empty is
    /// No-value (0x00).
    Text(String),
}

/// A content-type parameter (WAP-230 §8.4.2.4, Table 38).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// Charset (0x01), the IANA MIBenum (Any-charset 0x80 reads as 0).
    Charset(u32),
    /// Type (0x09) of multipart/related: the root part's media.
    Type(MediaType),
    /// Start (0x0A) of multipart/related: the root part's Content-ID.
    Start(String),
    /// Start-info (0x0B).
    StartInfo(String),
    /// Name (0x05).
    Name(String),
    /// Filename (0x06).
    Filename(String),
    /// Token-text name and value.
    Untyped { name: String, value: ParamValue },
    /// Any other parameter, or one in a form not modelled: its octets.
    Raw(Vec<u8>),
}

impl Param {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Param::Charset(c) => {
                out.push(0x81);
                put_integer(out, u64::from(*c));
            }
            Param::Type(m) => {
                out.push(0x89);
                // Constrained-encoding: a Short-integer, else the media as text.
                match m {
                    MediaType::WellKnown(c) if *c < 0x80 => put_short(out, *c as u8),
                    other => put_text(out, other.label().as_bytes()),
                }
            }
            Param::Start(t) => {
                out.push(0x8A);
                put_text(out, t.as_bytes());
            }
            Param::StartInfo(t) => {
                out.push(0x8B);
                put_text(out, t.as_bytes());
            }
            Param::Name(t) => {
                out.push(0x85);
                put_text(out, t.as_bytes());
            }
            Param::Filename(t) => {
                out.push(0x86);
                put_text(out, t.as_bytes());
            }
            Param::Untyped { name, value } => {
                put_text(out, name.as_bytes());
                match value {
                    ParamValue::Integer(n) => put_integer(out, *n),
                    ParamValue::Text(t) if t.is_empty() => out.push(0),
                    ParamValue::Text(t) => put_text(out, t.as_bytes()),
                }
            }
            Param::Raw(b) => out.extend_from_slice(b),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// One parameter at the cursor.
    fn read(c: &mut Cursor<'_>) -> Result<Param, MmsError> {
        let start = c.pos;
        let what = "content-type parameter";
        let first = c.peek().unwrap_or(0);
        let typed = if first >= 0x80 {
            c.pos += 1;
            Some(first & 0x7F)
        } else if (0x20..0x80).contains(&first) {
            c.cstr(what)?;
            None
        } else {
            // A Long-integer parameter token, or something else: delimit it as
            // a value and keep it.
            let n = c.extent(what)?;
            c.take(n, what, start)?;
            None
        };
        let vat = c.pos;
        let n = c.extent(what)?;
        let v = c.take(n, what, vat)?;
        let all = c.since(start);
        let text = || {
            text_of(v)
                .and_then(|t| std::str::from_utf8(t).ok())
                .map(str::to_string)
        };
        let p = match typed {
            Some(0x01) => integer_of(v).map(|n| Param::Charset(n as u32)),
            Some(0x09) => match v {
                [s] if *s >= 0x80 => Some(Param::Type(MediaType::WellKnown(u32::from(s & 0x7F)))),
                _ => text().map(|t| Param::Type(MediaType::Text(t))),
            },
            Some(0x0A) => text().map(Param::Start),
            Some(0x0B) => text().map(Param::StartInfo),
            Some(0x05) => text().map(Param::Name),
            Some(0x06) => text().map(Param::Filename),
            Some(_) => None,
            None if (0x20..0x80).contains(&first) => {
                let name = text_of(&all[..all.len() - v.len()])
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .map(str::to_string);
                let value = match v {
                    [0] => Some(ParamValue::Text(String::new())),
                    [b, ..] if (0x20..0x80).contains(b) => text().map(ParamValue::Text),
                    _ => integer_of(v).map(ParamValue::Integer),
                };
                name.zip(value)
                    .map(|(name, value)| Param::Untyped { name, value })
            }
            None => None,
        };
        Ok(match p {
            Some(p) if p.to_bytes() == all => p,
            _ => Param::Raw(all.to_vec()),
        })
    }
}

/// A Content-type-value (WAP-230 §8.4.2.24): Constrained-media (a
/// Short-integer or an extension media Text-string) or Content-general-form
/// (Value-length, media, parameters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContentType {
    pub media: MediaType,
    pub params: Vec<Param>,
    /// Sent in the general form even without parameters (decoders set it from
    /// the wire; the encoder uses the general form whenever there are
    /// parameters or the code is above 127).
    pub general: bool,
}

impl ContentType {
    /// A media without parameters.
    pub fn new(media: MediaType) -> ContentType {
        ContentType {
            media,
            params: Vec::new(),
            general: false,
        }
    }

    pub fn well_known(code: u32) -> ContentType {
        ContentType::new(MediaType::WellKnown(code))
    }

    /// A media by name: its well-known code when it has one.
    pub fn named(name: &str) -> ContentType {
        ContentType::new(MediaType::from_name(name))
    }

    pub fn with(mut self, p: Param) -> ContentType {
        self.params.push(p);
        self
    }

    /// application/vnd.wap.multipart.related with `type` and `start` (the
    /// presentation part, OMA-MMS-ENC §6.1.1).
    pub fn multipart_related(root_type: &str, start: &str) -> ContentType {
        let t = match MediaType::from_name(root_type) {
            MediaType::WellKnown(c) if c < 0x80 => MediaType::WellKnown(c),
            _ => MediaType::Text(root_type.to_string()),
        };
        ContentType::well_known(MULTIPART_RELATED)
            .with(Param::Type(t))
            .with(Param::Start(start.to_string()))
    }

    pub fn name(&self) -> Option<&str> {
        self.media.name()
    }

    pub fn charset(&self) -> Option<u32> {
        self.params.iter().find_map(|p| match p {
            Param::Charset(c) => Some(*c),
            _ => None,
        })
    }

    pub fn start(&self) -> Option<&str> {
        self.params.iter().find_map(|p| match p {
            Param::Start(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn root_type(&self) -> Option<&MediaType> {
        self.params.iter().find_map(|p| match p {
            Param::Type(t) => Some(t),
            _ => None,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let constrained = self.params.is_empty()
            && !self.general
            && !matches!(self.media, MediaType::WellKnown(c) if c >= 0x80);
        if constrained {
            self.media.encode(out);
            return;
        }
        let mut inner = Vec::new();
        self.media.encode(&mut inner);
        for p in &self.params {
            p.encode(&mut inner);
        }
        put_with_length(out, &inner);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Reads a content type filling `v` exactly; `None` when `v` is not one
    /// (an empty media text, `7F 00`, is not: its canonical form, a lone NUL,
    /// would read as a Value-length). Parameters in forms not modelled come
    /// back as [`Param::Raw`].
    pub(crate) fn decode(v: &[u8]) -> Option<ContentType> {
        let media_text = |m: &[u8]| {
            std::str::from_utf8(text_of(m)?)
                .ok()
                .filter(|t| !t.is_empty())
                .map(|t| MediaType::Text(t.to_string()))
        };
        let ct = match v.first()? {
            0x80..=0xFF if v.len() == 1 => ContentType::well_known(u32::from(v[0] & 0x7F)),
            0x20..=0x7F => ContentType::new(media_text(v)?),
            0x00..=0x1F => {
                let inner = inner_of(v)?;
                let mut c = Cursor::new(inner);
                let mat = c.pos;
                let n = c.extent("media").ok()?;
                let m = c.take(n, "media", mat).ok()?;
                let media = match m[0] {
                    0x20..=0x7F => media_text(m)?,
                    _ => MediaType::WellKnown(u32::try_from(integer_of(m)?).ok()?),
                };
                let mut params = Vec::new();
                while !c.at_end() {
                    params.push(Param::read(&mut c).ok()?);
                }
                let general =
                    params.is_empty() && !matches!(media, MediaType::WellKnown(c) if c >= 0x80);
                ContentType {
                    media,
                    params,
                    general,
                }
            }
            _ => return None,
        };
        Some(ct)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.media.label())?;
        for p in &self.params {
            match p {
                Param::Charset(c) => write!(f, "; charset={c}")?,
                Param::Type(t) => write!(f, "; type={}", t.label())?,
                Param::Start(s) => write!(f, "; start={s}")?,
                Param::StartInfo(s) => write!(f, "; start-info={s}")?,
                Param::Name(s) => write!(f, "; name={s}")?,
                Param::Filename(s) => write!(f, "; filename={s}")?,
                Param::Untyped { name, value } => match value {
                    ParamValue::Integer(n) => write!(f, "; {name}={n}")?,
                    ParamValue::Text(t) => write!(f, "; {name}={t}")?,
                },
                Param::Raw(b) => write!(f, "; [{}]", crate::codec::escape_bytes(b, 32))?,
            }
        }
        Ok(())
    }
}

/// A header of a multipart entry (WAP-230 §8.4.2.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PartHeader {
    /// Content-ID (0x40), a Quoted-string (sent as 0x22, text, NUL); held
    /// without the quote, e.g. `<text.txt>`.
    ContentId(String),
    /// Content-Location (0x0E), a Text-string (Uri-value).
    ContentLocation(String),
    /// Application header: Token-text name, Text-string value.
    Application { name: String, value: String },
    /// Any other header, or one in a form not modelled: its octets, field
    /// included.
    Raw(Vec<u8>),
}

impl PartHeader {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PartHeader::ContentId(t) => {
                out.push(0xC0);
                put_quoted(out, t.as_bytes());
            }
            PartHeader::ContentLocation(t) => {
                out.push(0x8E);
                put_text(out, t.as_bytes());
            }
            PartHeader::Application { name, value } => {
                put_text(out, name.as_bytes());
                put_text(out, value.as_bytes());
            }
            PartHeader::Raw(b) => out.extend_from_slice(b),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    fn read(c: &mut Cursor<'_>) -> Result<PartHeader, MmsError> {
        let start = c.pos;
        let what = "part header";
        let first = c.byte(what)?;
        let h = match first {
            0x7F => {
                c.byte("shift page")?;
                None
            }
            0x01..=0x1F => None,
            0x00 => {
                return Err(MmsError::BadValue {
                    what,
                    at: start,
                    reason: "octet 0x00 is not a header field name",
                })
            }
            0x20..=0x7E => {
                c.pos = start;
                let name = c.cstr(what)?;
                let vat = c.pos;
                let n = c.extent(what)?;
                let v = c.take(n, what, vat)?;
                let name = std::str::from_utf8(name).ok();
                let value = text_of(v).and_then(|t| std::str::from_utf8(t).ok());
                name.zip(value).map(|(n, v)| PartHeader::Application {
                    name: n.to_string(),
                    value: v.to_string(),
                })
            }
            0x80..=0xFF => {
                let vat = c.pos;
                let n = c.extent(what)?;
                let v = c.take(n, what, vat)?;
                let text = text_of(v).and_then(|t| std::str::from_utf8(t).ok());
                match (first & 0x7F, text) {
                    (0x40, Some(t)) => t.strip_prefix('"').map(|t| PartHeader::ContentId(t.into())),
                    (0x0E, Some(t)) => Some(PartHeader::ContentLocation(t.into())),
                    _ => None,
                }
            }
        };
        let all = c.since(start);
        Ok(match h {
            Some(h) if h.to_bytes() == all => h,
            _ => PartHeader::Raw(all.to_vec()),
        })
    }
}

/// One entry of a WSP multipart (WAP-230 §8.5.3): content type, headers, data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Part {
    pub content_type: ContentType,
    pub headers: Vec<PartHeader>,
    pub data: Vec<u8>,
}

impl Part {
    pub fn new(content_type: ContentType, data: &[u8]) -> Part {
        Part {
            content_type,
            headers: Vec::new(),
            data: data.to_vec(),
        }
    }

    /// A text/plain part in UTF-8.
    pub fn text(text: &str) -> Part {
        Part::new(
            ContentType::well_known(TEXT_PLAIN).with(Param::Charset(CHARSET_UTF8)),
            text.as_bytes(),
        )
    }

    pub fn with_content_id(mut self, id: &str) -> Part {
        self.headers.push(PartHeader::ContentId(id.to_string()));
        self
    }

    pub fn with_content_location(mut self, loc: &str) -> Part {
        self.headers
            .push(PartHeader::ContentLocation(loc.to_string()));
        self
    }

    pub fn content_id(&self) -> Option<&str> {
        self.headers.iter().find_map(|h| match h {
            PartHeader::ContentId(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn content_location(&self) -> Option<&str> {
        self.headers.iter().find_map(|h| match h {
            PartHeader::ContentLocation(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut headers = Vec::new();
        self.content_type.encode(&mut headers);
        for h in &self.headers {
            h.encode(&mut headers);
        }
        put_uintvar(out, u32::try_from(headers.len()).unwrap_or(u32::MAX));
        put_uintvar(out, u32::try_from(self.data.len()).unwrap_or(u32::MAX));
        out.extend(headers);
        out.extend_from_slice(&self.data);
    }
}

/// The body of an MM: the entries of a multipart, or the octets of a single
/// part (any other content type).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    Multipart(Vec<Part>),
    Single(Vec<u8>),
}

impl Body {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Multipart(parts) => {
                put_uintvar(out, u32::try_from(parts.len()).unwrap_or(u32::MAX));
                for p in parts {
                    p.encode(out);
                }
            }
            Body::Single(b) => out.extend_from_slice(b),
        }
    }

    pub fn parts(&self) -> &[Part] {
        match self {
            Body::Multipart(p) => p,
            Body::Single(_) => &[],
        }
    }

    /// Reads the body from the cursor to its end: a multipart when `ct` is one.
    pub(crate) fn read(c: &mut Cursor<'_>, ct: Option<&ContentType>) -> Result<Body, MmsError> {
        if !ct.is_some_and(|ct| ct.media.is_multipart()) {
            return Ok(Body::Single(c.rest().to_vec()));
        }
        let count_at = c.pos;
        let count = c.uintvar_minimal("multipart entry count")? as usize;
        // Each entry takes at least three octets: bound the count first.
        if count > c.remaining() / 3 + 1 {
            return Err(MmsError::BadMultipart {
                at: count_at,
                part: 0,
                reason: "more entries declared than octets to hold them",
            });
        }
        let mut parts = Vec::new();
        for i in 0..count {
            parts.push(read_part(c, i)?);
        }
        if !c.at_end() {
            return Err(MmsError::BadMultipart {
                at: c.pos,
                part: count,
                reason: "octets follow the last declared entry",
            });
        }
        Ok(Body::Multipart(parts))
    }
}

fn read_part(c: &mut Cursor<'_>, i: usize) -> Result<Part, MmsError> {
    let at = c.pos;
    let hlen = c.uintvar_minimal("multipart entry headers length")? as usize;
    let dlen = c.uintvar_minimal("multipart entry data length")? as usize;
    let hstart = c.pos;
    if hlen > c.remaining() {
        return Err(MmsError::BadValueLength {
            what: "multipart entry headers",
            at,
            declared: hlen,
            available: c.remaining(),
        });
    }
    if hlen == 0 {
        return Err(MmsError::BadMultipart {
            at,
            part: i,
            reason: "headers length 0 leaves no room for the content type",
        });
    }
    let mut h = c.window(hstart, hstart + hlen);
    let ct_len = h.extent("multipart entry content type")?;
    let ct_bytes = h.take(ct_len, "multipart entry content type", hstart)?;
    let content_type = ContentType::decode(ct_bytes).ok_or(MmsError::BadMultipart {
        at: hstart,
        part: i,
        reason: "content type not decodable",
    })?;
    let mut headers = Vec::new();
    while !h.at_end() {
        headers.push(PartHeader::read(&mut h)?);
    }
    c.pos = hstart + hlen;
    let data = c.take(dlen, "multipart entry data", c.pos)?.to_vec();
    Ok(Part {
        content_type,
        headers,
        data,
    })
}
