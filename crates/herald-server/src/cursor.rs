//! Page cursors as clients see them: opaque strings, base64url (no padding) of a versioned
//! payload (`v1:<position>`), so a client passes back what it was given and nothing else. A
//! cursor that does not decode is refused with 422 naming `cursor`, instead of silently giving
//! some other page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

const VERSION: &str = "v1:";
/// Positions are record ids; anything longer is not one of ours.
const MAX_POSITION: usize = 200;

/// A decoded `?cursor=`: where the previous page ended, in the store's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(String);

impl PageCursor {
    /// The opaque form of a store position, for `next_cursor`.
    pub fn encode(position: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}{position}"))
    }

    /// The opaque `next_cursor` of a page, if there is a next page.
    pub fn next(position: Option<String>) -> Option<String> {
        position.as_deref().map(Self::encode)
    }

    pub fn decode(raw: &str) -> Result<Self, &'static str> {
        const MALFORMED: &str = "is not a cursor this server gave out; pass `next_cursor` from \
                                 the previous page as it is, or leave `cursor` out for the first page";
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| MALFORMED)?;
        let text = String::from_utf8(bytes).map_err(|_| MALFORMED)?;
        let position = text.strip_prefix(VERSION).ok_or(MALFORMED)?;
        let well_formed = !position.is_empty()
            && position.len() <= MAX_POSITION
            && position
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        match well_formed {
            true => Ok(Self(position.to_owned())),
            false => Err(MALFORMED),
        }
    }

    /// The store's position, for a listing query.
    pub fn position(&self) -> &str {
        &self.0
    }

    /// `cursor.as_ref().map(PageCursor::position)`, for the store's `Option<&str>`.
    pub fn position_of(cursor: &Option<PageCursor>) -> Option<&str> {
        cursor.as_ref().map(PageCursor::position)
    }
}

impl<'de> Deserialize<'de> for PageCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::decode(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_hides_the_position() {
        let position = "int_0192f1c2a7b04c3e9f6a1d2b3c4d5e6f";
        let opaque = PageCursor::encode(position);
        assert!(!opaque.contains("int_"), "{opaque}");
        assert_eq!(PageCursor::decode(&opaque).unwrap().position(), position);
    }

    #[test]
    fn anything_else_is_refused() {
        let unversioned = URL_SAFE_NO_PAD.encode("int_1");
        let empty_position = URL_SAFE_NO_PAD.encode("v1:");
        let odd_bytes = URL_SAFE_NO_PAD.encode("v1:a b");
        let too_long = PageCursor::encode(&"a".repeat(201));
        for raw in [
            "",
            "garbage!",
            "int_0192f1c2",
            &unversioned,
            &empty_position,
            &odd_bytes,
            &too_long,
        ] {
            assert!(PageCursor::decode(raw).is_err(), "{raw:?}");
        }
    }
}
