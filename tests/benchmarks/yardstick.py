"""The yardstick: a bare Flask app with one page, timed the same way as the portal.

The portal's Server-Timing header runs from its first before_request hook to its last after_request
hook; this app has the same pair of hooks, so the two server times measure like for like and the
ratio says how much of a page's time is the portal's own work. The one difference: three decimals
instead of the portal's two, because this app's time is about 0.01 ms and two decimals would
round the yardstick (and so every ratio) by up to half.
"""

import time

from flask import Flask, g

app = Flask(__name__)


@app.before_request
def _start_clock():
    g.started = time.perf_counter()


@app.get("/hello")
def hello():
    return "hello"


@app.after_request
def _server_timing(response):
    if "started" in g:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.3f}"
    return response
