#!/bin/bash
# Container health check for all three services: exits 0 when GET /health returns 200 on the
# metrics port (ingest, decoder) or on the main port (gateway). It uses bash's /dev/tcp, so the
# image needs no curl or wget.
#
# Ports come from CERTSTREAM_METRICS_PORT and CERTSTREAM_PORT, with the services' defaults.

set -u
# A server that closes the connection early must fail the check, not kill bash with SIGPIPE.
trap '' PIPE

# Sends GET /health to 127.0.0.1:$1 and succeeds when the status line has code 200.
probe_health() {
    local port=$1 status_line
    exec 3<>"/dev/tcp/127.0.0.1/${port}" || return 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    if ! IFS= read -r -t 5 status_line <&3; then
        exec 3<&-
        return 1
    fi
    exec 3<&-
    [[ $status_line =~ ^HTTP/1\.[01]\ 200[\ $'\r'] ]]
}

probe_health "${CERTSTREAM_METRICS_PORT:-8082}" 2>/dev/null \
    || probe_health "${CERTSTREAM_PORT:-8080}" 2>/dev/null
