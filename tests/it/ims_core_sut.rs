//! The other areas' SIP scenarios through the harness IMS core
//! (`ims.route_all`), against reference roles launched as their own
//! processes through a profile, as real SUTs would be: an IM server that
//! trusts the core's IP for P-Asserted-Identity (pager mode, store and
//! forward, offline notification by push, and the IMS scenarios), and an IM
//! client that registers through the core (pager mode, Large Message mode
//! and the IMS scenarios). The embedded run sends only the IMS scenarios
//! through its core.

use crate::common::*;

fn launched(role: &str, sip: u16, core: u16, fault: Option<&str>) -> String {
    let mut c = format!(
        "[{}, reference, --role, {role}, --listen, \"127.0.0.1:{sip}\", --t1-ms, \"50\", --ims-core, \"127.0.0.2:{core}\"",
        bin()
    );
    if let Some(f) = fault {
        c.push_str(&format!(", --fault, {f}"));
    }
    c.push(']');
    c
}

fn run(
    profile_text: &str,
    tags: &str,
    tag: &str,
) -> (std::process::Output, serde_json::Value, std::path::PathBuf) {
    run_profile(profile_text, &["--strict", "--tags", tags], tag)
}

fn server_profile(fault: Option<&str>) -> String {
    let sip = free_port("127.0.0.1");
    let core = free_port("127.0.0.2");
    format!(
        "name: reference im-server behind the harness IMS core\n\
         roles: [im-server]\n\
         sip: {{ address: \"127.0.0.1:{sip}\", domain: liaison.test }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         ims: {{ core: \"127.0.0.2:{core}\", route_all: true }}\n\
         capabilities: {{ store_and_forward: true, offline_notification: true, offline_notification_app: x-liaison.im-offline }}\n\
         launch:\n  command: {}\n  ready: {{ sip_options: \"127.0.0.1:{sip}\", timeout_s: 5 }}\n",
        launched("im-server", sip, core, fault)
    )
}

#[test]
fn im_server_scenarios_pass_through_the_core() {
    let (o, r, out) = run(&server_profile(None), "@im-server", "ims-server");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in [
        "DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "IMS-1", "IMS-9", "IMS-10",
        "IMS-11", "IMS-12", "IMS-13", "IMS-14",
    ] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    // Everything went through the core: its Path is in the pcaps.
    assert!(
        any_pcap_has(&out, b"Path: <sip:pcscf@127.0.0.2:"),
        "no Path from the core in any pcap"
    );
    each_scenario_has_its_own_calls(&r, &out);
}

/// With `route_all` the scenarios ran side by side through the one core
/// (their times add up to well over the run's), and still each SIP call
/// (Call-ID) is in one scenario's pcap only.
fn each_scenario_has_its_own_calls(r: &serde_json::Value, out: &std::path::Path) {
    let scenarios = r["scenarios"].as_array().unwrap();
    let sum: u64 = scenarios
        .iter()
        .map(|s| s["duration_ms"].as_u64().unwrap())
        .sum();
    let wall = r["duration_ms"].as_u64().unwrap();
    assert!(
        sum >= 2 * wall,
        "one at a time? {sum} ms of scenarios in {wall} ms"
    );
    let mut owner = std::collections::BTreeMap::new();
    for s in scenarios {
        let name = s["pcap"].as_str().unwrap();
        let bytes = std::fs::read(out.join(name)).unwrap();
        let mut calls = std::collections::BTreeSet::new();
        for at in 0..bytes.len() {
            if let Some(rest) = bytes[at..].strip_prefix(b"\r\nCall-ID: ".as_slice()) {
                let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
                calls.insert(String::from_utf8_lossy(&rest[..end]).into_owned());
            }
        }
        assert!(!calls.is_empty(), "{name}: no SIP call of its own");
        for c in calls {
            if let Some(other) = owner.insert(c.clone(), name.to_string()) {
                panic!("Call-ID {c} is in {other} and in {name}");
            }
        }
    }
}

#[test]
fn a_server_that_bypasses_the_core_fails_only_the_path_requirement() {
    let (o, r, _) = run(
        &server_profile(Some("ignores-path")),
        "@im-server",
        "ims-server-fault",
    );
    // IMS-1 is a SHOULD: with --strict the run fails on it alone.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(requirements_with(&r, "failed"), vec!["IMS-1".to_string()]);
}

#[test]
fn im_client_scenarios_pass_through_the_core_it_registered_with() {
    let sip = free_port("127.0.0.1");
    let core = free_port("127.0.0.2");
    let profile = format!(
        "name: reference im-client registered through the harness IMS core\n\
         roles: [im-client]\n\
         sip: {{ address: \"127.0.0.1:{sip}\", transport: [udp, tcp], aor: \"sip:bob@127.0.0.1:{sip}\" }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         ims:\n  core: \"127.0.0.2:{core}\"\n  route_all: true\n  register: true\n  register_expires_s: 2\n\
         \x20 feature_tags: [+g.oma.sip-im, +g.oma.sip-im.large-message]\n\
         \x20 icsi: [urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg]\n\
         capabilities: {{ msrp: true, msrp_max_size: 65536 }}\n\
         launch:\n  command: {}\n  ready: {{ sip_options: \"127.0.0.1:{sip}\", timeout_s: 5 }}\n",
        launched("im-client", sip, core, None)
    );
    let (o, r, out) = run(&profile, "@im-client", "ims-client");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in [
        "DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "IMS-2", "IMS-5", "IMS-6", "IMS-7",
    ] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    assert!(
        any_pcap_has(&out, b"Service-Route: <sip:orig@127.0.0.2:"),
        "no Service-Route from the core in any pcap"
    );
}

fn any_pcap_has(out: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(out.join("pcaps"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .any(|b| b.windows(needle.len()).any(|w| w == needle))
}
