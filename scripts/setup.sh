#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian machine: npm packages, and the Debian
# packages for the real local servers. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-pyflakes: lints the PySpark Glue jobs in glue-scripts/ (PyPI is not needed).
# chromium: the headless browser the report test drives through playwright-core (no browser download).
apt_packages=(python3-pyflakes mariadb-server chromium)
# (Debian packages the local servers need are added here as the pipeline grows.)

if ((${#apt_packages[@]} > 0)); then
  missing=()
  for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "Missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# `npm install` with the committed lock installs the locked versions. Not `npm ci`: npm 11 behind a
# registry mirror writes locks without other platforms' optional packages, which `npm ci` then rejects
# as out of sync (npm/cli#9342).
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm install --no-audit --no-fund
fi
