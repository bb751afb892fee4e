//! The push path through the codecs, as a PPG scenario judges it:
//! `cargo bench --bench push_path` (plain `fn main`, `harness = false`).
//!
//! Per push: an M-Notification.ind built and encoded (MMS), wrapped in a WSP
//! push PDU, split into WDP-over-SMS segments (UDH ports + concatenation),
//! each carried in an encoded and re-parsed submit_sm, reassembled, the WSP
//! PDU parsed and the notification decoded again; plus one PAP submission
//! (multipart/related in an HTTP request) framed and parsed. Prints pushes/s.

#![cfg_attr(test, allow(dead_code))]

use liaison::codec::http::{self, HttpMessage};
use liaison::codec::mms::{Address, Pdu as MmsPdu, PduBuilder, TimeValue};
use liaison::codec::pap::{self, PushMessage};
use liaison::codec::smpp::{submit_sm, udh_split, Pdu, Sm};
use liaison::codec::wdp::Reassembler;
use liaison::codec::wsp::{self, AppId, ContentType, PushPdu};
use std::hint::black_box;
use std::time::Instant;

const N: u32 = 100_000;

fn main() {
    let started = Instant::now();
    let mut segments = 0usize;
    let mut r = Reassembler::new();
    for i in 0..N {
        let tid = format!("T{i:08}");
        let notification = PduBuilder::notification_ind(
            &tid,
            &format!("http://mmsc.liaison.test/m/{i}"),
            2048,
            TimeValue::Relative(86_400),
        )
        .from(&Address::plmn("+15550000001"))
        .subject("liaison")
        .build()
        .encode();
        // Long enough (a 300-octet subject) to need segmentation every 4th push.
        let body = if i % 4 == 0 {
            [notification.as_slice(), &[b'x'; 300]].concat()
        } else {
            notification
        };
        let pdu = wsp::push_pdu(
            (i % 256) as u8,
            ContentType::WellKnown(0x3E),
            AppId::MMS_UA,
            &body,
        );
        let parts = udh_split(&pdu, Some((2948, 9200)), (i % 256) as u8).expect("fits");
        let mut done = None;
        for part in parts {
            segments += 1;
            let sm = Sm {
                destination_addr: "15551234567".into(),
                esm_class: 0x40,
                data_coding: 0x04,
                short_message: part,
                ..Sm::default()
            };
            let bytes = submit_sm(i, black_box(&sm));
            let parsed = Pdu::parse(&bytes).expect("parses");
            let sm = parsed.sm().expect("submit_sm");
            if let Some(d) = r
                .push(&sm.destination_addr, sm.payload(), sm.udhi())
                .expect("reassembles")
            {
                done = Some(d);
            }
        }
        let d = done.expect("complete datagram");
        let push = PushPdu::parse(&d.data).expect("WSP push");
        if i % 4 != 0 {
            let n = MmsPdu::parse(&push.body).expect("notification");
            assert_eq!(n.transaction_id(), Some(tid.as_str()));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "WSP/SMS push path: {N} pushes ({segments} short messages) in {secs:.3} s: {:.0} pushes/s, {:.0} ns/push",
        f64::from(N) / secs,
        secs * 1e9 / f64::from(N)
    );

    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..N {
        let xml = PushMessage {
            push_id: format!("liaison-{i}"),
            addresses: vec!["WAPPUSH=+15551234567/TYPE=PLMN@ppg.liaison.test".into()],
            ..Default::default()
        }
        .to_xml();
        let (ct, body) = pap::multipart_related(
            "b",
            &[
                ("application/xml", xml.as_bytes()),
                ("text/plain", b"hello"),
            ],
        );
        let req = http::request(
            "POST",
            "/wappush",
            "127.0.0.1:8080",
            &[("Content-Type", ct.as_str())],
            &body,
        );
        let len = http::next_frame(&req, 1 << 20)
            .expect("frames")
            .expect("whole");
        let m = HttpMessage::parse(&req[..len]).expect("parses");
        let parts =
            pap::parse_multipart(m.header("content-type").unwrap_or(""), &m.body).expect("parts");
        let doc = pap::PapMessage::parse(&parts[0].body).expect("PAP");
        bytes += req.len() + usize::from(matches!(doc, pap::PapMessage::PushMessage(_)));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "PAP submission build+frame+parse: {N} in {secs:.3} s: {:.0} submissions/s ({:.0} MB/s)",
        f64::from(N) / secs,
        bytes as f64 / secs / 1e6
    );
}
