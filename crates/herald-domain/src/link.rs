//! Links for people (`url`, `approve_url`): parsed once, and serialised in one canonical
//! encoding that every destination can carry as it is, in a JSON field, a Markdown link or an
//! HTML attribute.

use url::Url;

/// Characters RFC 3986 allows in a path, query or fragment besides `%`: unreserved,
/// sub-delims, `:`, `@`, `/` and `?`. Everything else there is percent-encoded.
fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'?'
        )
}

/// `part` with every byte RFC 3986 does not allow percent-encoded; existing `%XX` escapes stay.
fn encode_rest(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(part.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape_start = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if allowed(b) || escape_start {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses a link for people and serialises it canonically: the WHATWG form (lower-case scheme
/// and host, IDNA, default port dropped, spaces and quotes encoded), then every character RFC
/// 3986 does not allow in the path, query or fragment (`|`, `^`, `{`, `}`, `[`, `]`, `\`,
/// backtick) percent-encoded too. Refuses what is not an http(s) URL with a host, and URLs
/// with a user name or password (a link shown in a channel must not carry a credential, nor
/// disguise its host as `trusted.example@evil.example`).
pub fn normalise_link(raw: &str) -> Result<Url, String> {
    let parsed = Url::parse(raw.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if parsed.host().is_none() {
        return Err("must have a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let mut canonical = parsed.clone();
    canonical.set_path(&encode_rest(parsed.path()));
    if let Some(query) = parsed.query() {
        canonical.set_query(Some(&encode_rest(query)));
    }
    if let Some(fragment) = parsed.fragment() {
        canonical.set_fragment(Some(&encode_rest(fragment)));
    }
    // Serialising and parsing again must be stable, or the form is not canonical.
    let reparsed = Url::parse(canonical.as_str()).map_err(|e| format!("is not a URL: {e}"))?;
    if reparsed.as_str() != canonical.as_str() {
        return Err("cannot be put in a canonical form".into());
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_encoded_once() {
        let cases = [
            ("https://ci.example/run/1", "https://ci.example/run/1"),
            (
                "HTTPS://CI.Example:443/a b/<x>|y?q=\"1\"|{2}#f g",
                "https://ci.example/a%20b/%3Cx%3E%7Cy?q=%221%22%7C%7B2%7D#f%20g",
            ),
            (
                "https://ci.example/runs/(44)?a=b&c=[d]",
                "https://ci.example/runs/(44)?a=b&c=%5Bd%5D",
            ),
            ("https://ci.example/%7C%20ok", "https://ci.example/%7C%20ok"),
            ("https://ci.example/100%", "https://ci.example/100%25"),
            ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ];
        for (raw, want) in cases {
            let url = normalise_link(raw).unwrap();
            assert_eq!(url.as_str(), want, "{raw}");
            assert_eq!(normalise_link(url.as_str()).unwrap(), url, "idempotent");
        }
    }

    #[test]
    fn what_cannot_be_a_link_is_refused() {
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com/x",
            "mailto:a@example.com",
            "data:text/html,<b>x</b>",
            "https://user:pw@ci.example/",
            "https://ci.example@evil.example/",
            "not a url",
        ] {
            assert!(normalise_link(bad).is_err(), "{bad}");
        }
    }
}
