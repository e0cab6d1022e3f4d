"""The yardstick: a trivial Flask route, served by gunicorn exactly like the CMS."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
