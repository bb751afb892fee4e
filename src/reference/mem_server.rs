//! The reference MEM server (OMA Mobile Email, seed 004 §6): a mail store
//! that takes incoming mail by SMTP and, for each new message in the user's
//! mailbox, sends an outband notification by SMTP to the MMS server's MM3
//! interface (the MMS binding, §6.2.1).
//!
//! **Incoming mail.** An SMTP server (RFC 5321) at its address: RCPT for the
//! user's mailbox or the other mailbox it keeps is taken, anything else gets
//! 550; DATA without a recipient 503; after the content 250.
//!
//! **Notification.** For a message that reached the user's mailbox: one SMTP
//! transaction to `mm3` — MAIL FROM:<mem-server@DOMAIN>, RCPT TO:<notify_to>,
//! a message with From, To, Subject, Date, Message-ID, MIME-Version,
//! `Content-Type: text/vnd.wap.emn+xml; charset=utf-8` and `Applic-ID: MEM`,
//! whose body is an OMA EMN document naming the mailbox
//! (`<emn mailbox="mailat:USER@DOMAIN" timestamp="…Z"/>`). Mail to the
//! other mailbox notifies that mailbox's own user, never the user: the
//! reference provisions that user's MMS address as `LOCAL@DOMAIN`, the other
//! mailbox's local part at the domain of `notify_to` (issue 12 item 21: a
//! notification on MM3 for another mailbox is fine, to the user's address
//! it is not).
//!
//! **STARTTLS.** When the MM3 interface lists STARTTLS in its EHLO reply,
//! the notification goes inside TLS (RFC 3207, with the run's TLS material,
//! `Settings.tls`): STARTTLS, the handshake after the 220 (the server's
//! certificate checked against the run's CA for the MM3 address), EHLO
//! again (§4.2), then the transaction.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::smtp_server::{self, MailTaker};
use super::Settings;
use crate::codec::mail::{iso8601_utc, rfc5322_date, MailBuilder};
use crate::codec::sip;
use crate::codec::smtp::{self, Reply};

/// What the reference MEM server is configured with.
#[derive(Debug, Clone)]
pub struct MemServerConfig {
    /// The MMS server's MM3 interface (the harness) notifications go to.
    pub mm3: SocketAddr,
    /// The user's mailbox.
    pub mailbox: String,
    /// Another mailbox it serves (mail there does not notify the user).
    pub other_mailbox: String,
    /// The recipient of the notifications at the MMS server.
    pub notify_to: String,
}

/// The largest message it takes.
const MAX_MESSAGE: usize = 1 << 20;
const IO_BOUND: Duration = Duration::from_secs(5);
const NAME: &str = "mem.reference.liaison.test";

struct Shared {
    cfg: MemServerConfig,
    s: Settings,
    next: AtomicU64,
    notify: mpsc::UnboundedSender<Notify>,
}

/// One notification to send: about new mail in `mailbox`, to `rcpt`; `done`
/// is told when it is over.
struct Notify {
    mailbox: String,
    rcpt: String,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How late the `late-notifies-every-mailbox` fault notifies.
const LATE: Duration = Duration::from_millis(700);

/// Starts the server: its incoming-mail SMTP listener at `listen` (port 0
/// picks one). Returns that address and the tasks.
pub async fn start(
    listen: SocketAddr,
    cfg: MemServerConfig,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let sh = Arc::new(Shared {
        cfg,
        s: settings,
        next: AtomicU64::new(0),
        notify: tx,
    });
    Ok((
        addr,
        vec![
            tokio::spawn(smtp_server::accept_loop(listener, sh.clone())),
            tokio::spawn(notifier(rx, sh)),
        ],
    ))
}

impl MailTaker for Shared {
    /// The notifications to send.
    type After = Vec<Notify>;

    fn name(&self) -> &'static str {
        NAME
    }

    fn max_message(&self) -> usize {
        MAX_MESSAGE
    }

    fn refuse_rcpt(&self, path: &str) -> Option<Vec<u8>> {
        if path.eq_ignore_ascii_case(&self.cfg.mailbox)
            || path.eq_ignore_ascii_case(&self.cfg.other_mailbox)
        {
            None
        } else {
            Some(smtp::reply(550, &["5.1.1 no such mailbox here"]))
        }
    }

    fn hold_rcpt(&self, path: &str) -> Option<tokio::sync::oneshot::Receiver<()>> {
        // The fault: the user is notified as soon as the recipient is named,
        // before the mail exists (before its 250 to RCPT, let alone to the content).
        if !self.s.has_fault("notifies-before-accepting")
            || !path.eq_ignore_ascii_case(&self.cfg.mailbox)
        {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.notify.send(Notify {
            mailbox: self.cfg.mailbox.clone(),
            rcpt: self.cfg.notify_to.clone(),
            done: Some(tx),
        });
        Some(rx)
    }

    fn message(&self, _from: &str, rcpts: &[String], _message: &[u8]) -> (Vec<u8>, Vec<Notify>) {
        let s = &self.s;
        let mut out = Vec::new();
        let to = |m: &str| rcpts.iter().any(|r| r.eq_ignore_ascii_case(m));
        let silent = s.has_fault("no-notification") || s.has_fault("notifies-before-accepting");
        if to(&self.cfg.mailbox) && !silent {
            out.push(Notify {
                mailbox: self.cfg.mailbox.clone(),
                rcpt: self.cfg.notify_to.clone(),
                done: None,
            });
        }
        if to(&self.cfg.other_mailbox) && !s.has_fault("no-notification") {
            let every =
                s.has_fault("notifies-every-mailbox") || s.has_fault("late-notifies-every-mailbox");
            out.push(Notify {
                mailbox: self.cfg.other_mailbox.clone(),
                rcpt: if every {
                    self.cfg.notify_to.clone()
                } else {
                    self.other_notify_to()
                },
                done: None,
            });
        }
        (smtp::reply(250, &["2.0.0 Ok: delivered"]), out)
    }

    fn after(&self, what: Vec<Notify>) {
        for n in what {
            let _ = self.notify.send(n);
        }
    }
}

async fn write(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(IO_BOUND, async {
            stream.write_all(bytes).await?;
            // A TLS stream holds its records until flushed.
            stream.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

/// A connection in the clear or inside TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sends one notification per new message, in order.
async fn notifier(mut rx: mpsc::UnboundedReceiver<Notify>, sh: Arc<Shared>) {
    while let Some(n) = rx.recv().await {
        if sh.s.has_fault("late-notifies-every-mailbox") {
            tokio::time::sleep(LATE).await;
        }
        let message = sh.notification(&n.mailbox, &n.rcpt);
        let _ = tokio::time::timeout(IO_BOUND * 2, send(&sh, &n.rcpt, &message)).await;
        if let Some(done) = n.done {
            let _ = done.send(());
        }
    }
}

impl Shared {
    /// The MMS address of the other mailbox's user (see the module text).
    fn other_notify_to(&self) -> String {
        let local = self.cfg.other_mailbox.split('@').next().unwrap_or("other");
        let domain = self
            .cfg
            .notify_to
            .rsplit_once('@')
            .map_or("mms.liaison.test", |x| x.1);
        format!("{local}@{domain}")
    }

    /// The notification message to `to` about a new message in `mailbox`.
    fn notification(&self, mailbox: &str, to: &str) -> Vec<u8> {
        let s = &self.s;
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let domain = mailbox.rsplit_once('@').map_or("liaison.test", |x| x.1);
        let now = now_secs();
        let named = if s.has_fault("payload-wrong-mailbox") && mailbox == self.cfg.mailbox {
            self.cfg.other_mailbox.as_str()
        } else {
            mailbox
        };
        let emn = format!(
            "<emn mailbox=\"mailat:{named}\" timestamp=\"{}\"/>",
            iso8601_utc(now)
        );
        let mut media = "text/vnd.wap.emn+xml; charset=utf-8";
        let body = if s.has_fault("emn-not-well-formed") {
            // A stray end tag after the root element.
            format!("<?xml version=\"1.0\"?>\r\n{emn}\r\n</emn>\r\n")
        } else if s.has_fault("emn-as-text-plain") {
            media = "text/plain; charset=utf-8";
            format!("You have new mail: {emn} (see your mailbox).\r\n")
        } else {
            format!("<?xml version=\"1.0\"?>\r\n{emn}\r\n")
        };
        let mut b = MailBuilder::new()
            .header("From", &format!("MEM server <mem-server@{domain}>"))
            .header("To", &format!("<{to}>"))
            .header("Subject", &format!("New mail in {mailbox}"))
            .header("Date", &rfc5322_date(now))
            .header(
                "Message-ID",
                &format!("<mem-{n}-{}@{domain}>", sip::token()),
            )
            .header("MIME-Version", "1.0")
            .header("Content-Type", media);
        if s.has_fault("applic-id-wrong-value") {
            b = b.header("Applic-ID", "mem");
        } else if !s.has_fault("applic-id-missing") {
            b = b.header("Applic-ID", "MEM");
        }
        b.body(body.as_bytes()).build()
    }
}

/// One SMTP transaction to the MM3 interface; the last reply, when the
/// dialogue got that far. When the EHLO reply lists STARTTLS and the role
/// has TLS (`Settings.tls`), the transaction goes inside TLS (RFC 3207):
/// STARTTLS, 220, the handshake (the server's certificate checked against
/// the run's CA, for the MM3 address), then EHLO again, since what the
/// server said in the clear no longer counts (§4.2).
async fn send(sh: &Shared, to: &str, message: &[u8]) -> Option<Reply> {
    let mut tcp = TcpStream::connect(sh.cfg.mm3).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    async fn reply(
        stream: &mut (impl AsyncRead + Unpin),
        buf: &mut Vec<u8>,
        chunk: &mut [u8],
    ) -> Option<Reply> {
        loop {
            if let Ok(Some(n)) = smtp::next_reply(buf, 64 * 1024) {
                let r: Vec<u8> = buf.drain(..n).collect();
                return Reply::parse(&r).ok();
            }
            let k = tokio::time::timeout(IO_BOUND, stream.read(chunk))
                .await
                .ok()?
                .ok()?;
            if k == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..k]);
        }
    }
    let domain = sh
        .cfg
        .mailbox
        .rsplit_once('@')
        .map_or("liaison.test", |x| x.1);
    let rcpt = if sh.s.has_fault("wrong-recipient") {
        format!("mem-notifications@{domain}")
    } else {
        to.to_string()
    };
    reply(&mut tcp, &mut buf, &mut chunk)
        .await
        .filter(Reply::positive)?;
    if !write(&mut tcp, &smtp::command("EHLO", NAME)).await {
        return None;
    }
    let ehlo = reply(&mut tcp, &mut buf, &mut chunk).await?;
    if ehlo.negative() {
        return Some(ehlo);
    }
    let offered = ehlo
        .lines
        .iter()
        .skip(1)
        .any(|l| l.split(' ').next() == Some("STARTTLS"));
    let mut stream: Box<dyn Io> = match &sh.s.tls {
        Some(tls) if offered && !sh.s.has_fault("ignores-starttls") => {
            if !write(&mut tcp, &smtp::command("STARTTLS", "")).await {
                return None;
            }
            let r = reply(&mut tcp, &mut buf, &mut chunk).await?;
            if r.code != 220 {
                return Some(r);
            }
            // Nothing of the clear session is carried into TLS.
            buf.clear();
            let config = tls.client_config().ok()?;
            let name = rustls::pki_types::ServerName::IpAddress(sh.cfg.mm3.ip().into());
            let connector = tokio_rustls::TlsConnector::from(config);
            let mut t = tokio::time::timeout(IO_BOUND, connector.connect(name, tcp))
                .await
                .ok()?
                .ok()?;
            if !sh.s.has_fault("no-ehlo-after-starttls") {
                if !write(&mut t, &smtp::command("EHLO", NAME)).await {
                    return None;
                }
                let r = reply(&mut t, &mut buf, &mut chunk).await?;
                if r.negative() {
                    return Some(r);
                }
            }
            Box::new(t)
        }
        _ => Box::new(tcp),
    };
    let steps: [Vec<u8>; 3] = [
        smtp::command("MAIL", &format!("FROM:<mem-server@{domain}>")),
        smtp::command("RCPT", &format!("TO:<{rcpt}>")),
        smtp::command("DATA", ""),
    ];
    for cmd in steps {
        if !write(&mut stream, &cmd).await {
            return None;
        }
        let r = reply(&mut stream, &mut buf, &mut chunk).await?;
        if r.negative() {
            return Some(r);
        }
    }
    if !write(&mut stream, &smtp::dot_stuff(message)).await {
        return None;
    }
    let last = reply(&mut stream, &mut buf, &mut chunk).await;
    if write(&mut stream, &smtp::command("QUIT", "")).await {
        let _ = reply(&mut stream, &mut buf, &mut chunk).await;
    }
    let _ = tokio::time::timeout(IO_BOUND, stream.shutdown()).await;
    last
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    // mem-server (issue 6): the SMTP notification to MM3.
    super::Fault {
        role: "mem-server",
        name: "no-notification",
        description: "stores new mail and never notifies",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4", "MEM-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "wrong-recipient",
        description: "sends its notifications to a mail address of its own domain instead of the user's MMS address",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4", "MEM-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "applic-id-missing",
        description: "sends the notification without an Applic-ID header",
        breaks: &["MEM-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "applic-id-wrong-value",
        description: "sends the notification with `Applic-ID: mem` (lower case)",
        breaks: &["MEM-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "payload-wrong-mailbox",
        description: "its EMN payload for new mail in the user's mailbox names the other mailbox (issue 12: matched by that name, it is also a notification to the user of the other mailbox's mail, and the user's own mail goes unannounced in MEM-4)",
        breaks: &["MEM-3", "MEM-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "notifies-every-mailbox",
        description: "notifies the user of new mail in any mailbox it serves, also another user's (its EMN naming that mailbox)",
        breaks: &["MEM-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mem-server (issue 12, items 18-20).
    super::Fault {
        role: "mem-server",
        name: "notifies-before-accepting",
        description: "notifies the user when the RCPT of new mail names the user's mailbox, before answering that RCPT (the mail not yet accepted), and not after the mail",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4", "MEM-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "emn-not-well-formed",
        description: "its EMN payload has a stray </emn> end tag after the root element",
        breaks: &["MEM-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "emn-as-text-plain",
        description: "sends the notification as text/plain, a sentence with an <emn …/> fragment in it",
        breaks: &["MEM-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "late-notifies-every-mailbox",
        description: "notifies the user of new mail in any mailbox it serves (its EMN naming that mailbox), each notification 700 ms late",
        breaks: &["MEM-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mem-server (issue 15): STARTTLS on MM3.
    super::Fault {
        role: "mem-server",
        name: "ignores-starttls",
        description: "sends its notification in the clear though the MM3 interface lists STARTTLS in its EHLO reply",
        breaks: &["MEM-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mem-server",
        name: "no-ehlo-after-starttls",
        description: "after STARTTLS and the TLS handshake sends MAIL FROM at once, going on from its EHLO in the clear",
        breaks: &["MEM-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
];
