//! The markdown checklist parser on arbitrary input: it never panics, item
//! ids are unique and non-empty, parents come before their children, and
//! stripping vouch's own evidence is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::checklist::{annotate, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let stripped = annotate::strip(text);
    assert_eq!(annotate::strip(&stripped), stripped, "strip is not idempotent");
    let checklist = parse(&stripped);
    let mut ids = std::collections::HashSet::new();
    for (index, item) in checklist.items.iter().enumerate() {
        assert!(!item.id.is_empty(), "an empty id");
        assert!(ids.insert(item.id.as_str()), "duplicate id `{}`", item.id);
        if let Some(parent) = item.parent {
            assert!(parent < index, "parent {parent} after child {index}");
        }
    }
});
