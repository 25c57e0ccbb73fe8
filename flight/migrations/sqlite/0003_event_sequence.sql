-- The sequence number of a flight's last event (FlightRescheduled,
-- FlightCancelled): each event about a flight takes the next one, in the
-- transaction that records it. A flight cancelled before this column existed
-- had one event, its FlightCancelled.
ALTER TABLE flights ADD COLUMN event_sequence BIGINT NOT NULL DEFAULT 0;
UPDATE flights SET event_sequence = 1 WHERE cancelled_ms IS NOT NULL;
