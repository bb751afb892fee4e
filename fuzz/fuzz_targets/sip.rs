//! SIP decoder and TCP framing (src/codec/sip): any input gives a message or an
//! error, never a panic or a hang. A parsed message's parts tile the input
//! (leading CRLFs, raw, trailing); `next_frame` cuts frames within the buffer and
//! within `max_len`, always makes progress, and each frame it cuts parses to a
//! message of exactly those bytes.
//!
//! `SipMessage::typed` (rsip) is not called: it relies on `catch_unwind`, which
//! libFuzzer's abort-on-panic hook defeats, and rsip is not our decoder.

#![no_main]

use liaison::codec::sip::{
    check_request_uri, header_param, next_frame, parse_name_addr, parse_via, uri_of, uri_user_host,
    Frame, SipMessage,
};
use libfuzzer_sys::fuzz_target;

fn views(m: &SipMessage) {
    let _ = (
        m.method(),
        m.request_uri(),
        m.status(),
        m.reason(),
        m.call_id(),
        m.cseq(),
        m.content_type(),
        m.content_length(),
        m.vias(),
        m.top_via_branch(),
        m.from_tag(),
        m.to_tag(),
        m.summary(),
        m.header_values("Accept-Contact"),
        m.start_line().to_string(),
        m.via_list().map_err(|e| e.to_string()),
        m.from_addr(),
        m.to_addr(),
        m.request_uri_checked(),
        m.defect(),
    );
    for h in m.headers() {
        let _ = (header_param(&h.value, "tag"), uri_of(&h.value));
        let _ = (
            parse_via(&h.value),
            parse_name_addr(&h.value),
            check_request_uri(&h.value),
        );
        if let Some(uri) = uri_of(&h.value) {
            let _ = uri_user_host(&uri);
        }
    }
    if let Some(uri) = m.request_uri() {
        let _ = uri_user_host(uri);
    }
}

fuzz_target!(|data: &[u8]| {
    match SipMessage::parse(data) {
        Ok(m) => {
            let (lead, raw, trail) = (m.leading_crlf(), m.raw(), m.trailing());
            assert_eq!(lead + raw.len() + trail.len(), data.len());
            assert_eq!(&data[lead..lead + raw.len()], raw);
            assert_eq!(&data[lead + raw.len()..], trail);
            assert!(raw.starts_with(m.head()));
            assert!(raw.ends_with(m.body()));
            assert_eq!(m.head().len() + m.body().len(), raw.len());
            views(&m);
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }

    // A stream: cut frames off the front until more bytes are needed.
    let max_len = 64 + usize::from(data.first().copied().unwrap_or(0)) * 16;
    let mut buf = data;
    loop {
        match next_frame(buf, max_len) {
            Ok(Some(Frame::KeepAlive(n))) => {
                assert!(
                    n > 0 && n <= buf.len(),
                    "keep-alive of {n} in {}",
                    buf.len()
                );
                buf = &buf[n..];
            }
            Ok(Some(Frame::Message(n))) => {
                assert!(n > 0 && n <= buf.len() && n <= max_len, "frame {n}");
                let m = SipMessage::parse(&buf[..n])
                    .unwrap_or_else(|e| panic!("a frame next_frame cut does not parse: {e}"));
                assert_eq!(m.raw(), &buf[..n], "the frame is one whole message");
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
