#!/usr/bin/env python3
"""The kernel-tuning scripts against fake /proc and /sys trees: what they would change, and what they change.

Prints PASS or FAIL lines; exits 1 if any check failed. Touches nothing outside a temporary directory.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "kernel-tuning"

INTERRUPTS = """\
           CPU0       CPU1       CPU2       CPU3
  24:          0          0          0          0  PCI-MSI 524288-edge      eth0
  25:         10          0          0          0  PCI-MSI 524289-edge      eth0-TxRx-0
  26:          0         10          0          0  PCI-MSI 524290-edge      eth0-TxRx-1
  27:          0          0         10          0  PCI-MSI 524291-edge      eth0-TxRx-10
  28:          0          0          0         10  PCI-MSI 524292-edge      eth0-TxRx-2
  40:          5          0          0          0  PCI-MSI 1048576-edge     mlx5_comp0@pci:0000:3b:00.0
"""

failures = []


def check(name, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {name}{'' if condition else ': ' + detail}")
    if not condition:
        failures.append(name)


def run(args, env):
    return subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True)


def steer_ports(tmp):
    interrupts = tmp / "interrupts"
    interrupts.write_text(INTERRUPTS)
    env = {"PROC_INTERRUPTS": str(interrupts)}
    result = run([TUNING / "steer-ports", "eth0", "50000", "2,3,1"], env)
    lines = result.stdout.splitlines()
    check("steer-ports exits 0 when every queue has its interrupt", result.returncode == 0, result.stderr)
    check("steer-ports turns n-tuple filters on first", lines[:1] == ["ethtool -K eth0 ntuple on"], result.stdout)
    for shard, (port, irq, cpu) in enumerate([(50000, 25, 2), (50001, 26, 3), (50002, 28, 1)]):
        for family in ("udp4", "udp6"):
            rule = f"ethtool -N eth0 flow-type {family} dst-port {port} action {shard}"
            check(f"shard {shard}: {family} port {port} to queue {shard}", rule in lines, result.stdout)
        pin = f"echo {cpu} > /proc/irq/{irq}/smp_affinity_list"
        check(f"shard {shard}: queue interrupt {irq} on CPU {cpu}", pin in lines, result.stdout)
    check("queue 1 is not mistaken for queue 10", "/proc/irq/27/" not in result.stdout, result.stdout)

    unnamed = run([TUNING / "steer-ports", "mlx5", "50000", "0"], env)
    check("interrupts not named after the interface are reported", unnamed.returncode == 1, unnamed.stdout)
    check("and the operator is told to pin by hand", "by hand" in unnamed.stderr, unnamed.stderr)


def apply(tmp):
    sysctl = tmp / "sys"
    core = sysctl / "net" / "core"
    core.mkdir(parents=True)
    values = {
        "rmem_max": "212992",
        "wmem_max": "33554432",
        "netdev_max_backlog": "1000",
        "netdev_budget": "300",
        "netdev_budget_usecs": "2000",
    }
    for key, value in values.items():
        (core / key).write_text(value + "\n")
    governor = tmp / "cpu" / "cpu0" / "cpufreq" / "scaling_governor"
    governor.parent.mkdir(parents=True)
    governor.write_text("powersave\n")
    env = {"SYSCTL_DIR": str(sysctl), "SYSCTL_D": str(tmp / "sysctl.d"), "CPU_DIR": str(tmp / "cpu")}

    checked = run([TUNING / "apply", "--check"], env)
    check("apply --check finds low settings", checked.returncode == 1, checked.stdout)
    check("apply --check changes nothing", (core / "rmem_max").read_text().strip() == "212992")
    check("apply --check names the low ones", "low   net.core.netdev_max_backlog = 1000" in checked.stdout)

    applied = run([TUNING / "apply"], env)
    check("apply succeeds", applied.returncode == 0, applied.stdout + applied.stderr)
    check("apply raises rmem_max", (core / "rmem_max").read_text().strip() == "8388608")
    check("apply raises the backlog", (core / "netdev_max_backlog").read_text().strip() == "16384")
    check("apply never lowers a higher value", (core / "wmem_max").read_text().strip() == "33554432")
    check("apply sets the performance governor", governor.read_text().strip() == "performance")
    persisted = (tmp / "sysctl.d" / "90-shardcast.conf").read_text()
    check("apply persists what it raised", "net.core.rmem_max = 8388608" in persisted, persisted)
    check("and only that", "wmem_max" not in persisted, persisted)
    again = run([TUNING / "apply", "--check"], env)
    check("after apply no sysctl is low", "low   net." not in again.stdout, again.stdout)


# A fake taskset: records its arguments, refuses thread 31 as a bound kernel thread would.
FAKE_TASKSET = """#!/usr/bin/env bash
echo "$*" >> "$TASKSET_LOG"
[[ $3 != 31 ]]
"""


def shield_cores(tmp):
    proc = tmp / "proc"
    threads = {
        (1, 1): ("init", "0-3"),
        (1, 7): ("shard-0", "2"),
        (20, 20): ("sshd", "0-1"),
        (30, 30): ("worker", "1-3,5"),
        (30, 31): ("kthread", "0,2"),
    }
    for (pid, tid), (name, cpus) in threads.items():
        task = proc / str(pid) / "task" / str(tid)
        task.mkdir(parents=True)
        (task / "status").write_text(f"Name:\t{name}\nState:\tS\nCpus_allowed_list:\t{cpus}\n")
    taskset = tmp / "taskset"
    taskset.write_text(FAKE_TASKSET)
    taskset.chmod(0o755)
    log = tmp / "taskset.log"
    state = tmp / "shield"
    env = {"PROC": str(proc), "TASKSET": str(taskset), "TASKSET_LOG": str(log), "SHIELD_STATE": str(state)}

    shown = run([TUNING / "shield-cores", "2,3"], env)
    check("shield-cores prints without --apply", shown.returncode == 0 and not log.exists(), shown.stderr)
    moves = [line.split("  #")[0] for line in shown.stdout.splitlines()]
    expected = [f"{taskset} -pc 0,1 1", f"{taskset} -pc 1,5 30", f"{taskset} -pc 0 31"]
    # Not the shard (only on CPU 2) nor sshd (no shielded CPU).
    check("each thread on a shielded CPU keeps the rest of its CPUs", sorted(moves) == sorted(expected), shown.stdout)

    applied = run([TUNING / "shield-cores", "2,3", "--apply"], env)
    check("shield-cores --apply succeeds", applied.returncode == 0, applied.stdout + applied.stderr)
    check("and counts the refusal", "moved 2 threads off CPUs 2,3 (1 refused)" in applied.stdout, applied.stdout)
    saved = sorted(state.read_text().splitlines())
    check("the old CPUs of the moved threads are saved", saved == ["1 0-3", "30 1-3,5"], str(saved))

    log.unlink()
    undone = run([TUNING / "shield-cores", "--undo"], env)
    check("--undo succeeds", undone.returncode == 0, undone.stdout + undone.stderr)
    restored = sorted(log.read_text().splitlines())
    check("--undo gives back the saved CPUs", restored == ["-pc 0-3 1", "-pc 1-3,5 30"], str(restored))
    check("--undo forgets the state", not state.exists())


def main():
    with tempfile.TemporaryDirectory() as tmp:
        steer_ports(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        apply(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        shield_cores(Path(tmp))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
