//! The auth domain: validated values (email addresses, passwords, client ids),
//! the requests the service acts on, users, and the rules around them —
//! password hashing, refresh tokens, and login throttling.

pub mod password;
pub mod refresh;
pub mod throttle;

use secrecy::{ExposeSecret as _, SecretString};
use travel::jwt::Role;
use travel::types::{RequestId, UnixMillis};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest raw email accepted before normalising, in bytes: four per character
/// of the longest address, so that NFKC never runs over a large input.
pub const MAX_RAW_EMAIL_BYTES: usize = 4 * MAX_EMAIL_CHARS;
/// Shortest password accepted at Register.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// An email address, normalised by one documented rule (the proto's too):
/// Unicode NFKC, then surrounding white space trimmed, then lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Normalises and checks an address: at most 254 characters, one `@` between
    /// a non-empty local part and a domain with a dot, no white space inside, and
    /// no control character or Unicode format character (category Cf: bidi
    /// overrides and isolates, zero-width characters, the byte-order mark), which
    /// would make two addresses that look the same name different accounts.
    /// A raw address longer than [`MAX_RAW_EMAIL_BYTES`] is refused before normalising.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.len() > MAX_RAW_EMAIL_BYTES {
            return Err("must be at most 254 characters");
        }
        let email = raw.nfkc().collect::<String>().trim().to_lowercase();
        if email.is_empty() {
            return Err("is required");
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err("must be at most 254 characters");
        }
        if email.chars().any(invisible) {
            return Err("must not contain control characters or invisible formatting characters");
        }
        let shaped = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
        if !shaped || email.chars().any(char::is_whitespace) {
            return Err("must be an email address such as ana@example.com");
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A control character (Cc) or a format character (Cf), such as U+202E.
fn invisible(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// A password as given (never trimmed). Its `Debug` does not show it.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    /// A new password: it must follow the policy (12 to 128 characters).
    pub fn new_password(raw: &str) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err("must be between 12 and 128 characters long (any characters; a passphrase is fine)");
        }
        Ok(Self(raw.into()))
    }

    /// A password presented to log in: only its presence and size are checked,
    /// so that the answer says nothing about the account.
    pub fn presented(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.chars().count() > MAX_PASSWORD_CHARS {
            return Err("must be at most 128 characters");
        }
        Ok(Self(raw.into()))
    }

    /// The password's bytes, to hash or verify.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

/// A service account's client id: 1 to 64 characters from `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Parses a client id.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        travel::types::parse_id(raw).map(Self)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `sub` claim of this account's access tokens.
    pub fn subject(&self) -> String {
        format!("service:{}", self.0)
    }
}

/// A validated Register request.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The new account's address.
    pub email: Email,
    /// The new account's password.
    pub password: Password,
    /// Idempotency key, if the caller sent one.
    pub request_id: Option<RequestId>,
}

/// A validated Login request.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account's address.
    pub email: Email,
    /// The password presented.
    pub password: Password,
}

/// A validated IssueServiceToken request.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The service account.
    pub client_id: ClientId,
    /// The secret presented.
    pub secret: Password,
}

/// A user account as stored (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Server-assigned id; the `sub` of the user's access tokens.
    pub id: String,
    /// Normalised address.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// When the account was created.
    pub created_at: UnixMillis,
}

/// Reads a stored role.
pub fn parse_role(s: &str) -> Option<Role> {
    [Role::Customer, Role::Admin, Role::Service]
        .into_iter()
        .find(|r| r.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
    }

    #[test]
    fn emails_are_nfkc_normalised_before_they_are_checked() {
        // Full-width letters and the "ﬁ" ligature fold to their plain forms.
        assert_eq!(
            Email::parse("ＡＮＡ@ﬁ.example.com").unwrap().as_str(),
            "ana@fi.example.com"
        );
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for bad in [
            "ana\u{202e}@x.io",
            "a\u{200b}na@x.io",
            "ana@x\u{2066}.io",
            "\u{feff}ana@x.io",
            "an\u{7f}a@x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_raw_email_longer_than_four_bytes_per_character_is_refused_before_normalising() {
        // White space that trimming would remove: accepted only if the raw input is short enough.
        let padded = |n: usize| format!("{}ana@example.com", " ".repeat(n - "ana@example.com".len()));
        assert_eq!(
            Email::parse(&padded(MAX_RAW_EMAIL_BYTES)).unwrap().as_str(),
            "ana@example.com"
        );
        assert_eq!(
            Email::parse(&padded(MAX_RAW_EMAIL_BYTES + 1)),
            Err("must be at most 254 characters")
        );
        // A character NFKC expands 18-fold is refused without being normalised.
        assert!(Email::parse(&"\u{FDFA}".repeat(1024 * 1024 / 3)).is_err());
    }

    #[test]
    fn malformed_emails_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "   ",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "ana@@example.com",
            "a@b@c.com",
            "ana@.com",
            "ana@example.",
            "ana@exa..mple.com",
            "an a@example.com",
            &long,
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters_not_bytes() {
        assert!(
            Password::new_password("ééééééééééé").is_err(),
            "11 characters, 22 bytes"
        );
        assert!(Password::new_password("éééééééééééé").is_ok(), "12 characters");
        assert!(Password::new_password(&"x".repeat(128)).is_ok());
        assert!(Password::new_password(&"x".repeat(129)).is_err());
        assert!(Password::new_password(" leading and trailing ").is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::new_password("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn roles_round_trip_through_storage() {
        for role in [Role::Customer, Role::Admin, Role::Service] {
            assert_eq!(parse_role(role.as_str()), Some(role));
        }
        assert_eq!(parse_role("root"), None);
    }

    #[test]
    fn service_subjects_name_the_client() {
        assert_eq!(ClientId::parse("reservation").unwrap().subject(), "service:reservation");
        assert!(ClientId::parse("a b").is_err());
    }
}
