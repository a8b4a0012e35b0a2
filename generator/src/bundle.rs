//! The files a component carries besides its modules: package data
//! (`pytz/zoneinfo/Europe/Paris`), distribution metadata, any file that
//! Python reads with `open` beside a module.
//!
//! componentize-py snapshots the imported modules, and the component has no
//! file system at run time. So the build packs every other file of the
//! Python path into a custom section, [`SECTION`], and the host that loads
//! the component unpacks it once into its cache and shows it to the guest,
//! read-only, where the build had it (`/0`, `/1`, ...: one folder per
//! Python path entry).
//!
//! The form: a little-endian `u32` count, then per file a `u32` path length,
//! the path (UTF-8, relative, `/`-separated, starting with its folder's
//! index), a `u64` length and the bytes.

use std::io;

/// The name of the custom section that holds the files.
pub const SECTION: &str = "snakebox:files";

/// The most files a component carries: more is refused when building and
/// when loading. Unpacking them is the cost (200,000 took 8 s).
pub const MAX_FILES: usize = 50_000;

/// The most bytes a component's files may hold together: they are held in
/// memory while they are unpacked.
pub const MAX_BYTES: u64 = 256 << 20;

/// Why `count` files of `bytes` bytes together are too many to carry, if
/// they are.
pub fn over_limits(count: usize, bytes: u64) -> Option<String> {
    if count > MAX_FILES {
        return Some(format!(
            "{count} files, and a component carries at most {MAX_FILES}"
        ));
    }
    if bytes > MAX_BYTES {
        return Some(format!(
            "{} MiB of files, and a component carries at most {} MiB",
            bytes.div_ceil(1 << 20),
            MAX_BYTES >> 20
        ));
    }
    None
}

/// Packs `(path, bytes)` pairs.
pub fn encode(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let size: usize = files.iter().map(|(p, b)| 12 + p.len() + b.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for (path, bytes) in files {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Unpacks what [`encode`] packed. Every path is checked to be relative and
/// to stay inside its folder: no `..`, no absolute path, no empty part; and
/// to start with its folder's index on the Python path (`0/…`), the one
/// name an engine's `--dir` flag gets from it.
pub fn decode(mut data: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
    let count = take_u32(&mut data)?;
    if let Some(over) = over_limits(count as usize, 0) {
        return Err(malformed(&over));
    }
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for _ in 0..count {
        let len = take_u32(&mut data)? as usize;
        let path = take(&mut data, len)?;
        let path =
            String::from_utf8(path.to_vec()).map_err(|_| malformed("a path is not UTF-8"))?;
        let safe = !path.starts_with('/')
            && path.split('/').all(|part| {
                !part.is_empty() && part != "." && part != ".." && !part.contains('\\')
            });
        if !safe {
            return Err(malformed(&format!("the path `{path}` leaves its folder")));
        }
        let index = path.split('/').next().unwrap_or_default();
        if !path.contains('/') || !index.bytes().all(|b| b.is_ascii_digit()) || index.len() > 4 {
            return Err(malformed(&format!(
                "the path `{}` does not start with a folder index",
                path.escape_debug()
            )));
        }
        let size = u64::from_le_bytes(take(&mut data, 8)?.try_into().expect("8 bytes"));
        total = total.saturating_add(size);
        if let Some(over) = over_limits(files.len() + 1, total) {
            return Err(malformed(&over));
        }
        let size = usize::try_from(size).map_err(|_| malformed("a file is too large"))?;
        files.push((path, take(&mut data, size)?.to_vec()));
    }
    if !data.is_empty() {
        return Err(malformed("bytes after the last file"));
    }
    Ok(files)
}

fn take<'a>(data: &mut &'a [u8], len: usize) -> io::Result<&'a [u8]> {
    if data.len() < len {
        return Err(malformed("cut short"));
    }
    let (head, rest) = data.split_at(len);
    *data = rest;
    Ok(head)
}

fn take_u32(data: &mut &[u8]) -> io::Result<u32> {
    Ok(u32::from_le_bytes(
        take(data, 4)?.try_into().expect("4 bytes"),
    ))
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed {SECTION} section: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn files_round_trip_and_paths_stay_inside() {
        let files = vec![
            ("2/pytz/zoneinfo/UTC".to_owned(), b"TZif".to_vec()),
            ("0/data.txt".to_owned(), Vec::new()),
        ];
        assert_eq!(decode(&encode(&files)).expect("decodes"), files);
        for path in ["../etc/passwd", "/etc/passwd", "2/../../x", "2//x", "2/./x"] {
            let error = decode(&encode(&[(path.to_owned(), vec![1])])).expect_err(path);
            assert!(
                error.to_string().contains("leaves its folder"),
                "{path}: {error}"
            );
        }
        assert!(decode(&encode(&files)[..10]).is_err(), "cut short");
        // The first part becomes an engine's `--dir` flag: only an index.
        for path in [
            "0 -S inherit-env --dir .::w/x",
            "x/data.txt",
            "data.txt",
            "99999/x",
        ] {
            let error = decode(&encode(&[(path.to_owned(), vec![1])])).expect_err(path);
            assert!(
                error
                    .to_string()
                    .contains("does not start with a folder index"),
                "{path}: {error}"
            );
        }
    }

    #[test]
    fn files_over_the_limits_are_named() {
        use super::{MAX_BYTES, MAX_FILES, over_limits};
        assert_eq!(over_limits(MAX_FILES, MAX_BYTES), None);
        let count = over_limits(MAX_FILES + 1, 0).expect("too many");
        assert_eq!(count, "50001 files, and a component carries at most 50000");
        let size = over_limits(1, MAX_BYTES + 1).expect("too large");
        assert_eq!(
            size,
            "257 MiB of files, and a component carries at most 256 MiB"
        );
    }
}
