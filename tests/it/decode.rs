//! `liaison decode` (issue 17, item 5): the fixtures' vectors through the
//! binary, field names and offsets of a few PDUs per protocol; a pcap the
//! suite writes; bad input (item 9): exit 2 and one line naming the offset
//! or the frame.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::common::{bin, liaison, root, text, tmpdir};

fn decode(args: &[&str]) -> Output {
    let mut a = vec!["decode"];
    a.extend_from_slice(args);
    liaison(&a)
}

fn decode_stdin(input: &[u8], args: &[&str]) -> Output {
    let mut c = Command::new(bin())
        .arg("decode")
        .args(args)
        .arg("-")
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run liaison decode");
    let mut stdin = c.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    c.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A listing line `offset length name…` (spaces between columns squeezed).
fn has_field(out: &str, offset: usize, len: usize, name: &str) -> bool {
    out.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() >= 3
            && w[0] == offset.to_string()
            && w[1] == len.to_string()
            && l.contains(&format!("  {name}"))
    })
}

#[track_caller]
fn assert_fields(o: &Output, fields: &[(usize, usize, &str)]) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    let out = stdout(o);
    for (off, len, name) in fields {
        assert!(
            has_field(&out, *off, *len, name),
            "no `{off} {len} {name}` in\n{out}"
        );
    }
}

#[test]
fn every_fixture_vector_decodes_through_the_library() {
    let dir = root().join("fixtures/messages");
    let mut n = 0;
    for proto in ["sip", "msrp", "smpp", "wsp", "mms", "pap"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(proto))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.ends_with("README.md"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&f).unwrap();
            let r = liaison::decode::decode_input(&bytes, None);
            match name.as_str() {
                // A bare MIME body (no head to give its boundary).
                "multipart_related.mime" => {
                    assert!(r.unwrap_err().0.starts_with("unknown PDU"), "{name}");
                }
                // A WSP push whose MMS body is bytes built to be hostile.
                "multipart_related.part2.bin" => {
                    let d = r.unwrap();
                    let e = d.pdus[0].pdu.error.as_ref().expect(&name);
                    assert_eq!(e.offset, 6, "{name}: {e:?}");
                }
                _ => {
                    let d = r.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(
                        !d.has_errors(),
                        "{name}: {}",
                        liaison::decode::render::text(&d)
                    );
                    assert!(
                        !d.pdus.is_empty() && !d.pdus[0].pdu.fields.is_empty(),
                        "{name}"
                    );
                }
            }
            n += 1;
        }
    }
    assert!(n >= 60, "{n} vectors");
}

#[test]
fn vectors_through_the_binary_with_offsets() {
    let v = "fixtures/messages/";
    assert_fields(
        &decode(&[&format!("{v}sip/compact.sip")]),
        &[
            (0, 7, "Method"),
            (8, 19, "Request-URI"),
            (37, 119, "v (Via)"),
            (433, 5, "l (Content-Length)"),
            (442, 11, "body"),
        ],
    );
    assert_fields(
        &decode(&[&format!("{v}msrp/send-text.msrp")]),
        &[
            (5, 8, "transact-id"),
            (179, 19, "Byte-Range"),
            (243, 72, "body"),
            (317, 16, "end-line"),
        ],
    );
    let o = decode(&[&format!("{v}smpp/submit_sm_wap_push.hex")]);
    assert_fields(
        &o,
        &[
            (0, 4, "command_length"),
            (4, 4, "command_id"),
            (28, 13, "destination_addr"),
            (51, 45, "short_message"),
            (52, 6, "IE application port (16-bit)"),
            (59, 1, "PDU type"),
            (65, 2, "X-Wap-Application-Id"),
        ],
    );
    assert!(
        stdout(&o).contains("chosen by --proto auto: an SMPP header"),
        "{}",
        text(&o)
    );
    assert_fields(
        &decode(&[&format!("{v}wsp/mms_notification_ind.hex")]),
        &[
            (2, 1, "HeadersLen"),
            (3, 1, "Content-Type"),
            (6, 2, "X-Mms-Message-Type"),
            (39, 33, "X-Mms-Content-Location"),
        ],
    );
    assert_fields(
        &decode(&[&format!("{v}mms/mmsd_sr_mms_mixed.hex")]),
        &[
            (0, 2, "X-Mms-Message-Type"),
            (45, 2, "Content-Type"),
            (48, 42, "entry 1"),
            (75, 15, "data"),
        ],
    );
    assert_fields(
        &decode(&[&format!("{v}pap/push_message_two_addresses.xml")]),
        &[
            (256, 260, "<push-message>"),
            (270, 33, "@push-id"),
            (521, 69, "<address>"),
        ],
    );
    // --proto names the protocol; JSON carries the same fields.
    let o = decode(&[
        "--proto",
        "smpp",
        "--format",
        "json",
        &format!("{v}smpp/enquire_link.hex"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["pdus"][0]["proto"], "smpp");
    assert_eq!(j["pdus"][0]["fields"][1]["name"], "command_id");
    assert_eq!(j["pdus"][0]["fields"][1]["offset"], 4);
}

#[test]
fn hex_dumps_and_stdin() {
    // tshark -x of the WSP vector's first 20 octets, then xxd of them.
    let ts = "0000  1f 06 03 be af 84 8c 82 98 74 78 6e 2d 6c 69 61   ........txn-lia\n\
              0010  69 73 6f 6e 2d 30 31 00 8d 93                     ison-01...\n";
    let o = decode_stdin(ts.as_bytes(), &[]);
    assert_fields(
        &o,
        &[
            (1, 1, "PDU type"),
            (8, 16, "X-Mms-Transaction-ID"),
            (24, 2, "X-Mms-MMS-Version"),
        ],
    );
    assert!(stdout(&o).contains("at hex offset 0"), "{}", text(&o));
    let xxd = "00000000: 1f06 03be af84 8c82 9874 786e 2d6c 6961  .........txn-lia\n\
               00000010: 6973 6f6e 2d30 3100 8d93                 ison-01...\n";
    let o = decode_stdin(xxd.as_bytes(), &[]);
    assert_fields(&o, &[(8, 16, "X-Mms-Transaction-ID")]);
}

/// A classic pcap (microseconds, Ethernet) of these frames.
fn pcap(link: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut p = Vec::new();
    for v in [0xA1B2_C3D4u32, 0x0004_0002, 0, 0, 65535, link] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    // (The version's two u16 are written as one u32: major 2, minor 4.)
    p[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for (i, f) in frames.iter().enumerate() {
        for v in [1_000u32, i as u32, f.len() as u32, f.len() as u32] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p.extend_from_slice(f);
    }
    p
}

/// An Ethernet/IPv4/UDP frame 127.0.0.1:5060 → 127.0.0.2:5070.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 2]);
    let ul = (8 + payload.len()) as u16;
    f.extend_from_slice(&[0x13, 0xC4, 0x13, 0xCE, (ul >> 8) as u8, ul as u8, 0, 0]);
    f.extend_from_slice(payload);
    f
}

const SIP: &[u8] = b"MESSAGE sip:b@127.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK7\r\nContent-Length: 2\r\n\r\nhi";

#[test]
fn a_pcap_the_suite_writes() {
    let out = tmpdir("decode-run");
    let o = liaison(&["run", "--tags", "@PUSH-1", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ppg = |https: bool| {
        std::fs::read_dir(out.join("pcaps"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with("ppg-") && n.contains("https") == https
            })
            .expect("the PPG scenario's pcap")
    };
    // Over HTTPS: a pcapng with the TLS secrets, decrypted; the
    // close_notify is a note, not a frame left undecoded.
    let o = decode(&[ppg(true).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = stdout(&o);
    assert!(
        s.contains("over TLS 1.") && s.contains("<push-message>"),
        "{s}"
    );
    assert!(
        s.contains("notes:") && s.contains("TLS alert: close_notify"),
        "{s}"
    );
    let pcap = ppg(false);
    let o = decode(&[pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = stdout(&o);
    // The PAP submission over HTTP, the submit_sm carrying the WSP push,
    // the PAP response.
    for want in [
        "over TCP: HTTP",
        "  method  POST",
        "part 1  application/xml",
        "<push-message>",
        "@push-id",
        "over TCP: SMPP",
        "command_id  0x00000004 submit_sm",
        "user data  a WSP push (port 2948)",
        "PDU type  0x06 Push",
        "status-code  202",
        "<push-response>",
    ] {
        assert!(s.contains(want), "no `{want}` in\n{s}");
    }
    // Only SMPP.
    let o = decode(&["--proto", "smpp", pcap.to_str().unwrap()]);
    assert!(
        !stdout(&o).contains("HTTP (") && stdout(&o).contains("SMPP ("),
        "{}",
        text(&o)
    );
}

#[test]
fn a_capture_with_frames_that_are_not_ip() {
    let dir = tmpdir("decode-bad-pcap");
    let mut arp = vec![0xFFu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    let p = dir.join("mixed.pcap");
    std::fs::write(
        &p,
        pcap(1, &[arp, udp_frame(SIP), udp_frame(b"\x00garbage")]),
    )
    .unwrap();
    let o = decode(&[p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The SIP frame is decoded; the others are named.
    assert!(stdout(&o).contains("frame 2 at"), "{}", text(&o));
    assert!(has_field(&stdout(&o), 0, 7, "Method"), "{}", text(&o));
    let e = stderr(&o);
    assert!(
        e.contains("frame 1: not Ethernet/IPv4|IPv6 with UDP or TCP"),
        "{e}"
    );
    assert!(e.contains("frame 3:") && e.contains("not decoded"), "{e}");

    // Another link type: one line, nothing decoded.
    let raw = dir.join("raw-ip.pcap");
    std::fs::write(&raw, pcap(101, &[udp_frame(SIP)[14..].to_vec()])).unwrap();
    let o = decode(&[raw.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("not Ethernet"), "{}", text(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", text(&o));

    // A capture cut inside its second frame: the first is decoded.
    let cut = dir.join("cut.pcap");
    let whole = pcap(1, &[udp_frame(SIP), udp_frame(SIP)]);
    std::fs::write(&cut, &whole[..whole.len() - 30]).unwrap();
    let o = decode(&[cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stdout(&o).contains("frame 1 at"), "{}", text(&o));
    assert!(stderr(&o).contains("ends inside frame 2"), "{}", text(&o));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: [(&[u8], &[&str], &str); 6] = [
        (b"", &[], "came no bytes"),
        (b"8c 82 9\n", &[], "expected an even number of hex digits, came 5"),
        (b"hello world\n", &[], "unknown PDU"),
        (
            b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 20\r\n\r\nshort",
            &[],
            "error at offset 88: truncated SIP body",
        ),
        (
            b"MESSAGE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n",
            &[],
            "error at offset 25: bad SIP header line",
        ),
        (b"00 00 00 20 00 00 00 04 00 00 00 00 00 00 00 01 41 42", &[], "error at offset 16"),
    ];
    for (input, args, want) in cases {
        let o = decode_stdin(input, args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let e = stderr(&o);
        assert!(e.contains(want), "want `{want}`: {}", text(&o));
        assert_eq!(e.lines().count(), 1, "{}", text(&o));
    }
    // The bytes around the offset, the offending one in brackets.
    let o = decode_stdin(b"MESSAGE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n", &[]);
    assert!(stderr(&o).contains("0d 0a [56] 69 61"), "{}", text(&o));
    let o = decode_stdin(b"x", &["--proto", "gopher"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = decode(&["/nonexistent/file"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("cannot read the file"), "{}", text(&o));
}
