#!/usr/bin/env python3
"""Schema and consistency check of the Kubernetes manifests in deploy/k8s.

    python3 deploy/k8s/check.py            (or: sh deploy/k8s/check.sh)

Python 3 standard library only: the manifests are written in a small YAML
subset that the parser below reads (block mappings and sequences, plain and
quoted scalars, flow sequences of scalars, `|` literal blocks, comments,
`---` between documents); anything else is reported as an error, so the
files stay within it. When PyYAML happens to be installed the parse is
cross-checked against it.

Checks: every document has apiVersion/kind/metadata.name and the namespace;
Deployments and StatefulSets have a selector matching their pod labels,
containers with an image and both a readiness and a liveness probe (with a
valid handler and ports that exist); HPAs target existing Deployments that
have CPU requests and no fixed replica count; Services select existing pods
and target ports those pods declare; every ConfigMap, Secret (and key)
referenced exists; every setting of README.md's configuration table is in
hsn-config or hsn-secrets and HSN_REPLICA_ID is not; grace periods exceed
SHUTDOWN_TIMEOUT_MS; hsn-initdb equals deploy/docker/initdb; the
kustomization lists every manifest. Then a self-test breaks the parsed
manifests in a few ways and requires each break to be caught.

Exit 0 when all hold; 1 with one line per problem otherwise.
"""
import base64
import copy
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NAMESPACE = "hsn"
HSN_SERVICES = ["gateway", "monitor", "cache", "query", "agent-bus"]
SCALED = ["cache", "query", "agent-bus"]
API = {
    "Namespace": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
    "Deployment": "apps/v1", "StatefulSet": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


# ---- a small YAML subset ---------------------------------------------------
class YamlError(Exception):
    pass


def _strip_comment(s):
    """Drop a ' #' comment outside quotes."""
    q = None
    for i, c in enumerate(s):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def _scalar(tok, where):
    tok = tok.strip()
    if tok == "":
        return None
    if tok[0] == '"':
        if len(tok) < 2 or tok[-1] != '"':
            raise YamlError("%s: unterminated string %s" % (where, tok))
        body = tok[1:-1]
        if re.search(r'(?<!\\)"', body):
            raise YamlError("%s: stray quote in %s" % (where, tok))
        return bytes(body, "utf-8").decode("unicode_escape") if "\\" in body else body
    if tok[0] == "'":
        if len(tok) < 2 or tok[-1] != "'":
            raise YamlError("%s: unterminated string %s" % (where, tok))
        return tok[1:-1].replace("''", "'")
    if tok[0] == "[":
        if tok[-1] != "]":
            raise YamlError("%s: flow sequence must end on its line: %s" % (where, tok))
        inner = tok[1:-1].strip()
        if not inner:
            return []
        items, cur, q = [], "", None
        for c in inner:
            if q:
                cur += c
                if c == q:
                    q = None
            elif c in "'\"":
                q = c
                cur += c
            elif c == ",":
                items.append(cur)
                cur = ""
            elif c in "[]{}":
                raise YamlError("%s: nested flow collections are not supported: %s" % (where, tok))
            else:
                cur += c
        items.append(cur)
        return [_scalar(i, where) for i in items]
    if tok == "{}":
        return {}
    if tok[0] in "{&*!|>%@`":
        raise YamlError("%s: unsupported YAML construct: %s" % (where, tok))
    if tok in ("null", "~", "Null", "NULL"):
        return None
    if tok in ("true", "True", "TRUE"):
        return True
    if tok in ("false", "False", "FALSE"):
        return False
    if tok in ("yes", "no", "on", "off", "Yes", "No", "On", "Off", "y", "n"):
        raise YamlError("%s: quote %r (YAML 1.1 reads it as a boolean)" % (where, tok))
    if re.fullmatch(r"[-+]?[0-9]+", tok):
        return int(tok)
    if re.fullmatch(r"[-+]?([0-9]*\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?", tok):
        return float(tok)
    if ": " in tok or tok.endswith(":"):
        raise YamlError("%s: unexpected mapping in a scalar: %s" % (where, tok))
    return tok


def _split_key(content, where):
    """'key: rest' -> (key, rest) or None when the line is no mapping entry."""
    if content[0] in "'\"":
        q = content[0]
        end = content.find(q, 1)
        if end < 0:
            raise YamlError("%s: unterminated key" % where)
        key, rest = content[1:end], content[end + 1:]
        if not (rest == ":" or rest.startswith(": ")):
            return None
        return key, rest[1:].strip()
    m = re.match(r"^([^\s:#'\"][^:#]*?):(\s+(.*))?$", content)
    if not m:
        return None
    return m.group(1), (m.group(3) or "").strip()


class _Parser:
    def __init__(self, lines, name):
        self.name = name
        self.raw = lines
        self.lines = []          # (lineno, indent, content) without blanks/comments
        for n, l in enumerate(lines, 1):
            if "\t" in l[: len(l) - len(l.lstrip())]:
                raise YamlError("%s:%d: tab in indentation" % (name, n))
            c = _strip_comment(l)
            if c.strip():
                self.lines.append((n, len(c) - len(c.lstrip()), c.strip()))
        self.i = 0

    def where(self, k=None):
        k = self.i if k is None else k
        return "%s:%d" % (self.name, self.lines[k][0] if k < len(self.lines) else len(self.raw))

    def parse(self):
        if not self.lines:
            return None
        v = self.block(self.lines[0][1])
        if self.i < len(self.lines):
            raise YamlError("%s: unexpected indentation" % self.where())
        return v

    def block(self, indent):
        _, ind, content = self.lines[self.i]
        if ind != indent:
            raise YamlError("%s: bad indentation" % self.where())
        if content == "-" or content.startswith("- "):
            return self.seq(indent)
        return self.mapping(indent)

    def seq(self, indent):
        out = []
        while self.i < len(self.lines):
            n, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise YamlError("%s: bad indentation" % self.where())
            if not (content == "-" or content.startswith("- ")):
                break
            rest = content[1:].lstrip()
            if not rest:
                self.i += 1
                if self.i < len(self.lines) and self.lines[self.i][1] > indent:
                    out.append(self.block(self.lines[self.i][1]))
                else:
                    out.append(None)
                continue
            col = ind + (len(content) - len(rest))
            if rest.startswith("- "):
                raise YamlError("%s: nested '- -' not supported" % self.where())
            if _split_key(rest, self.where()) is not None:
                # "- key: v" starts a mapping at the item's column
                self.lines[self.i] = (n, col, rest)
                out.append(self.mapping(col))
            else:
                out.append(_scalar(rest, self.where()))
                self.i += 1
        return out

    def mapping(self, indent):
        out = {}
        while self.i < len(self.lines):
            n, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise YamlError("%s: bad indentation" % self.where())
            if content == "-" or content.startswith("- "):
                break
            kv = _split_key(content, self.where())
            if kv is None:
                raise YamlError("%s: expected 'key: value', got %r" % (self.where(), content))
            key, rest = kv
            if key in out:
                raise YamlError("%s: duplicate key %r" % (self.where(), key))
            self.i += 1
            if rest in ("|", "|-"):
                out[key] = self.literal(n, indent, keep=rest == "|")
            elif rest == "":
                if self.i < len(self.lines) and self.lines[self.i][1] > indent:
                    out[key] = self.block(self.lines[self.i][1])
                elif (self.i < len(self.lines) and self.lines[self.i][1] == indent
                      and (self.lines[self.i][2] == "-" or self.lines[self.i][2].startswith("- "))):
                    out[key] = self.seq(indent)
                else:
                    out[key] = None
            else:
                out[key] = _scalar(rest, "%s:%d" % (self.name, n))
        return out

    def literal(self, lineno, indent, keep):
        """A '|' block: the raw lines after lineno indented more than indent."""
        body = []
        k = lineno           # raw index of the next line (lineno is 1-based)
        block_ind = None
        while k < len(self.raw):
            l = self.raw[k]
            if l.strip() == "":
                body.append("")
                k += 1
                continue
            ind = len(l) - len(l.lstrip())
            if ind <= indent:
                break
            if block_ind is None:
                block_ind = ind
            if ind < block_ind:
                raise YamlError("%s:%d: literal block indentation" % (self.name, k + 1))
            body.append(l[block_ind:])
            k += 1
        while body and body[-1] == "":
            body.pop()
        # skip the parsed lines in self.lines
        while self.i < len(self.lines) and self.lines[self.i][0] <= k:
            self.i += 1
        text = "\n".join(body)
        return text + "\n" if keep and body else text


def load_all(path):
    name = os.path.relpath(path, ROOT)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs, cur = [], []
    for line in text.split("\n"):
        if line.rstrip() == "---":
            docs.append(cur)
            cur = []
        elif line.startswith("---") or line.startswith("..."):
            raise YamlError("%s: unsupported document marker %r" % (name, line))
        else:
            cur.append(line)
    docs.append(cur)
    out = []
    offset = 0
    for d in docs:
        # keep line numbers right: pad with the lines of earlier documents
        v = _Parser([""] * offset + d, name).parse()
        offset += len(d) + 1
        if v is not None:
            out.append(v)
    return out


# ---- checks ----------------------------------------------------------------
def readme_settings():
    out = {}
    section = False
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line.strip() == "## Configuration"
            elif section and line.startswith("| `"):
                cell = line.strip().strip("|").split("|")[0]
                for n in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell):
                    out[n] = True
    return sorted(out)


def get(d, *path, default=None):
    for p in path:
        if isinstance(d, dict) and p in d:
            d = d[p]
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return default
    return d


def check(docs, files):
    """docs: [(file, doc)]. Returns the list of problems."""
    P = []
    by_kind = {}
    for f, d in docs:
        where = "%s: %s/%s" % (f, get(d, "kind"), get(d, "metadata", "name"))
        if not isinstance(d, dict):
            P.append("%s: document is not a mapping" % f)
            continue
        kind, api, name = d.get("kind"), d.get("apiVersion"), get(d, "metadata", "name")
        if not kind or not api or not name:
            P.append("%s: apiVersion, kind and metadata.name are required" % where)
            continue
        if kind not in API:
            P.append("%s: unexpected kind %s" % (where, kind))
        elif api != API[kind]:
            P.append("%s: apiVersion %s, want %s" % (where, api, API[kind]))
        if not DNS1123.match(str(name)) or len(str(name)) > 63:
            P.append("%s: name is not a DNS-1123 label" % where)
        if kind != "Namespace" and get(d, "metadata", "namespace") != NAMESPACE:
            P.append("%s: metadata.namespace must be %s" % (where, NAMESPACE))
        if (kind, name) in by_kind:
            P.append("%s: defined twice" % where)
        by_kind[(kind, name)] = (f, d)

    def objs(kind):
        return [(n, fd[0], fd[1]) for (k, n), fd in sorted(by_kind.items()) if k == kind]

    if ("Namespace", NAMESPACE) not in by_kind:
        P.append("no Namespace %s" % NAMESPACE)

    configmaps = {n: (get(d, "data") or {}) for n, _, d in objs("ConfigMap")}
    secrets = {}
    for n, f, d in objs("Secret"):
        keys = dict(get(d, "stringData") or {})
        for k, v in (get(d, "data") or {}).items():
            try:
                keys[k] = base64.b64decode(str(v), validate=True).decode()
            except Exception:
                P.append("%s: Secret %s data.%s is not base64" % (f, n, k))
        secrets[n] = keys
    for n, f, d in objs("ConfigMap") + objs("Secret"):
        for sect in ("data", "stringData"):
            for k, v in (get(d, sect) or {}).items():
                if not ENV_KEY.match(str(k)):
                    P.append("%s: %s key %r is not a valid key" % (f, n, k))
                if not isinstance(v, str):
                    P.append("%s: %s %s.%s must be a string, is %r" % (f, n, sect, k, v))

    workloads = {}  # (kind, name) -> (file, doc, pod labels, container ports by name and number)
    for kind in ("Deployment", "StatefulSet"):
        for n, f, d in objs(kind):
            w = "%s: %s %s" % (f, kind, n)
            sel = get(d, "spec", "selector", "matchLabels") or {}
            labels = get(d, "spec", "template", "metadata", "labels") or {}
            if not sel:
                P.append("%s: spec.selector.matchLabels is empty" % w)
            for k, v in sel.items():
                if labels.get(k) != v:
                    P.append("%s: selector %s=%s not in the pod template's labels" % (w, k, v))
            pod = get(d, "spec", "template", "spec") or {}
            containers = pod.get("containers") or []
            if not containers:
                P.append("%s: no containers" % w)
            volumes = {v.get("name"): v for v in pod.get("volumes") or []}
            claims = {get(c, "metadata", "name") for c in get(d, "spec", "volumeClaimTemplates") or []}
            for v in volumes.values():
                cm = get(v, "configMap", "name")
                if cm and cm not in configmaps and not get(v, "configMap", "optional"):
                    P.append("%s: volume %s: no ConfigMap %s" % (w, v.get("name"), cm))
                sn = get(v, "secret", "secretName")
                if sn and sn not in secrets and not get(v, "secret", "optional"):
                    P.append("%s: volume %s: no Secret %s" % (w, v.get("name"), sn))
            ports = {}
            for c in containers:
                cw = "%s container %s" % (w, c.get("name"))
                if not c.get("name") or not DNS1123.match(str(c.get("name"))):
                    P.append("%s: container name missing or invalid" % cw)
                if not c.get("image"):
                    P.append("%s: no image" % cw)
                cports = {}
                for p in c.get("ports") or []:
                    if not isinstance(p.get("containerPort"), int) or not 0 < p["containerPort"] < 65536:
                        P.append("%s: bad containerPort %r" % (cw, p.get("containerPort")))
                    cports[p.get("containerPort")] = p
                    if p.get("name"):
                        if len(p["name"]) > 15:
                            P.append("%s: port name %s longer than 15" % (cw, p["name"]))
                        cports[p["name"]] = p
                ports.update(cports)
                for probe in ("readinessProbe", "livenessProbe"):
                    pr = c.get(probe)
                    if not isinstance(pr, dict):
                        P.append("%s: no %s" % (cw, probe))
                        continue
                    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in pr]
                    if len(handlers) != 1:
                        P.append("%s: %s needs exactly one of exec/httpGet/tcpSocket/grpc" % (cw, probe))
                        continue
                    h = handlers[0]
                    if h == "exec":
                        cmd = get(pr, "exec", "command")
                        if not isinstance(cmd, list) or not cmd or not all(isinstance(x, str) for x in cmd):
                            P.append("%s: %s exec.command must be a list of strings" % (cw, probe))
                    elif h in ("httpGet", "tcpSocket", "grpc"):
                        port = get(pr, h, "port")
                        if port not in cports:
                            P.append("%s: %s port %r is not a port of the container" % (cw, probe, port))
                    for k in ("periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds"):
                        if k in pr and (not isinstance(pr[k], int) or pr[k] < 0):
                            P.append("%s: %s.%s must be a non-negative integer" % (cw, probe, k))
                for ef in c.get("envFrom") or []:
                    cm = get(ef, "configMapRef", "name")
                    if cm and cm not in configmaps and not get(ef, "configMapRef", "optional"):
                        P.append("%s: envFrom: no ConfigMap %s" % (cw, cm))
                    sn = get(ef, "secretRef", "name")
                    if sn and sn not in secrets and not get(ef, "secretRef", "optional"):
                        P.append("%s: envFrom: no Secret %s" % (cw, sn))
                    if not cm and not sn:
                        P.append("%s: envFrom entry without configMapRef/secretRef" % cw)
                for e in c.get("env") or []:
                    ref = get(e, "valueFrom", "secretKeyRef")
                    if ref and (ref.get("name") not in secrets or ref.get("key") not in secrets[ref.get("name")]):
                        P.append("%s: env %s: no key %s in Secret %s" % (cw, e.get("name"), ref.get("key"), ref.get("name")))
                    ref = get(e, "valueFrom", "configMapKeyRef")
                    if ref and (ref.get("name") not in configmaps or ref.get("key") not in configmaps[ref.get("name")]):
                        P.append("%s: env %s: no key %s in ConfigMap %s" % (cw, e.get("name"), ref.get("key"), ref.get("name")))
                    if "value" in e and not isinstance(e["value"], str):
                        P.append("%s: env %s value must be a string" % (cw, e.get("name")))
                for m in c.get("volumeMounts") or []:
                    if m.get("name") not in volumes and m.get("name") not in claims:
                        P.append("%s: volumeMount %s: no such volume" % (cw, m.get("name")))
                    if not str(m.get("mountPath", "")).startswith("/"):
                        P.append("%s: volumeMount %s: mountPath must be absolute" % (cw, m.get("name")))
            if kind == "StatefulSet":
                svc = get(d, "spec", "serviceName")
                if ("Service", svc) not in by_kind:
                    P.append("%s: serviceName %s: no such Service" % (w, svc))
                elif get(by_kind[("Service", svc)][1], "spec", "clusterIP") != "None":
                    P.append("%s: governing Service %s should be headless" % (w, svc))
            workloads[(kind, n)] = (f, d, labels, ports)

    for n, f, d in objs("Service"):
        w = "%s: Service %s" % (f, n)
        sel = get(d, "spec", "selector") or {}
        if not sel:
            P.append("%s: no selector" % w)
            continue
        matched = [(k, wn, wp) for (k, wn), (_, _, labels, wp) in workloads.items()
                   if all(labels.get(a) == b for a, b in sel.items())]
        if not matched:
            P.append("%s: selector %s matches no pods" % (w, sel))
        for p in get(d, "spec", "ports") or []:
            if not isinstance(p.get("port"), int):
                P.append("%s: port %r must be a number" % (w, p.get("port")))
            tp = p.get("targetPort", p.get("port"))
            for k, wn, wp in matched:
                if tp not in wp:
                    P.append("%s: targetPort %r is not a port of %s %s" % (w, tp, k, wn))

    hpa_targets = set()
    for n, f, d in objs("HorizontalPodAutoscaler"):
        w = "%s: HorizontalPodAutoscaler %s" % (f, n)
        ref = get(d, "spec", "scaleTargetRef") or {}
        if ref.get("kind") != "Deployment" or ref.get("apiVersion") != "apps/v1":
            P.append("%s: scaleTargetRef must be an apps/v1 Deployment" % w)
        tgt = workloads.get(("Deployment", ref.get("name")))
        if not tgt:
            P.append("%s: scaleTargetRef %s: no such Deployment" % (w, ref.get("name")))
        else:
            hpa_targets.add(ref.get("name"))
            if "replicas" in (get(tgt[1], "spec") or {}):
                P.append("%s: Deployment %s sets spec.replicas, which every apply resets under the HPA"
                         % (w, ref.get("name")))
            for c in get(tgt[1], "spec", "template", "spec", "containers") or []:
                if not get(c, "resources", "requests", "cpu"):
                    P.append("%s: container %s has no CPU request (utilization needs one)" % (w, c.get("name")))
        lo, hi = get(d, "spec", "minReplicas", default=1), get(d, "spec", "maxReplicas")
        if not isinstance(hi, int) or not isinstance(lo, int) or not 1 <= lo <= hi:
            P.append("%s: need 1 <= minReplicas <= maxReplicas" % w)
        if not get(d, "spec", "metrics"):
            P.append("%s: no metrics" % w)

    # ---- hsn specifics ----
    config = dict(configmaps.get("hsn-config") or {})
    config.update(secrets.get("hsn-secrets") or {})
    for var in readme_settings():
        if var == "HSN_REPLICA_ID":
            if var in config:
                P.append("HSN_REPLICA_ID is set: every replica would report the same id")
        elif var not in config:
            P.append("setting %s (README) is in neither ConfigMap hsn-config nor Secret hsn-secrets" % var)
    drain_s = int(config.get("SHUTDOWN_TIMEOUT_MS", "9000")) / 1000.0
    for svc in HSN_SERVICES:
        dep = workloads.get(("Deployment", "hsn-" + svc))
        if not dep:
            P.append("no Deployment hsn-%s" % svc)
            continue
        f, d = dep[0], dep[1]
        pod = get(d, "spec", "template", "spec") or {}
        c = (pod.get("containers") or [{}])[0]
        if c.get("command") != ["hsn-" + svc]:
            P.append("%s: Deployment hsn-%s must run command [hsn-%s]" % (f, svc, svc))
        refs = {get(e, "configMapRef", "name") for e in c.get("envFrom") or []} | \
               {get(e, "secretRef", "name") for e in c.get("envFrom") or []}
        if not {"hsn-config", "hsn-secrets"} <= refs:
            P.append("%s: hsn-%s must take hsn-config and hsn-secrets whole (envFrom)" % (f, svc))
        if any(e.get("name") == "HSN_REPLICA_ID" for e in c.get("env") or []):
            P.append("%s: hsn-%s sets HSN_REPLICA_ID" % (f, svc))
        if pod.get("terminationGracePeriodSeconds", 30) <= drain_s:
            P.append("%s: hsn-%s terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT_MS" % (f, svc))
        if not get(pod, "securityContext", "runAsNonRoot"):
            P.append("%s: hsn-%s must run as non-root" % (f, svc))
        if svc in SCALED and "hsn-" + svc not in hpa_targets:
            P.append("hsn-%s has no HorizontalPodAutoscaler" % svc)
        if svc not in SCALED:
            if "hsn-" + svc in hpa_targets:
                P.append("hsn-%s is a singleton (broker/monitor) and must not be autoscaled" % svc)
            if get(d, "spec", "replicas") != 1:
                P.append("%s: hsn-%s must have exactly 1 replica" % (f, svc))
    for name, port in (("hsn-gateway", "http"), ("hsn-broker", "broker"), ("hsn-monitor", "monitor")):
        if ("Service", name) not in by_kind:
            P.append("no Service %s (%s)" % (name, port))
    for ep, svc in (("BROKER_ENDPOINT", "hsn-broker"), ("MONITOR_ENDPOINT", "hsn-monitor"),
                    ("REDIS_URL", "redis"), ("DATABASE_URL", "postgres")):
        host = re.sub(r"^[a-z]+://([^@/]*@)?", "", config.get(ep, "")).split(":")[0].split("/")[0]
        if ("Service", host) not in by_kind:
            P.append("%s=%s names no Service of the manifests" % (ep, config.get(ep)))
    for kind, name in (("StatefulSet", "redis"), ("StatefulSet", "postgres")):
        if (kind, name) not in workloads:
            P.append("no %s %s" % (kind, name))
    initdb = configmaps.get("hsn-initdb")
    if initdb is not None:
        want = {}
        for p in sorted(glob.glob(os.path.join(ROOT, "deploy", "docker", "initdb", "*"))):
            with open(p, encoding="utf-8") as fh:
                want[os.path.basename(p)] = fh.read()
        if initdb != want:
            P.append("ConfigMap hsn-initdb differs from deploy/docker/initdb/ (%s vs %s)"
                     % (sorted(initdb), sorted(want)))
    return P


def self_test(docs, files):
    """Break the manifests in known ways; each break must be reported."""
    def first(kind, name=None):
        for i, (_, d) in enumerate(docs):
            if d.get("kind") == kind and (name is None or get(d, "metadata", "name") == name):
                return i
        raise AssertionError("self-test: no %s %s" % (kind, name))

    def container(d):
        return d["spec"]["template"]["spec"]["containers"][0]

    breaks = [
        ("missing readinessProbe", lambda D: container(D[first("Deployment", "hsn-cache")][1]).pop("readinessProbe")),
        ("missing livenessProbe", lambda D: container(D[first("Deployment", "hsn-gateway")][1]).pop("livenessProbe")),
        ("missing image", lambda D: container(D[first("Deployment", "hsn-query")][1]).pop("image")),
        ("selector/labels mismatch", lambda D: D[first("Deployment", "hsn-monitor")][1]["spec"]["selector"]
            ["matchLabels"].update({"app.kubernetes.io/name": "other"})),
        ("HPA to a missing Deployment", lambda D: D[first("HorizontalPodAutoscaler")][1]["spec"]
            ["scaleTargetRef"].update({"name": "hsn-nothing"})),
        ("Service selecting nothing", lambda D: D[first("Service", "hsn-broker")][1]["spec"]
            ["selector"].update({"app.kubernetes.io/name": "nothing"})),
        ("Service targeting a missing port", lambda D: D[first("Service", "hsn-monitor")][1]["spec"]
            ["ports"][0].update({"targetPort": "nope"})),
        ("missing ConfigMap", lambda D: D.pop(first("ConfigMap", "hsn-config"))),
        ("missing Secret key", lambda D: D[first("Secret", "hsn-secrets")][1]["stringData"].pop("POSTGRES_PASSWORD")),
        ("missing kind", lambda D: D[first("Namespace")][1].pop("kind")),
        ("setting dropped", lambda D: D[first("ConfigMap", "hsn-config")][1]["data"].pop("LOG_LEVEL")),
    ]
    failures = []
    for what, mutate in breaks:
        D = copy.deepcopy(docs)
        mutate(D)
        if not check(D, files):
            failures.append("self-test: a manifest with %s passed the check" % what)
    return failures, len(breaks)


def main():
    files = sorted(glob.glob(os.path.join(HERE, "*.yaml")) + glob.glob(os.path.join(HERE, "*.yml")))
    problems, docs = [], []
    kustom = None
    for p in files:
        rel = os.path.relpath(p, ROOT)
        try:
            loaded = load_all(p)
        except YamlError as e:
            problems.append(str(e))
            continue
        try:
            import yaml     # optional cross-check; not needed
            with open(p, encoding="utf-8") as fh:
                theirs = [x for x in yaml.safe_load_all(fh) if x is not None]
            if theirs != loaded:
                problems.append("%s: the subset parser and PyYAML disagree" % rel)
        except ImportError:
            pass
        if os.path.basename(p) == "kustomization.yaml":
            kustom = loaded[0] if loaded else {}
            continue
        docs += [(rel, d) for d in loaded]
    manifest_files = sorted(os.path.basename(p) for p in files if os.path.basename(p) != "kustomization.yaml")
    if kustom is None:
        problems.append("deploy/k8s/kustomization.yaml missing")
    elif sorted(kustom.get("resources") or []) != manifest_files:
        problems.append("kustomization.yaml resources %s != manifests %s"
                        % (sorted(kustom.get("resources") or []), manifest_files))
    selftest = ""
    if not problems:
        problems += check(docs, files)
        if not problems:
            st, n = self_test(docs, files)
            problems += st
            selftest = ", self-test %d/%d breaks caught" % (n - len(st), n)
    for p in problems:
        print("k8s-check: " + p)
    kinds = {}
    for _, d in docs:
        kinds[d.get("kind")] = kinds.get(d.get("kind"), 0) + 1
    print("k8s-check: %d files, %d objects (%s)%s: %s" % (
        len(files), len(docs), ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items())),
        selftest, "ok" if not problems else "%d problem(s)" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
