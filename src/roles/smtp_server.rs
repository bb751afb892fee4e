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

/// The MM3 interface for a `mem-server` SUT, for the whole run, at the
/// address its profile names (`mem_server.mm3`). It keeps the run's new-mail
/// events, so that each notification is matched to the mail it announces,
/// whichever scenario is running when it arrives (scenarios hold it (`@harness:NAME`: one scenario at a time per run-level role)).
pub struct Mm3Harness {
    pub server: SmtpServer,
    pub capture: Capture,
    events: Mutex<Vec<MailEvent>>,
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
        Ok(Mm3Harness {
            server,
            capture,
            events: Mutex::default(),
        })
    }

    /// Records new mail the SUT accepted; its index.
    pub fn mail_arrived(&self, mailbox: &str, accepted: Instant, scenario: &str) -> usize {
        let mut e = lock(&self.events);
        e.push(MailEvent {
            mailbox: mailbox.to_string(),
            accepted,
            scenario: scenario.to_string(),
            closed: None,
        });
        e.len() - 1
    }

    /// The scenario of event `i` stopped waiting for its notification.
    pub fn close(&self, i: usize) {
        if let Some(e) = lock(&self.events).get_mut(i) {
            e.closed.get_or_insert_with(Instant::now);
        }
    }

    pub fn events(&self) -> Vec<MailEvent> {
        lock(&self.events).clone()
    }

    /// Every mail transaction of the run with `notify_to` among its
    /// recipients, matched to the mail it announces. With `read_names`, an
    /// EMN payload's mailbox attribute names the mailbox (one of the
    /// events'); without, notifications are matched by time only.
    pub fn notifications(&self, notify_to: &str, read_names: bool) -> Vec<Notification> {
        let events = self.events();
        let mut mailboxes: Vec<&str> = events.iter().map(|e| e.mailbox.as_str()).collect();
        mailboxes.dedup();
        let log: Vec<Received> = self
            .server
            .log()
            .into_iter()
            .filter(|r| r.rcpt_to.iter().any(|t| t.eq_ignore_ascii_case(notify_to)))
            .collect();
        let named: Vec<Option<String>> = log
            .iter()
            .map(|r| {
                if !read_names {
                    return None;
                }
                let body = crate::codec::mail::Mail::parse(&r.message).decoded_body()?;
                let emn = crate::codec::emn::read(&body).ok()?;
                let attr = emn.mailbox()?;
                mailboxes
                    .iter()
                    .find(|m| crate::codec::emn::names_mailbox(attr, m))
                    .map(|m| m.to_string())
            })
            .collect();
        let notes: Vec<(Instant, Option<String>)> = log
            .iter()
            .zip(&named)
            .map(|(r, n)| (r.at, n.clone()))
            .collect();
        let attributed = attribute(&events, &notes);
        log.into_iter()
            .zip(named)
            .zip(attributed)
            .map(|((received, named), attribution)| Notification {
                received,
                named,
                attribution,
            })
            .collect()
    }
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
