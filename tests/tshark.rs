//! Every scenario's pcap opens cleanly in tshark, and tshark sees the same
//! SIP, MSRP, SMPP, HTTP and SMTP messages (commands, replies, and the
//! message of DATA as IMF), WSP pushes (reassembled from the short
//! messages, or whole in UDP datagrams to port 2948) and MMS PDUs (their
//! message types, in HTTP and SIP bodies, WSP pushes, PAP parts), in the same
//! frames, as the harness exchanged (read back from the pcap with our own
//! codecs).

mod common;

use common::*;
use liaison::codec::http;
use liaison::codec::msrp::{self, MsrpMessage};
use liaison::codec::sip::{next_frame, Frame, SipMessage};
use liaison::codec::smpp::{self, Pdu};
use liaison::codec::smtp;
use liaison::codec::wdp::Reassembler;
use liaison::codec::wsp::PushPdu;
use std::collections::HashMap;

/// The MMSE label of a body of content type `ct` (an MMS PDU: its
/// X-Mms-Message-Type), or of the MMS parts of a multipart body (a PAP
/// submission), or of the content of an embedded HTTP message (OTA-HTTP).
fn mmse_labels(ct: Option<&str>, body: &[u8]) -> Vec<String> {
    let Some(ct) = ct else { return Vec::new() };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/vnd.wap.mms-message" {
        return liaison::codec::mms::Pdu::parse(body)
            .ok()
            .and_then(|p| p.message_type())
            .map(|t| vec![format!("MMSE 0x{:02x}", t.0)])
            .unwrap_or_default();
    }
    if media.starts_with("multipart/") {
        return liaison::codec::pap::parse_multipart(ct, body)
            .map(|parts| {
                parts
                    .iter()
                    .flat_map(|p| mmse_labels(p.header("Content-Type"), &p.body))
                    .collect()
            })
            .unwrap_or_default();
    }
    if media == "application/http" {
        return http::HttpMessage::parse(body)
            .or_else(|_| http::HttpMessage::parse_at_close(body))
            .map(|m| mmse_labels(m.header("Content-Type"), &m.body))
            .unwrap_or_default();
    }
    Vec::new()
}

/// A TCP direction: (source IP, source port, destination IP, destination port).
type Flow = (Vec<u8>, u16, Vec<u8>, u16);

fn sip_label(m: &SipMessage) -> String {
    m.method()
        .map(str::to_string)
        .unwrap_or_else(|| m.status().unwrap_or(0).to_string())
}

fn msrp_label(m: &MsrpMessage) -> String {
    match m.method() {
        Some(x) => format!("MSRP {x}"),
        None => format!("MSRP {}", m.status().unwrap_or(0)),
    }
}

/// Does a stream start like an SMPP PDU (sane command_length, known command)?
fn looks_like_smpp(buf: &[u8]) -> bool {
    buf.len() >= 16
        && matches!(smpp::next_frame(buf, 1 << 16), Ok(Some(_)))
        && Pdu::parse(&buf[..u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize])
            .is_ok_and(|p| p.name() != "unknown")
}

/// Does a stream start like an HTTP request?
fn looks_like_http_request(buf: &[u8]) -> bool {
    ["GET ", "POST ", "PUT ", "OPTIONS ", "HEAD ", "DELETE "]
        .iter()
        .any(|m| buf.starts_with(m.as_bytes()))
}

/// The messages of a pcap as (frame number, label), in frame order, with the
/// TCP ports that carry SMPP and HTTP (for tshark's decode-as).
struct Reading {
    labels: Vec<(u32, String)>,
    /// Frames holding a SIP message whose body has a NUL byte before its end.
    nul_body_frames: Vec<u32>,
    /// Frames carrying an MMS body that our codec, too, finds malformed (the
    /// mms-client scenarios push such notifications on purpose).
    malformed_mms_frames: Vec<u32>,
    /// Frames holding a SIP message that names a telephone number with RFC
    /// 3966 visual separators (`+1-555-…;user=phone`, the IMS-12 scenario):
    /// valid, but tshark's E.164 decoding warns about the non-digits.
    separated_number_frames: Vec<u32>,
    smpp_port: Option<u16>,
    http_ports: Vec<u16>,
    /// TCP ports whose server greeted with 220 (SMTP).
    smtp_ports: Vec<u16>,
    /// Frames a client sent after its DATA was refused: tshark 4.0's SMTP
    /// dissector takes whatever follows a DATA command as message content
    /// without waiting for the 354, so it shows no command there.
    smtp_after_refused_data: Vec<u32>,
}

fn decode_as(r: &Reading) -> Vec<String> {
    let mut d: Vec<String> = r
        .smpp_port
        .iter()
        .map(|p| format!("tcp.port=={p},smpp"))
        .collect();
    d.extend(r.http_ports.iter().map(|p| format!("tcp.port=={p},http")));
    d.extend(r.smtp_ports.iter().map(|p| format!("tcp.port=={p},smtp")));
    d
}

/// Per SMTP connection (keyed by the client's address and port): DATA sent
/// and not yet answered, content expected (354 came), DATA refused.
#[derive(Default)]
struct SmtpState {
    data_sent: bool,
    content: bool,
    refused: bool,
}

/// tshark 4.0's SIP dissector flags a body with a NUL byte followed by more
/// bytes as "Trailing stray characters", although Content-Length frames it
/// and binary bodies are allowed (RFC 3261 §7.4, §20.14; an M-Notification.ind
/// pushed over SIP is one). That warning alone, on such a frame, is tolerated.
fn has_inner_nul(m: &SipMessage) -> bool {
    let b = m.body();
    b.iter()
        .position(|&x| x == 0)
        .is_some_and(|i| i + 1 < b.len())
}

/// Is `body`, sent as `content_type`, an MMS PDU our codec cannot decode?
/// Does a SIP message's Request-URI or To name a `+` number with visual
/// separators in a `user=phone` URI?
fn has_separated_number(m: &SipMessage) -> bool {
    let named = [m.request_uri().unwrap_or(""), m.header("To").unwrap_or("")];
    named.iter().any(|u| {
        u.contains("user=phone")
            && u.split(['+', ':'])
                .nth(2)
                .is_some_and(|n| n.split('@').next().unwrap_or("").contains('-'))
    })
}

fn malformed_mms(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|c| {
        c.to_ascii_lowercase()
            .starts_with("application/vnd.wap.mms-message")
    }) && liaison::codec::mms::Pdu::parse(body).is_err()
}

/// Our reading of a pcap. The ports that carry HTTP and SMTP are found in a
/// first pass over the whole file, as tshark's decode-as applies to the whole
/// file: a run-level role's late answer to a request of the previous
/// scenario, at the start of a pcap, is read as what it is.
fn our_reading(path: &std::path::Path) -> Reading {
    let first = read_pcap(path, &[], &[]);
    read_pcap(path, &first.http_ports, &first.smtp_ports)
}

fn read_pcap(path: &std::path::Path, known_http: &[u16], known_smtp: &[u16]) -> Reading {
    let mut nul_body_frames = Vec::new();
    let mut malformed_mms_frames = Vec::new();
    let mut separated_number_frames = Vec::new();
    let mut smpp_port = None;
    let mut http_ports: Vec<u16> = known_http.to_vec();
    let mut smtp_ports: Vec<u16> = known_smtp.to_vec();
    let mut smtp_after_refused_data = Vec::new();
    let mut smtp_state: HashMap<(Vec<u8>, u16), SmtpState> = HashMap::new();
    let mut wdp = Reassembler::new();
    let f = std::fs::File::open(path).unwrap();
    let mut rd = pcap_file::pcap::PcapReader::new(f).unwrap();
    let mut out = Vec::new();
    let mut streams: HashMap<Flow, Vec<u8>> = HashMap::new();
    let mut n = 0u32;
    while let Some(p) = rd.next_packet() {
        n += 1;
        let p = p.unwrap();
        let d = &p.data[..];
        let ethertype = u16::from_be_bytes([d[12], d[13]]);
        let (proto, src, dst, l4) = match ethertype {
            0x0800 => {
                let ihl = (d[14] & 0x0f) as usize * 4;
                (
                    d[23],
                    d[26..30].to_vec(),
                    d[30..34].to_vec(),
                    &d[14 + ihl..],
                )
            }
            0x86DD => (d[20], d[22..38].to_vec(), d[38..54].to_vec(), &d[54..]),
            _ => continue,
        };
        let sport = u16::from_be_bytes([l4[0], l4[1]]);
        let dport = u16::from_be_bytes([l4[2], l4[3]]);
        match proto {
            17 => {
                // WSP connectionless push over UDP (WDP over IP, port 2948).
                if sport == 2948 || dport == 2948 {
                    if let Ok(pdu) = PushPdu::parse(&l4[8..]) {
                        out.push((n, format!("WSP 0x{:02x}", pdu.pdu_type)));
                        if let Some(a) = pdu.application_id().and_then(|a| a.name()) {
                            out.push((n, format!("WSP app {a}")));
                        }
                        let ct = pdu.content_type.name().map(str::to_string);
                        if malformed_mms(ct.as_deref(), &pdu.body) {
                            malformed_mms_frames.push(n);
                        }
                        out.extend(
                            mmse_labels(ct.as_deref(), &pdu.body)
                                .into_iter()
                                .map(|l| (n, l)),
                        );
                    }
                    continue;
                }
                if let Ok(m) = SipMessage::parse(&l4[8..]) {
                    if has_inner_nul(&m) {
                        nul_body_frames.push(n);
                    }
                    if malformed_mms(m.header("Content-Type"), m.body()) {
                        malformed_mms_frames.push(n);
                    }
                    if has_separated_number(&m) {
                        separated_number_frames.push(n);
                    }
                    out.push((n, sip_label(&m)));
                    let ct = m.header("Content-Type").map(str::to_string);
                    out.extend(
                        mmse_labels(ct.as_deref(), m.body())
                            .into_iter()
                            .map(|l| (n, l)),
                    );
                }
            }
            6 => {
                let off = (l4[12] >> 4) as usize * 4;
                let payload = &l4[off..];
                if payload.is_empty() {
                    continue;
                }
                let flow = (src.clone(), sport, dst.clone(), dport);
                let first = !streams.contains_key(&flow);
                // An SMTP server speaks first: its greeting 220 (RFC 5321 §4.2).
                if first
                    && (payload.starts_with(b"220 ") || payload.starts_with(b"220-"))
                    && !smtp_ports.contains(&sport)
                {
                    smtp_ports.push(sport);
                }
                let buf = streams.entry(flow).or_default();
                buf.extend_from_slice(payload);
                if smtp_ports.contains(&sport) {
                    let st = smtp_state.entry((dst.clone(), dport)).or_default();
                    while let Ok(Some(len)) = smtp::next_reply(buf, 1 << 16) {
                        let raw: Vec<u8> = buf.drain(..len).collect();
                        if let Ok(r) = smtp::Reply::parse(&raw) {
                            out.push((n, format!("SMTP {}", r.code)));
                            if st.data_sent {
                                st.data_sent = false;
                                st.content = r.code == 354;
                                st.refused = r.code != 354;
                            }
                        }
                    }
                    continue;
                }
                if smtp_ports.contains(&dport) {
                    let st = smtp_state.entry((src.clone(), sport)).or_default();
                    loop {
                        if st.content {
                            match smtp::next_data(buf, 1 << 23) {
                                Ok(Some(len)) => {
                                    buf.drain(..len);
                                    st.content = false;
                                    out.push((n, "IMF".to_string()));
                                }
                                _ => break,
                            }
                            continue;
                        }
                        match smtp::next_line(buf, 1 << 16) {
                            Ok(Some(len)) => {
                                let raw: Vec<u8> = buf.drain(..len).collect();
                                if st.refused {
                                    smtp_after_refused_data.push(n);
                                    continue;
                                }
                                // The verb as sent (tshark shows its case).
                                let verb = String::from_utf8_lossy(&raw)
                                    .split([' ', '\r', '\n'])
                                    .next()
                                    .unwrap_or("")
                                    .to_string();
                                if smtp::Command::parse(&raw).is_ok_and(|c| c.verb == "DATA") {
                                    st.data_sent = true;
                                }
                                out.push((n, format!("SMTP {verb}")));
                            }
                            _ => break,
                        }
                    }
                    continue;
                }
                if smpp_port.is_none() && looks_like_smpp(buf) {
                    smpp_port = Some(sport);
                }
                if smpp_port.is_some_and(|p| p == sport || p == dport) {
                    while let Ok(Some(len)) = smpp::next_frame(buf, 1 << 16) {
                        let raw: Vec<u8> = buf.drain(..len).collect();
                        if let Ok(p) = Pdu::parse(&raw) {
                            out.push((n, format!("SMPP 0x{:08x}", p.header.command_id)));
                            // WDP over SMS: the WSP push, once its last segment is in.
                            if let Some(sm) = p.sm().filter(|sm| sm.udhi()) {
                                if let Ok(Some(d)) =
                                    wdp.push(&sm.destination_addr, sm.payload(), true)
                                {
                                    if let (2948, Ok(pdu)) = (d.dest_port, PushPdu::parse(&d.data))
                                    {
                                        out.push((n, format!("WSP 0x{:02x}", pdu.pdu_type)));
                                        let ct = pdu.content_type.name().map(str::to_string);
                                        out.extend(
                                            mmse_labels(ct.as_deref(), &pdu.body)
                                                .into_iter()
                                                .map(|l| (n, l)),
                                        );
                                        if let Some(a) = pdu.application_id().and_then(|a| a.name())
                                        {
                                            out.push((n, format!("WSP app {a}")));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                if !http_ports.contains(&dport) && looks_like_http_request(buf) {
                    http_ports.push(dport);
                }
                if http_ports.contains(&sport) || http_ports.contains(&dport) {
                    while let Ok(Some(len)) = http::next_frame(buf, 1 << 22) {
                        let raw: Vec<u8> = buf.drain(..len).collect();
                        if let Ok(m) = http::HttpMessage::parse(&raw) {
                            out.push((
                                n,
                                match m.method() {
                                    Some(x) => format!("HTTP {x}"),
                                    None => format!("HTTP {}", m.status().unwrap_or(0)),
                                },
                            ));
                            out.extend(
                                mmse_labels(m.header("Content-Type"), &m.body)
                                    .into_iter()
                                    .map(|l| (n, l)),
                            );
                        }
                    }
                    continue;
                }
                loop {
                    // A stream carries SIP or MSRP; MSRP messages start with "MSRP ".
                    if buf.starts_with(b"MSRP ") {
                        match msrp::next_frame(buf, 1 << 22) {
                            Ok(Some(len)) => {
                                let m: Vec<u8> = buf.drain(..len).collect();
                                if let Ok(m) = MsrpMessage::parse(&m) {
                                    out.push((n, msrp_label(&m)));
                                }
                            }
                            _ => break,
                        }
                        continue;
                    }
                    match next_frame(buf, 1 << 20) {
                        Ok(Some(Frame::KeepAlive(k))) => {
                            buf.drain(..k);
                        }
                        Ok(Some(Frame::Message(len))) => {
                            let m: Vec<u8> = buf.drain(..len).collect();
                            if let Ok(m) = SipMessage::parse(&m) {
                                if has_inner_nul(&m) {
                                    nul_body_frames.push(n);
                                }
                                out.push((n, sip_label(&m)));
                                let ct = m.header("Content-Type").map(str::to_string);
                                out.extend(
                                    mmse_labels(ct.as_deref(), m.body())
                                        .into_iter()
                                        .map(|l| (n, l)),
                                );
                            }
                        }
                        _ => break,
                    }
                }
            }
            _ => {}
        }
    }
    Reading {
        labels: out,
        nul_body_frames,
        malformed_mms_frames,
        separated_number_frames,
        smpp_port,
        http_ports,
        smtp_ports,
        smtp_after_refused_data,
    }
}

const HEURISTICS: [&str; 6] = [
    "--enable-heuristic",
    "sip_udp",
    "--enable-heuristic",
    "sip_tcp",
    "--enable-heuristic",
    "msrp_tcp",
];

/// tshark's view: (frame, label) for every SIP, MSRP, SMPP and HTTP message and WSP push.
fn their_reading(p: &str, r: &Reading) -> Vec<(u32, String)> {
    let decode = decode_as(r);
    let mut args = vec!["-r", p];
    args.extend(HEURISTICS);
    for d in &decode {
        args.extend(["-d", d.as_str()]);
    }
    args.extend([
        "-Y",
        "sip || msrp || smpp || http || wsp || mmse || smtp || imf",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "frame.number",
        "-e",
        "sip.Method",
        "-e",
        "sip.Status-Code",
        "-e",
        "msrp.method",
        "-e",
        "msrp.status.code",
        "-e",
        "smpp.command_id",
        "-e",
        "http.request.method",
        "-e",
        "http.response.code",
        "-e",
        "wsp.pdu_type",
        "-e",
        "wsp.header.x_wap_application_id",
        "-e",
        "mmse.message_type",
        "-e",
        "smtp.req.command",
        "-e",
        "smtp.response.code",
        "-e",
        "frame.protocols",
    ]);
    let mut out = Vec::new();
    for l in tshark(&args).lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let frame: u32 = f[0].parse().unwrap();
        let list = |i: usize| -> Vec<String> {
            f.get(i)
                .map(|v| {
                    v.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut labels = list(1);
        labels.extend(list(2));
        labels.extend(list(3).into_iter().map(|m| format!("MSRP {m}")));
        labels.extend(list(4).into_iter().map(|c| format!("MSRP {c}")));
        labels.extend(list(5).into_iter().map(|c| format!("SMPP {c}")));
        labels.extend(list(6).into_iter().map(|c| format!("HTTP {c}")));
        labels.extend(list(7).into_iter().map(|c| format!("HTTP {c}")));
        labels.extend(list(8).into_iter().map(|c| format!("WSP {c}")));
        labels.extend(list(9).into_iter().map(|c| format!("WSP app {c}")));
        labels.extend(list(10).into_iter().map(|c| format!("MMSE {c}")));
        labels.extend(list(11).into_iter().map(|c| format!("SMTP {c}")));
        labels.extend(list(12).into_iter().map(|c| format!("SMTP {c}")));
        if f.get(13).is_some_and(|p| p.split(':').any(|x| x == "imf")) {
            labels.push("IMF".into());
        }
        out.extend(labels.into_iter().map(|x| (frame, x)));
    }
    out
}

/// Counts of what a run's pcaps held, all checked against tshark.
#[derive(Default)]
struct Seen {
    pcaps: usize,
    msrp: usize,
    smpp: usize,
    wsp: usize,
    http: usize,
    mmse: usize,
    smtp: usize,
}

/// Checks every pcap of the run in `out`: no malformed or warning frames, and
/// tshark's messages equal ours frame by frame.
fn check_run(out: &std::path::Path) -> Seen {
    let r = report(out);
    let mut seen = Seen::default();
    for s in r["scenarios"].as_array().unwrap() {
        let pcap = out.join(s["pcap"].as_str().unwrap());
        let p = pcap.to_str().unwrap();
        let reading = our_reading(&pcap);
        let decode = decode_as(&reading);
        let mut args = vec!["-r", p];
        args.extend(HEURISTICS);
        for d in &decode {
            args.extend(["-d", d.as_str()]);
        }
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
        let problems: String = tshark(&args)
            .lines()
            .filter(|l| {
                let mut f = l.split('\t');
                let frame: u32 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                let msg = f.next().unwrap_or("");
                // A deliberately malformed MMS PDU: tshark and our codec agree.
                let agreed_malformed = reading.malformed_mms_frames.contains(&frame)
                    && msg.split(',').all(|m| {
                        m.starts_with("Malformed Packet") || m == "Trailing stray characters"
                    });
                // A number written with visual separators (RFC 3966 §5.1.1).
                let separated = reading.separated_number_frames.contains(&frame)
                    && msg
                        .split(',')
                        .all(|m| m == "Country Code contains non-decimal digits");
                !((msg == "Trailing stray characters" && reading.nul_body_frames.contains(&frame))
                    || agreed_malformed
                    || separated)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            problems.trim().is_empty(),
            "{p}: tshark flags frames:\n{problems}"
        );

        // Within one frame, compare as sets (tshark lists fields by kind).
        // On a frame whose MMS body our codec refuses (pushed malformed on
        // purpose), tshark still guesses a message type from whatever octets
        // are there (0x69 for ASCII text): MMSE labels are not compared there;
        // everything else in the frame is.
        let guessed = |(f, l): &(u32, String)| {
            (l.starts_with("MMSE ") && reading.malformed_mms_frames.contains(f))
                || (l.starts_with("SMTP ") && reading.smtp_after_refused_data.contains(f))
        };
        let mut theirs = their_reading(p, &reading);
        theirs.retain(|x| !guessed(x));
        let mut ours = reading.labels.clone();
        ours.retain(|x| !guessed(x));
        theirs.sort();
        ours.sort();
        assert!(!ours.is_empty(), "{p}: no message in the pcap");
        assert_eq!(
            theirs, ours,
            "{p}: tshark's messages (left) differ from the harness's (right)"
        );
        seen.msrp += ours.iter().filter(|(_, l)| l.starts_with("MSRP ")).count();
        seen.smpp += ours.iter().filter(|(_, l)| l.starts_with("SMPP ")).count();
        seen.wsp += ours.iter().filter(|(_, l)| l.starts_with("WSP 0x")).count();
        seen.http += ours.iter().filter(|(_, l)| l.starts_with("HTTP ")).count();
        seen.mmse += ours.iter().filter(|(_, l)| l.starts_with("MMSE ")).count();
        seen.smtp += ours
            .iter()
            .filter(|(_, l)| l.starts_with("SMTP ") || l == "IMF")
            .count();
        seen.pcaps += 1;
    }
    seen
}

#[test]
fn pcaps_open_cleanly_in_tshark_and_agree_with_the_harness() {
    require_program("tshark", "tshark");
    let out = tmpdir("tshark");
    let o = liaison(&["run", "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = check_run(&out);
    assert!(seen.pcaps >= 20, "only {} pcaps checked", seen.pcaps);
    assert!(seen.msrp > 0, "no MSRP message seen in any pcap");
    assert!(seen.smpp > 0, "no SMPP PDU seen in any pcap");
    assert!(seen.wsp > 0, "no WSP push seen in any pcap");
    assert!(seen.http > 0, "no HTTP message seen in any pcap");
    assert!(seen.mmse > 0, "no MMS PDU seen in any pcap");
    assert!(
        seen.smtp > 0,
        "no SMTP command, reply or message seen in any pcap"
    );
}

/// Kannel's pushes (content type as a text string, Content-Length and
/// Encoding-Version headers) read the same in tshark as in our codecs.
#[test]
fn kannel_pcaps_agree_with_tshark() {
    require_program("tshark", "tshark");
    assert!(
        std::path::Path::new("/usr/sbin/bearerbox").is_file(),
        "Kannel is not installed: apt-get install kannel; .ci/run does"
    );
    let out = tmpdir("tshark-kannel");
    let o = liaison(&[
        "run",
        "--quiet",
        "--sut",
        "fixtures/sut/kannel.yaml",
        "--waivers",
        "fixtures/waivers/kannel.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = check_run(&out);
    assert!(seen.wsp >= 4, "only {} WSP pushes seen", seen.wsp);
    assert!(seen.http >= 8, "only {} HTTP messages seen", seen.http);
}

/// A real SMTP peer (python3-aiosmtpd and smtplib, which writes its verbs in
/// lower case): the SMTP dialogues read the same in tshark as in our codecs.
#[test]
fn aiosmtpd_pcaps_agree_with_tshark() {
    require_program("tshark", "tshark");
    require_aiosmtpd();
    let out = tmpdir("tshark-aiosmtpd");
    let o = liaison(&[
        "run",
        "--quiet",
        "--sut",
        "fixtures/sut/mem-server.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = check_run(&out);
    assert!(seen.smtp >= 40, "only {} SMTP labels seen", seen.smtp);
}
