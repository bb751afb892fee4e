//! IMS conventions on top of SIP, sans-IO: asserted identity
//! (`P-Asserted-Identity`, `P-Preferred-Identity`, RFC 3325), the route
//! headers a core adds at registration (`Path`, RFC 3327; `Service-Route`,
//! RFC 3608), feature tags in Contact and their matching against
//! `Accept-Contact` (RFC 3840, RFC 3841), IMS communication service
//! identifiers in `+g.3gpp.icsi-ref` (3GPP TS 24.229 §7.9.2, percent-encoded
//! in a Contact), and telephone numbers in `tel:` URIs and in
//! `sip:…;user=phone` URIs (RFC 3966, RFC 3261 §19.1.6).
//!
//! Nothing here touches a socket; the harness IMS core
//! (`roles::cscf`) and the reference SUTs both use it.

use super::sip::{header_param, request, response_to, uri_of, SipMessage};

/// The OMA SIMPLE IM feature tag (pager mode and sessions).
pub const TAG_SIP_IM: &str = "+g.oma.sip-im";
/// The OMA SIMPLE IM feature tag for Large Message mode.
pub const TAG_LARGE_MESSAGE: &str = "+g.oma.sip-im.large-message";
/// The 3GPP service reference feature tag: its values are ICSIs.
pub const TAG_ICSI: &str = "+g.3gpp.icsi-ref";
/// OMA CPM ICSI for pager-mode standalone messages.
pub const ICSI_CPM_MSG: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg";
/// OMA CPM ICSI for Large Message mode standalone messages.
pub const ICSI_CPM_LARGEMSG: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.largemsg";
/// OMA CPM ICSI for deferred delivery.
pub const ICSI_CPM_DEFERRED: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.deferred";

/// Contact parameters that are not feature tags (RFC 3261 §20.10, RFC 5626).
const NOT_FEATURES: &[&str] = &[
    "q",
    "expires",
    "reg-id",
    "+sip.instance",
    "pub-gruu",
    "temp-gruu",
];

/// The base feature tags of RFC 3840 §10 (they carry no `+`).
const BASE_TAGS: &[&str] = &[
    "audio",
    "video",
    "text",
    "data",
    "control",
    "application",
    "automata",
    "class",
    "duplex",
    "mobility",
    "description",
    "events",
    "priority",
    "methods",
    "schemes",
    "extensions",
    "isfocus",
    "actor",
    "language",
    "type",
];

/// The URIs of every value of `name` (P-Asserted-Identity,
/// P-Preferred-Identity, Path, Service-Route, Route, Record-Route), in order.
///
/// ```
/// use liaison::codec::ims::uris;
/// use liaison::codec::sip::SipMessage;
/// let m = SipMessage::parse(b"MESSAGE sip:b@h SIP/2.0\r\nP-Asserted-Identity: \"A\" <sip:+15551@h;user=phone>, <tel:+15551>\r\nContent-Length: 0\r\n\r\n").unwrap();
/// assert_eq!(uris(&m, "P-Asserted-Identity"), ["sip:+15551@h;user=phone", "tel:+15551"]);
/// ```
pub fn uris(msg: &SipMessage, name: &str) -> Vec<String> {
    msg.header_values(name)
        .iter()
        .filter_map(|v| uri_of(v))
        .collect()
}

/// The identity a request names as its sender: the first P-Asserted-Identity
/// URI when there is one, else the From URI.
pub fn shown_identity(msg: &SipMessage) -> Option<String> {
    uris(msg, "P-Asserted-Identity")
        .into_iter()
        .next()
        .or_else(|| msg.header("From").and_then(uri_of))
}

/// The global telephone number (`+` and digits) a URI names: `tel:+1-555-0100`
/// (RFC 3966 visual separators ignored), or a SIP URI whose user part is a
/// telephone number (`sip:+15550100@host;user=phone`, RFC 3261 §19.1.6). A
/// local number (no `+`) or a SIP URI without `user=phone` gives None.
///
/// ```
/// use liaison::codec::ims::global_number;
/// assert_eq!(global_number("tel:+1-555-0100;npdi").as_deref(), Some("+15550100"));
/// assert_eq!(global_number("sip:+1.555.0100@ims.test;user=phone").as_deref(), Some("+15550100"));
/// assert_eq!(global_number("sip:+15550100@ims.test"), None);
/// assert_eq!(global_number("tel:5550100;phone-context=ims.test"), None);
/// ```
pub fn global_number(uri: &str) -> Option<String> {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let (scheme, rest) = uri.split_once(':')?;
    let subscriber = if scheme.eq_ignore_ascii_case("tel") {
        rest
    } else if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        let (user, hostpart) = rest.split_once('@')?;
        let params = hostpart.split_once(';').map(|x| x.1).unwrap_or("");
        let phone = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("user=phone"));
        if !phone {
            return None;
        }
        user
    } else {
        return None;
    };
    let number = subscriber.split(';').next()?.trim();
    let digits = number.strip_prefix('+')?;
    let mut out = String::from("+");
    for c in digits.chars() {
        match c {
            '0'..='9' => out.push(c),
            '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (out.len() > 1).then_some(out)
}

/// Percent-encodes an ICSI (or IARI) URN for a `+g.3gpp.icsi-ref` value in a
/// Contact or Accept-Contact: every byte outside the unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%HH`, so `:` is written `%3A`.
///
/// ```
/// use liaison::codec::ims::{icsi_encode, ICSI_CPM_MSG};
/// assert_eq!(icsi_encode(ICSI_CPM_MSG), "urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg");
/// ```
pub fn icsi_encode(urn: &str) -> String {
    let mut out = String::with_capacity(urn.len() + 8);
    for b in urn.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%HH` escapes (either case); bytes that are not a valid escape stay.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|x| char::from(*x).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One feature tag of a Contact or Accept-Contact value (RFC 3840 §9): its
/// name lower-cased and, for a tag with a value, the value as written
/// (quotes removed, not split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    pub value: Option<String>,
}

impl Feature {
    /// The values of a tag's value list (`"a,b"`), each with `<…>` removed;
    /// empty for a boolean tag.
    pub fn values(&self) -> Vec<String> {
        self.value
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|v| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim()
            })
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The feature tags of a Contact (or Accept-Contact) value: its parameters
/// after the URI that are `+`-prefixed or RFC 3840 base tags, in order;
/// `q`, `expires`, `reg-id`, `+sip.instance` and Accept-Contact's `require`
/// and `explicit` are not feature tags.
///
/// ```
/// use liaison::codec::ims::features;
/// let f = features("<sip:b@127.0.0.1:5070>;+g.oma.sip-im;expires=60;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3Ax\"");
/// assert_eq!(f.len(), 2);
/// assert_eq!(f[0].name, "+g.oma.sip-im");
/// assert_eq!(f[1].value.as_deref(), Some("urn%3Aurn-7%3Ax"));
/// ```
pub fn features(value: &str) -> Vec<Feature> {
    params(value)
        .into_iter()
        .filter(|(n, _)| {
            !NOT_FEATURES.contains(&n.as_str())
                && n != "require"
                && n != "explicit"
                && (n.starts_with('+') || BASE_TAGS.contains(&n.as_str()))
        })
        .map(|(name, value)| Feature { name, value })
        .collect()
}

/// The parameters after a header value's URI (outside `<…>` and quotes):
/// lower-cased names, unquoted values.
fn params(value: &str) -> Vec<(String, Option<String>)> {
    // Skip the URI: after `>` when it is in `<…>`, else after the first `;`
    // (an addr-spec's parameters are header parameters then, RFC 3261 §20).
    let rest = match (value.find('<'), value.find('>')) {
        (Some(_), Some(close)) => value.get(close + 1..).unwrap_or(""),
        _ => value.split_once(';').map_or("", |x| x.1),
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let push = |seg: &str, out: &mut Vec<(String, Option<String>)>| {
        let seg = seg.trim();
        if seg.is_empty() {
            return;
        }
        match seg.split_once('=') {
            Some((n, v)) => out.push((
                n.trim().to_ascii_lowercase(),
                Some(v.trim().trim_matches('"').to_string()),
            )),
            None => out.push((seg.to_ascii_lowercase(), None)),
        }
    };
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                push(&cur, &mut out);
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    push(&cur, &mut out);
    out
}

/// Does a Contact with `contact` features explicitly satisfy every feature
/// an Accept-Contact value asks for (RFC 3841 §7.2.4: with `require` and
/// `explicit`, only contacts that declared each feature qualify)? A boolean
/// tag matches a contact that lists it (without a value or `TRUE`); a tag
/// with values matches a contact that lists at least one of them (string
/// values compared after percent-decoding, case-sensitive; tokens
/// case-insensitive).
///
/// ```
/// use liaison::codec::ims::{explicitly_matches, features};
/// let ac = "*;+g.oma.sip-im;require;explicit";
/// assert!(explicitly_matches(ac, &features("<sip:a@h>;+g.oma.sip-im")));
/// assert!(!explicitly_matches(ac, &features("<sip:a@h>;+g.oma.pusheventapp=\"mms.ua\"")));
/// ```
pub fn explicitly_matches(accept_contact: &str, contact: &[Feature]) -> bool {
    let wanted = features(accept_contact);
    wanted.iter().all(|w| {
        let Some(have) = contact.iter().find(|c| c.name == w.name) else {
            return false;
        };
        match (&w.value, &have.value) {
            (None, None) => true,
            (None, Some(v)) => v.eq_ignore_ascii_case("true"),
            (Some(wv), _) if wv.eq_ignore_ascii_case("true") && have.value.is_none() => true,
            (Some(_), None) => false,
            (Some(_), Some(_)) => {
                let hv: Vec<String> = have.values().iter().map(|v| percent_decode(v)).collect();
                w.values().iter().map(|v| percent_decode(v)).any(|v| {
                    hv.iter().any(|h| {
                        if w.value.as_deref().is_some_and(|x| x.starts_with('<')) {
                            *h == v
                        } else {
                            h.eq_ignore_ascii_case(&v) || *h == v
                        }
                    })
                })
            }
        }
    })
}

/// Does an Accept-Contact value require explicit matching (`require` and
/// `explicit` both present)?
pub fn requires_explicit(accept_contact: &str) -> bool {
    header_param(accept_contact, "require").is_some()
        && header_param(accept_contact, "explicit").is_some()
}

/// The ICSIs a Contact declares in `+g.3gpp.icsi-ref`, percent-decoded,
/// with whether each was written percent-encoded (no raw `:`) as
/// TS 24.229 writes it.
///
/// ```
/// use liaison::codec::ims::icsis;
/// let v = "<sip:b@h>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg,urn:urn-7:x\"";
/// assert_eq!(icsis(v), [("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg".to_string(), true), ("urn:urn-7:x".to_string(), false)]);
/// ```
pub fn icsis(contact: &str) -> Vec<(String, bool)> {
    features(contact)
        .into_iter()
        .filter(|f| f.name == TAG_ICSI)
        .flat_map(|f| f.values())
        .map(|v| (percent_decode(&v), !v.contains(':')))
        .collect()
}

/// A loose-routing URI value for Path, Record-Route or Service-Route:
/// `<sip:USER@HOSTPORT;lr>` (RFC 3261 §19.1.1 `lr`; transport added for TCP).
///
/// ```
/// use liaison::codec::ims::lr_uri;
/// assert_eq!(lr_uri("pcscf", "127.0.0.2:5060", false), "<sip:pcscf@127.0.0.2:5060;lr>");
/// ```
pub fn lr_uri(user: &str, hostport: &str, tcp: bool) -> String {
    if tcp {
        format!("<sip:{user}@{hostport};transport=tcp;lr>")
    } else {
        format!("<sip:{user}@{hostport};lr>")
    }
}

/// What an IMS core (S-CSCF as registrar, behind its P-CSCF) answers to a
/// REGISTER it accepts: 200 with the Path it recorded (RFC 3327 §5.3), the
/// Service-Route the UE is to use for its requests (RFC 3608 §5), the
/// identities registered with it (P-Associated-URI, RFC 3455 §4.1), and each
/// accepted Contact with its expiry.
pub struct RegisterOk<'a> {
    pub path: &'a [String],
    pub service_route: &'a [String],
    pub associated: &'a [String],
    pub contacts: &'a [String],
    pub expires: u32,
    pub to_tag: &'a str,
    /// Where the REGISTER came from: filled into its top Via
    /// ([`crate::codec::sip::ResponseBuilder::received_from`]).
    pub source: Option<std::net::SocketAddr>,
}

impl RegisterOk<'_> {
    /// The exact bytes of the 200 to `req`.
    pub fn build(&self, req: &SipMessage) -> Vec<u8> {
        let mut b = response_to(req, 200, "OK").to_tag(self.to_tag);
        if let Some(source) = self.source {
            b = b.received_from(source);
        }
        for p in self.path {
            b = b.header("Path", p);
        }
        for s in self.service_route {
            b = b.header("Service-Route", s);
        }
        if !self.associated.is_empty() {
            let list: Vec<String> = self.associated.iter().map(|a| format!("<{a}>")).collect();
            b = b.header("P-Associated-URI", &list.join(", "));
        }
        for c in self.contacts {
            b = b.header("Contact", &format!("{c};expires={}", self.expires));
        }
        b.build()
    }
}

/// A MESSAGE that asserts identities: `P-Asserted-Identity` with every URI
/// of `asserted` (one header, comma-separated; RFC 3325 §9.1), for tests and
/// for the reference server's stored deliveries.
pub fn asserted_value(asserted: &[&str]) -> String {
    asserted
        .iter()
        .map(|u| format!("<{u}>"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bare REGISTER for `aor` binding `contact` (with its feature-tag
/// parameters) through an outbound proxy, with `Supported: path` as
/// TS 24.229 §5.1.1.2 has a UE send it. For the reference client and tests.
pub fn register_request(
    aor: &str,
    contact: &str,
    via: &str,
    call_id: &str,
    cseq: u32,
    from_tag: &str,
    expires: u32,
) -> Vec<u8> {
    let domain = aor
        .rsplit_once('@')
        .map(|x| x.1)
        .unwrap_or("invalid")
        .split(';')
        .next()
        .unwrap_or("invalid");
    request("REGISTER", &format!("sip:{domain}"))
        .header("Via", via)
        .header("Max-Forwards", "70")
        .header("From", &format!("<{aor}>;tag={from_tag}"))
        .header("To", &format!("<{aor}>"))
        .header("Call-ID", call_id)
        .header("CSeq", &format!("{cseq} REGISTER"))
        .header("Supported", "path")
        .header("Contact", contact)
        .header("Expires", &expires.to_string())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).replace("\r\n", "\\r\\n\n")
    }

    fn register() -> SipMessage {
        SipMessage::parse(&register_request(
            "sip:bob@ims.test",
            &format!(
                "<sip:bob@127.0.0.1:5070>;{TAG_SIP_IM};{TAG_ICSI}=\"{}\"",
                icsi_encode(ICSI_CPM_MSG)
            ),
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKreg1;rport",
            "reg1@liaison",
            7,
            "ft1",
            600,
        ))
        .unwrap()
    }

    #[test]
    fn build_register_request() {
        let m = register();
        assert_eq!(m.request_uri(), Some("sip:ims.test"));
        assert_eq!(m.header("Supported"), Some("path"));
        let c = m.header("Contact").unwrap();
        assert_eq!(
            icsis(c),
            [(ICSI_CPM_MSG.to_string(), true)],
            "the ICSI comes back decoded and marked encoded"
        );
        insta::assert_snapshot!("register_request", text(m.raw()));
    }

    #[test]
    fn build_register_ok() {
        let req = register();
        let ok = RegisterOk {
            path: &[lr_uri("pcscf", "127.0.0.2:5060", false)],
            service_route: &[lr_uri("orig", "127.0.0.2:5060", false)],
            associated: &["sip:bob@ims.test".into(), "tel:+15550100".into()],
            contacts: &[req.header("Contact").unwrap().to_string()],
            expires: 600,
            to_tag: "tt1",
            source: Some("127.0.0.1:40000".parse().unwrap()),
        }
        .build(&req);
        let m = SipMessage::parse(&ok).unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(uris(&m, "Path"), ["sip:pcscf@127.0.0.2:5060;lr"]);
        assert_eq!(uris(&m, "Service-Route"), ["sip:orig@127.0.0.2:5060;lr"]);
        assert_eq!(
            uris(&m, "P-Associated-URI"),
            ["sip:bob@ims.test", "tel:+15550100"]
        );
        insta::assert_snapshot!("register_ok", text(&ok));
    }

    #[test]
    fn numbers() {
        assert_eq!(global_number("tel:+15550100").as_deref(), Some("+15550100"));
        assert_eq!(
            global_number("<sip:+1(555)0100@h;user=phone;transport=tcp>").as_deref(),
            Some("+15550100")
        );
        assert_eq!(
            global_number("sip:+15550100;npdi@h;user=phone").as_deref(),
            Some("+15550100")
        );
        for bad in [
            "",
            "tel:",
            "tel:+",
            "tel:+1a",
            "sip:@h;user=phone",
            "mailto:+1@h",
            ":",
        ] {
            assert_eq!(global_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn feature_matching() {
        let im = features("<sip:a@h:1>;+g.oma.sip-im;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg\"");
        let push = features("<sip:a@h:2>;+g.oma.pusheventapp=\"x.ua\"");
        let ac_icsi = format!(
            "*;{TAG_ICSI}=\"{}\";require;explicit",
            icsi_encode(ICSI_CPM_MSG)
        );
        assert!(explicitly_matches(&ac_icsi, &im));
        assert!(!explicitly_matches(&ac_icsi, &push));
        assert!(requires_explicit(&ac_icsi));
        assert!(!requires_explicit("*;+g.oma.sip-im"));
        // An un-encoded ICSI in the request still names the same service.
        let raw = format!("*;{TAG_ICSI}=\"{ICSI_CPM_MSG}\";require;explicit");
        assert!(explicitly_matches(&raw, &im));
        // Another ICSI does not match.
        let other = format!(
            "*;{TAG_ICSI}=\"{}\";require;explicit",
            icsi_encode(ICSI_CPM_LARGEMSG)
        );
        assert!(!explicitly_matches(&other, &im));
        assert!(explicitly_matches(
            "*;+g.oma.pusheventapp=\"x.ua\";require;explicit",
            &push
        ));
    }

    #[test]
    fn identities() {
        let m = SipMessage::parse(
            b"MESSAGE sip:b@h SIP/2.0\r\nFrom: <sip:mallory@h>;tag=1\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(shown_identity(&m).as_deref(), Some("sip:mallory@h"));
        assert_eq!(
            asserted_value(&["sip:+1@h;user=phone", "tel:+1"]),
            "<sip:+1@h;user=phone>, <tel:+1>"
        );
    }

    #[test]
    fn never_panics() {
        for s in [
            "", ";", "\"", "<", ">;", "<a>;\"", "%", "%4", "%zz", "a;=;=",
        ] {
            let _ = features(s);
            let _ = icsis(s);
            let _ = percent_decode(s);
            let _ = global_number(s);
            let _ = explicitly_matches(s, &features(s));
        }
        assert_eq!(percent_decode("a%3a%3Ab%"), "a::b%");
    }
}
