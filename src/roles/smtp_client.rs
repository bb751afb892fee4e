//! The harness as an SMTP client (RFC 5321): the MEM server sending to an MMS
//! relay's MM3 interface, or a mail sender making a new message arrive in a
//! MEM server's mailbox. It runs one mail transaction on its own connection —
//! greeting, EHLO (HELO if EHLO is refused), MAIL, RCPT per recipient, DATA,
//! the content dot-stuffed, QUIT — and keeps every command it sent and every
//! reply it got, raw, in order. A scenario may leave out the recipients and
//! send DATA anyway, to see the server refuse it; it never stops at a refusal
//! it asked for, and stops at any other (then QUIT).
//!
//! Replies are framed by the SMTP codec on a [`StreamConn`], so each reply is
//! one pcap frame; each command and the content are sent in one write.
//!
//! With [`StartTls`] (RFC 3207) it sends STARTTLS when the EHLO reply lists
//! it, does the TLS handshake on the same connection after 220, and starts
//! over with EHLO inside TLS before the transaction (§4.2); without, it
//! ignores the offer (a client may decline it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::escape_bytes;
use crate::codec::smtp::{self, Reply};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::net::tls::{Negotiated, TlsClient};

/// STARTTLS when the server offers it: the TLS client (the server's
/// certificate checked as it says) and the name to check it against.
#[derive(Debug, Clone)]
pub struct StartTls {
    pub client: TlsClient,
    pub server_name: String,
}

/// The largest reply read.
const MAX_REPLY: usize = 64 * 1024;

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    smtp::next_reply(buf, max).map_err(|e| e.to_string())
}

/// What one mail transaction sends.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The EHLO/HELO domain.
    pub helo: String,
    /// The reverse-path (MAIL FROM:<…>).
    pub from: String,
    /// The forward-paths (RCPT TO:<…>); empty to send DATA without any.
    pub to: Vec<String>,
    /// The message (dot-stuffed by the client).
    pub message: Vec<u8>,
    /// Send DATA (and, on 354, the content) even when no recipient was accepted.
    pub data_without_recipients: bool,
}

/// One step of the dialogue: what was sent (nothing for the greeting) and
/// what came back.
#[derive(Debug, Clone)]
pub struct Step {
    /// `greeting`, `EHLO`, `HELO`, `MAIL`, `RCPT`, `DATA`, `content`, `QUIT`.
    pub what: String,
    pub sent: Vec<u8>,
    pub reply: Result<Reply, String>,
    /// When it was sent (the greeting: when the connection was up).
    pub at: Instant,
    /// When the reply (or what ended the wait for it) came.
    pub replied: Instant,
    /// Sent and answered inside TLS (after STARTTLS and the handshake).
    pub tls: bool,
}

impl Step {
    pub fn code(&self) -> Option<u16> {
        self.reply.as_ref().ok().map(|r| r.code)
    }

    pub fn describe(&self) -> String {
        let sent = if self.sent.is_empty() {
            String::new()
        } else if self.what == "content" {
            format!("C: <{} octets of content> ", self.sent.len())
        } else {
            format!("C: {} ", escape_bytes(&self.sent, 120))
        };
        let got = match &self.reply {
            Ok(r) => format!("S: {}", r.describe()),
            Err(e) => format!("S: — {e}"),
        };
        let tls = if self.tls { "[TLS] " } else { "" };
        format!("{tls}{sent}{got}")
    }
}

/// The whole dialogue.
#[derive(Debug, Clone, Default)]
pub struct Dialogue {
    pub steps: Vec<Step>,
    /// A connect or send failure, if one ended the dialogue.
    pub error: Option<String>,
    /// What the TLS handshake after STARTTLS negotiated.
    pub tls: Option<Negotiated>,
}

impl Dialogue {
    /// The last step for `what`.
    pub fn step(&self, what: &str) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.what == what)
    }

    pub fn steps_for<'a>(&'a self, what: &'a str) -> impl Iterator<Item = &'a Step> {
        self.steps.iter().filter(move |s| s.what == what)
    }

    /// The reply to the content: the server's verdict on the message.
    pub fn final_reply(&self) -> Option<&Reply> {
        self.step("content").and_then(|s| s.reply.as_ref().ok())
    }

    /// The EHLO reply, when it was positive.
    pub fn ehlo(&self) -> Option<&Reply> {
        self.step("EHLO")
            .and_then(|s| s.reply.as_ref().ok())
            .filter(|r| r.positive())
    }

    /// The message was accepted (250 after the content).
    pub fn accepted(&self) -> bool {
        self.final_reply().is_some_and(Reply::positive)
    }

    /// When the positive reply to the content came: the moment the server
    /// took responsibility for the message (RFC 5321 §6.1).
    pub fn accepted_at(&self) -> Option<Instant> {
        self.step("content")
            .filter(|s| s.reply.as_ref().is_ok_and(Reply::positive))
            .map(|s| s.replied)
    }

    /// For a message the server accepted: when its content was sent, the
    /// last moment the harness can put for certain before anything the
    /// server does about it. (The 250 and a notification travel on two
    /// connections; which reaches the harness first within a fraction of a
    /// millisecond is no evidence of which the server did first.)
    pub fn content_sent_at(&self) -> Option<Instant> {
        self.step("content")
            .filter(|s| s.reply.as_ref().is_ok_and(Reply::positive))
            .map(|s| s.at)
    }

    pub fn describe(&self) -> String {
        let mut s: Vec<String> = self.steps.iter().map(Step::describe).collect();
        if let Some(t) = &self.tls {
            s.push(format!("(TLS: {t})"));
        }
        if let Some(e) = &self.error {
            s.push(format!("({e})"));
        }
        s.join(" | ")
    }
}

/// Connects to `dst` and runs `t`, everything bounded by `deadline`; with
/// `starttls`, over TLS when the server offers STARTTLS.
pub async fn send(
    dst: SocketAddr,
    capture: Capture,
    t: &Transaction,
    deadline: Instant,
    starttls: Option<&StartTls>,
) -> Dialogue {
    let mut d = Dialogue::default();
    let left = deadline.saturating_duration_since(Instant::now());
    let hold = Arc::new(AtomicBool::new(false));
    let conn = match StreamConn::connect_held(
        dst,
        capture.clone(),
        framer,
        MAX_REPLY,
        left,
        starttls.map(|_| hold.clone()),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            d.error = Some(format!("TCP connect to {dst} failed: {e}"));
            return d;
        }
    };
    let conn = match starttls {
        Some(s) => match upgrade(conn, s, &hold, &capture, t, deadline, &mut d).await {
            Some(c) => c,
            None => return d,
        },
        None => conn,
    };
    run(&conn, t, deadline, &mut d).await;
    conn.shutdown().await;
    d
}

/// Greeting and EHLO in the clear; when the EHLO reply lists STARTTLS:
/// STARTTLS, the handshake after 220, and the connection inside TLS (the
/// greeting already had, so `run` starts with EHLO). The connection as it
/// is when the server did not offer STARTTLS; None when the dialogue ended.
async fn upgrade(
    conn: StreamConn,
    s: &StartTls,
    hold: &AtomicBool,
    capture: &Capture,
    t: &Transaction,
    deadline: Instant,
    d: &mut Dialogue,
) -> Option<StreamConn> {
    if !greet(&conn, deadline, d).await {
        conn.shutdown().await;
        return None;
    }
    let e = exchange(&conn, "EHLO", smtp::command("EHLO", &t.helo), deadline, d).await?;
    if !e.positive() || !e.ehlo_keywords().iter().any(|k| k == "STARTTLS") {
        return Some(conn);
    }
    hold.store(true, Ordering::SeqCst);
    let r = exchange(
        &conn,
        "STARTTLS",
        smtp::command("STARTTLS", ""),
        deadline,
        d,
    )
    .await;
    if r.as_ref().map(|r| r.code) != Some(220) {
        d.error = Some("STARTTLS not answered with 220: no TLS, the dialogue ends".into());
        conn.shutdown().await;
        return None;
    }
    let left = |d: Instant| d.saturating_duration_since(Instant::now());
    let (tcp, early) = match conn
        .into_tcp(left(deadline).min(Duration::from_secs(5)))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            d.error = Some(format!("the connection after 220 to STARTTLS: {e}"));
            return None;
        }
    };
    if !early.is_empty() {
        d.error = Some(format!(
            "the server sent bytes after its 220 to STARTTLS, before the TLS handshake: {}",
            escape_bytes(&early, 200)
        ));
        return None;
    }
    let tls = match s
        .client
        .connect_upgraded(tcp, &s.server_name, capture.clone(), left(deadline))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            d.error = Some(format!("TLS handshake after STARTTLS failed: {e}"));
            return None;
        }
    };
    d.tls = Some(tls.negotiated.clone());
    Some(StreamConn::over_tls(tls, framer, MAX_REPLY))
}

/// The next reply, and when it was framed (or the wait ended).
async fn reply(conn: &StreamConn, deadline: Instant) -> (Result<Reply, String>, Instant) {
    let r = conn.recv(deadline).await;
    let at = r.as_ref().map_or_else(Instant::now, |a| a.at);
    let r = match r {
        Some(a) => match a.event {
            StreamEvent::Message(b) => Reply::parse(&b)
                .map_err(|e| format!("not an SMTP reply ({e}) — bytes: {}", escape_bytes(&b, 200))),
            StreamEvent::Garbage(b, why) => Err(format!(
                "not an SMTP reply ({why}) — bytes: {}",
                escape_bytes(&b, 200)
            )),
            StreamEvent::Closed(b) if b.is_empty() => {
                Err("the server closed the connection".into())
            }
            StreamEvent::Closed(b) => Err(format!(
                "the server closed the connection inside a reply: {}",
                escape_bytes(&b, 200)
            )),
        },
        None => Err(format!(
            "no reply within the scenario time{}",
            match conn.pending() {
                p if p.is_empty() => String::new(),
                p => format!(" (unframed bytes: {})", escape_bytes(&p, 200)),
            }
        )),
    };
    (r, at)
}

/// Sends `bytes` as step `what` and reads the reply; false when the dialogue
/// cannot go on (no reply, closed).
async fn exchange(
    conn: &StreamConn,
    what: &str,
    bytes: Vec<u8>,
    deadline: Instant,
    d: &mut Dialogue,
) -> Option<Reply> {
    let at = Instant::now();
    if let Err(e) = conn.send(&bytes).await {
        d.error = Some(format!("sending {what} failed: {e}"));
        return None;
    }
    let (r, replied) = reply(conn, deadline).await;
    let out = r.as_ref().ok().cloned();
    d.steps.push(Step {
        what: what.to_string(),
        sent: bytes,
        reply: r,
        at,
        replied,
        tls: conn.tls().is_some(),
    });
    out
}

/// Reads the greeting; true when it is positive.
async fn greet(conn: &StreamConn, deadline: Instant, d: &mut Dialogue) -> bool {
    let at = Instant::now();
    let (greeting, replied) = reply(conn, deadline).await;
    let ok = greeting.as_ref().is_ok_and(Reply::positive);
    d.steps.push(Step {
        what: "greeting".into(),
        sent: Vec::new(),
        reply: greeting,
        at,
        replied,
        tls: false,
    });
    ok
}

async fn run(conn: &StreamConn, t: &Transaction, deadline: Instant, d: &mut Dialogue) {
    // Greeting and EHLO may have been had in the clear already (STARTTLS
    // not offered); inside TLS the session is back at its state after the
    // greeting (RFC 3207 §4.2), so it starts with EHLO.
    let ehlo_had = d.tls.is_none() && d.step("EHLO").is_some();
    if d.steps.is_empty() && !greet(conn, deadline, d).await {
        return;
    }
    let e = match d.step("EHLO").and_then(|s| s.reply.clone().ok()) {
        Some(e) if ehlo_had => e,
        _ => match exchange(conn, "EHLO", smtp::command("EHLO", &t.helo), deadline, d).await {
            Some(e) => e,
            None => return,
        },
    };
    if !e.positive() {
        match exchange(conn, "HELO", smtp::command("HELO", &t.helo), deadline, d).await {
            Some(h) if h.positive() => {}
            Some(_) => return quit(conn, deadline, d).await,
            None => return,
        }
    }
    let mail = smtp::command("MAIL", &format!("FROM:<{}>", t.from));
    match exchange(conn, "MAIL", mail, deadline, d).await {
        Some(m) if m.positive() => {}
        Some(_) => return quit(conn, deadline, d).await,
        None => return,
    }
    let mut accepted = 0;
    for r in &t.to {
        match exchange(
            conn,
            "RCPT",
            smtp::command("RCPT", &format!("TO:<{r}>")),
            deadline,
            d,
        )
        .await
        {
            Some(x) if x.positive() => accepted += 1,
            Some(_) => {}
            None => return,
        }
    }
    if accepted == 0 && !t.data_without_recipients {
        return quit(conn, deadline, d).await;
    }
    match exchange(conn, "DATA", smtp::command("DATA", ""), deadline, d).await {
        Some(x) if x.code == 354 => {}
        Some(_) => return quit(conn, deadline, d).await,
        None => return,
    }
    if exchange(conn, "content", smtp::dot_stuff(&t.message), deadline, d)
        .await
        .is_none()
    {
        return;
    }
    quit(conn, deadline, d).await;
}

async fn quit(conn: &StreamConn, deadline: Instant, d: &mut Dialogue) {
    let _ = exchange(conn, "QUIT", smtp::command("QUIT", ""), deadline, d).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls::{LabCa, Offer, TlsServer};
    use crate::roles::smtp_server::SmtpServer;

    fn transaction() -> Transaction {
        Transaction {
            helo: "c.liaison.test".into(),
            from: "a@liaison.test".into(),
            to: vec!["b@liaison.test".into()],
            message: b"From: <a@liaison.test>\r\nSubject: s\r\n\r\nbody\r\n".to_vec(),
            data_without_recipients: false,
        }
    }

    /// Offered STARTTLS: the client takes it, greets again inside TLS and
    /// sends the transaction there; without StartTls it declines.
    #[tokio::test]
    async fn starttls_when_offered_and_asked() {
        let ca = LabCa::new().unwrap();
        let leaf = ca.issue(&[], &["127.0.0.1".parse().unwrap()]).unwrap();
        let server = SmtpServer::start("127.0.0.1:0".parse().unwrap(), Capture::disabled())
            .await
            .unwrap();
        server.offer_starttls(Some(TlsServer::new(&leaf, &Offer::all()).unwrap()));
        let deadline = Instant::now() + Duration::from_secs(5);
        let s = StartTls {
            client: TlsClient::new(ca.peer_check().unwrap(), &Offer::all(), None).unwrap(),
            server_name: "127.0.0.1".into(),
        };
        let d = send(
            server.addr(),
            Capture::disabled(),
            &transaction(),
            deadline,
            Some(&s),
        )
        .await;
        assert!(d.tls.is_some(), "{}", d.describe());
        assert_eq!(d.step("STARTTLS").and_then(Step::code), Some(220));
        let whats: Vec<(&str, bool)> = d.steps.iter().map(|s| (s.what.as_str(), s.tls)).collect();
        assert_eq!(
            &whats[..4],
            [
                ("greeting", false),
                ("EHLO", false),
                ("STARTTLS", false),
                ("EHLO", true)
            ]
        );
        assert!(
            d.accepted() && d.step("content").unwrap().tls,
            "{}",
            d.describe()
        );
        let plain = send(
            server.addr(),
            Capture::disabled(),
            &transaction(),
            deadline,
            None,
        )
        .await;
        assert!(plain.tls.is_none() && plain.step("STARTTLS").is_none());
        assert!(plain.accepted(), "{}", plain.describe());
    }
}
