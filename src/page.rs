//! Pagination (AIP-158): page sizes with a maximum, and opaque page tokens that
//! carry a service's cursor and are refused when replayed against another query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Page size used when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Parses `page_size`: 0 means the default; otherwise 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(n: i32) -> Result<u32, String> {
    match n {
        0 => Ok(DEFAULT_PAGE_SIZE),
        1..=100 => Ok(n.unsigned_abs()),
        _ => Err(format!(
            "must be between 0 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
        )),
    }
}

/// Makes the token for the page after `cursor`, bound to the query `fingerprint`
/// (see [`fingerprint`]) so that it cannot be replayed against another query.
pub fn encode_token(fingerprint: u64, cursor: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{fingerprint:016x}|{cursor}"))
}

/// Reads a token made by [`encode_token`] for the same query: `Ok(None)` for an
/// empty token (the first page), the cursor otherwise.
pub fn decode_token(token: &str, fingerprint: u64) -> Result<Option<String>, &'static str> {
    if token.is_empty() {
        return Ok(None);
    }
    const BAD: &str = "is not a page token returned by this query";
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BAD)?;
    let text = String::from_utf8(bytes).map_err(|_| BAD)?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(fp), Some(cursor)) if fp == format!("{fingerprint:016x}") => Ok(Some(cursor.to_owned())),
        _ => Err(BAD),
    }
}

/// A stable 64-bit fingerprint of a query's parameters (FNV-1a), the same in
/// every process and release, so tokens survive restarts and load balancing.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_bounds() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(100), Ok(100));
        assert!(page_size(101).is_err());
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn tokens_round_trip_for_the_same_query_only() {
        let fp = fingerprint(&["LIS", "JFK"]);
        let token = encode_token(fp, "1700000000000|f-1");
        assert_eq!(decode_token(&token, fp), Ok(Some("1700000000000|f-1".to_owned())));
        assert!(decode_token(&token, fingerprint(&["LIS", "MAD"])).is_err());
        assert!(decode_token("not a token!", fp).is_err());
        assert_eq!(decode_token("", fp), Ok(None));
    }
}
