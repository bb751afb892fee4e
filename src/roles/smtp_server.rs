//! The harness as an SMTP server (RFC 5321): the MMS server's MM3 interface
//! a `mem-server` SUT sends its notifications to. It takes any sender and
//! recipient, answers like a plain ESMTP server (EHLO with 8BITMIME and
//! SIZE), and keeps every mail transaction exactly as it arrived — envelope,
//! the DATA content as framed and the message with its dot-stuffing removed —
//! plus every line of the dialogue, so the steps judge raw bytes.
//!
//! Its framing follows the dialogue: command lines until it has answered 354
//! to DATA, then the content up to `CRLF.CRLF`, then lines again (each one
//! pcap frame). [`Mm3Harness`] runs it for a whole run at the address the SUT
//! is configured with, behind a switchable capture (scenarios hold it (`@harness:NAME`: one scenario at a time per run-level role)).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::smtp::{self, Command};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::net::tls::TlsServer;

/// The SIZE it declares and the most it reads of one message.
pub const MAX_MESSAGE: usize = 4 << 20;
/// The longest command line it frames.
const MAX_LINE: usize = 4096;
/// An idle connection is dropped after this long.
const IDLE: Duration = Duration::from_secs(60);
/// Its host name in replies.
const NAME: &str = "mm3.liaison.test";
/// How long the TLS handshake after STARTTLS may take.
const HANDSHAKE: Duration = Duration::from_secs(5);

/// Is this command line STARTTLS without a parameter (RFC 3207 §4), the
/// one that gets 220 and the handshake? The framer and [`Session`] decide
/// by this same reading.
pub fn is_starttls(line: &[u8]) -> bool {
    Command::parse(line).is_ok_and(|c| c.verb == "STARTTLS" && c.argument.is_empty())
}

/// The framer of one connection: command lines, or the DATA content once
/// `data_mode` is set; with `hold`, it sets it on framing a STARTTLS line,
/// so that the connection's reader leaves the TLS handshake on the socket.
fn framer(
    data_mode: Arc<AtomicBool>,
    hold: Option<Arc<AtomicBool>>,
) -> impl FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static {
    move |buf: &[u8], max: usize| {
        if data_mode.load(Ordering::SeqCst) {
            let r = smtp::next_data(buf, max).map_err(|e| e.to_string());
            if matches!(r, Ok(Some(_))) {
                data_mode.store(false, Ordering::SeqCst);
            }
            r
        } else {
            let r = smtp::next_line(buf, MAX_LINE).map_err(|e| e.to_string());
            if let (Ok(Some(n)), Some(h)) = (&r, &hold)
                && is_starttls(&buf[..*n])
            {
                h.store(true, Ordering::SeqCst);
            }
            r
        }
    }
}

/// One mail transaction that reached the end of its content.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub peer: SocketAddr,
    /// The EHLO/HELO argument.
    pub helo: Option<String>,
    /// The reverse-path without angle brackets.
    pub mail_from: String,
    /// The forward-paths without angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The DATA content as framed (dot-stuffed, with the terminating line).
    pub data: Vec<u8>,
    /// The message: the content with its dot-stuffing and terminating line removed.
    pub message: Vec<u8>,
    /// The dialogue up to here on this connection, one line per command
    /// (a STARTTLS handshake as one line `[TLS …]`).
    pub dialogue: Vec<String>,
    /// Over TLS after STARTTLS (RFC 3207): what the handshake negotiated.
    pub tls: Option<String>,
    /// Where in `dialogue` the commands sent over TLS begin.
    pub after_tls: Option<usize>,
}

impl Received {
    pub fn describe(&self) -> String {
        format!(
            "{}MAIL FROM:<{}> RCPT TO:{:?} — message: {}",
            match &self.tls {
                Some(t) => format!("[over TLS after STARTTLS: {t}] "),
                None => "[in the clear] ".to_string(),
            },
            self.mail_from,
            self.rcpt_to,
            escape_bytes(&self.message, 500)
        )
    }

    /// The commands sent over TLS, in order (empty in the clear).
    pub fn tls_dialogue(&self) -> &[String] {
        match self.after_tls {
            Some(i) => self.dialogue.get(i..).unwrap_or_default(),
            None => &[],
        }
    }
}

/// The listener.
pub struct SmtpServer {
    addr: SocketAddr,
    /// Offered in the EHLO reply when set ([`SmtpServer::offer_starttls`]).
    starttls: Arc<Mutex<Option<TlsServer>>>,
    log: Arc<Mutex<Vec<Received>>>,
    /// Everything else that happened (commands, garbage, closes), for verdicts.
    events: Arc<Mutex<Vec<(Instant, String)>>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    log: Arc<Mutex<Vec<Received>>>,
    events: Arc<Mutex<Vec<(Instant, String)>>>,
    notify: Arc<Notify>,
}

use crate::net::lock;

impl SmtpServer {
    /// Listens at `addr` (loopback; port 0 picks one).
    pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<SmtpServer> {
        let listener = crate::net::listen_permitted(addr).await?;
        let addr = listener.local_addr()?;
        let sh = Arc::new(Shared {
            log: Arc::default(),
            events: Arc::default(),
            notify: Arc::new(Notify::new()),
        });
        let (log, events, notify) = (sh.log.clone(), sh.events.clone(), sh.notify.clone());
        let starttls: Arc<Mutex<Option<TlsServer>>> = Arc::default();
        let offer = starttls.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // What a connection is offered is decided when it opens.
                let tls = lock(&offer).clone();
                // Each reply (or TLS flight) goes out at once: with Nagle's
                // algorithm, a reply after the server's session tickets
                // waited for the client's delayed ACK (~40 ms).
                let _ = stream.set_nodelay(true);
                let data_mode = Arc::new(AtomicBool::new(false));
                let hold = tls.as_ref().map(|_| Arc::new(AtomicBool::new(false)));
                let Ok(conn) = StreamConn::accepted_held(
                    stream,
                    capture.clone(),
                    framer(data_mode.clone(), hold.clone()),
                    MAX_MESSAGE + 4096,
                    hold,
                ) else {
                    continue;
                };
                tokio::spawn(serve(conn, data_mode, sh.clone(), tls, capture.clone()));
            }
        });
        Ok(SmtpServer {
            addr,
            starttls,
            log,
            events,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From the next connection on: offer STARTTLS (RFC 3207) and take the
    /// handshake as `tls` (None: do not offer it).
    pub fn offer_starttls(&self, tls: Option<TlsServer>) {
        *lock(&self.starttls) = tls;
    }

    pub fn log(&self) -> Vec<Received> {
        lock(&self.log).clone()
    }

    pub fn log_since(&self, t: Instant) -> Vec<Received> {
        self.log().into_iter().filter(|r| r.at >= t).collect()
    }

    /// What else happened since `t` (one line each).
    pub fn events_since(&self, t: Instant) -> Vec<String> {
        lock(&self.events)
            .iter()
            .filter(|(at, _)| *at >= t)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Received]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.log()) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}

fn note(sh: &Shared, peer: SocketAddr, what: String) {
    lock(&sh.events).push((Instant::now(), format!("{peer}: {what}")));
    sh.notify.notify_waiters();
}

/// Most forward-paths one mail transaction keeps. RFC 5321 §4.5.3.1.8 asks a
/// server to take at least 100; further RCPTs get 452 (§4.5.3.1.10) and are
/// not kept, so a client that never sends DATA cannot grow the transaction
/// without bound.
pub const MAX_RECIPIENTS: usize = 100;
/// Most command lines of one connection kept in its dialogue (each mail
/// transaction carries a copy); later lines are counted, not kept.
pub const MAX_DIALOGUE: usize = 1000;
/// Most notes (refused commands, bare LFs) one connection adds to the run's
/// events; one more says how many were left out.
pub const MAX_NOTES: usize = 1000;

/// What the server does after one frame of a connection.
#[derive(Debug, Default)]
pub struct Output {
    /// Switch the framing to DATA content before the reply goes out.
    pub data_mode: bool,
    /// The reply to send.
    pub reply: Option<Vec<u8>>,
    /// A mail transaction that reached the end of its content.
    pub received: Option<Received>,
    /// Events for the run's log.
    pub notes: Vec<String>,
    /// Close the connection after the reply.
    pub close: bool,
    /// The reply is 220 to STARTTLS: the TLS handshake follows it, then
    /// [`Session::tls_started`].
    pub start_tls: bool,
}

/// One connection's dialogue, sans IO: the command state machine of
/// [`SmtpServer`] (RFC 5321 §4.1, §3.3). It is fed the frames the
/// connection's framer cut — command lines, or after a 354 the DATA content
/// ([`Session::in_data`] says which framer) — and says what to answer.
/// Everything it keeps is bounded: [`MAX_RECIPIENTS`], [`MAX_DIALOGUE`],
/// [`MAX_NOTES`], the frames themselves by the framer's limits.
#[derive(Debug)]
pub struct Session {
    peer: SocketAddr,
    helo: Option<String>,
    from: Option<String>,
    rcpts: Vec<String>,
    in_data: bool,
    dialogue: Vec<String>,
    /// Command lines not kept in `dialogue`.
    dialogue_dropped: usize,
    notes: usize,
    /// STARTTLS is offered (until TLS is active).
    offer_tls: bool,
    /// What the STARTTLS handshake negotiated, once done.
    tls: Option<String>,
    after_tls: Option<usize>,
}

impl Session {
    pub fn new(peer: SocketAddr) -> Session {
        Session {
            peer,
            helo: None,
            from: None,
            rcpts: Vec::new(),
            in_data: false,
            dialogue: Vec::new(),
            dialogue_dropped: 0,
            notes: 0,
            offer_tls: false,
            tls: None,
            after_tls: None,
        }
    }

    /// A session that offers STARTTLS in its EHLO reply (RFC 3207 §4).
    pub fn offering_starttls(peer: SocketAddr) -> Session {
        Session {
            offer_tls: true,
            ..Session::new(peer)
        }
    }

    /// The TLS handshake after STARTTLS completed (`negotiated` says
    /// what). The session starts over as after the greeting (RFC 3207
    /// §4.2): what the client said before (its EHLO argument, an open
    /// transaction) is forgotten, and STARTTLS is no longer offered.
    pub fn tls_started(&mut self, negotiated: String) {
        (self.helo, self.from, self.rcpts) = (None, None, Vec::new());
        self.offer_tls = false;
        self.in_data = false;
        if self.dialogue.len() < MAX_DIALOGUE {
            self.dialogue.push(format!("[TLS handshake: {negotiated}]"));
        }
        self.after_tls = Some(self.dialogue.len());
        self.tls = Some(negotiated);
    }

    /// Over TLS (after STARTTLS)?
    pub fn tls(&self) -> Option<&str> {
        self.tls.as_deref()
    }

    /// The greeting (RFC 5321 §4.3.1).
    pub fn greeting() -> Vec<u8> {
        smtp::reply(220, &[&format!("{NAME} liaison MM3 ESMTP")])
    }

    /// The next frame is DATA content (cut by `smtp::next_data`), not a line.
    pub fn in_data(&self) -> bool {
        self.in_data
    }

    /// The forward-paths of the open mail transaction.
    pub fn recipients(&self) -> &[String] {
        &self.rcpts
    }

    /// The command lines kept so far.
    pub fn dialogue(&self) -> &[String] {
        &self.dialogue
    }

    fn note(&mut self, out: &mut Output, what: String) {
        self.notes += 1;
        if self.notes <= MAX_NOTES {
            out.notes.push(what);
        } else if self.notes == MAX_NOTES + 1 {
            out.notes.push(format!(
                "more than {MAX_NOTES} notes on this connection: the rest are not kept"
            ));
        }
    }

    /// Bytes the framer refused, and the connection ends: a command line
    /// over its limit gets 500 (RFC 5321 §4.5.3.1.4); content over the
    /// message limit gets 552 (§4.5.3.1.10, RFC 1870 §6.3: over the SIZE
    /// the server declared), and the mail transaction is dropped.
    pub fn garbage(&mut self, bytes: &[u8], why: &str) -> Output {
        let mut out = Output::default();
        self.note(
            &mut out,
            format!("unframeable ({why}): {}", escape_bytes(bytes, 200)),
        );
        out.reply = Some(if self.in_data {
            self.in_data = false;
            (self.from, self.rcpts) = (None, Vec::new());
            smtp::reply(
                552,
                &["5.3.4 message size exceeds fixed maximum message size"],
            )
        } else {
            smtp::reply(500, &["5.5.2 line too long"])
        });
        out.close = true;
        out
    }

    /// One frame that arrived at `at`.
    pub fn frame(&mut self, bytes: Vec<u8>, at: Instant) -> Output {
        let mut out = Output::default();
        if self.in_data {
            self.in_data = false;
            let message = smtp::dot_unstuff(&bytes);
            let mut dialogue = self.dialogue.clone();
            if self.dialogue_dropped > 0 {
                dialogue.push(format!(
                    "… {} more command lines not kept",
                    self.dialogue_dropped
                ));
            }
            out.received = Some(Received {
                at,
                peer: self.peer,
                helo: self.helo.clone(),
                mail_from: self.from.take().unwrap_or_default(),
                rcpt_to: std::mem::take(&mut self.rcpts),
                data: bytes,
                message,
                dialogue,
                tls: self.tls.clone(),
                after_tls: self.after_tls,
            });
            out.reply = Some(smtp::reply(250, &["2.0.0 Ok: queued"]));
            return out;
        }
        if self.dialogue.len() < MAX_DIALOGUE {
            self.dialogue.push(escape_bytes(&bytes, 200));
        } else {
            self.dialogue_dropped += 1;
        }
        let cmd = match Command::parse(&bytes) {
            Ok(c) => c,
            Err(e) => {
                self.note(&mut out, format!("not a command ({e})"));
                out.reply = Some(smtp::reply(500, &["5.5.2 syntax error"]));
                return out;
            }
        };
        if !cmd.crlf {
            self.note(&mut out, format!("{} ended with a bare LF", cmd.verb));
        }
        let answer = match cmd.verb.as_str() {
            "EHLO" => {
                self.helo = Some(cmd.argument.clone());
                (self.from, self.rcpts) = (None, Vec::new());
                let size = format!("SIZE {MAX_MESSAGE}");
                let mut lines = vec![NAME, "8BITMIME", &size, "HELP"];
                if self.offer_tls {
                    lines.push("STARTTLS");
                }
                smtp::reply(250, &lines)
            }
            "STARTTLS" if self.offer_tls && cmd.argument.is_empty() => {
                // RFC 3207 §4: 220, then the handshake; a transaction
                // begun before is not carried into the TLS session.
                out.start_tls = true;
                smtp::reply(220, &["2.0.0 Ready to start TLS"])
            }
            "STARTTLS" if self.offer_tls => {
                smtp::reply(501, &["5.5.4 STARTTLS takes no parameters"])
            }
            "STARTTLS" if self.tls.is_some() => {
                // RFC 3207 §4.2: not again in a TLS session.
                smtp::reply(503, &["5.5.1 TLS already active"])
            }
            "HELO" => {
                self.helo = Some(cmd.argument.clone());
                (self.from, self.rcpts) = (None, Vec::new());
                smtp::reply(250, &[NAME])
            }
            "MAIL" => match cmd.path("FROM:") {
                Ok((p, _)) => {
                    if self.tls.is_some() && self.helo.is_none() {
                        // Taken, to see the whole transaction; the verdict
                        // is the steps' (RFC 3207 §4.2, RFC 5321 §4.1.4).
                        self.note(
                            &mut out,
                            "MAIL over TLS before any EHLO or HELO after the STARTTLS handshake"
                                .into(),
                        );
                    }
                    (self.from, self.rcpts) = (Some(p), Vec::new());
                    smtp::reply(250, &["2.1.0 Ok"])
                }
                Err(e) => {
                    self.note(&mut out, e.to_string());
                    smtp::reply(501, &["5.5.4 syntax: MAIL FROM:<address>"])
                }
            },
            "RCPT" if self.from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
            "RCPT" => match cmd.path("TO:") {
                Ok(_) if self.rcpts.len() >= MAX_RECIPIENTS => {
                    smtp::reply(452, &["4.5.3 too many recipients"])
                }
                Ok((p, _)) => {
                    self.rcpts.push(p);
                    smtp::reply(250, &["2.1.5 Ok"])
                }
                Err(e) => {
                    self.note(&mut out, e.to_string());
                    smtp::reply(501, &["5.5.4 syntax: RCPT TO:<address>"])
                }
            },
            "DATA" if self.rcpts.is_empty() => smtp::reply(503, &["5.5.1 no valid recipients"]),
            "DATA" => {
                // Before the 354 goes out: the content that follows is framed as such.
                out.data_mode = true;
                self.in_data = true;
                smtp::reply(354, &["End data with <CR><LF>.<CR><LF>"])
            }
            "RSET" => {
                (self.from, self.rcpts) = (None, Vec::new());
                smtp::reply(250, &["2.0.0 Ok"])
            }
            "NOOP" => smtp::reply(250, &["2.0.0 Ok"]),
            "VRFY" => smtp::reply(252, &["2.0.0 cannot verify"]),
            "QUIT" => {
                out.close = true;
                smtp::reply(221, &["2.0.0 Bye"])
            }
            _ => smtp::reply(502, &["5.5.2 command not implemented"]),
        };
        out.reply = Some(answer);
        out
    }
}

async fn serve(
    mut conn: StreamConn,
    data_mode: Arc<AtomicBool>,
    sh: Arc<Shared>,
    tls: Option<TlsServer>,
    capture: Capture,
) {
    let peer = conn.peer();
    let _ = conn.send(&Session::greeting()).await;
    let mut session = match tls {
        Some(_) => Session::offering_starttls(peer),
        None => Session::new(peer),
    };
    loop {
        let Some(a) = conn.recv(Instant::now() + IDLE).await else {
            return;
        };
        let (out, refused) = match a.event {
            StreamEvent::Message(b) => (session.frame(b, a.at), false),
            StreamEvent::Garbage(b, why) => (session.garbage(&b, &why), true),
            StreamEvent::Closed(b) => {
                if !b.is_empty() {
                    note(
                        &sh,
                        peer,
                        format!("closed after unframed bytes: {}", escape_bytes(&b, 200)),
                    );
                }
                return;
            }
        };
        for n in out.notes {
            note(&sh, peer, n);
        }
        if out.data_mode {
            data_mode.store(true, Ordering::SeqCst);
        }
        if let Some(r) = out.received {
            lock(&sh.log).push(r);
            sh.notify.notify_waiters();
        }
        if let Some(reply) = out.reply
            && conn.send(&reply).await.is_err()
        {
            return;
        }
        if refused {
            // The connection is dropped with what the framer refused unread.
            return;
        }
        if out.close {
            conn.shutdown().await;
            return;
        }
        if out.start_tls {
            let Some(tls) = &tls else { return };
            match upgrade(conn, tls, data_mode.clone(), capture.clone()).await {
                Ok((c, left)) => {
                    if !left.is_empty() {
                        // Plaintext the client sent after STARTTLS, before
                        // the handshake: never taken into the TLS session.
                        note(
                            &sh,
                            peer,
                            format!(
                                "bytes after STARTTLS before the TLS handshake, discarded: {}",
                                escape_bytes(&left, 200)
                            ),
                        );
                    }
                    session.tls_started(c.tls().map(|n| n.to_string()).unwrap_or_default());
                    conn = c;
                }
                Err(e) => {
                    note(&sh, peer, format!("STARTTLS: {e}"));
                    return;
                }
            }
        }
    }
}

/// The TLS handshake after 220 to STARTTLS, on the same TCP connection;
/// the session goes on over the TLS stream.
async fn upgrade(
    conn: StreamConn,
    tls: &TlsServer,
    data_mode: Arc<AtomicBool>,
    capture: Capture,
) -> Result<(StreamConn, Vec<u8>), String> {
    let (tcp, left) = conn
        .into_tcp(HANDSHAKE)
        .await
        .map_err(|e| format!("the connection could not be taken over for TLS: {e}"))?;
    let stream = tls
        .accept_upgraded(tcp, capture, HANDSHAKE)
        .await
        .map_err(|e| format!("the TLS handshake after 220 failed: {e}"))?;
    let conn = StreamConn::over_tls(stream, framer(data_mode, None), MAX_MESSAGE + 4096);
    Ok((conn, left))
}

/// A new message the harness made arrive at a MEM server: what a
/// notification may announce.
#[derive(Debug, Clone)]
pub struct MailEvent {
    /// The mailbox it went to.
    pub mailbox: String,
    /// For mail the server accepted (250 after the content, RFC 5321 §6.1):
    /// when the harness sent its content; with a delivery command, when the
    /// command started (its exit is no bound on the server's acceptance). A
    /// notification that completed before this cannot be about it.
    pub accepted: Instant,
    /// The scenario that caused it (for failure texts).
    pub scenario: String,
    /// When that scenario stopped waiting for a notification of it without
    /// one; later notifications are no longer matched to it first.
    pub closed: Option<Instant>,
}

/// Which new mail a notification to the user's MMS address is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// The notification of event `i`.
    For(usize),
    /// Another notification of event `i` after the first (or after its
    /// scenario stopped waiting): a repeat or a late arrival, which belongs
    /// to that event's scenario.
    Repeat(usize),
    /// No new mail had been accepted when it completed.
    Unsolicited,
}

/// Matches notifications to the mail they announce. `notes` are the
/// notifications to the user's MMS address in the order they completed:
/// when, and which of the events' mailboxes their payload names (None when
/// the payload names none that can be read).
///
/// A notification counts only for mail accepted before it completed. One
/// that names a mailbox is the first notification of the earliest mail to
/// that mailbox still waiting for one, or else another notification of the
/// latest mail to it; one that names no mailbox can be matched by time only:
/// the latest mail still waiting, or else the latest mail.
pub fn attribute(events: &[MailEvent], notes: &[(Instant, Option<String>)]) -> Vec<Attribution> {
    let mut taken = vec![false; events.len()];
    let mut out = Vec::with_capacity(notes.len());
    for (t, named) in notes {
        let before = |i: &usize| events[*i].accepted <= *t;
        let open = |i: &usize| !taken[*i] && before(i) && events[*i].closed.is_none_or(|c| *t <= c);
        let all = 0..events.len();
        let mut pick = None;
        if let Some(m) = named {
            let to_m = |i: &usize| events[*i].mailbox.eq_ignore_ascii_case(m);
            pick = all
                .clone()
                .filter(|i| open(i) && to_m(i))
                .min_by_key(|i| events[*i].accepted)
                .map(Attribution::For)
                .or_else(|| {
                    all.clone()
                        .filter(|i| before(i) && to_m(i))
                        .max_by_key(|i| events[*i].accepted)
                        .map(Attribution::Repeat)
                });
        }
        let a = pick.unwrap_or_else(|| {
            all.clone()
                .filter(open)
                .max_by_key(|i| events[*i].accepted)
                .map(Attribution::For)
                .or_else(|| {
                    all.clone()
                        .filter(before)
                        .max_by_key(|i| events[*i].accepted)
                        .map(Attribution::Repeat)
                })
                .unwrap_or(Attribution::Unsolicited)
        });
        if let Attribution::For(i) = a {
            taken[i] = true;
        }
        out.push(a);
    }
    out
}

/// A notification to the user's MMS address, matched to its mail.
#[derive(Debug, Clone)]
pub struct Notification {
    pub received: Received,
    /// The mailbox its EMN payload names, among those of the events.
    pub named: Option<String>,
    pub attribution: Attribution,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(mailbox: &str, at: Instant, ms: u64, scenario: &str) -> MailEvent {
        MailEvent {
            mailbox: mailbox.into(),
            accepted: at + Duration::from_millis(ms),
            scenario: scenario.into(),
            closed: None,
        }
    }

    fn n(at: Instant, ms: u64, named: Option<&str>) -> (Instant, Option<String>) {
        (at + Duration::from_millis(ms), named.map(str::to_string))
    }

    #[test]
    fn a_notification_counts_only_after_its_mail_was_accepted() {
        // Issue 12 item 18: completed before the 250 to the content.
        let t = Instant::now();
        let events = [ev("bob@m", t, 10, "MEM-1")];
        let a = attribute(&events, &[n(t, 9, Some("bob@m")), n(t, 11, Some("bob@m"))]);
        assert_eq!(a, [Attribution::Unsolicited, Attribution::For(0)]);
    }

    #[test]
    fn a_late_notification_for_the_other_mailbox_is_not_the_users() {
        // Issue 12 item 20: carol's mail at 0, the pause, bob's mail at 500;
        // the server notifies 700 ms late, naming each mailbox.
        let t = Instant::now();
        let events = [
            ev("bob@m", t, 0, "MEM-3"),
            ev("carol@m", t, 1000, "MEM-4"),
            ev("bob@m", t, 1500, "MEM-4"),
        ];
        let a = attribute(
            &events,
            &[
                n(t, 700, Some("bob@m")),
                n(t, 1700, Some("carol@m")),
                n(t, 2200, Some("bob@m")),
            ],
        );
        assert_eq!(
            a,
            [
                Attribution::For(0),
                Attribution::For(1),
                Attribution::For(2)
            ]
        );
        // By time only (no readable name), the late one is taken as the
        // latest mail's: what a payload the suite cannot read allows.
        let a = attribute(&events, &[n(t, 700, None), n(t, 1700, None)]);
        assert_eq!(a, [Attribution::For(0), Attribution::For(2)]);
    }

    #[test]
    fn leftovers_of_an_earlier_scenario_stay_with_it() {
        let t = Instant::now();
        let mut events = vec![ev("bob@m", t, 0, "MEM-3"), ev("carol@m", t, 1000, "MEM-4")];
        // A second notification of MEM-3's mail after carol's mail: a
        // repeat of MEM-3's, not a notification of carol's mail.
        let a = attribute(
            &events,
            &[n(t, 100, Some("bob@m")), n(t, 1100, Some("bob@m"))],
        );
        assert_eq!(a, [Attribution::For(0), Attribution::Repeat(0)]);
        // MEM-3 gave up waiting at 900; its notification at 1100 is late,
        // still MEM-3's; the next bob mail gets the next one.
        events[0].closed = Some(t + Duration::from_millis(900));
        events.push(ev("bob@m", t, 1500, "MEM-4"));
        let a = attribute(
            &events,
            &[n(t, 1100, Some("bob@m")), n(t, 1600, Some("bob@m"))],
        );
        assert_eq!(a, [Attribution::Repeat(0), Attribution::For(2)]);
    }

    fn session() -> Session {
        Session::new("127.0.0.1:2525".parse().unwrap())
    }

    fn code(out: &Output) -> u16 {
        smtp::Reply::parse(out.reply.as_deref().unwrap())
            .unwrap()
            .code
    }

    #[test]
    fn a_mail_transaction_keeps_at_most_max_recipients() {
        // Before the cap (seen while writing the smtp_dialogue fuzz target,
        // which checks it): RCPT after RCPT without DATA grew the
        // transaction without bound.
        let (mut s, t) = (session(), Instant::now());
        assert_eq!(code(&s.frame(b"EHLO c\r\n".to_vec(), t)), 250);
        assert_eq!(code(&s.frame(b"MAIL FROM:<a@x>\r\n".to_vec(), t)), 250);
        for i in 0..MAX_RECIPIENTS + 50 {
            let out = s.frame(format!("RCPT TO:<u{i}@x>\r\n").into_bytes(), t);
            let want = if i < MAX_RECIPIENTS { 250 } else { 452 };
            assert_eq!(code(&out), want, "RCPT {i}");
        }
        assert_eq!(s.recipients().len(), MAX_RECIPIENTS);
        let out = s.frame(b"DATA\r\n".to_vec(), t);
        assert!(out.data_mode && s.in_data());
        let out = s.frame(b"hi\r\n.\r\n".to_vec(), t);
        let r = out.received.unwrap();
        assert_eq!(r.rcpt_to.len(), MAX_RECIPIENTS);
        assert_eq!(r.message, b"hi\r\n");
        assert!(s.recipients().is_empty() && !s.in_data());
    }

    #[test]
    fn a_connection_keeps_at_most_max_dialogue_lines_and_max_notes() {
        let (mut s, t) = (session(), Instant::now());
        let mut notes = 0;
        for _ in 0..MAX_DIALOGUE + 500 {
            notes += s.frame(b"NOOP\n".to_vec(), t).notes.len();
        }
        assert_eq!(s.dialogue().len(), MAX_DIALOGUE);
        // One note per bare LF up to the limit, then one saying so.
        assert_eq!(notes, MAX_NOTES + 1);
        s.frame(b"MAIL FROM:<>\r\n".to_vec(), t);
        s.frame(b"RCPT TO:<b@x>\r\n".to_vec(), t);
        s.frame(b"DATA\r\n".to_vec(), t);
        let r = s.frame(b".\r\n".to_vec(), t).received.unwrap();
        assert_eq!(r.dialogue.len(), MAX_DIALOGUE + 1);
        assert!(r
            .dialogue
            .last()
            .unwrap()
            .contains("503 more command lines"));
    }

    #[test]
    fn quit_and_refused_bytes_end_the_connection() {
        let (mut s, t) = (session(), Instant::now());
        let out = s.frame(b"QUIT\r\n".to_vec(), t);
        assert!(out.close && code(&out) == 221);
        let out = session().garbage(b"xxxx", "line too long");
        assert!(out.close && code(&out) == 500 && out.notes.len() == 1);
        let out = session().frame(b"\xff\r\n".to_vec(), t);
        assert!(!out.close && code(&out) == 500);
    }

    #[test]
    fn content_over_the_message_limit_gets_552_and_ends_the_transaction() {
        // Found by the smtp_dialogue fuzz target
        // (fuzz/regressions/smtp_dialogue/): content the framer refused for
        // its size was answered "500 line too long" and the session stayed
        // in DATA mode.
        let (mut s, t) = (session(), Instant::now());
        for line in [
            "EHLO c\r\n",
            "MAIL FROM:<a@x>\r\n",
            "RCPT TO:<b@y>\r\n",
            "DATA\r\n",
        ] {
            s.frame(line.as_bytes().to_vec(), t);
        }
        assert!(s.in_data());
        let content = vec![b'\n'; 64];
        let err = smtp::next_data(&content, 32).unwrap_err().to_string();
        let out = s.garbage(&content, &err);
        assert_eq!(code(&out), 552);
        assert!(out.close && !s.in_data() && s.recipients().is_empty());
        assert!(out.received.is_none());
    }

    #[test]
    fn the_fuzz_regressions_replay_clean() {
        // Each input under fuzz/regressions/smtp_dialogue/ through the
        // session as the fuzz target frames it (first octet even: server;
        // line limit 512, content limit 2048): after every answer the
        // session is in DATA mode exactly when it answered 354.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/smtp_dialogue"
        );
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let Some((k, stream)) = data.split_first() else {
                continue;
            };
            if k % 2 != 0 {
                continue;
            }
            n += 1;
            let (mut s, t) = (session(), Instant::now());
            let mut buf = stream.to_vec();
            loop {
                let framed = if s.in_data() {
                    smtp::next_data(&buf, 2048)
                } else {
                    smtp::next_line(&buf, 512)
                };
                let out = match framed {
                    Ok(Some(len)) => s.frame(buf.drain(..len).collect(), t),
                    Ok(None) => break,
                    Err(e) => s.garbage(&buf, &e.to_string()),
                };
                assert_eq!(s.in_data(), code(&out) == 354);
                if out.close {
                    break;
                }
            }
        }
        assert!(n > 0);
    }

    #[test]
    fn starttls_is_offered_taken_and_the_session_starts_over() {
        let t = Instant::now();
        let text = |o: &Output| String::from_utf8_lossy(o.reply.as_deref().unwrap()).into_owned();
        // Not offered: STARTTLS is a command like any unknown one.
        let mut plain = session();
        assert!(!text(&plain.frame(b"EHLO c\r\n".to_vec(), t)).contains("STARTTLS"));
        assert_eq!(code(&plain.frame(b"STARTTLS\r\n".to_vec(), t)), 502);
        // Offered (RFC 3207 §4): listed, no parameters, then 220.
        let mut s = Session::offering_starttls("127.0.0.1:2525".parse().unwrap());
        assert!(text(&s.frame(b"EHLO c\r\n".to_vec(), t)).contains("250 STARTTLS\r\n"));
        assert!(!is_starttls(b"STARTTLS now\r\n") && is_starttls(b"starttls\r\n"));
        assert_eq!(code(&s.frame(b"STARTTLS now\r\n".to_vec(), t)), 501);
        s.frame(b"MAIL FROM:<a@x>\r\n".to_vec(), t);
        let out = s.frame(b"STARTTLS\r\n".to_vec(), t);
        assert!(out.start_tls && code(&out) == 220);
        // §4.2: nothing of the clear session is kept; not offered again.
        s.tls_started("TLS 1.3 X".into());
        assert_eq!(s.tls(), Some("TLS 1.3 X"));
        assert_eq!(code(&s.frame(b"RCPT TO:<b@y>\r\n".to_vec(), t)), 503);
        let out = s.frame(b"MAIL FROM:<a@x>\r\n".to_vec(), t);
        assert_eq!(code(&out), 250);
        assert!(out.notes[0].contains("before any EHLO"), "{:?}", out.notes);
        assert!(!text(&s.frame(b"EHLO c\r\n".to_vec(), t)).contains("STARTTLS"));
        assert_eq!(code(&s.frame(b"STARTTLS\r\n".to_vec(), t)), 503);
        s.frame(b"MAIL FROM:<a@x>\r\n".to_vec(), t);
        s.frame(b"RCPT TO:<b@y>\r\n".to_vec(), t);
        s.frame(b"DATA\r\n".to_vec(), t);
        let r = s.frame(b"hi\r\n.\r\n".to_vec(), t).received.unwrap();
        assert_eq!(r.tls.as_deref(), Some("TLS 1.3 X"));
        assert_eq!(r.tls_dialogue()[0], "RCPT TO:<b@y>\\r\\n");
        assert!(r.dialogue[r.after_tls.unwrap() - 1].starts_with("[TLS handshake"));
        assert!(r
            .describe()
            .starts_with("[over TLS after STARTTLS: TLS 1.3 X]"));
    }

    /// Commands pipelined behind STARTTLS in the clear are never taken
    /// into the TLS session (the injection RFC 3207 §4.2's reset guards
    /// against): discarded, and said so.
    #[tokio::test]
    async fn plaintext_behind_starttls_is_discarded() {
        use crate::net::tls::{LabCa, Offer, TlsClient};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let ca = LabCa::new().unwrap();
        let leaf = ca.issue(&[], &["127.0.0.1".parse().unwrap()]).unwrap();
        let server = SmtpServer::start("127.0.0.1:0".parse().unwrap(), Capture::disabled())
            .await
            .unwrap();
        server.offer_starttls(Some(TlsServer::new(&leaf, &Offer::all()).unwrap()));
        let t0 = Instant::now();
        let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 512];
        tcp.write_all(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\n")
            .await
            .unwrap();
        while !got.ends_with(b"TLS\r\n") || !got.windows(4).any(|w| w == b"220 ") {
            let n = tcp.read(&mut b).await.unwrap();
            assert!(n > 0, "{}", escape_bytes(&got, 500));
            got.extend_from_slice(&b[..n]);
        }
        let client = TlsClient::new(ca.peer_check().unwrap(), &Offer::all(), None).unwrap();
        let mut c = client
            .connect_upgraded(
                tcp,
                "127.0.0.1",
                Capture::disabled(),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        c.write_all(b"RCPT TO:<b@y>\r\n").await.unwrap();
        c.flush().await.unwrap();
        let n = c.read(&mut b).await.unwrap();
        // No MAIL was taken: the RCPT has no transaction.
        assert!(
            b[..n].starts_with(b"503 "),
            "{}",
            escape_bytes(&b[..n], 100)
        );
        let events = server.events_since(t0);
        assert!(
            events.iter().any(|e| e.contains(
                "after STARTTLS before the TLS handshake, discarded: MAIL FROM:<evil@x>"
            )),
            "{events:?}"
        );
    }

    #[test]
    fn a_misnamed_payload_is_matched_by_time() {
        // A payload naming a mailbox that got no mail is still the
        // notification of the mail before it (MEM-3 judges the payload).
        let t = Instant::now();
        let events = [ev("bob@m", t, 0, "MEM-1")];
        let a = attribute(&events, &[n(t, 5, Some("carol@m"))]);
        assert_eq!(a, [Attribution::For(0)]);
    }
}
