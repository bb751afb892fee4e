//! The MMS encapsulation codec (`src/codec/mms/`) against PDUs liaison did not
//! produce (`fixtures/messages/mms/`, provenance in its README), field by field,
//! and tshark's MMSE dissector as an independent reading of every PDU the
//! builders make.

use liaison::codec::mms::{
    body, Address, Body, ContentType, EncodedString, Field, FromValue, Header, MediaType,
    MessageClass, MessageType, Param, Pdu, PduBuilder, Priority, ResponseStatus, Status, TimeValue,
    Version, YesNo,
};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages/mms")
}

/// The octets of a `.hex` vector (`#` starts a comment) and its title line.
fn read_hex(name: &str) -> (String, Vec<u8>) {
    let path = dir().join(name);
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

fn vector(name: &str) -> Pdu {
    let (_, bytes) = read_hex(name);
    let pdu = Pdu::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(pdu.encode(), bytes, "{name}: encode(parse(x)) == x");
    assert_eq!(pdu.raw(), bytes.as_slice());
    pdu
}

fn names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_vector_is_listed_in_the_readme_and_titled() {
    let readme = std::fs::read_to_string(dir().join("README.md")).expect("README.md");
    let names = names();
    assert!(names.len() >= 4, "{names:?}");
    for n in &names {
        assert!(
            readme.contains(&format!("`{n}`")),
            "{n} is not in README.md"
        );
        let (title, _) = read_hex(n);
        assert!(
            title.starts_with(&format!("# {}: ", n.trim_end_matches(".hex"))),
            "{title}"
        );
        // No vector breaks the order rules.
        assert!(vector(n).order_violations().is_empty(), "{n}");
    }
}

fn encoded(text: &str, charset: Option<u32>) -> EncodedString {
    EncodedString {
        charset,
        text: text.to_string(),
    }
}

#[test]
fn mmsd_ni_mms_1_3_con_271() {
    let p = vector("mmsd_ni_mms_1_3_con_271.hex");
    assert_eq!(p.message_type(), Some(MessageType::NOTIFICATION_IND));
    assert_eq!(p.transaction_id(), Some("OgQKKB"));
    assert_eq!(p.version(), Some(Version::V1_0));
    let from = p.from().and_then(FromValue::address).unwrap();
    assert_eq!(from, &encoded("+44123989100/TYPE=PLMN", None));
    assert_eq!(
        Address::parse(&from.text).unwrap(),
        Address::plmn("+44123989100")
    );
    // Value-length 31 and a uintvar (42), charset us-ascii (3).
    assert_eq!(p.raw()[38..41], [0x96, 0x1F, 0x2A]);
    assert_eq!(
        p.subject(),
        Some(&encoded(
            "abcdefghijklmnopqrstuvwxyz0123456789/-+@",
            Some(3)
        ))
    );
    assert_eq!(p.message_class(), Some(&MessageClass::Personal));
    assert_eq!(p.message_size(), Some(0x5A1D));
    assert_eq!(p.expiry(), Some(TimeValue::Relative(259_200)));
    // The location as sent, leading space included.
    assert_eq!(p.content_location(), Some(" http://eps3.de/O/Z9IZO"));
    assert_eq!(p.headers.len(), 9);
    assert!(p.body.is_none());
}

#[test]
fn mmsd_rc_mms_1_3_con_211() {
    let p = vector("mmsd_rc_mms_1_3_con_211.hex");
    assert_eq!(p.message_type(), Some(MessageType::RETRIEVE_CONF));
    assert_eq!(p.transaction_id(), Some("00000000211"));
    assert_eq!(p.version(), Some(Version::V1_3));
    assert_eq!(p.date(), Some(0x4DE8_E93B));
    // UTF-8 (0xEA) with a byte-order mark, in a 31+uintvar Value-length.
    assert_eq!(
        p.subject(),
        Some(&encoded("\u{feff}Shõrt Téxt - ¥üëäÿ", Some(106)))
    );
    assert_eq!(
        p.from()
            .and_then(FromValue::address)
            .map(|a| a.text.as_str()),
        Some("+33622222222/TYPE=PLMN")
    );
    assert_eq!(p.to(), vec![&encoded("+33666565565/TYPE=PLMN", None)]);
    let ct = p.content_type().unwrap();
    assert_eq!(ct.media, MediaType::WellKnown(body::MULTIPART_RELATED));
    assert_eq!(ct.start(), Some("<SMIL>"));
    assert_eq!(
        ct.root_type(),
        Some(&MediaType::Text("application/smil".into()))
    );
    let parts = p.parts();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0].content_type.media,
        MediaType::Text("application/smil".into())
    );
    assert_eq!(parts[0].content_id(), Some("<SMIL>"));
    assert_eq!(parts[0].content_location(), Some("/tmp/php86myoT"));
    assert_eq!(parts[0].data.len(), 0x131);
    assert!(parts[0].data.starts_with(b"<smil>\n\t<head>"));
    assert!(parts[0].data.ends_with(b"</smil>\n\n"));
    assert_eq!(
        parts[1].content_type.media,
        MediaType::WellKnown(body::TEXT_PLAIN)
    );
    assert_eq!(parts[1].content_type.charset(), Some(3));
    assert_eq!(parts[1].content_id(), Some("<Generic_Text.txt>"));
    assert_eq!(parts[1].content_location(), Some("/tmp/php0nDmnY"));
    assert_eq!(parts[1].data, b"\xEF\xBB\xBFHello World");
}

#[test]
fn mmsd_rc_mms_1_3_con_212() {
    let p = vector("mmsd_rc_mms_1_3_con_212.hex");
    assert_eq!(p.message_type(), Some(MessageType::RETRIEVE_CONF));
    assert_eq!(p.transaction_id(), Some("00000000212"));
    assert_eq!(p.version(), Some(Version::V1_3));
    assert_eq!(p.date(), Some(0x4DE8_AD31));
    assert_eq!(p.subject(), Some(&encoded("MMS-1.3-con-212", Some(3))));
    assert_eq!(p.to().len(), 1);
    assert_eq!(
        p.content_type(),
        Some(&ContentType::well_known(body::MULTIPART_MIXED))
    );
    let parts = p.parts();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].content_type,
        ContentType::well_known(body::TEXT_PLAIN).with(Param::Charset(3))
    );
    assert_eq!(parts[0].content_id(), Some("<Text_us-ascii.txt>"));
    assert_eq!(parts[0].content_location(), Some("/tmp/phpnjgFBV"));
    assert_eq!(
        parts[0].data,
        b"The quick brown fox jumped over the lazy dog 1234567890/!()"
    );
}

#[test]
fn mmsd_sr_mms_mixed() {
    let p = vector("mmsd_sr_mms_mixed.hex");
    assert_eq!(p.message_type(), Some(MessageType::SEND_REQ));
    assert_eq!(p.transaction_id(), Some("000000000001"));
    assert_eq!(p.version(), Some(Version::V1_0));
    assert_eq!(p.from(), Some(&FromValue::InsertAddress));
    assert_eq!(p.to(), vec![&encoded("+33612345678/TYPE=PLMN", None)]);
    assert_eq!(p.subject(), None);
    let parts = p.parts();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].content_type.charset(), Some(106));
    assert_eq!(parts[0].content_id(), Some("<Generic_Text.txt>"));
    assert_eq!(parts[0].content_location(), None);
    assert_eq!(parts[0].data, b"\xEF\xBB\xBFHello World\n");
}

#[test]
fn mmsd_sr_mms_related_multi_to() {
    let p = vector("mmsd_sr_mms_related_multi_to.hex");
    assert_eq!(p.message_type(), Some(MessageType::SEND_REQ));
    assert_eq!(p.transaction_id(), Some("000000000002"));
    assert_eq!(p.from(), Some(&FromValue::InsertAddress));
    let to: Vec<Address> = p
        .to()
        .iter()
        .map(|e| Address::parse(&e.text).unwrap())
        .collect();
    assert_eq!(
        to,
        vec![Address::plmn("+33612345678"), Address::plmn("+33612345679")]
    );
    let ct = p.content_type().unwrap();
    assert_eq!(ct.start(), Some("<SMIL>"));
    let parts = p.parts();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_id(), Some("<SMIL>"));
    assert_eq!(parts[0].data.len(), 0x131);
    assert_eq!(parts[1].content_id(), Some("<Generic_Text.txt>"));
    assert_eq!(parts[1].data, b"\xEF\xBB\xBFHello World\n");
}

#[test]
fn mudita_notification_tmobile() {
    let p = vector("mudita_notification_tmobile.hex");
    assert_eq!(p.message_type(), Some(MessageType::NOTIFICATION_IND));
    assert_eq!(
        p.transaction_id(),
        Some("182a1b7291d85f20d@p2.mmsc.t-mobile.pl")
    );
    assert_eq!(p.version(), Some(Version::V1_1));
    assert_eq!(p.message_class(), Some(&MessageClass::Personal));
    assert_eq!(p.message_size(), Some(0x85C2));
    // Relative expiry in a two-octet Long-integer.
    assert_eq!(p.expiry(), Some(TimeValue::Relative(0xA8BE)));
    assert_eq!(
        p.content_location(),
        Some("http://10.242.243.40:9800/mm1?id=220815182a1b7281926f05bb")
    );
    assert_eq!(
        p.from().and_then(FromValue::address),
        Some(&encoded("+48505050505/TYPE=PLMN", None))
    );
    // An empty Subject: just the NUL.
    assert_eq!(p.subject(), Some(&encoded("", None)));
    assert_eq!(p.raw().last_chunk::<2>(), Some(&[0x96, 0x00]));
}

#[test]
fn mudita_notification_orange() {
    let p = vector("mudita_notification_orange.hex");
    assert_eq!(p.message_type(), Some(MessageType::NOTIFICATION_IND));
    assert_eq!(p.transaction_id(), Some("Abcdefghi"));
    assert_eq!(p.version(), Some(Version::V1_2));
    assert_eq!(
        Address::parse(&p.from().unwrap().address().unwrap().text).unwrap(),
        Address::plmn("+48123456789")
    );
    assert_eq!(p.delivery_report(), Some(YesNo::NO));
    assert_eq!(p.message_class(), Some(&MessageClass::Personal));
    assert_eq!(p.message_size(), Some(0x85AE));
    assert_eq!(p.expiry(), Some(TimeValue::Relative(0xA8BF)));
    assert_eq!(
        p.content_location(),
        Some("http://geom2:8002/mmsc/c?Abcdefghi")
    );
    assert_eq!(p.raw().len(), 91, "the Content-Length of its WSP envelope");
}

#[test]
fn sms_gateway_notification_charset_from() {
    let p = vector("sms_gateway_notification_charset_from.hex");
    assert_eq!(p.message_type(), Some(MessageType::NOTIFICATION_IND));
    assert_eq!(p.transaction_id(), Some("m-7-112-3-cef7ef-b9-51-2"));
    assert_eq!(p.version(), Some(Version::V1_2));
    // From: Value-length 15, Address-present, then an Encoded-string in the
    // charset form (length 13, us-ascii) holding a bare number, no /TYPE=.
    assert_eq!(p.raw()[30..34], [0x89, 0x0F, 0x80, 0x0D]);
    assert_eq!(
        p.from().and_then(FromValue::address),
        Some(&encoded("19162255887", Some(3)))
    );
    assert!(Address::parse("19162255887").is_ok_and(|a| a.kind() == "short code"));
    assert_eq!(p.message_class(), Some(&MessageClass::Personal));
    assert_eq!(p.message_size(), Some(0x0283));
    assert_eq!(p.expiry(), Some(TimeValue::Relative(259_200)));
    assert_eq!(
        p.content_location(),
        Some("http://xx.x-xxxxxx.xxx/mm?T=m-x-xx-x-xxxxxx-xx")
    );
    // Delivery-Report after the location: allowed (only the first three
    // headers and Content-Type have fixed places).
    assert_eq!(
        p.headers.last(),
        Some(&Header::Token(Field::DELIVERY_REPORT, 0x80))
    );
    assert_eq!(p.delivery_report(), Some(YesNo::YES));
}

// ---------------------------------------------------------------------------
// tshark's MMSE dissector reads what the builders make the same way
// ---------------------------------------------------------------------------

fn smil() -> (ContentType, Body) {
    let smil = b"<smil><body><par><text src=\"cid:t.txt\"/></par></body></smil>";
    (
        ContentType::multipart_related("application/smil", "<smil>"),
        Body::Multipart(vec![
            body::Part::new(ContentType::named("application/smil"), smil)
                .with_content_id("<smil>")
                .with_content_location("smil.xml"),
            body::Part::text("Hello \u{2709}")
                .with_content_id("<t.txt>")
                .with_content_location("t.txt"),
        ]),
    )
}

/// One PDU of every builder, as the harness and the reference SUTs send them.
fn built() -> Vec<(&'static str, Pdu)> {
    let sip = Address::typed("SIP", "sip:alice@example.com;user=phone");
    let plmn = Address::plmn("+15551234567");
    let (ct, body) = smil();
    vec![
        (
            "M-Send.req",
            PduBuilder::send_req("send-1", FromValue::InsertAddress, ct.clone(), body.clone())
                .to(&plmn)
                .to(&Address::email("bob@example.com"))
                .cc(&sip)
                .subject("Hello")
                .date(1_700_000_000)
                .delivery_report(true)
                .read_report(false)
                .priority(Priority::HIGH)
                .expiry(TimeValue::Relative(604_800))
                .build(),
        ),
        (
            "M-Send.conf",
            PduBuilder::send_conf("send-1", ResponseStatus::OK)
                .message_id("msg-1@mmsc.example")
                .build(),
        ),
        (
            "M-Send.conf (unresolved)",
            PduBuilder::send_conf(
                "send-2",
                ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
            )
            .response_text("unknown recipient")
            .build(),
        ),
        (
            "M-Notification.ind",
            PduBuilder::notification_ind(
                "tid-1",
                "http://mmsc.example/mms/1",
                2048,
                TimeValue::Relative(86_400),
            )
            .from(&plmn)
            .subject("Hello")
            .build(),
        ),
        (
            "M-Notification.ind (SIP URI, 1.2)",
            PduBuilder::notification_ind(
                "tid-2",
                "http://mmsc.example/mms/2",
                300,
                TimeValue::Relative(3600),
            )
            .version(Version::V1_2)
            .from(&sip)
            .message_class(MessageClass::Informational)
            .build(),
        ),
        (
            "M-Notification.ind (1.3 Applic-ID)",
            PduBuilder::notification_ind(
                "tid-3",
                "http://mmsc.example/mms/3",
                100,
                TimeValue::Absolute(1_700_003_600),
            )
            .from(&sip)
            .applic_id("MEM")
            .reply_applic_id("MEM-reply")
            .aux_applic_info("aux")
            .build(),
        ),
        (
            "M-NotifyResp.ind",
            PduBuilder::notify_resp_ind("tid-1", Status::RETRIEVED)
                .report_allowed(true)
                .build(),
        ),
        (
            "M-Retrieve.conf",
            PduBuilder::retrieve_conf(1_700_000_100, ct, body)
                .transaction_id("tid-1")
                .message_id("msg-1@mmsc.example")
                .from(&sip)
                .to(&plmn)
                .subject("Hello")
                .message_class(MessageClass::Personal)
                .build(),
        ),
        (
            "M-Acknowledge.ind",
            PduBuilder::acknowledge_ind("tid-1")
                .report_allowed(false)
                .build(),
        ),
        (
            "M-Delivery.ind",
            PduBuilder::delivery_ind("msg-1@mmsc.example", &sip, 1_700_000_300, Status::RETRIEVED)
                .build(),
        ),
    ]
}

/// Writes each PDU in a WSP push (application/vnd.wap.mms-message, mms.ua) in a
/// UDP datagram 9200 → 2948 and returns the pcap's path.
fn pcap_of(tag: &str, pdus: &[Vec<u8>]) -> String {
    use liaison::codec::wsp::{push_pdu, AppId, ContentType as WspCt};
    let dir = crate::common::tmpdir(tag);
    let path = dir.join("mms.pcap");
    let cap = liaison::net::capture::Capture::create(&path).expect("pcap");
    let ppg: std::net::SocketAddr = "127.0.0.1:9200".parse().unwrap();
    let phone: std::net::SocketAddr = "127.0.0.1:2948".parse().unwrap();
    for (i, p) in pdus.iter().enumerate() {
        let push = push_pdu(i as u8, WspCt::WellKnown(0x3E), AppId::MMS_UA, p);
        cap.udp(ppg, phone, &push);
    }
    cap.flush().expect("flush");
    drop(cap);
    path.to_str().unwrap().to_string()
}

const TSHARK_FIELDS: &[&str] = &[
    "mmse.message_type",
    "mmse.transaction_id",
    "mmse.mms_version",
    "mmse.from",
    "mmse.to",
    "mmse.cc",
    "mmse.subject",
    "mmse.content_location",
    "mmse.message_size",
    "mmse.expiry.rel",
    "mmse.expiry.abs",
    "mmse.status",
    "mmse.response_status",
    "mmse.response_text",
    "mmse.retrieve_status",
    "mmse.message_id",
    "mmse.date",
    "mmse.message_class.id",
    "mmse.priority",
    "mmse.delivery_report",
    "mmse.read_report",
    "mmse.report_allowed",
];

/// Runs tshark with TZ=UTC (absolute times are printed in the local zone).
fn tshark_utc(args: &[&str]) -> String {
    let o = std::process::Command::new("tshark")
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        o.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Seconds since the epoch as tshark prints an absolute time in UTC
/// (`Nov 14, 2023 22:13:20.000000000 UTC`), by the days-to-civil algorithm.
fn utc(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:2}, {year} {:02}:{:02}:{:02}.000000000 UTC",
        names[(month - 1) as usize],
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Our reading of a PDU in the shape of tshark's `-T fields` line.
fn our_fields(p: &Pdu) -> String {
    let tok = |f: Field| {
        p.all(f)
            .filter_map(|h| match h {
                Header::Token(_, t) => Some(format!("{t:#04x}")),
                _ => None,
            })
            .next()
            .unwrap_or_default()
    };
    let join = |v: Vec<&EncodedString>| {
        v.iter()
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
            .join("|")
    };
    let time = |t: Option<TimeValue>, rel: bool| match (t, rel) {
        (Some(TimeValue::Relative(s)), true) => format!("{s}.000000000"),
        (Some(TimeValue::Absolute(a)), false) => utc(a),
        _ => String::new(),
    };
    let cols = [
        p.message_type()
            .map(|t| format!("{:#04x}", t.0))
            .unwrap_or_default(),
        p.transaction_id().unwrap_or_default().to_string(),
        p.version().map(|v| v.to_string()).unwrap_or_default(),
        match p.from() {
            Some(FromValue::Address(a)) => a.text.clone(),
            Some(FromValue::InsertAddress) => "<insert address>".into(),
            None => String::new(),
        },
        join(p.to()),
        join(p.cc()),
        p.subject().map(|s| s.text.clone()).unwrap_or_default(),
        p.content_location().unwrap_or_default().to_string(),
        p.message_size().map(|n| n.to_string()).unwrap_or_default(),
        time(p.expiry(), true),
        time(p.expiry(), false),
        tok(Field::STATUS),
        tok(Field::RESPONSE_STATUS),
        p.response_text()
            .map(|s| s.text.clone())
            .unwrap_or_default(),
        tok(Field::RETRIEVE_STATUS),
        p.message_id().unwrap_or_default().to_string(),
        p.date().map(utc).unwrap_or_default(),
        match p.message_class() {
            Some(MessageClass::Personal) => "0x80".into(),
            Some(MessageClass::Advertisement) => "0x81".into(),
            Some(MessageClass::Informational) => "0x82".into(),
            Some(MessageClass::Auto) => "0x83".into(),
            _ => String::new(),
        },
        tok(Field::PRIORITY),
        tok(Field::DELIVERY_REPORT),
        tok(Field::READ_REPORT),
        tok(Field::REPORT_ALLOWED),
    ];
    cols.join("\t")
}

fn tshark_agrees(tag: &str, pdus: &[(String, Pdu)]) {
    crate::common::require_program("tshark", "tshark");
    let octets: Vec<Vec<u8>> = pdus.iter().map(|(_, p)| p.raw().to_vec()).collect();
    let path = pcap_of(tag, &octets);
    let problems = tshark_utc(&[
        "-r",
        &path,
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
    let mut args = vec![
        "-r",
        path.as_str(),
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
    ];
    for f in TSHARK_FIELDS {
        args.extend(["-e", f]);
    }
    let out = tshark_utc(&args);
    let theirs: Vec<&str> = out.lines().collect();
    assert_eq!(theirs.len(), pdus.len(), "one line per frame:\n{out}");
    for ((name, pdu), line) in pdus.iter().zip(theirs) {
        // tshark 4.0 shows the text of an Encoded-string as ASCII whatever its
        // charset: a non-ASCII text is compared as "it is not ASCII" only.
        let mask = |col: &str| {
            if col.is_ascii() {
                col.to_string()
            } else {
                "<non-ASCII>".to_string()
            }
        };
        let line: Vec<String> = line.split('\t').map(mask).collect();
        let ours: Vec<String> = our_fields(pdu).split('\t').map(mask).collect();
        assert_eq!(
            line.join("\t"),
            ours.join("\t"),
            "{name}: tshark's reading (left) and ours (right), fields {TSHARK_FIELDS:?}"
        );
    }
}

#[test]
fn tshark_reads_every_built_pdu_as_we_do() {
    let _cpu = crate::common::low_priority();
    let pdus: Vec<(String, Pdu)> = built()
        .into_iter()
        .map(|(n, p)| {
            (
                n.to_string(),
                Pdu::parse(p.raw()).expect("built PDU parses"),
            )
        })
        .collect();
    assert!(pdus.len() >= 7);
    tshark_agrees("mms-built", &pdus);
}

#[test]
fn tshark_reads_every_vector_as_we_do() {
    let _cpu = crate::common::low_priority();
    let pdus: Vec<(String, Pdu)> = names()
        .into_iter()
        .map(|n| (n.clone(), vector(&n)))
        .collect();
    tshark_agrees("mms-vectors", &pdus);
}
