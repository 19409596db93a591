"""components/agent_files.py: the files uploaded into the Datadog Agent container."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import agent_files, design

PASSWORD = "s3cr3t-'quoted\": #not-a-comment"
TAGS = ["env:test", "role:database", "name:dd-assessment-pg"]


def _postgres(**overrides):
    kwargs = {"password": PASSWORD, "reported_hostname": "dd-assessment-test-0", "env": "test",
              "tags": TAGS}
    kwargs.update(overrides)
    return agent_files.render_postgres_conf(**kwargs)


# --- templates in the repo ---------------------------------------------------


def test_repo_templates_are_valid_yaml_without_secrets():
    for path in (agent_files.MY_METRIC_CONF_PATH, agent_files.POSTGRES_CONF_PATH):
        data = yaml.safe_load(path.read_text())
        assert set(data) == {"init_config", "instances"}, path
        assert isinstance(data["instances"], list) and len(data["instances"]) == 1, path
        assert "password" not in data["instances"][0], path


def test_repo_my_metric_conf_has_interval_on_instance():
    data = yaml.safe_load(agent_files.MY_METRIC_CONF_PATH.read_text())
    assert data["instances"][0]["min_collection_interval"] == 45
    assert "min_collection_interval" not in (data["init_config"] or {})


def test_check_name_matches_conf_dir():
    check = agent_files.CHECK_SOURCE_PATH
    conf_dir = agent_files.MY_METRIC_CONF_PATH.parent
    assert check.is_file()
    assert check.stem == agent_files.CHECK_NAME == "my_metric"
    assert conf_dir.name == f"{check.stem}.d"
    assert agent_files.CHECK_SOURCE_DEST == f"/checks.d/{check.name}"
    assert agent_files.MY_METRIC_CONF_DEST == f"/conf.d/{conf_dir.name}/conf.yaml"
    assert agent_files.POSTGRES_CONF_DEST == "/conf.d/postgres.d/conf.yaml"


def test_repo_postgres_conf_host_matches_network_gateway():
    inst = yaml.safe_load(agent_files.POSTGRES_CONF_PATH.read_text())["instances"][0]
    assert inst["host"] == design.AGENT_NETWORK_GATEWAY == "172.30.0.1"
    assert inst["port"] == design.POSTGRES_PORT == 5432
    assert inst["username"] == agent_files.POSTGRES_USER == "datadog"
    assert inst["dbname"] == "postgres"
    net = ipaddress.ip_network(design.AGENT_NETWORK_CIDR)
    assert ipaddress.ip_address(design.AGENT_NETWORK_GATEWAY) == next(net.hosts())


# --- my_metric ---------------------------------------------------------------


@pytest.mark.parametrize("interval", [15, 45, 60, 300])
def test_my_metric_interval_follows_argument(interval):
    data = yaml.safe_load(agent_files.render_my_metric_conf(interval))
    assert data["init_config"] == {}
    assert len(data["instances"]) == 1
    assert data["instances"][0]["min_collection_interval"] == interval
    assert "min_collection_interval" not in data["init_config"]


@pytest.mark.parametrize("bad", [0, -5, 4.5, "45", True, None])
def test_my_metric_rejects_bad_interval(bad):
    with pytest.raises(ValueError):
        agent_files.render_my_metric_conf(bad)


def test_my_metric_render_written_out_and_the_template_untouched():
    before = agent_files.MY_METRIC_CONF_PATH.read_bytes()
    assert agent_files.render_my_metric_conf(30) == (
        "# Rendered by components/agent_files.py from agent/conf.d/my_metric.d/conf.yaml; "
        "do not edit here.\n"
        "init_config: {}\n"
        "instances:\n"
        "- min_collection_interval: 30\n")
    assert agent_files.MY_METRIC_CONF_PATH.read_bytes() == before


def test_check_source_is_the_repo_file():
    src = agent_files.read_check_source()
    assert src == agent_files.CHECK_SOURCE_PATH.read_text()
    compile(src, "my_metric.py", "exec")
    assert "from datadog_checks.base import AgentCheck" in src
    assert "from checks import AgentCheck" in src
    assert (
        "min_collection_interval" not in src.split('"""', 2)[2]
    )  # interval lives in config


# --- postgres ------------------------------------------------------------------


def test_postgres_values_as_given():
    data = yaml.safe_load(_postgres(host="10.1.2.3", port=6543, dbname="appdb"))
    assert data["init_config"] == {}
    [inst] = data["instances"]
    assert inst["host"] == "10.1.2.3"
    assert inst["port"] == 6543
    assert inst["username"] == "datadog"
    assert inst["password"] == PASSWORD
    assert inst["dbname"] == "appdb"
    assert inst["tags"] == TAGS


def test_postgres_password_appears_only_in_password_field():
    text = _postgres()
    data = yaml.safe_load(text)
    [inst] = data["instances"]
    assert inst["password"] == PASSWORD
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                assert PASSWORD not in str(k)
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])
        elif isinstance(node, str) and PASSWORD in node:
            found.append(path)

    walk(data, [])
    assert found == [["instances", 0, "password"]]
    # Only one textual occurrence too (the header comment must not leak it).
    password_lines = [line for line in text.splitlines() if "password" in line]
    assert len(password_lines) == 1 and password_lines[0].lstrip().startswith(
        "password:"
    )


def test_postgres_tags_are_copied_not_aliased():
    tags = ["a:b"]
    text = agent_files.render_postgres_conf(password="x", reported_hostname="h", env="e", tags=tags)
    tags.append("c:d")
    assert yaml.safe_load(text)["instances"][0]["tags"] == ["a:b", "env:e"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"password": ""},
        {"password": None},
        {"tags": "env:test"},
        {"tags": ["ok:1", ""]},
        {"tags": ["ok:1", 5]},
        {"host": ""},
        {"port": 0},
        {"port": "5432"},
        {"dbname": ""},
    ],
)
def test_postgres_rejects_bad_arguments(overrides):
    with pytest.raises(ValueError):
        _postgres(**overrides)


def test_postgres_password_is_keyword_only():
    with pytest.raises(TypeError):
        agent_files.render_postgres_conf(PASSWORD, TAGS)  # type: ignore[misc]


def test_module_has_no_pulumi_dependency():
    src = Path(agent_files.__file__).read_text()
    assert "import pulumi" not in src and "from pulumi" not in src


# --- which host and env the PostgreSQL metrics carry (issue 8) ---------------------------------


def test_postgres_instance_in_full():
    """Every key of the rendered instance, written out: a dropped switch or key shows here."""
    [inst] = yaml.safe_load(_postgres())["instances"]
    assert inst == {
        "host": "172.30.0.1",
        "port": 5432,
        "username": "datadog",
        "password": PASSWORD,
        "dbname": "postgres",
        # The check sends every metric and postgres.can_connect under this name, the
        # Agent's DD_HOSTNAME; without it they land on a phantom host "172.30.0.1".
        "reported_hostname": "dd-assessment-test-0",
        "tags": ["env:test", "role:database", "name:dd-assessment-pg"],
        "collect_default_database": True,
        "collect_database_size_metrics": True,
        "collect_activity_metrics": True,
    }


def test_postgres_env_tag_is_added_when_the_host_tags_lack_one():
    [inst] = yaml.safe_load(_postgres(tags=["role:database"], env="staging"))["instances"]
    assert inst["tags"] == ["role:database", "env:staging"]


def test_postgres_env_tag_is_not_doubled():
    [inst] = yaml.safe_load(_postgres(tags=["env:staging", "role:database"], env="staging"))["instances"]
    assert inst["tags"] == ["env:staging", "role:database"]


def test_postgres_refuses_tags_that_contradict_env():
    with pytest.raises(ValueError, match="contradict"):
        _postgres(tags=["env:prod"], env="staging")


@pytest.mark.parametrize("overrides", [{"reported_hostname": ""}, {"reported_hostname": None},
                                       {"env": ""}, {"env": None}])
def test_postgres_refuses_a_missing_host_name_or_env(overrides):
    with pytest.raises(ValueError):
        _postgres(**overrides)


def test_postgres_template_leaves_generic_tags_and_host_names_alone():
    """`disable_generic_tags` would rename env to postgres_env; `exclude_hostname` would drop
    the host name: neither may come back through the template."""
    instance = yaml.safe_load(agent_files.POSTGRES_CONF_PATH.read_text())["instances"][0]
    assert "disable_generic_tags" not in instance
    assert "exclude_hostname" not in instance
    assert "reported_hostname" not in instance  # per host, at render time
