//! SMPP 3.4 decoder and stream framing (src/codec/smpp): any input gives a PDU
//! or an error, never a panic or a hang. Every PDU `parse` accepts encodes back
//! to its input byte for byte (the module's promise); `next_frame` cuts frames
//! of 16..=max_len bytes within the buffer, and a frame is never refused by
//! `parse` for its length; user data headers and receipt texts read without
//! panicking, and a parsed UDH lies within its short message.

#![no_main]

use liaison::codec::smpp::{hex_dump, next_frame, udh_parse, Pdu, Receipt, SmppError, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fn check_pdu(p: &Pdu, bytes: &[u8]) {
    assert_eq!(p.raw(), bytes);
    assert_eq!(p.encode(), bytes, "encode(parse(x)) == x");
    assert_eq!(p.header.command_length as usize, bytes.len());
    let _ = (p.summary(), p.name());
    if let Some(sm) = p.sm() {
        let _ = (sm.receipted_message_id(), sm.message_state(), sm.receipt());
        if sm.udhi() {
            if let Ok((ies, rest)) = udh_parse(&sm.short_message) {
                let udh: usize = ies.iter().map(|(_, d)| 2 + d.len()).sum();
                assert_eq!(1 + udh + rest.len(), sm.short_message.len());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match Pdu::parse(data) {
        Ok(p) => check_pdu(&p, data),
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
    if let Some(r) = Receipt::parse(data) {
        let _ = (r.format(), r.state());
    }
    if let Err(e) = udh_parse(data) {
        assert!(!e.to_string().contains('\n'));
    }
    let _ = hex_dump(data.get(..64).unwrap_or(data));

    // A stream, with a limit of 16..=4096 from the first octet.
    let max_len = 16 + u32::from(data.first().copied().unwrap_or(0)) * 16;
    let mut buf = data;
    loop {
        match next_frame(buf, max_len) {
            Ok(Some(n)) => {
                assert!(n >= HEADER_LEN && n <= buf.len() && n <= max_len as usize);
                match Pdu::parse(&buf[..n]) {
                    Ok(p) => check_pdu(&p, &buf[..n]),
                    Err(e @ SmppError::BadLength { .. }) => {
                        panic!("a frame next_frame cut is refused for its length: {e}")
                    }
                    Err(SmppError::Short { need, got }) if got != n => {
                        panic!("parse of a {n}-byte frame: need {need}, got {got}")
                    }
                    Err(_) => {}
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
