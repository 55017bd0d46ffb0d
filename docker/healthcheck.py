"""Container health check: the login page answers with HTTP 200.

Used by the image's HEALTHCHECK and the Kubernetes probes. It asks for the
page with a Host header Django accepts (the first concrete ALLOWED_HOSTS
entry), since requests for 127.0.0.1 are refused when ALLOWED_HOSTS names
only the public host. Exit 0 when healthy, 1 otherwise (one line on stderr).
"""

import http.client
import os
import sys


def host_header() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "localhost").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    port = int(os.environ.get("GUNICORN_BIND", "0.0.0.0:8080").rpartition(":")[2])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=8)
    try:
        connection.request("GET", "/accounts/login/", headers={"Host": host_header(), "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"unhealthy: /accounts/login/ answered HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
