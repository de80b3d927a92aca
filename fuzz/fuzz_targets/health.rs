//! The health-answer reader on arbitrary bodies in every media type it
//! tells apart: it never panics, a failing HTTP status is never healthy, and
//! every dependency has a name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::probe::health::{State, read};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = [200, 204, 299, 300, 404, 500, 503][usize::from(selector % 7)];
    let media = [None, Some("application/json"), Some("application/health+json")]
        [usize::from(selector / 7 % 3)];
    let report = read(status, media, body);
    if !(200..300).contains(&status) {
        assert_eq!(report.state, State::Unhealthy, "HTTP {status} read as healthy");
    }
    for dependency in &report.dependencies {
        assert!(!dependency.name.is_empty(), "a dependency without a name");
    }
});
