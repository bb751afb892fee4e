//! What this binary is: the suite's version, the source revision it was
//! built from (build.rs), and the digests of the requirement catalogue and
//! the feature files compiled into it. `liaison --version` prints them;
//! report.json records them (`suite`), so a report names what judged it.

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The source revision (a commit's first 12 hex digits, a packager's
/// `LIAISON_REVISION`, or `unknown`).
pub const REVISION: &str = env!("LIAISON_REVISION");

/// The compiled-in catalogue's digest (report.json's `catalogue.digest`).
pub fn catalogue_digest() -> String {
    crate::catalogue::Catalogue::embedded()
        .map(|c| crate::report::CatalogueInfo::of(&c).digest)
        .unwrap_or_else(|_| "unreadable".into())
}

/// The compiled-in feature files' digest (with the catalogue's text).
pub fn features_digest() -> String {
    format!("{:016x}", crate::runner::embedded::content_hash())
}

/// `liaison --version`'s text after the name.
pub fn long_version() -> String {
    format!(
        "{VERSION}\nrevision {REVISION}\ncatalogue {}\nfeatures {}",
        catalogue_digest(),
        features_digest()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_version_names_revision_and_digests() {
        let v = super::long_version();
        assert!(v.starts_with(super::VERSION), "{v}");
        assert!(
            v.contains("\nrevision ") && !super::REVISION.is_empty(),
            "{v}"
        );
        let cat = super::catalogue_digest();
        assert_eq!(cat.len(), 12, "{cat}");
        assert!(v.contains(&format!("catalogue {cat}")), "{v}");
    }
}
