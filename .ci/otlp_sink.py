"""A small OTLP/gRPC trace receiver for CI: what a collector would get, as JSON lines.

Serves opentelemetry.proto.collector.trace.v1.TraceService/Export (plaintext gRPC,
on 127.0.0.1) and appends every span it receives to a file, one JSON object a line:

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex or empty>",
     "name": "...", "kind": "SPAN_KIND_SERVER", "status_code": "STATUS_CODE_UNSET",
     "attributes": {"rpc.service": "...", ...}, "resource": {"service.name": "...", ...},
     "scope": "<instrumentation scope name>"}

Attribute values become JSON values: strings, booleans, numbers (int64 as int),
lists and dicts; bytes as hex. .ci/observability.sh points the stack at it
(OTEL_EXPORTER_OTLP_ENDPOINT) and reads the file.

Usage:
    python otlp_sink.py --out spans.jsonl --port 0 --port-file sink.port

With --port 0 the system chooses a free port; the sink writes the port it got
to --port-file (complete, through a rename) once it accepts calls, so the
caller waits for that file instead of guessing. Stops on SIGTERM or SIGINT.
Needs the packages of .ci/otlp_requirements.txt.
"""

import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


def any_value(value):
    """An OTLP AnyValue as a plain JSON value (None if it holds nothing)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def key_values(pairs):
    """Repeated OTLP KeyValue as a dict."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def span_records(request):
    """One dict per span of an ExportTraceServiceRequest."""
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                    "status_code": trace_pb2.Status.StatusCode.Name(span.status.code),
                    "attributes": key_values(span.attributes),
                    "resource": resource,
                    "scope": scope,
                }


class TraceSink(trace_service_pb2_grpc.TraceServiceServicer):
    """Appends the spans of every Export call to a file, one JSON line each."""

    def __init__(self, out):
        self._out = out
        self._lock = threading.Lock()
        self.spans = 0

    def Export(self, request, context):  # noqa: N802 (the RPC's name)
        lines = [json.dumps(record, sort_keys=True) + "\n" for record in span_records(request)]
        with self._lock:
            self._out.writelines(lines)
            # Flushed at once: the caller polls the file while the sink runs.
            self._out.flush()
            self.spans += len(lines)
        return trace_service_pb2.ExportTraceServiceResponse()


def write_port(path, port):
    """Writes the port to path through a rename, so a reader never sees half of it."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as file:
        file.write(f"{port}\n")
    os.replace(partial, path)


def main():
    parser = argparse.ArgumentParser(description="OTLP/gRPC trace receiver that writes spans as JSON lines.")
    parser.add_argument("--out", required=True, help="file the spans are appended to")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4317, help="port to bind; 0 lets the system choose")
    parser.add_argument("--port-file", help="file to write the bound port to, once the sink serves")
    args = parser.parse_args()

    with open(args.out, "a", encoding="utf-8") as out:
        sink = TraceSink(out)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
        port = server.add_insecure_port(f"{args.host}:{args.port}")
        if port == 0:
            print(f"otlp_sink: cannot bind {args.host}:{args.port}", file=sys.stderr)
            return 1
        server.start()
        if args.port_file:
            write_port(args.port_file, port)
        print(f"otlp_sink: serving OTLP/gRPC traces on {args.host}:{port}, spans to {args.out}", file=sys.stderr)

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        # Let an Export in progress finish writing before the file closes.
        server.stop(grace=2).wait()
        print(f"otlp_sink: stopped after {sink.spans} spans", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
