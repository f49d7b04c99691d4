//! Authentication against `rkube server` with the real kubectl: anonymous requests are refused,
//! static tokens from `tokens.csv` work, and service-account tokens from `kubectl create token`
//! work until their service account (or bound object) is gone.
//!
//! Needs `target/debug/rkube` (`cargo build --bin rkube`) and kubectl (see `server_proc`);
//! curl for the raw HTTPS checks.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use rkube_tests::server_proc::{expect_success, output_text, ServerProcess};
use serde_json::Value;

const STATIC_TOKEN: &str = "0123456789abcdef-static";

fn start() -> ServerProcess {
    ServerProcess::start_seeded(|data| {
        std::fs::write(
            data.join("tokens.csv"),
            format!("{STATIC_TOKEN},alice,1001,\"dev,ops\"\n"),
        )?;
        Ok(())
    })
    .expect("rkube server starts")
}

/// kubectl as the admin (client certificate).
fn admin(s: &ServerProcess, args: &[&str]) -> String {
    expect_success("kubectl", args, &s.kubectl(args).expect("kubectl runs"))
}

/// A kubeconfig naming the server and its CA but no credentials.
fn anonymous_kubeconfig(s: &ServerProcess) -> PathBuf {
    let path = s.scratch().join("anonymous.kubeconfig");
    let ca = s.data_dir().join("tls").join("ca.crt");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: rkube\n  cluster:\n    server: https://127.0.0.1:{}\n    \
         certificate-authority: {}\nusers:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: rkube\n  context:\n    \
         cluster: rkube\n    user: nobody\ncurrent-context: rkube\n",
        s.port(),
        ca.display()
    );
    std::fs::write(&path, config).expect("kubeconfig written");
    path
}

/// kubectl with no credentials but `token` (when given).
fn as_token(s: &ServerProcess, token: Option<&str>, args: &[&str]) -> Output {
    let kubeconfig = anonymous_kubeconfig(s);
    let mut cmd = s.kubectl_command();
    cmd.env("KUBECONFIG", &kubeconfig);
    if let Some(t) = token {
        cmd.arg(format!("--token={t}"));
    }
    cmd.args(args).output().expect("kubectl runs")
}

fn unauthorized(out: &Output) {
    assert!(
        !out.status.success(),
        "should be refused:\n{}",
        output_text(out)
    );
    // "(Unauthorized)", or on discovery "(the server has asked for the client to provide
    // credentials)", as against Kubernetes.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: You must be logged in to the server ("),
        "{stderr}"
    );
}

/// `curl` on `path` with the cluster CA and optional bearer token: (HTTP code, body).
fn curl(s: &ServerProcess, token: Option<&str>, path: &str) -> Option<(u16, String)> {
    let curl = Path::new("/usr/bin/curl");
    if !curl.is_file() {
        println!("SKIPPED: curl checks (no curl)");
        return None;
    }
    let mut cmd = Command::new(curl);
    cmd.args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(s.data_dir().join("tls").join("ca.crt"));
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .arg(format!("https://127.0.0.1:{}{path}", s.port()))
        .output()
        .expect("curl runs");
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = all.rsplit_once('\n').expect("curl printed the code");
    Some((code.trim().parse().expect("an HTTP code"), body.to_owned()))
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Applies a manifest as the admin (apply sends JSON, which every server build reads).
fn apply(s: &ServerProcess, manifest: &str) {
    let out = s
        .kubectl_with_stdin(&["apply", "-f", "-"], Some(manifest))
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply failed:\n{}",
        output_text(&out)
    );
}

fn service_account(s: &ServerProcess, name: &str) {
    apply(s, &format!("{{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{{\"name\":\"{name}\"}}}}"));
}

/// `kubectl create token <sa> <args>` (kubectl sends the TokenRequest as protobuf): the
/// token, or kubectl's error without its `error: failed to create token: ` prefix.
fn request_token(s: &ServerProcess, sa: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["create", "token", sa];
    all.extend_from_slice(args);
    let out = s.kubectl(&all).expect("kubectl runs");
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Err(stderr
        .strip_prefix("error: failed to create token: ")
        .unwrap_or(&stderr)
        .to_owned())
}

fn create_token(s: &ServerProcess, sa: &str, args: &[&str]) -> String {
    request_token(s, sa, args).unwrap_or_else(|e| panic!("create token {sa} {args:?}: {e}"))
}

/// POSTs a JSON TokenRequest for `sa` with curl as the admin: (HTTP code, answer).
fn post_token_request(s: &ServerProcess, sa: &str, request: &Value) -> (u16, Value) {
    let tls = s.data_dir().join("tls");
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "--cacert"])
        .arg(tls.join("ca.crt"))
        .arg("--cert")
        .arg(tls.join("admin.crt"))
        .arg("--key")
        .arg(tls.join("admin.key"))
        .args(["--data-binary", &request.to_string()])
        .arg(format!(
            "https://127.0.0.1:{}/api/v1/namespaces/default/serviceaccounts/{sa}/token",
            s.port()
        ))
        .output()
        .expect("curl runs");
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = all.rsplit_once('\n').expect("curl printed the code");
    let answer = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (code.trim().parse().expect("an HTTP code"), answer)
}

#[test]
fn anonymous_requests_are_refused_and_health_is_public() {
    let s = start();
    // (kubectl without credentials would prompt for a user name; curl asks as anonymous.)
    unauthorized(&as_token(&s, Some("not-a-token"), &["get", "configmaps"]));
    if let Some((code, body)) = curl(&s, None, "/api/v1/namespaces/default/configmaps") {
        assert_eq!(code, 401, "{body}");
        let status: Value = serde_json::from_str(&body).expect("a Status");
        assert_eq!(
            status,
            serde_json::json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "Unauthorized",
                "reason": "Unauthorized",
                "code": 401,
            })
        );
        let (code, body) = curl(&s, None, "/readyz").expect("curl ran before");
        assert_eq!((code, body.as_str()), (200, "ok"));
    }
}

#[test]
fn static_token_from_the_token_file() {
    let s = start();
    let out = as_token(
        &s,
        Some(STATIC_TOKEN),
        &["get", "configmaps", "-n", "kube-system"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    unauthorized(&as_token(
        &s,
        Some("0123456789abcdef-wrong"),
        &["get", "configmaps"],
    ));
    if let Some((code, body)) = curl(&s, Some(STATIC_TOKEN), "/api/v1/namespaces") {
        assert_eq!(code, 200, "{body}");
    }
}

#[test]
fn service_account_token_works_until_the_account_is_gone() {
    let s = start();
    service_account(&s, "bot");
    let uid = admin(
        &s,
        &[
            "get",
            "serviceaccount",
            "bot",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    let token = create_token(&s, "bot", &[]);
    let c = claims(&token);
    assert_eq!(c["iss"], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(c["sub"], "system:serviceaccount:default:bot");
    assert_eq!(
        c["aud"],
        serde_json::json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert_eq!(c["kubernetes.io"]["namespace"], "default");
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["name"], "bot");
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["uid"], uid.as_str());
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    assert_eq!(c["nbf"], c["iat"]);

    apply(
        &s,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}}"#,
    );
    let out = as_token(&s, Some(&token), &["get", "configmaps", "-o", "name"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configmap/cfg"));

    // A token meant for another audience is not for the API server.
    let vault = create_token(&s, "bot", &["--audience=vault", "--duration=10m"]);
    let c = claims(&vault);
    assert_eq!(c["aud"], serde_json::json!(["vault"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    unauthorized(&as_token(&s, Some(&vault), &["get", "configmaps"]));

    // Deleted, then recreated under the same name: the old token names the old uid.
    admin(&s, &["delete", "serviceaccount", "bot"]);
    unauthorized(&as_token(&s, Some(&token), &["get", "configmaps"]));
    service_account(&s, "bot");
    unauthorized(&as_token(&s, Some(&token), &["get", "configmaps"]));
    let fresh = create_token(&s, "bot", &[]);
    let out = as_token(&s, Some(&fresh), &["get", "configmaps"]);
    assert!(out.status.success(), "{}", output_text(&out));
}

#[test]
fn token_bound_to_a_secret_dies_with_it() {
    let s = start();
    service_account(&s, "bot");
    apply(
        &s,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"},"stringData":{"k":"v"}}"#,
    );
    let secret_uid = admin(
        &s,
        &["get", "secret", "s1", "-o", "jsonpath={.metadata.uid}"],
    );
    let token = create_token(
        &s,
        "bot",
        &["--bound-object-kind=Secret", "--bound-object-name=s1"],
    );
    let c = claims(&token);
    assert_eq!(c["kubernetes.io"]["secret"]["name"], "s1");
    assert_eq!(c["kubernetes.io"]["secret"]["uid"], secret_uid.as_str());
    let out = as_token(&s, Some(&token), &["get", "secrets", "-o", "name"]);
    assert!(out.status.success(), "{}", output_text(&out));
    admin(&s, &["delete", "secret", "s1"]);
    unauthorized(&as_token(&s, Some(&token), &["get", "configmaps"]));
}

#[test]
fn token_requests_kubernetes_refuses() {
    let s = start();
    assert_eq!(
        request_token(&s, "nobody", &[]),
        Err("serviceaccounts \"nobody\" not found".to_owned())
    );
    service_account(&s, "bot");
    assert_eq!(
        request_token(&s, "bot", &["--duration=60s"]),
        Err("TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: \
             may not specify a duration less than 10 minutes"
            .to_owned())
    );
    assert_eq!(
        request_token(
            &s,
            "bot",
            &["--bound-object-kind=Secret", "--bound-object-name=missing"]
        ),
        Err("secrets \"missing\" not found".to_owned())
    );
    // The bound pod must run as the service account.
    admin(&s, &["run", "web", "--image=registry.local/web:1"]);
    let pod_args = ["--bound-object-kind=Pod", "--bound-object-name=web"];
    assert_eq!(
        request_token(&s, "bot", &pod_args),
        Err("cannot bind token for serviceaccount \"bot\" to pod running with different serviceaccount name."
            .to_owned())
    );
    service_account(&s, "default");
    let pod_uid = admin(&s, &["get", "pod", "web", "-o", "jsonpath={.metadata.uid}"]);
    let token = create_token(&s, "default", &pod_args);
    let c = claims(&token);
    assert_eq!(c["kubernetes.io"]["pod"]["name"], "web");
    assert_eq!(c["kubernetes.io"]["pod"]["uid"], pod_uid.as_str());
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    let out = as_token(&s, Some(&token), &["get", "pods", "-o", "name"]);
    assert!(out.status.success(), "{}", output_text(&out));
    admin(&s, &["delete", "pod", "web", "--grace-period=0", "--force"]);
    unauthorized(&as_token(&s, Some(&token), &["get", "pods"]));
}

#[test]
fn token_request_as_json() {
    let s = start();
    service_account(&s, "bot");
    apply(
        &s,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"},"stringData":{"k":"v"}}"#,
    );
    let sa_uid = admin(
        &s,
        &[
            "get",
            "serviceaccount",
            "bot",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    let secret_uid = admin(
        &s,
        &["get", "secret", "s1", "-o", "jsonpath={.metadata.uid}"],
    );
    let request = serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "audiences": ["vault", "https://kubernetes.default.svc.cluster.local"],
            "expirationSeconds": 7200,
            "boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1"},
        },
    });
    let (code, answer) = post_token_request(&s, "bot", &request);
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(answer["metadata"]["name"], "bot");
    assert_eq!(answer["metadata"]["namespace"], "default");
    assert_eq!(answer["metadata"]["uid"], sa_uid.as_str());
    assert_eq!(answer["spec"], {
        let mut spec = request["spec"].clone();
        spec["boundObjectRef"] =
            serde_json::json!({"kind": "Secret", "apiVersion": "v1", "name": "s1"});
        spec
    });
    let token = answer["status"]["token"].as_str().expect("a token");
    let c = claims(token);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        7200
    );
    assert_eq!(c["aud"], request["spec"]["audiences"]);
    assert_eq!(c["kubernetes.io"]["secret"]["uid"], secret_uid.as_str());
    // expirationTimestamp is exp, as RFC 3339.
    let stamp = answer["status"]["expirationTimestamp"]
        .as_str()
        .expect("a timestamp");
    assert!(stamp.ends_with('Z') && stamp.len() == 20, "{stamp}");
    let out = as_token(&s, Some(token), &["get", "configmaps"]);
    assert!(out.status.success(), "{}", output_text(&out));

    // A reference naming another uid is a conflict; other kinds cannot be bound to.
    let mut stale = request.clone();
    stale["spec"]["boundObjectRef"]["uid"] =
        serde_json::json!("00000000-0000-0000-0000-000000000000");
    let (code, answer) = post_token_request(&s, "bot", &stale);
    assert_eq!(code, 409, "{answer}");
    assert_eq!(
        answer["message"],
        "Operation cannot be fulfilled on Secret \"s1\": the UID in the bound object reference \
         (00000000-0000-0000-0000-000000000000) does not match the UID in record. The object might \
         have been deleted and then recreated"
    );
    let mut other = request.clone();
    other["spec"]["boundObjectRef"] =
        serde_json::json!({"kind": "Deployment", "apiVersion": "apps/v1", "name": "web"});
    let (code, answer) = post_token_request(&s, "bot", &other);
    assert_eq!(code, 400, "{answer}");
    assert_eq!(
        answer["message"],
        "cannot bind token to object of type apps/v1, Kind=Deployment"
    );
}

/// Claims as the server writes them, for service account `bot` (uid `uid`) in `default`.
fn bot_claims(uid: &str, iat: i64, exp: i64) -> Value {
    serde_json::json!({
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "exp": exp,
        "iat": iat,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "bot", "uid": uid}},
        "nbf": iat,
        "sub": "system:serviceaccount:default:bot",
    })
}

#[test]
fn expired_and_forged_tokens_are_refused() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let s = start();
    service_account(&s, "bot");
    let uid = admin(
        &s,
        &[
            "get",
            "serviceaccount",
            "bot",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    let tls = s.data_dir().join("tls");
    let key = EncodingKey::from_ec_pem(&std::fs::read(tls.join("sa.key")).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let es256 = Header::new(Algorithm::ES256);
    // Signed with the server's own key: valid now, then expired an hour ago.
    let valid = encode(&es256, &bot_claims(&uid, now - 60, now + 600), &key).unwrap();
    let out = as_token(&s, Some(&valid), &["get", "configmaps"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let expired = encode(&es256, &bot_claims(&uid, now - 7200, now - 3600), &key).unwrap();
    unauthorized(&as_token(&s, Some(&expired), &["get", "configmaps"]));
    let early = encode(&es256, &bot_claims(&uid, now + 3600, now + 7200), &key).unwrap();
    unauthorized(&as_token(&s, Some(&early), &["get", "configmaps"]));
    // HS256 keyed with the public key (the algorithm-confusion forgery) is not a signature.
    let public = std::fs::read(tls.join("sa.pub")).unwrap();
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &bot_claims(&uid, now - 60, now + 600),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    unauthorized(&as_token(&s, Some(&forged), &["get", "configmaps"]));
}
