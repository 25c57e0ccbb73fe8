//! A stay: the nights from check-in up to (not including) check-out.

use travel::types::Date;

/// Most nights one stay may have.
pub const MAX_NIGHTS: i32 = 30;

/// The nights [check_in, check_out): at least one, at most [`MAX_NIGHTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    check_in: Date,
    check_out: Date,
}

impl Stay {
    /// A stay from `check_in` to `check_out`; the error describes what is wrong
    /// with `check_out`.
    pub fn new(check_in: Date, check_out: Date) -> Result<Self, String> {
        let nights = check_in.days_until(check_out);
        if nights < 1 {
            return Err("must be after check_in".to_owned());
        }
        if nights > i64::from(MAX_NIGHTS) {
            return Err(format!("must be at most {MAX_NIGHTS} nights after check_in"));
        }
        Ok(Self { check_in, check_out })
    }

    /// A stay accepted earlier (read back from storage): only required to have
    /// a night, so that a later, lower limit does not make stored stays unreadable.
    pub fn stored(check_in: Date, check_out: Date) -> Option<Self> {
        (check_in < check_out).then_some(Self { check_in, check_out })
    }

    /// The first night.
    pub fn check_in(&self) -> Date {
        self.check_in
    }

    /// The day of departure (not a night of the stay).
    pub fn check_out(&self) -> Date {
        self.check_out
    }

    /// Nights in the stay, 1 to [`MAX_NIGHTS`].
    pub fn nights(&self) -> u32 {
        u32::try_from(self.check_in.days_until(self.check_out)).unwrap_or(0)
    }

    /// Every night of the stay, in order.
    pub fn each_night(&self) -> Vec<Date> {
        let mut nights = Vec::with_capacity(self.nights() as usize);
        let mut night = Some(self.check_in);
        while let Some(n) = night.filter(|n| *n < self.check_out) {
            nights.push(n);
            night = n.next();
        }
        nights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(iso: &str) -> Date {
        Date::parse_iso(iso).unwrap()
    }

    #[test]
    fn a_stay_covers_check_in_up_to_but_not_including_check_out() {
        let stay = Stay::new(date("2026-02-27"), date("2026-03-02")).unwrap();
        assert_eq!(stay.nights(), 3);
        let nights: Vec<_> = stay.each_night().iter().map(|d| d.iso()).collect();
        assert_eq!(nights, ["2026-02-27", "2026-02-28", "2026-03-01"]);
    }

    #[test]
    fn check_out_must_be_after_check_in() {
        assert!(Stay::new(date("2026-05-01"), date("2026-05-01")).is_err());
        assert!(Stay::new(date("2026-05-02"), date("2026-05-01")).is_err());
    }

    #[test]
    fn a_stay_is_at_most_thirty_nights() {
        assert_eq!(Stay::new(date("2026-05-01"), date("2026-05-31")).unwrap().nights(), 30);
        assert!(Stay::new(date("2026-05-01"), date("2026-06-01")).is_err());
    }
}
