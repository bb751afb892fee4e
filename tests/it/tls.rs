//! TLS under the roles (issue 15): a harness TLS client and a harness TLS
//! server on loopback exchange a SIP MESSAGE and its 200 OK, or an HTTP
//! request and its response, over TLS 1.3 and TLS 1.2 (ECDHE with
//! AES-GCM and ChaCha20-Poly1305); the capture is pcapng with the secrets
//! in Decryption Secrets Blocks, so `tshark -r FILE -Y sip` shows both
//! messages with no key file given, and the report's ladder reads the same
//! messages decrypted. And what a hostile or broken peer does to a
//! handshake is a bounded error that says what it did.

use crate::common::*;
use liaison::net::capture::Capture;
use liaison::net::tls::{
    CertCheck, Identity, LabCa, Offer, PeerCheck, TlsClient, TlsError, TlsServer, TlsStream,
};
use liaison::report::ladder::{self, Protocol};
use rustls::CipherSuite;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn loopback() -> Vec<IpAddr> {
    vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]
}

fn sip_message(local: SocketAddr) -> Vec<u8> {
    let body = "hello over TLS";
    format!(
        "MESSAGE sip:bob@liaison.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS {local};branch=z9hG4bK-tls-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@liaison.test>;tag=a1\r\n\
         To: <sip:bob@liaison.test>\r\n\
         Call-ID: tls-test-1@liaison.test\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn sip_ok(request: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for l in text.lines() {
        if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| l.starts_with(h))
        {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

/// Reads one message framed by its head and Content-Length (SIP, HTTP),
/// at most 64 KiB, within `T`.
async fn read_message(s: &mut TlsStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + T;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                buf.truncate(end + 4 + len);
                return buf;
            }
        }
        assert!(buf.len() < 64 * 1024, "message too long");
        let mut chunk = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut chunk))
            .await
            .expect("read timed out")
            .expect("read failed");
        assert!(n > 0, "closed before a whole message: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

struct Lab {
    ca: LabCa,
    leaf: Identity,
}

fn lab(dir: &Path) -> Lab {
    let ca = LabCa::create(&dir.join("lab-ca.pem")).unwrap();
    let leaf = ca.issue(&["harness.liaison.test"], &loopback()).unwrap();
    Lab { ca, leaf }
}

/// One exchange: the client sends `request`, the server answers with
/// `answer(request)`, both close. The client's and the server's captures
/// are `client_cap` and `server_cap` (the same file, or two). Returns what
/// each side negotiated.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    lab: &Lab,
    offer: &Offer,
    ip: &str,
    server_name: &str,
    request: fn(SocketAddr) -> Vec<u8>,
    answer: fn(&[u8]) -> Vec<u8>,
    client_cap: Capture,
    server_cap: Capture,
) -> (TlsStream, TlsStream) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = TlsServer::new(&lab.leaf, offer).unwrap();
    let serve = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = server.accept(tcp, server_cap, T).await.unwrap();
        let req = read_message(&mut s).await;
        s.write_all(&answer(&req)).await.unwrap();
        s.flush().await.unwrap();
        (s, req)
    });
    let client = TlsClient::new(lab.ca.peer_check().unwrap(), offer, None).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut c = client
        .connect(tcp, server_name, client_cap, T)
        .await
        .unwrap();
    let req = request(c.local());
    c.write_all(&req).await.unwrap();
    let resp = read_message(&mut c).await;
    let (mut s, got) = serve.await.unwrap();
    assert_eq!(got, req);
    assert_eq!(resp, answer(&req));
    c.shutdown().await.unwrap();
    // The server reads the client's close_notify and end of stream.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut rest)).await;
    s.shutdown().await.unwrap();
    (c, s)
}

/// tshark's (frame, SIP method or status, HTTP method or status) of a
/// capture, read with no key file: the secrets are in the file.
fn tshark_messages(file: &Path, port: u16, filter: &str) -> Vec<String> {
    // tshark finds TLS on any port by itself, and HTTP inside it; SIP
    // over TLS it looks for on 5061 only, so the harness's port is named,
    // as the plaintext checks name theirs (tests/it/tshark.rs).
    let sip_port = format!("tls.port=={port},sip");
    let out = tshark(&[
        "-r",
        file.to_str().unwrap(),
        "-d",
        &sip_port,
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-e",
        "sip.Method",
        "-e",
        "sip.Status-Code",
        "-e",
        "http.request.method",
        "-e",
        "http.response.code",
    ]);
    out.lines()
        .map(|l| {
            l.split('\t')
                .filter(|f| !f.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// The ladder's reading of the same capture: (protocol, label) of every
/// message, and the TLS connection each came over.
fn ladder_messages(file: &Path) -> Vec<(Protocol, String, Option<String>)> {
    let l = ladder::read_file(file).unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    l.messages
        .iter()
        .map(|m| (m.protocol, m.label(), m.tls.clone()))
        .collect()
}

fn is_pcapng(file: &Path) -> bool {
    std::fs::read(file)
        .unwrap()
        .starts_with(&[0x0A, 0x0D, 0x0D, 0x0A])
}

/// SIP over TLS at `ip` with `offer`: each side's capture alone, and both
/// sides in one file, decrypt in tshark and in the ladder.
fn sip_over_tls(tag: &str, ip: &str, offer: Offer, version: &str, suite: &str) {
    require_program("tshark", "tshark");
    let dir = tmpdir(tag);
    let lab = lab(&dir);
    let client_file = dir.join("client.pcap");
    let server_file = dir.join("server.pcap");
    let both_file = dir.join("both.pcap");
    let rt = rt();
    let (c, s) = rt.block_on(async {
        let cc = Capture::create(&client_file).unwrap();
        let sc = Capture::create(&server_file).unwrap();
        let r = exchange(
            &lab,
            &offer,
            ip,
            ip,
            sip_message,
            sip_ok,
            cc.clone(),
            sc.clone(),
        )
        .await;
        cc.flush().unwrap();
        sc.flush().unwrap();
        r
    });
    for n in [&c.negotiated, &s.negotiated] {
        assert_eq!(n.version, version, "{n}");
        assert_eq!(n.suite, suite, "{n}");
    }
    // An IP address is not sent as SNI (RFC 6066 §3).
    assert_eq!(s.negotiated.sni, None);
    assert_eq!(
        c.negotiated.peer_certificate,
        CertCheck::Verified {
            against: "the lab CA".into()
        }
    );
    assert_eq!(s.negotiated.peer_certificate, CertCheck::NotAsked);
    let port = s.local().port();
    let (c2, _) = rt.block_on(async {
        let both = Capture::create(&both_file).unwrap();
        let r = exchange(
            &lab,
            &offer,
            ip,
            "harness.liaison.test",
            sip_message,
            sip_ok,
            both.clone(),
            both.clone(),
        )
        .await;
        both.flush().unwrap();
        r
    });
    assert_eq!(c2.negotiated.sni.as_deref(), Some("harness.liaison.test"));
    let both_port = c2.peer().port();
    for (file, port) in [
        (&client_file, port),
        (&server_file, port),
        (&both_file, both_port),
    ] {
        assert!(is_pcapng(file), "{}: not pcapng", file.display());
        assert_eq!(
            tshark_messages(file, port, "sip"),
            ["MESSAGE", "200"],
            "{}: tshark's SIP messages",
            file.display()
        );
        let ours: Vec<_> = ladder_messages(file)
            .into_iter()
            .filter(|m| m.0 == Protocol::Sip)
            .collect();
        let want = format!("{version} {suite}");
        assert_eq!(
            ours,
            [
                (Protocol::Sip, "MESSAGE".to_string(), Some(want.clone())),
                (Protocol::Sip, "200 OK".to_string(), Some(want)),
            ],
            "{}: the ladder's SIP messages",
            file.display()
        );
    }
    // And the checks every scenario's pcap gets (tests/it/tshark.rs): no
    // frame malformed or warned about, each packet once, tshark's messages
    // those of the ladder frame by frame.
    crate::tshark::check_pcaps(
        vec![(client_file, true), (server_file, true), (both_file, true)],
        &[],
    );
}

#[test]
fn sip_over_tls13_decrypts_with_no_key_file() {
    sip_over_tls(
        "tls13-sip",
        "127.0.0.1",
        Offer::tls13()
            .only(&[CipherSuite::TLS13_AES_128_GCM_SHA256])
            .unwrap(),
        "TLS 1.3",
        "TLS_AES_128_GCM_SHA256",
    );
}

#[test]
fn sip_over_tls13_on_ipv6_with_aes256_and_chacha() {
    for (suite, name) in [
        (
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            "TLS_AES_256_GCM_SHA384",
        ),
        (
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        sip_over_tls(
            &format!("tls13-{:04x}", u16::from(suite)),
            "::1",
            Offer::tls13().only(&[suite]).unwrap(),
            "TLS 1.3",
            name,
        );
    }
}

#[test]
fn sip_over_tls12_ecdhe_gcm_and_chacha_decrypts_with_no_key_file() {
    for (suite, name) in [
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        sip_over_tls(
            &format!("tls12-{:04x}", u16::from(suite)),
            "127.0.0.1",
            Offer::tls12().only(&[suite]).unwrap(),
            "TLS 1.2",
            name,
        );
    }
}

fn http_get(_: SocketAddr) -> Vec<u8> {
    b"GET /push/app HTTP/1.1\r\nHost: harness.liaison.test\r\nContent-Length: 0\r\n\r\n".to_vec()
}

fn http_ok(_: &[u8]) -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok".to_vec()
}

#[test]
fn http_over_tls_decrypts_with_no_key_file() {
    require_program("tshark", "tshark");
    let dir = tmpdir("tls-http");
    let lab = lab(&dir);
    let file = dir.join("http.pcap");
    let (c, _) = rt().block_on(async {
        let cap = Capture::create(&file).unwrap();
        let r = exchange(
            &lab,
            &Offer::all(),
            "127.0.0.1",
            "harness.liaison.test",
            http_get,
            http_ok,
            cap.clone(),
            cap.clone(),
        )
        .await;
        cap.flush().unwrap();
        r
    });
    assert_eq!(
        tshark_messages(&file, c.peer().port(), "http"),
        ["GET", "200"]
    );
    let ours: Vec<_> = ladder_messages(&file)
        .into_iter()
        .filter(|m| m.0 == Protocol::Http)
        .map(|m| m.1)
        .collect();
    assert_eq!(ours, ["GET /push/app", "HTTP 200 OK"]);
    let seen = crate::tshark::check_pcaps(vec![(file, true)], &[]);
    assert_eq!(seen.http, 2);
}

/// A TLS server on loopback that takes one connection and reports how its
/// handshake ended.
async fn one_handshake(
    lab: &Lab,
    timeout: Duration,
    cap: Capture,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Result<TlsStream, TlsError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = TlsServer::new(&lab.leaf, &Offer::all()).unwrap();
    let h = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        server.accept(tcp, cap, timeout).await
    });
    (addr, h)
}

#[test]
fn plaintext_to_the_tls_port_is_named_as_such() {
    let dir = tmpdir("tls-plaintext");
    let lab = lab(&dir);
    let file = dir.join("plain.pcap");
    let err = rt().block_on(async {
        let cap = Capture::create(&file).unwrap();
        let (addr, h) = one_handshake(&lab, T, cap.clone()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&sip_message(tcp.local_addr().unwrap()))
            .await
            .unwrap();
        let e = h.await.unwrap().unwrap_err();
        cap.flush().unwrap();
        e
    });
    match &err {
        TlsError::NotTls { first_bytes } => assert!(first_bytes.starts_with(b"MESSAGE sip:")),
        other => panic!("expected NotTls, came {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("expected a TLS record") && text.contains("MESSAGE sip:bob"),
        "{text}"
    );
    // The plaintext is in the capture, shown as what it is.
    let l = ladder::read_file(&file).unwrap();
    assert!(
        l.messages.iter().any(|m| m.protocol == Protocol::Sip),
        "{:?}",
        l.messages
    );
}

#[test]
fn a_handshake_never_completed_times_out() {
    let dir = tmpdir("tls-timeout");
    let lab = lab(&dir);
    let started = Instant::now();
    let err = rt().block_on(async {
        let (addr, h) = one_handshake(&lab, Duration::from_millis(300), Capture::disabled()).await;
        // Half a ClientHello record header, then nothing.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let e = h.await.unwrap().unwrap_err();
        drop(tcp);
        e
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        err,
        TlsError::Timeout {
            after: Duration::from_millis(300),
            received: 3
        }
    );
    assert!(
        err.to_string().contains("did not complete within 300 ms"),
        "{err}"
    );
}

#[test]
fn a_peer_that_closes_during_the_handshake() {
    let dir = tmpdir("tls-closed");
    let lab = lab(&dir);
    let err = rt().block_on(async {
        let (addr, h) = one_handshake(&lab, T, Capture::disabled()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01])
            .await
            .unwrap();
        tcp.shutdown().await.unwrap();
        h.await.unwrap().unwrap_err()
    });
    assert_eq!(err, TlsError::ClosedDuringHandshake { received: 6 });
}

#[test]
fn a_certificate_for_another_name_is_refused_on_both_sides() {
    let dir = tmpdir("tls-wrong-name");
    let lab = lab(&dir);
    let file = dir.join("wrong-name.pcap");
    let (client_err, server_err) = rt().block_on(async {
        let cap = Capture::create(&file).unwrap();
        let (addr, h) = one_handshake(&lab, T, cap.clone()).await;
        let client = TlsClient::new(lab.ca.peer_check().unwrap(), &Offer::all(), None).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let c = client
            .connect(tcp, "elsewhere.liaison.test", cap.clone(), T)
            .await
            .unwrap_err();
        let s = h.await.unwrap().unwrap_err();
        cap.flush().unwrap();
        (c, s)
    });
    match &client_err {
        TlsError::CertificateRefused { why } => {
            assert!(
                why.contains("elsewhere.liaison.test") || why.contains("NotValidForName"),
                "{why}"
            )
        }
        other => panic!("expected CertificateRefused, came {other:?}"),
    }
    assert!(client_err
        .to_string()
        .starts_with("the peer's certificate was refused"));
    // The ladder shows the alert the harness sent, decrypted (TLS 1.3
    // protects it with the handshake keys), as tshark does.
    let l = ladder::read_file(&file).unwrap();
    let alerts: Vec<String> = l
        .messages
        .iter()
        .filter(|m| m.protocol == Protocol::Tls)
        .map(|m| m.label())
        .collect();
    assert_eq!(alerts, ["TLS alert: bad_certificate (fatal)"]);
    crate::tshark::check_pcaps(vec![(file, false)], &[]);
    // The harness told the server why (RFC 8446 §6.2: bad_certificate).
    assert_eq!(
        server_err,
        TlsError::AlertReceived {
            alert: "BadCertificate".into()
        }
    );
}

#[test]
fn an_unchecked_certificate_is_recorded_as_not_checked() {
    let dir = tmpdir("tls-unchecked");
    let lab = lab(&dir);
    // A server certificate from another CA, for another name.
    let other = LabCa::new()
        .unwrap()
        .issue(&["elsewhere.test"], &[])
        .unwrap();
    let negotiated = rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = TlsServer::new(&other, &Offer::all()).unwrap();
        let h = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            server.accept(tcp, Capture::disabled(), T).await
        });
        let client = TlsClient::new(PeerCheck::NotChecked, &Offer::all(), None).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let c = client
            .connect(tcp, "harness.liaison.test", Capture::disabled(), T)
            .await
            .unwrap();
        h.await.unwrap().unwrap();
        c.negotiated.clone()
    });
    assert_eq!(
        negotiated.peer_certificate,
        CertCheck::NotChecked { presented: 2 }
    );
    assert!(
        negotiated.to_string().contains("NOT checked"),
        "{negotiated}"
    );
    let _ = lab;
}

#[test]
fn a_tls_client_answered_in_plaintext() {
    let dir = tmpdir("tls-client-plain");
    let lab = lab(&dir);
    let err = rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.write_all(b"SIP/2.0 400 Bad Request\r\n\r\n").await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let client = TlsClient::new(lab.ca.peer_check().unwrap(), &Offer::all(), None).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        client
            .connect(tcp, "127.0.0.1", Capture::disabled(), T)
            .await
            .unwrap_err()
    });
    assert!(
        matches!(&err, TlsError::NotTls { first_bytes } if first_bytes.starts_with(b"SIP/2.0 400")),
        "{err:?}"
    );
}

fn msrp_framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    liaison::codec::msrp::next_frame(buf, max).map_err(|e| e.to_string())
}

/// A framed connection over TLS (`StreamConn::over_tls`, what MSRP, SMPP
/// and HTTP roles use): an MSRP SEND and its 200 between two harness ends,
/// as events on each side, and in the capture decrypted by tshark (MSRP
/// named on its TLS port) and by the ladder alike.
#[test]
fn msrp_over_a_framed_tls_connection() {
    use liaison::net::stream::{StreamConn, StreamEvent};
    require_program("tshark", "tshark");
    let dir = tmpdir("tls-msrp");
    let lab = lab(&dir);
    let file = dir.join("msrp.pcap");
    let send = |port: u16| {
        format!(
            "MSRP a786hjs2 SEND\r\nTo-Path: msrps://127.0.0.1:{port}/s2;tcp\r\n\
             From-Path: msrps://127.0.0.1:1/s1;tcp\r\nMessage-ID: 87652491\r\n\
             Byte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------a786hjs2$\r\n"
        )
        .into_bytes()
    };
    let ok = |port: u16| {
        format!(
            "MSRP a786hjs2 200 OK\r\nTo-Path: msrps://127.0.0.1:1/s1;tcp\r\n\
             From-Path: msrps://127.0.0.1:{port}/s2;tcp\r\n-------a786hjs2$\r\n"
        )
        .into_bytes()
    };
    let deadline = || Instant::now() + T;
    let (got_send, got_ok, negotiated) = rt().block_on(async {
        let cap = Capture::create(&file).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = TlsServer::new(&lab.leaf, &Offer::all()).unwrap();
        let sc = cap.clone();
        let serve = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = server.accept(tcp, sc, T).await.unwrap();
            let conn = StreamConn::over_tls(tls, msrp_framer, 1 << 16);
            let got = conn.recv(deadline()).await.expect("the SEND");
            conn.send(&ok(port)).await.unwrap();
            // The client's close (close_notify, then FIN) ends it.
            let end = conn.recv(deadline()).await.expect("the close");
            assert_eq!(end.event, StreamEvent::Closed(Vec::new()));
            conn.shutdown().await;
            got.event
        });
        let client = TlsClient::new(lab.ca.peer_check().unwrap(), &Offer::all(), None).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let tls = client
            .connect(tcp, "127.0.0.1", cap.clone(), T)
            .await
            .unwrap();
        let conn = StreamConn::over_tls(tls, msrp_framer, 1 << 16);
        conn.send(&send(port)).await.unwrap();
        let got_ok = conn.recv(deadline()).await.expect("the 200").event;
        conn.shutdown().await;
        let negotiated = conn.tls().cloned().expect("negotiated");
        let got_send = serve.await.unwrap();
        drop(conn);
        cap.flush().unwrap();
        (got_send, got_ok, negotiated)
    });
    let port = negotiated.peer.port();
    assert_eq!(got_send, StreamEvent::Message(send(port)));
    assert_eq!(got_ok, StreamEvent::Message(ok(port)));
    assert_eq!(negotiated.version, "TLS 1.3");
    let seen = crate::tshark::check_pcaps(vec![(file.clone(), true)], &[]);
    assert_eq!(seen.msrp, 2, "tshark and the ladder: the SEND and its 200");
}

/// A launched reference sms-im-iwf configured with the core's fixed TLS
/// address (`iwf.ims_core_tls`, `--ims-core-tls`) and the run's lab CA and
/// certificate (LIAISON_TLS_*): the harness core takes its MESSAGE there
/// over TLS and DR-21 over TLS passes, the plaintext twins beside it; the
/// run-level pcap holds the TLS records, which tshark decrypts to SIP.
#[test]
fn a_launched_interworking_function_sends_sip_over_tls_to_the_core() {
    let (smsc, core, core_tls) = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    );
    let profile = format!(
        "name: reference sms-im-iwf over TLS\n\
         roles: [sms-im-iwf]\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         capabilities: {{ sme_ack: true, iwf_msrp: true, msrp_tls: true }}\n\
         iwf: {{ smsc: \"127.0.0.1:{smsc}\", system_id: liaison, password: secret, ims_core: \"127.0.0.1:{core}\", ims_core_tls: \"127.0.0.1:{core_tls}\", tls_prefix: \"1556\", t1_ms: 50 }}\n\
         launch:\n  command: [{}, reference, --role, sms-im-iwf, --t1-ms, \"50\", --smsc, \"127.0.0.1:{smsc}\", --ims-core, \"127.0.0.1:{core}\", --ims-core-tls, \"127.0.0.1:{core_tls}\", --tls-prefix, \"1556\"]\n",
        bin()
    );
    let (o, r, out) = run_profile(
        &profile,
        &["--strict", "--tags", "@DR-21 and not @if:iwf_msrp"],
        "iwf-sip-tls",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let over_tls = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "if:iwf_sip_tls")
        })
        .unwrap_or_else(|| panic!("no TLS scenario ran: {}", text(&o)));
    assert_eq!(over_tls["verdict"], "passed", "{over_tls}");
    require_program("tshark", "tshark");
    let run_level = out.join("pcaps/run-level-iwf.pcap");
    let sip = tshark_messages(&run_level, core_tls, "sip");
    assert!(
        sip.iter().any(|m| m == "MESSAGE") && sip.iter().any(|m| m == "200"),
        "{sip:?}"
    );
    // The report's ladder reads the same inside TLS.
    let ladder = ladder_messages(&run_level);
    assert!(
        ladder.iter().any(|(p, label, tls)| *p == Protocol::Sip
            && label.contains("MESSAGE")
            && tls.is_some()),
        "{ladder:?}"
    );
}
