//! One-time passwords that protect documents: generated from the OS CSPRNG,
//! stored only as SHA-256 hashes, compared in constant time.

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

#[cfg(test)]
mod tests {
    use super::*;

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
