use super::*;

const A: &str = "apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Zm9v
contexts:
- name: a
  context: {cluster: c1, user: u1, namespace: demo}
- name: b
  context: {cluster: c1, user: u2}
users:
- name: u1
  user: {token: secret}
- name: u2
  user: {client-certificate: cert.pem, client-key-data: a2V5}
";

const B: &str = "apiVersion: v1
kind: Config
current-context: b
clusters:
- name: c1
  cluster: {server: https://ignored:1}
- name: c2
  cluster: {server: https://other:6443}
contexts:
- name: c
  context: {cluster: c2, user: u1}
";

#[test]
fn merges_first_wins_and_resolves() {
    let mut cfg = parse(Path::new("/k/a"), A).unwrap();
    cfg.merge(parse(Path::new("/k/b"), B).unwrap());
    assert_eq!(cfg.current_context, "a");
    assert_eq!(cfg.clusters.len(), 2);
    assert_eq!(cfg.contexts.len(), 3);
    let conn = cfg.connection(&Overrides::default()).unwrap();
    assert_eq!(conn.server, "https://127.0.0.1:6443");
    assert_eq!(conn.namespace, "demo");
    assert_eq!(conn.token.as_deref(), Some("secret"));
    assert_eq!(conn.ca_pem.as_deref(), Some(&b"foo"[..]));
    let other = cfg
        .connection(&Overrides {
            context: Some("c".into()),
            namespace: Some("x".into()),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!(other.server, "https://other:6443");
    assert_eq!(other.namespace, "x");
    let missing = cfg.connection(&Overrides {
        context: Some("nope".into()),
        ..Overrides::default()
    });
    assert_eq!(
        missing.unwrap_err().to_string(),
        "context was not found for specified context: nope"
    );
}

#[test]
fn relative_files_resolve_beside_the_config() {
    let cfg = parse(Path::new("/k/a"), A).unwrap();
    assert_eq!(cfg.users[1].value["client-certificate"], "/k/cert.pem");
}

#[test]
fn view_redacts_and_minifies() {
    let mut cfg = parse(Path::new("/k/a"), A).unwrap();
    cfg.minify(&Overrides::default()).unwrap();
    cfg.redact();
    let text = crate::output::yaml::to_yaml(&cfg.to_value());
    assert_eq!(
        text,
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: DATA+OMITTED
    server: https://127.0.0.1:6443
  name: c1
contexts:
- context:
    cluster: c1
    namespace: demo
    user: u1
  name: a
current-context: a
kind: Config
preferences: {}
users:
- name: u1
  user:
    token: REDACTED
"
    );
}
