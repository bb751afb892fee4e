//! `network: lab`: the explicit opt-in that lets a profile name a SUT (and
//! the harness's interface) off loopback. Without it a non-loopback address
//! is refused by `list` and `run` alike, with the way to opt in. With it,
//! a run works on whatever unicast addresses the profile names; these
//! machines must never send off loopback, so the lab here is distinct
//! 127.0.0.x addresses, and the refused profile is only validated.

use crate::common::*;

const OFF_LOOPBACK: &str = "name: a SUT in a lab rack\n\
    roles: [im-client]\n\
    sip: { address: \"192.0.2.10:5060\", aor: \"sip:bob@192.0.2.10\" }\n\
    harness: { address: 192.0.2.1 }\n";

#[test]
fn an_address_off_loopback_needs_the_opt_in() {
    let d = tmpdir("lab-refused");
    let profile = d.join("lab.yaml");
    std::fs::write(&profile, OFF_LOOPBACK).unwrap();
    let p = profile.to_str().unwrap();
    let out = d.join("out");
    for args in [
        vec!["list", "--sut", p],
        vec!["run", "--sut", p, "--out", out.to_str().unwrap()],
    ] {
        let o = liaison(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains("sip.address: expected a loopback address")
                && e.contains("192.0.2.10")
                && e.contains("`network: lab`"),
            "{args:?}: {e}"
        );
    }
    // Refused before anything was written (or sent).
    assert!(!out.exists());
    // With the opt-in the same profile is valid (validated only: nothing is
    // sent to a lab address from these machines).
    std::fs::write(&profile, format!("network: lab\n{OFF_LOOPBACK}")).unwrap();
    let o = liaison(&["list", "--sut", p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_lab_run_uses_the_addresses_its_profile_names() {
    // The SUT on one address, the harness's interface on another: nothing
    // of the run may come from or go to 127.0.0.1.
    let sut_ip = "127.0.0.5";
    let harness_ip = "127.0.0.6";
    let sip = free_port(sut_ip);
    let profile = format!(
        "network: lab\n\
         name: reference im-client on a lab network\n\
         roles: [im-client]\n\
         sip: {{ address: \"{sut_ip}:{sip}\", transport: [udp, tcp], aor: \"sip:bob@{sut_ip}:{sip}\" }}\n\
         harness: {{ address: {harness_ip} }}\n\
         timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
         launch:\n  command: [{}, reference, --role, im-client, --listen, \"{sut_ip}:{sip}\", --t1-ms, \"50\"]\n\
         \x20 ready: {{ sip_options: \"{sut_ip}:{sip}\", timeout_s: 5 }}\n",
        bin()
    );
    let (o, r, out) = run_profile(
        &profile,
        &["--tags", "@DR-1 or @DR-2 or @DR-3 or @DR-4"],
        "lab-run",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r["sut"]["network"], "lab", "{}", r["sut"]);
    let passed = requirements_with(&r, "passed");
    for id in ["DR-1", "DR-2", "DR-3", "DR-4"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    assert!(
        text(&o).contains("on a lab network"),
        "the summary does not say so: {}",
        text(&o)
    );
    // The harness spoke from its interface, to the SUT's.
    let mut pcaps = 0;
    for e in std::fs::read_dir(out.join("pcaps")).unwrap() {
        let b = std::fs::read(e.unwrap().path()).unwrap();
        let has = |s: &str| b.windows(s.len()).any(|w| w == s.as_bytes());
        if has(&format!("SIP/2.0/UDP {harness_ip}:")) || has(&format!("SIP/2.0/TCP {harness_ip}:"))
        {
            pcaps += 1;
        }
        assert!(!has("127.0.0.1:"), "a pcap names 127.0.0.1");
    }
    assert!(pcaps >= 4, "{pcaps} pcaps with the harness's Via");
}
