//! YAML as kubectl writes it (go-yaml v2 through sigs.k8s.io/yaml): keys in go-yaml's natural
//! order, sequences flush with their key, strings quoted only where a reader would take them for
//! something else, multi-line strings as literal blocks.

use serde_json::Value;

/// Renders `v` as one YAML document (no `---`), ending in a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, v, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, v, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn sorted_entries(v: &Value) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = match v {
        Value::Object(m) => m.iter().collect(),
        _ => Vec::new(),
    };
    entries.sort_by(|a, b| key_order(a.0, b.0));
    entries
}

fn write_map(out: &mut String, v: &Value, indent: usize) {
    for (i, (k, val)) in sorted_entries(v).into_iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str(&quote_string(k, indent, true));
        out.push(':');
        write_value_after_key(out, val, indent);
    }
}

fn write_value_after_key(out: &mut String, val: &Value, indent: usize) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            write_map(out, val, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, indent);
            write_seq(out, val, indent);
        }
        other => {
            out.push(' ');
            push_folded(out, other, scalar(other, indent), indent + 2);
            out.push('\n');
        }
    }
}

/// The column the next character lands in.
fn column(out: &str) -> usize {
    out.rsplit('\n').next().map_or(0, |l| l.chars().count())
}

/// Appends a scalar, folding plain and single-quoted strings as go-yaml does past column 80:
/// a single space between two words becomes a line break indented to `indent`.
fn push_folded(out: &mut String, v: &Value, text: String, indent: usize) {
    if !v.is_string() || text.starts_with(['|', '"']) {
        out.push_str(&text);
        return;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut col = column(out);
    for (i, &c) in chars.iter().enumerate() {
        if c == ' '
            && col > 80
            && i > 0
            && i + 1 < chars.len()
            && chars[i - 1] != ' '
            && chars[i + 1] != ' '
        {
            out.push('\n');
            pad(out, indent);
            col = indent;
            continue;
        }
        out.push(c);
        col += 1;
    }
}

fn write_seq(out: &mut String, v: &Value, indent: usize) {
    let Value::Array(items) = v else { return };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, item, indent + 2),
            Value::Array(a) if !a.is_empty() => write_seq(out, item, indent + 2),
            other => {
                push_folded(out, other, scalar(other, indent), indent + 2);
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_string(s, indent, false),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// go-yaml v2's "natural" key order: letters after other characters, digit runs compared as
/// numbers.
pub fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Whether a plain scalar `s` would be read back as something other than a string (YAML 1.1 as
/// go-yaml v2 resolves it).
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let Some(first) = s.chars().next() else {
        return true;
    };
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    is_yaml_int(s) || is_yaml_float(s) || is_timestamp(s)
}

fn is_yaml_int(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if body.is_empty() {
        return false;
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    // Base 60 (`1:30`).
    body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_yaml_float(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if body.is_empty() || body == "." {
        return false;
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = {
        let mut parts = mantissa.splitn(2, '.');
        let int = parts.next().unwrap_or_default();
        let frac = parts.next();
        int.chars().all(|c| c.is_ascii_digit())
            && frac.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()))
            && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()))
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' ' | b'\t'))
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

struct Analysis {
    plain: bool,
    single: bool,
    block: bool,
    multiline: bool,
}

fn analyze(s: &str) -> Analysis {
    let mut a = Analysis {
        plain: true,
        single: true,
        block: true,
        multiline: false,
    };
    if s.is_empty() {
        a.plain = false;
        a.block = false;
        return a;
    }
    if s.starts_with("---") || s.starts_with("...") {
        a.plain = false;
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut special) = (false, false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_blank = next.is_none_or(|n| n == ' ' || n == '\n');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => a.plain = false,
                '?' | ':' | '-' if followed_by_blank => a.plain = false,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_blank => a.plain = false,
                '#' if prev_space || prev_break => a.plain = false,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == chars.len() {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if c == '\n' {
            a.multiline = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == chars.len() {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
    }
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.plain = false;
        a.single = false;
    }
    if space_break || special {
        a.plain = false;
        a.single = false;
        a.block = false;
    }
    if a.multiline {
        a.plain = false;
    }
    a
}

fn quote_string(s: &str, indent: usize, is_key: bool) -> String {
    let a = analyze(s);
    if a.multiline && !is_key && a.block {
        return literal(s, indent);
    }
    if !resolves_to_non_string(s) && a.plain {
        return s.to_owned();
    }
    if a.single && !a.multiline && !resolves_to_non_string(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing == 1 { &s[..s.len() - 1] } else { s };
    let body = if trailing > 1 {
        &body[..body.len() - 1]
    } else {
        body
    };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent + 2));
            out.push_str(line);
        }
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_objects_as_kubectl_does() {
        let v = json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "cfg", "labels": {"app": "web"}, "creationTimestamp": "2024-01-15T10:00:00Z"},
            "data": {"a": "1", "b": "yes", "c": "plain text", "d": "", "e": "a: b", "f": "line1\nline2\n", "g": "x\ny"},
            "list": [{"name": "a", "ports": [{"containerPort": 80}]}, "s", 3, true, null],
            "empty": {}, "none": []
        });
        let want = "\
apiVersion: v1
data:
  a: \"1\"
  b: \"yes\"
  c: plain text
  d: \"\"
  e: 'a: b'
  f: |
    line1
    line2
  g: |-
    x
    y
empty: {}
kind: ConfigMap
list:
- name: a
  ports:
  - containerPort: 80
- s
- 3
- true
- null
metadata:
  creationTimestamp: \"2024-01-15T10:00:00Z\"
  labels:
    app: web
  name: cfg
none: []
";
        assert_eq!(to_yaml(&v), want);
    }

    #[test]
    fn long_strings_fold_past_column_80() {
        let v = json!({"status": {"message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available."}});
        assert_eq!(
            to_yaml(&v),
            "status:\n  message: '0/1 nodes are available: 1 node(s) didn''t match Pod''s node affinity/selector.\n    preemption: 0/1 nodes are available.'\n"
        );
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["b", "a10", "a2", "a-b", "aB", "a"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, vec!["a", "a-b", "a2", "a10", "aB", "b"]);
    }

    #[test]
    fn quoting() {
        for (s, want) in [
            ("500m", "500m"),
            ("0.3", "\"0.3\""),
            ("1e3", "\"1e3\""),
            ("*", "'*'"),
            ("-", "'-'"),
            ("-x", "-x"),
            ("a\tb", "\"a\\tb\""),
            (" lead", "' lead'"),
            ("node1:5000/app:latest", "node1:5000/app:latest"),
            ("#x", "'#x'"),
            ("on", "\"on\""),
        ] {
            assert_eq!(quote_string(s, 0, false), want, "{s:?}");
        }
    }
}
