//! WebSocket connections (src/net/ws.rs) over real loopback sockets: a SIP
//! MESSAGE and its 200 OK between the harness's client and server, read back
//! by tshark as SIP over WebSocket (RFC 7118); and the peers that go wrong
//! (an upgrade refused, never answered, answered without `sip`, garbage
//! instead of HTTP, frames that break RFC 6455), each a bounded error that
//! says what happened. The misbehaving peers are raw sockets written here.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liaison::codec::ws::{self, CloseBody, FrameError, HandshakeError, Message, Opcode};
use liaison::net::capture::Capture;
use liaison::net::ws::{self as wsnet, ClientRequest, WsConfig, WsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{require_program, tmpdir, tshark};

const MESSAGE: &[u8] = b"MESSAGE sip:bob@example.test SIP/2.0\r\n\
Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.test>;tag=a1\r\n\
To: <sip:bob@example.test>\r\n\
Call-ID: ws-call-1@df7jal23ls0d.invalid\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\r\nhello";

const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\n\
From: <sip:alice@example.test>;tag=a1\r\n\
To: <sip:bob@example.test>;tag=b1\r\n\
Call-ID: ws-call-1@df7jal23ls0d.invalid\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Length: 0\r\n\r\n";

/// Short waits: every failure below must come within them.
fn cfg() -> WsConfig {
    WsConfig {
        max_message: 4096,
        handshake_timeout: Duration::from_millis(400),
        write_timeout: Duration::from_secs(2),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

async fn client(
    addr: SocketAddr,
    req: &ClientRequest<'_>,
) -> Result<wsnet::WsConn<wsnet::Tapped<TcpStream>>, WsError> {
    wsnet::connect(addr, Capture::disabled(), req, &cfg()).await
}

/// A raw server's side: reads the client's head and returns its key.
async fn read_upgrade(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed during its handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
    ws::read_request(&buf).unwrap().key
}

/// A raw server that reads the upgrade and answers `answer(key)`, then
/// holds the connection open for a while.
async fn raw_server(answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> SocketAddr {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let key = read_upgrade(&mut s).await;
        let bytes = answer(&key);
        if !bytes.is_empty() {
            s.write_all(&bytes).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_message_and_its_200_cross_and_tshark_reads_sip_over_websocket() {
    require_program("tshark", "tshark");
    let dir = tmpdir("websocket");
    let path = dir.join("ws.pcap");
    let cap = Capture::create(&path).unwrap();
    let (l, addr) = listener().await;
    let scap = cap.clone();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let mut conn = wsnet::accept(s, scap, ws::SUBPROTOCOL_SIP, &cfg())
            .await
            .unwrap();
        assert_eq!(conn.info.protocol.as_deref(), Some("sip"));
        let got = conn.recv_data(soon()).await.unwrap().unwrap();
        assert_eq!(got, MESSAGE);
        conn.send_sip(OK).await.unwrap();
        // The client closes; the server answers with the same code and
        // closes the TCP connection.
        match conn.recv(soon()).await {
            Ok(Some(Message::Close(Some(b)))) => assert_eq!(b.code, ws::CLOSE_NORMAL),
            other => panic!("expected the client's Close, got {other:?}"),
        }
    });
    let host = addr.to_string();
    let mut c = wsnet::connect(addr, cap.clone(), &ClientRequest::sip(&host, "/"), &cfg())
        .await
        .unwrap();
    assert_eq!(c.info.protocol.as_deref(), Some("sip"));
    c.send_sip(MESSAGE).await.unwrap();
    assert_eq!(c.recv_data(soon()).await.unwrap().unwrap(), OK);
    let out = c
        .close(Some(ws::CLOSE_NORMAL), "done", soon())
        .await
        .unwrap();
    assert_eq!(
        out.peer_close,
        Some(Some(CloseBody {
            code: 1000,
            reason: String::new()
        }))
    );
    assert!(out.peer_ended_tcp && out.late.is_empty(), "{out:?}");
    server.await.unwrap();
    cap.flush().unwrap();
    drop(cap);

    let p = path.to_str().unwrap();
    let decode = format!("tcp.port=={},http", addr.port());
    let read = |filter: &str, fields: &[&str]| {
        let mut args = vec!["-r", p, "-d", &decode, "-Y", filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        tshark(&args)
    };
    let sip = read("sip", &["sip.Method", "sip.Status-Code"]);
    let sip: Vec<&str> = sip.lines().collect();
    assert_eq!(sip, ["MESSAGE\t", "\t200"], "tshark -Y sip");
    let frames = read("websocket", &["websocket.opcode", "websocket.mask"]);
    let frames: Vec<&str> = frames.lines().collect();
    assert_eq!(
        frames,
        ["1\t1", "1\t0", "8\t1", "8\t0"],
        "tshark -Y websocket"
    );
    let upgrade = read(
        "http",
        &["http.request.method", "http.response.code", "http.upgrade"],
    );
    let upgrade: Vec<&str> = upgrade.lines().collect();
    assert_eq!(
        upgrade,
        ["GET\t\twebsocket", "\t101\twebsocket"],
        "tshark -Y http"
    );
    let problems = read(
        "_ws.malformed || _ws.expert.severity >= 6291456",
        &["frame.number", "_ws.expert.message"],
    );
    assert!(
        problems.trim().is_empty(),
        "tshark finds problems: {problems}"
    );
}

#[tokio::test]
async fn a_refused_upgrade_carries_the_status_at_once() {
    // The refusal's body runs to the end of the connection, which stays
    // open: the client must not wait for it.
    let addr = raw_server(|_| {
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno websockets here".to_vec()
    })
    .await;
    let t = Instant::now();
    let host = addr.to_string();
    let e = client(addr, &ClientRequest::sip(&host, "/"))
        .await
        .err()
        .unwrap();
    assert!(t.elapsed() < cfg().handshake_timeout, "{:?}", t.elapsed());
    match &e {
        WsError::Refused {
            status,
            reason,
            response,
        } => {
            assert_eq!((*status, reason.as_str()), (403, "Forbidden"));
            assert!(response.starts_with(b"HTTP/1.1 403"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("HTTP 403 Forbidden"), "{e}");
}

#[tokio::test]
async fn an_upgrade_never_answered_times_out() {
    let addr = raw_server(|_| Vec::new()).await;
    let t = Instant::now();
    let host = addr.to_string();
    let e = client(addr, &ClientRequest::sip(&host, "/"))
        .await
        .err()
        .unwrap();
    let took = t.elapsed();
    assert!(
        took >= cfg().handshake_timeout - Duration::from_millis(50)
            && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(
        matches!(&e, WsError::HandshakeTimeout { received, .. } if received.is_empty()),
        "{e:?}"
    );
    assert!(e.to_string().contains("nothing received"), "{e}");
}

#[tokio::test]
async fn an_upgrade_answered_without_sip_is_refused_by_the_client() {
    let host = "127.0.0.1";
    let addr = raw_server(|key| ws::accept_response(key, None)).await;
    let e = client(addr, &ClientRequest::sip(host, "/"))
        .await
        .err()
        .unwrap();
    match &e {
        WsError::BadHandshake {
            error: HandshakeError::ProtocolMissing { wanted, .. },
            answered: None,
            ..
        } => {
            assert_eq!(wanted, "sip")
        }
        other => panic!("{other:?}"),
    }
    let addr = raw_server(|key| ws::accept_response(key, Some("msrp"))).await;
    let e = client(addr, &ClientRequest::sip(host, "/"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, WsError::BadHandshake { error: HandshakeError::ProtocolNotOffered { chosen, .. }, .. } if chosen == "msrp"),
        "{e:?}"
    );
    let addr = raw_server(|_| ws::accept_response("c29tZSBvdGhlciBub25jZQ==", Some("sip"))).await;
    let e = client(addr, &ClientRequest::sip(host, "/"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            &e,
            WsError::BadHandshake {
                error: HandshakeError::AcceptWrong { .. },
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn garbage_instead_of_http_is_named_at_once() {
    // A TLS ServerHello where the 101 was due (a wss: server on a ws: URI).
    let addr = raw_server(|_| b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03".to_vec()).await;
    let t = Instant::now();
    let e = client(addr, &ClientRequest::sip("h", "/"))
        .await
        .err()
        .unwrap();
    assert!(t.elapsed() < cfg().handshake_timeout);
    assert!(
        matches!(&e, WsError::NotHttp { received, .. } if received.starts_with(b"\x16\x03")),
        "{e:?}"
    );
    // A SIP answer where the 101 was due (a SIP-over-TCP port).
    let addr = raw_server(|_| OK.to_vec()).await;
    let e = client(addr, &ClientRequest::sip("h", "/"))
        .await
        .err()
        .unwrap();
    assert!(matches!(&e, WsError::NotHttp { .. }), "{e:?}");
    // A peer that closes without a word.
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        read_upgrade(&mut s).await;
    });
    let e = client(addr, &ClientRequest::sip("h", "/"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, WsError::HandshakeClosed { received } if received.is_empty()),
        "{e:?}"
    );
}

/// The harness as server, the peer a raw socket sending `bytes`; what the
/// server's handshake returned and what the peer got back.
async fn against_server(bytes: &'static [u8]) -> (Result<(), WsError>, Vec<u8>) {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        wsnet::accept(s, Capture::disabled(), ws::SUBPROTOCOL_SIP, &cfg())
            .await
            .map(|_| ())
    });
    let mut s = TcpStream::connect(addr).await.unwrap();
    if !bytes.is_empty() {
        s.write_all(bytes).await.unwrap();
    }
    let mut back = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut back)).await;
    (server.await.unwrap(), back)
}

#[tokio::test]
async fn the_server_refuses_what_is_not_a_sip_upgrade() {
    // No `sip` offered: 400, and the client's own reading of it.
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        wsnet::accept(s, Capture::disabled(), ws::SUBPROTOCOL_SIP, &cfg())
            .await
            .map(|_| ())
    });
    let plain = ClientRequest {
        host: "h",
        target: "/",
        protocols: &["chat"],
        require: None,
    };
    let e = client(addr, &plain).await.err().unwrap();
    assert!(matches!(&e, WsError::Refused { status: 400, .. }), "{e:?}");
    let e = server.await.unwrap().unwrap_err();
    assert!(
        matches!(
            &e,
            WsError::BadHandshake {
                error: HandshakeError::ProtocolNotRequested { .. },
                answered: Some(400),
                ..
            }
        ),
        "{e:?}"
    );

    // Version 8: 426 with the version the server speaks.
    let (r, back) = against_server(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\
Sec-WebSocket-Protocol: sip\r\n\r\n",
    )
    .await;
    assert!(
        matches!(
            r,
            Err(WsError::BadHandshake {
                answered: Some(426),
                ..
            })
        ),
        "{r:?}"
    );
    assert!(back.starts_with(b"HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(back
        .windows(26)
        .any(|w| w == b"Sec-WebSocket-Version: 13\r"));

    // A TLS ClientHello (a wss: client on a ws: port): 400 at once.
    let (r, back) = against_server(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").await;
    assert!(matches!(r, Err(WsError::NotHttp { .. })), "{r:?}");
    assert!(back.starts_with(b"HTTP/1.1 400 "));

    // Nothing at all: the handshake timeout, nothing answered.
    let t = Instant::now();
    let (r, back) = against_server(b"").await;
    assert!(matches!(r, Err(WsError::HandshakeTimeout { .. })), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(2) && back.is_empty());
}

/// A harness client and server joined over loopback.
async fn pair() -> (
    wsnet::WsConn<wsnet::Tapped<TcpStream>>,
    wsnet::WsConn<wsnet::Tapped<TcpStream>>,
) {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        wsnet::accept(s, Capture::disabled(), ws::SUBPROTOCOL_SIP, &cfg())
            .await
            .unwrap()
    });
    let c = client(addr, &ClientRequest::sip("h", "/")).await.unwrap();
    (c, server.await.unwrap())
}

#[tokio::test]
async fn ping_is_answered_and_bad_frames_fail_the_connection() {
    // Ping from the client: the server returns it and answers Pong.
    let (mut c, mut s) = pair().await;
    c.send(Opcode::Ping, b"p1").await.unwrap();
    assert_eq!(
        s.recv(soon()).await.unwrap(),
        Some(Message::Ping(b"p1".to_vec()))
    );
    assert_eq!(
        c.recv(soon()).await.unwrap(),
        Some(Message::Pong(b"p1".to_vec()))
    );

    // An unmasked client frame: the server names it and closes with 1002.
    c.sender
        .send_spec(ws::FrameSpec::new(Opcode::Text), b"MESSAGE")
        .await
        .unwrap();
    match s.recv(soon()).await {
        Err(WsError::Frame {
            error: FrameError::ClientFrameUnmasked,
            close_code: 1002,
            frame,
        }) => {
            assert!(frame.starts_with(&[0x81, 0x07]))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.recv(soon()).await.unwrap(),
        Some(Message::Close(Some(CloseBody {
            code: 1002,
            reason: String::new()
        })))
    );

    // A message over the server's limit: refused from the header, 1009.
    let (c, mut s) = pair().await;
    c.send(Opcode::Binary, &vec![0u8; cfg().max_message + 1])
        .await
        .unwrap();
    match s.recv(soon()).await {
        Err(WsError::Frame {
            error:
                FrameError::TooLong {
                    length: 4097,
                    limit: 4096,
                },
            close_code: 1009,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }

    // Text that is not UTF-8, across two fragments: 1007.
    let (c, mut s) = pair().await;
    let key = Some([1, 2, 3, 4]);
    c.sender
        .send_spec(
            ws::FrameSpec::new(Opcode::Text).fin(false).mask(key),
            b"ok \xe2",
        )
        .await
        .unwrap();
    c.sender
        .send_spec(ws::FrameSpec::new(Opcode::Continuation).mask(key), b"\x28")
        .await
        .unwrap();
    match s.recv(soon()).await {
        Err(WsError::Frame {
            error: FrameError::TextNotUtf8 { at: 3 },
            close_code: 1007,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }

    // A masked frame from a server: the client names it.
    let addr = raw_server(|key| {
        [
            ws::accept_response(key, Some("sip")),
            ws::encode_frame(Opcode::Text, OK, Some([9, 9, 9, 9])),
        ]
        .concat()
    })
    .await;
    let mut c = client(addr, &ClientRequest::sip("h", "/")).await.unwrap();
    match c.recv(soon()).await {
        Err(WsError::Frame {
            error: FrameError::ServerFrameMasked,
            close_code: 1002,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }

    // A partial frame is no message yet; then the TCP connection ends
    // without a Close: named, with the bytes left, not a hang.
    let (l, addr) = listener().await;
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let key = read_upgrade(&mut s).await;
        let mut out = ws::accept_response(&key, Some("sip"));
        out.extend_from_slice(&[0x81, 0x05, b'h']);
        s.write_all(&out).await.unwrap();
        let _ = wait.await;
    });
    let mut c = client(addr, &ClientRequest::sip("h", "/")).await.unwrap();
    let t = Instant::now();
    let r = c.recv(Instant::now() + Duration::from_millis(200)).await;
    assert!(matches!(r, Ok(None)), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(go);
    match c.recv(soon()).await {
        Err(WsError::Ended { pending }) => assert_eq!(pending, [0x81, 0x05, b'h']),
        other => panic!("{other:?}"),
    }
}

/// The embedded reference im-server takes SIP over WebSocket on its own
/// listener (codec::ws with its own I/O): a request over a connection is
/// answered over it in an unmasked text frame, Ping gets Pong, Close gets
/// Close and the server ends the TCP connection; an upgrade without `sip`
/// is refused (400), an unmasked client frame closes with 1002; and its
/// fault `ws-no-subprotocol` is a 101 the harness's client refuses.
#[tokio::test]
async fn the_reference_im_server_takes_sip_over_websocket() {
    use liaison::reference::{start, Settings};
    let at_any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let r = start("im-server", at_any, Settings::default())
        .await
        .unwrap();
    let at = r.ws.expect("a WebSocket listener");
    assert_ne!(at.port(), r.address.port());

    let mut c = client(at, &ClientRequest::sip("h", "/")).await.unwrap();
    assert_eq!(c.info.protocol.as_deref(), Some("sip"));
    let options = b"OPTIONS sip:liaison.test SIP/2.0\r\n\
Via: SIP/2.0/WS r4nd0m.invalid;branch=z9hG4bKwsref1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@liaison.test>;tag=a1\r\n\
To: <sip:liaison.test>\r\n\
Call-ID: ws-ref-1@r4nd0m.invalid\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";
    c.sender.send_sip(options).await.unwrap();
    match c.recv(soon()).await.unwrap() {
        Some(Message::Text(t)) => {
            assert!(t.starts_with("SIP/2.0 200 OK\r\n"), "{t}");
            assert!(
                t.contains("Via: SIP/2.0/WS r4nd0m.invalid;branch=z9hG4bKwsref1\r\n"),
                "{t}"
            );
        }
        other => panic!("{other:?}"),
    }
    c.send(Opcode::Ping, b"p2").await.unwrap();
    assert_eq!(
        c.recv(soon()).await.unwrap(),
        Some(Message::Pong(b"p2".to_vec()))
    );
    let closed = c.close(Some(1000), "bye", soon()).await.unwrap();
    assert_eq!(
        closed.peer_close,
        Some(Some(CloseBody {
            code: 1000,
            reason: String::new()
        }))
    );
    assert!(closed.peer_ended_tcp, "{closed:?}");

    // No `sip` offered: refused, with the status.
    let plain = ClientRequest {
        host: "h",
        target: "/",
        protocols: &["chat"],
        require: None,
    };
    let e = client(at, &plain).await.err().unwrap();
    assert!(matches!(&e, WsError::Refused { status: 400, .. }), "{e:?}");

    // An unmasked client frame: Close 1002, the rule as its reason.
    let mut c = client(at, &ClientRequest::sip("h", "/")).await.unwrap();
    c.sender
        .send_spec(ws::FrameSpec::new(Opcode::Text), b"OPTIONS")
        .await
        .unwrap();
    match c.recv(soon()).await {
        Ok(Some(Message::Close(Some(CloseBody { code: 1002, reason })))) => {
            assert!(reason.contains("unmasked"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // The fault: 101 without Sec-WebSocket-Protocol, which the client fails.
    let faulty = Settings {
        fault: Some("ws-no-subprotocol"),
        ..Settings::default()
    };
    let r2 = start("im-server", at_any, faulty).await.unwrap();
    let e = client(r2.ws.unwrap(), &ClientRequest::sip("h", "/"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            &e,
            WsError::BadHandshake {
                error: HandshakeError::ProtocolMissing { .. },
                ..
            }
        ),
        "{e:?}"
    );
}
