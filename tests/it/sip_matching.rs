//! The harness's SIP client transactions against scripted hostile UASs on
//! loopback (issue 12, items 1, 28, 29, 30): what a SUT's answer must be for
//! the harness to take it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use liaison::codec::sip::{request, response_to, SipMessage};
use liaison::net::capture::Capture;
use liaison::net::{SipEndpoint, Transport};
use liaison::roles::transaction::{non_invite_client, Bounds, ClientResult, Timers};
use tokio::net::UdpSocket;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A UAS that answers the first request it gets with what `script` makes
/// of it (each element sent in order), then stays quiet.
async fn hostile_uas(script: fn(&SipMessage) -> Vec<Vec<u8>>) -> SocketAddr {
    let sock = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind loopback");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await
        else {
            return;
        };
        let Ok(req) = SipMessage::parse(&buf[..n]) else {
            return;
        };
        for bytes in script(&req) {
            let _ = sock.send_to(&bytes, from).await;
        }
    });
    addr
}

/// Sends a MESSAGE to `dst` over UDP in one client transaction (T1 20 ms).
async fn transaction(ep: &SipEndpoint, dst: SocketAddr) -> ClientResult {
    let branch = format!("z9hG4bK{}", liaison::codec::sip::token());
    let bytes = request("MESSAGE", "sip:bob@liaison.test")
        .header(
            "Via",
            &format!("SIP/2.0/UDP {};branch={branch}", ep.udp_addr()),
        )
        .header("Max-Forwards", "70")
        .header("From", "<sip:alice@liaison.test>;tag=a1")
        .header("To", "<sip:bob@liaison.test>")
        .header(
            "Call-ID",
            &format!("{}@liaison", liaison::codec::sip::token()),
        )
        .header("CSeq", "5 MESSAGE")
        .header("Content-Type", "text/plain")
        .body(b"hello")
        .build();
    let timers = Timers::from_t1_ms(20);
    let bounds = Bounds {
        timers,
        deadline: Instant::now() + Duration::from_secs(5),
        linger: Duration::ZERO,
    };
    non_invite_client(ep, Transport::Udp, dst, bytes, &branch, bounds).await
}

fn ok(req: &SipMessage) -> Vec<u8> {
    response_to(req, 200, "OK").to_tag("uas1").build()
}

fn with_status(bytes: &[u8], line: &str) -> Vec<u8> {
    let end = bytes.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let mut out = line.as_bytes().to_vec();
    out.extend_from_slice(&bytes[end..]);
    out
}

async fn endpoint() -> SipEndpoint {
    SipEndpoint::bind(LOOPBACK, Capture::disabled())
        .await
        .expect("bind endpoint")
}

#[tokio::test]
async fn a_second_different_final_leaves_no_final_response() {
    let ep = endpoint().await;
    let uas = hostile_uas(|req| {
        let first = ok(req);
        let busy = with_status(&first, "SIP/2.0 486 Busy Here");
        vec![first.clone(), first, busy]
    })
    .await;
    let r = transaction(&ep, uas).await;
    let (first, second) = r.conflict().expect("the 486 after the 200 is seen");
    assert_eq!(first.msg.as_ref().ok().and_then(|m| m.status()), Some(200));
    assert_eq!(second.msg.as_ref().ok().and_then(|m| m.status()), Some(486));
    assert!(r.final_response().is_none(), "no answer to rely on");
    assert!(r.final_incoming().is_none());
}

#[tokio::test]
async fn a_retransmitted_identical_final_is_no_conflict() {
    let ep = endpoint().await;
    let uas = hostile_uas(|req| {
        let first = ok(req);
        vec![first.clone(), first]
    })
    .await;
    let r = transaction(&ep, uas).await;
    assert!(r.conflict().is_none());
    assert_eq!(r.final_response().and_then(|m| m.status()), Some(200));
}

#[tokio::test]
async fn another_to_tag_is_another_final() {
    let ep = endpoint().await;
    let uas =
        hostile_uas(|req| vec![ok(req), response_to(req, 200, "OK").to_tag("uas2").build()]).await;
    let r = transaction(&ep, uas).await;
    assert!(r.conflict().is_some());
}

#[tokio::test]
async fn a_response_whose_cseq_names_another_method_matches_no_transaction() {
    let ep = endpoint().await;
    let uas = hostile_uas(|req| {
        let b = String::from_utf8_lossy(&ok(req)).replace("CSeq: 5 MESSAGE", "CSeq: 5 OPTIONS");
        vec![b.into_bytes()]
    })
    .await;
    let r = transaction(&ep, uas).await;
    assert!(r.final_response().is_none(), "not taken as the answer");
    let stray = ep.unmatched();
    let note = stray
        .first()
        .and_then(|i| i.note.clone())
        .expect("kept with a reason");
    assert!(
        note.contains("`5 OPTIONS`") && note.contains("§17.1.3"),
        "{note}"
    );
}

#[tokio::test]
async fn a_response_with_another_sequence_number_matches_no_transaction() {
    let ep = endpoint().await;
    let uas = hostile_uas(|req| {
        let b = String::from_utf8_lossy(&ok(req)).replace("CSeq: 5 MESSAGE", "CSeq: 6 MESSAGE");
        vec![b.into_bytes()]
    })
    .await;
    let r = transaction(&ep, uas).await;
    assert!(r.final_response().is_none());
    assert!(ep.unmatched().iter().any(|i| i.note.is_some()));
}

#[tokio::test]
async fn a_response_with_another_sip_version_is_not_the_answer() {
    let ep = endpoint().await;
    let uas = hostile_uas(|req| vec![with_status(&ok(req), "SIP/2.1 200 OK")]).await;
    let r = transaction(&ep, uas).await;
    assert!(r.final_response().is_none());
    let stray = ep.unmatched();
    let shown = stray.first().map(|i| i.describe()).unwrap_or_default();
    assert!(shown.contains("SIP-Version `SIP/2.1`"), "{shown}");
}

#[tokio::test]
async fn requests_with_a_defect_reach_no_role() {
    let ep = endpoint().await;
    let sender = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind");
    let head = "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKd1\r\n\
From: <sip:mallory@liaison.test>;tag=m1\r\nTo: <sip:bob@liaison.test>\r\n\
Call-ID: d1@liaison\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    for start in [
        // Request-URI in angle brackets: never routed by.
        "MESSAGE <sip:bob@liaison.test> SIP/2.0\r\nCSeq: 1 MESSAGE\r\n",
        // CSeq method unlike the method.
        "MESSAGE sip:bob@liaison.test SIP/2.0\r\nCSeq: 1 INVITE\r\n",
        // Another SIP-Version.
        "MESSAGE sip:bob@liaison.test SIP/7.0\r\nCSeq: 1 MESSAGE\r\n",
    ] {
        let bytes = format!("{start}{head}");
        sender
            .send_to(bytes.as_bytes(), ep.udp_addr())
            .await
            .expect("send");
    }
    assert!(
        ep.next_request(Duration::from_millis(300)).await.is_none(),
        "no role is handed a request with a defect"
    );
    let notes: Vec<String> = ep
        .unmatched()
        .iter()
        .filter_map(|i| i.note.clone())
        .collect();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes[0].contains("Request-URI"), "{}", notes[0]);
    assert!(notes[1].contains("CSeq method `INVITE`"), "{}", notes[1]);
    assert!(notes[2].contains("SIP/7.0"), "{}", notes[2]);
}

/// The reference IM server refuses a request with a defect instead of
/// routing it: a `<…>` Request-URI for a registered user gets 400, a
/// SIP-Version other than 2.0 gets 505 (RFC 3261 §8.2.2, §21.5.6).
#[tokio::test]
async fn the_reference_im_server_refuses_requests_with_a_defect() {
    let settings = liaison::reference::Settings {
        t1: Duration::from_millis(20),
        ..Default::default()
    };
    // Port 0: the reference binds UDP and TCP on one free port itself (a
    // probed port can be taken by a parallel test before it binds).
    let running = liaison::reference::start("im-server", SocketAddr::new(LOOPBACK, 0), settings)
        .await
        .expect("reference im-server starts");
    let listen = running.address;
    let sock = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind");
    let me = sock.local_addr().expect("addr");
    let domain = liaison::reference::Settings::default().domain;
    let ask = |start: String, cseq: &str| {
        format!(
            "{start}\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{}\r\n\
From: <sip:alice@{domain}>;tag=a9\r\nTo: <sip:bob@{domain}>\r\n\
Call-ID: {}@liaison\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\nContact: <sip:bob@{me}>\r\n\
Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
            liaison::codec::sip::token(),
            liaison::codec::sip::token()
        )
    };
    // bob registers, so a bare Request-URI would be routed to him.
    let reg = exchange(
        &sock,
        listen,
        ask(format!("REGISTER sip:{domain} SIP/2.0"), "1 REGISTER"),
    )
    .await;
    assert_eq!(reg.status(), Some(200));
    let r = exchange(
        &sock,
        listen,
        ask(format!("MESSAGE <sip:bob@{domain}> SIP/2.0"), "2 MESSAGE"),
    )
    .await;
    assert_eq!(
        r.status(),
        Some(400),
        "{}",
        String::from_utf8_lossy(r.raw())
    );
    assert!(r.reason().unwrap_or("").contains("Request-URI"));
    let r = exchange(
        &sock,
        listen,
        ask(format!("MESSAGE sip:bob@{domain} SIP/2.0"), "3 OPTIONS"),
    )
    .await;
    assert_eq!(r.status(), Some(400));
    let r = exchange(
        &sock,
        listen,
        ask(format!("MESSAGE sip:bob@{domain} SIP/3.0"), "4 MESSAGE"),
    )
    .await;
    assert_eq!(r.status(), Some(505));
}

/// Sends `bytes` to `to` and reads one answer (2 s at most).
async fn exchange(sock: &UdpSocket, to: SocketAddr, bytes: String) -> SipMessage {
    sock.send_to(bytes.as_bytes(), to).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("an answer within 2 s")
        .expect("recv");
    SipMessage::parse(&buf[..n]).expect("a SIP response")
}

/// What a TCP peer leaves in the endpoint's unmatched list after sending
/// `bytes` (and keeping the connection open).
async fn unframeable_over_tcp(bytes: Vec<u8>) -> String {
    use tokio::io::AsyncWriteExt;
    let ep = endpoint().await;
    let mut conn = tokio::net::TcpStream::connect(ep.tcp_addr())
        .await
        .expect("connect");
    // The reader may stop reading before all is written: ignore errors.
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.write_all(&bytes)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(i) = ep.unmatched().into_iter().find(|i| i.msg.is_err()) {
            return i.describe();
        }
        assert!(Instant::now() < deadline, "nothing kept for the verdict");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Issue 13 item 7: a Content-Length over the harness's stream limit is
/// reported as the limit the harness applied (it stopped reading), not as
/// "only N bytes follow".
#[tokio::test]
async fn a_content_length_over_the_limit_names_the_limit_applied() {
    let mut bytes = b"MESSAGE sip:bob@liaison.test SIP/2.0\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2000000000\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 100]);
    let d = unframeable_over_tcp(bytes).await;
    let limit = liaison::net::MAX_SIP_MESSAGE;
    assert!(!d.contains("only 100 bytes follow"), "{d}");
    assert!(d.contains("Content-Length 2000000000"), "{d}");
    assert!(
        d.contains(&format!("{limit} bytes the harness buffers")),
        "{d}"
    );
    assert!(d.contains("stopped reading"), "{d}");
    assert!(d.contains("MESSAGE sip:bob@liaison.test"), "{d}");
}

/// Issue 13 item 7: an endless header line shows the bytes that arrived
/// (capped), not only that the limit was passed.
#[tokio::test]
async fn an_endless_header_line_shows_the_bytes_that_came() {
    let mut bytes = b"MESSAGE sip:bob@liaison.test SIP/2.0\r\nSubject: ".to_vec();
    bytes.extend(std::iter::repeat_n(
        b'z',
        liaison::net::MAX_SIP_MESSAGE + 1000,
    ));
    let d = unframeable_over_tcp(bytes).await;
    assert!(d.contains("no empty line ends the SIP header block"), "{d}");
    assert!(
        d.contains("MESSAGE sip:bob@liaison.test SIP/2.0\\r\\nSubject: zzz"),
        "{d}"
    );
    assert!(d.len() < 1000, "the excerpt is capped: {} chars", d.len());
}

/// A TCP UAS that reads one request, writes what `script` makes of it (each
/// element in order, a few ms apart, so they are separate segments), then
/// closes the connection.
async fn hostile_tcp_uas(script: fn(&SipMessage) -> Vec<Vec<u8>>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok(Ok((mut conn, _))) =
            tokio::time::timeout(Duration::from_secs(5), listener.accept()).await
        else {
            return;
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let len = loop {
            if let Ok(Some(liaison::codec::sip::Frame::Message(n))) =
                liaison::codec::sip::next_frame(&buf, 65536)
            {
                break n;
            }
            match tokio::time::timeout_at(deadline, conn.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 && buf.len() < 65536 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        };
        let Ok(req) = SipMessage::parse(&buf[..len]) else {
            return;
        };
        for bytes in script(&req) {
            let _ = conn.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = conn.shutdown().await;
    });
    addr
}

/// Sends a MESSAGE to `dst` over TCP in one client transaction.
async fn tcp_transaction(ep: &SipEndpoint, dst: SocketAddr, timers: Timers) -> ClientResult {
    let branch = format!("z9hG4bK{}", liaison::codec::sip::token());
    let bytes = request("MESSAGE", "sip:bob@liaison.test")
        .header(
            "Via",
            &format!("SIP/2.0/TCP {};branch={branch}", ep.tcp_addr()),
        )
        .header("Max-Forwards", "70")
        .header("From", "<sip:alice@liaison.test>;tag=a1")
        .header("To", "<sip:bob@liaison.test>")
        .header(
            "Call-ID",
            &format!("{}@liaison", liaison::codec::sip::token()),
        )
        .header("CSeq", "5 MESSAGE")
        .header("Content-Type", "text/plain")
        .body(b"hello")
        .build();
    let bounds = Bounds {
        timers,
        deadline: Instant::now() + timers.f() * 2,
        linger: Duration::ZERO,
    };
    non_invite_client(ep, Transport::Tcp, dst, bytes, &branch, bounds).await
}

/// The first `n` bytes of `bytes`.
fn cut(bytes: Vec<u8>, n: usize) -> Vec<u8> {
    bytes[..n.min(bytes.len())].to_vec()
}

/// The status line and Via of a 200 with no blank line: half a response.
fn half_ok(req: &SipMessage) -> Vec<u8> {
    let whole = ok(req);
    let via_end = String::from_utf8_lossy(&whole)
        .find("\r\nFrom")
        .expect("a From after the Via");
    cut(whole, via_end + 2)
}

/// Issue 13 item 7: a UAS that closes the TCP connection mid-response ends
/// the transaction at once with a transport error (RFC 3261 §18.4,
/// §17.1.4), not on Timer F, and the verdict shows the bytes that came.
#[tokio::test]
async fn a_tcp_close_mid_response_ends_the_transaction_at_once() {
    let ep = endpoint().await;
    let timers = Timers::from_t1_ms(100);
    let uas = hostile_tcp_uas(|req| vec![half_ok(req)]).await;
    let r = tcp_transaction(&ep, uas, timers).await;
    let took = r.sent_at.elapsed();
    assert!(r.final_response().is_none());
    assert!(r.send_error.is_none(), "{:?}", r.send_error);
    let end = r
        .connection_end
        .as_ref()
        .expect("the close reaches the transaction");
    assert_eq!(end.cause, liaison::net::EndCause::Closed);
    assert_eq!(end.peer, uas);
    // Timer F is 6.4 s here; the close comes within milliseconds.
    assert!(
        took < timers.f() / 4,
        "ended after {took:?}, Timer F is {:?}",
        timers.f()
    );
    let text = r.transport_failure("the SUT").expect("a transport failure");
    let n = end.partial_len;
    assert!(n > 20, "{n}");
    assert!(
        text.starts_with(&format!("the SUT ({uas}) closed the TCP connection")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "after {n} bytes of a response: SIP/2.0 200 OK\\r\\nVia: SIP/2.0/TCP"
        )),
        "{text}"
    );
    assert!(text.contains("§18.4"), "{text}");
}

/// A close after a provisional response and part of the final one names both.
#[tokio::test]
async fn a_tcp_close_after_a_provisional_names_it() {
    let ep = endpoint().await;
    let timers = Timers::from_t1_ms(100);
    let uas =
        hostile_tcp_uas(|req| vec![response_to(req, 100, "Trying").build(), cut(ok(req), 12)])
            .await;
    let r = tcp_transaction(&ep, uas, timers).await;
    assert!(r.sent_at.elapsed() < timers.f() / 4);
    let text = r.transport_failure("the SUT").expect("a transport failure");
    assert!(text.contains("after the provisional 100 Trying"), "{text}");
    assert!(
        text.contains("after 12 bytes of a response: SIP/2.0 200 "),
        "{text}"
    );
}

/// A close with nothing written: the transaction ends at once too.
#[tokio::test]
async fn a_tcp_close_without_an_answer_ends_the_transaction_at_once() {
    let ep = endpoint().await;
    let timers = Timers::from_t1_ms(100);
    let uas = hostile_tcp_uas(|_| Vec::new()).await;
    let r = tcp_transaction(&ep, uas, timers).await;
    assert!(r.sent_at.elapsed() < timers.f() / 4);
    let text = r.transport_failure("the SUT").expect("a transport failure");
    assert!(
        text.contains("before any byte of a final response"),
        "{text}"
    );
}

/// A close after a complete final response is normal: the result is that
/// response and no transport error.
#[tokio::test]
async fn a_tcp_close_after_the_final_response_is_no_error() {
    let ep = endpoint().await;
    let timers = Timers::from_t1_ms(100);
    let uas = hostile_tcp_uas(|req| vec![ok(req)]).await;
    let r = tcp_transaction(&ep, uas, timers).await;
    assert_eq!(r.final_response().and_then(|m| m.status()), Some(200));
    assert!(r.connection_end.is_none(), "{:?}", r.connection_end);
    assert!(r.transport_failure("the SUT").is_none());
    assert!(r.send_error.is_none());
}

/// A response the harness cannot frame (a Content-Length past its stream
/// limit) ends the transaction at once too: the harness stops reading that
/// connection, so no answer can come over it.
#[tokio::test]
async fn an_unframeable_response_over_tcp_ends_the_transaction_at_once() {
    let ep = endpoint().await;
    let timers = Timers::from_t1_ms(100);
    let uas = hostile_tcp_uas(|req| {
        let b = String::from_utf8_lossy(&ok(req))
            .replace("Content-Length: 0", "Content-Length: 2000000000");
        vec![b.into_bytes()]
    })
    .await;
    let r = tcp_transaction(&ep, uas, timers).await;
    assert!(r.sent_at.elapsed() < timers.f() / 4);
    let end = r
        .connection_end
        .as_ref()
        .expect("the end reaches the transaction");
    assert!(
        matches!(end.cause, liaison::net::EndCause::Unframeable(_)),
        "{:?}",
        end.cause
    );
    let text = r.transport_failure("the SUT").expect("a transport failure");
    assert!(
        text.contains("the harness stopped reading the TCP connection"),
        "{text}"
    );
    assert!(text.contains("Content-Length: 2000000000"), "{text}");
}
