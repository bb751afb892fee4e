//! PAP documents (WAP-247-PAP §9: XML with a `<pap>` root): each tag and
//! each attribute with its offset; the codec ([`crate::codec::pap`]) says
//! which message it is and what it lacks.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{show, show_text, DecodeError, Out};
use crate::codec::pap::{PapError, PapMessage};

/// A PAP document.
pub(crate) fn pap(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let text = match std::str::from_utf8(b) {
        Ok(t) => t,
        Err(e) => {
            return (
                b.len(),
                Some(out.err(
                    e.valid_up_to(),
                    "PAP: expected UTF-8 XML, came a byte that is not UTF-8",
                )),
            )
        }
    };
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // (element name, offset) of each tag, for placing the codec's errors.
    let mut tags: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    loop {
        let pos = usize::try_from(reader.buffer_position())
            .unwrap_or(usize::MAX)
            .min(b.len());
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let at = usize::try_from(reader.error_position())
                    .unwrap_or(0)
                    .min(b.len());
                return (
                    b.len(),
                    Some(out.err(at, format!("PAP: not well-formed XML: {e}"))),
                );
            }
        };
        let end = usize::try_from(reader.buffer_position())
            .unwrap_or(usize::MAX)
            .min(b.len());
        let mut element = |e: &quick_xml::events::BytesStart<'_>,
                           out: &mut Out<'_>,
                           depth: usize| {
            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            let pad = "  ".repeat(depth);
            out.add(pos, end - pos, &format!("{pad}<{name}>"), "");
            let tag = &b[pos..end];
            let mut from = 1 + name.len();
            for a in e.attributes().flatten() {
                let key = a.key.as_ref();
                let at = memchr::memmem::find(&tag[from.min(tag.len())..], key).map(|p| from + p);
                let value = a
                    .unescape_value()
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
                let (off, len) = match at {
                    Some(p) => {
                        // key="value": up to the closing quote.
                        let rest = &tag[p..];
                        let q = rest.iter().position(|&c| c == b'"' || c == b'\'');
                        let len = q
                            .and_then(|q| {
                                rest[q + 1..]
                                    .iter()
                                    .position(|&c| c == rest[q])
                                    .map(|e| q + 2 + e)
                            })
                            .unwrap_or(key.len());
                        from = p + len;
                        (p, len)
                    }
                    None => (0, 0),
                };
                out.add(
                    pos + off,
                    len,
                    &format!("{pad}  @{}", String::from_utf8_lossy(key)),
                    format!("\"{}\"", show_text(value.as_bytes())),
                );
            }
            tags.push((name, pos));
        };
        match ev {
            Event::Eof => break,
            Event::Decl(_) => out.add(pos, end - pos, "XML declaration", show(&b[pos..end])),
            Event::DocType(_) => out.add(pos, end - pos, "DOCTYPE", show(&b[pos..end])),
            Event::Start(e) => {
                element(&e, out, depth);
                depth += 1;
            }
            Event::Empty(e) => element(&e, out, depth),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                out.add(
                    pos,
                    end - pos,
                    &format!("{}</{name}>", "  ".repeat(depth)),
                    "",
                );
            }
            Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => {
                out.add(pos, end - pos, "text", show(&b[pos..end]))
            }
            _ => {}
        }
    }
    if depth != 0 {
        return (
            b.len(),
            Some(out.err(
                b.len(),
                format!("PAP: {depth} element(s) not closed at the end"),
            )),
        );
    }
    let at = |name: &str| tags.iter().find(|(n, _)| n == name).map_or(0, |t| t.1);
    let err = match PapMessage::parse(b) {
        Ok(_) => None,
        Err(e) => {
            let off = match &e {
                PapError::NotUtf8 { at, .. } | PapError::Xml { at, .. } => *at,
                PapError::MissingAttribute { element, .. } => at(element),
                PapError::MissingElement { parent, .. } => at(parent),
                PapError::BadCode { element, .. } => at(element),
                PapError::UnknownMessage { .. } => tags.get(1).map_or(0, |t| t.1),
                _ => 0,
            };
            Some(out.err(off, e.to_string()))
        }
    };
    (b.len(), err)
}
