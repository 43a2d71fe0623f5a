"""Load with ``wrk`` and what a gateway process costs: CPU time and peak memory from ``/proc``.

wrk (Debian's package) drives every load cell: it is written in C, so on a 2-core machine it takes less of
the gateway's CPU than a Python client would. A generated Lua script cycles through the request bodies and
prints one machine-readable line at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")

SCRIPT = """wrk.method = "POST"
{headers}
local bodies = {{
{bodies}
}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua(text: str) -> str:
    return "[==[" + text + "]==]"


def write_script(path: Path, bodies: list[bytes], headers: dict[str, str]) -> Path:
    lines = "\n".join(f"wrk.headers[ {_lua(k)} ] = {_lua(v)}" for k, v in
                      {"Content-Type": "application/json", **headers}.items())
    path.write_text(SCRIPT.format(headers=lines, bodies=",\n".join(_lua(b.decode()) for b in bodies)))
    return path


def run_wrk(url: str, script: Path, connections: int, seconds: float) -> Load:
    """One wrk run (one thread); raises when wrk prints no result."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(script),
               url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    n, duration_us, status, socket, p50_us, p99_us = (int(v) for v in line.split()[1:])
    return Load(n, duration_us / 1e6, status, socket, p50_us / 1000, p99_us / 1000)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree(pid: int) -> list[int]:
    """The process and its descendants (Hive Gateway may fork workers)."""
    children, found, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return total / TICKS


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of resident memory (VmHWM), summed over the process tree."""
    return rss_mb(pid, "VmHWM")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS), or another kB field of /proc/<pid>/status, summed over the process tree."""
    total = 0
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), 0)
    return round(total / 1024, 1)
