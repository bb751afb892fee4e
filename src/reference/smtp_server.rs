//! The SMTP server side (RFC 5321) of the reference roles that take mail:
//! the MMS relay's MM3 interface and the MEM server's incoming mail. One
//! session per connection: greeting 220; EHLO (8BITMIME, SIZE) or HELO;
//! MAIL FROM (552 when its SIZE parameter is over the limit); RCPT as the
//! role decides; DATA 503 without MAIL or without an accepted recipient;
//! the content framed up to `CRLF.CRLF` and handed to the role, whose reply
//! is written before what it does next (a push, a notification); RSET,
//! NOOP, QUIT; 502 for anything else. Every read and write is bounded.
//!
//! A role with a TLS configuration lists STARTTLS (RFC 3207) in its EHLO
//! reply; after STARTTLS (503 before EHLO) it answers 220, takes the TLS
//! handshake on the connection, drops what was said in the clear (the
//! session state, and any command sent behind STARTTLS) and goes on inside
//! TLS, where STARTTLS is neither listed nor taken (§4.2).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::codec::smtp::{self, Command};

/// The longest command line read (RFC 5321 §4.5.3.1.4: 512 at least).
const MAX_LINE: usize = 2048;
const IDLE: Duration = Duration::from_secs(30);
const IO_BOUND: Duration = Duration::from_secs(5);

/// What a role decides in a session.
pub(crate) trait MailTaker: Send + Sync + 'static {
    /// What the role does once the reply to a message is written.
    type After: Send;
    /// Its host name in replies.
    fn name(&self) -> &'static str;
    /// The SIZE it declares.
    fn max_message(&self) -> usize;
    /// A refusal (the whole reply) of a recipient, or None to take it.
    fn refuse_rcpt(&self, path: &str) -> Option<Vec<u8>>;
    /// Something to finish before the reply to a taken recipient is written
    /// (a fault's early notification); None for nothing.
    fn hold_rcpt(&self, _path: &str) -> Option<tokio::sync::oneshot::Receiver<()>> {
        None
    }
    /// Answer DATA without an accepted recipient with 354 (a fault) instead of 503.
    fn data_without_recipients(&self) -> bool {
        false
    }
    /// The message after its content: the reply, and what follows it.
    fn message(&self, from: &str, rcpts: &[String], message: &[u8]) -> (Vec<u8>, Self::After);
    fn after(&self, what: Self::After);
    /// The TLS it offers by STARTTLS; None to offer none.
    fn starttls(&self) -> Option<Arc<rustls::ServerConfig>> {
        None
    }
    /// A named fault of the role is on.
    fn fault(&self, _name: &str) -> bool {
        false
    }
}

pub(crate) async fn accept_loop<T: MailTaker>(listener: TcpListener, taker: Arc<T>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    conns.spawn(session(stream, taker.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn write<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(IO_BOUND, stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// The session state that TLS resets (RFC 3207 §4.2).
#[derive(Default)]
struct State {
    greeted: bool,
    from: Option<String>,
    rcpts: Vec<String>,
}

/// How a part of the session ended.
enum End {
    Closed,
    /// 220 to STARTTLS written: the handshake comes next.
    StartTls,
}

async fn session<T: MailTaker>(mut stream: TcpStream, t: Arc<T>) {
    let _ = stream.set_nodelay(true);
    if !write(
        &mut stream,
        &smtp::reply(220, &[&format!("{} ESMTP", t.name())]),
    )
    .await
    {
        return;
    }
    let tls = t.starttls();
    let mut st = State::default();
    if let End::Closed = converse(&mut stream, &t, &mut st, tls.is_some(), false).await {
        return;
    }
    let Some(config) = tls else { return };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(mut tls)) = tokio::time::timeout(IO_BOUND, acceptor.accept(stream)).await else {
        return;
    };
    if !t.fault("mm3-keeps-pre-tls-state") {
        st = State::default();
    }
    let _ = converse(&mut tls, &t, &mut st, false, true).await;
}

/// Commands and replies until QUIT, the end of the connection, or (when
/// `offer`) 220 to STARTTLS; what was read past STARTTLS is dropped.
async fn converse<T: MailTaker, S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    t: &Arc<T>,
    st: &mut State,
    offer: bool,
    in_tls: bool,
) -> End {
    let max = t.max_message();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let State {
        greeted,
        from,
        rcpts,
    } = st;
    let mut in_data = false;
    loop {
        let framed = if in_data {
            smtp::next_data(&buf, max.saturating_mul(4))
        } else {
            smtp::next_line(&buf, MAX_LINE)
        };
        let n = match framed {
            Ok(Some(n)) => n,
            Ok(None) => {
                match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
                    Ok(Ok(k)) if k > 0 => buf.extend_from_slice(&chunk[..k]),
                    _ => return End::Closed,
                }
                continue;
            }
            Err(_) => {
                let r = if in_data {
                    smtp::reply(552, &["5.3.4 message too big"])
                } else {
                    smtp::reply(500, &["5.5.2 line too long"])
                };
                let _ = write(stream, &r).await;
                return End::Closed;
            }
        };
        let unit: Vec<u8> = buf.drain(..n).collect();
        if in_data {
            in_data = false;
            let message = smtp::dot_unstuff(&unit);
            let recipients = std::mem::take(rcpts);
            let sender = from.take().unwrap_or_default();
            let (reply, after) = t.message(&sender, &recipients, &message);
            if !write(stream, &reply).await {
                return End::Closed;
            }
            t.after(after);
            continue;
        }
        let answer = match Command::parse(&unit) {
            Err(_) => smtp::reply(500, &["5.5.2 syntax error"]),
            Ok(c) => match c.verb.as_str() {
                "EHLO" | "HELO" if in_tls && *greeted && t.fault("mm3-keeps-pre-tls-state") => {
                    // Fault mm3-keeps-pre-tls-state: the greeting in the
                    // clear still counts, and a second one is refused.
                    smtp::reply(503, &["5.5.1 already greeted"])
                }
                "EHLO" => {
                    (*greeted, *from, *rcpts) = (true, None, Vec::new());
                    let size = format!("SIZE {max}");
                    let mut lines = vec![t.name(), "8BITMIME", &size];
                    if offer || (in_tls && t.fault("mm3-starttls-offered-again")) {
                        lines.push("STARTTLS");
                    }
                    lines.push("OK");
                    smtp::reply(250, &lines)
                }
                "HELO" => {
                    (*greeted, *from, *rcpts) = (true, None, Vec::new());
                    smtp::reply(250, &[t.name()])
                }
                "STARTTLS" if offer && !*greeted => smtp::reply(503, &["5.5.1 EHLO first"]),
                "STARTTLS" if offer => {
                    if !write(stream, &smtp::reply(220, &["2.0.0 Ready to start TLS"])).await {
                        return End::Closed;
                    }
                    // Whatever came behind STARTTLS in the clear is dropped.
                    return End::StartTls;
                }
                "STARTTLS" if in_tls => smtp::reply(503, &["5.5.1 TLS already active"]),
                "MAIL" => match c.path("FROM:") {
                    Ok((_, params))
                        if params.iter().any(|(k, v)| {
                            k == "SIZE" && v.parse::<usize>().is_ok_and(|n| n > max)
                        }) =>
                    {
                        smtp::reply(552, &["5.3.4 message size exceeds the fixed maximum"])
                    }
                    Ok((p, _)) => {
                        (*from, *rcpts) = (Some(p), Vec::new());
                        smtp::reply(250, &["2.1.0 Ok"])
                    }
                    Err(_) => smtp::reply(501, &["5.5.4 syntax: MAIL FROM:<address>"]),
                },
                "RCPT" if from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
                "RCPT" => match c.path("TO:") {
                    Ok((p, _)) => match t.refuse_rcpt(&p) {
                        Some(refusal) => refusal,
                        None => {
                            if let Some(done) = t.hold_rcpt(&p) {
                                let _ = tokio::time::timeout(IO_BOUND * 2, done).await;
                            }
                            rcpts.push(p);
                            smtp::reply(250, &["2.1.5 Ok"])
                        }
                    },
                    Err(_) => smtp::reply(501, &["5.5.4 syntax: RCPT TO:<address>"]),
                },
                "DATA" if from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
                "DATA" if rcpts.is_empty() && !t.data_without_recipients() => {
                    smtp::reply(503, &["5.5.1 no valid recipients"])
                }
                "DATA" => {
                    in_data = true;
                    smtp::reply(354, &["End data with <CR><LF>.<CR><LF>"])
                }
                "RSET" => {
                    (*from, *rcpts) = (None, Vec::new());
                    smtp::reply(250, &["2.0.0 Ok"])
                }
                "NOOP" => smtp::reply(250, &["2.0.0 Ok"]),
                "QUIT" => {
                    let _ = write(stream, &smtp::reply(221, &["2.0.0 Bye"])).await;
                    return End::Closed;
                }
                _ => smtp::reply(502, &["5.5.2 command not implemented"]),
            },
        };
        if !write(stream, &answer).await {
            return End::Closed;
        }
    }
}
