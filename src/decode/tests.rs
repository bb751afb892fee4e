use super::*;

fn one(proto: Proto, b: &[u8]) -> Pdu {
    decode_one(proto, b).0
}

fn field<'a>(p: &'a Pdu, name: &str) -> &'a Field {
    p.fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name} in {:#?}", p.fields))
}

fn hex_fixture(text: &str) -> Vec<u8> {
    match input::detect(text.as_bytes()).unwrap() {
        input::Input::Hex(d) => d,
        other => panic!("{other:?}"),
    }
}

#[test]
fn guesses_each_protocol_from_its_first_bytes() {
    let g = |b: &[u8]| guess(b).map(|(p, _)| p);
    assert_eq!(g(b"MESSAGE sip:a@b SIP/2.0\r\n"), Some(Proto::Sip));
    assert_eq!(g(b"\r\nSIP/2.0 200 OK\r\n"), Some(Proto::Sip));
    assert_eq!(g(b"MSRP a1 SEND\r\n"), Some(Proto::Msrp));
    assert_eq!(g(b"POST /wappush HTTP/1.1\r\n"), Some(Proto::Http));
    assert_eq!(g(b"<?xml version=\"1.0\"?>\n<pap>"), Some(Proto::Pap));
    assert_eq!(g(b"220 mx ESMTP\r\n"), Some(Proto::Smtp));
    assert_eq!(g(b"EHLO client\r\n"), Some(Proto::Smtp));
    assert_eq!(
        g(&[0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]),
        Some(Proto::Smpp)
    );
    assert_eq!(g(&[0x8C, 0x82, 0x98]), Some(Proto::Mms));
    assert_eq!(g(&[0x01, 0x06, 0x01, 0xBE]), Some(Proto::Wsp));
    assert_eq!(g(b"hello"), None);
    assert_eq!(g(b""), None);
    // An SMPP header whose command_id is no command is not SMPP.
    assert_eq!(
        g(&[0, 0, 0, 16, 0xAB, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]),
        None
    );
}

#[test]
fn sip_fields_carry_their_offsets() {
    let raw = b"MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n \
                ;received=1.2.3.4\r\nl: 2\r\n\r\nhi";
    let p = one(Proto::Sip, raw);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(
        (field(&p, "Method").offset, field(&p, "Method").len),
        (0, 7)
    );
    assert_eq!(field(&p, "Request-URI").offset, 8);
    let via = field(&p, "v (Via)");
    // The continuation line belongs to the field.
    assert_eq!(via.offset, 25);
    assert!(via.value.ends_with(";received=1.2.3.4"), "{}", via.value);
    let body = field(&p, "body");
    assert_eq!((body.offset, body.len), (raw.len() - 2, 2));
}

#[test]
fn sip_errors_name_the_line() {
    let raw = b"MESSAGE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n";
    let p = one(Proto::Sip, raw);
    let e = p.error.expect("an error");
    assert_eq!(e.offset, 25);
    assert!(render::error_line(&one(Proto::Sip, raw))
        .unwrap()
        .contains("[56] 69 61"),);
    let cut = one(Proto::Sip, b"MESSAGE sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc");
    assert_eq!(cut.error.unwrap().offset, 37);
}

#[test]
fn smpp_walk_and_truncation() {
    let v = hex_fixture(include_str!(
        "../../fixtures/messages/smpp/submit_sm_wap_push.hex"
    ));
    let p = one(Proto::Smpp, &v);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(field(&p, "destination_addr").offset, 28);
    assert_eq!(field(&p, "short_message").offset, 51);
    // The WSP push in the short message, two levels down.
    let t = field(&p, "PDU type");
    assert_eq!((t.offset, t.depth), (59, 2));
    // Cut inside destination_addr: the fields before it, the error at it.
    let p = one(Proto::Smpp, &v[..35]);
    let e = p.error.clone().unwrap();
    assert_eq!(e.offset, 28);
    assert!(e.message.contains("destination_addr"), "{}", e.message);
    assert_eq!(field(&p, "dest_addr_npi").offset, 27);
}

#[test]
fn mms_error_offsets_come_from_the_codec() {
    // X-Mms-Message-Type, then X-Mms-Transaction-ID whose text has no NUL.
    let p = one(Proto::Mms, &[0x8C, 0x82, 0x98, b'a', b'b']);
    assert_eq!(field(&p, "X-Mms-Message-Type").offset, 0);
    let e = p.error.clone().unwrap();
    assert!(e.offset >= 2 && e.offset <= 5, "{e:?}");
}

#[test]
fn smtp_reply_command_and_mail() {
    let p = one(Proto::Smtp, b"250-a\r\n250 OK\r\n");
    assert_eq!(p.len, 15);
    assert_eq!(
        p.fields.iter().filter(|f| f.name == "reply-code").count(),
        2
    );
    let p = one(Proto::Smtp, b"MAIL FROM:<a@b>\r\n");
    assert_eq!(field(&p, "argument").offset, 5);
    let p = one(Proto::Smtp, b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(field(&p, "body").offset, 14);
    assert_eq!(field(&p, "end of data").offset, 20);
}

#[test]
fn several_pdus_one_after_the_other() {
    let mut b = vec![0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1];
    b.extend_from_slice(&[0, 0, 0, 16, 0x80, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]);
    let d = decode_pdus(&b, None).unwrap();
    assert_eq!(d.pdus.len(), 2);
    assert_eq!(d.pdus[1].pdu.start, 16);
    assert!(!d.has_errors());
    assert!(decode_pdus(b"", None).is_err());
    let e = decode_pdus(b"garbage", None).unwrap_err();
    assert!(e.0.starts_with("unknown PDU"), "{e}");
}

#[test]
fn nothing_panics_on_mutated_vectors() {
    let seeds: [&[u8]; 4] = [
        include_bytes!("../../fixtures/messages/sip/compact.sip"),
        include_bytes!("../../fixtures/messages/msrp/send-text.msrp"),
        include_bytes!("../../fixtures/messages/pap/push_message_two_addresses.xml"),
        &[
            0x1F, 0x06, 0x03, 0xBE, 0xAF, 0x84, 0x8C, 0x82, 0x98, 0x61, 0x00, 0x8D, 0x93,
        ],
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for seed in seeds {
        for _ in 0..200 {
            let mut b = seed.to_vec();
            let cut = (next() as usize) % (b.len() + 1);
            b.truncate(cut.max(1));
            for _ in 0..3 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            for p in Proto::ALL {
                let _ = decode_one(p, &b);
            }
            let _ = decode_input(&b, None);
        }
    }
}

#[test]
fn rendered_smpp_wap_push() {
    let v = hex_fixture(include_str!(
        "../../fixtures/messages/smpp/submit_sm_wap_push.hex"
    ));
    let d = decode_pdus(&v, None).unwrap();
    insta::assert_snapshot!(render::text(&d));
}

#[test]
fn rendered_msrp_send() {
    let d = decode_pdus(
        include_bytes!("../../fixtures/messages/msrp/send-text.msrp"),
        None,
    )
    .unwrap();
    insta::assert_snapshot!(render::text(&d));
}

#[test]
fn output_is_bounded() {
    let link = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1];
    let b: Vec<u8> = link
        .iter()
        .copied()
        .cycle()
        .take(16 * (MAX_PDUS + 5))
        .collect();
    let d = decode_pdus(&b, None).unwrap();
    assert_eq!(d.pdus.len(), MAX_PDUS);
    let stop = d.stopped.as_deref().unwrap();
    assert!(
        stop.contains("the last 80 bytes were not decoded"),
        "{stop}"
    );
    assert!(render::text(&d).contains("stopped after 1000 PDUs"));
    // One PDU of 10 000 header fields lists MAX_FIELDS of them.
    let mut sip = b"MESSAGE sip:a@b SIP/2.0\r\n".to_vec();
    for i in 0..10_000 {
        sip.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    sip.extend_from_slice(b"\r\n");
    let p = one(Proto::Sip, &sip);
    assert_eq!(p.fields.len(), MAX_FIELDS);
    assert!(p.fields_more > 0);
}
