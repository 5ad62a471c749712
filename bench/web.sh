#!/usr/bin/env bash
# Benchmark of the website host, in one run, with wrk inside the container:
#  1. the Kazakh home page over the hardened TLS vhost (TLS 1.3, security headers, rate limits,
#     PHP-FPM behind the microcache) against a static file over the same vhost: goal of issue 20,
#     the page at 80 % or more of the static file's requests/s (KNMU-3-f, a rush of visitors);
#  2. the hardened vhost against a stock nginx with the same TLS (same certificate, protocols and
#     ciphers) serving the same bytes as static files: the ratio measures the hardening, not TLS.
# Prints requests/s, p99 latency and non-2xx answers of each, and the ratios.
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
stock_port=8443

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
# Stock nginx: Debian's defaults and the same TLS as the site (its certificate and key, TLS 1.2
# and 1.3, the same cipher list), nothing else: no headers, limits, PHP or cache.
inside "cat > /tmp/ereje-bench/nginx.conf <<CONF
worker_processes auto;
pid /tmp/ereje-bench/nginx.pid;
error_log /tmp/ereje-bench/error.log;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    server {
        listen 127.0.0.1:${stock_port} ssl;
        ssl_certificate /etc/ssl/ereje-web/site.crt;
        ssl_certificate_key /etc/ssl/ereje-web/site.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        \$(nginx -T 2>/dev/null | grep -m1 '^ *ssl_ciphers ')
        root /tmp/ereje-bench;
    }
}
CONF
nginx -c /tmp/ereje-bench/nginx.conf"
trap 'inside "nginx -c /tmp/ereje-bench/nginx.conf -s stop" || true' EXIT
inside "curl -sfk -o /dev/null https://127.0.0.1:${stock_port}${page}index.html"

run() { # URL [WRK OPTIONS] -> "rps p99_ms non2xx"
  inside "wrk -t2 -c${connections} -d${duration} --latency ${2:-} '$1'" | awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; ms = v + 0; if (v ~ /us$/) ms /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) ms *= 1000 }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %.2f %s\n", rps, ms, bad + 0 }'
}

declare -A rps p99 bad
measure() { # NAME URL [WRK OPTIONS]
  read -r "rps[$1]" "p99[$1]" "bad[$1]" < <(run "$2" "${3:-}")
}
row() { # NAME LABEL
  printf '%-64s %12s %10s %8s\n' "$2" "${rps[$1]}" "${p99[$1]}" "${bad[$1]}"
}
ratio() { # LABEL A B -> requests/s of A over B
  awk -v a="${rps[$2]}" -v b="${rps[$3]}" -v l="$1" 'BEGIN { printf "%-64s %12.2f\n", l, a / b }'
}

# The cache is warm before the page is measured, as it is a moment into any rush.
inside "curl -sfk -o /dev/null https://127.0.0.1${page}"
measure page "https://127.0.0.1${page}"
cache=$(inside "curl -sk -o /dev/null -D - https://127.0.0.1${page} | tr -d '\r' | awk -F': ' 'tolower(\$1) == \"x-cache-status\" { print \$2 }'")
measure static "https://127.0.0.1${static}"
# With a cookie, as a signed-in visitor: past the cache, PHP-FPM and MariaDB on every request.
measure page_php "https://127.0.0.1${page}" "-H 'Cookie: ereje_bench=1'"
measure stock_page "https://127.0.0.1:${stock_port}${page}index.html"
measure stock_static "https://127.0.0.1:${stock_port}${static}"

printf '\n%-64s %12s %10s %8s\n' "${duration}, ${connections} connections, HTTP/1.1 over TLS" "requests/s" "p99 ms" "non-2xx"
row page "hardened: home page ${page} from the microcache (next answer: ${cache:-no cache})"
row page_php "hardened: home page ${page} with a cookie (PHP-FPM every time)"
row static "hardened: static file ${static}"
row stock_page "stock nginx, same TLS: the home page's bytes as a static file"
row stock_static "stock nginx, same TLS: ${static}"
printf '\n'
ratio "home page / static file, both hardened (goal >= 0.80)" page static
ratio "home page: from the microcache / PHP-FPM every time" page page_php
ratio "hardened / stock, home page" page stock_page
ratio "hardened / stock, static file" static stock_static
