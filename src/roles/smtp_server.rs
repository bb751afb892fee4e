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
//! is configured with, behind a switchable capture (scenarios are `@serial`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::smtp::{self, Command};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// The SIZE it declares and the most it reads of one message.
pub const MAX_MESSAGE: usize = 4 << 20;
/// The longest command line it frames.
const MAX_LINE: usize = 4096;
/// An idle connection is dropped after this long.
const IDLE: Duration = Duration::from_secs(60);
/// Its host name in replies.
const NAME: &str = "mm3.liaison.test";

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
    /// The dialogue up to here on this connection, one line per command.
    pub dialogue: Vec<String>,
}

impl Received {
    pub fn describe(&self) -> String {
        format!(
            "MAIL FROM:<{}> RCPT TO:{:?} — message: {}",
            self.mail_from,
            self.rcpt_to,
            escape_bytes(&self.message, 500)
        )
    }
}

/// The listener.
pub struct SmtpServer {
    addr: SocketAddr,
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
        let listener = crate::net::listen_loopback(addr).await?;
        let addr = listener.local_addr()?;
        let sh = Arc::new(Shared {
            log: Arc::default(),
            events: Arc::default(),
            notify: Arc::new(Notify::new()),
        });
        let (log, events, notify) = (sh.log.clone(), sh.events.clone(), sh.notify.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let data_mode = Arc::new(AtomicBool::new(false));
                let mode = data_mode.clone();
                let framer = move |buf: &[u8], max: usize| {
                    if mode.load(Ordering::SeqCst) {
                        let r = smtp::next_data(buf, max).map_err(|e| e.to_string());
                        if matches!(r, Ok(Some(_))) {
                            mode.store(false, Ordering::SeqCst);
                        }
                        r
                    } else {
                        smtp::next_line(buf, MAX_LINE).map_err(|e| e.to_string())
                    }
                };
                let Ok(conn) =
                    StreamConn::accepted_with(stream, capture.clone(), framer, MAX_MESSAGE + 4096)
                else {
                    continue;
                };
                tokio::spawn(serve(conn, data_mode, sh.clone()));
            }
        });
        Ok(SmtpServer {
            addr,
            log,
            events,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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

async fn serve(conn: StreamConn, data_mode: Arc<AtomicBool>, sh: Arc<Shared>) {
    let peer = conn.peer();
    let _ = conn
        .send(&smtp::reply(220, &[&format!("{NAME} liaison MM3 ESMTP")]))
        .await;
    let mut helo = None;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut in_data = false;
    let mut dialogue: Vec<String> = Vec::new();
    loop {
        let Some(a) = conn.recv(Instant::now() + IDLE).await else {
            return;
        };
        let bytes = match a.event {
            StreamEvent::Message(b) => b,
            StreamEvent::Garbage(b, why) => {
                note(
                    &sh,
                    peer,
                    format!("unframeable ({why}): {}", escape_bytes(&b, 200)),
                );
                let _ = conn.send(&smtp::reply(500, &["5.5.2 line too long"])).await;
                return;
            }
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
        if in_data {
            in_data = false;
            let message = smtp::dot_unstuff(&bytes);
            lock(&sh.log).push(Received {
                at: a.at,
                peer,
                helo: helo.clone(),
                mail_from: from.take().unwrap_or_default(),
                rcpt_to: std::mem::take(&mut rcpts),
                data: bytes,
                message,
                dialogue: dialogue.clone(),
            });
            sh.notify.notify_waiters();
            let _ = conn.send(&smtp::reply(250, &["2.0.0 Ok: queued"])).await;
            continue;
        }
        dialogue.push(escape_bytes(&bytes, 200));
        let cmd = match Command::parse(&bytes) {
            Ok(c) => c,
            Err(e) => {
                note(&sh, peer, format!("not a command ({e})"));
                let _ = conn.send(&smtp::reply(500, &["5.5.2 syntax error"])).await;
                continue;
            }
        };
        if !cmd.crlf {
            note(&sh, peer, format!("{} ended with a bare LF", cmd.verb));
        }
        let answer = match cmd.verb.as_str() {
            "EHLO" => {
                helo = Some(cmd.argument.clone());
                (from, rcpts) = (None, Vec::new());
                smtp::reply(
                    250,
                    &[NAME, "8BITMIME", &format!("SIZE {MAX_MESSAGE}"), "HELP"],
                )
            }
            "HELO" => {
                helo = Some(cmd.argument.clone());
                (from, rcpts) = (None, Vec::new());
                smtp::reply(250, &[NAME])
            }
            "MAIL" => match cmd.path("FROM:") {
                Ok((p, _)) => {
                    (from, rcpts) = (Some(p), Vec::new());
                    smtp::reply(250, &["2.1.0 Ok"])
                }
                Err(e) => {
                    note(&sh, peer, e.to_string());
                    smtp::reply(501, &["5.5.4 syntax: MAIL FROM:<address>"])
                }
            },
            "RCPT" if from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
            "RCPT" => match cmd.path("TO:") {
                Ok((p, _)) => {
                    rcpts.push(p);
                    smtp::reply(250, &["2.1.5 Ok"])
                }
                Err(e) => {
                    note(&sh, peer, e.to_string());
                    smtp::reply(501, &["5.5.4 syntax: RCPT TO:<address>"])
                }
            },
            "DATA" if rcpts.is_empty() => smtp::reply(503, &["5.5.1 no valid recipients"]),
            "DATA" => {
                // Before the 354 goes out: the content that follows is framed as such.
                data_mode.store(true, Ordering::SeqCst);
                in_data = true;
                smtp::reply(354, &["End data with <CR><LF>.<CR><LF>"])
            }
            "RSET" => {
                (from, rcpts) = (None, Vec::new());
                smtp::reply(250, &["2.0.0 Ok"])
            }
            "NOOP" => smtp::reply(250, &["2.0.0 Ok"]),
            "VRFY" => smtp::reply(252, &["2.0.0 cannot verify"]),
            "QUIT" => {
                let _ = conn.send(&smtp::reply(221, &["2.0.0 Bye"])).await;
                conn.shutdown().await;
                return;
            }
            _ => smtp::reply(502, &["5.5.2 command not implemented"]),
        };
        if conn.send(&answer).await.is_err() {
            return;
        }
    }
}

/// The MM3 interface for a `mem-server` SUT, for the whole run, at the
/// address its profile names (`mem_server.mm3`).
pub struct Mm3Harness {
    pub server: SmtpServer,
    pub capture: Capture,
}

impl std::fmt::Debug for Mm3Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mm3Harness")
            .field("server", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl Mm3Harness {
    pub async fn start(addr: SocketAddr) -> Result<Mm3Harness, String> {
        let capture = Capture::switchable();
        let server = SmtpServer::start(addr, capture.clone())
            .await
            .map_err(|e| format!("mem_server.mm3: cannot listen on {addr} ({e})"))?;
        Ok(Mm3Harness { server, capture })
    }
}
