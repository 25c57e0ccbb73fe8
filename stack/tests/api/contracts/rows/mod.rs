//! The table of documented boundaries: one row per boundary of a field's
//! `Accepts:` paragraph, quoting the paragraph verbatim, with a request just
//! inside the boundary (the server must not answer INVALID_ARGUMENT) and the
//! same request just outside it (INVALID_ARGUMENT naming the field).

mod auth;
mod common;
mod flight;
mod hotel;
mod reservation;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::contracts::calls::Call;

/// Ids the server assigns, and the client ids of service accounts.
pub const ID: &str = "1 to 64 characters, each one of A-Z a-z 0-9 . _ : -";
/// Hold ids the caller assigns.
pub const HOLD_ID: &str = "1 to 128 characters, each one of A-Z a-z 0-9 . _ : -";
/// Optional idempotency keys.
pub const KEY: &str = "empty (no key), or 1 to 128 characters, each one of A-Z a-z 0-9 . _ : -";
/// Page sizes.
pub const PAGE_SIZE: &str = "0 to 100; 0 means 20.";
/// A Date field.
pub const DATE: &str = "a valid Date (see Date); required.";
/// A check-out day.
pub const CHECK_OUT: &str = "a valid Date (see Date), 1 to 30 days after check_in; required.";
/// Three upper-case letters.
pub const LETTERS3: &str = "exactly three upper-case letters A-Z.";

/// A documented boundary of one field.
#[derive(Debug, Clone)]
pub struct Row {
    /// Where the rule is written: `package.Message.field`.
    pub field: String,
    /// The field's `Accepts:` paragraph, verbatim.
    pub rule: &'static str,
    /// The field the BadRequest violation must name (`hotel.check_out`...).
    pub violation: &'static str,
    /// A request at the limit: anything but INVALID_ARGUMENT.
    pub accepted: Call,
    /// The same request just past the limit: INVALID_ARGUMENT naming `violation`.
    pub refused: Call,
}

/// Every row.
pub fn all() -> Vec<Row> {
    [
        auth::rows(),
        flight::rows(),
        hotel::rows(),
        reservation::rows(),
        common::rows(),
    ]
    .concat()
}

/// A row.
pub fn row(
    field: impl Into<String>,
    rule: &'static str,
    violation: &'static str,
    accepted: Call,
    refused: Call,
) -> Row {
    Row {
        field: field.into(),
        rule,
        violation,
        accepted,
        refused,
    }
}

/// The two ends of a rule that starts "`lo` to `hi`": both accepted, one past
/// each refused.
pub fn ints(
    field: &str,
    rule: &'static str,
    violation: &'static str,
    (lo, hi): (i32, i32),
    build: impl Fn(i32) -> Call,
) -> Vec<Row> {
    assert!(
        rule.starts_with(&format!("{lo} to {hi}")),
        "{field}: {rule:?} is not {lo} to {hi}"
    );
    vec![
        row(field, rule, violation, build(lo), build(lo - 1)),
        row(field, rule, violation, build(hi), build(hi + 1)),
    ]
}

/// The longest value of a rule that says "to `max` characters" (or bytes):
/// `make(max)` accepted, `make(max + 1)` refused.
pub fn longest(
    field: &str,
    rule: &'static str,
    violation: &'static str,
    max: usize,
    make: impl Fn(usize) -> String,
    build: impl Fn(String) -> Call,
) -> Row {
    assert!(
        rule.contains(&format!("to {max} characters")) || rule.contains(&format!("to {max} bytes")),
        "{field}: {rule:?} does not say {max}"
    );
    row(field, rule, violation, build(make(max)), build(make(max + 1)))
}

/// The rows of an id-like field (`rule` is [`ID`], [`HOLD_ID`] or [`KEY`]):
/// its longest value, its shortest, and its character set.
pub fn token(field: &str, rule: &'static str, violation: &'static str, build: impl Fn(String) -> Call) -> Vec<Row> {
    let max = if rule == ID { 64 } else { 128 };
    let shortest = if rule == KEY {
        row(field, rule, violation, build(String::new()), build(" ".into()))
    } else {
        row(field, rule, violation, build("A".into()), build(String::new()))
    };
    vec![
        longest(field, rule, violation, max, fresh, &build),
        shortest,
        row(
            field,
            rule,
            violation,
            build(format!("AZaz09._:-{}", fresh(6))),
            build("a b".into()),
        ),
        row(
            field,
            rule,
            violation,
            build(format!("cafe{}", fresh(6))),
            build("caf\u{e9}".into()),
        ),
        row(field, rule, violation, build(fresh(8)), build("a/b".into())),
    ]
}

/// A text of `len` characters from `[a-z0-9]`, different on every call (at
/// least when `len` allows).
pub fn fresh(len: usize) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut s = format!("k{}x", NEXT.fetch_add(1, Ordering::Relaxed));
    s.truncate(len);
    while s.len() < len {
        s.push('x');
    }
    s
}

/// `n` copies of `c`.
pub fn times(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}
