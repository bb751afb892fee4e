//! Large Message mode (DR-12) against small im-client SUTs written here, apart
//! from the reference: each answers the harness's INVITE with an MSRP path and
//! takes the chunks, reporting success in its own way. A conformant one that
//! reports per chunk must pass; the variants that break RFC 4975 §7.1.2 must
//! fail DR-12, naming what they did.
//!
//! The SUT runs on std threads in this process (UDP for SIP, TCP for MSRP, on
//! 127.0.0.1 port 0) and the suite is the `liaison` binary with a profile
//! pointing at it. It uses the crate's codecs to read and write messages.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use crate::common::*;
use liaison::codec::msrp::{self, MsrpMessage};
use liaison::codec::sip::{response_to, SipMessage};

/// How the SUT sends its success REPORTs (Success-Report: yes).
#[derive(Clone, Copy)]
enum Reports {
    /// One REPORT per chunk, each after that chunk's 200 (conformant).
    PerChunkAfter200,
    /// Per chunk, the first one before its chunk's 200.
    PerChunkFirstEarly,
    /// Per chunk, after the 200, each carrying Success-Report and Failure-Report.
    PerChunkWithReportFields,
}

struct FakeClient {
    sip: SocketAddr,
}

fn serve_msrp(mut s: TcpStream, own_url: String, mode: Reports) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut sent_reports = 0;
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(len)) = msrp::next_frame(&buf, 1 << 20) {
            let raw: Vec<u8> = buf.drain(..len.clamp(1, buf.len())).collect();
            let Ok(m) = MsrpMessage::parse(&raw) else {
                return;
            };
            if m.method() != Some("SEND") {
                continue;
            }
            let ok = msrp::response_to(&m, 200, "OK", &own_url);
            let wants = m.success_report().as_deref() == Some("yes");
            let range = m.byte_range().and_then(|r| r.ok());
            let report = range.filter(|_| wants).map(|r| {
                let bytes = msrp::report_for(&m, &own_url, &msrp::new_tid(), r, 200, "OK");
                match mode {
                    Reports::PerChunkWithReportFields => {
                        let i = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                        [
                            &bytes[..i],
                            b"Success-Report: yes\r\nFailure-Report: yes\r\n",
                            &bytes[i..],
                        ]
                        .concat()
                    }
                    _ => bytes,
                }
            });
            let early = matches!(mode, Reports::PerChunkFirstEarly) && sent_reports == 0;
            let mut out = Vec::new();
            if report.is_some() {
                sent_reports += 1;
            }
            match report {
                Some(r) if early => {
                    out.extend_from_slice(&r);
                    out.extend_from_slice(&ok);
                }
                Some(r) => {
                    out.extend_from_slice(&ok);
                    out.extend_from_slice(&r);
                }
                None => out.extend_from_slice(&ok),
            }
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }
}

impl FakeClient {
    fn start(mode: Reports) -> FakeClient {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sip = udp.local_addr().unwrap();
        let msrp_l = TcpListener::bind("127.0.0.1:0").unwrap();
        let maddr = msrp_l.local_addr().unwrap();
        let url = liaison::codec::sdp::msrp_url(maddr, "fakeclient1");
        let own = url.clone();
        std::thread::spawn(move || {
            for s in msrp_l.incoming().flatten() {
                let own = own.clone();
                std::thread::spawn(move || serve_msrp(s, own, mode));
            }
        });
        std::thread::spawn(move || {
            let mut b = vec![0u8; 65536];
            while let Ok((n, from)) = udp.recv_from(&mut b) {
                let Ok(req) = SipMessage::parse(&b[..n]) else {
                    continue;
                };
                let out = match req.method() {
                    Some("INVITE") => {
                        let sdp = liaison::codec::sdp::msrp_session(
                            maddr.ip(),
                            maddr.port(),
                            &url,
                            &["text/plain"],
                            Some("passive"),
                        );
                        response_to(&req, 200, "OK")
                            .to_tag("fake1")
                            .header("Contact", &format!("<sip:bob@{sip}>"))
                            .header("Content-Type", "application/sdp")
                            .body(&sdp)
                            .build()
                    }
                    Some("ACK") | None => continue,
                    Some(_) => response_to(&req, 200, "OK").to_tag("fake1").build(),
                };
                let _ = udp.send_to(&out, from);
            }
        });
        FakeClient { sip }
    }

    /// Runs `liaison run` with DR-12 against this client; returns the exit
    /// code, DR-12's verdict and the failure texts (with the run's output).
    fn run_dr12(&self, tag: &str) -> (Option<i32>, String, String) {
        let (code, r, why) = self.run(tag, "@DR-12", "{ msrp: true }");
        (code, verdict(&r, "DR-12"), why)
    }

    /// Runs `liaison run --tags TAGS` against this client with these
    /// capabilities; returns the exit code, the report and the failure texts.
    fn run(
        &self,
        tag: &str,
        tags: &str,
        capabilities: &str,
    ) -> (Option<i32>, serde_json::Value, String) {
        let dir = tmpdir(tag);
        let profile = dir.join("profile.yaml");
        std::fs::write(
            &profile,
            format!(
                "name: fake IM client\nroles: [im-client]\nsip:\n  address: {0}\n  aor: \"sip:bob@{0}\"\ntimers: {{ t1_ms: 20, scenario_timeout_s: 5 }}\ncapabilities: {capabilities}\n",
                self.sip
            ),
        )
        .unwrap();
        let out = dir.join("out");
        let o = liaison(&[
            "run",
            "--quiet",
            "--sut",
            profile.to_str().unwrap(),
            "--tags",
            tags,
            "--out",
            out.to_str().unwrap(),
        ]);
        let r = report(&out);
        let failure = r["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["failure"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
            .join("\n");
        let why = failure + &text(&o);
        (o.status.code(), r, why)
    }
}

#[test]
fn per_chunk_success_reports_after_each_200_pass_dr12() {
    let sut = FakeClient::start(Reports::PerChunkAfter200);
    let (code, v, why) = sut.run_dr12("msrp-per-chunk");
    assert_eq!(v, "passed", "{why}");
    assert_eq!(code, Some(0), "{why}");
}

#[test]
fn a_per_chunk_report_before_its_200_fails_dr12() {
    let sut = FakeClient::start(Reports::PerChunkFirstEarly);
    let (code, v, why) = sut.run_dr12("msrp-per-chunk-early");
    assert_eq!(v, "failed", "{why}");
    assert_eq!(code, Some(1), "{why}");
    assert!(
        why.contains("only after the 200 to the chunk 1-1024/3000")
            && why.contains("Byte-Range: 1-1024/3000"),
        "{why}"
    );
}

#[test]
fn success_reports_carrying_report_fields_fail_dr12() {
    let sut = FakeClient::start(Reports::PerChunkWithReportFields);
    let (code, v, why) = sut.run_dr12("msrp-report-fields");
    assert_eq!(v, "failed", "{why}");
    assert_eq!(code, Some(1), "{why}");
    assert!(
        why.contains("without Success-Report and Failure-Report")
            && why.contains("Success-Report: yes\\r\\nFailure-Report: yes"),
        "{why}"
    );
}

/// Item 5 of issue 12: a client that declares `*/*` takes every type, so
/// the 415 of DR-3 is not due (RFC 3261 §8.2.3): DR-3 is not applicable, with
/// the reason in the report, and the run passes. (This client answers 200 to
/// every MESSAGE, whatever its type.)
#[test]
fn a_client_taking_every_type_makes_dr3_not_applicable() {
    let sut = FakeClient::start(Reports::PerChunkAfter200);
    let (code, r, why) = sut.run(
        "accepts-any",
        "@DR-1 or @DR-3",
        "{ accept_types: [\"*/*\"] }",
    );
    assert_eq!(code, Some(0), "{why}");
    assert_eq!(verdict(&r, "DR-1"), "passed", "{why}");
    let dr3 = r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "DR-3")
        .unwrap();
    assert_eq!(dr3["verdict"], "not-run", "{dr3}");
    assert_eq!(dr3["applicable"], false, "{dr3}");
    let note = dr3["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("not applicable: the SUT declares accept_types [*/*]")
            && note.contains("RFC 3261 §8.2.3"),
        "{note}"
    );
}
