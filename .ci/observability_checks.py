"""The checks of .ci/observability.sh that read JSON: the spans the OTLP sink wrote,
and Prometheus's HTTP API. Standard library only. Each check polls (bounded by
--timeout) until it holds, and on failure says what it saw.

    trace SPANS TRACE_ID PARENT_SPAN_ID [--timeout S]
        One Checkout's trace is in SPANS (the sink's JSON lines): a server span of
        ReservationService/Checkout whose parent is PARENT_SPAN_ID (the caller's
        traceparent), with rpc.system=grpc and rpc.grpc.status_code=0, and server
        spans of FlightService and HotelService in the same trace, each a
        descendant of that Checkout span.

    prom URL [--timeout S] --expect DESCRIPTION QUERY OP VALUE ...
        Every QUERY (PromQL, instant, at Prometheus URL) returns exactly one
        sample whose value satisfies OP VALUE (OP: ==, >=, >, <=).

    get URL
        Prints the body of an HTTP GET (a /metrics page for promtool).
"""

import argparse
import json
import math
import operator
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

RESERVATION = "travel.reservation.v1.ReservationService"
FLIGHT = "travel.flight.v1.FlightService"
HOTEL = "travel.hotel.v1.HotelService"
SERVER = "SPAN_KIND_SERVER"


def read_spans(path):
    """Every span the sink wrote so far (a line still being written is skipped)."""
    spans = []
    try:
        with open(path, encoding="utf-8") as file:
            for line in file:
                try:
                    spans.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    except FileNotFoundError:
        pass
    return spans


def trace_problems(spans, trace_id, parent_span_id):
    """What is still missing from the trace (empty when the trace is complete)."""
    trace = [s for s in spans if s["trace_id"] == trace_id]
    by_id = {s["span_id"]: s for s in trace}
    servers = [s for s in trace if s["kind"] == SERVER]

    def of(service):
        return [s for s in servers if s["attributes"].get("rpc.service") == service]

    problems = []
    checkouts = [s for s in of(RESERVATION) if s["attributes"].get("rpc.method") == "Checkout"]
    if not checkouts:
        problems.append(f"no server span with rpc.service={RESERVATION} and rpc.method=Checkout")
        return problems
    checkout = checkouts[0]
    attributes = checkout["attributes"]
    if checkout["parent_span_id"] != parent_span_id:
        problems.append(
            f"the Checkout server span's parent is {checkout['parent_span_id']!r}, not the traceparent's span id {parent_span_id!r}"
        )
    if attributes.get("rpc.system") != "grpc":
        problems.append(f"the Checkout server span has rpc.system={attributes.get('rpc.system')!r}, not 'grpc'")
    status = attributes.get("rpc.grpc.status_code")
    if status != 0 or isinstance(status, bool):
        problems.append(f"the Checkout server span has rpc.grpc.status_code={status!r}, not the integer 0")

    def descends_from_checkout(span):
        seen = set()
        while span["parent_span_id"] and span["span_id"] not in seen:
            seen.add(span["span_id"])
            if span["parent_span_id"] == checkout["span_id"]:
                return True
            span = by_id.get(span["parent_span_id"])
            if span is None:
                return False
        return False

    for service in (FLIGHT, HOTEL):
        found = of(service)
        if not found:
            problems.append(f"no server span with rpc.service={service}")
        elif not any(descends_from_checkout(s) for s in found):
            problems.append(
                f"the {service} server spans ({', '.join(s['name'] for s in found)}) do not descend from the "
                "Checkout server span through spans of this trace (a parent is missing, or the context was not passed on)"
            )
    return problems


def describe_trace(spans, trace_id):
    """Lines describing what the file holds, for a failure message."""
    trace = [s for s in spans if s["trace_id"] == trace_id]
    lines = [f"the sink holds {len(spans)} spans, {len(trace)} of them with trace id {trace_id}"]
    for s in trace:
        lines.append(
            f"  {s['kind']:<16} {s['name']!r} span {s['span_id']} parent {s['parent_span_id'] or '-'} "
            f"rpc.service={s['attributes'].get('rpc.service')} rpc.method={s['attributes'].get('rpc.method')}"
        )
    lines += stray_saga_calls(spans, trace_id)
    if not trace:
        others = sorted({s["trace_id"] for s in spans})[:5]
        lines.append(f"  trace ids it does hold (first 5): {', '.join(others) or 'none'}")
        servers = sorted({str(s["attributes"].get("rpc.service")) for s in spans if s["kind"] == SERVER})
        lines.append(f"  rpc.service of its server spans: {', '.join(servers) or 'none'}")
    return lines


def stray_saga_calls(spans, trace_id):
    """Lines on the flight and hotel server spans of other traces that the saga's
    calls made (Hold*/Confirm*, the latest four), and where their ancestry ends:
    the usual reason is that the trace context did not reach those calls."""
    by_id = {s["span_id"]: s for s in spans}
    stray = [
        s
        for s in spans
        if s["trace_id"] != trace_id
        and s["kind"] == SERVER
        and s["attributes"].get("rpc.service") in (FLIGHT, HOTEL)
        and s["attributes"].get("rpc.method", "").startswith(("Hold", "Confirm"))
    ][-4:]
    if not stray:
        return []
    lines = ["  flight/hotel server spans of the saga's calls in other traces (the latest four):"]
    client_roots = False
    for span in stray:
        chain, cursor = [], span
        while cursor is not None and cursor["parent_span_id"]:
            parent = by_id.get(cursor["parent_span_id"])
            if parent is None:
                chain.append(f"parent {cursor['parent_span_id']} not received")
                break
            chain.append(f"{parent['kind']} {parent['name']!r}")
            cursor = parent
        is_root = cursor is not None and cursor is not span and not cursor["parent_span_id"]
        client_roots |= is_root and cursor["kind"] == "SPAN_KIND_CLIENT"
        ends = "; the last is a root span (no parent)" if is_root else ""
        lines.append(f"    {span['name']!r} trace {span['trace_id']}: parents {' <- '.join(chain) or 'none'}{ends}")
    if client_roots:
        lines.append(
            "  a client span without a parent: the reservation service called outside the Checkout span's"
            " context (for example on a task spawned without it)"
        )
    return lines


def check_trace(args):
    deadline = time.monotonic() + args.timeout
    while True:
        spans = read_spans(args.spans)
        problems = trace_problems(spans, args.trace_id, args.parent_span_id)
        if not problems:
            trace = [s for s in spans if s["trace_id"] == args.trace_id]
            services = sorted({s["attributes"].get("rpc.service") for s in trace if s["kind"] == SERVER})
            print(f"trace {args.trace_id}: {len(trace)} spans, server spans of {', '.join(services)}")
            return 0
        if time.monotonic() >= deadline:
            print(f"the checkout's trace is not complete after {args.timeout:g} s:", file=sys.stderr)
            for line in problems + describe_trace(spans, args.trace_id):
                print(f"  {line}", file=sys.stderr)
            return 1
        time.sleep(0.25)


OPERATORS = {"==": operator.eq, ">=": operator.ge, ">": operator.gt, "<=": operator.le}


def instant_query(url, query):
    """The samples of an instant query: a list of (labels, value)."""
    full = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with urllib.request.urlopen(full, timeout=5) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {body}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return [({}, float(data["result"][1]))]
    return [(sample["metric"], float(sample["value"][1])) for sample in data["result"]]


def expectation_result(url, query, op, value):
    """(holds, what was seen)."""
    try:
        samples = instant_query(url, query)
    except (OSError, RuntimeError, ValueError, urllib.error.URLError) as error:
        return False, f"error: {error}"
    if len(samples) != 1:
        return False, f"{len(samples)} samples: {samples[:4]}"
    got = samples[0][1]
    return (not math.isnan(got) and OPERATORS[op](got, value)), f"{got:g}"


def check_prom(args):
    expectations = []
    for description, query, op, value in args.expect:
        if op not in OPERATORS:
            print(f"unknown operator {op!r} in --expect {description!r}", file=sys.stderr)
            return 2
        expectations.append((description, query, op, float(value)))
    deadline = time.monotonic() + args.timeout
    while True:
        results = [(e, *expectation_result(args.url, e[1], e[2], e[3])) for e in expectations]
        failing = [r for r in results if not r[1]]
        if not failing:
            for (description, _, op, value), _, seen in results:
                print(f"ok: {description}: {seen} {op} {value:g}")
            return 0
        if time.monotonic() >= deadline:
            print(f"{len(failing)} of {len(results)} Prometheus expectations fail after {args.timeout:g} s:", file=sys.stderr)
            for (description, query, op, value), _, seen in failing:
                print(f"  {description}\n    query: {query}\n    want {op} {value:g}, got {seen}", file=sys.stderr)
            return 1
        time.sleep(0.5)


def get(args):
    with urllib.request.urlopen(args.url, timeout=5) as response:
        sys.stdout.write(response.read().decode("utf-8"))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    trace = commands.add_parser("trace", help="a checkout's trace is complete in the sink's file")
    trace.add_argument("spans")
    trace.add_argument("trace_id")
    trace.add_argument("parent_span_id")
    trace.add_argument("--timeout", type=float, default=20)
    trace.set_defaults(run=check_trace)

    prom = commands.add_parser("prom", help="PromQL expectations hold")
    prom.add_argument("url")
    prom.add_argument("--timeout", type=float, default=30)
    prom.add_argument("--expect", nargs=4, action="append", required=True,
                      metavar=("DESCRIPTION", "QUERY", "OP", "VALUE"))
    prom.set_defaults(run=check_prom)

    fetch = commands.add_parser("get", help="print the body of an HTTP GET")
    fetch.add_argument("url")
    fetch.set_defaults(run=get)

    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
