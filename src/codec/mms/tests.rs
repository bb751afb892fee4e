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
    ($name:expr, $text:expr) => {
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
