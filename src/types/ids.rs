//! Caller-assigned hold ids, idempotency keys and server-assigned ids: the
//! safe-character tokens of the contracts.

use std::fmt;

/// A caller-assigned hold id (AIP-133 style): 1 to 128 characters from
/// `A-Z a-z 0-9 . _ : -`, so it is safe in logs and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldId(String);

impl HoldId {
    /// Parses a hold id.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        parse_token(s, 128).map(Self)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An optional idempotency key (AIP-155): empty means none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Parses an optional request id: `None` when empty.
    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_token(s, 128).map(|s| Some(Self(s)))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a server-assigned resource id: not empty, at most 64 safe characters.
/// A well-formed id that names nothing is the caller's NOT_FOUND, not this.
pub fn parse_id(s: &str) -> Result<String, &'static str> {
    parse_token(s, 64)
}

fn parse_token(s: &str, max: usize) -> Result<String, &'static str> {
    if s.is_empty() {
        return Err("must not be empty");
    }
    if s.len() > max {
        return Err(if max == 64 {
            "must be at most 64 characters"
        } else {
            "must be at most 128 characters"
        });
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
        return Err("may only contain A-Z a-z 0-9 . _ : -");
    }
    Ok(s.to_owned())
}
