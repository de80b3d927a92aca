//! The probe-file loader on arbitrary input: it never panics, every
//! diagnostic points inside the input (line within the file), and a file that
//! loads once loads the same way again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vouch::spec::{LoadOptions, load_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "VOUCH_FUZZ").then(|| "value".to_owned());
    let options = LoadOptions {
        target: Some("http://127.0.0.1:9"),
        sets: &[],
        env: &env,
    };
    // YAML breaks lines at `\r\n`, `\n` and a lone `\r`.
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
    let first = load_str(Path::new("fuzz.yaml"), text, &options);
    if let Err(diagnostics) = &first {
        assert!(!diagnostics.is_empty(), "an error without a diagnostic");
        for d in diagnostics {
            assert!(d.pos.line <= lines + 1, "line {} of {lines}", d.pos.line);
        }
    }
    let again = load_str(Path::new("fuzz.yaml"), text, &options);
    assert_eq!(first.is_ok(), again.is_ok(), "loading is not deterministic");
});
