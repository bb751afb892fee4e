//! XML documents as trees of namespace-qualified elements, for judging one
//! document against another element for element (a PIDF a presence server
//! passed on, an XCAP document an XDMS returned): XML Namespaces 1.0 names
//! (namespace URI and local name, whatever the prefixes), attributes as a
//! set (namespace declarations left out), text trimmed, children in order
//! with white-space-only text between them ignored.
//!
//! [`parse`] takes only a whole, well-formed document (the checks of
//! [`super::emn::document`]: one root, every element closed, only XML
//! characters, the declaration first), within [`MAX_DEPTH`] and
//! [`MAX_ELEMENTS`]; an unbound prefix is an error. Any input gives a value
//! or a precise error.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The deepest nesting read.
pub const MAX_DEPTH: usize = 64;
/// The most elements read in one document.
pub const MAX_ELEMENTS: usize = 10_000;

/// One element: its expanded name, attributes, text and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The namespace URI ("" for none).
    pub ns: String,
    pub name: String,
    /// (namespace URI, local name) → value, references resolved.
    pub attrs: BTreeMap<(String, String), String>,
    /// The element's own character data (CDATA included), joined and trimmed.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// `{ns}name`, as messages write it.
    pub fn expanded(&self) -> String {
        if self.ns.is_empty() {
            self.name.clone()
        } else {
            format!("{{{}}}{}", self.ns, self.name)
        }
    }

    /// An attribute without a namespace.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .get(&(String::new(), name.to_string()))
            .map(String::as_str)
    }

    /// The children named `name` (local name) in namespace `ns`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == ns && c.name == name)
    }

    /// Every element of the tree, this one first, depth first.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            let e = out[i];
            out.extend(e.children.iter());
            i += 1;
        }
        out
    }
}

fn resolved(r: ResolveResult<'_>, what: &str) -> Result<String, String> {
    match r {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(format!(
            "the prefix {:?} of {what} is bound to no namespace (Namespaces in XML 1.0 §5)",
            String::from_utf8_lossy(&p)
        )),
    }
}

/// `s` escaped for XML: as element content, or (`attr`) inside a
/// double-quoted attribute value, where white space other than a space is
/// written as a character reference so that it survives attribute value
/// normalisation (XML 1.0 §3.3.3).
pub fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Reads `bytes` as one well-formed document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    super::emn::document(bytes)?;
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // emn::document has accepted the encoding; UTF-8 is what the
    // documents judged here use (PIDF, XCAP: RFC 3863 §4, RFC 4825 §8.2.1).
    let doc = std::str::from_utf8(b)
        .map_err(|e| format!("not UTF-8 ({e}): only UTF-8 documents are compared"))?;
    let mut r = quick_xml::NsReader::from_str(doc);
    r.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        let (ns, ev) = match r.read_resolved_event() {
            Ok((ns, ev)) => (resolved(ns, "an element"), ev),
            Err(e) => return Err(format!("not well-formed XML ({e})")),
        };
        match ev {
            Event::Start(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!("more than {MAX_ELEMENTS} elements"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let ns = ns.map_err(|m| format!("{m} (<{local}>)"))?;
                let mut el = Element {
                    ns,
                    name: local,
                    ..Default::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|err| format!("a malformed attribute ({err})"))?;
                    let key = a.key;
                    if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
                        continue;
                    }
                    let (ans, alocal) = r.resolve_attribute(key);
                    let alocal = String::from_utf8_lossy(alocal.as_ref()).into_owned();
                    let ans = resolved(ans, &format!("attribute {alocal}"))?;
                    let v = a
                        .unescape_value()
                        .map_err(|err| format!("a bad reference in attribute {alocal} ({err})"))?;
                    el.attrs.insert((ans, alocal), v.into_owned());
                }
                stack.push(el);
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err("an end tag with no element open".into());
                };
                el.text = el.text.trim().to_string();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    let s = t
                        .unescape()
                        .map_err(|err| format!("a bad reference in character data ({err})"))?;
                    el.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => return Err("the document has no root element".into()),
            _ => {}
        }
    }
}

/// The first difference between `want` and `got`, element for element, as
/// one line naming where (the path of expanded names) and what; `None` when
/// they are the same tree.
pub fn diff(want: &Element, got: &Element) -> Option<String> {
    diff_at(want, got, &mut Vec::new())
}

fn diff_at(want: &Element, got: &Element, path: &mut Vec<String>) -> Option<String> {
    path.push(want.expanded());
    let at = || path.join("/");
    let out = if want.ns != got.ns || want.name != got.name {
        Some(format!(
            "at {}: expected <{}>, came <{}>",
            at(),
            want.expanded(),
            got.expanded()
        ))
    } else if want.attrs != got.attrs {
        let show = |m: &BTreeMap<(String, String), String>| {
            m.iter()
                .map(|((ns, k), v)| {
                    if ns.is_empty() {
                        format!("{k}={v:?}")
                    } else {
                        format!("{{{ns}}}{k}={v:?}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        Some(format!(
            "at {}: expected attributes [{}], came [{}]",
            at(),
            show(&want.attrs),
            show(&got.attrs)
        ))
    } else if want.text != got.text {
        Some(format!(
            "at {}: expected text {:?}, came {:?}",
            at(),
            want.text,
            got.text
        ))
    } else if want.children.len() != got.children.len() {
        let names = |e: &Element| {
            e.children
                .iter()
                .map(Element::expanded)
                .collect::<Vec<_>>()
                .join(", ")
        };
        Some(format!(
            "at {}: expected {} child element(s) [{}], came {} [{}]",
            at(),
            want.children.len(),
            names(want),
            got.children.len(),
            names(got)
        ))
    } else {
        want.children
            .iter()
            .zip(&got.children)
            .find_map(|(w, g)| diff_at(w, g, path))
    };
    path.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@liaison.test">
  <tuple id="t1"><status><basic>open</basic></status><note>at work &amp; busy</note></tuple>
</presence>"#;

    #[test]
    fn prefixes_and_whitespace_do_not_matter_names_and_values_do() {
        let a = parse(PIDF.as_bytes()).unwrap();
        assert_eq!(a.name, "presence");
        assert_eq!(a.ns, "urn:ietf:params:xml:ns:pidf");
        assert_eq!(a.attr("entity"), Some("sip:alice@liaison.test"));
        let b = parse(
            br#"<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" entity="sip:alice@liaison.test"><p:tuple id="t1"><p:status><p:basic>open</p:basic></p:status><p:note>at work &amp; busy</p:note></p:tuple></p:presence>"#,
        )
        .unwrap();
        assert_eq!(diff(&a, &b), None);
        let c = parse(PIDF.replace("busy", "free").as_bytes()).unwrap();
        assert_eq!(
            diff(&a, &c).unwrap(),
            "at {urn:ietf:params:xml:ns:pidf}presence/{urn:ietf:params:xml:ns:pidf}tuple/{urn:ietf:params:xml:ns:pidf}note: expected text \"at work & busy\", came \"at work & free\""
        );
        let d = parse(
            PIDF.replace("<note>at work &amp; busy</note>", "")
                .as_bytes(),
        )
        .unwrap();
        assert!(diff(&a, &d)
            .unwrap()
            .contains("expected 2 child element(s)"));
    }

    #[test]
    fn bad_documents_are_named() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<x:a/>")
            .unwrap_err()
            .contains("bound to no namespace"));
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
    }
}
