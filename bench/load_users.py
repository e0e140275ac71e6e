"""The simulated users of ``bench.load``: locust users clicking through the web app.

``python -m bench.load_users PLAN`` is started by ``bench.load`` (never by hand): ``PLAN`` is
a JSON file naming the server, the accounts and the ids to ask about (``bench.load_requests``'
``Plan``). Each user logs in with an account of its own, then picks an operation of
``bench.load_requests`` by weight, sends it, and pauses to think (``think_s``) before the
next. Every request is named after its operation, and fails when
``bench.load_requests.judge`` says so (a status other than 200, an ``errors`` member, a
``LoginError``...). Only requests that complete in the measured window (after every user is
up) are kept; the latencies go out raw, with the CPU time of the load generator, the
server's processes and the machine over the window, as one JSON object on standard output
for ``bench.load`` to summarise.

Why a process of its own: importing locust monkey-patches the standard library for gevent
(sockets, threads, ``subprocess``, ``select``) for the whole process. ``bench.load``'s
set-up runs on asyncio with uvloop, asyncpg and the embedded PostgreSQL's child process,
which must not run on patched modules; here nothing else does. It also gives the load
generator an interpreter (and a GIL) of its own.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

# Importing locust monkey-patches the standard library for gevent (nothing above opens a
# socket or starts a thread): from then on ``time.sleep`` and ``threading.Event`` yield to
# the users' greenlets instead of blocking them.
from locust import TaskSet, between, events
from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager
from locust.env import Environment

from bench.load_requests import (
    OPERATIONS,
    THINK_S,
    VARIABLES,
    WEIGHTS,
    Plan,
    judge,
    login_variables,
)

ERROR_SAMPLES = 5
SPAWN_TIMEOUT_S = 120.0


class Samples:
    """Latencies and failures of the requests completed in the measured window."""

    def __init__(self) -> None:
        self.measuring = False
        self.latencies: dict[str, list[float]] = {name: [] for name in WEIGHTS}
        self.errors: dict[str, int] = dict.fromkeys(WEIGHTS, 0)
        self.error_samples: dict[str, list[str]] = {name: [] for name in WEIGHTS}

    def on_request(
        self, name: str, response_time: float, exception: BaseException | None, **_: Any
    ) -> None:
        if not self.measuring:
            return
        if exception is None:
            self.latencies.setdefault(name, []).append(response_time)
            return
        self.errors[name] = self.errors.get(name, 0) + 1
        found = self.error_samples.setdefault(name, [])
        if len(found) < ERROR_SAMPLES:
            found.append(str(exception)[:500])


def _fail(response: ResponseContextManager, message: str) -> None:
    response.failure(message)  # type: ignore[no-untyped-call]


class WebAppUser(FastHttpUser):
    """One person at the web app, with an account of their own."""

    plan: ClassVar[Plan]
    numbers: ClassVar[itertools.count[int]] = itertools.count()
    wait_time = between(*THINK_S)  # replaced with the plan's ``think_s`` before the run
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.email = self.plan.accounts[next(self.numbers) % len(self.plan.accounts)]
        self.token = ""
        self.rng = random.Random()  # picks what to look at, not secrets
        self.log_in()

    def _post(self, name: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """Send ``name``'s document; mark the request failed unless ``judge`` accepts the
        answer. The answer's ``data``, when it has one."""
        operation = OPERATIONS[name]
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        body = {
            "query": operation.document,
            "operationName": operation.operation_name,
            "variables": variables,
        }
        with self.client.post(
            "/graphql", json=body, headers=headers, name=name, catch_response=True
        ) as response:
            content = response.content or b""
            problem = judge(operation, response.status_code, content)
            if problem is not None:
                _fail(response, problem)
                return None
        data: dict[str, Any] = json.loads(content)["data"]
        return data

    def log_in(self) -> None:
        data = self._post("login", login_variables(self.plan, self.email))
        if data is not None:
            self.token = data["login"]["accessToken"]

    def ask(self, name: str) -> None:
        """Send operation ``name`` with the variables a user would fill in."""
        self._post(name, VARIABLES[name](self.plan, self.rng))


def weighted_tasks(weights: dict[str, int]) -> list[TaskSet | Callable[..., Any]]:
    """Locust's task list: each operation's task as many times as its weight."""
    tasks: list[TaskSet | Callable[..., Any]] = []
    for name, weight in weights.items():
        step = (
            WebAppUser.log_in if name == "login" else functools.partial(WebAppUser.ask, name=name)
        )
        tasks += [step] * weight
    return tasks


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int, int] | None:
    """Busy, stolen and total jiffies of the whole machine so far (``/proc/stat``). Stolen
    time (a virtual machine's CPUs serving other guests) counts as busy in the first."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(value) for value in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    steal = ticks[7] if len(ticks) > 7 else 0
    return sum(ticks) - idle, steal, sum(ticks)


def _cpu_mark(pids: list[int]) -> tuple[float, float | None, tuple[int, int, int] | None]:
    server = [process_cpu_s(pid) for pid in pids]
    known = [value for value in server if value is not None]
    return time.process_time(), sum(known) if known else None, machine_cpu()


def _share(
    before: tuple[int, int, int] | None, after: tuple[int, int, int] | None, at: int
) -> float | None:
    """Percent of the machine's jiffies between two marks spent as ``machine_cpu``'s ``at``."""
    if before is None or after is None or after[2] <= before[2]:
        return None
    return round(100 * (after[at] - before[at]) / (after[2] - before[2]), 1)


def run(document: dict[str, Any]) -> dict[str, Any]:
    """Spawn the users, measure ``duration_s`` once all are up, stop; the raw figures."""
    WebAppUser.plan = Plan(document)
    low, high = document["think_s"]
    WebAppUser.wait_time = between(low, high)
    weights: dict[str, int] = document.get("weights") or WEIGHTS
    WebAppUser.tasks = weighted_tasks(weights)
    samples = Samples()
    environment = Environment(user_classes=[WebAppUser], host=document["host"], events=events)
    environment.events.request.add_listener(samples.on_request)  # type: ignore[no-untyped-call]
    spawned = threading.Event()
    environment.events.spawning_complete.add_listener(  # type: ignore[no-untyped-call]
        lambda user_count, **_: spawned.set()
    )
    runner = environment.create_local_runner()
    ramp_started = time.perf_counter()
    runner.start(document["users"], spawn_rate=document["spawn_rate"])
    if not spawned.wait(SPAWN_TIMEOUT_S):
        runner.quit()
        raise RuntimeError(f"the users were not all up in {SPAWN_TIMEOUT_S} s")
    ramp_s = time.perf_counter() - ramp_started
    pids: list[int] = document.get("server_pids", [])
    before = _cpu_mark(pids)
    started = time.perf_counter()
    samples.measuring = True
    time.sleep(document["duration_s"])
    samples.measuring = False
    measured_s = time.perf_counter() - started
    after = _cpu_mark(pids)
    users = runner.user_count
    runner.quit()
    server_cpu_s = after[1] - before[1] if after[1] is not None and before[1] is not None else None
    return {
        "operations": {
            name: {
                "latencies_ms": samples.latencies.get(name, []),
                "errors": samples.errors.get(name, 0),
                "error_samples": samples.error_samples.get(name, []),
            }
            # WEIGHTS' order, then any other name (none, unless a task is added).
            for name in [*samples.latencies, *(set(samples.errors) - set(samples.latencies))]
        },
        "weights": weights,
        "users": users,
        "ramp_s": round(ramp_s, 2),
        "measured_s": round(measured_s, 3),
        "loadgen_cpu_s": round(after[0] - before[0], 3),
        "server_cpu_s": server_cpu_s,
        "machine_cpu_percent": _share(before[2], after[2], 0),
        "machine_steal_percent": _share(before[2], after[2], 1),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.load_users PLAN (started by bench.load)", file=sys.stderr)
        return 2
    document = json.loads(Path(argv[0]).read_text())
    print(json.dumps(run(document)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
