#!/usr/bin/env bash
# Benchmark of the website host: the hardened TLS vhost (HTTP/1.1 over TLS 1.3, security
# headers, rate limits, PHP-FPM) against a stock nginx serving the same page as a static file,
# in one run, with wrk. Prints requests/s and p99 latency of both and the ratio.
#
#   bench/web.sh [CONTAINER] [DURATION] [CONNECTIONS]
#
# CONTAINER is a converged web host: ereje-mol-web-web (molecule converge -s web, default)
# or ereje-web (the lab). wrk runs inside the container against 127.0.0.1, which the role
# exempts from rate limits, so the benchmark measures the server, not the limiter; it is
# installed there from the Debian mirror when missing. Nothing leaves the container.
set -euo pipefail

container=${1:-ereje-mol-web-web}
duration=${2:-10s}
connections=${3:-32}
page=${BENCH_PAGE:-/kk/}
stock_port=8088

inside() { podman exec "$container" bash -c "$1"; }

podman container exists "$container" || {
  echo "container $container does not exist: run 'molecule converge -s web' first" >&2
  exit 1
}
inside 'command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null'

# The same page, as the hardened site renders it, saved for the stock nginx; and one static
# file of the site, to separate the cost of TLS and headers from the cost of PHP.
static=/assets/site.css
inside "mkdir -p /tmp/ereje-bench${page} /tmp/ereje-bench/assets && curl -sfk https://127.0.0.1${page} -o /tmp/ereje-bench${page}index.html"
inside "curl -sfk https://127.0.0.1${static} -o /tmp/ereje-bench${static}"
inside "cat > /tmp/ereje-bench/nginx.conf <<CONF
worker_processes auto;
pid /tmp/ereje-bench/nginx.pid;
error_log /tmp/ereje-bench/error.log;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    server { listen 127.0.0.1:${stock_port}; root /tmp/ereje-bench; }
}
CONF
nginx -c /tmp/ereje-bench/nginx.conf"
trap 'inside "nginx -c /tmp/ereje-bench/nginx.conf -s stop" || true' EXIT
inside "curl -sf -o /dev/null http://127.0.0.1:${stock_port}${page}"

run() { # URL -> "rps p99_ms"
  inside "wrk -t2 -c${connections} -d${duration} --latency '$1'" | awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; ms = v + 0; if (v ~ /us$/) ms /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) ms *= 1000 }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %.2f %s\n", rps, ms, bad + 0 }'
}

compare() { # TITLE HARDENED_URL STOCK_URL HARDENED_LABEL
  local h_rps h_p99 h_bad s_rps s_p99 s_bad
  read -r h_rps h_p99 h_bad < <(run "$2")
  read -r s_rps s_p99 s_bad < <(run "$3")
  printf '\n%-56s %12s %10s %8s\n' "$1 (${duration}, ${connections} connections)" "requests/s" "p99 ms" "non-2xx"
  printf '%-56s %12s %10s %8s\n' "$4" "$h_rps" "$h_p99" "$h_bad"
  printf '%-56s %12s %10s %8s\n' "stock nginx: the same bytes as a static file, plain HTTP" "$s_rps" "$s_p99" "$s_bad"
  awk -v h="$h_rps" -v s="$s_rps" -v hp="$h_p99" -v sp="$s_p99" 'BEGIN {
    printf "ratio hardened/stock: throughput %.2f, p99 latency %.2f\n", h / s, hp / sp }'
}

compare "home page ${page}" "https://127.0.0.1${page}" "http://127.0.0.1:${stock_port}${page}" \
  "hardened: TLS 1.3, headers, limits, PHP-FPM"
compare "static file ${static}" "https://127.0.0.1${static}" "http://127.0.0.1:${stock_port}${static}" \
  "hardened: TLS 1.3, headers, limits"
