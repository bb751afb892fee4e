//! Unit tests: builders (with snapshots), round trips, order rules, errors, and
//! the no-panic loop.

use super::*;
use crate::codec::smpp::hex_dump;

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The snapshot text of a built PDU: summary, decoded view, hex dump. Checks on
/// the way that it parses back to the same headers and body with no order
/// violation, and that encode(parse(x)) == x.
fn snapshot_text(pdu: &Pdu) -> String {
    let bytes = pdu.raw();
    let back = Pdu::parse(bytes).expect("built PDU parses");
    assert_eq!(back.headers, pdu.headers, "headers survive the round trip");
    assert_eq!(back.body, pdu.body, "body survives the round trip");
    assert_eq!(back.encode(), bytes, "encode(parse(built)) == built");
    assert!(
        back.order_violations().is_empty(),
        "{:?}",
        back.order_violations()
    );
    format!("{}\n{}\n{}", back.summary(), back.view(), hex_dump(bytes))
}

/// `insta::assert_snapshot!` with the snapshot kept beside the other codecs'
/// snapshots in `src/codec/snapshots/` (names `liaison__codec__mms__tests__*`).
macro_rules! snap {
    ($name:expr_2021, $text:expr_2021) => {
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

fn notification() -> Pdu {
    PduBuilder::notification_ind(
        "tid-0001",
        "http://mmsc.example/mms/0001",
        2048,
        TimeValue::Relative(86_400),
    )
    .from(&Address::plmn("+15551234567"))
    .subject("Hello")
    .build()
}

#[test]
fn notification_ind_bytes_and_fields() {
    let pdu = notification();
    let b = pdu.raw();
    // Message-Type, Transaction-ID, Version first, in that order.
    assert_eq!(&b[..3], &[0x8C, 0x82, 0x98]);
    assert_eq!(&b[3..12], b"tid-0001\0");
    assert_eq!(&b[12..14], &[0x8D, 0x93]);
    // Class Personal, size as Long-integer, relative expiry.
    assert_eq!(&b[14..16], &[0x8A, 0x80]);
    assert_eq!(&b[16..20], &[0x8E, 0x02, 0x08, 0x00]);
    assert_eq!(&b[20..27], &[0x88, 0x05, 0x81, 0x03, 0x01, 0x51, 0x80]);
    let back = Pdu::parse(b).unwrap();
    assert_eq!(back.message_type(), Some(MessageType::NOTIFICATION_IND));
    assert_eq!(back.transaction_id(), Some("tid-0001"));
    assert_eq!(back.version(), Some(Version::V1_3));
    assert_eq!(back.message_class(), Some(&MessageClass::Personal));
    assert_eq!(back.message_size(), Some(2048));
    assert_eq!(back.expiry(), Some(TimeValue::Relative(86_400)));
    assert_eq!(
        back.content_location(),
        Some("http://mmsc.example/mms/0001")
    );
    let from = back.from().and_then(FromValue::address).unwrap();
    assert_eq!(
        Address::parse(&from.text).unwrap(),
        Address::plmn("+15551234567")
    );
    assert_eq!(back.subject().unwrap().text, "Hello");
    assert!(back.body.is_none());
}

#[test]
fn build_notification_ind() {
    snap!("notification_ind", snapshot_text(&notification()));
}

#[test]
fn build_notification_ind_applic_id_sip_uri() {
    // MMS 1.3: an application-addressed MM to a SIP URI recipient, the URI in
    // the escaped /TYPE= form.
    let pdu = PduBuilder::notification_ind(
        "tid-0002",
        "http://mmsc.example/mms/0002",
        300,
        TimeValue::Absolute(1_700_000_000),
    )
    .from(&Address::typed("SIP", "sip:alice@example.com;user=phone"))
    .message_class(MessageClass::Informational)
    .applic_id("MEM")
    .reply_applic_id("MEM-reply")
    .aux_applic_info("aux")
    .build();
    let b = pdu.raw();
    assert!(
        b.windows(5).any(|w| w == [0xB7, b'M', b'E', b'M', 0]),
        "Applic-ID MEM as B7 4D 45 4D 00: {}",
        hex(b)
    );
    let back = Pdu::parse(b).unwrap();
    assert_eq!(back.applic_id(), Some("MEM"));
    assert_eq!(back.reply_applic_id(), Some("MEM-reply"));
    assert_eq!(back.aux_applic_info(), Some("aux"));
    let from = Address::parse(&back.from().unwrap().address().unwrap().text).unwrap();
    assert_eq!(from.value(), "sip:alice@example.com;user=phone");
    snap!("notification_ind_applic_id_sip", snapshot_text(&pdu));
}

#[test]
fn builder_orders_fixed_headers_whatever_the_call_order() {
    let pdu = PduBuilder::new(MessageType::NOTIFICATION_IND)
        .content_location("http://x.example/1")
        .version(Version::V1_2)
        .transaction_id("late")
        .build();
    assert_eq!(
        &pdu.raw()[..9],
        &[0x8C, 0x82, 0x98, b'l', b'a', b't', b'e', 0, 0x8D]
    );
    assert_eq!(pdu.raw()[9], 0x92);
    assert!(pdu.order_violations().is_empty());
}

fn smil_message() -> (ContentType, Body) {
    let smil = b"<smil><body><par><text src=\"cid:text.txt\"/></par></body></smil>";
    let parts = vec![
        Part::new(ContentType::named("application/smil"), smil)
            .with_content_id("<smil>")
            .with_content_location("smil.xml"),
        Part::text("Hello from liaison \u{2709}")
            .with_content_id("<text.txt>")
            .with_content_location("text.txt"),
    ];
    (
        ContentType::multipart_related("application/smil", "<smil>"),
        Body::Multipart(parts),
    )
}

#[test]
fn build_send_req() {
    let (ct, body) = smil_message();
    let pdu = PduBuilder::send_req("send-0001", FromValue::InsertAddress, ct, body)
        .to(&Address::plmn("+15551234567"))
        .to(&Address::email("bob@example.com"))
        .cc(&Address::typed("SIP", "sip:carol@example.com"))
        .subject("Grüße")
        .date(1_700_000_000)
        .delivery_report(true)
        .read_report(false)
        .priority(Priority::HIGH)
        .expiry(TimeValue::Relative(604_800))
        .build();
    let back = Pdu::parse(pdu.raw()).unwrap();
    assert_eq!(back.to().len(), 2);
    assert_eq!(back.cc().len(), 1);
    assert_eq!(back.from(), Some(&FromValue::InsertAddress));
    assert_eq!(back.subject().unwrap().charset, Some(value::CHARSET_UTF8));
    assert_eq!(back.subject().unwrap().text, "Grüße");
    assert_eq!(back.delivery_report(), Some(YesNo::YES));
    assert_eq!(back.read_report(), Some(YesNo::NO));
    assert_eq!(back.priority(), Some(Priority::HIGH));
    let ct = back.content_type().unwrap();
    assert_eq!(ct.start(), Some("<smil>"));
    assert_eq!(
        ct.root_type().and_then(MediaType::name),
        Some("application/smil")
    );
    assert_eq!(
        back.headers.last().and_then(Header::field),
        Some(Field::CONTENT_TYPE)
    );
    let parts = back.parts();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_id(), Some("<smil>"));
    assert_eq!(parts[1].content_location(), Some("text.txt"));
    assert_eq!(parts[1].content_type.charset(), Some(106));
    assert_eq!(parts[1].data, "Hello from liaison \u{2709}".as_bytes());
    snap!("send_req", snapshot_text(&pdu));
}

#[test]
fn build_send_conf() {
    let ok = PduBuilder::send_conf("send-0001", ResponseStatus::OK)
        .message_id("msg-0001@mmsc.example")
        .build();
    assert_eq!(
        Pdu::parse(ok.raw()).unwrap().response_status(),
        Some(ResponseStatus::OK)
    );
    snap!("send_conf_ok", snapshot_text(&ok));
    let unresolved = PduBuilder::send_conf(
        "send-0002",
        ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
    )
    .response_text("unknown recipient")
    .build();
    let back = Pdu::parse(unresolved.raw()).unwrap();
    assert_eq!(back.response_status().unwrap().class(), "permanent");
    assert_eq!(back.response_text().unwrap().text, "unknown recipient");
    snap!("send_conf_address_unresolved", snapshot_text(&unresolved));
}

#[test]
fn build_notify_resp_ind() {
    let pdu = PduBuilder::notify_resp_ind("tid-0001", Status::RETRIEVED)
        .report_allowed(true)
        .build();
    assert_eq!(
        pdu.raw(),
        b"\x8C\x83\x98tid-0001\0\x8D\x93\x95\x81\x91\x80".as_slice()
    );
    assert_eq!(
        Pdu::parse(pdu.raw()).unwrap().status(),
        Some(Status::RETRIEVED)
    );
    snap!("notify_resp_ind", snapshot_text(&pdu));
}

#[test]
fn build_retrieve_conf() {
    let (ct, body) = smil_message();
    let pdu = PduBuilder::retrieve_conf(1_700_000_100, ct, body)
        .transaction_id("tid-0001")
        .message_id("msg-0001@mmsc.example")
        .from(&Address::typed("SIP", "sip:alice@example.com;user=phone"))
        .to(&Address::plmn("+15551234567"))
        .subject("Hello")
        .message_class(MessageClass::Personal)
        .retrieve_status(RetrieveStatus::OK)
        .build();
    let back = Pdu::parse(pdu.raw()).unwrap();
    assert_eq!(back.date(), Some(1_700_000_100));
    assert_eq!(back.retrieve_status(), Some(RetrieveStatus::OK));
    assert_eq!(back.parts().len(), 2);
    snap!("retrieve_conf", snapshot_text(&pdu));
    // A single-part body (text/plain) is kept as its octets.
    let single = PduBuilder::retrieve_conf(
        1_700_000_200,
        ContentType::well_known(body::TEXT_PLAIN),
        Body::Single(b"just text".to_vec()),
    )
    .build();
    let back = Pdu::parse(single.raw()).unwrap();
    assert_eq!(back.body, Some(Body::Single(b"just text".to_vec())));
    snap!("retrieve_conf_single_part", snapshot_text(&single));
}

#[test]
fn build_acknowledge_ind() {
    let pdu = PduBuilder::acknowledge_ind("tid-0001")
        .report_allowed(false)
        .build();
    assert_eq!(
        pdu.raw(),
        b"\x8C\x85\x98tid-0001\0\x8D\x93\x91\x81".as_slice()
    );
    snap!("acknowledge_ind", snapshot_text(&pdu));
}

#[test]
fn build_delivery_ind() {
    let pdu = PduBuilder::delivery_ind(
        "msg-0001@mmsc.example",
        &Address::typed("SIP", "sip:bob@example.com"),
        1_700_000_300,
        Status::RETRIEVED,
    )
    .build();
    let b = pdu.raw();
    // No transaction id: the version follows the message type.
    assert_eq!(&b[..4], &[0x8C, 0x86, 0x8D, 0x93]);
    let back = Pdu::parse(b).unwrap();
    assert_eq!(back.transaction_id(), None);
    assert_eq!(back.message_id(), Some("msg-0001@mmsc.example"));
    assert_eq!(back.status(), Some(Status::RETRIEVED));
    assert_eq!(back.to()[0].text, "sip%3Abob%40example.com/TYPE=SIP");
    snap!("delivery_ind", snapshot_text(&pdu));
}

// ---------------------------------------------------------------------------
// Order rules
// ---------------------------------------------------------------------------

#[test]
fn decoding_records_order_violations_without_failing() {
    // Version before Transaction-ID, Message-Type not first.
    let bytes = b"\x8D\x93\x8C\x83\x98t\0\x95\x81";
    let pdu = Pdu::parse(bytes).expect("order does not fail decoding");
    assert_eq!(pdu.status(), Some(Status::RETRIEVED));
    let v = pdu.order_violations();
    assert!(
        v.iter().any(|e| matches!(
            e,
            MmsError::HeaderOrder {
                at: 0,
                field: "X-Mms-MMS-Version",
                ..
            }
        )),
        "{v:?}"
    );
    assert!(
        v.iter().any(|e| matches!(
            e,
            MmsError::HeaderOrder {
                at: 4,
                field: "X-Mms-Transaction-ID",
                ..
            }
        )),
        "{v:?}"
    );
    assert_eq!(pdu.encode(), bytes);
    for e in v {
        let s = e.to_string();
        assert!(s.contains("offset") && !s.contains('\n'), "{s}");
    }
    // A duplicated transaction id.
    let dup = Pdu::parse(b"\x8C\x85\x98a\0\x8D\x93\x98b\0").unwrap();
    assert!(dup.order_violations().iter().any(|e| matches!(
        e,
        MmsError::HeaderOrder {
            at: 7,
            rule: "this header may appear only once",
            ..
        }
    )));
    // Well-formed PDUs have none.
    assert!(Pdu::parse(notification().raw())
        .unwrap()
        .order_violations()
        .is_empty());
}

#[test]
fn new_refuses_headers_out_of_order() {
    let tid = Header::Text(Field::TRANSACTION_ID, "t".into());
    let mt = Header::MessageType(MessageType::ACKNOWLEDGE_IND);
    let v = Header::Version(Version::V1_2);
    assert!(Pdu::new(vec![mt.clone(), tid.clone(), v.clone()], None).is_ok());
    let e = Pdu::new(vec![mt.clone(), v.clone(), tid.clone()], None).unwrap_err();
    assert!(
        matches!(
            e,
            MmsError::HeaderOrder {
                at: 4,
                field: "X-Mms-Transaction-ID",
                ..
            }
        ),
        "{e}"
    );
    let e = Pdu::new(vec![tid.clone(), mt.clone(), v.clone()], None).unwrap_err();
    assert!(matches!(e, MmsError::HeaderOrder { at: 0, .. }), "{e}");
    // A body needs Content-Type last, and Content-Type last needs a body.
    let ct = Header::ContentType(ContentType::well_known(body::TEXT_PLAIN));
    let subject = Header::Encoded(Field::SUBJECT, EncodedString::plain("s"));
    let body = Some(Body::Single(b"x".to_vec()));
    assert!(Pdu::new(
        vec![mt.clone(), tid.clone(), v.clone(), ct.clone()],
        body.clone()
    )
    .is_ok());
    let e = Pdu::new(
        vec![mt.clone(), tid.clone(), v.clone(), ct.clone(), subject],
        body.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            MmsError::HeaderOrder {
                field: "Content-Type",
                ..
            }
        ),
        "{e}"
    );
    assert!(Pdu::new(vec![mt.clone(), tid.clone(), v.clone(), ct], None).is_err());
    assert_eq!(
        Pdu::new(vec![tid, v], None).unwrap_err(),
        MmsError::MissingMessageType
    );
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn precise_errors_with_offsets() {
    let cases: Vec<(&[u8], MmsError)> = vec![
        (b"", MmsError::Empty),
        (b"\x98abc\0", MmsError::MissingMessageType),
        (
            b"\x8C\xA0",
            MmsError::UnknownMessageType { at: 1, value: 0xA0 },
        ),
        (
            b"\x8C\x82\x98abc",
            MmsError::Truncated {
                what: "X-Mms-Transaction-ID",
                at: 3,
                need: 1,
            },
        ),
        (
            b"\x8C\x82\x88\x05\x81\x03",
            MmsError::BadValueLength {
                what: "X-Mms-Expiry",
                at: 3,
                declared: 5,
                available: 2,
            },
        ),
        (
            b"\x8C\x82\x8E",
            MmsError::Truncated {
                what: "X-Mms-Message-Size",
                at: 3,
                need: 1,
            },
        ),
        (
            b"\x8C\x82\x96\x1F\xFF\xFF\xFF\xFF\xFF\x01",
            MmsError::UintvarOverflow {
                what: "Subject",
                at: 4,
            },
        ),
        (
            b"\x8C\x82\x96\x04\xEA\xC3\x28\0",
            MmsError::BadCharset {
                what: "Subject",
                at: 3,
                charset: 106,
            },
        ),
        (
            b"\x8C\x82\x05",
            MmsError::BadValue {
                what: "header field name",
                at: 2,
                reason:
                    "octet 0x00..=0x1F is neither a well-known field (0x80 | code) nor a Token-text",
            },
        ),
        (
            b"\x8C\x80\x84\xA3\x05\x01",
            MmsError::BadMultipart {
                at: 4,
                part: 0,
                reason: "more entries declared than octets to hold them",
            },
        ),
        (
            b"\x8C\x80\x84\xA3\x01\x02\x05\x83\x8E",
            MmsError::Truncated {
                what: "part header",
                at: 9,
                need: 1,
            },
        ),
        (
            b"\x8C\x80\x84\xA3\x01\x01\x05\x83ab",
            MmsError::Truncated {
                what: "multipart entry data",
                at: 8,
                need: 3,
            },
        ),
        (
            b"\x8C\x80\x84\xA3\x01\x01\x00\x83\xFF",
            MmsError::BadMultipart {
                at: 8,
                part: 1,
                reason: "octets follow the last declared entry",
            },
        ),
    ];
    for (bytes, want) in cases {
        let got = Pdu::parse(bytes).unwrap_err();
        assert_eq!(got, want, "{}", hex(bytes));
        let line = got.to_string();
        assert!(!line.contains('\n'), "{line}");
        if !matches!(got, MmsError::Empty | MmsError::MissingMessageType) {
            assert!(line.contains("offset"), "{line}");
        }
    }
}

#[test]
fn unmodelled_values_are_kept_as_octets() {
    // Message-Size as a Short-integer (not the Long-integer of ENC), an
    // unassigned field 0x7E, Previously-Sent-By (structured), an application
    // header, and a value-length Content-Location: all kept byte for byte.
    let bytes = b"\x8C\x82\x98t\0\x8D\x92\x8E\x85\xFE\x02\x01\x02\xA0\x04\x81\x80a\0X-Foo\0bar\0\x83\x03\x80a\0";
    let pdu = Pdu::parse(bytes).unwrap();
    assert_eq!(pdu.encode(), bytes);
    // Message-Size is read as the value it is and sent back in the octets it
    // came in; the canonical form writes the Long-integer.
    assert_eq!(pdu.message_size(), Some(5));
    assert!(pdu
        .encode_canonical()
        .windows(3)
        .any(|w| w == [0x8E, 0x01, 0x05]));
    assert!(pdu.headers.contains(&Header::Unknown {
        field: Field(0x7E),
        value: vec![2, 1, 2]
    }));
    assert_eq!(pdu.application("x-foo"), Some("bar"));
    assert_eq!(pdu.content_location(), None);
    assert!(pdu.view().contains("field 0x7e: raw"));
}

#[test]
fn value_primitives() {
    let mut v = Vec::new();
    value::put_long(&mut v, 0);
    value::put_long(&mut v, 0x0102_0304_0506);
    value::put_integer(&mut v, 127);
    value::put_integer(&mut v, 128);
    value::put_value_length(&mut v, 30);
    value::put_value_length(&mut v, 31);
    value::put_text(&mut v, "é".as_bytes());
    assert_eq!(
        hex(&v),
        "01 00 06 01 02 03 04 05 06 FF 01 80 1E 1F 1F 7F C3 A9 00"
    );
    assert_eq!(Version(0x93).to_string(), "1.3");
    assert_eq!(Version(0x9F).to_string(), "1");
    assert_eq!(ResponseStatus(0xC4).class(), "transient");
    assert_eq!(ResponseStatus(0x85).class(), "obsolete");
    assert_eq!(Field::by_name("x-mms-applic-id"), Some(Field::APPLIC_ID));
    assert_eq!(Field::by_name("Applic-ID"), Some(Field::APPLIC_ID));
    assert_eq!(
        Field::by_name("Reply-Applic-ID"),
        Some(Field::REPLY_APPLIC_ID)
    );
    assert_eq!(Field::by_name("Subject"), Some(Field::SUBJECT));
    assert_eq!(Field::by_name("No-Such-Header"), None);
    assert_eq!(Field::APPLIC_ID.wire(), 0xB7);
    assert_eq!(Field::CANCEL_STATUS.wire(), 0xBF);
    assert_eq!(header::FIELDS.len(), 63);
}

// ---------------------------------------------------------------------------
// No panic, and encode(parse(x)) == x, over mutated inputs
// ---------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn no_panic_over_mutated_inputs() {
    let (ct, body) = smil_message();
    let seeds: Vec<Vec<u8>> = vec![
        notification().raw().to_vec(),
        PduBuilder::send_req("s", FromValue::InsertAddress, ct, body)
            .to(&Address::plmn("+1"))
            .subject("Grüße")
            .build()
            .raw()
            .to_vec(),
        PduBuilder::send_conf("c", ResponseStatus::OK)
            .build()
            .raw()
            .to_vec(),
        PduBuilder::delivery_ind("m", &Address::email("a@b.example"), 1, Status::EXPIRED)
            .build()
            .raw()
            .to_vec(),
    ];
    let mut rng = XorShift(0x5EED_0005_AA55_1234);
    let (mut ok, mut err) = (0u32, 0u32);
    for round in 0..200_000 {
        let mut b = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            let len = b.len();
            match rng.below(5) {
                0 if len > 0 => b[rng.below(len)] = rng.next() as u8,
                1 if len > 0 => b.truncate(rng.below(len)),
                2 => b.insert(rng.below(len + 1), rng.next() as u8),
                3 if len > 0 => {
                    b.remove(rng.below(len));
                }
                _ if len > 0 => b[rng.below(len)] ^= 0x80,
                _ => {}
            }
        }
        match Pdu::parse(&b) {
            Ok(p) => {
                ok += 1;
                assert_eq!(p.encode(), b, "encode(parse(x)) == x for {}", hex(&b));
                // The canonical form reads back to the same headers and body.
                let canon = Pdu::parse(&p.encode_canonical())
                    .unwrap_or_else(|e| panic!("canonical form of {} fails: {e}", hex(&b)));
                assert_eq!(canon, p, "canonical re-read of {}", hex(&b));
                let _ = (p.summary(), p.view());
            }
            Err(e) => {
                err += 1;
                assert!(!e.to_string().contains('\n'));
            }
        }
    }
    assert!(ok > 10_000 && err > 10_000, "ok={ok} err={err}");
    // Random octets, mostly starting like a PDU.
    for _ in 0..20_000 {
        let n = rng.below(64);
        let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            b.splice(0..0, [0x8C, 0x80 + rng.below(0x18) as u8]);
        }
        if let Ok(p) = Pdu::parse(&b) {
            assert_eq!(p.encode(), b);
        }
    }
}

#[test]
fn charset_names_map_to_their_mibenum() {
    use super::value::{charset_from_name, CHARSET_US_ASCII, CHARSET_UTF8};
    assert_eq!(charset_from_name("UTF-8"), Some(CHARSET_UTF8));
    assert_eq!(charset_from_name(" \"utf-8\" "), Some(CHARSET_UTF8));
    assert_eq!(charset_from_name("US-ASCII"), Some(CHARSET_US_ASCII));
    assert_eq!(charset_from_name("ISO-8859-1"), Some(4));
    assert_eq!(charset_from_name("x-unknown"), None);
}

/// Inputs the fuzz target (`fuzz/fuzz_targets/mms.rs`) found, each checked the
/// way it checks: encode(parse(x)) == x, and the canonical form reads back to
/// the same headers and body.
#[test]
fn fuzz_findings_read_back_canonically() {
    let cases: &[&[u8]] = &[
        // Content-Type as Quote + empty text: the canonical empty text (a lone
        // NUL) would read as a zero Value-length, so it is kept as octets.
        b"\x8C\x84\x84\x7F\x00\x00\x00\x84\xA3\x83\xFF\xFF",
        b"\x8C\x84\x84\x03\x7F\x00\x81",
        // The same for X-Mms-Message-Class (a Token-text is never empty).
        b"\x8C\x80\x8A\x7F\x00\x8Ab\x00",
        // Quote + a control octet, which without the Quote reads as a length
        // (in a Content-Type, a Transaction-ID, a Subject), or + a 0x7F, which
        // without it reads as the Quote.
        b"\x8C\x80\x84\x7F\x7F\x7F\x00\x83ab",
        b"\x8C\x84\x84\x7F\x01\x00",
        b"\x8C\x80\x98\x7F\x01\x00",
        b"\x8C\x80\x96\x7F\x01\x00",
    ];
    let mut failed = Vec::new();
    for &b in cases {
        let p = Pdu::parse(b).unwrap_or_else(|e| panic!("{}: {e}", hex(b)));
        assert_eq!(p.encode(), b, "encode(parse(x)) == x for {}", hex(b));
        let canon = p.encode_canonical();
        if Pdu::parse(&canon).as_ref() != Ok(&p) {
            failed.push(format!(
                "{} as {}: {:?}",
                hex(b),
                hex(&canon),
                Pdu::parse(&canon).map(|q| q.headers)
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
