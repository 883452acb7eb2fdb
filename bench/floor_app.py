"""The floor: a bare Flask endpoint returning a small JSON, served with the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, str]:
    """The cheapest possible JSON answer."""
    return {"status": "ok"}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """For the start-up probe."""
    return {"status": "ok"}
