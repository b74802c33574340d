#!/usr/bin/env bash
# Builds the STK program to SBF and deploys it with Anchor. Needs, on the machine that runs it:
# the Solana CLI + platform-tools (`cargo build-sbf`), Anchor CLI 1.2.2, and a funded wallet.
#
#   scripts/deploy.sh [CLUSTER]        # CLUSTER: localnet (default), devnet, mainnet-beta, or an RPC URL
#
# First deploy of a fresh program id: `anchor keys sync` writes target/deploy/stk-keypair.json's
# address into declare_id!/Anchor.toml; commit that change, rebuild, then deploy. Right after the first
# deploy run `stk-indexer admin init` (README) from the upgrade-authority wallet: `initialize` refuses
# any other signer on an upgradeable deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${1:-localnet}"
for tool in solana anchor cargo-build-sbf; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install the Solana CLI and Anchor 1.2.2" >&2; exit 1; }
done
echo "building (anchor build, SBF) ..."
anchor build
echo "checking the committed IDL against the build ..."
if ! diff -q <(python3 -m json.tool target/idl/stk.json) <(python3 -m json.tool idls/stk.json) >/dev/null; then
  echo "warning: target/idl/stk.json differs from idls/stk.json (run: cargo run -p stk-idl)" >&2
fi
echo "deploying to $cluster ..."
anchor deploy --provider.cluster "$cluster" --program-name stk
solana program show "$(solana address -k target/deploy/stk-keypair.json)" --url "$cluster" || true
cat <<NEXT
next (README "Operate on devnet"), from the upgrade-authority wallet:
  stk-indexer admin init -u $cluster --quote-mint QUOTE_MINT --oracles O1,O2,O3 --threshold 2
  stk-indexer admin status -u $cluster
NEXT
