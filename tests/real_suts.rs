//! Real implementations, started by the harness from their profiles: baresip
//! 1.0 as im-client and Kamailio 5.6 as im-server (pager mode, store and
//! forward, the lifetime of stored messages). Their verdicts are the ones
//! the README's results table publishes; a change in either is a test failure.
//! A missing program fails the test (CI installs them), never skips it.

mod common;

use common::*;

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
    let out = tmpdir("baresip-waived");
    let o = liaison(&[
        "run",
        "--sut",
        "fixtures/sut/baresip.yaml",
        "--waivers",
        "fixtures/waivers/baresip.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(verdict(&r, "DR-4"), "waived");
    assert!(std::fs::read_to_string(out.join("sut-stdout.log"))
        .unwrap()
        .contains("MESSAGE"));
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
    // PUSH-18 is a SHOULD: its failure gates only with --strict.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    for id in ["DR-4", "DR-5", "DR-6", "DR-7"] {
        assert_eq!(verdict(&r, id), "passed", "{id}: {}", text(&o));
    }
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
    assert_eq!(verdict(&r, "DR-7"), "passed");
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
