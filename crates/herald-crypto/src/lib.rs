//! Herald's cryptography: sealed secrets at rest, redacted secret strings, API token hashing.

mod keys;
mod sealed;
mod secret;
mod token;

pub use keys::{parse_keyring, KeyId, MasterKey};
pub use sealed::{SealError, SecretBox};
pub use secret::SecretString;
pub use token::{generate_token, hash_token};
