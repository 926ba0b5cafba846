//! Where a database URI points: a file whose directory may need creating,
//! or a database that lives only inside one connection.

use std::path::PathBuf;

/// What [`classify`] found out about a database URI.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Location {
    /// In-memory (`:memory:`, `mode=memory`) or SQLite's private temporary
    /// database (`""`): every new connection would see a *different* (or no
    /// shared) database, so all reads must go through the writer's
    /// connection.
    Private,
    /// A file on disk; the path is `None` when it could not be worked out
    /// from a `file:` URI (SQLite then reports any problem itself).
    File(Option<PathBuf>),
}

/// Classifies `uri` the way SQLite (opened with `SQLITE_OPEN_URI`) reads it.
pub(super) fn classify(uri: &str) -> Location {
    if uri.is_empty() || uri == ":memory:" {
        return Location::Private;
    }
    let Some(rest) = uri.strip_prefix("file:") else {
        return Location::File(Some(PathBuf::from(uri)));
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    };
    let query = query.split('#').next().unwrap_or_default();
    let path = path.split('#').next().unwrap_or_default();
    let in_memory = query.split('&').any(|param| param == "mode=memory");
    if in_memory || path == ":memory:" || path.is_empty() {
        return Location::Private;
    }
    // `file://host/path`: SQLite accepts only an empty or `localhost` host.
    let path = match path.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(slash) => &after[slash..],
            None => return Location::File(None),
        },
        None => path,
    };
    Location::File(Some(PathBuf::from(percent_decode(path))))
}

/// Decodes `%XX` escapes; malformed ones are kept as written, as SQLite
/// would then fail to open a path that does not exist anyway.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hexadecimal digit.
fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_databases() {
        for uri in [
            "",
            ":memory:",
            "file::memory:",
            "file::memory:?cache=shared",
            "file:x?mode=memory&cache=shared",
        ] {
            assert_eq!(classify(uri), Location::Private, "{uri}");
        }
    }

    #[test]
    fn file_paths() {
        let file = |p: &str| Location::File(Some(PathBuf::from(p)));
        assert_eq!(classify("./data/tandem.db"), file("./data/tandem.db"));
        assert_eq!(classify("file:data/t.db?mode=rwc"), file("data/t.db"));
        assert_eq!(classify("file:///tmp/a%20b.db"), file("/tmp/a b.db"));
        assert_eq!(classify("file://localhost/tmp/x.db"), file("/tmp/x.db"));
        assert_eq!(classify("file:bad%zz%4"), file("bad%zz%4"));
        assert_eq!(classify("file://host"), Location::File(None));
    }
}
