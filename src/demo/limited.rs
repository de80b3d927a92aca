//! The demo's rate-limited endpoint (`/api/limited`): an exact token bucket of
//! 10 requests, refilled at 10 per second, answering `429` with `Retry-After`
//! and the IETF draft `RateLimit` / `RateLimit-Policy` headers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use tokio::time::Instant;

/// Tokens in a full bucket, and tokens added per second.
pub const RATE: u32 = 10;

/// The bucket, shared by every connection of one deployment.
#[derive(Clone)]
pub struct Limiter(Arc<Mutex<Bucket>>);

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter(Arc::new(Mutex::new(Bucket {
            tokens: f64::from(RATE),
            last: Instant::now(),
        })))
    }
}

impl Limiter {
    /// Takes a token: `Ok(remaining)`, or `Err(wait)` until the next one.
    fn take(&self) -> Result<u32, Duration> {
        let Ok(mut bucket) = self.0.lock() else {
            return Ok(0);
        };
        let now = Instant::now();
        let earned = now.duration_since(bucket.last).as_secs_f64() * f64::from(RATE);
        bucket.tokens = (bucket.tokens + earned).min(f64::from(RATE));
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens.floor() as u32)
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / f64::from(RATE),
            ))
        }
    }

    /// The answer to one request: 200 while tokens last, then 429.
    pub fn respond(&self) -> Response<Full<Bytes>> {
        let (status, remaining, body, retry_after) = match self.take() {
            Ok(remaining) => (StatusCode::OK, remaining, r#"{"limited":false}"#, None),
            Err(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                0,
                r#"{"error":"too many requests"}"#,
                // Whole seconds, rounded up (RFC 9110 delay-seconds).
                Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            ),
        };
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        };
        set("content-type", "application/json".to_owned());
        set("ratelimit-policy", format!("{RATE};w=1"));
        set(
            "ratelimit",
            format!("limit={RATE}, remaining={remaining}, reset=1"),
        );
        if let Some(seconds) = retry_after {
            set("retry-after", seconds.to_string());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_pass_then_429_until_a_token_returns() {
        let limiter = Limiter::default();
        for _ in 0..RATE {
            assert_eq!(limiter.respond().status(), StatusCode::OK);
        }
        let limited = limiter.respond();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()["retry-after"], "1");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(limiter.respond().status(), StatusCode::OK);
        assert_eq!(limiter.respond().status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
