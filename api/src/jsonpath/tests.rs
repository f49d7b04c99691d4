//! Tests against kubectl's documented JSONPath examples, errors and edge cases.

use super::*;
use serde_json::json;

/// The input of kubectl's JSONPath support page.
fn doc_input() -> Value {
    json!({
        "kind": "List",
        "items": [
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
                "status": {
                    "capacity": {"cpu": "4"},
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]
                }
            },
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.2"},
                "status": {
                    "capacity": {"cpu": "8"},
                    "addresses": [
                        {"type": "LegacyHostIP", "address": "127.0.0.2"},
                        {"type": "another", "address": "127.0.0.3"}
                    ]
                }
            }
        ],
        "users": [
            {"name": "myself", "user": {}},
            {"name": "e2e", "user": {"username": "admin", "password": "secret"}}
        ]
    })
}

fn run(template: &str) -> String {
    JsonPath::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .execute(&doc_input())
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn run_err(template: &str) -> Error {
    match JsonPath::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .execute(&doc_input())
    {
        Ok(out) => panic!("{template}: expected an error, got {out:?}"),
        Err(e) => e,
    }
}

fn parse_err(template: &str) -> String {
    match JsonPath::parse(template) {
        Ok(_) => panic!("{template}: expected a parse error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn kubectl_documented_examples() {
    let cases = [
        ("{.kind}", "List"),
        ("{['kind']}", "List"),
        ("{..name}", "127.0.0.1 127.0.0.2 myself e2e"),
        ("{.items[*].metadata.name}", "127.0.0.1 127.0.0.2"),
        ("{.users[0].name}", "myself"),
        (
            "{.items[*]['metadata.name', 'status.capacity']}",
            r#"127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}"#,
        ),
        (r#"{.users[?(@.name=="e2e")].user.password}"#, "secret"),
        (
            "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
            r#"[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] "#,
        ),
        (
            r"{range .items[*]}{.metadata.name}{'\t'}{end}",
            "127.0.0.1\t127.0.0.2\t",
        ),
        ("{$.kind}", "List"),
        ("{@.kind}", "List"),
    ];
    for (template, want) in cases {
        assert_eq!(run(template), want, "{template}");
    }
}

#[test]
fn text_and_literals() {
    assert_eq!(run("kind: {.kind}!"), "kind: List!");
    assert_eq!(run("plain text"), "plain text");
    assert_eq!(run(r#"{"{"}"#), "{");
    assert_eq!(
        run(r#"{range .users[*]}{.name}{"\n"}{end}"#),
        "myself\ne2e\n"
    );
    assert_eq!(run(r#"{"a\x41\u00e9"}"#), "aAé");
    assert_eq!(run("{}"), format_value(&doc_input()));
    assert_eq!(run("{.items[0].kind} {true}"), "None true");
}

#[test]
fn indices_and_slices() {
    let cases = [
        ("{.items[-1].metadata.name}", "127.0.0.2"),
        ("{.items[0:1].metadata.name}", "127.0.0.1"),
        ("{.items[1:].metadata.name}", "127.0.0.2"),
        ("{.items[:1].metadata.name}", "127.0.0.1"),
        ("{.items[::2].metadata.name}", "127.0.0.1"),
        ("{.items[-2:].metadata.name}", "127.0.0.1 127.0.0.2"),
        ("{.items[1:1].metadata.name}", ""),
        ("{.items[0,1].metadata.name}", "127.0.0.1 127.0.0.2"),
        (
            "{.items[1].status.addresses[*].address}",
            "127.0.0.2 127.0.0.3",
        ),
        ("{.items[0].status.capacity.*}", "4"),
        ("{.users[1].user.*}", "secret admin"),
    ];
    for (template, want) in cases {
        assert_eq!(run(template), want, "{template}");
    }
}

#[test]
fn escaped_and_quoted_keys() {
    assert_eq!(
        run(r"{.items[0].metadata.labels.kubernetes\.io/hostname}"),
        "127.0.0.1"
    );
    assert_eq!(
        run(r"{.items[0].metadata.labels['kubernetes\.io/hostname']}"),
        "127.0.0.1"
    );
    // Unescaped, the dot inside quotes still separates fields, as in kubectl.
    assert_eq!(
        run_err("{.items[0].metadata.labels['kubernetes.io/hostname']}"),
        Error::NotFound("kubernetes".to_owned())
    );
}

#[test]
fn filters() {
    let cases = [
        (
            r#"{.items[*].status.addresses[?(@.type=="LegacyHostIP")].address}"#,
            "127.0.0.1 127.0.0.2",
        ),
        (
            r#"{.items[*].status.addresses[?(@.type!="LegacyHostIP")].address}"#,
            "127.0.0.3",
        ),
        ("{.users[?(@.user.password)].name}", "e2e"),
        (r#"{.users[?(@.name == 'myself')].name}"#, "myself"),
        (r#"{.users[?(@.name<"f")].name}"#, "e2e"),
        (r#"{.users[?(@.name>="f")].name}"#, "myself"),
    ];
    for (template, want) in cases {
        assert_eq!(run(template), want, "{template}");
    }
    let nums = json!({"n": [1, 2, 3, 4], "f": [1.5, 2.5], "b": [true, false]});
    let eval = |t: &str| JsonPath::parse(t).expect("parses").execute(&nums);
    assert_eq!(eval("{.n[?(@>2)]}"), Ok("3 4".to_owned()));
    assert_eq!(eval("{.n[?(@<=2)]}"), Ok("1 2".to_owned()));
    assert_eq!(eval("{.f[?(@>2.0)]}"), Ok("2.5".to_owned()));
    assert_eq!(eval("{.b[?(@==true)]}"), Ok("true".to_owned()));
    assert_eq!(eval("{.n[?(@>2.0)]}"), Err(Error::IncompatibleTypes));
    assert_eq!(eval(r#"{.n[?(@=="1")]}"#), Err(Error::IncompatibleTypes));
    assert_eq!(eval("{.b[?(@<true)]}"), Err(Error::InvalidComparisonType));
    assert_eq!(
        eval("{.n[?(@=~1)]}"),
        Err(Error::UnknownOperator("=~".to_owned()))
    );
    assert_eq!(
        eval("{.n[?(@.x==1)]}"),
        Err(Error::NotFound("x".to_owned()))
    );
    assert_eq!(
        eval("{[?(@.x)]}"),
        Err(Error::NotFilterable(
            "map[b:[true false] f:[1.5 2.5] n:[1 2 3 4]]".to_owned()
        ))
    );
}

#[test]
fn nested_ranges() {
    assert_eq!(
        run("{range .items[*]}{.metadata.name}:{range .status.addresses[*]} {.address}{end};{end}"),
        "127.0.0.1: 127.0.0.1;127.0.0.2: 127.0.0.2 127.0.0.3;"
    );
    // A range without {end} runs to the end of the template.
    assert_eq!(run("{range .users[*]}{.name},"), "myself,e2e,");
    assert_eq!(run("{range .users[1:1]}x{end}done"), "done");
}

#[test]
fn missing_keys() {
    assert_eq!(run_err("{.spec}"), Error::NotFound("spec".to_owned()));
    assert_eq!(run_err("{.spec}").to_string(), "spec is not found");
    let lenient = JsonPath::parse("{.spec.replicas}-{.kind}")
        .expect("parses")
        .allow_missing_keys(true);
    assert_eq!(lenient.execute(&doc_input()), Ok("-List".to_owned()));
    // Fields of nothing are nothing, not an error.
    assert_eq!(run("{.items[1:1].metadata.name}"), "");
    assert_eq!(run("{.users[?(@.name==\"nobody\")].name}"), "");
}

#[test]
fn evaluation_errors() {
    assert_eq!(
        run_err("{.items[5]}").to_string(),
        "array index out of bounds: index 5, length 2"
    );
    assert_eq!(
        run_err("{.items[0:3]}").to_string(),
        "array index out of bounds: index 2, length 2"
    );
    assert_eq!(
        run_err("{.items[1:0]}").to_string(),
        "starting index 1 is greater than ending index 0"
    );
    assert_eq!(run_err("{.items[::0]}").to_string(), "step must be > 0");
    assert_eq!(
        run_err("{.kind[0]}").to_string(),
        "string is not array or slice"
    );
    assert_eq!(
        run_err("{.items[0].metadata[0]}").to_string(),
        "map[string]interface {} is not array or slice"
    );
    assert_eq!(run_err("{end}").to_string(), "not in range, nothing to end");
    assert_eq!(run_err("{foo}").to_string(), "unrecognized identifier foo");
    assert_eq!(
        run_err(r#"{.users[?(@.user.*=="x")]}"#).to_string(),
        "can only compare one element at a time"
    );
}

#[test]
fn parse_errors_say_where() {
    assert_eq!(parse_err("{.a"), "unclosed action at position 3");
    assert_eq!(parse_err("x {.a\n}"), "unclosed action at position 5");
    assert_eq!(parse_err("{.items[0}"), "unterminated array at position 7");
    assert_eq!(parse_err("{.a[x]}"), "invalid array index x at position 4");
    assert_eq!(
        parse_err("{.a[-]}"),
        "array index - is not a number at position 4"
    );
    assert_eq!(
        parse_err("{.a[?(@.x==1}"),
        "unterminated filter at position 3"
    );
    assert_eq!(
        parse_err("{.a[?(@.x==1)}"),
        "unclosed array expect ] at position 12"
    );
    assert_eq!(
        parse_err("{#}"),
        "unrecognized character in action: U+0023 '#' at position 1"
    );
    assert_eq!(
        parse_err(r#"{"abc}"#),
        "unterminated quoted string at position 1"
    );
    assert_eq!(
        parse_err(r#"{"\q"}"#),
        r#"unquote string "\q" error invalid syntax at position 1"#
    );
    assert_eq!(
        parse_err("{1.2.3}"),
        "cannot parse number 1.2.3 at position 1"
    );
    assert_eq!(
        parse_err("{......a}"),
        "invalid multiple recursive descent at position 3"
    );
    assert_eq!(
        parse_err(r#"{.a[?(@.x=="y" && @.z=="w")]}"#),
        "unrecognized character in action: U+0026 '&' at position 15"
    );
}

#[test]
fn printer_column_expressions() {
    let obj = json!({
        "spec": {"replicas": 3, "paused": false, "ratio": 0.25},
        "status": {"conditions": [{"type": "Synced", "status": "False"},
                                  {"type": "Ready", "status": "True"}]}
    });
    let first = |path: &str| {
        JsonPath::parse_expression(path)
            .expect("parses")
            .find_results(&obj)
            .expect("evaluates")
            .into_iter()
            .next()
            .and_then(|g| g.into_iter().next())
    };
    assert_eq!(first(".spec.replicas"), Some(json!(3)));
    assert_eq!(first(".spec.paused"), Some(json!(false)));
    assert_eq!(
        first(r#".status.conditions[?(@.type=="Ready")].status"#),
        Some(json!("True"))
    );
    assert_eq!(first(".spec.missing"), None);
    assert_eq!(
        JsonPath::parse_expression(".spec[").map_err(|e| e.to_string()),
        Err("unterminated array at position 5".to_owned())
    );
}

#[test]
fn relaxed_paths() {
    assert_eq!(
        relaxed_expression("metadata.name").as_deref(),
        Some("{.metadata.name}")
    );
    assert_eq!(
        relaxed_expression(".metadata.name").as_deref(),
        Some("{.metadata.name}")
    );
    assert_eq!(
        relaxed_expression("{metadata.name}").as_deref(),
        Some("{.metadata.name}")
    );
    assert_eq!(
        relaxed_expression("{.metadata.name}").as_deref(),
        Some("{.metadata.name}")
    );
    assert_eq!(relaxed_expression("").as_deref(), Some(""));
    assert_eq!(relaxed_expression("{.a}{.b}"), None);
}

#[test]
fn kubectl_error_message() {
    let obj = json!({"kind": "Pod"});
    let err = JsonPath::parse("{.spec}")
        .expect("parses")
        .execute(&obj)
        .expect_err("missing");
    assert_eq!(
        execution_error_message("{.spec}", &obj, &err),
        "error executing jsonpath \"{.spec}\": Error executing template: spec is not found. \
         Printing more information for debugging the template:\n\ttemplate was:\n\t\t{.spec}\n\t\
         object given to jsonpath engine was:\n\t\t{\"kind\":\"Pod\"}\n\n"
    );
}

#[test]
fn keeps_the_template() {
    let t = JsonPath::parse("{.kind}").expect("parses");
    assert_eq!(t.template(), "{.kind}");
    let e = JsonPath::parse_expression(".spec.replicas").expect("parses");
    assert_eq!(e.template(), "{.spec.replicas}");
}

#[test]
fn kubectl_parse_error_message() {
    let err = JsonPath::parse("{.a").expect_err("unclosed");
    assert_eq!(
        parse_error_message("{.a", &err),
        "error parsing jsonpath {.a, unclosed action at position 3\n"
    );
}

mod safety {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "{", "}", ".", "..", "[", "]", "[?(", ")", "@", "$", "'", "\"", "\\", ",", ":", "-1", "0",
        "2", "*", "items", "name", "range", "end", "==", "<", "!", " ", "é", "\n", "true", "1.5",
    ];

    proptest! {
        #[test]
        fn parse_safety(template in "\\PC{0,40}") {
            let _ = JsonPath::parse(&template);
        }

        #[test]
        fn evaluation_safety(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..24)) {
            let template = pieces.concat();
            if let Ok(parsed) = JsonPath::parse(&template) {
                let _ = parsed.execute(&doc_input());
                let _ = parsed.allow_missing_keys(true).execute(&doc_input());
            }
        }
    }
}
