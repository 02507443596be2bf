//! Config schemas: each kind describes its config as JSON Schema (names, types, which fields
//! are secret, what they mean), so forms and documentation are generated rather than written
//! per kind. A secret field carries `"writeOnly": true` and `"x-secret": true`: it can be set
//! and replaced, never read back.

use serde_json::{json, Map, Value};

/// A config object's schema, built field by field.
#[derive(Debug, Default)]
pub struct ConfigSchema {
    properties: Map<String, Value>,
    required: Vec<String>,
    /// `oneOf` groups: at least one field of each group must be set.
    any_of: Vec<Vec<&'static str>>,
}

/// One field being described; [`ConfigSchema::field`] adds it when dropped into place.
pub struct FieldSpec<'a> {
    schema: &'a mut ConfigSchema,
    name: &'static str,
    property: Map<String, Value>,
}

impl ConfigSchema {
    pub fn new() -> Self {
        Self::default()
    }

    /// A string field; refine it with the returned spec.
    pub fn string(&mut self, name: &'static str, title: &str, description: &str) -> FieldSpec<'_> {
        self.field(name, json!("string"), title, description)
    }

    /// A list of strings (one per line in a form).
    pub fn strings(&mut self, name: &'static str, title: &str, description: &str) -> FieldSpec<'_> {
        let mut spec = self.field(name, json!("array"), title, description);
        spec.property
            .insert("items".into(), json!({"type": "string"}));
        spec
    }

    pub fn integer(&mut self, name: &'static str, title: &str, description: &str) -> FieldSpec<'_> {
        self.field(name, json!("integer"), title, description)
    }

    /// A field of several JSON types (e.g. `["string", "integer"]`).
    pub fn field(
        &mut self,
        name: &'static str,
        types: Value,
        title: &str,
        description: &str,
    ) -> FieldSpec<'_> {
        let mut property = Map::new();
        property.insert("type".into(), types);
        property.insert("title".into(), json!(title));
        property.insert("description".into(), json!(description));
        FieldSpec {
            schema: self,
            name,
            property,
        }
    }

    /// At least one of these fields must be set.
    pub fn one_of_required(&mut self, names: &[&'static str]) -> &mut Self {
        self.any_of.push(names.to_vec());
        self
    }

    pub fn build(&self) -> Value {
        let mut schema = json!({
            "type": "object",
            "properties": self.properties,
            "required": self.required,
            "additionalProperties": false,
        });
        if !self.any_of.is_empty() {
            let groups: Vec<Value> = self
                .any_of
                .iter()
                .map(|group| {
                    json!({"anyOf": group.iter().map(|name| json!({"required": [name]})).collect::<Vec<_>>()})
                })
                .collect();
            schema["allOf"] = Value::Array(groups);
        }
        schema
    }
}

impl FieldSpec<'_> {
    pub fn required(self) -> Self {
        self.schema.required.push(self.name.to_owned());
        self
    }

    /// Write-only: stored sealed, never shown again.
    pub fn secret(mut self) -> Self {
        self.property.insert("writeOnly".into(), json!(true));
        self.property.insert("x-secret".into(), json!(true));
        self
    }

    /// A JSON Schema `format` (`uri`, `email`).
    pub fn format(mut self, format: &str) -> Self {
        self.property.insert("format".into(), json!(format));
        self
    }

    pub fn one_of_values(mut self, values: &[&str]) -> Self {
        self.property.insert("enum".into(), json!(values));
        self
    }

    pub fn default_value(mut self, value: Value) -> Self {
        self.property.insert("default".into(), value);
        self
    }

    pub fn example(mut self, example: &str) -> Self {
        self.property.insert("examples".into(), json!([example]));
        self
    }
}

impl Drop for FieldSpec<'_> {
    fn drop(&mut self) {
        let property = std::mem::take(&mut self.property);
        self.schema
            .properties
            .insert(self.name.to_owned(), Value::Object(property));
    }
}

/// The names of a schema's secret fields.
pub fn secret_fields(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, p)| p["x-secret"] == json!(true))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_flags_and_requirement() {
        let mut schema = ConfigSchema::new();
        schema
            .string("url", "URL", "Where")
            .required()
            .format("uri");
        schema.string("key", "Key", "Secret").secret();
        schema.strings("to", "To", "Recipients");
        let built = schema.build();
        assert_eq!(built["required"], json!(["url"]));
        assert_eq!(built["properties"]["url"]["format"], "uri");
        assert_eq!(built["properties"]["key"]["writeOnly"], true);
        assert_eq!(built["properties"]["to"]["items"]["type"], "string");
        let names: Vec<_> = built["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["url", "key", "to"]);
        assert_eq!(secret_fields(&built), ["key"]);
    }
}
