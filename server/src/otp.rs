//! The secrets that protect documents — one-time passwords (edit access)
//! and view secrets (read-only links): generated from the OS CSPRNG,
//! stored only as SHA-256 hashes, compared in constant time. A view secret
//! is also kept *sealed* under the document's OTP ([`seal`]), so that the
//! server can hand it to editors again after a restart without it ever
//! being readable at rest.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// A fresh OTP: 96 random bits as 16 URL-safe characters.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash kept in memory and at rest instead of the OTP. A fast hash is
/// enough: OTPs carry 96 bits of entropy, so there is nothing to brute
/// force from the hash.
pub fn hash(secret: &str) -> Hash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `provided` matches `stored`, in time independent of where they
/// differ.
pub fn verify(stored: &Hash, provided: Option<&str>) -> bool {
    let Some(provided) = provided else {
        return false;
    };
    let candidate = hash(provided);
    stored
        .iter()
        .zip(candidate.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// A sealed secret: a 16-byte random nonce, then the 16 bytes of the
/// secret XORed with a pad derived from the nonce and the sealing key.
pub type Sealed = [u8; 32];

/// Length in bytes of the secrets [`generate`] makes, the only ones
/// [`seal`] accepts.
pub const SECRET_LEN: usize = 16;

/// Why a secret could not be sealed.
#[derive(Debug)]
pub enum SealError {
    /// The OS random source failed.
    Random(getrandom::Error),
    /// The secret is not [`SECRET_LEN`] bytes long.
    Length,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::Random(e) => write!(f, "no randomness for a nonce: {e}"),
            SealError::Length => write!(f, "a secret to seal must be {SECRET_LEN} bytes"),
        }
    }
}

/// The pad a `(nonce, key)` pair encrypts with: the first 16 bytes of
/// SHA-256 over a domain tag, the nonce and the key.
fn pad(nonce: &[u8], key: &str) -> [u8; SECRET_LEN] {
    let mut h = Sha256::new();
    h.update(b"tandem view link\0");
    h.update(nonce);
    h.update(key.as_bytes());
    let digest: Hash = h.finalize().into();
    let mut out = [0u8; SECRET_LEN];
    out.copy_from_slice(&digest[..SECRET_LEN]);
    out
}

/// Seals `secret` (a generated secret) under `key` (the document's OTP)
/// with a fresh random nonce. Without `key` the result reveals nothing
/// about `secret`: the key has 96 bits of entropy and the nonce makes every
/// seal's pad different.
pub fn seal(secret: &str, key: &str) -> Result<Sealed, SealError> {
    let bytes: [u8; SECRET_LEN] = secret
        .as_bytes()
        .try_into()
        .map_err(|_| SealError::Length)?;
    let mut out = [0u8; 32];
    getrandom::getrandom(&mut out[..SECRET_LEN]).map_err(SealError::Random)?;
    let pad = pad(&out[..SECRET_LEN], key);
    for (i, (b, p)) in bytes.iter().zip(pad.iter()).enumerate() {
        out[SECRET_LEN + i] = b ^ p;
    }
    Ok(out)
}

/// Opens a sealed secret with `key`, checking it against `expected` (the
/// secret's stored hash): `None` when the key is not the one it was sealed
/// under (or the data is damaged).
pub fn unseal(sealed: &Sealed, key: &str, expected: &Hash) -> Option<String> {
    let (nonce, body) = sealed.split_at(SECRET_LEN);
    let pad = pad(nonce, key);
    let bytes: Vec<u8> = body.iter().zip(pad.iter()).map(|(b, p)| b ^ p).collect();
    let secret = String::from_utf8(bytes).ok()?;
    verify(expected, Some(&secret)).then_some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let secret = generate().unwrap();
        let key = generate().unwrap();
        let h = hash(&secret);
        let a = seal(&secret, &key).unwrap();
        let b = seal(&secret, &key).unwrap();
        assert_ne!(a, b, "every seal has its own nonce");
        assert_eq!(unseal(&a, &key, &h).as_deref(), Some(secret.as_str()));
        assert_eq!(unseal(&b, &key, &h).as_deref(), Some(secret.as_str()));
        assert_eq!(unseal(&a, &generate().unwrap(), &h), None);
        assert_eq!(unseal(&a, &key, &hash("other")), None);
        let mut damaged = a;
        damaged[20] ^= 1;
        assert_eq!(unseal(&damaged, &key, &h), None);
        assert!(matches!(seal("short", &key), Err(SealError::Length)));
    }

    #[test]
    fn generated_otps_verify_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let h = hash(&a);
        assert!(verify(&h, Some(&a)));
        assert!(!verify(&h, Some(&b)));
        assert!(!verify(&h, None));
        assert!(!verify(&h, Some("")));
    }
}
