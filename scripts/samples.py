"""Valid parameters for every kind the daemon lists (GET /v1/kinds), drawn from the simulator's state
(GET /_sim/state). The demo, the catalog run, chaos and the socket fuzz all take their jobs from here, so none of
them keeps its own list of kinds.

    samples.params(kind, state, n, plan)  -> dict of Kinsta parameter names to JSON values

`plan` says which seed site each destructive kind may use (so a delete does not remove what another job needs);
`n` makes names unique. A kind whose parameters the generic rules cannot fill gets a row in OVERRIDES: that is the
one line a new kind may need here.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


class Plan:
    """Which seed site each kind works on: deletes and resets get a site of their own."""

    def __init__(self, state):
        sites = state["sites"]
        if len(sites) < 4:
            raise SystemExit("samples: the simulator needs at least 4 seed sites (--seed-sites 4)")
        self.state = state
        self.doomed = sites[0]          # site.delete
        self.reset = sites[1]           # site.reset
        self.env_doomed = sites[2]      # environment.delete takes its staging
        self.main = sites[3]            # everything else

    def env(self, which="live", site=None):
        site = site or self.main
        for env in site["environments"]:
            if env["name"] == which:
                return env
        return site["environments"][0]


def non_primary_domain(env):
    for domain in env["domains"]:
        if domain["id"] != env.get("primary_domain_id"):
            return domain
    return env["domains"][-1]


def overrides(kind, plan, n):
    live, staging = plan.env("live"), plan.env("staging")
    dns = plan.state["dns_domains"][0]
    return {
        "site.delete": {"site_id": plan.doomed["id"]},
        "site.reset": {"site_id": plan.reset["id"], "admin_password": f"Reset-password-{n}-x"},
        "environment.delete": {"env_id": plan.env("staging", plan.env_doomed)["id"]},
        "environment.push": {"site_id": plan.main["id"], "source_env_id": staging["id"],
                             "target_env_id": live["id"], "push_db": True, "push_files": True},
        "environment.clone": {"site_id": plan.main["id"], "display_name": f"Clone env {n}",
                              "source_env_id": live["id"], "is_premium": False},
        "site.clone": {"display_name": f"Cloned site {n}", "source_env_id": live["id"]},
        "backup.restore": {"target_env_id": live["id"], "backup_id": live["backups"][0]["id"]},
        "backup.delete": {"backup_id": live["backups"][-1]["id"]},
        "domain.delete": {"env_id": live["id"], "domain_ids": [non_primary_domain(live)["id"]]},
        "domain.set_primary": {"env_id": staging["id"], "domain_id": non_primary_domain(staging)["id"],
                               "run_search_and_replace": False},
        "domain.add": {"env_id": live["id"], "domain_name": f"shop-{n}.agency.example"},
        "cdn_cache.clear": {"environment_id": live["id"], "cdn_cache_id": live["cdn_cache_id"]},
        "plugin.update": {"env_id": live["id"], "name": live["plugins"][0]["name"],
                          "update_version": live["plugins"][0].get("update_version") or "9.9"},
        "plugin.bulk_update": {"env_id": staging["id"], "plugins": [p["name"] for p in staging["plugins"]]},
        "theme.update": {"env_id": live["id"], "name": live["themes"][0]["name"],
                         "update_version": live["themes"][0].get("update_version") or "9.9"},
        "theme.bulk_update": {"env_id": staging["id"], "themes": [t["name"] for t in staging["themes"]]},
        "sftp_account.delete": {"sftp_account_id": live["sftp_accounts"][0]["id"]},
        "sftp_account.add": {"env_id": staging["id"], "username": f"deploy-{n}",
                             "password": f"Sftp-password-{n:04d}-long", "permission": "write"},
        "dns_record.create": {"domain_id": dns["id"], "type": "A", "name": f"host{n}.{dns['name']}",
                              "ttl": 3600, "resource_records": ["203.0.113.50"]},
        "dns_record.update": {"domain_id": dns["id"], "type": dns["records"][0]["type"],
                              "name": dns["records"][0]["name"], "new_resource_records": ["203.0.113.51"]},
        "dns_record.delete": {"domain_id": dns["id"], "type": dns["records"][-1]["type"],
                              "name": dns["records"][-1]["name"]},
        "wpcli.run": {"env_id": live["id"], "wp_command": "wp core version"},
        "php.set_version": {"environment_id": live["id"], "php_version": "8.3"},
        "environment.set_webroot": {"env_id": staging["id"], "web_root_subfolder": "/app"},
        "cdn.set_image_optimization": {"environment_id": live["id"], "image_optimization_type": "lossy"},
        "edge_cache.set_status": {"environment_id": staging["id"], "enabled": True},
        "sftp.set_status": {"env_id": live["id"], "enabled": True},
    }.get(kind)


def generic(param, plan, n):
    """A value for a parameter by its name and type alone; None leaves it out (optional, or filled by the daemon)."""
    name, typ = param["name"], param["type"]
    live = plan.env("live")
    if param.get("configured"):
        return None  # the daemon fills it from its configuration
    if not param["required"] and param.get("default") is None:
        return None
    if param.get("default") is not None:
        return param["default"]
    by_name = {
        "display_name": f"Sample {n}", "region": plan.state["regions"][0]["region"],
        "admin_email": f"admin{n}@agency.example", "admin_user": "admin", "site_title": f"Sample {n}",
        "admin_password": f"Sample-password-{n}", "site_id": plan.main["id"], "env_id": live["id"],
        "environment_id": live["id"], "thread_count": 4, "thread_memory": 256,
    }
    if name in by_name:
        return by_name[name]
    if typ == "boolean":
        return False
    if typ == "integer":
        return 1
    if "|" in typ:
        return typ.split("|")[0]
    raise SystemExit(f"samples: no value for {name} ({typ}); add a row to samples.OVERRIDES")


def params(kind, state, n, plan=None):
    plan = plan or Plan(state)
    values = {}
    special = overrides(kind["name"], plan, n) or {}
    for param in kind["params"]:
        if param["name"] in special:
            values[param["name"]] = special[param["name"]]
            continue
        value = generic(param, plan, n)
        if value is not None:
            values[param["name"]] = value
    return values


def flags(values):
    """`kinsta-ops submit` flags for the values: --name value, --flag / --no-flag, a list repeats its flag."""
    out = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            for item in value:
                out += [flag, str(item)]
        else:
            out += [flag, str(value)]
    return out


if __name__ == "__main__":
    # samples.py KINDS_JSON STATE_JSON: one line per kind, `KIND<TAB>JSON params<TAB>shell-quoted flags`.
    import shlex
    kinds = load(sys.argv[1])["kinds"]
    state = load(sys.argv[2])
    plan = Plan(state)
    for n, kind in enumerate(kinds, 1):
        values = params(kind, state, n, plan)
        print(kind["name"], json.dumps(values, sort_keys=True), shlex.join(flags(values)), sep="\t")
