//! The mms-client scenarios against a client launched through a profile, as a
//! real SUT would be: the reference MMS client in its own process, configured
//! with the harness MMSC URL the profile fixes, writing SIP URIs in the
//! escaped `/TYPE=SIP` form (the embedded run uses the raw form).

use crate::common::*;

#[test]
fn a_launched_client_with_escaped_sip_uris_passes() {
    let d = tmpdir("mms-client-sut");
    // Its own loopback address, so its port 2948 is not another run's.
    let ip = "127.0.0.3";
    let sip = free_port(ip);
    let mmsc = free_port("127.0.0.1");
    let trigger = free_port(ip);
    let profile = d.join("mms-client.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: reference mms-client as its own process\n\
             roles: [mms-client]\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             mms_client:\n  mmsc_url: http://127.0.0.1:{mmsc}/mmsc\n  wap_push: {ip}:2948\n  sip_push: {ip}:{sip}\n  sip_uri: \"sip:+15557654321@ims.liaison.test;user=phone\"\n  sip_address_form: escaped\n  send_trigger: {ip}:{trigger}\n  https_retrieval: true\n\
             launch:\n  command: [{}, reference, --role, mms-client, --listen, \"{ip}:{sip}\", --mmsc, \"http://127.0.0.1:{mmsc}/mmsc\", --send-trigger, \"{ip}:{trigger}\", --escaped-sip]\n  ready: {{ tcp: \"{ip}:{sip}\", timeout_s: 5 }}\n",
            bin()
        ),
    )
    .unwrap();
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--sut",
        profile.to_str().unwrap(),
        "--strict",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    let passed = requirements_with(&r, "passed");
    for id in ["ADDR-1", "ADDR-5", "ADDR-9", "DEFER-5", "DEFER-6", "PUSH-5"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    // It took the run's lab CA (LIAISON_TLS_CA) and fetched over TLS.
    let https = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap_or("").contains("https://"))
        .expect("the https:// Content-Location scenario ran");
    assert_eq!(https["verdict"], "passed", "{}", text(&o));
    // The SIP URIs went out escaped.
    let pcaps: Vec<_> = std::fs::read_dir(out.join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    let escaped = b"sip%3Aalice%40ims.liaison.test/TYPE=SIP";
    assert!(
        pcaps
            .iter()
            .any(|p| p.windows(escaped.len()).any(|w| w == escaped)),
        "no escaped SIP URI in any pcap"
    );
    // The MM it sent named the SIP URI escaped, %2B escaped once more.
    let sent = b"sip%3Amms_15550000009%3Bctx%3Da%252Bb%40ims.liaison.test/TYPE=SIP";
    assert!(
        pcaps
            .iter()
            .any(|p| p.windows(sent.len()).any(|w| w == sent)),
        "no escaped SIP URI in the M-Send.req"
    );
    let log = std::fs::read_to_string(out.join("sut-stdout.log")).unwrap();
    assert!(log.contains(&format!("WSP pushes on {ip}:2948")), "{log}");
}

/// Issue 15: a client configured with an `https://` MMSC URL posts its
/// reports and sends its MMs over TLS, trusting the run's lab CA
/// (LIAISON_TLS_CA); the harness MMSC takes TLS there. Its records are in
/// the run-level pcap (the MMSC serves the scenarios side by side), so no
/// POST shows in the clear in any pcap.
#[test]
fn a_launched_client_with_an_https_mmsc_url_passes() {
    let d = tmpdir("mms-client-https");
    let ip = "127.0.0.4";
    let sip = free_port(ip);
    let mmsc = free_port("127.0.0.1");
    let trigger = free_port(ip);
    let profile = d.join("mms-client.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: reference mms-client with an https MMSC URL\n\
             roles: [mms-client]\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             mms_client:\n  mmsc_url: https://127.0.0.1:{mmsc}/mmsc\n  wap_push: {ip}:2948\n  sip_push: {ip}:{sip}\n  send_trigger: {ip}:{trigger}\n  https_retrieval: true\n\
             launch:\n  command: [{}, reference, --role, mms-client, --listen, \"{ip}:{sip}\", --mmsc, \"https://127.0.0.1:{mmsc}/mmsc\", --send-trigger, \"{ip}:{trigger}\"]\n  ready: {{ tcp: \"{ip}:{sip}\", timeout_s: 5 }}\n",
            bin()
        ),
    )
    .unwrap();
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--sut",
        profile.to_str().unwrap(),
        "--strict",
        "--tags",
        "@DEFER-5 or @ADDR-9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    let passed = requirements_with(&r, "passed");
    for id in ["ADDR-9", "DEFER-5"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    let clear = b"POST /mmsc";
    for e in std::fs::read_dir(out.join("pcaps")).unwrap().flatten() {
        let p = std::fs::read(e.path()).unwrap();
        assert!(
            !p.windows(clear.len()).any(|w| w == clear),
            "a POST in the clear in {}",
            e.path().display()
        );
    }
    let run_level = std::fs::read(out.join("pcaps/run-level-mmsc.pcap")).unwrap();
    assert_eq!(
        &run_level[..4],
        b"\x0a\x0d\x0d\x0a",
        "pcapng, with the TLS secrets"
    );
}
