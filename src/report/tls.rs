//! The TLS records of a captured TCP connection, decrypted with the secrets
//! the capture carries (pcapng Decryption Secrets Blocks holding NSS key log
//! lines, as `net::capture` writes them): what the report's ladder shows of
//! a TLS connection is its plaintext, read like any other stream.
//!
//! Sans-IO: bytes in per direction, events out. Only what the harness
//! offers is decrypted: TLS 1.3 (RFC 8446) with TLS_AES_128_GCM_SHA256,
//! TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256, and TLS 1.2
//! (RFC 5246) with the ECDHE AES-GCM (RFC 5289) and ChaCha20-Poly1305
//! (RFC 7905) suites; anything else is reported as not decrypted, with why.
//!
//! * TLS 1.3: each direction's traffic keys come from its traffic secret by
//!   HKDF-Expand-Label (RFC 8446 §7.1, §7.3): the handshake secret until the
//!   sender's Finished, then `*_TRAFFIC_SECRET_0`, updated on KeyUpdate
//!   (§7.2); the nonce is the IV XOR the record's sequence number (§5.3),
//!   the additional data the record header (§5.2), the content type the last
//!   non-zero byte of the plaintext (§5.4).
//! * TLS 1.2: the key block is PRF(master secret, "key expansion",
//!   server random + client random) (RFC 5246 §6.3, §5); records after a
//!   direction's ChangeCipherSpec are AEAD-protected with the additional
//!   data seq_num + type + version + length (§6.2.3.3); AES-GCM's nonce is
//!   the 4-byte salt and the record's 8-byte explicit part (RFC 5288 §3),
//!   ChaCha20-Poly1305's the IV XOR the sequence number (RFC 7905 §2).
//!
//! Nothing here panics on any input; every buffer is bounded.

use std::collections::HashMap;

use ring::aead;
use ring::hmac;

/// The largest record a peer may send: 2^14 plaintext plus 256 of AEAD
/// expansion (RFC 8446 §5.2; TLS 1.2 allows 2048, RFC 5246 §6.2.3).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// The most handshake bytes kept while waiting for a message to complete
/// (a certificate chain far larger than any a harness or SUT sends; past
/// it the direction's handshake is no longer followed).
const MAX_HANDSHAKE: usize = 1 << 16;

/// Record content types (RFC 8446 §5.1).
const CCS: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// SHA-256 of "HelloRetryRequest": the random of a ServerHello that is one
/// (RFC 8446 §4.1.3).
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The secrets of a capture: NSS key log lines, by client random.
#[derive(Default, Debug, Clone)]
pub struct Secrets {
    by_random: HashMap<[u8; 32], Vec<(String, Vec<u8>)>>,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Secrets {
    /// Adds the lines of a key log (what a Decryption Secrets Block holds);
    /// lines that are not `LABEL <32-byte hex> <hex>` are skipped.
    pub fn add_key_log(&mut self, text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let mut f = line.split_whitespace();
            let (Some(label), Some(cr), Some(secret)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let (Some(cr), Some(secret)) = (unhex(cr), unhex(secret)) else {
                continue;
            };
            let Ok(cr) = <[u8; 32]>::try_from(cr) else {
                continue;
            };
            let e = self.by_random.entry(cr).or_default();
            if e.len() < 16 && !e.iter().any(|(l, _)| l == label) {
                e.push((label.to_string(), secret));
            }
        }
    }

    fn get(&self, cr: &[u8; 32], label: &str) -> Option<&[u8]> {
        self.by_random
            .get(cr)?
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, s)| &s[..])
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }
}

/// What a connection's records gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Application data, decrypted.
    Plain(Vec<u8>),
    /// An alert (level, description), decrypted or in the clear.
    Alert(u8, u8),
    /// The handshake settled what the connection uses.
    Negotiated { version: u16, suite: u16 },
    /// Records that could not be decrypted (how many bytes, why); reported
    /// once per direction, the rest of that direction is counted only.
    NotDecrypted(usize, String),
    /// The bytes are not TLS records (from here on nothing more is read).
    NotTls(String),
}

/// A hash of the suites handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// (AEAD, hash, key length, TLS 1.2 fixed IV length) of a suite handled.
fn suite(code: u16) -> Option<(&'static aead::Algorithm, Hash, usize, usize)> {
    Some(match code {
        0x1301 => (&aead::AES_128_GCM, Hash::Sha256, 16, 0),
        0x1302 => (&aead::AES_256_GCM, Hash::Sha384, 32, 0),
        0x1303 => (&aead::CHACHA20_POLY1305, Hash::Sha256, 32, 0),
        0xC02B | 0xC02F => (&aead::AES_128_GCM, Hash::Sha256, 16, 4),
        0xC02C | 0xC030 => (&aead::AES_256_GCM, Hash::Sha384, 32, 4),
        0xCCA8 | 0xCCA9 => (&aead::CHACHA20_POLY1305, Hash::Sha256, 32, 12),
        _ => return None,
    })
}

/// HKDF-Expand (RFC 5869 §2.3) over HMAC, `prk` the pseudorandom key.
fn hkdf_expand(hash: Hash, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), prk);
    let mut out = Vec::with_capacity(len + hash.len());
    let mut t: Vec<u8> = Vec::new();
    let mut i = 1u8;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&t);
        ctx.update(info);
        ctx.update(&[i]);
        t = ctx.sign().as_ref().to_vec();
        out.extend_from_slice(&t);
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(hash: Hash, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    hkdf_expand(hash, secret, &info, len)
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed).
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + hash.len());
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// One direction's record protection.
struct Keys {
    key: aead::LessSafeKey,
    iv: Vec<u8>,
    seq: u64,
    /// TLS 1.3: the traffic secret (for KeyUpdate).
    secret: Vec<u8>,
}

impl Keys {
    fn new(
        alg: &'static aead::Algorithm,
        key: &[u8],
        iv: Vec<u8>,
        secret: Vec<u8>,
    ) -> Option<Keys> {
        Some(Keys {
            key: aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).ok()?),
            iv,
            seq: 0,
            secret,
        })
    }

    /// The 12-byte nonce: the IV XOR the sequence number (RFC 8446 §5.3).
    fn xor_nonce(&self) -> Option<aead::Nonce> {
        let mut n: [u8; 12] = self.iv.get(..12)?.try_into().ok()?;
        for (i, b) in self.seq.to_be_bytes().iter().enumerate() {
            n[4 + i] ^= b;
        }
        Some(aead::Nonce::assume_unique_for_key(n))
    }
}

/// A TLS 1.3 direction's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not protected yet (TLS 1.3 before the ServerHello, TLS 1.2 before
    /// this direction's ChangeCipherSpec).
    Clear,
    Handshake,
    Application,
}

#[derive(Default)]
struct Dir {
    buf: Vec<u8>,
    /// Handshake messages (decrypted or clear) not yet complete.
    hs: Vec<u8>,
    keys: Option<Keys>,
    phase: Option<Phase>,
    /// Records not decrypted: reported once.
    failed: bool,
    /// Not TLS: nothing more is read.
    dead: bool,
}

/// One TLS connection's two directions.
pub struct Connection {
    dirs: [Dir; 2],
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    /// Negotiated version (0x0304, 0x0303) and suite.
    version: Option<u16>,
    suite: Option<u16>,
}

/// Is this the start of a TLS connection: a record of a known content
/// type (a handshake, or, when the capture began after the handshake, any
/// other), version 3.x, of a length a record may have?
pub fn starts_tls(first: &[u8]) -> bool {
    match first {
        [HANDSHAKE, 3, minor, ..] => *minor <= 4,
        [ty, 3, minor, hi, lo, ..] => {
            (CCS..=APPLICATION_DATA).contains(ty)
                && *minor <= 4
                && (u16::from_be_bytes([*hi, *lo]) as usize) <= MAX_RECORD
        }
        _ => false,
    }
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

impl Connection {
    pub fn new() -> Connection {
        Connection {
            dirs: [Dir::default(), Dir::default()],
            client_random: None,
            server_random: None,
            version: None,
            suite: None,
        }
    }

    /// Bytes held (records and handshake messages not yet complete).
    pub fn held(&self) -> usize {
        self.dirs.iter().map(|d| d.buf.len() + d.hs.len()).sum()
    }

    /// Bytes of one direction (`from_client`: the side that sent the
    /// ClientHello) in the order they crossed; the events they complete.
    pub fn feed(&mut self, from_client: bool, bytes: &[u8], secrets: &Secrets) -> Vec<Event> {
        let d = usize::from(!from_client);
        let mut out = Vec::new();
        if self.dirs[d].dead {
            return out;
        }
        self.dirs[d].buf.extend_from_slice(bytes);
        loop {
            let buf = &self.dirs[d].buf;
            if buf.len() < 5 {
                break;
            }
            let (ty, major, len) = (
                buf[0],
                buf[1],
                u16::from_be_bytes([buf[3], buf[4]]) as usize,
            );
            if !(CCS..=APPLICATION_DATA).contains(&ty) || major != 3 || len > MAX_RECORD {
                let why = format!(
                    "bytes that are not a TLS record (type {ty}, version {major}.{}, length {len})",
                    buf[2]
                );
                self.dirs[d].dead = true;
                self.dirs[d].buf = Vec::new();
                out.push(Event::NotTls(why));
                break;
            }
            if buf.len() < 5 + len {
                break;
            }
            let record: Vec<u8> = self.dirs[d].buf.drain(..5 + len).collect();
            self.record(d, &record, secrets, &mut out);
        }
        out
    }

    fn not_decrypted(&mut self, d: usize, n: usize, why: String, out: &mut Vec<Event>) {
        if !self.dirs[d].failed {
            self.dirs[d].failed = true;
            out.push(Event::NotDecrypted(n, why));
        }
    }

    fn record(&mut self, d: usize, record: &[u8], secrets: &Secrets, out: &mut Vec<Event>) {
        let ty = record[0];
        let body = &record[5..];
        let tls13 = self.version == Some(0x0304);
        let phase = self.dirs[d].phase.unwrap_or(Phase::Clear);
        if self.dirs[d].failed {
            return;
        }
        match (ty, phase) {
            (CCS, _) if tls13 => {} // middlebox compatibility (RFC 8446 §D.4)
            (CCS, Phase::Clear) => {
                // TLS 1.2: this direction is protected from the next record on.
                match self.tls12_keys(d, secrets) {
                    Ok(k) => {
                        self.dirs[d].keys = Some(k);
                        self.dirs[d].phase = Some(Phase::Application);
                    }
                    Err(why) => self.not_decrypted(d, body.len(), why, out),
                }
            }
            (HANDSHAKE, Phase::Clear) => self.handshake(d, body, secrets, out),
            (ALERT, Phase::Clear) if body.len() >= 2 => out.push(Event::Alert(body[0], body[1])),
            (_, Phase::Clear) if ty == APPLICATION_DATA && !tls13 => {
                let why = if self.suite.is_none() {
                    "the connection's handshake is not in this capture (it began before it)"
                } else {
                    "application data before the handshake protected it"
                };
                self.not_decrypted(d, body.len(), why.into(), out)
            }
            (_, Phase::Clear) => {}
            _ => self.protected(d, record, secrets, out),
        }
    }

    /// A protected record: decrypted, then handled by its content type.
    fn protected(&mut self, d: usize, record: &[u8], secrets: &Secrets, out: &mut Vec<Event>) {
        let tls13 = self.version == Some(0x0304);
        let plain = match self.open(d, record) {
            Some(p) => p,
            None => {
                let why = if self.dirs[d].keys.is_none() {
                    "no secret for this connection in the capture".to_string()
                } else {
                    "a record did not decrypt with the capture's secrets".to_string()
                };
                return self.not_decrypted(d, record.len() - 5, why, out);
            }
        };
        let (ty, content) = if tls13 {
            // TLSInnerPlaintext: content, the type, zero padding (§5.2, §5.4).
            let Some(at) = plain.iter().rposition(|&b| b != 0) else {
                return;
            };
            (plain[at], plain[..at].to_vec())
        } else {
            (record[0], plain)
        };
        match ty {
            APPLICATION_DATA => out.push(Event::Plain(content)),
            ALERT if content.len() >= 2 => out.push(Event::Alert(content[0], content[1])),
            HANDSHAKE => self.handshake(d, &content, secrets, out),
            _ => {}
        }
    }

    /// Decrypts a record with the direction's keys; None when it does not
    /// authenticate (or there are no keys).
    fn open(&mut self, d: usize, record: &[u8]) -> Option<Vec<u8>> {
        let tls13 = self.version == Some(0x0304);
        let fixed_iv = self.suite.and_then(suite).map_or(0, |s| s.3);
        let keys = self.dirs[d].keys.as_mut()?;
        let body = &record[5..];
        let tag = 16;
        let (nonce, aad, mut data) = if tls13 {
            (keys.xor_nonce()?, record[..5].to_vec(), body.to_vec())
        } else {
            let (nonce, data) = if fixed_iv == 4 {
                // AES-GCM: salt + the record's explicit nonce (RFC 5288 §3).
                let explicit = body.get(..8)?;
                let mut n = [0u8; 12];
                n[..4].copy_from_slice(keys.iv.get(..4)?);
                n[4..].copy_from_slice(explicit);
                (aead::Nonce::assume_unique_for_key(n), body[8..].to_vec())
            } else {
                (keys.xor_nonce()?, body.to_vec())
            };
            let plain_len = data.len().checked_sub(tag)?;
            let mut aad = keys.seq.to_be_bytes().to_vec();
            aad.extend_from_slice(&record[..3]);
            aad.extend_from_slice(&(plain_len as u16).to_be_bytes());
            (nonce, aad, data)
        };
        let plain = keys
            .key
            .open_in_place(nonce, aead::Aad::from(&aad[..]), &mut data)
            .ok()?
            .to_vec();
        keys.seq = keys.seq.wrapping_add(1);
        Some(plain)
    }

    /// Handshake messages of a direction, clear or decrypted: the randoms,
    /// the ServerHello's choices, the Finished that ends a TLS 1.3
    /// direction's handshake phase, KeyUpdate.
    fn handshake(&mut self, d: usize, bytes: &[u8], secrets: &Secrets, out: &mut Vec<Event>) {
        if self.dirs[d].hs.len() + bytes.len() > MAX_HANDSHAKE {
            self.dirs[d].hs.clear();
            return;
        }
        self.dirs[d].hs.extend_from_slice(bytes);
        loop {
            let hs = &self.dirs[d].hs;
            if hs.len() < 4 {
                return;
            }
            let len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
            if hs.len() < 4 + len {
                return;
            }
            let msg: Vec<u8> = self.dirs[d].hs.drain(..4 + len).collect();
            let (ty, body) = (msg[0], &msg[4..]);
            match ty {
                1 if d == 0 => {
                    self.client_random = body.get(2..34).and_then(|r| r.try_into().ok());
                }
                2 if d == 1 => self.server_hello(body, secrets, out),
                // Finished: the sender's handshake phase ends (TLS 1.3).
                20 if self.version == Some(0x0304) => {
                    self.dirs[d].phase = Some(Phase::Application);
                    let label = if d == 0 {
                        "CLIENT_TRAFFIC_SECRET_0"
                    } else {
                        "SERVER_TRAFFIC_SECRET_0"
                    };
                    self.dirs[d].keys = self.tls13_keys(label, secrets);
                }
                // KeyUpdate (RFC 8446 §4.6.3, §7.2).
                24 if self.version == Some(0x0304) => {
                    if let (Some(k), Some((alg, hash, klen, _))) =
                        (self.dirs[d].keys.as_ref(), self.suite.and_then(suite))
                    {
                        let next = expand_label(hash, &k.secret, "traffic upd", hash.len());
                        let key = expand_label(hash, &next, "key", klen);
                        let iv = expand_label(hash, &next, "iv", 12);
                        self.dirs[d].keys = Keys::new(alg, &key, iv, next);
                    }
                }
                _ => {}
            }
        }
    }

    fn server_hello(&mut self, body: &[u8], secrets: &Secrets, out: &mut Vec<Event>) {
        let Some(random) = body.get(2..34).and_then(|r| <[u8; 32]>::try_from(r).ok()) else {
            return;
        };
        let legacy = body.get(..2).map(|v| u16::from_be_bytes([v[0], v[1]]));
        let Some(&sid_len) = body.get(34) else {
            return;
        };
        let at = 35 + sid_len as usize;
        let Some(cs) = body.get(at..at + 2) else {
            return;
        };
        let suite_code = u16::from_be_bytes([cs[0], cs[1]]);
        // Extensions: supported_versions (43) names TLS 1.3 (RFC 8446 §4.2.1).
        let mut version = legacy.unwrap_or(0);
        let mut ext = body.get(at + 5..).unwrap_or_default();
        while ext.len() >= 4 {
            let ty = u16::from_be_bytes([ext[0], ext[1]]);
            let len = u16::from_be_bytes([ext[2], ext[3]]) as usize;
            let Some(data) = ext.get(4..4 + len) else {
                break;
            };
            if ty == 43 && data.len() == 2 {
                version = u16::from_be_bytes([data[0], data[1]]);
            }
            ext = &ext[4 + len..];
        }
        self.version = Some(version);
        if random == HRR_RANDOM {
            // A HelloRetryRequest (TLS 1.3 only): the ServerHello is still
            // to come; the client's compatibility ChangeCipherSpec, which
            // may come before it, is not TLS 1.2's.
            return;
        }
        self.server_random = Some(random);
        self.suite = Some(suite_code);
        out.push(Event::Negotiated {
            version,
            suite: suite_code,
        });
        if version == 0x0304 {
            // Both directions are protected by the handshake secrets now.
            let keys = [
                self.tls13_keys("CLIENT_HANDSHAKE_TRAFFIC_SECRET", secrets),
                self.tls13_keys("SERVER_HANDSHAKE_TRAFFIC_SECRET", secrets),
            ];
            for (dir, k) in self.dirs.iter_mut().zip(keys) {
                dir.keys = k;
                dir.phase = Some(Phase::Handshake);
                dir.hs.clear();
            }
        }
    }

    fn tls13_keys(&self, label: &str, secrets: &Secrets) -> Option<Keys> {
        let (alg, hash, klen, _) = suite(self.suite?)?;
        let secret = secrets.get(self.client_random.as_ref()?, label)?;
        let key = expand_label(hash, secret, "key", klen);
        let iv = expand_label(hash, secret, "iv", 12);
        Keys::new(alg, &key, iv, secret.to_vec())
    }

    fn tls12_keys(&self, d: usize, secrets: &Secrets) -> Result<Keys, String> {
        let code = self.suite.ok_or("no ServerHello before ChangeCipherSpec")?;
        let (alg, hash, klen, ivlen) = suite(code).ok_or(format!(
            "cipher suite 0x{code:04x} is not one the report decrypts"
        ))?;
        let (Some(cr), Some(sr)) = (self.client_random, self.server_random) else {
            return Err("no ClientHello and ServerHello in the capture".into());
        };
        let master = secrets
            .get(&cr, "CLIENT_RANDOM")
            .ok_or("no secret for this connection in the capture")?;
        let mut seed = sr.to_vec();
        seed.extend_from_slice(&cr);
        let block = prf(hash, master, b"key expansion", &seed, 2 * klen + 2 * ivlen);
        let (ck, rest) = block.split_at(klen);
        let (sk, rest) = rest.split_at(klen);
        let (civ, siv) = rest.split_at(ivlen);
        let (key, iv) = if d == 0 { (ck, civ) } else { (sk, siv) };
        Keys::new(alg, key, iv.to_vec(), Vec::new()).ok_or_else(|| "bad key length".into())
    }
}

/// The IANA name of a cipher suite, as `net::tls` names the negotiated one
/// ([`crate::codec::tls_suite_name`]).
pub fn suite_name(code: u16) -> String {
    crate::codec::tls_suite_name(code)
}

/// An alert's description (RFC 8446 §6), for a ladder's label.
pub fn alert_name(desc: u8) -> String {
    let n = match desc {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("alert {desc}"),
    };
    n.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 §3 (a simple 1-RTT handshake): the server's handshake
    /// traffic secret expands to the key and IV the trace lists.
    #[test]
    fn expand_label_matches_rfc_8448() {
        let secret =
            unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38").unwrap();
        assert_eq!(
            expand_label(Hash::Sha256, &secret, "key", 16),
            unhex("3fce516009c21727d0f2e4e86ee403bc").unwrap()
        );
        assert_eq!(
            expand_label(Hash::Sha256, &secret, "iv", 12),
            unhex("5d313eb2671276ee13000b30").unwrap()
        );
    }

    #[test]
    fn garbage_is_not_tls_and_nothing_panics() {
        let s = Secrets::default();
        let mut c = Connection::new();
        let ev = c.feed(true, b"OPTIONS sip:x SIP/2.0\r\n\r\n", &s);
        assert!(matches!(ev[..], [Event::NotTls(_)]), "{ev:?}");
        assert!(c.feed(true, b"more", &s).is_empty());
        // Arbitrary bytes after a valid-looking start.
        let mut seed = 7u32;
        for _ in 0..200 {
            let mut c = Connection::new();
            let mut bytes = vec![HANDSHAKE, 3, 3, 0, 40];
            for _ in 0..300 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bytes.push((seed >> 16) as u8);
            }
            for chunk in bytes.chunks(7) {
                let _ = c.feed(seed.is_multiple_of(2), chunk, &s);
            }
        }
    }

    #[test]
    fn a_connection_seen_from_its_middle_says_so() {
        assert!(starts_tls(&[APPLICATION_DATA, 3, 3, 0, 40]));
        assert!(!starts_tls(&[APPLICATION_DATA, 3, 3, 0xff, 0xff]));
        assert!(!starts_tls(b"INVITE sip:x SIP/2.0"));
        let mut c = Connection::new();
        let mut rec = vec![APPLICATION_DATA, 3, 3, 0, 30];
        rec.extend([7u8; 30]);
        let ev = c.feed(true, &rec, &Secrets::default());
        assert!(
            matches!(&ev[..], [Event::NotDecrypted(30, why)] if why.contains("not in this capture")),
            "{ev:?}"
        );
    }

    #[test]
    fn key_log_lines_are_read_and_bad_ones_skipped() {
        let mut s = Secrets::default();
        let cr = "11".repeat(32);
        s.add_key_log(
            format!(
                "CLIENT_RANDOM {cr} {}\nbad line\nX zz 00\n",
                "22".repeat(48)
            )
            .as_bytes(),
        );
        assert_eq!(s.get(&[0x11; 32], "CLIENT_RANDOM"), Some(&[0x22u8; 48][..]));
        assert!(s.get(&[0x11; 32], "OTHER").is_none());
    }
}
