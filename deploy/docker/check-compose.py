#!/usr/bin/env python3
"""Static checks of docker-compose.yml, no Docker engine needed.

    python3 deploy/docker/check-compose.py [--compose 'docker-compose'|'docker compose']

Runs `<compose> config` (the file as compose resolves it, defaults filled
in) and checks what the deploy issue asks of it:
  - the seven services; only the gateway publishes a port; nothing pins a
    container name (so every other service scales);
  - every service has a healthcheck and a restart policy; every depends_on
    waits for service_healthy;
  - every variable of README.md's configuration table reaches every hsn
    service with the README default (or the compose-network value for the
    endpoints and URLs); HSN_REPLICA_ID is not set;
  - the hsn services' grace period exceeds SHUTDOWN_TIMEOUT_MS;
  - Redis AOF on, PostgreSQL database hsn; images overridable by environment.
Exit 0 when all hold, 1 with the list of problems otherwise.

Parsing: `docker compose config --format json` (v2) when available, else
the YAML of `docker-compose config` (v1) with PyYAML, which Debian's
docker-compose package depends on (python3-yaml). Stdlib otherwise.
"""
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HSN = ["gateway", "monitor", "cache", "query", "agent-bus"]
ALL = ["redis", "postgres"] + HSN
# Inside compose the endpoints name the services instead of 127.0.0.1.
COMPOSE_VALUES = {
    "REDIS_URL": "redis://redis:6379",
    "DATABASE_URL": "postgresql://hsn:hsn@postgres:5432/hsn",
    "BROKER_BIND": "tcp://0.0.0.0:5555",
    "BROKER_ENDPOINT": "tcp://gateway:5555",
    "MONITOR_BIND": "tcp://0.0.0.0:5556",
    "MONITOR_ENDPOINT": "tcp://monitor:5556",
    "MONITOR_EXPECTED_SERVICES": "gateway,cache,query,agent-bus,monitor",
}
# Where the README's default is not what the code uses, the code wins (the
# compose file must not change behaviour); reported, not failed.
CODE_DEFAULTS = {}
NOT_SET = {"HSN_REPLICA_ID"}    # default host:pid must stay unique per replica


def readme_table():
    """{VAR: default} from README.md's configuration table."""
    out = {}
    section = False
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line.strip() == "## Configuration"
                continue
            if not section or not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
            defaults = [d.strip() for d in cells[1].split(",")] if len(names) > 1 else [cells[1]]
            for i, n in enumerate(names):
                d = defaults[min(i, len(defaults) - 1)]
                # "0 (off)" -> "0", "(none)" / "(none: open)" -> ""
                out[n] = re.sub(r"\s*\(.*\)$", "", d).strip()
    return out


def load_config(compose):
    cmd = shlex.split(compose) + ["-f", os.path.join(ROOT, "docker-compose.yml")]
    env = dict(os.environ)
    r = subprocess.run(cmd + ["config", "--format", "json"], capture_output=True, text=True, env=env)
    if r.returncode == 0 and r.stdout.lstrip().startswith("{"):
        return json.loads(r.stdout)
    r = subprocess.run(cmd + ["config"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("check-compose: `%s config` failed:\n%s" % (compose, r.stderr))
    try:
        import yaml
    except ImportError:
        sys.exit("check-compose: needs PyYAML (python3-yaml, a dependency of docker-compose) "
                 "or Compose v2 (config --format json)")
    return yaml.safe_load(r.stdout)


def seconds(v):
    """'12s', '1m30s', '1m', 12 -> seconds."""
    if isinstance(v, (int, float)):
        return float(v) / 1e9 if v > 1e6 else float(v)     # v2 json gives nanoseconds
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(h|ms|m|s|us|ns)", str(v)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    return total


def main():
    compose = "docker-compose"
    if len(sys.argv) > 2 and sys.argv[1] == "--compose":
        compose = sys.argv[2]
    problems, notes = [], []
    cfg = load_config(compose)
    svcs = cfg.get("services", {})
    raw = open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8").read()

    if sorted(svcs) != sorted(ALL):
        problems.append("services are %s, want %s" % (sorted(svcs), sorted(ALL)))
    for name, s in svcs.items():
        if s.get("ports") and name != "gateway":
            problems.append("%s publishes ports %s: only the gateway may" % (name, s["ports"]))
        if "container_name" in s:
            problems.append("%s: container_name prevents scaling" % name)
        hc = s.get("healthcheck") or {}
        test = hc.get("test")
        if not test or hc.get("disable") or test in (["NONE"], "NONE"):
            problems.append("%s: no healthcheck" % name)
        if s.get("restart") not in ("always", "unless-stopped", "on-failure"):
            problems.append("%s: restart policy is %r" % (name, s.get("restart")))
        deps = s.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append("%s: depends_on without conditions" % name)
        else:
            for d, spec in deps.items():
                if d not in svcs:
                    problems.append("%s depends on unknown %s" % (name, d))
                if (spec or {}).get("condition") != "service_healthy":
                    problems.append("%s: depends_on %s is not condition: service_healthy" % (name, d))

    gw = svcs.get("gateway", {})
    ports = gw.get("ports") or []
    targets = []
    for p in ports:
        if isinstance(p, dict):
            targets.append(str(p.get("target")))
        else:
            targets.append(str(p).split("/")[0].split(":")[-1])
    if targets != ["8080"]:
        problems.append("gateway publishes %s, want the one container port 8080" % targets)

    table = readme_table()
    if len(table) < 20:
        problems.append("README configuration table not found or too short (%d variables)" % len(table))
    for name in HSN:
        s = svcs.get(name, {})
        envv = s.get("environment") or {}
        if isinstance(envv, list):
            envv = dict(e.split("=", 1) if "=" in e else (e, None) for e in envv)
        for var, default in table.items():
            if var in NOT_SET:
                if envv.get(var):
                    problems.append("%s sets %s: replicas would share one id" % (name, var))
                continue
            if var not in envv:
                problems.append("%s: %s not passed through" % (name, var))
                continue
            got = "" if envv[var] is None else str(envv[var])
            want = COMPOSE_VALUES.get(var, default)
            if var in CODE_DEFAULTS and got == CODE_DEFAULTS[var] and got != want:
                if name == "cache":
                    notes.append("%s=%s is the code's default; README says %s" % (var, got, want))
                continue
            if got.lower() != want.lower():
                problems.append("%s: %s=%r, want the default %r" % (name, var, got, want))
        want_cmd = "hsn-" + name
        cmd = s.get("command")
        if (cmd if isinstance(cmd, str) else " ".join(cmd or [])) != want_cmd:
            problems.append("%s: command %r, want %r" % (name, cmd, want_cmd))
        grace = seconds(s.get("stop_grace_period", "10s"))
        drain = float(envv.get("SHUTDOWN_TIMEOUT_MS") or 9000) / 1000
        if grace <= drain:
            problems.append("%s: stop_grace_period %ss does not exceed SHUTDOWN_TIMEOUT_MS (%ss)"
                            % (name, grace, drain))
        if s.get("image") != svcs["gateway"].get("image") or s.get("build") != svcs["gateway"].get("build"):
            problems.append("%s: not the one hsn image and build of the gateway" % name)
        if not s.get("build"):
            problems.append("%s: no build section" % name)

    redis_cmd = svcs.get("redis", {}).get("command") or []
    redis_cmd = redis_cmd if isinstance(redis_cmd, str) else " ".join(str(c) for c in redis_cmd)
    if "--appendonly yes" not in redis_cmd or "--appendfsync always" not in redis_cmd:
        problems.append("redis: AOF not on with appendfsync always: %r" % redis_cmd)
    pg = (svcs.get("postgres", {}).get("environment") or {})
    if pg.get("POSTGRES_DB") != "hsn" or pg.get("POSTGRES_USER") != "hsn":
        problems.append("postgres: POSTGRES_DB/POSTGRES_USER are not hsn: %s" % pg)
    for var in ("${REDIS_IMAGE", "${POSTGRES_IMAGE", "${HSN_IMAGE", "${HSN_BASE_IMAGE"):
        if var not in raw:
            problems.append("docker-compose.yml: image not overridable by %s}" % var[2:])

    for n in notes:
        print("check-compose: note: " + n)
    for p in problems:
        print("check-compose: " + p)
    print("check-compose: %d services, %d settings: %s" % (
        len(svcs), len(table), "ok" if not problems else "%d problem(s)" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
