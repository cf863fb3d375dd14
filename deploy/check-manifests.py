"""Rules the deployment files must keep, beyond what a schema can say.

    python check-manifests.py k8s base|dev|prod|prod-redis-cluster RENDERED.yaml
    python check-manifests.py compose deploy/compose.yaml

Run by deploy/check.sh. Prints one line per broken rule and exits 1 if any.
Needs PyYAML (installed with kubernetes-validate in the check's venv).
"""

import os
import re
import sys

import yaml

SERVICES = {"verification": 8081, "chat": 8082}
# Secrets created by the operator, referred to by name only (docs/deploying.md).
EXTERNAL_SECRETS = {"chatverify-jwt-public", "verification-secrets", "chatverify-datastores"}
ROUTES = {
    "/v1/verification": "verification",
    "/v1/token": "verification",
    "/v1/logout": "verification",
    "/v1/me": "verification",
    "/ws": "chat",
    "/v1/rooms": "chat",
}
# Longest drain after SIGTERM: the mail queue (MAIL_DRAIN_TIMEOUT, 20 s) / the sockets (~10 s).
DRAIN_SECONDS = {"verification": 20, "chat": 10}

errors = []


def err(msg):
    errors.append(msg)


def strip_hash(name, names):
    """A generated name (name-<hash>) back to its kustomization name, if it is one."""
    for n in names:
        if name == n or re.fullmatch(re.escape(n) + r"-[a-z0-9]{10}", name or ""):
            return n
    return name


def pod_spec(obj):
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj):
    return obj["spec"]["template"]["metadata"].get("labels", {})


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def effective_env(container, configmaps):
    env = {}
    for src in container.get("envFrom", []):
        ref = src.get("configMapRef")
        if ref and ref["name"] in configmaps:
            env.update(configmaps[ref["name"]].get("data", {}))
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", "<from %s>" % list(e.get("valueFrom", {}).keys()))
    return env


def check_k8s(flavour, path):
    with open(path) as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    deployments = by_kind.get("Deployment", {})
    workloads = [o for o in objs if pod_spec(o) is not None]

    namespaces = list(by_kind.get("Namespace", {}))
    if len(namespaces) != 1:
        err("expected exactly one Namespace, found %s" % namespaces)
    for o in objs:
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") not in namespaces:
            err("%s/%s is not in the Namespace %s" % (o["kind"], o["metadata"]["name"], namespaces))

    # Every pod template: restricted Pod Security Standard and no stray tokens.
    for w in workloads:
        spec, wname = pod_spec(w), "%s/%s" % (w["kind"], w["metadata"]["name"])
        psc = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            err("%s: automountServiceAccountToken must be false" % wname)
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            err("%s: pod seccompProfile must be RuntimeDefault" % wname)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            csc = c.get("securityContext", {})
            cname = "%s container %s" % (wname, c["name"])
            if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                err("%s: runAsNonRoot must be true" % cname)
            if csc.get("allowPrivilegeEscalation") is not False:
                err("%s: allowPrivilegeEscalation must be false" % cname)
            if "ALL" not in csc.get("capabilities", {}).get("drop", []):
                err("%s: capabilities must drop ALL" % cname)
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(part, {}):
                        err("%s: resources.%s.%s missing" % (cname, part, r))
            if ":" in c["image"].rsplit("/", 1)[-1] and c["image"].endswith(":latest") and flavour != "base":
                err("%s: image %s uses :latest" % (cname, c["image"]))
        # Secrets and ConfigMaps referred to must exist or be documented external Secrets.
        refs = []
        for v in spec.get("volumes", []):
            if "secret" in v:
                refs.append(("Secret", v["secret"]["secretName"]))
            if "configMap" in v:
                refs.append(("ConfigMap", v["configMap"]["name"]))
        for c in spec.get("containers", []):
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    refs.append(("ConfigMap", src["configMapRef"]["name"]))
                if "secretRef" in src:
                    refs.append(("Secret", src["secretRef"]["name"]))
            for e in c.get("env", []):
                vf = e.get("valueFrom", {})
                if "secretKeyRef" in vf:
                    refs.append(("Secret", vf["secretKeyRef"]["name"]))
                if "configMapKeyRef" in vf:
                    refs.append(("ConfigMap", vf["configMapKeyRef"]["name"]))
        for kind, name in refs:
            if kind == "ConfigMap" and name not in configmaps:
                err("%s refers to the missing ConfigMap %s" % (wname, name))
            if kind == "Secret" and name not in secrets and name not in EXTERNAL_SECRETS:
                err("%s refers to the Secret %s, neither rendered nor documented" % (wname, name))

    # The two services.
    for svc, port in SERVICES.items():
        d = deployments.get(svc)
        if not d:
            err("Deployment %s missing" % svc)
            continue
        spec = d["spec"]["template"]["spec"]
        if "replicas" in d["spec"]:
            err("Deployment %s sets replicas: its HorizontalPodAutoscaler owns them" % svc)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        c = next((c for c in spec["containers"] if c["name"] == svc), None)
        if not c:
            err("Deployment %s has no container %s" % (svc, svc))
            continue
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            err("%s: readinessProbe must GET /readyz" % svc)
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            err("%s: livenessProbe must GET /healthz" % svc)
        if c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
            err("%s: readOnlyRootFilesystem must be true" % svc)
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        if "emptyDir" not in vols.get(mounts.get("/tmp"), {}):
            err("%s: /tmp must be an emptyDir (read-only root filesystem)" % svc)
        pre = c.get("lifecycle", {}).get("preStop", {})
        pause = 0
        if pre.get("exec", {}).get("command", [None])[0] == "sleep":
            pause = int(pre["exec"]["command"][1])
        elif "sleep" in pre:
            pause = int(pre["sleep"]["seconds"])
        if pause <= 0:
            err("%s: a preStop pause (sleep) is required" % svc)
        if grace <= pause + DRAIN_SECONDS[svc]:
            err("%s: terminationGracePeriodSeconds %s must exceed preStop %ss + drain %ss"
                % (svc, grace, pause, DRAIN_SECONDS[svc]))
        env = effective_env(c, configmaps)
        if env.get("MIGRATE_ON_START") != "false":
            err("%s: MIGRATE_ON_START must be false (the Job migrates), got %r" % (svc, env.get("MIGRATE_ON_START")))
        if not env.get("LISTEN_ADDR", "").endswith(":%d" % port) or env["LISTEN_ADDR"].startswith("127."):
            err("%s: LISTEN_ADDR must listen on all interfaces, port %d" % (svc, port))
        for key in ("JWT_PUBLIC_KEYS", "DATABASE_URL", "REDIS_URL"):
            if key not in env:
                err("%s: %s not set" % (svc, key))
        if svc == "verification":
            for key in ("JWT_PRIVATE_KEY", "CODE_HASH_KEY", "MAIL_TRANSPORT"):
                if key not in env:
                    err("verification: %s not set" % key)
        # Each public key path must be a file of the mounted public-key Secret.
        for p in env.get("JWT_PUBLIC_KEYS", "").split(","):
            if os.path.dirname(p) not in mounts:
                err("%s: JWT_PUBLIC_KEYS entry %s is not under a mounted volume" % (svc, p))
        if svc == "chat" and any(
            v.get("secret", {}).get("secretName") == "verification-secrets" for v in vols.values()
        ):
            err("chat must not mount verification-secrets (the private key)")
        labels = pod_labels(d)
        for kind in ("PodDisruptionBudget",):
            if not any(matches(o["spec"]["selector"]["matchLabels"], labels) for o in by_kind.get(kind, {}).values()):
                err("%s: no PodDisruptionBudget" % svc)
        hpa = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
               if h["spec"]["scaleTargetRef"]["name"] == svc and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"]
        if not hpa:
            err("%s: no HorizontalPodAutoscaler" % svc)
        elif flavour == "prod" and hpa[0]["spec"].get("minReplicas", 1) < 3:
            err("%s: prod needs at least 3 replicas" % svc)
        if not any(matches(s["spec"].get("selector"), labels) for s in by_kind.get("Service", {}).values()):
            err("%s: no Service selects its pods" % svc)

    # The migration Job.
    jobs = [j for j in by_kind.get("Job", {}).values()
            if j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"]]
    if not jobs:
        err("no Job running `<binary> migrate`")

    # Services select pods, Ingress routes match the contract.
    pods = [pod_labels(w) for w in workloads]
    services = by_kind.get("Service", {})
    for name, s in services.items():
        if not any(matches(s["spec"].get("selector"), l) for l in pods):
            err("Service %s selects no pods" % name)
    ingresses = list(by_kind.get("Ingress", {}).values())
    if len(ingresses) != 1:
        err("expected one Ingress, found %d" % len(ingresses))
    for ing in ingresses:
        ann = ing["metadata"].get("annotations", {})
        for a in ("proxy-read-timeout", "proxy-send-timeout"):
            if int(ann.get("nginx.ingress.kubernetes.io/" + a, "60")) < 600:
                err("Ingress: nginx.ingress.kubernetes.io/%s must allow long-lived WebSockets" % a)
        for rule in ing["spec"]["rules"]:
            got = {}
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                got[p["path"]] = backend["name"]
                svc = services.get(backend["name"])
                if not svc or backend["port"].get("name") not in [x.get("name") for x in svc["spec"]["ports"]]:
                    err("Ingress path %s: backend %s port %s does not exist" % (p["path"], backend["name"], backend["port"]))
            if got != ROUTES:
                err("Ingress routes %s differ from %s" % (got, ROUTES))
        if flavour == "prod":
            hosts = [r.get("host") for r in ing["spec"]["rules"]]
            tls_hosts = [h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])]
            if not tls_hosts or any(h not in tls_hosts for h in hosts):
                err("prod Ingress: every host needs TLS (hosts %s, tls %s)" % (hosts, tls_hosts))

    # Datastores: only labelled clients may reach them, and every client is labelled.
    policies = by_kind.get("NetworkPolicy", {}).values()
    for store, port, label in (("redis", 6379, "chatverify.io/redis-client"),
                               ("postgres", 5432, "chatverify.io/postgres-client")):
        pol = [p for p in policies if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == store]
        if not pol:
            err("no NetworkPolicy guards %s" % store)
        for p in pol:
            for rule in p["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    if peer.get("podSelector", {}).get("matchLabels") != {label: "true"} or "namespaceSelector" in peer or "ipBlock" in peer:
                        err("NetworkPolicy %s admits more than %s=true pods" % (p["metadata"]["name"], label))
                if [x.get("port") for x in rule.get("ports", [])] != [port]:
                    err("NetworkPolicy %s must open only port %d" % (p["metadata"]["name"], port))
        url_key = "REDIS_URL" if store == "redis" else "DATABASE_URL"
        for w in workloads:
            for c in pod_spec(w)["containers"]:
                if any(e["name"] == url_key for e in c.get("env", [])) and pod_labels(w).get(label) != "true" \
                        and not (store == "redis" and w["kind"] == "Job"):
                    err("%s/%s uses %s but lacks the label %s=true" % (w["kind"], w["metadata"]["name"], url_key, label))

    # What the migration Job needs is applied before the rollout (docs/deploying.md):
    # it must carry the pre-rollout label, and so must the Job itself.
    pre = "chatverify.io/pre-rollout"
    needed = [o for o in objs if o["kind"] in ("Namespace", "ConfigMap", "Secret", "Job", "NetworkPolicy")
              or (o["kind"] in ("StatefulSet", "Service") and o["metadata"]["name"] in ("redis", "postgres"))]
    for o in needed:
        if o["metadata"].get("labels", {}).get(pre) != "true":
            err("%s/%s lacks the label %s=true" % (o["kind"], o["metadata"]["name"], pre))
    for o in objs:
        if o["kind"] in ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress") \
                and o["metadata"].get("labels", {}).get(pre):
            err("%s/%s must not be applied before the migration (%s)" % (o["kind"], o["metadata"]["name"], pre))

    statefulsets = by_kind.get("StatefulSet", {})
    if flavour == "dev":
        for store in ("redis", "postgres"):
            ss = statefulsets.get(store)
            if not ss or not ss["spec"].get("volumeClaimTemplates"):
                err("dev: StatefulSet %s with volumeClaimTemplates missing" % store)
            elif not services.get(store):
                err("dev: Service %s missing" % store)
    if flavour == "prod":
        if statefulsets:
            err("prod: in-cluster datastores %s (prod uses managed Redis/PostgreSQL)" % list(statefulsets))
    if flavour in ("base", "prod") and secrets:
        err("%s renders Secrets %s: secrets are created out of git" % (flavour, list(secrets)))


def check_redis_cluster(path):
    """The cluster variant: both services ride out a shard's failover."""
    with open(path) as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            env = effective_env(c, configmaps)
            timeout = int(env.get("REDIS_TIMEOUT_MS", "2000"))
            if timeout < 3000:
                err("%s: REDIS_TIMEOUT_MS %s is shorter than a cluster failover (>= 3000)"
                    % (o["metadata"]["name"], timeout))


def check_compose(path):
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        doc = yaml.safe_load(f)
    services = doc.get("services", {})
    with open(os.path.join(base, "Dockerfile")) as f:
        stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", f.read()))
    for name, s in services.items():
        deps = s.get("depends_on", {})
        for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            if dep not in services:
                err("compose: %s depends on the unknown service %s" % (name, dep))
                continue
            want = cond.get("condition", "service_started")
            if want == "service_healthy" and "healthcheck" not in services[dep]:
                err("compose: %s waits for %s to be healthy, but it has no healthcheck" % (name, dep))
            if want == "service_completed_successfully" and services[dep].get("restart", "no") != "no":
                err("compose: %s waits for %s to complete, but it restarts" % (name, dep))
        if s.get("restart", "no") != "no" and "healthcheck" not in s:
            err("compose: long-running service %s has no healthcheck" % name)
        build = s.get("build")
        if isinstance(build, dict):
            ctx = os.path.normpath(os.path.join(base, build.get("context", ".")))
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                err("compose: %s builds from the missing %s" % (name, dockerfile))
            if build.get("target") and build["target"] not in stages:
                err("compose: %s builds the unknown Dockerfile target %s" % (name, build["target"]))
        for v in s.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith(".") and "dev-keys" not in src and not os.path.exists(os.path.join(base, src)):
                err("compose: %s mounts the missing %s" % (name, src))
            if not src.startswith((".", "/")) and src not in (doc.get("volumes") or {}):
                err("compose: %s mounts the undeclared volume %s" % (name, src))
    # The proxy config names the compose services it balances.
    cfg = os.path.join(base, "haproxy.cfg")
    if os.path.exists(cfg):
        with open(cfg) as f:
            for host in re.findall(r"(?m)^\s*server\s+\S+\s+([A-Za-z0-9_.-]+):\d+", f.read()):
                if host not in services:
                    err("haproxy.cfg: backend host %s is not a compose service" % host)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "k8s" and sys.argv[2] == "prod-redis-cluster":
        check_k8s("prod", sys.argv[3])
        check_redis_cluster(sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "k8s":
        check_k8s(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "compose":
        check_compose(sys.argv[2])
    else:
        sys.exit(__doc__)
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
