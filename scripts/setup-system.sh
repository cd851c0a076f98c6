#!/usr/bin/env bash
# Installs the system packages t2i-align needs on Debian 12 (run as root), selects the OpenMP
# OpenBLAS as libblas.so.3, and starts PostgreSQL on loopback with the role the tests use.
# Idempotent: safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(libtorch-dev libopenblas0-openmp postgresql chromium g++ make python3)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# With Debian's reference BLAS every Linear layer is about 15x slower (DESIGN.md, "Engine").
arch=$(dpkg --print-architecture)
case "$arch" in amd64) triplet=x86_64-linux-gnu ;; arm64) triplet=aarch64-linux-gnu ;; *) triplet=$(gcc -dumpmachine) ;; esac
blas=/usr/lib/$triplet/openblas-openmp/libblas.so.3
lapack=/usr/lib/$triplet/openblas-openmp/liblapack.so.3
if [ -e "$blas" ]; then
  update-alternatives --set "libblas.so.3-$triplet" "$blas" >/dev/null
  [ -e "$lapack" ] && update-alternatives --set "liblapack.so.3-$triplet" "$lapack" >/dev/null
  echo "setup: libblas.so.3 -> $(readlink -f /etc/alternatives/libblas.so.3-$triplet)"
fi
# PostgreSQL on loopback for the feedback database tests (role t2i / password t2i, database t2i_test).
if command -v pg_lsclusters >/dev/null 2>&1; then
  ver=$(pg_lsclusters -h | awk 'NR==1{print $1}')
  if [ -n "$ver" ]; then
    pg_ctlcluster "$ver" main start 2>/dev/null || true
    for _ in $(seq 1 30); do runuser -u postgres -- pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
    runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_roles WHERE rolname='t2i'" | grep -q 1 \
      || runuser -u postgres -- psql -q -c "CREATE ROLE t2i LOGIN PASSWORD 't2i' CREATEDB"
    runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_database WHERE datname='t2i_test'" | grep -q 1 \
      || runuser -u postgres -- psql -q -c "CREATE DATABASE t2i_test OWNER t2i"
    echo "setup: postgresql $ver running on 127.0.0.1:5432"
  fi
fi
