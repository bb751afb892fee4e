//! Every scenario's pcap opens cleanly in tshark, and tshark sees the same
//! SIP (over UDP, TCP and inside WebSocket frames), MSRP, SMPP, HTTP and SMTP messages (commands, replies, and the
//! message of DATA as IMF), WSP pushes (reassembled from the short
//! messages, or whole in UDP datagrams to port 2948) and MMS PDUs (their
//! message types, in HTTP and SIP bodies, WSP pushes, PAP parts), in the same
//! frames, as the harness exchanged (read back from the pcap with our own
//! codecs, by the reader the report's message ladders use). A capture that
//! carries TLS (pcapng with its secrets) is held to the same checks, the
//! messages decrypted by tshark with no key file and by the ladder
//! (`check_pcaps`, from tests/it/tls.rs until a scenario speaks TLS).

use crate::common::*;
use liaison::codec::sip::SipMessage;
use liaison::codec::ws;
use liaison::report::ladder::Protocol;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// The messages of a pcap as (frame number, label), in frame order, with the
/// TCP ports that carry SMPP, HTTP and SMTP (for tshark's decode-as).
struct Reading {
    labels: Vec<(u32, String)>,
    /// Frames holding a SIP message whose body has a NUL byte before its end.
    nul_body_frames: Vec<u32>,
    /// Frames carrying an MMS body that our codec, too, finds malformed (the
    /// mms-client scenarios push such notifications on purpose).
    malformed_mms_frames: Vec<u32>,
    /// Frames holding an HTTP message with an XML body (`…/xml`, `…+xml`)
    /// that our codec, too, finds not well-formed (the GM-5 scenario PUTs
    /// a truncated document on purpose; tshark's XML dissector says
    /// "Unrecognized text").
    malformed_xml_frames: Vec<u32>,
    /// Frames holding a SIP message that names a telephone number with RFC
    /// 3966 visual separators (`+1-555-…;user=phone`, the IMS-12 scenario):
    /// valid, but tshark's E.164 decoding warns about the non-digits.
    separated_number_frames: Vec<u32>,
    smpp_ports: Vec<u16>,
    /// Ports (UDP, TCP) of the SIP messages. tshark finds SIP on a port other
    /// than 5060 by heuristic only, and a registered port wins over it: a
    /// harness socket on ephemeral UDP port 34980 (EtherCAT's) had its
    /// MESSAGE read as a malformed TwinCAT frame in one run.
    sip_udp_ports: Vec<u16>,
    sip_tcp_ports: Vec<u16>,
    /// Ports of the streams that carry MSRP. tshark finds MSRP by heuristic
    /// only, and a registered port wins over it: a harness MSRP listener on
    /// ephemeral port 44321 (Performance Co-Pilot's) read as PCP in one run.
    msrp_ports: Vec<u16>,
    http_ports: Vec<u16>,
    /// TCP ports whose server greeted with 220 (SMTP).
    smtp_ports: Vec<u16>,
    /// Ports of TLS connections that carry SIP: tshark finds TLS on any
    /// port and decrypts it with the capture's secrets, HTTP inside by
    /// heuristic; SIP only on 5061, so the port is named, as for SIP over
    /// TCP (never as `tcp.port`, which would read the records themselves as
    /// SIP).
    tls_sip_ports: Vec<u16>,
    /// MSRP over TLS: tshark 4.0 has no way to dissect it (MSRP is neither
    /// a `tls.port` dissector nor a TLS heuristic), so what is compared is
    /// the plaintext it decrypts (`data.data`) with these messages' bytes,
    /// in frame order: (frame, bytes).
    tls_msrp: Vec<(u32, Vec<u8>)>,
    /// Frames a client sent after its DATA was refused: tshark 4.0's SMTP
    /// dissector takes whatever follows a DATA command as message content
    /// without waiting for the 354, so it shows no command there.
    smtp_after_refused_data: Vec<u32>,
    /// SIP messages read from WebSocket frames.
    websocket_sip: usize,
}

fn decode_as(r: &Reading) -> Vec<String> {
    let mut d: Vec<String> = r
        .smpp_ports
        .iter()
        .map(|p| format!("tcp.port=={p},smpp"))
        .collect();
    d.extend(r.sip_udp_ports.iter().map(|p| format!("udp.port=={p},sip")));
    d.extend(r.sip_tcp_ports.iter().map(|p| format!("tcp.port=={p},sip")));
    d.extend(r.msrp_ports.iter().map(|p| format!("tcp.port=={p},msrp")));
    d.extend(r.http_ports.iter().map(|p| format!("tcp.port=={p},http")));
    d.extend(r.smtp_ports.iter().map(|p| format!("tcp.port=={p},smtp")));
    d.extend(r.tls_sip_ports.iter().map(|p| format!("tls.port=={p},sip")));
    d
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

/// The pcap read back with the library's reader (the report's ladders),
/// labelled the way tshark's fields are. The reader finds the ports that
/// carry HTTP and SMTP over the whole file first, as tshark's decode-as
/// applies to the whole file: a run-level role's late answer to a request
/// of the previous scenario, at the start of a pcap, is read as what it is.
fn our_reading(path: &std::path::Path) -> Reading {
    let ladder = liaison::report::ladder::read_file(path).unwrap();
    assert!(
        ladder.problems.is_empty(),
        "{}: {:?}",
        path.display(),
        ladder.problems
    );
    let mut r = Reading {
        labels: Vec::new(),
        nul_body_frames: Vec::new(),
        malformed_mms_frames: Vec::new(),
        malformed_xml_frames: Vec::new(),
        separated_number_frames: Vec::new(),
        smpp_ports: Vec::new(),
        sip_udp_ports: Vec::new(),
        sip_tcp_ports: Vec::new(),
        msrp_ports: Vec::new(),
        http_ports: ladder.http_ports.clone(),
        smtp_ports: ladder.smtp_ports.clone(),
        smtp_after_refused_data: Vec::new(),
        tls_sip_ports: Vec::new(),
        tls_msrp: Vec::new(),
        websocket_sip: 0,
    };
    // SMTP clients (address and port) whose DATA is not answered yet, and
    // whose DATA was refused.
    let mut data_sent = HashSet::new();
    let mut refused = HashSet::new();
    let mut websocket = SipOverWebSocket::default();
    for m in &ladder.messages {
        let n = m.frame;
        let code = |prefix: &str| match (&m.method, m.status) {
            (Some(x), _) => format!("{prefix}{}", x.split(' ').next().unwrap_or("")),
            (None, s) => format!("{prefix}{}", s.unwrap_or(0)),
        };
        let over_tls = m.tls.is_some();
        if over_tls && m.protocol == Protocol::Sip {
            for p in [m.from.port(), m.to.port()] {
                if !r.tls_sip_ports.contains(&p) {
                    r.tls_sip_ports.push(p);
                }
            }
        }
        if over_tls && m.protocol == Protocol::Msrp {
            r.tls_msrp.push((n, m.bytes.clone()));
            continue;
        }
        match m.protocol {
            Protocol::Sip => {
                if let Ok(s) = SipMessage::parse(&m.bytes) {
                    if has_inner_nul(&s) {
                        r.nul_body_frames.push(n);
                    }
                    if has_separated_number(&s) {
                        r.separated_number_frames.push(n);
                    }
                }
                let ports = if m.tcp {
                    &mut r.sip_tcp_ports
                } else {
                    &mut r.sip_udp_ports
                };
                for p in [m.from.port(), m.to.port()] {
                    if !over_tls && !ports.contains(&p) {
                        ports.push(p);
                    }
                }
                r.labels.push((n, code("")));
            }
            Protocol::Msrp => {
                for p in [m.from.port(), m.to.port()] {
                    if !over_tls && !r.msrp_ports.contains(&p) {
                        r.msrp_ports.push(p);
                    }
                }
                r.labels.push((n, code("MSRP ")));
            }
            Protocol::Http => {
                if let Ok(h) = liaison::codec::http::HttpMessage::parse(&m.bytes) {
                    let xml = h.header("Content-Type").is_some_and(|t| {
                        let t = t.split(';').next().unwrap_or("").trim();
                        t.ends_with("+xml") || t.ends_with("/xml")
                    });
                    if xml
                        && !h.body.is_empty()
                        && liaison::codec::xml_tree::parse(&h.body).is_err()
                    {
                        r.malformed_xml_frames.push(n);
                    }
                }
                websocket.upgraded(m);
                r.labels.push((n, code("HTTP ")))
            }
            Protocol::Smpp => {
                for p in [m.from.port(), m.to.port()] {
                    if !r.smpp_ports.contains(&p) {
                        r.smpp_ports.push(p);
                    }
                }
                if let Some((id, _)) = m.smpp {
                    r.labels.push((n, format!("SMPP 0x{id:08x}")));
                }
            }
            Protocol::Smtp if m.mail.is_some() => r.labels.push((n, "IMF".into())),
            // A command line: the verb as sent (tshark shows its case).
            Protocol::Smtp => match (&m.method, m.status) {
                (Some(_), _) if refused.contains(&m.from) => r.smtp_after_refused_data.push(n),
                (Some(verb), _) => {
                    // (A line that is not a command has a note.)
                    if verb.eq_ignore_ascii_case("DATA") && m.note.is_none() {
                        data_sent.insert(m.from);
                    }
                    // tshark's SMTP command field is the line's first four
                    // characters (RFC 821's verbs): STARTTLS is "STAR",
                    // the rest its parameter.
                    let verb: String = verb.chars().take(4).collect();
                    r.labels.push((n, format!("SMTP {verb}")));
                }
                (None, Some(c)) => {
                    if data_sent.remove(&m.to) && c != 354 {
                        refused.insert(m.to);
                    }
                    r.labels.push((n, format!("SMTP {c}")));
                }
                (None, None) => {}
            },
            Protocol::Other => {
                let sip = websocket.sip_in(m);
                r.websocket_sip += sip.len();
                r.labels.extend(sip);
            }
            Protocol::Wsp | Protocol::Tls => {}
        }
        for w in &m.wsp {
            r.labels.push((n, format!("WSP 0x{:02x}", w.pdu_type)));
            if let Some(a) = &w.app_id {
                r.labels.push((n, format!("WSP app {a}")));
            }
        }
        r.labels
            .extend(m.mms.iter().map(|t| (n, format!("MMSE 0x{t:02x}"))));
        if m.malformed_mms {
            r.malformed_mms_frames.push(n);
        }
    }
    r
}

/// SIP over WebSocket (RFC 7118) as our codecs read it: the ladder reads a
/// connection's upgrade as HTTP and the frames after it as bytes of no
/// protocol it knows; here those bytes are read as frames with
/// `codec::ws` (the client's masked), joined into messages, and each SIP
/// message labelled at the frame that completes it, as tshark's WebSocket
/// dissector does once a 101 chose the `sip` subprotocol.
#[derive(Default)]
struct SipOverWebSocket {
    /// (client, server) of each connection upgraded to `sip`.
    conns: HashSet<(SocketAddr, SocketAddr)>,
    /// Per direction: bytes not yet a whole frame, and the message being joined.
    dirs: HashMap<(SocketAddr, SocketAddr), (Vec<u8>, ws::Assembler)>,
}

impl SipOverWebSocket {
    /// A 101 that chose `sip` makes its connection one of SIP over WebSocket.
    fn upgraded(&mut self, m: &liaison::report::ladder::Message) {
        let sip = m.status == Some(101)
            && liaison::codec::http::HttpMessage::parse(&m.bytes)
                .ok()
                .and_then(|h| h.header("Sec-WebSocket-Protocol").map(str::to_string))
                .is_some_and(|p| p.trim() == ws::SUBPROTOCOL_SIP);
        if sip {
            self.conns.insert((m.to, m.from));
        }
    }

    /// The labels of the SIP messages `m`'s bytes complete, when they are
    /// frames of such a connection.
    fn sip_in(&mut self, m: &liaison::report::ladder::Message) -> Vec<(u32, String)> {
        if !self.conns.contains(&(m.from, m.to)) && !self.conns.contains(&(m.to, m.from)) {
            return Vec::new();
        }
        let (buf, joined) = self
            .dirs
            .entry((m.from, m.to))
            .or_insert_with(|| (Vec::new(), ws::Assembler::new(1 << 20)));
        buf.extend_from_slice(&m.bytes);
        let mut out = Vec::new();
        while let Ok(Some((frame, used))) = ws::read_frame(buf, 1 << 20) {
            buf.drain(..used);
            let sip = match joined.push(&frame) {
                Ok(Some(ws::Message::Text(t))) => t.into_bytes(),
                Ok(Some(ws::Message::Binary(b))) => b,
                _ => continue,
            };
            if let Ok(s) = SipMessage::parse(&sip) {
                let label = match (s.method(), s.status()) {
                    (Some(x), _) => x.to_string(),
                    (None, c) => c.unwrap_or(0).to_string(),
                };
                out.push((m.frame, label));
            }
        }
        out
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

/// (frame, text) pairs: message labels, or a frame's expert messages.
type Labels = Vec<(u32, String)>;

/// tshark's view, in one pass over the file (tshark's start-up is most of
/// its cost): (frame, label) for every SIP, MSRP, SMPP and HTTP message and
/// WSP push, and (frame, expert messages) for every malformed frame or one
/// with an expert note of warning or worse.
fn their_reading(p: &str, r: &Reading) -> (Labels, Labels) {
    let decode = decode_as(r);
    let mut args = vec!["-r", p];
    args.extend(HEURISTICS);
    for d in &decode {
        args.extend(["-d", d.as_str()]);
    }
    args.extend([
        "-Y",
        "sip || msrp || smpp || http || wsp || mmse || smtp || imf || _ws.malformed || _ws.expert.severity >= 6291456",
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
        "-e",
        "_ws.expert.message",
        "-e",
        "_ws.malformed",
        "-e",
        "_ws.expert.severity",
    ]);
    let mut out = Vec::new();
    let mut expert = Vec::new();
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
        // A frame is flagged as the filter `_ws.malformed ||
        // _ws.expert.severity >= 6291456` (warning) would select it, with
        // every expert message it has.
        let notes = f.get(14).copied().unwrap_or("");
        let malformed = f.get(15).is_some_and(|m| !m.trim().is_empty());
        let warning = f.get(16).is_some_and(|v| {
            v.split(',')
                .any(|x| x.trim().parse::<u32>().is_ok_and(|n| n >= 6_291_456))
        });
        if warning || malformed {
            let notes = if notes.trim().is_empty() {
                "Malformed Packet".to_string()
            } else {
                notes.to_string()
            };
            expert.push((frame, notes));
        }
    }
    (out, expert)
}

/// Counts of what a run's pcaps held, all checked against tshark.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) pcaps: usize,
    pub(crate) msrp: usize,
    pub(crate) smpp: usize,
    pub(crate) wsp: usize,
    pub(crate) http: usize,
    pub(crate) mmse: usize,
    pub(crate) smtp: usize,
    pub(crate) websocket_sip: usize,
}

/// Removes tshark's "Possible traceroute: hop #H, attempt #A" notes from a
/// frame's expert messages: Wireshark's UDP dissector writes one whenever a
/// source or destination port falls in 33435..=33464 (LBL traceroute's
/// ports), which an ephemeral port the OS gave the harness sometimes does.
/// It says nothing about the bytes; every other message is kept.
fn without_port_guesses(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(at) = rest.find("Possible traceroute: hop #") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        // The note ends after "attempt #<digits>".
        let end = tail
            .find("attempt #")
            .map(|a| {
                let digits = tail[a + 9..].bytes().take_while(u8::is_ascii_digit).count();
                a + 9 + digits
            })
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks every pcap of the run in `out`: no malformed or warning frames, and
/// tshark's messages equal ours frame by frame.
fn check_run(out: &std::path::Path) -> Seen {
    check_run_sample(out, 1)
}

/// [`check_run`] on every `nth` pcap of the run (in report order).
pub(crate) fn check_run_sample(out: &std::path::Path, nth: usize) -> Seen {
    let r = report(out);
    let mut seen = Seen::default();
    // The scenarios' pcaps, and the run-level roles' own (what no scenario
    // claimed): each is held to the same checks.
    // (A run-level pcap may hold no message: only the handshakes of
    // connections whose every message a scenario claimed.)
    let mut pcaps: Vec<(std::path::PathBuf, bool)> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (out.join(s["pcap"].as_str().unwrap()), true))
        .collect();
    for run in r["runs"].as_array().into_iter().flatten() {
        for p in run["pcaps"].as_array().into_iter().flatten() {
            pcaps.push((out.join(p["pcap"].as_str().unwrap()), false));
        }
    }
    let pcaps: Vec<_> = pcaps.into_iter().step_by(nth.max(1)).collect();
    // tshark's start-up is most of the time: the pcaps are checked on as
    // many threads as there are cores, each a share of them, at low
    // priority (tests beside this one run the reference on 20 ms timers).
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // The SUT's own addresses: what it sends is written once, by the harness
    // socket that receives it, so two copies of it are two arrivals (a
    // retransmission that a harness starved of CPU read back to back with
    // the original), not a packet the harness wrote twice.
    let sut: Vec<String> = r["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| run["elements"].as_array().into_iter().flatten())
        .filter(|e| e["side"] == "sut")
        .filter_map(|e| e["address"].as_str().map(str::to_string))
        .collect();
    let sut = &sut;
    let mut shares: Vec<Vec<(std::path::PathBuf, bool)>> = vec![Vec::new(); workers];
    for (i, x) in pcaps.into_iter().enumerate() {
        shares[i % workers].push(x);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    let _cpu = low_priority();
                    check_pcaps(share, sut)
                })
            })
            .collect();
        for h in handles {
            let part = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            seen.pcaps += part.pcaps;
            seen.msrp += part.msrp;
            seen.smpp += part.smpp;
            seen.wsp += part.wsp;
            seen.http += part.http;
            seen.mmse += part.mmse;
            seen.smtp += part.smtp;
            seen.websocket_sip += part.websocket_sip;
        }
    });
    seen
}

/// The checks of [`check_run`] on some of its pcaps (`true`: a scenario's,
/// which must hold a message); also what tests/it/tls.rs checks its TLS
/// captures with.
pub(crate) fn check_pcaps(pcaps: Vec<(std::path::PathBuf, bool)>, sut: &[String]) -> Seen {
    let mut seen = Seen::default();
    for (pcap, scenario) in pcaps {
        let p = pcap.to_str().unwrap();
        // Each packet on the wire appears once: a copy of a frame within
        // 1 ms (tshark would call it a retransmission) is the harness writing
        // one packet twice, as sender and again as receiver.
        let bytes = std::fs::read(&pcap).unwrap();
        let dups: Vec<String> = liaison::report::ladder::duplicates(&bytes)
            .iter()
            .filter(|d| d.tcp || !sut.contains(&d.from.to_string()))
            .map(|d| format!("{d}\n"))
            .collect();
        assert!(
            dups.is_empty(),
            "{p}: packets captured twice:\n{}",
            dups.concat()
        );
        let reading = our_reading(&pcap);
        let decode = decode_as(&reading);
        let (mut theirs, expert) = their_reading(p, &reading);
        let problems: String = expert
            .iter()
            .filter(|(frame, msg)| {
                let frame = *frame;
                let msg = without_port_guesses(msg);
                let msg = msg.as_str();
                if msg.is_empty() {
                    return false;
                }
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
                // A deliberately truncated XML document: tshark agrees.
                // (tshark then lists the frame's request line, its HTTP
                // chat note, with the XML dissector's complaint.)
                let malformed_xml = reading.malformed_xml_frames.contains(&frame)
                    && msg.contains("Unrecognized text")
                    && msg
                        .split(',')
                        .all(|m| m == "Unrecognized text" || m.ends_with(" HTTP/1.1\\r\\n"));
                !((msg == "Trailing stray characters" && reading.nul_body_frames.contains(&frame))
                    || agreed_malformed
                    || malformed_xml
                    || separated)
            })
            .map(|(frame, msg)| format!("{frame}\t{msg}\n"))
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
        theirs.retain(|x| !guessed(x));
        let mut ours = reading.labels.clone();
        ours.retain(|x| !guessed(x));
        theirs.sort();
        ours.sort();
        assert!(
            !scenario || !ours.is_empty() || !reading.tls_msrp.is_empty(),
            "{p}: no message in the pcap"
        );
        assert_eq!(
            theirs, ours,
            "{p}: tshark's messages (left) differ from the harness's (right)"
        );
        if !reading.tls_msrp.is_empty() {
            // tshark's decrypted plaintext of the TLS connections it cannot
            // dissect, in frame order, is exactly the MSRP messages' bytes.
            let mut args = vec!["-r", p];
            for d in &decode {
                args.extend(["-d", d.as_str()]);
            }
            args.extend(["-Y", "tls && data", "-T", "fields", "-e", "data.data"]);
            let theirs: String = tshark(&args).lines().map(|l| l.replace(',', "")).collect();
            let ours: String = reading
                .tls_msrp
                .iter()
                .flat_map(|(_, b)| b.iter().map(|x| format!("{x:02x}")))
                .collect();
            assert_eq!(
                theirs, ours,
                "{p}: the MSRP over TLS tshark decrypted (left) differs from the harness's (right)"
            );
            seen.msrp += reading.tls_msrp.len();
        }
        seen.msrp += ours.iter().filter(|(_, l)| l.starts_with("MSRP ")).count();
        seen.smpp += ours.iter().filter(|(_, l)| l.starts_with("SMPP ")).count();
        seen.wsp += ours.iter().filter(|(_, l)| l.starts_with("WSP 0x")).count();
        seen.http += ours.iter().filter(|(_, l)| l.starts_with("HTTP ")).count();
        seen.mmse += ours.iter().filter(|(_, l)| l.starts_with("MMSE ")).count();
        seen.smtp += ours
            .iter()
            .filter(|(_, l)| l.starts_with("SMTP ") || l == "IMF")
            .count();
        seen.websocket_sip += reading.websocket_sip;
        seen.pcaps += 1;
    }
    seen
}

#[test]
fn pcaps_open_cleanly_in_tshark_and_agree_with_the_harness() {
    require_program("tshark", "tshark");
    let out = tmpdir("tshark");
    let o = {
        let _quiet = quiet();
        liaison(&["run", "--quiet", "--out", out.to_str().unwrap()])
    };
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
    assert!(
        seen.websocket_sip > 0,
        "no SIP message over WebSocket seen in any pcap"
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
    // Kannel's fixed ports: one run at a time (real_suts::kannel_as_ppg).
    let o = {
        let _quiet = quiet();
        let _ports = hold(&KANNEL);
        liaison(&[
            "run",
            "--quiet",
            "--sut",
            "fixtures/sut/kannel.yaml",
            "--waivers",
            "fixtures/waivers/kannel.yaml",
            "--out",
            out.to_str().unwrap(),
        ])
    };
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
    // The fixture's fixed ports (real_suts::aiosmtpd_as_mem_server).
    let o = {
        let _quiet = quiet();
        let _ports = hold(&MEM_SERVER);
        liaison(&[
            "run",
            "--quiet",
            "--sut",
            "fixtures/sut/mem-server.yaml",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = check_run(&out);
    assert!(seen.smtp >= 40, "only {} SMTP labels seen", seen.smtp);
}

#[test]
fn port_guesses_are_not_frame_problems() {
    assert_eq!(
        without_port_guesses("Possible traceroute: hop #3, attempt #1"),
        ""
    );
    assert_eq!(
        without_port_guesses("Possible traceroute: hop #1, attempt #2,Malformed Packet"),
        "Malformed Packet"
    );
    assert_eq!(
        without_port_guesses("Trailing stray characters"),
        "Trailing stray characters"
    );
}
