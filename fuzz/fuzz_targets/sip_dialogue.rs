//! SIP dialogue (structure-aware): arbitrary datagrams, one after another,
//! through the harness's sans-IO SIP logic, the way the endpoint hands them
//! to the roles. The input is cut at NUL bytes into datagrams; datagram `i`
//! comes from 127.0.0.1:(5070 + i % 4) over UDP (TCP when `i % 3 == 2`),
//! and the clock moves 7 s per datagram, so registrations expire mid-run.
//!
//! - A request goes to the IMS core's state machine (`cscf::Core::handle`:
//!   Max-Forwards, loose routing, registrar, P-CSCF Path, targets, asserted
//!   identity, the rebuilt request) and to the harness UA's answer policy
//!   (`ua::respond`, its final responses kept with `ua::remember`).
//! - A response goes through the core's relay (`cscf::relay`), the client
//!   transaction's judgment of a second final (`transaction::conflicts`)
//!   and the ACK for a non-2xx final (`transaction::ack_for_non_2xx`)
//!   against the first INVITE seen.
//! - A message with a defect (`SipMessage::defect`) goes nowhere, as at the
//!   endpoint; unparseable bytes go to the core, which drops them.
//!
//! Properties besides "no panic, no hang": the core's answers are SIP
//! responses with the status it says, to the request (its Call-ID and top
//! Via branch); what it forwards carries its own Via on top with the branch
//! it relays by; the registrar never keeps more than `MAX_AORS` AoRs nor
//! more than `MAX_CONTACTS_PER_AOR` contacts for one; the UA keeps at most
//! `MAX_ANSWERED` answers; a relayed response is a response with one Via
//! fewer; `conflicts` is false for a response against itself.

#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liaison::codec::sip::SipMessage;
use liaison::net::{Incoming, Transport};
use liaison::roles::cscf::{self, Core, Plan, MAX_AORS, MAX_CONTACTS_PER_AOR};
use liaison::roles::transaction::{ack_for_non_2xx, conflicts};
use liaison::roles::ua::{self, Answer, MAX_ANSWERED};
use libfuzzer_sys::fuzz_target;

const ME: &str = "127.0.0.1:5060";

fn core() -> Core {
    let mut c = Core::new(60);
    let sut: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    c.trust(sut);
    c.route("sut.test", sut);
    c.route("127.0.0.1:5071", "127.0.0.1:5071".parse().unwrap());
    c.registrar("ims.test", "127.0.0.1:5072".parse().unwrap());
    c.know(
        "sip:alice@harness.test",
        &[
            "<sip:alice@127.0.0.1:5090>".into(),
            "<sip:alice@127.0.0.1:5090;transport=tcp>".into(),
        ],
    );
    c
}

fn check_plan(plan: &Plan, req: &SipMessage, me: SocketAddr) {
    match plan {
        Plan::Answer { code, bytes } => {
            let r = SipMessage::parse(bytes).expect("the core's answer parses");
            assert_eq!(r.status(), Some(*code));
            assert_eq!(r.call_id(), req.call_id());
            assert_eq!(r.top_via_branch(), req.top_via_branch());
        }
        Plan::Forward { bytes, relay, .. } => {
            // The request is rebuilt from the incoming header fields; what
            // the sender wrote may not survive a parse (its own defects),
            // but when it does, the core's Via is on top.
            if let Ok(f) = SipMessage::parse(bytes) {
                let top = f.vias().into_iter().next().unwrap_or_default();
                assert!(top.contains(&me.to_string()), "top Via {top:?}");
                if let Some(b) = relay {
                    assert_eq!(f.top_via_branch().as_deref(), Some(b.as_str()));
                }
            }
        }
        Plan::Drop(why) => assert!(!why.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let me: SocketAddr = ME.parse().unwrap();
    let mut core = core();
    let mut answered: HashMap<String, (Vec<u8>, u16, Instant)> = HashMap::new();
    let policies = [
        None,
        Some(Answer::Silent),
        Some(Answer::Respond {
            code: 415,
            delay: Duration::ZERO,
        }),
    ];
    let mut invite: Option<SipMessage> = None;
    let mut first_final: Option<SipMessage> = None;
    let t0 = Instant::now();
    for (i, dgram) in data.split(|&b| b == 0).enumerate() {
        let from = SocketAddr::new([127, 0, 0, 1].into(), 5070 + (i % 4) as u16);
        let transport = if i % 3 == 2 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let now = t0 + Duration::from_secs(7 * i as u64);
        let inc = Incoming {
            bytes: dgram.to_vec(),
            msg: SipMessage::parse(dgram),
            from,
            transport,
            at: now,
            note: None,
        };
        match &inc.msg {
            // The endpoint hands a message with a defect to no role.
            Ok(m) if m.defect().is_some() => {}
            Ok(m) if m.is_request() => {
                let (_, plan) = core.handle(me, &inc, now);
                check_plan(&plan, m, me);
                let policy = policies[i % policies.len()].as_ref();
                if let Some((code, _, bytes)) = ua::respond(policy, m, from) {
                    let r = SipMessage::parse(&bytes).expect("the UA's answer parses");
                    assert_eq!(r.status(), Some(code));
                    let key = format!("{i}|{}", m.top_via_branch().unwrap_or_default());
                    ua::remember(&mut answered, key, (bytes, code, now));
                }
                if invite.is_none() && m.method() == Some("INVITE") {
                    invite = Some(m.clone());
                }
            }
            Ok(m) => {
                if let Ok((_, _, bytes)) = cscf::relay(m) {
                    let r = SipMessage::parse(&bytes);
                    if let Ok(r) = r {
                        assert!(!r.is_request());
                        assert!(r.vias().len() < m.vias().len().max(1));
                    }
                }
                assert!(!conflicts(m, m));
                if m.status().is_some_and(|s| s >= 200) {
                    match &first_final {
                        Some(f) => {
                            let _ = conflicts(f, m);
                        }
                        None => first_final = Some(m.clone()),
                    }
                }
                if let Some(inv) = &invite {
                    if let Some(ack) = ack_for_non_2xx(inv, m) {
                        let a = SipMessage::parse(&ack).expect("the ACK parses");
                        assert_eq!(a.method(), Some("ACK"));
                    }
                }
            }
            Err(_) => {
                let (_, plan) = core.handle(me, &inc, now);
                assert!(matches!(plan, Plan::Drop(_)));
            }
        }
        let (aors, bindings) = core.size();
        assert!(aors <= MAX_AORS && bindings <= MAX_AORS * MAX_CONTACTS_PER_AOR);
        assert!(answered.len() <= MAX_ANSWERED);
    }
});
