//! The MMS server's MM3 interface (SMTP) a MEM server notifies, for the
//! whole run.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::net::capture::Capture;
use crate::net::lock;
use crate::roles::smtp_server::{attribute, MailEvent, Notification, Received, SmtpServer};

/// The MM3 interface for a `mem-server` SUT, for the whole run, at the
/// address its profile names (`mem_server.mm3`). It keeps the run's new-mail
/// events, so that each notification is matched to the mail it announces,
/// whichever scenario is running when it arrives (scenarios hold it, `@harness:mm3`: one at a time).
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
    /// Listens at `addr`; between the scenarios that hold it, its traffic
    /// goes to `home` (the run-level pcap).
    pub async fn start(addr: SocketAddr, home: Capture) -> Result<Mm3Harness, String> {
        let capture = Capture::switchable_home(home);
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
