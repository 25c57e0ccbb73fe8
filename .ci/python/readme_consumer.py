#!/usr/bin/env python3
"""Runs the README's downstream consumer (the ```python block after "A
downstream consumer in Python", in "Events") against a real RabbitMQ, as a
reader would paste it, and checks that it takes a reservation event.

    readme_consumer.py README.md AMQP_URL

Generates the Python code of proto/ with grpcio-tools into a temporary
directory, starts the example there (its broker URL replaced by AMQP_URL, its
queue by one of this run's own), publishes one ReservationConfirmed to
travel.events the way the services do (protobuf body, message_id, type), and
waits up to 30 s for the example to print it. Fails if the example exits, says
anything else, or prints nothing. The queue is deleted at the end.
"""

import os
import queue as queue_module
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pika
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_URL = "amqp://guest:guest@127.0.0.1:5672/%2f"
EXAMPLE_QUEUE = "notifications.reservations"


def example(readme):
    start = readme.index("A downstream consumer in Python")
    block = re.search(r"```python\n(.*?)```", readme[start:], re.S)
    if not block:
        sys.exit("readme_consumer: no ```python block after 'A downstream consumer in Python'")
    code = block.group(1)
    for needle in (EXAMPLE_URL, EXAMPLE_QUEUE):
        if needle not in code:
            sys.exit(f"readme_consumer: the example no longer has {needle!r}; update this check")
    return code


def generate(stubs):
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    rc = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={stubs}", *protos])
    if rc != 0:
        sys.exit(f"readme_consumer: grpc_tools.protoc failed ({rc})")


def main():
    readme_path, url = sys.argv[1], sys.argv[2]
    code = example(Path(readme_path).read_text(encoding="utf-8"))
    queue = f"ci.readme-consumer.{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory() as work:
        generate(work)
        script = Path(work) / "consumer.py"
        script.write_text(code.replace(EXAMPLE_URL, url).replace(EXAMPLE_QUEUE, queue))
        sys.path.insert(0, work)
        from travel.reservation.v1 import events_pb2

        consumer = subprocess.Popen([sys.executable, "-u", str(script)], cwd=work,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env={**os.environ, "PYTHONPATH": work})
        channel = pika.BlockingConnection(pika.URLParameters(url)).channel()
        try:
            # The example declares and binds its queue when it starts: wait for it.
            deadline = time.monotonic() + 30
            while True:
                if consumer.poll() is not None:
                    sys.exit(f"readme_consumer: the example exited ({consumer.returncode}):\n{consumer.stdout.read()}")
                try:
                    channel.queue_declare(queue, passive=True)
                    break
                except pika.exceptions.ChannelClosedByBroker:
                    channel = channel.connection.channel()
                    if time.monotonic() > deadline:
                        sys.exit("readme_consumer: the example never declared its queue")
                    time.sleep(0.2)
            channel.confirm_delivery()
            event_id = str(uuid.uuid4())
            reservation_id = f"ci-{uuid.uuid4()}"
            message = events_pb2.ReservationConfirmed(event_id=event_id, reservation_id=reservation_id, sequence=1)
            channel.basic_publish(
                "travel.events", "reservation.confirmed", message.SerializeToString(),
                pika.BasicProperties(message_id=event_id, type="travel.reservation.v1.ReservationConfirmed",
                                     content_type="application/x-protobuf", delivery_mode=2),
                mandatory=True)
            want = f"travel.reservation.v1.ReservationConfirmed {reservation_id} 1"
            # Its output, line by line, read by a thread so that the wait has a deadline.
            lines = queue_module.Queue()
            threading.Thread(target=lambda: [lines.put(line) for line in consumer.stdout], daemon=True).start()
            seen = []
            until = time.monotonic() + 30
            while time.monotonic() < until:
                try:
                    line = lines.get(timeout=0.2)
                except queue_module.Empty:
                    if consumer.poll() is not None and lines.empty():
                        break
                    continue
                seen.append(line)
                if line.strip() == want:
                    print(f"readme_consumer: the README's consumer took the event: {want}")
                    return 0
            sys.exit(f"readme_consumer: expected {want!r} from the example; it printed:\n{''.join(seen)}")
        finally:
            consumer.kill()
            consumer.wait()
            try:
                channel.queue_delete(queue)
            except pika.exceptions.AMQPError:
                pass


if __name__ == "__main__":
    sys.exit(main())
