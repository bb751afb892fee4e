//! Renderings of a PDU for people: a one-line summary for failure messages and a
//! decoded view (one header a line, then the body) for snapshots.

use super::{Body, Header, Pdu};

impl Pdu {
    /// One line: message type, transaction id, version, header and part counts.
    pub fn summary(&self) -> String {
        let t = self
            .message_type()
            .map(|t| {
                t.name()
                    .map_or_else(|| format!("{:#04x}", t.0), str::to_string)
            })
            .unwrap_or_else(|| "?".into());
        let mut s = t;
        if let Some(tid) = self.transaction_id() {
            s.push_str(&format!(" tid={tid:?}"));
        }
        if let Some(v) = self.version() {
            s.push_str(&format!(" v{v}"));
        }
        s.push_str(&format!(" headers={}", self.headers.len()));
        match &self.body {
            Some(Body::Multipart(p)) => s.push_str(&format!(" parts={}", p.len())),
            Some(Body::Single(b)) => s.push_str(&format!(" body={}B", b.len())),
            None => {}
        }
        if !self.order_violations().is_empty() {
            s.push_str(&format!(
                " order-violations={}",
                self.order_violations().len()
            ));
        }
        s
    }

    /// Every header on its own line (`Name: value`), then the body's parts.
    pub fn view(&self) -> String {
        let mut out = Vec::new();
        for h in &self.headers {
            let name = match h {
                Header::Application { .. } | Header::Opaque(_) => {
                    format!("{} (application)", h.name())
                }
                _ => h.name(),
            };
            out.push(format!("{name}: {}", h.value_text()));
        }
        match &self.body {
            Some(Body::Multipart(parts)) => {
                out.push(format!("-- multipart, {} part(s)", parts.len()));
                for (i, p) in parts.iter().enumerate() {
                    out.push(format!(
                        "part {i}: {} ({} octets)",
                        p.content_type,
                        p.data.len()
                    ));
                    for h in &p.headers {
                        out.push(format!("  {h:?}"));
                    }
                    out.push(format!(
                        "  data: {}",
                        crate::codec::escape_bytes(&p.data, 64)
                    ));
                }
            }
            Some(Body::Single(b)) => out.push(format!(
                "-- body, {} octets: {}",
                b.len(),
                crate::codec::escape_bytes(b, 64)
            )),
            None => {}
        }
        for v in self.order_violations() {
            out.push(format!("!! {v}"));
        }
        out.join("\n")
    }
}
