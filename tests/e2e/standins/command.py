"""pulumi-command 1.2.1's `command:local:Command`, run for real (see __init__.py).

As pulumi-command's provider/pkg/provider/local does: the command runs through the interpreter
(default `/bin/sh -c`) in `dir` (default: the provider's working directory, the project), with the
process environment plus `environment`; a non-zero exit fails the resource with its output;
`stdout`/`stderr` are outputs, the trailing newline trimmed. `triggers` replace the resource; any
other change runs `update` (or `create` when there is none) again. `delete` runs on deletion.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.e2e.standins.common import Handler, Provider, serve

LOCAL_COMMAND = "command:local:Command"


def _run(script: str, inputs: dict) -> dict:
    interpreter = inputs.get("interpreter") or ["/bin/sh", "-c"]
    env = {**os.environ, **(inputs.get("environment") or {})}
    result = subprocess.run([*interpreter, script], cwd=inputs.get("dir") or os.getcwd(), env=env,
                            input=inputs.get("stdin", ""), capture_output=True, text=True)
    sys.stderr.write(result.stderr)  # the plugin's log, as pulumi-command streams it
    if result.returncode != 0:
        raise RuntimeError(f"exit status {result.returncode}: running {script!r}:\n"
                           f"Stdout:\n{result.stdout}\nStderr:\n{result.stderr}")
    return {"stdout": result.stdout.removesuffix("\n"), "stderr": result.stderr.removesuffix("\n")}


class LocalCommand(Handler):
    force_new = frozenset({"triggers"})

    def create(self, urn, inputs):
        outputs = _run(inputs["create"], inputs) if inputs.get("create") else {"stdout": "", "stderr": ""}
        return urn.split("::")[-1] + os.urandom(4).hex(), {**inputs, **outputs}

    def update(self, urn, resource_id, olds, news):
        script = news.get("update") or news.get("create")
        return {**news, **(_run(script, news) if script else {"stdout": "", "stderr": ""})}

    def delete(self, urn, resource_id, state):
        if state.get("delete"):
            _run(state["delete"], state)


if __name__ == "__main__":
    serve(Provider("1.2.1", {LOCAL_COMMAND: LocalCommand()}), sys.argv[1:])
