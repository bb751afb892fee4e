//! MMS encapsulation decoder (src/codec/mms): any input gives a PDU or a precise
//! error whose offset lies within the input; a PDU encodes back to its input
//! (`encode(parse(x)) == x`) and its canonical form reads back to the same
//! headers and body.

#![no_main]

use liaison::codec::mms::{Address, MmsError, Pdu};
use libfuzzer_sys::fuzz_target;

/// The offset an error names, if it names one.
fn offset(e: &MmsError) -> Option<usize> {
    match e {
        MmsError::Truncated { at, .. }
        | MmsError::BadValueLength { at, .. }
        | MmsError::UintvarOverflow { at, .. }
        | MmsError::BadValue { at, .. }
        | MmsError::UnknownMessageType { at, .. }
        | MmsError::BadCharset { at, .. }
        | MmsError::HeaderOrder { at, .. }
        | MmsError::BadMultipart { at, .. } => Some(*at),
        MmsError::Empty | MmsError::MissingMessageType | MmsError::BadAddress { .. } => None,
    }
}

fn check_error(e: &MmsError, len: usize) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "multi-line error: {text}");
    if let Some(at) = offset(e) {
        assert!(
            at <= len,
            "error offset {at} beyond the {len}-byte input: {text}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match Pdu::parse(data) {
        Ok(p) => {
            assert_eq!(p.raw(), data);
            assert_eq!(p.encode(), data, "encode(parse(x)) == x");
            for v in p.order_violations() {
                check_error(v, data.len());
            }
            let canon = p.encode_canonical();
            let back = Pdu::parse(&canon).unwrap_or_else(|e| panic!("canonical form fails: {e}"));
            assert_eq!(
                back, p,
                "canonical form reads back to the same headers and body"
            );
            assert_eq!(back.encode_canonical(), canon, "canonical form is stable");
            // The views a failure message or a step uses.
            let _ = (p.summary(), p.view(), p.parts().len());
            for e in p.to().into_iter().chain(p.cc()).chain(p.bcc()) {
                let _ = Address::parse(&e.text);
            }
            if let Some(f) = p.from().and_then(|f| f.address()) {
                let _ = Address::parse(&f.text);
            }
        }
        Err(e) => check_error(&e, data.len()),
    }
});
