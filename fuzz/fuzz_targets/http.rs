//! HTTP/1.1 reader and framing (src/codec/http): any input gives a message or an
//! error, never a panic or a hang. A message `parse` accepts is one whole frame
//! for `next_frame` and reads the same at close; every frame `next_frame` cuts
//! lies within the buffer and the limit and parses; a body that is not chunked
//! is the raw bytes after the head.

#![no_main]

use liaison::codec::http::{next_frame, HttpError, HttpMessage};
use libfuzzer_sys::fuzz_target;

fn views(m: &HttpMessage) {
    let _ = (
        m.status(),
        m.method(),
        m.target(),
        m.head_text(),
        m.header("content-type"),
        m.headers_named("via").count(),
    );
    if m.chunked {
        assert!(m.body.len() <= m.raw().len());
    } else {
        assert!(m.raw().ends_with(&m.body));
    }
}

fn check_error(e: &HttpError, len: usize) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "multi-line error: {text}");
    if let HttpError::BadChunk { at, .. } = e {
        assert!(*at <= len, "chunk offset {at} beyond the {len}-byte input");
    }
}

fuzz_target!(|data: &[u8]| {
    match HttpMessage::parse(data) {
        Ok(m) => {
            assert_eq!(m.raw(), data);
            views(&m);
            let closed = HttpMessage::parse_at_close(data)
                .unwrap_or_else(|e| panic!("parse accepts, parse_at_close says {e}"));
            assert_eq!(closed, m);
            if data.len() <= 64 * 1024 {
                assert_eq!(next_frame(data, data.len()), Ok(Some(data.len())));
            }
        }
        Err(e) => check_error(&e, data.len()),
    }
    match HttpMessage::parse_at_close(data) {
        Ok(m) => {
            assert_eq!(m.raw(), data);
            views(&m);
        }
        Err(e) => check_error(&e, data.len()),
    }

    // A stream, with a limit of 64..4144 bytes from the first octet.
    let max = 64 + usize::from(data.first().copied().unwrap_or(0)) * 16;
    let mut buf = data;
    loop {
        match next_frame(buf, max) {
            Ok(Some(n)) => {
                assert!(n > 0 && n <= buf.len() && n <= max, "frame {n}");
                let m = HttpMessage::parse(&buf[..n])
                    .unwrap_or_else(|e| panic!("a frame next_frame cut does not parse: {e}"));
                views(&m);
                buf = &buf[n..];
            }
            Ok(None) => break,
            Err(e) => {
                check_error(&e, buf.len());
                break;
            }
        }
    }
});
