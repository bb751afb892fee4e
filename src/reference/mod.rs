//! The embedded reference SUT: a conformant implementation of each SUT role,
//! over real sockets, with named faults that each break declared requirements.
//!
//! It lives apart from the harness: it shares the codecs (`crate::codec`) and
//! nothing else — no sockets, no transactions, no state. `liaison reference`
//! runs one role on its own; `liaison run` without `--sut` starts every role
//! here on loopback port 0 and points the harness at it.
//!
//! Faults prove that scenarios can fail: the fault-kill test runs the suite
//! against every fault and checks that exactly the declared requirements fail.

pub mod im_client;
pub mod im_server;
pub mod mem_server;
pub mod mms_client;
pub mod mms_relay;
pub mod msrp_receiver;
pub mod msrp_relay;
mod notifier;
pub mod poc_server;
pub mod ppg;
pub mod presence_client;
pub mod presence_server;
pub mod push_client;
mod sip_uac;
mod sms_bearer;
pub mod sms_iwf;
mod smtp_server;
pub mod tls;
pub mod xdms;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};

/// Locks a mutex, taking the data of a poisoned one (a panicked task must
/// not take the whole reference role down with it).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the kernel for `bytes` of receive and send buffer on a UDP socket
/// (it caps them at `net.core.rmem_max`/`wmem_max`). With the default
/// (about 200 kB) a burst of a few hundred MESSAGEs overflows while the
/// reader waits its turn on the runtime: the datagrams are dropped, and
/// each costs its transaction a retransmission (Timer E).
pub(crate) fn enlarge_udp_buffers(sock: &UdpSocket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: setsockopt with a pointer to a c_int that outlives the call.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &bytes as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// The final responses of completed server transactions, kept for Timer J
/// (RFC 3261 §17.2.2) to answer retransmissions, and let go in the order
/// they were stored: each lookup or insert costs the same at 10 or 100 000
/// transactions a second (no sweep of the whole map).
/// Reads one HTTP request from `stream`: whole within `max` bytes and by
/// `end`; None for anything else (too large, malformed, slow, closed).
pub(crate) async fn read_http_request(
    stream: &mut tokio::net::TcpStream,
    max: usize,
    end: tokio::time::Instant,
) -> Option<crate::codec::http::HttpMessage> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match crate::codec::http::next_frame(&buf, max) {
            Ok(Some(n)) => return crate::codec::http::HttpMessage::parse(&buf[..n]).ok(),
            Ok(None) => {}
            Err(_) => return None,
        }
        match tokio::time::timeout_at(end, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Completed {
    map: std::collections::HashMap<String, (Vec<u8>, std::time::Instant)>,
    order: std::collections::VecDeque<(std::time::Instant, String)>,
}

impl Completed {
    /// Lets go of the transactions completed `keep` or longer ago.
    pub(crate) fn expire(&mut self, keep: Duration) {
        while let Some((at, _)) = self.order.front() {
            if at.elapsed() < keep {
                break;
            }
            if let Some((_, key)) = self.order.pop_front()
                && self.map.get(&key).is_some_and(|(_, t)| t.elapsed() >= keep)
            {
                self.map.remove(&key);
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&(Vec<u8>, std::time::Instant)> {
        self.map.get(key)
    }

    pub(crate) fn insert(&mut self, key: String, bytes: Vec<u8>) {
        let now = std::time::Instant::now();
        self.order.push_back((now, key.clone()));
        self.map.insert(key, (bytes, now));
    }

    /// Stores the final response of a transaction marked with
    /// [`Completed::trying`], keeping its place in the expiry order.
    pub(crate) fn complete(&mut self, key: String, bytes: Vec<u8>) {
        match self.map.get_mut(&key) {
            Some(entry) => entry.0 = bytes,
            None => self.insert(key, bytes),
        }
    }

    /// Marks a new server transaction as being answered (an empty final
    /// response): where several readers share one socket, a copy of the
    /// request that another reader meets meanwhile finds the mark and is
    /// absorbed, as a transaction in the Trying state absorbs it (RFC 3261
    /// §17.2.2), instead of starting a second transaction.
    pub(crate) fn trying(&mut self, key: String) {
        self.insert(key, Vec::new());
    }
}

/// A named fault of one reference role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub role: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The requirement IDs whose scenarios this fault makes fail — exactly.
    pub breaks: &'static [&'static str],
    /// im-server: run this variant with store-and-forward on or off.
    pub store_and_forward: bool,
    /// Run with `--address ::1`: the fault shows only where the IMS core
    /// shares the harness's IP (IPv6 loopback, `ims.trust: address`).
    pub on_ipv6: bool,
}

/// Every fault of every reference role: each role's list sits in its own
/// file, beside the `has_fault` checks (`im_client::FAULTS`, …).
const ROLE_FAULTS: &[&[Fault]] = &[
    im_client::FAULTS,
    msrp_receiver::FAULTS,
    im_server::FAULTS,
    push_client::FAULTS,
    sms_iwf::FAULTS,
    ppg::FAULTS,
    mms_client::FAULTS,
    mms_relay::FAULTS,
    mem_server::FAULTS,
    xdms::FAULTS,
    presence_server::FAULTS,
    presence_client::FAULTS,
    poc_server::FAULTS,
];

/// Every fault of every reference role, role by role.
pub fn faults() -> impl Iterator<Item = &'static Fault> {
    ROLE_FAULTS.iter().flat_map(|list| list.iter())
}

/// A fault that only load reveals: one message at a time, the conformance
/// scenarios pass against it; `liaison load` with [`LoadFault::args`] must
/// catch it, its result counting the integrity violations in
/// [`LoadFault::trips`] (the load fault-kill test, `tests/it/load.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadFault {
    pub role: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The load result's counters it makes non-zero (`lost`, `mismatched`,
    /// `fabricated`, `duplicated`).
    pub trips: &'static [&'static str],
    /// The `liaison load` arguments that reveal it, `--role` included
    /// (all but `--fault`).
    pub args: &'static [&'static str],
}

/// Every load fault of every reference role (each role's list in its own file).
const ROLE_LOAD_FAULTS: &[&[LoadFault]] = &[
    im_client::LOAD_FAULTS,
    im_server::LOAD_FAULTS,
    sms_iwf::LOAD_FAULTS,
];

/// Every load fault, role by role.
pub fn load_faults() -> impl Iterator<Item = &'static LoadFault> {
    ROLE_LOAD_FAULTS.iter().flat_map(|list| list.iter())
}

/// Finds a conformance or load fault by `name` or `role/name`: (role,
/// name, store-and-forward for an im-server variant).
pub fn find_any_fault(spec: &str) -> Result<(&'static str, &'static str, bool), String> {
    if let Ok(f) = find_fault(spec) {
        return Ok((f.role, f.name, f.store_and_forward));
    }
    let (role, name) = match spec.split_once('/') {
        Some((r, n)) => (Some(r), n),
        None => (None, spec),
    };
    let hits: Vec<&LoadFault> = load_faults()
        .filter(|f| f.name == name && role.is_none_or(|r| f.role == r))
        .collect();
    match hits.as_slice() {
        [one] => Ok((one.role, one.name, true)),
        [] => Err(format!(
            "unknown fault `{spec}`; `liaison reference --list-faults` lists them"
        )),
        _ => Err(format!("fault `{spec}` is ambiguous; write ROLE/NAME")),
    }
}

/// The roles the embedded reference implements.
pub const ROLES: &[&str] = &[
    "im-client",
    "im-server",
    "sms-im-iwf",
    "ppg",
    "push-client",
    "mms-client",
    "mms-relay",
    "mem-server",
    "xdms",
    "presence-server",
    "poc-server",
    "presence-client",
];

/// Finds a fault by `name` or `role/name`.
pub fn find_fault(spec: &str) -> Result<&'static Fault, String> {
    let (role, name) = match spec.split_once('/') {
        Some((r, n)) => (Some(r), n),
        None => (None, spec),
    };
    let hits: Vec<&Fault> = faults()
        .filter(|f| f.name == name && role.is_none_or(|r| f.role == r))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "unknown fault `{spec}`; known: {}",
            faults()
                .map(|f| format!("{}/{}", f.role, f.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!("fault `{spec}` is ambiguous; write ROLE/NAME")),
    }
}

/// Settings common to the reference roles.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fault: Option<&'static str>,
    pub t1: Duration,
    /// im-server: the domain it serves.
    pub domain: String,
    /// im-server: store MESSAGEs for unregistered users.
    pub store_and_forward: bool,
    /// sms-im-iwf: the SMSC and IMS core to use.
    pub iwf: Option<sms_iwf::IwfConfig>,
    /// ppg: the bearers (the harness) it pushes to.
    pub ppg: Option<ppg::PpgConfig>,
    /// push-client: the push agent it subscribes to and the upper tester it
    /// reports hand-overs to (both optional).
    pub push_client: Option<push_client::PushClientConfig>,
    /// mms-client: the MMSC (the harness) it is configured with.
    pub mms_client: Option<mms_client::MmsClientConfig>,
    /// mms-relay: the bearers (the harness) it notifies over.
    pub mms_relay: Option<mms_relay::MmsRelayConfig>,
    /// im-server: the MMS Relay/Server (the harness) it defers messages to.
    pub deferral: Option<im_server::DeferralConfig>,
    /// mem-server: the MM3 interface (the harness) it notifies and its mailboxes.
    pub mem_server: Option<mem_server::MemServerConfig>,
    /// poc-server: its pre-arranged group.
    pub poc: Option<poc_server::PocConfig>,
    /// im-client: register through this IMS core; im-server: trust
    /// P-Asserted-Identity from this core's IP only.
    pub ims: Option<ImsConfig>,
    /// presence-server: the aggregation proxy its XCAP listener trusts.
    pub presence: Option<presence_server::PresenceConfig>,
    /// The certificate (and key) the run's lab CA issued for the SUT and
    /// the CA itself: the roles that speak TLS use them.
    pub tls: Option<tls::ReferenceTls>,
    /// xdms: the aggregation proxy it trusts (None: [`xdms::XdmsConfig::default_for`]).
    pub xdms: Option<xdms::XdmsConfig>,
}

/// The IMS core a reference role works with.
#[derive(Debug, Clone)]
pub struct ImsConfig {
    /// The core's SIP address (its IP is the one trusted source).
    pub core: SocketAddr,
    /// Trust the core's IP and port, not its IP alone (the core shares its
    /// IP with untrusted senders, as on IPv6 loopback).
    pub trust_port: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            fault: None,
            t1: Duration::from_millis(50),
            domain: "liaison.test".into(),
            store_and_forward: true,
            iwf: None,
            ppg: None,
            push_client: None,
            mms_client: None,
            mms_relay: None,
            deferral: None,
            mem_server: None,
            poc: None,
            ims: None,
            presence: None,
            tls: None,
            xdms: None,
        }
    }
}

impl Settings {
    pub fn has_fault(&self, name: &str) -> bool {
        self.fault == Some(name)
    }
}

/// A running reference role.
pub struct Running {
    pub role: &'static str,
    pub address: SocketAddr,
    /// im-server: its MSRP relay address.
    pub msrp: Option<SocketAddr>,
    /// im-server: where it takes SIP over WebSocket (RFC 7118), at
    /// `ws://ADDRESS/` ([`im_server::WS_PATH`]).
    pub ws: Option<SocketAddr>,
    /// im-server: where it takes SIP over TLS (when it has a certificate).
    pub tls: Option<SocketAddr>,
    /// ppg: where it takes PAP over TLS (`https://ADDR/wappush`).
    pub pap_https: Option<SocketAddr>,
    /// mms-relay: its MM3 (SMTP) address.
    pub mm3: Option<SocketAddr>,
    /// mms-relay: where it takes MM1 over TLS (`https://ADDR/mms`).
    pub mm1_https: Option<SocketAddr>,
    /// mms-client: where it takes send triggers (HTTP); presence-client:
    /// where it takes its user's presence changes (HTTP).
    pub send_trigger: Option<SocketAddr>,
    /// mms-client: where it takes WSP pushes (UDP).
    pub wap_push: Option<SocketAddr>,
    /// presence-server: its XCAP listener (HTTP, pres-rules).
    pub xcap: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn new(
        role: &'static str,
        address: SocketAddr,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    ) -> Running {
        Running {
            role,
            address,
            msrp: None,
            ws: None,
            tls: None,
            pap_https: None,
            mm3: None,
            mm1_https: None,
            send_trigger: None,
            wap_push: None,
            xcap: None,
            tasks,
        }
    }

    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a reference role on `listen` (port 0 picks a free port; UDP and
/// TCP share the port).
pub async fn start(role: &str, listen: SocketAddr, settings: Settings) -> std::io::Result<Running> {
    if role == "sms-im-iwf" {
        let cfg = settings.iwf.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "sms-im-iwf needs the SMSC and IMS core addresses",
            )
        })?;
        let (address, tasks) = sms_iwf::start(listen.ip(), cfg, settings).await?;
        return Ok(Running::new("sms-im-iwf", address, tasks));
    }
    if role == "ppg" {
        let cfg = settings.ppg.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "ppg needs the SMSC, OTA-HTTP and SIP push target addresses",
            )
        })?;
        let (address, tasks) = ppg::start(listen, cfg, settings).await?;
        let mut r = Running::new("ppg", address.http, tasks);
        r.pap_https = address.https;
        return Ok(r);
    }
    if role == "mms-client" {
        let cfg = settings.mms_client.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mms-client needs the MMSC URL it is configured with",
            )
        })?;
        let (a, tasks) = mms_client::start(listen, cfg, settings).await?;
        let mut r = Running::new("mms-client", a.sip, tasks);
        r.send_trigger = Some(a.trigger);
        r.wap_push = Some(a.wap_push);
        r.tls = a.tls;
        return Ok(r);
    }
    if role == "mms-relay" {
        let cfg = settings.mms_relay.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mms-relay needs the SMSC and SIP device addresses",
            )
        })?;
        let (a, tasks) = mms_relay::start_all(listen, cfg, settings).await?;
        let mut r = Running::new("mms-relay", a.mm1, tasks);
        r.mm3 = Some(a.mm3);
        r.mm1_https = a.mm1_https;
        return Ok(r);
    }
    if role == "presence-server" {
        let (sip, xcap, tasks) = presence_server::start(listen, settings).await?;
        let mut r = Running::new("presence-server", sip, tasks);
        r.xcap = Some(xcap);
        return Ok(r);
    }
    if role == "mem-server" {
        let cfg = settings.mem_server.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mem-server needs the MM3 address it notifies and its mailboxes",
            )
        })?;
        let (address, tasks) = mem_server::start(listen, cfg, settings).await?;
        return Ok(Running::new("mem-server", address, tasks));
    }
    if role == "xdms" {
        let cfg = settings.xdms.clone();
        let (address, tasks) = xdms::start(listen, cfg, settings).await?;
        return Ok(Running::new("xdms", address, tasks));
    }
    if role == "presence-client" {
        let (a, tasks) = presence_client::start(listen, settings).await?;
        let mut r = Running::new("presence-client", a.sip, tasks);
        r.send_trigger = Some(a.trigger);
        return Ok(r);
    }
    if role == "poc-server" {
        let cfg = settings.poc.clone().unwrap_or_default();
        let (address, tasks) = poc_server::start(listen, cfg, settings).await?;
        return Ok(Running::new("poc-server", address, tasks));
    }
    let (udp, tcp) = bind_pair(listen.ip(), listen.port()).await?;
    let address = udp.local_addr()?;
    let mut msrp = None;
    let mut ws = None;
    let tls_at: Option<SocketAddr>;
    let tasks = match role {
        "im-client" => {
            let msrp = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
            // SIP over TLS, with the certificate the run issued.
            let secure = tls::listener(&settings, listen.ip()).await?;
            tls_at = secure.as_ref().map(TcpListener::local_addr).transpose()?;
            im_client::start(udp, tcp, msrp, secure, settings)
        }
        "im-server" => {
            let relay = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
            msrp = Some(relay.local_addr()?);
            // SIP over WebSocket: its own TCP listener on the same IP.
            let web = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
            ws = Some(web.local_addr()?);
            // SIP over TLS, with the certificate the run issued.
            let secure = tls::listener(&settings, listen.ip()).await?;
            tls_at = secure.as_ref().map(TcpListener::local_addr).transpose()?;
            let mut t = msrp_relay::start(relay, settings.clone());
            t.extend(im_server::start(udp, tcp, Some(web), secure, settings));
            t
        }
        "push-client" => {
            // SIP over TLS, with the certificate the run issued.
            let secure = tls::listener(&settings, listen.ip()).await?;
            tls_at = secure.as_ref().map(TcpListener::local_addr).transpose()?;
            push_client::start(udp, tcp, secure, settings)
        }
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the embedded reference has no role `{other}` yet"),
            ))
        }
    };
    let mut r = Running::new(
        ROLES.iter().find(|r| **r == role).copied().unwrap_or("?"),
        address,
        tasks,
    );
    r.msrp = msrp;
    r.ws = ws;
    r.tls = tls_at;
    Ok(r)
}

/// Binds UDP and TCP on the same port (retrying when port 0 picks a port
/// whose TCP side is taken).
async fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
        let p = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(ip, p)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if port == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("could not bind UDP and TCP on one port")))
}

/// Rebuilds a SIP message from a start line, headers and an exact body.
pub(crate) fn rebuild(start: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The host:port of a SIP URI (`sip:user@127.0.0.1:5070;transport=tcp`).
pub(crate) fn uri_socket_addr(uri: &str) -> Option<(SocketAddr, bool)> {
    let rest = uri.split_once(':')?.1;
    let hostport = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let (hostport, params) = hostport.split_once(';').unwrap_or((hostport, ""));
    let tcp = params.to_ascii_lowercase().contains("transport=tcp");
    let addr = hostport.trim_end_matches('>').parse().ok()?;
    Some((addr, tcp))
}

/// Reads a framed SIP stream from a TCP connection, calling `on_msg` per
/// message; bounded buffer, stops on garbage.
pub(crate) async fn read_stream<R, F>(mut rd: R, mut on_msg: F)
where
    R: tokio::io::AsyncRead + Unpin,
    F: FnMut(Vec<u8>),
{
    use crate::codec::sip::{next_frame, Frame};
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match next_frame(&buf, 256 * 1024) {
                Ok(None) => break,
                Ok(Some(Frame::KeepAlive(k))) => {
                    buf.drain(..k.min(buf.len()));
                }
                Ok(Some(Frame::Message(len))) => {
                    let len = len.min(buf.len());
                    on_msg(buf.drain(..len).collect());
                }
                Err(_) => return,
            }
        }
    }
}

/// One HTTP exchange on its own TCP connection, bounded by `bound` as a
/// whole: the response, when a whole one came (framed by Content-Length,
/// chunked, or the close). The reference's HTTP client side (OTA-HTTP
/// pushes, MM1 POSTs and GETs).
pub(crate) async fn http_exchange(
    addr: SocketAddr,
    req: &[u8],
    bound: Duration,
) -> Option<crate::codec::http::HttpMessage> {
    use tokio::io::AsyncWriteExt;
    let end = tokio::time::Instant::now() + bound;
    let mut stream = tokio::time::timeout_at(end, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    tokio::time::timeout_at(end, stream.write_all(req))
        .await
        .ok()?
        .ok()?;
    read_http_answer(&mut stream, end).await
}

/// Reads one HTTP message from `stream` by `end` (at most 4 MiB): framed
/// by Content-Length, chunked, or the close; None when none whole came.
pub(crate) async fn read_http_answer<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    end: tokio::time::Instant,
) -> Option<crate::codec::http::HttpMessage> {
    use crate::codec::http::{self, HttpMessage};
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match http::next_frame(&buf, 4 << 20) {
            Ok(Some(n)) => return HttpMessage::parse(buf.get(..n)?).ok(),
            Ok(None) => {}
            Err(_) => return None,
        }
        let n = tokio::time::timeout_at(end, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return HttpMessage::parse_at_close(&buf).ok();
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// (address, path) of an `http://IP:PORT/PATH` URL on loopback.
pub(crate) fn http_url_parts(url: &str) -> Option<(SocketAddr, String)> {
    crate::codec::http::url_parts(url).filter(|(a, _)| a.ip().is_loopback())
}
