// End-to-end journey through the travel platform with a TypeScript client
// generated from proto/ by protoc-gen-es and driven with @connectrpc/connect-node
// over gRPC (HTTP/2, no TLS).
//
// A new customer registers, logs in, searches a flight and a hotel stay, checks
// out both as one bundle, gets and lists the reservation, and cancels it; the
// seats and rooms go down and back up. One refused call checks the gRPC code and
// the google.rpc.BadRequest field violation a client gets for bad input.
//
// This file generates nothing: .ci/node/run.sh runs `buf generate` into
// .ci/node/gen (git-ignored), compiles this file with tsc into .ci/node/build
// and runs it with node. Addresses, all optional: AUTH_ADDR (default
// 127.0.0.1:50051), FLIGHT_ADDR (:50052), HOTEL_ADDR (:50053), RESERVATION_ADDR
// (:50054). Needs a running stack with the demo catalog loaded (stack/src/demo.rs:
// a LIS -> JFK flight every day, EUR hotels in Lisbon). Ends with
// `node journey: N passed, M failed`.

import { randomUUID } from "node:crypto";

import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import { AuthService, Role } from "./gen/travel/auth/v1/auth_pb.js";
import type { Date as ProtoDate, Money } from "./gen/travel/common/v1/common_pb.js";
import { FlightService } from "./gen/travel/flight/v1/flight_pb.js";
import { HotelService } from "./gen/travel/hotel/v1/hotel_pb.js";
import { ReservationService, ReservationState } from "./gen/travel/reservation/v1/reservation_pb.js";

const AUTH_ADDR = process.env.AUTH_ADDR || "127.0.0.1:50051";
const FLIGHT_ADDR = process.env.FLIGHT_ADDR || "127.0.0.1:50052";
const HOTEL_ADDR = process.env.HOTEL_ADDR || "127.0.0.1:50053";
const RESERVATION_ADDR = process.env.RESERVATION_ADDR || "127.0.0.1:50054";

// Per-call deadlines. A checkout is a saga over two services.
const TIMEOUT_MS = 15_000;
const CHECKOUT_TIMEOUT_MS = 60_000;

class CheckFailed extends Error {}

let passed = 0;
let currentStep = "start";

/** Counts and prints a check that holds; throws CheckFailed otherwise. */
function check(condition: unknown, description: string, ...details: unknown[]): void {
  if (!condition) {
    throw new CheckFailed([description, ...details.map(show)].join("\n    "));
  }
  passed += 1;
  console.log(`ok ${String(passed).padStart(2)}: ${description}`);
}

function step(title: string): void {
  currentStep = title;
  console.log(`\n--- ${title}`);
}

/** A value on one line, for failure details (int64 fields are bigints). */
function show(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

function money(m: Money | undefined): string {
  return m ? `${m.amountMinor} ${m.currencyCode}` : "(none)";
}

/** The gRPC name of a code: Code.InvalidArgument -> INVALID_ARGUMENT. */
function grpcName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function stateName(state: ReservationState): string {
  return `RESERVATION_STATE_${ReservationState[state]}`;
}

function dateOf(d: globalThis.Date): Pick<ProtoDate, "year" | "month" | "day"> {
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 2026-12-02 */
function iso(d: Pick<ProtoDate, "year" | "month" | "day">): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.year}-${two(d.month)}-${two(d.day)}`;
}

function transport(addr: string, interceptors: Interceptor[] = []): Transport {
  return createGrpcTransport({ baseUrl: `http://${addr}`, interceptors });
}

/** Awaits a call that must fail with `code`; returns the ConnectError. */
async function expectError(code: Code, call: Promise<unknown>): Promise<ConnectError> {
  let response: unknown;
  try {
    response = await call;
  } catch (err) {
    const error = ConnectError.from(err);
    if (error.code !== code) {
      throw new CheckFailed(`expected ${grpcName(code)}, got ${grpcName(error.code)}: ${error.rawMessage}`);
    }
    return error;
  }
  throw new CheckFailed(`expected ${grpcName(code)}, but the call succeeded: ${show(response)}`);
}

async function main(): Promise<void> {
  const day = 24 * 3600 * 1000;
  const tomorrow = new globalThis.Date(Date.now() + day);
  const checkIn = dateOf(tomorrow);
  const checkOut = dateOf(new globalThis.Date(tomorrow.getTime() + 2 * day));
  const runId = randomUUID().slice(0, 12);

  // --- register and log in ------------------------------------------------------
  step("register and log in a new customer");
  const auth = createClient(AuthService, transport(AUTH_ADDR));
  const email = `node-journey-${runId}@example.com`;
  const password = `node journey ${runId}`;
  const { user } = await auth.register(
    { email, password, requestId: `node-journey-${runId}` },
    { timeoutMs: TIMEOUT_MS },
  );
  check(
    user !== undefined && user.id !== "" && user.email === email && user.role === Role.CUSTOMER,
    `Register creates the customer ${email} (role CUSTOMER)`,
    user,
  );

  const login = await auth.login({ email, password }, { timeoutMs: TIMEOUT_MS });
  check(
    login.accessToken !== "" && login.tokenType === "Bearer",
    "Login issues a Bearer access token",
    `tokenType=${login.tokenType}, accessToken empty: ${login.accessToken === ""}`,
  );
  const signedIn: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${login.accessToken}`);
    return next(req);
  };
  const flights = createClient(FlightService, transport(FLIGHT_ADDR, [signedIn]));
  const hotels = createClient(HotelService, transport(HOTEL_ADDR, [signedIn]));
  const reservations = createClient(ReservationService, transport(RESERVATION_ADDR, [signedIn]));
  const opts = { timeoutMs: TIMEOUT_MS };

  // --- search ---------------------------------------------------------------------
  const day1 = iso(checkIn);
  step(`search: LIS -> JFK on ${day1}, a room in Lisbon for 2 nights`);
  const found = (
    await flights.searchFlights({ origin: "LIS", destination: "JFK", departureDate: checkIn, passengers: 1 }, opts)
  ).flights;
  check(found.length >= 1, `SearchFlights LIS -> JFK on ${day1} finds ${found.length} flight(s)`);
  const flight = found[0];
  const seatPrice = flight.seatPrice;
  check(
    seatPrice !== undefined && seatPrice.currencyCode === "EUR" && seatPrice.amountMinor > 0n,
    `flight ${flight.flightNumber} (${flight.id}) costs ${money(seatPrice)} minor units a seat`,
    flight,
  );
  const seatsFree = async () => (await flights.getFlight({ id: flight.id }, opts)).flight?.availableSeats;

  const searchStay = async () =>
    (
      await hotels.searchHotels(
        { city: "Lisbon", checkIn, checkOut, guests: 2, rooms: 1, pageSize: 100 },
        opts,
      )
    ).offers;
  const offers = await searchStay();
  const offer = offers.find(
    (o) => o.roomType?.nightlyPrice?.currencyCode === "EUR" && o.totalPrice?.currencyCode === "EUR",
  );
  check(offer !== undefined, `SearchHotels in Lisbon finds an offer priced in EUR (of ${offers.length})`, offers);
  const nightly = offer!.roomType!.nightlyPrice!;
  check(
    offer!.nights === 2 && offer!.availableRooms >= 1 && offer!.totalPrice!.amountMinor === 2n * nightly.amountMinor,
    `offer: ${offer!.hotel?.name}, ${offer!.roomType?.name}: 2 nights x ${money(nightly)} = ${money(offer!.totalPrice)}`,
    offer,
  );
  const roomTypeId = offer!.roomType!.id;
  const roomsFree = async () => (await searchStay()).find((o) => o.roomType?.id === roomTypeId)?.availableRooms ?? 0;
  const seatsBefore = await seatsFree();
  const roomsBefore = offer!.availableRooms;

  // --- a refused call --------------------------------------------------------------
  step("a refused call: a stay of zero nights");
  const hotelSelection = {
    hotelId: offer!.hotel!.id,
    roomTypeId,
    checkIn,
    checkOut,
    rooms: 1,
    guests: 2,
  };
  const refused = await expectError(
    Code.InvalidArgument,
    reservations.checkout(
      {
        requestId: `node-journey-${randomUUID()}`,
        flight: { flightId: flight.id, seats: 1 },
        hotel: { ...hotelSelection, checkOut: checkIn },
      },
      { timeoutMs: CHECKOUT_TIMEOUT_MS },
    ),
  );
  const violations = refused.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations);
  check(
    violations.length === 1 && violations[0].field === "hotel.check_out" && violations[0].description !== "",
    `Checkout with check_out = check_in -> INVALID_ARGUMENT, BadRequest names hotel.check_out: ${violations[0]?.description}`,
    `message: ${refused.rawMessage}`,
    violations,
  );
  const seatsAfterRefusal = await seatsFree();
  check(seatsAfterRefusal === seatsBefore, `the refused checkout holds no seat (${seatsBefore} free)`, seatsAfterRefusal);

  // --- bundled checkout -------------------------------------------------------------
  step("bundled checkout: 1 seat + 1 room for 2 guests, 2 nights");
  const { reservation: booked } = await reservations.checkout(
    {
      requestId: `node-journey-${randomUUID()}`,
      flight: { flightId: flight.id, seats: 1 },
      hotel: hotelSelection,
    },
    { timeoutMs: CHECKOUT_TIMEOUT_MS },
  );
  check(
    booked !== undefined && booked.state === ReservationState.CONFIRMED,
    `Checkout confirms reservation ${booked?.id}`,
    booked,
  );
  const expectedTotal = seatPrice!.amountMinor + 2n * nightly.amountMinor;
  check(
    booked!.totalPrice?.amountMinor === expectedTotal && booked!.totalPrice?.currencyCode === "EUR",
    `total = seat ${money(seatPrice)} + 2 nights x ${money(nightly)} = ${expectedTotal} EUR minor units`,
    `got ${money(booked!.totalPrice)}`,
  );
  check(
    booked!.userId === user!.id &&
      booked!.flight?.flightId === flight.id &&
      booked!.flight?.price?.amountMinor === seatPrice!.amountMinor &&
      booked!.hotel?.roomTypeId === roomTypeId &&
      booked!.hotel?.price?.amountMinor === offer!.totalPrice!.amountMinor,
    "the reservation is the customer's, for that flight and room type, at the quoted prices",
    booked,
  );
  const seatsBooked = await seatsFree();
  check(seatsBooked === seatsBefore! - 1, `GetFlight: available seats ${seatsBefore} -> ${seatsBefore! - 1}`, seatsBooked);
  const roomsBooked = await roomsFree();
  check(roomsBooked === roomsBefore - 1, `SearchHotels: free rooms ${roomsBefore} -> ${roomsBefore - 1}`, roomsBooked);

  // --- get and list -------------------------------------------------------------------
  step("get and list");
  const { reservation: got } = await reservations.getReservation({ id: booked!.id }, opts);
  check(
    got?.id === booked!.id && got.state === ReservationState.CONFIRMED && got.totalPrice?.amountMinor === expectedTotal,
    `GetReservation returns it ${stateName(ReservationState.CONFIRMED)}, total ${money(got?.totalPrice)}`,
    got,
  );
  const listed = (await reservations.listReservations({ pageSize: 100 }, opts)).reservations;
  check(
    listed.length === 1 && listed[0].id === booked!.id && listed[0].state === ReservationState.CONFIRMED,
    "ListReservations lists the customer's one reservation, CONFIRMED",
    listed.map((r) => `${r.id} ${stateName(r.state)}`),
  );

  // --- cancel -------------------------------------------------------------------------
  step("cancel");
  const { reservation: cancelled } = await reservations.cancelReservation({ id: booked!.id }, opts);
  check(
    cancelled?.id === booked!.id && cancelled.state === ReservationState.CANCELLED,
    `CancelReservation -> ${stateName(ReservationState.CANCELLED)}`,
    cancelled,
  );
  const { reservation: after } = await reservations.getReservation({ id: booked!.id }, opts);
  check(after?.state === ReservationState.CANCELLED, "GetReservation shows it CANCELLED", after);
  const seatsBack = await seatsFree();
  check(seatsBack === seatsBefore, `GetFlight: the seat is back (${seatsBefore} available)`, seatsBack);
  const roomsBack = await roomsFree();
  check(roomsBack === roomsBefore, `SearchHotels: the room is back (${roomsBefore} free)`, roomsBack);
}

let failed = 0;
try {
  await main();
} catch (err) {
  failed = 1;
  if (err instanceof CheckFailed) {
    console.error(`\nFAIL (step: ${currentStep}): ${err.message}`);
  } else if (err instanceof ConnectError) {
    console.error(`\nFAIL (step: ${currentStep}): unexpected gRPC error ${grpcName(err.code)}: ${err.rawMessage}`);
    console.error(err.stack);
  } else {
    console.error(`\nFAIL (step: ${currentStep}): unexpected error`);
    console.error(err);
  }
}
console.log(`\nnode journey: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
