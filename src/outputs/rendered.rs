//! Small readers of rendered YAML shared by the overlay readers.

use serde_norway::Value;
use std::collections::BTreeMap;

/// ConfigMaps as rendered: data by (namespace, name).
pub(crate) type ConfigMaps = BTreeMap<(Option<String>, String), BTreeMap<String, String>>;

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// A YAML list as strings (numbers as their text; anything else left out).
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}
