//! MMS addresses (the values of From, To, Cc and Bcc).
//!
//! The grammar is OMA-MMS-ENC §8 ("MMS addressing model"; WAP-209 §8 before it):
//! an address is an RFC 2822 mailbox, or a device address made of a value and a
//! `/TYPE=` suffix — a global phone number with `PLMN`, a dotted quad with
//! `IPv4`, eight colon-separated groups of four hex digits with `IPv6`, or, for
//! any other bearer address type (a name of letters, digits and `_`), a value
//! escaped so that only letters, digits and `+ - . _` remain, every other octet
//! written as `%` and two hex digits (so `%` itself becomes `%25`). MMS 1.2 adds
//! short codes (letters and digits, no suffix).
//!
//! Implementations read the suffix case-insensitively: Android's PduComposer
//! writes `/TYPE=IPV4` and `/TYPE=IPV6` in capitals and recognises the IPv6 form
//! as exactly eight groups of four hex digits, as the grammar has it. This module
//! accepts any case on input and keeps the case it read, writing the spellings
//! of the grammar (`PLMN`, `IPv4`, `IPv6`) for addresses it builds.
//!
//! SIP URIs: ENC 1.3 defines no address type for them. Two forms occur: the
//! escaped device-address form with a type name (e.g.
//! `sip%3Aalice%40example.com%3Buser%3Dphone/TYPE=SIP`), which fits the grammar
//! above, and the bare URI (`sip:alice@example.com`), which Android sends as is
//! and which Mbuni passes as if it were e-mail. [`Address::Uri`] holds the bare
//! form; [`Address::Typed`] the escaped one.

use super::error::MmsError;
use std::fmt;

/// One MMS address, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// `+15551234567/TYPE=PLMN`: the global phone number (`+`, digits, `-`, `.`).
    Plmn(String),
    /// `192.0.2.1/TYPE=IPv4`.
    Ipv4(String),
    /// `2001:0db8:0000:0000:0000:0000:0000:0001/TYPE=IPv6` (the full form).
    Ipv6(String),
    /// An RFC 2822 mailbox, with or without a display name, as written.
    Email(String),
    /// `escaped-value/TYPE=<kind>`: `value` is unescaped, `kind` as written.
    Typed { kind: String, value: String },
    /// A bare URI with a scheme (`sip:`, `sips:`, `tel:`), outside the ENC
    /// grammar but sent by real clients.
    Uri(String),
    /// An MMS 1.2 short code: letters and digits only.
    ShortCode(String),
}

/// Characters an escaped value may carry unescaped (ENC §8 safe-char, less `%`,
/// which only introduces an escape).
pub fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_')
}

/// Escapes `value` for the `escaped-value/TYPE=` form: every octet of its UTF-8
/// that is not a safe character becomes `%XX` (upper-case hex).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for &b in value.as_bytes() {
        if is_safe(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0F)]));
        }
    }
    out
}

/// Reverses [`escape`]. Fails on a character outside the safe set, a `%` not
/// followed by two hex digits, or octets that are not UTF-8.
pub fn unescape(escaped: &str) -> Result<String, MmsError> {
    let bad = |reason| MmsError::BadAddress {
        input: escaped.to_string(),
        reason,
    };
    let b = escaped.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .ok_or_else(|| bad("`%` is not followed by two hex digits"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad("bad hex escape"))?);
                i += 3;
            }
            c if is_safe(c) => {
                out.push(c);
                i += 1;
            }
            _ => {
                return Err(bad(
                    "character outside the escaped-value set (A-Z a-z 0-9 + - . _ %XX)",
                ))
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad("escaped octets are not UTF-8"))
}

fn is_phone(v: &str) -> bool {
    let digits = v.strip_prefix('+').unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn is_ipv4(v: &str) -> bool {
    let groups: Vec<&str> = v.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

fn is_ipv6(v: &str) -> bool {
    let groups: Vec<&str> = v.split(':').collect();
    groups.len() == 8
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_type_name(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A URI scheme at the start (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`,
/// RFC 3986 §3.1) followed by something.
fn has_scheme(v: &str) -> bool {
    match v.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// A loose RFC 2822 mailbox check: an addr-spec, optionally in `<…>` after a
/// display name; the local part dot-atom text or a quoted string, the domain
/// letters, digits, `-` and `.` or a `[literal]`.
fn is_mailbox(v: &str) -> bool {
    let spec = match (v.rfind('<'), v.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        (None, None) => v,
        _ => return false,
    };
    let Some((local, domain)) = spec.rsplit_once('@') else {
        return false;
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b);
    let local_ok = (local.len() >= 2 && local.starts_with('"') && local.ends_with('"'))
        || (!local.is_empty() && local.bytes().all(atext));
    let domain_ok = (domain.starts_with('[') && domain.ends_with(']'))
        || (!domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    local_ok && domain_ok
}

impl Address {
    pub fn plmn(number: &str) -> Address {
        Address::Plmn(number.to_string())
    }

    pub fn email(mailbox: &str) -> Address {
        Address::Email(mailbox.to_string())
    }

    /// The `escaped-value/TYPE=<kind>` form for any value (escaped on output).
    pub fn typed(kind: &str, value: &str) -> Address {
        Address::Typed {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// Parses the text of an address field. The `/TYPE=` suffix is matched
    /// without regard to case; an escaped value is unescaped (so `%3a` and `%3A`
    /// read the same, and [`Address::to_string`] writes the upper-case form).
    pub fn parse(s: &str) -> Result<Address, MmsError> {
        let bad = |reason| MmsError::BadAddress {
            input: s.to_string(),
            reason,
        };
        let upper = s.to_ascii_uppercase();
        if let Some(cut) = upper.rfind("/TYPE=") {
            let (value, kind) = (&s[..cut], &s[cut + 6..]);
            if value.is_empty() {
                return Err(bad("empty value before /TYPE="));
            }
            if !is_type_name(kind) {
                return Err(bad("address type is not letters, digits and `_`"));
            }
            return match kind.to_ascii_uppercase().as_str() {
                "PLMN" if is_phone(value) => Ok(Address::Plmn(value.to_string())),
                "PLMN" => Err(bad(
                    "PLMN value is not a global phone number (+, digits, - .)",
                )),
                "IPV4" if is_ipv4(value) => Ok(Address::Ipv4(value.to_string())),
                "IPV4" => Err(bad("IPv4 value is not four dotted groups of 1-3 digits")),
                "IPV6" if is_ipv6(value) => Ok(Address::Ipv6(value.to_string())),
                "IPV6" => Err(bad("IPv6 value is not eight groups of four hex digits")),
                _ => Ok(Address::Typed {
                    kind: kind.to_string(),
                    value: unescape(value)?,
                }),
            };
        }
        if s.is_empty() {
            return Err(bad("empty address"));
        }
        if is_mailbox(s) {
            return Ok(Address::Email(s.to_string()));
        }
        if has_scheme(s) {
            return Ok(Address::Uri(s.to_string()));
        }
        if s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(Address::ShortCode(s.to_string()));
        }
        Err(bad(
            "neither a mailbox, a /TYPE= device address, a URI nor a short code",
        ))
    }

    /// The name of the form: `PLMN`, `IPv4`, `IPv6`, `e-mail`, the type name of
    /// a typed address, `URI` or `short code`.
    pub fn kind(&self) -> &str {
        match self {
            Address::Plmn(_) => "PLMN",
            Address::Ipv4(_) => "IPv4",
            Address::Ipv6(_) => "IPv6",
            Address::Email(_) => "e-mail",
            Address::Typed { kind, .. } => kind,
            Address::Uri(_) => "URI",
            Address::ShortCode(_) => "short code",
        }
    }

    /// The address without its `/TYPE=` suffix and unescaped: the number, the
    /// mailbox, the URI.
    pub fn value(&self) -> &str {
        match self {
            Address::Plmn(v)
            | Address::Ipv4(v)
            | Address::Ipv6(v)
            | Address::Email(v)
            | Address::Uri(v)
            | Address::ShortCode(v)
            | Address::Typed { value: v, .. } => v,
        }
    }

    /// The field value to send: plain Text-string when ASCII, UTF-8 charset
    /// form otherwise.
    pub fn to_encoded(&self) -> super::value::EncodedString {
        let s = self.to_string();
        if s.is_ascii() {
            super::value::EncodedString::plain(&s)
        } else {
            super::value::EncodedString::utf8(&s)
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Plmn(v) => write!(f, "{v}/TYPE=PLMN"),
            Address::Ipv4(v) => write!(f, "{v}/TYPE=IPv4"),
            Address::Ipv6(v) => write!(f, "{v}/TYPE=IPv6"),
            Address::Typed { kind, value } => write!(f, "{}/TYPE={kind}", escape(value)),
            Address::Email(v) | Address::Uri(v) | Address::ShortCode(v) => f.write_str(v),
        }
    }
}

impl std::str::FromStr for Address {
    type Err = MmsError;
    fn from_str(s: &str) -> Result<Address, MmsError> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_forms() {
        let cases = [
            ("+15551234567/TYPE=PLMN", Address::plmn("+15551234567")),
            ("+1-555.123/TYPE=plmn", Address::plmn("+1-555.123")),
            ("192.0.2.1/TYPE=IPv4", Address::Ipv4("192.0.2.1".into())),
            ("10.0.0.1/TYPE=IPV4", Address::Ipv4("10.0.0.1".into())),
            (
                "2001:0db8:0000:0000:0000:0000:0000:0001/TYPE=IPv6",
                Address::Ipv6("2001:0db8:0000:0000:0000:0000:0000:0001".into()),
            ),
            ("alice@example.com", Address::email("alice@example.com")),
            (
                "Alice Example <alice@example.com>",
                Address::email("Alice Example <alice@example.com>"),
            ),
            (
                "sip:alice@example.com",
                Address::Uri("sip:alice@example.com".into()),
            ),
            ("tel:+15551234567", Address::Uri("tel:+15551234567".into())),
            ("12345", Address::ShortCode("12345".into())),
            ("user_1/TYPE=MY_TYPE", Address::typed("MY_TYPE", "user_1")),
        ];
        for (text, want) in cases {
            assert_eq!(Address::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn sip_uri_round_trips_in_the_typed_form() {
        let uri = "sip:alice@example.com;user=phone";
        let a = Address::typed("SIP", uri);
        let wire = a.to_string();
        assert_eq!(wire, "sip%3Aalice%40example.com%3Buser%3Dphone/TYPE=SIP");
        let back = Address::parse(&wire).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.value(), uri);
        assert_eq!(back.to_string(), wire);
        // Every character outside the safe set, `%` included, round-trips.
        for v in [
            "sips:b%20ob@[2001:db8::1]:5061;transport=tls?subject=a b&x=ü",
            "100%",
            "a/TYPE=PLMN",
            "::;;@@==//",
            "€",
        ] {
            let a = Address::typed("SIP", v);
            let wire = a.to_string();
            assert!(
                wire[..wire.len() - 9]
                    .bytes()
                    .all(|b| is_safe(b) || b == b'%'),
                "{wire}"
            );
            assert_eq!(Address::parse(&wire).unwrap().value(), v, "{wire}");
        }
        // Lower-case hex reads the same; writing uses upper case.
        assert_eq!(
            Address::parse("sip%3aa%40b/TYPE=SIP").unwrap().value(),
            "sip:a@b"
        );
    }

    #[test]
    fn precise_rejections() {
        for bad in [
            "",
            "/TYPE=PLMN",
            "+1555abc/TYPE=PLMN",
            "1.2.3/TYPE=IPv4",
            "2001:db8::1/TYPE=IPv6",
            "sip:a@b/TYPE=SIP",
            "a%2/TYPE=X",
            "a%ZZ/TYPE=X",
            "%FF/TYPE=X",
            "abc/TYPE=",
            "abc/TYPE=A-B",
            "not an address",
        ] {
            let e = Address::parse(bad).unwrap_err();
            assert!(matches!(e, MmsError::BadAddress { .. }), "{bad}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn to_encoded_picks_the_charset_form_for_non_ascii() {
        assert_eq!(Address::plmn("+1").to_encoded().charset, None);
        assert_eq!(
            Address::email("Zoë <z@example.com>").to_encoded().charset,
            Some(106)
        );
    }
}
