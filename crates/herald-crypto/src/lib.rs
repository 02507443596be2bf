//! Herald's cryptography: sealed secrets at rest, redacted secret strings, API token hashing.

mod sealed;
mod secret;
mod token;

pub use sealed::{KeyId, MasterKey, SealError, SecretBox};
pub use secret::SecretString;
pub use token::{generate_token, hash_token};
