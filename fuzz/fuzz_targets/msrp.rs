//! MSRP decoder, stream framing and chunk reassembly (src/codec/msrp): any input
//! gives a message or an error, never a panic or a hang.
//!
//! Checked on the way: a parsed message's raw bytes and trailing bytes tile the
//! input; `next_frame` cuts exactly what `parse` reads (the frame parses to the
//! same message, RFC 4975 §7.1 end-line framing), within the buffer and the
//! limit; Byte-Range values survive `to_header`; and `Reassembly::push` either
//! takes a whole chunk or, on error, changes nothing, and a complete message
//! holds every accepted chunk's bytes at its position.
//!
//! The input is a stream: frames are cut off its front and every SEND among them
//! goes to the reassembly of its Message-ID.

#![no_main]

use std::collections::BTreeMap;

use liaison::codec::msrp::{next_frame, ByteRange, MsrpMessage, MsrpUrl, Reassembly};
use libfuzzer_sys::fuzz_target;

fn views(m: &MsrpMessage) {
    let _ = (
        m.tid(),
        m.method(),
        m.status(),
        m.phrase(),
        m.message_id(),
        m.success_report(),
        m.failure_report(),
        m.status_header(),
        m.content_type(),
        m.summary(),
        m.start().to_string(),
        m.check(),
    );
    assert!(m.raw().ends_with(m.end_line()));
    for url in m.to_path().iter().chain(m.from_path().iter()) {
        if let Some(u) = MsrpUrl::parse(url) {
            let _ = u.socket_addr();
        }
    }
    if let Some(Ok(r)) = m.byte_range() {
        assert_eq!(
            ByteRange::parse(&r.to_header()),
            Some(r),
            "Byte-Range round trip"
        );
        let _ = r.declared_len();
    }
}

/// One reassembly per Message-ID, with the chunks each accepted.
#[derive(Default)]
struct Chunks {
    r: Reassembly,
    accepted: Vec<(u64, Vec<u8>)>,
}

fn push(all: &mut BTreeMap<Option<String>, Chunks>, m: &MsrpMessage) {
    let c = all.entry(m.message_id().map(str::to_string)).or_default();
    let before = format!("{:?}", c.r);
    let chunks = c.r.chunks();
    match c.r.push(m) {
        Ok(()) => {
            assert_eq!(c.r.chunks(), chunks + 1);
            let start = match m.byte_range() {
                Some(Ok(r)) => r.start,
                _ => 1,
            };
            c.accepted.push((start, m.body().to_vec()));
        }
        Err(e) => {
            assert!(!e.to_string().contains('\n'));
            assert_eq!(
                format!("{:?}", c.r),
                before,
                "a refused chunk changed the state"
            );
        }
    }
    if let Some(t) = c.r.total() {
        assert!(c.r.received() <= t, "more bytes received than the total");
    }
    let gaps = c.r.gaps();
    match c.r.bytes() {
        Some(whole) => {
            assert!(c.r.is_complete() && !c.r.is_aborted());
            assert_eq!(Some(whole.len() as u64), c.r.total());
            assert!(gaps.is_empty(), "complete with gaps {gaps:?}");
            for (start, body) in &c.accepted {
                let at = usize::try_from(*start - 1).unwrap();
                assert_eq!(&whole[at..at + body.len()], body.as_slice());
            }
        }
        None => assert!(!c.r.is_complete()),
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = MsrpMessage::parse(data);
    match &whole {
        Ok(m) => {
            assert_eq!([m.raw(), m.trailing()].concat(), data);
            assert!(m.raw().len() >= m.body().len());
            views(m);
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
    // parse and unbounded framing agree on the first message.
    match (next_frame(data, usize::MAX), &whole) {
        (Ok(Some(n)), Ok(m)) => assert_eq!(n, m.raw().len()),
        (Ok(Some(n)), Err(e)) => panic!("next_frame cut {n} bytes, parse says {e}"),
        (_, Ok(m)) => panic!("parse read {} bytes, next_frame did not", m.raw().len()),
        _ => {}
    }

    // The stream, with a limit of 64..4144 bytes from the first octet.
    let max_len = 64 + usize::from(data.first().copied().unwrap_or(0)) * 16;
    let mut all = BTreeMap::new();
    let mut buf = data;
    loop {
        match next_frame(buf, max_len) {
            Ok(Some(n)) => {
                assert!(n > 0 && n <= buf.len() && n <= max_len, "frame {n}");
                let m = MsrpMessage::parse(&buf[..n])
                    .unwrap_or_else(|e| panic!("a frame next_frame cut does not parse: {e}"));
                assert_eq!(m.raw(), &buf[..n]);
                if m.method() == Some("SEND") {
                    push(&mut all, &m);
                }
                buf = &buf[n..];
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                break;
            }
        }
    }
});
