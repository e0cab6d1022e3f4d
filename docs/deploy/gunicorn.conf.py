"""gunicorn's settings for the CMS (docs/deploy.md): `gunicorn -c docs/deploy/gunicorn.conf.py wsgi:app`. Used
as they are by the systemd unit, tests/test_deploy.py and the load benchmark (benchmarks/load.py)."""

import multiprocessing
import os

bind = os.environ.get("CMS_BIND", "127.0.0.1:8000")
# Sync workers: each serves one request at a time, so a slow one (a cold page, an inline export of up to
# CMS_EXPORT_ASYNC_ROWS rows) holds one worker only. 2 per core + 1; nginx buffers slow clients.
workers = int(os.environ.get("CMS_WORKERS", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"
# A request running longer than this is killed (the reader gets a 502 from nginx): above pymysql's connect
# timeout (10 s, or the URL's connect_timeout) and the slowest inline export; below nginx's proxy_read_timeout.
timeout = 60
graceful_timeout = 30  # on a reload (SIGHUP) or stop, requests in flight get this long to finish
keepalive = 5  # nginx keeps connections to the upstream open (keepalive 16)
# Each worker is replaced after about this many requests: memory a long-lived process gathers goes with it.
max_requests = 1000
max_requests_jitter = 100
forwarded_allow_ips = "127.0.0.1"  # X-Forwarded-Proto from nginx on this machine only
accesslog = "-"
errorlog = "-"
# gunicorn 25.1+ opens a control socket at $XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl: every gunicorn of one user
# would share that path, and the unit's home is read-only. systemctl reload / stop are the controls used here.
control_socket_disable = True
