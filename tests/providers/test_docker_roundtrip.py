"""The real Docker provider creates, reads back and diffs one host's network, Agent image and
containers on a private dockerd (tests/providers/dockerd.py): a diff of the same declared inputs
against the read-back state must be empty.

Catches: an input the provider rewrites on Read, i.e. a diff on every `pulumi up` after a
refresh. pulumi-docker reads a container's healthcheck durations back as Go's
`time.Duration.String()` (`60s` -> `1m0s`; field notes, "What the real providers do"): an Agent
container declared with `start_period="60s"` never settles.

Expected to FAIL on a program whose Agent healthcheck says `start_period="60s"` (issue 15);
after the fix (`1m0s`) it passes.

One host only: every host's Docker resources are the same but for the provider's host (their
Check runs for 1 and 3 hosts in test_check.py), and one daemon holds one set of fixed container
names. The app's `docker.Image` is checked, not built: its Dockerfile starts FROM a registry
image and no registry is reachable; its tag is made locally from busybox, as the Agent's image.
"""

from __future__ import annotations

import copy

from tests.providers.declared import declared_resources
from tests.providers.plugin import ProviderError
from tests.providers.roundtrip import check_or_fail, create_read_diff, delete_all

NETWORK = "docker:index/network:Network"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
IMAGE = "docker:index/image:Image"
CONTAINER = "docker:index/container:Container"
ORDER = (NETWORK, REMOTE_IMAGE, IMAGE, CONTAINER)


def test_one_hosts_docker_resources_round_trip_without_a_diff(plugins, dockerd):
    resources, _ = declared_resources(1)
    mine = sorted((r for r in resources if r.package == "docker"), key=lambda r: ORDER.index(r.typ))
    assert [r.typ for r in mine].count(CONTAINER) == 3, [r.name for r in mine]
    provider = mine[0].provider
    plugin = plugins("docker")
    _, failures = plugin.check_config(provider.inputs, provider.name)
    assert not failures, failures
    plugin.configure({"host": dockerd.host}, provider.name)

    remote_image_id = None  # what the real provider answered for the Agent's image
    for resource in mine:
        if resource.typ == REMOTE_IMAGE:
            dockerd.make_image(resource.inputs["name"])
        if resource.typ == IMAGE:
            dockerd.make_image(resource.inputs["imageName"])

    created, diffs, errors = [], [], []
    try:
        for resource in mine:
            inputs = copy.deepcopy(resource.inputs)
            if resource.typ == IMAGE:
                check_or_fail(plugin, resource.typ, resource.name, inputs)
                continue
            if resource.typ == CONTAINER and inputs["image"].startswith("sha256:"):
                # The mocks' id of the Agent's RemoteImage: the real one's instead.
                assert remote_image_id, "the RemoteImage was not created"
                inputs["image"] = remote_image_id
            try:
                made, diff = create_read_diff(plugin, resource.typ, resource.name, inputs)
            except (ProviderError, AssertionError) as error:
                errors.append(f"{resource.typ} {resource.name}: {error}")
                continue
            created.append(made)
            if resource.typ == REMOTE_IMAGE:
                remote_image_id = made.state["imageId"]
            if diff:
                diffs.append(f"{resource.typ} {resource.name}: {diff}")
        assert not errors, "\n".join(errors)
        assert not diffs, "perpetual diff after a refresh:\n" + "\n".join(diffs)
        running = set(dockerd.docker("ps", "--format", "{{.Names}}").split())
        assert running == {"datadog-agent", "my-flask-app", "my-flask-app-traffic"}, running
    finally:
        delete_errors = delete_all(plugin, created)
    assert delete_errors == []
