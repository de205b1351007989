# Sourced by .ci/run (and usable by developers): puts Node 24 and pnpm 10 on PATH,
# installing them from the npm registry into .tooling/ when the machine's Node is older than 24.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tool="$_root/.tooling"
_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$_major" -lt 24 ]; then
  case "$(uname -m)" in
    x86_64) _arch=x64 ;;
    aarch64|arm64) _arch=arm64 ;;
    *) echo "unsupported architecture $(uname -m)" >&2; return 1 ;;
  esac
  if [ ! -x "$_tool/node_modules/node-linux-$_arch/bin/node" ]; then
    echo "installing Node 24 (node-linux-$_arch@24) into .tooling/"
    npm install --no-save --no-audit --no-fund --prefix "$_tool" "node-linux-$_arch@24" >/dev/null
  fi
  export PATH="$_tool/node_modules/node-linux-$_arch/bin:$PATH"
  # native addons (better-sqlite3, secp256k1) build against these headers, offline
  export npm_config_nodedir="$_tool/node_modules/node-linux-$_arch"
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" != "10" ]; then
  if [ ! -x "$_tool/pnpm/node_modules/.bin/pnpm" ]; then
    echo "installing pnpm 10 into .tooling/pnpm"
    npm install --no-save --no-audit --no-fund --prefix "$_tool/pnpm" pnpm@10 >/dev/null
  fi
  export PATH="$_tool/pnpm/node_modules/.bin:$PATH"
fi
unset _root _tool _major _arch
