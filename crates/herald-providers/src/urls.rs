//! URL checks shared by every config that names an address.

use url::Url;

/// An absolute http(s) URL with a host. Userinfo is refused: credentials belong in config keys
/// known to be secret, not in a URL that may be shown. `credential_key` names the key where
/// they do belong, for the message.
pub fn http_url(raw: &str, credential_key: Option<&str>) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must be an http or https URL, not {}",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err("must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(match credential_key {
            Some(key) => format!("must not contain a user name or password; use `{key}`"),
            None => "must not contain a user name or password".into(),
        });
    }
    Ok(url)
}

/// An http(s) base address for an API: as [`http_url`], and without a query or fragment.
pub fn base_url(raw: &str, credential_key: Option<&str>) -> Result<Url, String> {
    let url = http_url(raw, credential_key)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(match credential_key {
            Some(key) => {
                format!("must not have a query or fragment; the credential goes in `{key}`")
            }
            None => "must not have a query or fragment".into(),
        });
    }
    Ok(url)
}
