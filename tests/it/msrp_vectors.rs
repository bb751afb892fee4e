//! MSRP (RFC 4975) and SDP (RFC 4566, as MSRP uses it) codecs against liaison's own
//! test vectors (`fixtures/messages/msrp/`), their error cases, stream framing,
//! chunk reassembly, and a no-panic loop over random and mutated input.
//!
//! The vectors were written for liaison (see the README beside them); none is an
//! RFC example.

use crate::common::XorShift;

use liaison::codec::escape_bytes;
use liaison::codec::msrp::{
    chunk_plan, is_valid_ident, msrp_url, new_tid, new_tid_for, next_frame, report_for, request,
    response_to, ByteRange, EndFlag, MsrpError, MsrpMessage, MsrpStart, MsrpUrl, Reassembly,
};
use liaison::codec::sdp::{msrp_session, Media, Sdp, SdpError, SessionBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

const ALICE: &str = "msrp://192.0.2.10:7654/a1iceS3ss;tcp";
const BOB: &str = "msrp://192.0.2.20:2855/b0bS3ss9;tcp";
const RELAY: &str = "msrps://relay.example.net:2855/rL4yq7;tcp";

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages/msrp")
}

fn vector(name: &str) -> Vec<u8> {
    let path = vector_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn vectors_with(ext: &str) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(vector_dir())
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), vector(&n))).collect()
}

fn msrp_vectors() -> Vec<(String, Vec<u8>)> {
    let v = vectors_with(".msrp");
    assert!(v.len() >= 12, "vectors present: {}", v.len());
    v
}

fn sdp_vectors() -> Vec<(String, Vec<u8>)> {
    let v = vectors_with(".sdp");
    assert!(v.len() >= 3, "SDP vectors present: {}", v.len());
    v
}

fn parse(name: &str) -> (Vec<u8>, MsrpMessage) {
    let bytes = vector(name);
    let m = MsrpMessage::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    (bytes, m)
}

/// The body of a vector found without our parser: between the first CRLFCRLF and
/// the last CRLF + seven hyphens; None when there is no empty line.
fn file_body(bytes: &[u8]) -> Option<&[u8]> {
    let blank = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let end = bytes.windows(9).rposition(|w| w == b"\r\n-------")?;
    Some(&bytes[blank..end])
}

/// The 3000-byte message that the chunk vectors are cut from: numbered lines.
fn message_3000() -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 3000 {
        i += 1;
        text.push_str(&format!(
            "{i:03} liaison chunking test line, numbered so that order errors show.\n"
        ));
    }
    text.truncate(3000);
    text.into_bytes()
}

// ---------------------------------------------------------------------------
// Every vector
// ---------------------------------------------------------------------------

#[test]
fn every_vector_parses_exactly() {
    for (name, bytes) in msrp_vectors() {
        let m = MsrpMessage::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.raw(), bytes.as_slice(), "{name}: raw is the file");
        assert!(m.trailing().is_empty(), "{name}");
        assert_eq!(m.check(), Ok(()), "{name}: consistent Byte-Range");
        assert!(is_valid_ident(m.tid()), "{name}: tid is an RFC 4975 ident");
        // The body, found without the parser.
        assert_eq!(m.has_body(), file_body(&bytes).is_some(), "{name}");
        assert_eq!(m.body(), file_body(&bytes).unwrap_or_default(), "{name}");
        // The end-line ends the file and carries the flag.
        let flag = bytes[bytes.len() - 3];
        assert_eq!(m.flag().as_byte(), flag, "{name}");
        assert_eq!(
            m.end_line(),
            format!("-------{}{}\r\n", m.tid(), m.flag()).as_bytes(),
            "{name}"
        );
        // Every vector has both paths, in the order RFC 4975 §7.1 gives them.
        assert!(
            !m.to_path().is_empty() && !m.from_path().is_empty(),
            "{name}"
        );
        assert_eq!(m.headers()[0].0, "To-Path", "{name}");
        assert_eq!(m.headers()[1].0, "From-Path", "{name}");
        // Re-parsing raw gives the same message; the framer finds the same length.
        let again = MsrpMessage::parse(m.raw()).expect("raw parses");
        assert_eq!(again.headers(), m.headers(), "{name}");
        assert_eq!(again.start(), m.start(), "{name}");
        assert_eq!(next_frame(&bytes, 1 << 20), Ok(Some(bytes.len())), "{name}");
        assert!(!m.summary().is_empty());
        // Requests other than REPORT carry a Message-ID; SENDs' are idents.
        if m.method() == Some("SEND") {
            assert!(m.message_id().is_some_and(is_valid_ident), "{name}");
        }
    }
}

#[test]
fn every_vector_has_provenance_in_readme() {
    let readme = std::fs::read_to_string(vector_dir().join("README.md")).expect("README.md");
    for (name, _) in msrp_vectors().into_iter().chain(sdp_vectors()) {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md lists {name}"
        );
    }
}

/// The same messages with LF line ends everywhere outside the body (RFC 4975
/// requires CRLF; the reader tolerates LF).
#[test]
fn lf_only_line_ends_are_accepted() {
    for (name, bytes) in msrp_vectors() {
        let m = MsrpMessage::parse(&bytes).expect("parses");
        let lf = |b: &[u8]| -> Vec<u8> {
            String::from_utf8_lossy(b)
                .replace("\r\n", "\n")
                .into_bytes()
        };
        let converted = match file_body(&bytes) {
            Some(body) => {
                let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                [
                    lf(&bytes[..head_len]),
                    body.to_vec(),
                    b"\n".to_vec(),
                    lf(m.end_line()),
                ]
                .concat()
            }
            None => lf(&bytes),
        };
        let l = MsrpMessage::parse(&converted).unwrap_or_else(|e| panic!("{name} with LF: {e}"));
        assert_eq!(l.raw(), converted.as_slice(), "{name}");
        assert_eq!(l.headers(), m.headers(), "{name}");
        assert_eq!(l.start(), m.start(), "{name}");
        assert_eq!(l.body(), m.body(), "{name}");
        assert_eq!(l.flag(), m.flag(), "{name}");
        assert_eq!(next_frame(&converted, 1 << 20), Ok(Some(converted.len())));
    }
}

// ---------------------------------------------------------------------------
// One test per vector: every field
// ---------------------------------------------------------------------------

#[test]
fn send_text() {
    let (_, m) = parse("send-text.msrp");
    assert_eq!(
        m.start(),
        &MsrpStart::Request {
            method: "SEND".into()
        }
    );
    assert!(m.is_request());
    assert_eq!(m.method(), Some("SEND"));
    assert_eq!((m.status(), m.phrase()), (None, None));
    assert_eq!(m.tid(), "k3Tq9wZa");
    assert_eq!(m.to_path(), [BOB]);
    assert_eq!(m.from_path(), [ALICE]);
    assert_eq!(m.message_id(), Some("mX71a0Qe"));
    assert_eq!(m.success_report().as_deref(), Some("yes"));
    assert_eq!(m.failure_report().as_deref(), Some("yes"));
    assert_eq!(
        m.byte_range(),
        Some(Ok(ByteRange {
            start: 1,
            end: Some(72),
            total: Some(72)
        }))
    );
    assert_eq!(m.content_type().as_deref(), Some("text/plain"));
    assert_eq!(m.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(m.headers().len(), 7);
    assert_eq!(m.status_header(), None);
    let text = "Hi Bob \u{2013} still on for the design review at three? Bring the printouts.";
    assert_eq!(m.body(), text.as_bytes());
    assert_eq!(m.body().len(), 72);
    assert_eq!(m.flag(), EndFlag::Complete);
    assert_eq!(m.summary(), "SEND k3Tq9wZa 1-72/72 $");
}

#[test]
fn send_first_chunk() {
    let (_, m) = parse("send-first-chunk.msrp");
    assert_eq!(m.tid(), "p2Lc8vNe");
    assert_eq!(m.message_id(), Some("Qm7Lk2Pz90"));
    let range = m.byte_range().unwrap().unwrap();
    assert_eq!(range.to_header(), "1-1024/3000");
    assert_eq!(range.declared_len(), Some(1024));
    assert_eq!(m.body(), &message_3000()[..1024]);
    assert_eq!(m.flag(), EndFlag::More);
    assert_eq!(m.failure_report(), None, "absent: yes by default");
    assert_eq!(m.summary(), "SEND p2Lc8vNe 1-1024/3000 +");
}

#[test]
fn send_aborted_chunk() {
    let (_, m) = parse("send-aborted-chunk.msrp");
    assert_eq!(m.message_id(), Some("Qm7Lk2Pz90"));
    let range = m.byte_range().unwrap().unwrap();
    assert_eq!(range.to_header(), "1025-2048/3000");
    // Interrupted after 400 of the 1024 declared bytes: allowed with `#` and `+`.
    assert_eq!(m.body(), &message_3000()[1024..1424]);
    assert_eq!(m.flag(), EndFlag::Abort);
    assert_eq!(m.check(), Ok(()));
    assert_eq!(m.summary(), "SEND h6Rt1yUo 1025-2048/3000 #");
}

#[test]
fn report_200() {
    let (_, m) = parse("report-200.msrp");
    assert_eq!(m.method(), Some("REPORT"));
    assert_eq!(m.tid(), "z0Wx5sDf");
    assert_eq!(m.to_path(), [ALICE]);
    assert_eq!(m.from_path(), [BOB]);
    assert_eq!(m.message_id(), Some("Qm7Lk2Pz90"));
    assert_eq!(m.byte_range().unwrap().unwrap().to_header(), "1-3000/3000");
    assert_eq!(m.status_header(), Some((0, 200, Some("OK".to_string()))));
    assert_eq!(m.header("Status"), Some("000 200 OK"));
    assert_eq!((m.success_report(), m.failure_report()), (None, None));
    assert!(!m.has_body());
    assert_eq!(m.content_type(), None);
    assert_eq!(m.summary(), "REPORT 000 200 (tid z0Wx5sDf)");
}

#[test]
fn responses() {
    for (name, tid, code, phrase) in [
        ("response-200.msrp", "p2Lc8vNe", 200, "OK"),
        (
            "response-413.msrp",
            "h6Rt1yUo",
            413,
            "Stop sending this message",
        ),
        (
            "response-415.msrp",
            "c9Vb4nMk",
            415,
            "Media type not understood",
        ),
        ("response-481.msrp", "e5Yh7jKl", 481, "No such session here"),
    ] {
        let (_, m) = parse(name);
        assert_eq!(
            m.start(),
            &MsrpStart::Response {
                code,
                phrase: Some(phrase.to_string())
            },
            "{name}"
        );
        assert!(!m.is_request());
        assert_eq!(m.method(), None);
        assert_eq!(m.status(), Some(code));
        assert_eq!(m.phrase(), Some(phrase));
        assert_eq!(m.tid(), tid);
        assert_eq!(m.to_path(), [ALICE], "{name}: back to the previous hop");
        assert_eq!(m.headers().len(), 2);
        assert!(!m.has_body() && m.body().is_empty());
        assert_eq!(m.flag(), EndFlag::Complete);
        assert_eq!(m.summary(), format!("{code} {phrase} (tid {tid})"));
    }
    let (_, m) = parse("response-481.msrp");
    assert_eq!(m.from_path(), ["msrp://192.0.2.20:2855/gone0000;tcp"]);
}

#[test]
fn send_binary() {
    let (bytes, m) = parse("send-binary.msrp");
    let body = m.body();
    assert_eq!(body.len(), 103);
    assert_eq!(m.byte_range().unwrap().unwrap().declared_len(), Some(103));
    for b in [0x00, 0xff, 0x80] {
        assert!(body.contains(&b), "body has {b:#04x}");
    }
    assert!(std::str::from_utf8(body).is_err());
    assert!(body.windows(4).any(|w| w == b"\r\n\r\n"));
    // End-line look-alikes inside the body: another tid with a flag, our tid
    // followed by bytes that are not flags.
    assert!(body.windows(17).any(|w| w == b"-------zq8Lm3Xr$\r"));
    assert!(body.windows(16).any(|w| w == b"-------b1nAry77x"));
    assert!(body.windows(16).any(|w| w == b"-------b1nAry77!"));
    assert!(
        body.ends_with(b"\xff\x00\r\n"),
        "the body's own CRLF is kept"
    );
    assert_eq!(m.end_line(), b"-------b1nAry77$\r\n");
    assert_eq!(
        m.content_type().as_deref(),
        Some("application/octet-stream")
    );
    // Not one prefix frames early.
    for cut in 0..bytes.len() {
        assert_eq!(next_frame(&bytes[..cut], 1 << 20), Ok(None), "prefix {cut}");
    }
}

#[test]
fn send_relay_path() {
    let (_, m) = parse("send-relay-path.msrp");
    assert_eq!(
        m.to_path(),
        [RELAY, BOB],
        "next hop first, destination last"
    );
    assert_eq!(m.from_path(), [ALICE]);
    let relay = MsrpUrl::parse(&m.to_path()[0]).unwrap();
    assert!(relay.secure);
    assert_eq!(relay.host, "relay.example.net");
    assert_eq!(relay.port, Some(2855));
    assert_eq!(relay.session_id.as_deref(), Some("rL4yq7"));
    assert_eq!(relay.transport, "tcp");
    assert_eq!(relay.socket_addr(), None, "no name resolution");
    assert_eq!(m.body(), b"Through the relay, please.");
}

#[test]
fn send_via_relay_and_the_report_route_back() {
    let (_, m) = parse("send-via-relay.msrp");
    assert_eq!(m.to_path(), [BOB]);
    assert_eq!(m.from_path(), [RELAY, ALICE], "previous hop first");
    // RFC 4975 §7.2: the response goes to the previous hop only.
    let resp = MsrpMessage::parse(&response_to(&m, 200, "OK", BOB)).unwrap();
    assert_eq!(resp.tid(), m.tid());
    assert_eq!(resp.to_path(), [RELAY]);
    assert_eq!(resp.from_path(), [BOB]);
    assert_eq!(resp.status(), Some(200));
    // RFC 4975 §7.1.2: the REPORT goes back along the whole From-Path, in order.
    let range = m.byte_range().unwrap().unwrap();
    let tid = new_tid();
    let rep = MsrpMessage::parse(&report_for(&m, BOB, &tid, range, 200, "OK")).unwrap();
    assert_eq!(rep.tid(), tid);
    assert_eq!(rep.method(), Some("REPORT"));
    assert_eq!(rep.to_path(), [RELAY, ALICE]);
    assert_eq!(rep.from_path(), [BOB]);
    assert_eq!(rep.message_id(), Some("rLy00042"));
    assert_eq!(rep.byte_range(), Some(Ok(range)));
    assert_eq!(rep.status_header(), Some((0, 200, Some("OK".into()))));
    assert_eq!(rep.flag(), EndFlag::Complete);
}

#[test]
fn send_empty() {
    let (_, m) = parse("send-empty.msrp");
    assert!(!m.has_body());
    assert_eq!(m.body(), b"");
    assert_eq!(m.content_type(), None);
    assert_eq!(m.byte_range(), Some(Ok(chunk_plan(0, 2048)[0].0)));
    let mut r = Reassembly::new();
    r.push(&m).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.bytes(), Some(Vec::new()));
}

// ---------------------------------------------------------------------------
// Byte-Range, URLs, identifiers
// ---------------------------------------------------------------------------

#[test]
fn byte_range_forms() {
    let br = |s, e, t| ByteRange {
        start: s,
        end: e,
        total: t,
    };
    for (text, want) in [
        ("1-25/100", br(1, Some(25), Some(100))),
        ("1-*/*", ByteRange::WHOLE),
        ("1-*/100", br(1, None, Some(100))),
        ("26-*/*", br(26, None, None)),
        ("1-0/0", br(1, Some(0), Some(0))),
        ("101-100/100", br(101, Some(100), Some(100))),
        ("5-4/*", br(5, Some(4), None)),
        (" 2-2/2\t", br(2, Some(2), Some(2))),
        ("007-010/0100", br(7, Some(10), Some(100))),
        (
            "1-18446744073709551615/18446744073709551615",
            br(1, Some(u64::MAX), Some(u64::MAX)),
        ),
    ] {
        assert_eq!(ByteRange::parse(text), Some(want), "{text:?}");
    }
    for bad in [
        "",
        "1",
        "1-2",
        "1/2",
        "0-0/0",
        "0-*/*",
        "3-1/10",
        "1-11/10",
        "12-*/10",
        "1 - 2/3",
        "1-2 /3",
        "-1-2/3",
        "+1-2/3",
        "1-2/3/4",
        "a-2/3",
        "1-x/3",
        "1-2/*3",
        "*-*/*",
        "1-18446744073709551616/*",
        "1-2/3 4",
    ] {
        assert_eq!(ByteRange::parse(bad), None, "{bad:?}");
    }
    assert_eq!(br(1, Some(25), Some(100)).to_header(), "1-25/100");
    assert_eq!(ByteRange::WHOLE.to_string(), "1-*/*");
    assert_eq!(br(1025, None, Some(3000)).to_string(), "1025-*/3000");
    assert_eq!(br(1, Some(0), Some(0)).declared_len(), Some(0));
    assert_eq!(br(3, None, None).declared_len(), None);
    for text in ["1-25/100", "1-*/*", "9-*/20", "1-0/0"] {
        assert_eq!(ByteRange::parse(text).unwrap().to_header(), text);
    }
}

#[test]
fn msrp_urls() {
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 2855);
    assert_eq!(msrp_url(v4, "s3ss"), "msrp://127.0.0.1:2855/s3ss;tcp");
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 40000);
    assert_eq!(msrp_url(v6, "x"), "msrp://[::1]:40000/x;tcp");
    assert_eq!(
        liaison::codec::sdp::msrp_url(v6, "x"),
        "msrp://[::1]:40000/x;tcp"
    );
    for addr in [v4, v6] {
        let url = MsrpUrl::parse(&msrp_url(addr, "sid")).unwrap();
        assert_eq!(url.socket_addr(), Some(addr));
        assert_eq!(url.session_id.as_deref(), Some("sid"));
        assert!(!url.secure);
    }
    let u = MsrpUrl::parse("MSRPS://bob@Host.Example:9/;tls;x=y").unwrap();
    assert_eq!(
        u,
        MsrpUrl {
            secure: true,
            user: Some("bob".into()),
            host: "Host.Example".into(),
            port: Some(9),
            session_id: None,
            transport: "tls".into(),
        }
    );
    let no_port = MsrpUrl::parse("msrp://relay.example.net;tcp").unwrap();
    assert_eq!((no_port.port, no_port.session_id), (None, None));
    for bad in [
        "",
        "sip:bob@example.net",
        "msrp://h:1/s",
        "msrp://h:1/s;",
        "msrp://:1/s;tcp",
        "msrp://h:99999/s;tcp",
        "msrp://h:x/s;tcp",
        "msrp://[::1/s;tcp",
        "msrp://[::1]x/s;tcp",
        "http://h:1/s;tcp",
    ] {
        assert_eq!(MsrpUrl::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn identifiers() {
    let tids: std::collections::HashSet<String> = (0..1000).map(|_| new_tid()).collect();
    assert_eq!(tids.len(), 1000);
    for t in &tids {
        assert_eq!(t.len(), 16);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(is_valid_ident(t));
    }
    let body = b"-------0123456789abcdef$ is fine as content";
    let tid = new_tid_for(body);
    let marker = format!("-------{tid}");
    assert!(!body.windows(marker.len()).any(|w| w == marker.as_bytes()));
}

// ---------------------------------------------------------------------------
// Errors, one test per variant
// ---------------------------------------------------------------------------

fn one_line(e: &MsrpError) -> String {
    let text = e.to_string();
    assert!(
        !text.contains('\n') && !text.contains('\r'),
        "one line: {text:?}"
    );
    text
}

fn err(bytes: &[u8]) -> MsrpError {
    match MsrpMessage::parse(bytes) {
        Ok(m) => panic!("expected an error, parsed {}", m.summary()),
        Err(e) => {
            one_line(&e);
            e
        }
    }
}

#[test]
fn error_empty() {
    assert_eq!(err(b""), MsrpError::Empty);
    assert_eq!(MsrpError::Empty.to_string(), "empty MSRP message: no bytes");
    assert_eq!(next_frame(b"", 100), Ok(None));
}

#[test]
fn error_bad_start_line() {
    let e = err(b"\x00\x01garbage\xff\r\n-------x$\r\n");
    assert_eq!(
        e,
        MsrpError::BadStartLine {
            line: b"\x00\x01garbage\xff".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "bad MSRP start line (expected `MSRP <tid> <METHOD>` or `MSRP <tid> <code> [phrase]`): \
         \"\\x00\\x01garbage\\xFF\""
    );
    assert!(matches!(err(b"hello"), MsrpError::BadStartLine { .. }));
    for line in [
        &b"msrp t1t1 SEND"[..],
        b"MSRP  t1t1 SEND",
        b" MSRP t1t1 SEND",
        b"MSRP t1t1",
        b"MSRP t1t1 ",
        b"MSRP t1t1 SEND ",
        b"MSRP t1t1 SEND extra",
        b"MSRP t1t1  SEND",
        b"MSRP t!t1 SEND",
        b"MSRP  SEND",
        b"MSRP t1t1 SE<ND",
        b"MSRP t1t1 20",
        b"MSRP t1t1 2000 OK",
        b"MSRP t1t1 200OK",
        b"MSRP t1t1 2x0 OK",
        b"MSRP t1t1 9SEND",
        b"MSRP t1t1 200 O\x00K",
        b"MSRP t1t1 200 \xc3\x28",
        b"SIP/2.0 200 OK",
        b"MSRP/1.0 t1t1 SEND",
        b"MSRPt1t1 SEND",
    ] {
        let input = [line, b"\r\nTo-Path: x\r\n-------t1t1$\r\n"].concat();
        assert_eq!(
            err(&input),
            MsrpError::BadStartLine {
                line: line.to_vec()
            },
            "{}",
            escape_bytes(line, 80)
        );
    }
    // Accepted: unknown methods, responses without phrase, any 3-digit code.
    for (line, start) in [
        (
            "MSRP t1t1 NICKNAME",
            MsrpStart::Request {
                method: "NICKNAME".into(),
            },
        ),
        (
            "MSRP t1t1 send",
            MsrpStart::Request {
                method: "send".into(),
            },
        ),
        (
            "MSRP t1t1 200",
            MsrpStart::Response {
                code: 200,
                phrase: None,
            },
        ),
        (
            "MSRP t1t1 200 ",
            MsrpStart::Response {
                code: 200,
                phrase: Some(String::new()),
            },
        ),
        (
            "MSRP t1t1 999 Odd  code, \u{e9}t\u{e9}",
            MsrpStart::Response {
                code: 999,
                phrase: Some("Odd  code, \u{e9}t\u{e9}".into()),
            },
        ),
    ] {
        let input = format!("{line}\r\n-------t1t1$\r\n");
        let m = MsrpMessage::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(m.start(), &start);
    }
}

#[test]
fn error_bad_header() {
    let e = err(b"MSRP t1t1 SEND\r\nTo-Path: x\r\nNoColonHere\r\n-------t1t1$\r\n");
    assert_eq!(
        e,
        MsrpError::BadHeader {
            line: b"NoColonHere".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "bad MSRP header line (expected `Name: value`): \"NoColonHere\""
    );
    for line in [
        &b": no name"[..],
        b"Bad Name: x",
        b" To-Path: x",
        b"Caf\xc3\xa9: x",
        b"\x00: x",
        b"To-Path",
    ] {
        let input = [b"MSRP t1t1 SEND\r\n", line, b"\r\n-------t1t1$\r\n"].concat();
        assert_eq!(
            err(&input),
            MsrpError::BadHeader {
                line: line.to_vec()
            },
            "{}",
            escape_bytes(line, 80)
        );
    }
    // Whitespace around the colon and the value is tolerated.
    let m =
        MsrpMessage::parse(b"MSRP t1t1 SEND\r\nTo-Path :\tx y \r\nX-Empty:\r\n-------t1t1$\r\n")
            .unwrap();
    assert_eq!(m.headers()[0], ("To-Path".into(), "x y".into()));
    assert_eq!(m.to_path(), ["x", "y"]);
    assert_eq!(m.header("x-empty"), Some(""));
}

#[test]
fn error_no_end_line() {
    let input = b"MSRP t1t1 SEND\r\nTo-Path: x\r\n";
    let e = err(input);
    assert_eq!(
        e,
        MsrpError::NoEndLine {
            bytes: input.to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "no MSRP end-line (`-------<tid>` + `$`, `+` or `#` + CRLF) ends the message \
         (28 bytes received): \"MSRP t1t1 SEND\\r\\nTo-Path: x\\r\\n\""
    );
    for input in [
        &b"MSRP t1t1 SEND"[..],
        b"MSRP t1t1 SEND\r\n",
        b"MSRP t1t1 SEND\r\nTo-Pa",
        b"MSRP t1t1 SEND\r\n-------t1t1$",
        b"MSRP t1t1 SEND\r\n-------t1t1$\r",
        b"MSRP t1t1 SEND\r\n\r\nbody\r\n",
        b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t1t1$",
        b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t1t1",
        b"MSRP t1t1 SEND\r\n\r\nbody-------t1t1$\r\n",
        b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t1t1x\r\nmore",
    ] {
        assert_eq!(
            err(input),
            MsrpError::NoEndLine {
                bytes: input.to_vec()
            },
            "{}",
            escape_bytes(input, 80)
        );
    }
}

#[test]
fn error_end_line_mismatch() {
    let e = err(b"MSRP t1t1 SEND\r\nTo-Path: x\r\n-------t2t2$\r\n");
    assert_eq!(
        e,
        MsrpError::EndLineMismatch {
            expected_tid: "t1t1".into(),
            found: b"-------t2t2$".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "MSRP end-line does not match the transaction (expected `-------t1t1` + `$`, `+` or `#`): \
         \"-------t2t2$\""
    );
    for (input, found) in [
        (
            &b"MSRP t1t1 SEND\r\n-------t1t1\r\n"[..],
            &b"-------t1t1"[..],
        ),
        (b"MSRP t1t1 SEND\r\n-------t1t1$$\r\n", b"-------t1t1$$"),
        (b"MSRP t1t1 SEND\r\n-------t1t11$\r\n", b"-------t1t11$"),
        (b"MSRP t1t1 SEND\r\n--------t1t1$\r\n", b"--------t1t1$"),
        (b"MSRP t1t1 SEND\r\n-------t2t2$", b"-------t2t2$"),
        // In a body, a damaged end-line at the very end is diagnosed.
        (
            b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t1t1$junk\r\n",
            b"-------t1t1$junk",
        ),
        (
            b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t2t2$\r\n",
            b"-------t2t2$",
        ),
    ] {
        assert_eq!(
            err(input),
            MsrpError::EndLineMismatch {
                expected_tid: "t1t1".into(),
                found: found.to_vec()
            },
            "{}",
            escape_bytes(input, 80)
        );
    }
}

#[test]
fn error_bad_flag() {
    let e = err(b"MSRP t1t1 SEND\r\nTo-Path: x\r\n-------t1t1!\r\n");
    assert_eq!(e, MsrpError::BadFlag { flag: b'!' });
    assert_eq!(
        e.to_string(),
        "bad MSRP continuation flag \"!\" in the end-line (expected `$`, `+` or `#`)"
    );
    assert_eq!(
        err(b"MSRP t1t1 SEND\r\n\r\nbody\r\n-------t1t1\x00\r\n"),
        MsrpError::BadFlag { flag: 0 }
    );
    assert_eq!(
        MsrpError::BadFlag { flag: 0xff }.to_string(),
        "bad MSRP continuation flag \"\\xFF\" in the end-line (expected `$`, `+` or `#`)"
    );
    // A framer reports it as soon as the line is complete.
    assert_eq!(
        next_frame(b"MSRP t1t1 SEND\r\n-------t1t1?\r\nMSRP", 1000),
        Err(MsrpError::BadFlag { flag: b'?' })
    );
}

#[test]
fn error_bad_byte_range() {
    let m = MsrpMessage::parse(b"MSRP t1t1 SEND\r\nByte-Range: 1-x/10\r\n-------t1t1$\r\n")
        .expect("a bad Byte-Range still parses");
    let e = MsrpError::BadByteRange {
        value: "1-x/10".into(),
    };
    assert_eq!(m.byte_range(), Some(Err(e.clone())));
    assert_eq!(m.check(), Err(e.clone()));
    assert_eq!(
        one_line(&e),
        "bad Byte-Range (expected `start-end/total`, 1-based, end and total numbers or `*`, \
         consistent with the chunk): \"1-x/10\""
    );
    assert_eq!(m.summary(), "SEND t1t1 1-x/10 $");
    let mut r = Reassembly::new();
    let chunk = send_chunk("id01", "1-x/10", b"", EndFlag::Complete);
    assert_eq!(r.push(&chunk), Err(e));
    // A chunk that reaches past its own total.
    let past = send_chunk("id01", "8-*/10", b"abcd", EndFlag::More);
    assert_eq!(past.check(), Ok(()));
    assert_eq!(
        r.push(&past),
        Err(MsrpError::BadByteRange {
            value: "8-*/10".into()
        })
    );
    assert_eq!(r.chunks(), 0);
}

#[test]
fn error_body_length_mismatch() {
    let short = send_chunk("id01", "1-10/10", b"12345", EndFlag::Complete);
    let e = MsrpError::BodyLengthMismatch {
        declared: 10,
        actual: 5,
    };
    assert_eq!(short.check(), Err(e.clone()));
    assert_eq!(
        one_line(&e),
        "MSRP body length does not match Byte-Range: the range declares 10 bytes, the body has 5"
    );
    assert_eq!(Reassembly::new().push(&short), Err(e));
    // An interrupted `+` or `#` chunk may be shorter, never longer.
    for flag in [EndFlag::More, EndFlag::Abort] {
        assert_eq!(send_chunk("i", "1-10/20", b"12345", flag).check(), Ok(()));
        assert_eq!(
            send_chunk("i", "1-3/20", b"12345", flag).check(),
            Err(MsrpError::BodyLengthMismatch {
                declared: 3,
                actual: 5
            })
        );
    }
    // `*` as end: nothing to compare.
    assert_eq!(
        send_chunk("i", "1-*/5", b"12345", EndFlag::Complete).check(),
        Ok(())
    );
}

#[test]
fn error_too_large() {
    let (bytes, _) = parse("send-first-chunk.msrp");
    let e = MsrpError::TooLarge { limit: 1000 };
    assert_eq!(next_frame(&bytes, 1000), Err(e.clone()));
    assert_eq!(
        one_line(&e),
        "MSRP message too large: no end-line within 1000 bytes"
    );
    // Fewer bytes than the limit: wait; exactly the message length: fine.
    assert_eq!(next_frame(&bytes[..999], 1000), Ok(None));
    assert_eq!(next_frame(&bytes, bytes.len()), Ok(Some(bytes.len())));
    assert_eq!(
        next_frame(&bytes, bytes.len() - 1),
        Err(MsrpError::TooLarge {
            limit: bytes.len() - 1
        })
    );
    // A start line that never ends.
    let long = [b"MSRP ".as_slice(), &[b'a'; 100]].concat();
    assert_eq!(
        next_frame(&long, 50),
        Err(MsrpError::TooLarge { limit: 50 })
    );
}

fn send_chunk(id: &str, range: &str, body: &[u8], flag: EndFlag) -> MsrpMessage {
    let bytes = request("SEND", &new_tid_for(body))
        .header("To-Path", BOB)
        .header("From-Path", ALICE)
        .header("Message-ID", id)
        .header("Byte-Range", range)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .flag(flag)
        .build();
    MsrpMessage::parse(&bytes).expect("built chunk parses")
}

#[test]
fn error_reassembly_variants() {
    let mut r = Reassembly::new();
    // Not a SEND.
    let (_, report) = parse("report-200.msrp");
    let e = r.push(&report).unwrap_err();
    assert_eq!(
        e,
        MsrpError::NotAChunk {
            summary: "REPORT 000 200 (tid z0Wx5sDf)".into()
        }
    );
    assert_eq!(
        one_line(&e),
        "not an MSRP SEND chunk: \"REPORT 000 200 (tid z0Wx5sDf)\""
    );
    let (_, ok) = parse("response-200.msrp");
    assert!(matches!(r.push(&ok), Err(MsrpError::NotAChunk { .. })));
    // Without Message-ID.
    let anon = MsrpMessage::parse(b"MSRP t1t1 SEND\r\n\r\nx\r\n-------t1t1$\r\n").unwrap();
    let e = r.push(&anon).unwrap_err();
    assert_eq!(
        e,
        MsrpError::MessageIdMismatch {
            expected: String::new(),
            found: None
        }
    );
    assert_eq!(
        one_line(&e),
        "MSRP chunk without Message-ID (expected \"\")"
    );
    // Another message.
    r.push(&send_chunk("idA", "1-3/6", b"abc", EndFlag::More))
        .unwrap();
    let e = r
        .push(&send_chunk("idB", "4-6/6", b"def", EndFlag::Complete))
        .unwrap_err();
    assert_eq!(
        e,
        MsrpError::MessageIdMismatch {
            expected: "idA".into(),
            found: Some("idB".into())
        }
    );
    assert_eq!(
        one_line(&e),
        "MSRP chunk of another message: Message-ID \"idB\", expected \"idA\""
    );
    assert_eq!(
        r.push(&anon),
        Err(MsrpError::MessageIdMismatch {
            expected: "idA".into(),
            found: None
        })
    );
    // Conflicting overlap.
    let e = r
        .push(&send_chunk("idA", "2-4/6", b"bXd", EndFlag::More))
        .unwrap_err();
    assert_eq!(e, MsrpError::OverlapConflict { start: 2, end: 3 });
    assert_eq!(
        one_line(&e),
        "conflicting MSRP chunks: bytes 2-3 arrived before with different content"
    );
    // Another total.
    let e = r
        .push(&send_chunk("idA", "4-6/7", b"def", EndFlag::More))
        .unwrap_err();
    assert_eq!(
        e,
        MsrpError::TotalMismatch {
            previous: 6,
            found: 7
        }
    );
    assert_eq!(
        one_line(&e),
        "MSRP chunks disagree on the message length: 6 bytes before, now 7"
    );
    // Nothing rejected changed anything.
    assert_eq!((r.received(), r.chunks(), r.total()), (3, 1, Some(6)));
    r.push(&send_chunk("idA", "4-6/6", b"def", EndFlag::Complete))
        .unwrap();
    assert_eq!(r.bytes().as_deref(), Some(&b"abcdef"[..]));
}

#[test]
fn error_display_cuts_long_input() {
    let text = MsrpError::BadStartLine {
        line: vec![b'#'; 500],
    }
    .to_string();
    assert!(text.ends_with("… (380 more bytes)\""), "{text}");
    assert!(text.len() < 250);
    let text = MsrpError::NotAChunk {
        summary: "x\r\ny".repeat(100),
    }
    .to_string();
    assert!(!text.contains('\n') && text.len() < 300, "{text}");
}

// ---------------------------------------------------------------------------
// Stream framing
// ---------------------------------------------------------------------------

const MAX: usize = 1 << 16;

/// Feed `pieces` one after another into a buffer and drain every frame after each.
fn receive(pieces: &[&[u8]]) -> Result<Vec<Vec<u8>>, MsrpError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(n) = next_frame(&buf, MAX)? {
            out.push(buf.drain(..n).collect());
        }
    }
    assert!(
        buf.is_empty(),
        "nothing left over: {}",
        escape_bytes(&buf, 80)
    );
    Ok(out)
}

fn stream_names() -> [&'static str; 6] {
    [
        "send-first-chunk.msrp",
        "response-200.msrp",
        "send-binary.msrp",
        "report-200.msrp",
        "send-empty.msrp",
        "response-481.msrp",
    ]
}

#[test]
fn frame_several_messages_split_at_every_byte() {
    let messages: Vec<Vec<u8>> = stream_names().iter().map(|n| vector(n)).collect();
    let stream = messages.concat();
    assert_eq!(receive(&[&stream]).unwrap(), messages);
    for split in 0..=stream.len() {
        let (a, b) = stream.split_at(split);
        assert_eq!(receive(&[a, b]).unwrap(), messages, "split at {split}");
    }
    // Three pieces, cut around the binary body's fake end-lines.
    let bin_at: usize = messages[..2].iter().map(Vec::len).sum();
    for first in (bin_at..bin_at + 330).step_by(7) {
        for second in (first..first + 60).step_by(3) {
            let second = second.min(stream.len());
            let pieces = [&stream[..first], &stream[first..second], &stream[second..]];
            assert_eq!(receive(&pieces).unwrap(), messages, "{first}/{second}");
        }
    }
    // One byte at a time.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(receive(&bytes).unwrap(), messages);
    // Every message parses as framed.
    for m in &messages {
        assert_eq!(MsrpMessage::parse(m).unwrap().raw(), m.as_slice());
    }
}

#[test]
fn frame_ignores_end_lines_of_other_transactions_in_a_body() {
    // The body holds the end-line of the message that follows it on the stream:
    // a naive "first line of seven hyphens" framer would cut here.
    let inner = request("SEND", "inner001")
        .header("To-Path", BOB)
        .header("From-Path", ALICE)
        .header("Message-ID", "inn3r")
        .body(b"x")
        .build();
    let outer = request("SEND", "outer001")
        .header("To-Path", BOB)
        .header("From-Path", ALICE)
        .header("Message-ID", "out3r")
        .header("Content-Type", "message/msrp-capture")
        .body(&inner)
        .build();
    let stream = [outer.as_slice(), &inner].concat();
    assert_eq!(next_frame(&stream, MAX), Ok(Some(outer.len())));
    let m = MsrpMessage::parse(&outer).unwrap();
    assert_eq!(m.body(), inner.as_slice());
    assert_eq!(
        receive(&[&stream]).unwrap(),
        vec![outer.clone(), inner.clone()]
    );
    for cut in 0..outer.len() {
        assert_eq!(next_frame(&stream[..cut], MAX), Ok(None), "prefix {cut}");
    }
    // `-------<tid>` followed by a non-flag, or a flag and no line end, is content.
    let tricky = b"MSRP abcd SEND\r\n\r\n-------abcdX\r\n-------abcd$ \r\n-------abcd$\r\n";
    let m = MsrpMessage::parse(tricky).unwrap();
    assert_eq!(m.body(), b"-------abcdX\r\n-------abcd$ ");
    assert_eq!(next_frame(tricky, MAX), Ok(Some(tricky.len())));
}

#[test]
fn frame_body_edge_cases() {
    // Empty body with its CRLF, and (tolerated) without it.
    let with = b"MSRP abcd SEND\r\nContent-Type: text/plain\r\n\r\n\r\n-------abcd$\r\n";
    let m = MsrpMessage::parse(with).unwrap();
    assert!(m.has_body());
    assert_eq!(m.body(), b"");
    let without = b"MSRP abcd SEND\r\nContent-Type: text/plain\r\n\r\n-------abcd+\r\n";
    let m = MsrpMessage::parse(without).unwrap();
    assert!(m.has_body());
    assert_eq!(m.body(), b"");
    assert_eq!(m.flag(), EndFlag::More);
    // A body that is only a CR and an LF-ended end-line.
    let m = MsrpMessage::parse(b"MSRP abcd SEND\r\n\r\n\r\r\n-------abcd$\n").unwrap();
    assert_eq!(m.body(), b"\r");
    // No headers at all.
    let m = MsrpMessage::parse(b"MSRP abcd SEND\r\n-------abcd#\r\n").unwrap();
    assert_eq!((m.headers().len(), m.flag()), (0, EndFlag::Abort));
    // Trailing bytes after the end-line are kept apart.
    let m = MsrpMessage::parse(b"MSRP abcd 200 OK\r\n-------abcd$\r\nMSRP next").unwrap();
    assert_eq!(m.trailing(), b"MSRP next");
    assert_eq!(m.raw(), b"MSRP abcd 200 OK\r\n-------abcd$\r\n");
}

#[test]
fn frame_errors_come_early() {
    for early in [&b"G"[..], b"GET / HTTP/1.1", b"MSRq", b"\r\n", b" MSRP"] {
        assert!(
            matches!(next_frame(early, MAX), Err(MsrpError::BadStartLine { .. })),
            "{}",
            escape_bytes(early, 40)
        );
    }
    for wait in [
        &b"M"[..],
        b"MSRP",
        b"MSRP ",
        b"MSRP t1t1 SE",
        b"MSRP t1t1 SEND\r",
    ] {
        assert_eq!(
            next_frame(wait, MAX),
            Ok(None),
            "{}",
            escape_bytes(wait, 40)
        );
    }
    assert_eq!(
        next_frame(b"MSRP t1t1 SEND\r\nbad line\r\n", MAX),
        Err(MsrpError::BadHeader {
            line: b"bad line".to_vec()
        })
    );
    assert_eq!(
        next_frame(b"MSRP t1t1 SEND\r\n-------t9t9$\r\n", MAX),
        Err(MsrpError::EndLineMismatch {
            expected_tid: "t1t1".into(),
            found: b"-------t9t9$".to_vec()
        })
    );
    assert_eq!(
        next_frame(b"MSRP t1t1 SEND\r\nTo-Path: x\r\n---", MAX),
        Ok(None)
    );
}

// ---------------------------------------------------------------------------
// Chunking and reassembly
// ---------------------------------------------------------------------------

#[test]
fn chunk_plan_cases() {
    let show = |plan: Vec<(ByteRange, EndFlag)>| -> Vec<String> {
        plan.iter().map(|(r, f)| format!("{r} {f}")).collect()
    };
    assert_eq!(
        show(chunk_plan(3000, 1024)),
        ["1-1024/3000 +", "1025-2048/3000 +", "2049-3000/3000 $"]
    );
    assert_eq!(show(chunk_plan(0, 1024)), ["1-0/0 $"]);
    assert_eq!(
        show(chunk_plan(2048, 1024)),
        ["1-1024/2048 +", "1025-2048/2048 $"]
    );
    assert_eq!(show(chunk_plan(5, 0)), ["1-5/5 $"], "0 = no limit");
    assert_eq!(show(chunk_plan(1, 1)), ["1-1/1 $"]);
    assert_eq!(show(chunk_plan(3, 1)), ["1-1/3 +", "2-2/3 +", "3-3/3 $"]);
    assert_eq!(show(chunk_plan(10, 99)), ["1-10/10 $"]);
    assert_eq!(
        show(chunk_plan(u64::MAX, u64::MAX)),
        [format!("1-{0}/{0} $", u64::MAX)]
    );
    assert_eq!(chunk_plan(1 << 20, 1 << 16).len(), 16);
}

/// Build the SENDs of `plan` for `msg`.
fn chunks_of(msg: &[u8], chunk: u64, id: &str) -> Vec<MsrpMessage> {
    chunk_plan(msg.len() as u64, chunk)
        .into_iter()
        .map(|(range, flag)| {
            let from = (range.start - 1) as usize;
            let to = range.end.unwrap() as usize;
            send_chunk(id, &range.to_header(), &msg[from..to], flag)
        })
        .collect()
}

#[test]
fn reassembly_in_order_and_round_trip() {
    let msg = message_3000();
    for chunk in [1, 7, 1024, 2999, 3000, 5000, 0] {
        let mut r = Reassembly::new();
        let chunks = chunks_of(&msg, chunk, "rt1");
        let n = chunks.len();
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.check(), Ok(()));
            r.push(c).unwrap();
            assert_eq!(r.is_complete(), i + 1 == n, "chunk {chunk}: {i}");
        }
        assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()), "chunk {chunk}");
        assert_eq!(r.received(), 3000);
        assert_eq!(r.chunks(), n);
        assert_eq!(r.gaps(), []);
        assert_eq!(r.message_id(), Some("rt1"));
        assert!(!r.is_aborted());
    }
    // The empty message.
    let mut r = Reassembly::new();
    for c in chunks_of(b"", 10, "e") {
        r.push(&c).unwrap();
    }
    assert_eq!(r.bytes(), Some(Vec::new()));
}

#[test]
fn reassembly_out_of_order_and_duplicates() {
    let msg = message_3000();
    let chunks = chunks_of(&msg, 1024, "ooo");
    let mut r = Reassembly::new();
    r.push(&chunks[2]).unwrap();
    assert_eq!(r.total(), Some(3000));
    assert!(!r.is_complete(), "the `$` chunk alone");
    assert_eq!(r.gaps(), [(1, 2048)]);
    r.push(&chunks[0]).unwrap();
    assert_eq!(r.gaps(), [(1025, 2048)]);
    assert!(!r.is_complete());
    assert_eq!(r.bytes(), None, "a gap: not complete");
    r.push(&chunks[0]).unwrap(); // an identical duplicate
    assert_eq!(r.received(), 1024 + 952);
    r.push(&chunks[1]).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()));
    // Overlapping, agreeing chunks of other sizes merge.
    let mut r = Reassembly::new();
    for (range, body) in [
        ("1001-1500/3000", &msg[1000..1500]),
        ("1-1200/3000", &msg[..1200]),
        ("1400-3000/3000", &msg[1399..]),
    ] {
        let flag = if range.ends_with("3000/3000") {
            EndFlag::Complete
        } else {
            EndFlag::More
        };
        r.push(&send_chunk("ov", range, body, flag)).unwrap();
    }
    assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()));
}

#[test]
fn reassembly_conflicts_leave_state_unchanged() {
    let msg = message_3000();
    let mut r = Reassembly::new();
    let (_, first) = parse("send-first-chunk.msrp");
    r.push(&first).unwrap();
    let mut changed = msg[1000..1100].to_vec();
    changed[10] ^= 0x20; // byte 1011, inside the first chunk
    assert_eq!(
        r.push(&send_chunk(
            "Qm7Lk2Pz90",
            "1001-1100/3000",
            &changed,
            EndFlag::More
        )),
        Err(MsrpError::OverlapConflict {
            start: 1001,
            end: 1024
        })
    );
    assert_eq!((r.received(), r.chunks()), (1024, 1));
    // The same chunk without the change is fine and extends what is there.
    r.push(&send_chunk(
        "Qm7Lk2Pz90",
        "1001-1100/3000",
        &msg[1000..1100],
        EndFlag::More,
    ))
    .unwrap();
    assert_eq!(r.received(), 1100);
    // A `$` chunk ending before bytes already received.
    assert_eq!(
        r.push(&send_chunk(
            "Qm7Lk2Pz90",
            "1-*/*",
            &msg[..50],
            EndFlag::Complete
        )),
        Err(MsrpError::TotalMismatch {
            previous: 3000,
            found: 50
        })
    );
    let mut r = Reassembly::new();
    r.push(&send_chunk("x", "1-100/*", &msg[..100], EndFlag::More))
        .unwrap();
    assert_eq!(
        r.push(&send_chunk("x", "1-50/*", &msg[..50], EndFlag::Complete)),
        Err(MsrpError::TotalMismatch {
            previous: 100,
            found: 50
        })
    );
    // A chunk reaching past the total an earlier chunk gave.
    let mut r = Reassembly::new();
    r.push(&send_chunk("z", "1-10/20", &msg[..10], EndFlag::More))
        .unwrap();
    assert_eq!(
        r.push(&send_chunk("z", "15-*/*", &msg[14..24], EndFlag::More)),
        Err(MsrpError::TotalMismatch {
            previous: 20,
            found: 24
        })
    );
    assert_eq!(r.received(), 10);
    // A `$` chunk that ends short of the declared total.
    assert_eq!(
        Reassembly::new().push(&send_chunk("y", "1-10/20", &msg[..10], EndFlag::Complete)),
        Err(MsrpError::TotalMismatch {
            previous: 20,
            found: 10
        })
    );
}

#[test]
fn reassembly_abort_is_never_complete() {
    let msg = message_3000();
    let (_, first) = parse("send-first-chunk.msrp");
    let (_, aborted) = parse("send-aborted-chunk.msrp");
    let mut r = Reassembly::new();
    r.push(&first).unwrap();
    r.push(&aborted).unwrap();
    assert!(r.is_aborted());
    assert_eq!(
        r.received(),
        1424,
        "the interrupted chunk counts for what it carried"
    );
    assert_eq!(r.gaps(), [(1425, 3000)]);
    r.push(&send_chunk(
        "Qm7Lk2Pz90",
        "1425-3000/3000",
        &msg[1424..],
        EndFlag::Complete,
    ))
    .unwrap();
    assert_eq!(r.received(), 3000);
    assert!(!r.is_complete());
    assert_eq!(r.bytes(), None);
}

#[test]
fn reassembly_total_from_the_final_chunk() {
    let msg = message_3000();
    // Every total `*`: the `$` chunk (with end `*`) fixes it.
    let mut r = Reassembly::new();
    r.push(&send_chunk("s", "1-1024/*", &msg[..1024], EndFlag::More))
        .unwrap();
    assert_eq!(r.total(), None);
    assert_eq!(r.gaps(), []);
    r.push(&send_chunk(
        "s",
        "1025-*/*",
        &msg[1024..],
        EndFlag::Complete,
    ))
    .unwrap();
    assert_eq!(r.total(), Some(3000));
    assert!(r.is_complete());
    assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()));
    // End `*` on the final chunk with a known total.
    let mut r = Reassembly::new();
    r.push(&send_chunk(
        "s",
        "2049-*/3000",
        &msg[2048..],
        EndFlag::Complete,
    ))
    .unwrap();
    r.push(&send_chunk("s", "1-*/3000", &msg[..2048], EndFlag::More))
        .unwrap();
    assert!(r.is_complete());
    // Interrupted `+` chunk, resumed where it stopped (RFC 4975 §7.1.1).
    let mut r = Reassembly::new();
    r.push(&send_chunk("s", "1-2048/3000", &msg[..500], EndFlag::More))
        .unwrap();
    r.push(&send_chunk(
        "s",
        "501-3000/3000",
        &msg[500..],
        EndFlag::Complete,
    ))
    .unwrap();
    assert_eq!(r.bytes().as_deref(), Some(msg.as_slice()));
    // No Byte-Range: the whole message in one chunk.
    let (_, text) = parse("send-text.msrp");
    let bytes = request("SEND", "n0range1")
        .header("To-Path", BOB)
        .header("From-Path", ALICE)
        .header("Message-ID", "nr1")
        .header("Content-Type", "text/plain")
        .body(text.body())
        .build();
    let mut r = Reassembly::new();
    r.push(&MsrpMessage::parse(&bytes).unwrap()).unwrap();
    assert_eq!(r.bytes().as_deref(), Some(text.body()));
}

// ---------------------------------------------------------------------------
// SDP
// ---------------------------------------------------------------------------

fn sdp(name: &str) -> Sdp {
    Sdp::parse(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_sdp_vector_parses() {
    for (name, bytes) in sdp_vectors() {
        let s = Sdp::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.raw().as_bytes(), bytes.as_slice());
        assert_eq!(s.check(), Ok(()), "{name}");
        assert_eq!(s.lines()[0], ('v', "0".to_string()));
        let msrp: Vec<Media> = s
            .media()
            .into_iter()
            .filter(|m| m.media == "message")
            .collect();
        assert_eq!(msrp.len(), 1, "{name}");
        assert_eq!(msrp[0].formats, ["*"], "{name}");
        assert!(msrp[0].proto.ends_with("/MSRP"), "{name}");
        let path = msrp[0].msrp_path();
        assert!(!path.is_empty(), "{name}");
        assert!(path.iter().all(|u| MsrpUrl::parse(u).is_some()), "{name}");
        assert!(!msrp[0].accept_types().is_empty(), "{name}");
    }
}

#[test]
fn sdp_offer_ipv4() {
    let s = sdp("offer-ipv4.sdp");
    assert_eq!(
        s.session_value('o'),
        Some("alice 3794517001 3794517001 IN IP4 192.0.2.10")
    );
    assert_eq!(s.connection_address().as_deref(), Some("192.0.2.10"));
    let media = s.media();
    assert_eq!(media.len(), 1);
    let m = &media[0];
    assert_eq!(
        (m.media.as_str(), m.port, m.proto.as_str()),
        ("message", 7654, "TCP/MSRP")
    );
    assert_eq!(m.accept_types(), ["message/cpim", "text/plain"]);
    assert_eq!(m.accept_wrapped_types(), ["text/plain", "image/jpeg"]);
    assert_eq!(m.attr("max-size"), Some("131072"));
    assert_eq!(m.msrp_path(), [ALICE]);
    assert_eq!(m.setup().as_deref(), Some("actpass"));
    assert_eq!(s.attribute("path").as_deref(), Some(ALICE));
    assert_eq!(
        s.attribute("PATH").as_deref(),
        Some(ALICE),
        "names ignore case"
    );
    assert_eq!(s.attribute("missing"), None);
    assert_eq!(
        m.attributes[0],
        (
            "accept-types".to_string(),
            Some("message/cpim text/plain".to_string())
        )
    );
}

#[test]
fn sdp_answer_ipv6_lf() {
    let bytes = vector("answer-ipv6-lf.sdp");
    assert!(!bytes.contains(&b'\r'), "LF-only vector");
    let s = sdp("answer-ipv6-lf.sdp");
    assert_eq!(s.session_value('s'), Some("liaison answer"));
    assert_eq!(s.session_value('c'), None, "c= at media level");
    assert_eq!(s.connection_address().as_deref(), Some("2001:db8::20"));
    let m = &s.media()[0];
    assert_eq!((m.port, m.proto.as_str()), (2855, "TCP/TLS/MSRP"));
    let path = m.msrp_path();
    assert_eq!(
        path,
        [RELAY, "msrps://[2001:db8::20]:2855/b0bV6x;tcp"],
        "relay first, own URL last (RFC 4975 §8.2)"
    );
    let own = MsrpUrl::parse(&path[1]).unwrap();
    assert_eq!(
        own.socket_addr(),
        Some("[2001:db8::20]:2855".parse().unwrap())
    );
    assert_eq!(m.setup().as_deref(), Some("passive"));
    assert_eq!(m.attr("sendrecv"), Some(""), "a flag attribute");
    assert_eq!(m.attributes.last(), Some(&("sendrecv".to_string(), None)));
}

#[test]
fn sdp_two_media() {
    let s = sdp("offer-two-media.sdp");
    let media = s.media();
    assert_eq!(media.len(), 2);
    assert_eq!((media[0].media.as_str(), media[0].port), ("audio", 0));
    assert_eq!(media[0].formats, ["0", "8"]);
    assert_eq!(media[0].attr("rtpmap"), Some("0 PCMU/8000"));
    assert_eq!(media[0].msrp_path(), Vec::<String>::new());
    assert_eq!(media[1].port, 40001);
    assert_eq!(media[1].accept_wrapped_types(), ["*"]);
    // Session level wins over media level.
    assert_eq!(s.attribute("sendrecv").as_deref(), Some(""));
    assert_eq!(media[1].attr("recvonly"), Some(""));
    assert_eq!(s.attribute("tool").as_deref(), Some("liaison-vectors"));
    assert_eq!(s.attribute("setup").as_deref(), Some("active"));
    assert_eq!(
        s.attribute("path").as_deref(),
        Some("msrp://198.51.100.7:40001/tw0Med1a;tcp")
    );
}

#[test]
fn sdp_msrp_session_round_trip() {
    for (addr, setup) in [
        (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), Some("active")),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), None),
    ] {
        let url = msrp_url(SocketAddr::new(addr, 40123), "rtS3ss");
        let bytes = msrp_session(addr, 40123, &url, &["text/plain", "message/cpim"], setup);
        assert!(bytes.ends_with(b"\r\n"));
        assert!(!bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        let s = Sdp::parse(&bytes).unwrap();
        assert_eq!(s.check(), Ok(()));
        assert_eq!(s.connection_address(), Some(addr.to_string()));
        let m = &s.media()[0];
        assert_eq!((m.media.as_str(), m.port), ("message", 40123));
        assert_eq!(m.proto, "TCP/MSRP");
        assert_eq!(m.formats, ["*"]);
        assert_eq!(m.msrp_path(), [url.as_str()]);
        assert_eq!(m.accept_types(), ["text/plain", "message/cpim"]);
        assert_eq!(m.setup().as_deref(), setup);
        assert_eq!(m.accept_wrapped_types(), Vec::<String>::new());
        assert_eq!(
            MsrpUrl::parse(&url).unwrap().socket_addr(),
            Some(SocketAddr::new(addr, 40123))
        );
    }
    // The o= line is stable for one path and differs between paths.
    let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        msrp_session(a, 1, "msrp://x/1;tcp", &[], None),
        msrp_session(a, 1, "msrp://x/1;tcp", &[], None)
    );
    let o = |p: &str| {
        Sdp::parse(&msrp_session(a, 1, p, &[], None))
            .unwrap()
            .session_value('o')
            .unwrap()
            .to_string()
    };
    assert_ne!(o("msrp://x/1;tcp"), o("msrp://x/2;tcp"));
    let with_wrapped = SessionBuilder::new(a, 1, "msrp://x/1;tcp")
        .accept_types(&["message/cpim"])
        .accept_wrapped_types(&["text/plain", "*"])
        .build();
    assert_eq!(
        Sdp::parse(&with_wrapped).unwrap().media()[0].accept_wrapped_types(),
        ["text/plain", "*"]
    );
}

#[test]
fn sdp_errors() {
    let e = |b: &[u8]| {
        let e = Sdp::parse(b).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
        e
    };
    assert_eq!(e(b""), SdpError::Empty);
    assert_eq!(e(b" \r\n\r\n"), SdpError::Empty);
    assert_eq!(SdpError::Empty.to_string(), "empty SDP: no lines");
    assert_eq!(e(b"v=0\r\n\xff=x\r\n"), SdpError::NotUtf8);
    assert_eq!(SdpError::NotUtf8.to_string(), "SDP is not UTF-8 text");
    assert_eq!(
        e(b"o=- 1 1 IN IP4 h\r\nv=0\r\n"),
        SdpError::MissingLine { kind: 'v' }
    );
    assert_eq!(
        SdpError::MissingLine { kind: 'v' }.to_string(),
        "SDP lacks a mandatory `v=` line (RFC 4566 §5)"
    );
    let bad = e(b"v=0\r\nthis is not sdp\r\n");
    assert_eq!(
        bad,
        SdpError::BadLine {
            line: "this is not sdp".into()
        }
    );
    assert_eq!(
        bad.to_string(),
        "bad SDP line (expected `<type>=<value>`, `m=<media> <port> <proto> <fmt>…`): \"this is not sdp\""
    );
    for line in [
        "v = 0",
        "=x",
        "1=x",
        "vv=0",
        "",
        "m=message",
        "m=message 2855",
        "m=message x TCP/MSRP *",
        "m=message 70000 TCP/MSRP *",
        "m=message -1 TCP/MSRP *",
        "m=message /2 TCP/MSRP *",
        "\u{e9}=x",
    ] {
        let input = format!("v=0\r\n{line}\r\ns=-\r\n");
        assert_eq!(
            e(input.as_bytes()),
            SdpError::BadLine { line: line.into() },
            "{line:?}"
        );
    }
    // Trailing empty lines are fine; `m=` with a port count too.
    let s = Sdp::parse(b"v=0\nm=message 9/2 TCP/MSRP *\n\n\r\n").unwrap();
    assert_eq!(s.media()[0].port, 9);
    // What check() adds: o, s, t, and c for every media.
    let missing = |text: &str| Sdp::parse(text.as_bytes()).unwrap().check();
    assert_eq!(
        missing("v=0\ns=-\nt=0 0\nc=IN IP4 h\n"),
        Err(SdpError::MissingLine { kind: 'o' })
    );
    assert_eq!(
        missing("v=0\no=x\nt=0 0\nc=IN IP4 h\n"),
        Err(SdpError::MissingLine { kind: 's' })
    );
    assert_eq!(
        missing("v=0\no=x\ns=-\nc=IN IP4 h\n"),
        Err(SdpError::MissingLine { kind: 't' })
    );
    assert_eq!(
        missing("v=0\no=x\ns=-\nt=0 0\n"),
        Err(SdpError::MissingLine { kind: 'c' })
    );
    assert_eq!(
        missing("v=0\no=x\ns=-\nt=0 0\nm=a 1 P\nc=IN IP4 h\nm=b 2 P\n"),
        Err(SdpError::MissingLine { kind: 'c' })
    );
    assert_eq!(
        missing("v=0\no=x\ns=-\nt=0 0\nm=a 1 P\nc=IN IP4 h\nm=b 2 P\nc=IN IP4 h\n"),
        Ok(())
    );
}

// ---------------------------------------------------------------------------
// No panic, whatever the input
// ---------------------------------------------------------------------------

/// Use every accessor of a parsed message and check what ties it to its input.
fn exercise(input: &[u8], m: &MsrpMessage) {
    assert_eq!([m.raw(), m.trailing()].concat(), input);
    assert!(m.raw().ends_with(m.end_line()));
    assert!(m.end_line().starts_with(b"-------"));
    let _ = (
        m.tid(),
        m.start().to_string(),
        m.method(),
        m.status(),
        m.phrase(),
    );
    let _ = (m.to_path(), m.from_path(), m.message_id(), m.byte_range());
    let _ = (m.success_report(), m.failure_report(), m.status_header());
    let _ = (
        m.content_type(),
        m.has_body(),
        m.flag(),
        m.summary(),
        m.check(),
    );
    for (name, _) in m.headers() {
        assert!(m.header(name).is_some());
    }
    for url in m.to_path().iter().chain(&m.from_path()) {
        if let Some(u) = MsrpUrl::parse(url) {
            let _ = u.socket_addr();
        }
    }
    if let Some(Ok(range)) = m.byte_range() {
        let _ = (range.to_header(), range.declared_len());
        assert_eq!(ByteRange::parse(&range.to_header()), Some(range));
    }
    let mut r = Reassembly::new();
    if r.push(m).is_ok() {
        let _ = (r.is_complete(), r.bytes(), r.received(), r.gaps());
    }
    let _ = response_to(m, 200, "OK", "msrp://h:1/s;tcp");
}

fn check_msrp(input: &[u8]) {
    match MsrpMessage::parse(input) {
        Ok(m) => exercise(input, &m),
        Err(e) => {
            one_line(&e);
        }
    }
    for max in [1, 64, MAX] {
        match next_frame(input, max) {
            Ok(Some(n)) => {
                assert!(n > 0 && n <= input.len() && n <= max);
                let m = MsrpMessage::parse(&input[..n]).expect("a framed message parses");
                assert!(m.trailing().is_empty());
            }
            Ok(None) => {}
            Err(e) => {
                one_line(&e);
            }
        }
    }
}

fn check_sdp(input: &[u8]) {
    match Sdp::parse(input) {
        Ok(s) => {
            let _ = (s.check(), s.connection_address(), s.attribute("path"));
            for m in s.media() {
                let _ = (m.msrp_path(), m.accept_types(), m.setup(), m.attr("x"));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"MSRP ",
    b"MSRP t1t1 SEND\r\n",
    b"MSRP t1t1 200 OK\r\n",
    b"t1t1",
    b"-------",
    b"-------t1t1$\r\n",
    b"-------t1t1+",
    b"-------t1t1#\n",
    b"-------t2t2$\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b" ",
    b":",
    b"$",
    b"+",
    b"#",
    b"*",
    b"/",
    b"-",
    b"To-Path: msrp://h:1/s;tcp",
    b"Byte-Range: ",
    b"1-10/10",
    b"1-*/*",
    b"Status: 000 200 OK",
    b"Message-ID: m1",
    b"Content-Type: text/plain",
    b"18446744073709551615",
    b"0",
    b"7",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"v=0\r\n",
    b"m=message 2855 TCP/MSRP *\r\n",
    b"a=path:",
    b"c=IN IP6 ::1\r\n",
];

#[test]
fn no_panic_on_random_input() {
    let _cpu = crate::common::low_priority();
    let mut rng = XorShift(0x4d53_5250_1ea1_d00d);
    for _ in 0..200_000 {
        let mut input = Vec::new();
        let structured = rng.below(4) != 0;
        let len = rng.below(if structured { 24 } else { 200 });
        for _ in 0..len {
            if structured {
                input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            } else {
                input.push(rng.next() as u8);
            }
        }
        check_msrp(&input);
        check_sdp(&input);
    }
}

#[test]
fn no_panic_on_mutated_vectors() {
    let _cpu = crate::common::low_priority();
    let replacements = [
        0x00, 0xff, b'\r', b'\n', b' ', b':', b'-', b'$', b'+', b'#', b'*', b'/', b'9', b'=',
    ];
    let mut rng = XorShift(0x0bad_cafe_f00d_4975);
    let all: Vec<(String, Vec<u8>, bool)> = msrp_vectors()
        .into_iter()
        .map(|(n, b)| (n, b, true))
        .chain(sdp_vectors().into_iter().map(|(n, b)| (n, b, false)))
        .collect();
    for (name, bytes, is_msrp) in all {
        let check = |b: &[u8]| {
            if is_msrp {
                check_msrp(b);
            } else {
                check_sdp(b);
            }
        };
        // Truncation at every position, from either end.
        for cut in 0..=bytes.len() {
            check(&bytes[..cut]);
            check(&bytes[cut..]);
        }
        // Every byte replaced by each interesting value, and flipped.
        for pos in 0..bytes.len() {
            let mut m = bytes.clone();
            for &r in &replacements {
                m[pos] = r;
                check(&m);
            }
            m[pos] = bytes[pos] ^ 0xff;
            check(&m);
        }
        // Random multi-byte mutations, insertions and deletions.
        for _ in 0..1_000 {
            let mut m = bytes.clone();
            for _ in 0..=rng.below(8) {
                let pos = rng.below(m.len() + 1);
                match rng.below(3) {
                    0 if pos < m.len() => m[pos] = rng.next() as u8,
                    1 => m.insert(pos, replacements[rng.below(replacements.len())]),
                    _ if pos < m.len() => {
                        m.remove(pos);
                    }
                    _ => {}
                }
            }
            check(&m);
        }
        // Two vectors back to back, cut anywhere, through the framer.
        if is_msrp {
            let twice = [bytes.as_slice(), &bytes].concat();
            for cut in (0..=twice.len()).step_by(3) {
                check_msrp(&twice[..cut]);
            }
        }
        let _ = name;
    }
}
