//! IPv6 (issue 15 item 5): the embedded reference and its harness on `::1`
//! (`liaison run --address ::1`), every scenario of every role; reference
//! roles launched as their own processes from profiles whose every address
//! is an IPv6 one. Kamailio and aiosmtpd on IPv6 are in `real_suts`.

use crate::common::*;

fn v6_port() -> u16 {
    loop {
        let p = free_port("::1");
        // The SUT's UDP and TCP share the port; the IPv4 side does not matter.
        if std::net::UdpSocket::bind(("::1", p)).is_ok() {
            return p;
        }
    }
}

/// Every IPv6 address a pcap's SIP and SDP carry is bracketed where SIP
/// writes it (RFC 5118 §4.1) and `IN IP6` in SDP (RFC 4566 §5.7).
fn pcaps_with(out: &std::path::Path, needle: &[u8]) -> usize {
    std::fs::read_dir(out.join("pcaps"))
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .filter(|b| b.windows(needle.len()).any(|w| w == needle))
        .count()
}

/// The Ethernet types of a capture's frames: (IPv4, IPv6, other). A
/// classic pcap, or a pcapng (a capture with TLS secrets): its Enhanced
/// Packet Blocks (type 6; little-endian, as the harness writes it).
fn ether_types(pcap: &[u8]) -> (usize, usize, usize) {
    let mut n = (0, 0, 0);
    let mut count = |frame: &[u8]| match frame.get(12..14) {
        Some([0x08, 0x00]) => n.0 += 1,
        Some([0x86, 0xdd]) => n.1 += 1,
        _ => n.2 += 1,
    };
    let u32_at = |at: usize| u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap()) as usize;
    if pcap.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut at = 0;
        while at + 12 <= pcap.len() {
            let (kind, len) = (u32_at(at), u32_at(at + 4));
            if len < 12 {
                break;
            }
            if kind == 6 && at + 28 <= pcap.len() {
                let caplen = u32_at(at + 20);
                count(&pcap[at + 28..(at + 28 + caplen).min(pcap.len())]);
            }
            at += len;
        }
        return n;
    }
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32_at(at + 8);
        count(&pcap[at + 16..(at + 16 + len).min(pcap.len())]);
        at += 16 + len;
    }
    n
}

#[test]
fn the_embedded_reference_runs_every_scenario_on_ipv6() {
    let out = tmpdir("ipv6-embedded");
    let o = liaison(&[
        "run",
        "--address",
        "::1",
        "--strict",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    // Every scenario the IPv4 run has, none skipped: all but those for a
    // server without store-and-forward, which the reference has, and the
    // OTA-HTTP push over TLS (ppg.ota_https: the PPG tells that terminal by
    // an IP of its own, and ::1 is the one IPv6 loopback address), and the
    // XDMS scenario that sends as a client the XDMS must tell from its
    // trusted proxy by source IP (xdms_untrusted_source, for the same reason).
    let scenarios = &r["summary"]["scenarios"];
    assert_eq!(scenarios["failed"], 0, "{}", text(&o));
    assert_eq!(scenarios["skipped"], 0, "{}", text(&o));
    let applicable = liaison::runner::scenarios(
        &liaison::runner::load_features(&root().join("features")).unwrap(),
    )
    .iter()
    .filter(|s| {
        !s.tags.iter().any(|t| {
            t.contains("unless:store_and_forward")
                || t == "if:ota_https"
                || t == "if:xdms_untrusted_source"
        })
    })
    .count();
    assert_eq!(scenarios["passed"].as_u64().unwrap() as usize, applicable);
    // Every frame of every capture is IPv6, and no IPv4 address is written
    // into any message.
    let mut v6 = 0;
    for e in std::fs::read_dir(out.join("pcaps")).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (v4, six, other) = ether_types(&bytes);
        assert_eq!((v4, other), (0, 0), "{}", path.display());
        v6 += six;
        assert!(
            !bytes.windows(8).any(|w| w == b"127.0.0."),
            "an IPv4 loopback address in {}",
            path.display()
        );
    }
    assert!(v6 > 1000, "{v6} IPv6 frames");
    // Bracketed in SIP (RFC 5118 §4.1), IN IP6 in SDP (RFC 4566 §5.7),
    // MSRP paths and HTTP URLs bracketed (RFC 3986 §3.2.2), the PPG's
    // OTA-HTTP push to an IPv6 client address.
    assert!(pcaps_with(&out, b"SIP/2.0/UDP [::1]:") >= 50);
    assert!(pcaps_with(&out, b"c=IN IP6 ::1") >= 10);
    assert!(pcaps_with(&out, b"msrp://[::1]:") >= 10);
    assert!(pcaps_with(&out, b"http://[::1]:") >= 10);
    assert!(pcaps_with(&out, b"/TYPE=IPv6@") >= 1);
    for bare in [&b"@::1>"[..], b"@::1;", b"@::1:"] {
        assert_eq!(
            pcaps_with(&out, bare),
            0,
            "{}",
            String::from_utf8_lossy(bare)
        );
    }
    // tshark reads the IPv6 captures (UDP and TCP over IPv6) as the harness
    // does: every tenth, as tshark takes about 0.3 s of CPU per pcap (the
    // IPv4 run's are all checked in `tshark`).
    require_program("tshark", "tshark");
    let seen = crate::tshark::check_run_sample(&out, 10);
    assert!(seen.pcaps >= 12, "only {} pcaps checked", seen.pcaps);
}

#[test]
fn an_im_client_on_ipv6_with_msrp() {
    let sip = v6_port();
    let profile = format!(
        "name: reference im-client on ::1\n\
         roles: [im-client]\n\
         sip: {{ address: \"[::1]:{sip}\", transport: [udp, tcp], aor: \"sip:bob@[::1]:{sip}\" }}\n\
         harness: {{ address: \"::1\" }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         capabilities: {{ msrp: true, msrp_max_size: 65536 }}\n\
         launch:\n  command: [{}, reference, --role, im-client, --listen, \"[::1]:{sip}\", --t1-ms, \"50\"]\n\
         \x20 ready: {{ sip_options: \"[::1]:{sip}\", timeout_s: 5 }}\n",
        bin()
    );
    let (o, r, out) = run_profile(&profile, &["--strict"], "ipv6-im-client");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in ["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    assert!(pcaps_with(&out, b"SIP/2.0/UDP [::1]:") >= 5);
    assert!(pcaps_with(&out, b"c=IN IP6 ::1") >= 3);
    assert!(pcaps_with(&out, b"a=path:msrp://[::1]:") >= 3);
}

#[test]
fn an_interworking_function_on_ipv6() {
    let (smsc, core, sut) = (v6_port(), v6_port(), v6_port());
    let profile = format!(
        "name: reference sms-im-iwf on ::1\n\
         roles: [sms-im-iwf]\n\
         harness: {{ address: \"::1\" }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         capabilities: {{ sme_ack: true, iwf_msrp: true }}\n\
         iwf: {{ smsc: \"[::1]:{smsc}\", system_id: liaison, password: secret, ims_core: \"[::1]:{core}\" }}\n\
         launch:\n  command: [{}, reference, --role, sms-im-iwf, --listen, \"[::1]:{sut}\", --t1-ms, \"50\", --smsc, \"[::1]:{smsc}\", --ims-core, \"[::1]:{core}\"]\n",
        bin()
    );
    let (o, r, out) = run_profile(&profile, &["--strict"], "ipv6-iwf");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in ["DR-21", "DR-22", "DR-23", "DR-24"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    assert!(pcaps_with(&out, b"SIP/2.0/UDP [::1]:") >= 5);
    assert!(pcaps_with(&out, b"c=IN IP6 ::1") >= 1);
}

#[test]
fn a_push_proxy_gateway_on_ipv6() {
    let (pap, smsc, ota, sip) = (v6_port(), v6_port(), v6_port(), v6_port());
    let profile = format!(
        "name: reference ppg on ::1\n\
         roles: [ppg]\n\
         harness: {{ address: \"::1\" }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         ppg: {{ url: \"http://[::1]:{pap}/wappush\", compliance: wap-2.0, bearers: [sms, http, sip], smsc: \"[::1]:{smsc}\", system_id: liaison, password: secret, ota_http: \"[::1]:{ota}\", sip_target: \"[::1]:{sip}\" }}\n\
         launch:\n  command: [{}, reference, --role, ppg, --listen, \"[::1]:{pap}\", --t1-ms, \"50\", --smsc, \"[::1]:{smsc}\", --ota-http, \"[::1]:{ota}\", --sip-target, \"[::1]:{sip}\"]\n\
         \x20 ready: {{ tcp: \"[::1]:{pap}\", timeout_s: 5 }}\n",
        bin()
    );
    let (o, r, out) = run_profile(&profile, &["--strict"], "ipv6-ppg");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in [
        "PUSH-1", "PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13", "PUSH-17",
    ] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    // The OTA-HTTP push went to an IPv6 client address in the PPG Service
    // grammar's form: eight groups of four hex digits.
    assert_eq!(
        pcaps_with(
            &out,
            b"WAPPUSH=0000:0000:0000:0000:0000:0000:0000:0001/TYPE=IPv6@"
        ),
        1
    );
}

/// Runs `profile` (a reference role launched on `::1`) with `--strict` and
/// `tags`, and checks that it passes `ids`.
fn passes(tag: &str, profile: String, tags: &[&str], ids: &[&str]) -> std::path::PathBuf {
    let mut args = vec!["--strict"];
    if !tags.is_empty() {
        args.push("--tags");
        args.extend(tags);
    }
    let (o, r, out) = run_profile(&profile, &args, tag);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in ids {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    out
}

#[test]
fn an_mms_client_on_ipv6() {
    let (sip, mmsc, trigger) = (v6_port(), v6_port(), v6_port());
    let out = passes(
        "ipv6-mms-client",
        format!(
            "name: reference mms-client on ::1\n\
             roles: [mms-client]\n\
             harness: {{ address: \"::1\" }}\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             mms_client:\n  mmsc_url: \"http://[::1]:{mmsc}/mmsc\"\n  wap_push: \"[::1]:2948\"\n  sip_push: \"[::1]:{sip}\"\n  sip_uri: \"sip:+15557654321@ims.liaison.test;user=phone\"\n  send_trigger: \"[::1]:{trigger}\"\n\
             launch:\n  command: [{}, reference, --role, mms-client, --listen, \"[::1]:{sip}\", --mmsc, \"http://[::1]:{mmsc}/mmsc\", --send-trigger, \"[::1]:{trigger}\"]\n  ready: {{ tcp: \"[::1]:{sip}\", timeout_s: 5 }}\n",
            bin()
        ),
        &[],
        &["ADDR-1", "ADDR-5", "ADDR-9", "DEFER-5", "DEFER-6", "PUSH-5"],
    );
    // The notification's Content-Location names the MMSC by its IPv6 reference.
    assert!(pcaps_with(&out, format!("http://[::1]:{mmsc}/").as_bytes()) >= 3);
}

#[test]
fn an_mms_relay_on_ipv6() {
    let (mm1, smsc, device) = (v6_port(), v6_port(), v6_port());
    passes(
        "ipv6-mms-relay",
        format!(
            "name: reference mms-relay on ::1\n\
             roles: [mms-relay]\n\
             harness: {{ address: \"::1\" }}\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             mms_relay: {{ mm1_url: \"http://[::1]:{mm1}/mms\", notify: [sms, sip], smsc: \"[::1]:{smsc}\", system_id: liaison, password: secret, sip_device: \"[::1]:{device}\" }}\n\
             launch:\n  command: [{}, reference, --role, mms-relay, --listen, \"[::1]:{mm1}\", --t1-ms, \"50\", --smsc, \"[::1]:{smsc}\", --sip-target, \"[::1]:{device}\"]\n  ready: {{ tcp: \"[::1]:{mm1}\", timeout_s: 5 }}\n",
            bin()
        ),
        &[],
        &["ADDR-1", "ADDR-2", "ADDR-3", "ADDR-4", "DEFER-1", "DEFER-3", "DEFER-4"],
    );
}

#[test]
fn a_push_client_and_a_deferring_server_on_ipv6() {
    let push = v6_port();
    passes(
        "ipv6-push-client",
        format!(
            "name: reference push-client on ::1\n\
             roles: [push-client]\n\
             sip: {{ address: \"[::1]:{push}\", transport: [udp, tcp], aor: \"sip:dev@[::1]:{push}\" }}\n\
             harness: {{ address: \"::1\" }}\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             push_client: {{ apps: [mms.ua] }}\n\
             launch:\n  command: [{}, reference, --role, push-client, --listen, \"[::1]:{push}\", --t1-ms, \"50\"]\n  ready: {{ sip_options: \"[::1]:{push}\", timeout_s: 5 }}\n",
            bin()
        ),
        &[],
        &["PUSH-6", "PUSH-7"],
    );
    let (sip, mmsc) = (v6_port(), v6_port());
    passes(
        "ipv6-deferral",
        format!(
            "name: reference im-server deferring on ::1\n\
             roles: [im-server]\n\
             sip: {{ address: \"[::1]:{sip}\", domain: liaison.test }}\n\
             harness: {{ address: \"::1\" }}\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             deferral:\n  mmsc_url: \"http://[::1]:{mmsc}/mm1\"\n  sip_address_form: typed\n\
             launch:\n  command: [{}, reference, --role, im-server, --listen, \"[::1]:{sip}\", --t1-ms, \"50\", --no-store, --defer-to, \"http://[::1]:{mmsc}/mm1\", --mms-domain, liaison.test, --defer-sip-type, SIP]\n  ready: {{ sip_options: \"[::1]:{sip}\", timeout_s: 5 }}\n",
            bin()
        ),
        &["@DEFER-2 or @DEFER-7 or @DEFER-8 or @DEFER-9"],
        &["DEFER-2", "DEFER-7", "DEFER-8", "DEFER-9"],
    );
}
