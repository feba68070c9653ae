# SPDX-License-Identifier: GPL-2.0-or-later
"""A small WSGI app for the gunicorn example: says which server process answered."""
import os

VERSION = os.environ.get("APP_VERSION", "1")


def app(environ, start_response):
    body = ("hello from app version %s, pid %d\n" % (VERSION, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
