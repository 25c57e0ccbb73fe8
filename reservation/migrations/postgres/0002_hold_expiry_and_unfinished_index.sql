-- When each part's hold expires at its service (UTC instant in milliseconds),
-- as HoldSeats / HoldRooms returned it: the saga passes its pivot only if both
-- holds have enough time left for recovery to confirm them.
ALTER TABLE reservations ADD COLUMN flight_hold_expires_ms BIGINT;
ALTER TABLE reservations ADD COLUMN hotel_hold_expires_ms BIGINT;
-- Recovery reads only unfinished sagas: a partial index holds just those, so
-- a pass costs what is unfinished, not every reservation ever made. The index
-- on (step, lease_until_ms) it replaces could not serve "step <> 'DONE'".
DROP INDEX reservations_unfinished;
CREATE INDEX reservations_unfinished_sagas ON reservations (lease_until_ms) WHERE step <> 'DONE';
