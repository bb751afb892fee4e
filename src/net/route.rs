//! Which scenario a packet of a run-level role belongs to.
//!
//! A run-level role (the SMSC a sms-im-iwf SUT binds to, the IMS core it
//! sends to) serves every scenario of the run at once. Each scenario owns
//! correlation keys it made up itself (fresh telephone numbers, say) and
//! claims them; a packet that carries one of them belongs to that
//! scenario's pcap. What a scenario did not name itself but that belongs to
//! its traffic is learned on the way:
//!
//! - an SMPP response goes with its request: the sequence number in the
//!   opposite direction (SMPP 3.4 §3.2, §5.1.4);
//! - a SIP message owned by a key lends its Call-ID (RFC 3261 §8.1.1.4) to
//!   the scenario, so the responses, ACKs and BYEs of that call follow it,
//!   and a request its top Via branch (§8.1.1.7), so its responses follow
//!   it even in a dialog that other scenarios' requests share (a push
//!   client's one subscription, which carries every scenario's NOTIFY);
//! - the MSRP session ids of the `a=path` URIs in its SDP (RFC 4975 §8.1,
//!   §9) likewise, so the session's chunks and REPORTs follow;
//! - an HTTP response goes with the request it answers: the oldest
//!   unanswered request on the same connection, the other way (RFC 9112
//!   §9.3: responses come in the order of the requests).
//!
//! A scenario's own keys come first, then the branches it learned, then
//! the Call-IDs and session ids it learned: a NOTIFY that carries one
//! scenario's content in another's dialog is the first one's, and so is
//! its 200.
//!
//! What matches no scenario (a bind, an enquire_link, a late packet after
//! its scenario ended) goes to the run-level file and is counted. This is
//! sans-IO: [`Router::classify`] looks at bytes and addresses only.

use std::collections::HashMap;
use std::net::SocketAddr;

/// A scenario that claimed keys.
pub type OwnerId = u64;

/// How far into a packet keys are looked for: the headers of a SIP or MSRP
/// message, an SMPP PDU's addresses and short message.
const SEARCH_LIMIT: usize = 4096;
/// Keys one scenario may hold (its own and those learned), at most.
pub const MAX_KEYS_PER_OWNER: usize = 256;
/// SMPP requests awaiting their response, at most (the oldest go first).
const MAX_PENDING_SMPP: usize = 4096;
/// A learned token shorter than this is not taken as a key (it could occur
/// in anybody's packet).
const MIN_LEARNED_KEY: usize = 6;

/// The SMPP response bit of command_id (SMPP 3.4 §5.1.2.1).
const SMPP_RESP: u32 = 0x8000_0000;

#[derive(Debug, Default)]
struct Owner {
    id: OwnerId,
    /// Keys only this scenario has, made up fresh.
    keys: Vec<Vec<u8>>,
    /// Top Via branches of the SIP requests it owned (their responses).
    branches: Vec<Vec<u8>>,
    /// Call-IDs and MSRP session ids of what it owned.
    learned: Vec<Vec<u8>>,
    /// Keys other scenarios may carry too (the SUT's own address of
    /// record): they take a packet that carries nobody's own key, and every
    /// scenario that holds one gets a copy.
    weak: Vec<Vec<u8>>,
}

/// The keys of the scenarios a run-level role serves, and what was learned.
#[derive(Debug, Default)]
pub struct Router {
    next: OwnerId,
    owners: Vec<Owner>,
    /// SMPP request (source, destination, sequence number) → its owner.
    smpp: HashMap<(SocketAddr, SocketAddr, u32), OwnerId>,
    smpp_order: std::collections::VecDeque<(SocketAddr, SocketAddr, u32)>,
    /// HTTP requests (source, destination) awaiting their responses, in
    /// order: each one's owner (None: nobody's, answered run-level).
    http: HashMap<(SocketAddr, SocketAddr), std::collections::VecDeque<Option<OwnerId>>>,
    /// Packets that matched no scenario.
    unclaimed: u64,
}

impl Router {
    /// A new owner, with no keys yet.
    pub fn owner(&mut self) -> OwnerId {
        self.next += 1;
        self.owners.push(Owner {
            id: self.next,
            ..Owner::default()
        });
        self.next
    }

    /// Gives `key` to `owner` (ignored past [`MAX_KEYS_PER_OWNER`], when
    /// empty, or when the owner is gone).
    pub fn key(&mut self, owner: OwnerId, key: &[u8]) {
        self.add(owner, key, |o| &mut o.keys);
    }

    /// Gives `owner` a weak key: see [`Owner::weak`]. Bounded likewise.
    pub fn weak_key(&mut self, owner: OwnerId, key: &[u8]) {
        self.add(owner, key, |o| &mut o.weak);
    }

    fn add(&mut self, owner: OwnerId, key: &[u8], list: impl Fn(&mut Owner) -> &mut Vec<Vec<u8>>) {
        if key.is_empty() {
            return;
        }
        if let Some(o) = self.owners.iter_mut().find(|o| o.id == owner) {
            let keys = list(o);
            if keys.len() < MAX_KEYS_PER_OWNER && !keys.iter().any(|k| k == key) {
                keys.push(key.to_vec());
            }
        }
    }

    /// Forgets `owner`: its packets from now on are run-level ones.
    pub fn release(&mut self, owner: OwnerId) {
        self.owners.retain(|o| o.id != owner);
        self.smpp.retain(|_, o| *o != owner);
        for q in self.http.values_mut() {
            for o in q.iter_mut().filter(|o| **o == Some(owner)) {
                *o = None;
            }
        }
        self.http.retain(|_, q| q.iter().any(Option::is_some));
        let smpp = &self.smpp;
        self.smpp_order.retain(|k| smpp.contains_key(k));
    }

    /// The owners now.
    pub fn owners(&self) -> Vec<OwnerId> {
        self.owners.iter().map(|o| o.id).collect()
    }

    /// Packets that went to the run-level file so far.
    pub fn unclaimed(&self) -> u64 {
        self.unclaimed
    }

    /// The scenarios `payload` (sent from `src` to `dst`) belongs to: the
    /// one whose own key it carries, else those whose weak key it carries
    /// or that take everything, else none (run-level). Learns what a packet
    /// with an own key tells about its owner's later traffic.
    pub fn classify(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<OwnerId> {
        let smpp = smpp_header(payload);
        if let Some((command, seq)) = smpp
            && command & SMPP_RESP != 0
            && let Some(o) = self.smpp.remove(&(dst, src, seq))
        {
            tracing::debug!(owner = o, %src, %dst, seq, "routing: SMPP response follows its request");
            return vec![o];
        }
        match http_kind(payload) {
            Some(Http::Response) => {
                let k = (dst, src);
                let o = self.http.get_mut(&k).and_then(|q| q.pop_front()).flatten();
                if self.http.get(&k).is_some_and(|q| q.is_empty()) {
                    self.http.remove(&k);
                }
                if let Some(o) = o {
                    tracing::debug!(owner = o, %src, %dst, "routing: HTTP response follows its request on the connection");
                    return vec![o];
                }
            }
            Some(Http::Request) => {
                let owners = self.classify_by_keys(src, dst, payload, None);
                // Bounded in connections as in requests per connection:
                // past either, a response goes by its keys alone.
                if self.http.len() < MAX_HTTP_CONNECTIONS || self.http.contains_key(&(src, dst)) {
                    let q = self.http.entry((src, dst)).or_default();
                    if q.len() < MAX_PENDING_HTTP {
                        q.push_back(owners.first().copied());
                    }
                }
                return owners;
            }
            None => {}
        }
        if smpp.is_none()
            && let Some(plain) = unmasked_ws(payload)
        {
            return self.classify_by_keys(src, dst, &plain, None);
        }
        self.classify_by_keys(src, dst, payload, smpp)
    }

    fn classify_by_keys(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        smpp: Option<(u32, u32)>,
    ) -> Vec<OwnerId> {
        let head = &payload[..payload.len().min(SEARCH_LIMIT)];
        let carries = |keys: &[Vec<u8>]| keys.iter().any(|k| carries(head, k));
        let find = |list: fn(&Owner) -> &Vec<Vec<u8>>, why: &'static str| {
            self.owners
                .iter()
                .find(|o| carries(list(o)))
                .map(|o| (o.id, why))
        };
        let owner = find(|o| &o.keys, "its own key")
            .or_else(|| find(|o| &o.branches, "a Via branch it learned"))
            .or_else(|| find(|o| &o.learned, "a Call-ID or MSRP session it learned"));
        let Some((owner, why)) = owner else {
            let others: Vec<OwnerId> = self
                .owners
                .iter()
                .filter(|o| carries(&o.weak))
                .map(|o| o.id)
                .collect();
            if others.is_empty() {
                self.unclaimed += 1;
                tracing::debug!(%src, %dst, bytes = payload.len(), "routing: no scenario's key: run-level");
            } else {
                tracing::debug!(owners = ?others, %src, %dst, "routing: by weak key (a copy to each)");
            }
            return others;
        };
        tracing::debug!(owner, %src, %dst, "routing: by {why}");
        match smpp {
            Some((command, seq)) if command & SMPP_RESP == 0 => {
                let k = (src, dst, seq);
                if self.smpp.insert(k, owner).is_none() {
                    self.smpp_order.push_back(k);
                }
                while self.smpp_order.len() > MAX_PENDING_SMPP {
                    if let Some(old) = self.smpp_order.pop_front() {
                        self.smpp.remove(&old);
                    }
                }
            }
            Some(_) => {}
            None => {
                for token in sip_tokens(head) {
                    self.add(owner, token, |o| &mut o.learned);
                }
                if let Some(branch) = request_branch(head) {
                    self.add(owner, &branch, |o| &mut o.branches);
                }
            }
        }
        vec![owner]
    }
}

/// The payloads of a segment made of whole masked WebSocket data frames
/// (a client's: RFC 6455 §5.3 masks them, so a key is unreadable in the
/// bytes as sent), unmasked and joined; None for anything else (no RSV
/// bits, a data or continuation opcode, every frame masked and whole).
fn unmasked_ws(payload: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < payload.len() {
        let (frame, n) = crate::codec::ws::read_frame(&payload[at..], payload.len()).ok()??;
        let data = matches!(
            frame.opcode,
            crate::codec::ws::Opcode::Text
                | crate::codec::ws::Opcode::Binary
                | crate::codec::ws::Opcode::Continuation
        );
        if frame.mask.is_none() || frame.rsv != 0 || !data || n == 0 {
            return None;
        }
        out.extend_from_slice(&frame.payload);
        at += n;
    }
    (!out.is_empty()).then_some(out)
}

/// Whether `bytes` hold `key` as a whole: a key that starts (ends) with a
/// letter or digit is not taken where a letter or digit comes before
/// (after) it, so the number 1555012 is not found in 15550123, the
/// address 127.0.0.1:5562 not in 127.0.0.1:55620, and the token
/// `T3fa9` not in `T3fa90` (an identifier the SUT changed is not the
/// scenario's).
pub fn carries(bytes: &[u8], key: &[u8]) -> bool {
    let (Some(first), Some(last)) = (key.first(), key.last()) else {
        return false;
    };
    memchr::memmem::find_iter(bytes, key).any(|at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + key.len()).copied();
        !(first.is_ascii_alphanumeric() && before.is_some_and(|b| b.is_ascii_alphanumeric())
            || last.is_ascii_alphanumeric() && after.is_some_and(|b| b.is_ascii_alphanumeric()))
    })
}

/// HTTP requests awaiting responses on one connection, at most.
const MAX_PENDING_HTTP: usize = 64;
/// Connections with HTTP requests awaiting responses, at most.
const MAX_HTTP_CONNECTIONS: usize = 1024;

enum Http {
    Request,
    Response,
}

/// Whether `payload` starts an HTTP/1.x request or response (RFC 9112 §3, §4).
fn http_kind(payload: &[u8]) -> Option<Http> {
    if payload.starts_with(b"HTTP/1.") {
        return Some(Http::Response);
    }
    let line = payload.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next()?;
    let _target = parts.next()?;
    let version = parts.next()?;
    (!method.is_empty()
        && method.iter().all(u8::is_ascii_uppercase)
        && version.starts_with(b"HTTP/1."))
    .then_some(Http::Request)
}

/// (command_id, sequence_number) when `payload` is exactly one SMPP PDU
/// (its command_length is its length, SMPP 3.4 §3.2).
fn smpp_header(payload: &[u8]) -> Option<(u32, u32)> {
    if payload.len() < 16 {
        return None;
    }
    let word =
        |i: usize| u32::from_be_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]]);
    (word(0) as usize == payload.len()).then(|| (word(4), word(12)))
}

/// The branch of a SIP request's top Via (RFC 3261 §8.1.1.7), read by the
/// codec's Via reader, when it is long enough to be a key; `None` for a
/// response or anything else.
fn request_branch(head: &[u8]) -> Option<Vec<u8>> {
    let first = head.split(|&b| b == b'\n').next()?;
    if first.starts_with(b"SIP/2.0") || !first.trim_ascii_end().ends_with(b"SIP/2.0") {
        return None;
    }
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v")) {
            continue;
        }
        // The first value of the first Via line is the top one.
        let value = std::str::from_utf8(&line[colon + 1..]).ok()?;
        let top = crate::codec::sip::parse_via(value.split(',').next()?).ok()?;
        let branch = top.branch()?;
        return (branch.len() >= MIN_LEARNED_KEY).then(|| branch.as_bytes().to_vec());
    }
    None
}

/// What a SIP message lends its owner: its Call-ID and the session ids of
/// the MSRP URIs in an SDP `a=path` line (the last path segment, before
/// `;transport`).
fn sip_tokens(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let name = name.trim_ascii();
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            let v = value.trim_ascii();
            if v.len() >= MIN_LEARNED_KEY {
                out.push(v);
            }
        } else if name.eq_ignore_ascii_case(b"a=path") {
            for uri in value.split(|b| b.is_ascii_whitespace()) {
                let path = uri.split(|&b| b == b';').next().unwrap_or(uri);
                if let Some(id) = path.rsplit(|&b| b == b'/').next()
                    && id.len() >= MIN_LEARNED_KEY
                    && path.starts_with(b"msrp")
                {
                    out.push(id);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    fn pdu(command: u32, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(&command.to_be_bytes());
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn an_smpp_response_follows_its_request_and_a_bind_is_run_level() {
        let mut r = Router::default();
        let (one, two) = (r.owner(), r.owner());
        r.key(one, b"15551234567");
        r.key(two, b"15557654321");
        let (smsc, esme) = (a(2775), a(40000));
        // deliver_sm (harness to SUT) for each, then the responses in the other order.
        assert_eq!(
            r.classify(smsc, esme, &pdu(5, 7, b"+15551234567\0")),
            vec![one]
        );
        assert_eq!(
            r.classify(smsc, esme, &pdu(5, 8, b"+15557654321\0")),
            vec![two]
        );
        assert_eq!(
            r.classify(esme, smsc, &pdu(SMPP_RESP | 5, 8, b"x\0")),
            vec![two]
        );
        assert_eq!(
            r.classify(esme, smsc, &pdu(SMPP_RESP | 5, 7, b"x\0")),
            vec![one]
        );
        // A second response to one request has no owner left: run-level.
        assert_eq!(
            r.classify(esme, smsc, &pdu(SMPP_RESP | 5, 7, b"x\0")),
            Vec::<OwnerId>::new()
        );
        // The same sequence number the other way is another request's.
        assert_eq!(
            r.classify(esme, smsc, &pdu(9, 1, b"liaison\0secret\0")),
            Vec::<OwnerId>::new()
        );
        assert_eq!(r.unclaimed(), 2);
    }

    #[test]
    fn a_sip_call_and_its_msrp_session_follow_the_number() {
        let mut r = Router::default();
        let one = r.owner();
        r.key(one, b"15551234567");
        let invite = b"INVITE tel:+15551234567 SIP/2.0\r\nCall-ID: abc123xyz@h\r\nContent-Type: application/sdp\r\n\r\nv=0\r\na=path:msrp://127.0.0.1:5000/s3ss10n;tcp\r\n";
        assert_eq!(r.classify(a(1), a(2), invite), vec![one]);
        let ack = b"ACK sip:x@h SIP/2.0\r\ni: abc123xyz@h\r\n\r\n";
        assert_eq!(r.classify(a(1), a(2), ack), vec![one]);
        let send = b"MSRP t1 SEND\r\nTo-Path: msrp://127.0.0.1:5000/s3ss10n;tcp\r\n-------t1$\r\n";
        assert_eq!(r.classify(a(1), a(2), send), vec![one]);
        r.release(one);
        assert_eq!(r.classify(a(1), a(2), ack), Vec::<OwnerId>::new());
    }

    /// A WebSocket client's frames are masked (RFC 6455 §5.3): its 200 is
    /// found by the keys in the unmasked payload, a server's unmasked frame
    /// as it is; a SIP message that is not a frame is read as before.
    #[test]
    fn a_masked_websocket_frame_is_read_unmasked() {
        use crate::codec::ws::{encode_frame, Opcode};
        let mut r = Router::default();
        let one = r.owner();
        r.key(one, b"alice-7f3a");
        let ok = b"SIP/2.0 200 OK\r\nTo: <sip:bob@x.invalid>\r\nFrom: <sip:alice-7f3a@liaison.test>;tag=1\r\n\r\n";
        let masked = encode_frame(Opcode::Text, ok, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert!(!carries(&masked, b"alice-7f3a"));
        assert_eq!(r.classify(a(1), a(2), &masked), vec![one]);
        // Two frames in one segment, the second a continuation.
        let (first, rest) = ok.split_at(20);
        let mut two = crate::codec::ws::FrameSpec::new(Opcode::Text)
            .fin(false)
            .mask(Some([1, 2, 3, 4]))
            .encode(first);
        two.extend(encode_frame(Opcode::Continuation, rest, Some([5, 6, 7, 8])));
        assert_eq!(r.classify(a(1), a(2), &two), vec![one]);
        assert_eq!(
            r.classify(a(2), a(1), &encode_frame(Opcode::Text, ok, None)),
            vec![one]
        );
        // Cut short, a frame is not read: nobody's.
        assert_eq!(
            r.classify(a(1), a(2), &masked[..masked.len() - 3]),
            Vec::<OwnerId>::new()
        );
        assert_eq!(r.classify(a(1), a(2), ok), vec![one]);
    }

    /// Two scenarios' NOTIFYs in one subscription dialog: each with its 200
    /// goes to the scenario whose content it carries, not to the one that
    /// learned the dialog's Call-ID first.
    #[test]
    fn requests_in_a_shared_dialog_follow_their_content_and_branch() {
        let mut r = Router::default();
        let (one, two) = (r.owner(), r.owner());
        r.key(one, b"T0ne0001");
        r.key(two, b"Tw0o0002");
        let notify = |branch: &str, body: &str| {
            format!("NOTIFY sip:push@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\nCall-ID: sub0dialog@h\r\nCSeq: {}\r\n\r\n{body}", branch.len()).into_bytes()
        };
        let ok = |branch: &str| {
            format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport=5062\r\nCall-ID: sub0dialog@h\r\n\r\n").into_bytes()
        };
        assert_eq!(
            r.classify(a(1), a(2), &notify("z9hG4bKaaaa1", "T0ne0001")),
            vec![one]
        );
        assert_eq!(r.classify(a(2), a(1), &ok("z9hG4bKaaaa1")), vec![one]);
        assert_eq!(
            r.classify(a(1), a(2), &notify("z9hG4bKbbbb2", "Tw0o0002")),
            vec![two]
        );
        assert_eq!(r.classify(a(2), a(1), &ok("z9hG4bKbbbb2")), vec![two]);
        // Nothing of either but the dialog: the one that learned it.
        assert_eq!(r.classify(a(2), a(1), &ok("z9hG4bKcccc3")), vec![one]);
        assert_eq!(request_branch(&ok("z9hG4bKaaaa1")), None);
        // LWS around `;` and `=` is allowed (RFC 3261 §25.1 SEMI, EQUAL).
        assert_eq!(
            request_branch(b"NOTIFY sip:p@h SIP/2.0\r\nv: SIP / 2.0 / UDP h:5062 ; branch = z9hG4bKdddd4 , SIP/2.0/UDP x;branch=z9hG4bKeeee5\r\n\r\n"),
            Some(b"z9hG4bKdddd4".to_vec())
        );
    }

    #[test]
    fn own_keys_come_before_weak_ones_and_weak_ones_share() {
        let mut r = Router::default();
        let (one, two, three) = (r.owner(), r.owner(), r.owner());
        r.weak_key(one, b"bob@liaison.test");
        r.weak_key(two, b"bob@liaison.test");
        r.key(three, b"alice-1234abcd");
        let register = b"REGISTER sip:liaison.test SIP/2.0\r\nTo: <sip:bob@liaison.test>\r\nCall-ID: reg0001\r\n\r\n";
        assert_eq!(r.classify(a(1), a(2), register), vec![one, two]);
        let message = b"MESSAGE sip:bob@liaison.test SIP/2.0\r\nFrom: <sip:alice-1234abcd@liaison.test>\r\nCall-ID: msg0001\r\n\r\n";
        assert_eq!(r.classify(a(1), a(2), message), vec![three]);
        // A weak match teaches nothing: the next REGISTER is shared again.
        assert_eq!(r.classify(a(1), a(2), register), vec![one, two]);
        // What carries no key at all is nobody's.
        assert!(r
            .classify(a(1), a(2), b"OPTIONS sip:x SIP/2.0\r\n\r\n")
            .is_empty());
        assert_eq!(r.unclaimed(), 1);
    }

    #[test]
    fn a_key_is_found_whole_not_inside_a_longer_number() {
        assert!(carries(
            b"Via: SIP/2.0/UDP 127.0.0.1:5562;branch",
            b"127.0.0.1:5562"
        ));
        assert!(!carries(
            b"Via: SIP/2.0/UDP 127.0.0.1:55620;branch",
            b"127.0.0.1:5562"
        ));
        assert!(carries(
            b"x 127.0.0.1:55620 127.0.0.1:5562>",
            b"127.0.0.1:5562"
        ));
        assert!(!carries(b"tel:+215551234567", b"15551234567"));
        assert!(carries(b"tel:+15551234567;x", b"15551234567"));
        assert!(!carries(b"anything", b""));
        // Tokens likewise: a changed identifier is somebody else's.
        assert!(!carries(b"\x98T3fa90\0", b"T3fa9"));
        assert!(!carries(b"/mms/xT3fa9", b"T3fa9"));
        assert!(carries(b"/mms/T3fa9/rest", b"T3fa9"));
        assert!(carries(b"\x98T3fa9\0", b"T3fa9"));
    }

    #[test]
    fn an_http_response_follows_its_request_on_the_connection() {
        let mut r = Router::default();
        let (one, two) = (r.owner(), r.owner());
        r.key(one, b"erin-1234abcd");
        r.key(two, b"erin-9876fedc");
        let (sut, mmsc) = (a(40000), a(8080));
        let post =
            |k: &str| format!("POST /mms HTTP/1.1\r\nContent-Length: 3\r\n\r\n{k}").into_bytes();
        assert_eq!(r.classify(sut, mmsc, &post("erin-1234abcd")), vec![one]);
        assert_eq!(
            r.classify(sut, mmsc, b"GET /x HTTP/1.1\r\n\r\n"),
            Vec::<OwnerId>::new()
        );
        assert_eq!(r.classify(sut, mmsc, &post("erin-9876fedc")), vec![two]);
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(r.classify(mmsc, sut, ok), vec![one]);
        assert_eq!(r.classify(mmsc, sut, ok), Vec::<OwnerId>::new());
        assert_eq!(r.classify(mmsc, sut, ok), vec![two]);
        assert_eq!(r.classify(mmsc, sut, ok), Vec::<OwnerId>::new());
    }

    #[test]
    fn keys_are_bounded_and_short_tokens_are_not_learned() {
        let mut r = Router::default();
        let one = r.owner();
        for i in 0..(MAX_KEYS_PER_OWNER + 10) {
            r.key(one, format!("key{i:08}").as_bytes());
        }
        assert_eq!(r.owners[0].keys.len(), MAX_KEYS_PER_OWNER);
        // Requests never answered, on ever more connections.
        let post = b"POST / HTTP/1.1\r\n\r\n";
        for _ in 0..(MAX_PENDING_HTTP + 5) {
            r.classify(a(1), a(8080), post);
        }
        for port in 2..(MAX_HTTP_CONNECTIONS as u16 + 100) {
            r.classify(a(port), a(8080), post);
        }
        assert_eq!(r.http.len(), MAX_HTTP_CONNECTIONS);
        assert!(r.http.values().all(|q| q.len() <= MAX_PENDING_HTTP));
        assert!(sip_tokens(b"Call-ID: ab\r\n").is_empty());
    }
}
