# Source it for a developer shell with the toolchain CI uses: Node 24 and pnpm 10 on PATH,
# installed from the npm registry into .tooling/ (git-ignored) when the machine's are older.
# The logic lives in scripts/toolchain.mjs (the README's `npm start` / `npm test` use it too).
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$(node "$_root/scripts/toolchain.mjs" env)" || return 1
unset _root
