//! Request and response bodies: reading a JSON, YAML or Kubernetes protobuf request body within the size limit,
//! and building JSON responses.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// Request bodies larger than this get 413, as kube-apiserver's limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

pub type Body = BoxBody<Bytes, Infallible>;

/// Reads the whole request body, refusing more than [`MAX_BODY`].
pub async fn read<B>(body: B) -> ApiResult<Bytes>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// The media type of a request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Parses a body as JSON, or YAML or Kubernetes protobuf when the content type says so; errors
/// name the position or the field.
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    let ct = content_type(headers);
    if ct.ends_with("yaml") {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not UTF-8: {e}")))?;
        return serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")));
    }
    if ct == crate::protobuf::MEDIA_TYPE {
        return crate::protobuf::decode(bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request was not valid protobuf: {e}"
            ))
        });
    }
    if ct == crate::protobuf::MEDIA_TYPE {
        return crate::protobuf::decode(bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request was not valid protobuf: {e}"
            ))
        });
    }
    if ct.contains("protobuf") {
        return Err(ApiError::unsupported_media_type(&ct));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
    })
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON response.
pub fn json(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    json_bytes(code, bytes, "application/json")
}

pub fn json_bytes(code: StatusCode, bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response sent as the given chunks (one HTTP data frame or chunk each).
pub fn json_chunks(code: StatusCode, chunks: Vec<Bytes>) -> Response<Body> {
    let frames = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, Infallible>(hyper::body::Frame::data(c))),
    );
    let mut resp = Response::new(http_body_util::StreamBody::new(frames).boxed());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The Status response for an error.
pub fn error(e: &ApiError) -> Response<Body> {
    json(e.code, &e.to_status())
}

pub fn text(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    /// `k8s\0` + Unknown{typeMeta{v1, Namespace}, raw: Namespace{metadata{name: x}}}.
    const NAMESPACE: &[u8] = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x05\x0a\x03\x0a\x01x";

    #[test]
    fn protobuf_bodies_become_json() {
        let value = parse(&headers("application/vnd.kubernetes.protobuf"), NAMESPACE).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn bad_protobuf_is_a_bad_request() {
        let err = parse(&headers("application/vnd.kubernetes.protobuf"), b"{}").unwrap_err();
        assert_eq!(err.code, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.message,
            "the body of the request was not valid protobuf: the body does not start with the \
             Kubernetes protobuf prefix \"k8s\\x00\""
        );
    }

    #[test]
    fn other_protobuf_media_types_are_unsupported() {
        let err = parse(
            &headers("application/vnd.kubernetes.protobuf;stream=watch"),
            NAMESPACE,
        );
        assert!(err.is_ok(), "parameters are ignored");
        let err = parse(&headers("application/x-protobuf"), NAMESPACE).unwrap_err();
        assert_eq!(err.code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
