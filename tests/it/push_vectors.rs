//! WSP connectionless push (`src/codec/wsp.rs`) and PAP 2.0 (`src/codec/pap.rs`)
//! against liaison's own vectors (`fixtures/messages/wsp/`, `fixtures/messages/pap/`):
//! field by field, `encode(parse(x)) == x` for the canonical ones, every error
//! variant with its message, no-panic loops over random and mutated input, and
//! tshark's WSP dissector as an independent reading of the WSP vectors.

use crate::common::{tshark, XorShift};

use liaison::codec::pap::{
    self, code, header_param, multipart_related, parse_multipart, PapError, PapMessage,
};
use liaison::codec::wsp::{
    self, decode_uintvar, encode_uintvar, media, AppId, ContentType, Media, PushPdu, WspError,
    WspHeader,
};
use std::path::PathBuf;

fn dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/messages")
        .join(kind)
}

fn read_hex(name: &str) -> (String, Vec<u8>) {
    let path = dir("wsp").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let title = text.lines().next().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    for line in text.lines() {
        for octet in line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_ascii_whitespace()
        {
            assert_eq!(octet.len(), 2, "{name}: octet {octet:?}");
            bytes.push(u8::from_str_radix(octet, 16).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
    }
    (title, bytes)
}

fn wsp_vector(name: &str) -> Vec<u8> {
    read_hex(name).1
}

fn pap_file(name: &str) -> Vec<u8> {
    let path = dir("pap").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn listed(kind: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(kind))
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

fn all_wsp() -> Vec<(String, Vec<u8>)> {
    let names = listed("wsp", ".hex");
    assert!(names.len() >= 4, "{names:?}");
    names
        .into_iter()
        .map(|n| (n.clone(), wsp_vector(&n)))
        .collect()
}

fn all_pap() -> Vec<(String, Vec<u8>)> {
    let names = listed("pap", ".xml");
    assert!(names.len() >= 5, "{names:?}");
    names
        .into_iter()
        .map(|n| (n.clone(), pap_file(&n)))
        .collect()
}

/// The Content-Type the Push Initiator sends with `multipart_related.mime`.
const MULTIPART_CT: &str =
    "Multipart/Related; boundary=\"liaison-7f3a\"; type=\"application/xml\"; start=\"<pap>\"";

#[test]
fn every_vector_is_listed_in_its_readme() {
    for kind in ["wsp", "pap"] {
        let readme = std::fs::read_to_string(dir(kind).join("README.md")).expect("README");
        for name in listed(kind, "") {
            if name != "README.md" {
                assert!(
                    readme.contains(&format!("`{name}`")),
                    "{kind}/{name} not in README"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// WSP
// ---------------------------------------------------------------------------

#[test]
fn every_wsp_vector_parses_and_encodes_exactly() {
    for (name, bytes) in all_wsp() {
        let (title, _) = read_hex(&name);
        assert!(title.starts_with(&format!("# {}: ", name.trim_end_matches(".hex"))));
        let pdu = PushPdu::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pdu.raw(), bytes.as_slice(), "{name}");
        assert_eq!(pdu.encode(), bytes, "{name}: encode(parse(x)) == x");
    }
}

#[test]
fn wsp_mms_notification_binary() {
    let bytes = wsp_vector("mms_notification_ind.hex");
    let pdu = PushPdu::parse(&bytes).unwrap();
    assert_eq!(pdu.tid, 0x1F);
    assert_eq!(pdu.pdu_type, wsp::PDU_PUSH);
    assert!(!pdu.is_confirmed());
    assert_eq!(pdu.content_type, ContentType::WellKnown(media::MMS_MESSAGE));
    assert_eq!(
        pdu.content_type.name(),
        Some("application/vnd.wap.mms-message")
    );
    assert_eq!(pdu.headers, vec![WspHeader::ApplicationId(AppId::Code(4))]);
    assert_eq!(pdu.application_id(), Some(&AppId::MMS_UA));
    assert_eq!(
        pdu.application_id().and_then(|a| a.name()),
        Some("x-wap-application:mms.ua")
    );
    assert_eq!(&bytes[..6], &[0x1F, 0x06, 0x03, 0xBE, 0xAF, 0x84]);
    assert_eq!(pdu.body, &bytes[6..]);
    assert_eq!(&pdu.body[..2], &[0x8C, 0x82], "m-notification-ind");
    assert_eq!(
        wsp::push_pdu(
            0x1F,
            ContentType::WellKnown(0x3E),
            AppId::Code(4),
            &pdu.body
        ),
        bytes
    );
}

#[test]
fn wsp_kannel_text_content_type() {
    let pdu = PushPdu::parse(&wsp_vector("kannel_text_content_type.hex")).unwrap();
    assert_eq!(pdu.tid, 3);
    assert_eq!(
        pdu.content_type,
        ContentType::Text("application/vnd.wap.mms-message".into())
    );
    assert_eq!(
        pdu.headers,
        vec![
            WspHeader::ApplicationId(AppId::MMS_UA),
            WspHeader::ContentLength(32),
            WspHeader::EncodingVersion {
                major: 1,
                minor: Some(3)
            },
        ]
    );
    assert_eq!(pdu.content_length(), Some(32));
    assert_eq!(pdu.body.len(), 32);
    assert!(pdu.body.ends_with(b"http://mmsc.example/k1\0"));
}

#[test]
fn wsp_confirmed_push() {
    let pdu = PushPdu::parse(&wsp_vector("confirmed_push_si.hex")).unwrap();
    assert_eq!((pdu.tid, pdu.pdu_type), (0x5A, wsp::PDU_CONFIRMED_PUSH));
    assert!(pdu.is_confirmed());
    assert_eq!(pdu.content_type, ContentType::WellKnown(media::SIC));
    assert_eq!(pdu.content_type.name(), Some("application/vnd.wap.sic"));
    assert_eq!(
        pdu.application_id().and_then(|a| a.name()),
        Some("x-wap-application:wml.ua")
    );
    assert_eq!(&pdu.body[..4], &[0x02, 0x05, 0x6A, 0x00], "WBXML SI header");
}

#[test]
fn wsp_unknown_headers_kept() {
    let bytes = wsp_vector("unknown_headers.hex");
    let pdu = PushPdu::parse(&bytes).unwrap();
    assert_eq!(
        pdu.headers,
        vec![
            WspHeader::ApplicationId(AppId::MMS_UA),
            WspHeader::Unknown {
                bytes: vec![0x92, 0x04, 0x6A, 0x3F, 0x8C, 0x00]
            },
            WspHeader::Unknown {
                bytes: b"\xC5\x08\x81\x86a.txt\0".to_vec()
            },
            WspHeader::Text {
                name: "X-Liaison".into(),
                value: "probe".into()
            },
        ]
    );
    assert_eq!(pdu.body, [0x8C, 0x82, 0x98, 0x75, 0x00, 0x8D, 0x92]);
    assert_eq!(pdu.encode(), bytes);
}

#[test]
fn wsp_general_form_and_long_codes() {
    // Content-general-form with a long-integer media code and a text app id.
    let pdu = PushPdu::new(
        9,
        wsp::PDU_PUSH,
        ContentType::General {
            media: Media::Code(0x0310),
            params: vec![],
        },
        vec![WspHeader::ApplicationId(AppId::Code(0x8002))],
        vec![1, 2, 3],
    );
    let bytes = pdu.raw().to_vec();
    assert_eq!(
        bytes,
        [9, 6, 8, 3, 2, 0x03, 0x10, 0xAF, 2, 0x80, 0x02, 1, 2, 3]
    );
    assert_eq!(PushPdu::parse(&bytes).unwrap(), pdu);
    // A long general form (Value-length 31 + uintvar).
    let long = ContentType::General {
        media: Media::Text("application/x-liaison".into()),
        params: vec![0x85; 20],
    };
    let enc = long.encode();
    assert_eq!(&enc[..2], &[31, 42]);
    let pdu = PushPdu::new(1, 6, long, vec![], vec![]);
    assert_eq!(PushPdu::parse(pdu.raw()).unwrap(), pdu);
}

#[test]
fn wsp_uintvar() {
    for v in [0, 1, 127, 128, 300, 16383, 16384, 0x0FFF_FFFF, u32::MAX] {
        let e = encode_uintvar(v);
        assert_eq!(decode_uintvar(&e), Ok((v, e.len())), "{v}");
        assert!(e.len() <= 5);
    }
    assert_eq!(encode_uintvar(300), [0x82, 0x2C]);
    let e = decode_uintvar(&[0x90, 0x80, 0x80, 0x80, 0x00]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "WSP push: uintvar at offset 0 exceeds 32 bits or 5 octets: \\x90\\x80\\x80\\x80\\x00"
    );
    // A HeadersLen uintvar that overflows, inside a PDU: offset is 2.
    let e = PushPdu::parse(&[1, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).unwrap_err();
    assert!(
        matches!(e, WspError::UintvarOverflow { at: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn wsp_errors_by_variant() {
    let cases: Vec<(&[u8], WspError, &str)> = vec![
        (b"", WspError::Empty, "WSP push: no bytes"),
        (
            &[0x01],
            WspError::Truncated {
                what: "PDU type",
                at: 1,
                bytes: vec![1],
            },
            "WSP push: input ends inside the PDU type at offset 1: \\x01",
        ),
        (
            &[0x01, 0x04, 0x00],
            WspError::NotPush { pdu_type: 4 },
            "WSP push: PDU type 0x04 is neither Push (0x06) nor ConfirmedPush (0x07)",
        ),
        (
            &[0x01, 0x06, 0x85],
            WspError::Truncated {
                what: "uintvar",
                at: 2,
                bytes: vec![0x85],
            },
            "WSP push: input ends inside the uintvar at offset 2: \\x85",
        ),
        (
            &[0x01, 0x06, 0x05, 0xBE, 0xAF],
            WspError::HeadersTooLong {
                declared: 5,
                available: 2,
            },
            "WSP push: HeadersLen 5 but only 2 octets follow",
        ),
        (
            &[0x01, 0x06, 0x00],
            WspError::Truncated {
                what: "content type",
                at: 3,
                bytes: vec![],
            },
            "WSP push: input ends inside the content type at offset 3: ",
        ),
        (
            &[0x01, 0x06, 0x03, b't', b'x', b't'],
            WspError::Truncated {
                what: "content type",
                at: 3,
                bytes: b"txt".to_vec(),
            },
            "WSP push: input ends inside the content type at offset 3: txt",
        ),
        (
            &[0x01, 0x06, 0x02, 0xBE, 0xAF],
            WspError::Truncated {
                what: "header value",
                at: 5,
                bytes: vec![],
            },
            "WSP push: input ends inside the header value at offset 5: ",
        ),
        (
            &[0x01, 0x06, 0x03, 0xBE, 0x92, 0x04],
            WspError::Truncated {
                what: "header value",
                at: 5,
                bytes: vec![0x04],
            },
            "WSP push: input ends inside the header value at offset 5: \\x04",
        ),
        (
            &[0x01, 0x06, 0x02, 0xBE, 0x00],
            WspError::BadValue {
                what: "header field name",
                at: 4,
                bytes: vec![0],
            },
            "WSP push: malformed header field name at offset 4: \\x00",
        ),
        (
            &[0x01, 0x06, 0x01, 0x00],
            WspError::BadValue {
                what: "content type (empty general form)",
                at: 3,
                bytes: vec![0],
            },
            "WSP push: malformed content type (empty general form) at offset 3: \\x00",
        ),
        (
            &[0x01, 0x06, 0x07, 0x06, 0x05, 1, 2, 3, 4, 5],
            WspError::BadValue {
                what: "content type media",
                at: 4,
                bytes: vec![5, 1, 2, 3, 4, 5],
            },
            "WSP push: malformed content type media at offset 4: \\x05\\x01\\x02\\x03\\x04\\x05",
        ),
    ];
    for (input, want, text) in cases {
        let got = PushPdu::parse(input).unwrap_err();
        assert_eq!(got, want, "{input:02X?}");
        assert_eq!(got.to_string(), text, "{input:02X?}");
    }
}

#[test]
fn wsp_every_truncation_of_every_vector_is_an_error_or_shorter_body() {
    for (name, bytes) in all_wsp() {
        let full = PushPdu::parse(&bytes).unwrap();
        let header_end = bytes.len() - full.body.len();
        for cut in 0..bytes.len() {
            match PushPdu::parse(&bytes[..cut]) {
                Ok(p) => {
                    assert!(cut >= header_end, "{name} cut {cut}");
                    assert_eq!(p.body, &full.body[..cut - header_end]);
                }
                Err(e) => assert!(cut < header_end, "{name} cut {cut}: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// PAP
// ---------------------------------------------------------------------------

#[test]
fn pap_push_message_one_address_is_canonical() {
    let bytes = pap_file("push_message_one_address.xml");
    let m = PapMessage::parse(&bytes).unwrap();
    let PapMessage::PushMessage(pm) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(pm.push_id, "liaison-0001@pi.example");
    assert_eq!(pm.addresses, ["WAPPUSH=+15551234567/TYPE=PLMN@ppg.example"]);
    assert_eq!(pm.deliver_before, None);
    assert_eq!(pm.deliver_after, None);
    assert_eq!(pm.quality_of_service, None);
    assert_eq!(m.to_xml().as_bytes(), bytes.as_slice());
}

#[test]
fn pap_push_message_two_addresses() {
    let m = PapMessage::parse(&pap_file("push_message_two_addresses.xml")).unwrap();
    let PapMessage::PushMessage(pm) = m else {
        panic!("{m:?}")
    };
    assert_eq!(pm.push_id, "liaison-0002@pi.example");
    assert_eq!(pm.deliver_before.as_deref(), Some("2026-12-01T00:00:00Z"));
    assert_eq!(pm.deliver_after.as_deref(), Some("2026-11-21T12:00:00Z"));
    assert_eq!(
        pm.ppg_notify_requested_to.as_deref(),
        Some("http://pi.example/notify?a=1&b=2")
    );
    assert_eq!(
        pm.addresses,
        [
            "WAPPUSH=+15551234567/TYPE=PLMN@ppg.example",
            "WAPPUSH=+15557654321/TYPE=PLMN@ppg.example"
        ]
    );
    let qos = pm.quality_of_service.expect("qos");
    let names: Vec<&str> = qos.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["priority", "delivery-method", "network", "bearer"]);
    assert_eq!(qos.attributes[3].1, "SMS");
}

#[test]
fn pap_push_response_1001() {
    let bytes = pap_file("push_response_1001.xml");
    let m = PapMessage::parse(&bytes).unwrap();
    let PapMessage::PushResponse(r) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(r.push_id, "liaison-0001@pi.example");
    assert_eq!(
        r.sender_address.as_deref(),
        Some("http://ppg.example/wappush")
    );
    assert_eq!(r.sender_name.as_deref(), Some("liaison PPG"));
    assert_eq!(r.reply_time.as_deref(), Some("2026-11-21T12:00:00Z"));
    assert_eq!(r.code, code::ACCEPTED_FOR_PROCESSING);
    assert_eq!(pap::code_name(r.code), Some("Accepted for processing"));
    assert_eq!(r.desc.as_deref(), Some("Accepted for processing"));
    assert_eq!(m.to_xml().as_bytes(), bytes.as_slice());
}

#[test]
fn pap_badmessage_response_2000() {
    let bytes = pap_file("badmessage_response_2000.xml");
    let m = PapMessage::parse(&bytes).unwrap();
    let PapMessage::BadMessageResponse(r) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(r.code, code::BAD_REQUEST);
    assert_eq!(r.desc.as_deref(), Some("Bad request"));
    assert_eq!(
        r.bad_message_fragment.as_deref(),
        Some("<push-message push-id=\"liaison-0003\"><adress")
    );
    // quick-xml escapes `>` too, so the canonical form is the builder's.
    assert_eq!(PapMessage::parse(m.to_xml().as_bytes()).unwrap(), m);
}

#[test]
fn pap_result_notification() {
    let bytes = pap_file("resultnotification_delivered.xml");
    let m = PapMessage::parse(&bytes).unwrap();
    let PapMessage::ResultNotification(r) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(r.push_id, "liaison-0001@pi.example");
    assert_eq!(r.message_state, "delivered");
    assert_eq!(r.code, code::OK);
    assert_eq!(r.desc.as_deref(), Some("OK"));
    assert_eq!(r.event_time.as_deref(), Some("2026-11-21T12:00:05Z"));
    assert_eq!(r.addresses.len(), 1);
    assert_eq!(m.to_xml().as_bytes(), bytes.as_slice());
}

#[test]
fn pap_codes_named() {
    for c in [
        1000, 1001, 2000, 2001, 2002, 2005, 2007, 3000, 3006, 3010, 4000,
    ] {
        assert!(pap::code_name(c).is_some(), "{c}");
    }
    assert_eq!(pap::code_name(1234), None);
    assert_eq!(code::DUPLICATE_PUSH_ID, 2007);
    assert_eq!(code::REQUIRED_BEARER_NOT_AVAILABLE, 3010);
}

#[test]
fn pap_errors_by_variant() {
    let e = PapMessage::parse(b"<pap><push-message push-id=\"x\"><address/></pap>").unwrap_err();
    assert!(matches!(e, PapError::Xml { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("PAP: malformed XML at byte "),
        "{e}"
    );

    let e = PapMessage::parse(b"<pap><push-message push-id=\"x\">").unwrap_err();
    let PapError::Xml { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(message.contains("not closed"), "{e}");

    let e = PapMessage::parse(b"<pap a=\"1\" a=\"2\"/>").unwrap_err();
    assert!(
        matches!(e, PapError::Xml { .. }),
        "duplicate attribute: {e:?}"
    );

    let e = PapMessage::parse(b"<pap>\xFF</pap>").unwrap_err();
    assert_eq!(
        e,
        PapError::NotUtf8 {
            at: 5,
            bytes: b"\xFF</pap>".to_vec()
        }
    );
    assert_eq!(e.to_string(), "PAP: not UTF-8 at byte 5: \\xFF</pap>");

    let e = PapMessage::parse(b"<?xml version=\"1.0\"?><wml/>").unwrap_err();
    assert_eq!(e, PapError::NoPapRoot);
    assert_eq!(e.to_string(), "PAP: no <pap> root element");
    assert_eq!(PapMessage::parse(b"").unwrap_err(), PapError::NoPapRoot);

    let e = PapMessage::parse(b"<pap><cancel-message push-id=\"1\"/></pap>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "PAP: <pap> holds <cancel-message>, not a known PAP message"
    );
    let e = PapMessage::parse(b"<pap></pap>").unwrap_err();
    assert_eq!(e.to_string(), "PAP: <pap> holds no message element");

    let e = PapMessage::parse(
        b"<pap><push-message><address address-value=\"a\"/></push-message></pap>",
    )
    .unwrap_err();
    assert_eq!(
        e,
        PapError::MissingAttribute {
            element: "push-message",
            attribute: "push-id"
        }
    );
    assert_eq!(
        e.to_string(),
        "PAP: <push-message> lacks the required push-id attribute"
    );

    let e =
        PapMessage::parse(b"<pap><push-message push-id=\"1\"></push-message></pap>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "PAP: <push-message> lacks the required <address>"
    );
    let e = PapMessage::parse(b"<pap><push-response push-id=\"1\"/></pap>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "PAP: <push-response> lacks the required <response-result>"
    );

    let e = PapMessage::parse(b"<pap><badmessage-response code=\"abc\"/></pap>").unwrap_err();
    assert_eq!(
        e,
        PapError::BadCode {
            element: "badmessage-response",
            value: "abc".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "PAP: <badmessage-response> code \"abc\" is not a number"
    );
}

// ---------------------------------------------------------------------------
// multipart/related
// ---------------------------------------------------------------------------

#[test]
fn multipart_vector_parts_byte_for_byte() {
    let body = pap_file("multipart_related.mime");
    let binary = pap_file("multipart_related.part2.bin");
    assert!(binary.windows(2).any(|w| w == b"\r\n"));
    assert!(binary.windows(2).any(|w| w == b"--"));
    assert_eq!(
        header_param(MULTIPART_CT, "boundary").as_deref(),
        Some("liaison-7f3a")
    );
    let parts = parse_multipart(MULTIPART_CT, &body).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0].header("content-type"),
        Some("application/xml; charset=UTF-8")
    );
    let xml = pap_file("push_message_one_address.xml");
    let crlf = String::from_utf8(xml.clone())
        .unwrap()
        .replace('\n', "\r\n");
    assert_eq!(parts[0].body, crlf.as_bytes());
    let PapMessage::PushMessage(pm) = PapMessage::parse(&parts[0].body).unwrap() else {
        panic!()
    };
    assert_eq!(pm.push_id, "liaison-0001@pi.example");
    assert_eq!(
        parts[1].header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(parts[1].header("Content-ID"), Some("<bin@pi.example>"));
    assert_eq!(parts[1].body, binary);
    // The binary part is itself a WSP push.
    let pdu = PushPdu::parse(&parts[1].body).unwrap();
    assert_eq!(pdu.application_id(), Some(&AppId::MMS_UA));
}

#[test]
fn multipart_builder_round_trip_with_binary() {
    let binary = pap_file("multipart_related.part2.bin");
    let xml = pap_file("push_message_one_address.xml");
    let (ct, body) = multipart_related(
        "liaison-7f3a",
        &[
            ("application/xml", &xml),
            ("application/vnd.wap.mms-message", &binary),
        ],
    );
    assert_eq!(
        ct,
        "multipart/related; boundary=\"liaison-7f3a\"; type=\"application/xml\""
    );
    let parts = parse_multipart(&ct, &body).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].body, xml);
    assert_eq!(parts[1].body, binary);
    assert_eq!(
        parts[1].headers,
        [(
            "Content-Type".to_string(),
            "application/vnd.wap.mms-message".to_string()
        )]
    );
}

#[test]
fn multipart_errors_by_variant() {
    let e = parse_multipart("application/xml", b"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "multipart: Content-Type \"application/xml\" is not multipart with a boundary"
    );
    let e = parse_multipart("multipart/related; type=\"application/xml\"", b"").unwrap_err();
    assert!(matches!(e, PapError::NoBoundary { .. }));
    let e = parse_multipart("multipart/related; boundary=\"\"", b"").unwrap_err();
    assert!(matches!(e, PapError::NoBoundary { .. }));

    let ct = "multipart/related; boundary=b";
    let e = parse_multipart(ct, b"hello\r\n-- b\r\n").unwrap_err();
    assert_eq!(
        e,
        PapError::NoOpeningDelimiter {
            bytes: b"hello\r\n-- b\r\n".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "multipart: no opening --boundary line in: hello\\r\\n-- b\\r\\n"
    );

    let e = parse_multipart(ct, b"--b\r\nContent-Type: text/plain\r\n\r\nabc").unwrap_err();
    assert_eq!(
        e,
        PapError::NoClosingDelimiter {
            part: 1,
            bytes: b"Content-Type: text/plain\r\n\r\nabc".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "multipart: part 1 is not closed by a delimiter: Content-Type: text/plain\\r\\n\\r\\nabc"
    );
    // A delimiter that never becomes the close delimiter: the body just ends.
    let e = parse_multipart(ct, b"--b\r\n\r\nabc\r\n--b").unwrap_err();
    assert!(
        matches!(e, PapError::NoClosingDelimiter { part: 2, .. }),
        "{e:?}"
    );
    // Close delimiter before any part.
    let e = parse_multipart(ct, b"--b--\r\n").unwrap_err();
    assert!(
        matches!(e, PapError::NoClosingDelimiter { part: 0, .. }),
        "{e:?}"
    );

    let e = parse_multipart(ct, b"--b\r\nno colon here\r\n\r\nabc\r\n--b--").unwrap_err();
    assert_eq!(
        e.to_string(),
        "multipart: part 1 has a malformed header block: no colon here\\r\\n\\r\\nabc"
    );
    let e = parse_multipart(ct, b"--b\r\nContent-Type: x\r\nabc\r\n--b--").unwrap_err();
    assert!(
        matches!(e, PapError::BadPartHeader { part: 1, .. }),
        "{e:?}"
    );
    // A part with no headers is fine.
    let parts = parse_multipart(ct, b"--b\r\n\r\n\r\n--b--").unwrap();
    assert_eq!(parts[0].body, b"");
    assert!(parts[0].headers.is_empty());
}

// ---------------------------------------------------------------------------
// No panics
// ---------------------------------------------------------------------------

const WSP_FRAGMENTS: &[&[u8]] = &[
    &[0xBE],
    &[0xAF, 0x84],
    &[0x8D],
    &[0x1F],
    &[0x1F, 0xFF, 0xFF],
    &[0x7F],
    &[0x00],
    &[0x02, 0x80],
    &[0x1E],
    b"text/plain\0",
    b"X-A",
    &[0xC3, 0x93],
];

const PAP_FRAGMENTS: &[&str] = &[
    "<pap>",
    "</pap>",
    "<push-message push-id=\"1\">",
    "</push-message>",
    "<address address-value=\"a\"/>",
    "<push-response push-id=\"1\">",
    "<response-result code=\"1001\"/>",
    "<badmessage-response code=\"2000\"/>",
    "<resultnotification-message push-id=\"1\" message-state=\"x\" code=\"1\">",
    "<!DOCTYPE pap>",
    "<?xml version=\"1.0\"?>",
    "&amp;",
    "&bogus;",
    "<",
    ">",
    "\"",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "--b\r\n",
    "\r\n--b--",
    "\r\n\r\n",
    "Content-Type: a\r\n",
];

fn check_wsp(b: &[u8]) -> bool {
    match PushPdu::parse(b) {
        Ok(p) => {
            assert_eq!(p.raw(), b);
            let _ = p.encode();
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

fn check_pap(b: &[u8]) {
    if let Err(e) = PapMessage::parse(b) {
        let _ = e.to_string();
    }
    for ct in [
        "multipart/related; boundary=b",
        "multipart/related; boundary=\"liaison-7f3a\"",
    ] {
        if let Err(e) = parse_multipart(ct, b) {
            let _ = e.to_string();
        }
    }
}

#[test]
fn no_panic_wsp_random() {
    let _cpu = crate::common::low_priority();
    let mut rng = XorShift(0x5eed_0230_0006_0007);
    let mut parsed = 0;
    for _ in 0..200_000 {
        let mut input = Vec::new();
        if rng.below(4) != 0 {
            input.push(rng.next() as u8);
            input.push([6u8, 7][rng.below(2)]);
            input.push(rng.below(40) as u8);
            for _ in 0..rng.below(12) {
                if rng.below(3) == 0 {
                    input.push(rng.next() as u8);
                } else {
                    input.extend_from_slice(WSP_FRAGMENTS[rng.below(WSP_FRAGMENTS.len())]);
                }
            }
        } else {
            for _ in 0..rng.below(40) {
                input.push(rng.next() as u8);
            }
        }
        if check_wsp(&input) {
            parsed += 1;
        }
    }
    assert!(
        parsed > 1000,
        "the structured inputs reach the header parser: {parsed}"
    );
}

#[test]
fn no_panic_pap_random() {
    let _cpu = crate::common::low_priority();
    let mut rng = XorShift(0x5eed_0247_0000_1001);
    for _ in 0..200_000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(10) {
            match rng.below(5) {
                0 => input.push(rng.next() as u8),
                1 => input.extend_from_slice(b" a=\"1\""),
                _ => input
                    .extend_from_slice(PAP_FRAGMENTS[rng.below(PAP_FRAGMENTS.len())].as_bytes()),
            }
        }
        check_pap(&input);
    }
}

#[test]
fn no_panic_on_mutated_vectors() {
    let _cpu = crate::common::low_priority();
    let replacements = [
        0x00, 0xFF, 0x7F, 0x80, 0x1F, 0x1E, b'<', b'>', b'"', b'-', b'\r',
    ];
    for (_, bytes) in all_wsp() {
        for cut in 0..=bytes.len() {
            check_wsp(&bytes[..cut]);
            check_wsp(&bytes[cut..]);
        }
        for pos in 0..bytes.len() {
            let mut m = bytes.clone();
            for &r in &replacements {
                m[pos] = r;
                check_wsp(&m);
            }
            m[pos] = bytes[pos] ^ 0xFF;
            check_wsp(&m);
        }
    }
    let mut pap_inputs = all_pap();
    pap_inputs.push(("mime".into(), pap_file("multipart_related.mime")));
    for (_, bytes) in pap_inputs {
        for cut in (0..=bytes.len()).step_by(3) {
            check_pap(&bytes[..cut]);
            check_pap(&bytes[cut..]);
        }
        for pos in 0..bytes.len() {
            let mut m = bytes.clone();
            for &r in &replacements[..6] {
                m[pos] = r;
                check_pap(&m);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// tshark reads the WSP vectors the same way
// ---------------------------------------------------------------------------

#[test]
fn tshark_decodes_every_wsp_vector_the_same_way() {
    let _cpu = crate::common::low_priority();
    crate::common::require_program("tshark", "tshark");
    let dir = crate::common::tmpdir("wsp-vectors");
    let path = dir.join("vectors.pcap");
    let cap = liaison::net::capture::Capture::create(&path).expect("pcap");
    let ppg: std::net::SocketAddr = "127.0.0.1:9200".parse().unwrap();
    let phone: std::net::SocketAddr = "127.0.0.1:2948".parse().unwrap();
    let vectors = all_wsp();
    for (_, bytes) in &vectors {
        cap.udp(ppg, phone, bytes);
    }
    cap.flush().expect("flush");
    drop(cap);
    let p = path.to_str().unwrap();
    let problems = tshark(&[
        "-r",
        p,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 6291456",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    assert!(
        problems.trim().is_empty(),
        "tshark flags frames:\n{problems}"
    );
    let out = tshark(&[
        "-r",
        p,
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-e",
        "wsp.TID",
        "-e",
        "wsp.pdu_type",
        "-e",
        "wsp.header.content_type",
        "-e",
        "wsp.header.x_wap_application_id",
        "-e",
        "wsp.header.content_length",
    ]);
    let theirs: Vec<String> = out.lines().map(str::to_string).collect();
    let ours: Vec<String> = vectors
        .iter()
        .map(|(_, b)| {
            let pdu = PushPdu::parse(b).unwrap();
            format!(
                "0x{:02x}\t0x{:02x}\t{}\t{}\t{}",
                pdu.tid,
                pdu.pdu_type,
                pdu.content_type.name().unwrap_or("?"),
                pdu.application_id().and_then(|a| a.name()).unwrap_or("?"),
                pdu.content_length()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(theirs, ours, "tshark's reading (left) and ours (right)");
}
