"""Minimal Flask app instrumented for Datadog APM.

Tracing comes from running under ``ddtrace-run`` (see the Dockerfile's CMD):
the code has no tracer import. Where traces go (``DD_AGENT_HOST``) and the
unified service tags (``DD_SERVICE``, ``DD_ENV``, ``DD_VERSION``) are set on the
container at deploy time.
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def api_entry():
    return "Entrypoint to the Application"


@app.route("/api/apm")
def apm_endpoint():
    return "Getting APM Started"


@app.route("/api/trace")
def trace_endpoint():
    return "Posting Traces"


@app.route("/healthz")
def healthz():
    return {"status": "ok"}
