//! Presence documents and header fields, sans IO: PIDF (RFC 3863) built and
//! read, pres-rules (RFC 5025 over the common-policy framework of RFC 4745:
//! rules with an identity condition of `<one id=…>` and a `sub-handling`
//! action) built and read, watcher information (RFC 3858) built and read,
//! and the values of `Event` (RFC 6665 §8.2.1) and `Subscription-State`
//! (§8.2.3). Reading goes through [`super::xml_tree`]: only a whole,
//! well-formed document within its bounds is read; every other input is a
//! precise [`PresenceError`].

use super::xml_tree::{self, Element};

/// The PIDF namespace (RFC 3863 §4.1).
pub const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";
/// The media type of PIDF documents (RFC 3863 §7).
pub const PIDF_TYPE: &str = "application/pidf+xml";
/// The common-policy namespace (RFC 4745 §5).
pub const COMMON_POLICY_NS: &str = "urn:ietf:params:xml:ns:common-policy";
/// The pres-rules namespace (RFC 5025 §3).
pub const PRES_RULES_NS: &str = "urn:ietf:params:xml:ns:pres-rules";
/// The media type of authorization policy documents (RFC 4745 §9.1),
/// which pres-rules documents are PUT with (RFC 5025 §9.1).
pub const AUTH_POLICY_TYPE: &str = "application/auth-policy+xml";
/// The XCAP application usage of pres-rules (RFC 5025 §9.1).
pub const PRES_RULES_AUID: &str = "pres-rules";
/// The watcherinfo namespace (RFC 3858 §5).
pub const WATCHERINFO_NS: &str = "urn:ietf:params:xml:ns:watcherinfo";
/// The media type of watcher information (RFC 3858 §7).
pub const WATCHERINFO_TYPE: &str = "application/watcherinfo+xml";
/// The largest presence document read or kept.
pub const MAX_DOCUMENT: usize = 64 * 1024;

/// Why a presence document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceError {
    /// Larger than [`MAX_DOCUMENT`].
    TooLarge(usize),
    /// Not a well-formed XML document (the parser's reason).
    NotWellFormed(String),
    /// A root element other than the one the type requires.
    WrongRoot { expected: String, came: String },
    /// A required attribute is missing (element, attribute).
    MissingAttribute(&'static str, &'static str),
    /// An element value outside its enumeration (element, value).
    BadValue(&'static str, String),
}

impl std::fmt::Display for PresenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PresenceError::TooLarge(n) => {
                write!(f, "{n} bytes, over the {MAX_DOCUMENT}-byte limit")
            }
            PresenceError::NotWellFormed(e) => write!(f, "not well-formed XML: {e}"),
            PresenceError::WrongRoot { expected, came } => {
                write!(f, "root element {came}, expected {expected}")
            }
            PresenceError::MissingAttribute(e, a) => write!(f, "<{e}> has no `{a}` attribute"),
            PresenceError::BadValue(e, v) => write!(f, "<{e}> has the value {v:?}"),
        }
    }
}

impl std::error::Error for PresenceError {}

fn root(bytes: &[u8], ns: &str, name: &str) -> Result<Element, PresenceError> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(PresenceError::TooLarge(bytes.len()));
    }
    let e = xml_tree::parse(bytes).map_err(PresenceError::NotWellFormed)?;
    if e.ns != ns || e.name != name {
        return Err(PresenceError::WrongRoot {
            expected: format!("{{{ns}}}{name}"),
            came: e.expanded(),
        });
    }
    Ok(e)
}

/// Text escaped for an XML attribute or element content.
pub fn escape(s: &str) -> String {
    super::xml_tree::escape(s, true)
}

/// One PIDF tuple (RFC 3863 §4.1.2): id, basic status, contact, note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuple {
    pub id: String,
    /// `open` or `closed` (§4.1.4).
    pub basic: String,
    pub contact: Option<String>,
    pub note: Option<String>,
}

/// A PIDF document (RFC 3863 §4.1): the presentity and its tuples.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pidf {
    /// The `entity` attribute: the presentity's URI.
    pub entity: String,
    pub tuples: Vec<Tuple>,
    /// Notes of the presence element itself.
    pub notes: Vec<String>,
}

impl Pidf {
    /// The document, UTF-8 with its declaration.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.push_str(&format!(
            "<presence xmlns=\"{PIDF_NS}\" entity=\"{}\">\n",
            escape(&self.entity)
        ));
        for t in &self.tuples {
            s.push_str(&format!(
                " <tuple id=\"{}\">\n  <status><basic>{}</basic></status>\n",
                escape(&t.id),
                escape(&t.basic)
            ));
            if let Some(c) = &t.contact {
                s.push_str(&format!("  <contact>{}</contact>\n", escape(c)));
            }
            if let Some(n) = &t.note {
                s.push_str(&format!("  <note>{}</note>\n", escape(n)));
            }
            s.push_str(" </tuple>\n");
        }
        for n in &self.notes {
            s.push_str(&format!(" <note>{}</note>\n", escape(n)));
        }
        s.push_str("</presence>\n");
        s.into_bytes()
    }

    /// Reads a PIDF document: the root `{pidf}presence` with an `entity`,
    /// each tuple's id, basic status (`open`/`closed` when present),
    /// contact and note. Elements of other namespaces (extensions, §4.3)
    /// are passed over.
    pub fn parse(bytes: &[u8]) -> Result<Pidf, PresenceError> {
        let e = root(bytes, PIDF_NS, "presence")?;
        let entity = e
            .attr("entity")
            .ok_or(PresenceError::MissingAttribute("presence", "entity"))?
            .to_string();
        let mut tuples = Vec::new();
        for t in e.children_named(PIDF_NS, "tuple") {
            let id = t
                .attr("id")
                .ok_or(PresenceError::MissingAttribute("tuple", "id"))?
                .to_string();
            let basic = t
                .children_named(PIDF_NS, "status")
                .flat_map(|s| s.children_named(PIDF_NS, "basic"))
                .map(|b| b.text.clone())
                .next()
                .unwrap_or_default();
            if !basic.is_empty() && basic != "open" && basic != "closed" {
                return Err(PresenceError::BadValue("basic", basic));
            }
            tuples.push(Tuple {
                id,
                basic,
                contact: t
                    .children_named(PIDF_NS, "contact")
                    .map(|c| c.text.clone())
                    .next(),
                note: t
                    .children_named(PIDF_NS, "note")
                    .map(|c| c.text.clone())
                    .next(),
            });
        }
        let notes = e
            .children_named(PIDF_NS, "note")
            .map(|n| n.text.clone())
            .collect();
        Ok(Pidf {
            entity,
            tuples,
            notes,
        })
    }
}

/// The `sub-handling` action of a pres-rules rule (RFC 5025 §3.2.1), in
/// increasing order of permission (common-policy combines the rules that
/// match by taking the highest, RFC 4745 §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubHandling {
    Block,
    Confirm,
    PoliteBlock,
    Allow,
}

impl SubHandling {
    pub fn as_str(self) -> &'static str {
        match self {
            SubHandling::Block => "block",
            SubHandling::Confirm => "confirm",
            SubHandling::PoliteBlock => "polite-block",
            SubHandling::Allow => "allow",
        }
    }

    pub fn parse(s: &str) -> Option<SubHandling> {
        match s {
            "block" => Some(SubHandling::Block),
            "confirm" => Some(SubHandling::Confirm),
            "polite-block" => Some(SubHandling::PoliteBlock),
            "allow" => Some(SubHandling::Allow),
            _ => None,
        }
    }
}

/// One rule: the identities its condition names (`<identity><one id>`;
/// none: the rule has no identity condition and matches everyone) and its
/// sub-handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub identities: Vec<String>,
    pub handling: SubHandling,
}

/// A pres-rules document: a common-policy ruleset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresRules {
    pub rules: Vec<Rule>,
}

impl PresRules {
    /// A ruleset of one rule: `handling` for `identities`.
    pub fn one(id: &str, identities: &[&str], handling: SubHandling) -> PresRules {
        PresRules {
            rules: vec![Rule {
                id: id.into(),
                identities: identities.iter().map(|s| s.to_string()).collect(),
                handling,
            }],
        }
    }

    pub fn to_xml(&self) -> Vec<u8> {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.push_str(&format!(
            "<cr:ruleset xmlns=\"{PRES_RULES_NS}\" xmlns:cr=\"{COMMON_POLICY_NS}\">\n"
        ));
        for r in &self.rules {
            s.push_str(&format!(
                " <cr:rule id=\"{}\">\n  <cr:conditions>\n",
                escape(&r.id)
            ));
            if !r.identities.is_empty() {
                s.push_str("   <cr:identity>\n");
                for i in &r.identities {
                    s.push_str(&format!("    <cr:one id=\"{}\"/>\n", escape(i)));
                }
                s.push_str("   </cr:identity>\n");
            }
            s.push_str(&format!(
                "  </cr:conditions>\n  <cr:actions>\n   <sub-handling>{}</sub-handling>\n  </cr:actions>\n",
                r.handling.as_str()
            ));
            // An allowed watcher is shown everything (RFC 5025 §3.3: what
            // no transformation provides is withheld).
            if r.handling == SubHandling::Allow {
                s.push_str(concat!(
                    "  <cr:transformations>\n",
                    "   <provide-services><all-services/></provide-services>\n",
                    "   <provide-persons><all-persons/></provide-persons>\n",
                    "   <provide-devices><all-devices/></provide-devices>\n",
                    "   <provide-all-attributes/>\n",
                    "  </cr:transformations>\n"
                ));
            } else {
                s.push_str("  <cr:transformations/>\n");
            }
            s.push_str(" </cr:rule>\n");
        }
        s.push_str("</cr:ruleset>\n");
        s.into_bytes()
    }

    /// Reads a ruleset. A rule without a `sub-handling` action grants
    /// nothing (block, RFC 4745 §10.2: no permission is the default).
    pub fn parse(bytes: &[u8]) -> Result<PresRules, PresenceError> {
        let e = root(bytes, COMMON_POLICY_NS, "ruleset")?;
        let mut rules = Vec::new();
        for r in e.children_named(COMMON_POLICY_NS, "rule") {
            let id = r
                .attr("id")
                .ok_or(PresenceError::MissingAttribute("rule", "id"))?
                .to_string();
            let identities = r
                .children_named(COMMON_POLICY_NS, "conditions")
                .flat_map(|c| c.children_named(COMMON_POLICY_NS, "identity"))
                .flat_map(|i| i.children_named(COMMON_POLICY_NS, "one"))
                .filter_map(|o| o.attr("id").map(str::to_string))
                .collect();
            let handling = match r
                .children_named(COMMON_POLICY_NS, "actions")
                .flat_map(|a| a.children_named(PRES_RULES_NS, "sub-handling"))
                .map(|h| h.text.clone())
                .next()
            {
                None => SubHandling::Block,
                Some(h) => {
                    SubHandling::parse(&h).ok_or(PresenceError::BadValue("sub-handling", h))?
                }
            };
            rules.push(Rule {
                id,
                identities,
                handling,
            });
        }
        Ok(PresRules { rules })
    }

    /// What the rules grant the watcher whose identity is `watcher`, with
    /// identities compared by `same`: the most permissive action of the
    /// rules that match (RFC 4745 §10.2), None when no rule matches.
    pub fn handling_for(
        &self,
        watcher: &str,
        same: impl Fn(&str, &str) -> bool,
    ) -> Option<SubHandling> {
        self.rules
            .iter()
            .filter(|r| r.identities.is_empty() || r.identities.iter().any(|i| same(i, watcher)))
            .map(|r| r.handling)
            .max()
    }
}

/// One watcher of a watcher list (RFC 3858 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEntry {
    pub id: String,
    /// `pending`, `active`, `waiting` or `terminated`.
    pub status: String,
    /// The event that led to the status (`subscribe`, `approved`, …).
    pub event: String,
    pub uri: String,
}

/// A watcherinfo document with one watcher list (RFC 3858 §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watcherinfo {
    pub version: u32,
    /// `full` or `partial`.
    pub state: String,
    /// The watched resource (the presentity's URI).
    pub resource: String,
    pub package: String,
    pub watchers: Vec<WatcherEntry>,
}

impl Watcherinfo {
    pub fn to_xml(&self) -> Vec<u8> {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.push_str(&format!(
            "<watcherinfo xmlns=\"{WATCHERINFO_NS}\" version=\"{}\" state=\"{}\">\n",
            self.version,
            escape(&self.state)
        ));
        s.push_str(&format!(
            " <watcher-list resource=\"{}\" package=\"{}\">\n",
            escape(&self.resource),
            escape(&self.package)
        ));
        for w in &self.watchers {
            s.push_str(&format!(
                "  <watcher id=\"{}\" status=\"{}\" event=\"{}\">{}</watcher>\n",
                escape(&w.id),
                escape(&w.status),
                escape(&w.event),
                escape(&w.uri)
            ));
        }
        s.push_str(" </watcher-list>\n</watcherinfo>\n");
        s.into_bytes()
    }

    /// Reads a watcherinfo document: the first watcher list and its watchers.
    pub fn parse(bytes: &[u8]) -> Result<Watcherinfo, PresenceError> {
        let e = root(bytes, WATCHERINFO_NS, "watcherinfo")?;
        let version = e
            .attr("version")
            .ok_or(PresenceError::MissingAttribute("watcherinfo", "version"))?;
        let version = version
            .parse()
            .map_err(|_| PresenceError::BadValue("watcherinfo", version.to_string()))?;
        let state = e.attr("state").unwrap_or_default().to_string();
        let mut out = Watcherinfo {
            version,
            state,
            ..Default::default()
        };
        if let Some(l) = e.children_named(WATCHERINFO_NS, "watcher-list").next() {
            out.resource = l.attr("resource").unwrap_or_default().to_string();
            out.package = l.attr("package").unwrap_or_default().to_string();
            for w in l.children_named(WATCHERINFO_NS, "watcher") {
                out.watchers.push(WatcherEntry {
                    id: w.attr("id").unwrap_or_default().to_string(),
                    status: w.attr("status").unwrap_or_default().to_string(),
                    event: w.attr("event").unwrap_or_default().to_string(),
                    uri: w.text.clone(),
                });
            }
        }
        Ok(out)
    }
}

/// The event package of an `Event` value ([`super::sip::event_package`]).
pub use super::sip::event_package;

/// A `Subscription-State` value (RFC 6665 §8.2.3): the state (lower-cased)
/// and its `expires`, `reason` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub state: String,
    pub expires: Option<u32>,
    pub reason: Option<String>,
}

pub fn subscription_state(value: &str) -> SubscriptionState {
    let mut parts = value.split(';');
    let state = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut out = SubscriptionState {
        state,
        expires: None,
        reason: None,
    };
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "expires" => out.expires = v.trim().parse().ok(),
            "reason" => out.reason = Some(v.trim().to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}

/// An entity tag as a SIP-ETag / SIP-If-Match value carries it (RFC 3903
/// §11.3.1: a token), trimmed.
pub fn entity_tag(value: &str) -> String {
    value.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pidf() -> Pidf {
        Pidf {
            entity: "sip:alice@liaison.test".into(),
            tuples: vec![Tuple {
                id: "t1".into(),
                basic: "open".into(),
                contact: Some("sip:alice@127.0.0.1:5060".into()),
                note: Some("at the <desk> & \"ready\"".into()),
            }],
            notes: vec![],
        }
    }

    #[test]
    fn pidf_round_trips_and_snapshots() {
        let p = pidf();
        let x = p.to_xml();
        insta::assert_snapshot!("pidf", String::from_utf8_lossy(&x));
        assert_eq!(Pidf::parse(&x).unwrap(), p);
    }

    #[test]
    fn pidf_errors_are_precise() {
        assert!(matches!(
            Pidf::parse(b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple"),
            Err(PresenceError::NotWellFormed(_))
        ));
        assert!(matches!(
            Pidf::parse(b"<presence entity='x'/>"),
            Err(PresenceError::WrongRoot { .. })
        ));
        assert_eq!(
            Pidf::parse(b"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>"),
            Err(PresenceError::MissingAttribute("presence", "entity"))
        );
        assert!(matches!(
            Pidf::parse(&vec![b' '; MAX_DOCUMENT + 1]),
            Err(PresenceError::TooLarge(_))
        ));
        let bad = b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='a'><status><basic>maybe</basic></status></tuple></presence>";
        assert!(matches!(
            Pidf::parse(bad),
            Err(PresenceError::BadValue("basic", _))
        ));
    }

    #[test]
    fn pres_rules_round_trip_and_decide() {
        let r = PresRules::one("allow-bob", &["sip:bob@liaison.test"], SubHandling::Allow);
        let x = r.to_xml();
        insta::assert_snapshot!("pres_rules", String::from_utf8_lossy(&x));
        let back = PresRules::parse(&x).unwrap();
        assert_eq!(back, r);
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        assert_eq!(
            back.handling_for("sip:bob@liaison.test", eq),
            Some(SubHandling::Allow)
        );
        assert_eq!(back.handling_for("sip:carol@liaison.test", eq), None);
        let mut two = r.clone();
        two.rules.push(Rule {
            id: "all".into(),
            identities: vec![],
            handling: SubHandling::Block,
        });
        assert_eq!(
            two.handling_for("sip:bob@liaison.test", eq),
            Some(SubHandling::Allow)
        );
        assert_eq!(two.handling_for("sip:x@y", eq), Some(SubHandling::Block));
        assert!(matches!(
            PresRules::parse(b"<ruleset xmlns='urn:ietf:params:xml:ns:common-policy'><rule id='a'><actions><sub-handling xmlns='urn:ietf:params:xml:ns:pres-rules'>maybe</sub-handling></actions></rule></ruleset>"),
            Err(PresenceError::BadValue("sub-handling", _))
        ));
    }

    #[test]
    fn watcherinfo_round_trips() {
        let w = Watcherinfo {
            version: 0,
            state: "full".into(),
            resource: "sip:alice@liaison.test".into(),
            package: "presence".into(),
            watchers: vec![WatcherEntry {
                id: "w1".into(),
                status: "pending".into(),
                event: "subscribe".into(),
                uri: "sip:bob@liaison.test".into(),
            }],
        };
        let x = w.to_xml();
        insta::assert_snapshot!("watcherinfo", String::from_utf8_lossy(&x));
        assert_eq!(Watcherinfo::parse(&x).unwrap(), w);
    }

    #[test]
    fn header_values() {
        assert_eq!(event_package(" Presence ;id=3"), "presence");
        let s = subscription_state("active;expires=60");
        assert_eq!((s.state.as_str(), s.expires), ("active", Some(60)));
        let s = subscription_state("terminated; reason=rejected");
        assert_eq!(s.reason.as_deref(), Some("rejected"));
        assert_eq!(entity_tag(" abc "), "abc");
    }
}
