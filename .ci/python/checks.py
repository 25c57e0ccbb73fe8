"""What a check of the journey is: counted and printed when it holds, raised
when it does not; `run` reports the failure with the step it happened in and
ends with `python journey: N passed, M failed`."""

import os
import sys
import traceback

import grpc

PASSED = 0


class CheckFailed(Exception):
    """A check of the journey did not hold."""


def check(condition, description, *details):
    """Counts and prints a check that holds; raises CheckFailed otherwise.

    An explicit raise rather than `assert`, so that `python -O` cannot skip it."""
    global PASSED
    if not condition:
        raise CheckFailed("\n    ".join([description, *map(str, details)]))
    PASSED += 1
    print(f"ok {PASSED:2d}: {description}", flush=True)


CURRENT_STEP = "start"


def step(title):
    """Starts a step of the journey: its title is printed, and named if a check fails."""
    global CURRENT_STEP
    CURRENT_STEP = title
    print(f"\n--- {title}", flush=True)


def show(message):
    """A message on one line, for failure details."""
    return " ".join(str(message).split())


def expect_error(code, call, *args, **kwargs):
    """Makes a call that must fail with `code` (any code if None); returns the grpc.RpcError."""
    try:
        response = call(*args, **kwargs)
    except grpc.RpcError as error:
        if code is not None and error.code() != code:
            raise CheckFailed(
                f"expected {code.name}, got {error.code().name}: {error.details()}"
            ) from None
        return error
    expected = code.name if code is not None else "a refusal"
    raise CheckFailed(f"expected {expected}, but the call succeeded: {show(response)}")


def run(main):
    """Runs `main`; exits 0 if every check held, 1 otherwise."""
    failed = 0
    try:
        main()
    except CheckFailed as failure:
        failed = 1
        print(f"\nFAIL (step: {CURRENT_STEP}): {failure}", file=sys.stderr, flush=True)
    except grpc.RpcError as error:
        failed = 1
        here = os.path.dirname(os.path.abspath(__file__))
        where = traceback.extract_tb(error.__traceback__)
        lines = " -> ".join(
            f"{os.path.basename(f.filename)}:{f.lineno}" for f in where if os.path.dirname(f.filename) == here
        )
        print(
            f"\nFAIL (step: {CURRENT_STEP}, at {lines}): "
            f"unexpected gRPC error {error.code().name}: {error.details()}",
            file=sys.stderr,
            flush=True,
        )
    except Exception:  # noqa: BLE001 - any other failure still ends with the count line
        failed = 1
        print(f"\nFAIL (step: {CURRENT_STEP}): unexpected error", file=sys.stderr, flush=True)
        traceback.print_exc()
    print(f"\npython journey: {PASSED} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
