//! The documented boundaries of the auth service's requests.

use travel::pb::auth::v1::{IssueServiceTokenRequest, LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest};

use super::{ID, KEY, Row, fresh, longest, row, times, token};
use crate::contracts::calls::Call;

const P: &str = "travel.auth.v1.";
const EMAIL: &str = "1 to 254 characters once normalised (NFKC, white space at either end trimmed, \
     lower-cased): one @ between a non-empty local part and a domain that has a dot, does not start \
     or end with one and has no two in a row; no white space, control characters (Unicode Cc) or \
     format characters (Unicode Cf, such as bidi overrides and zero-width spaces) anywhere.";
const NEW_PASSWORD: &str = "12 to 128 characters (Unicode code points), any characters, taken exactly as \
     given (not trimmed).";
const PASSWORD: &str = "1 to 128 characters (Unicode code points), any characters.";
const REFRESH_TOKEN: &str = "1 to 256 bytes.";

/// An address of `len` characters, different on every call.
fn email(len: usize) -> String {
    format!("{}@example.com", fresh(len - "@example.com".len()))
}

fn register() -> RegisterRequest {
    RegisterRequest {
        email: email(24),
        password: "a long enough password".into(),
        request_id: String::new(),
    }
}

fn login(email: impl Into<String>, password: impl Into<String>) -> Call {
    Call::Login(LoginRequest {
        email: email.into(),
        password: password.into(),
    })
}

fn register_rows() -> Vec<Row> {
    let r = |name: &str| format!("{P}RegisterRequest.{name}");
    let with_email = |email| Call::Register(RegisterRequest { email, ..register() });
    let with_password = |password| Call::Register(RegisterRequest { password, ..register() });
    let mut rows = vec![
        longest(&r("email"), EMAIL, "email", 254, email, with_email),
        row(
            r("email"),
            EMAIL,
            "email",
            with_email(format!("  {}  ", email(20).to_uppercase())),
            with_email(" \t ".into()),
        ),
        row(
            r("email"),
            EMAIL,
            "email",
            with_email(email(20)),
            with_email(format!("\u{202e}{}", email(20))),
        ),
        // Counted after NFKC: "\u{fb01}" is one character as given, two ("fi") once
        // normalised; so 254 characters as given can be 255, one too many.
        row(
            r("email"),
            EMAIL,
            "email",
            with_email(format!("\u{fb01}{}", email(252))),
            with_email(format!("\u{fb01}{}", email(253))),
        ),
        longest(
            &r("password"),
            NEW_PASSWORD,
            "password",
            128,
            |n| times('\u{e9}', n),
            with_password,
        ),
        row(
            r("password"),
            NEW_PASSWORD,
            "password",
            with_password(times('\u{e9}', 12)),
            with_password(times('\u{e9}', 11)),
        ),
        row(
            r("password"),
            NEW_PASSWORD,
            "password",
            with_password(" 1234567890 ".into()),
            with_password("1234567890 ".into()),
        ),
    ];
    rows.extend(token(&r("request_id"), KEY, "request_id", |request_id| {
        Call::Register(RegisterRequest {
            request_id,
            ..register()
        })
    }));
    rows
}

fn login_rows() -> Vec<Row> {
    let f = format!("{P}LoginRequest.email");
    let p = format!("{P}LoginRequest.password");
    let pw = "a wrong password";
    let ok = "ana@example.com";
    let email_row = |good: &str, bad: &str| row(f.clone(), EMAIL, "email", login(good, pw), login(bad, pw));
    let mut rows = vec![
        longest(&f, EMAIL, "email", 254, email, |e| login(e, pw)),
        email_row(" Ana@Example.COM ", " \t "),
        email_row(ok, "ana@example"),
        email_row(ok, "@example.com"),
        email_row(ok, "ana@@example.com"),
        email_row("ana.b@example.com", "ana@example..com"),
        email_row("ana@e.x.com", "ana@.example.com"),
        email_row("ana@example.com ", "ana@example.com."),
        email_row(ok, "an a@example.com"),
        email_row(ok, "ana\u{7}@example.com"),
        email_row("\u{ff41}na@example.com", "ana\u{a0}@example.com"),
        email_row(ok, "ana\u{202e}@example.com"),
        email_row(ok, "ana\u{200b}@example.com"),
        email_row(ok, "ana@exa\u{feff}mple.com"),
        // Counted after NFKC: 254 characters as given, 255 once "\u{fb01}" is "fi".
        email_row(
            &format!("{}@example.com", times('a', 242)),
            &format!("\u{fb01}{}@example.com", times('a', 241)),
        ),
        longest(
            &p,
            PASSWORD,
            "password",
            128,
            |n| times('\u{e9}', n),
            |pw| login(ok, pw),
        ),
        row(p, PASSWORD, "password", login(ok, "x"), login(ok, "")),
    ];
    let i = |name: &str| format!("{P}IssueServiceTokenRequest.{name}");
    let issue = |client_id: String, client_secret: String| {
        Call::IssueServiceToken(IssueServiceTokenRequest {
            client_id,
            client_secret,
        })
    };
    rows.extend(token(&i("client_id"), ID, "client_id", |id| {
        issue(id, "a wrong secret".into())
    }));
    rows.push(longest(
        &i("client_secret"),
        PASSWORD,
        "client_secret",
        128,
        |n| times('\u{e9}', n),
        |s| issue("nobody".into(), s),
    ));
    rows.push(row(
        i("client_secret"),
        PASSWORD,
        "client_secret",
        issue("nobody".into(), "x".into()),
        issue("nobody".into(), String::new()),
    ));
    rows
}

fn token_rows(field: String, build: impl Fn(String) -> Call) -> Vec<Row> {
    vec![
        longest(&field, REFRESH_TOKEN, "refresh_token", 256, |n| times('x', n), &build),
        row(
            field.clone(),
            REFRESH_TOKEN,
            "refresh_token",
            build(times('\u{e9}', 128)),
            build(format!("{}x", times('\u{e9}', 128))),
        ),
        row(
            field,
            REFRESH_TOKEN,
            "refresh_token",
            build("x".into()),
            build(String::new()),
        ),
    ]
}

pub fn rows() -> Vec<Row> {
    let mut rows = register_rows();
    rows.extend(login_rows());
    rows.extend(token_rows(
        format!("{P}RefreshRequest.refresh_token"),
        |refresh_token| Call::Refresh(RefreshRequest { refresh_token }),
    ));
    rows.extend(token_rows(format!("{P}LogoutRequest.refresh_token"), |refresh_token| {
        Call::Logout(LogoutRequest { refresh_token })
    }));
    rows
}
