# SPDX-License-Identifier: GPL-2.0-or-later
"""A small ASGI app for uvicorn under `luoctl exec` (`uvicorn --fd 3 app:app`)."""
import os

VERSION = os.environ.get("APP_VERSION", "1")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("hello from app version %s, pid %d\n" % (VERSION, os.getpid())).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
