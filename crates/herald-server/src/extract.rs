//! Extractors whose rejections use the API's error format and name the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// JSON body. A body sent without `Content-Type: application/json` is a 415; malformed JSON
/// is a 400; a wrong type, a missing or an unknown field is a 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declares_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
                _ => ApiError::MalformedJson(e.body_text()),
            })?;
        // Every body is an object; serde would read an array as a struct's fields by position.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | None => {}
            Some(_) => return Err(ApiError::invalid("body", "must be a JSON object")),
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    ApiError::Invalid(herald_domain::error::from_serde(&path, &inner.to_string()))
                }
                _ => ApiError::MalformedJson(inner.to_string()),
            }
        })?;
        deserializer
            .end()
            .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// Whether the request says its body is JSON: `application/json` or a `+json` type such as
/// `application/merge-patch+json`, with any parameters (`; charset=utf-8`).
fn declares_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// Query string, with the same error format. A parameter given empty (`?cursor=`) is a 422
/// naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // `?name=` is refused rather than read as "no filter" or "the empty name": a client
        // that meant no filter leaves the parameter out.
        if let Some((name, _)) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| value.is_empty() && !name.is_empty())
        {
            return Err(ApiError::invalid(
                name.into_owned(),
                "must not be empty; leave the parameter out instead",
            ));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                // The parameter at fault, where serde knows it (`limit`, `cursor`).
                let field = match error.path().to_string() {
                    path if path == "." || path.is_empty() => "query".to_owned(),
                    path => path,
                };
                ApiError::invalid(field, error.into_inner().to_string())
            })
    }
}

/// A nested object field, read only from a JSON object. Serde's derived structs also take an
/// array (their fields by position: `"template": [null, null]`), which no client means and the
/// OpenAPI document does not allow.
pub(crate) fn object<'de, T: DeserializeOwned, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    T::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom)
}

/// As [`object`], for an optional field (with `#[serde(default)]`).
pub(crate) fn optional_object<'de, T: DeserializeOwned, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? {
        Some(map) => T::deserialize(serde_json::Value::Object(map))
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// As [`present`] and [`object`] together, for a PATCH field that `null` clears.
pub(crate) fn present_object<'de, T: DeserializeOwned, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    optional_object(d).map(Some)
}

/// For PATCH bodies: tells an absent field (outer `None`) from an explicit `null`
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "present")]`.
pub(crate) fn present<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::declares_json;
    use axum::http::{header::CONTENT_TYPE, HeaderMap, HeaderValue};

    fn with(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_json_media_types_are_json() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(declares_json(&with(Some(json))), "{json}");
        }
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "json",
            "",
        ] {
            assert!(!declares_json(&with(Some(other))), "{other}");
        }
        assert!(!declares_json(&with(None)));
    }
}
