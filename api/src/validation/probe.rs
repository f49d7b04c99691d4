//! Container probes: one handler, non-negative timings, thresholds.

use serde_json::Value;

use super::rules::{self, child, get, int_of, list_of, push_invalid, str_of};
use super::FieldError;

/// Validates the probe `c[field]`, if set.
pub(crate) fn validate_probe(
    c: &Value,
    field: &str,
    container_path: &str,
    errs: &mut Vec<FieldError>,
) {
    let Some(probe) = get(c, field) else {
        return;
    };
    let path = child(container_path, field);
    let mut handlers = 0;
    for handler in ["exec", "httpGet", "tcpSocket", "grpc"] {
        let Some(h) = get(probe, handler) else {
            continue;
        };
        let hp = child(&path, handler);
        if handlers > 0 {
            errs.push(FieldError::forbidden(
                &hp,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        handlers += 1;
        match handler {
            "exec" => {
                if list_of(h, "command").is_empty() {
                    errs.push(FieldError::required(&child(&hp, "command"), ""));
                }
            }
            "httpGet" => {
                if str_of(h, "path").is_empty() {
                    errs.push(FieldError::required(&child(&hp, "path"), ""));
                }
                rules::port_num_or_name(errs, &child(&hp, "port"), h.get("port"));
                let scheme = str_of(h, "scheme");
                if !matches!(scheme, "HTTP" | "HTTPS") {
                    errs.push(FieldError::not_supported(
                        &child(&hp, "scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" => rules::port_num_or_name(errs, &child(&hp, "port"), h.get("port")),
            _ => {
                let port = int_of(h, "port").unwrap_or(0);
                push_invalid(errs, &child(&hp, "port"), port, rules::port_num(port));
            }
        }
    }
    if handlers == 0 {
        errs.push(FieldError::required(&path, "must specify a handler type"));
    }
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        rules::non_negative(errs, &child(&path, f), int_of(probe, f));
    }
    if let Some(grace) = int_of(probe, "terminationGracePeriodSeconds") {
        if field == "readinessProbe" {
            errs.push(FieldError::invalid(
                &child(&path, "terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        } else if grace <= 0 {
            errs.push(FieldError::invalid(
                &child(&path, "terminationGracePeriodSeconds"),
                grace,
                "must be greater than 0",
            ));
        }
    }
    if field != "readinessProbe" {
        if let Some(n) = int_of(probe, "successThreshold").filter(|n| *n != 1) {
            errs.push(FieldError::invalid(
                &child(&path, "successThreshold"),
                n,
                "must be 1",
            ));
        }
    }
}
