//! Fast, allocation-free reading of the few things a load run needs from
//! a SIP message (status code, Call-ID, top Via branch, To tag) and of the
//! identities the harness writes into the messages it sends. Sans-IO.
//!
//! The conformance scenarios parse every message whole
//! ([`crate::codec::sip::SipMessage`]); at tens of thousands of messages a
//! second the load run reads only these fields, and a message it cannot
//! read them from is counted, never trusted.

use std::sync::LazyLock;

use memchr::memmem;

/// The blank line that ends a head, searched for with a finder built once
/// (building one per message cost more than the search).
static BLANK_LINE: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));

/// The status code of a response (`SIP/2.0 200 OK`), or None for a request
/// or bytes that are not a status line.
pub fn status(raw: &[u8]) -> Option<u16> {
    let rest = raw.strip_prefix(b"SIP/2.0 ")?;
    let d = rest.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|c| *c != b' ') {
        return None;
    }
    Some(d.iter().fold(0u16, |a, c| a * 10 + u16::from(c - b'0')))
}

/// The head of a message (up to the blank line, or all of it).
pub fn head(raw: &[u8]) -> &[u8] {
    match BLANK_LINE.find(raw) {
        Some(i) => &raw[..i + 2],
        None => raw,
    }
}

/// The body of a message (after the blank line).
pub fn body(raw: &[u8]) -> &[u8] {
    match BLANK_LINE.find(raw) {
        Some(i) => &raw[i + 4..],
        None => b"",
    }
}

/// The value of the first header called `long` or `compact` (RFC 3261
/// §7.3.3), trimmed; case-insensitive names.
pub fn header<'a>(raw: &'a [u8], long: &str, compact: Option<&str>) -> Option<&'a [u8]> {
    let head = head(raw);
    let mut lines = head.split(|c| *c == b'\n').skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        let name = trim(&line[..colon]);
        let hit = name.eq_ignore_ascii_case(long.as_bytes())
            || compact.is_some_and(|c| name.eq_ignore_ascii_case(c.as_bytes()));
        hit.then(|| trim(&line[colon + 1..]))
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

/// A `;name=value` parameter of a header value (case-insensitive name).
pub fn param<'a>(value: &'a [u8], name: &str) -> Option<&'a [u8]> {
    value.split(|c| *c == b';').skip(1).find_map(|p| {
        let p = trim(p);
        let (n, v) = match memchr::memchr(b'=', p) {
            Some(i) => (trim(&p[..i]), trim(&p[i + 1..])),
            None => (p, &p[p.len()..]),
        };
        n.eq_ignore_ascii_case(name.as_bytes()).then_some(v)
    })
}

/// The branch of the top Via (the first value of the first Via header).
pub fn top_via_branch(raw: &[u8]) -> Option<&[u8]> {
    let via = header(raw, "Via", Some("v"))?;
    let first = via.split(|c| *c == b',').next()?;
    param(first, "branch")
}

/// The To tag.
pub fn to_tag(raw: &[u8]) -> Option<&[u8]> {
    param(header(raw, "To", Some("t"))?, "tag")
}

/// The identity a token written by [`Ident::token`] carries, found anywhere
/// in `text` (a Call-ID, a branch, a tag, a body).
#[derive(Debug, Clone)]
pub struct Ident {
    /// `ld-RUN-`: the run's own prefix, so nothing from another run matches.
    prefix: Vec<u8>,
    /// The prefix's finder, built once.
    finder: memmem::Finder<'static>,
}

impl Ident {
    /// The identities of run `run` (a short token of letters and digits).
    pub fn new(run: &str) -> Ident {
        let prefix = format!("ld-{run}-").into_bytes();
        Ident {
            finder: memmem::Finder::new(&prefix).into_owned(),
            prefix,
        }
    }

    /// The token for message `id`: `ld-RUN-ID`.
    pub fn token(&self, id: u64) -> String {
        format!("{}{id}", String::from_utf8_lossy(&self.prefix))
    }

    /// Writes the token for `id` into `out`.
    pub fn write(&self, out: &mut Vec<u8>, id: u64) {
        out.extend_from_slice(&self.prefix);
        write_decimal(out, id);
    }

    /// The identity named in `text`, if it names one of this run.
    pub fn find(&self, text: &[u8]) -> Option<u64> {
        let at = self.finder.find(text)? + self.prefix.len();
        let digits = &text[at..];
        let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 19 {
            return None;
        }
        digits[..n].iter().try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }
}

/// Writes the decimal digits of `n` into `out` (no allocation).
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    let mut n = n;
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESP: &[u8] = b"SIP/2.0 486 Busy Here\r\nv: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK-ld-ab1-42;rport, SIP/2.0/UDP x\r\nTo: <sip:b@x>;tag=ld-ab1-43\r\nCall-ID: ld-ab1-41@liaison\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn reads_the_fields_a_load_run_needs() {
        let id = Ident::new("ab1");
        assert_eq!(status(RESP), Some(486));
        assert_eq!(status(b"MESSAGE sip:x SIP/2.0\r\n"), None);
        assert_eq!(status(b"SIP/2.0 2000 OK\r\n"), None);
        assert_eq!(id.find(top_via_branch(RESP).unwrap()), Some(42));
        assert_eq!(id.find(to_tag(RESP).unwrap()), Some(43));
        assert_eq!(
            id.find(header(RESP, "Call-ID", Some("i")).unwrap()),
            Some(41)
        );
        assert_eq!(Ident::new("zz").find(RESP), None);
        let mut out = Vec::new();
        id.write(&mut out, 1234567);
        assert_eq!(out, id.token(1234567).as_bytes());
    }

    #[test]
    fn garbage_reads_as_nothing() {
        for raw in [
            &b""[..],
            b"\xff\xfe",
            b"SIP/2.0 ",
            b"SIP/2.0 20",
            b"v:\r\n\r\n",
        ] {
            assert!(status(raw).is_none());
            assert!(top_via_branch(raw).is_none());
            assert!(to_tag(raw).is_none());
        }
        assert_eq!(Ident::new("a").find(b"ld-a-99999999999999999999999"), None);
    }
}
