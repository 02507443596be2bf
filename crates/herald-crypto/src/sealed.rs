//! Envelope encryption of integration configs.
//!
//! `hsb2.<key id>.<wrapped data key>.<sealed body>`: a fresh 256-bit data key seals the body
//! (AES-256-GCM, AAD = the context, e.g. the integration id); the master key named by the key
//! id wraps the data key (AES-256-GCM, AAD = format, key id and context). Rotating a master key
//! rewraps the 60-byte data key and leaves the body as it is.
//!
//! `hsb1.<key id>.<body>` (the body sealed directly under the master key) is still opened, and
//! rewrapping turns it into `hsb2`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;

use crate::keys::{KeyId, MasterKey};

const V1: &str = "hsb1";
const V2: &str = "hsb2";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be 32 bytes in standard base64")]
    BadKey,
    #[error("key {0} of the master key list is not 32 bytes in standard base64")]
    BadKeyringEntry(usize),
    #[error("no master key given")]
    NoKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which this server does not have")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
}

/// Seals with the primary key; opens with any key it holds, chosen by the blob's key id.
#[derive(Debug, Clone)]
pub struct SecretBox {
    /// The primary key first.
    keys: Vec<MasterKey>,
}

impl SecretBox {
    pub fn new(current: MasterKey) -> Self {
        Self {
            keys: vec![current],
        }
    }

    /// A keyring as parsed by [`crate::parse_keyring`]: the first key seals, all of them open.
    pub fn from_keys(keys: Vec<MasterKey>) -> Result<Self, SealError> {
        if keys.is_empty() {
            return Err(SealError::NoKey);
        }
        Ok(Self { keys })
    }

    /// Keys that still open old blobs during a rotation.
    pub fn with_previous(mut self, keys: Vec<MasterKey>) -> Self {
        self.keys.truncate(1);
        self.keys.extend(keys);
        self
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &KeyId {
        self.keys[0].id()
    }

    /// The id of the master key that wrapped `sealed`, as written in it.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        match (parts.next(), parts.next()) {
            (Some(V1 | V2), Some(id)) => Some(id),
            _ => None,
        }
    }

    /// Whether `sealed` is in the current format under the primary key: nothing to rotate.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.starts_with(V2) && Self::key_id_of(sealed) == Some(self.current_key_id().as_str())
    }

    /// Seals `plaintext`, bound to `context` (e.g. the integration id) so that a blob copied
    /// onto another row does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut data_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut data_key);
        let body = encrypt(&data_key, plaintext, context.as_bytes());
        format!("{}.{}", self.wrap(&data_key, context), B64.encode(body))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        match parse(sealed)? {
            Parsed::V1 { key_id, body } => {
                decrypt(&self.key(key_id)?.key, &body, context.as_bytes())
            }
            Parsed::V2 {
                key_id,
                wrapped,
                body,
            } => {
                let data_key = self.unwrap(key_id, &wrapped, context)?;
                decrypt(&data_key, &body, context.as_bytes())
            }
        }
    }

    /// `sealed` under the primary key, or None if it already is. An `hsb2` blob keeps its body
    /// and gets its data key rewrapped; an `hsb1` blob is opened and sealed anew.
    pub fn rewrap(&self, sealed: &str, context: &str) -> Result<Option<String>, SealError> {
        if self.is_current(sealed) {
            return Ok(None);
        }
        match parse(sealed)? {
            Parsed::V1 { .. } => Ok(Some(self.seal(&self.open(sealed, context)?, context))),
            Parsed::V2 {
                key_id, wrapped, ..
            } => {
                let data_key = self.unwrap(key_id, &wrapped, context)?;
                let body = sealed.rsplit('.').next().expect("parsed as four parts");
                Ok(Some(format!("{}.{body}", self.wrap(&data_key, context))))
            }
        }
    }

    fn key(&self, key_id: &str) -> Result<&MasterKey, SealError> {
        self.keys
            .iter()
            .find(|k| k.id().as_str() == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))
    }

    /// `hsb2.<primary key id>.<wrapped data key>`.
    fn wrap(&self, data_key: &[u8; 32], context: &str) -> String {
        let key = &self.keys[0];
        let aad = wrap_aad(key.id().as_str(), context);
        let wrapped = encrypt(&key.key, data_key, aad.as_bytes());
        format!("{V2}.{}.{}", key.id(), B64.encode(wrapped))
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8], context: &str) -> Result<[u8; 32], SealError> {
        let key = self.key(key_id)?;
        let data_key = decrypt(&key.key, wrapped, wrap_aad(key_id, context).as_bytes())?;
        data_key.try_into().map_err(|_| SealError::Malformed)
    }
}

/// Binds a wrapped data key to its format, its master key and its row.
fn wrap_aad(key_id: &str, context: &str) -> String {
    format!("{V2}.{key_id}.{context}")
}

enum Parsed<'a> {
    V1 {
        key_id: &'a str,
        body: Vec<u8>,
    },
    V2 {
        key_id: &'a str,
        wrapped: Vec<u8>,
        body: Vec<u8>,
    },
}

fn parse(sealed: &str) -> Result<Parsed<'_>, SealError> {
    let parts: Vec<&str> = sealed.split('.').collect();
    let decode = |s: &str| B64.decode(s).map_err(|_| SealError::Malformed);
    match parts.as_slice() {
        [V1, key_id, body] => Ok(Parsed::V1 {
            key_id,
            body: decode(body)?,
        }),
        [V2, key_id, wrapped, body] => Ok(Parsed::V2 {
            key_id,
            wrapped: decode(wrapped)?,
            body: decode(body)?,
        }),
        _ => Err(SealError::Malformed),
    }
}

/// `nonce || ciphertext` under `key`.
fn encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = Aes256Gcm::new(key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ciphertext);
    blob
}

fn decrypt(key: &[u8; 32], blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    if blob.len() < NONCE_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SealError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `hsb1` blob as the previous release wrote it.
    fn seal_v1(key: &MasterKey, plaintext: &[u8], context: &str) -> String {
        let body = encrypt(&key.key, plaintext, context.as_bytes());
        format!("{V1}.{}.{}", key.id(), B64.encode(body))
    }

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let secret_box = SecretBox::new(MasterKey::generate());
        let sealed = secret_box.seal(b"hmac-secret-value", "int_1");
        assert!(sealed.starts_with(&format!("hsb2.{}.", secret_box.current_key_id())));
        assert!(!sealed.contains("hmac-secret-value"));
        assert_eq!(
            secret_box.open(&sealed, "int_1").unwrap(),
            b"hmac-secret-value"
        );
    }

    #[test]
    fn every_blob_has_its_own_data_key() {
        let secret_box = SecretBox::new(MasterKey::generate());
        let (a, b) = (secret_box.seal(b"x", "c"), secret_box.seal(b"x", "c"));
        let wrapped = |s: &str| s.split('.').nth(2).unwrap().to_owned();
        assert_ne!(wrapped(&a), wrapped(&b));
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
    fn a_data_key_or_body_swapped_between_blobs_does_not_open() {
        let secret_box = SecretBox::new(MasterKey::generate());
        let a = secret_box.seal(b"a", "c");
        let b = secret_box.seal(b"b", "c");
        let (a_parts, b_parts): (Vec<_>, Vec<_>) = (a.split('.').collect(), b.split('.').collect());
        let mixed = format!(
            "{}.{}.{}.{}",
            a_parts[0], a_parts[1], a_parts[2], b_parts[3]
        );
        assert!(matches!(
            secret_box.open(&mixed, "c"),
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
    fn rewrapping_moves_the_data_key_to_the_primary_and_keeps_the_body() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let sealed = SecretBox::new(old.clone()).seal(b"token", "int_1");
        let keyring = SecretBox::from_keys(vec![new.clone(), old]).unwrap();
        assert!(!keyring.is_current(&sealed));
        let rewrapped = keyring.rewrap(&sealed, "int_1").unwrap().unwrap();
        assert_eq!(SecretBox::key_id_of(&rewrapped), Some(new.id().as_str()));
        assert_eq!(
            rewrapped.rsplit('.').next(),
            sealed.rsplit('.').next(),
            "the body stays"
        );
        // The new key alone opens it now.
        assert_eq!(
            SecretBox::new(new).open(&rewrapped, "int_1").unwrap(),
            b"token"
        );
        assert!(keyring.is_current(&rewrapped));
        assert_eq!(keyring.rewrap(&rewrapped, "int_1").unwrap(), None);
        assert!(keyring.rewrap(&sealed, "int_2").is_err());
    }

    #[test]
    fn v1_blobs_still_open_and_are_upgraded_by_rewrapping() {
        let key = MasterKey::generate();
        let v1 = seal_v1(&key, b"legacy", "int_1");
        let secret_box = SecretBox::new(key.clone());
        assert_eq!(secret_box.open(&v1, "int_1").unwrap(), b"legacy");
        assert!(matches!(
            secret_box.open(&v1, "int_2"),
            Err(SealError::Tampered)
        ));
        // Under the primary key but in the old format: still rewrapped, into hsb2.
        assert!(!secret_box.is_current(&v1));
        let upgraded = secret_box.rewrap(&v1, "int_1").unwrap().unwrap();
        assert!(upgraded.starts_with("hsb2."));
        assert_eq!(secret_box.open(&upgraded, "int_1").unwrap(), b"legacy");
    }

    #[test]
    fn malformed_blobs_are_refused() {
        let secret_box = SecretBox::new(MasterKey::generate());
        for bad in [
            "",
            "hsb2",
            "hsb2.id.x",
            "hsb3.a.b.c",
            "hsb2.id.!!.??",
            "hsb1.id.AAAA",
        ] {
            assert!(secret_box.open(bad, "c").is_err(), "{bad}");
        }
        assert!(matches!(
            SecretBox::from_keys(Vec::new()),
            Err(SealError::NoKey)
        ));
    }
}
