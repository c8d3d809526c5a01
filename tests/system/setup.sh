#!/usr/bin/env bash
# System packages the integration tests need: a one-node Slurm cluster (slurm-wlm, munge) and a
# headless browser (chromium). `make test` runs this when CI=true; on a workstation run it once
# as root, or the tests that need these programs skip and say why.
set -euo pipefail
PACKAGES=(slurm-wlm munge chromium)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "tests/system/setup.sh: not root, cannot install ${missing[*]}; the tests that need them will skip" >&2
    exit 0
fi
echo "installing ${missing[*]} (apt)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
