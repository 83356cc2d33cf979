"""A WSGI app for starting gunicorn with the production config in tests: it names the worker
that answered."""

import os


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
