"""A benchmark over a fleet of hosts: no task lost to a host that fails, none run twice.

After the first pass of `waa run`, the tasks of the hosts that failed (unreachable, container or
client dead: any exit code but 0 and the signals') and the tasks that raised on a healthy host
are dealt to the healthy hosts in one second pass (a task that raised goes to another host than
the one it raised on; a score of 0 is a result, not a failure). A host that fails
``max_failures`` runs in a row is left out (its circuit is open) until a probe finds it healthy
again (half-open): then it gets work, and one more failure leaves it out again.

What the controller knows comes from the run directories: the tasks selected (every host reports
the selection before its split), each host's share (index/count), the results and the task ends.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from openadapt_waa.owners import state_home

from ansible_collections.openadapt.waa.plugins.module_utils._bench_files import share_of
from ansible_collections.openadapt.waa.plugins.plugin_utils import _summary as summary
from ansible_collections.openadapt.waa.plugins.plugin_utils._run_files import atomic_write

# Host names the CLI puts in a --limit pattern: an inventory name with none of the pattern's
# operators (',', ':', '!', '&', '*', '~', '[').
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
SECOND_PASS_DIR = "pass-2"
RESUMES_FILE = "resumes.json"
DEFAULT_MAX_FAILURES = 3


def is_plain_host(name: str) -> bool:
    return bool(HOST_NAME_RE.match(name))


def host_failed(doc: dict) -> bool:
    """An infrastructure failure of the host: any exit code but success and the signals' (a person stopped it)."""
    code = doc.get("exit_code")
    return not (isinstance(code, int) and (code == 0 or code >= 128))


@dataclass
class Reading:
    """What run directories say about a benchmark."""
    selection: list[str] = field(default_factory=list)  # "domain/id", in the list's order
    shares: dict[str, tuple[int, int]] = field(default_factory=dict)  # host -> (index, count)
    done: set[str] = field(default_factory=set)  # tasks with a result
    raised: dict[str, str] = field(default_factory=dict)  # task without a result -> host it ended on
    budget_stopped: set[str] = field(default_factory=set)  # hosts that stopped at their share of --max-cost


def read(run_dirs: list[Path]) -> Reading:
    reading = Reading()
    seen = set()
    for run_dir in run_dirs:
        reading.done.update("%s/%s" % (r.domain, r.task_id) for r in summary.read_results(Path(run_dir)))
    for run_dir in run_dirs:
        for event in summary.read_events(Path(run_dir)):
            host = event.get("host")
            if event.get("type") == "benchmark" and isinstance(host, str):
                for ref in event.get("selection") or []:
                    if ref not in seen:
                        seen.add(ref)
                        reading.selection.append(ref)
                if event.get("budget_stopped") is True:
                    reading.budget_stopped.add(host)
                share = event.get("share")
                if isinstance(share, dict) and isinstance(share.get("index"), int) and isinstance(share.get("count"), int):
                    reading.shares[host] = (share["index"], share["count"])
            elif event.get("type") == "task_end" and isinstance(host, str) and event.get("status") != "finished":
                ref = "%s/%s" % (event.get("domain"), event.get("task_id"))
                if ref not in reading.done:
                    reading.raised[ref] = host
    return reading


@dataclass
class Plan:
    """The second pass: the tasks each healthy host runs, and what could not be given to one."""
    tasks: dict[str, list[str]]
    failed_hosts: list[str]
    unattributed: int = 0  # shares of failed hosts that cannot be told apart from hosts outside the run

    @property
    def total(self) -> int:
        return sum(len(t) for t in self.tasks.values())


def _pairs(refs: list[str]) -> list[tuple[str, str]]:
    return [tuple(ref.split("/", 1)) for ref in refs]


def orphaned(reading: Reading, failed: list[str]) -> tuple[list[str], int]:
    """The tasks of the failed hosts' shares that have no result, and the number of shares that
    could not be attributed. A failed host that reported its share names it; one that failed before
    (unreachable from the start) holds one of the shares nobody reported, which is certain only when
    as many shares are unreported as such hosts failed (else some belong to hosts outside the run)."""
    if not reading.selection:
        return [], 0
    counts = {count for _index, count in reading.shares.values()}
    if not counts:  # no split (one host, or --shard-by none): every host had the whole list
        return [ref for ref in reading.selection if ref not in reading.done], 0
    count = max(counts)
    indices = {reading.shares[h][0] for h in failed if h in reading.shares}
    silent = [h for h in failed if h not in reading.shares]
    unreported = set(range(count)) - {index for index, _count in reading.shares.values()}
    unattributed = 0
    if len(unreported) == len(silent):
        indices |= unreported
    else:
        unattributed = len(silent)
    pairs = _pairs(reading.selection)
    orphans = ["%s/%s" % pair for index in sorted(indices) for pair in share_of(pairs, index, count)]
    order = {ref: n for n, ref in enumerate(reading.selection)}
    return sorted((ref for ref in orphans if ref not in reading.done), key=order.get), unattributed


def deal(tasks: list[str], hosts: list[str], avoid: dict[str, str]) -> dict[str, list[str]]:
    """``tasks`` dealt to ``hosts`` (sorted), the least loaded first, never to the host in ``avoid`` for the task
    when another can take it; a task only ``avoid``'s host could take is left out."""
    hosts = sorted(hosts)
    plan: dict[str, list[str]] = {host: [] for host in hosts}
    for ref in tasks:
        candidates = [h for h in hosts if h != avoid.get(ref)]
        if not candidates:
            continue
        target = min(candidates, key=lambda h: (len(plan[h]), hosts.index(h)))
        plan[target].append(ref)
    return {host: refs for host, refs in plan.items() if refs}


def second_pass(reading: Reading, docs: dict[str, dict]) -> Plan:
    """Who runs what in the second pass, from the first pass's reading and the hosts' result documents. A host
    that stopped at its share of --max-cost did not fail, and then the fleet's budget allows no second pass."""
    if reading.budget_stopped:
        return Plan({}, [])
    failed = sorted(h for h, doc in docs.items() if host_failed(doc))
    healthy = [h for h, doc in docs.items() if not host_failed(doc) and doc.get("exit_code") == 0 and is_plain_host(h)]
    orphans, unattributed = orphaned(reading, failed) if failed else ([], 0)
    # A task that raised on a healthy host is retried once, elsewhere.
    retry = [ref for ref in reading.selection if ref in reading.raised and reading.raised[ref] not in failed
             and ref not in orphans]
    avoid = {ref: reading.raised[ref] for ref in retry}
    return Plan(deal(orphans + retry, healthy, avoid) if healthy else {}, failed, unattributed)


def missing(reading: Reading) -> list[str]:
    """The selected tasks without a result (what --resume runs)."""
    return [ref for ref in reading.selection if ref not in reading.done]


def run_dirs_of(run_dir: Path) -> list[Path]:
    """A run directory with the runs it resumed (earliest first) and its second pass."""
    chain = []
    try:
        earlier = json.loads((run_dir / RESUMES_FILE).read_text(encoding="utf-8")).get("resumes") or []
    except (OSError, ValueError, AttributeError):
        earlier = []
    for path in earlier:
        if isinstance(path, str) and Path(path).is_dir():
            chain.extend(d for d in run_dirs_of(Path(path)) if d not in chain)
    chain.append(run_dir)
    if (run_dir / SECOND_PASS_DIR).is_dir():
        chain.append(run_dir / SECOND_PASS_DIR)
    return chain


class Breaker:
    """Per inventory and host: failures in a row, kept in the controller's state directory."""

    def __init__(self, inventory: str, max_failures: int, path: Path | None = None):
        self.inventory = inventory
        self.max_failures = max_failures
        self.path = path or state_home() / "breaker.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.data = data if isinstance(data, dict) else {}
        hosts = self.data.get(inventory)
        self.hosts: dict[str, dict] = hosts if isinstance(hosts, dict) else {}

    def failures(self, host: str) -> int:
        entry = self.hosts.get(host)
        count = entry.get("failures") if isinstance(entry, dict) else 0
        return count if isinstance(count, int) and count > 0 else 0

    def open_hosts(self) -> list[str]:
        return sorted(h for h in self.hosts if self.failures(h) >= self.max_failures and is_plain_host(h))

    def record(self, host: str, failed: bool, message: str = "") -> None:
        if failed:
            self.hosts[host] = {"failures": self.failures(host) + 1, "at": time.time(), "message": str(message)[:300]}
        else:
            self.hosts.pop(host, None)

    def forget(self, host: str) -> None:
        self.hosts.pop(host, None)

    def save(self) -> None:
        if self.hosts:
            self.data[self.inventory] = self.hosts
        else:
            self.data.pop(self.inventory, None)
        atomic_write(str(self.path), json.dumps(self.data, indent=2, sort_keys=True) + "\n")


def _merge_results(first, second):
    """One result of both passes: each host's newest document; success when the second pass (which ran
    every task the first left) succeeded on every host it used."""
    hosts = dict(first.hosts)
    hosts.update(second.hosts)
    code = second.exit_code
    return type(first)(code, second.status, first.run_dir, hosts, second.message)


def run_benchmark(play, *, extravars: dict, run_dir: Path, limit: str | None, breaker: Breaker | None,
                  say, earlier: list[Path] = (), deallocate_after: bool = False):
    """`waa run` over a fleet: the half-open probes of hosts whose circuit is open, the first pass, and a
    second pass for what failed hosts (and tasks that raised) left; ``play(playbook, extravars, run_dir, limit)``
    runs one playbook (runner.run_playbook), ``say`` prints a line. With ``deallocate_after``, each host's VM
    is deallocated once no pass needs it. Returns the run's result."""
    result, idle = _passes(play, extravars, run_dir, limit, breaker, say, earlier, deallocate_after)
    if deallocate_after:
        _deallocate(play, extravars, run_dir / "down-2", idle, say)
    return result


def _deallocate(play, extravars: dict, where: Path, hosts: list[str], say) -> None:
    """`waa down` on ``hosts`` (one run for all); what failed is said, not hidden: the VM still costs."""
    hosts = sorted(h for h in hosts if is_plain_host(h))
    if not hosts:
        return
    down = play("down.yml", dict(extravars, waa_run_dir=str(where)), where, ":".join(hosts))
    for host in hosts:
        doc = down.hosts.get(host) or {}
        if doc.get("exit_code") == 0:
            say(f"{host}: {doc.get('message')}")
        else:
            say(f"{host}: NOT deallocated (exit {doc.get('exit_code')}: {doc.get('message') or down.message}); it "
                "still costs: waa down -i INVENTORY --limit " + host)


def _passes(play, extravars, run_dir, limit, breaker, say, earlier, deallocate_after):
    """The passes; returns the run's result and the hosts still up for the final deallocation."""
    if breaker is not None:
        left_out = _probe_open_hosts(play, breaker, extravars, run_dir, limit, say)
        if left_out:
            extravars = dict(extravars, waa_benchmark_fleet_exclude=left_out)
            limit = (limit or "all") + "".join(":!" + host for host in left_out)
    first = play("run_waa.yml", extravars, run_dir, limit)
    _record(breaker, first.hosts)
    if first.exit_code >= 128 or first.status in ("timeout", "canceled") or not first.hosts:
        return first, [] if first.exit_code >= 128 else list(first.hosts)
    # This run's selection and shares (a resumed run's selection is what the earlier runs left), and the
    # results of every run it continues.
    reading = read([run_dir])
    if earlier:
        reading.done |= read(list(earlier)).done
    plan = second_pass(reading, first.hosts)
    if plan.unattributed:
        say(f"{plan.unattributed} failed host(s) never reported their share, and hosts outside this run (--limit) "
            f"hold some of the shares nobody reported: `waa run --resume {run_dir}` finishes those tasks.")
    if reading.budget_stopped:
        say(f"--max-cost reached on {', '.join(sorted(reading.budget_stopped))}: no more tasks were handed out. "
            f"waa run --resume {run_dir} --max-cost USD finishes the rest.")
    if not plan.tasks:
        return first, list(first.hosts)
    if extravars.get("waa_benchmark_max_cost"):
        spent = summary.merge([run_dir])["cost_usd"] or 0.0
        left = float(extravars["waa_benchmark_max_cost"]) - spent
        if left <= 0:
            say(f"No second pass: the first cost ${spent:.2f} of --max-cost. waa run --resume {run_dir} --max-cost USD "
                "finishes the rest.")
            return first, list(first.hosts)
        extravars = dict(extravars, waa_benchmark_max_cost=round(left, 4))
    failed = ", ".join(f"{h} (exit {first.hosts[h].get('exit_code')})" for h in plan.failed_hosts) or "none"
    say(f"Second pass: {plan.total} task(s) without a result (failed hosts: {failed}) run on "
        + ", ".join(f"{host} {len(refs)}" for host, refs in sorted(plan.tasks.items())))
    if deallocate_after:  # the hosts the second pass does not use are done now
        _deallocate(play, extravars, run_dir / "down-1", [h for h in first.hosts if h not in plan.tasks], say)
    second_dir = run_dir / SECOND_PASS_DIR
    second_vars = {k: v for k, v in extravars.items()
                   if k not in ("waa_benchmark_num_tasks", "waa_benchmark_tasks", "waa_benchmark_domain")}
    second_vars.update(waa_benchmark_task_plan=plan.tasks, waa_benchmark_clean_results=False,
                       waa_benchmark_fleet_exclude=[], waa_run_dir=str(second_dir))
    second = play("run_waa.yml", second_vars, second_dir, ":".join(sorted(plan.tasks)))
    _record(breaker, second.hosts)
    return _merge_results(first, second), [] if second.exit_code >= 128 else list(plan.tasks)


def _record(breaker: Breaker | None, docs: dict[str, dict]) -> None:
    if breaker is None:
        return
    for host, doc in docs.items():
        code = doc.get("exit_code")
        if isinstance(code, int) and code >= 128:
            continue  # stopped by a person: says nothing of the host
        breaker.record(host, host_failed(doc), doc.get("message") or "")
    breaker.save()


def _probe_open_hosts(play, breaker: Breaker, extravars: dict, run_dir: Path, limit: str | None, say) -> list[str]:
    """Probe the hosts whose circuit is open (one run for all): a healthy one gets work again (half-open), the
    others are left out of this run. Returns those left out."""
    opened = breaker.open_hosts()
    if not opened:
        return []
    probe_dir = run_dir / "probe"
    pattern = ":".join(opened) + (f":&{limit}" if limit else "")
    probe = play("probe.yml", dict(extravars, waa_run_dir=str(probe_dir)), probe_dir, pattern)
    left_out = []
    for host in opened:
        doc = probe.hosts.get(host)
        if doc is None:
            continue  # not in this run (--limit) or no longer in the inventory
        failures = breaker.failures(host)
        if doc.get("exit_code") == 0:
            say(f"{host}: circuit half-open after {failures} failed run(s) in a row: its probe is healthy, it gets work "
                "again (one more failure leaves it out).")
            continue
        left_out.append(host)
        say(f"{host} left out of this run: its circuit is open ({failures} failed run(s) in a row, "
            f"--max-host-failures {breaker.max_failures}) and its probe failed (exit {doc.get('exit_code')}: "
            f"{doc.get('message') or 'no message'}). Its share goes to the other hosts.")
    return left_out
