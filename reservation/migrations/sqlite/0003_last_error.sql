-- Why the saga's last driver stopped without finishing it (the flight or hotel
-- service was unavailable), and when: shown to operators by
-- ListUnfinishedReservations. Kept once the saga finishes.
ALTER TABLE reservations ADD COLUMN last_error TEXT;
ALTER TABLE reservations ADD COLUMN last_error_ms INTEGER;
