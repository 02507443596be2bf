//! Master keys (key-encryption keys) and the keyring a server is started with.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

use crate::SealError;

/// The first 8 hex digits of SHA-256 of the key: enough to pick a key, useless to an attacker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit master key. Debug never prints the key.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    pub(crate) key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id.0)
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let bytes = B64.decode(encoded.trim()).map_err(|_| SealError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        let id = KeyId(hex::encode(&Sha256::digest(key)[..4]));
        Self { id, key }
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.key)
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }
}

/// Parses `HERALD_MASTER_KEY`: one or more keys, comma-separated. The first one seals; every
/// one opens. Errors name the key's position, never its text.
pub fn parse_keyring(encoded: &str) -> Result<Vec<MasterKey>, SealError> {
    let keys = encoded
        .split(',')
        .enumerate()
        .map(|(i, part)| {
            MasterKey::from_base64(part).map_err(|_| SealError::BadKeyringEntry(i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_base64_and_reject_wrong_lengths() {
        let key = MasterKey::generate();
        assert_eq!(
            MasterKey::from_base64(&key.to_base64()).unwrap().id(),
            key.id()
        );
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(
            format!("{key:?}"),
            format!("MasterKey({})", key.id().as_str())
        );
    }

    #[test]
    fn a_keyring_keeps_its_order_and_tolerates_spaces() {
        let (new, old) = (MasterKey::generate(), MasterKey::generate());
        let keys = parse_keyring(&format!(" {} , {}\n", new.to_base64(), old.to_base64())).unwrap();
        let ids: Vec<_> = keys.iter().map(|k| k.id().clone()).collect();
        assert_eq!(ids, vec![new.id().clone(), old.id().clone()]);
    }

    #[test]
    fn a_bad_keyring_entry_is_named_by_position_without_its_text() {
        let good = MasterKey::generate().to_base64();
        let error = parse_keyring(&format!("{good},not-a-key-c2VjcmV0")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("key 2"), "{message}");
        assert!(!message.contains("c2VjcmV0") && !message.contains(&good));
        assert!(parse_keyring("").is_err());
        assert!(parse_keyring(&format!("{good},")).is_err());
    }
}
