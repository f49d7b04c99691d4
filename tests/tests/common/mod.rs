//! Helpers shared by the integration tests: skipping without etcdctl, and reading its JSON.
#![allow(dead_code)] // each test crate uses its own subset

use base64::Engine as _;
use rkube_tests::etcdctl::{find_etcdctl, Etcdctl};
use rkube_tests::store_proc::{StoreCluster, StoreOptions, StoreProcess};
use serde_json::Value;

/// Whether etcdctl is installed; prints the skip line when it is not.
pub fn have_etcdctl() -> bool {
    if find_etcdctl().is_some() {
        true
    } else {
        println!("SKIPPED: etcdctl not installed");
        false
    }
}

/// A one-member store and etcdctl pointed at it, or `None` (test skipped) without etcdctl.
pub fn store_or_skip() -> Option<(StoreProcess, Etcdctl)> {
    store_with_or_skip(StoreOptions::default())
}

/// As [`store_or_skip`], with `options`.
pub fn store_with_or_skip(options: StoreOptions) -> Option<(StoreProcess, Etcdctl)> {
    if !have_etcdctl() {
        return None;
    }
    let store = StoreProcess::start_with(options).expect("store should start and become healthy");
    let ctl = store.etcdctl().expect("etcdctl was found a moment ago");
    Some((store, ctl))
}

/// A cluster of `size` members and etcdctl pointed at all of them, or `None` without etcdctl.
pub fn cluster_or_skip(size: usize) -> Option<(StoreCluster, Etcdctl)> {
    if !have_etcdctl() {
        return None;
    }
    let cluster = StoreCluster::start(size).expect("cluster should start and become healthy");
    let ctl = cluster.etcdctl().expect("etcdctl was found a moment ago");
    Some((cluster, ctl))
}

/// Parses what `etcdctl ... -w json` printed.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("etcdctl printed invalid JSON ({e}): {text}"))
}

/// Decodes a base64 byte string from etcdctl's JSON into UTF-8 text.
pub fn b64(v: &Value) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a base64 string, got {v}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("invalid base64 {s:?}: {e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("non-UTF-8 bytes in {s:?}: {e}"))
}

/// An integer field; etcd's JSON leaves out zeros, so a missing field reads as 0.
pub fn int(v: &Value, field: &str) -> i64 {
    match &v[field] {
        Value::Null => 0,
        n => n
            .as_i64()
            .unwrap_or_else(|| panic!("{field} is not an integer in {v}")),
    }
}

/// An unsigned 64-bit field (member and cluster ids use the whole range).
pub fn uint(v: &Value, field: &str) -> u64 {
    match &v[field] {
        Value::Null => 0,
        n => n
            .as_u64()
            .unwrap_or_else(|| panic!("{field} is not an unsigned integer in {v}")),
    }
}

/// `etcdctl put KEY VALUE` and the store revision it created.
pub fn put(ctl: &Etcdctl, key: &str, value: &str) -> i64 {
    let out = json(&ctl.ok(&["put", key, value, "-w", "json"]));
    let rev = int(&out["header"], "revision");
    assert!(rev > 0, "put {key} returned no revision: {out}");
    rev
}

/// The `(key, value)` pairs of a `get -w json` answer, in order.
pub fn kvs(answer: &Value) -> Vec<(String, String)> {
    answer["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| {
                    let value = if kv["value"].is_null() {
                        String::new()
                    } else {
                        b64(&kv["value"])
                    };
                    (b64(&kv["key"]), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `get ARGS -w json`, parsed.
pub fn get_json(ctl: &Etcdctl, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-w", "json"]);
    json(&ctl.ok(&all))
}

/// Pairs of owned strings, for comparing with [`kvs`].
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
