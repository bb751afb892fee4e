//! The feature files compiled into the binary, so that a binary copied
//! alone to a test lab (or installed) runs the whole suite: when neither
//! `--features DIR` nor `./features` is there, they are written once to a
//! folder of the system's temporary directory named after their content,
//! and read from there like any other.

use std::path::{Path, PathBuf};

/// Every `.feature` file under `features/`, by its path below it.
/// (`tests` below checks that the list matches the folder.)
pub const FEATURES: &[(&str, &str)] = &[
    (
        "deferred-messaging/im-server.feature",
        include_str!("../../features/deferred-messaging/im-server.feature"),
    ),
    (
        "delivery-reports/large-message-im-client.feature",
        include_str!("../../features/delivery-reports/large-message-im-client.feature"),
    ),
    (
        "delivery-reports/msrp-relay.feature",
        include_str!("../../features/delivery-reports/msrp-relay.feature"),
    ),
    (
        "delivery-reports/pager-im-client.feature",
        include_str!("../../features/delivery-reports/pager-im-client.feature"),
    ),
    (
        "delivery-reports/pager-im-server.feature",
        include_str!("../../features/delivery-reports/pager-im-server.feature"),
    ),
    (
        "delivery-reports/sms-im-iwf.feature",
        include_str!("../../features/delivery-reports/sms-im-iwf.feature"),
    ),
    (
        "group-management/xdms.feature",
        include_str!("../../features/group-management/xdms.feature"),
    ),
    (
        "ims-alignment/im-client.feature",
        include_str!("../../features/ims-alignment/im-client.feature"),
    ),
    (
        "ims-alignment/im-server-sips.feature",
        include_str!("../../features/ims-alignment/im-server-sips.feature"),
    ),
    (
        "ims-alignment/im-server.feature",
        include_str!("../../features/ims-alignment/im-server.feature"),
    ),
    (
        "mem/mem-server.feature",
        include_str!("../../features/mem/mem-server.feature"),
    ),
    (
        "mem/mms-relay-mm3.feature",
        include_str!("../../features/mem/mms-relay-mm3.feature"),
    ),
    (
        "mms/mms-client.feature",
        include_str!("../../features/mms/mms-client.feature"),
    ),
    (
        "mms/mms-relay.feature",
        include_str!("../../features/mms/mms-relay.feature"),
    ),
    (
        "poc/poc-server.feature",
        include_str!("../../features/poc/poc-server.feature"),
    ),
    (
        "presence/presence-client.feature",
        include_str!("../../features/presence/presence-client.feature"),
    ),
    (
        "presence/presence-server.feature",
        include_str!("../../features/presence/presence-server.feature"),
    ),
    (
        "push/im-offline.feature",
        include_str!("../../features/push/im-offline.feature"),
    ),
    (
        "push/ppg.feature",
        include_str!("../../features/push/ppg.feature"),
    ),
    (
        "push/push-client.feature",
        include_str!("../../features/push/push-client.feature"),
    ),
];

/// A short hash of every embedded file's path and text (FNV-1a, 64 bits):
/// a folder is reused only by the same set of files.
pub fn content_hash() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(crate::catalogue::EMBEDDED.as_bytes());
    for (p, t) in FEATURES {
        eat(p.as_bytes());
        eat(&[0]);
        eat(t.as_bytes());
        eat(&[0]);
    }
    h
}

/// A file of the written-out embedded features as `features/…` (the path
/// it has in the source tree), for reports and listings; `None` for any
/// other file. Both folder names [`materialize`] writes are recognised.
pub fn shown(file: &std::path::Path) -> Option<String> {
    let rest = file.strip_prefix(std::env::temp_dir()).ok()?;
    let mut parts = rest.components();
    let top = parts.next()?.as_os_str().to_str()?;
    let ours = top.starts_with(&format!("liaison-{}-features-", env!("CARGO_PKG_VERSION")))
        || top.starts_with("liaison-features-");
    ours.then(|| {
        std::path::Path::new("features")
            .join(parts.as_path())
            .display()
            .to_string()
    })
}

/// The folder holding the embedded features (and the catalogue, as
/// `requirements.yaml`), written now unless a complete copy is there.
/// Written under a temporary name and renamed, so that runs started
/// together never read a half-written folder; where a folder of that name
/// is there but not whole, the fresh copy is used as it is.
pub fn materialize() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    let dir = base.join(format!(
        "liaison-{}-features-{:016x}",
        env!("CARGO_PKG_VERSION"),
        content_hash()
    ));
    if complete(&dir) {
        return Ok(dir);
    }
    let tmp = base.join(format!(
        "liaison-features-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let fail =
        |e: std::io::Error| format!("writing the embedded features to {}: {e}", tmp.display());
    for (p, text) in FEATURES {
        let f = tmp.join(p);
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&f, text).map_err(fail)?;
    }
    std::fs::write(tmp.join("requirements.yaml"), crate::catalogue::EMBEDDED).map_err(fail)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another run put it there first: use theirs.
        Err(_) if complete(&dir) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        // A folder of that name that is not whole (cut by a temp cleaner,
        // or not ours): this run reads its own fresh copy instead.
        Err(_) => Ok(tmp),
    }
}

/// Every embedded file is in `dir` with its text.
fn complete(dir: &Path) -> bool {
    FEATURES
        .iter()
        .all(|(p, t)| std::fs::read_to_string(dir.join(p)).is_ok_and(|s| s == *t))
}

#[cfg(test)]
mod tests {
    #[test]
    fn written_out_files_are_shown_as_features() {
        let t = std::env::temp_dir();
        let f = t
            .join(format!(
                "liaison-{}-features-00ff",
                env!("CARGO_PKG_VERSION")
            ))
            .join("delivery-reports/a.feature");
        assert_eq!(
            super::shown(&f).as_deref(),
            Some("features/delivery-reports/a.feature")
        );
        let f = t.join("liaison-features-12-34/push/b.feature");
        assert_eq!(super::shown(&f).as_deref(), Some("features/push/b.feature"));
        assert_eq!(super::shown(&t.join("other/x.feature")), None);
        assert_eq!(
            super::shown(std::path::Path::new("features/x.feature")),
            None
        );
    }

    use super::*;

    #[test]
    fn the_embedded_list_is_the_features_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let mut on_disk = Vec::new();
        fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else if p.extension().is_some_and(|x| x == "feature") {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let embedded: Vec<String> = FEATURES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            embedded, on_disk,
            "src/runner/embedded.rs lists another set of files than features/: add or remove the include_str! lines"
        );
    }

    #[test]
    fn materialized_features_are_whole_and_reused() {
        let a = materialize().unwrap();
        assert!(complete(&a));
        assert!(a.join("requirements.yaml").is_file());
        let b = materialize().unwrap();
        assert_eq!(a, b);
    }
}
