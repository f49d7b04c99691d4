//! Serving /openapi/v2 and /openapi/v3.

use std::sync::Arc;

use http::{HeaderMap, Response};

use crate::body::Body;
use crate::request::Query;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub fn serve(_state: &Arc<ApiServer>, _path: &str, _query: &Query, _headers: &HeaderMap) -> ApiResult<Response<Body>> {
    Err(ApiError::path_not_found())
}
