//! OMA E-mail Notification (EMN) documents in their textual form
//! (`text/vnd.wap.emn+xml`, OMA-TS-Push_EMN-V1_0): an XML 1.0 document whose
//! root element is `emn`, with a `mailbox` attribute naming the mailbox (a
//! `mailat:` URI or an IMAP/POP URL) and an optional `timestamp`.
//!
//! [`read`] accepts only a whole, well-formed document (XML 1.0 §2.1: one
//! root element, every element closed, nothing after the root but comments,
//! processing instructions and white space; §2.8: the XML declaration, if
//! any, at the very start; §2.2: only XML characters), not the first tag
//! that looks right. quick-xml tokenises; the document rules it leaves to
//! its caller are checked here. Any input gives a value or a precise error.

use std::borrow::Cow;

use quick_xml::events::Event;

/// The media type of a textual EMN document.
pub const MEDIA_TYPE: &str = "text/vnd.wap.emn+xml";

/// A well-formed EMN document: its root element's attributes, in order
/// (values with their references resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emn {
    pub attributes: Vec<(String, String)>,
}

impl Emn {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `mailbox` attribute.
    pub fn mailbox(&self) -> Option<&str> {
        self.attribute("mailbox")
    }
}

/// Reads `bytes` as an EMN document: a well-formed XML document whose root
/// element is `emn`.
pub fn read(bytes: &[u8]) -> Result<Emn, String> {
    let (root, attributes) = document(bytes)?;
    if root != "emn" {
        return Err(format!("the root element is <{root}>, not <emn>"));
    }
    Ok(Emn { attributes })
}

/// Whether an EMN `mailbox` attribute names `mailbox` (user@domain):
/// `mailat:user@domain`, or an IMAP or POP URL whose user (before any `;`)
/// is the mailbox's local part or the whole mailbox (OMA EMN's mailbox
/// attribute; RFC 5092 IMAP URLs, RFC 2384 POP URLs).
pub fn names_mailbox(attr: &str, mailbox: &str) -> bool {
    let a = attr.trim().to_ascii_lowercase();
    let m = mailbox.to_ascii_lowercase();
    if a.strip_prefix("mailat:") == Some(m.as_str()) {
        return true;
    }
    let (local, _) = m.split_once('@').unwrap_or((&m, ""));
    ["imap://", "pop://"].iter().any(|s| {
        a.strip_prefix(s)
            .and_then(|r| r.split_once('@'))
            .is_some_and(|(user, _)| user.split(';').next() == Some(local) || user == m)
    })
}

/// The document as text: UTF-8 (with or without a byte order mark), or
/// ISO-8859-1 / US-ASCII when its declaration says so (XML 1.0 §4.3.3: no
/// declaration and no BOM means UTF-8).
fn text(bytes: &[u8]) -> Result<Cow<'_, str>, String> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let declared = declared_encoding(b);
    match declared.as_deref() {
        None | Some("utf-8") | Some("utf8") => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|e| format!("not UTF-8 ({e}), and no other encoding declared")),
        Some("us-ascii") | Some("ascii") => {
            if let Some(p) = b.iter().position(|c| !c.is_ascii()) {
                return Err(format!(
                    "declares US-ASCII but has the non-ASCII octet 0x{:02X} at offset {p}",
                    b[p]
                ));
            }
            Ok(Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()))
        }
        Some("iso-8859-1") | Some("latin1") | Some("iso_8859-1") => {
            Ok(Cow::Owned(b.iter().map(|&c| char::from(c)).collect()))
        }
        Some(other) => Err(format!(
            "declares the encoding {other:?}, which the suite does not read (UTF-8, US-ASCII, ISO-8859-1)"
        )),
    }
}

/// The encoding the XML declaration names, lower-cased, when the document
/// starts with one.
fn declared_encoding(b: &[u8]) -> Option<String> {
    if !b.starts_with(b"<?xml") {
        return None;
    }
    let end = b.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&b[..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(q).next()?;
    Some(value.to_ascii_lowercase())
}

/// XML 1.0 §2.2 Char.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0 §2.3 Name (the ASCII part exactly; any non-ASCII letter allowed).
fn is_name(n: &str) -> bool {
    let mut cs = n.chars();
    let Some(first) = cs.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    start(first) && cs.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn is_space(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Where the document is, for an error message.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Part {
    Prolog,
    Root,
    After,
}

/// Checks that `bytes` is one well-formed XML document; its root element's
/// name and attributes.
pub fn document(bytes: &[u8]) -> Result<(String, Vec<(String, String)>), String> {
    let doc = text(bytes)?;
    if let Some((i, c)) = doc.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(format!(
            "the character U+{:04X} at offset {i} is not allowed in XML (XML 1.0 §2.2)",
            c as u32
        ));
    }
    let mut r = quick_xml::Reader::from_str(&doc);
    {
        let c = r.config_mut();
        c.check_end_names = true;
        c.check_comments = true;
        c.allow_unmatched_ends = false;
        c.expand_empty_elements = false;
    }
    let mut part = Part::Prolog;
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<(String, Vec<(String, String)>)> = None;
    let mut doctype = false;
    let mut first = true;
    loop {
        let pos = r.buffer_position();
        let ev = r
            .read_event()
            .map_err(|e| format!("not well-formed XML at offset {} ({e})", r.error_position()))?;
        let was_first = first;
        first = false;
        match ev {
            Event::Decl(d) => {
                if !was_first || pos != 0 {
                    return Err(format!(
                        "an XML declaration at offset {pos}, not at the very start (XML 1.0 §2.8)"
                    ));
                }
                d.version()
                    .map_err(|e| format!("an XML declaration without a version ({e})"))?;
            }
            Event::PI(p) => {
                let target = String::from_utf8_lossy(p.target()).into_owned();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(format!(
                        "a processing instruction named {target:?} at offset {pos} (reserved; an XML declaration must come first, XML 1.0 §2.6, §2.8)"
                    ));
                }
                if !is_name(&target) {
                    return Err(format!(
                        "a processing instruction without a valid target at offset {pos}"
                    ));
                }
            }
            Event::Comment(_) => {}
            Event::DocType(t) => {
                if part != Part::Prolog || doctype {
                    return Err(format!(
                        "a document type declaration at offset {pos}, which is allowed once, before the root element (XML 1.0 §2.8)"
                    ));
                }
                doctype = true;
                let t = String::from_utf8_lossy(&t).into_owned();
                let name = t.split_whitespace().next().unwrap_or_default().to_string();
                if !is_name(&name) {
                    return Err(format!(
                        "a document type declaration without a root name at offset {pos}"
                    ));
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                if part == Part::After {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    return Err(format!(
                        "a second element <{name}> at offset {pos} after the root element ended (XML 1.0 §2.1: one root element)"
                    ));
                }
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if !is_name(&name) {
                    return Err(format!(
                        "an element name {name:?} that is not an XML Name at offset {pos}"
                    ));
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|err| {
                        format!("a malformed attribute in <{name}> at offset {pos} ({err})")
                    })?;
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    if !is_name(&key) {
                        return Err(format!(
                            "an attribute name {key:?} in <{name}> that is not an XML Name"
                        ));
                    }
                    if a.value.contains(&b'<') {
                        return Err(format!(
                            "a '<' in the value of attribute {key} of <{name}> (XML 1.0 §3.1)"
                        ));
                    }
                    let v = a.unescape_value().map_err(|err| {
                        format!(
                            "a bad reference in the value of attribute {key} of <{name}> ({err})"
                        )
                    })?;
                    attrs.push((key, v.into_owned()));
                }
                if part == Part::Prolog {
                    root = Some((name.clone(), attrs));
                    part = Part::Root;
                }
                if matches!(ev, Event::Start(_)) {
                    stack.push(name);
                } else if stack.is_empty() {
                    part = Part::After;
                }
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                // quick-xml has checked that it closes the innermost open element.
                if stack.pop().is_none() {
                    return Err(format!(
                        "an end tag </{name}> at offset {pos} with no element open"
                    ));
                }
                if stack.is_empty() {
                    part = Part::After;
                }
            }
            Event::Text(t) => {
                let raw = String::from_utf8_lossy(&t).into_owned();
                if part != Part::Root {
                    if !is_space(&raw) {
                        return Err(format!(
                            "character data {:?} at offset {pos} outside the root element (XML 1.0 §2.1)",
                            raw.chars().take(60).collect::<String>()
                        ));
                    }
                } else {
                    if raw.contains("]]>") {
                        return Err(format!(
                            "the sequence ]]> in character data at offset {pos} (XML 1.0 §2.4)"
                        ));
                    }
                    t.unescape().map_err(|err| {
                        format!("a bad reference in character data at offset {pos} ({err})")
                    })?;
                }
            }
            Event::CData(_) => {
                if part != Part::Root {
                    return Err(format!(
                        "a CDATA section at offset {pos} outside the root element"
                    ));
                }
            }
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "the document ends with <{open}> still open ({} element(s) unclosed; XML 1.0 §2.1)",
            stack.len()
        ));
    }
    root.ok_or_else(|| "no element at all".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!DOCTYPE emn PUBLIC \"-//OMA//DTD EMN 1.0//EN\" \"http://www.openmobilealliance.org/tech/DTD/emn.dtd\">\r\n<emn mailbox=\"mailat:bob@mem.liaison.test\" timestamp=\"2026-12-03T11:00:00Z\"/>\r\n<!-- after -->\r\n";

    #[test]
    fn reads_a_whole_document() {
        let e = read(GOOD.as_bytes()).unwrap();
        assert_eq!(e.mailbox(), Some("mailat:bob@mem.liaison.test"));
        assert_eq!(e.attribute("timestamp"), Some("2026-12-03T11:00:00Z"));
        // With a start and end tag, and a BOM.
        let e = read(b"\xEF\xBB\xBF<emn mailbox=\"mailat:a@b\"></emn>").unwrap();
        assert_eq!(e.mailbox(), Some("mailat:a@b"));
        // References resolved in attribute values.
        let e = read(b"<emn mailbox=\"mailat:a&amp;b@c\"/>").unwrap();
        assert_eq!(e.mailbox(), Some("mailat:a&b@c"));
    }

    fn refused(doc: &str, why: &str) {
        match read(doc.as_bytes()) {
            Ok(e) => panic!("{doc:?} read as {e:?}"),
            Err(e) => assert!(e.contains(why), "{doc:?}: {e}"),
        }
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_emn_document() {
        // Issue 12 item 19: an unclosed root, a stray end tag after it, a
        // sentence with an <emn …/> fragment in it.
        refused("<emn mailbox=\"mailat:a@b\">", "still open");
        refused("<emn mailbox=\"mailat:a@b\"/></emn>", "offset");
        refused(
            "You have new mail: <emn mailbox=\"mailat:a@b\"/> arrived.",
            "character data",
        );
        refused("<emn mailbox=\"mailat:a@b\"/>trailing", "character data");
        refused("<emn mailbox=\"mailat:a@b\"/><emn/>", "second element");
        refused("<emn mailbox=\"mailat:a@b\"><x></emn>", "offset");
        refused(
            "<emn mailbox=\"mailat:a@b\" mailbox=\"x\"/>",
            "malformed attribute",
        );
        refused("<emn mailbox=mailat:a@b/>", "malformed attribute");
        refused("<emn mailbox=\"a<b\"/>", "'<'");
        refused("<emn mailbox=\"&bogus;\"/>", "reference");
        refused("<emn>&bogus;</emn>", "reference");
        refused(" <?xml version=\"1.0\"?><emn/>", "very start");
        refused("<emn/><?xml version=\"1.0\"?>", "very start");
        refused("<!-- a -- b --><emn/>", "not well-formed");
        refused("<emn/><!DOCTYPE emn>", "document type declaration");
        refused("<notification mailbox=\"mailat:a@b\"/>", "not <emn>");
        refused("<x:emn xmlns:x=\"urn:x\"/>", "not <emn>");
        refused("<emn>\u{1}</emn>", "U+0001");
        refused("", "no element");
        refused("<?xml version=\"1.0\"?>", "no element");
        refused("<emn><![CDATA[x]]></emn><![CDATA[y]]>", "CDATA");
        assert!(read(b"<emn mailbox=\"\xFF\"/>").is_err());
        assert!(
            read(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><emn mailbox=\"caf\xE9\"/>")
                .is_ok()
        );
        refused(
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><emn/>",
            "does not read",
        );
    }

    #[test]
    fn mailbox_names() {
        assert!(names_mailbox(
            "mailat:Bob@Mem.liaison.test",
            "bob@mem.liaison.test"
        ));
        assert!(names_mailbox(
            "imap://bob;AUTH=*@imap.liaison.test/INBOX",
            "bob@mem.liaison.test"
        ));
        assert!(names_mailbox(
            "pop://bob@pop.liaison.test",
            "bob@mem.liaison.test"
        ));
        assert!(!names_mailbox(
            "mailat:carol@mem.liaison.test",
            "bob@mem.liaison.test"
        ));
        assert!(!names_mailbox(
            "bob@mem.liaison.test",
            "bob@mem.liaison.test"
        ));
    }

    #[test]
    fn any_input_gives_an_answer() {
        for doc in [
            &b"<"[..],
            b"<<<",
            b"<emn",
            b"<emn a='",
            b"</",
            b"<!--",
            b"<![CDATA[",
            b"<?",
            b"\xEF\xBB",
        ] {
            assert!(read(doc).is_err(), "{doc:?}");
        }
    }
}
