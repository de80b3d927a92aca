//! RESP2, the Redis wire protocol, as much of it as a read-only probe needs:
//! commands written as arrays of bulk strings, and a bounded reader for the
//! five reply types. Every reply is read within a byte budget, an element
//! cap and a nesting cap, so a hostile server (a huge bulk length, an
//! endless array, garbage) ends in a [`RespError`], never in a hang on
//! memory or a panic.

use std::fmt;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The longest header or simple line read (`+OK`, `-ERR …`, `$5`).
pub const LINE_LIMIT: usize = 64 * 1024;

/// The most elements of arrays, all levels together, in one reply.
pub const ELEMENT_LIMIT: usize = 10_000;

/// The deepest nesting of arrays in one reply (SCAN replies nest two deep).
pub const DEPTH_LIMIT: usize = 8;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`.
    Simple(String),
    /// `-ERR unknown command`.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$5\r\nhello`; `None` for the null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n…`; `None` for the null array (`*-1`).
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The text of a simple or bulk string (lossy UTF-8).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Simple(s) => Some(s.clone()),
            Value::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// A short word for what the value is, for "expected …, got an integer".
    pub fn shape(&self) -> &'static str {
        match self {
            Value::Simple(_) => "a simple string",
            Value::Error(_) => "an error",
            Value::Integer(_) => "an integer",
            Value::Bulk(Some(_)) => "a bulk string",
            Value::Bulk(None) => "a null bulk string",
            Value::Array(Some(_)) => "an array",
            Value::Array(None) => "a null array",
        }
    }
}

/// Why a reply could not be read. After any of these the connection is out
/// of step and is not used again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespError {
    /// The peer closed the connection before the reply was complete.
    Closed,
    /// A read failed (reset, TLS error).
    Io(String),
    /// The bytes are not RESP2 (`HTTP/1.1 400`, an unknown type byte).
    Protocol(String),
    /// The reply is over a limit (its bytes, its elements, its depth).
    TooLarge(String),
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::Closed => f.write_str("the server closed the connection"),
            RespError::Io(e) => write!(f, "read error: {e}"),
            RespError::Protocol(e) => write!(f, "not a RESP reply: {e}"),
            RespError::TooLarge(e) => write!(f, "reply too large: {e}"),
        }
    }
}

/// A command as RESP: an array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An array being filled: its elements so far and how many it announced.
struct Frame {
    items: Vec<Value>,
    wanted: usize,
}

/// Reads one reply of at most `budget` bytes.
pub async fn read<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    budget: u64,
) -> Result<Value, RespError> {
    let mut left = budget;
    let mut elements = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        // `None`: a non-empty array was opened (pushed on the stack).
        let Some(mut value) = read_one(reader, &mut left, &mut elements, &mut stack).await? else {
            continue;
        };
        // Fold finished values into their arrays, innermost first.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(value);
            };
            top.items.push(value);
            if top.items.len() < top.wanted {
                break;
            }
            let done = stack.pop().expect("a frame is on the stack");
            value = Value::Array(Some(done.items));
        }
    }
}

/// Reads one value; `None` when it opened a non-empty array (pushed on the stack).
async fn read_one<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    left: &mut u64,
    elements: &mut usize,
    stack: &mut Vec<Frame>,
) -> Result<Option<Value>, RespError> {
    let line = read_line(reader, left).await?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(RespError::Protocol("an empty line".to_owned()));
    };
    let rest = String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Some(Value::Simple(rest))),
        b'-' => Ok(Some(Value::Error(rest))),
        b':' => rest
            .parse()
            .map(|n| Some(Value::Integer(n)))
            .map_err(|_| RespError::Protocol(format!("integer `{}`", excerpt(&rest)))),
        b'$' => {
            let Some(len) = length(&rest, "bulk")? else {
                return Ok(Some(Value::Bulk(None)));
            };
            // The data and its CRLF must fit what is left of the budget.
            let need = (len as u64).saturating_add(2);
            if need > *left {
                return Err(RespError::TooLarge(format!(
                    "a bulk string of {len} bytes, more than the {} left of the reply cap",
                    crate::expect::format_size(*left)
                )));
            }
            let mut data = vec![0u8; len + 2];
            reader.read_exact(&mut data).await.map_err(io_error)?;
            *left -= need;
            if !data.ends_with(b"\r\n") {
                return Err(RespError::Protocol(format!(
                    "a bulk string of {len} bytes not followed by CRLF"
                )));
            }
            data.truncate(len);
            Ok(Some(Value::Bulk(Some(data))))
        }
        b'*' => {
            let Some(count) = length(&rest, "array")? else {
                return Ok(Some(Value::Array(None)));
            };
            *elements = elements.saturating_add(count);
            if *elements > ELEMENT_LIMIT {
                return Err(RespError::TooLarge(format!(
                    "arrays of more than {ELEMENT_LIMIT} elements in all (the last announced {count})"
                )));
            }
            if count == 0 {
                return Ok(Some(Value::Array(Some(Vec::new()))));
            }
            if stack.len() >= DEPTH_LIMIT {
                return Err(RespError::TooLarge(format!(
                    "arrays nested more than {DEPTH_LIMIT} deep"
                )));
            }
            stack.push(Frame {
                items: Vec::with_capacity(count.min(1024)),
                wanted: count,
            });
            Ok(None)
        }
        other => Err(RespError::Protocol(format!(
            "unexpected first byte {:?} in `{}`",
            char::from(other),
            excerpt(&String::from_utf8_lossy(&line))
        ))),
    }
}

/// A bulk or array length: `None` for `-1` (null).
fn length(text: &str, what: &str) -> Result<Option<usize>, RespError> {
    match text.parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(n) if n >= 0 => usize::try_from(n)
            .map(Some)
            .map_err(|_| RespError::TooLarge(format!("{what} length {n}"))),
        _ => Err(RespError::Protocol(format!(
            "{what} length `{}`",
            excerpt(text)
        ))),
    }
}

/// Reads a line up to CRLF (not included), within [`LINE_LIMIT`] and the budget.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    left: &mut u64,
) -> Result<Vec<u8>, RespError> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().await.map_err(io_error)?;
        if available.is_empty() {
            return Err(RespError::Closed);
        }
        let (taken, found) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + taken > LINE_LIMIT || (line.len() + taken) as u64 > *left {
            return Err(RespError::TooLarge(format!(
                "a line longer than {} without CRLF",
                crate::expect::format_size(LINE_LIMIT.min(*left as usize) as u64)
            )));
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if found {
            *left -= line.len() as u64;
            if !line.ends_with(b"\r\n") {
                return Err(RespError::Protocol(format!(
                    "a line ending in LF alone: `{}`",
                    excerpt(&String::from_utf8_lossy(&line))
                )));
            }
            line.truncate(line.len() - 2);
            return Ok(line);
        }
    }
}

fn io_error(e: std::io::Error) -> RespError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        RespError::Closed
    } else {
        RespError::Io(crate::probe::fetch::error_chain(&e))
    }
}

/// Server text for an error message: printable, short.
fn excerpt(text: &str) -> String {
    crate::probe::tcp::printable(text.as_bytes(), 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Value, RespError> {
        let mut reader = bytes;
        read(&mut reader, 1 << 20).await
    }

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        assert_eq!(
            encode(&[b"CONFIG", b"GET", b"maxmemory"]),
            b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n"
        );
    }

    #[tokio::test]
    async fn reads_every_reply_type() {
        assert_eq!(parse(b"+PONG\r\n").await, Ok(Value::Simple("PONG".into())));
        assert_eq!(
            parse(b"-NOAUTH Authentication required.\r\n").await,
            Ok(Value::Error("NOAUTH Authentication required.".into()))
        );
        assert_eq!(parse(b":-2\r\n").await, Ok(Value::Integer(-2)));
        assert_eq!(
            parse(b"$5\r\nhe\r\no\r\n").await,
            Ok(Value::Bulk(Some(b"he\r\no".to_vec())))
        );
        assert_eq!(parse(b"$-1\r\n").await, Ok(Value::Bulk(None)));
        assert_eq!(parse(b"*-1\r\n").await, Ok(Value::Array(None)));
        assert_eq!(parse(b"*0\r\n").await, Ok(Value::Array(Some(vec![]))));
        // A SCAN reply: a cursor and an array of keys.
        assert_eq!(
            parse(b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n").await,
            Ok(Value::Array(Some(vec![
                Value::Bulk(Some(b"0".to_vec())),
                Value::Array(Some(vec![
                    Value::Bulk(Some(b"k:1".to_vec())),
                    Value::Bulk(Some(b"k:2".to_vec())),
                ])),
            ])))
        );
    }

    #[tokio::test]
    async fn hostile_replies_end_in_errors() {
        let huge = parse(b"$99999999999\r\n").await;
        assert!(matches!(huge, Err(RespError::TooLarge(_))), "{huge:?}");
        let endless = parse(b"*2147483647\r\n").await;
        assert!(
            matches!(endless, Err(RespError::TooLarge(_))),
            "{endless:?}"
        );
        let mut deep = Vec::new();
        for _ in 0..20 {
            deep.extend_from_slice(b"*1\r\n");
        }
        assert!(matches!(parse(&deep).await, Err(RespError::TooLarge(_))));
        assert!(matches!(
            parse(b"HTTP/1.1 400 Bad Request\r\n").await,
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(
            parse(b"$-7\r\n").await,
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(
            parse(b":x\r\n").await,
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(
            parse(b"$3\r\nabcd\r\n").await,
            Err(RespError::Protocol(_))
        ));
        assert_eq!(parse(b"*2\r\n+a\r\n").await, Err(RespError::Closed));
        assert_eq!(parse(b"$10\r\nabc").await, Err(RespError::Closed));
        assert_eq!(parse(b"").await, Err(RespError::Closed));
        let long = vec![b'+'; LINE_LIMIT + 10];
        assert!(matches!(parse(&long).await, Err(RespError::TooLarge(_))));
    }

    #[tokio::test]
    async fn the_budget_bounds_a_reply() {
        let mut reader: &[u8] = b"*3\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n";
        let small = read(&mut reader, 20).await;
        assert!(matches!(small, Err(RespError::TooLarge(_))), "{small:?}");
    }
}
