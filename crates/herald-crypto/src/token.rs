use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new API token: `hld_` plus 32 random bytes in hex. Shown once, stored only as its hash.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("hld_{}", hex::encode(bytes))
}

/// The stored form of a token. Tokens carry 256 random bits, so a plain SHA-256 is enough:
/// there is nothing to brute-force that a slow hash would protect.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with("hld_") && a.len() == 68);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
