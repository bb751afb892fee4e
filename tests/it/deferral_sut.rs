//! Deferred messaging against an IM server launched through a profile, as a
//! real SUT would be: the reference im-server in its own process, without
//! store-and-forward, deferring for the users of its own domain to the
//! harness MMS Relay/Server at the fixed URL the profile names, and writing
//! SIP URIs in the typed `escaped-value/TYPE=SIP` form (the embedded run
//! defers for a domain of its own and writes bare URIs).

use crate::common::*;

fn run(fault: Option<&str>) -> (std::process::Output, serde_json::Value, std::path::PathBuf) {
    run_with(
        "http",
        "@DEFER-2 or @DEFER-7 or @DEFER-8 or @DEFER-9 or @DR-6",
        fault,
    )
}

/// The launched server deferring to the MMSC at a `scheme://` URL, running
/// the scenarios `tags` selects.
fn run_with(
    scheme: &str,
    tags: &str,
    fault: Option<&str>,
) -> (std::process::Output, serde_json::Value, std::path::PathBuf) {
    let d = tmpdir("deferral-sut");
    let sip = free_port("127.0.0.1");
    let mmsc = free_port("127.0.0.1");
    let mut command = format!(
        "[{}, reference, --role, im-server, --listen, \"127.0.0.1:{sip}\", --t1-ms, \"50\", --no-store, \
         --defer-to, \"{scheme}://127.0.0.1:{mmsc}/mm1\", --mms-domain, liaison.test, --defer-sip-type, SIP",
        bin()
    );
    if let Some(f) = fault {
        command.push_str(&format!(", --fault, {f}"));
    }
    command.push(']');
    let profile = d.join("im-server.yaml");
    std::fs::write(
        &profile,
        format!(
            "name: reference im-server deferring to MMS, as its own process\n\
             roles: [im-server]\n\
             sip: {{ address: \"127.0.0.1:{sip}\", domain: liaison.test }}\n\
             timers: {{ t1_ms: 50, scenario_timeout_s: 5 }}\n\
             deferral:\n  mmsc_url: {scheme}://127.0.0.1:{mmsc}/mm1\n  sip_address_form: typed\n\
             launch:\n  command: {command}\n  ready: {{ sip_options: \"127.0.0.1:{sip}\", timeout_s: 5 }}\n"
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
        tags,
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = report(&out);
    (o, r, out)
}

#[test]
fn a_launched_server_deferring_its_own_users_in_typed_form_passes() {
    let (o, r, out) = run(None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let passed = requirements_with(&r, "passed");
    for id in ["DEFER-2", "DEFER-7", "DEFER-8", "DEFER-9", "DR-6"] {
        assert!(passed.contains(&id.to_string()), "{id}: {}", text(&o));
    }
    // The DR-6 scenario for an unregistered user does not apply: that user is
    // an MMS user here, rightly answered 202.
    let names: Vec<&str> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"A message for an unregistered recipient is not reported as delivered"),
        "{names:?}"
    );
    // The SIP URIs went into the MM escaped, with /TYPE=SIP.
    let typed = b"%40liaison.test/TYPE=SIP";
    let pcaps: Vec<Vec<u8>> = std::fs::read_dir(out.join("pcaps"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert!(
        pcaps
            .iter()
            .any(|p| p.windows(typed.len()).any(|w| w == typed)),
        "no typed SIP URI in any pcap"
    );
}

#[test]
fn the_typed_form_is_judged_too() {
    // The recipient's URI without its scheme, escaped and typed: still the
    // wrong address, caught in the declared form.
    let (o, r, _) = run(Some("defer-uri-mangled"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(requirements_with(&r, "failed"), vec!["DEFER-2".to_string()]);
}

/// Issue 15: an `https://` deferral.mmsc_url: the server (given the run's
/// lab CA, LIAISON_TLS_CA) submits its M-Send.req over TLS and the harness
/// MMSC takes it there; the records are in the run-level pcap, so no
/// M-Send.req shows in the clear.
#[test]
fn a_launched_server_deferring_to_an_https_mmsc_passes() {
    let (o, r, out) = run_with("https", "@DEFER-2", None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(requirements_with(&r, "passed"), vec!["DEFER-2".to_string()]);
    let clear = b"POST /mm1";
    for e in std::fs::read_dir(out.join("pcaps")).unwrap().flatten() {
        let p = std::fs::read(e.path()).unwrap();
        assert!(
            !p.windows(clear.len()).any(|w| w == clear),
            "a POST in the clear in {}",
            e.path().display()
        );
    }
    let run_level = std::fs::read(out.join("pcaps/run-level-deferral-mmsc.pcap")).unwrap();
    assert_eq!(
        &run_level[..4],
        b"\x0a\x0d\x0d\x0a",
        "pcapng, with the TLS secrets"
    );
}
