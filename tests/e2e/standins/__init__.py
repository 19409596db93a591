"""Stand-ins for the plugins `make toolchain` cannot build here (toolchain/build.sh, NOT-BUILT),
so that `make e2e` can run the whole program through the real engine:

- `command` (pulumi-command 1.2.1, a native provider whose module the Go proxy does not serve):
  `command:local:Command` run for real, as pulumi-command runs it (`bash -c <create>` in the
  project directory with the declared environment; `triggers` replace). The readiness gate is
  the real scripts/wait-for-cloud-init.sh.
- `datadog` 5.17.0 (its modules are refused by the Go proxy): NOT the real provider. It keeps
  what is declared and answers ids and URLs in the API's formats; the Datadog resources are not
  judged by `make e2e` (tests/providers judges them where a plugin exists).

Each is a plain gRPC ResourceProvider (common.py), installed with `pulumi plugin install
--file` under the pinned name and version by tests/e2e/run.py.
"""
