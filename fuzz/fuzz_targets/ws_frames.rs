//! WebSocket frames, messages and the opening handshake (src/codec/ws): any
//! input gives a value or an error, never a panic or a hang.
//!
//! The first octet picks the sender (bit 0: client when set) and the payload
//! limit (64 + 32 × the other seven bits); the rest is a byte stream cut into
//! frames by `read_frame`. Checked on the way: a frame takes 1..=the
//! buffer's bytes, exactly its header (2, + 2 or 8 length bytes, + 4 mask
//! bytes) and payload, within the limit, and encodes back to the bytes it was
//! read from (`Frame::to_bytes`); one byte less needs more; `decode` is
//! `read_frame` then `Frame::check`; a length over the limit is refused from
//! the header alone; the assembler never holds more than its limit and a Close
//! it yields has a code that may be sent. The same bytes go to the handshake
//! readers: a request they accept has a 16-byte key, and the acceptance built
//! for it reads back with the subprotocol chosen. A frame encoded from a spec
//! drawn from the input reads back to that spec and payload; base64 round trips.

#![no_main]

use liaison::codec::ws::{
    accept_response, base64_decode, base64_encode, close_code_problem, decode, read_frame,
    read_request, read_response, response_status, Assembler, FrameError, FrameSpec, LengthForm,
    Message, Opcode, Side,
};
use libfuzzer_sys::fuzz_target;

fn header_len(buf: &[u8]) -> usize {
    let ext = match buf[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + if buf[1] & 0x80 != 0 { 4 } else { 0 }
}

fn frames(data: &[u8]) {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let from = if first & 1 != 0 {
        Side::Client
    } else {
        Side::Server
    };
    let max = 64 + usize::from(first >> 1) * 32;
    let mut asm = Assembler::new(max);
    let mut buf = stream;
    loop {
        match read_frame(buf, max) {
            Ok(Some((f, n))) => {
                assert!(n > 0 && n <= buf.len(), "frame of {n} bytes");
                assert!(f.payload.len() <= max);
                assert_eq!(n, header_len(buf) + f.payload.len());
                assert_eq!(f.to_bytes(), &buf[..n], "encode(read(x)) != x");
                assert_eq!(
                    read_frame(&buf[..n - 1], max),
                    Ok(None),
                    "a cut frame read whole"
                );
                let checked = f.check(from);
                match (decode(buf, from, max), &checked) {
                    (Ok(Some((g, m))), Ok(())) => assert!(g == f && m == n),
                    (Err(e), Err(c)) => assert_eq!(&e, c),
                    (d, c) => panic!("decode {d:?} but check {c:?}"),
                }
                if checked.is_ok() {
                    match asm.push(&f) {
                        Ok(Some(Message::Close(Some(c)))) => {
                            assert_eq!(close_code_problem(c.code), None)
                        }
                        Ok(_) => {}
                        Err(e) => assert!(!e.to_string().contains('\n')),
                    }
                    assert!(asm.pending() <= max);
                }
                buf = &buf[n..];
            }
            Ok(None) => break,
            Err(e) => {
                if let FrameError::TooLong { length, limit } = e {
                    assert!(length > limit as u64 && limit == max);
                }
                assert!(!e.to_string().contains('\n'));
                break;
            }
        }
    }
}

fn handshake(data: &[u8]) {
    match read_request(data) {
        Ok(r) => {
            assert_eq!(base64_decode(&r.key).map(|k| k.len()), Some(16));
            let chosen = r.protocols.first().map(String::as_str);
            let offered: Vec<&str> = r.protocols.iter().map(String::as_str).collect();
            let ok = accept_response(&r.key, chosen);
            let a = read_response(&ok, &r.key, &offered)
                .unwrap_or_else(|e| panic!("own acceptance refused: {e}"));
            assert_eq!(a.protocol.as_deref(), chosen);
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    match read_response(data, key, &["sip", "msrp"]) {
        Ok(a) => {
            assert_eq!(response_status(data).map(|s| s.0), Some(101));
            assert!(a.protocol.is_none() || matches!(a.protocol.as_deref(), Some("sip" | "msrp")));
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
}

/// A spec from the input's first bytes, the rest as payload: encoded and
/// read back, it is the same frame (when the form can hold the length).
fn spec_round_trip(data: &[u8]) {
    let [a, b, k0, k1, k2, k3, payload @ ..] = data else {
        return;
    };
    let form = match b & 3 {
        0 => LengthForm::Minimal,
        1 => LengthForm::Short,
        2 => LengthForm::U16,
        _ => LengthForm::U64,
    };
    let len = payload.len() as u64;
    let fits = match form {
        LengthForm::Short => len <= 125,
        LengthForm::U16 => len <= 0xffff,
        _ => true,
    };
    let spec = FrameSpec::new(Opcode::from_code(*a))
        .fin(a & 0x80 != 0)
        .rsv((a >> 4) & 7)
        .mask((b & 4 != 0).then_some([*k0, *k1, *k2, *k3]))
        .form(form);
    if !fits {
        return;
    }
    let bytes = spec.encode(payload);
    let (f, n) = read_frame(&bytes, usize::MAX)
        .unwrap_or_else(|e| panic!("own frame refused: {e}"))
        .expect("own frame is whole");
    assert_eq!(n, bytes.len());
    assert_eq!(f.payload, payload);
    let want = match form {
        LengthForm::Minimal => LengthForm::minimal_for(len),
        f => f,
    };
    assert_eq!(f.spec(), spec.form(want));
}

fuzz_target!(|data: &[u8]| {
    frames(data);
    handshake(data);
    spec_round_trip(data);
    assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
});
