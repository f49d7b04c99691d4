//! Serving /openapi/v2 and /openapi/v3 (filled in with the schema documents).
