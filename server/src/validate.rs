//! Checks on names that come from clients: document ids, client
//! identities, user names and languages.

/// Why a document id or client identity was refused.
pub fn document_id(id: &str, max_len: usize) -> Result<(), String> {
    token(id, 1, max_len, "document id")
}

/// A client identity (`Hello.client`): 16–64 URL-safe characters, so it
/// carries enough randomness to be unguessable.
pub fn client_key(key: &str) -> Result<(), String> {
    token(key, 16, 64, "client identity")
}

fn token(s: &str, min: usize, max: usize, what: &str) -> Result<(), String> {
    if s.len() < min || s.len() > max {
        return Err(format!("{what} must be {min}-{max} characters long"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("{what} may only contain A-Z a-z 0-9 _ -"));
    }
    Ok(())
}

/// Normalises a user name: trimmed, 1–`max_len` characters, no control
/// characters.
pub fn user_name(name: &str, max_len: usize) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name must not be empty".into());
    }
    if name.chars().count() > max_len {
        return Err(format!("name must be at most {max_len} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// The languages the editor knows (docs/protocol.md lists the same).
pub const LANGUAGES: &[&str] = &[
    "plaintext",
    "bat",
    "c",
    "cpp",
    "csharp",
    "css",
    "dockerfile",
    "go",
    "graphql",
    "html",
    "ini",
    "java",
    "javascript",
    "json",
    "julia",
    "kotlin",
    "latex",
    "lua",
    "markdown",
    "mysql",
    "objective-c",
    "perl",
    "pgsql",
    "php",
    "powershell",
    "python",
    "r",
    "ruby",
    "rust",
    "scala",
    "scheme",
    "shell",
    "sql",
    "swift",
    "toml",
    "typescript",
    "xml",
    "yaml",
];

/// Whether `name` is a known language.
pub fn language(name: &str) -> bool {
    LANGUAGES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(document_id("abc-DEF_123", 64).is_ok());
        assert!(document_id("", 64).is_err());
        assert!(document_id(&"a".repeat(65), 64).is_err());
        assert!(document_id("a/b", 64).is_err());
        assert!(document_id("é", 64).is_err());
        assert!(client_key("0123456789abcdef").is_ok());
        assert!(client_key("short").is_err());
    }

    #[test]
    fn names_and_languages() {
        assert_eq!(user_name("  Ann ", 64).unwrap(), "Ann");
        assert!(user_name("   ", 64).is_err());
        assert!(user_name("a\u{7}", 64).is_err());
        assert!(user_name(&"é".repeat(65), 64).is_err());
        assert!(user_name(&"é".repeat(64), 64).is_ok());
        assert!(language("rust"));
        assert!(!language("Rust"));
        let doc = include_str!("../../docs/protocol.md");
        for l in LANGUAGES {
            assert!(
                doc.contains(&format!("`{l}`")),
                "{l} missing from protocol.md"
            );
        }
    }
}
