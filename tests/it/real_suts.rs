//! Real implementations, started by the harness from their profiles: baresip
//! 1.0 and linphonec 5.1 as im-client, Kamailio 5.6 as im-server (pager
//! mode, store and forward, the lifetime of stored messages). Their verdicts
//! are the ones the README's results table publishes; a change in any is a
//! test failure.
//! A missing program fails the test (CI installs them), never skips it.

use crate::common::*;

#[test]
fn baresip_as_im_client() {
    require_program("baresip", "baresip");
    require_program("cc", "gcc");
    // Without the waiver: the deviation is a failure (exit 1).
    let out = tmpdir("baresip-raw");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/baresip.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-1", "DR-2", "DR-3"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-4"), "failed", "{}", text(&o));
    // With the written waiver: exit 0, DR-4 reported as waived, not passed.
    // This run is over TLS too (fixtures/sut/baresip-tls.yaml: its TLS
    // listener presents the certificate the run's lab CA issued, run.sh).
    let out = tmpdir("baresip-waived");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/baresip-tls.yaml",
        "--strict",
        "--waivers",
        "fixtures/waivers/baresip.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-4"), "waived");
    let over_tls = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap_or("").contains("over TLS"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(over_tls["verdict"], "passed", "{}", text(&o));
    assert_eq!(over_tls["tls"][0]["peer"], "127.0.0.1:15271", "{over_tls}");
    assert!(std::fs::read_to_string(out.join("sut-stdout.log"))
        .unwrap()
        .contains("MESSAGE"));
}

#[test]
fn baresip_registered_through_the_ims_core() {
    require_program("baresip", "baresip");
    require_program("cc", "gcc");
    // baresip registers through the harness core (outbound proxy) and takes
    // every im-client scenario through it; DR-4 keeps its waiver. Twice at
    // once: over UDP, and over TLS to the core's TLS edge (ims.tls; it
    // checks the core's certificate against the run's lab CA), the core
    // sending it requests over that connection.
    let runs: Vec<_> = std::thread::scope(|s| {
        ["baresip-ims", "baresip-ims-tls"]
            .map(|name| {
                s.spawn(move || {
                    let out = tmpdir(name);
                    let o = liaison(&[
                        "run",
                        "--sut",
                        &format!("fixtures/sut/{name}.yaml"),
                        "--strict",
                        "--waivers",
                        "fixtures/waivers/baresip.yaml",
                        "--out",
                        out.to_str().unwrap(),
                    ]);
                    (name, out, o)
                })
            })
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect()
    });
    for (name, out, o) in runs {
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let r = report(&out);
        for id in ["DR-1", "DR-2", "DR-3", "IMS-2", "IMS-7"] {
            assert_eq!(verdict(&r, id), "passed", "{name} {id}: {}", text(&o));
        }
        // Through the TLS edge the core reaches it over its connection:
        // no UDP, so the retransmission scenario does not apply.
        let dr4 = if name.ends_with("-tls") {
            "not-run"
        } else {
            "waived"
        };
        assert_eq!(verdict(&r, "DR-4"), dr4, "{name}");
        // It declares no feature tags or ICSIs (baresip 1.0 cannot): not run.
        for id in ["IMS-5", "IMS-6"] {
            assert_eq!(verdict(&r, id), "not-run", "{name} {id}: {}", text(&o));
        }
    }
}

/// The same Kamailio configuration on IPv6 ([::1], harness on ::1): the
/// same verdicts as on 127.0.0.1 (issue 15 item 5 for the im-server role).
#[test]
fn kamailio_as_im_server_on_ipv6() {
    require_program("kamailio", "kamailio");
    let out = tmpdir("kamailio-ipv6");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-ipv6.yaml",
        "--waivers",
        "fixtures/waivers/kamailio.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-4", "DR-5", "DR-6"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-7"), "waived", "{}", text(&o));
    // msilo's periodic cleaner may run in the second between the Expires
    // and the registration (as in kamailio_behind_the_ims_core).
    let push18 = verdict(&r, "PUSH-18");
    assert!(
        push18 == "waived" || push18 == "passed",
        "PUSH-18 {push18}: {}",
        text(&o)
    );
    // The traffic was IPv6 with bracketed references in the SIP (RFC 5118).
    let mut v6 = 0;
    for e in std::fs::read_dir(out.join("pcaps")).unwrap() {
        let b = std::fs::read(e.unwrap().path()).unwrap();
        if b.windows(17).any(|w| w == b"SIP/2.0/UDP [::1]") {
            v6 += 1;
        }
    }
    assert!(v6 >= 5, "{v6} pcaps with an IPv6 Via");
}

/// Kamailio behind the harness IMS core on IPv6: the core shares `::1`
/// with the harness's untrusted senders, so Kamailio trusts it by IP and
/// port (`IMS_CORE_PORT`, the profile's `ims.trust: address`). The same
/// verdicts as on IPv4; told to trust the core's IP alone, it passes a
/// forged identity from beside the core on (IMS-11).
#[test]
fn kamailio_behind_the_ims_core_on_ipv6() {
    require_program("kamailio", "kamailio");
    let out = tmpdir("kamailio-ims-ipv6");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-ims-ipv6.yaml",
        "--strict",
        "--waivers",
        "fixtures/waivers/kamailio-ims.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in [
        "DR-4", "DR-5", "DR-6", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13",
    ] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    for id in ["DR-7", "IMS-14", "IMS-16"] {
        assert_eq!(verdict(&r, id), "waived", "{id}: {}", text(&o));
    }
    let (r, o) = run_variant(
        "kamailio-ims-ipv6.yaml",
        "    LIAISON_KAMAILIO_IMS_CORE_PORT: \"15199\"\n",
        "",
        "@IMS-11",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&r, "IMS-11"), "failed", "{}", text(&o));
}

#[test]
fn kamailio_as_im_server() {
    require_program("kamailio", "kamailio");
    let out = tmpdir("kamailio");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    // DR-7 is a MUST that msilo fails (it drops the Content-Type's
    // parameters of a stored message), so the run fails; PUSH-18 is a
    // SHOULD, whose failure gates only with --strict.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-4", "DR-5", "DR-6"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-7"), "failed", "{}", text(&o));
    // msilo delivers a stored message after its Expires (fixtures/sut/kamailio/NOTES.md).
    assert_eq!(verdict(&r, "PUSH-18"), "failed", "{}", text(&o));
    // No offline notification by push declared: not run, not passed.
    for id in ["PUSH-8", "PUSH-11"] {
        assert_eq!(verdict(&r, id), "not-run", "{id}: {}", text(&o));
    }
    // Roles it does not play are not run, not passed.
    assert_eq!(verdict(&r, "DR-1"), "not-run");

    // Strict: the SHOULD failure gates; with the written waiver it is
    // reported as waived, never as passed.
    let out = tmpdir("kamailio-strict");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio.yaml",
        "--strict",
        "--tags",
        "@PUSH-18 or @DR-7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&report(&out), "PUSH-18"), "failed");
    let out = tmpdir("kamailio-waived");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio.yaml",
        "--strict",
        "--tags",
        "@PUSH-18 or @DR-7",
        "--waivers",
        "fixtures/waivers/kamailio.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "PUSH-18"), "waived");
    assert_eq!(verdict(&r, "DR-7"), "waived");
}

#[test]
fn kamailio_behind_the_ims_core() {
    require_program("kamailio", "kamailio");
    // Every im-server scenario through the harness core; the deviations
    // (no RFC 3841 caller preferences; msilo and Expires) are waived with
    // written reasons, so a strict run passes only by them.
    let out = tmpdir("kamailio-ims");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-ims.yaml",
        "--strict",
        "--waivers",
        "fixtures/waivers/kamailio-ims.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in [
        "DR-4", "DR-5", "DR-6", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13",
    ] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    for id in ["DR-7", "IMS-14", "IMS-16"] {
        assert_eq!(verdict(&r, id), "waived", "{id}: {}", text(&o));
    }
    // msilo delivers an expired message unless its periodic cleaner (every
    // 50 s in this configuration) happens to run between the expiry and the
    // registration, 1 s apart (fixtures/waivers/kamailio.yaml, PUSH-18): the
    // waiver covers the usual run, a pass is the cleaner's timing.
    let push18 = verdict(&r, "PUSH-18");
    assert!(
        push18 == "waived" || push18 == "passed",
        "PUSH-18: {push18}: {}",
        text(&o)
    );
    // The trust is the configuration's: told to trust the harness's own
    // address instead of the core's, Kamailio drops the core's asserted
    // identity and passes the forged one on.
    let (r, o) = run_variant(
        "kamailio-ims.yaml",
        "LIAISON_KAMAILIO_IMS_CORE: \"127.0.0.2\"",
        "LIAISON_KAMAILIO_IMS_CORE: \"127.0.0.1\"",
        "@IMS-9 or @IMS-11",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&r, "IMS-9"), "failed", "{}", text(&o));
    assert_eq!(verdict(&r, "IMS-11"), "failed", "{}", text(&o));
}

#[test]
fn kamailio_msrp_relay() {
    require_program("kamailio", "kamailio");
    // The shipped config: relay 200 at once, far 200 absorbed, REPORTs end to
    // end, failure REPORTs from the routing script.
    let out = tmpdir("kamailio-msrp");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-msrp.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-16", "DR-18", "DR-19", "DR-20"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    // The pager-mode im-server scenarios need a SIP interface this SUT lacks.
    assert_eq!(verdict(&r, "DR-5"), "not-run");

    // The same relay without the script's failure REPORTs: what the msrp
    // module does by itself. (One test, run in turn: both use port 15085.)
    let out = tmpdir("kamailio-msrp-module");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-msrp-module-only.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-18", "DR-19"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    for id in ["DR-16", "DR-20"] {
        assert_eq!(verdict(&r, id), "failed", "{id}: {}", text(&o));
    }
}

#[test]
fn kannel_as_ppg() {
    // Debian installs the boxes in /usr/sbin, which a user's PATH may lack (run.sh adds it).
    assert!(
        std::path::Path::new("/usr/sbin/bearerbox").is_file()
            && std::path::Path::new("/usr/sbin/wapbox").is_file(),
        "Kannel's bearerbox and wapbox are not installed: apt-get install kannel; .ci/run does. A missing tool is a failure, never a skip."
    );
    // Kannel's fixed ports: one run at a time (tshark::kannel_pcaps_agree_with_tshark).
    let _ports = hold(&KANNEL);
    // --strict: PUSH-15 and PUSH-16 are SHOULDs, which fail a run only then.
    let out = tmpdir("kannel-raw");
    let o = liaison(&[
        "run",
        "--strict",
        "--sut",
        "fixtures/sut/kannel.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    // WSP push over SMS byte for byte (content type as a text string, with
    // Content-Length and Encoding-Version headers: valid, and passed), 2000 for
    // malformed submissions, nothing pushed for a refused one.
    for id in ["PUSH-1", "PUSH-2", "PUSH-13", "PUSH-14", "PUSH-17"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    // Measured deviations (fixtures/sut/kannel/NOTES.md): 2000 for a bad
    // address, duplicate push-ids pushed twice.
    for id in ["PUSH-15", "PUSH-16"] {
        assert_eq!(verdict(&r, id), "failed", "{id}: {}", text(&o));
    }
    // A WAP 1.2.1 PPG is not asked for OTA-HTTP; no SIP bearer declared.
    for id in ["PUSH-3", "PUSH-10"] {
        assert_eq!(verdict(&r, id), "not-run", "{id}: {}", text(&o));
    }
    let out = tmpdir("kannel-waived");
    let o = liaison(&[
        "run",
        "--strict",
        "--sut",
        "fixtures/sut/kannel.yaml",
        "--waivers",
        "fixtures/waivers/kannel.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "PUSH-15"), "waived");
    assert_eq!(verdict(&r, "PUSH-16"), "waived");
}

/// A MEM server on python3-aiosmtpd (incoming mail) and smtplib (the
/// notification): the harness's SMTP client and MM3 server interoperate
/// with real SMTP implementations, and the script meets MEM-1..4.
#[test]
fn aiosmtpd_as_mem_server() {
    require_aiosmtpd();
    // The fixture's fixed ports (tshark::aiosmtpd_pcaps_agree_with_tshark;
    // the delivery-command test below uses ports of its own).
    let _ports = hold(&MEM_SERVER);
    let out = tmpdir("aiosmtpd-mem");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/mem-server.yaml",
        "--strict",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["MEM-1", "MEM-2", "MEM-3", "MEM-4"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    // Roles it does not play are not run.
    assert_eq!(verdict(&r, "MEM-6"), "not-run");
    assert!(std::fs::read_to_string(out.join("sut-stdout.log"))
        .unwrap()
        .contains("notified"));
}

/// The same server on IPv6: aiosmtpd listening on `[::1]`, smtplib
/// notifying the harness's MM3 interface on `[::1]` (issue 15 item 5).
#[test]
fn aiosmtpd_as_mem_server_on_ipv6() {
    require_aiosmtpd();
    let (inbox, mm3) = (free_port("::1"), free_port("::1"));
    let profile = format!(
        "name: mem_server.py on ::1\n\
         roles: [mem-server]\n\
         harness: {{ address: \"::1\" }}\n\
         timers: {{ t1_ms: 100, scenario_timeout_s: 10 }}\n\
         launch:\n  command: [/usr/bin/python3, fixtures/sut/mem-server/mem_server.py, --listen, \"[::1]:{inbox}\", --mm3, \"[::1]:{mm3}\", --mailbox, bob@mem.liaison.test, --other-mailbox, carol@mem.liaison.test, --notify-to, \"+15550007777/TYPE=PLMN@mms.liaison.test\"]\n\
         \x20 ready: {{ tcp: \"[::1]:{inbox}\", timeout_s: 10 }}\n\
         mem_server:\n  inbox: \"[::1]:{inbox}\"\n  mailbox: bob@mem.liaison.test\n  other_mailbox: carol@mem.liaison.test\n\
         \x20 notify_to: \"+15550007777/TYPE=PLMN@mms.liaison.test\"\n  mm3: \"[::1]:{mm3}\"\n"
    );
    let (o, r, _) = run_profile(&profile, &["--strict"], "aiosmtpd-mem-ipv6");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for id in ["MEM-1", "MEM-2", "MEM-3", "MEM-4"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
}

/// The same server, its new mail handed over by a command the harness runs
/// per message (mem_server.deliver_command: a delivery agent that passes the
/// message on standard input to the server), on ports of its own.
#[test]
fn aiosmtpd_as_mem_server_fed_by_a_delivery_command() {
    require_aiosmtpd();
    let d = tmpdir("aiosmtpd-mem-cmd");
    let profile = std::fs::read_to_string(root().join("fixtures/sut/mem-server.yaml"))
        .unwrap()
        .replace("12525", "12527")
        .replace("12526", "12528")
        .replace(
            "  inbox: 127.0.0.1:12527\n",
            "  deliver_command: [/usr/bin/python3, fixtures/sut/mem-server/deliver.py, \"127.0.0.1:12527\"]\n",
        );
    assert!(profile.contains("deliver_command"), "{profile}");
    let p = d.join("mem-server-cmd.yaml");
    std::fs::write(&p, profile).unwrap();
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--sut",
        p.to_str().unwrap(),
        "--strict",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["MEM-1", "MEM-2", "MEM-3", "MEM-4"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
}

/// linphonec 5.1 (Debian linphone-cli) as im-client: it absorbs a
/// retransmitted MESSAGE (DR-4 passes, the text reaches the user once) and
/// fails DR-3 (its 415 has no Accept, RFC 3261 §8.2.3), which its waiver
/// covers. One run; the waiver is applied to the stored report.
#[test]
fn linphonec_as_im_client() {
    require_program("linphonec", "linphone-cli");
    let out = tmpdir("linphonec");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/linphone.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-1", "DR-2", "DR-4"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-3"), "failed", "{}", text(&o));
    // Four MESSAGEs taken (DR-1 over UDP and TCP, DR-2, DR-4), each shown
    // once: DR-4's copy went to the server transaction, not to the user.
    let shown = std::fs::read_to_string(out.join("sut-stdout.log")).unwrap();
    assert_eq!(
        shown.matches("Message received from ").count(),
        4,
        "{shown}"
    );
    // linphonec rewrote its private copy, not the repository's template.
    let template =
        std::fs::read_to_string(root().join("fixtures/sut/linphone/linphonerc")).unwrap();
    assert!(template.contains("sip_port=@PORT@"));
    // With the written waiver: exit 0, DR-3 reported as waived, not passed.
    let o = liaison(&[
        "report",
        out.to_str().unwrap(),
        "--waivers",
        "fixtures/waivers/linphone.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-3"), "waived");
    assert_eq!(verdict(&r, "DR-4"), "passed");
}

/// linphonec registered through the harness core's TLS edge
/// (fixtures/sut/linphone-ims-tls.yaml): it checks the core's certificate
/// chain against the run's lab CA and takes every MESSAGE over the
/// connection it registered on. The same verdicts as direct, except DR-4,
/// which does not apply: over a reliable transport its server transaction
/// ends with the response (RFC 3261 §17.2.2, Timer J = 0), so a copy is a
/// new request.
#[test]
fn linphonec_registered_through_the_core_over_tls() {
    require_program("linphonec", "linphone-cli");
    let out = tmpdir("linphonec-ims-tls");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/linphone-ims-tls.yaml",
        "--strict",
        "--waivers",
        "fixtures/waivers/linphone.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-1", "DR-2", "IMS-2", "IMS-7"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-3"), "waived", "{}", text(&o));
    assert_eq!(verdict(&r, "DR-4"), "not-run", "{}", text(&o));
}

/// JsSIP 3.13 (npm, in Node.js) as an im-client over WebSocket (RFC 7118):
/// it connects to the harness IMS core's WebSocket edge, registers, and
/// takes the scenarios' MESSAGEs over that connection. DR-1, DR-2, IMS-2
/// and IMS-7 pass; it answers 200 to a body type it cannot show (DR-3,
/// waived); DR-4 (retransmissions) does not apply to a client reached
/// over a stream.
#[test]
fn jssip_as_im_client_over_websocket() {
    require_program("node", "nodejs");
    let out = tmpdir("jssip");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/jssip.yaml",
        "--strict",
        "--waivers",
        "fixtures/waivers/jssip.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-1", "DR-2", "IMS-2", "IMS-7"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert_eq!(verdict(&r, "DR-3"), "waived", "{}", text(&o));
    assert_eq!(verdict(&r, "DR-4"), "not-run", "{}", text(&o));
    // The MESSAGEs reached it over its WebSocket connection (the core's
    // Via names WS), in the scenario's own pcap.
    let dr1 = std::fs::read_dir(out.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .contains("a-text-plain-message-is-answered")
        })
        .unwrap();
    let bytes = std::fs::read(&dr1).unwrap();
    assert!(
        bytes.windows(11).any(|w| w == b"SIP/2.0/WS "),
        "no WS Via in {}",
        dr1.display()
    );
    // Over secure WebSocket (fixtures/sut/jssip-wss.yaml): JsSIP connects
    // to the core's wss: edge, trusting the run's lab CA (LIAISON_TLS_CA),
    // and registers over it; the MESSAGEs reach it over that TLS connection.
    let out = tmpdir("jssip-wss");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/jssip-wss.yaml",
        "--strict",
        "--tags",
        "@DR-1 or @IMS-7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-1", "IMS-7"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    assert!(r["runs"][0]["tls"]["lab_ca"].is_string(), "{}", text(&o));
}

/// Kamailio with its TLS module as an im-server over TLS (RFC 3261
/// §26.3.1): started with the certificate the run's lab CA issued, checked
/// against that CA; the recipients register sips: contacts over TLS and
/// Kamailio connects to them, checking the harness's certificate. DR-5 and
/// IMS-17 pass; without its configuration's sips: check (lookup() alone),
/// a sips: MESSAGE reaches a sip: contact over UDP and IMS-17 fails.
#[test]
fn kamailio_as_im_server_over_tls() {
    require_program("kamailio", "kamailio");
    let out = tmpdir("kamailio-tls");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-tls.yaml",
        "--strict",
        "--tags",
        "@transport:tls",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-5"), "passed", "{}", text(&o));
    assert_eq!(verdict(&r, "IMS-17"), "passed", "{}", text(&o));
    assert_eq!(r["summary"]["scenarios"]["passed"], 4, "{}", text(&o));
    // Every scenario's TLS connections are in the report: the harness's
    // to Kamailio's sip.tls, checked against the lab CA.
    let tls = r["scenarios"][0]["tls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tls.iter().any(|t| t["peer"] == "127.0.0.1:15181"
            && t["peer_certificate"]
                .as_str()
                .is_some_and(|c| c.contains("lab CA and is valid"))),
        "{tls:?}"
    );
    let (r, o) = run_variant(
        "kamailio-tls.yaml",
        "LIAISON_KAMAILIO_TLS_PORT: \"15181\"",
        "LIAISON_KAMAILIO_TLS_PORT: \"15181\", LIAISON_KAMAILIO_SIPS_UNCHECKED: \"1\"",
        "@IMS-17",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&r, "IMS-17"), "failed", "{}", text(&o));
    // Checked against a CA that did not sign its certificate, Kamailio's
    // certificate is refused: the scenario fails, naming the requirement
    // and what the TLS layer said, at once (no wait for a timeout).
    let (r, o) = run_variant(
        "kamailio-tls.yaml",
        "harness: { address: 127.0.0.1 }",
        "harness: { address: 127.0.0.1 }\ntls: { ca_files: [fixtures/tls/other-ca.pem] }",
        "@DR-5 and @transport:tls",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&r, "DR-5"), "failed", "{}", text(&o));
    let failure = r["scenarios"][0]["failure"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        failure.starts_with("DR-5: expected the SUT to complete a TLS handshake")
            && failure.contains("refused"),
        "{failure}"
    );
    assert!(
        r["scenarios"][0]["duration_ms"].as_u64().unwrap() < 3000,
        "{}",
        r["scenarios"][0]
    );
}

/// Kamailio with its WebSocket module as an im-server over WebSocket
/// (RFC 7118): the harness's originator connects to sip.ws with the `sip`
/// subprotocol, and the recipient's 200 and 486 come back over that
/// connection (DR-5); then the same over secure WebSocket (`wss:`).
#[test]
fn kamailio_as_im_server_over_websocket() {
    require_program("kamailio", "kamailio");
    let out = tmpdir("kamailio-ws");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-ws.yaml",
        "--strict",
        "--tags",
        "@transport:ws",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-5"), "passed", "{}", text(&o));
    assert_eq!(r["summary"]["scenarios"]["passed"], 2, "{}", text(&o));
    // The same over secure WebSocket (wss:, its WSS listener presenting the
    // certificate the run's lab CA issued): TLS, then the upgrade.
    let out = tmpdir("kamailio-wss");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-wss.yaml",
        "--strict",
        "--tags",
        "@transport:ws",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-5"), "passed", "{}", text(&o));
    assert_eq!(r["summary"]["scenarios"]["passed"], 2, "{}", text(&o));
    assert_eq!(
        r["scenarios"][0]["tls"][0]["peer"],
        "127.0.0.1:15283",
        "{}",
        text(&o)
    );
}

/// Runs a variant of a real SUT's profile: `fixture` (under fixtures/sut/)
/// with `from` replaced by `to` (which must change it), only the scenarios
/// `tags` selects. Returns the report and the output.
fn run_variant(
    fixture: &str,
    from: &str,
    to: &str,
    tags: &str,
) -> (serde_json::Value, std::process::Output) {
    let d = tmpdir(&format!("variant-{}", fixture.trim_end_matches(".yaml")));
    let original = std::fs::read_to_string(root().join("fixtures/sut").join(fixture)).unwrap();
    let changed = original.replace(from, to);
    assert_ne!(changed, original, "{fixture}: `{from}` not found");
    let profile = d.join(fixture);
    std::fs::write(&profile, changed).unwrap();
    let out = d.join("out");
    let o = liaison(&[
        "run",
        "--sut",
        profile.to_str().unwrap(),
        "--tags",
        tags,
        "--out",
        out.to_str().unwrap(),
    ]);
    (report(&out), o)
}

/// An SMS–IM interworking function assembled from Debian parts
/// (fixtures/sut/kannel-iwf/): Kannel's bearerbox binds to the harness SMSC,
/// smsbox POSTs each SMS to Kamailio's xhttp, Kamailio sends the MESSAGE
/// (uac_req_send) and a status SMS back through Kannel's sendsms. The
/// MESSAGE and its text are right; the deliver_sm_resp is ESME_ROK before
/// the IM outcome exists (DR-21, DR-22, DR-23 fail; waived with evidence).
/// Recipients 1556… go over TLS (Kamailio's tls module, the run's lab CA).
/// Each run gets ports of its own (free_port), so no lock: the two runs go
/// side by side.
#[test]
fn kannel_and_kamailio_as_sms_im_iwf() {
    assert!(
        std::path::Path::new("/usr/sbin/bearerbox").is_file()
            && std::path::Path::new("/usr/sbin/smsbox").is_file(),
        "Kannel's bearerbox and smsbox are not installed: apt-get install kannel; .ci/run does. A missing tool is a failure, never a skip."
    );
    require_program("kamailio", "kamailio");
    assert!(
        std::path::Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/http_client.so").is_file(),
        "Kamailio's http_client module is not installed: apt-get install kamailio-utils-modules; .ci/run does. A missing module is a failure, never a skip."
    );
    let fixture = std::fs::read_to_string(root().join("fixtures/sut/kannel-iwf.yaml")).unwrap();
    // The fixture's fixed ports (run.sh's defaults), each replaced by a free one.
    let profile = || {
        let fixed = [
            "21775", "21099", "21098", "21060", "21061", "21013", "21015", "21014",
        ];
        let mut p = fixture.clone();
        for (i, port) in fixed.iter().enumerate() {
            assert!(p.contains(port), "fixture port {port}");
            p = p.replace(port, &format!("@PORT{i}@"));
        }
        for i in 0..fixed.len() {
            p = p.replace(&format!("@PORT{i}@"), &free_port("127.0.0.1").to_string());
        }
        p
    };
    let (raw, waived) = (profile(), profile());
    let started = std::time::Instant::now();
    let ((o, r, out), (ow, rw, _)) = std::thread::scope(|s| {
        let a = s.spawn(|| run_profile(&raw, &["--strict"], "kannel-iwf-raw"));
        let b = s.spawn(|| {
            run_profile(
                &waived,
                &["--strict", "--waivers", "fixtures/waivers/kannel-iwf.yaml"],
                "kannel-iwf-waived",
            )
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    eprintln!("kannel-iwf: both runs in {:?}", started.elapsed());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for id in ["DR-21", "DR-22", "DR-23"] {
        assert_eq!(verdict(&r, id), "failed", "{id}: {}", text(&o));
    }
    // No SME acknowledgement (Kannel cannot send esm_class 0x08), no MSRP.
    for id in ["DR-24", "DR-25"] {
        assert_eq!(verdict(&r, id), "not-run", "{id}: {}", text(&o));
    }
    // Every scenario gets as far as the deliver_sm_resp and fails there: the
    // MESSAGE (Request-URI, the GSM 7-bit and UCS-2 texts in UTF-8 with
    // charset=UTF-8) passed where a scenario checks it.
    let scenarios = r["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 8, "{}", text(&o));
    for s in scenarios {
        assert_eq!(s["verdict"], "failed", "{s}");
        let steps = s["steps"].as_array().unwrap();
        let failed: Vec<_> = steps.iter().filter(|t| t["outcome"] == "failed").collect();
        assert_eq!(failed.len(), 1, "{s}");
        assert!(
            failed[0]["text"]
                .as_str()
                .unwrap()
                .contains("with ESME_ROK"),
            "{s}"
        );
        assert!(
            s["failure"].as_str().unwrap().contains("deliver_sm_resp")
                && s["failure"].as_str().unwrap().contains("ESME_ROK"),
            "{s}"
        );
        for t in steps {
            if t["text"]
                .as_str()
                .unwrap()
                .starts_with("the IM recipient receives the SMS text as a MESSAGE")
            {
                assert_eq!(t["outcome"], "passed", "{s}");
            }
        }
    }
    // The 1556… recipient over TLS (iwf.ims_core_tls): Kamailio's tls module
    // checked the core's certificate against the run's lab CA.
    let tls = &r["runs"][0]["pcaps"][0]["tls"][0];
    assert_eq!(tls["version"], "TLS 1.3", "{}", r["runs"]);
    // (The outcome reaches Kannel afterwards as a plain status SMS, about
    // 1.1 s into a 2 s scenario: not asserted here, where a loaded CI
    // machine could stop the SUT first; NOTES.md has it with the bytes.)
    let _ = out;
    // With the written waivers: exit 0, the three reported waived.
    assert_eq!(ow.status.code(), Some(0), "{}", text(&ow));
    for id in ["DR-21", "DR-22", "DR-23"] {
        assert_eq!(verdict(&rw, id), "waived", "{id}: {}", text(&ow));
    }
}

/// baresip 1.0's presence module as the presence-client SUT, registered
/// and publishing through the harness IMS core; the harness stands for the
/// user through the fixture's trigger (presence_trigger.py typing into
/// baresip's console). It publishes well-formed PIDF for the status chosen
/// and publishes anew after a 412; it refreshes by its own interval,
/// ignoring the shorter Expires the server granted (waived with evidence,
/// fixtures/waivers/baresip-presence.yaml).
#[test]
fn baresip_as_presence_client() {
    require_program("baresip", "baresip");
    require_program("python3", "python3");
    let out = tmpdir("baresip-presence");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/baresip-presence.yaml",
        "--waivers",
        "fixtures/waivers/baresip-presence.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "PRES-11"), "passed", "{}", text(&o));
    assert_eq!(verdict(&r, "PRES-12"), "waived", "{}", text(&o));
    let scenarios = r["scenarios"].as_array().cloned().unwrap_or_default();
    let failed: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["failure"].as_str())
        .collect();
    assert!(
        failed.len() == 1 && failed[0].contains("within the 2 s the server granted"),
        "only the refresh by the granted Expires fails: {failed:?}"
    );
}

/// Kamailio 5.6 as XDMS and presence server (fixtures/sut/kamailio-presence/):
/// xcap_server behind the harness's aggregation proxy, presence and
/// presence_xml behind the harness IMS core, pres-rules through the same
/// XCAP server. The identity checks (asserted identity only from the core
/// and the proxy, one's own documents, only the presentity publishes) are
/// the configuration's; the module's own deviations are waived with
/// evidence (fixtures/waivers/kamailio-presence.yaml). One test: both runs
/// use the fixture's fixed ports.
#[test]
fn kamailio_as_presence_server_and_xdms() {
    require_program("kamailio", "kamailio");
    assert!(
        std::path::Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/presence.so").is_file(),
        "Kamailio's presence modules are not installed: apt-get install kamailio-presence-modules; .ci/run does. A missing tool is a failure, never a skip."
    );
    let out = tmpdir("kamailio-presence");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/kamailio-presence.yaml",
        "--waivers",
        "fixtures/waivers/kamailio-presence.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in [
        "GM-1", "GM-2", "GM-4", "PRES-2", "PRES-3", "PRES-4", "PRES-5", "PRES-7", "PRES-8",
        "PRES-10",
    ] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
    for id in [
        "GM-3", "GM-5", "GM-6", "GM-7", "GM-9", "PRES-1", "PRES-6", "PRES-9",
    ] {
        assert_eq!(verdict(&r, id), "waived", "{id}: {}", text(&o));
    }
    // Not declared: PoC group documents (xcap_server knows no PoC AUID).
    assert_eq!(verdict(&r, "GM-8"), "not-run", "{}", text(&o));
    // The module's default identifies a watcher by its From
    // (handle_subscribe() without "$ai"): then a spoofed From gets the
    // presence its asserted identity may not have.
    // (3 s for the scenario: the NOTIFY it waits for never comes.)
    let (r, o) = run_variant(
        "kamailio-presence.yaml",
        "scenario_timeout_s: 4 }\nlaunch:\n  command: [fixtures/sut/kamailio-presence/run.sh]\n",
        "scenario_timeout_s: 3 }\nlaunch:\n  command: [fixtures/sut/kamailio-presence/run.sh]\n  env: { LIAISON_KAMAILIO_WATCHER_FROM: \"1\" }\n",
        "@PRES-2",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(verdict(&r, "PRES-2"), "failed", "{}", text(&o));
    let failure = r["scenarios"][0]["failure"].as_str().unwrap_or("");
    assert!(
        failure.contains("a NOTIFY to `bob`") && failure.contains("Subscription-State active"),
        "{failure}"
    );
}
