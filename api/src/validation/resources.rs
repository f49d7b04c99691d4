//! Container resource requirements: names, quantities, requests within limits.

use serde_json::Value;

use super::rules::{self, child, key, map_of, push_invalid};
use super::FieldError;
use crate::Quantity;

/// Whether requests may be below limits for `name` (false for extended resources and huge
/// pages, whose requests must equal their limits).
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.starts_with("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

fn validate_resource_name(errs: &mut Vec<FieldError>, path: &str, name: &str) {
    push_invalid(errs, path, name, rules::qualified_name(name));
    if !name.contains('/') {
        let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
            || name.starts_with("hugepages-");
        if !standard {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    }
}

/// Parses and checks one quantity; `None` when it does not parse.
fn validate_quantity(
    errs: &mut Vec<FieldError>,
    path: &str,
    name: &str,
    value: &Value,
) -> Option<Quantity> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let q = match Quantity::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            errs.push(FieldError::invalid(path, text.as_str(), &e.to_string()));
            return None;
        }
    };
    if q < Quantity::default() {
        errs.push(FieldError::invalid(
            path,
            q.to_string(),
            rules::NON_NEGATIVE,
        ));
    }
    let integer_only = !overcommit_allowed(name) && !name.starts_with("hugepages-");
    if integer_only && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path,
            q.to_string(),
            "must be an integer",
        ));
    }
    Some(q)
}

/// Kubernetes' `ValidateContainerResourceRequirements`: names, quantities, requests <= limits.
pub(crate) fn validate_resources(resources: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let limits_path = child(path, "limits");
    let requests_path = child(path, "requests");
    let mut limits = std::collections::BTreeMap::new();
    if let Some(map) = map_of(resources, "limits") {
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        for name in names {
            let p = key(&limits_path, name);
            validate_resource_name(errs, &p, name);
            if let Some(q) = validate_quantity(errs, &p, name, &map[name]) {
                limits.insert(name.clone(), q);
            }
        }
    }
    if let Some(map) = map_of(resources, "requests") {
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        for name in names {
            let p = key(&requests_path, name);
            validate_resource_name(errs, &p, name);
            let Some(q) = validate_quantity(errs, &p, name, &map[name]) else {
                continue;
            };
            match limits.get(name) {
                Some(limit) if q != *limit && !overcommit_allowed(name) => {
                    errs.push(FieldError::invalid(
                        &requests_path,
                        q.to_string(),
                        &format!("must be equal to {name} limit of {limit}"),
                    ));
                }
                Some(limit) if q > *limit => errs.push(FieldError::invalid(
                    &requests_path,
                    q.to_string(),
                    &format!("must be less than or equal to {name} limit of {limit}"),
                )),
                None if !overcommit_allowed(name) => errs.push(FieldError::required(
                    &limits_path,
                    "Limit must be set for non overcommitable resources",
                )),
                _ => {}
            }
        }
    }
}
