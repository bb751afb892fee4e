//! The push path through the codecs, as a PPG scenario judges it (criterion):
//! `cargo bench --bench push_path` in benches/.
//!
//! Per push: an M-Notification.ind built and encoded (MMS), wrapped in a WSP
//! push PDU, split into WDP-over-SMS segments (UDH ports + concatenation),
//! each carried in an encoded and re-parsed submit_sm, reassembled, the WSP
//! PDU parsed and the notification decoded again (every 4th push has a
//! 300-octet subject and needs segmentation). Plus one PAP submission
//! (multipart/related in an HTTP request) built, framed and parsed.
//! Pushes/s and submissions/s (elements/s); the PAP request's size is in
//! its name (MB/s = submissions/s × size).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liaison::codec::http::{self, HttpMessage};
use liaison::codec::mms::{Address, Pdu as MmsPdu, PduBuilder, TimeValue};
use liaison::codec::pap::{self, PushMessage};
use liaison::codec::smpp::{submit_sm, udh_split, Pdu, Sm};
use liaison::codec::wdp::Reassembler;
use liaison::codec::wsp::{self, AppId, ContentType, PushPdu};
use std::hint::black_box;

/// One push through the path; the short messages it took.
fn push(i: u32, r: &mut Reassembler) -> usize {
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
    let body = if i.is_multiple_of(4) {
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
    let mut segments = 0;
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
    if !i.is_multiple_of(4) {
        let n = MmsPdu::parse(&push.body).expect("notification");
        assert_eq!(n.transaction_id(), Some(tid.as_str()));
    }
    segments
}

/// One PAP submission built, framed and parsed; its request's length.
fn pap_submission(i: u32) -> usize {
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
    assert!(matches!(doc, pap::PapMessage::PushMessage(_)));
    req.len()
}

fn push_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("push");
    // Four pushes per iteration: one segmented, three not, as in the mix.
    let mut r = Reassembler::new();
    let mut i = 0u32;
    let segments: usize = (0..4).map(|k| push(k, &mut r)).sum();
    g.throughput(Throughput::Elements(4));
    g.bench_function(
        format!("WSP/SMS push path, 4 pushes ({segments} short messages)"),
        |b| {
            b.iter(|| {
                let mut n = 0;
                for _ in 0..4 {
                    n += push(i, &mut r);
                    i = i.wrapping_add(1);
                }
                n
            })
        },
    );
    let bytes = pap_submission(1_000_000) as u64;
    g.throughput(Throughput::Elements(1));
    let mut i = 0u32;
    g.bench_function(
        format!("PAP submission build+frame+parse ({bytes} bytes)"),
        |b| {
            b.iter(|| {
                i = (i + 1) % 1_000_000 + 1_000_000;
                pap_submission(i)
            })
        },
    );
    g.finish();
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = push_path }
criterion_main!(benches);
