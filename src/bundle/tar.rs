//! A small ustar (POSIX.1-1988 "ustar" interchange format, as kept in
//! POSIX.1-2001 `pax`) writer and a reader that treats the archive as hostile
//! input. Sans-IO: bytes in, bytes out.
//!
//! The writer emits regular files only, each a 512-byte header and its data
//! padded to 512 bytes, then two zero blocks; mode 0644, owner 0, mtime 0, so
//! the same files give the same bytes. Names longer than 100 bytes are split
//! into the header's prefix and name fields at a `/`.
//!
//! The reader never trusts a header: every size is checked against what is
//! left of the input and against the per-file and total limits before it is
//! used, the checksum must hold, names must be relative paths without `.` or
//! `..` components, and links, devices, extended headers and duplicates are
//! refused. A missing end-of-archive marker is a truncated archive.

use std::fmt;

const BLOCK: usize = 512;

/// One file in an archive: its path and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: String,
    pub data: &'a [u8],
}

/// Bounds the reader holds an archive to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file (bytes).
    pub max_file: u64,
    /// Most files.
    pub max_entries: usize,
}

/// Why an archive could not be read (each names the offset of the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarError {
    /// The input is not a whole number of 512-byte blocks, or ends before
    /// the end-of-archive marker, or before an entry's data.
    Truncated { offset: usize, what: String },
    /// A header's checksum does not match its bytes.
    BadChecksum {
        offset: usize,
        recorded: u32,
        computed: u32,
    },
    /// The header has no `ustar` magic: not a tar archive (or not ustar).
    NotUstar { offset: usize },
    /// A numeric field that is not octal digits.
    BadNumber { offset: usize, field: &'static str },
    /// An entry that is not a regular file or a folder.
    EntryType {
        offset: usize,
        name: String,
        typeflag: u8,
    },
    /// A name that is absolute, has `.`/`..`/empty components, is not UTF-8
    /// or holds control characters.
    BadName {
        offset: usize,
        name: String,
        why: &'static str,
    },
    /// The same name twice.
    Duplicate { offset: usize, name: String },
    /// A file larger than the limit.
    TooLarge {
        offset: usize,
        name: String,
        size: u64,
        max: u64,
    },
    /// More entries than the limit.
    TooManyEntries { offset: usize, max: usize },
    /// Bytes other than zeros after the end-of-archive marker.
    TrailingData { offset: usize },
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarError::Truncated { offset, what } => {
                write!(f, "truncated at offset {offset}: expected {what}")
            }
            TarError::BadChecksum {
                offset,
                recorded,
                computed,
            } => write!(
                f,
                "header at offset {offset}: checksum {recorded:o} recorded, {computed:o} computed (corrupt)"
            ),
            TarError::NotUstar { offset } => write!(
                f,
                "header at offset {offset}: expected a ustar tar header (magic `ustar`), came other bytes: not a tar archive"
            ),
            TarError::BadNumber { offset, field } => write!(
                f,
                "header at offset {offset}: field `{field}` is not an octal number"
            ),
            TarError::EntryType {
                offset,
                name,
                typeflag,
            } => write!(
                f,
                "header at offset {offset}: `{name}` is of type `{}` ({}); expected regular files only",
                (*typeflag as char).escape_default(),
                match typeflag {
                    b'1' => "a hard link",
                    b'2' => "a symbolic link",
                    b'3' | b'4' => "a device",
                    b'6' => "a FIFO",
                    b'x' | b'g' => "a pax extended header",
                    b'L' | b'K' => "a GNU long name",
                    _ => "unknown",
                }
            ),
            TarError::BadName { offset, name, why } => {
                write!(f, "header at offset {offset}: name `{name}` {why}")
            }
            TarError::Duplicate { offset, name } => {
                write!(f, "header at offset {offset}: `{name}` a second time")
            }
            TarError::TooLarge {
                offset,
                name,
                size,
                max,
            } => write!(
                f,
                "header at offset {offset}: `{name}` declares {size} bytes; at most {max} accepted"
            ),
            TarError::TooManyEntries { offset, max } => {
                write!(f, "header at offset {offset}: more than {max} entries")
            }
            TarError::TrailingData { offset } => write!(
                f,
                "offset {offset}: bytes after the end-of-archive marker"
            ),
        }
    }
}

impl std::error::Error for TarError {}

/// Why a file could not be written into an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The name does not fit ustar's 100 + 155 bytes, or is not a clean
    /// relative path.
    Name { name: String, why: &'static str },
    /// Larger than ustar's 11 octal digits (8 GiB).
    TooLarge { name: String },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Name { name, why } => write!(f, "`{name}`: {why}"),
            WriteError::TooLarge { name } => write!(f, "`{name}`: larger than a ustar entry holds"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Checks a relative path: non-empty components, none `.` or `..`, not
/// absolute, no backslash or control character.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.starts_with('/') {
        return Err("is absolute");
    }
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return Err("holds a control character or a backslash");
    }
    for c in name.split('/') {
        match c {
            "" => return Err("has an empty component"),
            "." | ".." => return Err("has a `.` or `..` component"),
            _ => {}
        }
    }
    Ok(())
}

/// Writes `files` (in the order given) as a ustar archive.
pub fn write(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, WriteError> {
    let total: usize = files
        .iter()
        .map(|(_, d)| BLOCK + d.len().div_ceil(BLOCK) * BLOCK)
        .sum();
    let mut out = Vec::with_capacity(total + 2 * BLOCK);
    for (name, data) in files {
        check_name(name).map_err(|why| WriteError::Name {
            name: name.clone(),
            why,
        })?;
        let (prefix, short) = split_name(name).ok_or_else(|| WriteError::Name {
            name: name.clone(),
            why: "too long for a ustar header (100 bytes, or 155 + 100 split at a `/`)",
        })?;
        if data.len() as u64 > 0o777_7777_7777 {
            return Err(WriteError::TooLarge { name: name.clone() });
        }
        let mut h = [0u8; BLOCK];
        h[..short.len()].copy_from_slice(short.as_bytes());
        put_octal(&mut h[100..108], 0o644);
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        put_octal(&mut h[124..136], data.len() as u64);
        put_octal(&mut h[136..148], 0);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        // Six octal digits, a NUL, a space (the customary layout).
        let digits = format!("{sum:06o}");
        h[148..154].copy_from_slice(digits.as_bytes());
        h[154] = 0;
        h[155] = b' ';
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

/// (prefix, name) fields for a path, or None when it does not fit.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    // The last `/` that leaves a name of at most 100 and a prefix of at most 155.
    name.char_indices()
        .filter(|&(i, c)| c == '/' && i <= 155 && name.len() - i - 1 <= 100 && i > 0)
        .map(|(i, _)| (&name[..i], &name[i + 1..]))
        .next()
}

fn put_octal(field: &mut [u8], v: u64) {
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    field[..w].copy_from_slice(s.as_bytes());
    field[w] = 0;
}

/// An octal field: optional leading spaces, octal digits, then only NULs
/// or spaces (an empty field is 0).
fn octal(field: &[u8], offset: usize, name: &'static str) -> Result<u64, TarError> {
    let bad = TarError::BadNumber {
        offset,
        field: name,
    };
    let start = field.iter().take_while(|&&b| b == b' ').count();
    let digits = field[start..]
        .iter()
        .take_while(|b| (b'0'..=b'7').contains(*b))
        .count();
    if !field[start + digits..].iter().all(|&b| b == 0 || b == b' ') || digits > 21 {
        return Err(bad);
    }
    Ok(field[start..start + digits]
        .iter()
        .fold(0u64, |v, b| v * 8 + (b - b'0') as u64))
}

/// A NUL-terminated field's text (as bytes).
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Reads a ustar archive. Folder entries are accepted and left out of the
/// result; every other entry type is refused.
pub fn read(bytes: &[u8], limits: Limits) -> Result<Vec<Entry<'_>>, TarError> {
    let mut entries: Vec<Entry<'_>> = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let mut at = 0usize;
    let mut headers = 0usize;
    loop {
        let Some(h) = bytes.get(at..at + BLOCK) else {
            return Err(TarError::Truncated {
                offset: at,
                what: if at == bytes.len() {
                    "a header or the end-of-archive marker, came the end of the input".into()
                } else {
                    format!(
                        "a 512-byte header, came {} bytes and the end of the input",
                        bytes.len() - at
                    )
                },
            });
        };
        if h.iter().all(|&b| b == 0) {
            // End of archive: a second zero block, then only zeros.
            let next = at + BLOCK;
            if bytes.len() < next + BLOCK {
                return Err(TarError::Truncated {
                    offset: next,
                    what: "the second zero block of the end-of-archive marker".into(),
                });
            }
            if let Some(i) = bytes[next..].iter().position(|&b| b != 0) {
                return Err(TarError::TrailingData { offset: next + i });
            }
            return Ok(entries);
        }
        headers += 1;
        if headers > limits.max_entries {
            return Err(TarError::TooManyEntries {
                offset: at,
                max: limits.max_entries,
            });
        }
        let magic = &h[257..265];
        if magic != b"ustar\x0000" && magic != b"ustar  \0" {
            return Err(TarError::NotUstar { offset: at });
        }
        let recorded = octal(&h[148..156], at, "chksum")? as u32;
        let computed: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    b' ' as u32
                } else {
                    b as u32
                }
            })
            .sum();
        if recorded != computed {
            return Err(TarError::BadChecksum {
                offset: at,
                recorded,
                computed,
            });
        }
        let raw_name = cstr(&h[..100]);
        let prefix = cstr(&h[345..500]);
        let mut full = Vec::with_capacity(prefix.len() + 1 + raw_name.len());
        if !prefix.is_empty() && magic == b"ustar\x0000" {
            full.extend_from_slice(prefix);
            full.push(b'/');
        }
        full.extend_from_slice(raw_name);
        let shown = String::from_utf8_lossy(&full).into_owned();
        let name = String::from_utf8(full).map_err(|_| TarError::BadName {
            offset: at,
            name: shown.clone(),
            why: "is not UTF-8",
        })?;
        let typeflag = h[156];
        let size = octal(&h[124..136], at, "size")?;
        // Folder entries carry a trailing `/`.
        let is_dir = typeflag == b'5';
        let clean = if is_dir {
            name.trim_end_matches('/')
        } else {
            name.as_str()
        };
        if !matches!(typeflag, b'0' | 0 | b'5') {
            return Err(TarError::EntryType {
                offset: at,
                name: shown,
                typeflag,
            });
        }
        check_name(clean).map_err(|why| TarError::BadName {
            offset: at,
            name: shown.clone(),
            why,
        })?;
        if size > limits.max_file {
            return Err(TarError::TooLarge {
                offset: at,
                name: shown,
                size,
                max: limits.max_file,
            });
        }
        let data_at = at + BLOCK;
        let left = (bytes.len() - data_at) as u64;
        if size > left {
            return Err(TarError::Truncated {
                offset: data_at,
                what: format!("{size} bytes of `{name}`, came {left}"),
            });
        }
        let size = size as usize;
        let padded = size.div_ceil(BLOCK) * BLOCK;
        if bytes.len() - data_at < padded {
            return Err(TarError::Truncated {
                offset: data_at + size,
                what: format!("`{name}`'s data padded to a 512-byte block"),
            });
        }
        if !names.insert(clean.to_string()) {
            return Err(TarError::Duplicate {
                offset: at,
                name: clean.to_string(),
            });
        }
        if !is_dir {
            entries.push(Entry {
                name,
                data: &bytes[data_at..data_at + size],
            });
        } else if size != 0 {
            return Err(TarError::BadName {
                offset: at,
                name: shown,
                why: "is a folder with data",
            });
        }
        at = data_at + padded;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_file: 1 << 20,
        max_entries: 100,
    };

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("b/MANIFEST".into(), b"x\n".to_vec()),
            ("b/report/pcaps/one.pcap".into(), vec![7u8; 1000]),
            ("b/empty".into(), Vec::new()),
            (
                format!("b/{}/{}", "d".repeat(120), "f".repeat(90)),
                b"long".to_vec(),
            ),
        ]
    }

    #[test]
    fn round_trip_and_deterministic() {
        let a = write(&files()).unwrap();
        assert_eq!(a, write(&files()).unwrap());
        assert_eq!(a.len() % BLOCK, 0);
        let e = read(&a, L).unwrap();
        let back: Vec<(String, Vec<u8>)> = e
            .iter()
            .map(|e| (e.name.clone(), e.data.to_vec()))
            .collect();
        assert_eq!(back, files());
    }

    #[test]
    fn names_that_do_not_fit_are_refused_on_writing() {
        let long = vec![("a".repeat(300), vec![])];
        assert!(matches!(write(&long), Err(WriteError::Name { .. })));
        let up = vec![("a/../b".to_string(), vec![])];
        assert!(matches!(write(&up), Err(WriteError::Name { .. })));
    }

    /// Builds one header by hand (name, typeflag, size), checksum fixed.
    fn header(name: &[u8], typeflag: u8, size: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[124..124 + size.len()].copy_from_slice(size);
        h[156] = typeflag;
        h[257..265].copy_from_slice(b"ustar\x0000");
        fix_sum(&mut h);
        h
    }

    fn fix_sum(h: &mut [u8]) {
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    fn archive(h: Vec<u8>, data: usize) -> Vec<u8> {
        let mut a = h;
        a.resize(a.len() + data.div_ceil(BLOCK) * BLOCK + 2 * BLOCK, 0);
        a
    }

    #[test]
    fn hostile_archives_are_refused_with_their_offset() {
        let ok = write(&files()).unwrap();
        // Truncated anywhere: mid-header, mid-data, before the end marker.
        for cut in [0, 100, 512, 700, 1536, ok.len() - 512, ok.len() - 1] {
            let e = read(&ok[..cut], L).unwrap_err();
            assert!(matches!(e, TarError::Truncated { .. }), "cut {cut}: {e}");
        }
        // Not a tar archive.
        let e = read(&[b'{'; 2048], L).unwrap_err();
        assert!(matches!(e, TarError::NotUstar { offset: 0 }), "{e}");
        assert!(e.to_string().contains("not a tar archive"), "{e}");
        // A flipped byte in a header.
        let mut bad = ok.clone();
        bad[3] ^= 1;
        assert!(matches!(
            read(&bad, L),
            Err(TarError::BadChecksum { offset: 0, .. })
        ));
        // A size that is not octal, or larger than what follows (huge sizes
        // are never allocated).
        let e = read(&archive(header(b"a", b'0', b"9999"), 0), L).unwrap_err();
        assert!(
            matches!(e, TarError::BadNumber { field: "size", .. }),
            "{e}"
        );
        let e = read(&archive(header(b"a", b'0', b"77777777777"), 0), L).unwrap_err();
        assert!(matches!(e, TarError::TooLarge { .. }), "{e}");
        let big = Limits {
            max_file: u64::MAX,
            max_entries: 10,
        };
        let e = read(&archive(header(b"a", b'0', b"77777777777"), 0), big).unwrap_err();
        assert!(matches!(e, TarError::Truncated { .. }), "{e}");
        // Base-256 (GNU) sizes are not octal.
        let mut h = header(b"a", b'0', b"");
        h[124] = 0x80;
        h[135] = 1;
        fix_sum(&mut h);
        assert!(matches!(
            read(&archive(h, 0), L),
            Err(TarError::BadNumber { .. })
        ));
        // Path traversal, absolute names, links, devices, pax headers.
        for n in [
            &b"../etc/passwd"[..],
            b"/etc/passwd",
            b"a/./b",
            b"a//b",
            b"a\\b",
        ] {
            let e = read(&archive(header(n, b'0', b"0"), 0), L).unwrap_err();
            assert!(matches!(e, TarError::BadName { .. }), "{e}");
        }
        for t in [b'1', b'2', b'3', b'6', b'x', b'L'] {
            let e = read(&archive(header(b"a", t, b"0"), 0), L).unwrap_err();
            assert!(matches!(e, TarError::EntryType { .. }), "{e}");
        }
        let e = read(&archive(header(&[0xff, 0xfe], b'0', b"0"), 0), L).unwrap_err();
        assert!(matches!(e, TarError::BadName { .. }), "{e}");
        // The same name twice.
        let mut two = header(b"a", b'0', b"0");
        two.extend(header(b"a", b'0', b"0"));
        let e = read(&archive(two, 0), L).unwrap_err();
        assert!(matches!(e, TarError::Duplicate { offset: 512, .. }), "{e}");
        // Too many entries.
        let many: Vec<(String, Vec<u8>)> = (0..101).map(|i| (format!("f{i}"), vec![])).collect();
        let e = read(&write(&many).unwrap(), L).unwrap_err();
        assert!(matches!(e, TarError::TooManyEntries { .. }), "{e}");
        // Something after the end marker.
        let mut after = ok.clone();
        after.extend_from_slice(&[0u8; 511]);
        after.push(1);
        assert!(matches!(
            read(&after, L),
            Err(TarError::TrailingData { .. })
        ));
        // Folder entries are fine; folders with data are not.
        let d = archive(header(b"dir/", b'5', b"0"), 0);
        assert_eq!(read(&d, L).unwrap(), vec![]);
    }

    #[test]
    fn random_bytes_never_panic() {
        let ok = write(&files()).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut b = ok.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            let _ = read(&b, L);
            let cut = (x as usize >> 3) % b.len();
            let _ = read(&b[..cut], L);
        }
    }
}
