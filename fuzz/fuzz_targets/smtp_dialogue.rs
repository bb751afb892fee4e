//! SMTP dialogue (structure-aware): the harness's SMTP server and client
//! reading arbitrary bytes from their peer.
//!
//! First byte even — the server (`roles::smtp_server::Session`, the MM3
//! receiver): the rest is the client's byte stream, delivered in pieces cut
//! at the positions the following bytes say, framed exactly as the server's
//! connection does (command lines by `smtp::next_line` within the line
//! limit, after a 354 the content by `smtp::next_data` within the message
//! limit, both scaled down here so that the limits are reached), each frame
//! fed to the session; a refused frame ends the connection as it does
//! there. Properties: every answer is one well-formed reply
//! (`smtp::next_reply` frames all of it, `Reply::parse` reads it); DATA
//! mode starts only with a 354 and ends with a 250; a completed mail
//! transaction has at least one and at most `MAX_RECIPIENTS` recipients and
//! its message is the unstuffed content; the session never keeps more than
//! `MAX_RECIPIENTS` recipients or `MAX_DIALOGUE` lines, nor gives more than
//! `MAX_NOTES` + 1 notes.
//!
//! First byte odd — the client (`roles::smtp_client`) reading the server's
//! replies: the rest framed by `smtp::next_reply` as its connection does,
//! each reply parsed and read for EHLO keywords and SIZE. Properties:
//! frames within the buffer and the limit; a parsed reply's code is
//! three digits (100..=999) and its raw bytes are the frame.

#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use liaison::codec::smtp::{self, Reply};
use liaison::roles::smtp_server::{Session, MAX_DIALOGUE, MAX_NOTES, MAX_RECIPIENTS};
use libfuzzer_sys::fuzz_target;

/// The frame limits, scaled down from the server's 4096-byte line and
/// 4 MiB message so that fuzz inputs reach them.
const LINE: usize = 512;
const CONTENT: usize = 2048;
const REPLY: usize = 1024;

fn one_reply(bytes: &[u8]) -> Reply {
    assert_eq!(smtp::next_reply(bytes, 1 << 16).unwrap(), Some(bytes.len()));
    Reply::parse(bytes).expect("the server's reply parses")
}

fn server(stream: &[u8]) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut s = Session::new(peer);
    assert_eq!(one_reply(&Session::greeting()).code, 220);
    let t = Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    let mut notes = 0;
    // Delivered in pieces of 1..=64 bytes, sized by the stream itself.
    let mut at = 0;
    while at < stream.len() {
        let n = 1 + usize::from(stream[at] % 64);
        buf.extend_from_slice(&stream[at..(at + n).min(stream.len())]);
        at += n;
        loop {
            let in_data = s.in_data();
            let framed = if in_data {
                smtp::next_data(&buf, CONTENT)
            } else {
                smtp::next_line(&buf, LINE)
            };
            let out = match framed {
                Ok(Some(len)) => {
                    assert!(len > 0 && len <= buf.len());
                    let frame: Vec<u8> = buf.drain(..len).collect();
                    let out = s.frame(frame.clone(), t);
                    if in_data {
                        let r = out.received.as_ref().expect("content ends a transaction");
                        assert!(!r.rcpt_to.is_empty() && r.rcpt_to.len() <= MAX_RECIPIENTS);
                        assert_eq!(r.data, frame);
                        assert_eq!(r.message, smtp::dot_unstuff(&frame));
                        assert_eq!(one_reply(out.reply.as_deref().unwrap()).code, 250);
                    } else {
                        assert!(out.received.is_none());
                    }
                    out
                }
                Ok(None) => break,
                Err(e) => {
                    let out = s.garbage(&buf, &e.to_string());
                    assert!(out.close);
                    out
                }
            };
            let code = one_reply(out.reply.as_deref().expect("every frame is answered")).code;
            assert_eq!(out.data_mode, code == 354);
            assert_eq!(s.in_data(), code == 354);
            notes += out.notes.len();
            assert!(notes <= MAX_NOTES + 1);
            assert!(s.recipients().len() <= MAX_RECIPIENTS);
            assert!(s.dialogue().len() <= MAX_DIALOGUE);
            if out.close {
                return;
            }
        }
    }
}

fn client(stream: &[u8]) {
    let mut at = 0;
    while at < stream.len() {
        match smtp::next_reply(&stream[at..], REPLY) {
            Ok(Some(n)) => {
                assert!(n > 0 && n <= stream.len() - at && n <= REPLY);
                let frame = &stream[at..at + n];
                if let Ok(r) = Reply::parse(frame) {
                    assert!((100..=999).contains(&r.code), "{}", r.code);
                    assert_eq!(r.raw(), frame);
                    let _ = (r.ehlo_keywords(), r.ehlo_size(), r.describe());
                    let _ = (r.positive(), r.intermediate(), r.negative());
                }
                at += n;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((k, rest)) if k % 2 == 0 => server(rest),
        Some((_, rest)) => client(rest),
        None => {}
    }
});
