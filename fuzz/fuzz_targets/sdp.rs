//! SDP reader (src/codec/sdp): any input gives a session description or an
//! error, never a panic. A description keeps its text as received, its first
//! line is `v=`, and the views a scenario uses (media, attributes, the checks of
//! RFC 4566 §5) read without panicking.

#![no_main]

use liaison::codec::sdp::Sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Sdp::parse(data) {
        Ok(s) => {
            assert_eq!(s.raw().as_bytes(), data);
            assert_eq!(s.lines().first().map(|(k, _)| *k), Some('v'));
            assert!(s.lines().iter().all(|(k, _)| k.is_ascii_alphabetic()));
            for m in s.media() {
                let _ = (
                    m.msrp_path(),
                    m.accept_types(),
                    m.accept_wrapped_types(),
                    m.setup(),
                    m.attr("sendonly"),
                );
            }
            let _ = (
                s.session_value('o'),
                s.attribute("path"),
                s.connection_address(),
                s.check().map_err(|e| e.to_string()),
            );
            // The same lines, written with CRLF line ends, read the same.
            let crlf: String = s
                .lines()
                .iter()
                .map(|(k, v)| format!("{k}={v}\r\n"))
                .collect();
            let again = Sdp::parse(crlf.as_bytes())
                .unwrap_or_else(|e| panic!("the lines of a description do not parse: {e}"));
            assert_eq!(again.lines(), s.lines());
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
