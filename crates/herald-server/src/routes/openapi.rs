//! Answers every operation can give for the same reasons, added to the generated document in
//! one place, so that no handler has to repeat them and none can forget them: 401 where a token
//! is needed, 403 where a permission is, 400, 413, 415 and 422 where a body is read, 422 where a query is read, 400 and 404
//! where a path names a resource.

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// Request schemas whose strings may be empty: a template's empty title means "none".
const EMPTY_STRINGS_ALLOWED: [&str; 1] = ["MessageTemplate"];

/// Adds the shared error answers to every operation of `document` that lacks them, and
/// `minLength: 1` to every string the API refuses when empty: each query parameter (see
/// [`crate::extract::ApiQuery`]) and each string of a request body, except inside the schemas
/// in [`EMPTY_STRINGS_ALLOWED`] and free-form objects (`config`, `data`, `facts`).
pub(crate) fn document_shared_answers(document: &mut Value) {
    let mut body_schemas = Vec::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(operation) = item.get_mut(method) {
                    complete(operation);
                    body_schemas.extend(request_schema(operation));
                }
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = body_schemas.pop() {
        if EMPTY_STRINGS_ALLOWED.contains(&name.as_str()) || !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get_mut(&name) {
            body_schemas.extend(refuse_empty_strings(schema));
        }
    }
}

/// The component a request body refers to.
fn request_schema(operation: &Value) -> Option<String> {
    operation
        .pointer("/requestBody/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
}

fn is_string(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(types) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// Adds `minLength: 1` to the strings (and string array items) of one schema's properties;
/// returns the components it refers to, to be walked too.
fn refuse_empty_strings(schema: &mut Value) -> Vec<String> {
    let mut referred = Vec::new();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return referred;
    };
    for property in properties.values_mut() {
        let mut targets = vec![property];
        while let Some(target) = targets.pop() {
            if let Some(name) = target
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
            {
                referred.push(name.to_owned());
            }
            if is_string(target) && target.get("format").is_none() {
                if let Some(object) = target.as_object_mut() {
                    object.entry("minLength").or_insert(json!(1));
                }
            }
            let Some(object) = target.as_object_mut() else {
                continue;
            };
            for (key, nested) in object.iter_mut() {
                match (key.as_str(), nested) {
                    ("items", nested) => targets.push(nested),
                    ("oneOf" | "anyOf" | "allOf", Value::Array(alternatives)) => {
                        targets.extend(alternatives.iter_mut())
                    }
                    ("additionalProperties", nested @ Value::Object(_)) => targets.push(nested),
                    _ => {}
                }
            }
        }
    }
    referred
}

/// `minLength: 1` on every string query parameter: the API refuses a parameter given empty.
fn refuse_empty_query_strings(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters.iter_mut().filter(|p| p["in"] == "query") {
        if let Some(schema) = parameter.get_mut("schema") {
            if is_string(schema) {
                if let Some(object) = schema.as_object_mut() {
                    object.entry("minLength").or_insert(json!(1));
                }
            }
        }
    }
}

fn complete(operation: &mut Value) {
    refuse_empty_query_strings(operation);
    let requirements: Vec<&Map<String, Value>> = operation["security"]
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let authenticated = requirements.iter().any(|r| !r.is_empty());
    // Scopes name the permissions the operation needs; a caller without them gets 403.
    let needs_permission = requirements
        .iter()
        .flat_map(|r| r.values())
        .any(|scopes| scopes.as_array().is_some_and(|s| !s.is_empty()));
    let parameters_in = |place: &str| {
        operation["parameters"]
            .as_array()
            .is_some_and(|all| all.iter().any(|p| p["in"] == place))
    };
    let (has_path, has_query) = (parameters_in("path"), parameters_in("query"));
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if authenticated {
        add(
            responses,
            "401",
            "No bearer token, or one unknown, expired or revoked",
        );
    }
    if needs_permission {
        add(
            responses,
            "403",
            "The caller lacks the permission the operation names",
        );
    }
    if has_body {
        add(
            responses,
            "400",
            "The body is not JSON, or a path segment does not decode",
        );
        add(
            responses,
            "413",
            "The body is larger than the server accepts",
        );
        add(
            responses,
            "415",
            "The body is not declared `Content-Type: application/json`",
        );
    } else if has_path {
        add(responses, "400", "A path segment does not decode");
    }
    if has_body || has_query {
        add(
            responses,
            "422",
            "A field or query parameter is invalid; `field` names it",
        );
    }
    if has_path {
        add(responses, "404", "Not found, or not visible to this caller");
    }
    // In status order, as a reader scans them.
    let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.cmp(b));
    responses.extend(sorted);
}

fn add(responses: &mut Map<String, Value>, status: &str, description: &str) {
    responses.entry(status).or_insert_with(|| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_answers_follow_what_an_operation_reads() {
        let mut document = json!({"paths": {
            "/v1/things": {
                "get": {"security": [{"bearer": ["thing.read"]}],
                        "parameters": [{"name": "limit", "in": "query"}],
                        "responses": {"200": {"description": "ok"}}},
                "post": {"security": [{"bearer": []}], "requestBody": {},
                         "responses": {"201": {"description": "made"},
                                       "422": {"description": "its own"}}}
            },
            "/open": {"get": {"responses": {"200": {"description": "ok"}}}}
        }});
        document_shared_answers(&mut document);
        let codes = |path: &str, method: &str| -> Vec<String> {
            document["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(codes("/v1/things", "get"), ["200", "401", "403", "422"]);
        assert_eq!(
            codes("/v1/things", "post"),
            ["201", "400", "401", "413", "415", "422"]
        );
        assert_eq!(
            document["paths"]["/v1/things"]["post"]["responses"]["422"]["description"],
            "its own"
        );
        assert_eq!(codes("/open", "get"), ["200"]);
    }
}
