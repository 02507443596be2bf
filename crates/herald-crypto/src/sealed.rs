//! Sealing with AES-256-GCM under a master key, tagged with the key's id so that
//! a later rotation can tell which key opens which blob.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

const FORMAT: &str = "hsb1";
const NONCE_LEN: usize = 12;

/// The first 8 hex digits of SHA-256 of the key: enough to pick a key, useless to an attacker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 256-bit master key. Debug never prints the key.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be 32 bytes in standard base64")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which this server does not have")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
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

/// Seals with the current key; opens with any key it holds.
#[derive(Debug, Clone)]
pub struct SecretBox {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl SecretBox {
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Keys that still open old blobs during a rotation.
    pub fn with_previous(mut self, keys: Vec<MasterKey>) -> Self {
        self.previous = keys;
        self
    }

    /// Seals `plaintext`, bound to `context` (e.g. the integration id) so that a blob copied
    /// onto another row does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(&self.current.key.into());
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{FORMAT}.{}.{}", self.current.id.0, B64.encode(blob))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id.0 == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let blob = B64.decode(body).map_err(|_| SealError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        Aes256Gcm::new(&key.key.into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let secret_box = SecretBox::new(MasterKey::generate());
        let sealed = secret_box.seal(b"hmac-secret-value", "int_1");
        assert!(!sealed.contains("hmac-secret-value"));
        assert_eq!(
            secret_box.open(&sealed, "int_1").unwrap(),
            b"hmac-secret-value"
        );
    }

    #[test]
    fn a_blob_moved_to_another_context_does_not_open() {
        let secret_box = SecretBox::new(MasterKey::generate());
        let sealed = secret_box.seal(b"x", "int_1");
        assert!(matches!(
            secret_box.open(&sealed, "int_2"),
            Err(SealError::Tampered)
        ));
    }

    #[test]
    fn previous_keys_still_open_old_blobs() {
        let old = MasterKey::generate();
        let sealed = SecretBox::new(old.clone()).seal(b"x", "c");
        let rotated = SecretBox::new(MasterKey::generate());
        assert!(matches!(
            rotated.open(&sealed, "c"),
            Err(SealError::UnknownKey(_))
        ));
        let rotated = rotated.with_previous(vec![old]);
        assert_eq!(rotated.open(&sealed, "c").unwrap(), b"x");
    }

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
}
