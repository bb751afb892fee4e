//! XCAP (RFC 4825), sans-IO: the pieces of an XCAP URI's path (§6: XCAP
//! root, AUID, `users`/`global`, XUI, document, and the node selector after
//! `/~~/`, §6.3), percent-decoded; node selectors of the location-path
//! forms XCAP clients use (`name`, `*`, `name[N]`, `name[@attr="v"]`, a
//! prefix bound in the query's `xmlns()` pairs) applied to an
//! [`xml_tree::Element`]; the error document (§11, `application/xcap-error+xml`)
//! written and read; resource-lists documents (RFC 4826 §3) and OMA PoC
//! group documents built and read; the media types (§15.2 and the AUIDs'
//! own); and [`write_element`], which writes a tree back out as XML (an
//! XDMS that changes one element keeps the rest as trees).
//!
//! Every reader takes any input and answers with a value or a precise error.

use super::xml_tree::escape;
use std::collections::BTreeMap;

use super::xml_tree::{self, Element};

/// RFC 4825 §15.2.1: the body of an element (PUT and GET of an element node).
pub const EL_TYPE: &str = "application/xcap-el+xml";
/// RFC 4825 §15.2.2: the body of an attribute node.
pub const ATT_TYPE: &str = "application/xcap-att+xml";
/// RFC 4825 §15.2.4: the error document (§11).
pub const ERROR_TYPE: &str = "application/xcap-error+xml";
/// RFC 4825 §11: the error document's namespace.
pub const ERROR_NS: &str = "urn:ietf:params:xml:ns:xcap-error";

/// RFC 4826 §3: the resource-lists application usage.
pub const RESOURCE_LISTS_AUID: &str = "resource-lists";
/// RFC 4826 §3: its media type.
pub const RESOURCE_LISTS_TYPE: &str = "application/resource-lists+xml";
/// RFC 4826 §3: its namespace.
pub const RESOURCE_LISTS_NS: &str = "urn:ietf:params:xml:ns:resource-lists";

/// OMA shared group documents (PoC groups). The AUID and namespace are
/// from secondary sources (the OMA XDM Shared Group text was not read
/// here); the media type is IANA's registration.
pub const POC_GROUPS_AUID: &str = "org.openmobilealliance.groups";
/// IANA: `application/vnd.oma.poc.groups+xml`.
pub const POC_GROUPS_TYPE: &str = "application/vnd.oma.poc.groups+xml";
/// The group document's namespace (secondary sources).
pub const POC_GROUPS_NS: &str = "urn:oma:xml:poc:list-service";

/// One application usage (RFC 4825 §5): its AUID, the media type of its
/// documents and their default namespace (unprefixed names in a node
/// selector are in it, §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auid {
    pub name: &'static str,
    pub media_type: &'static str,
    pub ns: &'static str,
}

/// The application usages this codec knows.
pub const AUIDS: &[Auid] = &[
    Auid {
        name: RESOURCE_LISTS_AUID,
        media_type: RESOURCE_LISTS_TYPE,
        ns: RESOURCE_LISTS_NS,
    },
    Auid {
        name: POC_GROUPS_AUID,
        media_type: POC_GROUPS_TYPE,
        ns: POC_GROUPS_NS,
    },
];

/// The application usage named `name`.
pub fn auid(name: &str) -> Option<&'static Auid> {
    AUIDS.iter().find(|a| a.name == name)
}

/// The media type of a `Content-Type` value: its type/subtype, lower case,
/// without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------------------
// The XCAP URI (RFC 4825 §6)
// ---------------------------------------------------------------------------

/// Whose document: a user's (`users/<XUI>`) or the global tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    User(String),
    Global,
}

/// The pieces of a request path under the XCAP root, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XcapPath {
    pub auid: String,
    pub scope: Scope,
    /// The document's path below the XUI (or `global`), e.g. `index`.
    pub document: String,
    /// The node selector after `/~~/`, when there is one.
    pub node: Option<NodeSelector>,
}

/// What was wrong with a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path does not begin with the XCAP root.
    NotUnderRoot { root: String },
    /// No AUID segment after the root.
    NoAuid,
    /// The segment after the AUID is neither `users` nor `global`.
    BadTree { segment: String },
    /// `users/` with no XUI after it.
    NoXui,
    /// No document after the XUI (or `global`).
    NoDocument,
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    BadPercent { at: String },
    /// The node selector could not be read.
    BadNodeSelector { selector: String, why: String },
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::NotUnderRoot { root } => {
                write!(f, "the path is not under the XCAP root {root}")
            }
            PathError::NoAuid => f.write_str("no AUID after the XCAP root"),
            PathError::BadTree { segment } => write!(
                f,
                "after the AUID came {segment:?}, neither `users` nor `global` (RFC 4825 §6.2)"
            ),
            PathError::NoXui => f.write_str("`users/` without an XUI"),
            PathError::NoDocument => f.write_str("no document name"),
            PathError::BadPercent { at } => write!(f, "a bad percent-encoding in {at:?}"),
            PathError::BadNodeSelector { selector, why } => {
                write!(f, "the node selector {selector:?} cannot be read: {why}")
            }
        }
    }
}

/// Decodes `%HH` escapes (RFC 3986 §2.1) into UTF-8 text.
pub fn percent_decode(s: &str) -> Result<String, PathError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| PathError::BadPercent { at: s.to_string() })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadPercent { at: s.to_string() })
}

/// Percent-encodes what a path segment may not carry as it is (RFC 3986
/// §3.3: anything outside `pchar`, and `%`), so that a node selector's
/// `[`, `]` and `"` travel as `%5B`, `%5D` and `%22`.
pub fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for &c in s.as_bytes() {
        let keep = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c);
        if keep {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Splits a request target (path and optional query) under `root` into
/// its XCAP pieces (RFC 4825 §6). The query carries the node selector's
/// namespace bindings (`xmlns(p=urn:…)`, §6.4).
pub fn parse_path(root: &str, target: &str) -> Result<XcapPath, PathError> {
    let root = root.trim_end_matches('/');
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let rest = path
        .strip_prefix(root)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| PathError::NotUnderRoot {
            root: root.to_string(),
        })?;
    let (doc_part, node_part) = match rest.split_once("/~~/") {
        Some((d, n)) => (d, Some(n)),
        None => (rest, None),
    };
    let mut segs = doc_part.splitn(3, '/');
    let auid = percent_decode(segs.next().unwrap_or(""))?;
    if auid.is_empty() {
        return Err(PathError::NoAuid);
    }
    let tree = segs.next().unwrap_or("");
    let rest = segs.next().unwrap_or("");
    let (scope, document) = match tree {
        "users" => {
            let (xui, doc) = rest.split_once('/').unwrap_or((rest, ""));
            let xui = percent_decode(xui)?;
            if xui.is_empty() {
                return Err(PathError::NoXui);
            }
            (Scope::User(xui), doc)
        }
        "global" => (Scope::Global, rest),
        other => {
            return Err(PathError::BadTree {
                segment: other.to_string(),
            })
        }
    };
    let document = percent_decode(document)?;
    if document.is_empty() || document.ends_with('/') {
        return Err(PathError::NoDocument);
    }
    let bindings = query_bindings(query)?;
    let node = match node_part {
        Some(n) => {
            let text = percent_decode(n)?;
            Some(NodeSelector::parse(&text, bindings).map_err(|why| {
                PathError::BadNodeSelector {
                    selector: text.clone(),
                    why,
                }
            })?)
        }
        None => None,
    };
    Ok(XcapPath {
        auid,
        scope,
        document,
        node,
    })
}

/// The `xmlns(prefix=uri)` pairs of a query (RFC 4825 §6.4).
fn query_bindings(query: &str) -> Result<BTreeMap<String, String>, PathError> {
    let q = percent_decode(query)?;
    let mut out = BTreeMap::new();
    let mut rest = q.as_str();
    while let Some(at) = rest.find("xmlns(") {
        let after = &rest[at + 6..];
        let Some(end) = after.find(')') else { break };
        if let Some((p, uri)) = after[..end].split_once('=') {
            out.insert(p.trim().to_string(), uri.trim().to_string());
        }
        rest = &after[end + 1..];
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Node selectors (RFC 4825 §6.3)
// ---------------------------------------------------------------------------

/// A predicate of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `[N]`: the Nth of the siblings the step's name test matches (from 1).
    Position(usize),
    /// `[@name="value"]`.
    Attr { name: String, value: String },
}

/// One location step: an element name test and its predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The namespace the name is in (`None`: the application usage's
    /// default namespace, for an unprefixed name).
    pub ns: Option<String>,
    /// The local name, or `*` for any.
    pub name: String,
    pub predicates: Vec<Predicate>,
}

/// A node selector: element steps from the root, and an attribute when it
/// selects one (`…/@name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelector {
    pub steps: Vec<Step>,
    pub attribute: Option<String>,
}

impl NodeSelector {
    /// Reads `text` (decoded), with the query's prefix bindings.
    pub fn parse(text: &str, bindings: BTreeMap<String, String>) -> Result<NodeSelector, String> {
        let text = text.trim_start_matches('/');
        if text.is_empty() {
            return Err("empty".into());
        }
        let parts = split_steps(text)?;
        let mut steps = Vec::new();
        let mut attribute = None;
        let n = parts.len();
        for (i, p) in parts.into_iter().enumerate() {
            if let Some(a) = p.strip_prefix('@') {
                if i + 1 != n {
                    return Err("an attribute step that is not the last".into());
                }
                if !is_name(a) {
                    return Err(format!("a bad attribute name {a:?}"));
                }
                attribute = Some(a.to_string());
                continue;
            }
            steps.push(parse_step(&p, &bindings)?);
        }
        if steps.is_empty() {
            return Err("no element step".into());
        }
        Ok(NodeSelector { steps, attribute })
    }

    /// The selector as text (prefixes left out: namespaces shown as `{ns}`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for st in &self.steps {
            s.push('/');
            if let Some(ns) = &st.ns {
                s.push_str(&format!("{{{ns}}}"));
            }
            s.push_str(&st.name);
            for p in &st.predicates {
                match p {
                    Predicate::Position(n) => s.push_str(&format!("[{n}]")),
                    Predicate::Attr { name, value } => {
                        s.push_str(&format!("[@{name}=\"{value}\"]"))
                    }
                }
            }
        }
        if let Some(a) = &self.attribute {
            s.push_str(&format!("/@{a}"));
        }
        s
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
}

/// Splits at `/` outside brackets and quotes.
fn split_steps(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']') => {
                depth = depth.checked_sub(1).ok_or("a `]` without `[`")?;
                cur.push(c);
            }
            (None, '/') if depth == 0 => {
                if cur.is_empty() {
                    return Err("an empty step (`//`)".into());
                }
                out.push(std::mem::take(&mut cur));
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() || depth != 0 {
        return Err("an unclosed quote or bracket".into());
    }
    if cur.is_empty() {
        return Err("an empty last step".into());
    }
    out.push(cur);
    Ok(out)
}

fn parse_step(p: &str, bindings: &BTreeMap<String, String>) -> Result<Step, String> {
    let (head, mut preds) = match p.find('[') {
        Some(i) => (&p[..i], &p[i..]),
        None => (p, ""),
    };
    let (ns, name) = match head.split_once(':') {
        Some((prefix, local)) => {
            let uri = bindings.get(prefix).ok_or_else(|| {
                format!("the prefix {prefix:?} is bound by no xmlns() in the query")
            })?;
            (Some(uri.clone()), local)
        }
        None => (None, head),
    };
    if name != "*" && !is_name(name) {
        return Err(format!("a bad element name {name:?}"));
    }
    let mut predicates = Vec::new();
    while !preds.is_empty() {
        let inner_end = find_close(preds).ok_or("an unclosed predicate")?;
        let inner = preds[1..inner_end].trim();
        preds = &preds[inner_end + 1..];
        if let Ok(n) = inner.parse::<usize>() {
            if n == 0 {
                return Err("position 0 (positions count from 1)".into());
            }
            predicates.push(Predicate::Position(n));
        } else if let Some(a) = inner.strip_prefix('@') {
            let (an, v) = a
                .split_once('=')
                .ok_or("an attribute predicate without `=`")?;
            let v = v.trim();
            let value = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .ok_or("an attribute value that is not quoted")?;
            let an = an.trim();
            if !is_name(an) {
                return Err(format!("a bad attribute name {an:?}"));
            }
            predicates.push(Predicate::Attr {
                name: an.to_string(),
                value: value.to_string(),
            });
        } else {
            return Err(format!("a predicate this reader does not take: [{inner}]"));
        }
    }
    Ok(Step {
        ns,
        name: name.to_string(),
        predicates,
    })
}

/// The index of the `]` closing the predicate `s` opens (quotes skipped).
fn find_close(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ']' => return Some(i),
            None => {}
        }
    }
    None
}

/// Where a node selector points in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// An existing element: child indices from the root.
    Element(Vec<usize>),
    /// No such element, but its parent exists (child indices from the
    /// root): a PUT there inserts it.
    Absent(Vec<usize>),
    /// Not even the parent exists (RFC 4825 §11: `no-parent`).
    NoParent,
    /// More than one element matches (not a single node).
    Ambiguous,
}

fn step_matches(st: &Step, default_ns: &str, e: &Element) -> bool {
    let ns = st.ns.as_deref().unwrap_or(default_ns);
    (st.name == "*" || st.name == e.name) && e.ns == ns
}

fn predicates_hold(st: &Step, e: &Element, position: usize) -> bool {
    st.predicates.iter().all(|p| match p {
        Predicate::Position(n) => *n == position,
        Predicate::Attr { name, value } => e.attr(name) == Some(value.as_str()),
    })
}

/// Whether `e` is what the step names (name test and attribute
/// predicates; positions are not checked).
pub fn element_fits(st: &Step, default_ns: &str, e: &Element) -> bool {
    step_matches(st, default_ns, e)
        && st.predicates.iter().all(|p| match p {
            Predicate::Position(_) => true,
            Predicate::Attr { name, value } => e.attr(name) == Some(value.as_str()),
        })
}

/// Finds the element `sel` selects in the document `root` (its attribute
/// step, if any, ignored); `default_ns` is the application usage's.
pub fn locate(root: &Element, sel: &NodeSelector, default_ns: &str) -> Located {
    let Some((first, rest)) = sel.steps.split_first() else {
        return Located::NoParent;
    };
    if !step_matches(first, default_ns, root) || !predicates_hold(first, root, 1) {
        return if rest.is_empty() {
            Located::Absent(Vec::new())
        } else {
            Located::NoParent
        };
    }
    let mut path = Vec::new();
    let mut cur = root;
    for (i, st) in rest.iter().enumerate() {
        let mut hits = Vec::new();
        let mut position = 0;
        for (idx, c) in cur.children.iter().enumerate() {
            if step_matches(st, default_ns, c) {
                position += 1;
                if predicates_hold(st, c, position) {
                    hits.push(idx);
                }
            }
        }
        match hits.as_slice() {
            [one] => {
                path.push(*one);
                cur = &cur.children[*one];
            }
            [] if i + 1 == rest.len() => return Located::Absent(path),
            [] => return Located::NoParent,
            _ => return Located::Ambiguous,
        }
    }
    Located::Element(path)
}

/// Puts an element fragment whose names carry no namespace into `ns`
/// (the element and its unqualified descendants): the reading this codec
/// takes of an element body or answer written without a namespace
/// declaration, as in the application usage's default namespace.
pub fn qualify(e: &mut Element, ns: &str) {
    if e.ns.is_empty() {
        e.ns = ns.to_string();
        for c in &mut e.children {
            qualify(c, ns);
        }
    }
}

/// The element at `path` (child indices from `root`).
pub fn at<'a>(root: &'a Element, path: &[usize]) -> Option<&'a Element> {
    path.iter().try_fold(root, |e, &i| e.children.get(i))
}

/// The element at `path`, to change it.
pub fn at_mut<'a>(root: &'a mut Element, path: &[usize]) -> Option<&'a mut Element> {
    path.iter().try_fold(root, |e, &i| e.children.get_mut(i))
}

// ---------------------------------------------------------------------------
// Writing trees
// ---------------------------------------------------------------------------

/// Writes `el` and its subtree as XML, declaring its namespace (as the
/// default namespace) wherever it differs from the enclosing element's;
/// namespaced attributes get prefixes `a0`, `a1`, … declared where they
/// are used. No XML declaration (see [`write_document`]).
pub fn write_element(el: &Element) -> String {
    let mut out = String::new();
    write_at(el, None, &mut out);
    out
}

/// A whole document: the XML declaration (UTF-8), then [`write_element`].
pub fn write_document(root: &Element) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        write_element(root)
    )
    .into_bytes()
}

fn write_at(el: &Element, parent_ns: Option<&str>, out: &mut String) {
    out.push('<');
    out.push_str(&el.name);
    if parent_ns != Some(el.ns.as_str()) && !(parent_ns.is_none() && el.ns.is_empty()) {
        out.push_str(&format!(" xmlns=\"{}\"", escape(&el.ns, true)));
    }
    let mut prefixes: Vec<&str> = Vec::new();
    for ((ns, name), value) in &el.attrs {
        if ns.is_empty() {
            out.push_str(&format!(" {name}=\"{}\"", escape(value, true)));
        } else {
            let i = match prefixes.iter().position(|p| *p == ns) {
                Some(i) => i,
                None => {
                    prefixes.push(ns);
                    out.push_str(&format!(
                        " xmlns:a{}=\"{}\"",
                        prefixes.len() - 1,
                        escape(ns, true)
                    ));
                    prefixes.len() - 1
                }
            };
            out.push_str(&format!(" a{i}:{name}=\"{}\"", escape(value, true)));
        }
    }
    if el.text.is_empty() && el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    out.push_str(&escape(&el.text, false));
    for c in &el.children {
        write_at(c, Some(&el.ns), out);
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

// ---------------------------------------------------------------------------
// The error document (RFC 4825 §11)
// ---------------------------------------------------------------------------

/// The error conditions of RFC 4825 §11 (the `<xcap-error>` child).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCondition {
    NotWellFormed,
    NotUtf8,
    NotXmlFrag,
    NotXmlAttValue,
    NoParent,
    CannotInsert,
    CannotDelete,
    UniquenessFailure,
    ConstraintFailure,
    SchemaValidationError,
}

impl ErrorCondition {
    pub const ALL: &'static [ErrorCondition] = &[
        ErrorCondition::NotWellFormed,
        ErrorCondition::NotUtf8,
        ErrorCondition::NotXmlFrag,
        ErrorCondition::NotXmlAttValue,
        ErrorCondition::NoParent,
        ErrorCondition::CannotInsert,
        ErrorCondition::CannotDelete,
        ErrorCondition::UniquenessFailure,
        ErrorCondition::ConstraintFailure,
        ErrorCondition::SchemaValidationError,
    ];

    /// The element's local name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCondition::NotWellFormed => "not-well-formed",
            ErrorCondition::NotUtf8 => "not-utf-8",
            ErrorCondition::NotXmlFrag => "not-xml-frag",
            ErrorCondition::NotXmlAttValue => "not-xml-att-value",
            ErrorCondition::NoParent => "no-parent",
            ErrorCondition::CannotInsert => "cannot-insert",
            ErrorCondition::CannotDelete => "cannot-delete",
            ErrorCondition::UniquenessFailure => "uniqueness-failure",
            ErrorCondition::ConstraintFailure => "constraint-failure",
            ErrorCondition::SchemaValidationError => "schema-validation-error",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorCondition> {
        ErrorCondition::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
    }
}

/// The bytes of an error document with one condition.
pub fn error_document(c: ErrorCondition) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xcap-error xmlns=\"{ERROR_NS}\"><{}/></xcap-error>\n",
        c.name()
    )
    .into_bytes()
}

/// What an error document said: its condition's local name (one of
/// [`ErrorCondition`] or an extension's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub condition: String,
    pub known: Option<ErrorCondition>,
}

/// Reads an error document: a root `<xcap-error>` in [`ERROR_NS`] with one
/// child element in that namespace.
pub fn read_error(bytes: &[u8]) -> Result<ErrorReport, String> {
    let root = xml_tree::parse(bytes)?;
    if root.ns != ERROR_NS || root.name != "xcap-error" {
        return Err(format!(
            "the root element is <{}>, not <{{{ERROR_NS}}}xcap-error>",
            root.expanded()
        ));
    }
    match root.children.as_slice() {
        [one] if one.ns == ERROR_NS => Ok(ErrorReport {
            condition: one.name.clone(),
            known: ErrorCondition::from_name(&one.name),
        }),
        [one] => Err(format!(
            "its child <{}> is not in the xcap-error namespace",
            one.expanded()
        )),
        other => Err(format!(
            "<xcap-error> has {} child elements, not one",
            other.len()
        )),
    }
}

// ---------------------------------------------------------------------------
// resource-lists (RFC 4826 §3) and PoC group documents
// ---------------------------------------------------------------------------

/// One `<entry>` of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uri: String,
    pub display_name: Option<String>,
}

/// One `<list>` of a resource-lists document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub name: String,
    pub display_name: Option<String>,
    pub entries: Vec<Entry>,
}

fn text_el(ns: &str, name: &str, text: &str) -> Element {
    Element {
        ns: ns.into(),
        name: name.into(),
        text: text.into(),
        ..Default::default()
    }
}

fn with_attr(mut e: Element, name: &str, value: &str) -> Element {
    e.attrs
        .insert((String::new(), name.to_string()), value.to_string());
    e
}

/// An `<entry uri>` element in namespace `ns`.
pub fn entry_element(ns: &str, e: &Entry) -> Element {
    let mut el = with_attr(text_el(ns, "entry", ""), "uri", &e.uri);
    if let Some(d) = &e.display_name {
        el.children.push(text_el(ns, "display-name", d));
    }
    el
}

/// The tree of a resource-lists document.
pub fn resource_lists_tree(lists: &[List]) -> Element {
    let ns = RESOURCE_LISTS_NS;
    let mut root = text_el(ns, "resource-lists", "");
    for l in lists {
        let mut le = with_attr(text_el(ns, "list", ""), "name", &l.name);
        if let Some(d) = &l.display_name {
            le.children.push(text_el(ns, "display-name", d));
        }
        le.children
            .extend(l.entries.iter().map(|e| entry_element(ns, e)));
        root.children.push(le);
    }
    root
}

/// The bytes of a resource-lists document.
pub fn resource_lists_document(lists: &[List]) -> Vec<u8> {
    write_document(&resource_lists_tree(lists))
}

/// Reads a resource-lists document's lists and their direct entries.
pub fn read_resource_lists(bytes: &[u8]) -> Result<Vec<List>, String> {
    let root = xml_tree::parse(bytes)?;
    let ns = RESOURCE_LISTS_NS;
    if root.ns != ns || root.name != "resource-lists" {
        return Err(format!(
            "the root element is <{}>, not <{{{ns}}}resource-lists>",
            root.expanded()
        ));
    }
    let mut out = Vec::new();
    for l in root.children_named(ns, "list") {
        let mut entries = Vec::new();
        for e in l.children_named(ns, "entry") {
            let uri = e
                .attr("uri")
                .ok_or("an <entry> without a uri attribute")?
                .to_string();
            entries.push(Entry {
                uri,
                display_name: e
                    .children_named(ns, "display-name")
                    .next()
                    .map(|d| d.text.clone()),
            });
        }
        out.push(List {
            name: l.attr("name").unwrap_or("").to_string(),
            display_name: l
                .children_named(ns, "display-name")
                .next()
                .map(|d| d.text.clone()),
            entries,
        });
    }
    Ok(out)
}

/// The tree of a PoC group document: `<group>` holding one
/// `<list-service uri>` with its display name and a `<list>` of member
/// entries.
pub fn poc_group_tree(uri: &str, display_name: &str, members: &[&str]) -> Element {
    let ns = POC_GROUPS_NS;
    let mut list = text_el(ns, "list", "");
    for m in members {
        list.children
            .push(with_attr(text_el(ns, "entry", ""), "uri", m));
    }
    let mut service = with_attr(text_el(ns, "list-service", ""), "uri", uri);
    service
        .children
        .push(text_el(ns, "display-name", display_name));
    service.children.push(list);
    let mut root = text_el(ns, "group", "");
    root.children.push(service);
    root
}

/// The bytes of a PoC group document.
pub fn poc_group_document(uri: &str, display_name: &str, members: &[&str]) -> Vec<u8> {
    write_document(&poc_group_tree(uri, display_name, members))
}

// ---------------------------------------------------------------------------
// xcap-diff (RFC 5874 document, RFC 5875 event package)
// ---------------------------------------------------------------------------
// Element and attribute names from secondary sources (the RFC texts were
// not read here): root <xcap-diff xcap-root="…"> in the namespace below,
// one <document sel="…" new-etag="…" previous-etag="…"/> per document,
// `sel` the document's path relative to the XCAP root.

/// RFC 5874: the xcap-diff document's media type.
pub const DIFF_TYPE: &str = "application/xcap-diff+xml";
/// RFC 5874: its namespace (secondary sources).
pub const DIFF_NS: &str = "urn:ietf:params:xml:ns:xcap-diff";
/// RFC 5875: the SIP event package.
pub const DIFF_EVENT: &str = "xcap-diff";

/// One `<document>` of an xcap-diff document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiffDocument {
    /// The document's path relative to the XCAP root (`AUID/users/XUI/DOC`).
    pub sel: String,
    /// Its entity tag before the change (absent for a new document or the
    /// initial state).
    pub previous_etag: Option<String>,
    /// Its entity tag now (absent once deleted).
    pub new_etag: Option<String>,
}

/// An xcap-diff document: the XCAP root and the documents it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XcapDiff {
    pub xcap_root: String,
    pub documents: Vec<DiffDocument>,
}

/// An entity tag as xcap-diff carries it: the opaque value without the
/// HTTP quotes (`"x1"` → `x1`), so that a tag compares whichever form.
pub fn etag_value(etag: &str) -> &str {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(t)
}

impl XcapDiff {
    /// The tree of the document.
    pub fn tree(&self) -> Element {
        let ns = DIFF_NS;
        let mut root = with_attr(text_el(ns, "xcap-diff", ""), "xcap-root", &self.xcap_root);
        for d in &self.documents {
            let mut e = with_attr(text_el(ns, "document", ""), "sel", &d.sel);
            if let Some(p) = &d.previous_etag {
                e = with_attr(e, "previous-etag", p);
            }
            if let Some(n) = &d.new_etag {
                e = with_attr(e, "new-etag", n);
            }
            root.children.push(e);
        }
        root
    }

    /// The bytes of the document.
    pub fn to_xml(&self) -> Vec<u8> {
        write_document(&self.tree())
    }

    /// Reads an xcap-diff document: its root and every `<document>`
    /// (patch operations inside one are not read).
    pub fn parse(bytes: &[u8]) -> Result<XcapDiff, String> {
        let root = xml_tree::parse(bytes)?;
        if root.ns != DIFF_NS || root.name != "xcap-diff" {
            return Err(format!(
                "the root element is <{}>, not <{{{DIFF_NS}}}xcap-diff>",
                root.expanded()
            ));
        }
        let mut documents = Vec::new();
        for d in root.children_named(DIFF_NS, "document") {
            let sel = d
                .attr("sel")
                .ok_or("a <document> without a sel attribute")?
                .to_string();
            documents.push(DiffDocument {
                sel,
                previous_etag: d.attr("previous-etag").map(str::to_string),
                new_etag: d.attr("new-etag").map(str::to_string),
            });
        }
        Ok(XcapDiff {
            xcap_root: root.attr("xcap-root").unwrap_or("").to_string(),
            documents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_their_pieces() {
        let p = parse_path(
            "/xcap-root",
            "/xcap-root/resource-lists/users/sip:alice@liaison.test/index/~~/resource-lists/list%5B@name=%22friends%22%5D/entry%5B@uri=%22sip:c@x%22%5D",
        )
        .unwrap();
        assert_eq!(p.auid, "resource-lists");
        assert_eq!(p.scope, Scope::User("sip:alice@liaison.test".into()));
        assert_eq!(p.document, "index");
        let n = p.node.unwrap();
        assert_eq!(
            n.describe(),
            "/resource-lists/list[@name=\"friends\"]/entry[@uri=\"sip:c@x\"]"
        );
        let g = parse_path("/r/", "/r/resource-lists/global/index").unwrap();
        assert_eq!(g.scope, Scope::Global);
        assert!(matches!(
            parse_path("/r", "/other/x/users/u/d"),
            Err(PathError::NotUnderRoot { .. })
        ));
        assert!(matches!(
            parse_path("/r", "/r/a/people/u/d"),
            Err(PathError::BadTree { .. })
        ));
        assert!(matches!(
            parse_path("/r", "/r/a/users/u"),
            Err(PathError::NoDocument)
        ));
        assert!(matches!(
            parse_path("/r", "/r/a/users/u/d%2"),
            Err(PathError::BadPercent { .. })
        ));
        assert!(matches!(
            parse_path("/r", "/r/a/users/u/d/~~/x[@a=\"1"),
            Err(PathError::BadNodeSelector { .. })
        ));
        assert!(matches!(
            parse_path("/r", "/r/a/users/u/d/~~/p:x"),
            Err(PathError::BadNodeSelector { .. })
        ));
        let q = parse_path("/r", "/r/a/users/u/d/~~/p:x/y[2]?xmlns(p=urn:x)").unwrap();
        assert_eq!(q.node.unwrap().describe(), "/{urn:x}x/y[2]");
        // Hostile inputs give errors, never a panic.
        for t in [
            "",
            "/",
            "/r",
            "/r/",
            "/r/a",
            "/r/a/users/",
            "/r/%",
            "/r/a/users/u/d/~~/",
            "/r/a/users/u/d/~~/[",
            "/r/a/users/u/d/~~/x]",
        ] {
            let _ = parse_path("/r", t);
        }
    }

    #[test]
    fn any_path_gives_a_value_or_an_error() {
        let base = "/r/resource-lists/users/sip:a%40b/index/~~/resource-lists/list%5B@name=%22f%22%5D/entry[2]/@uri?xmlns(p=urn:x)";
        let doc = resource_lists_tree(&[]);
        for cut in 0..=base.len() {
            let t = base.get(..cut).unwrap_or(base);
            for sub in ["", "%", "[", "]", "\"", "/", "~~", "\u{e9}", "'", "@", ":"] {
                let m = format!("{t}{sub}{}", base.get(cut..).unwrap_or(""));
                if let Ok(p) = parse_path("/r", &m)
                    && let Some(n) = p.node
                {
                    let _ = locate(&doc, &n, RESOURCE_LISTS_NS);
                }
            }
        }
        for b in [&b""[..], b"<", b"<xcap-error/>", b"\xff\xfe", b"<a><b></a>"] {
            assert!(read_error(b).is_err());
            assert!(read_resource_lists(b).is_err());
        }
    }

    #[test]
    fn selectors_locate_elements() {
        let doc = resource_lists_tree(&[List {
            name: "friends".into(),
            display_name: None,
            entries: vec![
                Entry {
                    uri: "sip:b@x".into(),
                    display_name: None,
                },
                Entry {
                    uri: "sip:c@x".into(),
                    display_name: None,
                },
            ],
        }]);
        let sel = |s: &str| NodeSelector::parse(s, BTreeMap::new()).unwrap();
        let ns = RESOURCE_LISTS_NS;
        assert_eq!(
            locate(
                &doc,
                &sel("resource-lists/list[@name=\"friends\"]/entry[@uri=\"sip:c@x\"]"),
                ns
            ),
            Located::Element(vec![0, 1])
        );
        assert_eq!(
            locate(&doc, &sel("resource-lists/list/entry[2]"), ns),
            Located::Element(vec![0, 1])
        );
        assert_eq!(
            locate(
                &doc,
                &sel("resource-lists/list[@name=\"friends\"]/entry[@uri=\"sip:d@x\"]"),
                ns
            ),
            Located::Absent(vec![0])
        );
        assert_eq!(
            locate(&doc, &sel("resource-lists/list[@name=\"x\"]/entry"), ns),
            Located::NoParent
        );
        assert_eq!(
            locate(&doc, &sel("resource-lists/list/entry"), ns),
            Located::Ambiguous
        );
    }

    #[test]
    fn error_documents_round_trip() {
        for c in ErrorCondition::ALL {
            let r = read_error(&error_document(*c)).unwrap();
            assert_eq!(r.known, Some(*c));
        }
        assert!(read_error(b"<x/>").is_err());
        assert!(read_error(b"<xcap-error xmlns=\"urn:ietf:params:xml:ns:xcap-error\"/>").is_err());
    }

    #[test]
    fn written_documents_read_back() {
        let lists = vec![List {
            name: "friends".into(),
            display_name: Some("Friends & <co>".into()),
            entries: vec![Entry {
                uri: "sip:bob@liaison.test".into(),
                display_name: Some("Bob \"B\"".into()),
            }],
        }];
        let bytes = resource_lists_document(&lists);
        assert_eq!(read_resource_lists(&bytes).unwrap(), lists);
        let tree = xml_tree::parse(&bytes).unwrap();
        assert_eq!(tree, resource_lists_tree(&lists));
        let g = poc_group_document("sip:g@x", "G", &["sip:a@x", "sip:b@x"]);
        assert_eq!(
            xml_tree::parse(&g).unwrap(),
            poc_group_tree("sip:g@x", "G", &["sip:a@x", "sip:b@x"])
        );
        // A namespaced attribute and a child in another namespace survive.
        let mut e = text_el("urn:a", "r", "t");
        e.attrs.insert(("urn:b".into(), "k".into()), "v".into());
        e.children.push(text_el("", "plain", ""));
        let back = xml_tree::parse(&write_document(&e)).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn encoding_and_media_types() {
        assert_eq!(
            percent_encode_path("list[@name=\"a b\"]"),
            "list%5B@name=%22a%20b%22%5D"
        );
        assert_eq!(
            percent_decode(&percent_encode_path("x[@u=\"sip:é\"]")).unwrap(),
            "x[@u=\"sip:é\"]"
        );
        assert_eq!(
            media_type("Application/XCAP-el+xml; charset=utf-8"),
            EL_TYPE
        );
        assert_eq!(
            auid("resource-lists").unwrap().media_type,
            RESOURCE_LISTS_TYPE
        );
    }

    #[test]
    fn xcap_diff_round_trips_and_refuses_others() {
        let d = XcapDiff {
            xcap_root: "http://127.0.0.1:1/xcap-root".into(),
            documents: vec![DiffDocument {
                sel: "resource-lists/users/sip:a&b@x/index".into(),
                previous_etag: Some("x1".into()),
                new_etag: Some("x2".into()),
            }],
        };
        assert_eq!(XcapDiff::parse(&d.to_xml()).unwrap(), d);
        assert!(XcapDiff::parse(b"<xcap-diff/>").is_err());
        assert!(XcapDiff::parse(
            b"<xcap-diff xmlns=\"urn:ietf:params:xml:ns:xcap-diff\"><document/></xcap-diff>"
        )
        .is_err());
        assert!(XcapDiff::parse(b"<xcap-diff xmlns=").is_err());
        assert_eq!(etag_value("\"x1\""), "x1");
        assert_eq!(etag_value("W/\"x1\""), "x1");
        assert_eq!(etag_value("x1"), "x1");
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!(
            "xcap_error_not_well_formed",
            String::from_utf8(error_document(ErrorCondition::NotWellFormed)).unwrap()
        );
        insta::assert_snapshot!(
            "xcap_resource_lists",
            String::from_utf8(resource_lists_document(&[List {
                name: "friends".into(),
                display_name: Some("Friends".into()),
                entries: vec![Entry {
                    uri: "sip:bob@liaison.test".into(),
                    display_name: None,
                }],
            }]))
            .unwrap()
        );
        insta::assert_snapshot!(
            "xcap_poc_group",
            String::from_utf8(poc_group_document(
                "sip:team@liaison.test",
                "Team",
                &["sip:alice@liaison.test", "sip:bob@liaison.test"]
            ))
            .unwrap()
        );
        let mut e = entry_element(
            RESOURCE_LISTS_NS,
            &Entry {
                uri: "sip:carol@liaison.test".into(),
                display_name: None,
            },
        );
        e.attrs.insert(("urn:x".into(), "k".into()), "v".into());
        insta::assert_snapshot!("xcap_element", write_element(&e));
        insta::assert_snapshot!(
            "xcap_diff",
            String::from_utf8(
                XcapDiff {
                    xcap_root: "http://127.0.0.1:8080/xcap-root".into(),
                    documents: vec![DiffDocument {
                        sel: "resource-lists/users/sip:alice@liaison.test/index".into(),
                        previous_etag: Some("x1-abc".into()),
                        new_etag: Some("x2-def".into()),
                    }],
                }
                .to_xml()
            )
            .unwrap()
        );
    }
}
