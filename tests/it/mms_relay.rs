//! The mms-relay scenarios against the reference relay run as a process of its
//! own (`liaison reference --role mms-relay`) through a profile that declares
//! the typed SIP address form (`escaped-value/TYPE=SIP`): the harness plays
//! the SMSC and the SIP device at the profile's addresses, sends every SIP URI
//! escaped, and expects the escapes back byte for byte. (The default run
//! covers the bare URI form against the embedded relay.)

use crate::common::*;

/// A profile for the reference relay launched with `fault` (if any), SIP
/// URIs in the typed form.
fn typed_profile(dir: &std::path::Path, fault: Option<&str>) -> String {
    let (http, smsc, sip) = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    );
    let fault = fault.map(|f| format!(", --fault, {f}")).unwrap_or_default();
    let text = format!(
        "name: reference mms-relay as its own process (typed SIP URIs)\n\
         roles: [mms-relay]\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         mms_relay:\n  \
           mm1_url: http://127.0.0.1:{http}/mms\n  \
           notify: [sms, sip]\n  \
           smsc: 127.0.0.1:{smsc}\n  \
           system_id: liaison\n  \
           password: secret\n  \
           sip_device: 127.0.0.1:{sip}\n  \
           sip_address_form: typed\n\
         launch:\n  \
           command: [{bin}, reference, --role, mms-relay, --listen, \"127.0.0.1:{http}\", --t1-ms, \"50\", --smsc, \"127.0.0.1:{smsc}\", --sip-target, \"127.0.0.1:{sip}\"{fault}]\n  \
           ready: {{ tcp: 127.0.0.1:{http}, timeout_s: 5 }}\n",
        bin = bin()
    );
    let p = dir.join("relay.yaml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn typed_sip_uris_round_trip_through_a_launched_relay() {
    let d = tmpdir("mms-typed");
    let p = typed_profile(&d, None);
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--quiet",
        "--sut",
        &p,
        "--tags",
        "@mms-relay",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(r["summary"]["scenarios"]["failed"], 0, "{}", text(&o));
    for id in ["ADDR-2", "ADDR-3", "ADDR-4", "ADDR-6", "ADDR-7", "DEFER-1"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    // The escaped form went over the wire (the SIP URI recipient's To).
    let pcap = std::fs::read(
        out.join("pcaps").join(
            std::fs::read_dir(out.join("pcaps"))
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .find(|n| {
                    n.to_string_lossy()
                        .contains("sip-uri-recipient-is-notified-and")
                })
                .expect("the ADDR-3 pcap"),
        ),
    )
    .unwrap();
    let needle = b"%3Bctx%3Da%252Bb%40ims.liaison.test/TYPE=SIP";
    assert!(
        pcap.windows(needle.len()).any(|w| w == needle),
        "the typed form is in the pcap"
    );
}

#[test]
fn escapes_changed_in_lower_case_fail_the_typed_form() {
    let d = tmpdir("mms-typed-mangled");
    let p = typed_profile(&d, Some("uri-mangled"));
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--quiet",
        "--strict",
        "--sut",
        &p,
        "--tags",
        "@mms-relay",
        "--out",
        out.to_str().unwrap(),
    ]);
    // SHOULD requirements: failing, they gate only with --strict.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    let mut failed = requirements_with(&r, "failed");
    failed.sort();
    assert_eq!(failed, ["ADDR-3", "ADDR-4"], "{}", text(&o));
    let addr3 = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["requirements"][0] == "ADDR-3")
        .unwrap();
    let msg = addr3["failure"].as_str().unwrap();
    assert!(
        msg.contains("sip%3amms_"),
        "the lower-case escape is shown: {msg}"
    );
}
