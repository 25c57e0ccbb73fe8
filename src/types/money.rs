//! [`Currency`] and [`Money`]: integer minor units of one ISO 4217 currency,
//! never floating point, and their proto form.

use crate::pb::common::v1 as pb;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a currency code such as `EUR`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err("currency_code must be three upper-case letters (ISO 4217), for example EUR"),
        }
    }

    /// The code, for example `EUR`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

/// An amount of money in integer minor units of one currency; never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// Minor units (cents): integers, so sums are exact.
    pub amount_minor: i64,
    /// The currency the amount is in.
    pub currency: Currency,
}

impl Money {
    /// Parses a price: present, a valid currency, zero or more.
    pub fn parse(m: Option<&pb::Money>) -> Result<Self, &'static str> {
        let m = m.ok_or("is required")?;
        let currency = Currency::parse(&m.currency_code)?;
        if m.amount_minor < 0 {
            return Err("amount_minor must be zero or more");
        }
        Ok(Self {
            amount_minor: m.amount_minor,
            currency,
        })
    }

    /// This price times `n`, or `None` if it would overflow.
    pub fn times(self, n: i64) -> Option<Self> {
        Some(Self {
            amount_minor: self.amount_minor.checked_mul(n)?,
            currency: self.currency,
        })
    }
}

impl From<Money> for pb::Money {
    fn from(m: Money) -> Self {
        pb::Money {
            amount_minor: m.amount_minor,
            currency_code: m.currency.as_str().to_owned(),
        }
    }
}
