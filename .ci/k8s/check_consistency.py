#!/usr/bin/env python3
"""Checks that a rendered overlay agrees with the binaries, the docs and the
architecture — what no schema can see.

    check_consistency.py RENDERED.yaml[@N]...

With the binaries' `--help` (BIN_DIR, default target/debug, relative to the
repository root):
  - every environment variable a container gets (env, and the keys of the
    ConfigMaps in envFrom) is one its binary's --help lists, or one of the
    standard telemetry variables that src/telemetry/mod.rs reads;
  - the gRPC and metrics ports (the effective *_LISTEN_ADDR and
    *_METRICS_LISTEN_ADDR, or the binary's default) are the container ports
    named grpc and metrics, which the Services and the probes use;
  - every probe asks a health entry the service serves: readiness its full
    name (from proto/) or "", liveness and startup `liveness`;
  - every dns:/// target names a headless Service of this render, on the port
    its pods listen on; which service calls which is the architecture's;
  - settings two services must agree on do (issuer, audience, service
    account, hold TTL), and the shutdown timings fit together;
  - flight and reservation, the services with events, get BROKER_URL from a
    Secret, and the others none;
  - every Secret key referenced is created by a `kubectl create secret`
    command in the README's "Deploy to Kubernetes", and every key created there is used;
  - the NetworkPolicies allow exactly the architecture's flows, no more.
With @N after a file (the production overlay: @2): each service has at least
N replicas, the three probes, the restricted security context, a PDB and an HPA.

Prints one line per finding and exits 1 if there is any.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "auth": "proto/travel/auth/v1/auth.proto",
    "flight": "proto/travel/flight/v1/flight.proto",
    "hotel": "proto/travel/hotel/v1/hotel.proto",
    "reservation": "proto/travel/reservation/v1/reservation.proto",
}
# Who calls whom (DESIGN.md, "The shape"): the dns:/// targets must say the same.
CALLS = {"reservation": {"flight", "hotel", "auth"}, "flight": {"auth"}, "hotel": {"auth"}, "auth": set()}
# The health entry of liveness (src/server.rs, LIVENESS).
LIVENESS_SOURCE = ROOT / "src/server.rs"
# Variables that no --help lists but the binaries read: the standard
# OpenTelemetry ones and RUST_LOG; each must still appear in this file.
TELEMETRY_SOURCE = ROOT / "src/telemetry/mod.rs"
TELEMETRY_VARS = {
    "RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
}
TELEMETRY_PREFIXES = ("OTEL_BSP_",)
DOCS = ROOT / "README.md"
# The peers outside the namespace, as the policies must name them.
DNS_PEER = ("ns", (("kubernetes.io/metadata.name", "kube-system"),), (("k8s-app", "kube-dns"),))
GATEWAY_PEER = ("ns", (("kubernetes.io/metadata.name", "envoy-gateway-system"),),
                (("gateway.envoyproxy.io/owning-gateway-name", "travel"),
                 ("gateway.envoyproxy.io/owning-gateway-namespace", "travel")))
PROMETHEUS_PEER = ("ns", (("kubernetes.io/metadata.name", "monitoring"),), (("app.kubernetes.io/name", "prometheus"),))
OTLP_PEER = ("ns", (("kubernetes.io/metadata.name", "observability"),),
             (("app.kubernetes.io/name", "opentelemetry-collector"),))
DATABASE_PORT = 5432
# The services that publish or consume events through RabbitMQ (docs/architecture.md,
# "Events": flight emits FlightCancelled and FlightRescheduled, reservation emits its
# own and consumes FlightCancelled),
# and the broker's port.
BROKER_SERVICES = {"flight", "reservation"}
BROKER_PORT = 5672

findings = []
# The render being checked, named in front of each finding.
current = {"render": ""}


def fail(where, message):
    prefix = f"{current['render']}: " if current["render"] else ""
    findings.append(f"{prefix}{where}: {message}")


# --- the binaries ------------------------------------------------------------

class Binary:
    """What `travel-<svc> --help` says: the environment variables and defaults."""

    def __init__(self, service, bin_dir):
        path = bin_dir / f"travel-{service}"
        if not os.access(path, os.X_OK):
            sys.exit(f"check_consistency: {path} is not an executable (build it, or set BIN_DIR)")
        self.help = subprocess.run([str(path), "--help"], check=True, capture_output=True, text=True).stdout
        self.env = set(re.findall(r"\[env: ([A-Z][A-Z0-9_]*)", self.help))
        self.defaults = {}
        for block in re.split(r"\n(?=\s{2,6}-)", self.help):
            env = re.search(r"\[env: ([A-Z][A-Z0-9_]*)", block)
            default = re.search(r"\[default: ([^\]]*)\]", block)
            if env and default:
                self.defaults[env.group(1)] = default.group(1)
        # The text after the options (clap's after_help) names the variables
        # read from the environment only (the secrets).
        tail = self.help.split("Print version", 1)[-1]
        self.env |= set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", tail))


def accepted(name, binary, telemetry_text):
    if name in binary.env:
        return True
    if name in TELEMETRY_VARS or name.startswith(TELEMETRY_PREFIXES):
        return name in telemetry_text or any(p in telemetry_text for p in TELEMETRY_PREFIXES if name.startswith(p))
    return False


def service_names(service):
    text = (ROOT / SERVICES[service]).read_text()
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
    return [f"{package}.{name}" for name in re.findall(r"^service\s+(\w+)", text, re.M)]


def liveness_name():
    return re.search(r'const LIVENESS: &str = "([^"]*)"', LIVENESS_SOURCE.read_text()).group(1)


def seconds(value, where):
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|)\s*", str(value))
    if not m:
        fail(where, f"`{value}` is not a duration")
        return 0.0
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600}[m.group(2)]


def port_of(address, where):
    m = re.fullmatch(r"(.*):(\d+)", str(address))
    if not m:
        fail(where, f"`{address}` is not HOST:PORT")
        return None
    if m.group(1) not in ("0.0.0.0", "[::]"):
        fail(where, f"listens on {m.group(1)}: in a pod it must be 0.0.0.0 (or [::]) to be reachable")
    return int(m.group(2))


# --- the render --------------------------------------------------------------

def matches(selector, labels):
    """Whether a LabelSelector (matchLabels and matchExpressions) selects labels."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def canonical(selector):
    if not selector:
        return ("*",)
    if selector.get("matchExpressions"):
        return ("expr", repr(selector["matchExpressions"]))
    return tuple(sorted(selector.get("matchLabels", {}).items()))


class Render:
    def __init__(self, path):
        self.docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        self.by_kind = {}
        for d in self.docs:
            self.by_kind.setdefault(d["kind"], []).append(d)
        self.configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in self.of("ConfigMap")}
        self.workloads = {d["metadata"]["name"]: d for d in self.of("Deployment") + self.of("StatefulSet")}

    def of(self, kind):
        return self.by_kind.get(kind, [])

    def pod_labels(self, name):
        return self.workloads[name]["spec"]["template"]["metadata"].get("labels", {})


def effective_env(render, container, where):
    """The container's environment: envFrom in order (later wins), then env."""
    env, refs = {}, []
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in render.configmaps:
                fail(where, f"envFrom ConfigMap {name} is not in the render")
                continue
            env.update(render.configmaps[name])
        elif "secretRef" in source:
            fail(where, f"envFrom Secret {source['secretRef']['name']}: name each secret key in env instead")
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            refs.append((ref["name"], ref["key"]))
            env[var["name"]] = f"<secret {ref['name']}/{ref['key']}>"
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            env[var["name"]] = render.configmaps.get(ref["name"], {}).get(ref["key"])
        else:
            env[var["name"]] = var.get("value", "")
    return env, refs


def check_service(render, service, binary, telemetry_text, min_replicas):
    """One service's Deployment, its Services, PDB and HPA."""
    where = f"Deployment/{service}"
    deployment = render.workloads.get(service)
    if deployment is None or deployment["kind"] != "Deployment":
        fail(where, "missing")
        return None
    pod = deployment["spec"]["template"]["spec"]
    containers = [c for c in pod["containers"] if (c.get("command") or [""])[0].endswith(f"travel-{service}")]
    if len(containers) != 1:
        fail(where, f"expected one container running travel-{service}, found {len(containers)}")
        return None
    container = containers[0]
    env, refs = effective_env(render, container, where)
    for name in sorted(env):
        if not accepted(name, binary, telemetry_text):
            fail(where, f"sets {name}, which travel-{service} --help does not list")
    for arg in container.get("args") or []:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and not re.search(rf"^\s+{re.escape(flag)}\b", binary.help, re.M):
            fail(where, f"passes {flag}, which travel-{service} --help does not list")

    def setting(name):
        return env.get(name, binary.defaults.get(name))

    prefix = service.upper()
    grpc_port = port_of(setting(f"{prefix}_LISTEN_ADDR"), f"{where} {prefix}_LISTEN_ADDR")
    metrics_port = port_of(setting(f"{prefix}_METRICS_LISTEN_ADDR"), f"{where} {prefix}_METRICS_LISTEN_ADDR")
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    if ports.get("grpc") != grpc_port:
        fail(where, f"container port grpc is {ports.get('grpc')}, the service listens on {grpc_port}")
    if ports.get("metrics") != metrics_port:
        fail(where, f"container port metrics is {ports.get('metrics')}, /metrics is on {metrics_port}")

    # Probes: native gRPC, on the gRPC port, each on an entry the service serves.
    full_names = service_names(service)
    live = liveness_name()
    wanted = {"readinessProbe": set(full_names) | {""}, "livenessProbe": {live}, "startupProbe": {live}}
    for probe, allowed in wanted.items():
        spec = container.get(probe)
        if spec is None:
            fail(where, f"no {probe}")
            continue
        grpc = spec.get("grpc")
        if grpc is None:
            fail(where, f"{probe} is not a gRPC probe")
            continue
        if grpc.get("port") != grpc_port:
            fail(where, f"{probe} probes port {grpc.get('port')}, the service listens on {grpc_port}")
        if grpc.get("service", "") not in allowed:
            fail(where, f"{probe} asks health entry `{grpc.get('service', '')}`; it should ask one of "
                        f"{sorted(allowed)}")

    # Shutdown: the grace period covers the pre-stop delay and the drain.
    pre_stop = seconds(setting("PRE_STOP_DELAY"), f"{where} PRE_STOP_DELAY")
    drain = seconds(setting("DRAIN_TIMEOUT"), f"{where} DRAIN_TIMEOUT")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= pre_stop + drain:
        fail(where, f"terminationGracePeriodSeconds {grace} is not above PRE_STOP_DELAY {pre_stop:g}s + "
                    f"DRAIN_TIMEOUT {drain:g}s")
    if pre_stop <= 0:
        fail(where, "PRE_STOP_DELAY is 0: pods would drain before the balancers drop them")

    # Services: the ClusterIP one and the headless one, ports named, on the pods' ports.
    labels = render.pod_labels(service)
    services = {s["metadata"]["name"]: s for s in render.of("Service") if matches(
        {"matchLabels": s["spec"].get("selector") or {"-": "-"}}, labels)}
    for name, headless in ((service, False), (f"{service}-headless", True)):
        svc = services.get(name)
        if svc is None:
            fail(where, f"no Service {name} selecting its pods")
            continue
        spec = svc["spec"]
        if headless and (spec.get("clusterIP") != "None" or spec.get("publishNotReadyAddresses", False)):
            fail(f"Service/{name}", "must be headless (clusterIP: None) and publish ready addresses only")
        if not headless and spec.get("clusterIP") == "None":
            fail(f"Service/{name}", "must have a cluster IP")
        by_name = {p.get("name"): p for p in spec.get("ports", [])}
        for port_name, number in (("grpc", grpc_port), ("metrics", metrics_port)):
            p = by_name.get(port_name)
            if p is None:
                fail(f"Service/{name}", f"no port named {port_name}")
                continue
            target = p.get("targetPort", p["port"])
            resolved = ports.get(target) if isinstance(target, str) else target
            if resolved != number or p["port"] != number:
                fail(f"Service/{name}", f"port {port_name} ({p['port']} → {target}) does not reach {number}")
        if by_name.get("grpc", {}).get("appProtocol") != "kubernetes.io/h2c":
            fail(f"Service/{name}", "port grpc needs appProtocol: kubernetes.io/h2c")

    if min_replicas:
        check_hardening(render, service, deployment, container, min_replicas)
    return {"env": env, "setting": setting, "refs": refs, "grpc": grpc_port, "metrics": metrics_port,
            "labels": labels, "pod": pod, "container": container}


def check_hardening(render, service, deployment, container, min_replicas):
    where = f"Deployment/{service}"
    pod = deployment["spec"]["template"]["spec"]
    if deployment["spec"].get("replicas", 1) < min_replicas:
        fail(where, f"replicas {deployment['spec'].get('replicas', 1)} < {min_replicas}")
    psc, csc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        fail(where, "runAsNonRoot is not set")
    if not csc.get("readOnlyRootFilesystem"):
        fail(where, "readOnlyRootFilesystem is not set")
    if csc.get("allowPrivilegeEscalation") is not False:
        fail(where, "allowPrivilegeEscalation is not false")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []) or (csc.get("capabilities") or {}).get("add"):
        fail(where, "capabilities: drop ALL and add none")
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        fail(where, f"seccompProfile is {seccomp}, not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken is not false")
    keys = {t["topologyKey"] for t in pod.get("topologySpreadConstraints") or []}
    for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone"):
        if key not in keys:
            fail(where, f"no topology spread over {key}")
    for c in ("requests", "limits"):
        if not all(k in ((container.get("resources") or {}).get(c) or {}) for k in ("cpu", "memory")):
            fail(where, f"resources.{c} needs cpu and memory")
    labels = render.pod_labels(service)
    if not [p for p in render.of("PodDisruptionBudget") if matches(p["spec"].get("selector"), labels)]:
        fail(where, "no PodDisruptionBudget selects its pods")
    hpas = [h for h in render.of("HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}]
    if not hpas:
        fail(where, "no HorizontalPodAutoscaler scales it")
    for h in hpas:
        if h["spec"].get("minReplicas", 1) < min_replicas or h["spec"]["maxReplicas"] < h["spec"].get("minReplicas", 1):
            fail(f"HorizontalPodAutoscaler/{service}", f"bounds {h['spec'].get('minReplicas')}..{h['spec']['maxReplicas']}")


def check_targets(render, found):
    """dns:/// targets name headless Services of this render, on the ports listened on."""
    namespaces = {d["metadata"].get("namespace") for d in render.of("Deployment")}
    services = {(s["metadata"]["name"], s["metadata"].get("namespace")): s for s in render.of("Service")}
    for service, info in found.items():
        called = set()
        for name, value in sorted(info["env"].items()):
            # The gRPC targets: not the database's or the broker's URL (checked in check_broker).
            if not name.endswith("_URL") or name.endswith("DATABASE_URL") or name == "BROKER_URL":
                continue
            for target in str(value).split(","):
                where = f"Deployment/{service} {name}"
                m = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", target.strip())
                if not m:
                    fail(where, f"`{target}` is not dns:///<svc>-headless.<namespace>.svc.cluster.local:<port>")
                    continue
                svc_name, ns, port = m.group(1), m.group(2), int(m.group(3))
                svc = services.get((svc_name, ns))
                if ns not in namespaces or svc is None:
                    fail(where, f"names {svc_name}.{ns}, which is not a Service of this render")
                    continue
                if svc["spec"].get("clusterIP") != "None":
                    fail(where, f"names {svc_name}, which is not headless: clients would balance over one address")
                backend = next((s for s, i in found.items()
                                if matches({"matchLabels": svc["spec"].get("selector") or {"-": "-"}}, i["labels"])),
                               None)
                if backend is None:
                    fail(where, f"{svc_name} selects no service's pods")
                    continue
                called.add(backend)
                if port != found[backend]["grpc"]:
                    fail(where, f"port {port}, but {backend} listens on {found[backend]['grpc']}")
        if called != CALLS[service]:
            fail(f"Deployment/{service}", f"calls {sorted(called)}; the architecture says {sorted(CALLS[service])}")


def check_agreement(found):
    """Settings two services must agree on."""
    if not {"auth", "flight", "hotel", "reservation"} <= set(found):
        return
    auth, res = found["auth"]["setting"], found["reservation"]["setting"]
    for svc in ("flight", "hotel", "reservation"):
        s = found[svc]["setting"]
        if s("TOKEN_ISSUER") != auth("AUTH_ISSUER"):
            fail(f"Deployment/{svc}", f"TOKEN_ISSUER {s('TOKEN_ISSUER')} ≠ auth's AUTH_ISSUER {auth('AUTH_ISSUER')}")
        if s("TOKEN_AUDIENCE") != auth("AUTH_AUDIENCE"):
            fail(f"Deployment/{svc}", f"TOKEN_AUDIENCE {s('TOKEN_AUDIENCE')} ≠ auth's AUTH_AUDIENCE {auth('AUTH_AUDIENCE')}")
    if res("RESERVATION_SERVICE_CLIENT_ID") != auth("AUTH_SERVICE_CLIENT_ID"):
        fail("Deployment/reservation", "RESERVATION_SERVICE_CLIENT_ID ≠ auth's AUTH_SERVICE_CLIENT_ID")
    if found["reservation"]["env"].get("RESERVATION_SERVICE_CLIENT_SECRET") != found["auth"]["env"].get(
            "AUTH_SERVICE_CLIENT_SECRET") or "RESERVATION_SERVICE_CLIENT_SECRET" not in found["reservation"]["env"]:
        fail("Deployment/reservation", "RESERVATION_SERVICE_CLIENT_SECRET must come from the same Secret key as "
                                       "auth's AUTH_SERVICE_CLIENT_SECRET")
    hold = res("RESERVATION_HOLD_TTL")
    for svc in ("flight", "hotel"):
        own = found[svc]["setting"](f"{svc.upper()}_HOLD_TTL")
        if hold is not None and seconds(hold, "RESERVATION_HOLD_TTL") != seconds(own, f"{svc} hold TTL"):
            fail("Deployment/reservation", f"RESERVATION_HOLD_TTL {hold} ≠ {svc}'s hold TTL {own}")
    resolve = max(seconds(found[s]["setting"]("RESOLVE_INTERVAL"), f"{s} RESOLVE_INTERVAL")
                  for s in ("flight", "hotel", "reservation"))
    for svc, info in found.items():
        pre_stop = seconds(info["setting"]("PRE_STOP_DELAY"), "PRE_STOP_DELAY")
        if pre_stop <= resolve:
            fail(f"Deployment/{svc}", f"PRE_STOP_DELAY {pre_stop:g}s is not above the clients' RESOLVE_INTERVAL "
                                      f"{resolve:g}s: a client could still pick a pod that is draining")


def documented_secrets():
    """(secret, key) pairs that the kubectl create secret commands of the README's "Deploy to Kubernetes" create."""
    if not DOCS.exists():
        fail(str(DOCS.relative_to(ROOT)), "missing")
        return set()
    text = DOCS.read_text().replace("\\\n", " ")
    pairs = set()
    for m in re.finditer(r"kubectl\b[^\n]*?\bcreate secret (?:generic|tls) ([a-z0-9-]+)([^\n]*)", text):
        for key in re.findall(r"--from-(?:literal|file)=([A-Za-z0-9._-]+)=", m.group(2)):
            pairs.add((m.group(1), key))
        if m.group(0).split("create secret ")[1].startswith("tls"):
            pairs.update({(m.group(1), "tls.crt"), (m.group(1), "tls.key")})
    return pairs


def referenced_secrets(render):
    refs = set()
    for w in render.workloads.values():
        pod = w["spec"]["template"]["spec"]
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for var in c.get("env") or []:
                ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        for v in pod.get("volumes") or []:
            if "secret" in v:
                items = v["secret"].get("items")
                if not items:
                    fail(f"{w['kind']}/{w['metadata']['name']}", f"secret volume {v['name']}: list its items (keys)")
                for item in items or []:
                    refs.add((v["secret"]["secretName"], item["key"]))
    for g in render.of("Gateway"):
        for listener in g["spec"].get("listeners", []):
            for ref in (listener.get("tls") or {}).get("certificateRefs") or []:
                refs.update({(ref["name"], "tls.crt"), (ref["name"], "tls.key")})
    return refs


# --- NetworkPolicies ---------------------------------------------------------

def peers(render, namespace, entries):
    """What a rule's from/to list allows: workloads of the namespace by name,
    outside peers as (kind, namespace selector, pod selector), ipBlocks."""
    if not entries:
        return {"ANY"}
    out = set()
    for e in entries:
        if "ipBlock" in e:
            out.add(("ip", e["ipBlock"]["cidr"], tuple(e["ipBlock"].get("except") or ())))
        elif "namespaceSelector" in e:
            out.add(("ns", canonical(e["namespaceSelector"]), canonical(e.get("podSelector"))))
        else:
            selected = {n for n, w in render.workloads.items()
                        if w["metadata"].get("namespace") == namespace and matches(e["podSelector"], render.pod_labels(n))}
            out |= selected if selected else {("none", canonical(e["podSelector"]))}
    return out


def allowed_flows(render):
    flows, isolated = set(), {"Ingress": set(), "Egress": set()}
    for np in render.of("NetworkPolicy"):
        ns, spec = np["metadata"].get("namespace"), np["spec"]
        selected = {n for n, w in render.workloads.items()
                    if w["metadata"].get("namespace") == ns and matches(spec.get("podSelector") or {}, render.pod_labels(n))}
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        for t in types:
            isolated[t] |= selected
        for direction, key, side in (("Ingress", "ingress", "from"), ("Egress", "egress", "to")):
            for rule in spec.get(key) or []:
                rule_ports = [(p.get("protocol", "TCP"), p.get("port", "ANY")) for p in rule.get("ports") or []] or [("ANY", "ANY")]
                for pod in selected:
                    for peer in peers(render, ns, rule.get(side)):
                        for proto, port in rule_ports:
                            flows.add((direction, pod, peer, proto, port))
    return flows, isolated


def expected_flows(render, found):
    want = set()
    for svc, info in found.items():
        want.add(("Ingress", svc, GATEWAY_PEER, "TCP", info["grpc"]))
        for proto in ("UDP", "TCP"):
            want.add(("Egress", svc, DNS_PEER, proto, 53))
        for callee in CALLS[svc]:
            want.add(("Egress", svc, callee, "TCP", found[callee]["grpc"]))
            want.add(("Ingress", callee, svc, "TCP", found[callee]["grpc"]))
        if render.of("ServiceMonitor"):
            want.add(("Ingress", svc, PROMETHEUS_PEER, "TCP", info["metrics"]))
        endpoint = info["env"].get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            m = re.fullmatch(r"https?://[^/:]+:(\d+)/?", endpoint)
            want.add(("Egress", svc, OTLP_PEER, "TCP", int(m.group(1)) if m else endpoint))
        if "postgres" in render.workloads:
            want.add(("Egress", svc, "postgres", "TCP", DATABASE_PORT))
            want.add(("Ingress", "postgres", svc, "TCP", DATABASE_PORT))
        if "rabbitmq" in render.workloads and svc in BROKER_SERVICES:
            want.add(("Egress", svc, "rabbitmq", "TCP", BROKER_PORT))
            want.add(("Ingress", "rabbitmq", svc, "TCP", BROKER_PORT))
    return want


def outside_address(flows, svc, port):
    """The egress flows of svc to an ipBlock on port."""
    return {f for f in flows if f[0] == "Egress" and f[1] == svc and isinstance(f[2], tuple)
            and f[2][0] == "ip" and f[3:] == ("TCP", port)}


def check_broker(found):
    """flight and reservation get a BROKER_URL (from a Secret), the others none."""
    for svc, info in found.items():
        has = "BROKER_URL" in info["env"]
        if svc in BROKER_SERVICES and not has:
            fail(f"Deployment/{svc}", "sets no BROKER_URL: its events would stay in its outbox, unpublished")
        if svc not in BROKER_SERVICES and has:
            fail(f"Deployment/{svc}", "sets BROKER_URL, but it has no events")
        if has and not info["env"]["BROKER_URL"].startswith("<secret "):
            fail(f"Deployment/{svc}", "BROKER_URL carries a password: take it from a Secret (secretKeyRef)")


def check_network_policies(render, found):
    flows, isolated = allowed_flows(render)
    for direction in ("Ingress", "Egress"):
        for name in render.workloads:
            if name not in isolated[direction]:
                fail(f"{render.workloads[name]['kind']}/{name}", f"no NetworkPolicy isolates its {direction.lower()}")
    want = expected_flows(render, found)
    # Each service's database outside the cluster: one ipBlock each, on 5432.
    if "postgres" not in render.workloads:
        for svc in found:
            ips = outside_address(flows, svc, DATABASE_PORT)
            if len(ips) != 1:
                fail(f"Deployment/{svc}", f"needs exactly one egress to its database's address on {DATABASE_PORT}, has {sorted(ips)}")
            want |= ips
    # The broker outside the cluster: one ipBlock for each service that has events, on 5672.
    if "rabbitmq" not in render.workloads:
        for svc in BROKER_SERVICES & found.keys():
            ips = outside_address(flows, svc, BROKER_PORT)
            if len(ips) != 1:
                fail(f"Deployment/{svc}", f"needs exactly one egress to the broker's address on {BROKER_PORT}, has {sorted(ips)}")
            want |= ips
    for f in sorted(flows - want, key=repr):
        fail("NetworkPolicy", f"allows a flow the architecture does not have: {describe(f)}")
    for f in sorted(want - flows, key=repr):
        fail("NetworkPolicy", f"does not allow a flow the platform needs: {describe(f)}")


def describe(flow):
    direction, pod, peer, proto, port = flow
    names = {DNS_PEER: "DNS (kube-system/kube-dns)", GATEWAY_PEER: "the gateway",
             PROMETHEUS_PEER: "Prometheus", OTLP_PEER: "the OTLP collector"}
    peer = names.get(peer, peer)
    arrow = "←" if direction == "Ingress" else "→"
    return f"{direction.lower()} {pod} {arrow} {peer} {proto}/{port}"


# -----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rendered", nargs="+",
                    help="the output of kubectl kustomize of each overlay; FILE@N also checks the production "
                         "hardening with at least N replicas")
    args = ap.parse_args()
    bin_dir = Path(os.environ.get("BIN_DIR", ROOT / "target/debug"))
    if not bin_dir.is_absolute():
        bin_dir = ROOT / bin_dir
    binaries = {s: Binary(s, bin_dir) for s in SERVICES}
    telemetry_text = TELEMETRY_SOURCE.read_text()
    documented = documented_secrets()
    referenced_all = set()
    for arg in args.rendered:
        path, _, min_replicas = arg.partition("@")
        render = Render(path)
        current["render"] = Path(path).name
        before = len(findings)
        found = {}
        for service in SERVICES:
            info = check_service(render, service, binaries[service], telemetry_text, int(min_replicas or 0))
            if info:
                found[service] = info
        check_targets(render, found)
        check_agreement(found)
        check_broker(found)
        referenced = referenced_secrets(render)
        referenced_all |= referenced
        for name, key in sorted(referenced - documented):
            fail("Secrets", f"{name} key {key} is referenced but the README's Deploy to Kubernetes creates no such key")
        check_network_policies(render, found)
        print(f"{path}: {len(render.docs)} resources, {len(found)} services, "
              f"{len(referenced)} secret keys, {len(findings) - before} findings")
    current["render"] = ""
    for name, key in sorted(documented - referenced_all):
        fail(str(DOCS.relative_to(ROOT)), f"creates Secret {name} key {key}, which no manifest uses")
    for f in findings:
        print(f"FAIL {f}")
    print(f"consistency: {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
