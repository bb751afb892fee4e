//! Text protocols: SIP (RFC 3261 §7), MSRP (RFC 4975 §7.1), HTTP/1.1 (RFC
//! 9112), SMTP (RFC 5321 §4.1, §4.2) and the Internet message a DATA
//! carries (RFC 5322 §2.2). The start line, each header field (with its
//! continuation lines), the empty line and the body are located in the
//! bytes; the codec of each protocol judges the whole and its error is
//! placed at the line or byte it concerns. Bodies are decoded by their
//! Content-Type: SDP, MMS, PAP, multipart.

use memchr::memmem;

use super::{show, show_text, DecodeError, Out};
use crate::codec::{http, msrp, pap as pap_codec, sdp, sip, smtp};

/// One line: `start..end` is its text, `next` where the following line
/// starts (after CRLF or LF; `end` when no line end came).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

impl Line {
    fn eol(&self) -> usize {
        self.next - self.end
    }
}

pub(crate) fn line_at(b: &[u8], at: usize) -> Line {
    let rest = b.get(at..).unwrap_or_default();
    match memchr::memchr(b'\n', rest) {
        Some(p) => {
            let lf = at + p;
            let end = if lf > at && b[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            Line {
                start: at,
                end,
                next: lf + 1,
            }
        }
        None => Line {
            start: at,
            end: b.len(),
            next: b.len(),
        },
    }
}

/// A header field as located: `start..end` spans its lines (without the
/// last line end), `name` as sent, `value` unfolded and trimmed.
pub(crate) struct Hdr {
    pub start: usize,
    pub end: usize,
    pub name: String,
    pub value: String,
}

/// The header fields from `at` up to the empty line. Returns them, the empty
/// line (`None` when the input ends first) and, when a line is not
/// `name: value`, that line's start.
pub(crate) fn headers(b: &[u8], mut at: usize) -> (Vec<Hdr>, Option<Line>, Option<usize>) {
    let mut out: Vec<Hdr> = Vec::new();
    while at < b.len() {
        let l = line_at(b, at);
        if l.start == l.end {
            return (out, Some(l), None);
        }
        if l.eol() == 0 {
            // A line with no line end: the head does not end.
            break;
        }
        let text = &b[l.start..l.end];
        if matches!(text[0], b' ' | b'\t') {
            // A continuation line (obsolete folding).
            match out.last_mut() {
                Some(h) => {
                    h.end = l.end;
                    h.value.push(' ');
                    h.value.push_str(String::from_utf8_lossy(text).trim());
                }
                None => return (out, None, Some(l.start)),
            }
            at = l.next;
            continue;
        }
        let Some(colon) = memchr::memchr(b':', text) else {
            return (out, None, Some(l.start));
        };
        let name = String::from_utf8_lossy(&text[..colon]).trim().to_string();
        if name.is_empty() || name.contains(' ') {
            return (out, None, Some(l.start));
        }
        out.push(Hdr {
            start: l.start,
            end: l.end,
            name,
            value: String::from_utf8_lossy(&text[colon + 1..])
                .trim()
                .to_string(),
        });
        at = l.next;
    }
    (out, None, None)
}

/// The RFC 3261 §7.3.3 compact forms (and RFC 3265, 3515, 3892, 4028's).
fn sip_long_name(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "i" => "Call-ID",
        "m" => "Contact",
        "e" => "Content-Encoding",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "f" => "From",
        "s" => "Subject",
        "k" => "Supported",
        "t" => "To",
        "v" => "Via",
        "o" => "Event",
        "u" => "Allow-Events",
        "r" => "Refer-To",
        "b" => "Referred-By",
        "x" => "Session-Expires",
        "a" => "Accept-Contact",
        "j" => "Reject-Contact",
        "d" => "Request-Disposition",
        _ => return None,
    })
}

/// The start line's words as fields: (name of each word).
fn start_line(b: &[u8], l: Line, names: [&str; 3], out: &mut Out<'_>) {
    let text = &b[l.start..l.end];
    let mut at = 0;
    for (i, name) in names.iter().enumerate() {
        if at > text.len() {
            break;
        }
        // The last word takes the rest of the line (a reason phrase has spaces).
        let end = if i == 2 {
            text.len()
        } else {
            memchr::memchr(b' ', &text[at..]).map_or(text.len(), |p| at + p)
        };
        if end == at && i < 2 {
            break;
        }
        out.add(l.start + at, end - at, name, show(&text[at..end]));
        at = end + 1;
    }
    out.add(l.end, l.eol(), "line end", eol_name(l.eol()));
}

fn eol_name(n: usize) -> &'static str {
    match n {
        2 => "CRLF",
        1 => "LF (no CR)",
        _ => "none",
    }
}

/// The header fields from `at` and the empty line that ends them, listed
/// (SIP and HTTP heads: RFC 3261 §7.3, RFC 9112 §5).
fn head_fields(
    b: &[u8],
    at: usize,
    compact: bool,
    out: &mut Out<'_>,
) -> (Vec<Hdr>, Option<Line>, Option<usize>) {
    let (hs, blank, bad) = headers(b, at);
    list_headers(&hs, compact, out);
    if let Some(bl) = &blank {
        out.add(
            bl.start,
            bl.next - bl.start,
            "end of head",
            eol_name(bl.eol()),
        );
    }
    (hs, blank, bad)
}

fn list_headers(hs: &[Hdr], compact: bool, out: &mut Out<'_>) {
    for h in hs {
        let name = match sip_long_name(&h.name).filter(|_| compact) {
            Some(long) => format!("{} ({long})", h.name),
            None => h.name.clone(),
        };
        out.add(
            h.start,
            h.end - h.start,
            &name,
            show_text(h.value.as_bytes()),
        );
    }
}

fn header<'a>(hs: &'a [Hdr], names: &[&str]) -> Option<&'a Hdr> {
    hs.iter()
        .find(|h| names.iter().any(|n| h.name.eq_ignore_ascii_case(n)))
}

/// Where the line holding `line` (bytes an error quoted) starts, at or after `from`.
fn find_line(b: &[u8], from: usize, line: &[u8]) -> Option<usize> {
    if line.is_empty() {
        return None;
    }
    memmem::find(b.get(from..)?, line).map(|p| from + p)
}

/// A SIP message (RFC 3261 §7): start line, header fields, body.
pub(crate) fn sip(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let lead = b
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(b.len());
    if lead > 0 {
        out.add(0, lead, "leading CRLF", show(&b[..lead]));
    }
    let parsed = sip::SipMessage::parse(b);
    let l = line_at(b, lead);
    if b[l.start..l.end].starts_with(b"SIP/") {
        start_line(b, l, ["SIP-Version", "Status-Code", "Reason-Phrase"], out);
    } else {
        start_line(b, l, ["Method", "Request-URI", "SIP-Version"], out);
    }
    let (hs, blank, bad) = head_fields(b, l.next, true, out);
    match parsed {
        Ok(m) => {
            let used = lead + m.raw().len();
            let body_at = used - m.body().len();
            // The whole value: a multipart's boundary is a parameter.
            let ct = header(&hs, &["Content-Type", "c"]).map(|h| h.value.clone());
            let err = body(b, body_at, m.body().len(), ct.as_deref(), out);
            if !m.trailing().is_empty() {
                out.add(
                    used,
                    m.trailing().len(),
                    "bytes after Content-Length",
                    show(m.trailing()),
                );
            }
            (used + m.trailing().len(), err)
        }
        Err(e) => {
            let at = match &e {
                sip::SipError::Empty | sip::SipError::BadStartLine { .. } => lead,
                sip::SipError::BadHeader { line } => {
                    bad.or_else(|| find_line(b, l.next, line)).unwrap_or(l.next)
                }
                sip::SipError::NoHeaderEnd { .. } => bad.unwrap_or(b.len()),
                sip::SipError::BadContentLength { .. } => {
                    header(&hs, &["Content-Length", "l"]).map_or(l.next, |h| h.start)
                }
                sip::SipError::Truncated { got, .. } => blank.map_or(b.len(), |bl| bl.next + got),
                _ => lead,
            };
            (b.len(), Some(out.err(at, e.to_string())))
        }
    }
}

/// An MSRP request or response (RFC 4975 §7.1): start line, headers, body,
/// end-line.
pub(crate) fn msrp(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let parsed = msrp::MsrpMessage::parse(b);
    let l = line_at(b, 0);
    let text = &b[l.start..l.end];
    let words: Vec<&[u8]> = text.splitn(3, |&c| c == b' ').collect();
    let is_response = words
        .get(2)
        .is_some_and(|w| w.len() >= 3 && w[..3].iter().all(u8::is_ascii_digit));
    if is_response {
        let code_len = words[2].iter().take_while(|c| c.is_ascii_digit()).count();
        out.add(0, 4, "protocol", "MSRP");
        let tid_at = 5;
        out.add(tid_at, words[1].len(), "transact-id", show(words[1]));
        let code_at = tid_at + words[1].len() + 1;
        out.add(
            code_at,
            code_len,
            "status-code",
            show(&words[2][..code_len]),
        );
        if words[2].len() > code_len + 1 {
            out.add(
                code_at + code_len + 1,
                words[2].len() - code_len - 1,
                "comment",
                show(&words[2][code_len + 1..]),
            );
        }
        out.add(l.end, l.eol(), "line end", eol_name(l.eol()));
    } else {
        start_line(b, l, ["protocol", "transact-id", "method"], out);
    }
    let tid = words.get(1).copied().unwrap_or_default();
    let mut end_line = Vec::from(&b"-------"[..]);
    end_line.extend_from_slice(tid);
    // Header lines up to the end-line or the empty line before a body.
    let mut at = l.next;
    let mut hs = Vec::new();
    let mut body_at = None;
    while at < b.len() {
        let hl = line_at(b, at);
        let t = &b[hl.start..hl.end];
        if t.starts_with(b"-------") {
            break;
        }
        if t.is_empty() {
            out.add(
                hl.start,
                hl.next - hl.start,
                "end of headers",
                eol_name(hl.eol()),
            );
            body_at = Some(hl.next);
            break;
        }
        let (mut one, _, _) = headers(&b[..hl.next], hl.start);
        if one.is_empty() || hl.eol() == 0 {
            break;
        }
        list_headers(&one, false, out);
        hs.append(&mut one);
        at = hl.next;
    }
    // The end-line: after the body's closing CRLF, or right after the headers.
    let mut body_err = None;
    let end_at = match body_at {
        Some(ba) => {
            let mut needle = b"\r\n".to_vec();
            needle.extend_from_slice(&end_line);
            let found = memmem::find(&b[ba..], &needle).map(|p| ba + p);
            let found = found.or_else(|| {
                let mut n = b"\n".to_vec();
                n.extend_from_slice(&end_line);
                memmem::find(&b[ba..], &n).map(|p| ba + p)
            });
            if let Some(e) = found {
                let ct = header(&hs, &["Content-Type"]).map(|h| h.value.clone());
                body_err = body(b, ba, e - ba, ct.as_deref(), out);
                let eol = if b[e] == b'\r' { 2 } else { 1 };
                out.add(e, eol, "body end", eol_name(eol));
                Some(e + eol)
            } else {
                None
            }
        }
        None => Some(at),
    };
    if let Some(e) = end_at.filter(|&e| b[e..].starts_with(&end_line)) {
        let fl = line_at(b, e);
        let flag = b.get(e + end_line.len()).copied();
        let what = match flag {
            Some(b'$') => "$ (complete)",
            Some(b'+') => "+ (more chunks follow)",
            Some(b'#') => "# (aborted)",
            _ => "(no flag)",
        };
        out.add(
            e,
            fl.end - e,
            "end-line",
            format!(
                "{} flag {what}",
                show(&b[e..fl.end.min(e + end_line.len())])
            ),
        );
    }
    match parsed {
        Ok(m) => (m.raw().len(), body_err),
        Err(e) => {
            let at = match &e {
                msrp::MsrpError::Empty | msrp::MsrpError::BadStartLine { .. } => 0,
                msrp::MsrpError::BadHeader { line } => find_line(b, l.next, line).unwrap_or(l.next),
                msrp::MsrpError::NoEndLine { .. } => b.len(),
                msrp::MsrpError::EndLineMismatch { found, .. } => {
                    find_line(b, l.next, found).unwrap_or(b.len())
                }
                msrp::MsrpError::BadFlag { .. } => end_at.map_or(b.len(), |e| e + end_line.len()),
                msrp::MsrpError::BadByteRange { .. } => {
                    header(&hs, &["Byte-Range"]).map_or(l.next, |h| h.start)
                }
                msrp::MsrpError::BodyLengthMismatch { .. } => body_at.unwrap_or(l.next),
                _ => 0,
            };
            (b.len(), Some(out.err(at, e.to_string())))
        }
    }
}

/// An HTTP/1.1 request or response (RFC 9112 §2.1).
pub(crate) fn http(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let parsed = http::HttpMessage::parse(b);
    let l = line_at(b, 0);
    if b.starts_with(b"HTTP/") {
        start_line(b, l, ["HTTP-version", "status-code", "reason-phrase"], out);
    } else {
        start_line(b, l, ["method", "request-target", "HTTP-version"], out);
    }
    let (_, blank, bad) = head_fields(b, l.next, false, out);
    match parsed {
        Ok(m) => {
            let used = m.raw().len();
            let body_at = blank.map_or(used, |bl| bl.next).min(used);
            if m.chunked {
                out.add(
                    body_at,
                    used - body_at,
                    "body (chunked)",
                    format!("{} bytes once de-chunked: {}", m.body.len(), show(&m.body)),
                );
                return (used, None);
            }
            let ct = m.header("Content-Type").map(str::to_string);
            let err = body(b, body_at, used - body_at, ct.as_deref(), out);
            (used, err)
        }
        Err(e) => {
            let at = bad.unwrap_or(match blank {
                Some(bl) => bl.next,
                None => b.len(),
            });
            (b.len(), Some(out.err(at, e.to_string())))
        }
    }
}

/// A body by its Content-Type, its fields one level down.
pub(crate) fn body(
    b: &[u8],
    at: usize,
    len: usize,
    ct: Option<&str>,
    out: &mut Out<'_>,
) -> Option<DecodeError> {
    if len == 0 {
        return None;
    }
    let bytes = &b[at..at + len];
    let media = media_type(ct);
    // Text is shown (its start); other bodies by their fields below.
    let preview = if media.starts_with("text/plain") || media == "message/cpim" {
        format!(": {}", show_text(bytes))
    } else {
        String::new()
    };
    out.add(
        at,
        len,
        "body",
        format!(
            "{} ({len} bytes){preview}",
            if media.is_empty() {
                "no Content-Type"
            } else {
                &media
            }
        ),
    );
    let mut inner = out.nested(at);
    match media.as_str() {
        "application/sdp" => sdp_body(bytes, &mut inner).1,
        "application/vnd.wap.mms-message" => super::binary::mms(bytes, &mut inner).1,
        m if m.starts_with("multipart/") => multipart(bytes, ct.unwrap_or_default(), &mut inner),
        m if (m.ends_with("/xml") || m.contains("pap"))
            && memmem::find(bytes, b"<pap").is_some() =>
        {
            super::pap::pap(bytes, &mut inner).1
        }
        _ => None,
    }
}

/// An SDP session description (RFC 8866 §5), on its own or as a body: one
/// field per `type=value` line, the codec's judgement of the whole.
pub(crate) fn sdp_body(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    sdp_lines(b, out);
    let err = match sdp::Sdp::parse(b) {
        Ok(s) => s.check().err().map(|e| out.err(0, format!("SDP: {e}"))),
        Err(e) => Some(out.err(0, format!("SDP: {e}"))),
    };
    (b.len(), err)
}

fn sdp_lines(b: &[u8], out: &mut Out<'_>) {
    let mut at = 0;
    while at < b.len() {
        let l = line_at(b, at);
        let t = &b[l.start..l.end];
        if t.len() >= 2 && t[1] == b'=' {
            out.add(
                l.start,
                l.end - l.start,
                &char::from(t[0]).to_string(),
                show(&t[2..]),
            );
        } else if !t.is_empty() {
            out.add(l.start, l.end - l.start, "not an SDP line", show(t));
        }
        at = l.next;
    }
}

/// A multipart body (RFC 2046 §5.1): each part's headers and body.
fn multipart(b: &[u8], ct: &str, out: &mut Out<'_>) -> Option<DecodeError> {
    let parts = match pap_codec::parse_multipart(ct, b) {
        Ok(p) => p,
        Err(e) => return Some(out.err(0, e.to_string())),
    };
    let mut from = 0;
    for (i, p) in parts.iter().enumerate() {
        // The part's body, located after the previous one.
        let Some(pos) = (if p.body.is_empty() {
            None
        } else {
            memmem::find(&b[from..], &p.body).map(|x| from + x)
        }) else {
            out.add(from, 0, &format!("part {}", i + 1), "(empty)");
            continue;
        };
        let pct = p.header("Content-Type").map(str::to_string);
        let label = format!("part {}", i + 1);
        out.add(
            pos,
            p.body.len(),
            &label,
            format!(
                "{} ({} bytes)",
                pct.as_deref().unwrap_or("no Content-Type"),
                p.body.len()
            ),
        );
        let mut inner = out.nested(pos);
        let media = media_type(pct.as_deref());
        let err = if memmem::find(&p.body, b"<pap").is_some() && media.contains("xml") {
            super::pap::pap(&p.body, &mut inner).1
        } else if media == "application/vnd.wap.mms-message" {
            super::binary::mms(&p.body, &mut inner).1
        } else {
            None
        };
        if err.is_some() {
            return err;
        }
        from = pos + p.body.len();
    }
    None
}

/// SMTP: a reply (one or more lines), a command line, or the Internet
/// message of a DATA (up to and including the `.` line when present).
pub(crate) fn smtp(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    const MAX: usize = 1 << 16;
    let first = line_at(b, 0);
    let t = &b[first.start..first.end];
    if t.len() >= 3 && t[..3].iter().all(u8::is_ascii_digit) {
        let n = match smtp::next_reply(b, MAX) {
            Ok(Some(n)) => n,
            Ok(None) => return (
                b.len(),
                Some(out.err(
                    b.len(),
                    "SMTP reply: expected a last line (`ddd text` CRLF), came the end of the input",
                )),
            ),
            Err(e) => return (b.len(), Some(out.err(0, e.to_string()))),
        };
        let mut at = 0;
        while at < n {
            let l = line_at(b, at);
            let line = &b[l.start..l.end];
            let sep = line.get(3).copied();
            out.add(
                l.start,
                3.min(line.len()),
                "reply-code",
                format!(
                    "{}{}",
                    show(&line[..3.min(line.len())]),
                    if sep == Some(b'-') {
                        " (continues)"
                    } else {
                        ""
                    }
                ),
            );
            if line.len() > 4 {
                out.add(l.start + 4, line.len() - 4, "text", show_text(&line[4..]));
            }
            out.add(l.end, l.eol(), "line end", eol_name(l.eol()));
            at = l.next;
        }
        let err = match smtp::Reply::parse(&b[..n]) {
            Ok(_) => None,
            Err(e) => Some(out.err(0, e.to_string())),
        };
        return (n, err);
    }
    // A command: a verb of letters, then a space or the line end.
    let verb_len = t.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    // (A header field's name is followed by its colon, not by a space.)
    if verb_len > 0 && matches!(t.get(verb_len), None | Some(b' ')) {
        out.add(0, verb_len, "verb", show(&t[..verb_len]));
        if t.len() > verb_len + 1 {
            out.add(
                verb_len + 1,
                t.len() - verb_len - 1,
                "argument",
                show(&t[verb_len + 1..]),
            );
        }
        out.add(first.end, first.eol(), "line end", eol_name(first.eol()));
        let err = match smtp::Command::parse(&b[..first.next]) {
            Ok(_) if first.eol() == 0 => Some(out.err(
                first.end,
                "SMTP command: expected CRLF at the end of the line, came the end of the input",
            )),
            Ok(_) => None,
            Err(e) => Some(out.err(0, e.to_string())),
        };
        return (first.next, err);
    }
    mail(b, out)
}

/// The Internet message of a DATA (RFC 5322 §2.1): header fields, the empty
/// line, the body, the terminating `.` line (RFC 5321 §4.1.1.4).
pub(crate) fn mail(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let end = smtp::next_data(b, b.len()).ok().flatten();
    let content = end.unwrap_or(b.len());
    let (hs, blank, bad) = headers(&b[..content], 0);
    list_headers(&hs, false, out);
    let mut err = None;
    if let Some(at) = bad {
        err = Some(out.err(
            at,
            "Internet message: expected a header field `name: value`, came a line that is not one",
        ));
    }
    if let Some(bl) = blank {
        out.add(
            bl.start,
            bl.next - bl.start,
            "end of header",
            eol_name(bl.eol()),
        );
        // The body, without the `.` line.
        let dot = end.map_or(0, |e| {
            if b[..e].ends_with(b"\r\n.\r\n") {
                3
            } else if b[..e].ends_with(b".\n") {
                2
            } else {
                0
            }
        });
        let body_end = content - dot;
        if body_end > bl.next {
            out.add(
                bl.next,
                body_end - bl.next,
                "body",
                format!(
                    "{} bytes: {}",
                    body_end - bl.next,
                    show_text(&b[bl.next..body_end])
                ),
            );
        }
    } else if err.is_none() && end.is_none() {
        err = Some(out.err(
            b.len(),
            "Internet message: expected an empty line after the header, came the end of the input",
        ));
    }
    if let Some(e) = end {
        let dot_at = if b[..e].ends_with(b".\r\n") {
            e - 3
        } else {
            e - 2
        };
        out.add(dot_at, e - dot_at, "end of data", "`.` line");
    }
    (content, err)
}

/// The media type of a Content-Type value (`type/subtype`, lower case,
/// parameters dropped; RFC 9110 §8.3.1), empty when there is none.
fn media_type(ct: Option<&str>) -> String {
    ct.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
    .unwrap_or_default()
}
