//! The SSE reader on arbitrary bytes: it never panics, and how the stream is
//! cut into chunks never changes the events it yields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::probe::mcp::SseParser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = SseParser::default().feed(stream);
    let mut parser = SseParser::default();
    let step = usize::from(cut).max(1);
    let pieces: Vec<String> = stream
        .chunks(step)
        .flat_map(|chunk| parser.feed(chunk))
        .collect();
    assert_eq!(whole, pieces, "chunks of {step} bytes change the events");
    for event in &whole {
        assert!(!event.trim().is_empty(), "an event without data");
    }
});
