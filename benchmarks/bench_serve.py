"""Load on ``instructed-rl serve``: N concurrent websocket clients, each running episodes step by step.

Starts the real server (``instructed-rl serve --port 0``, the shipped agent unless ``--agent``)
in a subprocess, then opens ``--clients`` websocket connections at once. Each client makes a
world (its own seed), runs the world's mission and asks for one step at a time, as fast as
the answers come (a page at full speed; a person watching asks for 4 a second), then the next
world, until ``--seconds`` have passed. Every request must be answered: a missing reply or an
``error`` reply fails the run. Prints a markdown table: steps/s over all clients, p50 / p95 /
max latency of a step (request sent -> reply read, frame included), the server's peak RSS
(VmHWM) and CPU seconds.

Run::

    .venv/bin/python benchmarks/bench_serve.py                      # 20 clients, 30 s
    .venv/bin/python benchmarks/bench_serve.py --clients 5 --seconds 10 --agent bot
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def client(url: str, index: int, *, game: str, until: float, latencies: list[float], counts: dict) -> None:
    import websockets

    async with websockets.connect(url, max_size=1 << 24, open_timeout=60) as socket:
        async def ask(message: dict, timeout: float = 120) -> dict:
            await socket.send(json.dumps(message))
            reply = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if reply["type"] == "error":
                raise RuntimeError(f"client {index}: {message['type']} answered with an error: {reply['message']}")
            return reply

        assert json.loads(await socket.recv())["type"] == "hello"
        seed = index * 1000
        while time.monotonic() < until:
            world = await ask({"type": "world", "game": game, "seed": seed})
            await ask({"type": "run", "text": world["mission"]})
            counts["episodes"] += 1
            while True:
                sent = time.perf_counter()
                reply = await ask({"type": "step"})
                latencies.append(time.perf_counter() - sent)
                if reply["verdict"]:
                    counts["successes"] += reply["verdict"].startswith("success")
                    break
                if time.monotonic() >= until:
                    return
            seed += 1


def server_memory(pid: int) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU seconds (user + system) of ``pid`` so far."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return peak, cpu


async def main(args: argparse.Namespace) -> None:
    command = [sys.executable, "-m", "instructed_rl.cli", "serve", "--port", "0", "--agent", args.agent,
               "--game", args.game]
    started = time.monotonic()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = server.stdout.readline()
        match = re.search(r"open http://([\d.]+):(\d+)/", line)
        if not match:
            raise SystemExit(f"the server did not start: {line!r}")
        load_s = time.monotonic() - started
        url = f"ws://{match.group(1)}:{match.group(2)}/ws"
        _, cpu_before = server_memory(server.pid)
        latencies: list[float] = []
        counts = {"episodes": 0, "successes": 0}
        begin = time.monotonic()
        until = begin + args.seconds
        await asyncio.gather(*(client(url, i, game=args.game, until=until, latencies=latencies, counts=counts)
                               for i in range(args.clients)))
        elapsed = time.monotonic() - begin
        peak, cpu_after = server_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(f"instructed-rl serve, agent {args.agent}, game {args.game}: {args.clients} concurrent websocket clients "
          f"for {elapsed:.0f} s (server ready in {load_s:.1f} s); every request answered\n")
    print("| clients | steps | steps/s | p50 step ms | p95 step ms | max step ms | episodes (success) "
          "| server CPU s | peak server RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.clients} | {len(latencies)} | {len(latencies) / elapsed:.1f} | "
          f"{statistics.median(ordered) * 1000:.0f} | {p95 * 1000:.0f} | {ordered[-1] * 1000:.0f} | "
          f"{counts['episodes']} ({counts['successes']}) | {cpu_after - cpu_before:.1f} | {peak:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--agent", default="data/agents/default")
    parser.add_argument("--game", default="GoToRoom")
    asyncio.run(main(parser.parse_args()))
