//! The harness on the Ut reference point towards an XDMS: XCAP (RFC 4825)
//! over HTTP/1.1, sent either as the aggregation proxy the SUT trusts (from
//! the profile's `xdms.proxy` address, with the user's identity asserted in
//! `xdms.identity_header`, as OMA XDM's aggregation proxy and 3GPP TS 33.222's
//! authentication proxy do) or as a client the SUT must not trust (from the
//! harness's own address). Each request goes over a fresh connection, exactly
//! the bytes a scenario asks for; the XDMS's answer is kept raw: a
//! response, bytes that are not HTTP, a close, or nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::codec::xcap::percent_encode_path;
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::profile::XdmsSection;

/// The largest answer the harness reads from an XDMS.
const MAX_ANSWER: usize = 1 << 20;

/// The header the proxy asserts the identity in when the profile names none
/// (OMA XDM's aggregation proxy).
pub const DEFAULT_IDENTITY_HEADER: &str = "X-XCAP-Asserted-Identity";

/// Where a request comes from, as the SUT sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The aggregation proxy (`xdms.proxy`): the one source the SUT trusts.
    Proxy,
    /// A client elsewhere (the harness's own address).
    Client,
}

/// What the XDMS did with a request.
#[derive(Debug, Clone)]
pub enum HttpOutcome {
    /// An HTTP response, as received.
    Answered(HttpMessage),
    /// Bytes that are not an HTTP response, and why.
    NotHttp { bytes: Vec<u8>, why: String },
    /// The XDMS closed the connection before a whole response (bytes that came).
    Closed(Vec<u8>),
    /// Nothing whole within the deadline (bytes that came).
    Timeout(Vec<u8>),
    /// The TCP connection could not be made.
    ConnectFailed(String),
}

impl HttpOutcome {
    pub fn response(&self) -> Option<&HttpMessage> {
        match self {
            HttpOutcome::Answered(m) => Some(m),
            _ => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        self.response().and_then(HttpMessage::status)
    }

    /// One line for a verdict, with the bytes.
    pub fn describe(&self) -> String {
        match self {
            HttpOutcome::Answered(m) => {
                format!("HTTP response — bytes: {}", escape_bytes(m.raw(), 600))
            }
            HttpOutcome::NotHttp { bytes, why } => format!(
                "an answer that is not HTTP ({why}) — bytes: {}",
                escape_bytes(bytes, 400)
            ),
            HttpOutcome::Closed(b) if b.is_empty() => {
                "the XDMS closed the connection without answering".into()
            }
            HttpOutcome::Closed(b) => format!(
                "the XDMS closed the connection after an incomplete answer — bytes: {}",
                escape_bytes(b, 400)
            ),
            HttpOutcome::Timeout(b) if b.is_empty() => "no answer before the deadline".into(),
            HttpOutcome::Timeout(b) => format!(
                "no complete answer before the deadline — bytes: {}",
                escape_bytes(b, 400)
            ),
            HttpOutcome::ConnectFailed(e) => format!("no connection to the XDMS ({e})"),
        }
    }
}

/// The harness's Ut interface to one XDMS.
#[derive(Debug, Clone)]
pub struct Ut {
    /// The XDMS's HTTP listener.
    pub server: SocketAddr,
    /// The XCAP root's path (no trailing `/`).
    pub root: String,
    /// Where the trusted proxy sends from.
    pub proxy: IpAddr,
    /// Where an untrusted client sends from.
    pub client: IpAddr,
    /// The header the proxy asserts the identity in.
    pub identity_header: String,
    /// The users' domain: XUIs are `sip:USER@DOMAIN`.
    pub domain: String,
}

impl Ut {
    /// From the profile's `xdms` section; `client` is the harness's own
    /// address, `domain` the users' domain when the section names none.
    pub fn new(x: &XdmsSection, client: IpAddr, domain: &str) -> Result<Ut, String> {
        let (server, path) = http::url_parts(&x.xcap_root)
            .filter(|_| x.xcap_root.starts_with("http://"))
            .ok_or_else(|| {
                format!(
                    "xdms.xcap_root `{}` is not http://IP:PORT/PATH",
                    x.xcap_root
                )
            })?;
        Ok(Ut {
            server,
            root: path.trim_end_matches('/').to_string(),
            proxy: x.proxy,
            client,
            identity_header: x
                .identity_header
                .clone()
                .unwrap_or_else(|| DEFAULT_IDENTITY_HEADER.into()),
            domain: x.domain.clone().unwrap_or_else(|| domain.to_string()),
        })
    }

    /// The XUI of `user` (RFC 4825 §4: the user's SIP URI).
    pub fn xui(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.domain)
    }

    /// The path of `user`'s document `doc` of `auid` (RFC 4825 §6: root,
    /// AUID, `users`, XUI, document), optionally followed by a node selector
    /// (`/~~/` and `node`, §6.3), percent-encoded where a path segment may
    /// not carry a character as it is (`[`, `]`, `"`: RFC 3986 §3.3).
    pub fn document(&self, auid: &str, user: &str, doc: &str, node: Option<&str>) -> String {
        let mut p = format!(
            "{}/{auid}/users/{}/{}",
            self.root,
            percent_encode_path(&self.xui(user)),
            percent_encode_path(doc)
        );
        if let Some(n) = node {
            p.push_str("/~~/");
            p.push_str(&percent_encode_path(n.trim_start_matches('/')));
        }
        p
    }

    /// The bytes of a request: the start line, `Host`, the asserted
    /// identity of `asserted_as` (a user, or a whole header value when it
    /// contains `:`), the given headers, `Content-Length` and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        asserted_as: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let identity = asserted_as.map(|u| {
            if u.contains(':') {
                u.to_string()
            } else {
                format!("\"{}\"", self.xui(u))
            }
        });
        let mut all: Vec<(&str, &str)> = Vec::new();
        if let Some(v) = &identity {
            all.push((self.identity_header.as_str(), v.as_str()));
        }
        all.extend_from_slice(headers);
        http::request(method, path, &self.server.to_string(), &all, body)
    }

    /// Builds a request ([`Ut::request`]) and sends it from `source`
    /// ([`Ut::send`]): the bytes sent and what came back.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        source: Source,
        capture: Capture,
        method: &str,
        path: &str,
        asserted_as: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Instant,
    ) -> (Vec<u8>, HttpOutcome) {
        let req = self.request(method, path, asserted_as, headers, body);
        let out = self.send(source, capture, &req, deadline).await;
        (req, out)
    }

    /// Sends `request` from `source` over a fresh connection and waits for
    /// the answer until `deadline`.
    pub async fn send(
        &self,
        source: Source,
        capture: Capture,
        request: &[u8],
        deadline: Instant,
    ) -> HttpOutcome {
        let from = match source {
            Source::Proxy => self.proxy,
            Source::Client => self.client,
        };
        exchange(from, self.server, capture, request, deadline).await
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

/// One HTTP exchange from `from` to `to` over a fresh TCP connection.
pub async fn exchange(
    from: IpAddr,
    to: SocketAddr,
    capture: Capture,
    request: &[u8],
    deadline: Instant,
) -> HttpOutcome {
    let left = deadline.saturating_duration_since(Instant::now());
    let conn = match StreamConn::connect_from(from, to, capture, framer, MAX_ANSWER, left).await {
        Ok(c) => c,
        Err(e) => return HttpOutcome::ConnectFailed(e.to_string()),
    };
    if let Err(e) = conn.send(request).await {
        return HttpOutcome::ConnectFailed(format!("sending the request failed: {e}"));
    }
    let out = match conn.recv(deadline).await {
        Some(a) => match a.event {
            StreamEvent::Message(b) => match HttpMessage::parse(&b) {
                Ok(m) if m.status().is_some() => HttpOutcome::Answered(m),
                Ok(_) => HttpOutcome::NotHttp {
                    bytes: b,
                    why: "a request, not a response".into(),
                },
                Err(e) => HttpOutcome::NotHttp {
                    bytes: b,
                    why: e.to_string(),
                },
            },
            StreamEvent::Garbage(b, why) => HttpOutcome::NotHttp { bytes: b, why },
            StreamEvent::Closed(b) => match HttpMessage::parse_at_close(&b) {
                Ok(m) if m.status().is_some() && !b.is_empty() => HttpOutcome::Answered(m),
                _ => HttpOutcome::Closed(b),
            },
        },
        None => HttpOutcome::Timeout(conn.pending()),
    };
    conn.shutdown().await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ut() -> Ut {
        let x = XdmsSection {
            xcap_root: "http://127.0.0.1:8080/xcap-root/".into(),
            proxy: "127.0.0.3".parse().unwrap(),
            identity_header: None,
            domain: None,
        };
        Ut::new(&x, "127.0.0.1".parse().unwrap(), "liaison.test").unwrap()
    }

    #[test]
    fn paths_and_request_bytes() {
        let u = ut();
        assert_eq!(
            u.document("resource-lists", "alice", "index", None),
            "/xcap-root/resource-lists/users/sip:alice@liaison.test/index"
        );
        assert_eq!(
            u.document(
                "resource-lists",
                "alice",
                "index",
                Some("/resource-lists/list[@name=\"a\"]")
            ),
            "/xcap-root/resource-lists/users/sip:alice@liaison.test/index/~~/resource-lists/list%5B@name=%22a%22%5D"
        );
        let r = u.request("GET", "/x", Some("alice"), &[], b"");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-XCAP-Asserted-Identity: \"sip:alice@liaison.test\"\r\n\r\n"
        );
        assert!(Ut::new(
            &XdmsSection {
                xcap_root: "ftp://x".into(),
                proxy: "127.0.0.3".parse().unwrap(),
                identity_header: None,
                domain: None
            },
            "127.0.0.1".parse().unwrap(),
            "d"
        )
        .is_err());
    }
}
