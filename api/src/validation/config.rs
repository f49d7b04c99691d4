//! ConfigMaps and Secrets: keys, total size, type rules, `immutable`.

use serde_json::{Map, Value};

use super::rules::{bool_of, get, key, map_of, str_of, sub};
use super::FieldError;

/// The largest total size of a ConfigMap's or Secret's data, in bytes.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

const KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

/// Kubernetes' `IsConfigMapKey` messages.
fn config_key(k: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if k.len() > crate::names::DNS1123_SUBDOMAIN_MAX_LENGTH {
        msgs.push(format!(
            "must be no more than {} characters",
            crate::names::DNS1123_SUBDOMAIN_MAX_LENGTH
        ));
    }
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        msgs.push(KEY_MESSAGE.to_owned());
    }
    if k == "." {
        msgs.push("must not be '.'".to_owned());
    } else if k == ".." {
        msgs.push("must not be '..'".to_owned());
    } else if k.starts_with("..") {
        msgs.push("must not start with '..'".to_owned());
    }
    msgs
}

/// The decoded length of a base64 value (as `binaryData` and Secret `data` hold bytes).
fn base64_len(s: &str) -> usize {
    let trimmed = s.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

fn sorted_keys(map: Option<&Map<String, Value>>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.map(|m| m.keys().collect()).unwrap_or_default();
    keys.sort();
    keys
}

/// Validates a ConfigMap.
pub(crate) fn validate_config_map(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let data = map_of(obj, "data");
    let binary = map_of(obj, "binaryData");
    let mut total = 0;
    for k in sorted_keys(data) {
        let p = key("data", k);
        for msg in config_key(k) {
            errs.push(FieldError::invalid(&p, k.as_str(), &msg));
        }
        if binary.is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += data.and_then(|d| d[k].as_str()).map_or(0, str::len);
    }
    for k in sorted_keys(binary) {
        let p = key("binaryData", k);
        for msg in config_key(k) {
            errs.push(FieldError::invalid(&p, k.as_str(), &msg));
        }
        if data.is_some_and(|d| d.contains_key(k)) {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "duplicate of key present in data",
            ));
        }
        total += binary.and_then(|b| b[k].as_str()).map_or(0, base64_len);
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("", MAX_DATA_SIZE));
    }
    if let Some(old) = old {
        if bool_of(old, "immutable") == Some(true) {
            if bool_of(obj, "immutable") != Some(true) {
                errs.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
            }
            for field in ["data", "binaryData"] {
                if get(obj, field) != get(old, field) {
                    errs.push(FieldError::forbidden(field, IMMUTABLE_SET));
                }
            }
        }
    }
}

/// Validates a Secret. `stringData` counts as `data` (Kubernetes merges it before validating).
pub(crate) fn validate_secret(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        let new_type = str_of(obj, "type");
        if new_type != str_of(old, "type") {
            errs.push(FieldError::invalid(
                "type",
                new_type,
                super::rules::IMMUTABLE,
            ));
        }
        if bool_of(old, "immutable") == Some(true) {
            if bool_of(obj, "immutable") != Some(true) {
                errs.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
            }
            if get(obj, "data") != get(old, "data") || get(obj, "stringData").is_some() {
                errs.push(FieldError::forbidden("data", IMMUTABLE_SET));
            }
        }
    }
    let data = map_of(obj, "data");
    let string_data = map_of(obj, "stringData");
    let mut keys: Vec<&String> = sorted_keys(data);
    keys.extend(sorted_keys(string_data));
    keys.sort();
    keys.dedup();
    let mut total = 0;
    for k in &keys {
        for msg in config_key(k) {
            errs.push(FieldError::invalid(&key("data", k), k.as_str(), &msg));
        }
        total += match string_data.and_then(|s| s.get(*k)) {
            Some(v) => v.as_str().map_or(0, str::len),
            None => data.and_then(|d| d[*k].as_str()).map_or(0, base64_len),
        };
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("data", MAX_DATA_SIZE));
    }
    let has = |k: &str| keys.iter().any(|x| *x == k);
    let mut require = |k: &str| errs.push(FieldError::required(&key("data", k), ""));
    match str_of(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let annotations = sub(sub(obj, "metadata"), "annotations");
            if str_of(annotations, crate::names::ANNOTATION_SERVICE_ACCOUNT_NAME).is_empty() {
                errs.push(FieldError::required(
                    &key(
                        "metadata.annotations",
                        crate::names::ANNOTATION_SERVICE_ACCOUNT_NAME,
                    ),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => require(".dockercfg"),
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            require(".dockerconfigjson");
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            require("username");
            require("password");
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => require("ssh-privatekey"),
        "kubernetes.io/tls" => {
            if !has("tls.crt") {
                require("tls.crt");
            }
            if !has("tls.key") {
                require("tls.key");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate;

    fn messages(
        kind: &str,
        obj: &serde_json::Value,
        old: Option<&serde_json::Value>,
    ) -> Vec<String> {
        validate("", kind, &super::super::versioned(obj, old), old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn config_maps() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"},
            "data": {"a b": "1", "..x": "2", "ok": "3"}, "binaryData": {"ok": "AAAA"}});
        assert_eq!(
            messages("ConfigMap", &cm, None),
            [
                "data[..x]: Invalid value: \"..x\": must not start with '..'",
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[ok]: Invalid value: \"ok\": duplicate of key present in binaryData",
                "binaryData[ok]: Invalid value: \"ok\": duplicate of key present in data",
            ]
        );
        let big = json!({"metadata": {"name": "c", "namespace": "d"},
            "data": {"a": "x".repeat(super::MAX_DATA_SIZE + 1)}});
        assert_eq!(
            messages("ConfigMap", &big, None),
            [": Too long: may not be more than 1048576 bytes"]
        );
    }

    #[test]
    fn immutable_config_maps() {
        let old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "2"}});
        assert_eq!(
            messages("ConfigMap", &new, Some(&old)),
            [
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
    }

    #[test]
    fn secrets() {
        let s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": "AAAA"}});
        assert_eq!(
            messages("Secret", &s, None),
            ["data[tls.key]: Required value"]
        );
        let s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/service-account-token"});
        assert_eq!(
            messages("Secret", &s, None),
            ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"});
        let new = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "u"}});
        assert_eq!(
            messages("Secret", &new, Some(&old)),
            ["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
    }
}
