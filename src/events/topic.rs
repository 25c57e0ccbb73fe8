//! AMQP topic matching, for the in-process bus: a pattern's words are split
//! on `.`; `*` matches exactly one word, `#` zero or more.

/// Whether `routing_key` matches the binding `pattern`.
pub(crate) fn matches(pattern: &str, routing_key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    words(&pattern, &key)
}

fn words(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| words(rest, &key[skip..])),
        Some((&word, rest)) => match key.split_first() {
            Some((first, key_rest)) => (word == "*" || word == *first) && words(rest, key_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn words_stars_and_hashes_match_as_in_amqp() {
        assert!(matches("flight.cancelled", "flight.cancelled"));
        assert!(!matches("flight.cancelled", "flight.rescheduled"));
        assert!(matches("flight.*", "flight.cancelled"));
        assert!(!matches("flight.*", "flight.cancelled.late"));
        assert!(matches("flight.#", "flight"));
        assert!(matches("flight.#", "flight.cancelled.late"));
        assert!(matches("#", "reservation.confirmed"));
        assert!(matches("*.confirmed", "reservation.confirmed"));
        assert!(!matches("reservation.*", "flight.cancelled"));
        assert!(matches("a.#.z", "a.z"));
        assert!(matches("a.#.z", "a.b.c.z"));
        assert!(!matches("a.#.z", "a.b.c"));
    }
}
