//! WSP connectionless push decoder (src/codec/wsp): any input gives a push PDU
//! or an error whose offset lies within the input; a parsed PDU's canonical
//! encoding reads back to the same fields, and encoding is stable.

#![no_main]

use liaison::codec::wsp::{decode_uintvar, encode_uintvar, PushPdu, WspError};
use libfuzzer_sys::fuzz_target;

fn check_error(e: &WspError, len: usize) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "multi-line error: {text}");
    match e {
        WspError::Truncated { at, .. }
        | WspError::UintvarOverflow { at, .. }
        | WspError::BadValue { at, .. } => {
            assert!(
                *at <= len,
                "error offset {at} beyond the {len}-byte input: {text}"
            )
        }
        WspError::HeadersTooLong { available, .. } => assert!(*available <= len),
        WspError::Empty | WspError::NotPush { .. } => {}
    }
}

type Fields = (
    u8,
    u8,
    liaison::codec::wsp::ContentType,
    Vec<liaison::codec::wsp::WspHeader>,
    Vec<u8>,
);

fn fields(p: &PushPdu) -> Fields {
    (
        p.tid,
        p.pdu_type,
        p.content_type.clone(),
        p.headers.clone(),
        p.body.clone(),
    )
}

fuzz_target!(|data: &[u8]| {
    match PushPdu::parse(data) {
        Ok(p) => {
            assert_eq!(p.raw(), data);
            let _ = (
                p.application_id().map(|a| a.to_string()),
                p.content_length(),
                p.content_type.name(),
            );
            let canon = p.encode();
            let back = PushPdu::parse(&canon)
                .unwrap_or_else(|e| panic!("canonical encoding does not parse: {e}"));
            assert_eq!(fields(&back), fields(&p), "canonical encoding reads back");
            assert_eq!(back.encode(), canon, "canonical encoding is stable");
        }
        Err(e) => check_error(&e, data.len()),
    }
    // uintvar: decoding is the inverse of encoding, and never reads past the input.
    match decode_uintvar(data) {
        Ok((v, used)) => {
            assert!(used >= 1 && used <= data.len().min(5));
            assert_eq!(
                decode_uintvar(&encode_uintvar(v)),
                Ok((v, encode_uintvar(v).len()))
            );
        }
        Err(e) => check_error(&e, data.len()),
    }
});
