"""The facts the contract test (tests/host/test_contract.py) reads, written while the Pulumi
SDK is loaded anyway: what each host runs, and every query Datadog is asked."""

from tests import program_facts


def test_facts_for_the_contract_test_describe_every_host_and_query():
    facts = program_facts.write_cache(program_facts.CONTRACT_CONFIG)
    assert [host["name"] for host in facts["hosts"]] == ["dd-assessment-test-0", "dd-assessment-test-1"]
    for host in facts["hosts"]:
        assert sorted(c["name"] for c in host["containers"]) == [
            "datadog-agent", "my-flask-app", "my-flask-app-traffic"]
    assert sorted(d["name"] for d in facts["dashboards"]) == [
        "dd-assessment-test-dashboard", "dd-assessment-test-service-dashboard"]
    assert [m["query"] for m in facts["monitors"]] == ["avg(last_5m):avg:my_metric{*} by {host} > 800"]
    # Read back only while the program is unchanged.
    assert program_facts.cached(program_facts.CONTRACT_CONFIG) == facts
    assert program_facts.cached({"hostCount": "3"}) is None
