//! Checks on an incoming request before it reaches a handler: bearer token, content type,
//! and a bounded body.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Body;
use hyper::header::{self, HeaderMap};

use super::reply::ApiError;

/// Offers and fragments are a few KiB; anything far larger is a mistake or an attack.
pub const MAX_BODY: usize = 64 * 1024;

/// Requires `Authorization: Bearer <token>` when a token is configured.
pub fn authorize(headers: &HeaderMap, token: Option<&str>) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(presented) if constant_time_eq(presented.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid bearer token",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer token",
        )),
    }
}

/// Compares without an early exit, so response timing does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Requires the media type `expected` (parameters such as charset are ignored).
pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let found = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let media_type = found.and_then(|v| v.split(';').next()).map(str::trim);
    if media_type.is_some_and(|m| m.eq_ignore_ascii_case(expected)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "expected Content-Type {expected}, got {}",
            found.unwrap_or("none")
        ),
    ))
}

/// Reads the whole body as UTF-8 text, refusing more than [`MAX_BODY`] bytes.
pub async fn read_text<B>(headers: &HeaderMap, body: B) -> Result<String, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large =
        || ApiError::bad_request(format!("body too large: the limit is {MAX_BODY} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let collected = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::bad_request(format!("cannot read the body: {error}"))
            }
        })?;
    String::from_utf8(collected.to_bytes().to_vec())
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(authorize(&headers, None).is_ok());
        assert_eq!(authorize(&headers, Some("t0k")).unwrap_err().status, 401);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t0"));
        assert_eq!(authorize(&headers, Some("t0k")).unwrap_err().status, 401);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t0k"),
        );
        assert!(authorize(&headers, Some("t0k")).is_ok());
    }

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/SDP; charset=utf-8"),
        );
        assert!(require_content_type(&headers, "application/sdp").is_ok());
        assert_eq!(
            require_content_type(&headers, "application/trickle-ice-sdpfrag")
                .unwrap_err()
                .status,
            415
        );
    }
}
