//! Error helpers shared by the services: collecting field violations into an
//! `INVALID_ARGUMENT` status with `google.rpc.BadRequest` details, and the one
//! way to turn an unexpected failure into a bare `INTERNAL`.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The problems found in one request, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single violation.
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.add(field, description);
        v
    }

    /// Records that `field` is wrong, and why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Parses one field: the value on success, or `None` with the violation recorded.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, impl fmt::Display>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(why) => {
                self.add(field, why.to_string());
                None
            }
        }
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded `(field, description)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, d)| (f.as_str(), d.as_str()))
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, description)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {description}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

impl From<Violations> for Status {
    fn from(v: Violations) -> Self {
        let message = format!("invalid request: {v}");
        let violations =
            v.0.into_iter()
                .map(|(field, description)| FieldViolation::new(field, description))
                .collect::<Vec<_>>();
        Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(violations),
        )
    }
}

/// A bare `INTERNAL` status for an unexpected failure: the cause is logged with
/// `context`, never sent to the caller.
pub fn internal(context: &str, cause: &dyn std::error::Error) -> Status {
    tracing::error!(error = %cause, "{context}");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_invalid_argument_with_field_details() {
        let mut v = Violations::new();
        v.add("seats", "must be between 1 and 9");
        v.add("hold_id", "must not be empty");
        let status = Status::from(v);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        let fields: Vec<_> = bad.field_violations.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["seats", "hold_id"]);
    }

    #[test]
    fn check_records_the_failure_and_keeps_the_value() {
        let mut v = Violations::new();
        assert_eq!(v.check("a", Ok::<_, String>(3)), Some(3));
        assert_eq!(v.check::<i32>("b", Err("bad")), None);
        assert_eq!(v.to_string(), "b: bad");
    }
}
