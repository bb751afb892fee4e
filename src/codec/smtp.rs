//! SMTP (RFC 5321), sans-IO: the command lines a client sends, the replies a
//! server answers with (single- and multi-line, §4.2), the DATA content with
//! its dot-stuffing and terminating `CRLF.CRLF` (§4.5.2, §4.1.1.4), and the
//! framing of all three on a TCP stream.
//!
//! The framing functions cut one unit off the front of a buffer: a command
//! line ([`next_line`]), a whole reply ([`next_reply`]: every line up to the
//! one whose code is followed by a space), or the whole DATA content up to and
//! including the terminating line ([`next_data`]). Which one applies depends
//! on the state of the dialogue, so the caller (the role) picks.
//!
//! Every decoder takes any input: bad bytes are an [`SmtpError`] that names
//! what was wrong and shows the bytes; nothing panics.

use super::escape_bytes;
use std::fmt;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 80;

/// What was wrong with the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpError {
    /// A line longer than the limit without its CRLF.
    LineTooLong { limit: usize },
    /// The DATA content is longer than the limit without its terminating line.
    DataTooLong { limit: usize },
    /// A reply line that is not three digits followed by a space, a hyphen or
    /// the end of the line.
    BadReplyLine { line: Vec<u8> },
    /// The lines of a multi-line reply carry different codes.
    MixedCodes { first: u16, then: u16 },
    /// A command line that is not a verb (letters) followed by a space or the end.
    BadCommand { line: Vec<u8> },
    /// A MAIL or RCPT argument that is not `FROM:<path>` / `TO:<path>`.
    BadPath { line: Vec<u8> },
    /// Bytes that are not UTF-8 where text is needed.
    NotText { bytes: Vec<u8> },
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::LineTooLong { limit } => {
                write!(f, "no CRLF within {limit} bytes (RFC 5321 §4.5.3.1 line limits)")
            }
            SmtpError::DataTooLong { limit } => write!(
                f,
                "no terminating CRLF.CRLF within {limit} bytes of DATA content"
            ),
            SmtpError::BadReplyLine { line } => write!(
                f,
                "not a reply line (three digits, then space, hyphen or end; RFC 5321 §4.2): {}",
                escape_bytes(line, SHOW)
            ),
            SmtpError::MixedCodes { first, then } => write!(
                f,
                "a multi-line reply whose lines carry codes {first} and {then} (RFC 5321 §4.2.1: one code)"
            ),
            SmtpError::BadCommand { line } => {
                write!(f, "not a command line: {}", escape_bytes(line, SHOW))
            }
            SmtpError::BadPath { line } => write!(
                f,
                "not FROM:<path> / TO:<path> (RFC 5321 §4.1.1.2, §4.1.1.3): {}",
                escape_bytes(line, SHOW)
            ),
            SmtpError::NotText { bytes } => {
                write!(f, "bytes that are not UTF-8: {}", escape_bytes(bytes, SHOW))
            }
        }
    }
}

impl std::error::Error for SmtpError {}

/// The position just after the first LF, if there is one within `max` bytes.
fn line_end(buf: &[u8], max: usize) -> Result<Option<usize>, SmtpError> {
    match buf.iter().take(max).position(|&b| b == b'\n') {
        Some(i) => Ok(Some(i + 1)),
        None if buf.len() >= max => Err(SmtpError::LineTooLong { limit: max }),
        None => Ok(None),
    }
}

/// One command line (up to and including its LF; a bare LF ends a line too,
/// so that a sloppy peer is framed and then judged).
pub fn next_line(buf: &[u8], max: usize) -> Result<Option<usize>, SmtpError> {
    line_end(buf, max)
}

/// One whole reply: lines `ddd-text` continue it, the line `ddd text` (or
/// `ddd`) ends it (RFC 5321 §4.2.1).
pub fn next_reply(buf: &[u8], max: usize) -> Result<Option<usize>, SmtpError> {
    let mut at = 0;
    loop {
        let Some(n) = line_end(&buf[at..], max.saturating_sub(at).max(1))? else {
            return Ok(None);
        };
        let line = trim_eol(&buf[at..at + n]);
        let sep = reply_line(line)?.1;
        at += n;
        if sep != b'-' {
            return Ok(Some(at));
        }
        if at >= max {
            return Err(SmtpError::LineTooLong { limit: max });
        }
    }
}

/// The DATA content including the terminating `.` line: it ends at the first
/// `CRLF.CRLF`, or at a `.CRLF` at its very start (an empty message). Bare LF
/// line ends are taken as well (`LF.LF`, `LF.CRLF`), so that a sloppy peer is
/// framed and then judged.
pub fn next_data(buf: &[u8], max: usize) -> Result<Option<usize>, SmtpError> {
    let ends = |b: &[u8]| b.starts_with(b".\r\n") || b.starts_with(b".\n");
    if ends(buf) {
        return Ok(Some(if buf[1] == b'\r' { 3 } else { 2 }));
    }
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let start = i + p + 1;
        if start > max {
            break;
        }
        let rest = &buf[start..];
        if ends(rest) {
            return Ok(Some(start + if rest[1] == b'\r' { 3 } else { 2 }));
        }
        if rest.len() < 3 && b".\r\n".starts_with(rest) {
            return Ok(None);
        }
        i = start;
    }
    if buf.len() > max {
        return Err(SmtpError::DataTooLong { limit: max });
    }
    Ok(None)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// (code, separator) of one reply line without its line end.
fn reply_line(line: &[u8]) -> Result<(u16, u8), SmtpError> {
    let bad = || SmtpError::BadReplyLine {
        line: line.to_vec(),
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) || line[0] == b'0' {
        return Err(bad());
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Ok((code, b' ')),
        Some(&s) if s == b' ' || s == b'-' => Ok((code, s)),
        Some(_) => Err(bad()),
    }
}

/// One reply as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    raw: Vec<u8>,
    pub code: u16,
    /// The text of each line (after the code and separator), in order.
    pub lines: Vec<String>,
}

impl Reply {
    /// Parses one whole reply (as cut by [`next_reply`]).
    pub fn parse(bytes: &[u8]) -> Result<Reply, SmtpError> {
        let mut code = None;
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let line = trim_eol(&rest[..n]);
            let (c, sep) = reply_line(line)?;
            match code {
                Some(first) if first != c => return Err(SmtpError::MixedCodes { first, then: c }),
                _ => code = Some(c),
            }
            let text = line.get(4..).unwrap_or_default();
            lines.push(
                String::from_utf8(text.to_vec()).map_err(|_| SmtpError::NotText {
                    bytes: text.to_vec(),
                })?,
            );
            rest = &rest[n..];
            if sep != b'-' && !rest.is_empty() {
                return Err(SmtpError::BadReplyLine {
                    line: rest.to_vec(),
                });
            }
        }
        let code = code.ok_or(SmtpError::BadReplyLine { line: Vec::new() })?;
        Ok(Reply {
            raw: bytes.to_vec(),
            code,
            lines,
        })
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// 2xx.
    pub fn positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx (354 to DATA).
    pub fn intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx or 5xx.
    pub fn negative(&self) -> bool {
        (400..600).contains(&self.code)
    }

    /// The EHLO keywords (every line but the first, first word, upper case).
    pub fn ehlo_keywords(&self) -> Vec<String> {
        self.lines
            .iter()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_ascii_uppercase)
            .collect()
    }

    /// The SIZE the server declared in its EHLO reply (RFC 1870), if any.
    pub fn ehlo_size(&self) -> Option<u64> {
        self.lines.iter().skip(1).find_map(|l| {
            let mut w = l.split_whitespace();
            if w.next()?.eq_ignore_ascii_case("SIZE") {
                w.next()?.parse().ok().filter(|&n| n > 0)
            } else {
                None
            }
        })
    }

    /// One line for a verdict.
    pub fn describe(&self) -> String {
        escape_bytes(&self.raw, 300)
    }
}

/// A reply: every line but the last as `code-text`, the last `code text`.
pub fn reply(code: u16, lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = lines.len().max(1);
    for i in 0..n {
        let text = lines.get(i).copied().unwrap_or("");
        let sep = if i + 1 < n { '-' } else { ' ' };
        out.extend_from_slice(format!("{code}{sep}{text}\r\n").as_bytes());
    }
    out
}

/// A command line: `VERB` or `VERB argument`, CRLF.
pub fn command(verb: &str, argument: &str) -> Vec<u8> {
    if argument.is_empty() {
        format!("{verb}\r\n").into_bytes()
    } else {
        format!("{verb} {argument}\r\n").into_bytes()
    }
}

/// One command as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The verb in upper case.
    pub verb: String,
    /// Everything after the verb and one space, line end removed.
    pub argument: String,
    /// The line ended with CRLF (RFC 5321 §2.3.8), not a bare LF.
    pub crlf: bool,
}

impl Command {
    /// Parses one command line (as cut by [`next_line`]).
    pub fn parse(line: &[u8]) -> Result<Command, SmtpError> {
        let crlf = line.ends_with(b"\r\n");
        let body = trim_eol(line);
        let text = std::str::from_utf8(body).map_err(|_| SmtpError::NotText {
            bytes: body.to_vec(),
        })?;
        let (verb, argument) = text.split_once(' ').unwrap_or((text, ""));
        if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SmtpError::BadCommand {
                line: line.to_vec(),
            });
        }
        Ok(Command {
            verb: verb.to_ascii_uppercase(),
            argument: argument.to_string(),
            crlf,
        })
    }

    /// The path and the parameters of `MAIL FROM:<path> params` or
    /// `RCPT TO:<path> params` (`prefix` is `FROM:` or `TO:`). The path is
    /// given without its angle brackets (empty for the null path `<>`).
    pub fn path(&self, prefix: &str) -> Result<(String, Vec<(String, String)>), SmtpError> {
        let bad = || SmtpError::BadPath {
            line: format!("{} {}", self.verb, self.argument).into_bytes(),
        };
        let a = self.argument.trim_start();
        let head = a.get(..prefix.len()).ok_or_else(bad)?;
        if !head.eq_ignore_ascii_case(prefix) {
            return Err(bad());
        }
        let a = a[prefix.len()..].trim_start();
        let a = a.strip_prefix('<').ok_or_else(bad)?;
        let end = a.find('>').ok_or_else(bad)?;
        let path = a[..end].to_string();
        if path.contains(['<', ' ']) {
            return Err(bad());
        }
        let params = a[end + 1..]
            .split_whitespace()
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_ascii_uppercase(), v.to_string()),
                None => (p.to_ascii_uppercase(), String::new()),
            })
            .collect();
        Ok((path, params))
    }
}

/// The DATA content as it goes on the wire (RFC 5321 §4.5.2): a `.` added in
/// front of every line that starts with one, a CRLF added when the message
/// does not end with one, then the terminating `.CRLF`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The message from DATA content as framed by [`next_data`]: the terminating
/// line removed and the leading `.` of every other line that has one removed.
pub fn dot_unstuff(data: &[u8]) -> Vec<u8> {
    let body = if data.starts_with(b".\r\n") || data.starts_with(b".\n") {
        &data[..0]
    } else if let Some(b) = data.strip_suffix(b"\r\n.\r\n") {
        &data[..b.len() + 2]
    } else if let Some(b) = data.strip_suffix(b"\n.\r\n") {
        &data[..b.len() + 1]
    } else if let Some(b) = data.strip_suffix(b"\n.\n") {
        &data[..b.len() + 1]
    } else {
        data
    };
    let mut out = Vec::with_capacity(body.len());
    let mut at_line_start = true;
    for &b in body {
        if !(at_line_start && b == b'.') {
            out.push(b);
            at_line_start = b == b'\n';
        } else {
            at_line_start = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(b: &[u8]) -> String {
        escape_bytes(b, 4096).replace("\\r\\n", "\\r\\n\n")
    }

    #[test]
    fn replies_single_and_multi_line() {
        let b = b"250-mms.liaison.test\r\n250-8BITMIME\r\n250-SIZE 65536\r\n250 OK\r\nnext";
        let n = next_reply(b, 1024).unwrap().unwrap();
        assert_eq!(&b[n..], b"next");
        let r = Reply::parse(&b[..n]).unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 4);
        assert_eq!(r.ehlo_keywords(), ["8BITMIME", "SIZE", "OK"]);
        assert_eq!(r.ehlo_size(), Some(65536));
        assert_eq!(next_reply(b"250-a\r\n250", 1024), Ok(None));
        assert_eq!(next_reply(b"220", 1024), Ok(None));
        let one = Reply::parse(b"354\r\n").unwrap();
        assert!(one.intermediate() && one.lines == [""]);
        assert!(matches!(
            Reply::parse(b"250-a\r\n251 b\r\n"),
            Err(SmtpError::MixedCodes {
                first: 250,
                then: 251
            })
        ));
        assert!(matches!(
            next_reply(b"25x ok\r\n", 1024),
            Err(SmtpError::BadReplyLine { .. })
        ));
        assert!(matches!(
            next_reply(&[b'2'; 50], 10),
            Err(SmtpError::LineTooLong { limit: 10 })
        ));
        assert!(Reply::parse(b"552 5.3.4 too big\r\n").unwrap().negative());
    }

    #[test]
    fn commands_and_paths() {
        let c = Command::parse(b"mail FROM:<mem@mail.liaison.test> SIZE=120 BODY=8BITMIME\r\n")
            .unwrap();
        assert_eq!(c.verb, "MAIL");
        assert!(c.crlf);
        let (p, params) = c.path("FROM:").unwrap();
        assert_eq!(p, "mem@mail.liaison.test");
        assert_eq!(
            params,
            [
                ("SIZE".to_string(), "120".to_string()),
                ("BODY".to_string(), "8BITMIME".to_string())
            ]
        );
        let null = Command::parse(b"MAIL FROM:<>\n").unwrap();
        assert!(!null.crlf);
        assert_eq!(null.path("FROM:").unwrap().0, "");
        let r = Command::parse(b"RCPT TO:<+15551234567/TYPE=PLMN@mms.liaison.test>\r\n").unwrap();
        assert_eq!(
            r.path("TO:").unwrap().0,
            "+15551234567/TYPE=PLMN@mms.liaison.test"
        );
        assert!(r.path("FROM:").is_err());
        assert!(Command::parse(b"RCPT TO:bob\r\n")
            .unwrap()
            .path("TO:")
            .is_err());
        assert!(Command::parse(b"\r\n").is_err());
        assert!(Command::parse(b"HE LO\r\n").is_ok());
        assert!(Command::parse(b"4XX\r\n").is_err());
        assert_eq!(Command::parse(b"QUIT\r\n").unwrap().argument, "");
    }

    #[test]
    fn data_framing_and_dot_stuffing() {
        let msg = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend";
        let d = dot_stuff(msg);
        assert_eq!(
            d,
            b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n".to_vec()
        );
        assert_eq!(next_data(&d, 1024), Ok(Some(d.len())));
        let mut more = d.clone();
        more.extend_from_slice(b"QUIT\r\n");
        assert_eq!(next_data(&more, 1024), Ok(Some(d.len())));
        let back = dot_unstuff(&d);
        assert_eq!(
            back,
            b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend\r\n".to_vec()
        );
        // An empty message, and one that is only a line end.
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(next_data(b".\r\n", 10), Ok(Some(3)));
        assert_eq!(dot_unstuff(b".\r\n"), b"");
        assert_eq!(dot_unstuff(&dot_stuff(b"\r\n")), b"\r\n");
        // Not yet complete, and a terminator split across reads.
        assert_eq!(next_data(b"a\r\nb\r\n", 100), Ok(None));
        assert_eq!(next_data(b"a\r\n.", 100), Ok(None));
        assert_eq!(next_data(b"a\r\n.\r", 100), Ok(None));
        assert_eq!(next_data(b"a\r\n.\r\n", 100), Ok(Some(6)));
        // A stuffed dot line is not the end.
        assert_eq!(next_data(b"a\r\n..\r\nb\r\n.\r\n", 100), Ok(Some(13)));
        assert!(matches!(
            next_data(&[b'x'; 200], 100),
            Err(SmtpError::DataTooLong { limit: 100 })
        ));
        // Bare LF line ends are framed (and judged by the caller).
        assert_eq!(next_data(b"a\n.\n", 100), Ok(Some(4)));
        assert_eq!(dot_unstuff(b"a\n.\n"), b"a\n");
    }

    #[test]
    fn builders_snapshot() {
        let ehlo = reply(250, &["mms.liaison.test", "8BITMIME", "SIZE 65536", "OK"]);
        insta::assert_snapshot!("reply_ehlo", wire(&ehlo));
        insta::assert_snapshot!("reply_354", wire(&reply(354, &["end with <CRLF>.<CRLF>"])));
        insta::assert_snapshot!(
            "command_mail",
            wire(&command("MAIL", "FROM:<mem@mail.liaison.test>"))
        );
        insta::assert_snapshot!(
            "data_stuffed",
            wire(&dot_stuff(b"From: a@b\r\n\r\n.line\r\nlast"))
        );
        assert_eq!(Reply::parse(&ehlo).unwrap().lines.len(), 4);
    }

    #[test]
    fn no_panic_on_any_input() {
        let seeds: [&[u8]; 4] = [
            b"250-a\r\n250-SIZE 10\r\n250 OK\r\n",
            b"MAIL FROM:<a@b> SIZE=5\r\n",
            b"Subject: x\r\n\r\n..a\r\n.\r\n",
            b"RCPT TO:<+1/TYPE=PLMN@h>\r\n",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..100_000 {
            let mut b = seeds[i % seeds.len()].to_vec();
            for _ in 0..(next() % 6) {
                let pos = (next() as usize) % (b.len() + 1);
                match next() % 3 {
                    0 if pos < b.len() => b[pos] = next() as u8,
                    1 => b.insert(pos, b"\r\n.- <>:"[(next() % 8) as usize]),
                    _ => b.truncate(pos),
                }
            }
            let max = 1 + (next() % 64) as usize;
            let _ = next_line(&b, max);
            let _ = next_reply(&b, max);
            let _ = next_data(&b, max);
            let _ = Reply::parse(&b);
            if let Ok(c) = Command::parse(&b) {
                let _ = c.path("FROM:");
                let _ = c.path("TO:");
            }
            let _ = dot_unstuff(&b);
            let _ = dot_stuff(&b);
        }
    }
}
