//! SMPP 3.4 codec against liaison's own test vectors (`fixtures/messages/smpp/`,
//! annotated hex, one PDU each), its error cases, stream framing, delivery receipt
//! text in the forms SMSC software writes, a no-panic loop over random and mutated
//! input, and tshark's SMPP dissector as an independent reading of the vectors.

use crate::common::{tshark, XorShift};

use crate::common::{require_program, tmpdir};
use liaison::codec::smpp::{
    self, command, esm, is_receipt, next_frame, state, status, tlv, udh_concat, udh_parse,
    udh_port16, Bind, Body, Pdu, Receipt, Sm, SmppError, Tlv, HEADER_LEN,
};
use std::path::PathBuf;

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages/smpp")
}

/// The first comment line and the octets of an annotated hex file: `#` starts a
/// comment, whitespace separates octets.
fn read_hex(name: &str) -> (String, Vec<u8>) {
    let path = vector_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let title = text.lines().next().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    for line in text.lines() {
        let data = line.split('#').next().unwrap_or_default();
        for octet in data.split_ascii_whitespace() {
            assert_eq!(octet.len(), 2, "{name}: octet {octet:?}");
            bytes.push(u8::from_str_radix(octet, 16).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
    }
    (title, bytes)
}

fn vector(name: &str) -> Vec<u8> {
    read_hex(name).1
}

fn all_vectors() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(vector_dir())
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    names.sort();
    assert!(names.len() >= 11, "vectors present: {names:?}");
    names.into_iter().map(|n| (n.clone(), vector(&n))).collect()
}

fn parse(name: &str) -> (Vec<u8>, Pdu) {
    let bytes = vector(name);
    let pdu = Pdu::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    (bytes, pdu)
}

fn sm_of(pdu: &Pdu) -> &Sm {
    pdu.sm().expect("a submit_sm or deliver_sm body")
}

// ---------------------------------------------------------------------------
// Every vector
// ---------------------------------------------------------------------------

#[test]
fn every_vector_parses_and_encodes_exactly() {
    for (name, bytes) in all_vectors() {
        let stem = name.trim_end_matches(".hex");
        let (title, _) = read_hex(&name);
        assert!(
            title.starts_with(&format!("# {stem}: ")),
            "{name}: first line names it: {title:?}"
        );
        let pdu = Pdu::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pdu.raw(), bytes.as_slice(), "{name}: raw");
        assert_eq!(pdu.encode(), bytes, "{name}: encode(parse(x)) == x");
        assert_eq!(pdu.header.command_length as usize, bytes.len(), "{name}");
        assert!(stem.starts_with(pdu.name()), "{name} is a {}", pdu.name());
        assert_eq!(next_frame(&bytes, 4096), Ok(Some(bytes.len())), "{name}");
        // A PDU rebuilt from its parts is the same PDU.
        let rebuilt = Pdu::new(
            pdu.header.command_id,
            pdu.header.command_status,
            pdu.header.sequence_number,
            pdu.body.clone(),
        );
        assert_eq!(rebuilt, pdu, "{name}: Pdu::new");
        let summary = pdu.summary();
        assert!(
            summary.starts_with(pdu.name()) && !summary.contains('\n'),
            "{summary}"
        );
    }
}

#[test]
fn every_vector_has_provenance_in_readme() {
    let readme = std::fs::read_to_string(vector_dir().join("README.md")).expect("README.md");
    for (name, _) in all_vectors() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md lists {name}"
        );
    }
}

// ---------------------------------------------------------------------------
// One test per vector: every field
// ---------------------------------------------------------------------------

#[test]
fn bind_transceiver() {
    let (_, p) = parse("bind_transceiver.hex");
    assert_eq!(p.header.command_id, command::BIND_TRANSCEIVER);
    assert_eq!(p.header.command_status, 0);
    assert_eq!(p.header.sequence_number, 1);
    assert_eq!(p.header.command_length, 62);
    assert_eq!(
        p.body,
        Body::Bind(Bind {
            system_id: "smsc-iwf".into(),
            password: "secret08".into(),
            system_type: "IWF".into(),
            interface_version: 0x34,
            addr_ton: 1,
            addr_npi: 1,
            address_range: "^4477009001[0-9]{2}$".into(),
        })
    );
    assert_eq!(
        p.summary(),
        "bind_transceiver seq=1 system_id=\"smsc-iwf\" system_type=\"IWF\" interface_version=0x34"
    );
    assert_eq!(p.tlv(tlv::SC_INTERFACE_VERSION), None);
}

#[test]
fn bind_transceiver_resp() {
    let (_, p) = parse("bind_transceiver_resp.hex");
    assert_eq!(p.name(), "bind_transceiver_resp");
    assert_eq!(p.header.command_id, command::BIND_TRANSCEIVER_RESP);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 1));
    assert_eq!(
        p.body,
        Body::BindResp {
            system_id: "liaison".into(),
            tlvs: vec![Tlv::new(tlv::SC_INTERFACE_VERSION, &[0x34])],
        }
    );
    assert_eq!(p.tlv(tlv::SC_INTERFACE_VERSION), Some(&[0x34][..]));
    assert_eq!(
        p.summary(),
        "bind_transceiver_resp seq=1 ESME_ROK system_id=\"liaison\" tlvs=[sc_interface_version]"
    );
    // It answers the bind_transceiver vector; our builder gives the same bytes
    // but for the TLV.
    let req = parse("bind_transceiver.hex").1;
    let built = Pdu::parse(&smpp::bind_resp(&req, 0, "liaison")).expect("parses");
    assert_eq!(built.header.command_id, p.header.command_id);
    assert_eq!(built.header.sequence_number, p.header.sequence_number);
}

#[test]
fn submit_sm_registered() {
    let (_, p) = parse("submit_sm_registered.hex");
    assert_eq!(p.header.command_id, command::SUBMIT_SM);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 2));
    let expected = Sm {
        service_type: String::new(),
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "447700900456".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "447700900123".into(),
        esm_class: 0,
        protocol_id: 0,
        priority_flag: 0,
        schedule_delivery_time: String::new(),
        validity_period: "000001000000000R".into(),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 0,
        sm_default_msg_id: 0,
        short_message: b"Hi Alice, got it.".to_vec(),
        tlvs: vec![Tlv::new(tlv::USER_MESSAGE_REFERENCE, &[0x00, 0x2A])],
    };
    assert_eq!(p.body, Body::SubmitSm(expected.clone()));
    let sm = sm_of(&p);
    assert_eq!(
        sm.registered_delivery & smpp::registered::RECEIPT_MASK,
        smpp::registered::RECEIPT_ALWAYS
    );
    assert!(!is_receipt(sm.esm_class) && !sm.udhi());
    assert_eq!(sm.receipt(), None);
    assert_eq!(sm.payload(), b"Hi Alice, got it.");
    assert_eq!(
        p.summary(),
        "submit_sm seq=2 1/1:447700900456 -> 1/1:447700900123 esm_class=0x00 data_coding=0x00 \
         registered_delivery=0x01 short_message[17]=\"Hi Alice, got it.\" tlvs=[user_message_reference]"
    );
    assert_eq!(
        smpp::submit_sm(2, &expected),
        vector("submit_sm_registered.hex")
    );
}

#[test]
fn submit_sm_resp() {
    let (bytes, p) = parse("submit_sm_resp.hex");
    assert_eq!(p.header.command_id, command::SUBMIT_SM_RESP);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 2));
    assert_eq!(
        p.body,
        Body::SubmitSmResp {
            message_id: "5f3a9c01".into()
        }
    );
    assert_eq!(smpp::submit_sm_resp(2, status::ESME_ROK, "5f3a9c01"), bytes);
}

#[test]
fn deliver_sm_receipt() {
    let (_, p) = parse("deliver_sm_receipt.hex");
    assert_eq!(p.header.command_id, command::DELIVER_SM);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 3));
    let Body::DeliverSm(sm) = &p.body else {
        panic!("deliver_sm body: {:?}", p.body);
    };
    assert_eq!(sm.service_type, "");
    assert_eq!(
        (
            sm.source_addr_ton,
            sm.source_addr_npi,
            sm.source_addr.as_str()
        ),
        (1, 1, "447700900123")
    );
    assert_eq!(
        (
            sm.dest_addr_ton,
            sm.dest_addr_npi,
            sm.destination_addr.as_str()
        ),
        (1, 1, "447700900456")
    );
    assert_eq!(sm.esm_class, 0x04);
    assert!(is_receipt(sm.esm_class));
    assert_eq!(
        esm::message_type(sm.esm_class),
        esm::TYPE_SMSC_DELIVERY_RECEIPT
    );
    assert_eq!((sm.protocol_id, sm.priority_flag), (0, 0));
    assert_eq!(
        (
            sm.schedule_delivery_time.as_str(),
            sm.validity_period.as_str()
        ),
        ("", "")
    );
    assert_eq!(
        (
            sm.registered_delivery,
            sm.replace_if_present_flag,
            sm.data_coding,
            sm.sm_default_msg_id
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(sm.short_message.len(), 116);
    assert_eq!(
        sm.tlvs,
        vec![
            Tlv::new(tlv::RECEIPTED_MESSAGE_ID, b"5f3a9c01\0"),
            Tlv::new(tlv::MESSAGE_STATE, &[state::DELIVERED]),
        ]
    );
    assert_eq!(sm.receipted_message_id().as_deref(), Some("5f3a9c01"));
    assert_eq!(sm.message_state(), Some(state::DELIVERED));
    assert_eq!(p.tlv(tlv::MESSAGE_STATE), Some(&[2][..]));
    assert_eq!(p.tlv(tlv::NETWORK_ERROR_CODE), None);
    let r = sm.receipt().expect("receipt text");
    assert_eq!(
        r,
        Receipt {
            id: "5f3a9c01".into(),
            sub: Some("001".into()),
            dlvrd: Some("001".into()),
            submit_date: Some("2501151030".into()),
            done_date: Some("2501151031".into()),
            stat: "DELIVRD".into(),
            err: Some("000".into()),
            text: Some("Hi Alice, got it".into()),
        }
    );
    assert_eq!(r.state(), sm.message_state(), "text and TLV agree");
    assert_eq!(r.format().as_bytes(), sm.short_message.as_slice());
    assert!(p
        .summary()
        .contains(" receipt short_message[116]=\"id:5f3a9c01 "));
    assert!(p
        .summary()
        .ends_with(" tlvs=[receipted_message_id,message_state]"));
    // receipt_sm builds the same PDU from the submit_sm it answers.
    let submitted = parse("submit_sm_registered.hex").1;
    let built = smpp::receipt_sm(sm_of(&submitted), &r);
    assert_eq!(
        smpp::deliver_sm(3, &built),
        vector("deliver_sm_receipt.hex")
    );
}

#[test]
fn deliver_sm_resp() {
    let (bytes, p) = parse("deliver_sm_resp.hex");
    assert_eq!(p.header.command_id, command::DELIVER_SM_RESP);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 3));
    assert_eq!(
        p.body,
        Body::DeliverSmResp {
            message_id: String::new()
        }
    );
    assert_eq!(bytes.len(), HEADER_LEN + 1);
    assert_eq!(smpp::deliver_sm_resp(3, 0), bytes);
}

#[test]
fn deliver_sm_mo() {
    let (bytes, p) = parse("deliver_sm_mo.hex");
    assert_eq!(p.header.command_id, command::DELIVER_SM);
    assert_eq!((p.header.command_status, p.header.sequence_number), (0, 4));
    let expected = Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "447700900123".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "447700900456".into(),
        short_message: b"Hello Bob, lunch at noon?".to_vec(),
        tlvs: vec![Tlv::new(0x1401, b"abc")],
        ..Sm::default()
    };
    assert_eq!(p.body, Body::DeliverSm(expected.clone()));
    assert!(!is_receipt(expected.esm_class));
    assert_eq!(sm_of(&p).receipt(), None);
    assert_eq!(p.tlv(0x1401), Some(&b"abc"[..]), "vendor TLV kept");
    assert!(p.summary().ends_with(" tlvs=[0x1401]"));
    assert_eq!(smpp::deliver_sm(4, &expected), bytes);
}

#[test]
fn header_only_vectors() {
    for (file, id, seq, status, built) in [
        (
            "enquire_link.hex",
            command::ENQUIRE_LINK,
            5,
            0,
            smpp::enquire_link(5),
        ),
        (
            "enquire_link_resp.hex",
            command::ENQUIRE_LINK_RESP,
            5,
            0,
            smpp::enquire_link_resp(5),
        ),
        ("unbind.hex", command::UNBIND, 6, 0, smpp::unbind(6)),
        (
            "unbind_resp.hex",
            command::UNBIND_RESP,
            6,
            0,
            smpp::unbind_resp(6),
        ),
        (
            "generic_nack.hex",
            command::GENERIC_NACK,
            7,
            status::ESME_RINVCMDID,
            smpp::generic_nack(7, status::ESME_RINVCMDID),
        ),
    ] {
        let (bytes, p) = parse(file);
        assert_eq!(bytes.len(), HEADER_LEN, "{file}");
        assert_eq!(p.header.command_length, 16);
        assert_eq!(p.header.command_id, id, "{file}");
        assert_eq!(p.header.sequence_number, seq, "{file}");
        assert_eq!(p.header.command_status, status, "{file}");
        assert_eq!(p.body, Body::Empty, "{file}");
        assert_eq!(built, bytes, "{file}: builder");
    }
    assert_eq!(
        parse("generic_nack.hex").1.summary(),
        "generic_nack seq=7 ESME_RINVCMDID"
    );
    assert_eq!(parse("enquire_link.hex").1.summary(), "enquire_link seq=5");
}

#[test]
fn submit_sm_wap_push() {
    let (_, p) = parse("submit_sm_wap_push.hex");
    assert_eq!(p.header.command_id, command::SUBMIT_SM);
    assert_eq!(p.header.sequence_number, 8);
    let sm = sm_of(&p);
    assert_eq!(sm.service_type, "WAP");
    assert_eq!((sm.source_addr_ton, sm.source_addr_npi), (5, 0));
    assert_eq!(sm.source_addr, "PPG");
    assert_eq!(sm.destination_addr, "447700900123");
    assert_eq!(sm.esm_class, 0x40);
    assert!(sm.udhi() && !is_receipt(sm.esm_class));
    assert_eq!(sm.data_coding, smpp::dcs::OCTET_UNSPECIFIED);
    assert_eq!(sm.short_message.len(), 45);
    assert!(sm.tlvs.is_empty());
    let (ies, wsp) = udh_parse(&sm.short_message).expect("UDH");
    assert_eq!(ies, vec![(0x05, vec![0x0B, 0x84, 0x23, 0xF0])]);
    assert_eq!(
        udh_port16(&ies),
        Some((smpp::WAP_PUSH_PORT, smpp::WAP_WSP_PORT))
    );
    assert_eq!(udh_concat(&ies), None);
    // WSP Push: TID, PDU type 0x06, HeadersLen 6, then 6 header octets and WBXML.
    assert_eq!(&wsp[..3], &[0x01, 0x06, 0x06]);
    assert_eq!(&wsp[3..9], &[0x03, 0xAE, 0x81, 0xEA, 0xAF, 0x82]);
    assert_eq!(
        &wsp[9..13],
        &[0x02, 0x05, 0x6A, 0x00],
        "WBXML SI 1.0 header"
    );
    assert_eq!(wsp.len(), 45 - 7);
    // udh_split gives the same short_message for this WSP payload.
    let parts =
        smpp::udh_split(wsp, Some((smpp::WAP_PUSH_PORT, smpp::WAP_WSP_PORT)), 0).expect("fits");
    assert_eq!(parts, vec![sm.short_message.clone()]);
}

// ---------------------------------------------------------------------------
// Errors: every variant, and what Display says
// ---------------------------------------------------------------------------

fn err(bytes: &[u8]) -> SmppError {
    match Pdu::parse(bytes) {
        Ok(p) => panic!("expected an error, parsed {}", p.summary()),
        Err(e) => {
            let text = e.to_string();
            assert!(
                !text.contains('\n') && !text.contains('\r'),
                "one line: {text:?}"
            );
            e
        }
    }
}

/// A PDU with this command_id and body, command_length computed.
fn pdu_with(command_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = ((HEADER_LEN + body.len()) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
    out.extend_from_slice(body);
    out
}

#[test]
fn error_short() {
    assert_eq!(err(b""), SmppError::Short { need: 16, got: 0 });
    assert_eq!(err(&[0, 0, 0]), SmppError::Short { need: 16, got: 3 });
    let link = vector("enquire_link.hex");
    assert_eq!(err(&link[..15]), SmppError::Short { need: 16, got: 15 });
    let receipt = vector("deliver_sm_receipt.hex");
    let e = err(&receipt[..100]);
    assert_eq!(
        e,
        SmppError::Short {
            need: 191,
            got: 100
        }
    );
    assert_eq!(e.to_string(), "SMPP PDU too short: need 191 bytes, got 100");
    // A body that ends before a mandatory integer: need counts from the PDU start.
    let bind = pdu_with(command::BIND_TRANSCEIVER, b"id\0pw\0\0\x34");
    assert_eq!(err(&bind), SmppError::Short { need: 25, got: 24 });
    // ... or where a C-octet string should start.
    let bind = pdu_with(command::BIND_TRANSCEIVER, b"id\0pw\0\0\x34\x01\x01");
    assert_eq!(err(&bind), SmppError::Short { need: 27, got: 26 });
    // short_message shorter than sm_length.
    let mut sm = smpp::submit_sm(
        1,
        &Sm {
            short_message: b"twelve bytes".to_vec(),
            ..Sm::default()
        },
    );
    sm.truncate(sm.len() - 2);
    let len = sm.len() as u32;
    sm[..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(err(&sm), SmppError::Short { need: 45, got: 43 });
}

#[test]
fn error_bad_length() {
    for declared in [0u32, 1, 15] {
        let mut bytes = vector("enquire_link.hex");
        bytes[..4].copy_from_slice(&declared.to_be_bytes());
        assert_eq!(err(&bytes), SmppError::BadLength { declared });
        assert_eq!(
            next_frame(&bytes, 4096),
            Err(SmppError::BadLength { declared })
        );
    }
    assert_eq!(
        SmppError::BadLength { declared: 15 }.to_string(),
        "bad SMPP command_length 15 (00 00 00 0F): less than the 16-byte header (SMPP 3.4 §3.2)"
    );
    // Judged from the first four bytes alone.
    assert_eq!(err(&[0, 0, 0, 8]), SmppError::BadLength { declared: 8 });
}

#[test]
fn error_too_large() {
    let receipt = vector("deliver_sm_receipt.hex");
    let e = next_frame(&receipt, 190).expect_err("191 > 190");
    assert_eq!(
        e,
        SmppError::TooLarge {
            declared: 191,
            limit: 190
        }
    );
    assert_eq!(
        e.to_string(),
        "SMPP command_length 191 (00 00 00 BF) exceeds the limit of 190 bytes"
    );
    // Known from the length bytes alone, before the body arrives.
    assert_eq!(
        next_frame(&[0xFF, 0xFF, 0xFF, 0xFF], 1 << 16),
        Err(SmppError::TooLarge {
            declared: u32::MAX,
            limit: 1 << 16
        })
    );
    assert_eq!(next_frame(&receipt, 191), Ok(Some(191)));
}

#[test]
fn error_unterminated_cstring() {
    let bind = pdu_with(
        command::BIND_TRANSCEIVER,
        b"smsc-iwf\0secret08\0IWF\0\x34\x01\x01^447",
    );
    let e = err(&bind);
    assert_eq!(
        e,
        SmppError::UnterminatedCString {
            field: "address_range",
            bytes: b"^447".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "SMPP C-octet string address_range has no NUL before the end of the PDU: \"^447\""
    );
    let resp = pdu_with(command::SUBMIT_SM_RESP, b"5f3a\xff");
    assert_eq!(
        err(&resp).to_string(),
        "SMPP C-octet string message_id has no NUL before the end of the PDU: \"5f3a\\xFF\""
    );
    // In the middle of a submit_sm: the NUL of source_addr is missing, so the scan
    // runs to the end.
    let sm = pdu_with(command::SUBMIT_SM, b"\0\x01\x01447700900456");
    assert!(matches!(
        err(&sm),
        SmppError::UnterminatedCString {
            field: "source_addr",
            ..
        }
    ));
}

#[test]
fn error_field_too_long() {
    // system_id: 16 octets with the NUL at most.
    let ok = pdu_with(
        command::BIND_TRANSCEIVER,
        b"fifteen-chars-x\0pw\0\0\x34\x00\x00\0",
    );
    assert!(Pdu::parse(&ok).is_ok());
    let long = pdu_with(
        command::BIND_TRANSCEIVER,
        b"sixteen-chars-xx\0pw\0\0\x34\x00\x00\0",
    );
    let e = err(&long);
    assert_eq!(
        e,
        SmppError::FieldTooLong {
            field: "system_id",
            max: 16,
            bytes: b"sixteen-chars-xx\0".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "SMPP field system_id longer than the 16 octets SMPP 3.4 §4 allows: \"sixteen-chars-xx\\x00\""
    );
    // password: 9.
    let e = err(&pdu_with(
        command::BIND_TRANSMITTER,
        b"id\0password9\0\0\x34\x00\x00\0",
    ));
    assert!(matches!(
        e,
        SmppError::FieldTooLong {
            field: "password",
            max: 9,
            ..
        }
    ));
    // destination_addr: 21.
    let sm = Sm {
        destination_addr: "4".repeat(21),
        ..Sm::default()
    };
    assert!(matches!(
        err(&smpp::submit_sm(1, &sm)),
        SmppError::FieldTooLong {
            field: "destination_addr",
            max: 21,
            ..
        }
    ));
    let sm = Sm {
        destination_addr: "4".repeat(20),
        ..Sm::default()
    };
    assert!(Pdu::parse(&smpp::submit_sm(1, &sm)).is_ok());
    // validity_period: 17.
    let sm = Sm {
        validity_period: "0000010000000000R".into(),
        ..Sm::default()
    };
    assert!(matches!(
        err(&smpp::submit_sm(1, &sm)),
        SmppError::FieldTooLong {
            field: "validity_period",
            max: 17,
            ..
        }
    ));
    // message_id: 65.
    let e = err(&smpp::submit_sm_resp(1, 0, &"m".repeat(65)));
    assert!(matches!(
        e,
        SmppError::FieldTooLong {
            field: "message_id",
            max: 65,
            ..
        }
    ));
    // short_message: sm_length 255 (> 254).
    let sm = Sm {
        short_message: vec![b'x'; 255],
        ..Sm::default()
    };
    let e = err(&smpp::deliver_sm(1, &sm));
    assert!(
        matches!(&e, SmppError::FieldTooLong { field: "short_message", max: 254, bytes } if bytes.len() == 255),
        "{e:?}"
    );
    let sm = Sm {
        short_message: vec![b'x'; 254],
        ..Sm::default()
    };
    assert!(Pdu::parse(&smpp::deliver_sm(1, &sm)).is_ok());
}

#[test]
fn error_trailing_bytes() {
    let mut bytes = vector("enquire_link.hex");
    bytes.extend_from_slice(&[0xDE, 0xAD]);
    let e = err(&bytes);
    assert_eq!(
        e,
        SmppError::TrailingBytes {
            count: 2,
            bytes: vec![0xDE, 0xAD]
        }
    );
    assert_eq!(
        e.to_string(),
        "2 trailing bytes after the SMPP PDU's last field or command_length: DE AD"
    );
    // Inside command_length: an enquire_link with a body (rusmpp 0.4 accepts this).
    let e = err(&pdu_with(command::ENQUIRE_LINK, &[0xDE, 0xAD, 0xBE]));
    assert_eq!(
        e,
        SmppError::TrailingBytes {
            count: 3,
            bytes: vec![0xDE, 0xAD, 0xBE]
        }
    );
    // After the message_id of a submit_sm_resp (no TLVs in 3.4) and after a bind.
    assert!(matches!(
        err(&pdu_with(command::SUBMIT_SM_RESP, b"id\0\x00\x1e")),
        SmppError::TrailingBytes { count: 2, .. }
    ));
    assert!(matches!(
        err(&pdu_with(
            command::BIND_RECEIVER,
            b"a\0b\0\0\x34\0\0\0\x02\x10\x00\x01\x34"
        )),
        SmppError::TrailingBytes { count: 5, .. }
    ));
}

#[test]
fn error_bad_tlv() {
    let good = vector("deliver_sm_receipt.hex");
    // Cut the last TLV short (length says 1, no value octet), fixing command_length.
    let mut cut = good[..good.len() - 1].to_vec();
    let len = cut.len() as u32;
    cut[..4].copy_from_slice(&len.to_be_bytes());
    let e = err(&cut);
    assert_eq!(
        e,
        SmppError::BadTlv {
            offset: 186,
            bytes: vec![0x04, 0x27, 0x00, 0x01]
        }
    );
    assert_eq!(
        e.to_string(),
        "bad SMPP TLV at offset 186: tag 0x0427 declares 1 value bytes, 0 remain: 04 27 00 01"
    );
    // Fewer than four octets left for a TLV header.
    let mut three = good.clone();
    three.extend_from_slice(&[0x04, 0x23, 0x00]);
    let len = three.len() as u32;
    three[..4].copy_from_slice(&len.to_be_bytes());
    let e = err(&three);
    assert_eq!(
        e,
        SmppError::BadTlv {
            offset: 191,
            bytes: vec![0x04, 0x23, 0x00]
        }
    );
    assert_eq!(
        e.to_string(),
        "bad SMPP TLV at offset 191: 3 bytes left, a TLV needs at least 4 (tag, length): 04 23 00"
    );
    // In a bind response.
    let resp = pdu_with(
        command::BIND_TRANSCEIVER_RESP,
        b"liaison\0\x02\x10\x00\x02\x34",
    );
    assert!(matches!(err(&resp), SmppError::BadTlv { offset: 24, .. }));
}

#[test]
fn error_bad_udh() {
    let e = udh_parse(&[]).expect_err("empty");
    assert_eq!(
        e.to_string(),
        "bad user data header at octet 0 of short_message: empty short_message has no UDHL octet: (no bytes)"
    );
    let e = udh_parse(&[0x06, 0x05, 0x04, 0x0B]).expect_err("UDHL too long");
    assert_eq!(
        e,
        SmppError::BadUdh {
            offset: 0,
            reason: "UDHL runs past the end of short_message",
            bytes: vec![0x06, 0x05, 0x04, 0x0B]
        }
    );
    let e = udh_parse(&[0x05, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]).expect_err("IE past UDHL");
    assert_eq!(
        e.to_string(),
        "bad user data header at octet 1 of short_message: information element data runs past UDHL: 05 04 0B 84 23 F0"
    );
    let e = udh_parse(&[0x03, 0x00, 0x00, 0x08]).expect_err("IE header past UDHL");
    assert!(matches!(e, SmppError::BadUdh { offset: 3, .. }), "{e:?}");
}

#[test]
fn error_display_cuts_long_input() {
    let text = SmppError::UnterminatedCString {
        field: "short",
        bytes: vec![b'#'; 500],
    }
    .to_string();
    assert!(text.ends_with("… (436 more bytes)\""), "{text}");
    let text = SmppError::TrailingBytes {
        count: 500,
        bytes: vec![0; 500],
    }
    .to_string();
    assert!(text.ends_with("… (436 more bytes)"), "{text}");
    assert!(text.len() < 300);
}

/// Absent response bodies: allowed by §4.1.2/§4.4.2 for a non-zero status, and
/// kept as `Body::Empty` whatever the status, so that a scenario can judge them.
#[test]
fn response_without_body() {
    for id in [
        command::BIND_TRANSCEIVER_RESP,
        command::BIND_RECEIVER_RESP,
        command::SUBMIT_SM_RESP,
        command::DELIVER_SM_RESP,
    ] {
        let p = Pdu::parse(&pdu_with(id, b"")).expect("parses");
        assert_eq!(p.body, Body::Empty, "{}", p.name());
        assert_eq!(p.encode(), pdu_with(id, b""));
    }
    // Unknown or undecoded commands keep their body.
    let p = Pdu::parse(&pdu_with(command::DATA_SM, b"\x01\x02")).expect("parses");
    assert_eq!((p.name(), &p.body), ("data_sm", &Body::Unknown(vec![1, 2])));
    let p = Pdu::parse(&pdu_with(0x0000_0777, b"")).expect("parses");
    assert_eq!((p.name(), &p.body), ("unknown", &Body::Unknown(vec![])));
}

/// C-octet strings keep any byte (ISO 8859-1 mapping) and give it back.
#[test]
fn non_ascii_cstrings_round_trip() {
    let bytes = pdu_with(
        command::BIND_TRANSCEIVER,
        b"caf\xe9\0\xff\x80\0\0\x34\0\0\0",
    );
    let p = Pdu::parse(&bytes).expect("parses");
    let Body::Bind(b) = &p.body else { panic!() };
    assert_eq!(b.system_id, "café");
    assert_eq!(b.password, "\u{ff}\u{80}");
    assert_eq!(p.encode(), bytes);
}

// ---------------------------------------------------------------------------
// Stream framing
// ---------------------------------------------------------------------------

const MAX: u32 = 1 << 16;

/// Feed `chunks` into a buffer, draining every whole PDU after each.
fn receive(chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, SmppError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(n) = next_frame(&buf, MAX)? {
            out.push(buf.drain(..n).collect());
        }
    }
    assert!(buf.is_empty(), "left over: {:02X?}", buf);
    Ok(out)
}

#[test]
fn frame_two_pdus_split_at_every_position() {
    let a = vector("deliver_sm_receipt.hex");
    let b = vector("enquire_link.hex");
    let stream = [a.as_slice(), &b].concat();
    assert_eq!(next_frame(&stream, MAX), Ok(Some(a.len())));
    assert_eq!(next_frame(&stream[a.len()..], MAX), Ok(Some(b.len())));
    for split in 0..=stream.len() {
        let (first, second) = stream.split_at(split);
        assert_eq!(
            receive(&[first, second]).expect("frames"),
            vec![a.clone(), b.clone()],
            "split at {split}"
        );
    }
    // Three pieces, every pair of cut points.
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let got = receive(&[&stream[..i], &stream[i..j], &stream[j..]]).expect("frames");
            assert_eq!(got.len(), 2, "cuts {i},{j}");
        }
    }
}

#[test]
fn frame_every_vector_back_to_back() {
    let vectors: Vec<Vec<u8>> = all_vectors().into_iter().map(|(_, b)| b).collect();
    let stream = vectors.concat();
    for split in 0..=stream.len() {
        let got = receive(&[&stream[..split], &stream[split..]]).expect("frames");
        assert_eq!(got, vectors, "split at {split}");
    }
    // Byte by byte.
    let pieces: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(receive(&pieces).expect("frames"), vectors);
}

#[test]
fn frame_needs_more() {
    let a = vector("submit_sm_wap_push.hex");
    for cut in 0..a.len() {
        assert_eq!(next_frame(&a[..cut], MAX), Ok(None), "prefix {cut}");
    }
    assert_eq!(next_frame(&a, MAX), Ok(Some(a.len())));
    assert_eq!(next_frame(&[0, 0, 0, 16], MAX), Ok(None));
    assert_eq!(
        next_frame(&[0, 0, 0, 16], 15),
        Err(SmppError::TooLarge {
            declared: 16,
            limit: 15
        })
    );
}

// ---------------------------------------------------------------------------
// Delivery receipt text
// ---------------------------------------------------------------------------

fn receipt(text: &str) -> Receipt {
    Receipt::parse(text.as_bytes()).unwrap_or_else(|| panic!("a receipt: {text:?}"))
}

#[test]
fn receipt_round_trip() {
    let full = Receipt {
        id: "0123456789".into(),
        sub: Some("001".into()),
        dlvrd: Some("001".into()),
        submit_date: Some("2501151030".into()),
        done_date: Some("2501151031".into()),
        stat: "DELIVRD".into(),
        err: Some("000".into()),
        text: Some("Hello: stat:UNDELIV id:x".into()),
    };
    let text = full.format();
    assert_eq!(
        text,
        "id:0123456789 sub:001 dlvrd:001 submit date:2501151030 done date:2501151031 \
         stat:DELIVRD err:000 text:Hello: stat:UNDELIV id:x"
    );
    assert_eq!(
        receipt(&text),
        full,
        "text runs to the end, keys in it ignored"
    );
    let minimal = Receipt {
        id: "m1".into(),
        sub: None,
        dlvrd: None,
        submit_date: None,
        done_date: None,
        stat: "UNDELIV".into(),
        err: None,
        text: None,
    };
    assert_eq!(minimal.format(), "id:m1 stat:UNDELIV");
    assert_eq!(receipt(&minimal.format()), minimal);
    let empty_text = Receipt {
        text: Some(String::new()),
        ..minimal.clone()
    };
    assert_eq!(receipt(&empty_text.format()), empty_text);
    for s in 1..=8 {
        let r = Receipt {
            stat: state::stat(s).expect("word").into(),
            ..minimal.clone()
        };
        assert_eq!(receipt(&r.format()).state(), Some(s));
    }
}

/// The forms SMSC software writes (facts gathered from Kannel 1.4's
/// `smsc_smpp.c` reader and `opensmppbox` / `smscsimulator` writers, jsmpp's
/// receipt tests and Java SMPP library examples; no text copied).
#[test]
fn receipt_de_facto_forms() {
    // Kannel opensmppbox: "sub:001", dlvrd given, text cut to 12 characters.
    let r = receipt(
        "id:1a2b3c sub:001 dlvrd:001 submit date:2501151030 done date:2501151031 \
         stat:DELIVRD err:000 text:Hello Bob, l",
    );
    assert_eq!(
        (r.id.as_str(), r.state()),
        ("1a2b3c", Some(state::DELIVERED))
    );
    assert_eq!(r.text.as_deref(), Some("Hello Bob, l"));
    // Kannel's smscsimulator: "sub:000", empty text.
    let r = receipt(
        "id:42 sub:000 dlvrd:001 submit date:2501151030 done date:2501151030 stat:DELIVRD err:000 text:",
    );
    assert_eq!(
        (r.sub.as_deref(), r.text.as_deref()),
        (Some("000"), Some(""))
    );
    // One-digit dlvrd and err, a 32-hex-digit id, lowercase text key.
    let r = receipt(
        "id:c449ab9744f47b6af1879e49e75e4f40 sub:001 dlvrd:0 submit date:0610191018 \
         done date:0610191018 stat:REJECTD err:1 text:This is an Acti",
    );
    assert_eq!(r.id.len(), 32);
    assert_eq!(
        (r.dlvrd.as_deref(), r.err.as_deref()),
        (Some("0"), Some("1"))
    );
    assert_eq!(r.state(), Some(state::REJECTED));
    // Appendix B's own capital "Text:"; dates with seconds (12 digits), which
    // Kannel's reader accepts (up to 14 digits).
    let r = receipt(
        "id:77 sub:001 dlvrd:001 submit date:250115103059 done date:250115103112 \
         stat:EXPIRED err:000 Text:Hi",
    );
    assert_eq!(r.submit_date.as_deref(), Some("250115103059"));
    assert_eq!(r.done_date.as_deref(), Some("250115103112"));
    assert_eq!(
        (r.stat.as_str(), r.text.as_deref()),
        ("EXPIRED", Some("Hi"))
    );
    // Keys in any case; stat value in lowercase.
    let r = receipt(
        "ID:9 SUB:001 DLVRD:001 SUBMIT DATE:2501151030 DONE DATE:2501151031 STAT:undeliv ERR:034",
    );
    assert_eq!((r.id.as_str(), r.stat.as_str()), ("9", "undeliv"));
    assert_eq!(r.state(), Some(state::UNDELIVERABLE));
    assert_eq!(r.err.as_deref(), Some("034"));
    assert_eq!(r.submit_date.as_deref(), Some("2501151030"));
    // "submit date" with several spaces, an underscore, or none; spaces after the
    // colon; several spaces between fields.
    for form in ["submit  date", "submit_date", "submitdate", "Submit Date"] {
        let text = format!("id:5  sub:001 {form}: 2501151030   done date:2501151031 stat:ACCEPTD");
        let r = receipt(&text);
        assert_eq!(r.submit_date.as_deref(), Some("2501151030"), "{text}");
        assert_eq!(r.done_date.as_deref(), Some("2501151031"), "{text}");
        assert_eq!(r.state(), Some(state::ACCEPTED));
    }
    // Fields Kannel treats as buffered and words outside Appendix B: stat kept.
    let r = receipt("id:5 stat:BUFFRED err:000");
    assert_eq!((r.stat.as_str(), r.state()), ("BUFFRED", None));
    let r = receipt("id:5 stat:ENROUTE");
    assert_eq!(r.state(), Some(state::ENROUTE));
    // Not a receipt: no id, no stat, or keys glued to other words.
    for text in [
        "",
        "Hello Bob, lunch at noon?",
        "stat:DELIVRD err:000",
        "id:5 sub:001 dlvrd:001",
        "xid:5 xstat:DELIVRD",
    ] {
        assert_eq!(Receipt::parse(text.as_bytes()), None, "{text:?}");
    }
    // A non-UTF-8 octet in the text is kept (ISO 8859-1 mapping).
    let r = Receipt::parse(b"id:5 stat:DELIVRD text:caf\xe9").expect("receipt");
    assert_eq!(r.text.as_deref(), Some("caf\u{e9}"));
}

/// A receipt whose text travels in message_payload (short_message empty, §5.3.2).
#[test]
fn receipt_in_message_payload() {
    let text = b"id:abc sub:001 dlvrd:000 submit date:2501151030 done date:2501151040 stat:UNDELIV err:034 text:";
    let sm = Sm {
        esm_class: 0x04,
        tlvs: vec![
            Tlv::new(tlv::MESSAGE_PAYLOAD, text),
            Tlv::new(tlv::RECEIPTED_MESSAGE_ID, b"abc"),
            Tlv::new(tlv::NETWORK_ERROR_CODE, &[0x03, 0x00, 0x22]),
            Tlv::new(tlv::MESSAGE_STATE, &[state::UNDELIVERABLE]),
        ],
        ..Sm::default()
    };
    let p = Pdu::parse(&smpp::deliver_sm(9, &sm)).expect("parses");
    let sm = sm_of(&p);
    assert_eq!(sm.payload(), text);
    let r = sm.receipt().expect("receipt");
    assert_eq!(
        (r.id.as_str(), r.state()),
        ("abc", Some(state::UNDELIVERABLE))
    );
    assert_eq!(
        sm.receipted_message_id().as_deref(),
        Some("abc"),
        "missing NUL tolerated"
    );
    assert_eq!(
        p.tlv(tlv::NETWORK_ERROR_CODE),
        Some(&[0x03, 0x00, 0x22][..])
    );
    // esm_class 0x44 (receipt with UDHI bit) is a receipt; 0x08 and 0x20 are not.
    for (esm_class, is) in [(0x44u8, true), (0x08, false), (0x20, false), (0x0C, false)] {
        let other = Sm {
            esm_class,
            ..sm.clone()
        };
        assert_eq!(other.receipt().is_some(), is, "esm_class 0x{esm_class:02X}");
    }
}

// ---------------------------------------------------------------------------
// tshark reads the vectors the same way
// ---------------------------------------------------------------------------

#[test]
fn tshark_decodes_every_vector_the_same_way() {
    let _cpu = crate::common::low_priority();
    require_program("tshark", "tshark");
    let dir = tmpdir("smpp-vectors");
    let path = dir.join("vectors.pcap");
    let cap = liaison::net::capture::Capture::create(&path).expect("pcap");
    let esme: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let smsc: std::net::SocketAddr = "127.0.0.1:2775".parse().unwrap();
    cap.tcp_connect(esme, smsc);
    let vectors = all_vectors();
    for (_, bytes) in &vectors {
        cap.tcp_data(esme, smsc, bytes);
    }
    cap.flush().expect("flush");
    drop(cap);
    let p = path.to_str().unwrap();
    let decode = ["-d", "tcp.port==2775,smpp"];
    let mut args = vec!["-r", p];
    args.extend(decode);
    args.extend([
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 6291456",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    let problems = tshark(&args);
    assert!(
        problems.trim().is_empty(),
        "tshark flags frames:\n{problems}"
    );

    let mut args = vec!["-r", p];
    args.extend(decode);
    args.extend([
        "-Y",
        "smpp",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
    ]);
    for f in [
        "smpp.command_id",
        "smpp.sequence_number",
        "smpp.command_length",
        "smpp.system_id",
        "smpp.source_addr",
        "smpp.destination_addr",
        "smpp.message_id",
        "smpp.receipted_message_id",
        "smpp.message_state",
        "smpp.sm_length",
        "smpp.opt_param_tag",
    ] {
        args.extend(["-e", f]);
    }
    let theirs: Vec<String> = tshark(&args)
        .lines()
        .flat_map(|line| {
            // One frame may carry several PDUs: split each aggregated column.
            let cols: Vec<Vec<&str>> = line.split('\t').map(|c| c.split(';').collect()).collect();
            let n = cols[0].len();
            (0..n)
                .map(|i| {
                    let id = cols[0][i];
                    format!("{id} seq={}", cols[1].get(i).unwrap_or(&"?"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let ours: Vec<String> = vectors
        .iter()
        .map(|(_, b)| {
            let pdu = Pdu::parse(b).expect("parses");
            format!(
                "0x{:08x} seq={}",
                pdu.header.command_id, pdu.header.sequence_number
            )
        })
        .collect();
    assert_eq!(theirs, ours, "tshark's PDUs (left) and ours (right)");

    // Field values tshark found anywhere in the stream, against ours.
    let all = tshark(&args);
    let column = |k: usize| -> Vec<String> {
        all.lines()
            .flat_map(|l| {
                l.split('\t')
                    .nth(k)
                    .unwrap_or_default()
                    .split(';')
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut lengths: Vec<String> = column(2);
    let mut ours_len: Vec<String> = vectors.iter().map(|(_, b)| b.len().to_string()).collect();
    lengths.sort();
    ours_len.sort();
    assert_eq!(lengths, ours_len, "command_length");
    let mut system_ids = column(3);
    system_ids.sort();
    assert_eq!(system_ids, ["liaison", "smsc-iwf"]);
    assert!(column(4).contains(&"PPG".to_string()));
    assert_eq!(column(6), ["5f3a9c01"], "message_id");
    assert_eq!(column(7), ["5f3a9c01"], "receipted_message_id");
    assert_eq!(column(8), ["2"], "message_state");
    let mut sm_lengths = column(9);
    sm_lengths.sort();
    let mut ours_sm: Vec<String> = vectors
        .iter()
        .filter_map(|(_, b)| {
            Pdu::parse(b)
                .ok()?
                .sm()
                .map(|s| s.short_message.len().to_string())
        })
        .collect();
    ours_sm.sort();
    assert_eq!(sm_lengths, ours_sm, "sm_length");
    let mut tags = column(10);
    tags.sort();
    assert_eq!(tags, ["0x001e", "0x0204", "0x0210", "0x0427", "0x1401"]);
}

// ---------------------------------------------------------------------------
// No panic, whatever the input
// ---------------------------------------------------------------------------

/// Use every accessor of a parsed PDU and check the invariants tying it to its input.
fn exercise(input: &[u8], p: &Pdu) {
    assert_eq!(p.raw(), input);
    assert_eq!(p.encode(), input, "encode(parse(x)) == x");
    assert_eq!(p.header.command_length as usize, input.len());
    let _ = (p.name(), p.summary(), p.tlv(tlv::MESSAGE_STATE));
    if let Some(sm) = p.sm() {
        let _ = (sm.receipt(), sm.receipted_message_id(), sm.message_state());
        let _ = Receipt::parse(sm.payload()).map(|r| (r.format(), r.state()));
        if let Ok((ies, _)) = udh_parse(&sm.short_message) {
            let _ = (udh_port16(&ies), udh_concat(&ies));
        }
    }
}

fn check(input: &[u8]) {
    match Pdu::parse(input) {
        Ok(p) => exercise(input, &p),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
        }
    }
    for max in [0, 16, 200, MAX] {
        match next_frame(input, max) {
            Ok(Some(n)) => {
                assert!(n >= HEADER_LEN && n <= input.len() && n as u32 <= max);
                let _ = Pdu::parse(&input[..n]);
            }
            Ok(None) => {
                let declared = input
                    .get(..4)
                    .map(|b| u32::from_be_bytes(b.try_into().unwrap()));
                assert!(declared.is_none_or(|d| input.len() < d as usize));
            }
            Err(_) => {}
        }
    }
    let _ = Receipt::parse(input);
    let _ = udh_parse(input);
}

const IDS: &[u32] = &[
    command::BIND_TRANSCEIVER,
    command::BIND_RECEIVER,
    command::BIND_TRANSMITTER,
    command::BIND_TRANSCEIVER_RESP,
    command::BIND_TRANSMITTER_RESP,
    command::SUBMIT_SM,
    command::SUBMIT_SM_RESP,
    command::DELIVER_SM,
    command::DELIVER_SM_RESP,
    command::ENQUIRE_LINK,
    command::UNBIND_RESP,
    command::GENERIC_NACK,
    command::DATA_SM,
    0x0000_0777,
];

const FRAGMENTS: &[&[u8]] = &[
    b"\0",
    b"\x01",
    b"\x04",
    b"\x40",
    b"\x34",
    b"447700900123\0",
    b"smsc-iwf\0",
    b"WAP\0",
    b"000001000000000R\0",
    b"sixteen-chars-xx\0",
    b"\x00\x1e\x00\x04abc\0",
    b"\x04\x27\x00\x01\x02",
    b"\x04\x24\x00\x10",
    b"\x02\x10\x00\x01",
    b"\x00",
    b"\xff",
    b"id:5 stat:DELIVRD ",
    b"text:",
    b"\x06\x05\x04\x0b\x84\x23\xf0",
    b"\x05\x00\x03\x2a\x02\x01",
];

#[test]
fn no_panic_on_random_input() {
    let _cpu = crate::common::low_priority();
    let mut rng = XorShift(0x5eed_5399_0a11_d00d);
    let mut parsed = 0;
    for _ in 0..200_000 {
        let mut input = Vec::new();
        let structured = rng.below(4) != 0;
        if structured {
            // A header with a known command_id, then fragments.
            input.extend_from_slice(&[0; 4]);
            input.extend_from_slice(&IDS[rng.below(IDS.len())].to_be_bytes());
            input.extend_from_slice(&(rng.below(3) as u32).to_be_bytes());
            input.extend_from_slice(&(rng.next() as u32).to_be_bytes());
            for _ in 0..rng.below(24) {
                if rng.below(3) == 0 {
                    input.push(rng.next() as u8);
                } else {
                    input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                }
            }
            // Mostly the right command_length, sometimes off.
            let len = match rng.below(6) {
                0 => rng.next() as u32,
                1 => (input.len() as u32)
                    .wrapping_add(rng.below(5) as u32)
                    .wrapping_sub(2),
                _ => input.len() as u32,
            };
            input[..4].copy_from_slice(&len.to_be_bytes());
        } else {
            for _ in 0..rng.below(200) {
                input.push(rng.next() as u8);
            }
        }
        if Pdu::parse(&input).is_ok() {
            parsed += 1;
        }
        check(&input);
    }
    assert!(
        parsed > 10_000,
        "structured inputs reach the decoders: {parsed}"
    );
}

#[test]
fn no_panic_on_mutated_vectors() {
    let _cpu = crate::common::low_priority();
    let replacements = [0x00, 0xff, 0x01, 0x04, 0x10, 0x40, 0x7f, 0x80, b'0', b' '];
    let mut rng = XorShift(0x0bad_cafe_f00d_5399);
    for (_, bytes) in all_vectors() {
        // Truncation at every position, from either end.
        for cut in 0..=bytes.len() {
            check(&bytes[..cut]);
            check(&bytes[cut..]);
        }
        // Every byte replaced by each interesting value, and flipped.
        for pos in 0..bytes.len() {
            let mut m = bytes.clone();
            for &r in &replacements {
                m[pos] = r;
                check(&m);
            }
            m[pos] = bytes[pos] ^ 0xff;
            check(&m);
        }
        // Random multi-byte mutations, insertions and deletions, with command_length
        // fixed up half the time so that the body decoders see them.
        for _ in 0..1_000 {
            let mut m = bytes.clone();
            for _ in 0..=rng.below(8) {
                let pos = rng.below(m.len() + 1);
                match rng.below(3) {
                    0 if pos < m.len() => m[pos] = rng.next() as u8,
                    1 => m.insert(pos, replacements[rng.below(replacements.len())]),
                    _ if pos < m.len() => {
                        m.remove(pos);
                    }
                    _ => {}
                }
            }
            if rng.below(2) == 0 && m.len() >= 4 {
                let len = m.len() as u32;
                m[..4].copy_from_slice(&len.to_be_bytes());
            }
            check(&m);
        }
    }
}
