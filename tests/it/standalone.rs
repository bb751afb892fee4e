//! A built binary copied alone into an empty folder runs the suite: the
//! feature files and the catalogue are compiled in (issue 17, item 1), and
//! nothing is read from the source tree.

use crate::common::*;
use std::process::Command;

#[test]
fn a_binary_copied_alone_runs_the_suite_from_an_empty_folder() {
    let d = tmpdir("standalone");
    let copy = d.join("bin/liaison");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(bin(), &copy).unwrap();
    // An empty working folder (no features/) and a temporary folder of its own.
    let work = d.join("work");
    let tmp = d.join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let alone = |args: &[&str]| {
        Command::new(&copy)
            .args(args)
            .current_dir(&work)
            .env("TMPDIR", &tmp)
            .output()
            .expect("run the copied binary")
    };

    // Every scenario of the source tree's features is known to it, in order.
    let o = alone(&["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("-features-")
        })
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let dir = &written[0];
    assert!(dir.join("requirements.yaml").is_file());
    let listed =
        String::from_utf8_lossy(&o.stdout).replace(&format!("{}/", dir.display()), "features/");
    let from_source = liaison(&["list"]);
    assert_eq!(
        listed,
        String::from_utf8_lossy(&from_source.stdout),
        "the copied binary lists other scenarios than the source tree"
    );

    // And runs them (a selection: the default run is covered elsewhere).
    let out = d.join("out");
    let o = alone(&[
        "run",
        "--quiet",
        "--tags",
        "@DR-1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&out);
    assert_eq!(r["summary"]["scenarios"]["failed"], 0, "{}", text(&o));
    assert!(r["summary"]["scenarios"]["passed"].as_u64().unwrap() >= 3);
    assert_eq!(verdict(&r, "DR-1"), "passed");
    // The report names the scenarios by their place in the source tree,
    // not by the temporary folder they were read from.
    for s in r["scenarios"].as_array().unwrap() {
        let at = s["location"].as_str().unwrap();
        assert!(at.starts_with("features/delivery-reports/"), "{at}");
    }
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        !page.contains("-features-"),
        "report.html names the temporary folder"
    );
    // A second run reuses the folder its first one wrote.
    let o = alone(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
}
